//! The subject registry: the current version in `subjects` (with its provenance), every
//! version it superseded in `subject_versions` (written when it is superseded).

use std::collections::HashMap;

use xinjian_core::subject::{CodeFlag, RegStatus, SubjectData, SubjectKind};

use crate::{params, Conn, Result, Row, StoreError, Value};

/// A subject as stored: its registry data plus bookkeeping columns.
#[derive(Debug, Clone)]
pub struct SubjectRow {
    pub id: i64,
    pub data: SubjectData,
    pub version: i64,
    pub content_hash: String,
    pub created_at: String,
    /// When the current version was recorded.
    pub updated_at: String,
    /// Where the current version came from (`import:ID`, `manual`, …), who recorded it and why.
    pub source: String,
    pub actor: String,
    pub reason: Option<String>,
}

pub(crate) const COLS: &str = "id, code, code_flag, name, kind, entity_type, legal_rep, legal_rep_id, address, division_code, \
     business_scope, established_on, reg_status, reg_authority, industry, version, content_hash, created_at, updated_at, person_id, source, actor, reason";

fn bad(what: &str, v: String) -> StoreError {
    StoreError::Migration(format!("stored {what} not understood: {v}"))
}

pub(crate) fn subject(r: &Row) -> Result<SubjectRow> {
    let kind: String = r.get(4)?;
    let status: String = r.get(12)?;
    let flag: Option<String> = r.get(2)?;
    Ok(SubjectRow {
        id: r.get(0)?,
        data: SubjectData {
            code: r.get(1)?,
            code_flag: flag.as_deref().and_then(CodeFlag::parse),
            name: r.get(3)?,
            kind: SubjectKind::parse(&kind).ok_or_else(|| bad("kind", kind.clone()))?,
            entity_type: r.get(5)?,
            legal_rep: r.get(6)?,
            legal_rep_id: r.get(7)?,
            address: r.get(8)?,
            division_code: r.get(9)?,
            business_scope: r.get(10)?,
            established_on: r.get(11)?,
            reg_status: RegStatus::parse(&status).ok_or_else(|| bad("status", status.clone()))?,
            reg_authority: r.get(13)?,
            industry: r.get(14)?,
            person_id: r.get(19)?,
        },
        version: r.get(15)?,
        content_hash: r.get(16)?,
        created_at: r.get(17)?,
        updated_at: r.get(18)?,
        source: r.get(20)?,
        actor: r.get(21)?,
        reason: r.get(22)?,
    })
}

fn data_params(d: &SubjectData) -> Vec<Value> {
    params![
        d.code.as_str(),
        d.code_flag.map(|f| f.as_str()),
        d.name.as_str(),
        d.kind.as_str(),
        d.entity_type.as_deref(),
        d.legal_rep.as_deref(),
        d.legal_rep_id.as_deref(),
        d.address.as_deref(),
        d.division_code.as_deref(),
        d.business_scope.as_deref(),
        d.established_on,
        d.reg_status.as_str(),
        d.reg_authority.as_deref(),
        d.industry.as_deref(),
        d.person_id.as_deref(),
        i64::from(d.offers_bookkeeping())
    ]
}

/// Where a version came from.
#[derive(Debug, Clone)]
pub struct Provenance<'a> {
    /// `import:ID`, `manual`, `demo`.
    pub source: &'a str,
    pub actor: &'a str,
    pub reason: Option<&'a str>,
    pub now: &'a str,
}

pub fn by_code(conn: &mut Conn, code: &str) -> Result<Option<SubjectRow>> {
    conn.query_opt(
        &format!("SELECT {COLS} FROM subjects WHERE code = ?"),
        &params![code],
    )?
    .map(|r| subject(&r))
    .transpose()
}

/// The natural person registered with this resident ID number (normalised), if any.
pub fn by_person_id(conn: &mut Conn, person_id: &str) -> Result<Option<SubjectRow>> {
    conn.query_opt(
        &format!("SELECT {COLS} FROM subjects WHERE person_id = ?"),
        &params![person_id],
    )?
    .map(|r| subject(&r))
    .transpose()
}

/// The registry keys of the natural persons registered with these ID numbers, by number.
pub fn keys_by_person_ids(conn: &mut Conn, ids: &[&str]) -> Result<HashMap<String, String>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let ps: Vec<Value> = chunk.iter().map(|c| Value::from(*c)).collect();
        conn.query_each(
            &format!("SELECT person_id, code FROM subjects WHERE person_id IN ({marks})"),
            &ps,
            |r| {
                out.insert(r.get(0)?, r.get(1)?);
                Ok::<(), StoreError>(())
            },
        )?;
    }
    Ok(out)
}

/// Current `(id, version, content_hash)` of the given codes that exist.
pub fn current_hashes(
    conn: &mut Conn,
    codes: &[&str],
) -> Result<HashMap<String, (i64, i64, String)>> {
    let mut out = HashMap::with_capacity(codes.len());
    for chunk in codes.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let ps: Vec<Value> = chunk.iter().map(|c| Value::from(*c)).collect();
        conn.query_each(
            &format!(
                "SELECT code, id, version, content_hash FROM subjects WHERE code IN ({marks})"
            ),
            &ps,
            |r| {
                out.insert(r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?));
                Ok::<(), StoreError>(())
            },
        )?;
    }
    Ok(out)
}

/// `(id, registration status)` of the given codes that exist.
pub fn ids_by_codes(conn: &mut Conn, codes: &[&str]) -> Result<HashMap<String, (i64, RegStatus)>> {
    let mut out = HashMap::with_capacity(codes.len());
    for chunk in codes.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let ps: Vec<Value> = chunk.iter().map(|c| Value::from(*c)).collect();
        conn.query_each(
            &format!("SELECT code, id, reg_status FROM subjects WHERE code IN ({marks})"),
            &ps,
            |r| {
                let s: String = r.get(2)?;
                let status = RegStatus::parse(&s).ok_or_else(|| bad("status", s.clone()))?;
                out.insert(r.get(0)?, (r.get(1)?, status));
                Ok::<(), StoreError>(())
            },
        )?;
    }
    Ok(out)
}

/// A new subject for [`insert_batch`]: its data and content hash.
#[derive(Debug, Clone, Copy)]
pub struct NewSubject<'a> {
    pub data: &'a SubjectData,
    pub hash: &'a str,
}

/// The insert of a new subject as version 1 (a macro, so that its variant below is a constant too).
macro_rules! insert_subject_sql {
    () => {
        "INSERT INTO subjects (code, code_flag, name, kind, entity_type, legal_rep, legal_rep_id, address, division_code, \
         business_scope, established_on, reg_status, reg_authority, industry, person_id, offers_bookkeeping, version, content_hash, created_at, \
         updated_at, source, actor, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)"
    };
}
const INSERT_SUBJECT: &str = insert_subject_sql!();
const INSERT_SUBJECT_IF_ABSENT: &str =
    concat!(insert_subject_sql!(), " ON CONFLICT (code) DO NOTHING");

/// Insert many new subjects, each as version 1 — the bulk path of imports. On SQLite it binds
/// borrowed values straight into prepared statements; on PostgreSQL it sends many rows a
/// statement.
pub fn insert_batch(conn: &mut Conn, items: &[NewSubject<'_>], p: &Provenance<'_>) -> Result<()> {
    if let Some(c) = conn.as_sqlite() {
        sqlite_insert(c, INSERT_SUBJECT, items, p, |_| {})?;
        return Ok(());
    }
    pg_insert(conn, items, p)
}

/// Insert those of `items` whose code is not in the registry yet, each as version 1, and
/// return the positions of the others (nothing of them is written). The bulk path of an
/// import whose rows are mostly new: one seek in the code index a row instead of a lookup
/// and then an insert. Codes must be distinct.
pub fn insert_absent(
    conn: &mut Conn,
    items: &[NewSubject<'_>],
    p: &Provenance<'_>,
) -> Result<Vec<usize>> {
    let mut present = Vec::new();
    if let Some(c) = conn.as_sqlite() {
        sqlite_insert(c, INSERT_SUBJECT_IF_ABSENT, items, p, |i| present.push(i))?;
        return Ok(present);
    }
    let codes: Vec<&str> = items.iter().map(|it| it.data.code.as_str()).collect();
    let stored = current_hashes(conn, &codes)?;
    let mut absent = Vec::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        if stored.contains_key(&it.data.code) {
            present.push(i);
        } else {
            absent.push(NewSubject {
                data: it.data,
                hash: it.hash,
            });
        }
    }
    pg_insert(conn, &absent, p)?;
    Ok(present)
}

/// SQLite's bulk insert: borrowed values bound straight into prepared statements, and the
/// name index kept in step. `skipped(i)` hears of the items the statement did not insert
/// (`ON CONFLICT … DO NOTHING`).
fn sqlite_insert(
    c: &rusqlite::Connection,
    sql: &str,
    items: &[NewSubject<'_>],
    p: &Provenance<'_>,
    mut skipped: impl FnMut(usize),
) -> Result<()> {
    let mut subject = c.prepare_cached(sql)?;
    let mut names = c.prepare_cached(INSERT_NAME)?;
    let mut grams = String::new();
    for (i, it) in items.iter().enumerate() {
        let d = it.data;
        let inserted = subject.execute(rusqlite::params![
            d.code,
            d.code_flag.map(|f| f.as_str()),
            d.name,
            d.kind.as_str(),
            d.entity_type,
            d.legal_rep,
            d.legal_rep_id,
            d.address,
            d.division_code,
            d.business_scope,
            d.established_on.map(|x| x.to_string()),
            d.reg_status.as_str(),
            d.reg_authority,
            d.industry,
            d.person_id,
            d.offers_bookkeeping(),
            it.hash,
            p.now,
            p.now,
            p.source,
            p.actor,
            p.reason
        ])?;
        if inserted == 0 {
            skipped(i);
            continue;
        }
        let id = c.last_insert_rowid();
        if d.kind != SubjectKind::NaturalPerson {
            name_grams_into(&d.name, &mut grams);
            names.execute(rusqlite::params![id, grams])?;
        }
    }
    Ok(())
}

/// PostgreSQL's bulk insert: many rows a statement (its name index is maintained by the
/// database).
fn pg_insert(conn: &mut Conn, items: &[NewSubject<'_>], p: &Provenance<'_>) -> Result<()> {
    let rows: Vec<Vec<Value>> = items
        .iter()
        .map(|it| {
            let mut ps = data_params(it.data);
            ps.extend(params![it.hash, p.now, p.now, p.source, p.actor, p.reason]);
            ps
        })
        .collect();
    conn.insert_many(INSERT_SUBJECT, &rows)
}

/// Insert a new subject as version 1.
pub fn insert(conn: &mut Conn, d: &SubjectData, hash: &str, p: &Provenance<'_>) -> Result<i64> {
    let mut ps = data_params(d);
    ps.extend(params![hash, p.now, p.now, p.source, p.actor, p.reason]);
    let id = conn.insert_id(&format!("{INSERT_SUBJECT} RETURNING id"), &ps)?;
    index_name(conn, id, d, false)?;
    Ok(id)
}

/// Record a new version of an existing subject: the current version goes to the history
/// (`subject_versions`) and the new one takes its place. `expected_version` guards against a
/// concurrent writer: if the stored version moved on, nothing is written and `Conflict` returned.
pub fn update(
    conn: &mut Conn,
    id: i64,
    expected_version: i64,
    d: &SubjectData,
    hash: &str,
    p: &Provenance<'_>,
) -> Result<i64> {
    let conflict = || StoreError::Conflict(format!("主体 {} 已被他人修改，请刷新后重试", d.code));
    let old = by_id(conn, id)?.ok_or_else(conflict)?;
    if old.version != expected_version {
        return Err(conflict());
    }
    let version = expected_version + 1;
    let mut ps = data_params(d);
    ps.extend(params![
        version,
        hash,
        p.now,
        p.source,
        p.actor,
        p.reason,
        id,
        expected_version
    ]);
    let n = conn.execute(
        "UPDATE subjects SET code = ?, code_flag = ?, name = ?, kind = ?, entity_type = ?, legal_rep = ?, legal_rep_id = ?, \
         address = ?, division_code = ?, business_scope = ?, established_on = ?, reg_status = ?, reg_authority = ?, \
         industry = ?, person_id = ?, offers_bookkeeping = ?, version = ?, content_hash = ?, updated_at = ?, source = ?, actor = ?, reason = ? \
         WHERE id = ? AND version = ?",
        &ps,
    )?;
    if n == 0 {
        return Err(conflict());
    }
    let json = serde_json::to_string(&old.data).expect("subject data serialises");
    conn.execute(
        "INSERT INTO subject_versions (subject_id, version, data, content_hash, source, actor, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        &params![
            id,
            old.version,
            json,
            old.content_hash.as_str(),
            old.source.as_str(),
            old.actor.as_str(),
            old.reason.as_deref(),
            old.updated_at.as_str()
        ],
    )?;
    index_name(conn, id, d, true)?;
    Ok(version)
}

pub fn by_id(conn: &mut Conn, id: i64) -> Result<Option<SubjectRow>> {
    conn.query_opt(
        &format!("SELECT {COLS} FROM subjects WHERE id = ?"),
        &params![id],
    )?
    .map(|r| subject(&r))
    .transpose()
}

/// One historical version.
#[derive(Debug, Clone)]
pub struct VersionRow {
    pub version: i64,
    pub data: SubjectData,
    pub source: String,
    pub actor: String,
    pub reason: Option<String>,
    pub created_at: String,
}

/// All versions, oldest first: those superseded, then the current one. The current row is
/// read first and the history up to it, so a change committed in between is not half seen
/// (the history then already holds the version read as current).
pub fn versions(conn: &mut Conn, id: i64) -> Result<Vec<VersionRow>> {
    let Some(current) = by_id(conn, id)? else {
        return Ok(Vec::new());
    };
    let mut out: Vec<VersionRow> = conn
        .query(
            "SELECT version, data, source, actor, reason, created_at FROM subject_versions \
         WHERE subject_id = ? AND version < ? ORDER BY version",
            &params![id, current.version],
        )?
        .iter()
        .map(|r| {
            let json: String = r.get(1)?;
            Ok(VersionRow {
                version: r.get(0)?,
                data: serde_json::from_str(&json)
                    .map_err(|e| bad("version data", e.to_string()))?,
                source: r.get(2)?,
                actor: r.get(3)?,
                reason: r.get(4)?,
                created_at: r.get(5)?,
            })
        })
        .collect::<Result<_>>()?;
    out.push(VersionRow {
        version: current.version,
        data: current.data,
        source: current.source,
        actor: current.actor,
        reason: current.reason,
        created_at: current.updated_at,
    });
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Name search

const INSERT_NAME: &str = "INSERT INTO subject_names (rowid, grams) VALUES (?, ?)";

/// The searchable text of a name: its characters separated by spaces, the first one glued to
/// an `x` (`广元市` → `x广 元 市`). Every other token is one character, so the marked first
/// token is never confused with one. A substring that does not start the name is a phrase of
/// single-character tokens (`元 市`); a prefix is the same phrase with its first token marked
/// (`x广 元`). Both phrases are selective: no token is common to every name (a separate
/// start marker would be, and a phrase with it must read its whole doclist). PostgreSQL builds
/// the same text in SQL for its expression index (migration 0002).
pub fn name_grams(name: &str) -> String {
    let mut s = String::new();
    name_grams_into(name, &mut s);
    s
}

fn name_grams_into(name: &str, out: &mut String) {
    out.clear();
    out.push('x');
    for c in name.chars() {
        out.push(c);
        out.push(' ');
    }
}

/// Keep the SQLite search index in step with a name (PostgreSQL's index is maintained by
/// the database). Natural persons are not in it: the index serves the portal, which never
/// finds them, and its candidate limit applies before any filter (many people share a
/// surname, they would crowd out organisations).
fn index_name(conn: &mut Conn, id: i64, d: &SubjectData, replace: bool) -> Result<()> {
    if conn.backend() != crate::Backend::Sqlite {
        return Ok(());
    }
    if replace {
        conn.execute("DELETE FROM subject_names WHERE rowid = ?", &params![id])?;
    }
    if d.kind != SubjectKind::NaturalPerson {
        conn.execute(INSERT_NAME, &params![id, name_grams(&d.name)])?;
    }
    Ok(())
}

/// Rebuild the SQLite search index from the registry (migration 0002 on existing data).
pub(crate) fn rebuild_name_index(conn: &mut Conn) -> Result<()> {
    if conn.backend() != crate::Backend::Sqlite {
        return Ok(());
    }
    conn.execute("DELETE FROM subject_names", &[])?;
    let rows: Vec<(i64, String)> = conn
        .query(
            "SELECT id, name FROM subjects WHERE kind <> 'natural_person'",
            &[],
        )?
        .iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .collect::<Result<_>>()?;
    for (id, name) in rows {
        conn.execute(INSERT_NAME, &params![id, name_grams(&name)])?;
    }
    Ok(())
}

/// A search hit: enough to list and link a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameHit {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub reg_status: RegStatus,
    /// The code failed its check character (kept flagged): never shown publicly.
    pub flagged: bool,
}

/// How many matches of each phrase are ranked before the best `limit` are returned.
const CANDIDATES: i64 = 200;

/// Find subjects by a name fragment (any length, one Chinese character included) or by a
/// code or code prefix — the portal's search: natural persons are never found. Best first: the exact name, names starting with the text, then
/// names containing it, shorter names first. Uses the search index, never a table scan.
pub fn find(conn: &mut Conn, q: &str, limit: i64) -> Result<Vec<NameHit>> {
    let q = xinjian_core::text::normalize_text(q.trim());
    let limit = limit.clamp(1, 100);
    if q.is_empty() {
        return Ok(Vec::new());
    }
    let hit = |r: &Row| -> Result<NameHit> {
        let status: String = r.get(3)?;
        Ok(NameHit {
            id: r.get(0)?,
            code: r.get(1)?,
            name: r.get(2)?,
            reg_status: RegStatus::parse(&status).ok_or_else(|| bad("status", status.clone()))?,
            flagged: r.get::<Option<String>>(4)?.is_some(),
        })
    };
    if looks_like_code(&q) {
        let upper = q.to_ascii_uppercase();
        // A range on the unique code index: `code >= q AND code < q + '~'`.
        return conn
            .query(
                "SELECT id, code, name, reg_status, code_flag FROM subjects WHERE code >= ? AND code < ? AND kind <> 'natural_person' ORDER BY code LIMIT ?",
                &params![upper.as_str(), format!("{upper}~"), limit],
            )?
            .iter()
            .map(hit)
            .collect();
    }
    // Punctuation alone is not searchable (the index keeps letters and digits only), and
    // looking for it would mean reading the whole table.
    if !q.chars().any(char::is_alphanumeric) {
        return Ok(Vec::new());
    }
    let body: String = q.chars().flat_map(|c| [c, ' ']).collect();
    // Names starting with the text, then names containing it further on.
    let phrases = [format!("x{}", body.trim_end()), body.trim_end().to_owned()];
    let needle = q.to_lowercase();
    // Each pass is bounded by CANDIDATES; the union is ranked here. The index drops
    // punctuation, so the rank (and whether a name matches at all) is decided on the
    // normalised name itself.
    let mut found: Vec<(u8, usize, NameHit)> = Vec::new();
    for phrase in &phrases {
        let rows = match conn.backend() {
            crate::Backend::Sqlite => conn.query(
                "SELECT s.id, s.code, s.name, s.reg_status, s.code_flag FROM subjects s \
                 WHERE s.id IN (SELECT rowid FROM subject_names WHERE subject_names MATCH ? LIMIT ?) \
                 AND s.kind <> 'natural_person'",
                &params![format!("\"{}\"", phrase.replace('"', "\"\"")), CANDIDATES],
            )?,
            crate::Backend::Postgres => conn.query(
                "SELECT s.id, s.code, s.name, s.reg_status, s.code_flag FROM subjects s \
                 WHERE to_tsvector('simple', 'x' || regexp_replace(s.name, '(.)', '\\1 ', 'g')) \
                       @@ phraseto_tsquery('simple', ?) AND s.kind <> 'natural_person' LIMIT ?",
                &params![phrase.as_str(), CANDIDATES],
            )?,
        };
        for r in &rows {
            let h = hit(r)?;
            if found.iter().any(|(_, _, o)| o.id == h.id) {
                continue;
            }
            let name = xinjian_core::text::normalize_text(&h.name).to_lowercase();
            let rank = if name == needle {
                0
            } else if name.starts_with(&needle) {
                1
            } else if name.contains(&needle) {
                2
            } else {
                continue;
            };
            found.push((rank, name.chars().count(), h));
        }
    }
    found.sort_by_key(|(rank, len, h)| (*rank, *len, h.id));
    Ok(found
        .into_iter()
        .take(limit as usize)
        .map(|(_, _, h)| h)
        .collect())
}

/// Filters for the registry list.
#[derive(Debug, Clone, Default)]
pub struct SubjectQuery {
    /// Name fragment or code prefix.
    pub q: String,
    pub status: Option<RegStatus>,
    pub kind: Option<SubjectKind>,
    pub flagged_only: bool,
    pub bookkeeping_only: bool,
    pub limit: i64,
    pub offset: i64,
}

/// True when the text looks like (the start of) a code rather than a name.
pub fn looks_like_code(q: &str) -> bool {
    !q.is_empty()
        && q.len() <= 18
        && q.chars().all(|c| c.is_ascii_alphanumeric())
        && q.chars().any(|c| c.is_ascii_digit())
}

/// Search the registry; returns one page and the total count.
pub fn search(conn: &mut Conn, query: &SubjectQuery) -> Result<(Vec<SubjectRow>, i64)> {
    let mut clauses = Vec::new();
    let mut ps: Vec<Value> = Vec::new();
    let q = query.q.trim();
    // Best matches first: the exact name, then names starting with the text, then shorter names.
    let mut order = "id".to_owned();
    let mut order_ps: Vec<Value> = Vec::new();
    if !q.is_empty() {
        // ID numbers are never searched here (a person is looked up by number with
        // `by_person_id`, audited): the text is a code prefix or a name fragment.
        if looks_like_code(q) {
            clauses.push("code LIKE ?");
            ps.push(format!("{}%", q.to_ascii_uppercase()).into());
            order = "code".into();
        } else {
            // lower(): LIKE ignores ASCII case in SQLite but not in PostgreSQL.
            let clean = q.replace(['%', '_'], "").to_lowercase();
            clauses.push("lower(name) LIKE ?");
            ps.push(format!("%{clean}%").into());
            order =
                "CASE WHEN lower(name) = ? THEN 0 WHEN lower(name) LIKE ? THEN 1 ELSE 2 END, length(name), id"
                    .into();
            order_ps.push(clean.clone().into());
            order_ps.push(format!("{clean}%").into());
        }
    }
    if let Some(s) = query.status {
        clauses.push("reg_status = ?");
        ps.push(s.as_str().into());
    }
    if let Some(k) = query.kind {
        clauses.push("kind = ?");
        ps.push(k.as_str().into());
    }
    if query.flagged_only {
        clauses.push("code_flag IS NOT NULL");
    }
    if query.bookkeeping_only {
        clauses.push("offers_bookkeeping = 1");
    }
    let wh = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let total: i64 = conn
        .query_row(&format!("SELECT count(*) FROM subjects{wh}"), &ps)?
        .get(0)?;
    let mut page_ps = ps.clone();
    page_ps.extend(order_ps);
    page_ps.push(query.limit.clamp(1, 500).into());
    page_ps.push(query.offset.max(0).into());
    let rows = conn
        .query(
            &format!("SELECT {COLS} FROM subjects{wh} ORDER BY {order} LIMIT ? OFFSET ?"),
            &page_ps,
        )?
        .iter()
        .map(subject)
        .collect::<Result<Vec<_>>>()?;
    Ok((rows, total))
}

/// Counts for the registry overview.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RegistryStats {
    pub total: i64,
    pub active: i64,
    pub revoked: i64,
    pub deregistered: i64,
    pub moved_out: i64,
    /// 待核实: named by a credit record or list entry, not yet in a registry import.
    pub pending: i64,
    pub flagged: i64,
    pub bookkeeping: i64,
}

/// The query of [`stats`]' counts but those by status: each reads an index (the smallest
/// one of the registry for the total, the partial ones for the flagged codes and the
/// bookkeeping scopes), not the registry.
pub const STATS_COUNTS: &str = "SELECT (SELECT count(*) FROM subjects), \
     (SELECT count(*) FROM subjects WHERE code_flag IS NOT NULL), \
     (SELECT count(*) FROM subjects WHERE offers_bookkeeping = 1)";

/// The query of [`stats`]' counts by registration status: a scan of the registry (0.4-0.5 s
/// at 1,000,000 subjects). An index of the statuses would answer it from ~15 MB instead, but
/// costs every import 3 % more work (a seek per row: measured, session 18), so there is none.
pub const STATS_BY_STATUS: &str = "SELECT reg_status, count(*) FROM subjects GROUP BY reg_status";

pub fn stats(conn: &mut Conn) -> Result<RegistryStats> {
    // One snapshot: both statements see the same registry, and writers are not held.
    conn.read_snapshot(stats_in)
}

fn stats_in(conn: &mut Conn) -> Result<RegistryStats> {
    let r = conn.query_row(STATS_COUNTS, &[])?;
    let mut stats = RegistryStats {
        total: r.get(0)?,
        flagged: r.get(1)?,
        bookkeeping: r.get(2)?,
        ..RegistryStats::default()
    };
    conn.query_each(STATS_BY_STATUS, &[], |r| {
        let s: String = r.get(0)?;
        let n: i64 = r.get(1)?;
        match RegStatus::parse(&s).ok_or_else(|| bad("status", s.clone()))? {
            RegStatus::Active => stats.active = n,
            RegStatus::Revoked => stats.revoked = n,
            RegStatus::Deregistered => stats.deregistered = n,
            RegStatus::MovedOut => stats.moved_out = n,
            RegStatus::Pending => stats.pending = n,
        }
        Ok::<(), StoreError>(())
    })?;
    Ok(stats)
}

/// Set the bookkeeping flag of every subject whose scope names the activity to the core's rule
/// (`scope_offers_bookkeeping`), in both directions: the data step of migration 0016 (the flag
/// was not kept before) and of 0017 (the rule changed). Scopes without the words keep 0.
/// A change is audited, as every change to the registry is (it also tells a running server
/// that its kept reports are out of date).
pub(crate) fn mark_bookkeeping(conn: &mut Conn, migration: &str) -> Result<()> {
    let (mut set, mut clear) = (Vec::new(), Vec::new());
    // 代理记: the stem of both spellings, 代理记账 and 代理记帐.
    conn.query_each(
        "SELECT id, business_scope, offers_bookkeeping FROM subjects WHERE business_scope LIKE ?",
        &params!["%代理记%"],
        |r| {
            let scope: String = r.get(1)?;
            let stored = r.get::<i64>(2)? != 0;
            match (
                xinjian_core::subject::scope_offers_bookkeeping(&scope),
                stored,
            ) {
                (true, false) => set.push(r.get::<i64>(0)?),
                (false, true) => clear.push(r.get::<i64>(0)?),
                _ => {}
            }
            Ok::<(), StoreError>(())
        },
    )?;
    let changed = serde_json::json!({ "set": set.len(), "cleared": clear.len() });
    if set.is_empty() && clear.is_empty() {
        return Ok(());
    }
    for (flag, ids) in [(1, set), (0, clear)] {
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let mut ps: Vec<Value> = vec![Value::from(flag)];
            ps.extend(chunk.iter().map(|id| Value::from(*id)));
            conn.execute(
                &format!("UPDATE subjects SET offers_bookkeeping = ? WHERE id IN ({marks})"),
                &ps,
            )?;
        }
    }
    let migrate = crate::audit::AuditActor {
        actor: "system:migrate".into(),
        role: "system".into(),
    };
    crate::audit::append(
        conn,
        &migrate,
        "subject.bookkeeping.mark",
        &format!("migration:{migration}"),
        &changed,
    )?;
    Ok(())
}

/// A name registered under more than one code (重码 / 名称与代码冲突).
#[derive(Debug, Clone, serde::Serialize)]
pub struct NameConflict {
    pub name: String,
    pub codes: Vec<String>,
}

/// Names shared by several codes, most codes first (people sharing a name are no conflict).
pub fn name_conflicts(conn: &mut Conn, limit: i64) -> Result<Vec<NameConflict>> {
    let names: Vec<String> = conn
        .query(
            "SELECT name FROM subjects WHERE kind <> 'natural_person' GROUP BY name HAVING count(*) > 1 \
             ORDER BY count(*) DESC, name LIMIT ?",
            &params![limit],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect::<Result<_>>()?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    // Their codes in one pass over the registry (names have no index: a query per name
    // would scan it once per name).
    let mut codes: HashMap<String, Vec<String>> = HashMap::with_capacity(names.len());
    let marks = vec!["?"; names.len()].join(",");
    let ps: Vec<Value> = names.iter().map(|n| Value::from(n.as_str())).collect();
    conn.query_each(
        &format!(
            "SELECT name, code FROM subjects WHERE kind <> 'natural_person' AND name IN ({marks}) \
             ORDER BY code"
        ),
        &ps,
        |r| {
            codes.entry(r.get(0)?).or_default().push(r.get(1)?);
            Ok::<(), StoreError>(())
        },
    )?;
    Ok(names
        .into_iter()
        .map(|name| NameConflict {
            codes: codes.remove(&name).unwrap_or_default(),
            name,
        })
        .collect())
}

/// The query of [`flagged`] (one parameter: the limit); it reads the partial index of flagged
/// codes (migration 0014), not the registry.
pub fn flagged_sql() -> String {
    format!("SELECT {COLS} FROM subjects WHERE code_flag IS NOT NULL ORDER BY code LIMIT ?")
}

/// Flagged (check-digit failing) codes.
pub fn flagged(conn: &mut Conn, limit: i64) -> Result<Vec<SubjectRow>> {
    conn.query(&flagged_sql(), &params![limit])?
        .iter()
        .map(subject)
        .collect()
}
