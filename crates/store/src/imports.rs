//! Import jobs and their rejected rows.

use crate::{params, Conn, Result, Row, StoreError};

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportRow {
    pub id: i64,
    pub kind: String,
    pub file_name: String,
    pub file_sha256: String,
    pub allow_flagged: bool,
    /// `running`, `done`, `failed`.
    pub status: String,
    pub total_rows: Option<i64>,
    pub processed_rows: i64,
    pub imported: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub rejected: i64,
    pub message: Option<String>,
    pub started_by: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// How far through the file, 0–100, while it runs (100 once it ended).
    pub percent: i64,
}

const COLS: &str = "id, kind, file_name, file_sha256, allow_flagged, status, total_rows, processed_rows, imported, updated, unchanged, rejected, message, started_by, started_at, finished_at, bytes_read, file_size";

fn import(r: &Row) -> Result<ImportRow> {
    Ok(ImportRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        file_name: r.get(2)?,
        file_sha256: r.get(3)?,
        allow_flagged: r.get(4)?,
        status: r.get(5)?,
        total_rows: r.get(6)?,
        processed_rows: r.get(7)?,
        imported: r.get(8)?,
        updated: r.get(9)?,
        unchanged: r.get(10)?,
        rejected: r.get(11)?,
        message: r.get(12)?,
        started_by: r.get(13)?,
        started_at: r.get(14)?,
        finished_at: r.get(15)?,
        percent: {
            let (read, size): (i64, i64) = (r.get(16)?, r.get(17)?);
            let status: String = r.get(5)?;
            if status != "running" {
                100
            } else if size > 0 {
                (read * 100 / size).clamp(0, 99)
            } else {
                0
            }
        },
    })
}

pub fn create(
    conn: &mut Conn,
    kind: &str,
    file_name: &str,
    sha: &str,
    allow_flagged: bool,
    by: &str,
    now: &str,
) -> Result<i64> {
    conn.insert_id(
        "INSERT INTO imports (kind, file_name, file_sha256, allow_flagged, status, processed_rows, imported, updated, unchanged, rejected, started_by, started_at) \
         VALUES (?, ?, ?, ?, 'running', 0, 0, 0, 0, 0, ?, ?) RETURNING id",
        &params![kind, file_name, sha, allow_flagged, by, now],
    )
}

pub fn get(conn: &mut Conn, id: i64) -> Result<Option<ImportRow>> {
    conn.query_opt(
        &format!("SELECT {COLS} FROM imports WHERE id = ?"),
        &params![id],
    )?
    .map(|r| import(&r))
    .transpose()
}

pub fn recent(conn: &mut Conn, limit: i64) -> Result<Vec<ImportRow>> {
    conn.query(
        &format!("SELECT {COLS} FROM imports ORDER BY id DESC LIMIT ?"),
        &params![limit],
    )?
    .iter()
    .map(import)
    .collect()
}

/// Counters after a committed chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub processed: i64,
    pub imported: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub rejected: i64,
}

pub fn progress(conn: &mut Conn, id: i64, c: &Counts, total: Option<i64>) -> Result<()> {
    conn.execute(
        "UPDATE imports SET processed_rows = ?, imported = ?, updated = ?, unchanged = ?, rejected = ?, total_rows = COALESCE(?, total_rows) WHERE id = ?",
        &params![c.processed, c.imported, c.updated, c.unchanged, c.rejected, total, id],
    )?;
    Ok(())
}

pub fn finish(
    conn: &mut Conn,
    id: i64,
    status: &str,
    message: Option<&str>,
    now: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE imports SET status = ?, message = ?, finished_at = ? WHERE id = ?",
        &params![status, message, now, id],
    )?;
    Ok(())
}

/// Jobs left `running` by a process that died: mark them interrupted.
/// Record which process runs a job.
pub fn claim(conn: &mut Conn, id: i64, owner: &str, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE imports SET owner = ?, heartbeat_at = ? WHERE id = ?",
        &params![owner, now, id],
    )?;
    Ok(())
}

/// A running job's sign of life and position in its file (written with each committed chunk).
pub fn heartbeat(
    conn: &mut Conn,
    id: i64,
    now: &str,
    bytes_read: u64,
    file_size: u64,
) -> Result<()> {
    conn.execute(
        "UPDATE imports SET heartbeat_at = ?, bytes_read = ?, file_size = ? WHERE id = ?",
        &params![now, bytes_read as i64, file_size as i64, id],
    )?;
    Ok(())
}

/// A job marked running, with who runs it and its last sign of life.
#[derive(Debug, Clone)]
pub struct RunningJob {
    pub id: i64,
    pub owner: Option<String>,
    pub heartbeat_at: Option<String>,
}

/// Jobs marked running.
pub fn running(conn: &mut Conn) -> Result<Vec<RunningJob>> {
    conn.query(
        "SELECT id, owner, heartbeat_at FROM imports WHERE status = 'running' ORDER BY id",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(RunningJob {
            id: r.get(0)?,
            owner: r.get(1)?,
            heartbeat_at: r.get(2)?,
        })
    })
    .collect()
}

/// Mark the given running jobs interrupted (their process is gone).
pub fn mark_interrupted_ids(conn: &mut Conn, ids: &[i64], now: &str) -> Result<u64> {
    let mut n = 0;
    for id in ids {
        n += conn.execute(
            "UPDATE imports SET status = 'interrupted', message = '进程中断：已提交的部分保留，重新导入同一文件即可补全', finished_at = ? WHERE id = ? AND status = 'running'",
            &params![now, *id],
        )?;
    }
    Ok(n)
}

/// Mark every running job interrupted.
pub fn mark_interrupted(conn: &mut Conn, now: &str) -> Result<u64> {
    conn.execute(
        "UPDATE imports SET status = 'interrupted', message = '进程中断：已提交的部分保留，重新导入同一文件即可补全', finished_at = ? WHERE status = 'running'",
        &params![now],
    )
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportError {
    pub row_no: i64,
    pub column: String,
    pub value: String,
    pub reason: String,
}

pub fn add_error(conn: &mut Conn, id: i64, e: &ImportError) -> Result<()> {
    conn.execute(
        "INSERT INTO import_errors (import_id, row_no, column_name, value, reason) VALUES (?, ?, ?, ?, ?)",
        &params![id, e.row_no, e.column.as_str(), e.value.as_str(), e.reason.as_str()],
    )?;
    Ok(())
}

pub fn errors(conn: &mut Conn, id: i64, limit: i64) -> Result<Vec<ImportError>> {
    let mut out = Vec::new();
    each_error(conn, id, limit, |e| {
        out.push(e);
        Ok::<(), StoreError>(())
    })?;
    Ok(out)
}

/// The rejected rows of an import in row order, one at a time (a report of a million rows is
/// never held whole).
pub fn each_error<E: From<StoreError>>(
    conn: &mut Conn,
    id: i64,
    limit: i64,
    mut f: impl FnMut(ImportError) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    conn.query_each(
        "SELECT row_no, column_name, value, reason FROM import_errors WHERE import_id = ? ORDER BY row_no LIMIT ?",
        &params![id, limit],
        |r| {
            f(ImportError {
                row_no: r.get(0)?,
                column: r.get(1)?,
                value: r.get(2)?,
                reason: r.get(3)?,
            })
        },
    )
}
