//! Credit information use cases: department files (penalties, licences, lists) and pushed
//! records, publication (双公示) with its deadlines, holding for review, status changes as new
//! versions, list entries and their exits, the publication report, the public views and the
//! export for the sharing platform.

use std::collections::HashMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;
use xinjian_core::credit::{
    publication_status, publicity_until, publish_deadline, CatalogKind, CategoryRule,
    ListEntryData, ListType, Nature, PublicationStatus, RecordData, RecordStatus, Severity,
    SeverityMap, DUE_SOON_WORKDAYS,
};
use xinjian_core::credit_row::{
    parse_credit_row, Col, ColumnMap, CreditRow, CreditRowOptions, FileKind, PreparedRow,
};
use xinjian_core::registry_row::CellError;
use xinjian_core::role::Permission;
use xinjian_core::subject::{RegStatus, SubjectData, SubjectKind};
use xinjian_core::WorkdayCalendar;
use xinjian_store::credit::{self as store, RecordRow, RecordState};
use xinjian_store::imports::{self, Counts, ImportError};
use xinjian_store::subjects::{self, Provenance};
use xinjian_store::{audit, Conn};

use crate::import::{file_sha256, run_pipeline, Chunk, ImportProgress, ImportSummary, RowParser};
use crate::sources::TableReader;
use crate::{now, today, Actor, App, AppError, Result};

// ---------------------------------------------------------------------------------------------
// Views

/// A record as the public sees it (no internal fields).
#[derive(Debug, Clone, Serialize)]
pub struct PublicRecord {
    pub kind: String,
    pub kind_name: String,
    pub document_number: String,
    pub decision_date: NaiveDate,
    pub severity: Option<&'static str>,
    pub severity_label: Option<&'static str>,
    pub categories: Vec<String>,
    pub authority: Option<String>,
    pub content: Option<String>,
    pub facts: Option<String>,
    pub basis: Option<String>,
    pub fine_amount: Option<String>,
    pub certificate_name: Option<String>,
    pub license_number: Option<String>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub source_department: Option<String>,
    pub published_on: Option<NaiveDate>,
    /// The day publication ends (public on the days before it); `null`: no automatic end.
    pub publicity_until: Option<NaiveDate>,
    pub under_objection: bool,
}

/// A record as staff see it: the public fields plus bookkeeping.
#[derive(Debug, Clone, Serialize)]
pub struct RecordView {
    pub id: i64,
    pub subject_code: String,
    pub subject_name: String,
    #[serde(flatten)]
    pub public: PublicRecord,
    pub nature: &'static str,
    pub nature_label: &'static str,
    pub revokes_business_licence: bool,
    pub status: &'static str,
    pub status_label: &'static str,
    pub publish_deadline: Option<NaiveDate>,
    pub held: bool,
    pub recorded_on: NaiveDate,
    pub version: i64,
    pub is_public_now: bool,
}

/// A list entry as the public sees it.
#[derive(Debug, Clone, Serialize)]
pub struct PublicListEntry {
    pub list_type: &'static str,
    pub list_name: &'static str,
    pub entered_on: NaiveDate,
    pub decision_number: String,
    pub authority: String,
    pub reason: String,
    pub basis: Option<String>,
    pub term_until: Option<NaiveDate>,
}

/// A list entry as staff see it.
#[derive(Debug, Clone, Serialize)]
pub struct ListEntryView {
    pub id: i64,
    pub subject_code: String,
    pub subject_name: String,
    #[serde(flatten)]
    pub public: PublicListEntry,
    pub exited_on: Option<NaiveDate>,
    pub exit_reason: Option<String>,
    pub on_list: bool,
    pub version: i64,
}

/// The public page of a subject: registration facts, public records, list memberships.
#[derive(Debug, Clone, Serialize)]
pub struct PublicSubjectCredit {
    #[serde(flatten)]
    pub subject: crate::registry::PublicSubject,
    pub records: Vec<PublicRecord>,
    pub lists: Vec<PublicListEntry>,
}

/// One line of the publication report (the CLI's JSON has exactly the first five fields).
#[derive(Debug, Clone, Serialize)]
pub struct PublicityItem {
    pub code: String,
    pub document_number: String,
    pub decision_date: NaiveDate,
    pub publish_deadline: NaiveDate,
    pub status: &'static str,
}

/// A line of the publication report for the staff page.
#[derive(Debug, Clone, Serialize)]
pub struct PublicityRow {
    #[serde(flatten)]
    pub item: PublicityItem,
    pub status_label: &'static str,
    pub record_id: i64,
    pub subject_name: String,
    pub kind_name: String,
    pub published_on: Option<NaiveDate>,
    pub held: bool,
}

fn public_record(r: &RecordData, st: &RecordState, kind_name: &str) -> PublicRecord {
    PublicRecord {
        kind: r.kind.clone(),
        kind_name: kind_name.to_owned(),
        document_number: r.document_number.clone(),
        decision_date: r.decision_date,
        severity: r.severity.map(Severity::as_str),
        severity_label: r.severity.map(Severity::label),
        categories: r.categories.clone(),
        authority: r.authority.clone(),
        content: r.content.clone(),
        facts: r.facts.clone(),
        basis: r.basis.clone(),
        fine_amount: r.fine_amount.clone(),
        certificate_name: r.certificate_name.clone(),
        license_number: r.license_number.clone(),
        valid_from: r.valid_from,
        valid_to: r.valid_to,
        source_department: r.source_department.clone(),
        published_on: st.published_on,
        publicity_until: st.publicity_until,
        under_objection: st.status == RecordStatus::UnderObjection,
    }
}

/// Whether a record is public on `day` (the same rule as the store's SQL, for single rows).
pub fn is_public_on(kind: Option<&CatalogKind>, st: &RecordState, day: NaiveDate) -> bool {
    kind.is_some_and(|k| k.is_public)
        && !st.held
        && st.published_on.is_some_and(|p| p <= day)
        && !st.status.ends_publicity()
        && st.status != RecordStatus::Expired
        && st.publicity_until.is_none_or(|u| u > day)
}

fn public_entry(d: &ListEntryData) -> PublicListEntry {
    PublicListEntry {
        list_type: d.list_type.as_str(),
        list_name: d.list_type.label(),
        entered_on: d.entered_on,
        decision_number: d.decision_number.clone(),
        authority: d.authority.clone(),
        reason: d.reason.clone(),
        basis: d.basis.clone(),
        term_until: d.term_until,
    }
}

fn entry_view(row: &store::ListRow, subject_name: &str, day: NaiveDate) -> ListEntryView {
    ListEntryView {
        id: row.id,
        subject_code: row.data.subject_code.clone(),
        subject_name: subject_name.to_owned(),
        public: public_entry(&row.data),
        exited_on: row.data.exited_on,
        exit_reason: row.data.exit_reason.clone(),
        on_list: row.data.is_on_list(day),
        version: row.version,
    }
}

// ---------------------------------------------------------------------------------------------
// Publication rules applied to a record

/// What recording needs: the catalog, the calendar and today.
pub(crate) struct Recorder {
    catalog: HashMap<String, CatalogKind>,
    calendar: WorkdayCalendar,
    today: NaiveDate,
}

impl Recorder {
    pub(crate) fn new(
        catalog: HashMap<String, CatalogKind>,
        calendar: WorkdayCalendar,
        today: NaiveDate,
    ) -> Recorder {
        Recorder {
            catalog,
            calendar,
            today,
        }
    }

    /// Record as of another day (the demo's history).
    pub(crate) fn set_today(&mut self, day: NaiveDate) {
        self.today = day;
    }

    fn kind(&self, code: &str) -> Result<&CatalogKind> {
        self.catalog
            .get(code)
            .ok_or_else(|| AppError::Unprocessable(format!("信用目录中没有“{code}”这一类别")))
    }

    /// The state of a newly recorded record: published today unless held, with its deadline
    /// and the end of its publicity.
    fn initial_state(&self, d: &RecordData, hold: bool) -> Result<RecordState> {
        let k = self.kind(&d.kind)?;
        let public = k.is_public;
        Ok(RecordState {
            status: RecordStatus::Active,
            publish_deadline: self.deadline(k, d.decision_date),
            published_on: (public && !hold).then_some(self.today),
            held: public && hold,
            publicity_until: publicity_until(d.decision_date, k.period(d.severity)),
        })
    }

    /// The state after the source changed the facts: the deadline and the end of publicity
    /// follow the (possibly new) decision date and severity, unless publicity already ended.
    fn restate(&self, d: &RecordData, old: &RecordState) -> Result<RecordState> {
        let k = self.kind(&d.kind)?;
        let mut st = old.clone();
        st.publish_deadline = self.deadline(k, d.decision_date);
        if !old.status.ends_publicity() {
            st.publicity_until = publicity_until(d.decision_date, k.period(d.severity));
        }
        Ok(st)
    }

    /// `None` when the kind has no deadline or the calendar lacks the year (computed again
    /// when the year is loaded).
    fn deadline(&self, k: &CatalogKind, decision: NaiveDate) -> Option<NaiveDate> {
        if !k.is_public {
            return None;
        }
        k.publish_workdays
            .and_then(|w| publish_deadline(&self.calendar, decision, w).ok())
    }
}

// ---------------------------------------------------------------------------------------------
// Import of department files

struct CreditParser<'a> {
    map: &'a ColumnMap,
    opts: CreditRowOptions<'a>,
}

impl RowParser for CreditParser<'_> {
    type Row = PreparedRow;
    type Key = String;
    fn parse(&self, cells: &[&str]) -> std::result::Result<PreparedRow, Vec<CellError>> {
        parse_credit_row(self.map, cells, self.opts).map(PreparedRow::new)
    }
    fn key(&self, row: &PreparedRow) -> String {
        row.row.key()
    }
    fn duplicate(&self, row: &PreparedRow, first: u64) -> (String, String, String) {
        match &row.row {
            CreditRow::Record(r) => (
                self.map.header_text(match self.map.kind {
                    FileKind::Licenses => Col::LicDocNumber,
                    _ => Col::DocNumber,
                }),
                r.document_number.clone(),
                format!(
                    "文件内重复：与第 {first} 行的文号和{}相同，本行未导入",
                    if r.person_id.is_some() {
                        "证件号码"
                    } else {
                        "统一社会信用代码"
                    }
                ),
            ),
            CreditRow::List(l) => (
                self.map.header_text(Col::ListDecision),
                l.decision_number.clone(),
                format!(
                    "文件内重复：与第 {first} 行的代码、名单类型和列入决定文号相同，本行未导入"
                ),
            ),
        }
    }
}

/// Chunks of a department file written in one transaction on SQLite (one on PostgreSQL, see
/// `run_credit_inner`). Its rows go into several
/// random-order indexes (subject, dates) and the subjects' grading digests; five chunks a
/// commit write those pages to the log a fifth as often (1,000,000 penalties: 5.3 GB written
/// instead of 12 GB, BENCHMARKS.md). A transaction holds the write lock a few seconds at most;
/// a crash loses at most the transaction in flight, and a re-run completes the import.
pub const CHUNKS_PER_COMMIT: usize = 5;

/// The page cache of a department file's import, in MiB. A transaction of
/// [`CHUNKS_PER_COMMIT`] chunks dirties ~100 MB of pages (records, indexes, digests); in the
/// default 64 MiB SQLite writes some to the log before the commit and reads them back when
/// they are dirtied again (1,000,000 penalties: 64–66 s with 64 MiB, 57–63 s with 128, no
/// better with 192 or 256; +70 MiB of memory).
pub const IMPORT_CACHE_MIB: u32 = 128;

/// Options of a credit import.
#[derive(Debug, Clone, Copy, Default)]
pub struct CreditImportOptions {
    /// Hold the new records for review instead of publishing them at once.
    pub hold: bool,
}

/// What one commit did, beyond the counters.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct CreditExtra {
    /// Subjects created as 待核实 because their code was not in the registry.
    pub pending_subjects: i64,
    /// Natural persons registered because a record named them by ID number.
    pub persons: i64,
}

/// The result of a credit import: the common summary and the pending subjects created.
#[derive(Debug, Clone, Serialize)]
pub struct CreditImportSummary {
    #[serde(flatten)]
    pub summary: ImportSummary,
    pub pending_subjects: i64,
    /// Natural persons registered because a row named them by ID number.
    pub persons: i64,
}

impl App {
    fn recorder(&self, conn: &mut Conn) -> Result<Recorder> {
        Ok(Recorder {
            catalog: store::catalog(conn)?
                .into_iter()
                .map(|k| (k.code.clone(), k))
                .collect(),
            calendar: self.calendar(),
            today: today(),
        })
    }

    /// Register an import job of a department file (authorised, audited).
    pub fn start_credit_import(
        &self,
        actor: &Actor,
        kind: FileKind,
        file_name: &str,
        path: &Path,
        opts: CreditImportOptions,
    ) -> Result<i64> {
        actor.require(Permission::CreditWrite)?;
        let sha = file_sha256(path)?;
        let mut conn = self.db.conn()?;
        // Stamped once the connection is ours: see `evaluate_some`'s look-back.
        let now = now();
        conn.transaction(|tx| {
            let id = imports::create(tx, kind.as_str(), file_name, &sha, opts.hold, &actor.name(), &now)?;
            audit::append(
                tx,
                &actor.audit(),
                "credit.import.start",
                &format!("import:{id}"),
                &json!({ "kind": kind.as_str(), "file": file_name, "sha256": sha, "hold": opts.hold }),
            )?;
            Ok(id)
        })
    }

    /// Import a file in one go (the CLI path).
    pub fn import_credit(
        &self,
        actor: &Actor,
        kind: FileKind,
        path: &Path,
        opts: CreditImportOptions,
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> Result<CreditImportSummary> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "import".into());
        let id = self.start_credit_import(actor, kind, &name, path, opts)?;
        self.run_credit_import(actor, id, kind, path, opts, progress)
    }

    /// Run a started job; a file-level problem fails it before any row is written, a file
    /// that cannot be read past some row fails it there (see [`App::run_subject_import`]).
    pub fn run_credit_import(
        &self,
        actor: &Actor,
        import_id: i64,
        kind: FileKind,
        path: &Path,
        opts: CreditImportOptions,
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> Result<CreditImportSummary> {
        actor.require(Permission::CreditWrite)?;
        imports::claim(
            &mut *self.db.conn()?,
            import_id,
            &crate::process_identity(),
            &now(),
        )?;
        let result = self.run_credit_inner(actor, import_id, kind, path, opts, progress);
        let mut conn = self.db.conn()?;
        match &result {
            Ok(_) => imports::finish(&mut conn, import_id, "done", None, &now())?,
            Err(e) => {
                imports::finish(&mut conn, import_id, "failed", Some(&e.to_string()), &now())?
            }
        }
        result
    }

    fn run_credit_inner(
        &self,
        actor: &Actor,
        import_id: i64,
        kind: FileKind,
        path: &Path,
        opts: CreditImportOptions,
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> Result<CreditImportSummary> {
        let table = TableReader::open(path)?;
        let map = ColumnMap::detect(kind, &table.header).map_err(AppError::Unprocessable)?;
        let encoding = table.encoding.map(|e| e.label());
        let recognised_headers = map.recognised();
        let mut conn = self.db.connect()?;
        conn.tune_for_bulk()?;
        conn.set_cache_mib(IMPORT_CACHE_MIB)?;
        let chunks_per_commit = match conn.backend() {
            xinjian_store::Backend::Sqlite => CHUNKS_PER_COMMIT,
            // A PostgreSQL transaction holds an advisory lock per subject whose digest it
            // writes until it ends, and the server's lock table has room for ~6,400 by default
            // (`max_locks_per_transaction` 64 × 100 connections): five chunks of distinct
            // subjects ran out of it.
            xinjian_store::Backend::Postgres => 1,
        };
        let severity_map = store::severity_map(&mut conn)?;
        let recorder = self.recorder(&mut conn)?;
        let parser = CreditParser {
            map: &map,
            opts: CreditRowOptions {
                severity_map: &severity_map,
                today: recorder.today,
            },
        };
        let source = format!("import:{import_id}");
        let actor_name = actor.name();
        let counts = std::cell::Cell::new(Counts::default());
        let mut extra = CreditExtra::default();
        let mut registry = RegistryCache::default();
        let cols = RowColumns {
            doc: map.header_text(match kind {
                FileKind::Licenses => Col::LicDocNumber,
                _ => Col::DocNumber,
            }),
            code: map.header_text(Col::Code),
        };
        run_pipeline(
            &self.db,
            &mut conn,
            chunks_per_commit,
            &[
                "subjects",
                "credit_records",
                "grading_digests",
                "list_entries",
            ],
            table,
            &parser,
            |tx, chunk| {
                let mut c = counts.get();
                let now = now();
                let p = Provenance {
                    source: &source,
                    actor: &actor_name,
                    reason: None,
                    now: &now,
                };
                let (done, rejected, x) = commit_rows_with(
                    tx,
                    &recorder,
                    &chunk.rows,
                    &p,
                    opts.hold,
                    &cols,
                    &mut registry,
                )?;
                finish_chunk(
                    tx, actor, import_id, chunk, &done, &rejected, &x, &mut c, &now,
                )?;
                extra.pending_subjects += x.pending_subjects;
                extra.persons += x.persons;
                counts.set(c);
                Ok(())
            },
            progress,
            &|| counts.get(),
        )?;
        conn.checkpoint()?;
        Ok(CreditImportSummary {
            summary: ImportSummary {
                import_id,
                counts: counts.get(),
                encoding,
                recognised_headers,
            },
            pending_subjects: extra.pending_subjects,
            persons: extra.persons,
        })
    }
}

/// The names under which rows refused at commit are reported: the file's own headers, or the
/// API's field names.
pub(crate) struct RowColumns {
    pub doc: String,
    pub code: String,
}

/// How many rows of a chunk were new, changed and unchanged.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Written {
    pub imported: i64,
    pub updated: i64,
    pub unchanged: i64,
}

#[allow(clippy::too_many_arguments)]
fn finish_chunk<R>(
    tx: &mut Conn,
    actor: &Actor,
    import_id: i64,
    chunk: &Chunk<R>,
    done: &Written,
    rejected: &[ImportError],
    created: &CreditExtra,
    counts: &mut Counts,
    now: &str,
) -> Result<()> {
    let mut next = *counts;
    next.processed += chunk.processed;
    // Rows refused at commit (document reused, deregistered subject) are rejected too.
    let late_rows = {
        let mut rows: Vec<i64> = rejected.iter().map(|e| e.row_no).collect();
        rows.dedup();
        rows.len() as i64
    };
    next.rejected += chunk.rejected_rows + late_rows;
    next.imported += done.imported;
    next.updated += done.updated;
    next.unchanged += done.unchanged;
    for e in chunk.rejected.iter().chain(rejected) {
        imports::add_error(tx, import_id, e)?;
    }
    imports::progress(tx, import_id, &next, None)?;
    imports::heartbeat(tx, import_id, now, chunk.bytes_read, chunk.file_size)?;
    audit::append(
        tx,
        &actor.audit(),
        "credit.import.chunk",
        &format!("import:{import_id}"),
        &json!({
            "rows": format!("{}-{}", chunk.first_row, chunk.last_row),
            "imported": done.imported, "updated": done.updated, "unchanged": done.unchanged,
            "rejected": chunk.rejected_rows + late_rows,
            // Subjects the chunk registered: pending codes, and natural persons by ID number.
            "pending_subjects": created.pending_subjects, "persons": created.persons,
        }),
    )?;
    *counts = next;
    Ok(())
}

/// Give records of natural persons (an ID number and no code) the person's registry key: the
/// key of the person registered with that number, or a new key (the person is then registered
/// with the record, by [`ensure_subjects`]). Their canonical JSON and hash are made again.
fn resolve_persons<'a>(
    tx: &mut Conn,
    rows: &'a [(u64, PreparedRow)],
) -> Result<Vec<(u64, std::borrow::Cow<'a, PreparedRow>)>> {
    use std::borrow::Cow;
    let person = |r: &PreparedRow| match &r.row {
        CreditRow::Record(d) if d.subject_code.is_empty() => d.person_id.clone(),
        _ => None,
    };
    let ids: Vec<String> = rows.iter().filter_map(|(_, r)| person(r)).collect();
    if ids.is_empty() {
        return Ok(rows.iter().map(|(n, r)| (*n, Cow::Borrowed(r))).collect());
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut keys = subjects::keys_by_person_ids(tx, &refs)?;
    let mut out = Vec::with_capacity(rows.len());
    for (n, r) in rows {
        match (person(r), &r.row) {
            (Some(pid), CreditRow::Record(d)) => {
                let key = match keys.get(&pid) {
                    Some(k) => k.clone(),
                    None => {
                        let k = crate::registry::new_person_key(tx)?;
                        keys.insert(pid, k.clone());
                        k
                    }
                };
                let mut d = d.clone();
                d.subject_code = key;
                out.push((*n, Cow::Owned(PreparedRow::new(CreditRow::Record(d)))));
            }
            _ => out.push((*n, Cow::Borrowed(r))),
        }
    }
    Ok(out)
}

/// Create the subjects the rows name that are not in the registry — as 待核实 (pending), or a
/// natural person named by ID number — and return every code's `(id, status)`.
fn ensure_subjects(
    tx: &mut Conn,
    rows: &[(u64, &CreditRow, &PreparedRow)],
    mut known: HashMap<String, (i64, RegStatus)>,
    p: &Provenance<'_>,
    extra: &mut CreditExtra,
) -> Result<HashMap<String, (i64, RegStatus)>> {
    let reason = "信用信息中的统一社会信用代码不在登记库中，自动建立待核实主体";
    for (_, r, _) in rows {
        let code = r.subject_code();
        if known.contains_key(code) {
            continue;
        }
        let name = match r {
            CreditRow::Record(d) => Some(d.subject_name.clone()),
            CreditRow::List(l) => l.subject_name.clone(),
        }
        .unwrap_or_else(|| "（名称待核实）".into());
        if let Some(pid) = match r {
            CreditRow::Record(d) if xinjian_core::subject::is_person_key(code) => {
                d.person_id.clone()
            }
            _ => None,
        } {
            // A natural person named by a record: registered with the ID number the department
            // gave (checked when the row was read).
            let data = SubjectData {
                code: code.to_owned(),
                code_flag: None,
                name,
                kind: SubjectKind::NaturalPerson,
                entity_type: Some(SubjectKind::NaturalPerson.label().to_owned()),
                legal_rep: None,
                legal_rep_id: None,
                address: None,
                division_code: xinjian_core::person_id::PersonId::parse(&pid)
                    .ok()
                    .map(|p| p.division_code().to_owned()),
                business_scope: None,
                established_on: None,
                reg_status: RegStatus::Active,
                reg_authority: None,
                industry: None,
                person_id: Some(pid),
            };
            let pp = Provenance {
                reason: Some("信用信息的当事人为自然人（按证件号码识别），随信用信息登记"),
                ..p.clone()
            };
            let id = subjects::insert(tx, &data, &data.content_hash(), &pp)?;
            known.insert(code.to_owned(), (id, RegStatus::Active));
            extra.persons += 1;
            continue;
        }
        let data = SubjectData {
            code: code.to_owned(),
            code_flag: None,
            name,
            kind: SubjectKind::classify("", code),
            entity_type: None,
            legal_rep: None,
            legal_rep_id: None,
            address: None,
            division_code: xinjian_core::DivisionCode::parse(&code[2..8])
                .ok()
                .map(|d| d.as_str().to_owned()),
            business_scope: None,
            established_on: None,
            reg_status: RegStatus::Pending,
            reg_authority: None,
            industry: None,
            person_id: None,
        };
        let hash = data.content_hash();
        let pp = Provenance {
            reason: Some(reason),
            ..p.clone()
        };
        let id = subjects::insert(tx, &data, &hash, &pp)?;
        known.insert(code.to_owned(), (id, RegStatus::Pending));
        extra.pending_subjects += 1;
    }
    Ok(known)
}

/// Write parsed rows in the caller's transaction: new records and entries as version 1,
/// changed ones as a new version, identical ones untouched. Returns the counts and the rows
/// refused here (a document number already used for another subject, a penalty for a
/// deregistered subject).
///
/// A record whose party is a natural person (an ID number, no code) is stored under the
/// person's registry key: the person registered with that number, or a new one.
pub(crate) fn commit_rows(
    tx: &mut Conn,
    rec: &Recorder,
    rows: &[(u64, PreparedRow)],
    p: &Provenance<'_>,
    hold: bool,
    cols: &RowColumns,
) -> Result<(Written, Vec<ImportError>, CreditExtra)> {
    commit_rows_with(tx, rec, rows, p, hold, cols, &mut RegistryCache::default())
}

/// The registry's answers (code → id and registration status) a bulk import has already had.
/// They are kept while no other connection has committed since they were read (SQLite's
/// `data_version`, read inside the import's write transaction) and dropped otherwise; never
/// kept on PostgreSQL. An import's own writes do not change them (it creates subjects, which
/// are looked up when next needed, and never changes a status). At most [`Self::CAP`] codes.
#[derive(Default)]
pub(crate) struct RegistryCache {
    version: Option<i64>,
    known: HashMap<String, (i64, RegStatus)>,
}

impl RegistryCache {
    const CAP: usize = 1_000_000;

    /// `(id, registration status)` of those of `codes` in the registry.
    fn ids_by_codes(
        &mut self,
        tx: &mut Conn,
        codes: &[&str],
    ) -> Result<HashMap<String, (i64, RegStatus)>> {
        let version = tx.data_version()?;
        if version.is_none() || version != self.version || self.known.len() > Self::CAP {
            self.known.clear();
            self.version = version;
        }
        let mut out = HashMap::with_capacity(codes.len());
        let mut missing = Vec::new();
        for &code in codes {
            match self.known.get(code) {
                Some(v) => {
                    out.insert(code.to_owned(), *v);
                }
                None => missing.push(code),
            }
        }
        let found = subjects::ids_by_codes(tx, &missing)?;
        if version.is_some() {
            self.known
                .extend(found.iter().map(|(code, v)| (code.clone(), *v)));
        }
        out.extend(found);
        Ok(out)
    }
}

/// [`commit_rows`] with the registry answers of earlier chunks (a file import).
#[allow(clippy::too_many_arguments)]
pub(crate) fn commit_rows_with(
    tx: &mut Conn,
    rec: &Recorder,
    rows: &[(u64, PreparedRow)],
    p: &Provenance<'_>,
    hold: bool,
    cols: &RowColumns,
    registry: &mut RegistryCache,
) -> Result<(Written, Vec<ImportError>, CreditExtra)> {
    let mut extra = CreditExtra::default();
    let mut done = Written::default();
    let mut rejected = Vec::new();
    let resolved = resolve_persons(tx, rows)?;
    let rows: Vec<(u64, &PreparedRow)> = resolved.iter().map(|(n, r)| (*n, r.as_ref())).collect();
    let rows = rows.as_slice();
    // Refuse before creating pending subjects, so a refused row creates nothing.
    let docs: Vec<&str> = rows
        .iter()
        .filter_map(|(_, r)| match &r.row {
            CreditRow::Record(d) => Some(d.document_number.as_str()),
            CreditRow::List(_) => None,
        })
        .collect();
    let by_doc = store::records_by_documents(tx, &docs)?;
    let codes: Vec<&str> = rows.iter().map(|(_, r)| r.row.subject_code()).collect();
    let statuses = registry.ids_by_codes(tx, &codes)?;
    // Document number → code, for this chunk's rows.
    let mut chunk_docs: HashMap<&str, &str> = HashMap::new();
    // Accepted rows with their content hash and canonical JSON.
    let mut accepted: Vec<(u64, &CreditRow, &PreparedRow)> = Vec::with_capacity(rows.len());
    for (row_no, prepared) in rows {
        let (r, hash) = (&prepared.row, &prepared.hash);
        if let CreditRow::Record(d) = r {
            let refuse = |column: &str, value: &str, reason: String| ImportError {
                row_no: *row_no as i64,
                column: column.to_owned(),
                value: value.to_owned(),
                reason,
            };
            let stored = by_doc.get(&d.document_number);
            let other = stored
                .and_then(|v| v.iter().find(|e| e.subject_code != d.subject_code))
                .map(|e| e.subject_code.as_str())
                .or_else(|| {
                    chunk_docs
                        .get(d.document_number.as_str())
                        .copied()
                        .filter(|c| *c != d.subject_code)
                });
            if let Some(other) = other {
                rejected.push(refuse(&cols.doc, &d.document_number, format!(
                    "文号已用于另一主体（{other}）的记录：同一文号不能对应不同主体，请核对文号或代码"
                )));
                continue;
            }
            let same = stored.and_then(|v| v.iter().find(|e| e.subject_code == d.subject_code));
            if let Some(e) = same.filter(|e| e.data.kind != d.kind) {
                let name = rec
                    .kind(&e.data.kind)
                    .map(|k| k.name.clone())
                    .unwrap_or_else(|_| e.data.kind.clone());
                rejected.push(refuse(
                    &cols.doc,
                    &d.document_number,
                    format!("该主体已有同一文号的{name}记录：同一文号不能是两类信息，请核对文号"),
                ));
                continue;
            }
            let unchanged = same.is_some_and(|e| e.content_hash == *hash);
            // Through the API a department changes only what it reported itself.
            // (The account, not the token: a department keeps its records when its token is
            // replaced.)
            let account = |a: &str| a.rsplit(':').next().unwrap_or("").to_owned();
            if let Some(e) = same.filter(|e| {
                !unchanged && p.source == "api" && account(&e.first_actor) != account(p.actor)
            }) {
                rejected.push(refuse(
                    &cols.doc,
                    &d.document_number,
                    format!(
                        "该文号的记录由{}报送，不能通过接口修改；如记录有误，请联系信用办更正",
                        crate::registry::actor_label(&e.first_actor)
                    ),
                ));
                continue;
            }
            if !unchanged
                && d.kind == "penalty"
                && statuses
                    .get(&d.subject_code)
                    .is_some_and(|(_, s)| *s == RegStatus::Deregistered)
            {
                rejected.push(refuse(&cols.code, &d.subject_code,
                    "该主体在登记库中已注销，处罚记录未导入；请先核实登记状态（如处罚早于注销，请更正登记信息后重新导入）".into()));
                continue;
            }
            chunk_docs.insert(&d.document_number, &d.subject_code);
        }
        accepted.push((*row_no, r, prepared));
    }
    let ids = ensure_subjects(tx, &accepted, statuses, p, &mut extra)?;
    let list_codes: Vec<&str> = accepted
        .iter()
        .filter_map(|(_, r, _)| match r {
            CreditRow::List(l) => Some(l.subject_code.as_str()),
            _ => None,
        })
        .collect();
    let entries = if list_codes.is_empty() {
        HashMap::new()
    } else {
        store::entries_by_codes(tx, &list_codes)?
    };
    let mut fresh: Vec<store::NewRecord> = Vec::new();
    for (_, r, prepared) in &accepted {
        let subject_id = ids[r.subject_code()].0;
        let hash = prepared.hash.as_str();
        match *r {
            CreditRow::Record(d) => {
                let existing = by_doc
                    .get(&d.document_number)
                    .and_then(|v| v.iter().find(|e| e.subject_code == d.subject_code));
                match existing {
                    Some(e) if e.content_hash == hash => done.unchanged += 1,
                    Some(e) => {
                        let st = rec.restate(d, &e.state)?;
                        let pp = Provenance {
                            reason: Some("来源部门更新了记录内容"),
                            ..p.clone()
                        };
                        store::update_record(tx, e.id, e.version, d, hash, &st, &pp)?;
                        done.updated += 1;
                    }
                    None => {
                        fresh.push(store::NewRecord {
                            subject_id,
                            data: d,
                            json: &prepared.json,
                            hash,
                            state: rec.initial_state(d, hold)?,
                        });
                        done.imported += 1;
                    }
                }
            }
            CreditRow::List(l) => {
                let stored = entries.get(&r.key());
                // A file without exit columns never clears a stored exit (removal by staff, or
                // the end of the term).
                let merged;
                let (l, hash) = match stored {
                    Some(e) if l.exited_on.is_none() && e.data.exited_on.is_some() => {
                        let mut m = l.clone();
                        m.exited_on = e.data.exited_on;
                        m.exit_reason = e.data.exit_reason.clone();
                        let h = m.canonical_json_and_hash().1;
                        merged = (m, h);
                        (&merged.0, merged.1.as_str())
                    }
                    _ => (l, hash),
                };
                match stored {
                    Some(e) if e.content_hash == hash => done.unchanged += 1,
                    Some(e) => {
                        let pp = Provenance {
                            reason: Some("认定部门更新了名单信息"),
                            ..p.clone()
                        };
                        store::update_entry(tx, e.id, e.version, l, hash, &pp)?;
                        done.updated += 1;
                    }
                    None => {
                        store::insert_entry(tx, subject_id, l, hash, p)?;
                        done.imported += 1;
                    }
                }
            }
        }
    }
    store::insert_records(tx, &mut fresh, rec.today, p)?;
    Ok((done, rejected, extra))
}

// ---------------------------------------------------------------------------------------------
// Records pushed by departments (API) or entered by staff (form)

/// One record as a department pushes it, or staff enter it: the national fields in English.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordInput {
    /// `penalty` or `license`.
    pub kind: String,
    pub code: String,
    /// 证件号码: a natural person's resident ID number, when `code` is empty.
    #[serde(default)]
    pub person_id: String,
    pub name: String,
    pub document_number: String,
    pub decision_date: String,
    /// 处罚类别 / 许可类别, several separated by `;`, `；` or `、`.
    #[serde(default)]
    pub categories: String,
    /// 轻微 / 一般 / 严重 (or minor / general / serious): overrides the category mapping.
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub authority: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub facts: String,
    #[serde(default)]
    pub basis: String,
    #[serde(default)]
    pub fine_amount: String,
    #[serde(default)]
    pub certificate_name: String,
    #[serde(default)]
    pub license_number: String,
    #[serde(default)]
    pub valid_from: String,
    #[serde(default)]
    pub valid_to: String,
    #[serde(default)]
    pub source_department: String,
}

impl RecordInput {
    /// The fields of an item, as the API names them.
    pub const FIELDS: [&'static str; 18] = [
        "kind",
        "code",
        "person_id",
        "name",
        "document_number",
        "decision_date",
        "categories",
        "severity",
        "authority",
        "content",
        "facts",
        "basis",
        "fine_amount",
        "certificate_name",
        "license_number",
        "valid_from",
        "valid_to",
        "source_department",
    ];

    /// Read item `index` of a batch: an object whose values are text (numbers are taken as
    /// written, `null` as empty). A missing field is empty, so that the row validation names it.
    pub fn from_json(
        index: usize,
        v: &serde_json::Value,
    ) -> std::result::Result<RecordInput, ItemError> {
        let err = |field: &str, reason: String| ItemError {
            index,
            field: field.to_owned(),
            value: String::new(),
            reason,
        };
        let obj = v
            .as_object()
            .ok_or_else(|| err("records", "每条记录应为一个 JSON 对象".into()))?;
        let mut m = serde_json::Map::new();
        for f in Self::FIELDS {
            m.insert(f.to_owned(), serde_json::Value::String(String::new()));
        }
        for (k, val) in obj {
            if !Self::FIELDS.contains(&k.as_str()) {
                return Err(err(
                    k,
                    format!("未知字段“{k}”；可用字段：{}", Self::FIELDS.join(", ")),
                ));
            }
            let text = match val {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Null => String::new(),
                _ => return Err(err(k, "应为文本或数字".into())),
            };
            m.insert(k.clone(), serde_json::Value::String(text));
        }
        serde_json::from_value(serde_json::Value::Object(m))
            .map_err(|e| err("records", format!("记录无法读取：{e}")))
    }

    /// The row as cells under the standard headers of its file kind, so that pushed and
    /// entered records pass exactly the validation of imported ones.
    fn as_row(&self) -> Result<(FileKind, Vec<String>, Vec<String>), String> {
        let (kind, pairs): (FileKind, Vec<(Col, &str)>) = match self.kind.trim() {
            "penalty" => (
                FileKind::Penalties,
                vec![
                    (Col::Code, &self.code),
                    (Col::IdNumber, &self.person_id),
                    (Col::Name, &self.name),
                    (Col::DocNumber, &self.document_number),
                    (Col::Categories, &self.categories),
                    (Col::DecisionDate, &self.decision_date),
                    (Col::Authority, &self.authority),
                    (Col::Facts, &self.facts),
                    (Col::Basis, &self.basis),
                    (Col::Content, &self.content),
                    (Col::FineAmount, &self.fine_amount),
                    (Col::SeverityCol, &self.severity),
                    (Col::SourceDept, &self.source_department),
                ],
            ),
            "license" => (
                FileKind::Licenses,
                vec![
                    (Col::Code, &self.code),
                    (Col::IdNumber, &self.person_id),
                    (Col::Name, &self.name),
                    (Col::LicDocNumber, &self.document_number),
                    (Col::LicCategory, &self.categories),
                    (Col::CertName, &self.certificate_name),
                    (Col::LicNumber, &self.license_number),
                    (Col::LicContent, &self.content),
                    (Col::LicDecisionDate, &self.decision_date),
                    (Col::ValidFrom, &self.valid_from),
                    (Col::ValidTo, &self.valid_to),
                    (Col::LicAuthority, &self.authority),
                    (Col::SourceDept, &self.source_department),
                ],
            ),
            other => {
                return Err(format!(
                    "kind 应为 penalty（行政处罚）或 license（行政许可），收到“{other}”"
                ))
            }
        };
        let headers = pairs.iter().map(|(c, _)| c.header().to_owned()).collect();
        let cells = pairs.iter().map(|(_, v)| v.to_string()).collect();
        Ok((kind, headers, cells))
    }
}

/// A refused item of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemError {
    /// Position in the batch, from 0.
    pub index: usize,
    pub field: String,
    pub value: String,
    pub reason: String,
}

/// The answer to a batch.
#[derive(Debug, Clone, Serialize)]
pub struct BatchResult {
    pub imported: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub rejected: i64,
    pub pending_subjects: i64,
    /// Natural persons registered because an item named them by ID number.
    pub persons: i64,
    pub errors: Vec<ItemError>,
}

/// List entries and records the upkeep handles per transaction.
const UPKEEP_CHUNK: i64 = 5_000;

/// Most records one batch may carry.
pub const MAX_BATCH: usize = 2_000;

impl App {
    /// Record a batch of records (department push or staff form) in one transaction. Valid
    /// items are stored; refused ones are reported with the reason, nothing half-written.
    pub fn submit_records(
        &self,
        actor: &Actor,
        items: &[RecordInput],
        hold: bool,
    ) -> Result<BatchResult> {
        let items: Vec<_> = items.iter().cloned().map(Ok).collect();
        self.submit_items(actor, items, hold)
    }

    /// The batch API: each item a JSON object, read on its own, so that one malformed item
    /// (a number where text was expected, an unknown field) is refused alone with its index.
    pub fn submit_json_records(
        &self,
        actor: &Actor,
        items: &[serde_json::Value],
        hold: bool,
    ) -> Result<BatchResult> {
        let items = items
            .iter()
            .enumerate()
            .map(|(i, v)| RecordInput::from_json(i, v))
            .collect();
        self.submit_items(actor, items, hold)
    }

    fn submit_items(
        &self,
        actor: &Actor,
        items: Vec<std::result::Result<RecordInput, ItemError>>,
        hold: bool,
    ) -> Result<BatchResult> {
        if !actor.can(Permission::CreditPush) {
            actor.require(Permission::CreditWrite)?;
        }
        if items.is_empty() {
            return Err(AppError::invalid("records", "没有记录"));
        }
        if items.len() > MAX_BATCH {
            return Err(AppError::invalid(
                "records",
                format!("一次最多提交 {MAX_BATCH} 条记录，请分批提交"),
            ));
        }
        let mut conn = self.db.conn()?;
        let severity_map = store::severity_map(&mut conn)?;
        let rec = self.recorder(&mut conn)?;
        let opts = CreditRowOptions {
            severity_map: &severity_map,
            today: rec.today,
        };
        let mut errors = Vec::new();
        let mut rows: Vec<(u64, PreparedRow)> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, it) in items.iter().enumerate() {
            let it = match it {
                Ok(it) => it,
                Err(e) => {
                    errors.push(e.clone());
                    continue;
                }
            };
            let parsed = it.as_row().map_err(|e| {
                vec![CellError {
                    column: "kind".into(),
                    value: it.kind.clone(),
                    reason: e,
                }]
            });
            let parsed = parsed.and_then(|(kind, headers, cells)| {
                let map =
                    ColumnMap::detect(kind, &headers).expect("standard headers are recognised");
                let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
                parse_credit_row(&map, &refs, opts)
            });
            match parsed {
                Ok(row) => {
                    let key = row.key();
                    if let Some(first) = seen.get(&key).copied() {
                        errors.push(ItemError {
                            index: i,
                            field: "document_number".into(),
                            value: it.document_number.clone(),
                            reason: format!("与第 {first} 条（从 0 起）的文号和代码相同"),
                        });
                    } else {
                        seen.insert(key, i);
                        rows.push((i as u64, PreparedRow::new(row)));
                    }
                }
                Err(errs) => errors.extend(errs.into_iter().map(|e| ItemError {
                    index: i,
                    field: field_of_header(&e.column),
                    value: e.value,
                    reason: e.reason,
                })),
            }
        }
        let now = now();
        let actor_name = actor.name();
        let p = Provenance {
            source: if actor.can(Permission::CreditPush) {
                "api"
            } else {
                "manual"
            },
            actor: &actor_name,
            reason: None,
            now: &now,
        };
        let (done, late, extra) = conn.transaction(|tx| {
            let cols = RowColumns { doc: "document_number".into(), code: "code".into() };
            let out = commit_rows(tx, &rec, &rows, &p, hold, &cols)?;
            audit::append(
                tx,
                &actor.audit(),
                "credit.records.submit",
                "records",
                &json!({ "items": items.len(), "imported": out.0.imported, "updated": out.0.updated,
                         "unchanged": out.0.unchanged, "refused": items.len() as i64 - out.0.imported - out.0.updated - out.0.unchanged,
                         "hold": hold }),
            )?;
            Ok::<_, AppError>(out)
        })?;
        errors.extend(late.into_iter().map(|e| ItemError {
            index: e.row_no as usize,
            field: field_of_header(&e.column),
            value: e.value,
            reason: e.reason,
        }));
        errors.sort_by_key(|e| e.index);
        let mut refused: Vec<usize> = errors.iter().map(|e| e.index).collect();
        refused.dedup();
        Ok(BatchResult {
            imported: done.imported,
            updated: done.updated,
            unchanged: done.unchanged,
            rejected: refused.len() as i64,
            pending_subjects: extra.pending_subjects,
            persons: extra.persons,
            errors,
        })
    }
}

/// The API field of a standard header (for batch errors).
fn field_of_header(h: &str) -> String {
    let f = match h {
        "统一社会信用代码" => "code",
        "证件号码" => "person_id",
        "行政相对人名称" => "name",
        "行政处罚决定书文号" | "行政许可决定文书号" | "决定文书号" => {
            "document_number"
        }
        "处罚决定日期" | "许可决定日期" => "decision_date",
        "处罚类别" | "许可类别" => "categories",
        "失信严重程度" => "severity",
        "处罚机关" | "许可机关" => "authority",
        "处罚内容" | "许可内容" => "content",
        "违法事实" => "facts",
        "处罚依据" => "basis",
        "罚款金额(万元)" => "fine_amount",
        "许可证书名称" => "certificate_name",
        "许可编号" => "license_number",
        "有效期自" => "valid_from",
        "有效期至" => "valid_to",
        "数据来源单位" => "source_department",
        other => other,
    };
    f.to_owned()
}

// ---------------------------------------------------------------------------------------------
// Reading, holding, status changes

/// A status change staff may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordAction {
    /// Hold an unpublished record for review (not published until released).
    Hold,
    /// Publish a held record today.
    Release,
    /// The record was wrong and is withdrawn by correction (更正).
    Correct,
    /// The decision was revoked (撤销).
    Revoke,
}

impl App {
    fn record_view(
        &self,
        conn: &mut Conn,
        r: &RecordRow,
        subject_name: &str,
    ) -> Result<RecordView> {
        let catalog = store::catalog(conn)?;
        let kind = catalog.iter().find(|k| k.code == r.data.kind);
        Ok(RecordView {
            id: r.id,
            subject_code: r.data.subject_code.clone(),
            subject_name: subject_name.to_owned(),
            public: public_record(
                &r.data,
                &r.state,
                kind.map(|k| k.name.as_str()).unwrap_or(&r.data.kind),
            ),
            nature: r.data.nature.as_str(),
            nature_label: r.data.nature.label(),
            revokes_business_licence: r.data.revokes_business_licence,
            status: r.state.status.as_str(),
            status_label: r.state.status.label(),
            publish_deadline: r.state.publish_deadline,
            held: r.state.held,
            recorded_on: r.recorded_on,
            version: r.version,
            is_public_now: is_public_on(kind, &r.state, today()),
        })
    }

    /// Records for staff (newest first) and their total.
    pub fn records(&self, actor: &Actor, q: &store::RecordQuery) -> Result<(Vec<RecordView>, i64)> {
        actor.require(Permission::CreditRead)?;
        let mut conn = self.db.conn()?;
        let (rows, total) = store::search_records(&mut conn, q)?;
        let catalog = store::catalog(&mut conn)?;
        let views = rows
            .iter()
            .map(|r| {
                let kind = catalog.iter().find(|k| k.code == r.record.data.kind);
                RecordView {
                    id: r.record.id,
                    subject_code: r.record.data.subject_code.clone(),
                    subject_name: r.subject_name.clone(),
                    public: public_record(
                        &r.record.data,
                        &r.record.state,
                        kind.map(|k| k.name.as_str()).unwrap_or(&r.record.data.kind),
                    ),
                    nature: r.record.data.nature.as_str(),
                    nature_label: r.record.data.nature.label(),
                    revokes_business_licence: r.record.data.revokes_business_licence,
                    status: r.record.state.status.as_str(),
                    status_label: r.record.state.status.label(),
                    publish_deadline: r.record.state.publish_deadline,
                    held: r.record.state.held,
                    recorded_on: r.record.recorded_on,
                    version: r.record.version,
                    is_public_now: is_public_on(kind, &r.record.state, today()),
                }
            })
            .collect();
        Ok((views, total))
    }

    /// One record with its versions (oldest first).
    pub fn record(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<(RecordView, Vec<store::RecordVersion>)> {
        actor.require(Permission::CreditRead)?;
        let mut conn = self.db.conn()?;
        let r = store::record_by_id(&mut conn, id)?
            .ok_or_else(|| AppError::NotFound("信用记录".into()))?;
        let name = subjects::by_code(&mut conn, &r.data.subject_code)?
            .map(|s| s.data.name)
            .unwrap_or_default();
        let view = self.record_view(&mut conn, &r, &name)?;
        let versions = store::record_versions(&mut conn, id)?;
        Ok((view, versions))
    }

    /// Hold, release, correct or revoke a record: a new version with who, when and why.
    pub fn change_record(
        &self,
        actor: &Actor,
        id: i64,
        expected_version: i64,
        action: RecordAction,
        reason: &str,
    ) -> Result<i64> {
        actor.require(Permission::CreditWrite)?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(AppError::invalid("reason", "请填写原因"));
        }
        let day = today();
        let actor_name = actor.name();
        let mut conn = self.db.conn()?;
        // Stamped once the connection is ours: see `evaluate_some`'s look-back.
        let now = now();
        conn.transaction(|tx| {
            let r = store::record_by_id(tx, id)?
                .ok_or_else(|| AppError::NotFound("信用记录".into()))?;
            if r.version != expected_version {
                return Err(AppError::Conflict(
                    "该记录已被他人修改，请刷新后重试".into(),
                ));
            }
            let mut st = r.state.clone();
            match action {
                RecordAction::Hold => {
                    if st.published_on.is_some() {
                        return Err(AppError::Unprocessable(
                            "该记录已公示，不能再暂缓公示；如记录有误，请更正或撤销".into(),
                        ));
                    }
                    st.held = true;
                }
                RecordAction::Release => {
                    if !st.held {
                        return Err(AppError::Unprocessable("该记录未被暂缓公示".into()));
                    }
                    st.held = false;
                    st.published_on = Some(day);
                }
                RecordAction::Correct | RecordAction::Revoke => {
                    if st.status.ends_publicity() {
                        return Err(AppError::Unprocessable(format!(
                            "该记录已是“{}”状态",
                            st.status.label()
                        )));
                    }
                    st.status = if action == RecordAction::Correct {
                        RecordStatus::Corrected
                    } else {
                        RecordStatus::Revoked
                    };
                    st.held = false;
                    st.publicity_until = Some(st.publicity_until.map_or(day, |u| u.min(day)));
                }
            }
            let (_, hash) = r.data.canonical_json_and_hash();
            let p = Provenance {
                source: "manual",
                actor: &actor_name,
                reason: Some(reason),
                now: &now,
            };
            let v = store::update_record(tx, id, r.version, &r.data, &hash, &st, &p)?;
            if st.status.ends_publicity() {
                // From this day on the record no longer counts for the grade.
                store::set_ended_on(tx, id, day)?;
            }
            audit::append(
                tx,
                &actor.audit(),
                "credit.record.change",
                &format!("record:{id}"),
                &json!({ "action": action_name(action), "reason": reason, "version": v,
                         "document_number": r.data.document_number, "code": r.data.subject_code }),
            )?;
            Ok(v)
        })
    }

    /// The credit side of a subject for staff: all records and list entries.
    pub fn subject_credit(
        &self,
        actor: &Actor,
        code: &str,
    ) -> Result<(Vec<RecordView>, Vec<ListEntryView>)> {
        actor.require(Permission::CreditRead)?;
        let code = xinjian_core::uscc::normalize(code);
        let mut conn = self.db.conn()?;
        let s = subjects::by_code(&mut conn, &code)?
            .ok_or_else(|| AppError::NotFound(format!("主体 {code} ")))?;
        let records = store::records_of_subject(&mut conn, s.id)?;
        let mut views = Vec::with_capacity(records.len());
        for r in &records {
            views.push(self.record_view(&mut conn, r, &s.data.name)?);
        }
        let day = today();
        let entries = store::entries_of_subject(&mut conn, s.id)?
            .iter()
            .map(|e| entry_view(e, &s.data.name, day))
            .collect();
        Ok((views, entries))
    }
}

fn action_name(a: RecordAction) -> &'static str {
    match a {
        RecordAction::Hold => "hold",
        RecordAction::Release => "release",
        RecordAction::Correct => "correct",
        RecordAction::Revoke => "revoke",
    }
}

// ---------------------------------------------------------------------------------------------
// Lists

/// A list entry entered by staff.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListEntryInput {
    pub code: String,
    pub list_type: String,
    pub entered_on: String,
    pub decision_number: String,
    pub authority: String,
    pub reason: String,
    #[serde(default)]
    pub basis: String,
    #[serde(default)]
    pub term_until: String,
}

impl App {
    /// Enter a subject on a list (认定). The subject must be in the registry.
    pub fn enter_list(&self, actor: &Actor, input: &ListEntryInput) -> Result<i64> {
        actor.require(Permission::ListManage)?;
        let headers: Vec<String> = [
            Col::Code,
            Col::ListTypeCol,
            Col::EnteredOn,
            Col::ListDecision,
            Col::ListAuthority,
            Col::ListReason,
            Col::ListBasis,
            Col::TermUntil,
        ]
        .iter()
        .map(|c| c.header().to_owned())
        .collect();
        let map = ColumnMap::detect(FileKind::Lists, &headers).expect("standard headers");
        let cells = [
            &input.code,
            &input.list_type,
            &input.entered_on,
            &input.decision_number,
            &input.authority,
            &input.reason,
            &input.basis,
            &input.term_until,
        ];
        let refs: Vec<&str> = cells.iter().map(|s| s.as_str()).collect();
        let severity_map = SeverityMap::default();
        let row = parse_credit_row(
            &map,
            &refs,
            CreditRowOptions {
                severity_map: &severity_map,
                today: today(),
            },
        )
        .map_err(|errs| {
            let e = &errs[0];
            AppError::invalid(field_of_list_header(&e.column), &e.reason)
        })?;
        let CreditRow::List(entry) = row else {
            unreachable!("a list file gives list rows")
        };
        let actor_name = actor.name();
        let mut conn = self.db.conn()?;
        // Stamped once the connection is ours: see `evaluate_some`'s look-back.
        let now = now();
        conn.transaction(|tx| {
            let s = subjects::by_code(tx, &entry.subject_code)?
                .ok_or_else(|| AppError::invalid("code", "登记库中没有这个统一社会信用代码"))?;
            let key = CreditRow::List(entry.clone()).key();
            if store::entries_by_codes(tx, &[entry.subject_code.as_str()])?.contains_key(&key) {
                return Err(AppError::Conflict("该主体已按同一决定文号列入该名单".into()));
            }
            let (_, hash) = entry.canonical_json_and_hash();
            let p = Provenance { source: "manual", actor: &actor_name, reason: None, now: &now };
            let id = store::insert_entry(tx, s.id, &entry, &hash, &p)?;
            audit::append(
                tx,
                &actor.audit(),
                "list.enter",
                &format!("list_entry:{id}"),
                &json!({ "code": entry.subject_code, "list": entry.list_type.as_str(), "decision": entry.decision_number }),
            )?;
            Ok(id)
        })
    }

    /// Remove a subject from a list (移出) on a date, with the reason.
    pub fn exit_list(
        &self,
        actor: &Actor,
        id: i64,
        expected_version: i64,
        on: &str,
        reason: &str,
    ) -> Result<i64> {
        actor.require(Permission::ListManage)?;
        let on =
            xinjian_core::dates::parse_date(on).map_err(|e| AppError::invalid("exited_on", &e))?;
        if on > today() {
            return Err(AppError::invalid("exited_on", "移出日期不能晚于今天"));
        }
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(AppError::invalid("reason", "请填写移出原因"));
        }
        let actor_name = actor.name();
        let mut conn = self.db.conn()?;
        // Stamped once the connection is ours: see `evaluate_some`'s look-back.
        let now = now();
        conn.transaction(|tx| {
            let e = store::entry_by_id(tx, id)?.ok_or_else(|| AppError::NotFound("名单记录".into()))?;
            if e.version != expected_version {
                return Err(AppError::Conflict("该名单记录已被他人修改，请刷新后重试".into()));
            }
            if e.data.exited_on.is_some() {
                return Err(AppError::Unprocessable("该主体已移出该名单".into()));
            }
            if on < e.data.entered_on {
                return Err(AppError::invalid("exited_on", "移出日期早于列入日期"));
            }
            let mut d = e.data.clone();
            d.exited_on = Some(on);
            d.exit_reason = Some(reason.to_owned());
            let (_, hash) = d.canonical_json_and_hash();
            let p = Provenance { source: "manual", actor: &actor_name, reason: Some(reason), now: &now };
            let v = store::update_entry(tx, id, e.version, &d, &hash, &p)?;
            audit::append(tx, &actor.audit(), "list.exit", &format!("list_entry:{id}"),
                &json!({ "code": d.subject_code, "list": d.list_type.as_str(), "exited_on": on, "reason": reason }))?;
            Ok(v)
        })
    }

    /// The members of a list today (public: anyone may read the lists).
    pub fn list_members(
        &self,
        list: ListType,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<ListEntryView>, i64)> {
        let day = today();
        let (rows, total) =
            store::members(&mut *self.db.conn()?, list.as_str(), day, limit, offset)?;
        Ok((
            rows.iter()
                .map(|r| entry_view(&r.entry, &r.subject_name, day))
                .collect(),
            total,
        ))
    }

    /// Daily upkeep, as the platform: list entries whose term ran out get their exit
    /// (期满移出) and records past their publicity become `expired`, each as a new version,
    /// with one audit entry. Returns `(entries ended, records expired)`.
    pub fn credit_upkeep(&self) -> Result<(usize, usize)> {
        // In chunks, each its own transaction: the write lock is never held for long.
        let mut total = (0, 0);
        loop {
            let (ended, expired) = self.credit_upkeep_chunk(UPKEEP_CHUNK)?;
            total.0 += ended;
            total.1 += expired;
            if ended < UPKEEP_CHUNK as usize && expired < UPKEEP_CHUNK as usize {
                return Ok(total);
            }
        }
    }

    fn credit_upkeep_chunk(&self, limit: i64) -> Result<(usize, usize)> {
        let day = today();
        let mut conn = self.db.conn()?;
        // Stamped once the connection is ours: see `evaluate_some`'s look-back.
        let now = now();
        conn.transaction(|tx| {
            let p = Provenance {
                source: "system",
                actor: "system",
                reason: Some("期满自动移出"),
                now: &now,
            };
            let ended = store::entries_past_term_limit(tx, day, limit)?;
            for e in &ended {
                let mut d = e.data.clone();
                let until = d.term_until.expect("past term has a term");
                d.exited_on = Some(until);
                d.exit_reason = Some("期满自动移出".into());
                let (_, hash) = d.canonical_json_and_hash();
                store::update_entry(tx, e.id, e.version, &d, &hash, &p)?;
            }
            let expired = store::records_past_publicity_limit(tx, day, limit)?;
            let p = Provenance {
                reason: Some("公示期满，自动停止公示"),
                ..p
            };
            for r in &expired {
                let mut st = r.state.clone();
                st.status = RecordStatus::Expired;
                store::update_record(tx, r.id, r.version, &r.data, &r.content_hash, &st, &p)?;
            }
            if !ended.is_empty() || !expired.is_empty() {
                audit::append(
                    tx,
                    &Actor::System("system".into()).audit(),
                    "credit.upkeep",
                    "credit",
                    &json!({ "list_entries_ended": ended.iter().map(|e| e.id).collect::<Vec<_>>(),
                             "records_expired": expired.len(), "on": day }),
                )?;
            }
            Ok::<_, AppError>((ended.len(), expired.len()))
        })
    }

    /// After calendar years were loaded: compute the deadlines that were missing (the year
    /// was not loaded when the record came in) and those of records decided in or just before
    /// the loaded years (the holidays may have changed). Derived data, set in one
    /// transaction with one audit entry. Returns how many deadlines changed.
    pub fn recompute_deadlines(&self, years: &[i32]) -> Result<usize> {
        let (Some(first), Some(last)) = (years.iter().min(), years.iter().max()) else {
            return Ok(0);
        };
        // A decision in late December of the year before has its deadline in the first year.
        let from = NaiveDate::from_ymd_opt(first - 1, 12, 1).expect("valid date");
        let to = NaiveDate::from_ymd_opt(*last, 12, 31).expect("valid date");
        let mut conn = self.db.conn()?;
        let rec = self.recorder(&mut conn)?;
        conn.transaction(|tx| {
            let mut changed = 0;
            for r in store::records_for_deadlines(tx, from, to)? {
                let Ok(k) = rec.kind(&r.data.kind) else {
                    continue;
                };
                let d = rec.deadline(k, r.data.decision_date);
                if d != r.state.publish_deadline {
                    store::set_deadline(tx, r.id, d)?;
                    changed += 1;
                }
            }
            if changed > 0 {
                audit::append(
                    tx,
                    &Actor::System("system".into()).audit(),
                    "credit.deadlines.recompute",
                    "credit",
                    &json!({ "years": years, "changed": changed }),
                )?;
            }
            Ok::<_, AppError>(changed)
        })
    }
}

fn field_of_list_header(h: &str) -> String {
    match h {
        "统一社会信用代码" => "code",
        "名单类型" => "list_type",
        "列入日期" => "entered_on",
        "列入决定文号" => "decision_number",
        "列入机关" => "authority",
        "列入事由" => "reason",
        "列入依据" => "basis",
        "有效期至" => "term_until",
        other => other,
    }
    .to_owned()
}

// ---------------------------------------------------------------------------------------------
// Catalog

impl App {
    /// The catalog (public: it is published on the portal).
    pub fn catalog(&self) -> Result<Vec<CatalogKind>> {
        Ok(store::catalog(&mut *self.db.conn()?)?)
    }

    pub fn severity_rules(&self) -> Result<Vec<CategoryRule>> {
        Ok(store::severity_map(&mut *self.db.conn()?)?.rules().to_vec())
    }

    /// Add a kind or change one (name, nature, publicity, periods). Records already stored
    /// keep the periods they were recorded with.
    pub fn save_catalog_kind(&self, actor: &Actor, k: &CatalogKind) -> Result<()> {
        actor.require(Permission::CatalogAdmin)?;
        let code = k.code.trim();
        if code.is_empty() || !code.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(AppError::invalid(
                "code",
                "代码只能由小写英文字母和下划线组成",
            ));
        }
        if k.name.trim().is_empty() {
            return Err(AppError::invalid("name", "名称不能为空"));
        }
        for (key, p) in &k.periods {
            if !["none", "minor", "general", "serious"].contains(&key.as_str()) {
                return Err(AppError::invalid(
                    "periods",
                    format!("未知的严重程度“{key}”"),
                ));
            }
            if p.max_months.is_some_and(|m| m < p.min_months) {
                return Err(AppError::invalid("periods", "最长公示期不能短于最短公示期"));
            }
        }
        if k.nature == Nature::Negative {
            for sev in ["minor", "general", "serious"] {
                if k.periods.get(sev).and_then(|p| p.max_months).is_none() {
                    return Err(AppError::invalid(
                        "periods",
                        "失信类信息须为轻微、一般、严重分别规定最长公示期限（国办发〔2025〕22号：轻微至多 3 个月，一般至多 1 年，严重至多 3 年）",
                    ));
                }
            }
        }
        if k.nature != Nature::Negative && k.default_severity.is_some() {
            return Err(AppError::invalid(
                "default_severity",
                "只有失信类信息有严重程度",
            ));
        }
        let actor_name = actor.name();
        let mut conn = self.db.conn()?;
        // Stamped once the connection is ours: see `evaluate_some`'s look-back.
        let now = now();
        conn.transaction(|tx| {
            let sort = match store::catalog(tx)?.iter().position(|x| x.code == code) {
                Some(i) => i as i64,
                None => store::next_kind_sort(tx)?,
            };
            store::upsert_kind(tx, k, sort, &actor_name, &now)?;
            audit::append(
                tx,
                &actor.audit(),
                "catalog.kind.save",
                &format!("catalog:{code}"),
                &serde_json::to_value(k).expect("kind serialises"),
            )?;
            Ok::<_, AppError>(())
        })
    }

    pub fn save_severity_rule(&self, actor: &Actor, r: &CategoryRule) -> Result<()> {
        actor.require(Permission::CatalogAdmin)?;
        if r.category.trim().is_empty() {
            return Err(AppError::invalid("category", "处罚类别不能为空"));
        }
        let actor_name = actor.name();
        let mut conn = self.db.conn()?;
        // Stamped once the connection is ours: see `evaluate_some`'s look-back.
        let now = now();
        conn.transaction(|tx| {
            store::upsert_category(tx, r, &actor_name, &now)?;
            audit::append(
                tx,
                &actor.audit(),
                "catalog.category.save",
                &format!("category:{}", r.category),
                &serde_json::to_value(r).expect("rule serialises"),
            )?;
            Ok::<_, AppError>(())
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Publication report

impl App {
    /// Records published late, missing publication, or due within 3 working days, as of a day.
    pub fn publicity_report(&self, actor: &Actor, as_of: NaiveDate) -> Result<Vec<PublicityRow>> {
        self.publicity_report_since(actor, as_of, None)
    }

    /// The publication report of [`App::publicity_report_since`] as an Excel workbook, every
    /// row in the page's order, in a scratch file of the data directory (read from its start).
    pub fn publicity_report_xlsx(
        &self,
        actor: &Actor,
        as_of: NaiveDate,
        late_since: Option<NaiveDate>,
    ) -> Result<std::fs::File> {
        let rows = self.publicity_report_since(actor, as_of, late_since)?;
        // Below the header, a sheet holds 1,048,575 rows.
        if rows.len() > 1_048_575 {
            return Err(AppError::Unprocessable(
                "超过 Excel 单表的行数上限，请用命令行 xinjian publicity report 导出".into(),
            ));
        }
        crate::sources::xlsx_guard(|| {
            let xerr = crate::sources::xlsx_err;
            let mut book = rust_xlsxwriter::Workbook::new();
            // Rows go to a temporary file of the data directory as they are written (~4 KB a
            // row in memory otherwise).
            book.set_tempdir(&self.data_dir).map_err(xerr)?;
            let ws = book.add_worksheet_with_constant_memory();
            ws.set_name("双公示公示情况").map_err(xerr)?;
            let bold = rust_xlsxwriter::Format::new().set_bold();
            let columns = [
                ("情况", 14),
                ("暂缓公示", 10),
                ("统一社会信用代码", 22),
                ("行政相对人", 36),
                ("类别", 12),
                ("决定文书号", 28),
                ("决定日期", 12),
                ("应公示截止", 12),
                ("公示日期", 12),
            ];
            for (i, (title, width)) in columns.iter().enumerate() {
                ws.write_string_with_format(0, i as u16, *title, &bold)
                    .map_err(xerr)?;
                ws.set_column_width(i as u16, *width).map_err(xerr)?;
            }
            for (n, r) in rows.iter().enumerate() {
                let row = n as u32 + 1;
                let cells = [
                    r.status_label.to_owned(),
                    if r.held { "是" } else { "" }.to_owned(),
                    r.item.code.clone(),
                    r.subject_name.clone(),
                    r.kind_name.clone(),
                    r.item.document_number.clone(),
                    r.item.decision_date.to_string(),
                    r.item.publish_deadline.to_string(),
                    r.published_on.map(|d| d.to_string()).unwrap_or_default(),
                ];
                for (i, c) in cells.iter().enumerate() {
                    ws.write_string(row, i as u16, c).map_err(xerr)?;
                }
            }
            ws.set_freeze_panes(1, 0).map_err(xerr)?;
            ws.autofilter(0, 0, rows.len() as u32, columns.len() as u16 - 1)
                .map_err(xerr)?;
            let file = crate::sources::save_workbook(&mut book, &self.data_dir)?;
            // A disclosure of the names of those penalised, natural persons included: audited
            // as the sharing platform's exports are.
            self.db.conn()?.transaction(|tx| {
                audit::append(
                    tx,
                    &actor.audit(),
                    "credit.export",
                    "publicity",
                    &json!({ "what": "publicity", "as_of": as_of, "late_since": late_since,
                             "rows": rows.len() }),
                )?;
                Ok::<_, AppError>(())
            })?;
            Ok(file)
        })
    }

    /// The report with late publications only from `late_since` on (the staff page).
    pub fn publicity_report_since(
        &self,
        actor: &Actor,
        as_of: NaiveDate,
        late_since: Option<NaiveDate>,
    ) -> Result<Vec<PublicityRow>> {
        actor.require(Permission::CreditRead)?;
        let cal = self.calendar();
        let due_until = due_soon_until(&cal, as_of)?;
        // Kept until the records change: each page of the staff report, and its export, is
        // a slice of the same report.
        let key = format!("publicity:{as_of}:{late_since:?}:{due_until}");
        self.report(&key, |conn| {
            let catalog = store::catalog(conn)?;
            let rows = store::publication_candidates_since(conn, as_of, due_until, late_since)?;
            let mut out = Vec::new();
            for r in rows {
                let st = &r.record.state;
                let Some(deadline) = st.publish_deadline else {
                    continue;
                };
                let Some(status) = publication_status(deadline, st.published_on, as_of, due_until)
                else {
                    continue;
                };
                out.push(PublicityRow {
                    item: PublicityItem {
                        code: r.record.data.subject_code.clone(),
                        document_number: r.record.data.document_number.clone(),
                        decision_date: r.record.data.decision_date,
                        publish_deadline: deadline,
                        status: status.as_str(),
                    },
                    status_label: status.label(),
                    record_id: r.record.id,
                    subject_name: r.subject_name.clone(),
                    kind_name: catalog
                        .iter()
                        .find(|k| k.code == r.record.data.kind)
                        .map(|k| k.name.clone())
                        .unwrap_or_default(),
                    published_on: st.published_on.filter(|p| *p <= as_of),
                    held: st.held,
                });
            }
            // Missing first (most overdue first), then due soon (soonest first), then late
            // publications (most recent first).
            out.sort_by(|a, b| {
                let key = |r: &PublicityRow| match r.item.status {
                    "missing" => (0, r.item.publish_deadline.num_days_from_ce()),
                    "due_soon" => (1, r.item.publish_deadline.num_days_from_ce()),
                    _ => (2, -r.item.publish_deadline.num_days_from_ce()),
                };
                key(a).cmp(&key(b))
            });
            Ok(out)
        })
    }
}

/// The last day of "due soon" on `as_of`: 3 working days ahead. When the calendar ends
/// sooner (next year not loaded yet), its last day: no deadline lies beyond it, because
/// deadlines are only computed from loaded years.
fn due_soon_until(cal: &WorkdayCalendar, as_of: NaiveDate) -> Result<NaiveDate> {
    match cal.add_workdays(as_of, DUE_SOON_WORKDAYS) {
        Ok(d) => Ok(d),
        Err(e) => cal
            .years()
            .into_iter()
            .max()
            .filter(|y| *y >= as_of.year())
            .and_then(|y| NaiveDate::from_ymd_opt(y, 12, 31))
            .ok_or_else(|| {
                AppError::Unprocessable(format!(
                    "无法计算 {as_of} 的公示期限：{e}（请在“工作日历”中载入该年度日历）"
                ))
            }),
    }
}

/// Counts for the workspace.
#[derive(Debug, Clone, Serialize)]
pub struct CreditStats {
    pub penalties: i64,
    pub licenses: i64,
    pub records: i64,
    pub on_lists: i64,
    /// Records to publish: missing publication or due within 3 working days.
    pub to_publish: usize,
}

impl App {
    pub fn credit_stats(&self, actor: &Actor) -> Result<CreditStats> {
        actor.require(Permission::CreditRead)?;
        let day = today();
        // The calendar is stored data (loading a year is audited): the day names the rest.
        let due_until = due_soon_until(&self.calendar(), day).ok();
        self.report(&format!("credit_stats:{day}:{due_until:?}"), |c| {
            let (penalties, licenses, records, on_lists) = store::counts(c, day)?;
            let to_publish = match due_until {
                Some(due_until) => store::count_awaiting_publication(c, day, due_until)? as usize,
                None => 0,
            };
            Ok(CreditStats {
                penalties,
                licenses,
                records,
                on_lists,
                to_publish,
            })
        })
    }
}

/// The statuses as counted on the report page.
pub fn publicity_counts(rows: &[PublicityRow]) -> HashMap<&'static str, usize> {
    let mut m = HashMap::new();
    for s in [
        PublicationStatus::Late,
        PublicationStatus::Missing,
        PublicationStatus::DueSoon,
    ] {
        m.insert(
            s.as_str(),
            rows.iter().filter(|r| r.item.status == s.as_str()).count(),
        );
    }
    m
}

// ---------------------------------------------------------------------------------------------
// Public portal

impl App {
    /// A subject's public page: registration, records public today, current list entries.
    pub fn public_subject_credit(&self, code: &str) -> Result<PublicSubjectCredit> {
        let subject = self.public_subject(code)?;
        let mut conn = self.db.conn()?;
        let id = subjects::by_code(&mut conn, &subject.code)?
            .map(|s| s.id)
            .ok_or_else(|| AppError::NotFound(format!("主体 {code} ")))?;
        let day = today();
        let catalog = store::catalog(&mut conn)?;
        let records = store::public_records_of_subject(&mut conn, id, day)?
            .iter()
            .map(|r| {
                let name = catalog
                    .iter()
                    .find(|k| k.code == r.data.kind)
                    .map(|k| k.name.as_str())
                    .unwrap_or("");
                public_record(&r.data, &r.state, name)
            })
            .collect();
        let lists = store::entries_of_subject(&mut conn, id)?
            .iter()
            .filter(|e| e.data.is_on_list(day))
            .map(|e| public_entry(&e.data))
            .collect();
        Ok(PublicSubjectCredit {
            subject,
            records,
            lists,
        })
    }

    /// The latest public records of a kind (portal pages of licences and penalties).
    pub fn latest_public_records(
        &self,
        kind: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<(String, String, PublicRecord)>> {
        let mut conn = self.db.conn()?;
        let catalog = store::catalog(&mut conn)?;
        let k = catalog
            .iter()
            .find(|k| k.code == kind && k.is_public)
            .ok_or_else(|| AppError::NotFound("信息类别".into()))?;
        Ok(
            store::latest_public(&mut conn, kind, today(), limit.clamp(1, 100), offset.max(0))?
                .into_iter()
                .map(|r| {
                    let p = public_record(&r.record.data, &r.record.state, &k.name);
                    (r.record.data.subject_code, r.subject_name, p)
                })
                .collect(),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Export for the sharing platform

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Xlsx,
    Csv,
    Json,
}

impl ExportFormat {
    pub fn parse(s: &str) -> Option<ExportFormat> {
        match s {
            "xlsx" => Some(ExportFormat::Xlsx),
            "csv" => Some(ExportFormat::Csv),
            "json" => Some(ExportFormat::Json),
            _ => None,
        }
    }
}

/// Columns of the record export (CSV and XLSX headers; JSON uses the English keys).
/// A natural person's record carries the ID number (证件号码, as the national format does) and
/// no code: the person's registry key means nothing to the platform.
const RECORD_COLUMNS: [(&str, &str); 23] = [
    ("kind", "信息类别"),
    ("name", "行政相对人名称"),
    ("code", "统一社会信用代码"),
    ("person_id", "证件号码"),
    ("document_number", "决定文书号"),
    ("decision_date", "决定日期"),
    ("categories", "处罚类别/许可类别"),
    ("severity", "失信严重程度"),
    ("content", "处罚内容/许可内容"),
    ("facts", "违法事实"),
    ("basis", "处罚依据"),
    ("fine_amount", "罚款金额（万元）"),
    ("certificate_name", "许可证书名称"),
    ("license_number", "许可编号"),
    ("valid_from", "有效期自"),
    ("valid_to", "有效期至"),
    ("authority", "决定机关"),
    ("source_department", "数据来源单位"),
    ("published_on", "公示日期"),
    ("publicity_until", "公示截止期"),
    ("status", "当前状态"),
    ("version", "版本"),
    ("updated_at", "更新时间"),
];

const LIST_COLUMNS: [(&str, &str); 12] = [
    ("code", "统一社会信用代码"),
    ("name", "主体名称"),
    ("list_type", "名单类型"),
    ("entered_on", "列入日期"),
    ("decision_number", "列入决定文号"),
    ("authority", "列入机关"),
    ("reason", "列入事由"),
    ("basis", "列入依据"),
    ("term_until", "有效期至"),
    ("exited_on", "移出日期"),
    ("exit_reason", "移出原因"),
    ("version", "版本"),
];

/// A natural person's ID number in an export: in full for those who may read personal data
/// (the sharing platform matches persons by it), masked for everyone else.
fn exported_id(id: &Option<String>, full: bool) -> Option<String> {
    id.as_deref().map(|v| {
        if full {
            v.to_owned()
        } else {
            xinjian_core::person_id::mask_str(v)
        }
    })
}

fn record_cells(
    r: &store::RecordWithSubject,
    kinds: &HashMap<String, String>,
    full_ids: bool,
) -> Vec<String> {
    let d = &r.record.data;
    let st = &r.record.state;
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let dt = |v: Option<NaiveDate>| v.map(|x| x.to_string()).unwrap_or_default();
    vec![
        kinds
            .get(&d.kind)
            .cloned()
            .unwrap_or_else(|| d.kind.clone()),
        d.subject_name.clone(),
        if d.person_id.is_some() {
            String::new()
        } else {
            d.subject_code.clone()
        },
        exported_id(&d.person_id, full_ids).unwrap_or_default(),
        d.document_number.clone(),
        d.decision_date.to_string(),
        d.categories.join("；"),
        d.severity.map(|x| x.label().to_owned()).unwrap_or_default(),
        s(&d.content),
        s(&d.facts),
        s(&d.basis),
        s(&d.fine_amount),
        s(&d.certificate_name),
        s(&d.license_number),
        dt(d.valid_from),
        dt(d.valid_to),
        s(&d.authority),
        s(&d.source_department),
        dt(st.published_on),
        dt(st.publicity_until),
        st.status.label().to_owned(),
        r.record.version.to_string(),
        r.record.updated_at.clone(),
    ]
}

fn record_json(r: &store::RecordWithSubject, full_ids: bool) -> serde_json::Value {
    let d = &r.record.data;
    let st = &r.record.state;
    json!({
        "kind": d.kind, "name": d.subject_name,
        "code": if d.person_id.is_some() { "" } else { d.subject_code.as_str() },
        "person_id": exported_id(&d.person_id, full_ids),
        "document_number": d.document_number, "decision_date": d.decision_date,
        "categories": d.categories, "severity": d.severity.map(Severity::as_str),
        "content": d.content, "facts": d.facts, "basis": d.basis, "fine_amount": d.fine_amount,
        "certificate_name": d.certificate_name, "license_number": d.license_number,
        "valid_from": d.valid_from, "valid_to": d.valid_to, "authority": d.authority,
        "source_department": d.source_department, "published_on": st.published_on,
        "publicity_until": st.publicity_until, "status": st.status.as_str(),
        "version": r.record.version, "updated_at": r.record.updated_at,
    })
}

fn list_cells(e: &store::ListRowWithSubject) -> Vec<String> {
    let d = &e.entry.data;
    let dt = |v: Option<NaiveDate>| v.map(|x| x.to_string()).unwrap_or_default();
    vec![
        d.subject_code.clone(),
        e.subject_name.clone(),
        d.list_type.label().to_owned(),
        d.entered_on.to_string(),
        d.decision_number.clone(),
        d.authority.clone(),
        d.reason.clone(),
        d.basis.clone().unwrap_or_default(),
        dt(d.term_until),
        dt(d.exited_on),
        d.exit_reason.clone().unwrap_or_default(),
        e.entry.version.to_string(),
    ]
}

fn list_json(e: &store::ListRowWithSubject) -> serde_json::Value {
    let d = &e.entry.data;
    json!({
        "code": d.subject_code, "name": e.subject_name, "list_type": d.list_type.as_str(),
        "entered_on": d.entered_on, "decision_number": d.decision_number, "authority": d.authority,
        "reason": d.reason, "basis": d.basis, "term_until": d.term_until, "exited_on": d.exited_on,
        "exit_reason": d.exit_reason, "version": e.entry.version,
    })
}

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportWhat {
    Records,
    Lists,
}

/// Streams rows to CSV or JSON, or collects them into an XLSX sheet.
enum Sink<'a, W: std::io::Write> {
    Csv(Box<csv::Writer<&'a mut W>>),
    Json {
        out: &'a mut W,
        first: bool,
    },
    Xlsx {
        book: Box<rust_xlsxwriter::Workbook>,
        row: u32,
        out: &'a mut W,
    },
}

fn io_err(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("写出失败：{e}"))
}

impl App {
    /// Export records (by decision date) or list entries (by entry date) in `[since, until]`
    /// to `out`. Returns the number of rows written.
    pub fn export_credit<W: std::io::Write>(
        &self,
        actor: &Actor,
        what: ExportWhat,
        since: Option<NaiveDate>,
        until: Option<NaiveDate>,
        format: ExportFormat,
        out: &mut W,
    ) -> Result<u64> {
        crate::sources::xlsx_guard(|| {
            actor.require(Permission::CreditExport)?;
            let columns: Vec<(&str, &str)> = match what {
                ExportWhat::Records => RECORD_COLUMNS.to_vec(),
                ExportWhat::Lists => LIST_COLUMNS.to_vec(),
            };
            let mut conn = self.db.conn()?;
            let kinds: HashMap<String, String> = store::catalog(&mut conn)?
                .into_iter()
                .map(|k| (k.code, k.name))
                .collect();
            let full_ids = actor.can(Permission::PersonalDataRead);
            let mut persons = 0u64;
            let mut n = 0u64;
            let xerr = crate::sources::xlsx_err;
            {
                let mut sink = match format {
                    ExportFormat::Csv => {
                        // A BOM, so that Excel opens the UTF-8 file correctly.
                        out.write_all("\u{feff}".as_bytes()).map_err(io_err)?;
                        let mut w = csv::Writer::from_writer(out);
                        w.write_record(columns.iter().map(|c| c.1))
                            .map_err(io_err)?;
                        Sink::Csv(Box::new(w))
                    }
                    ExportFormat::Json => {
                        out.write_all(b"[").map_err(io_err)?;
                        Sink::Json { out, first: true }
                    }
                    ExportFormat::Xlsx => {
                        let mut book = Box::new(rust_xlsxwriter::Workbook::new());
                        // Rows go to a temporary file in the data directory as they are written,
                        // not into memory (an export of a million records held ~4 KB a row).
                        book.set_tempdir(&self.data_dir).map_err(xerr)?;
                        let ws = book.add_worksheet_with_constant_memory();
                        ws.set_name(if what == ExportWhat::Records {
                            "信用记录"
                        } else {
                            "名单"
                        })
                        .map_err(xerr)?;
                        let bold = rust_xlsxwriter::Format::new().set_bold();
                        for (i, c) in columns.iter().enumerate() {
                            ws.write_string_with_format(0, i as u16, c.1, &bold)
                                .map_err(xerr)?;
                            ws.set_column_width(i as u16, 16).map_err(xerr)?;
                        }
                        Sink::Xlsx { book, row: 1, out }
                    }
                };
                let mut put = |cells: Vec<String>, value: serde_json::Value| -> Result<()> {
                    n += 1;
                    match &mut sink {
                        Sink::Csv(w) => w.write_record(&cells).map_err(io_err),
                        Sink::Json { out, first } => {
                            if !*first {
                                out.write_all(b",").map_err(io_err)?;
                            }
                            *first = false;
                            out.write_all(b"\n").map_err(io_err)?;
                            serde_json::to_writer(&mut **out, &value).map_err(io_err)
                        }
                        Sink::Xlsx { book, row, .. } => {
                            if *row >= 1_048_575 {
                                return Err(AppError::Unprocessable(
                                    "超过 Excel 单表的行数上限，请缩小日期范围或改用 CSV".into(),
                                ));
                            }
                            let ws = book.worksheet_from_index(0).map_err(xerr)?;
                            for (i, c) in cells.iter().enumerate() {
                                ws.write_string(*row, i as u16, c).map_err(xerr)?;
                            }
                            *row += 1;
                            Ok(())
                        }
                    }
                };
                match what {
                    ExportWhat::Records => {
                        store::each_record_decided(&mut conn, since, until, |r| {
                            if r.record.data.person_id.is_some() {
                                persons += 1;
                            }
                            put(
                                record_cells(&r, &kinds, full_ids),
                                record_json(&r, full_ids),
                            )
                        })?
                    }
                    ExportWhat::Lists => store::each_entry_entered(&mut conn, since, until, |e| {
                        put(list_cells(&e), list_json(&e))
                    })?,
                }
                match sink {
                    Sink::Csv(mut w) => w.flush().map_err(io_err)?,
                    Sink::Json { out, .. } => out.write_all(b"\n]\n").map_err(io_err)?,
                    Sink::Xlsx { mut book, out, .. } => {
                        // Through a file, not a buffer: `out` need not be seekable.
                        let mut zip = crate::sources::save_workbook(&mut book, &self.data_dir)?;
                        std::io::copy(&mut zip, out).map_err(io_err)?;
                    }
                }
            }
            // One pooled connection at a time: give back the reading one before auditing.
            drop(conn);
            // The export itself is a disclosure to another system: audited.
            self.db.conn()?.transaction(|tx| {
                audit::append(
                    tx,
                    &actor.audit(),
                    "credit.export",
                    "export",
                    &json!({ "what": if what == ExportWhat::Records { "records" } else { "lists" },
                         "since": since, "until": until, "rows": n,
                         // Rows carrying a natural person's ID number (in full or masked).
                         "person_ids": persons, "person_ids_in_full": full_ids && persons > 0 }),
                )?;
                Ok::<_, AppError>(())
            })?;
            Ok(n)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registry answers an import keeps: a status another connection commits between two
    /// of the import's transactions is seen at the next one; until then the kept answer is
    /// used (the import's own commits do not count as another connection's, which is why an
    /// import must never change a status itself).
    #[test]
    fn registry_answers_are_kept_until_another_connection_commits() {
        let (_dir, app) = crate::test_app_with_registry(20, 3);
        let mut other = app.db.connect().unwrap();
        let (id, code): (i64, String) = {
            let row = other
                .query_row(
                    "SELECT id, code FROM subjects WHERE reg_status = 'active' ORDER BY id LIMIT 1",
                    &[],
                )
                .unwrap();
            (row.get(0).unwrap(), row.get(1).unwrap())
        };
        let set_status = |c: &mut Conn, status: &str| {
            c.execute(
                "UPDATE subjects SET reg_status = ? WHERE id = ?",
                &[status.into(), id.into()],
            )
            .unwrap();
        };
        let mut import = app.db.connect().unwrap();
        let mut cache = RegistryCache::default();
        let ask = |c: &mut Conn, cache: &mut RegistryCache| {
            c.transaction(|tx| cache.ids_by_codes(tx, &[code.as_str(), "91510800MA00000000"]))
                .unwrap()
        };
        let first = ask(&mut import, &mut cache);
        assert_eq!(first.len(), 1, "an unknown code has no answer");
        assert_eq!(first[&code], (id, RegStatus::Active));

        // Another connection deregisters it: the next transaction of the import sees it.
        set_status(&mut other, "deregistered");
        assert_eq!(
            ask(&mut import, &mut cache)[&code],
            (id, RegStatus::Deregistered)
        );

        // The import's own connection changes it: the kept answer is still used.
        set_status(&mut import, "active");
        assert_eq!(
            ask(&mut import, &mut cache)[&code],
            (id, RegStatus::Deregistered)
        );
        // A fresh cache reads the registry again.
        assert_eq!(
            ask(&mut import, &mut RegistryCache::default())[&code],
            (id, RegStatus::Active)
        );
    }
}
