//! Helpers for running the `xinjian` binary against a throw-away SQLite database.

#![allow(dead_code)]

use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_xinjian");

/// One finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub args: Vec<String>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.status.success()
    }

    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// The last non-empty line of stdout.
    pub fn last_line(&self) -> &str {
        self.stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
    }

    pub fn describe(&self) -> String {
        format!(
            "xinjian {:?}\n  status: {}\n  stdout: {}\n  stderr: {}",
            self.args, self.status, self.stdout, self.stderr
        )
    }

    /// Exit status 0.
    pub fn assert_success(&self) -> &Self {
        assert!(self.ok(), "expected success:\n{}", self.describe());
        self
    }

    /// A non-zero exit status.
    pub fn assert_failure(&self) -> &Self {
        assert!(
            !self.ok(),
            "expected a non-zero exit status:\n{}",
            self.describe()
        );
        self
    }

    /// Exit 0 and the import contract's last stdout line, exactly.
    pub fn assert_summary(&self, imported: u64, updated: u64, unchanged: u64, rejected: u64) {
        self.assert_success();
        assert_eq!(
            self.last_line(),
            summary(imported, updated, unchanged, rejected),
            "{}",
            self.describe()
        );
    }
}

/// The summary line of `xinjian import subjects`.
pub fn summary(imported: u64, updated: u64, unchanged: u64, rejected: u64) -> String {
    format!("imported {imported}, updated {updated}, unchanged {unchanged}, rejected {rejected}")
}

/// Whether a text contains a CJK ideograph (a "Chinese message").
pub fn has_chinese(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// A base command: no database settings inherited from the environment, quiet logs.
pub fn command(cwd: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(cwd)
        .env_remove("XINJIAN_DATABASE_URL")
        .env_remove("XINJIAN_DATA_DIR")
        .env_remove("RUST_BACKTRACE")
        .env("XINJIAN_LOG", "warn");
    c
}

/// Run the binary to completion. Every run, whatever its outcome, must not panic.
pub fn run_in(cwd: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    run_in_env(cwd, args, stdin, &[])
}

/// [`run_in`] with environment variables set for the run.
pub fn run_in_env(cwd: &Path, args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Run {
    let mut c = command(cwd);
    c.envs(env.iter().copied());
    c.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = c.spawn().expect("spawn xinjian");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        // The command may exit before reading (e.g. an unknown role): ignore a broken pipe.
        let _ = pipe.write_all(input);
        drop(pipe);
    }
    let out = child.wait_with_output().expect("wait for xinjian");
    let run = Run {
        args: args.iter().map(|s| s.to_string()).collect(),
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "the command panicked:\n{}",
        run.describe()
    );
    run
}

/// A temporary directory with an SQLite database `x.db` and a data directory `data/`.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    /// The fixture's own PostgreSQL database, dropped with it ([`Fixture::on_postgres`]).
    pg: Option<PgDatabase>,
}

/// A PostgreSQL database made for one fixture: `name` on the server of `admin_url`.
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        match postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            Ok(mut c) => {
                if let Err(e) = c.batch_execute(&sql) {
                    eprintln!("warning: could not drop test database {}: {e}", self.name);
                }
            }
            Err(e) => eprintln!("warning: could not drop test database {}: {e}", self.name),
        }
    }
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture {
            dir: tempfile::Builder::new()
                .prefix("xinjian-cli-")
                .tempdir()
                .expect("temp dir"),
            pg: None,
        }
    }

    /// A fixture whose commands run against a fresh PostgreSQL database on the server of
    /// `XINJIAN_TEST_PG` (a URL, `postgres://user@host:port/db`), or `None` when it is not set
    /// (the test command always sets it). Only the commands' own output can be checked on it:
    /// [`Fixture::conn`] and the helpers built on it read the SQLite file.
    pub fn on_postgres() -> Option<Fixture> {
        let base = std::env::var("XINJIAN_TEST_PG").ok()?;
        let base = base.trim();
        if base.is_empty() {
            return None;
        }
        assert!(
            base.starts_with("postgres://") || base.starts_with("postgresql://"),
            "the CLI tests need XINJIAN_TEST_PG as a URL (postgres://user@host:port/db), not {base:?}"
        );
        let name = format!(
            "xj_cli_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_nanos()
        );
        let mut admin = postgres::Client::connect(base, postgres::NoTls)
            .unwrap_or_else(|e| panic!("XINJIAN_TEST_PG is set but {base:?} is unreachable: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let (main, query) = base.split_once('?').unwrap_or((base, ""));
        let server = main
            .rsplit_once('/')
            .filter(|(head, _)| head.ends_with("//") || head.contains("://"))
            .map_or(main, |(head, _)| head);
        let mut url = format!("{server}/{name}");
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        let mut fx = Fixture::new();
        fx.pg = Some(PgDatabase {
            admin_url: base.to_owned(),
            name,
            url,
        });
        Some(fx)
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn db_path(&self) -> PathBuf {
        self.path("x.db")
    }

    /// A direct connection to the fixture's PostgreSQL database ([`Fixture::on_postgres`]).
    pub fn pg_client(&self) -> postgres::Client {
        let pg = self.pg.as_ref().expect("a fixture on PostgreSQL");
        postgres::Client::connect(&pg.url, postgres::NoTls).expect("connect to the test database")
    }

    pub fn url(&self) -> String {
        match &self.pg {
            Some(pg) => pg.url.clone(),
            None => format!("sqlite:{}", self.db_path().display()),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path("data")
    }

    /// Run without database arguments.
    pub fn xj(&self, args: &[&str]) -> Run {
        run_in(self.root(), args, None)
    }

    /// Run with `--db URL --data-dir DIR` appended.
    pub fn xj_db(&self, args: &[&str]) -> Run {
        self.xj_db_stdin(args, None)
    }

    pub fn xj_db_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        self.xj_db_env(args, stdin, &[])
    }

    /// [`Fixture::xj_db_stdin`] with environment variables set for the run.
    pub fn xj_db_env(&self, args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Run {
        let url = self.url();
        let data = self.data_dir().display().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--db", url.as_str(), "--data-dir", data.as_str()]);
        run_in_env(self.root(), &all, stdin, env)
    }

    /// `xinjian import subjects FILE --db … [extra]`.
    pub fn import(&self, file: &Path, extra: &[&str]) -> Run {
        let f = file.display().to_string();
        let mut args = vec!["import", "subjects", f.as_str()];
        args.extend_from_slice(extra);
        self.xj_db(&args)
    }

    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).expect("write test file");
        p
    }

    /// A direct connection to the SQLite file (as an outside checker would use).
    pub fn conn(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(self.db_path()).expect("open sqlite file");
        c.busy_timeout(std::time::Duration::from_secs(30))
            .expect("busy timeout");
        c
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.conn()
            .query_row(sql, [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    pub fn subjects(&self) -> i64 {
        self.count("SELECT count(*) FROM subjects")
    }

    /// Number of stored versions of the subject with this code: those superseded (in
    /// `subject_versions`) and the current one (in `subjects`).
    pub fn versions_of(&self, code: &str) -> i64 {
        self.conn()
            .query_row(
                "SELECT (SELECT count(*) FROM subject_versions v JOIN subjects s ON s.id = v.subject_id WHERE s.code = ?1) \
                      + (SELECT count(*) FROM subjects WHERE code = ?1)",
                [code],
                |r| r.get(0),
            )
            .expect("count versions")
    }

    /// Number of stored versions of all credit records, superseded and current.
    pub fn all_record_versions(&self) -> i64 {
        self.count(
            "SELECT (SELECT count(*) FROM credit_record_versions) + (SELECT count(*) FROM credit_records)",
        )
    }

    /// Number of stored versions of all subjects, superseded and current.
    pub fn all_versions(&self) -> i64 {
        self.count(
            "SELECT (SELECT count(*) FROM subject_versions) + (SELECT count(*) FROM subjects)",
        )
    }

    /// The first column of every row of `sql`, as text.
    pub fn strings(&self, sql: &str) -> Vec<String> {
        let c = self.conn();
        let mut st = c.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let v = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        v
    }

    pub fn text(&self, sql: &str, param: &str) -> Option<String> {
        self.conn()
            .query_row(sql, [param], |r| r.get::<_, Option<String>>(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// `(status, message)` of the most recent import job.
    pub fn last_import(&self) -> (String, Option<String>) {
        self.conn()
            .query_row(
                "SELECT status, message FROM imports ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("an import job row")
    }

    pub fn integrity_ok(&self) {
        let r: String = self
            .conn()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity_check");
        assert_eq!(r, "ok", "PRAGMA integrity_check");
    }

    /// `audit verify` succeeds and reports this many entries.
    pub fn audit_ok(&self) -> i64 {
        let r = self.xj_db(&["audit", "verify"]);
        r.assert_success();
        r.last_line()
            .strip_prefix("ok ")
            .and_then(|s| s.strip_suffix(" entries"))
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or_else(|| panic!("expected `ok N entries`:\n{}", r.describe()))
    }
}

// ---------------------------------------------------------------------------------------------
// Unified social credit codes (GB 32100-2015), computed independently of the crate under test.

pub const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
pub const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Append the check character: alphabet[(31 − Σ value·weight mod 31) mod 31].
pub fn with_check(first17: &str) -> String {
    assert_eq!(first17.len(), 17);
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| {
            let v = ALPHABET
                .iter()
                .position(|&a| a == b)
                .expect("alphabet character") as u32;
            v * w
        })
        .sum();
    let mut s = first17.to_owned();
    s.push(ALPHABET[((31 - sum % 31) % 31) as usize] as char);
    s
}

/// The `i`-th generated valid code: `91510802MA` + 7 base-31 characters of `i` + check.
pub fn gen_code(i: u64) -> String {
    let mut tail = [b'0'; 7];
    let mut n = i;
    for slot in tail.iter_mut().rev() {
        *slot = ALPHABET[(n % 31) as usize];
        n /= 31;
    }
    assert_eq!(n, 0, "index too large for 7 characters");
    with_check(&format!(
        "91510802MA{}",
        std::str::from_utf8(&tail).expect("ascii")
    ))
}

/// A UTF-8 registry CSV with one valid row per index.
pub fn write_registry_csv(path: &Path, rows: Range<u64>) {
    let f = std::fs::File::create(path).expect("create csv");
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    w.write_all("统一社会信用代码,名称,登记状态,成立日期,住所\n".as_bytes())
        .unwrap();
    for i in rows {
        writeln!(
            w,
            "{},测试企业第{i}号有限公司,存续,2020-01-01,四川省广元市利州区测试路{i}号",
            gen_code(i)
        )
        .unwrap();
    }
    w.flush().unwrap();
}

// ---------------------------------------------------------------------------------------------
// A small sample export, in UTF-8, GBK and XLSX.

/// Four real-looking subjects with the four valid example codes (CRLF, as Excel writes CSV).
pub const SAMPLE_CSV: &str = "统一社会信用代码,名称,登记状态,成立日期,住所\r\n\
914403001922038216,华为技术有限公司,存续,1987-09-15,深圳市龙岗区坂田华为总部办公楼\r\n\
9144030071526726XG,腾讯科技（深圳）有限公司,存续,2000-02-24,深圳市南山区科技园\r\n\
91330100799655058B,阿里巴巴（中国）有限公司,存续,2007-03-26,杭州市余杭区文一西路969号\r\n\
91350100M000100Y43,福州示例贸易有限公司,存续,2010-01-01,福州市鼓楼区五四路\r\n";

pub const SAMPLE_CODES: [&str; 4] = [
    "914403001922038216",
    "9144030071526726XG",
    "91330100799655058B",
    "91350100M000100Y43",
];

/// GBK (GB 2312 range) code points of every non-ASCII character in [`SAMPLE_CSV`]
/// (from the GBK code table; e.g. 统 = CD B3, 一 = D2 BB).
const GBK: &[(char, [u8; 2])] = &[
    ('一', [0xD2, 0xBB]),
    ('中', [0xD6, 0xD0]),
    ('为', [0xCE, 0xAA]),
    ('五', [0xCE, 0xE5]),
    ('代', [0xB4, 0xFA]),
    ('会', [0xBB, 0xE1]),
    ('住', [0xD7, 0xA1]),
    ('余', [0xD3, 0xE0]),
    ('例', [0xC0, 0xFD]),
    ('信', [0xD0, 0xC5]),
    ('公', [0xB9, 0xAB]),
    ('办', [0xB0, 0xEC]),
    ('区', [0xC7, 0xF8]),
    ('华', [0xBB, 0xAA]),
    ('南', [0xC4, 0xCF]),
    ('号', [0xBA, 0xC5]),
    ('司', [0xCB, 0xBE]),
    ('名', [0xC3, 0xFB]),
    ('四', [0xCB, 0xC4]),
    ('园', [0xD4, 0xB0]),
    ('国', [0xB9, 0xFA]),
    ('圳', [0xDB, 0xDA]),
    ('坂', [0xDB, 0xE0]),
    ('存', [0xB4, 0xE6]),
    ('山', [0xC9, 0xBD]),
    ('岗', [0xB8, 0xDA]),
    ('州', [0xD6, 0xDD]),
    ('巴', [0xB0, 0xCD]),
    ('市', [0xCA, 0xD0]),
    ('态', [0xCC, 0xAC]),
    ('总', [0xD7, 0xDC]),
    ('成', [0xB3, 0xC9]),
    ('所', [0xCB, 0xF9]),
    ('技', [0xBC, 0xBC]),
    ('文', [0xCE, 0xC4]),
    ('日', [0xC8, 0xD5]),
    ('易', [0xD2, 0xD7]),
    ('有', [0xD3, 0xD0]),
    ('期', [0xC6, 0xDA]),
    ('术', [0xCA, 0xF5]),
    ('杭', [0xBA, 0xBC]),
    ('楼', [0xC2, 0xA5]),
    ('深', [0xC9, 0xEE]),
    ('状', [0xD7, 0xB4]),
    ('用', [0xD3, 0xC3]),
    ('田', [0xCC, 0xEF]),
    ('登', [0xB5, 0xC7]),
    ('码', [0xC2, 0xEB]),
    ('示', [0xCA, 0xBE]),
    ('社', [0xC9, 0xE7]),
    ('福', [0xB8, 0xA3]),
    ('科', [0xBF, 0xC6]),
    ('称', [0xB3, 0xC6]),
    ('立', [0xC1, 0xA2]),
    ('统', [0xCD, 0xB3]),
    ('续', [0xD0, 0xF8]),
    ('腾', [0xCC, 0xDA]),
    ('西', [0xCE, 0xF7]),
    ('讯', [0xD1, 0xB6]),
    ('记', [0xBC, 0xC7]),
    ('贸', [0xC3, 0xB3]),
    ('路', [0xC2, 0xB7]),
    ('部', [0xB2, 0xBF]),
    ('里', [0xC0, 0xEF]),
    ('阿', [0xB0, 0xA2]),
    ('限', [0xCF, 0xDE]),
    ('鼓', [0xB9, 0xC4]),
    ('龙', [0xC1, 0xFA]),
    ('（', [0xA3, 0xA8]),
    ('）', [0xA3, 0xA9]),
];

/// Encode text made of ASCII and the characters of [`GBK`] as GBK bytes.
pub fn to_gbk(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c as u8);
        } else {
            let (_, b) = GBK
                .iter()
                .find(|(k, _)| *k == c)
                .unwrap_or_else(|| panic!("no GBK bytes for {c:?} in the test table"));
            out.extend_from_slice(b);
        }
    }
    out
}

/// Split a simple CSV (no quoting) into rows of cells.
pub fn csv_cells(s: &str) -> Vec<Vec<String>> {
    s.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// A minimal XLSX writer: a "stored" (uncompressed) ZIP with inline-string cells.

/// A worksheet cell.
pub enum Cell {
    Text(String),
    Number(f64),
    /// A cell's XML as given (for malformed workbooks); `{r}` becomes its reference.
    Xml(String),
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

fn zip_stored(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let size = data.len() as u32;
        let name_len = name.len() as u16;
        // Local file header.
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes()); // version needed
        out.extend_from_slice(&0u16.to_le_bytes()); // flags
        out.extend_from_slice(&0u16.to_le_bytes()); // method: stored
        out.extend_from_slice(&0u16.to_le_bytes()); // time
        out.extend_from_slice(&0x21u16.to_le_bytes()); // date: 1980-01-01
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // extra length
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        // Central directory entry.
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // made by
        central.extend_from_slice(&20u16.to_le_bytes()); // needed
        central.extend_from_slice(&0u16.to_le_bytes()); // flags
        central.extend_from_slice(&0u16.to_le_bytes()); // method
        central.extend_from_slice(&0u16.to_le_bytes()); // time
        central.extend_from_slice(&0x21u16.to_le_bytes()); // date
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&name_len.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes()); // extra
        central.extend_from_slice(&0u16.to_le_bytes()); // comment
        central.extend_from_slice(&0u16.to_le_bytes()); // disk
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    let cd_size = central.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An XLSX workbook with one sheet holding `rows` from A1.
pub fn xlsx(rows: &[Vec<Cell>]) -> Vec<u8> {
    let mut sheet = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    for (r, row) in rows.iter().enumerate() {
        sheet.push_str(&format!(r#"<row r="{}">"#, r + 1));
        for (c, cell) in row.iter().enumerate() {
            assert!(c < 26);
            let cref = format!("{}{}", (b'A' + c as u8) as char, r + 1);
            match cell {
                Cell::Text(t) => sheet.push_str(&format!(
                    r#"<c r="{cref}" t="inlineStr"><is><t>{}</t></is></c>"#,
                    xml_escape(t)
                )),
                Cell::Number(n) => sheet.push_str(&format!(r#"<c r="{cref}"><v>{n}</v></c>"#)),
                Cell::Xml(x) => sheet.push_str(&x.replace("{r}", &cref)),
            }
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    let content_types = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#;
    let rels = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
    let workbook = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="市场主体登记信息" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
    let workbook_rels = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;
    zip_stored(&[
        ("[Content_Types].xml", content_types.as_bytes().to_vec()),
        ("_rels/.rels", rels.as_bytes().to_vec()),
        ("xl/workbook.xml", workbook.as_bytes().to_vec()),
        (
            "xl/_rels/workbook.xml.rels",
            workbook_rels.as_bytes().to_vec(),
        ),
        ("xl/worksheets/sheet1.xml", sheet.into_bytes()),
    ])
}

/// Every row of an XLSX file the platform wrote, read back as a department's file is read
/// (the first row included).
pub fn xlsx_rows(path: &Path) -> Vec<Vec<String>> {
    let mut t = xinjian_app::sources::TableReader::open(path).expect("a readable XLSX");
    let mut rows = vec![t.header.clone()];
    while let Some((_, row)) = t.next_row().expect("a row") {
        rows.push(row.expect("a readable row"));
    }
    rows
}

/// Deterministic pseudo-random bytes (splitmix64).
pub fn junk_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(n);
    out
}
