//! Credit grading use cases: the grade of a subject as of a day (computed from the stored
//! records, not read back), evaluation runs of the jurisdiction (full or incremental) with
//! stored grades, reasons, risk class and grade-change events, the rules as versioned data, and
//! the distribution for the statistics page.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use xinjian_core::credit::{ListType, Severity};
use xinjian_core::dates::DateText;
use xinjian_core::grade::{
    assess, Assessment, Basis, Evaluation, FoundReason, Grade, GradeInput, GradeListEntry,
    GradeRules, Reason, Window,
};
use xinjian_core::risk::{score, RiskClass, RiskInputs, RiskScore, Scorecard};
use xinjian_core::role::Permission;
use xinjian_store::grading::{self as store, EvaluatedSubject, GradeRow};
use xinjian_store::{audit, subjects, Conn};

use crate::{now, today, Actor, App, AppError, Result};

/// How far back the scorecard looks.
pub const RISK_YEARS: i64 = 3;

/// How far before the last run's start an incremental run looks for changes when the last run
/// did not record where to look from (runs from before migration 0008).
pub const CHANGE_MARGIN_MINUTES: i64 = 30;

/// The candidates of an incremental run whose facts are read in one go.
const INCREMENTAL_CHUNK: usize = 1_000;
/// How many connections read an incremental run's chunks when there are several.
const INCREMENTAL_READERS: usize = 2;

/// An incremental run that finds at least this many subjects to evaluate, and a tenth of the
/// directory or more, evaluates in one pass over everything instead.
pub const ONE_PASS_MIN: usize = 5_000;

/// A run marked running for longer than this was left by a process that is gone.
pub const STALE_RUN_HOURS: i64 = 6;

/// The earliest decision date the evaluation reads: the scorecard's lookback or the grade's
/// window, whichever reaches further back.
fn facts_since(t: NaiveDate, rules: &GradeRules) -> NaiveDate {
    risk_since(t).min(rules.window_start_exclusive(t))
}

/// The scorecard counts the records decided after this day (its 3-year look-back on `t`).
fn risk_since(t: NaiveDate) -> NaiveDate {
    t - Duration::days(365 * RISK_YEARS)
}

/// The first day a record decided on `d` is outside the scorecard's look-back.
fn risk_leaves_on(d: NaiveDate) -> NaiveDate {
    d + Duration::days(365 * RISK_YEARS)
}

/// One reason as the contract shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ReasonJson {
    pub kind: String,
    pub document_number: String,
    pub decision_date: NaiveDate,
    pub severity: &'static str,
    pub basis: &'static str,
    pub basis_label: &'static str,
    /// The day this fact stops counting by itself (leaves the window, the list term ends).
    pub counts_until: Option<NaiveDate>,
}

/// The grade JSON of `xinjian grade` and `GET /api/v1/subjects/{code}/grade`.
#[derive(Debug, Clone, Serialize)]
pub struct GradeJson {
    pub code: String,
    pub as_of: NaiveDate,
    pub grade: &'static str,
    pub rule_version: String,
    pub reasons: Vec<ReasonJson>,
}

/// A change ahead, for explanations.
#[derive(Debug, Clone, Serialize)]
pub struct OutlookStep {
    pub on: NaiveDate,
    pub grade: &'static str,
    pub label: &'static str,
}

/// The grade with its explanation, for pages.
#[derive(Debug, Clone, Serialize)]
pub struct GradeView {
    #[serde(flatten)]
    pub json: GradeJson,
    pub grade_label: &'static str,
    pub outlook: Vec<OutlookStep>,
    pub returns_to_a_on: Option<NaiveDate>,
    /// Internal: present only for staff with [`Permission::RiskRead`].
    pub risk: Option<RiskView>,
    pub events: Vec<store::GradeEvent>,
}

/// The internal risk class with its points.
#[derive(Debug, Clone, Serialize)]
pub struct RiskView {
    pub score: u32,
    pub class: &'static str,
    pub class_label: &'static str,
    pub scorecard_version: String,
    pub points: Vec<(String, u32)>,
}

fn risk_view(r: &RiskScore) -> RiskView {
    RiskView {
        score: r.score,
        class: r.class.as_str(),
        class_label: r.class.label(),
        scorecard_version: r.scorecard_version.clone(),
        points: r
            .points
            .iter()
            .map(|(i, p)| (i.label().to_owned(), *p))
            .collect(),
    }
}

fn reasons_json(e: &Evaluation) -> Vec<ReasonJson> {
    e.reasons.iter().map(reason_json).collect()
}

fn reason_json(r: &Reason) -> ReasonJson {
    ReasonJson {
        kind: r.kind.clone(),
        document_number: r.document_number.clone(),
        decision_date: r.decision_date,
        severity: severity_code(r.severity),
        basis: basis_code(r.basis),
        basis_label: r.basis.label(),
        counts_until: r.counts_until,
    }
}

/// What a reason says, as stored: of a [`Reason`], or of a [`FoundReason`] read from its input.
struct ReasonParts<'a> {
    basis: Basis,
    kind: &'a str,
    document_number: &'a str,
    decision_date: NaiveDate,
    severity: Severity,
    counts_until: Option<NaiveDate>,
}

impl<'a> ReasonParts<'a> {
    #[cfg(test)]
    fn of(r: &'a Reason) -> Self {
        ReasonParts {
            basis: r.basis,
            kind: &r.kind,
            document_number: &r.document_number,
            decision_date: r.decision_date,
            severity: r.severity,
            counts_until: r.counts_until,
        }
    }

    fn found(r: &FoundReason, input: &'a GradeInput) -> Self {
        ReasonParts {
            basis: r.basis,
            kind: r.kind(input),
            document_number: r.document_number(input),
            decision_date: r.decision_date,
            severity: r.severity,
            counts_until: r.counts_until,
        }
    }
}

/// The stored form of the reasons (`grades.reasons`, `grade_events.reasons`): per reason
/// `[basis, kind, document_number, decision_date, severity, counts_until]` — the contract's
/// `reasons` without its keys and the label (derived from the basis), so that a first run
/// writes a third of the bytes it did (the reasons were most of them). [`stored_reasons`]
/// reads it back as the contract's JSON.
fn reasons_stored<'a>(reasons: impl ExactSizeIterator<Item = ReasonParts<'a>>) -> String {
    // Written out by hand (a run writes one for every evaluation it stores): serde's dates go
    // through the formatting machinery.
    let mut out: Vec<u8> = Vec::with_capacity(2 + 112 * reasons.len());
    out.push(b'[');
    for (i, r) in reasons.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"[\"");
        out.extend_from_slice(basis_code(r.basis).as_bytes());
        out.extend_from_slice(b"\",");
        serde_json::to_writer(&mut out, r.kind).expect("a string serialises");
        out.push(b',');
        serde_json::to_writer(&mut out, r.document_number).expect("a string serialises");
        out.push(b',');
        push_json_date(&mut out, Some(r.decision_date));
        out.extend_from_slice(b",\"");
        out.extend_from_slice(severity_code(r.severity).as_bytes());
        out.extend_from_slice(b"\",");
        push_json_date(&mut out, r.counts_until);
        out.push(b']');
    }
    out.push(b']');
    String::from_utf8(out).expect("JSON of UTF-8 strings")
}

/// The outlook as stored: `[["YYYY-MM-DD","B"],…]` (as serde writes `Vec<(NaiveDate, Grade)>`).
fn outlook_stored(outlook: &[(NaiveDate, Grade)]) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(2 + 19 * outlook.len());
    out.push(b'[');
    for (i, (on, grade)) in outlook.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'[');
        push_json_date(&mut out, Some(*on));
        out.extend_from_slice(b",\"");
        out.extend_from_slice(grade.as_str().as_bytes());
        out.extend_from_slice(b"\"]");
    }
    out.push(b']');
    String::from_utf8(out).expect("ASCII")
}

fn push_json_date(out: &mut Vec<u8>, d: Option<NaiveDate>) {
    match d {
        Some(d) => {
            out.push(b'"');
            out.extend_from_slice(DateText::new(d).as_str().as_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// A stored reason: the compact form, or (written before session 11) the contract's object
/// (its keys are `Reason`'s; the label is derived).
#[derive(Deserialize)]
#[serde(untagged)]
enum StoredReason {
    Compact(
        Basis,
        String,
        String,
        NaiveDate,
        Severity,
        Option<NaiveDate>,
    ),
    Contract(Reason),
}

/// Stored reasons (of an evaluation or a grade event) as the contract shows them.
pub fn stored_reasons(stored: &str) -> std::result::Result<Vec<ReasonJson>, serde_json::Error> {
    let rows: Vec<StoredReason> = serde_json::from_str(stored)?;
    Ok(rows
        .into_iter()
        .map(|r| match r {
            StoredReason::Compact(basis, kind, document_number, decision_date, severity, until) => {
                reason_json(&Reason {
                    basis,
                    kind,
                    document_number,
                    decision_date,
                    severity,
                    counts_until: until,
                })
            }
            StoredReason::Contract(r) => reason_json(&r),
        })
        .collect())
}

fn severity_code(s: Severity) -> &'static str {
    match s {
        Severity::Serious => "serious",
        Severity::General => "general",
        Severity::Minor => "minor",
    }
}

/// The stored detail of the risk class: the scorecard's inputs and points (zeros left out, as
/// in `RiskInputs`).
#[derive(Serialize)]
struct RiskDetail<'a> {
    inputs: &'a RiskInputs,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    points: &'a [(xinjian_core::risk::Indicator, u32)],
}

fn basis_code(b: xinjian_core::grade::Basis) -> &'static str {
    use xinjian_core::grade::Basis::*;
    match b {
        RevokedStatus => "revoked_status",
        LicenceRevocation => "licence_revocation",
        SeriousList => "serious_list",
        SeriousRecord => "serious_record",
        GeneralRecord => "general_record",
    }
}

/// Where an evaluation reads a subject's facts: a single subject's grade from its records (the
/// truth), a run from the grading digests the writers keep of them (one row a subject).
#[derive(Clone, Copy)]
enum FactSource {
    Records,
    Digests,
}

/// The facts of one subject, folded from its records and list entries.
#[derive(Default)]
struct Facts {
    input: GradeInput,
    risk: RiskInputs,
    /// The first day a record counted by the scorecard leaves its 3-year look-back.
    risk_changes_on: Option<NaiveDate>,
}

impl Facts {
    fn add_record(&mut self, r: store::FactRef<'_>, days: &FactDays) {
        let t = days.t;
        // The scorecard counts records of the last 3 years ("3 年内"), revocations included;
        // the facts read reach further back when the grade's window is longer.
        let counts = r.decision_date <= t
            && r.decision_date > days.risk_since
            && r.ended_on.is_none_or(|e| e > t);
        if counts {
            let leaves = risk_leaves_on(r.decision_date);
            self.risk_changes_on = Some(self.risk_changes_on.map_or(leaves, |d| d.min(leaves)));
            match r.severity {
                Some(Severity::General) => self.risk.general_records += 1,
                Some(Severity::Serious) => self.risk.serious_records += 1,
                _ => {}
            }
            match r.kind {
                "complaint" => self.risk.complaints += 1,
                "commitment_breach" => self.risk.commitment_breaches += 1,
                "enforcement" => self.risk.enforcement += 1,
                _ => {}
            }
            if r.revokes_business_licence {
                self.risk.licence_events += 1;
            }
        }
        // The grade needs the records that can count on T: in the window, or revocations.
        if r.revokes_business_licence || days.window.contains(r.decision_date) {
            if self.input.records.capacity() == 0 {
                // Most subjects have a few: one allocation instead of a doubling series.
                self.input.records.reserve_exact(8);
            }
            self.input.records.push(r.to_record());
        }
    }
}

/// The facts of these subjects as of `t` (records or digests, and list entries), folded per
/// subject; a subject without any has no entry.
fn read_facts(
    conn: &mut Conn,
    ids: &[i64],
    t: NaiveDate,
    rules: &GradeRules,
    from: FactSource,
) -> Result<HashMap<i64, Facts>> {
    let since = facts_since(t, rules);
    let days = FactDays::new(t, rules);
    let mut facts: HashMap<i64, Facts> = HashMap::new();
    let read = match from {
        FactSource::Records => store::facts_of(conn, ids, since, t)?,
        FactSource::Digests => xinjian_store::digests::facts_of(conn, ids, since, t)?,
    };
    for f in read {
        facts
            .entry(f.subject_id)
            .or_default()
            .add_record(f.as_ref(), &days);
    }
    for (id, l) in store::lists_on(conn, t, Some(ids))? {
        facts.entry(id).or_default().input.lists.push(l);
    }
    Ok(facts)
}

/// The day each revoked subject among these became so (only the revoked ones have one: the
/// others would be looked up for nothing).
fn revocation_days(
    conn: &mut Conn,
    subjects: &[EvaluatedSubject],
) -> Result<HashMap<i64, NaiveDate>> {
    let revoked: Vec<i64> = subjects
        .iter()
        .filter(|s| s.revoked)
        .map(|s| s.id)
        .collect();
    if revoked.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(store::revoked_since(conn, Some(&revoked))?)
}

/// What an incremental run reads of a chunk of its candidates.
struct ChunkInput {
    /// Which are in the directory, their stored evaluations, the others' to remove.
    candidates: store::Candidates,
    /// The revocation day of each revoked one.
    revoked: HashMap<i64, NaiveDate>,
    /// Their facts (a subject without any has no entry).
    facts: HashMap<i64, Facts>,
}

/// Read a chunk of an incremental run's candidates (on the run's connection or a reader's).
fn read_chunk(
    conn: &mut Conn,
    chunk: &[i64],
    t: NaiveDate,
    rules: &GradeRules,
) -> Result<ChunkInput> {
    let candidates = store::candidates(conn, chunk)?;
    let revoked = revocation_days(conn, &candidates.evaluated)?;
    let facts = read_facts(conn, chunk, t, rules, FactSource::Digests)?;
    Ok(ChunkInput {
        candidates,
        revoked,
        facts,
    })
}

/// What deciding whether a fact counts needs of a run's day, computed once: a run asks it for
/// every fact it reads.
struct FactDays {
    t: NaiveDate,
    /// Records decided after this day count for the risk score ([`risk_since`]).
    risk_since: NaiveDate,
    /// The grade's window of `t`.
    window: Window,
}

impl FactDays {
    fn new(t: NaiveDate, rules: &GradeRules) -> Self {
        FactDays {
            t,
            risk_since: risk_since(t),
            window: rules.window(t),
        }
    }
}

/// A run's row for a subject of the directory: the run's clean evaluation, made once, for a
/// subject without any fact that is not revoked (most subjects), else its evaluation — with
/// the facts it was made from, handed back for the caller to free.
#[allow(clippy::too_many_arguments)]
fn run_row<'c>(
    subject: &EvaluatedSubject,
    facts: Option<Facts>,
    revoked_on: Option<NaiveDate>,
    rules: &GradeRules,
    card: &Scorecard,
    t: NaiveDate,
    stamp: &RunStamp,
    clean: &'c GradeRow,
) -> (std::borrow::Cow<'c, GradeRow>, Option<Facts>) {
    match facts {
        None if !subject.revoked => (std::borrow::Cow::Borrowed(clean), None),
        f => {
            let mut f = f.unwrap_or_default();
            let (_, _, row) = evaluation_row(subject, &mut f, revoked_on, rules, card, t, stamp);
            (std::borrow::Cow::Owned(row), Some(f))
        }
    }
}

/// Evaluate one subject and make the stored row.
#[allow(clippy::too_many_arguments)]
fn evaluation_row(
    subject: &EvaluatedSubject,
    facts: &mut Facts,
    revoked_on: Option<NaiveDate>,
    rules: &GradeRules,
    card: &Scorecard,
    t: NaiveDate,
    stamp: &RunStamp,
) -> (Assessment, RiskScore, GradeRow) {
    // Registration status 吊销 counts from the day the platform recorded it (the registry
    // does not say when the licence was revoked); `revoked_on` is always known for a revoked
    // subject, the fallback (today's run day) only guards against an inconsistent store.
    facts.input.licence_revoked_on = if subject.revoked {
        Some(revoked_on.unwrap_or(t))
    } else {
        None
    };
    let e = assess(&facts.input, rules, t);
    facts.risk.grade = Some(e.grade);
    facts.risk.key_attention = facts
        .input
        .lists
        .iter()
        .any(|l| l.list_type == ListType::KeyAttention);
    facts.risk.abnormal = facts
        .input
        .lists
        .iter()
        .any(|l| l.list_type == ListType::Abnormal);
    let risk = score(card, &facts.risk);
    let reasons = reasons_stored(
        e.reasons
            .iter()
            .map(|r| ReasonParts::found(r, &facts.input)),
    );
    let outlook = outlook_stored(&e.outlook);
    let mut detail = Vec::with_capacity(256);
    serde_json::to_writer(
        &mut detail,
        &RiskDetail {
            inputs: &facts.risk,
            points: &risk.points,
        },
    )
    .expect("risk detail serialises");
    let detail = String::from_utf8(detail).expect("JSON is UTF-8");
    // The content: what a stored evaluation says (not when it was made). The risk detail is
    // part of it — two evaluations with the same score but other inputs are not the same.
    let mut h = Sha256::new();
    for part in [
        e.grade.as_str(),
        &rules.version,
        &reasons,
        &outlook,
        itoa::Buffer::new().format(risk.score),
        &risk.scorecard_version,
        &detail,
    ] {
        h.update(part.as_bytes());
        h.update([0x1f]);
    }
    // The next day the stored evaluation changes by itself: the grade's (its outlook), or the
    // risk class's — a counted record leaving the look-back, a key-attention or abnormal-list
    // entry ending (the incremental run re-evaluates the subject that day).
    let list_ends = facts.input.lists.iter().filter_map(|l| match l.list_type {
        ListType::KeyAttention | ListType::Abnormal => l.ends_on.filter(|d| *d > t),
        _ => None,
    });
    let next_change_on = e
        .next_change_on()
        .into_iter()
        .chain(facts.risk_changes_on)
        .chain(list_ends)
        .min();
    let row = GradeRow {
        subject_id: subject.id,
        grade: e.grade,
        as_of: t,
        rule_version: stamp.rule_version.clone(),
        reasons,
        outlook,
        next_change_on,
        risk_score: risk.score as i64,
        risk_class: risk.class.as_str().into(),
        risk_detail: detail,
        content_hash: hex::encode(&h.finalize()[..16]),
        run_id: stamp.run_id,
        evaluated_at: stamp.evaluated_at.clone(),
    };
    (e, risk, row)
}

/// Remove the stored evaluations of these subjects, which are not (or no longer) in the
/// evaluated directory (注销, 迁出): one transaction with its audit entry.
fn remove_grades(conn: &mut Conn, actor: &Actor, run_id: i64, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    conn.transaction(|tx| {
        let n = store::delete_grades(tx, ids)?;
        if n > 0 {
            audit::append(
                tx,
                &actor.audit(),
                "grade.run.remove",
                &format!("evaluation:{run_id}"),
                &json!({ "removed": n, "reason": "不在评价企业名录中（注销、迁出）" }),
            )?;
        }
        Ok::<_, AppError>(())
    })
}

/// What every part of a run reads.
#[derive(Clone, Copy)]
struct RunContext<'a> {
    actor: &'a Actor,
    run_id: i64,
    t: NaiveDate,
    rules: &'a GradeRules,
    card: &'a Scorecard,
    now: &'a str,
    /// When the last finished run started (none: there was none). See `ChunkContext`.
    seen_before: Option<&'a str>,
}

impl<'a> RunContext<'a> {
    fn chunk_context(&self, clean: &'a GradeRow) -> ChunkContext<'a> {
        ChunkContext {
            actor: self.actor,
            run_id: self.run_id,
            now: self.now,
            clean,
            seen_before: self.seen_before,
        }
    }
}

/// The earliest change stamp the finished run `last` may not have seen. A change stamped
/// before the run started may have committed after it read its facts: the run recorded the
/// earliest stamp such a change can carry (`store::unseen_changes_from`: on SQLite the busy
/// timeout before its start, on PostgreSQL the start of the oldest transaction then open).
/// Writers stamp once they hold their connection, just before their transaction; an import
/// stamps each chunk. A run from before that was recorded gets a fixed look-back.
fn unseen_from(last: &store::RunRow) -> String {
    match &last.changes_from {
        Some(from) => from.clone(),
        None => chrono::DateTime::parse_from_rfc3339(&last.started_at)
            .map(|t| {
                (t.with_timezone(&chrono::Utc) - Duration::minutes(CHANGE_MARGIN_MINUTES))
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            })
            .unwrap_or_default(),
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct RunSummary {
    pub run_id: i64,
    pub evaluated: i64,
    pub counts: [i64; 4],
    /// Subjects whose stored evaluation changed (a new grade, reasons or risk).
    pub changed: i64,
    pub grade_changes: i64,
}

impl RunSummary {
    /// The last line of `xinjian evaluate`.
    pub fn line(&self) -> String {
        format!(
            "evaluated {}: A={} B={} C={} D={}",
            self.evaluated, self.counts[0], self.counts[1], self.counts[2], self.counts[3]
        )
    }
}

/// The reader of a full run hands over the facts of this many subjects at a time.
const FACTS_BATCH: usize = 2_048;

/// What the reader of a full run sends: the facts of some subjects (in subject order), then
/// `End` once it has read everything.
enum FactsMessage {
    Batch(Vec<(i64, Facts)>),
    End,
}

/// The facts arriving from the reader, one subject at a time.
struct FactStream {
    rx: std::sync::mpsc::Receiver<FactsMessage>,
    batch: std::iter::Peekable<std::vec::IntoIter<(i64, Facts)>>,
    ended: bool,
    /// How long it waited for the reader.
    waited: std::time::Duration,
}

impl FactStream {
    /// The subject of the next facts; `None` once the reader has read everything. An error if
    /// the reader stopped before the end (it reports why).
    fn peek_id(&mut self) -> Result<Option<i64>> {
        loop {
            if let Some((id, _)) = self.batch.peek() {
                return Ok(Some(*id));
            }
            if self.ended {
                return Ok(None);
            }
            let began = std::time::Instant::now();
            let received = self.rx.recv();
            self.waited += began.elapsed();
            match received {
                Ok(FactsMessage::Batch(b)) => self.batch = b.into_iter().peekable(),
                Ok(FactsMessage::End) => self.ended = true,
                Err(_) => {
                    return Err(AppError::Internal(
                        "the reading of the records stopped before the end".into(),
                    ))
                }
            }
        }
    }
}

/// Stored evaluations are written in chunks of this many subjects, one transaction each (4 in
/// this crate's unit tests, so that a few subjects make several chunks).
const WRITE_CHUNK: usize = if cfg!(test) { 4 } else { 10_000 };

/// The evaluation of a subject with nothing to say — no fact, no list entry, not revoked: A,
/// no reasons, no outlook, the scorecard's lowest score. It is the same for every such subject
/// under the run's rules, so it is not stored subject by subject: a subject of the evaluated
/// directory without a stored evaluation is clean as of the last run that saw it
/// (`store::distribution` counts it so). About two thirds of a jurisdiction are clean, and a
/// first run or a rules change writes only the others.
fn clean_evaluation(
    rules: &GradeRules,
    card: &Scorecard,
    t: NaiveDate,
    stamp: &RunStamp,
) -> GradeRow {
    let nobody = EvaluatedSubject {
        id: 0,
        revoked: false,
    };
    evaluation_row(&nobody, &mut Facts::default(), None, rules, card, t, stamp).2
}

/// What every evaluation a run stores says of the run, shared by them (not a copy each).
struct RunStamp {
    run_id: i64,
    rule_version: Arc<str>,
    evaluated_at: Arc<str>,
}

impl RunStamp {
    fn new(run_id: i64, rules: &GradeRules, now: &str) -> Self {
        RunStamp {
            run_id,
            rule_version: rules.version.as_str().into(),
            evaluated_at: now.into(),
        }
    }
}

/// What a run knows of a subject's evaluation before it: a stored one (its grade), or none —
/// clean as of an earlier run, out of the directory then, or never evaluated (`write_chunk`
/// tells them apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Before {
    Stored(Grade),
    NotStored,
}

/// Evaluations to write (with what was there before), and stored evaluations that became
/// clean (removed; with their grade).
#[derive(Default)]
struct Chunk {
    rows: Vec<(GradeRow, Before)>,
    cleared: Vec<(i64, Grade)>,
}

impl Chunk {
    fn len(&self) -> usize {
        self.rows.len() + self.cleared.len()
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Collects a run's evaluations into chunks to write and counts them.
struct Writer {
    pending: Chunk,
    /// The content hash of the run's clean evaluation.
    clean_hash: String,
    summary: RunSummary,
}

impl Writer {
    fn new(run_id: i64, clean: &GradeRow) -> Self {
        Writer {
            pending: Chunk::default(),
            clean_hash: clean.content_hash.clone(),
            summary: RunSummary {
                run_id,
                ..Default::default()
            },
        }
    }

    /// Count the evaluation of `subject_id` (`row`, whose own subject id may be another's
    /// when rows are shared) and keep what changes the store: a new or changed evaluation, or
    /// a stored one to remove because the subject is clean now. `stored`: the stored grade and
    /// content hash, if any. Returns a full chunk to write.
    fn take(
        &mut self,
        subject_id: i64,
        row: std::borrow::Cow<'_, GradeRow>,
        stored: Option<(Grade, &str)>,
    ) -> Option<Chunk> {
        self.summary.evaluated += 1;
        self.summary.counts[row.grade as usize] += 1;
        let clean = row.content_hash == self.clean_hash;
        match stored {
            Some((_, hash)) if hash == row.content_hash => return None,
            None if clean => return None,
            Some((grade, _)) if clean => self.pending.cleared.push((subject_id, grade)),
            before => {
                let mut row = row.into_owned();
                row.subject_id = subject_id;
                let before = match before {
                    Some((grade, _)) => Before::Stored(grade),
                    None => Before::NotStored,
                };
                self.pending.rows.push((row, before));
            }
        }
        self.summary.changed += 1;
        (self.pending.len() >= WRITE_CHUNK).then(|| self.rest())
    }

    /// What is kept and not yet handed out for writing.
    fn rest(&mut self) -> Chunk {
        std::mem::take(&mut self.pending)
    }
}

/// What a chunk's writer needs to know besides the chunk.
struct ChunkContext<'a> {
    actor: &'a Actor,
    run_id: i64,
    now: &'a str,
    /// The run's clean evaluation (for the events of subjects that became clean).
    clean: &'a GradeRow,
    /// When the last finished run started (none: this is the first run). A subject without a
    /// stored evaluation was, before this run: the grade of its latest event if it has any
    /// (it became clean, or it left the directory and came back); else clean if registered
    /// before that run started (it saw it — but for a registration stamped just before the
    /// start and committed after the run read the directory, taken as seen too); else never
    /// evaluated.
    seen_before: Option<&'a str>,
}

/// Write a chunk: new and changed evaluations, the removal of those that became clean, and an
/// event for each change of grade, in one transaction with its audit entry. Returns the number
/// of grade changes.
fn write_chunk(conn: &mut Conn, cx: &ChunkContext<'_>, chunk: &Chunk) -> Result<i64> {
    if chunk.is_empty() {
        return Ok(0);
    }
    conn.transaction(|tx| {
        let not_stored: Vec<i64> = chunk
            .rows
            .iter()
            .filter(|(_, b)| *b == Before::NotStored)
            .map(|(r, _)| r.subject_id)
            .collect();
        // What they were before (only after an earlier run: on the first, nothing).
        let (last_events, seen) = match cx.seen_before {
            Some(start) if !not_stored.is_empty() => (
                store::last_event_grades(tx, &not_stored)?,
                store::registered_before(tx, &not_stored, start)?,
            ),
            _ => Default::default(),
        };
        let (new, stored): (Vec<_>, Vec<_>) = chunk
            .rows
            .iter()
            .partition(|(_, b)| *b == Before::NotStored);
        store::put_new_grades(tx, &new.iter().map(|(r, _)| r).collect::<Vec<_>>())?;
        store::put_grades(tx, &stored.iter().map(|(r, _)| r).collect::<Vec<_>>())?;
        let cleared: Vec<i64> = chunk.cleared.iter().map(|(id, _)| *id).collect();
        store::delete_grades(tx, &cleared)?;
        let cleared_rows: Vec<(GradeRow, Grade)> = chunk
            .cleared
            .iter()
            .filter(|(_, from)| *from != cx.clean.grade)
            .map(|(id, from)| {
                let mut row = cx.clean.clone();
                row.subject_id = *id;
                (row, *from)
            })
            .collect();
        let mut events: Vec<(&GradeRow, Option<Grade>)> = chunk
            .rows
            .iter()
            .map(|(r, before)| {
                let from = match before {
                    Before::Stored(g) => Some(*g),
                    Before::NotStored => match last_events.get(&r.subject_id) {
                        Some(g) => Some(*g),
                        None if seen.contains(&r.subject_id) => Some(cx.clean.grade),
                        None => None,
                    },
                };
                (r, from)
            })
            .filter(|(r, from)| *from != Some(r.grade))
            .collect();
        events.extend(cleared_rows.iter().map(|(r, from)| (r, Some(*from))));
        store::add_events(tx, &events, cx.now)?;
        audit::append(
            tx,
            &cx.actor.audit(),
            "grade.run.chunk",
            &format!("evaluation:{}", cx.run_id),
            &json!({ "written": chunk.rows.len(), "cleared": chunk.cleared.len(), "grade_changes": events.len() }),
        )?;
        Ok::<_, AppError>(events.len() as i64)
    })
}

impl App {
    /// The current rules and scorecard.
    pub fn grade_rules(&self) -> Result<(GradeRules, Scorecard)> {
        Ok(store::current_rules(&mut *self.db.conn()?)?)
    }

    /// Store a new version of the rules (the version name must be new).
    pub fn save_grade_rules(
        &self,
        actor: &Actor,
        rules: &GradeRules,
        card: &Scorecard,
    ) -> Result<()> {
        actor.require(Permission::GradeRulesAdmin)?;
        if rules.version.trim().is_empty() {
            return Err(AppError::invalid("version", "请填写规则版本名称"));
        }
        if rules.window_months == 0 || rules.window_months > 60 {
            return Err(AppError::invalid("window_months", "评价期应为 1–60 个月"));
        }
        if rules.cycle_months == 0 || rules.cycle_months > 12 {
            return Err(AppError::invalid(
                "cycle_months",
                "评价周期应为 1–12 个月（原则为 1 年，可缩短）",
            ));
        }
        card.validate()
            .map_err(|e| AppError::invalid("cutoffs", e))?;
        let now = now();
        let name = actor.name();
        self.db.conn()?.transaction(|tx| {
            if store::rules_version(tx, &rules.version)?.is_some() {
                return Err(AppError::Conflict(format!(
                    "规则版本“{}”已存在，请使用新的版本名称",
                    rules.version
                )));
            }
            store::save_rules(tx, rules, card, &name, &now)?;
            audit::append(
                tx,
                &actor.audit(),
                "grade.rules.save",
                &format!("rules:{}", rules.version),
                &json!({ "rules": rules, "scorecard": card }),
            )?;
            Ok(())
        })
    }

    /// The facts of some subjects as of `t`, from their records or (a run) their digests, and
    /// the day each revoked one became so.
    fn facts_of(
        &self,
        conn: &mut Conn,
        subjects: &[EvaluatedSubject],
        t: NaiveDate,
        rules: &GradeRules,
        from: FactSource,
    ) -> Result<(HashMap<i64, Facts>, HashMap<i64, NaiveDate>)> {
        let ids: Vec<i64> = subjects.iter().map(|s| s.id).collect();
        let facts = read_facts(conn, &ids, t, rules, from)?;
        Ok((facts, revocation_days(conn, subjects)?))
    }

    /// The grade of a subject as of a day, evaluated now from the stored records with the
    /// current rules. Staff, or the entity itself.
    pub fn grade_of(
        &self,
        actor: &Actor,
        code: &str,
        as_of: Option<NaiveDate>,
    ) -> Result<GradeView> {
        let code = xinjian_core::uscc::normalize(code);
        let own =
            matches!(actor, Actor::User(u) if u.subject_code.as_deref() == Some(code.as_str()));
        if !(actor.can(Permission::GradeRead) || (own && actor.can(Permission::OwnGradeRead))) {
            return Err(if matches!(actor, Actor::Public) {
                AppError::Unauthenticated
            } else {
                AppError::Forbidden
            });
        }
        let t = as_of.unwrap_or_else(today);
        let mut conn = self.db.conn()?;
        let s = subjects::by_code(&mut conn, &code)?
            .ok_or_else(|| AppError::NotFound(format!("主体 {code} ")))?;
        if s.data.kind == xinjian_core::subject::SubjectKind::NaturalPerson {
            // Seed 004 grades the enterprises of the evaluated directory, not persons.
            return Err(AppError::Unprocessable(
                "自然人不参加公共信用综合评价".into(),
            ));
        }
        let (rules, card) = store::current_rules(&mut conn)?;
        let subject = EvaluatedSubject {
            id: s.id,
            revoked: s.data.reg_status == xinjian_core::subject::RegStatus::Revoked,
        };
        let (mut facts, revoked) = self.facts_of(
            &mut conn,
            std::slice::from_ref(&subject),
            t,
            &rules,
            FactSource::Records,
        )?;
        let mut facts = facts.remove(&s.id).unwrap_or_default();
        let (e, risk, _) = evaluation_row(
            &subject,
            &mut facts,
            revoked.get(&s.id).copied(),
            &rules,
            &card,
            t,
            &RunStamp::new(0, &rules, ""),
        );
        let e = e.to_evaluation(&facts.input, &rules);
        let events = store::events_of(&mut conn, s.id, 20)?;
        Ok(GradeView {
            json: GradeJson {
                code: s.data.code.clone(),
                as_of: t,
                grade: e.grade.as_str(),
                rule_version: e.rule_version.clone(),
                reasons: reasons_json(&e),
            },
            grade_label: e.grade.label(),
            outlook: e
                .outlook
                .iter()
                .map(|(d, g)| OutlookStep {
                    on: *d,
                    grade: g.as_str(),
                    label: g.label(),
                })
                .collect(),
            returns_to_a_on: e.returns_to_a_on(),
            // Internal: never for the entity, never public.
            risk: actor.can(Permission::RiskRead).then(|| risk_view(&risk)),
            events,
        })
    }

    /// Evaluate the jurisdiction as of `as_of` (default today): every subject of the evaluated
    /// directory (`full`), or only those whose facts changed since the last run or whose grade
    /// changes by itself by then. Stored evaluations change only when their content does; each
    /// change of grade is an event. Returns the counts of the evaluated subjects.
    pub fn evaluate_jurisdiction(
        &self,
        actor: &Actor,
        as_of: Option<NaiveDate>,
        full: bool,
        progress: &mut dyn FnMut(i64, i64),
    ) -> Result<RunSummary> {
        actor.require(Permission::GradeRun)?;
        let t = as_of.unwrap_or_else(today);
        if t > today() {
            return Err(AppError::invalid("as_of", "评价日期不能晚于今天"));
        }
        let entered = std::time::Instant::now();
        let mut conn = self.db.connect()?;
        conn.tune_for_bulk()?;
        let (rules, card) = store::current_rules(&mut conn)?;
        let last = store::last_run(&mut conn, false)?;
        // Incremental needs a previous run under the same rules and not after this day.
        let full = full
            || last
                .as_ref()
                .is_none_or(|r| r.rule_version != rules.version || r.as_of > t);
        // The run's start is stamped holding the write lock: every change committed after the
        // run reads its facts was stamped by a writer that got the lock after this one (or that
        // stamped before waiting for it — see `evaluate_some`).
        let (run_id, now, build_index_after) = conn.transaction(|tx| {
            let now = now();
            // One run at a time: a run still marked running and recently started is refused; an
            // older one was left by a process that is gone and is marked interrupted.
            store::lock_run_start(tx)?;
            let stale = (chrono::Utc::now() - Duration::hours(STALE_RUN_HOURS))
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            if store::running_since(tx, &stale)? {
                return Err(AppError::Conflict(
                    "已有评价正在进行，请待其完成后再开始".into(),
                ));
            }
            store::interrupt_runs_before(tx, &stale, &now)?;
            // A first run writes every evaluation it stores into an empty table: the index of
            // the days they change by themselves is built after it, from sorted entries. Any
            // other run first builds it should a first run have stopped before doing so.
            let mut build_index_after = full && store::no_grades_stored(tx)?;
            if build_index_after {
                // Without the right to drop it (PostgreSQL: a role that does not own the
                // table) the run goes on with the index, only more slowly.
                if let Err(e) = tx.transaction(store::drop_change_index) {
                    tracing::warn!(error = %e, "grades_next_change kept for the first run");
                    build_index_after = false;
                }
            } else {
                store::build_change_index(tx)?;
            }
            let id = store::start_run(tx, t, full, &rules.version, &actor.name(), &now)?;
            audit::append(
                tx,
                &actor.audit(),
                "grade.run.start",
                &format!("evaluation:{id}"),
                &json!({ "as_of": t, "full": full, "rule_version": rules.version }),
            )?;
            Ok::<_, AppError>((id, now, build_index_after))
        })?;
        let run = RunContext {
            actor,
            run_id,
            t,
            rules: &rules,
            card: &card,
            now: &now,
            seen_before: last.as_ref().map(|r| r.started_at.as_str()),
        };
        tracing::debug!(
            run_id,
            ms = entered.elapsed().as_secs_f64() * 1e3,
            "run started"
        );
        let started = std::time::Instant::now();
        let result = if full {
            self.evaluate_all(&mut conn, &run, progress)
        } else {
            let last = last.as_ref().expect("an incremental run follows a run");
            self.evaluate_some(&mut conn, &run, last, progress)
        };
        tracing::debug!(
            run_id,
            full,
            ms = started.elapsed().as_millis() as u64,
            "evaluated and written"
        );
        // Also after a failed run (whatever it stored is indexed); a run is done only with it.
        let indexed = if build_index_after {
            conn.transaction(store::build_change_index)
        } else {
            Ok(())
        };
        if build_index_after {
            tracing::debug!(
                run_id,
                ms = started.elapsed().as_millis() as u64,
                "change-day index built"
            );
        }
        let result = result.and_then(|s| indexed.map(|()| s).map_err(AppError::from));
        let finished = now_after(&now);
        match &result {
            Ok(s) => conn.transaction(|tx| {
                store::finish_run(tx, run_id, "done", s.evaluated, s.counts, s.changed, &finished)?;
                audit::append(tx, &actor.audit(), "grade.run.finish", &format!("evaluation:{run_id}"),
                    &json!({ "evaluated": s.evaluated, "counts": s.counts, "changed": s.changed, "grade_changes": s.grade_changes }))?;
                Ok::<_, AppError>(())
            })?,
            Err(e) => {
                let _ = conn.transaction(|tx| {
                    store::finish_run(tx, run_id, "failed", 0, [0; 4], 0, &finished)?;
                    audit::append(tx, &actor.audit(), "grade.run.fail", &format!("evaluation:{run_id}"),
                        &json!({ "error": e.to_string() }))?;
                    Ok::<_, AppError>(())
                });
            }
        }
        conn.checkpoint()?;
        tracing::debug!(
            run_id,
            ms = started.elapsed().as_millis() as u64,
            since_called_ms = entered.elapsed().as_secs_f64() * 1e3,
            "run finished"
        );
        result
    }

    fn evaluate_all(
        &self,
        conn: &mut Conn,
        run: &RunContext<'_>,
        progress: &mut dyn FnMut(i64, i64),
    ) -> Result<RunSummary> {
        let (t, rules) = (run.t, run.rules);
        // Two things at once: a second thread reads the facts once, in subject order, and
        // hands each subject's folded facts over in batches; this thread reads the directory,
        // the lists, the revocation days and the stored hashes, then evaluates the subjects
        // one by one as their facts arrive, and writes what changed.
        let since = facts_since(t, rules);
        let days = FactDays::new(t, rules);
        let days = &days;
        let db = &self.db;
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::channel::<FactsMessage>();
            // The facts come back once evaluated, to be freed where they were allocated: freeing
            // on the other thread made the two threads contend for the allocator's lock.
            let (spent_tx, spent_rx) = std::sync::mpsc::channel::<Vec<Facts>>();
            let scanner = scope.spawn(move || -> Result<()> {
                let mut c = db.connect()?;
                let mut batch: Vec<(i64, Facts)> = Vec::with_capacity(FACTS_BATCH);
                let mut current: Option<(i64, Facts)> = None;
                // The evaluating thread stopped (its own error, which it reports): stop reading.
                let mut stopped = false;
                let read = xinjian_store::digests::each_fact(&mut c, since, t, |f| {
                    if let Some((id, facts)) = &mut current {
                        if *id == f.subject_id {
                            facts.add_record(f, days);
                            return Ok(());
                        }
                    }
                    if let Some(done) = current.take() {
                        batch.push(done);
                        if batch.len() == FACTS_BATCH {
                            while let Ok(spent) = spent_rx.try_recv() {
                                drop(spent);
                            }
                            let full =
                                std::mem::replace(&mut batch, Vec::with_capacity(FACTS_BATCH));
                            if tx.send(FactsMessage::Batch(full)).is_err() {
                                stopped = true;
                                return Err(AppError::Internal("evaluation stopped".into()));
                            }
                        }
                    }
                    let mut facts = Facts::default();
                    facts.add_record(f, days);
                    current = Some((f.subject_id, facts));
                    Ok::<(), AppError>(())
                });
                if stopped {
                    return Ok(());
                }
                read?;
                // Only a complete read ends with `End`: without it the evaluating thread stops
                // instead of taking the subjects it has not seen facts for as having none.
                batch.extend(current.take());
                let _ = tx.send(FactsMessage::Batch(batch));
                let _ = tx.send(FactsMessage::End);
                // Free what comes back until the evaluating side is done (it drops its sender).
                for spent in spent_rx {
                    drop(spent);
                }
                Ok(())
            });
            let evaluated = self.evaluate_stream(conn, run, rx, spent_tx, progress);
            let scanned = scanner
                .join()
                .map_err(|_| AppError::Internal("evaluation reader panicked".into()))?;
            // A reading error explains an incomplete evaluation: report it first.
            scanned?;
            evaluated
        })
    }

    /// The evaluating side of a full run: merge the directory (in id order) with the facts
    /// arriving from the reader (in subject order), evaluate, and write what changed.
    fn evaluate_stream(
        &self,
        conn: &mut Conn,
        run: &RunContext<'_>,
        facts: std::sync::mpsc::Receiver<FactsMessage>,
        spent_facts: std::sync::mpsc::Sender<Vec<Facts>>,
        progress: &mut dyn FnMut(i64, i64),
    ) -> Result<RunSummary> {
        let RunContext {
            actor,
            run_id,
            t,
            rules,
            card,
            now,
            ..
        } = *run;
        let started = std::time::Instant::now();
        let mut spent: Vec<Facts> = Vec::with_capacity(FACTS_BATCH);
        let mut subjects: Vec<EvaluatedSubject> = Vec::new();
        store::each_evaluated(conn, |s| {
            subjects.push(s);
            Ok::<(), AppError>(())
        })?;
        let mut lists: HashMap<i64, Vec<GradeListEntry>> = HashMap::new();
        for (id, l) in store::lists_on(conn, t, None)? {
            lists.entry(id).or_default().push(l);
        }
        let revoked = store::revoked_since(conn, None)?;
        // In subject order, like the directory: each is matched by walking both together.
        let stored = store::stored_hashes_in_order(conn)?;
        let mut stored = stored.iter().peekable();
        // Stored evaluations of subjects no longer in the directory (注销, 迁出) are removed.
        let mut outside: Vec<i64> = Vec::new();
        let total = subjects.len() as i64;
        let stamp = RunStamp::new(run_id, rules, now);
        let clean = clean_evaluation(rules, card, t, &stamp);
        let cx = run.chunk_context(&clean);
        let mut w = Writer::new(run_id, &clean);
        // The chunks to write go to a thread of their own (on this connection), so that
        // evaluating and writing overlap — a first run writes every evaluation that is not clean.
        // The write-ahead log is copied back by a checkpointer thread (SQLite), as in imports.
        let checkpointer = self.db.checkpointer()?;
        tracing::debug!(
            run_id,
            ms = started.elapsed().as_millis() as u64,
            "directory, lists, revocations and stored hashes read"
        );
        // Where the walk waited: for the reader's facts, for the writer to take a chunk.
        let (mut waited_for_facts, mut waited_for_writer) =
            (std::time::Duration::ZERO, std::time::Duration::ZERO);
        std::thread::scope(|scope| {
            let (chunks, to_write) = std::sync::mpsc::sync_channel::<Chunk>(2);
            let conn = &mut *conn;
            let checkpointer = &checkpointer;
            let cx = &cx;
            let writer = scope.spawn(move || -> Result<i64> {
                let mut grade_changes = 0;
                let mut busy = std::time::Duration::ZERO;
                for chunk in to_write {
                    let began = std::time::Instant::now();
                    grade_changes += write_chunk(conn, cx, &chunk)?;
                    if let Some(c) = checkpointer {
                        c.nudge();
                    }
                    busy += began.elapsed();
                }
                tracing::debug!(run_id, ms = busy.as_millis() as u64, "writer busy");
                Ok(grade_changes)
            });
            let walked = (|| -> Result<()> {
                // A failed send means the writer stopped: its error is reported below.
                let mut send = |chunk: Chunk| {
                    let began = std::time::Instant::now();
                    let sent = chunks
                        .send(chunk)
                        .map_err(|_| AppError::Internal("evaluation writer stopped".into()));
                    waited_for_writer += began.elapsed();
                    sent
                };
                // Facts of subjects outside the directory (注销, 迁出, persons) are passed over.
                let mut incoming = FactStream {
                    rx: facts,
                    batch: Vec::new().into_iter().peekable(),
                    ended: false,
                    waited: std::time::Duration::ZERO,
                };
                let mut last_id = i64::MIN;
                for (i, s) in subjects.iter().enumerate() {
                    let mut own: Option<Facts> = None;
                    while let Some(id) = incoming.peek_id()? {
                        if id > s.id {
                            break;
                        }
                        if id <= last_id {
                            return Err(AppError::Internal(format!(
                                "facts out of subject order ({id} after {last_id})"
                            )));
                        }
                        last_id = id;
                        let (_, f) = incoming.batch.next().expect("peeked");
                        if id == s.id {
                            own = Some(f);
                        }
                    }
                    let mut before: Option<(Grade, &str)> = None;
                    while let Some((id, grade, hash)) = stored.peek() {
                        if *id > s.id {
                            break;
                        }
                        if *id == s.id {
                            before = Some((*grade, hash.as_str()));
                        } else {
                            outside.push(*id);
                        }
                        stored.next();
                    }
                    let facts = match (own, lists.remove(&s.id)) {
                        (None, None) => None,
                        (f, l) => {
                            let mut f = f.unwrap_or_default();
                            f.input.lists = l.unwrap_or_default();
                            Some(f)
                        }
                    };
                    let (row, evaluated) = run_row(
                        s,
                        facts,
                        revoked.get(&s.id).copied(),
                        rules,
                        card,
                        t,
                        &stamp,
                        &clean,
                    );
                    if let Some(f) = evaluated {
                        spent.push(f);
                        if spent.len() == FACTS_BATCH {
                            // The reader may have finished already: then they are freed here.
                            let _ = spent_facts.send(std::mem::take(&mut spent));
                        }
                    }
                    if let Some(chunk) = w.take(s.id, row, before) {
                        send(chunk)?;
                    }
                    if i % 50_000 == 0 {
                        progress(i as i64, total);
                    }
                }
                send(w.rest())?;
                waited_for_facts = incoming.waited;
                Ok(())
            })();
            drop(chunks);
            let written = writer
                .join()
                .map_err(|_| AppError::Internal("evaluation writer panicked".into()))?;
            // The writer's own error explains a stopped walk: report it first.
            w.summary.grade_changes = written?;
            walked
        })?;
        tracing::debug!(
            run_id,
            ms = started.elapsed().as_millis() as u64,
            waited_for_facts_ms = waited_for_facts.as_millis() as u64,
            waited_for_writer_ms = waited_for_writer.as_millis() as u64,
            "walked"
        );
        outside.extend(stored.map(|(id, _, _)| *id));
        remove_grades(conn, actor, run_id, &outside)?;
        progress(total, total);
        Ok(w.summary)
    }

    fn evaluate_some(
        &self,
        conn: &mut Conn,
        run: &RunContext<'_>,
        last: &store::RunRow,
        progress: &mut dyn FnMut(i64, i64),
    ) -> Result<RunSummary> {
        let RunContext {
            actor,
            run_id,
            t,
            rules,
            card,
            now,
            ..
        } = *run;
        // Changed after what the last run can have seen (`unseen_from`), changing by
        // themselves by now, or with facts decided after the last run's day (a run as of a
        // later day).
        let started = std::time::Instant::now();
        let phase = |what: &str| {
            tracing::debug!(run_id, ms = started.elapsed().as_secs_f64() * 1e3, "{what}")
        };
        let since = unseen_from(last);
        let mut ids = store::changed_since(conn, &since)?;
        phase("changed subjects found");
        ids.extend(store::due_for_change(conn, t)?);
        ids.extend(store::facts_decided_between(conn, last.as_of, t)?);
        ids.sort_unstable();
        ids.dedup();
        phase("subjects due found");
        // Many changed subjects (a large import since the last run): one pass over everything
        // is then faster than looking each up (PostgreSQL, 92,149 subjects: 25 s looked up,
        // 1.3 s in one pass).
        let directory = store::last_run(conn, true)?.map_or(0, |r| r.evaluated);
        if ids.len() >= ONE_PASS_MIN && ids.len() as i64 * 10 >= directory {
            return self.evaluate_all(conn, run, progress);
        }
        conn.tune_for_lookups()?;
        // Random lookups, a chunk of candidates at a time: their places in the directory and
        // stored evaluations, the revocation days of the revoked, their facts (digests and
        // list entries). With more than one chunk, two more connections read alternate
        // chunks while this one evaluates them in order and writes what changed (1 M
        // subjects, 1 % changed — 9,520, 8,913 of them in the directory. SQLite: one
        // connection 88–102 ms; a second one reading the facts 54–56 ms; two reading whole
        // chunks 46 ms, and 37–39 ms with the narrower lookups of `store::candidates` and
        // `digests::facts_of` — the cost is the pages read, ~1.7 µs each from the OS cache;
        // only as SQLite is built by .cargo/config.toml: with one page-cache mutex for all
        // connections two readers were slower than one. PostgreSQL, where the lookups are the
        // server's work and each connection has its own server process: 194–206 ms on one
        // connection, 127–156 ms on two readers. BENCHMARKS.md.) With one chunk or less this
        // connection reads it itself.
        let stamp = RunStamp::new(run_id, rules, now);
        let clean = clean_evaluation(rules, card, t, &stamp);
        let cx = run.chunk_context(&clean);
        let mut w = Writer::new(run_id, &clean);
        let (db, ids) = (&self.db, &ids);
        let readers = if ids.len() > INCREMENTAL_CHUNK {
            INCREMENTAL_READERS
        } else {
            0
        };
        let mut outside = Vec::new();
        std::thread::scope(|scope| {
            // Reader k reads chunks k, k + readers, … into its own channel, with room to run
            // ahead, bounded for a run of very many candidates.
            let (senders, receivers): (Vec<_>, Vec<_>) = (0..readers)
                .map(|_| std::sync::mpsc::sync_channel::<Result<ChunkInput>>(8))
                .unzip();
            let handles: Vec<_> = senders
                .into_iter()
                .enumerate()
                .map(|(k, tx)| {
                    scope.spawn(move || {
                        let mut c = match db.connect().and_then(|mut c| {
                            c.tune_for_lookups()?;
                            Ok(c)
                        }) {
                            Ok(c) => c,
                            Err(e) => {
                                let _ = tx.send(Err(e.into()));
                                return;
                            }
                        };
                        for chunk in ids.chunks(INCREMENTAL_CHUNK).skip(k).step_by(readers) {
                            let input = read_chunk(&mut c, chunk, t, rules);
                            let failed = input.is_err();
                            // Stop on an error, or when the evaluating side has stopped.
                            if tx.send(input).is_err() || failed {
                                return;
                            }
                        }
                    })
                })
                .collect();
            let evaluated = (|| {
                let mut done = 0;
                for (i, chunk) in ids.chunks(INCREMENTAL_CHUNK).enumerate() {
                    let mut input = match receivers.get(i % readers.max(1)) {
                        Some(rx) => rx.recv().map_err(|_| {
                            AppError::Internal("the evaluation's reader stopped".into())
                        })??,
                        None => read_chunk(conn, chunk, t, rules)?,
                    };
                    // Changed subjects that left the directory lose their stored evaluation.
                    outside.append(&mut input.candidates.stored_outside);
                    for s in &input.candidates.evaluated {
                        let (row, _) = run_row(
                            s,
                            input.facts.remove(&s.id),
                            input.revoked.get(&s.id).copied(),
                            rules,
                            card,
                            t,
                            &stamp,
                            &clean,
                        );
                        let before =
                            (input.candidates.stored.get(&s.id)).map(|(g, h)| (*g, h.as_str()));
                        if let Some(rows) = w.take(s.id, row, before) {
                            w.summary.grade_changes += write_chunk(conn, &cx, &rows)?;
                        }
                    }
                    done += chunk.len();
                    progress(done as i64, ids.len() as i64);
                }
                phase("read and evaluated");
                Ok::<(), AppError>(())
            })();
            // A reader blocked on a full channel sees this side gone and stops; then join
            // them, so that a panic there fails the run instead of unwinding past its end.
            drop(receivers);
            for h in handles {
                h.join()
                    .map_err(|_| AppError::Internal("evaluation reader panicked".into()))?;
            }
            evaluated
        })?;
        remove_grades(conn, actor, run_id, &outside)?;
        let rest = w.rest();
        w.summary.grade_changes += write_chunk(conn, &cx, &rest)?;
        phase("evaluated, changes written");
        Ok(w.summary)
    }

    /// Make every grading digest again from the credit records, audited: after a restore or
    /// a hand edit of `credit_records` (a damaged digest stops runs until this is done).
    /// Returns the number of digests.
    pub fn rebuild_grading_digests(&self, actor: &Actor) -> Result<u64> {
        actor.require(Permission::GradeRun)?;
        let mut conn = self.db.connect()?;
        conn.transaction(|tx| {
            let n = xinjian_store::digests::rebuild(tx)?;
            audit::append(
                tx,
                &actor.audit(),
                "grade.digests.rebuild",
                "grading_digests",
                &json!({ "digests": n }),
            )?;
            Ok::<_, AppError>(n)
        })
    }

    /// Recent runs, for the statistics page.
    pub fn evaluation_runs(&self, actor: &Actor) -> Result<Vec<store::RunRow>> {
        actor.require(Permission::GradeRead)?;
        Ok(store::recent_runs(&mut *self.db.conn()?, 20)?)
    }

    /// Grades and risk classes by industry or division (the statistics page; staff only, the
    /// risk part internal).
    pub fn grade_distribution(
        &self,
        actor: &Actor,
        by_division: bool,
    ) -> Result<Vec<store::DistributionRow>> {
        actor.require(Permission::GradeRead)?;
        let mut rows = self.report(&format!("grade_distribution:{by_division}"), |conn| {
            // The subjects the last run saw clean have no stored evaluation: counted with the
            // clean evaluation of that run's rules.
            let clean = match store::last_run(conn, false)? {
                Some(run) => store::rules_version(conn, &run.rule_version)?.map(|(rules, card)| {
                    let stamp = RunStamp::new(run.id, &rules, "");
                    let row = clean_evaluation(&rules, &card, run.as_of, &stamp);
                    (row, run.started_at)
                }),
                None => None,
            };
            let count = clean.as_ref().map(|(row, seen_before)| store::CleanCount {
                grade: row.grade.as_str(),
                risk_class: &row.risk_class,
                seen_before,
            });
            Ok(store::distribution(conn, by_division, count.as_ref())?)
        })?;
        if !actor.can(Permission::RiskRead) {
            for r in &mut rows {
                r.risk_class.clear();
            }
        }
        Ok(rows)
    }

    /// The scheduled evaluation: incremental every day, full when the last full run is a cycle
    /// (`cycle_months`) old or the rules changed. Returns what ran, if anything.
    pub fn scheduled_evaluation(&self) -> Result<Option<RunSummary>> {
        let day = today();
        let (last_any, last_full, rules) = {
            let mut conn = self.db.conn()?;
            (
                store::last_run(&mut conn, false)?,
                store::last_run(&mut conn, true)?,
                store::current_rules(&mut conn)?.0,
            )
        };
        if last_any.as_ref().is_some_and(|r| r.as_of >= day) {
            return Ok(None);
        }
        let full = last_full.is_none_or(|r| {
            xinjian_core::credit::add_months(r.as_of, rules.cycle_months) <= day
                || r.rule_version != rules.version
        });
        let system = Actor::System("system:schedule".into());
        self.evaluate_jurisdiction(&system, Some(day), full, &mut |_, _| {})
            .map(Some)
    }
}

/// One group (industry or division) of the distribution.
#[derive(Debug, Clone, Serialize)]
pub struct DistributionGroup {
    pub group: String,
    /// Subjects graded A, B, C, D.
    pub grades: [i64; 4],
    /// Subjects of risk class low, general, higher, high (zeros without [`Permission::RiskRead`]).
    pub risk: [i64; 4],
    pub total: i64,
    /// Per cent of the group in each grade, one decimal.
    pub pct: [f64; 4],
}

impl App {
    /// The distribution by group, largest groups first.
    pub fn grade_groups(&self, actor: &Actor, by_division: bool) -> Result<Vec<DistributionGroup>> {
        let rows = self.grade_distribution(actor, by_division)?;
        let mut groups: std::collections::BTreeMap<String, ([i64; 4], [i64; 4])> =
            Default::default();
        for r in &rows {
            let e = groups.entry(r.group.clone()).or_default();
            if let Some(g) = Grade::parse(&r.grade) {
                e.0[g as usize] += r.count;
            }
            if let Some(c) = RiskClass::parse(&r.risk_class) {
                e.1[c as usize] += r.count;
            }
        }
        let mut out: Vec<DistributionGroup> = groups
            .into_iter()
            .map(|(group, (grades, risk))| {
                let total: i64 = grades.iter().sum();
                let pct = grades.map(|n| {
                    if total == 0 {
                        0.0
                    } else {
                        (n as f64 * 1000.0 / total as f64).round() / 10.0
                    }
                });
                DistributionGroup {
                    group: if group.is_empty() {
                        "（未填写）".into()
                    } else {
                        group
                    },
                    grades,
                    risk,
                    total,
                    pct,
                }
            })
            .collect();
        out.sort_by_key(|g| -g.total);
        Ok(out)
    }

    /// The distribution as an XLSX workbook (the risk columns only for staff who may read them).
    pub fn grade_groups_xlsx(&self, actor: &Actor, by_division: bool) -> Result<Vec<u8>> {
        let groups = self.grade_groups(actor, by_division)?;
        let show_risk = actor.can(Permission::RiskRead);
        crate::sources::xlsx_guard(|| distribution_workbook(&groups, by_division, show_risk))
    }
}

/// The distribution as an XLSX workbook.
fn distribution_workbook(
    groups: &[DistributionGroup],
    by_division: bool,
    show_risk: bool,
) -> Result<Vec<u8>> {
    let xerr = crate::sources::xlsx_err;
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("评价结果分布").map_err(xerr)?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let mut head = vec![
        if by_division {
            "行政区划"
        } else {
            "所属行业"
        },
        "主体数",
        "A 守信",
        "B 一般失信",
        "C 严重失信",
        "D 黑名单",
    ];
    if show_risk {
        head.extend(["风险低", "风险一般", "风险较高", "风险高"]);
    }
    for (c, h) in head.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(xerr)?;
        ws.set_column_width(c as u16, if c == 0 { 36 } else { 12 })
            .map_err(xerr)?;
    }
    for (i, g) in groups.iter().enumerate() {
        let r = 1 + i as u32;
        ws.write_string(r, 0, &g.group).map_err(xerr)?;
        ws.write_number(r, 1, g.total as f64).map_err(xerr)?;
        for k in 0..4 {
            ws.write_number(r, 2 + k as u16, g.grades[k] as f64)
                .map_err(xerr)?;
            if show_risk {
                ws.write_number(r, 6 + k as u16, g.risk[k] as f64)
                    .map_err(xerr)?;
            }
        }
    }
    wb.save_to_buffer().map_err(xerr)
}

/// A finishing time that sorts after `start` even on a coarse clock.
fn now_after(start: &str) -> String {
    let n = now();
    if n.as_str() > start {
        n
    } else {
        start.to_owned()
    }
}

/// Grades in display order with their labels.
pub fn grade_labels() -> Vec<(&'static str, &'static str)> {
    Grade::ALL.iter().map(|g| (g.as_str(), g.label())).collect()
}

/// Risk classes in display order with their labels.
pub fn risk_labels() -> Vec<(&'static str, &'static str)> {
    RiskClass::ALL
        .iter()
        .map(|c| (c.as_str(), c.label()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use xinjian_core::grade::{Basis, Reason};

    /// A full run whose writer fails while the walk still has chunks to hand over (chunks of 4
    /// in tests, two in flight): the walk stops, the writer's own error is the one reported,
    /// the chunk before the failure stays written and nothing after it, and the run is marked
    /// failed.
    #[test]
    fn a_writer_that_fails_mid_run_stops_the_walk_and_its_error_is_reported() {
        let (_dir, app) = crate::test_app_with_registry(60, 7);
        let system = Actor::System("test".into());
        let mut conn = app.db.conn().unwrap();
        // Every subject revoked (D), so that each has an evaluation to store (a clean one is
        // not stored).
        conn.execute(
            "UPDATE subjects SET reg_status = 'revoked' WHERE reg_status = 'active'",
            &[],
        )
        .unwrap();
        // The fifth subject of the directory: the second chunk.
        let fifth: i64 = conn
            .query_row(
                "SELECT id FROM subjects WHERE reg_status IN ('active', 'revoked') AND kind <> 'natural_person' \
                 ORDER BY id LIMIT 1 OFFSET 4",
                &[],
            )
            .unwrap()
            .get(0)
            .unwrap();
        let directory: i64 = conn
            .query_row(
                "SELECT count(*) FROM subjects WHERE reg_status IN ('active', 'revoked') AND kind <> 'natural_person'",
                &[],
            )
            .unwrap()
            .get(0)
            .unwrap();
        assert!(
            directory >= 20,
            "chunks enough to be still walking: {directory}"
        );
        conn.execute_batch(&format!(
            "CREATE TRIGGER disk_full BEFORE INSERT ON grades WHEN NEW.subject_id = {fifth} \
             BEGIN SELECT RAISE(ABORT, 'disk full (played by a trigger)'); END;"
        ))
        .unwrap();
        let err = app
            .evaluate_jurisdiction(&system, None, true, &mut |_, _| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("disk full"), "{err}");
        let count = |conn: &mut Conn, sql: &str| -> i64 {
            conn.query_row(sql, &[]).unwrap().get(0).unwrap()
        };
        assert_eq!(count(&mut conn, "SELECT count(*) FROM grades"), 4);
        assert_eq!(
            count(
                &mut conn,
                "SELECT count(*) FROM evaluation_runs WHERE status = 'failed'"
            ),
            1
        );
    }

    /// The reasons a run stores (and hashes) are the contract's `reasons` in their compact
    /// form, and read back as the contract's JSON, byte for byte.
    #[test]
    fn stored_reasons_read_back_as_the_contract_json() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let reason = |basis, kind: &str, doc: &str, sev, until: Option<&str>| Reason {
            basis,
            kind: kind.into(),
            document_number: doc.into(),
            decision_date: d("2026-03-05"),
            severity: sev,
            counts_until: until.map(d),
        };
        let e = Evaluation {
            as_of: d("2026-06-01"),
            grade: Grade::C,
            rule_version: "v".into(),
            reasons: vec![
                reason(
                    Basis::SeriousList,
                    "serious_dishonest",
                    "利信〔2026〕\"1\"号",
                    Severity::Serious,
                    None,
                ),
                reason(
                    Basis::GeneralRecord,
                    "penalty",
                    "利财罚〔2026〕5号",
                    Severity::General,
                    Some("2027-03-06"),
                ),
                reason(
                    Basis::SeriousRecord,
                    "penalty",
                    "",
                    Severity::Minor,
                    Some("2026-12-31"),
                ),
            ],
            outlook: vec![(d("2026-12-31"), Grade::B), (d("2027-03-06"), Grade::A)],
        };
        // The outlook is stored as serde writes it.
        assert_eq!(
            outlook_stored(&e.outlook),
            serde_json::to_string(&e.outlook).unwrap()
        );
        assert_eq!(outlook_stored(&[]), "[]");
        let contract = serde_json::to_string(&reasons_json(&e)).unwrap();
        let stored = reasons_stored(e.reasons.iter().map(ReasonParts::of));
        assert_eq!(
            stored,
            r#"[["serious_list","serious_dishonest","利信〔2026〕\"1\"号","2026-03-05","serious",null],["general_record","penalty","利财罚〔2026〕5号","2026-03-05","general","2027-03-06"],["serious_record","penalty","","2026-03-05","minor","2026-12-31"]]"#
        );
        let read = |s: &str| serde_json::to_string(&stored_reasons(s).unwrap()).unwrap();
        assert_eq!(read(&stored), contract);
        // What earlier versions stored — the contract's objects — reads the same.
        assert_eq!(read(&contract), contract);
        let empty = reasons_stored(std::iter::empty());
        assert_eq!(empty, "[]");
        assert!(stored_reasons(&empty).unwrap().is_empty());
        assert!(stored_reasons(r#"[["general_record","penalty"]]"#).is_err());
        assert!(stored_reasons(r#"[{"kind":"penalty"}]"#).is_err());
    }
}
