//! Crash tests: SIGKILL `xinjian import subjects` (and `import penalties`) in the middle of a
//! large file, then check that the database is consistent, the audit chain intact, the job
//! marked `interrupted`, and that importing the same file again completes the job without
//! duplicates.

use std::collections::HashSet;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::support::*;

/// Rows of the big file (`XINJIAN_CRASH_ROWS` overrides). The import must still be running
/// when the first rows are committed; raise this if the test says it finished too early.
fn crash_rows() -> u64 {
    std::env::var("XINJIAN_CRASH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300_000)
}

/// `SELECT count(*) FROM {table}`, once the database and its schema exist.
fn try_count_of(db: &Path, table: &str) -> Option<i64> {
    if !db.exists() {
        return None;
    }
    // Never create the file: the child must be the one to create it.
    let c = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ok()?;
    c.busy_timeout(Duration::from_secs(5)).ok()?;
    c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .ok()
}

/// Start `xinjian import subjects FILE` in the background, output to files in the fixture.
fn spawn_import(fx: &Fixture, file: &Path, tag: &str) -> Child {
    spawn_import_of(fx, "subjects", file, tag)
}

/// Start `xinjian import KIND FILE` in the background, output to files in the fixture.
fn spawn_import_of(fx: &Fixture, kind: &str, file: &Path, tag: &str) -> Child {
    let out = std::fs::File::create(fx.path(&format!("{tag}.stdout"))).unwrap();
    let err = std::fs::File::create(fx.path(&format!("{tag}.stderr"))).unwrap();
    command(fx.root())
        .arg("import")
        .arg(kind)
        .arg(file)
        .arg("--db")
        .arg(fx.url())
        .arg("--data-dir")
        .arg(fx.data_dir())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn xinjian import")
}

/// Poll (a bounded number of times) until the running child has committed some rows.
/// Returns the count seen. Panics if the child finishes first.
fn wait_for_committed_rows(child: &mut Child, fx: &Fixture, rows: u64) -> i64 {
    wait_for_committed(child, fx, "subjects", rows)
}

/// [`wait_for_committed_rows`] for the rows of `table`.
fn wait_for_committed(child: &mut Child, fx: &Fixture, table: &str, rows: u64) -> i64 {
    let db = fx.db_path();
    // At most 24 000 × 25 ms ≈ 10 minutes on a very busy machine; normally a few seconds.
    for _ in 0..24_000 {
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!(
                "the import finished ({status}) before any committed rows were seen; \
                 raise XINJIAN_CRASH_ROWS (now {rows})\nstderr: {}",
                std::fs::read_to_string(fx.path("killed.stderr")).unwrap_or_default()
            );
        }
        if let Some(n) = try_count_of(&db, table).filter(|n| *n > 0) {
            return n;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("no committed rows appeared while polling");
}

fn chunk_details(fx: &Fixture, import_id: i64) -> Vec<serde_json::Value> {
    chunk_details_of(fx, "subject.import.chunk", import_id)
}

fn chunk_details_of(fx: &Fixture, action: &str, import_id: i64) -> Vec<serde_json::Value> {
    let c = fx.conn();
    let mut st = c
        .prepare("SELECT detail FROM audit_log WHERE action = ?1 AND target = ?2 ORDER BY seq")
        .unwrap();
    let v: Vec<String> = st
        .query_map([action.to_owned(), format!("import:{import_id}")], |r| {
            r.get(0)
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    v.iter()
        .map(|s| serde_json::from_str(s).expect("detail is JSON"))
        .collect()
}

fn job(fx: &Fixture, id: i64) -> (String, i64, i64, i64, i64) {
    fx.conn()
        .query_row(
            "SELECT status, imported, updated, unchanged, rejected FROM imports WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .expect("the import job row")
}

#[test]
fn an_import_killed_mid_file_is_consistent_and_resumable() {
    let rows = crash_rows();
    let fx = Fixture::new();
    let big = fx.path("big.csv");
    write_registry_csv(&big, 0..rows);

    // 1. Start the import and SIGKILL it once some chunks are committed.
    let mut child = spawn_import(&fx, &big, "killed");
    let seen = wait_for_committed_rows(&mut child, &fx, rows);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the import finished before it could be killed; raise XINJIAN_CRASH_ROWS (now {rows})"
    );
    child.kill().expect("SIGKILL the import");
    let status = child.wait().expect("reap the killed import");
    assert_eq!(
        status.signal(),
        Some(9),
        "the import should have died of SIGKILL, not exited on its own ({status}); \
         raise XINJIAN_CRASH_ROWS (now {rows})"
    );
    let killed_stderr = std::fs::read_to_string(fx.path("killed.stderr")).unwrap_or_default();
    assert!(!killed_stderr.contains("panicked"), "{killed_stderr}");

    // 2. The file is a consistent database.
    fx.integrity_ok();
    let committed = fx.subjects();
    assert!(committed >= seen, "committed rows never disappear");
    assert!(
        committed > 0 && (committed as u64) < rows,
        "killed in flight: {committed} of {rows} committed"
    );

    // The job is still recorded as running (nobody has opened the database since), and its
    // counters were committed together with the rows.
    let (id, status): (i64, String) = fx
        .conn()
        .query_row("SELECT id, status FROM imports", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("exactly one import job");
    assert_eq!(status, "running");
    let (_, imported, updated, unchanged, rejected) = job(&fx, id);
    assert_eq!(
        (imported, updated, unchanged, rejected),
        (committed, 0, 0, 0)
    );

    // Exactly the distinct rows committed so far, each once, with its first version: the
    // committed chunks are a prefix of the file.
    let stored: HashSet<String> = fx
        .strings("SELECT code FROM subjects")
        .into_iter()
        .collect();
    assert_eq!(stored.len() as i64, committed, "codes are unique");
    let prefix: HashSet<String> = (0..committed as u64).map(gen_code).collect();
    assert!(
        stored == prefix,
        "the committed rows are exactly the first {committed} rows of the file"
    );
    assert_eq!(fx.all_versions(), committed);
    assert_eq!(
        fx.count("SELECT count(*) FROM subjects WHERE version <> 1"),
        0
    );
    // Each committed chunk has its audit entry, and they add up to the committed rows.
    let chunks = chunk_details(&fx, id);
    assert!(!chunks.is_empty());
    let audited: i64 = chunks.iter().map(|d| d["imported"].as_i64().unwrap()).sum();
    assert_eq!(audited, committed);

    // 3. The audit chain is intact. `audit verify` is also the next open of the store.
    let entries = fx.count("SELECT count(*) FROM audit_log");
    assert_eq!(fx.audit_ok(), entries);
    assert_eq!(
        entries,
        1 + chunks.len() as i64,
        "start + one entry per chunk"
    );

    // 4. After that open, the killed job is marked interrupted.
    let (status, message): (String, Option<String>) = fx
        .conn()
        .query_row(
            "SELECT status, message FROM imports WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(status, "interrupted");
    assert!(message.is_some_and(|m| has_chinese(&m)));

    // 5. Importing the same file again completes the job.
    let r = fx.import(&big, &[]);
    r.assert_success();
    let remaining = rows - committed as u64;
    assert_eq!(
        r.last_line(),
        summary(remaining, 0, committed as u64, 0),
        "{}",
        r.describe()
    );
    // (X + Y = total rows.)
    assert_eq!(remaining + committed as u64, rows);

    // 6. Everything once.
    fx.integrity_ok();
    assert_eq!(fx.subjects(), rows as i64);
    assert_eq!(
        fx.count(
            "SELECT count(*) FROM (SELECT code FROM subjects GROUP BY code HAVING count(*) > 1)"
        ),
        0
    );
    assert_eq!(fx.all_versions(), rows as i64);
    let jobs: Vec<(i64, String)> = {
        let c = fx.conn();
        let mut st = c
            .prepare("SELECT id, status FROM imports ORDER BY id")
            .unwrap();
        let v = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        v
    };
    assert_eq!(
        jobs,
        vec![(id, "interrupted".to_owned()), (id + 1, "done".to_owned())]
    );
    let (_, imported, updated, unchanged, rejected) = job(&fx, id + 1);
    assert_eq!(
        (imported, updated, unchanged, rejected),
        (remaining as i64, 0, committed, 0)
    );
    fx.audit_ok();
}

/// Regression (was a bug; crates/app/src/lib.rs, `App::open` → `imports::mark_interrupted`): every open of the
/// store marks *all* `running` jobs as interrupted, including one that another process is
/// running right now. Any other command that opens the store (here `calendar is-workday --db`,
/// equally the web server starting) flips a live import to `interrupted`.
#[test]
fn opening_the_store_does_not_mark_a_live_import_interrupted() {
    let rows = crash_rows();
    let fx = Fixture::new();
    let big = fx.path("big.csv");
    write_registry_csv(&big, 0..rows);
    let mut child = spawn_import(&fx, &big, "killed");
    wait_for_committed_rows(&mut child, &fx, rows);
    let r = fx.xj_db(&["calendar", "is-workday", "2024-10-01"]);
    let still_running = child.try_wait().unwrap().is_none();
    let status: String = fx
        .conn()
        .query_row("SELECT status FROM imports ORDER BY id LIMIT 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    r.assert_success();
    assert!(still_running, "raise XINJIAN_CRASH_ROWS");
    assert_eq!(status, "running", "a live import was marked {status}");
}

/// The penalty file of the credit crash test: `rows` penalties in the national format over the
/// subjects `gen_code(0..subjects)`, document numbers in file order.
fn write_penalty_csv(path: &Path, rows: u64, subjects: u64) {
    use std::io::Write;
    let f = std::fs::File::create(path).unwrap();
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    writeln!(w, "行政相对人名称,行政相对人代码_1(统一社会信用代码),行政处罚决定书文号,处罚类别,处罚决定日期,处罚机关,违法事实,处罚依据,处罚内容,罚款金额（万元）").unwrap();
    let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    for i in 0..rows {
        let s = i % subjects;
        let day = start + chrono::Duration::days((i % 600) as i64);
        writeln!(
            w,
            "测试企业第{s}号有限公司,{},利财罚〔2024〕{:07}号,{},{day},广元市利州区财政局,未按规定办理代理记账机构备案,《代理记账管理办法》第二十七条,罚款人民币五千元,0.5",
            gen_code(s),
            i + 1,
            ["警告", "罚款", "警告；罚款"][(i % 3) as usize]
        )
        .unwrap();
    }
    w.flush().unwrap();
}

/// A penalty import killed mid-file: it commits several chunks a transaction
/// (`credit::CHUNKS_PER_COMMIT`), so what is stored after the kill must still be whole
/// transactions — a prefix of the file, the job's counters and each chunk's audit entry with
/// it — and importing the file again completes it without a duplicate.
#[test]
fn a_penalty_import_killed_mid_file_is_consistent_and_resumable() {
    let rows = crash_rows() / 2;
    let subjects = 2_000;
    let fx = Fixture::new();
    let registry = fx.path("registry.csv");
    write_registry_csv(&registry, 0..subjects);
    fx.import(&registry, &[]).assert_summary(subjects, 0, 0, 0);
    let big = fx.path("penalties.csv");
    write_penalty_csv(&big, rows, subjects);

    let mut child = spawn_import_of(&fx, "penalties", &big, "killed");
    let seen = wait_for_committed(&mut child, &fx, "credit_records", rows);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the import finished before it could be killed; raise XINJIAN_CRASH_ROWS (now {rows})"
    );
    child.kill().expect("SIGKILL the import");
    let status = child.wait().expect("reap the killed import");
    assert_eq!(status.signal(), Some(9), "{status}");

    fx.integrity_ok();
    let committed = fx.count("SELECT count(*) FROM credit_records");
    assert!(committed >= seen, "committed rows never disappear");
    assert!(
        committed > 0 && (committed as u64) < rows,
        "killed in flight: {committed} of {rows} committed"
    );
    let id: i64 = fx
        .conn()
        .query_row("SELECT id FROM imports WHERE kind = 'penalties'", [], |r| {
            r.get(0)
        })
        .expect("the penalty import job");
    let (status, imported, updated, unchanged, rejected) = job(&fx, id);
    assert_eq!(
        (status.as_str(), imported, updated, unchanged, rejected),
        ("running", committed, 0, 0, 0)
    );
    // The stored records are exactly the file's first rows.
    let docs: HashSet<String> = fx
        .strings("SELECT document_number FROM credit_records")
        .into_iter()
        .collect();
    let prefix: HashSet<String> = (0..committed as u64)
        .map(|i| format!("利财罚〔2024〕{:07}号", i + 1))
        .collect();
    assert!(
        docs == prefix,
        "the committed records are the first {committed} rows"
    );
    let chunks = chunk_details_of(&fx, "credit.import.chunk", id);
    let audited: i64 = chunks.iter().map(|d| d["imported"].as_i64().unwrap()).sum();
    assert_eq!(
        audited, committed,
        "each committed chunk has its audit entry"
    );
    fx.audit_ok();

    let r = fx.xj_db(&["import", "penalties", big.to_str().unwrap()]);
    r.assert_success();
    let remaining = rows - committed as u64;
    assert_eq!(
        r.last_line(),
        summary(remaining, 0, committed as u64, 0),
        "{}",
        r.describe()
    );
    fx.integrity_ok();
    assert_eq!(fx.count("SELECT count(*) FROM credit_records"), rows as i64);
    assert_eq!(
        fx.count("SELECT count(*) FROM (SELECT 1 FROM credit_records GROUP BY document_number, subject_code HAVING count(*) > 1)"),
        0
    );
    fx.audit_ok();
}
