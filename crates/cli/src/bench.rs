//! `xinjian bench …`: measure our path and a baseline in the same run, print the ratio.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::anyhow;
use clap::Subcommand;
use xinjian_app::import::ImportOptions;
use xinjian_app::{Actor, App};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Import N registration rows from CSV into a fresh SQLite store, against the floor of a
    /// bare bulk insert of the same rows into a table without indexes or validation.
    Import {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        /// Working directory (a fresh temporary one by default).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Name search over a demo registry through the HTTP endpoint, against a `LIKE '%q%'`
    /// scan of the same table (same ranking) in the same run.
    Search {
        #[arg(long, default_value_t = 1_000_000)]
        subjects: u64,
        /// Requests per query class.
        #[arg(long, default_value_t = 200)]
        requests: usize,
        /// Scans per query class for the baseline (each reads the whole table).
        #[arg(long, default_value_t = 10)]
        scans: usize,
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Full and incremental evaluation of a jurisdiction against the SQL a DBA would write
    /// (one INSERT … SELECT … GROUP BY with CASE) and the floor of one scan of the records.
    Evaluate {
        #[arg(long, default_value_t = 1_000_000)]
        subjects: u64,
        #[arg(long, default_value_t = 10_000_000)]
        records: u64,
        /// Database URL (default: a fresh SQLite file in --dir). A PostgreSQL URL must name an
        /// empty database.
        #[arg(long)]
        db: Option<String>,
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Import N penalty rows (national 双公示 CSV) against the floor of a bare bulk insert of
    /// the same rows.
    Penalties {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        /// Subjects in the registry the penalties are spread over.
        #[arg(long, default_value_t = 200_000)]
        subjects: u64,
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
}

/// A new SQLite store in `data` (emptied first), `bench.db` in it.
fn fresh_sqlite_app(data: &std::path::Path) -> anyhow::Result<App> {
    let _ = std::fs::remove_dir_all(data);
    App::open(&format!("sqlite:{}", data.join("bench.db").display()), data)
        .map_err(|e| anyhow!("{e}"))
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Import { rows, dir } => import(rows, dir),
        BenchCommand::Search {
            subjects,
            requests,
            scans,
            dir,
        } => search(subjects, requests, scans, dir),
        BenchCommand::Evaluate {
            subjects,
            records,
            db,
            dir,
        } => evaluate(subjects, records, db, dir),
        BenchCommand::Penalties {
            rows,
            subjects,
            dir,
        } => penalties(rows, subjects, dir),
    }
}

fn import(rows: u64, dir: Option<std::path::PathBuf>) -> anyhow::Result<ExitCode> {
    let tmp = tempfile::tempdir()?;
    let dir = dir.unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let csv = dir.join("bench-subjects.csv");
    eprintln!("generating {rows} rows …");
    xinjian_app::demo::write_export(&csv, rows, 1).map_err(|e| anyhow!("{e}"))?;
    let size = std::fs::metadata(&csv)?.len();

    // Baseline: the floor — read the same CSV and insert the raw strings into a table without
    // indexes or validation, one transaction, one prepared statement, same pragmas.
    let floor_db = dir.join("floor.db");
    let _ = std::fs::remove_file(&floor_db);
    let t = Instant::now();
    {
        let mut c = rusqlite::Connection::open(&floor_db)?;
        c.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;",
        )?;
        c.execute_batch("CREATE TABLE raw (c0 TEXT, c1 TEXT, c2 TEXT, c3 TEXT, c4 TEXT, c5 TEXT, c6 TEXT, c7 TEXT, c8 TEXT, c9 TEXT, c10 TEXT)")?;
        let tx = c.transaction()?;
        {
            let mut st = tx.prepare("INSERT INTO raw VALUES (?,?,?,?,?,?,?,?,?,?,?)")?;
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(true)
                .from_path(&csv)?;
            let mut rec = csv::StringRecord::new();
            while rdr.read_record(&mut rec)? {
                st.execute(rusqlite::params_from_iter(rec.iter()))?;
            }
        }
        tx.commit()?;
    }
    let floor = t.elapsed().as_secs_f64();

    // Ours: the real import (validation, versions, indexes, audit, chunked commits).
    let data = dir.join("xinjian");
    let app = fresh_sqlite_app(&data)?;
    let rss_before = peak_rss_kib();
    let t = Instant::now();
    let summary = app
        .import_subjects(
            &Actor::System("bench".into()),
            &csv,
            ImportOptions::default(),
            &mut |_| {},
        )
        .map_err(|e| anyhow!("{e}"))?;
    let ours = t.elapsed().as_secs_f64();
    let rss = peak_rss_kib();

    println!("rows            {rows}");
    println!("csv size        {:.1} MiB", size as f64 / 1048576.0);
    println!(
        "floor (bare)    {floor:.2} s  {:.0} rows/s",
        rows as f64 / floor
    );
    println!(
        "xinjian import  {ours:.2} s  {:.0} rows/s  ({})",
        rows as f64 / ours,
        summary.line()
    );
    println!("ratio           {:.2}x the floor", ours / floor);
    if let (Some(a), Some(b)) = (rss_before, rss) {
        println!(
            "peak RSS        {:.0} MiB (before import: {:.0} MiB)",
            b as f64 / 1024.0,
            a as f64 / 1024.0
        );
    }
    drop(app);
    let bound = engine_bound(
        &data.join("bench.db"),
        &dir,
        "subjects",
        xinjian_app::import::CHUNK_ROWS as i64,
        64,
    )?;
    print_engine_bound(bound, rows, floor, ours);
    Ok(ExitCode::SUCCESS)
}

/// Percentile of sorted durations (milliseconds).
fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One GET over a kept-alive HTTP/1.1 connection; returns the body.
fn http_get(
    conn: &mut std::io::BufReader<std::net::TcpStream>,
    path: &str,
) -> anyhow::Result<Vec<u8>> {
    use std::io::{BufRead, Read, Write};
    write!(
        conn.get_mut(),
        "GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: keep-alive\r\n\r\n"
    )?;
    let mut status = String::new();
    conn.read_line(&mut status)?;
    if !status.contains(" 200 ") {
        anyhow::bail!("{path}: {}", status.trim());
    }
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        conn.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l
            .to_ascii_lowercase()
            .strip_prefix("content-length:")
            .map(|v| v.trim().to_owned())
        {
            len = v.parse()?;
        }
    }
    let mut body = vec![0; len];
    conn.read_exact(&mut body)?;
    Ok(body)
}

fn urlenc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn search(
    n: u64,
    requests: usize,
    scans: usize,
    dir: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    let tmp = tempfile::tempdir()?;
    let dir = dir.unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let db_path = dir.join(format!("search-{n}.db"));
    let app =
        App::open(&format!("sqlite:{}", db_path.display()), &dir).map_err(|e| anyhow!("{e}"))?;
    let have: i64 = rusqlite::Connection::open(&db_path)?.query_row(
        "SELECT count(*) FROM subjects",
        [],
        |r| r.get(0),
    )?;
    if have < n as i64 {
        eprintln!("building a registry of {n} subjects …");
        let csv = dir.join("search-subjects.csv");
        xinjian_app::demo::write_export(&csv, n, 1).map_err(|e| anyhow!("{e}"))?;
        app.import_subjects(
            &Actor::System("bench".into()),
            &csv,
            ImportOptions::default(),
            &mut |_| {},
        )
        .map_err(|e| anyhow!("{e}"))?;
        let _ = std::fs::remove_file(&csv);
    }
    let raw = rusqlite::Connection::open(&db_path)?;
    let codes: Vec<String> = {
        let mut st = raw.prepare("SELECT code FROM subjects WHERE id % 9973 = 1 LIMIT 50")?;
        let rows = st.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let classes: Vec<(&str, Vec<String>)> = vec![
        (
            "1 character",
            ["利", "会", "餐", "药", "建"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ),
        (
            "2 characters",
            ["会计", "餐饮", "嘉陵", "蜀道", "医药"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ),
        (
            "4 characters",
            ["会计服务", "餐饮管理", "嘉陵财税", "蜀道医药", "利州建筑"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ),
        ("full code", codes),
    ];
    // The server, in this process, on a free port.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let server_app = app.clone();
    rt.spawn(async move {
        let _ = xinjian_web::serve_on(server_app, listener).await;
    });
    let stream = std::net::TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut conn = std::io::BufReader::new(stream);
    println!("subjects        {n}");
    println!(
        "{:<14} {:>9} {:>9} {:>11} {:>11} {:>9}",
        "query", "p50 ms", "p95 ms", "scan p50", "scan p95", "ratio p50"
    );
    let mut worst_p95: f64 = 0.0;
    let mut worst_ratio = f64::INFINITY;
    for (label, queries) in &classes {
        // Warm up once per query, then measure.
        for q in queries {
            http_get(&mut conn, &format!("/api/v1/public/search?q={}", urlenc(q)))?;
        }
        let mut ours = Vec::with_capacity(requests);
        for i in 0..requests {
            let q = &queries[i % queries.len()];
            let t = Instant::now();
            let body = http_get(&mut conn, &format!("/api/v1/public/search?q={}", urlenc(q)))?;
            ours.push(t.elapsed().as_secs_f64() * 1000.0);
            if i < queries.len() && body.len() < 3 {
                anyhow::bail!("no result for {q}");
            }
        }
        // The baseline: what a LIKE search with the same ranking does — read the whole table.
        let mut base = Vec::with_capacity(scans);
        for i in 0..scans {
            let q = &queries[i % queries.len()];
            let t = Instant::now();
            let mut st = raw.prepare_cached(
                "SELECT code, name FROM subjects WHERE name LIKE ?1 OR code LIKE ?2 \
                 ORDER BY CASE WHEN name = ?3 THEN 0 WHEN name LIKE ?4 THEN 1 ELSE 2 END, length(name), id LIMIT 20",
            )?;
            let n: usize = st
                .query_map(
                    rusqlite::params![format!("%{q}%"), format!("{q}%"), q, format!("{q}%")],
                    |_| Ok(()),
                )?
                .count();
            base.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(n);
        }
        ours.sort_by(f64::total_cmp);
        base.sort_by(f64::total_cmp);
        let (p50, p95, b50, b95) = (
            pct(&ours, 0.5),
            pct(&ours, 0.95),
            pct(&base, 0.5),
            pct(&base, 0.95),
        );
        worst_p95 = worst_p95.max(p95);
        worst_ratio = worst_ratio.min(b50 / p50);
        println!(
            "{label:<14} {p50:>9.2} {p95:>9.2} {b50:>11.1} {b95:>11.1} {:>8.0}x",
            b50 / p50
        );
    }
    println!("worst p95       {worst_p95:.2} ms (target ≤ 20 ms)");
    println!("worst ratio     {worst_ratio:.0}x faster than the scan (target ≥ 20x)");
    Ok(ExitCode::SUCCESS)
}

fn penalties(
    rows: u64,
    subjects: u64,
    dir: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let tmp = tempfile::tempdir()?;
    let dir = dir.unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    // The registry first (not measured).
    let data = dir.join("xinjian-penalties");
    let app = fresh_sqlite_app(&data)?;
    eprintln!("building a registry of {subjects} subjects …");
    let reg = dir.join("bench-registry.csv");
    xinjian_app::demo::write_export(&reg, subjects, 1).map_err(|e| anyhow!("{e}"))?;
    app.import_subjects(
        &Actor::System("bench".into()),
        &reg,
        ImportOptions::default(),
        &mut |_| {},
    )
    .map_err(|e| anyhow!("{e}"))?;
    let codes: Vec<(String, String)> = {
        let c = rusqlite::Connection::open(data.join("bench.db"))?;
        let mut st = c.prepare(
            "SELECT code, name FROM subjects WHERE reg_status <> 'deregistered' ORDER BY id",
        )?;
        let r = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        r.collect::<Result<_, _>>()?
    };
    eprintln!("generating {rows} penalty rows …");
    let csv = dir.join("bench-penalties.csv");
    {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&csv)?);
        writeln!(w, "行政相对人名称,行政相对人代码_1(统一社会信用代码),行政处罚决定书文号,处罚类别,处罚决定日期,处罚机关,违法事实,处罚依据,处罚内容,罚款金额（万元）")?;
        let cats = [
            "警告",
            "罚款",
            "警告；罚款",
            "没收违法所得、罚款",
            "责令停产停业",
        ];
        let start = chrono::NaiveDate::from_ymd_opt(2021, 1, 1).expect("date");
        for i in 0..rows {
            let (code, name) = &codes[(i as usize * 7919) % codes.len()];
            let d = start + chrono::Duration::days((i % 1400) as i64);
            writeln!(
                w,
                "{name},{code},利财罚〔{}〕{}号,{},{d},广元市利州区财政局,未按规定办理代理记账机构备案,《代理记账管理办法》第二十七条,罚款人民币五千元,0.5",
                chrono::Datelike::year(&d),
                i + 1,
                cats[(i % 5) as usize]
            )?;
        }
        w.flush()?;
    }
    let size = std::fs::metadata(&csv)?.len();
    // Floor: the same rows as raw strings into a table without indexes or validation.
    let floor_db = dir.join("floor-penalties.db");
    let _ = std::fs::remove_file(&floor_db);
    let t = Instant::now();
    {
        let mut c = rusqlite::Connection::open(&floor_db)?;
        c.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;",
        )?;
        c.execute_batch("CREATE TABLE raw (c0 TEXT, c1 TEXT, c2 TEXT, c3 TEXT, c4 TEXT, c5 TEXT, c6 TEXT, c7 TEXT, c8 TEXT, c9 TEXT)")?;
        let tx = c.transaction()?;
        {
            let mut st = tx.prepare("INSERT INTO raw VALUES (?,?,?,?,?,?,?,?,?,?)")?;
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(true)
                .from_path(&csv)?;
            let mut rec = csv::StringRecord::new();
            while rdr.read_record(&mut rec)? {
                st.execute(rusqlite::params_from_iter(rec.iter()))?;
            }
        }
        tx.commit()?;
    }
    let floor = t.elapsed().as_secs_f64();
    let rss_before = peak_rss_kib();
    let t = Instant::now();
    let summary = app
        .import_credit(
            &Actor::System("bench".into()),
            xinjian_core::credit_row::FileKind::Penalties,
            &csv,
            xinjian_app::credit::CreditImportOptions::default(),
            &mut |_| {},
        )
        .map_err(|e| anyhow!("{e}"))?;
    let ours = t.elapsed().as_secs_f64();
    let rss = peak_rss_kib();
    println!("rows            {rows} (over {} subjects)", codes.len());
    println!("csv size        {:.1} MiB", size as f64 / 1048576.0);
    println!(
        "floor (bare)    {floor:.2} s  {:.0} rows/s",
        rows as f64 / floor
    );
    println!(
        "xinjian import  {ours:.2} s  {:.0} rows/s  ({})",
        rows as f64 / ours,
        summary.summary.line()
    );
    println!("ratio           {:.2}x the floor", ours / floor);
    if let (Some(a), Some(b)) = (rss_before, rss) {
        println!(
            "peak RSS        {:.0} MiB (before import: {:.0} MiB)",
            b as f64 / 1024.0,
            a as f64 / 1024.0
        );
    }
    drop(app);
    let bound = engine_bound(
        &data.join("bench.db"),
        &dir,
        "credit_records",
        (xinjian_app::credit::CHUNKS_PER_COMMIT * xinjian_app::import::CHUNK_ROWS) as i64,
        xinjian_app::credit::IMPORT_CACHE_MIB,
    )?;
    print_engine_bound(bound, rows, floor, ours);
    Ok(ExitCode::SUCCESS)
}

/// Load `n` synthetic records for the evaluation benchmark straight into the tables (not
/// measured): kinds, severities and dates spread over four years before `t`, over a third of
/// the subjects.
fn load_records(app: &App, n: u64, t: chrono::NaiveDate) -> anyhow::Result<()> {
    let mut conn = app.db.connect().map_err(|e| anyhow!("{e}"))?;
    let ids: Vec<i64> = {
        let rows = conn
            .query("SELECT id, code FROM subjects ORDER BY id", &[])
            .map_err(|e| anyhow!("{e}"))?;
        rows.iter()
            .map(|r| r.get::<i64>(0))
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow!("{e}"))?
    };
    let codes: Vec<String> = conn
        .query("SELECT code FROM subjects ORDER BY id", &[])
        .map_err(|e| anyhow!("{e}"))?
        .iter()
        .map(|r| r.get::<String>(0))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow!("{e}"))?;
    let mut rng = xinjian_app::demo::DemoRng::new(7);
    let now = xinjian_app::now();
    let batch = 100_000u64;
    let mut done = 0u64;
    while done < n {
        let m = batch.min(n - done);
        conn.transaction(|tx| {
            let mut rows: Vec<xinjian_store::Value> = Vec::new();
            let mut sql = String::new();
            let mut k = 0;
            let flush = |tx: &mut xinjian_store::Conn, sql: &mut String, rows: &mut Vec<xinjian_store::Value>| -> Result<(), xinjian_store::StoreError> {
                if rows.is_empty() {
                    return Ok(());
                }
                tx.execute(sql, rows)?;
                sql.clear();
                rows.clear();
                Ok(())
            };
            for i in 0..m {
                let seq = done + i;
                let s = (rng.below(ids.len() as u64 / 3) * 3) as usize;
                let (kind, nature, severity, revokes) = match rng.below(100) {
                    0..=39 => ("license", "neutral", None, false),
                    40..=53 => ("penalty", "negative", Some("minor"), false),
                    54..=78 => ("penalty", "negative", Some("general"), false),
                    79..=85 => ("penalty", "negative", Some("serious"), false),
                    86 => ("penalty", "negative", Some("serious"), true),
                    _ => ("tax_arrears", "negative", Some("general"), false),
                };
                let d = t - chrono::Duration::days(rng.below(4 * 365) as i64);
                let doc = format!("B{seq}");
                if k == 0 {
                    sql.push_str("INSERT INTO credit_records (subject_id, subject_code, kind, document_number, decision_date, nature, severity, \
                        revokes_business_licence, data, status, held, recorded_on, version, content_hash, created_at, updated_at) VALUES ");
                } else {
                    sql.push(',');
                }
                sql.push_str("(?, ?, ?, ?, ?, ?, ?, ?, '{}', 'active', 0, ?, 1, '', ?, ?)");
                rows.extend(xinjian_store::params![ids[s], codes[s].as_str(), kind, doc, d, nature, severity, revokes, d, now.as_str(), now.as_str()]);
                k += 1;
                if k == 80 {
                    flush(tx, &mut sql, &mut rows)?;
                    k = 0;
                }
            }
            flush(tx, &mut sql, &mut rows)?;
            Ok::<(), xinjian_store::StoreError>(())
        })
        .map_err(|e| anyhow!("{e}"))?;
        done += m;
        eprint!("\rloaded {done} records");
    }
    eprintln!();
    Ok(())
}

fn evaluate(
    n_subjects: u64,
    n_records: u64,
    db: Option<String>,
    dir: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    let tmp = tempfile::tempdir()?;
    let dir = dir.unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let url = db.unwrap_or_else(|| {
        format!(
            "sqlite:{}",
            dir.join(format!("eval-{n_subjects}-{n_records}.db"))
                .display()
        )
    });
    let app = App::open(&url, &dir).map_err(|e| anyhow!("{e}"))?;
    let t = xinjian_app::today();
    let system = Actor::System("bench".into());
    let have: i64 = app
        .db
        .conn()
        .map_err(|e| anyhow!("{e}"))?
        .query_row("SELECT count(*) FROM credit_records", &[])
        .map_err(|e| anyhow!("{e}"))?
        .get(0)
        .map_err(|e| anyhow!("{e}"))?;
    // The benchmark deletes evaluations, grade events and runs: only in a database it built
    // (which has its `sql_grades` table).
    let built_here = app
        .db
        .conn()
        .map_err(|e| anyhow!("{e}"))?
        .query_row("SELECT count(*) FROM sql_grades", &[])
        .is_ok();
    if have > 0 && !built_here {
        return Err(anyhow!(
            "这个数据库不是基准测试建立的（基准测试会删除评价结果、等级变更记录和评价记录）：请指定一个空数据库"
        ));
    }
    if have < n_records as i64 {
        eprintln!("building {n_subjects} subjects and {n_records} records (not measured) …");
        app.db
            .conn()
            .map_err(|e| anyhow!("{e}"))?
            .execute_batch("CREATE TABLE IF NOT EXISTS sql_grades (subject_id BIGINT PRIMARY KEY, grade TEXT NOT NULL)")
            .map_err(|e| anyhow!("{e}"))?;
        let csv = dir.join("eval-subjects.csv");
        xinjian_app::demo::write_export(&csv, n_subjects, 1).map_err(|e| anyhow!("{e}"))?;
        app.import_subjects(&system, &csv, ImportOptions::default(), &mut |_| {})
            .map_err(|e| anyhow!("{e}"))?;
        let _ = std::fs::remove_file(&csv);
        load_records(&app, n_records, t)?;
        // The records went straight into the table: make their subjects' grading digests, as
        // the import paths do in their transactions.
        let n = app
            .rebuild_grading_digests(&system)
            .map_err(|e| anyhow!("{e}"))?;
        eprintln!("made {n} grading digests");
    }
    let mut conn = app.db.conn().map_err(|e| anyhow!("{e}"))?;
    let q = |conn: &mut xinjian_store::Conn, sql: &str| -> anyhow::Result<()> {
        conn.execute_batch(sql).map_err(|e| anyhow!("{e}"))
    };
    if app.db.backend() == xinjian_store::Backend::Postgres {
        // The planner statistics a server's autovacuum keeps (a freshly loaded table has none,
        // and autovacuum may be off): without them PostgreSQL scans the whole records table
        // for the few records changed since the last run.
        q(&mut conn, "ANALYZE")?;
    }
    // Floor: one full scan of the records — the best of three, so that the floor is the
    // table read from memory (the first scan after the load may still read the disk).
    // `NOT INDEXED` on SQLite: otherwise count(*) reads the smallest index and max() one entry
    // of the date index, which is not reading the data.
    let scan_sql = if app.db.backend() == xinjian_store::Backend::Sqlite {
        "SELECT count(*), max(decision_date) FROM credit_records NOT INDEXED"
    } else {
        "SELECT count(*), max(decision_date) FROM credit_records"
    };
    let mut floor = f64::INFINITY;
    let mut scanned = 0i64;
    for _ in 0..3 {
        let t0 = Instant::now();
        scanned = conn
            .query_row(scan_sql, &[])
            .map_err(|e| anyhow!("{e}"))?
            .get(0)
            .map_err(|e| anyhow!("{e}"))?;
        floor = floor.min(t0.elapsed().as_secs_f64());
    }
    // The SQL a DBA would write: the same grades into a table, one statement.
    let start = xinjian_core::grade::sub_months(t, 12);
    q(&mut conn, "DROP TABLE IF EXISTS sql_grades; CREATE TABLE sql_grades (subject_id BIGINT PRIMARY KEY, grade TEXT NOT NULL)")?;
    // `{records}`: the records table as the statement reads it (SQLite: as the planner likes, and
    // a full scan forced with `NOT INDEXED`; the faster counts).
    let dba_sql = |records: &str| {
        format!("INSERT INTO sql_grades (subject_id, grade) \
        SELECT s.id, CASE \
          WHEN s.reg_status = 'revoked' OR COALESCE(f.revoking, 0) > 0 THEN 'D' \
          WHEN COALESCE(l.on_list, 0) > 0 OR COALESCE(f.serious, 0) > 0 OR COALESCE(f.general, 0) > 5 THEN 'C' \
          WHEN COALESCE(f.general, 0) > 0 THEN 'B' ELSE 'A' END \
        FROM subjects s \
        LEFT JOIN (SELECT subject_id, \
            sum(CASE WHEN revokes_business_licence = 1 AND decision_date <= '{t}' AND (ended_on IS NULL OR ended_on > '{t}') THEN 1 ELSE 0 END) AS revoking, \
            sum(CASE WHEN severity = 'serious' AND decision_date > '{start}' AND decision_date <= '{t}' AND (ended_on IS NULL OR ended_on > '{t}') THEN 1 ELSE 0 END) AS serious, \
            sum(CASE WHEN severity = 'general' AND decision_date > '{start}' AND decision_date <= '{t}' AND (ended_on IS NULL OR ended_on > '{t}') THEN 1 ELSE 0 END) AS general \
          FROM {records} GROUP BY subject_id) f ON f.subject_id = s.id \
        LEFT JOIN (SELECT subject_id, count(*) AS on_list FROM list_entries WHERE list_type = 'serious_dishonest' \
            AND entered_on <= '{t}' AND (exited_on IS NULL OR exited_on > '{t}') AND (term_until IS NULL OR term_until > '{t}') \
            GROUP BY subject_id) l ON l.subject_id = s.id \
        WHERE s.reg_status IN ('active', 'revoked') AND s.kind <> 'natural_person'")
    };
    let mut plans = vec![("as planned", dba_sql("credit_records"))];
    if app.db.backend() == xinjian_store::Backend::Sqlite {
        plans.push(("table scan", dba_sql("credit_records NOT INDEXED")));
    }
    let mut dba = f64::INFINITY;
    let mut dba_times = Vec::new();
    for (plan, sql) in &plans {
        q(&mut conn, "DELETE FROM sql_grades")?;
        let t0 = Instant::now();
        q(&mut conn, sql)?;
        let took = t0.elapsed().as_secs_f64();
        dba_times.push(format!("{plan} {took:.2} s"));
        dba = dba.min(took);
    }
    drop(conn);
    // Ours: a full evaluation with reasons, outlook, risk class, stored results and events —
    // the first one (no earlier run, evaluation or event).
    app.db
        .conn()
        .map_err(|e| anyhow!("{e}"))?
        .execute_batch("DELETE FROM grades; DELETE FROM grade_events; DELETE FROM evaluation_runs;")
        .map_err(|e| anyhow!("{e}"))?;
    if app.db.backend() == xinjian_store::Backend::Sqlite {
        // The run starts from a quiescent database, as after an import (which ends with a
        // checkpoint): not behind a write-ahead log full of the statement's table and the
        // deletes above, which the run's readers would search and its checkpointer copy.
        app.db
            .conn()
            .map_err(|e| anyhow!("{e}"))?
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| anyhow!("{e}"))?;
    }
    if app.db.backend() == xinjian_store::Backend::Postgres {
        // As empty as a new database's (autovacuum may be off): without it the first run
        // checks its new keys against a million dead index entries.
        let mut conn = app.db.conn().map_err(|e| anyhow!("{e}"))?;
        for table in ["grades", "grade_events", "evaluation_runs"] {
            q(&mut conn, &format!("VACUUM ANALYZE {table}"))?;
        }
    }
    let rss0 = peak_rss_kib();
    let t0 = Instant::now();
    let first = app
        .evaluate_jurisdiction(&system, Some(t), true, &mut |_, _| {})
        .map_err(|e| anyhow!("{e}"))?;
    let full_first = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let again = app
        .evaluate_jurisdiction(&system, Some(t), true, &mut |_, _| {})
        .map_err(|e| anyhow!("{e}"))?;
    let full_again = t0.elapsed().as_secs_f64();
    let rss = peak_rss_kib();
    // Incremental after 1 % of the subjects changed, three times (each after its own touch):
    // the median counts — a run of ~50 ms varies with the host. Every hundredth subject is
    // touched (its registration stamped as changed) and so is one record of each of those that
    // have records: the run cannot tell a touch from a change, so it evaluates them all again.
    // Not the registration of a 吊销 subject: its stamp is the day it was revoked, a fact.
    // (Before session 15 only the records were touched: 1 % of the subjects that have records,
    // a third of 1 % of the subjects.)
    let mut runs = Vec::new();
    let (mut touched, mut inc) = ((0, 0), None);
    for _ in 0..3 {
        let mut conn = app.db.conn().map_err(|e| anyhow!("{e}"))?;
        let later = xinjian_app::now();
        touched = conn.transaction(|tx| {
            let records = tx.execute(
                "UPDATE credit_records SET updated_at = ? WHERE id IN (SELECT min(id) FROM credit_records GROUP BY subject_id HAVING subject_id % 100 = 0)",
                &xinjian_store::params![later.as_str()],
            )?;
            let subjects = tx.execute(
                "UPDATE subjects SET updated_at = ? WHERE id % 100 = 0 AND reg_status <> 'revoked'",
                &xinjian_store::params![later.as_str()],
            )?;
            Ok::<_, xinjian_store::StoreError>((subjects, records))
        }).map_err(|e| anyhow!("{e}"))?;
        drop(conn);
        let t0 = Instant::now();
        inc = Some(
            app.evaluate_jurisdiction(&system, Some(t), false, &mut |_, _| {})
                .map_err(|e| anyhow!("{e}"))?,
        );
        runs.push(t0.elapsed().as_secs_f64());
    }
    let inc = inc.expect("three runs");
    runs.sort_by(f64::total_cmp);
    let incremental = runs[1];
    // Agreement with the SQL grades.
    let mut conn = app.db.conn().map_err(|e| anyhow!("{e}"))?;
    // A subject without a stored evaluation is clean (A).
    let disagree: i64 = conn.query_row("SELECT count(*) FROM sql_grades q LEFT JOIN grades g ON g.subject_id = q.subject_id WHERE COALESCE(g.grade, 'A') <> q.grade", &[])
        .map_err(|e| anyhow!("{e}"))?.get(0).map_err(|e| anyhow!("{e}"))?;
    println!("backend          {}", app.db.describe());
    println!(
        "subjects         {} evaluated ({})",
        first.evaluated,
        first.line()
    );
    println!("records          {scanned}");
    println!("scan floor       {floor:.2} s (best of 3)");
    println!(
        "DBA SQL          {dba:.2} s (the faster of: {})",
        dba_times.join(", ")
    );
    println!("full (first)     {full_first:.2} s  {:.2}x the SQL, {:.1}x the floor (writes {} evaluations; the {} others are clean)", full_first / dba, full_first / floor, first.changed, first.evaluated - first.changed);
    println!(
        "full (again)     {full_again:.2} s  {:.2}x the SQL, {:.1}x the floor (writes {})",
        full_again / dba,
        full_again / floor,
        again.changed
    );
    println!("incremental      {incremental:.3} s  {:.1}% of the full run (median of {:.3}, {:.3}, {:.3} s; {} subjects and {} of their records touched, {} subjects evaluated)", incremental * 100.0 / full_again, runs[0], runs[1], runs[2], touched.0, touched.1, inc.evaluated);
    println!("disagreements    {disagree} (grades vs the SQL)");
    if let (Some(a), Some(b)) = (rss0, rss) {
        println!(
            "peak RSS         {:.0} MiB (before: {:.0} MiB)",
            b as f64 / 1024.0,
            a as f64 / 1024.0
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The engine bound's line: its time and rate, against the floor and the import.
fn print_engine_bound(bound: f64, rows: u64, floor: f64, ours: f64) {
    println!(
        "engine bound    {bound:.2} s  {:.0} rows/s  ({:.2}x the floor; the import is {:.2}x it)",
        rows as f64 / bound,
        bound / floor,
        ours / bound
    );
}

/// What SQLite itself needs to store the rows an import stored, in the same run: the rows
/// exactly as stored, copied by `INSERT … SELECT` from the import's database into a fresh
/// store of the same schema (every index; for subjects the name index, fed from the names'
/// grams made beforehand), in transactions of `rows_per_commit` rows like the import's,
/// with the import's connection settings, page cache and background checkpointer; for
/// credit records then the grading digests, once; timed, like the import, up to its last
/// checkpoint. No parsing, validation, hashing or lookups: what no import of these rows
/// with these indexes can take less than on this machine.
fn engine_bound(
    imported: &std::path::Path,
    dir: &std::path::Path,
    table: &str,
    rows_per_commit: i64,
    cache_mib: u32,
) -> anyhow::Result<f64> {
    let fresh = dir.join("engine-bound");
    let app = fresh_sqlite_app(&fresh)?;
    let stage = fresh.join("stage.db");
    if table == "subjects" {
        // Not measured: the grams the import makes on its writer thread.
        let c = rusqlite::Connection::open(&stage)?;
        c.execute_batch(&format!(
            "CREATE TABLE names (id INTEGER PRIMARY KEY, grams TEXT NOT NULL);
             ATTACH '{}' AS src;",
            imported.display()
        ))?;
        let tx = c.unchecked_transaction()?;
        {
            let mut read = tx.prepare(
                "SELECT id, name FROM src.subjects WHERE kind <> 'natural_person' ORDER BY id",
            )?;
            let mut write = tx.prepare("INSERT INTO names VALUES (?, ?)")?;
            let mut rows = read.query([])?;
            while let Some(r) = rows.next()? {
                let name: String = r.get(1)?;
                write.execute(rusqlite::params![
                    r.get::<_, i64>(0)?,
                    xinjian_store::subjects::name_grams(&name)
                ])?;
            }
        }
        tx.commit()?;
    }
    let err = |e: xinjian_store::StoreError| anyhow!("{e}");
    let mut conn = app.db.connect().map_err(err)?;
    conn.tune_for_bulk().map_err(err)?;
    conn.set_cache_mib(cache_mib).map_err(err)?;
    let t = Instant::now();
    {
        let checkpointer = app.db.checkpointer().map_err(err)?;
        let c = conn.as_sqlite().ok_or_else(|| anyhow!("SQLite only"))?;
        c.execute_batch(&format!(
            "ATTACH '{}' AS src; ATTACH '{}' AS stage;",
            imported.display(),
            stage.display()
        ))?;
        let last: i64 = c.query_row(
            &format!("SELECT coalesce(max(id), 0) FROM src.{table}"),
            [],
            |r| r.get(0),
        )?;
        let mut from = 0i64;
        while from < last {
            let to = from + rows_per_commit;
            let tx = c.transaction()?;
            tx.execute(
                &format!(
                    "INSERT INTO main.{table} SELECT * FROM src.{table} \
                     WHERE id > ?1 AND id <= ?2 ORDER BY id"
                ),
                [from, to],
            )?;
            if table == "subjects" {
                tx.execute(
                    "INSERT INTO main.subject_names (rowid, grams) \
                     SELECT id, grams FROM stage.names WHERE id > ?1 AND id <= ?2 ORDER BY id",
                    [from, to],
                )?;
            }
            tx.commit()?;
            if let Some(k) = &checkpointer {
                k.nudge();
            }
            from = to;
        }
        if table == "credit_records" {
            c.execute_batch(
                "INSERT INTO main.grading_digests SELECT * FROM src.grading_digests ORDER BY subject_id",
            )?;
        }
        c.execute_batch("DETACH src; DETACH stage;")?;
    }
    conn.checkpoint().map_err(err)?;
    Ok(t.elapsed().as_secs_f64())
}
