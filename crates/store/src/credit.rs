//! Credit information: the catalog, the penalty-category mapping, versioned credit records and
//! list entries. Current state in `credit_records` / `list_entries`; the versions a record
//! superseded in `credit_record_versions` (its current version is the row itself, with its
//! provenance), every version of a list entry in `list_entry_versions`.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use xinjian_core::credit::{
    default_catalog, CatalogKind, CategoryRule, ListEntryData, Nature, RecordData, RecordStatus,
    Severity, SeverityMap,
};

use crate::digests;
use crate::subjects::Provenance;
use crate::{params, Conn, Result, Row, StoreError, Value};

fn bad(what: &str, v: impl std::fmt::Display) -> StoreError {
    StoreError::Migration(format!("stored {what} not understood: {v}"))
}

// ---------------------------------------------------------------------------------------------
// Catalog and mapping

/// Write the default catalog and penalty-category mapping (the migration step of 0002).
pub(crate) fn seed_defaults(conn: &mut Conn, now: &str) -> Result<()> {
    for (i, k) in default_catalog().iter().enumerate() {
        upsert_kind(conn, k, i as i64, "system:migrate", now)?;
    }
    for r in SeverityMap::default_rules() {
        upsert_category(conn, &r, "system:migrate", now)?;
    }
    Ok(())
}

/// Insert or replace a catalog kind.
pub fn upsert_kind(
    conn: &mut Conn,
    k: &CatalogKind,
    sort: i64,
    actor: &str,
    now: &str,
) -> Result<()> {
    let periods = serde_json::to_string(&k.periods).expect("periods serialise");
    conn.execute(
        "INSERT INTO catalog_kinds (code, name, nature, default_severity, is_public, publish_workdays, periods, sort, updated_by, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, nature = excluded.nature, \
         default_severity = excluded.default_severity, is_public = excluded.is_public, \
         publish_workdays = excluded.publish_workdays, periods = excluded.periods, \
         updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        &params![
            k.code.as_str(),
            k.name.as_str(),
            k.nature.as_str(),
            k.default_severity.map(Severity::as_str),
            k.is_public,
            k.publish_workdays,
            periods,
            sort,
            actor,
            now
        ],
    )?;
    Ok(())
}

/// The catalog, in display order.
pub fn catalog(conn: &mut Conn) -> Result<Vec<CatalogKind>> {
    conn.query(
        "SELECT code, name, nature, default_severity, is_public, publish_workdays, periods FROM catalog_kinds ORDER BY sort, code",
        &[],
    )?
    .iter()
    .map(|r| {
        let nature: String = r.get(2)?;
        let sev: Option<String> = r.get(3)?;
        let periods: String = r.get(6)?;
        let wd: Option<i64> = r.get(5)?;
        Ok(CatalogKind {
            code: r.get(0)?,
            name: r.get(1)?,
            nature: Nature::parse(&nature).ok_or_else(|| bad("nature", &nature))?,
            default_severity: sev.as_deref().and_then(Severity::parse),
            is_public: r.get(4)?,
            publish_workdays: wd.map(|w| w as u32),
            periods: serde_json::from_str(&periods).map_err(|e| bad("periods", e))?,
        })
    })
    .collect()
}

pub fn next_kind_sort(conn: &mut Conn) -> Result<i64> {
    conn.query_row("SELECT COALESCE(max(sort), 0) + 1 FROM catalog_kinds", &[])?
        .get(0)
}

pub fn upsert_category(conn: &mut Conn, r: &CategoryRule, actor: &str, now: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO penalty_categories (category, severity, revokes_business_licence, updated_by, updated_at) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (category) DO UPDATE SET severity = excluded.severity, \
         revokes_business_licence = excluded.revokes_business_licence, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        &params![r.category.as_str(), r.severity.as_str(), r.revokes_business_licence, actor, now],
    )?;
    Ok(())
}

pub fn severity_map(conn: &mut Conn) -> Result<SeverityMap> {
    let rules = conn
        .query(
            "SELECT category, severity, revokes_business_licence FROM penalty_categories ORDER BY category",
            &[],
        )?
        .iter()
        .map(|r| {
            let s: String = r.get(1)?;
            Ok(CategoryRule {
                category: r.get(0)?,
                severity: Severity::parse(&s).ok_or_else(|| bad("severity", &s))?,
                revokes_business_licence: r.get(2)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(SeverityMap::new(rules))
}

// ---------------------------------------------------------------------------------------------
// Records

/// The bookkeeping of a record beside its facts: status and publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordState {
    pub status: RecordStatus,
    pub publish_deadline: Option<NaiveDate>,
    pub published_on: Option<NaiveDate>,
    pub held: bool,
    pub publicity_until: Option<NaiveDate>,
}

/// A record as stored.
#[derive(Debug, Clone)]
pub struct RecordRow {
    pub id: i64,
    pub subject_id: i64,
    pub data: RecordData,
    pub state: RecordState,
    pub recorded_on: NaiveDate,
    pub version: i64,
    pub content_hash: String,
    pub created_at: String,
    pub updated_at: String,
}

const RECORD_COLS: &str = "r.id, r.subject_id, r.data, r.status, r.publish_deadline, r.published_on, r.held, r.publicity_until, \
     r.recorded_on, r.version, r.content_hash, r.created_at, r.updated_at";

fn record(r: &Row) -> Result<RecordRow> {
    let data: String = r.get(2)?;
    let status: String = r.get(3)?;
    Ok(RecordRow {
        id: r.get(0)?,
        subject_id: r.get(1)?,
        data: serde_json::from_str(&data).map_err(|e| bad("record data", e))?,
        state: RecordState {
            status: RecordStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
            publish_deadline: r.get(4)?,
            published_on: r.get(5)?,
            held: r.get(6)?,
            publicity_until: r.get(7)?,
        },
        recorded_on: r.get(8)?,
        version: r.get(9)?,
        content_hash: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

/// What a version snapshot holds.
#[derive(Deserialize)]
struct RecordSnapshot {
    data: RecordData,
    state: RecordState,
}

#[derive(Serialize)]
struct RecordSnapshotRef<'a> {
    data: &'a RecordData,
    state: &'a RecordState,
}

/// An existing record of a document number: `(id, subject_code, version, content_hash, state)`.
#[derive(Debug, Clone)]
pub struct ExistingRecord {
    pub id: i64,
    pub subject_code: String,
    pub version: i64,
    pub content_hash: String,
    pub state: RecordState,
    pub data: RecordData,
    /// Who recorded the first version (`token:…`, `user:…`, `cli:…`, `demo`).
    pub first_actor: String,
}

/// Stored records with the given document numbers, by document number.
pub fn records_by_documents(
    conn: &mut Conn,
    docs: &[&str],
) -> Result<HashMap<String, Vec<ExistingRecord>>> {
    let mut out: HashMap<String, Vec<ExistingRecord>> = HashMap::new();
    for chunk in docs.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let ps: Vec<Value> = chunk.iter().map(|c| Value::from(*c)).collect();
        for r in conn.query(
            &format!("SELECT {RECORD_COLS}, r.subject_code, r.document_number, \
                      COALESCE((SELECT v.actor FROM credit_record_versions v WHERE v.record_id = r.id AND v.version = 1), r.actor) \
                      FROM credit_records r WHERE r.document_number IN ({marks})"),
            &ps,
        )? {
            let row = record(&r)?;
            let doc: String = r.get(14)?;
            out.entry(doc).or_default().push(ExistingRecord {
                id: row.id,
                subject_code: r.get(13)?,
                version: row.version,
                content_hash: row.content_hash,
                state: row.state,
                data: row.data,
                first_actor: r.get::<Option<String>>(15)?.unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

/// A new record for [`insert_records`]: its facts with their canonical JSON and hash
/// (computed once, on the import's parser thread) and its initial state.
#[derive(Debug, Clone)]
pub struct NewRecord<'a> {
    pub subject_id: i64,
    pub data: &'a RecordData,
    /// `serde_json::to_string(data)`, as [`RecordData::canonical_json_and_hash`] makes it.
    pub json: &'a str,
    pub hash: &'a str,
    pub state: RecordState,
}

const INSERT_RECORD: &str = "INSERT INTO credit_records (subject_id, subject_code, kind, document_number, decision_date, nature, severity, \
     revokes_business_licence, data, status, publish_deadline, published_on, held, publicity_until, recorded_on, \
     version, content_hash, created_at, updated_at, source, actor, reason) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)";

/// Insert many new records, each as version 1 — the bulk path of imports. In key order
/// (document number, code), so the unique index is appended to rather than split at random;
/// on SQLite through a prepared statement with borrowed values, on PostgreSQL many rows a
/// statement.
pub fn insert_records(
    conn: &mut Conn,
    items: &mut [NewRecord<'_>],
    recorded_on: NaiveDate,
    p: &Provenance<'_>,
) -> Result<()> {
    items.sort_unstable_by(|a, b| {
        (
            a.data.document_number.as_str(),
            a.data.subject_code.as_str(),
        )
            .cmp(&(
                b.data.document_number.as_str(),
                b.data.subject_code.as_str(),
            ))
    });
    let day = |d: Option<NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
    if let Some(c) = conn.as_sqlite() {
        let c: &rusqlite::Connection = c;
        let mut record = c.prepare_cached(INSERT_RECORD)?;
        let recorded_on = recorded_on.format("%Y-%m-%d").to_string();
        for it in items.iter() {
            let (d, st) = (it.data, &it.state);
            record.execute(rusqlite::params![
                it.subject_id,
                d.subject_code,
                d.kind,
                d.document_number,
                d.decision_date.format("%Y-%m-%d").to_string(),
                d.nature.as_str(),
                d.severity.map(Severity::as_str),
                d.revokes_business_licence,
                it.json,
                st.status.as_str(),
                day(st.publish_deadline),
                day(st.published_on),
                st.held,
                day(st.publicity_until),
                recorded_on,
                it.hash,
                p.now,
                p.now,
                p.source,
                p.actor,
                p.reason
            ])?;
        }
    } else {
        // PostgreSQL: many rows a statement, one round trip each.
        let rows: Vec<Vec<Value>> = items
            .iter()
            .map(|it| {
                record_params(
                    it.subject_id,
                    it.data,
                    it.json,
                    it.hash,
                    &it.state,
                    recorded_on,
                    p,
                )
            })
            .collect();
        conn.insert_many(INSERT_RECORD, &rows)?;
    }
    // Their subjects' grading digests, in the same transaction.
    let facts: Vec<crate::grading::FactRef<'_>> = items
        .iter()
        .filter(|it| digests::is_fact(it.data.nature.as_str(), it.data.revokes_business_licence))
        .map(|it| crate::grading::FactRef {
            subject_id: it.subject_id,
            kind: &it.data.kind,
            document_number: &it.data.document_number,
            decision_date: it.data.decision_date,
            severity: it.data.severity,
            revokes_business_licence: it.data.revokes_business_licence,
            ended_on: None,
        })
        .collect();
    digests::add(conn, &facts)
}

/// The parameters of [`INSERT_RECORD`].
fn record_params(
    subject_id: i64,
    d: &RecordData,
    json: &str,
    hash: &str,
    st: &RecordState,
    recorded_on: NaiveDate,
    p: &Provenance<'_>,
) -> Vec<Value> {
    params![
        subject_id,
        d.subject_code.as_str(),
        d.kind.as_str(),
        d.document_number.as_str(),
        d.decision_date,
        d.nature.as_str(),
        d.severity.map(Severity::as_str),
        d.revokes_business_licence,
        json,
        st.status.as_str(),
        st.publish_deadline,
        st.published_on,
        st.held,
        st.publicity_until,
        recorded_on,
        hash,
        p.now,
        p.now,
        p.source,
        p.actor,
        p.reason
    ]
}

/// Insert a new record as version 1.
pub fn insert_record(
    conn: &mut Conn,
    subject_id: i64,
    d: &RecordData,
    hash: &str,
    st: &RecordState,
    recorded_on: NaiveDate,
    p: &Provenance<'_>,
) -> Result<i64> {
    let json = serde_json::to_string(d).expect("record data serialises");
    let id = conn.insert_id(
        &format!("{INSERT_RECORD} RETURNING id"),
        &record_params(subject_id, d, &json, hash, st, recorded_on, p),
    )?;
    digests::refresh(conn, &[subject_id])?;
    Ok(id)
}

/// Record a new version (facts and/or state): the current version goes to the history
/// (`credit_record_versions`) and the new one takes its place. Fails with `Conflict` if the
/// record moved on.
pub fn update_record(
    conn: &mut Conn,
    id: i64,
    expected_version: i64,
    d: &RecordData,
    hash: &str,
    st: &RecordState,
    p: &Provenance<'_>,
) -> Result<i64> {
    let conflict = || {
        StoreError::Conflict(format!(
            "信用记录 {} 已被他人修改，请刷新后重试",
            d.document_number
        ))
    };
    let old = current_version(conn, id)?.ok_or_else(conflict)?;
    if old.version != expected_version {
        return Err(conflict());
    }
    let version = expected_version + 1;
    let json = serde_json::to_string(d).expect("record data serialises");
    let n = conn.execute(
        "UPDATE credit_records SET kind = ?, decision_date = ?, nature = ?, severity = ?, revokes_business_licence = ?, \
         data = ?, status = ?, publish_deadline = ?, published_on = ?, held = ?, publicity_until = ?, version = ?, \
         content_hash = ?, updated_at = ?, source = ?, actor = ?, reason = ? WHERE id = ? AND version = ?",
        &params![
            d.kind.as_str(),
            d.decision_date,
            d.nature.as_str(),
            d.severity.map(Severity::as_str),
            d.revokes_business_licence,
            json,
            st.status.as_str(),
            st.publish_deadline,
            st.published_on,
            st.held,
            st.publicity_until,
            version,
            hash,
            p.now,
            p.source,
            p.actor,
            p.reason,
            id,
            expected_version
        ],
    )?;
    if n == 0 {
        return Err(conflict());
    }
    let snap = serde_json::to_string(&RecordSnapshotRef {
        data: &old.data,
        state: &old.state,
    })
    .expect("snapshot serialises");
    conn.execute(
        "INSERT INTO credit_record_versions (record_id, version, data, content_hash, source, actor, reason, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        &params![
            id,
            old.version,
            snap,
            old.content_hash.as_str(),
            old.source.as_str(),
            old.actor.as_str(),
            old.reason.as_deref(),
            old.created_at.as_str()
        ],
    )?;
    digests::refresh_of_record(conn, id)?;
    Ok(version)
}

/// The current version of a record as a history entry (recorded at `updated_at`).
fn current_version(conn: &mut Conn, id: i64) -> Result<Option<RecordVersion>> {
    conn.query_opt(
        &format!("SELECT {RECORD_COLS}, r.source, r.actor, r.reason FROM credit_records r WHERE r.id = ?"),
        &params![id],
    )?
    .map(|r| {
        let row = record(&r)?;
        Ok(RecordVersion {
            version: row.version,
            data: row.data,
            state: row.state,
            content_hash: row.content_hash,
            source: r.get(13)?,
            actor: r.get(14)?,
            reason: r.get(15)?,
            created_at: row.updated_at,
        })
    })
    .transpose()
}

pub fn record_by_id(conn: &mut Conn, id: i64) -> Result<Option<RecordRow>> {
    conn.query_opt(
        &format!("SELECT {RECORD_COLS} FROM credit_records r WHERE r.id = ?"),
        &params![id],
    )?
    .map(|r| record(&r))
    .transpose()
}

/// One version of a record.
#[derive(Debug, Clone)]
pub struct RecordVersion {
    pub version: i64,
    pub data: RecordData,
    pub state: RecordState,
    pub content_hash: String,
    pub source: String,
    pub actor: String,
    pub reason: Option<String>,
    pub created_at: String,
}

/// All versions of a record, oldest first: those superseded, then the current one (read
/// first, and the history up to it: a change committed in between is not half seen).
pub fn record_versions(conn: &mut Conn, id: i64) -> Result<Vec<RecordVersion>> {
    let Some(current) = current_version(conn, id)? else {
        return Ok(Vec::new());
    };
    let mut out = conn
        .query(
            "SELECT version, data, source, actor, reason, created_at, content_hash FROM credit_record_versions \
             WHERE record_id = ? AND version < ? ORDER BY version",
            &params![id, current.version],
        )?
        .iter()
        .map(|r| {
            let json: String = r.get(1)?;
            let snap: RecordSnapshot =
                serde_json::from_str(&json).map_err(|e| bad("record version", e))?;
            Ok(RecordVersion {
                version: r.get(0)?,
                data: snap.data,
                state: snap.state,
                content_hash: r.get(6)?,
                source: r.get(2)?,
                actor: r.get(3)?,
                reason: r.get(4)?,
                created_at: r.get(5)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    out.push(current);
    Ok(out)
}

/// All records of a subject, newest decision first.
pub fn records_of_subject(conn: &mut Conn, subject_id: i64) -> Result<Vec<RecordRow>> {
    conn.query(
        &format!("SELECT {RECORD_COLS} FROM credit_records r WHERE r.subject_id = ? ORDER BY r.decision_date DESC, r.id DESC"),
        &params![subject_id],
    )?
    .iter()
    .map(record)
    .collect()
}

/// The condition for "public on `?`" (one date parameter, used twice): a public kind,
/// published by then and not held, not ended by status, within its publicity period.
const PUBLIC_ON: &str = "r.held = 0 AND r.published_on IS NOT NULL AND r.published_on <= ? \
     AND r.status NOT IN ('corrected', 'revoked', 'repaired', 'expired') \
     AND (r.publicity_until IS NULL OR r.publicity_until > ?) \
     AND r.kind IN (SELECT code FROM catalog_kinds WHERE is_public = 1)";

/// The records of a subject that are public on `today`.
pub fn public_records_of_subject(
    conn: &mut Conn,
    subject_id: i64,
    today: NaiveDate,
) -> Result<Vec<RecordRow>> {
    conn.query(
        &format!("SELECT {RECORD_COLS} FROM credit_records r WHERE r.subject_id = ? AND {PUBLIC_ON} ORDER BY r.decision_date DESC, r.id DESC"),
        &params![subject_id, today, today],
    )?
    .iter()
    .map(record)
    .collect()
}

/// A record with its subject's current name, for lists.
#[derive(Debug, Clone)]
pub struct RecordWithSubject {
    pub record: RecordRow,
    pub subject_name: String,
}

fn with_subject(r: &Row) -> Result<RecordWithSubject> {
    Ok(RecordWithSubject {
        record: record(r)?,
        subject_name: r.get(13)?,
    })
}

/// The latest public records of a kind (portal), newest decision first; natural persons' are
/// kept off the portal.
pub fn latest_public(
    conn: &mut Conn,
    kind: &str,
    today: NaiveDate,
    limit: i64,
    offset: i64,
) -> Result<Vec<RecordWithSubject>> {
    conn.query(
        &format!("SELECT {RECORD_COLS}, s.name FROM credit_records r JOIN subjects s ON s.id = r.subject_id \
                  WHERE r.kind = ? AND {PUBLIC_ON} AND s.kind <> 'natural_person' \
                  ORDER BY r.decision_date DESC, r.id DESC LIMIT ? OFFSET ?"),
        &params![kind, today, today, limit, offset],
    )?
    .iter()
    .map(with_subject)
    .collect()
}

/// Filters of the staff record list.
#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    pub kind: Option<String>,
    pub subject_code: Option<String>,
    pub held_only: bool,
    pub limit: i64,
    pub offset: i64,
}

/// Records for staff, newest recorded first, with the total.
pub fn search_records(conn: &mut Conn, q: &RecordQuery) -> Result<(Vec<RecordWithSubject>, i64)> {
    let mut clauses = Vec::new();
    let mut ps: Vec<Value> = Vec::new();
    if let Some(k) = &q.kind {
        clauses.push("r.kind = ?");
        ps.push(k.into());
    }
    if let Some(c) = &q.subject_code {
        clauses.push("r.subject_code = ?");
        ps.push(c.into());
    }
    if q.held_only {
        clauses.push("r.held = 1");
    }
    let wh = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let total: i64 = conn
        .query_row(&format!("SELECT count(*) FROM credit_records r{wh}"), &ps)?
        .get(0)?;
    let mut page = ps.clone();
    page.push(q.limit.clamp(1, 500).into());
    page.push(q.offset.max(0).into());
    let rows = conn
        .query(
            &format!("SELECT {RECORD_COLS}, s.name FROM credit_records r JOIN subjects s ON s.id = r.subject_id{wh} \
                      ORDER BY r.id DESC LIMIT ? OFFSET ?"),
            &page,
        )?
        .iter()
        .map(with_subject)
        .collect::<Result<Vec<_>>>()?;
    Ok((rows, total))
}

/// Records the publication report must look at on `as_of`: published late by then, or not
/// published by then with a deadline on or before `due_until`. Revoked and corrected
/// records need no publication and are left out unless they were published late.
pub fn publication_candidates(
    conn: &mut Conn,
    as_of: NaiveDate,
    due_until: NaiveDate,
) -> Result<Vec<RecordWithSubject>> {
    publication_candidates_since(conn, as_of, due_until, None)
}

/// [`publication_candidates`], with the late publications limited to those published on or
/// after `late_since` (the staff page looks back one year; the full report has no bound).
pub fn publication_candidates_since(
    conn: &mut Conn,
    as_of: NaiveDate,
    due_until: NaiveDate,
    late_since: Option<NaiveDate>,
) -> Result<Vec<RecordWithSubject>> {
    let (late_from, mut ps) = match late_since {
        Some(d) => (" AND r.published_on >= ?", params![as_of, as_of, d]),
        None => ("", params![as_of, as_of]),
    };
    ps.extend(params![as_of, due_until]);
    conn.query(
        &format!("SELECT {RECORD_COLS}, s.name FROM credit_records r JOIN subjects s ON s.id = r.subject_id \
                  WHERE r.publish_deadline IS NOT NULL AND r.decision_date <= ? AND ( \
                    (r.published_on IS NOT NULL AND r.published_on <= ?{late_from} \
                        AND r.published_on > r.publish_deadline) \
                    OR ((r.published_on IS NULL OR r.published_on > ?) AND r.publish_deadline <= ? \
                        AND r.status NOT IN ('corrected', 'revoked'))) \
                  ORDER BY r.publish_deadline, r.id"),
        &ps,
    )?
    .iter()
    .map(with_subject)
    .collect()
}

/// Records awaiting publication today whose deadline is on or before `due_until` (missing or
/// due soon): the unpublished part of [`publication_candidates`] on `today`. A publication
/// day is only ever set to the day it is written, so on `today` no record is "published
/// after the day asked about" and the unpublished ones are those without one. They are read
/// from their partial index (migration 0015), not from the deadline index of every record.
pub fn count_awaiting_publication(
    conn: &mut Conn,
    today: NaiveDate,
    due_until: NaiveDate,
) -> Result<i64> {
    conn.query_row(COUNT_AWAITING_PUBLICATION, &params![today, due_until])?
        .get(0)
}

/// The query of [`count_awaiting_publication`] (`today`, `due_until`).
pub const COUNT_AWAITING_PUBLICATION: &str =
    "SELECT count(*) FROM credit_records r WHERE r.published_on IS NULL AND r.publish_deadline IS NOT NULL \
     AND r.decision_date <= ? AND r.publish_deadline <= ? AND r.status NOT IN ('corrected', 'revoked')";

/// Records of kinds with a publication deadline that are missing their deadline or were
/// decided in `[from, to]`.
pub fn records_for_deadlines(
    conn: &mut Conn,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<RecordRow>> {
    conn.query(
        &format!("SELECT {RECORD_COLS} FROM credit_records r \
                  WHERE (r.publish_deadline IS NULL OR r.decision_date BETWEEN ? AND ?) \
                  AND r.kind IN (SELECT code FROM catalog_kinds WHERE publish_workdays IS NOT NULL AND is_public = 1)"),
        &params![from, to],
    )?
    .iter()
    .map(record)
    .collect()
}

/// Active records whose publicity ended on or before `on` (to be marked expired).
pub fn records_past_publicity(conn: &mut Conn, on: NaiveDate) -> Result<Vec<RecordRow>> {
    records_past_publicity_limit(conn, on, i64::MAX)
}

/// At most `limit` of [`records_past_publicity`] (the upkeep works in chunks).
pub fn records_past_publicity_limit(
    conn: &mut Conn,
    on: NaiveDate,
    limit: i64,
) -> Result<Vec<RecordRow>> {
    conn.query(
        &format!(
            "SELECT {RECORD_COLS} FROM credit_records r WHERE r.status = 'active' \
                  AND r.publicity_until IS NOT NULL AND r.publicity_until <= ? ORDER BY r.id LIMIT ?"
        ),
        &params![on, limit],
    )?
    .iter()
    .map(record)
    .collect()
}

/// Remember the day a record stopped counting (corrected, revoked, repaired): the grade as of
/// an earlier day still counts it.
pub fn set_ended_on(conn: &mut Conn, id: i64, day: NaiveDate) -> Result<()> {
    conn.execute(
        "UPDATE credit_records SET ended_on = ? WHERE id = ? AND ended_on IS NULL",
        &params![day, id],
    )?;
    digests::refresh_of_record(conn, id)
}

/// Set a computed deadline without a new version (it is derived from the decision date and
/// the calendar, not a fact).
pub fn set_deadline(conn: &mut Conn, id: i64, deadline: Option<NaiveDate>) -> Result<()> {
    conn.execute(
        "UPDATE credit_records SET publish_deadline = ? WHERE id = ?",
        &params![deadline, id],
    )?;
    Ok(())
}

/// `column` within the optional bounds, as a condition and its parameters (no untyped NULL
/// parameters: PostgreSQL cannot type `? IS NULL`).
fn date_range(
    column: &str,
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
) -> (String, Vec<Value>) {
    let mut wh = vec!["1 = 1".to_owned()];
    let mut ps = Vec::new();
    if let Some(d) = since {
        wh.push(format!("{column} >= ?"));
        ps.push(Value::from(d));
    }
    if let Some(d) = until {
        wh.push(format!("{column} <= ?"));
        ps.push(Value::from(d));
    }
    (wh.join(" AND "), ps)
}

/// Visit records decided in `[since, until]` (either bound optional), in decision order.
pub fn each_record_decided<E: From<StoreError>>(
    conn: &mut Conn,
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
    mut f: impl FnMut(RecordWithSubject) -> Result<(), E>,
) -> Result<(), E> {
    let (wh, ps) = date_range("r.decision_date", since, until);
    conn.query_each(
        &format!("SELECT {RECORD_COLS}, s.name FROM credit_records r JOIN subjects s ON s.id = r.subject_id \
                  WHERE {wh} ORDER BY r.decision_date, r.id"),
        &ps,
        |r| f(with_subject(&r)?),
    )
}

// ---------------------------------------------------------------------------------------------
// Lists

/// A list entry as stored.
#[derive(Debug, Clone)]
pub struct ListRow {
    pub id: i64,
    pub subject_id: i64,
    pub data: ListEntryData,
    pub version: i64,
    pub content_hash: String,
    pub created_at: String,
    pub updated_at: String,
}

const LIST_COLS: &str =
    "l.id, l.subject_id, l.data, l.version, l.content_hash, l.created_at, l.updated_at";

fn list_row(r: &Row) -> Result<ListRow> {
    let data: String = r.get(2)?;
    Ok(ListRow {
        id: r.get(0)?,
        subject_id: r.get(1)?,
        data: serde_json::from_str(&data).map_err(|e| bad("list entry", e))?,
        version: r.get(3)?,
        content_hash: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

/// Stored entries of the given subjects: key `code␟type␟decision` → row.
pub fn entries_by_codes(conn: &mut Conn, codes: &[&str]) -> Result<HashMap<String, ListRow>> {
    let mut out = HashMap::new();
    for chunk in codes.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let ps: Vec<Value> = chunk.iter().map(|c| Value::from(*c)).collect();
        for r in conn.query(
            &format!("SELECT {LIST_COLS} FROM list_entries l WHERE l.subject_code IN ({marks})"),
            &ps,
        )? {
            let row = list_row(&r)?;
            let d = &row.data;
            out.insert(
                format!(
                    "{}\u{1f}{}\u{1f}{}",
                    d.subject_code,
                    d.list_type.as_str(),
                    d.decision_number
                ),
                row,
            );
        }
    }
    Ok(out)
}

pub fn insert_entry(
    conn: &mut Conn,
    subject_id: i64,
    d: &ListEntryData,
    hash: &str,
    p: &Provenance<'_>,
) -> Result<i64> {
    let json = serde_json::to_string(d).expect("list entry serialises");
    let id = conn.insert_id(
        "INSERT INTO list_entries (subject_id, subject_code, list_type, decision_number, entered_on, term_until, exited_on, \
         data, version, content_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?) RETURNING id",
        &params![
            subject_id,
            d.subject_code.as_str(),
            d.list_type.as_str(),
            d.decision_number.as_str(),
            d.entered_on,
            d.term_until,
            d.exited_on,
            json.as_str(),
            hash,
            p.now,
            p.now
        ],
    )?;
    entry_version(conn, id, 1, &json, hash, p)?;
    Ok(id)
}

pub fn update_entry(
    conn: &mut Conn,
    id: i64,
    expected_version: i64,
    d: &ListEntryData,
    hash: &str,
    p: &Provenance<'_>,
) -> Result<i64> {
    let version = expected_version + 1;
    let json = serde_json::to_string(d).expect("list entry serialises");
    let n = conn.execute(
        "UPDATE list_entries SET entered_on = ?, term_until = ?, exited_on = ?, data = ?, version = ?, content_hash = ?, \
         updated_at = ? WHERE id = ? AND version = ?",
        &params![
            d.entered_on,
            d.term_until,
            d.exited_on,
            json.as_str(),
            version,
            hash,
            p.now,
            id,
            expected_version
        ],
    )?;
    if n == 0 {
        return Err(StoreError::Conflict(
            "名单记录已被他人修改，请刷新后重试".into(),
        ));
    }
    entry_version(conn, id, version, &json, hash, p)?;
    Ok(version)
}

fn entry_version(
    conn: &mut Conn,
    id: i64,
    version: i64,
    json: &str,
    hash: &str,
    p: &Provenance<'_>,
) -> Result<()> {
    conn.execute(
        "INSERT INTO list_entry_versions (entry_id, version, data, content_hash, source, actor, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        &params![id, version, json, hash, p.source, p.actor, p.reason, p.now],
    )?;
    Ok(())
}

pub fn entry_by_id(conn: &mut Conn, id: i64) -> Result<Option<ListRow>> {
    conn.query_opt(
        &format!("SELECT {LIST_COLS} FROM list_entries l WHERE l.id = ?"),
        &params![id],
    )?
    .map(|r| list_row(&r))
    .transpose()
}

/// Every entry of a subject, newest first.
pub fn entries_of_subject(conn: &mut Conn, subject_id: i64) -> Result<Vec<ListRow>> {
    conn.query(
        &format!("SELECT {LIST_COLS} FROM list_entries l WHERE l.subject_id = ? ORDER BY l.entered_on DESC, l.id DESC"),
        &params![subject_id],
    )?
    .iter()
    .map(list_row)
    .collect()
}

/// An entry with its subject's current name.
#[derive(Debug, Clone)]
pub struct ListRowWithSubject {
    pub entry: ListRow,
    pub subject_name: String,
}

/// The members of a list on `on` (entered by then, not ended by then), newest first, and
/// their number.
pub fn members(
    conn: &mut Conn,
    list_type: &str,
    on: NaiveDate,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ListRowWithSubject>, i64)> {
    let cond =
        "l.list_type = ? AND l.entered_on <= ? AND (l.exited_on IS NULL OR l.exited_on > ?) \
                AND (l.term_until IS NULL OR l.term_until > ?)";
    let ps = params![list_type, on, on, on];
    let total: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM list_entries l WHERE {cond}"),
            &ps,
        )?
        .get(0)?;
    let mut page = ps.clone();
    page.extend(params![limit.clamp(1, 500), offset.max(0)]);
    let rows = conn
        .query(
            &format!("SELECT {LIST_COLS}, s.name FROM list_entries l JOIN subjects s ON s.id = l.subject_id WHERE {cond} \
                      ORDER BY l.entered_on DESC, l.id DESC LIMIT ? OFFSET ?"),
            &page,
        )?
        .iter()
        .map(|r| {
            Ok(ListRowWithSubject {
                entry: list_row(r)?,
                subject_name: r.get(7)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((rows, total))
}

/// Entries whose term has run out on or before `on` but that carry no exit yet.
pub fn entries_past_term(conn: &mut Conn, on: NaiveDate) -> Result<Vec<ListRow>> {
    entries_past_term_limit(conn, on, i64::MAX)
}

/// At most `limit` of [`entries_past_term`] (the upkeep works in chunks).
pub fn entries_past_term_limit(conn: &mut Conn, on: NaiveDate, limit: i64) -> Result<Vec<ListRow>> {
    conn.query(
        &format!("SELECT {LIST_COLS} FROM list_entries l WHERE l.exited_on IS NULL AND l.term_until IS NOT NULL AND l.term_until <= ? ORDER BY l.id LIMIT ?"),
        &params![on, limit],
    )?
    .iter()
    .map(list_row)
    .collect()
}

/// Visit list entries entered in `[since, until]`, in order.
pub fn each_entry_entered<E: From<StoreError>>(
    conn: &mut Conn,
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
    mut f: impl FnMut(ListRowWithSubject) -> Result<(), E>,
) -> Result<(), E> {
    let (wh, ps) = date_range("l.entered_on", since, until);
    conn.query_each(
        &format!("SELECT {LIST_COLS}, s.name FROM list_entries l JOIN subjects s ON s.id = l.subject_id \
                  WHERE {wh} ORDER BY l.entered_on, l.id"),
        &ps,
        |r| {
            f(ListRowWithSubject {
                entry: list_row(&r)?,
                subject_name: r.get(7)?,
            })
        },
    )
}

/// Counts for the workspace: records by kind and list members today.
pub fn counts(conn: &mut Conn, today: NaiveDate) -> Result<(i64, i64, i64, i64)> {
    let r = conn.query_row(
        "SELECT (SELECT count(*) FROM credit_records WHERE kind = 'penalty'), \
                (SELECT count(*) FROM credit_records WHERE kind = 'license'), \
                (SELECT count(*) FROM credit_records), \
                (SELECT count(*) FROM list_entries l WHERE l.entered_on <= ? AND (l.exited_on IS NULL OR l.exited_on > ?) \
                   AND (l.term_until IS NULL OR l.term_until > ?))",
        &params![today, today, today],
    )?;
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}
