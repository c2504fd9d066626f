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
    let _ = std::fs::remove_dir_all(&data);
    let app = App::open(
        &format!("sqlite:{}", data.join("bench.db").display()),
        &data,
    )
    .map_err(|e| anyhow!("{e}"))?;
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
    let _ = std::fs::remove_dir_all(&data);
    let app = App::open(
        &format!("sqlite:{}", data.join("bench.db").display()),
        &data,
    )
    .map_err(|e| anyhow!("{e}"))?;
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
    Ok(ExitCode::SUCCESS)
}
