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
