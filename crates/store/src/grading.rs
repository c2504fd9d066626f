//! Credit grading: rule sets, the facts the evaluation reads, the stored evaluations, grade
//! events and evaluation runs.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use xinjian_core::credit::{ListType, Severity};
use xinjian_core::grade::{Grade, GradeListEntry, GradeRecord, GradeRules};
use xinjian_core::risk::Scorecard;

use crate::db::CopyRows;
use crate::{params, Conn, Result, Row, StoreError, Value};
use xinjian_core::dates::DateText;

fn bad(what: &str, v: impl std::fmt::Display) -> StoreError {
    StoreError::Migration(format!("stored {what} not understood: {v}"))
}

// ---------------------------------------------------------------------------------------------
// Rule sets

pub(crate) fn seed_rules(conn: &mut Conn, now: &str) -> Result<()> {
    save_rules(
        conn,
        &GradeRules::seed_004(),
        &Scorecard::default_card(),
        "system:migrate",
        now,
    )
}

/// Store a rule set as a new version and make it current. A version name is never reused.
pub fn save_rules(
    conn: &mut Conn,
    rules: &GradeRules,
    card: &Scorecard,
    actor: &str,
    now: &str,
) -> Result<()> {
    conn.execute("UPDATE grade_rule_sets SET is_current = 0", &[])?;
    conn.execute(
        "INSERT INTO grade_rule_sets (version, rules, scorecard, is_current, created_by, created_at) VALUES (?, ?, ?, 1, ?, ?)",
        &params![
            rules.version.as_str(),
            serde_json::to_string(rules).expect("rules serialise"),
            serde_json::to_string(card).expect("scorecard serialises"),
            actor,
            now
        ],
    )?;
    Ok(())
}

/// The current rule set.
pub fn current_rules(conn: &mut Conn) -> Result<(GradeRules, Scorecard)> {
    let r = conn.query_row(
        "SELECT rules, scorecard FROM grade_rule_sets WHERE is_current = 1",
        &[],
    )?;
    rule_pair(&r)
}

/// A rule set by version.
pub fn rules_version(conn: &mut Conn, version: &str) -> Result<Option<(GradeRules, Scorecard)>> {
    conn.query_opt(
        "SELECT rules, scorecard FROM grade_rule_sets WHERE version = ?",
        &params![version],
    )?
    .map(|r| rule_pair(&r))
    .transpose()
}

fn rule_pair(r: &Row) -> Result<(GradeRules, Scorecard)> {
    let rules: String = r.get(0)?;
    let card: String = r.get(1)?;
    Ok((
        serde_json::from_str(&rules).map_err(|e| bad("grade rules", e))?,
        serde_json::from_str(&card).map_err(|e| bad("scorecard", e))?,
    ))
}

/// `(version, created_by, created_at, is_current)`, newest first.
pub fn rule_versions(conn: &mut Conn) -> Result<Vec<(String, String, String, bool)>> {
    conn.query(
        "SELECT version, created_by, created_at, is_current FROM grade_rule_sets ORDER BY created_at DESC, version",
        &[],
    )?
    .iter()
    .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
    .collect()
}

// ---------------------------------------------------------------------------------------------
// Facts

/// The evaluated directory: subjects registered in the jurisdiction (存续 or 吊销), natural
/// persons excepted.
pub const EVALUATED: &str = "s.reg_status IN ('active', 'revoked') AND s.kind <> 'natural_person'";

/// A subject of the evaluated directory.
#[derive(Debug, Clone)]
pub struct EvaluatedSubject {
    pub id: i64,
    pub revoked: bool,
}

/// Visit the evaluated directory in id order.
pub fn each_evaluated<E: From<StoreError>>(
    conn: &mut Conn,
    mut f: impl FnMut(EvaluatedSubject) -> Result<(), E>,
) -> Result<(), E> {
    conn.query_each(
        &format!(
            "SELECT s.id, CASE WHEN s.reg_status = 'revoked' THEN 1 ELSE 0 END FROM subjects s \
             WHERE {EVALUATED} ORDER BY s.id"
        ),
        &[],
        |r| {
            let revoked: i64 = r.get(1)?;
            f(EvaluatedSubject {
                id: r.get(0)?,
                revoked: revoked == 1,
            })
        },
    )
}

/// `subject_id → (grade, content hash)` of stored evaluations.
pub type StoredHashes = HashMap<i64, (Grade, String)>;

/// What an incremental run needs to know of its candidates before evaluating them.
#[derive(Debug, Default)]
pub struct Candidates {
    /// Those in the evaluated directory, in id order, with their revoked flag.
    pub evaluated: Vec<EvaluatedSubject>,
    /// The grade and content hash of the stored evaluations among those.
    pub stored: StoredHashes,
    /// The others (not or no longer in the directory) that still have a stored evaluation,
    /// which they lose.
    pub stored_outside: Vec<i64>,
}

/// Which of these subjects are in the evaluated directory and which have a stored evaluation,
/// in one pass (an incremental run looks each changed subject up in both).
///
/// On SQLite the stored evaluations are read from `grades_hash` (subject, grade, hash; ~75
/// a page) rather than the table (~9 rows a page): every lookup reads a page, found or not,
/// and a run's candidates a hundred ids apart then share pages (1 M subjects, 1 % changed:
/// ~4,500 pages read instead of ~8,900).
pub fn candidates(conn: &mut Conn, ids: &[i64]) -> Result<Candidates> {
    let mut out = Candidates::default();
    let grades = match conn.backend() {
        crate::Backend::Sqlite => "grades g INDEXED BY grades_hash",
        crate::Backend::Postgres => "grades g",
    };
    for chunk in ids.chunks(conn.ids_per_statement()) {
        let (among, ps) = conn.ids_in("s.id", chunk);
        conn.query_each(
            &format!(
                "SELECT s.id, s.reg_status, CASE WHEN {EVALUATED} THEN 1 ELSE 0 END, g.grade, g.content_hash \
                 FROM subjects s LEFT JOIN {grades} ON g.subject_id = s.id WHERE {among} ORDER BY s.id"
            ),
            &ps,
            |r| {
                let id: i64 = r.get(0)?;
                let status: String = r.get(1)?;
                let evaluated = r.get::<i64>(2)? == 1;
                let stored = r.get::<Option<String>>(3)?;
                match (evaluated, stored) {
                    (true, stored) => {
                        out.evaluated.push(EvaluatedSubject {
                            id,
                            revoked: status == "revoked",
                        });
                        if let Some(g) = stored {
                            let grade = Grade::parse(&g).ok_or_else(|| bad("grade", &g))?;
                            out.stored.insert(id, (grade, r.get(4)?));
                        }
                    }
                    (false, Some(_)) => out.stored_outside.push(id),
                    (false, None) => {}
                }
                Ok::<(), StoreError>(())
            },
        )?;
    }
    Ok(out)
}

/// A record as the evaluation and the scorecard read it.
#[derive(Debug, Clone)]
pub struct FactRecord {
    pub subject_id: i64,
    pub record: GradeRecord,
}

const FACT_COLS: &str =
    "r.subject_id, r.kind, r.document_number, r.decision_date, r.severity, r.revokes_business_licence, r.ended_on";

fn fact(r: &Row) -> Result<FactRecord> {
    let sev: Option<String> = r.get(4)?;
    Ok(FactRecord {
        subject_id: r.get(0)?,
        record: GradeRecord {
            kind: xinjian_core::credit::kind_code(&r.get::<String>(1)?),
            document_number: r.get(2)?,
            decision_date: r.get(3)?,
            severity: sev.as_deref().and_then(Severity::parse),
            revokes_business_licence: r.get(5)?,
            ended_on: r.get(6)?,
        },
    })
}

/// A record as the evaluation reads it, borrowed from the row being read: most records of a
/// jurisdiction only add to the counts and are never kept, so nothing is copied for them.
#[derive(Debug, Clone, Copy)]
pub struct FactRef<'a> {
    pub subject_id: i64,
    pub kind: &'a str,
    pub document_number: &'a str,
    pub decision_date: NaiveDate,
    pub severity: Option<Severity>,
    pub revokes_business_licence: bool,
    pub ended_on: Option<NaiveDate>,
}

impl FactRef<'_> {
    pub fn to_record(&self) -> GradeRecord {
        GradeRecord {
            kind: xinjian_core::credit::kind_code(self.kind),
            document_number: self.document_number.to_owned(),
            decision_date: self.decision_date,
            severity: self.severity,
            revokes_business_licence: self.revokes_business_licence,
            ended_on: self.ended_on,
        }
    }
}

impl FactRecord {
    pub fn as_ref(&self) -> FactRef<'_> {
        FactRef {
            subject_id: self.subject_id,
            kind: &self.record.kind,
            document_number: &self.record.document_number,
            decision_date: self.record.decision_date,
            severity: self.record.severity,
            revokes_business_licence: self.record.revokes_business_licence,
            ended_on: self.record.ended_on,
        }
    }
}

/// The condition for records within reach of an evaluation as of `t` that reads from `since`:
/// decided in `(since, t]`, or business-licence revocations decided on or before `t` (with
/// [`crate::digests::FACT_SQL`]; the digests apply the same as [`crate::digests::in_reach`]).
/// Parameters: `t`, `since`.
const REACH_SQL: &str =
    "r.decision_date <= ? AND (r.decision_date > ? OR r.revokes_business_licence = 1)";

/// Every fact (all dates) of the records matching `cond`, in subject order: what the digests
/// are made of.
pub(crate) fn all_facts_where(
    conn: &mut Conn,
    cond: &str,
    ps: &[Value],
) -> Result<Vec<FactRecord>> {
    conn.query(
        &format!(
            "SELECT {FACT_COLS} FROM credit_records r WHERE {} AND {cond} ORDER BY r.subject_id",
            crate::digests::FACT_SQL
        ),
        ps,
    )?
    .iter()
    .map(fact)
    .collect()
}

/// The facts of these subjects, read from their records (a single subject's grade; bulk runs
/// read the digests, [`crate::digests::facts_of`]).
pub fn facts_of(
    conn: &mut Conn,
    ids: &[i64],
    since: NaiveDate,
    t: NaiveDate,
) -> Result<Vec<FactRecord>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let mut ps = params![t, since];
        ps.extend(chunk.iter().map(|c| Value::from(*c)));
        for r in conn.query(
            &format!(
                "SELECT {FACT_COLS} FROM credit_records r WHERE {} AND {REACH_SQL} AND r.subject_id IN ({marks})",
                crate::digests::FACT_SQL
            ),
            &ps,
        )? {
            out.push(fact(&r)?);
        }
    }
    Ok(out)
}

/// List entries on a list on `t` (all lists: the grade reads the serious list, the scorecard
/// the others), by subject.
pub fn lists_on(
    conn: &mut Conn,
    t: NaiveDate,
    ids: Option<&[i64]>,
) -> Result<Vec<(i64, GradeListEntry)>> {
    let base = "SELECT l.subject_id, l.list_type, l.decision_number, l.entered_on, l.exited_on, l.term_until \
                FROM list_entries l WHERE l.entered_on <= ? AND (l.exited_on IS NULL OR l.exited_on > ?) \
                AND (l.term_until IS NULL OR l.term_until > ?)";
    let row = |r: &Row| -> Result<(i64, GradeListEntry)> {
        let lt: String = r.get(1)?;
        let exited: Option<NaiveDate> = r.get(4)?;
        let term: Option<NaiveDate> = r.get(5)?;
        Ok((
            r.get(0)?,
            GradeListEntry {
                list_type: ListType::parse(&lt).ok_or_else(|| bad("list type", &lt))?,
                decision_number: r.get(2)?,
                entered_on: r.get(3)?,
                ends_on: match (exited, term) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                },
            },
        ))
    };
    let mut out = Vec::new();
    match ids {
        None => {
            for r in conn.query(base, &params![t, t, t])? {
                out.push(row(&r)?);
            }
        }
        Some(ids) => {
            for chunk in ids.chunks(conn.ids_per_statement()) {
                let (among, ids_ps) = conn.ids_in("l.subject_id", chunk);
                let mut ps = params![t, t, t];
                ps.extend(ids_ps);
                for r in conn.query(&format!("{base} AND {among}"), &ps)? {
                    out.push(row(&r)?);
                }
            }
        }
    }
    Ok(out)
}

/// For subjects of the evaluated directory whose status is 吊销: the day (China time) the platform recorded
/// it — the first version of the latest unbroken run of 吊销 versions (the current version, in
/// `subjects`, ends the run; earlier ones are in `subject_versions`). Registry exports do not
/// say when a licence was revoked; a grade as of an earlier day is what the platform knew then.
pub fn revoked_since(conn: &mut Conn, ids: Option<&[i64]>) -> Result<HashMap<i64, NaiveDate>> {
    // Subjects of the evaluated directory only (the others are never evaluated); the current
    // versions are read from the directory's index.
    let history = format!(
        "SELECT v.subject_id, v.data, v.created_at FROM subject_versions v JOIN subjects s ON s.id = v.subject_id \
         WHERE {EVALUATED} AND s.reg_status = 'revoked'"
    );
    let current = format!(
        "SELECT s.id, s.updated_at FROM subjects s WHERE {EVALUATED} AND s.reg_status = 'revoked'"
    );
    let mut rows: Vec<(i64, String, String)> = Vec::new();
    let mut now_revoked: Vec<(i64, String)> = Vec::new();
    // `among`: the subject ids given, or all revoked subjects.
    let mut collect = |conn: &mut Conn, among: Option<&[i64]>| -> Result<()> {
        let ((in_history, history_ps), (in_current, current_ps)) = match among {
            Some(ids) => {
                let (h, hp) = conn.ids_in("v.subject_id", ids);
                let (c, cp) = conn.ids_in("s.id", ids);
                ((format!(" AND {h}"), hp), (format!(" AND {c}"), cp))
            }
            None => ((String::new(), Vec::new()), (String::new(), Vec::new())),
        };
        conn.query_each(
            &format!("{history}{in_history} ORDER BY v.subject_id, v.version"),
            &history_ps,
            |r| {
                rows.push((r.get(0)?, r.get(1)?, r.get(2)?));
                Ok::<(), StoreError>(())
            },
        )?;
        conn.query_each(&format!("{current}{in_current}"), &current_ps, |r| {
            now_revoked.push((r.get(0)?, r.get(1)?));
            Ok::<(), StoreError>(())
        })
    };
    match ids {
        None => collect(conn, None)?,
        Some(ids) => {
            for chunk in ids.chunks(conn.ids_per_statement()) {
                collect(conn, Some(chunk))?;
            }
        }
    }
    // The day in China (the platform's days are UTC+8) a version was recorded.
    let china_day = |at: &str| {
        chrono::DateTime::parse_from_rfc3339(at)
            .map(|t| (t.with_timezone(&chrono::Utc) + chrono::Duration::hours(8)).date_naive())
            .map_err(|e| bad("version time", e))
    };
    // The start of the trailing run of 吊销 among the superseded versions, if the last one is.
    let mut out = HashMap::new();
    for (id, data, at) in rows {
        let revoked = serde_json::from_str::<serde_json::Value>(&data)
            .ok()
            .and_then(|v| {
                v.get("reg_status")
                    .and_then(|s| s.as_str())
                    .map(|s| s == "revoked")
            })
            .unwrap_or(false);
        if revoked {
            if let std::collections::hash_map::Entry::Vacant(e) = out.entry(id) {
                e.insert(china_day(&at)?);
            }
        } else {
            out.remove(&id);
        }
    }
    // The current version is 吊销: it continues that run or starts one.
    for (id, at) in now_revoked {
        if let std::collections::hash_map::Entry::Vacant(e) = out.entry(id) {
            e.insert(china_day(&at)?);
        }
    }
    Ok(out)
}

/// Subjects whose facts changed after `since` (an RFC 3339 time): records, list entries or
/// registration.
pub fn changed_since(conn: &mut Conn, since: &str) -> Result<Vec<i64>> {
    let mut ids: Vec<i64> = Vec::new();
    // No DISTINCT: with it a planner may walk the subject index over the whole table
    // instead of the updated_at range; duplicates are removed below.
    for sql in [
        "SELECT subject_id FROM credit_records WHERE updated_at > ?",
        "SELECT subject_id FROM list_entries WHERE updated_at > ?",
        "SELECT id FROM subjects WHERE updated_at > ?",
    ] {
        conn.query_each(sql, &params![since], |r| {
            ids.push(r.get(0)?);
            Ok::<(), StoreError>(())
        })?;
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Whether no evaluation is stored (a first run: every evaluation it stores is new).
pub fn no_grades_stored(conn: &mut Conn) -> Result<bool> {
    let rows = conn.query("SELECT 1 FROM grades LIMIT 1", &[])?;
    Ok(rows.is_empty())
}

/// Drop the index of the days stored evaluations change by themselves (`grades_next_change`,
/// migration 0003), for a run that writes every evaluation into an empty table: maintained
/// row by row, its inserts land all over the index (a few hundred distinct days) and were a
/// fifth of a first run; [`build_change_index`] builds it after the run from sorted entries.
/// Queries find the same rows without it (more slowly). (On PostgreSQL it takes the table's
/// owner: a caller that may go on without it runs this in a savepoint.)
pub fn drop_change_index(conn: &mut Conn) -> Result<()> {
    conn.execute("DROP INDEX IF EXISTS grades_next_change", &[])?;
    Ok(())
}

/// Build the index [`drop_change_index`] dropped if it is not there (every run starts with
/// this, so a first run that did not finish leaves it missing only until the next run).
pub fn build_change_index(conn: &mut Conn) -> Result<()> {
    let there = match conn.backend() {
        crate::Backend::Sqlite => {
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'grades_next_change'"
        }
        crate::Backend::Postgres => {
            "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() \
             AND tablename = 'grades' AND indexname = 'grades_next_change'"
        }
    };
    let n: i64 = conn.query(there, &[])?[0].get(0)?;
    if n == 0 {
        conn.execute(
            "CREATE INDEX IF NOT EXISTS grades_next_change ON grades(next_change_on) \
             WHERE next_change_on IS NOT NULL",
            &[],
        )?;
    }
    Ok(())
}

/// The subjects whose stored evaluation changes by itself on or before a day: a question the
/// partial index `grades_next_change` answers (migration 0011).
pub const DUE_FOR_CHANGE: &str =
    "SELECT subject_id FROM grades WHERE next_change_on IS NOT NULL AND next_change_on <= ?";

/// Subjects whose stored grade would change by `t` without new facts. (Subjects never graded
/// are new or changed since the last run, which [`changed_since`] finds; the first run is full.)
pub fn due_for_change(conn: &mut Conn, t: NaiveDate) -> Result<Vec<i64>> {
    let mut ids: Vec<i64> = Vec::new();
    conn.query_each(DUE_FOR_CHANGE, &params![t], |r| {
        ids.push(r.get(0)?);
        Ok::<(), StoreError>(())
    })?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Subjects with records decided, or list entries entered, in `(after, t]`: facts that did not
/// exist for an evaluation as of `after` (a later run may be as of a later day).
pub fn facts_decided_between(conn: &mut Conn, after: NaiveDate, t: NaiveDate) -> Result<Vec<i64>> {
    let mut ids: Vec<i64> = Vec::new();
    for sql in [
        "SELECT subject_id FROM credit_records WHERE decision_date > ? AND decision_date <= ?",
        "SELECT subject_id FROM list_entries WHERE entered_on > ? AND entered_on <= ?",
    ] {
        conn.query_each(sql, &params![after, t], |r| {
            ids.push(r.get(0)?);
            Ok::<(), StoreError>(())
        })?;
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

// ---------------------------------------------------------------------------------------------
// Stored evaluations

/// A stored evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradeRow {
    pub subject_id: i64,
    pub grade: Grade,
    pub as_of: NaiveDate,
    /// Shared by the evaluations of a run (as is `evaluated_at`): a run stores many.
    pub rule_version: Arc<str>,
    pub reasons: String,
    pub outlook: String,
    pub next_change_on: Option<NaiveDate>,
    pub risk_score: i64,
    /// `low`, `general`, `higher`, `high` (`RiskClass::as_str`).
    pub risk_class: Cow<'static, str>,
    pub risk_detail: String,
    pub content_hash: String,
    pub run_id: i64,
    pub evaluated_at: Arc<str>,
}

impl GradeRow {
    /// Whether the two share what every evaluation of one run shares (bound once in a batch).
    fn shares_run_values(&self, other: &GradeRow) -> bool {
        self.as_of == other.as_of
            && same_text(&self.rule_version, &other.rule_version)
            && self.run_id == other.run_id
            && same_text(&self.evaluated_at, &other.evaluated_at)
    }
}

fn same_text(a: &Arc<str>, b: &Arc<str>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

const GRADE_COLS: &str = "subject_id, grade, as_of, rule_version, reasons, outlook, next_change_on, risk_score, risk_class, \
     risk_detail, content_hash, run_id, evaluated_at";

fn grade_row(r: &Row) -> Result<GradeRow> {
    let g: String = r.get(1)?;
    Ok(GradeRow {
        subject_id: r.get(0)?,
        grade: Grade::parse(&g).ok_or_else(|| bad("grade", &g))?,
        as_of: r.get(2)?,
        rule_version: r.get::<String>(3)?.into(),
        reasons: r.get(4)?,
        outlook: r.get(5)?,
        next_change_on: r.get(6)?,
        risk_score: r.get(7)?,
        risk_class: Cow::Owned(r.get(8)?),
        risk_detail: r.get(9)?,
        content_hash: r.get(10)?,
        run_id: r.get(11)?,
        evaluated_at: r.get::<String>(12)?.into(),
    })
}

pub fn grade_of(conn: &mut Conn, subject_id: i64) -> Result<Option<GradeRow>> {
    conn.query_opt(
        &format!("SELECT {GRADE_COLS} FROM grades WHERE subject_id = ?"),
        &params![subject_id],
    )?
    .map(|r| grade_row(&r))
    .transpose()
}

/// `(subject_id, grade, content hash)` of every stored evaluation, in subject order (read from
/// the narrow index `grades_hash`, not the rows with their explanations).
pub fn stored_hashes_in_order(conn: &mut Conn) -> Result<Vec<(i64, Grade, String)>> {
    let mut out = Vec::new();
    conn.query_each(
        "SELECT subject_id, grade, content_hash FROM grades ORDER BY subject_id",
        &[],
        |r| {
            let g: String = r.get(1)?;
            out.push((
                r.get(0)?,
                Grade::parse(&g).ok_or_else(|| bad("grade", &g))?,
                r.get(2)?,
            ));
            Ok::<(), StoreError>(())
        },
    )?;
    Ok(out)
}

/// Delete the stored evaluations of these subjects; returns how many there were.
pub fn delete_grades(conn: &mut Conn, ids: &[i64]) -> Result<u64> {
    let mut n = 0;
    for chunk in ids.chunks(conn.ids_per_statement()) {
        let (among, ps) = conn.ids_in("subject_id", chunk);
        n += conn.execute(&format!("DELETE FROM grades WHERE {among}"), &ps)?;
    }
    Ok(n)
}

/// Which of these subjects were registered in the platform before `before` (a timestamp).
pub fn registered_before(
    conn: &mut Conn,
    ids: &[i64],
    before: &str,
) -> Result<std::collections::HashSet<i64>> {
    let mut out = std::collections::HashSet::new();
    for chunk in ids.chunks(conn.ids_per_statement()) {
        let (among, mut ps) = conn.ids_in("id", chunk);
        ps.push(Value::from(before));
        for r in conn.query(
            &format!("SELECT id FROM subjects WHERE {among} AND created_at < ?"),
            &ps,
        )? {
            out.insert(r.get(0)?);
        }
    }
    Ok(out)
}

/// The grade each of these subjects has in its latest grade event, for those with any.
pub fn last_event_grades(conn: &mut Conn, ids: &[i64]) -> Result<HashMap<i64, Grade>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(conn.ids_per_statement()) {
        let (among, ps) = conn.ids_in("e.subject_id", chunk);
        for r in conn.query(
            &format!(
                "SELECT e.subject_id, e.to_grade FROM grade_events e WHERE {among} \
                 AND e.id = (SELECT max(x.id) FROM grade_events x WHERE x.subject_id = e.subject_id)"
            ),
            &ps,
        )? {
            let g: String = r.get(1)?;
            out.insert(
                r.get(0)?,
                Grade::parse(&g).ok_or_else(|| bad("grade", &g))?,
            );
        }
    }
    Ok(out)
}

/// Insert or replace the evaluation of a subject.
pub fn put_grade(conn: &mut Conn, g: &GradeRow) -> Result<()> {
    conn.execute(
        &format!("INSERT INTO grades ({GRADE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                  ON CONFLICT (subject_id) DO UPDATE SET grade = excluded.grade, as_of = excluded.as_of, \
                  rule_version = excluded.rule_version, reasons = excluded.reasons, outlook = excluded.outlook, \
                  next_change_on = excluded.next_change_on, risk_score = excluded.risk_score, \
                  risk_class = excluded.risk_class, risk_detail = excluded.risk_detail, \
                  content_hash = excluded.content_hash, run_id = excluded.run_id, evaluated_at = excluded.evaluated_at"),
        &params![
            g.subject_id,
            g.grade.as_str(),
            g.as_of,
            &*g.rule_version,
            g.reasons.as_str(),
            g.outlook.as_str(),
            g.next_change_on,
            g.risk_score,
            &*g.risk_class,
            g.risk_detail.as_str(),
            g.content_hash.as_str(),
            g.run_id,
            &*g.evaluated_at
        ],
    )?;
    Ok(())
}

const UPSERT_GRADE: &str = "INSERT INTO grades (subject_id, grade, as_of, rule_version, reasons, outlook, next_change_on, \
     risk_score, risk_class, risk_detail, content_hash, run_id, evaluated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
     ON CONFLICT (subject_id) DO UPDATE SET grade = excluded.grade, as_of = excluded.as_of, \
     rule_version = excluded.rule_version, reasons = excluded.reasons, outlook = excluded.outlook, \
     next_change_on = excluded.next_change_on, risk_score = excluded.risk_score, \
     risk_class = excluded.risk_class, risk_detail = excluded.risk_detail, \
     content_hash = excluded.content_hash, run_id = excluded.run_id, evaluated_at = excluded.evaluated_at";
const INSERT_EVENT: &str = "INSERT INTO grade_events (subject_id, as_of, from_grade, to_grade, rule_version, reasons, run_id, created_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// Insert or replace many evaluations: on SQLite one prepared statement with the values
/// bound as they are, on PostgreSQL a COPY into a staging table and one merge.
pub fn put_grades(conn: &mut Conn, rows: &[&GradeRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    if let Some(c) = conn.as_sqlite() {
        // Bound value by value, and what a row shares with the one before (a run's rows share
        // day, rules, run and time) not again: a bound value stays until it is replaced, and
        // binding (SQLite copies each text) was a fifth of a first run's writes.
        let mut st = c.prepare_cached(UPSERT_GRADE)?;
        let mut before: Option<&GradeRow> = None;
        for g in rows {
            if !before.is_some_and(|b| b.shares_run_values(g)) {
                st.raw_bind_parameter(3, DateText::new(g.as_of).as_str())?;
                st.raw_bind_parameter(4, &*g.rule_version)?;
                st.raw_bind_parameter(12, g.run_id)?;
                st.raw_bind_parameter(13, &*g.evaluated_at)?;
            }
            st.raw_bind_parameter(1, g.subject_id)?;
            st.raw_bind_parameter(2, g.grade.as_str())?;
            st.raw_bind_parameter(5, g.reasons.as_str())?;
            st.raw_bind_parameter(6, g.outlook.as_str())?;
            let next = g.next_change_on.map(DateText::new);
            st.raw_bind_parameter(7, next.as_ref().map(DateText::as_str))?;
            st.raw_bind_parameter(8, g.risk_score)?;
            st.raw_bind_parameter(9, &*g.risk_class)?;
            st.raw_bind_parameter(10, g.risk_detail.as_str())?;
            st.raw_bind_parameter(11, g.content_hash.as_str())?;
            st.raw_execute()?;
            before = Some(g);
        }
        return Ok(());
    }
    // PostgreSQL: the rows are streamed into a session-local staging table with COPY, then
    // merged in one statement (a first run or a rules change writes many: as statements of
    // 400 rows' parameters that was most of the run). In a transaction of its own (a
    // savepoint when nested): the staging table empties itself at every commit. It needs the
    // TEMP privilege on the database (PostgreSQL grants it to every role by default).
    let copy = grade_copy_rows(rows);
    conn.transaction(|tx| {
        tx.execute(
            "CREATE TEMP TABLE IF NOT EXISTS grades_in (LIKE grades) ON COMMIT DELETE ROWS",
            &[],
        )?;
        tx.copy_in(&format!("COPY grades_in ({GRADE_COLS}) FROM STDIN"), &copy)?;
        tx.execute(
            &format!("INSERT INTO grades ({GRADE_COLS}) SELECT {GRADE_COLS} FROM grades_in \
                      ON CONFLICT (subject_id) DO UPDATE SET grade = excluded.grade, as_of = excluded.as_of, \
                      rule_version = excluded.rule_version, reasons = excluded.reasons, outlook = excluded.outlook, \
                      next_change_on = excluded.next_change_on, risk_score = excluded.risk_score, \
                      risk_class = excluded.risk_class, risk_detail = excluded.risk_detail, \
                      content_hash = excluded.content_hash, run_id = excluded.run_id, evaluated_at = excluded.evaluated_at"),
            &[],
        )?;
        tx.execute("DELETE FROM grades_in", &[])?;
        Ok(())
    })
}

/// Evaluations as rows for `COPY grades (GRADE_COLS)`.
fn grade_copy_rows(rows: &[&GradeRow]) -> CopyRows {
    let mut copy = CopyRows::new();
    for g in rows {
        let as_of = g.as_of.to_string();
        let next = g.next_change_on.map(|d| d.to_string());
        copy.int(g.subject_id)
            .text(g.grade.as_str())
            .text(&as_of)
            .text(&g.rule_version)
            .text(&g.reasons)
            .text(&g.outlook)
            .opt_text(next.as_deref())
            .int(g.risk_score)
            .text(&g.risk_class)
            .text(&g.risk_detail)
            .text(&g.content_hash)
            .int(g.run_id)
            .text(&g.evaluated_at)
            .end_row();
    }
    copy
}

/// Write the evaluations of subjects that had none stored (a first run; subjects that were
/// clean). PostgreSQL: COPY straight into `grades` under a savepoint, without the staging
/// table and merge of [`put_grades`] — which is what happens should one of them have been
/// stored meanwhile (a unique violation rolls the savepoint back).
pub fn put_new_grades(conn: &mut Conn, rows: &[&GradeRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    if conn.backend() == crate::Backend::Sqlite {
        return put_grades(conn, rows);
    }
    let copy = grade_copy_rows(rows);
    // The whole in a transaction (a savepoint when nested), the direct copy in a savepoint of
    // its own: a conflict rolls back only that, and the merge goes on in the same transaction.
    conn.transaction(|tx| {
        let direct = tx.transaction(|sp| {
            sp.copy_in(&format!("COPY grades ({GRADE_COLS}) FROM STDIN"), &copy)
                .map(|_| ())
        });
        match direct {
            Err(e) if e.is_unique_violation() => put_grades(tx, rows),
            other => other,
        }
    })
}

/// Record many changes of grade (PostgreSQL: one COPY).
pub fn add_events(conn: &mut Conn, events: &[(&GradeRow, Option<Grade>)], now: &str) -> Result<()> {
    if let Some(c) = conn.as_sqlite() {
        // As in `put_grades`: what a row shares with the one before is not bound again.
        let mut st = c.prepare_cached(INSERT_EVENT)?;
        st.raw_bind_parameter(8, now)?;
        let mut before: Option<&GradeRow> = None;
        for (g, from) in events {
            if !before.is_some_and(|b| b.shares_run_values(g)) {
                st.raw_bind_parameter(2, DateText::new(g.as_of).as_str())?;
                st.raw_bind_parameter(5, &*g.rule_version)?;
                st.raw_bind_parameter(7, g.run_id)?;
            }
            st.raw_bind_parameter(1, g.subject_id)?;
            st.raw_bind_parameter(3, from.map(Grade::as_str))?;
            st.raw_bind_parameter(4, g.grade.as_str())?;
            st.raw_bind_parameter(6, g.reasons.as_str())?;
            st.raw_execute()?;
            before = Some(g);
        }
        return Ok(());
    }
    let mut copy = CopyRows::new();
    for (g, from) in events {
        copy.int(g.subject_id)
            .text(&g.as_of.to_string())
            .opt_text(from.map(Grade::as_str))
            .text(g.grade.as_str())
            .text(&g.rule_version)
            .text(&g.reasons)
            .int(g.run_id)
            .text(now)
            .end_row();
    }
    if !copy.is_empty() {
        conn.copy_in(
            "COPY grade_events (subject_id, as_of, from_grade, to_grade, rule_version, reasons, run_id, created_at) FROM STDIN",
            &copy,
        )?;
    }
    Ok(())
}

/// Record a change of grade.
pub fn add_event(conn: &mut Conn, g: &GradeRow, from: Option<Grade>, now: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO grade_events (subject_id, as_of, from_grade, to_grade, rule_version, reasons, run_id, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        &params![
            g.subject_id,
            g.as_of,
            from.map(Grade::as_str),
            g.grade.as_str(),
            &*g.rule_version,
            g.reasons.as_str(),
            g.run_id,
            now
        ],
    )?;
    Ok(())
}

/// A grade change.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GradeEvent {
    pub as_of: NaiveDate,
    pub from_grade: Option<String>,
    pub to_grade: String,
    pub rule_version: String,
    pub created_at: String,
}

pub fn events_of(conn: &mut Conn, subject_id: i64, limit: i64) -> Result<Vec<GradeEvent>> {
    conn.query(
        "SELECT as_of, from_grade, to_grade, rule_version, created_at FROM grade_events WHERE subject_id = ? ORDER BY id DESC LIMIT ?",
        &params![subject_id, limit],
    )?
    .iter()
    .map(|r| {
        Ok(GradeEvent {
            as_of: r.get(0)?,
            from_grade: r.get(1)?,
            to_grade: r.get(2)?,
            rule_version: r.get(3)?,
            created_at: r.get(4)?,
        })
    })
    .collect()
}

// ---------------------------------------------------------------------------------------------
// Runs

/// An evaluation run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRow {
    pub id: i64,
    pub as_of: NaiveDate,
    pub full_run: bool,
    pub rule_version: String,
    pub status: String,
    pub evaluated: i64,
    pub count_a: i64,
    pub count_b: i64,
    pub count_c: i64,
    pub count_d: i64,
    pub changed: i64,
    pub started_by: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// The earliest `updated_at` stamp a change this run may not have seen can carry (see
    /// [`unseen_changes_from`]); the next incremental run looks for changes from there. Runs
    /// from before migration 0008 lack it.
    pub changes_from: Option<String>,
}

const RUN_COLS: &str = "id, as_of, full_run, rule_version, status, evaluated, count_a, count_b, count_c, count_d, changed, \
     started_by, started_at, finished_at, changes_from";

fn run_row(r: &Row) -> Result<RunRow> {
    Ok(RunRow {
        id: r.get(0)?,
        as_of: r.get(1)?,
        full_run: r.get(2)?,
        rule_version: r.get(3)?,
        status: r.get(4)?,
        evaluated: r.get(5)?,
        count_a: r.get(6)?,
        count_b: r.get(7)?,
        count_c: r.get(8)?,
        count_d: r.get(9)?,
        changed: r.get(10)?,
        started_by: r.get(11)?,
        started_at: r.get(12)?,
        finished_at: r.get(13)?,
        changes_from: r.get(14)?,
    })
}

/// Record the start of a run at `now` (its `changes_from` computed here, see
/// [`unseen_changes_from`]). Call it holding the write lock (in a write transaction).
pub fn start_run(
    conn: &mut Conn,
    as_of: NaiveDate,
    full: bool,
    rule_version: &str,
    by: &str,
    now: &str,
) -> Result<i64> {
    let from = unseen_changes_from(conn, now)?;
    conn.insert_id(
        "INSERT INTO evaluation_runs (as_of, full_run, rule_version, status, started_by, started_at, changes_from) \
         VALUES (?, ?, ?, 'running', ?, ?, ?) RETURNING id",
        &params![as_of, full, rule_version, by, now, from],
    )
}

/// How much earlier than its real time a writer may stamp a change (`updated_at` is taken
/// once the writer holds its connection, just before its transaction begins), and the clock
/// difference allowed between the application and the database server.
pub const STAMP_SLACK: std::time::Duration = std::time::Duration::from_secs(5);

/// The earliest `updated_at` stamp a change can carry that a run starting at `run_start` (and
/// reading its facts after that) may not see: every change committed later was stamped from
/// there on. On SQLite, whose run start is stamped holding the write lock, a later commit is a
/// writer that stamped and then waited for the lock — at most the busy timeout. On PostgreSQL,
/// whose transactions commit in any order, it is a transaction open at the run's start, or one
/// begun after it: the start of the oldest transaction open now (`pg_stat_activity`). Both
/// less [`STAMP_SLACK`].
pub fn unseen_changes_from(conn: &mut Conn, run_start: &str) -> Result<String> {
    let start = chrono::DateTime::parse_from_rfc3339(run_start)
        .map_err(|_| bad("run start", run_start))?
        .with_timezone(&chrono::Utc);
    let slack = chrono::Duration::from_std(STAMP_SLACK).expect("a short slack");
    let from = match conn.backend() {
        crate::Backend::Sqlite => {
            start
                - chrono::Duration::from_std(crate::BUSY_TIMEOUT).expect("a short timeout")
                - slack
        }
        crate::Backend::Postgres => {
            let oldest: Option<String> = conn
                .query_row(
                    "SELECT to_char(min(xact_start) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') \
                     FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
                     AND backend_type = 'client backend' AND xact_start IS NOT NULL",
                    &[],
                )?
                .get(0)?;
            let oldest = oldest
                .map(|o| {
                    chrono::DateTime::parse_from_rfc3339(&o)
                        .map(|o| o.with_timezone(&chrono::Utc))
                        .map_err(|_| bad("transaction start", o))
                })
                .transpose()?;
            oldest.map_or(start, |o| o.min(start)) - slack
        }
    };
    Ok(from.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

#[allow(clippy::too_many_arguments)]
pub fn finish_run(
    conn: &mut Conn,
    id: i64,
    status: &str,
    evaluated: i64,
    counts: [i64; 4],
    changed: i64,
    now: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE evaluation_runs SET status = ?, evaluated = ?, count_a = ?, count_b = ?, count_c = ?, count_d = ?, changed = ?, finished_at = ? WHERE id = ?",
        &params![status, evaluated, counts[0], counts[1], counts[2], counts[3], changed, now, id],
    )?;
    Ok(())
}

/// Whether a run marked running started after `since`.
pub fn running_since(conn: &mut Conn, since: &str) -> Result<bool> {
    Ok(conn
        .query_opt(
            "SELECT id FROM evaluation_runs WHERE status = 'running' AND started_at > ?",
            &params![since],
        )?
        .is_some())
}

const RUN_LOCK: i64 = 0x6772616465; // "grade"

/// Serialise the starts of evaluation runs until the end of the transaction (PostgreSQL: two
/// could otherwise both find no run going and both start; SQLite's write lock does it already).
pub fn lock_run_start(conn: &mut Conn) -> Result<()> {
    conn.lock_chain(RUN_LOCK)
}

/// Mark runs left running since before `before` as interrupted.
pub fn interrupt_runs_before(conn: &mut Conn, before: &str, now: &str) -> Result<u64> {
    conn.execute(
        "UPDATE evaluation_runs SET status = 'interrupted', finished_at = ? WHERE status = 'running' AND started_at <= ?",
        &params![now, before],
    )
}

/// The last finished run (any kind), if any.
pub fn last_run(conn: &mut Conn, full_only: bool) -> Result<Option<RunRow>> {
    conn.query_opt(
        &format!(
            "SELECT {RUN_COLS} FROM evaluation_runs WHERE status = 'done' {} ORDER BY id DESC LIMIT 1",
            if full_only { "AND full_run = 1" } else { "" }
        ),
        &[],
    )?
    .map(|r| run_row(&r))
    .transpose()
}

pub fn recent_runs(conn: &mut Conn, limit: i64) -> Result<Vec<RunRow>> {
    conn.query(
        &format!("SELECT {RUN_COLS} FROM evaluation_runs ORDER BY id DESC LIMIT ?"),
        &params![limit],
    )?
    .iter()
    .map(run_row)
    .collect()
}

/// One cell of the distribution: a group (industry or division), a grade and a risk class.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DistributionRow {
    pub group: String,
    pub grade: String,
    pub risk_class: String,
    pub count: i64,
}

/// The clean evaluation a distribution counts for the subjects of the evaluated directory
/// without a stored evaluation (see `xinjian_app::grading`): its grade and risk class, and
/// when the last run started (the subjects registered before it are the ones it saw).
pub struct CleanCount<'a> {
    pub grade: &'a str,
    pub risk_class: &'a str,
    pub seen_before: &'a str,
}

/// Grades and risk classes of the stored evaluations by `industry` or `division_code`, and
/// of the clean ones (`clean`: none before the first run).
pub fn distribution(
    conn: &mut Conn,
    by_division: bool,
    clean: Option<&CleanCount<'_>>,
) -> Result<Vec<DistributionRow>> {
    let col = if by_division {
        "s.division_code"
    } else {
        "s.industry"
    };
    let stored = format!(
        "SELECT COALESCE({col}, '') AS grp, g.grade AS grade, g.risk_class AS risk_class \
         FROM grades g JOIN subjects s ON s.id = g.subject_id"
    );
    let (sql, ps) = match clean {
        None => (stored, Vec::new()),
        Some(c) => (
            format!(
                "{stored} UNION ALL \
                 SELECT COALESCE({col}, ''), CAST(? AS TEXT), CAST(? AS TEXT) FROM subjects s \
                 WHERE {EVALUATED} AND s.created_at < ? \
                 AND NOT EXISTS (SELECT 1 FROM grades g WHERE g.subject_id = s.id)"
            ),
            params![c.grade, c.risk_class, c.seen_before],
        ),
    };
    conn.query(
        &format!(
            "SELECT grp, grade, risk_class, count(*) FROM ({sql}) d \
             GROUP BY grp, grade, risk_class ORDER BY 1, 2, 3"
        ),
        &ps,
    )?
    .iter()
    .map(|r| {
        Ok(DistributionRow {
            group: r.get(0)?,
            grade: r.get(1)?,
            risk_class: r.get(2)?,
            count: r.get(3)?,
        })
    })
    .collect()
}
