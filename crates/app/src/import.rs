//! Importing registration data from market-regulation exports (CSV in UTF-8/GBK, XLSX).
//!
//! The file is read as a stream and written in chunks; each chunk writes its rows, its
//! rejected rows, the job's counters and an audit entry, and a transaction commits one chunk
//! (a registry file) or a few (a department file: `credit::CHUNKS_PER_COMMIT`). A crash loses
//! at most the transaction in flight; re-importing the same file completes the job, because a
//! row whose content is already stored is counted `unchanged` and writes nothing (idempotent).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;

use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use xinjian_core::registry_row::{parse_row, CellError, HeaderMap, RowOptions};
use xinjian_core::role::Permission;
use xinjian_core::subject::SubjectData;
use xinjian_store::imports::{self, Counts, ImportError, ImportRow};
use xinjian_store::subjects::{self, Provenance};
use xinjian_store::{audit, Conn};

use crate::sources::{xlsx_err, TableReader};
use crate::{now, today, Actor, App, AppError, Result};

/// Rows per committed chunk.
pub const CHUNK_ROWS: usize = 10_000;

/// Options of a registry import.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Keep codes that fail only the check character, flagged (重错码 governance).
    pub allow_flagged: bool,
}

/// Progress after each committed chunk.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ImportProgress {
    pub counts: Counts,
    pub bytes_read: u64,
    pub file_size: u64,
}

/// The result of an import.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    pub import_id: i64,
    pub counts: Counts,
    pub encoding: Option<&'static str>,
    pub recognised_headers: Vec<&'static str>,
}

impl ImportSummary {
    /// The summary line of the CLI contract.
    pub fn line(&self) -> String {
        let c = &self.counts;
        format!(
            "imported {}, updated {}, unchanged {}, rejected {}",
            c.imported, c.updated, c.unchanged, c.rejected
        )
    }
}

pub(crate) fn file_sha256(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path)
        .map_err(|e| AppError::Unprocessable(format!("无法打开文件：{e}")))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)
        .map_err(|e| AppError::Unprocessable(format!("读取文件失败：{e}")))?;
    Ok(hex::encode(h.finalize()))
}

/// A validated row ready to store: its data and content hash.
struct ParsedRow {
    data: SubjectData,
    hash: String,
}

/// How one kind of file is read: rows to values, and the identity that makes two rows of one
/// file duplicates.
pub(crate) trait RowParser: Sync {
    type Row: Send;
    type Key: std::hash::Hash + Eq;
    fn parse(&self, cells: &[&str]) -> std::result::Result<Self::Row, Vec<CellError>>;
    fn key(&self, row: &Self::Row) -> Self::Key;
    /// The rejection of a row whose key an earlier row (`first`) of the file already had.
    fn duplicate(&self, row: &Self::Row, first: u64) -> (String, String, String);
}

struct SubjectParser<'a> {
    map: &'a HeaderMap,
    opts: RowOptions,
}

impl RowParser for SubjectParser<'_> {
    type Row = ParsedRow;
    // 18 bytes a code, not the rows themselves.
    type Key = [u8; 18];
    fn parse(&self, cells: &[&str]) -> std::result::Result<ParsedRow, Vec<CellError>> {
        parse_row(self.map, cells, self.opts).map(|data| {
            let hash = data.content_hash();
            ParsedRow { data, hash }
        })
    }
    fn key(&self, row: &ParsedRow) -> [u8; 18] {
        row.data
            .code
            .as_bytes()
            .try_into()
            .expect("codes are 18 ASCII characters")
    }
    fn duplicate(&self, row: &ParsedRow, first: u64) -> (String, String, String) {
        (
            self.map
                .header_text(xinjian_core::registry_row::Field::Code),
            row.data.code.clone(),
            format!("文件内重复：与第 {first} 行的统一社会信用代码相同，本行未导入"),
        )
    }
}

/// A chunk of the file: valid rows with their row numbers, rejected cells, and where it lies
/// in the file.
pub(crate) struct Chunk<R> {
    pub rows: Vec<(u64, R)>,
    pub rejected: Vec<ImportError>,
    pub processed: i64,
    pub rejected_rows: i64,
    pub first_row: u64,
    pub last_row: u64,
    pub bytes_read: u64,
    pub file_size: u64,
}

impl<R> Chunk<R> {
    fn new() -> Self {
        Chunk {
            rows: Vec::with_capacity(CHUNK_ROWS),
            rejected: Vec::new(),
            processed: 0,
            rejected_rows: 0,
            first_row: 0,
            last_row: 0,
            bytes_read: 0,
            file_size: 0,
        }
    }
}

/// The parser stage: read rows, validate them, report duplicate keys inside the file, and
/// send chunks of at most [`CHUNK_ROWS`] rows. A file-level error ends the stream.
fn parse_chunks<P: RowParser>(
    table: &mut TableReader,
    parser: &P,
    tx: &std::sync::mpsc::SyncSender<Result<Chunk<P::Row>>>,
    done_with: &std::sync::mpsc::Receiver<Chunk<P::Row>>,
) {
    let mut seen: HashMap<P::Key, u64> = HashMap::new();
    let mut chunk = Chunk::new();
    let mut any = false;
    loop {
        let next = match table.next_row() {
            Ok(n) => n,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        let done = next.is_none();
        if let Some((row_no, cells)) = next {
            any = true;
            if chunk.first_row == 0 {
                chunk.first_row = row_no;
            }
            chunk.last_row = row_no;
            chunk.processed += 1;
            let outcome = match cells {
                Err(reason) => Err(vec![CellError {
                    column: "（整行）".into(),
                    value: String::new(),
                    reason,
                }]),
                Ok(cells) => {
                    let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
                    parser.parse(&refs)
                }
            };
            match outcome {
                Ok(row) => {
                    let key = parser.key(&row);
                    if let Some(first) = seen.get(&key) {
                        let (column, value, reason) = parser.duplicate(&row, *first);
                        chunk.rejected_rows += 1;
                        chunk.rejected.push(ImportError {
                            row_no: row_no as i64,
                            column,
                            value,
                            reason,
                        });
                    } else {
                        seen.insert(key, row_no);
                        chunk.rows.push((row_no, row));
                    }
                }
                Err(errs) => {
                    chunk.rejected_rows += 1;
                    chunk.rejected.extend(errs.into_iter().map(|e| ImportError {
                        row_no: row_no as i64,
                        column: e.column,
                        value: e.value,
                        reason: e.reason,
                    }));
                }
            }
        }
        if done && !any {
            let _ = tx.send(Err(AppError::Unprocessable(
                "文件只有表头，没有数据行".into(),
            )));
            return;
        }
        if done || chunk.processed as usize >= CHUNK_ROWS {
            // Chunks the writer has committed are freed here, where their rows were made:
            // the writer is the busier thread, and memory goes back to the allocator's arena
            // of the thread that took it.
            while let Ok(used) = done_with.try_recv() {
                drop(used);
            }
            chunk.bytes_read = table.bytes_read.load(Ordering::Relaxed);
            chunk.file_size = table.file_size;
            let full = std::mem::replace(&mut chunk, Chunk::new());
            if tx.send(Ok(full)).is_err() {
                return; // the writer stopped (an error): stop reading
            }
        }
        if done {
            return;
        }
    }
}

/// Run the two stages of an import on two threads: reading, validating and hashing rows (the
/// parser thread) and writing chunks (`write`, on this thread, on `conn`). Up to
/// `chunks_per_commit` chunks are written in one transaction: the random-order index pages a
/// chunk dirties are mostly the same ones the next chunk dirties, so fewer commits write
/// them to the log fewer times. The channel holds two chunks, so memory stays bounded
/// whatever the file size. On SQLite a third thread checkpoints the write-ahead log behind
/// the writer. On PostgreSQL the planner's statistics of the tables the import reads are
/// refreshed after the 1st, 2nd, 4th, 8th … commit, so they are never more than twice out.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_pipeline<P: RowParser>(
    db: &xinjian_store::Db,
    conn: &mut Conn,
    chunks_per_commit: usize,
    analyze: &[&str],
    table: TableReader,
    parser: &P,
    mut write: impl FnMut(&mut Conn, &Chunk<P::Row>) -> Result<()>,
    progress: &mut dyn FnMut(&ImportProgress),
    counts: &dyn Fn() -> Counts,
) -> Result<()> {
    let checkpointer = db.checkpointer()?;
    let mut table = table;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Chunk<P::Row>>>(2);
        let (done_tx, done_rx) = std::sync::mpsc::channel::<Chunk<P::Row>>();
        scope.spawn(move || parse_chunks(&mut table, parser, &tx, &done_rx));
        let mut chunks = rx.into_iter().peekable();
        let mut commits = 0u64;
        while chunks.peek().is_some() {
            conn.transaction(|tx| {
                for chunk in chunks.by_ref().take(chunks_per_commit.max(1)) {
                    let chunk = chunk?;
                    write(tx, &chunk)?;
                    let (bytes_read, file_size) = (chunk.bytes_read, chunk.file_size);
                    // Back to the parser thread to be freed (dropped here if it has finished).
                    let _ = done_tx.send(chunk);
                    progress(&ImportProgress {
                        counts: counts(),
                        bytes_read,
                        file_size,
                    });
                }
                Ok::<_, AppError>(())
            })?;
            if let Some(c) = &checkpointer {
                c.nudge();
            }
            commits += 1;
            if commits.is_power_of_two() {
                conn.analyze(analyze)?;
            }
        }
        Ok::<_, AppError>(())
    })
}

impl App {
    /// Register an import job for a file (authorised, audited); run it with [`App::run_subject_import`].
    pub fn start_subject_import(
        &self,
        actor: &Actor,
        file_name: &str,
        path: &Path,
        opts: ImportOptions,
    ) -> Result<i64> {
        actor.require(Permission::SubjectImport)?;
        let sha = file_sha256(path)?;
        let now = now();
        let mut conn = self.db.conn()?;
        conn.transaction(|tx| {
            let id = imports::create(
                tx,
                "subjects",
                file_name,
                &sha,
                opts.allow_flagged,
                &actor.name(),
                &now,
            )?;
            audit::append(
                tx,
                &actor.audit(),
                "subject.import.start",
                &format!("import:{id}"),
                &json!({ "file": file_name, "sha256": sha, "allow_flagged": opts.allow_flagged }),
            )?;
            Ok(id)
        })
    }

    /// Import a file in one go (the CLI path): start the job and run it.
    pub fn import_subjects(
        &self,
        actor: &Actor,
        path: &Path,
        opts: ImportOptions,
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> Result<ImportSummary> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "import".into());
        let id = self.start_subject_import(actor, &name, path, opts)?;
        self.run_subject_import(actor, id, path, opts, progress)
    }

    /// Run a started job. A file-level problem (not a table, missing headers) fails the job
    /// before any row is written; row-level problems reject just those rows. A file that
    /// cannot be read past some row (a broken CSV record, a damaged sheet) fails the job there,
    /// naming the row: the whole chunks before it stay written, and importing the corrected
    /// file completes the job's work (imports are idempotent).
    pub fn run_subject_import(
        &self,
        actor: &Actor,
        import_id: i64,
        path: &Path,
        opts: ImportOptions,
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> Result<ImportSummary> {
        actor.require(Permission::SubjectImport)?;
        imports::claim(
            &mut *self.db.conn()?,
            import_id,
            &crate::process_identity(),
            &now(),
        )?;
        let result = self.run_inner(actor, import_id, path, opts, progress);
        let mut conn = self.db.conn()?;
        match &result {
            Ok(_) => imports::finish(&mut conn, import_id, "done", None, &now())?,
            Err(e) => {
                imports::finish(&mut conn, import_id, "failed", Some(&e.to_string()), &now())?
            }
        }
        result
    }

    fn run_inner(
        &self,
        actor: &Actor,
        import_id: i64,
        path: &Path,
        opts: ImportOptions,
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> Result<ImportSummary> {
        let table = TableReader::open(path)?;
        let map = HeaderMap::detect(&table.header).map_err(AppError::Unprocessable)?;
        let encoding = table.encoding.map(|e| e.label());
        let recognised_headers = map.recognised().into_iter().map(|f| f.header()).collect();
        let row_opts = RowOptions {
            allow_flagged: opts.allow_flagged,
            today: today(),
        };
        // A dedicated connection: the job holds it for its whole run.
        let mut conn = self.db.connect()?;
        conn.tune_for_bulk()?;
        let source = format!("import:{import_id}");
        let actor_name = actor.name();
        let counts = std::cell::Cell::new(Counts::default());
        let parser = SubjectParser {
            map: &map,
            opts: row_opts,
        };
        run_pipeline(
            &self.db,
            &mut conn,
            1,
            &["subjects"],
            table,
            &parser,
            |tx, chunk| {
                let mut c = counts.get();
                self.write_chunk(tx, actor, import_id, &source, &actor_name, chunk, &mut c)?;
                counts.set(c);
                Ok(())
            },
            progress,
            &|| counts.get(),
        )?;
        let counts = counts.get();
        conn.checkpoint()?;
        Ok(ImportSummary {
            import_id,
            counts,
            encoding,
            recognised_headers,
        })
    }

    /// Write one chunk in the pipeline's transaction: its rows, its rejected rows, the job's
    /// counters and an audit entry.
    #[allow(clippy::too_many_arguments)]
    fn write_chunk(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        import_id: i64,
        source: &str,
        actor_name: &str,
        chunk: &Chunk<ParsedRow>,
        counts: &mut Counts,
    ) -> Result<()> {
        let now = now();
        let mut next = *counts;
        next.processed += chunk.processed;
        next.rejected += chunk.rejected_rows;
        // While most rows so far were new (a first load, a file of new registrations), a
        // chunk's rows are inserted unless their code is already there, and only those are
        // looked up; otherwise all are looked up first and only the new ones inserted.
        let mostly_new = counts.imported > counts.updated + counts.unchanged;
        {
            let p = Provenance {
                source,
                actor: actor_name,
                reason: None,
                now: &now,
            };
            // In code order: the inserts into the code index then touch neighbouring pages.
            let mut rows: Vec<subjects::NewSubject> = chunk
                .rows
                .iter()
                .map(|(_, r)| subjects::NewSubject {
                    data: &r.data,
                    hash: &r.hash,
                })
                .collect();
            rows.sort_unstable_by(|a, b| a.data.code.cmp(&b.data.code));
            let stored_rows: Vec<subjects::NewSubject> = if mostly_new {
                let present = subjects::insert_absent(tx, &rows, &p)?;
                present.into_iter().map(|i| rows[i]).collect()
            } else {
                rows
            };
            let codes: Vec<&str> = stored_rows.iter().map(|r| r.data.code.as_str()).collect();
            let existing = subjects::current_hashes(tx, &codes)?;
            let (mut upd, mut same) = (0i64, 0i64);
            let mut fresh = Vec::new();
            for r in stored_rows {
                match existing.get(&r.data.code) {
                    None => fresh.push(r),
                    Some((_, _, h)) if h == r.hash => same += 1,
                    Some((id, version, _)) => {
                        subjects::update(tx, *id, *version, r.data, r.hash, &p)?;
                        upd += 1;
                    }
                }
            }
            subjects::insert_batch(tx, &fresh, &p)?;
            let inserted = chunk.rows.len() as i64 - upd - same;
            for e in &chunk.rejected {
                imports::add_error(tx, import_id, e)?;
            }
            next.imported += inserted;
            next.updated += upd;
            next.unchanged += same;
            imports::progress(tx, import_id, &next, None)?;
            imports::heartbeat(tx, import_id, &now, chunk.bytes_read, chunk.file_size)?;
            audit::append(
                tx,
                &actor.audit(),
                "subject.import.chunk",
                &format!("import:{import_id}"),
                &json!({
                    "rows": format!("{}-{}", chunk.first_row, chunk.last_row),
                    "imported": inserted, "updated": upd, "unchanged": same, "rejected": chunk.rejected_rows,
                }),
            )?;
        }
        *counts = next;
        Ok(())
    }

    pub fn import_job(&self, actor: &Actor, id: i64) -> Result<ImportRow> {
        actor.require(Permission::SubjectImport)?;
        imports::get(&mut *self.db.conn()?, id)?
            .ok_or_else(|| AppError::NotFound("导入任务".into()))
    }

    pub fn recent_imports(&self, actor: &Actor) -> Result<Vec<ImportRow>> {
        actor.require(Permission::SubjectImport)?;
        Ok(imports::recent(&mut *self.db.conn()?, 20)?)
    }

    pub fn import_errors(&self, actor: &Actor, id: i64, limit: i64) -> Result<Vec<ImportError>> {
        actor.require(Permission::SubjectImport)?;
        Ok(imports::errors(&mut *self.db.conn()?, id, limit)?)
    }

    /// The rejected rows as an XLSX workbook (行号, 列, 值, 原因), streamed from the store into
    /// the workbook's temporary file; returned as a temporary file of the data directory,
    /// read from its start (a million-row report is not held in memory to be sent).
    pub fn import_errors_xlsx(&self, actor: &Actor, id: i64) -> Result<std::fs::File> {
        let job = self.import_job(actor, id)?;
        crate::sources::xlsx_guard(|| {
            let mut book = ErrorsWorkbook::new(&job, &self.data_dir)?;
            imports::each_error(&mut *self.db.conn()?, id, MAX_REPORTED_ERRORS, |e| {
                book.push(&e)
            })?;
            crate::sources::save_workbook(&mut book.book, &self.data_dir)
        })
    }
}

/// Rejected rows a report holds at most (an XLSX sheet holds 1,048,576 rows).
const MAX_REPORTED_ERRORS: i64 = 1_000_000;

/// An error report being written: a title, the column headers, then a row per rejected cell.
struct ErrorsWorkbook {
    book: rust_xlsxwriter::Workbook,
    next_row: u32,
}

impl ErrorsWorkbook {
    /// A report whose rows are kept in a temporary file in `temp_dir` until it is finished.
    fn new(job: &ImportRow, temp_dir: &Path) -> Result<Self> {
        use rust_xlsxwriter::{Format, Workbook};
        let mut book = Workbook::new();
        book.set_tempdir(temp_dir).map_err(xlsx_err)?;
        // Rows go to a temporary file as they are written, not into memory: a file whose every
        // row is refused has a report as long as itself.
        let ws = book.add_worksheet_with_constant_memory();
        ws.set_name("错误明细").map_err(xlsx_err)?;
        for (c, width) in [8.0, 20.0, 28.0, 60.0].into_iter().enumerate() {
            ws.set_column_width(c as u16, width).map_err(xlsx_err)?;
        }
        let bold = Format::new().set_bold();
        ws.write_string_with_format(
            0,
            0,
            format!(
                "导入任务 {}：{}（拒绝 {} 行）",
                job.id, job.file_name, job.rejected
            ),
            &bold,
        )
        .map_err(xlsx_err)?;
        for (c, h) in ["行号", "列", "值", "原因"].iter().enumerate() {
            ws.write_string_with_format(2, c as u16, *h, &bold)
                .map_err(xlsx_err)?;
        }
        Ok(ErrorsWorkbook { book, next_row: 3 })
    }

    fn push(&mut self, e: &ImportError) -> Result<()> {
        let ws = self.book.worksheet_from_index(0).map_err(xlsx_err)?;
        let r = self.next_row;
        ws.write_number(r, 0, e.row_no as f64).map_err(xlsx_err)?;
        ws.write_string(r, 1, &e.column).map_err(xlsx_err)?;
        ws.write_string(r, 2, &e.value).map_err(xlsx_err)?;
        ws.write_string(r, 3, &e.reason).map_err(xlsx_err)?;
        self.next_row += 1;
        Ok(())
    }
}

/// An empty import template with the standard headers.
pub fn template_workbook() -> Result<Vec<u8>> {
    crate::sources::xlsx_guard(template_workbook_unguarded)
}

fn template_workbook_unguarded() -> Result<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let xerr = xlsx_err;
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("市场主体登记信息").map_err(xerr)?;
    let bold = Format::new().set_bold();
    for (c, f) in xinjian_core::registry_row::Field::ALL.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, f.header(), &bold)
            .map_err(xerr)?;
        ws.set_column_width(c as u16, 18).map_err(xerr)?;
    }
    wb.save_to_buffer().map_err(xerr)
}
