//! The public credit evaluation from the command line (issue 4, DOMAIN §4, seed 004):
//! `xinjian grade CODE [--as-of D] --json` and `xinjian evaluate [--as-of D] [--full]`.
//!
//! Checked from outside: exit status, stdout/stderr, and the SQLite file read with rusqlite
//! (tables `grades`, `grade_events`, `evaluation_runs`, `grade_rule_sets`). The expected grades
//! and window days are worked out by hand from DOMAIN §4, never from the crate's own engine:
//! a record decided on D counts from D to the day before the same calendar day a year later
//! (29 February → 28 February for the window's start), 5 `general` records are B and 6 are C,
//! `minor` ones do not count, a serious record or the serious list makes C, 吊销 makes D.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate};
use serde_json::Value;

use crate::support::*;

// ---------------------------------------------------------------------------------------------
// Days.

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// "Today" as the platform counts it: the date in China (UTC+8).
fn china_today() -> NaiveDate {
    (chrono::Utc::now() + Duration::hours(8)).date_naive()
}

/// `today − n` days, as `YYYY-MM-DD`.
fn days_ago(n: i64) -> String {
    (china_today() - Duration::days(n)).to_string()
}

/// A `YYYY-MM-DD` date, exactly (no other spelling).
fn assert_day(v: &Value, what: &str) -> NaiveDate {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what}: a string, got {v}"));
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .unwrap_or_else(|e| panic!("{what}: {s:?} is not YYYY-MM-DD: {e}"));
    assert_eq!(day.format("%Y-%m-%d").to_string(), s, "{what}: {s:?}");
    day
}

// ---------------------------------------------------------------------------------------------
// Input files.

/// The name registered for `gen_code(i)`.
fn name(i: u64) -> String {
    format!("测试企业第{i}号有限公司")
}

/// Register (or update) subjects `gen_code(i)` with a 登记状态 and a 主体类型 (may be empty).
fn register(fx: &Fixture, file: &str, rows: &[(u64, &str, &str)]) -> Run {
    let mut s = String::from("统一社会信用代码,名称,登记状态,成立日期,主体类型\n");
    for (i, status, kind) in rows {
        s.push_str(&format!(
            "{},{},{status},2020-01-01,{kind}\n",
            gen_code(*i),
            name(*i)
        ));
    }
    let f = fx.write(file, s);
    let r = fx.import(&f, &[]);
    r.assert_success();
    r
}

/// Register active enterprises `gen_code(i)` for every `i` in `ids`.
fn register_active(fx: &Fixture, ids: &[u64]) {
    let rows: Vec<(u64, &str, &str)> = ids.iter().map(|i| (*i, "存续", "")).collect();
    register(fx, "registry.csv", &rows).assert_summary(ids.len() as u64, 0, 0, 0);
}

/// One penalty row: subject index, document number, 处罚类别, 处罚决定日期, 失信严重程度.
type Pen<'a> = (u64, &'a str, &'a str, &'a str, &'a str);

/// Import penalties in the national 双公示 format; every row must be imported as new.
fn penalties(fx: &Fixture, file: &str, rows: &[Pen]) {
    let mut s = String::from(
        "行政相对人名称,统一社会信用代码,行政处罚决定书文号,处罚类别,处罚决定日期,失信严重程度\n",
    );
    for (i, doc, category, date, severity) in rows {
        s.push_str(&format!(
            "{},{},{doc},{category},{date},{severity}\n",
            name(*i),
            gen_code(*i)
        ));
    }
    let f = fx.write(file, s);
    let path = f.display().to_string();
    fx.xj_db(&["import", "penalties", &path])
        .assert_summary(rows.len() as u64, 0, 0, 0);
}

/// One list row: subject index, 名单类型, 列入日期, 列入决定文号, 有效期至, 移出日期, 移出原因.
type Entry<'a> = (u64, &'a str, &'a str, &'a str, &'a str, &'a str, &'a str);

/// Import list entries; every row must be imported as new.
fn lists(fx: &Fixture, file: &str, rows: &[Entry]) {
    let mut s = String::from(
        "统一社会信用代码,名单类型,列入日期,列入决定文号,列入机关,列入事由,有效期至,移出日期,移出原因\n",
    );
    for (i, list, entered, decision, term, exited, reason) in rows {
        s.push_str(&format!(
            "{},{list},{entered},{decision},广元市利州区财政局,严重失信行为,{term},{exited},{reason}\n",
            gen_code(*i)
        ));
    }
    let f = fx.write(file, s);
    let path = f.display().to_string();
    fx.xj_db(&["import", "lists", &path])
        .assert_summary(rows.len() as u64, 0, 0, 0);
}

// ---------------------------------------------------------------------------------------------
// `xinjian grade`, checked against the contract on every call.

/// The current rule version, as stored (exactly one current version).
fn current_version(fx: &Fixture) -> String {
    assert_eq!(
        fx.count("SELECT count(*) FROM grade_rule_sets WHERE is_current = 1"),
        1,
        "exactly one current rule set"
    );
    fx.conn()
        .query_row(
            "SELECT version FROM grade_rule_sets WHERE is_current = 1",
            [],
            |r| r.get(0),
        )
        .expect("the current rule version")
}

const TOP_KEYS: [&str; 5] = ["as_of", "code", "grade", "reasons", "rule_version"];
const REASON_KEYS: [&str; 7] = [
    "basis",
    "basis_label",
    "counts_until",
    "decision_date",
    "document_number",
    "kind",
    "severity",
];
const BASES: [&str; 5] = [
    "revoked_status",
    "licence_revocation",
    "serious_list",
    "serious_record",
    "general_record",
];

/// One reason of the grade JSON.
#[derive(Debug, Clone, PartialEq)]
struct Reason {
    kind: String,
    doc: String,
    decided: String,
    severity: String,
    basis: String,
    counts_until: Option<String>,
}

/// The grade JSON, its shape checked.
#[derive(Debug, Clone)]
struct Graded {
    grade: String,
    reasons: Vec<Reason>,
    json: Value,
}

impl Graded {
    fn docs(&self) -> BTreeSet<String> {
        self.reasons.iter().map(|r| r.doc.clone()).collect()
    }

    fn bases(&self) -> BTreeSet<String> {
        self.reasons.iter().map(|r| r.basis.clone()).collect()
    }

    fn reason(&self, doc: &str) -> &Reason {
        self.reasons
            .iter()
            .find(|r| r.doc == doc)
            .unwrap_or_else(|| panic!("a reason {doc} in {:#?}", self.reasons))
    }
}

/// Check one grade JSON against the contract; `as_of` is the day asked for.
fn check_shape(fx: &Fixture, v: &Value, code: &str, as_of: NaiveDate) -> Graded {
    let o = v.as_object().unwrap_or_else(|| panic!("an object: {v}"));
    let keys: BTreeSet<&str> = o.keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(TOP_KEYS), "top-level keys of {v}");
    assert_eq!(o["code"], code, "{v}");
    assert_eq!(assert_day(&o["as_of"], "as_of"), as_of, "{v}");
    let grade = o["grade"].as_str().expect("grade is a string").to_owned();
    assert!(["A", "B", "C", "D"].contains(&grade.as_str()), "{v}");
    assert_eq!(
        o["rule_version"].as_str(),
        Some(current_version(fx).as_str()),
        "the current rule version: {v}"
    );
    let list = o["reasons"].as_array().expect("reasons is a list");
    assert_eq!(
        list.is_empty(),
        grade == "A",
        "reasons empty exactly for A: {v}"
    );
    let mut reasons = Vec::new();
    for r in list {
        let ro = r
            .as_object()
            .unwrap_or_else(|| panic!("a reason object: {r}"));
        let keys: BTreeSet<&str> = ro.keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(REASON_KEYS), "reason keys of {r}");
        let s = |k: &str| {
            ro[k]
                .as_str()
                .unwrap_or_else(|| panic!("{k} is a string: {r}"))
                .to_owned()
        };
        let decided = assert_day(&ro["decision_date"], "decision_date");
        assert!(decided <= as_of, "a reason decided after T: {r}");
        let severity = s("severity");
        assert!(
            ["general", "serious"].contains(&severity.as_str()),
            "severity general|serious: {r}"
        );
        let basis = s("basis");
        assert!(BASES.contains(&basis.as_str()), "basis: {r}");
        assert!(has_chinese(&s("basis_label")), "a Chinese basis label: {r}");
        assert!(!s("kind").is_empty(), "{r}");
        let counts_until = match &ro["counts_until"] {
            Value::Null => None,
            other => {
                let until = assert_day(other, "counts_until");
                assert!(
                    until > as_of,
                    "a fact that counts on T counts until after T: {r}"
                );
                Some(until.to_string())
            }
        };
        reasons.push(Reason {
            kind: s("kind"),
            doc: s("document_number"),
            decided: decided.to_string(),
            severity,
            basis,
            counts_until,
        });
    }
    Graded {
        grade,
        reasons,
        json: v.clone(),
    }
}

/// `xinjian grade CODE --as-of DAY --json`.
fn grade_at(fx: &Fixture, code: &str, as_of: &str) -> Graded {
    let r = fx.xj_db(&["grade", code, "--as-of", as_of, "--json"]);
    r.assert_success();
    let v: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("JSON on stdout ({e}):\n{}", r.describe()));
    check_shape(fx, &v, code, d(as_of))
}

/// The grade letter of subject `i` as of a day.
fn g(fx: &Fixture, i: u64, as_of: &str) -> String {
    grade_at(fx, &gen_code(i), as_of).grade
}

/// `xinjian grade CODE --json` (as of today).
fn grade_today(fx: &Fixture, code: &str) -> Graded {
    let before = china_today();
    let r = fx.xj_db(&["grade", code, "--json"]);
    let after = china_today();
    r.assert_success();
    let v: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("JSON on stdout ({e}):\n{}", r.describe()));
    // Today, whichever side of midnight the command ran.
    let as_of = assert_day(&v["as_of"], "as_of");
    assert!(as_of == before || as_of == after, "as_of is today: {v}");
    check_shape(fx, &v, code, as_of)
}

// ---------------------------------------------------------------------------------------------
// `xinjian evaluate` and the stored evaluations.

/// The counts of a summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    n: i64,
    abcd: [i64; 4],
}

fn counts(n: i64, a: i64, b: i64, c: i64, dd: i64) -> Counts {
    Counts {
        n,
        abcd: [a, b, c, dd],
    }
}

/// `evaluate`, then move the run's look-back for late changes (`changes_from`) up to now, as if
/// the run had happened long after the data was loaded. An incremental run re-reads the changes
/// stamped shortly before the last run started (a writer may stamp a change, then wait for the
/// write lock while the run begins); the tests that count exactly which subjects an incremental
/// run evaluates use this, so that only what changed after the run counts. (The data's own
/// stamps are left alone: they are facts — a 吊销 counts from the day it was recorded, and
/// aging the stamps moved that day back across midnight in China.)
fn evaluate_settled(fx: &Fixture, args: &[&str]) -> Counts {
    let c = evaluate(fx, args);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let n = fx
        .conn()
        .execute(
            "UPDATE evaluation_runs SET changes_from = ?1 WHERE id = (SELECT max(id) FROM evaluation_runs)",
            [now],
        )
        .unwrap();
    assert_eq!(n, 1, "the run is recorded");
    c
}

/// `xinjian evaluate [args]`: success, and the last stdout line exactly
/// `evaluated N: A=a B=b C=c D=d` with N = a + b + c + d.
fn evaluate(fx: &Fixture, args: &[&str]) -> Counts {
    let mut all = vec!["evaluate"];
    all.extend_from_slice(args);
    let r = fx.xj_db(&all);
    r.assert_success();
    let line = r.last_line();
    let nums: Vec<i64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(nums.len(), 5, "{}", r.describe());
    let c = counts(nums[0], nums[1], nums[2], nums[3], nums[4]);
    assert_eq!(
        line,
        format!(
            "evaluated {}: A={} B={} C={} D={}",
            c.n, c.abcd[0], c.abcd[1], c.abcd[2], c.abcd[3]
        ),
        "the summary line, exactly:\n{}",
        r.describe()
    );
    assert_eq!(c.abcd.iter().sum::<i64>(), c.n, "{line}");
    c
}

/// The evaluated directory, as SQL (the subjects a run grades).
const DIRECTORY: &str = "s.reg_status IN ('active', 'revoked') AND s.kind <> 'natural_person'";

/// Grades by letter of the evaluated directory as stored: the `grades` table, and A for the
/// subjects without a row (a clean evaluation is not stored).
fn table_counts(fx: &Fixture) -> Counts {
    let mut abcd = [0i64; 4];
    for (i, l) in ["A", "B", "C", "D"].iter().enumerate() {
        abcd[i] = fx.count(&format!(
            "SELECT count(*) FROM subjects s LEFT JOIN grades g ON g.subject_id = s.id \
             WHERE {DIRECTORY} AND COALESCE(g.grade, 'A') = '{l}'"
        ));
    }
    let n = fx.count(&format!(
        "SELECT count(*) FROM subjects s WHERE {DIRECTORY}"
    ));
    // No stored evaluation outside the directory.
    assert_eq!(
        fx.count(&format!(
            "SELECT count(*) FROM grades g JOIN subjects s ON s.id = g.subject_id WHERE NOT ({DIRECTORY})"
        )),
        0
    );
    Counts { n, abcd }
}

/// Stored evaluations that are clean (A without reasons, outlook or risk points): there must
/// be none.
fn clean_rows(fx: &Fixture) -> i64 {
    fx.count(
        "SELECT count(*) FROM grades WHERE grade = 'A' AND reasons = '[]' AND outlook = '[]' \
         AND risk_score = 0 AND risk_detail = '{\"inputs\":{\"grade\":\"A\"}}'",
    )
}

/// Code → grade as stored (A for a subject of the directory without a stored evaluation).
fn stored_grades(fx: &Fixture) -> BTreeMap<String, String> {
    let c = fx.conn();
    let mut st = c
        .prepare(&format!(
            "SELECT s.code, COALESCE(g.grade, 'A') FROM subjects s LEFT JOIN grades g ON g.subject_id = s.id \
             WHERE {DIRECTORY}"
        ))
        .unwrap();
    let v = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    v
}

/// Every column of every stored grade, as text, in subject order.
fn grades_snapshot(fx: &Fixture) -> Vec<Vec<Option<String>>> {
    let c = fx.conn();
    let mut st = c
        .prepare(
            "SELECT CAST(subject_id AS TEXT), grade, as_of, rule_version, reasons, outlook, next_change_on, \
             CAST(risk_score AS TEXT), risk_class, risk_detail, content_hash, CAST(run_id AS TEXT), \
             evaluated_at FROM grades ORDER BY subject_id",
        )
        .unwrap();
    let v = st
        .query_map([], |r| {
            (0..13)
                .map(|i| r.get::<_, Option<String>>(i))
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    v
}

/// `(grade, as_of, next_change_on, reasons as the contract shows them, run_id)` of the stored
/// grade of a code.
fn stored(fx: &Fixture, code: &str) -> (String, String, Option<String>, Value, i64) {
    fx.conn()
        .query_row(
            "SELECT g.grade, g.as_of, g.next_change_on, g.reasons, g.run_id FROM grades g \
             JOIN subjects s ON s.id = g.subject_id WHERE s.code = ?1",
            [code],
            |r| {
                let reasons: String = r.get(3)?;
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    serde_json::to_value(
                        xinjian_app::grading::stored_reasons(&reasons)
                            .expect("stored reasons read back"),
                    )
                    .unwrap(),
                    r.get(4)?,
                ))
            },
        )
        .unwrap_or_else(|e| panic!("a stored grade for {code}: {e}"))
}

/// The reasons of the latest grade event of a code, as the contract shows them.
fn last_event_reasons(fx: &Fixture, code: &str) -> Value {
    let stored: String = fx
        .conn()
        .query_row(
            "SELECT e.reasons FROM grade_events e JOIN subjects s ON s.id = e.subject_id \
             WHERE s.code = ?1 ORDER BY e.id DESC LIMIT 1",
            [code],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("a grade event for {code}: {e}"));
    serde_json::to_value(xinjian_app::grading::stored_reasons(&stored).unwrap()).unwrap()
}

/// Whether a code has a stored evaluation (a clean one is not stored).
fn is_stored(fx: &Fixture, code: &str) -> bool {
    fx.conn()
        .query_row(
            "SELECT count(*) FROM grades g JOIN subjects s ON s.id = g.subject_id WHERE s.code = ?1",
            [code],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
        > 0
}

/// A grade event: `(code, as_of, from_grade, to_grade, rule_version, run_id)`.
type Event = (String, String, Option<String>, String, String, i64);

fn events(fx: &Fixture) -> Vec<Event> {
    let c = fx.conn();
    let mut st = c
        .prepare(
            "SELECT s.code, e.as_of, e.from_grade, e.to_grade, e.rule_version, e.run_id \
             FROM grade_events e JOIN subjects s ON s.id = e.subject_id ORDER BY e.id",
        )
        .unwrap();
    let v = st
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    v
}

/// A run: `(id, as_of, full_run, status, evaluated, [a, b, c, d], rule_version)`.
type RunRow = (i64, String, bool, String, i64, [i64; 4], String);

fn runs(fx: &Fixture) -> Vec<RunRow> {
    let c = fx.conn();
    let mut st = c
        .prepare(
            "SELECT id, as_of, full_run, status, evaluated, count_a, count_b, count_c, count_d, \
             rule_version FROM evaluation_runs ORDER BY id",
        )
        .unwrap();
    let v = st
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                [r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?],
                r.get(9)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    v
}

fn last_run_id(fx: &Fixture) -> i64 {
    fx.count("SELECT max(id) FROM evaluation_runs")
}

fn audit_actions(fx: &Fixture, action: &str) -> i64 {
    fx.count(&format!(
        "SELECT count(*) FROM audit_log WHERE action = '{action}'"
    ))
}

// ---------------------------------------------------------------------------------------------
// 1: the contract's shape.

#[test]
fn grade_json_has_exactly_the_contract_keys_types_and_dates() {
    let fx = Fixture::new();
    register_active(&fx, &[1, 2, 3, 4, 5]);
    penalties(
        &fx,
        "p.csv",
        &[
            (2, "利财罚〔2024〕1号", "罚款", "2024-03-05", ""),
            (3, "利市监罚〔2024〕2号", "责令停产停业", "2024-04-15", ""),
            (4, "利市监罚〔2020〕3号", "吊销营业执照", "2020-05-06", ""),
        ],
    );
    lists(
        &fx,
        "l.csv",
        &[(
            5,
            "严重失信主体名单",
            "2024-01-10",
            "利信认〔2024〕1号",
            "",
            "",
            "",
        )],
    );
    let version = current_version(&fx);
    assert!(!version.trim().is_empty());

    // A: no reasons.
    let a = grade_at(&fx, &gen_code(1), "2024-06-01");
    assert_eq!(a.grade, "A");
    assert_eq!(a.json["reasons"], serde_json::json!([]));
    assert_eq!(a.json["rule_version"], version.as_str());

    // B: the general penalty, counted until the same day a year later.
    let b = grade_at(&fx, &gen_code(2), "2024-06-01");
    assert_eq!(b.grade, "B");
    assert_eq!(
        b.reasons,
        vec![Reason {
            kind: "penalty".into(),
            doc: "利财罚〔2024〕1号".into(),
            decided: "2024-03-05".into(),
            severity: "general".into(),
            basis: "general_record".into(),
            counts_until: Some("2025-03-05".into()),
        }]
    );

    // C by a serious record.
    let c = grade_at(&fx, &gen_code(3), "2024-06-01");
    assert_eq!(c.grade, "C");
    assert_eq!(
        c.reasons,
        vec![Reason {
            kind: "penalty".into(),
            doc: "利市监罚〔2024〕2号".into(),
            decided: "2024-04-15".into(),
            severity: "serious".into(),
            basis: "serious_record".into(),
            counts_until: Some("2025-04-15".into()),
        }]
    );

    // D by a 吊销营业执照 penalty: it never stops counting by itself.
    let dd = grade_at(&fx, &gen_code(4), "2024-06-01");
    assert_eq!(dd.grade, "D");
    assert_eq!(
        dd.reasons,
        vec![Reason {
            kind: "penalty".into(),
            doc: "利市监罚〔2020〕3号".into(),
            decided: "2020-05-06".into(),
            severity: "serious".into(),
            basis: "licence_revocation".into(),
            counts_until: None,
        }]
    );
    assert!(dd.json["reasons"][0]["counts_until"].is_null());

    // C by the serious list: the decision number and the day of entry; no end yet.
    let l = grade_at(&fx, &gen_code(5), "2024-06-01");
    assert_eq!(l.grade, "C");
    assert_eq!(l.reasons.len(), 1);
    let r = &l.reasons[0];
    assert_eq!(r.doc, "利信认〔2024〕1号");
    assert_eq!(r.decided, "2024-01-10");
    assert_eq!(r.severity, "serious");
    assert_eq!(r.basis, "serious_list");
    assert_eq!(r.counts_until, None);

    // Without --as-of: today (China), the same shape; the code is normalised.
    let today = grade_today(&fx, &gen_code(4));
    assert_eq!(today.grade, "D");
    let lower = gen_code(1).to_lowercase();
    let r = fx.xj_db(&[
        "grade",
        &format!(" {lower} "),
        "--as-of",
        "2024-06-01",
        "--json",
    ]);
    r.assert_success();
    let v: Value = serde_json::from_str(&r.stdout).expect("JSON");
    check_shape(&fx, &v, &gen_code(1), d("2024-06-01"));

    // `grade` only reads: no run, no stored grade, no event.
    assert_eq!(fx.count("SELECT count(*) FROM evaluation_runs"), 0);
    assert_eq!(fx.count("SELECT count(*) FROM grades"), 0);
    assert_eq!(fx.count("SELECT count(*) FROM grade_events"), 0);
}

// ---------------------------------------------------------------------------------------------
// 2: boundary cases, end to end.

#[test]
fn five_general_penalties_are_b_and_six_are_c() {
    let fx = Fixture::new();
    register_active(&fx, &[1, 2, 3, 4]);
    let months = [
        "2024-01-10",
        "2024-02-10",
        "2024-03-10",
        "2024-04-10",
        "2024-05-10",
        "2024-06-10",
    ];
    let docs1: Vec<String> = (1..=5).map(|n| format!("利财罚〔2024〕1{n}号")).collect();
    let docs2: Vec<String> = (1..=6).map(|n| format!("利财罚〔2024〕2{n}号")).collect();
    let docs3: Vec<String> = (1..=6).map(|n| format!("利财罚〔2024〕3{n}号")).collect();
    let docs4: Vec<String> = (1..=8).map(|n| format!("利财罚〔2024〕4{n}号")).collect();
    let mut rows: Vec<Pen> = Vec::new();
    // 1: five general penalties.
    for (doc, day) in docs1.iter().zip(months) {
        rows.push((1, doc, "罚款", day, ""));
    }
    // 2: six general penalties, a month apart.
    for (doc, day) in docs2.iter().zip(months) {
        rows.push((2, doc, "罚款", day, ""));
    }
    // 3: six on the same day.
    for doc in &docs3 {
        rows.push((3, doc, "罚款", "2024-04-01", ""));
    }
    // 4: five general and three minor ones.
    for (n, doc) in docs4.iter().enumerate() {
        let category = if n < 5 { "罚款" } else { "警告" };
        rows.push((4, doc, category, "2024-04-01", ""));
    }
    penalties(&fx, "p.csv", &rows);

    let five = grade_at(&fx, &gen_code(1), "2024-06-10");
    assert_eq!(five.grade, "B", "5 general records: B (含5次)");
    assert_eq!(five.docs(), docs1.iter().cloned().collect());
    assert_eq!(five.bases(), BTreeSet::from(["general_record".to_owned()]));

    let six = grade_at(&fx, &gen_code(2), "2024-06-10");
    assert_eq!(six.grade, "C", "6 general records: C");
    assert_eq!(six.docs(), docs2.iter().cloned().collect());
    assert!(six
        .reasons
        .iter()
        .all(|r| r.basis == "general_record" && r.severity == "general"));
    // The day before the sixth: five.
    assert_eq!(g(&fx, 2, "2024-06-09"), "B");
    // The first leaves the window on 2025-01-10: five again, then none.
    assert_eq!(g(&fx, 2, "2025-01-09"), "C");
    let after_first = grade_at(&fx, &gen_code(2), "2025-01-10");
    assert_eq!(after_first.grade, "B");
    assert_eq!(after_first.reasons.len(), 5);
    assert!(!after_first.docs().contains(&docs2[0]));
    assert_eq!(g(&fx, 2, "2025-06-09"), "B");
    assert_eq!(g(&fx, 2, "2025-06-10"), "A");

    assert_eq!(
        g(&fx, 3, "2024-04-01"),
        "C",
        "six on one day count six times"
    );
    assert_eq!(g(&fx, 3, "2024-03-31"), "A");

    let mixed = grade_at(&fx, &gen_code(4), "2024-06-01");
    assert_eq!(mixed.grade, "B", "minor records do not push five to six");
    assert_eq!(mixed.reasons.len(), 5);
    assert_eq!(mixed.docs(), docs4[..5].iter().cloned().collect());
}

#[test]
fn the_window_runs_from_the_decision_day_to_the_day_before_its_anniversary() {
    let fx = Fixture::new();
    register_active(&fx, &[1, 2]);
    penalties(
        &fx,
        "p.csv",
        &[
            (1, "利财罚〔2024〕1号", "罚款", "2024-03-05", ""),
            (2, "利财罚〔2024〕2号", "罚款", "2024-01-31", ""),
        ],
    );
    // Decided after T: ignored.
    assert_eq!(g(&fx, 1, "2024-03-04"), "A", "a record decided after T");
    // The first day: the decision day itself.
    let first = grade_at(&fx, &gen_code(1), "2024-03-05");
    assert_eq!(first.grade, "B");
    assert_eq!(first.reasons[0].counts_until.as_deref(), Some("2025-03-05"));
    // The last day: the day before the same day a year later; out on that day.
    assert_eq!(g(&fx, 1, "2025-03-04"), "B");
    assert_eq!(g(&fx, 1, "2025-03-05"), "A");
    // A month end.
    assert_eq!(g(&fx, 2, "2024-01-30"), "A");
    assert_eq!(g(&fx, 2, "2024-01-31"), "B");
    assert_eq!(g(&fx, 2, "2025-01-30"), "B");
    assert_eq!(g(&fx, 2, "2025-01-31"), "A");
    assert_eq!(
        grade_at(&fx, &gen_code(2), "2025-01-30").reasons[0]
            .counts_until
            .as_deref(),
        Some("2025-01-31")
    );
}

#[test]
fn the_twenty_ninth_of_february() {
    let fx = Fixture::new();
    register_active(&fx, &[1, 2, 3, 4]);
    penalties(
        &fx,
        "p.csv",
        &[
            (1, "利财罚〔2024〕1号", "罚款", "2024-02-29", ""),
            (2, "利财罚〔2024〕2号", "罚款", "2024-02-28", ""),
            (3, "利财罚〔2023〕3号", "罚款", "2023-02-28", ""),
            (4, "利财罚〔2023〕4号", "罚款", "2023-03-01", ""),
        ],
    );
    // Decided 2024-02-29: the window of 2025-02-28 starts after 2024-02-28, so still B; out on
    // 2025-03-01.
    let leap = grade_at(&fx, &gen_code(1), "2025-02-28");
    assert_eq!(leap.grade, "B");
    assert_eq!(leap.reasons[0].counts_until.as_deref(), Some("2025-03-01"));
    assert_eq!(g(&fx, 1, "2025-03-01"), "A");
    assert_eq!(g(&fx, 1, "2024-02-28"), "A", "decided after T");
    assert_eq!(g(&fx, 1, "2024-02-29"), "B");
    // Decided 2024-02-28: out on 2025-02-28.
    assert_eq!(g(&fx, 2, "2025-02-27"), "B");
    assert_eq!(g(&fx, 2, "2025-02-28"), "A");
    // As of 2024-02-29 one year earlier is 2023-02-28: a record of that day is out, …
    assert_eq!(g(&fx, 3, "2024-02-27"), "B");
    assert_eq!(g(&fx, 3, "2024-02-28"), "A");
    assert_eq!(g(&fx, 3, "2024-02-29"), "A");
    // … one of 2023-03-01 is in, until 2024-03-01.
    let in_leap = grade_at(&fx, &gen_code(4), "2024-02-29");
    assert_eq!(in_leap.grade, "B");
    assert_eq!(
        in_leap.reasons[0].counts_until.as_deref(),
        Some("2024-03-01")
    );
    assert_eq!(g(&fx, 4, "2024-03-01"), "A");
}

#[test]
fn the_serious_list_makes_c_while_on_it_and_an_exit_on_t_is_off_on_t() {
    let fx = Fixture::new();
    register_active(&fx, &[1, 2, 3, 4]);
    lists(
        &fx,
        "l.csv",
        &[
            // 1: entered 2024-01-10, removed 2024-06-01.
            (
                1,
                "严重失信主体名单",
                "2024-01-10",
                "利信认〔2024〕1号",
                "",
                "2024-06-01",
                "信用修复",
            ),
            // 2: a term that ends 2024-09-01.
            (
                2,
                "严重失信主体名单",
                "2024-03-01",
                "利信认〔2024〕2号",
                "2024-09-01",
                "",
                "",
            ),
            // 3: on the list since 2023, never removed: no window for lists.
            (
                3,
                "严重失信主体名单",
                "2023-01-05",
                "利信认〔2023〕3号",
                "",
                "",
                "",
            ),
            // 4: the other lists do not make C.
            (
                4,
                "经营异常名录",
                "2024-01-10",
                "利市监异〔2024〕4号",
                "",
                "",
                "",
            ),
            (
                4,
                "重点关注名单",
                "2024-01-10",
                "利财关〔2024〕4号",
                "",
                "",
                "",
            ),
            (4, "红名单", "2024-01-10", "利信红〔2024〕4号", "", "", ""),
        ],
    );
    assert_eq!(g(&fx, 1, "2024-01-09"), "A", "before the entry");
    let on = grade_at(&fx, &gen_code(1), "2024-01-10");
    assert_eq!(on.grade, "C", "entered on T");
    assert_eq!(on.reasons[0].basis, "serious_list");
    assert_eq!(on.reasons[0].doc, "利信认〔2024〕1号");
    assert_eq!(on.reasons[0].decided, "2024-01-10");
    assert_eq!(on.reasons[0].counts_until.as_deref(), Some("2024-06-01"));
    assert_eq!(g(&fx, 1, "2024-05-31"), "C", "the day before the exit");
    assert_eq!(
        g(&fx, 1, "2024-06-01"),
        "A",
        "removed on T: not on the list on T"
    );

    assert_eq!(g(&fx, 2, "2024-08-31"), "C");
    assert_eq!(
        grade_at(&fx, &gen_code(2), "2024-08-31").reasons[0]
            .counts_until
            .as_deref(),
        Some("2024-09-01")
    );
    assert_eq!(g(&fx, 2, "2024-09-01"), "A", "the term ended on T");

    assert_eq!(g(&fx, 3, "2025-06-01"), "C");
    assert_eq!(grade_today(&fx, &gen_code(3)).grade, "C");

    assert_eq!(g(&fx, 4, "2024-06-01"), "A");
}

#[test]
fn minor_records_never_count_and_an_explicit_severity_overrides_the_category() {
    let fx = Fixture::new();
    register_active(&fx, &[1, 2, 3, 4, 5]);
    let minor: Vec<String> = (1..=7).map(|n| format!("利财罚〔2024〕1{n}号")).collect();
    let mut rows: Vec<Pen> = minor
        .iter()
        .map(|doc| (1, doc.as_str(), "警告", "2024-04-01", ""))
        .collect();
    rows.extend([
        // 罚款 stated as 轻微: minor.
        (2, "利财罚〔2024〕21号", "罚款", "2024-04-01", "轻微"),
        (2, "利财罚〔2024〕22号", "通报批评", "2024-04-02", ""),
        // 警告 stated as 一般: general.
        (3, "利财罚〔2024〕31号", "警告", "2024-04-01", "一般"),
        // 罚款 stated as 严重: serious.
        (4, "利财罚〔2024〕41号", "罚款", "2024-04-01", "严重"),
        // 警告；罚款: the most severe, general.
        (5, "利财罚〔2024〕51号", "警告；罚款", "2024-04-01", ""),
    ]);
    penalties(&fx, "p.csv", &rows);
    assert_eq!(g(&fx, 1, "2024-06-01"), "A", "seven 警告: minor only");
    assert_eq!(g(&fx, 2, "2024-06-01"), "A", "minor by statement");
    let b = grade_at(&fx, &gen_code(3), "2024-06-01");
    assert_eq!(
        (b.grade.as_str(), b.reasons[0].severity.as_str()),
        ("B", "general")
    );
    let c = grade_at(&fx, &gen_code(4), "2024-06-01");
    assert_eq!(c.grade, "C");
    assert_eq!(c.reasons[0].basis, "serious_record");
    assert_eq!(g(&fx, 5, "2024-06-01"), "B");
}

#[test]
fn a_serious_record_is_c_for_a_year_and_general_ones_remain_after_it() {
    let fx = Fixture::new();
    register_active(&fx, &[1, 2]);
    penalties(
        &fx,
        "p.csv",
        &[
            (1, "利市监罚〔2024〕1号", "责令停产停业", "2024-04-15", ""),
            (2, "利市监罚〔2024〕2号", "责令停产停业", "2024-03-01", ""),
            (2, "利财罚〔2024〕3号", "罚款", "2024-05-01", ""),
        ],
    );
    assert_eq!(g(&fx, 1, "2024-04-14"), "A");
    assert_eq!(g(&fx, 1, "2024-04-15"), "C");
    assert_eq!(g(&fx, 1, "2025-04-14"), "C");
    assert_eq!(g(&fx, 1, "2025-04-15"), "A");

    let c = grade_at(&fx, &gen_code(2), "2024-07-01");
    assert_eq!(c.grade, "C");
    assert!(c.docs().contains("利市监罚〔2024〕2号"), "{:?}", c.reasons);
    assert_eq!(c.reason("利市监罚〔2024〕2号").basis, "serious_record");
    assert_eq!(g(&fx, 2, "2025-02-28"), "C");
    let b = grade_at(&fx, &gen_code(2), "2025-03-01");
    assert_eq!(b.grade, "B", "the serious record left the window");
    assert_eq!(b.docs(), BTreeSet::from(["利财罚〔2024〕3号".to_owned()]));
    assert_eq!(g(&fx, 2, "2025-05-01"), "A");
}

#[test]
fn licence_revocation_is_d_by_status_and_by_penalty_for_good() {
    let fx = Fixture::new();
    // 1: registered 吊销; 2: a 吊销营业执照 penalty in 2020; 3: active, then 吊销;
    // 4: on the serious list and a 吊销营业执照 penalty.
    register(
        &fx,
        "registry.csv",
        &[
            (1, "吊销", ""),
            (2, "存续", ""),
            (3, "存续", ""),
            (4, "存续", ""),
        ],
    )
    .assert_summary(4, 0, 0, 0);
    penalties(
        &fx,
        "p.csv",
        &[
            (1, "利财罚〔2024〕1号", "罚款", &days_ago(30), ""),
            (2, "利市监罚〔2020〕2号", "吊销营业执照", "2020-05-06", ""),
            (
                4,
                "利市监罚〔2021〕4号",
                "罚款；吊销营业执照",
                "2021-08-02",
                "",
            ),
        ],
    );
    lists(
        &fx,
        "l.csv",
        &[(
            4,
            "严重失信主体名单",
            "2021-09-01",
            "利信认〔2021〕4号",
            "",
            "",
            "",
        )],
    );
    // By status: D today, explained by the registration status alone.
    let s = grade_today(&fx, &gen_code(1));
    assert_eq!(s.grade, "D");
    assert_eq!(s.bases(), BTreeSet::from(["revoked_status".to_owned()]));
    let r = &s.reasons[0];
    assert_eq!(
        (
            r.kind.as_str(),
            r.severity.as_str(),
            r.counts_until.as_deref()
        ),
        ("reg_status", "serious", None)
    );

    // By penalty: from its decision day, years later still.
    assert_eq!(g(&fx, 2, "2020-05-05"), "A");
    let p = grade_at(&fx, &gen_code(2), "2020-05-06");
    assert_eq!(p.grade, "D");
    assert_eq!(p.reasons[0].basis, "licence_revocation");
    assert_eq!(g(&fx, 2, "2021-05-06"), "D", "no window for D");
    assert_eq!(g(&fx, 2, "2025-06-01"), "D");
    assert_eq!(grade_today(&fx, &gen_code(2)).grade, "D");

    // By a status change: active → 吊销.
    assert_eq!(grade_today(&fx, &gen_code(3)).grade, "A");
    register(&fx, "revoked.csv", &[(3, "吊销，未注销", "")]).assert_summary(0, 1, 0, 0);
    let changed = grade_today(&fx, &gen_code(3));
    assert_eq!(changed.grade, "D");
    assert_eq!(changed.reasons[0].basis, "revoked_status");

    // D over C: only the D facts.
    let both = grade_at(&fx, &gen_code(4), "2022-01-01");
    assert_eq!(both.grade, "D");
    assert_eq!(
        both.bases(),
        BTreeSet::from(["licence_revocation".to_owned()])
    );
    assert_eq!(g(&fx, 4, "2021-08-01"), "A");
}

/// The CLI has no command to revoke, correct or repair a record or to file an objection (the
/// web does): the record's state is written here as those actions leave it — a new status and
/// `ended_on`, the day it stopped counting.
#[test]
fn ended_records_stop_counting_from_their_end_and_records_under_objection_count() {
    let fx = Fixture::new();
    register_active(&fx, &[1, 2, 3, 4]);
    penalties(
        &fx,
        "p.csv",
        &[
            (1, "利财罚〔2024〕1号", "罚款", "2024-03-05", ""),
            (2, "利市监罚〔2024〕2号", "责令停产停业", "2024-03-05", ""),
            (3, "利财罚〔2024〕3号", "罚款", "2024-03-05", ""),
            (4, "利财罚〔2024〕4号", "罚款", "2024-03-05", ""),
        ],
    );
    let set = |doc: &str, status: &str, ended: Option<&str>| {
        let n = fx
            .conn()
            .execute(
                "UPDATE credit_records SET status = ?1, ended_on = ?2 WHERE document_number = ?3",
                rusqlite::params![status, ended, doc],
            )
            .unwrap();
        assert_eq!(n, 1, "{doc}");
    };
    set("利财罚〔2024〕1号", "revoked", Some("2024-05-01"));
    set("利市监罚〔2024〕2号", "repaired", Some("2024-06-15"));
    set("利财罚〔2024〕3号", "corrected", Some("2024-04-01"));
    set("利财罚〔2024〕4号", "under_objection", None);

    let before = grade_at(&fx, &gen_code(1), "2024-04-30");
    assert_eq!(before.grade, "B", "counts until it is revoked");
    assert_eq!(
        before.reasons[0].counts_until.as_deref(),
        Some("2024-05-01"),
        "the end comes before the window's"
    );
    assert_eq!(g(&fx, 1, "2024-05-01"), "A", "revoked: no longer counts");
    assert_eq!(g(&fx, 2, "2024-06-14"), "C");
    assert_eq!(g(&fx, 2, "2024-06-15"), "A", "repaired");
    assert_eq!(g(&fx, 3, "2024-03-31"), "B");
    assert_eq!(g(&fx, 3, "2024-04-01"), "A", "corrected away");
    let objected = grade_at(&fx, &gen_code(4), "2024-06-01");
    assert_eq!(objected.grade, "B", "a record under objection still counts");
    assert_eq!(
        objected.reasons[0].counts_until.as_deref(),
        Some("2025-03-05")
    );
}

// ---------------------------------------------------------------------------------------------
// 3: `xinjian evaluate`.

/// A jurisdiction graded as of today: 1 A (clean), 2 A (minor only), 3 B, 4 C (six general),
/// 5 C (serious), 6 C (serious list), 7 D (status 吊销), 8 D (吊销营业执照 in 2020), 9 B (an
/// individual business); outside the evaluated directory: 10 注销, 11 迁出, 12 a natural person.
fn jurisdiction(fx: &Fixture) {
    register(
        fx,
        "registry.csv",
        &[
            (1, "存续", ""),
            (2, "存续", ""),
            (3, "存续", ""),
            (4, "存续", ""),
            (5, "在业", ""),
            (6, "存续", ""),
            (7, "吊销", ""),
            (8, "存续", ""),
            (9, "存续", "个体工商户"),
            (10, "注销", ""),
            (11, "迁出", ""),
            (12, "存续", "自然人"),
        ],
    )
    .assert_summary(12, 0, 0, 0);
    let days: Vec<String> = (0..6).map(|n| days_ago(20 + 15 * n)).collect();
    let docs4: Vec<String> = (1..=6).map(|n| format!("利财罚〔X〕4{n}号")).collect();
    let mut rows: Vec<Pen> = vec![
        (2, "利财罚〔X〕21号", "警告", &days[0], ""),
        (3, "利财罚〔X〕31号", "罚款", &days[1], ""),
        (5, "利市监罚〔X〕51号", "责令停产停业", &days[2], ""),
        (8, "利市监罚〔2020〕81号", "吊销营业执照", "2020-05-06", ""),
        (9, "利财罚〔X〕91号", "罚款", &days[3], ""),
    ];
    for (doc, day) in docs4.iter().zip(&days) {
        rows.push((4, doc, "罚款", day, ""));
    }
    penalties(fx, "penalties.csv", &rows);
    lists(
        fx,
        "lists.csv",
        &[(
            6,
            "严重失信主体名单",
            "2023-01-05",
            "利信认〔2023〕61号",
            "",
            "",
            "",
        )],
    );
}

#[test]
fn evaluate_grades_the_directory_stores_what_it_counts_and_then_only_what_changed() {
    let fx = Fixture::new();
    jurisdiction(&fx);
    let version = current_version(&fx);
    let audit0 = fx.audit_ok();

    // The first run is full.
    let before = china_today();
    let first = evaluate_settled(&fx, &[]);
    let after = china_today();
    assert_eq!(first, counts(9, 2, 2, 3, 2));
    assert_eq!(table_counts(&fx), first, "the line counts the grades table");
    let expected: BTreeMap<String, String> = [
        (1, "A"),
        (2, "A"),
        (3, "B"),
        (4, "C"),
        (5, "C"),
        (6, "C"),
        (7, "D"),
        (8, "D"),
        (9, "B"),
    ]
    .into_iter()
    .map(|(i, l)| (gen_code(i), l.to_owned()))
    .collect();
    assert_eq!(
        stored_grades(&fx),
        expected,
        "the evaluated directory: 注销, 迁出 and natural persons are not graded"
    );
    let r = runs(&fx);
    assert_eq!(r.len(), 1);
    let (run1, as_of, full, status, evaluated, abcd, rv) = r[0].clone();
    assert!(
        as_of == before.to_string() || as_of == after.to_string(),
        "{as_of}"
    );
    assert!(full, "the first run is full");
    assert_eq!(status, "done");
    assert_eq!((evaluated, abcd), (first.n, first.abcd));
    assert_eq!(rv, version);
    // 1 (nothing) and 2 (a 警告: minor, counts for neither the grade nor the risk) are clean:
    // their evaluation is not stored, and it is no event. Every other first grade is an event
    // from nothing.
    let clean = [gen_code(1), gen_code(2)];
    assert_eq!(fx.count("SELECT count(*) FROM grades"), 7);
    assert_eq!(clean_rows(&fx), 0);
    let ev = events(&fx);
    assert_eq!(ev.len(), 7);
    for (code, ev_as_of, from, to, ev_rv, run) in &ev {
        assert!(!clean.contains(code), "{code}");
        assert_eq!(from, &None, "{code}");
        assert_eq!(Some(to), expected.get(code), "{code}");
        assert_eq!((ev_as_of, ev_rv, *run), (&as_of, &version, run1), "{code}");
    }
    // The stored reasons are those `grade` gives for the same day (a clean subject's: none).
    for code in &clean {
        let now = grade_at(&fx, code, &as_of);
        assert_eq!(now.grade, "A", "{code}");
        assert_eq!(now.json["reasons"], serde_json::json!([]), "{code}");
    }
    for code in expected.keys().filter(|c| !clean.contains(c)) {
        let (grade, g_as_of, _, reasons, run) = stored(&fx, code);
        assert_eq!((g_as_of.as_str(), run), (as_of.as_str(), run1));
        let now = grade_at(&fx, code, &as_of);
        assert_eq!(grade, now.grade, "{code}");
        assert_eq!(reasons, now.json["reasons"], "{code}");
        assert_eq!(last_event_reasons(&fx, code), now.json["reasons"], "{code}");
    }
    assert!(
        fx.count("SELECT count(*) FROM grades WHERE rule_version <> (SELECT version FROM grade_rule_sets WHERE is_current = 1)")
            == 0
    );

    // Nothing changed: the incremental run evaluates nobody.
    assert_eq!(evaluate_settled(&fx, &[]), counts(0, 0, 0, 0, 0));
    // Re-importing the same files changes nothing either.
    let p = fx.path("penalties.csv").display().to_string();
    fx.xj_db(&["import", "penalties", &p])
        .assert_summary(0, 0, 11, 0);
    let reg = fx.path("registry.csv");
    fx.import(&reg, &[]).assert_summary(0, 0, 12, 0);
    assert_eq!(evaluate_settled(&fx, &[]), counts(0, 0, 0, 0, 0));

    // --full evaluates everyone again and writes nothing that did not change.
    let snapshot = grades_snapshot(&fx);
    assert_eq!(evaluate_settled(&fx, &["--full"]), first);
    assert_eq!(grades_snapshot(&fx), snapshot, "no stored grade rewritten");
    assert_eq!(events(&fx), ev, "no grade event");
    assert_eq!(table_counts(&fx), first);

    // One new penalty for the clean subject: exactly that subject, one event A → B.
    penalties(
        &fx,
        "new1.csv",
        &[(1, "利财罚〔X〕11号", "罚款", &days_ago(3), "")],
    );
    // `grade` evaluates from the stored records, not the stored grade.
    assert_eq!(grade_today(&fx, &gen_code(1)).grade, "B");
    assert!(
        !is_stored(&fx, &gen_code(1)),
        "still clean as of the last run"
    );
    assert_eq!(evaluate_settled(&fx, &[]), counts(1, 0, 1, 0, 0));
    let run = last_run_id(&fx);
    let ev2 = events(&fx);
    assert_eq!(ev2.len(), ev.len() + 1);
    let (code, _, from, to, _, ev_run) = ev2.last().unwrap().clone();
    assert_eq!(
        (code, from.as_deref(), to.as_str(), ev_run),
        (gen_code(1), Some("A"), "B", run)
    );
    let (grade1, _, next1, reasons1, run1b) = stored(&fx, &gen_code(1));
    assert_eq!((grade1.as_str(), run1b), ("B", run));
    assert_eq!(reasons1.as_array().map(Vec::len), Some(1));
    assert!(next1.is_some(), "a B grade returns to A by itself");
    assert_eq!(table_counts(&fx), counts(9, 1, 3, 3, 2));

    // A second general penalty for a B subject: re-evaluated, new reasons, no grade event.
    penalties(
        &fx,
        "new3.csv",
        &[(3, "利财罚〔X〕32号", "罚款", &days_ago(2), "")],
    );
    assert_eq!(evaluate_settled(&fx, &[]), counts(1, 0, 1, 0, 0));
    assert_eq!(events(&fx), ev2, "B stays B: no event");
    let (grade3, _, _, reasons3, run3) = stored(&fx, &gen_code(3));
    assert_eq!((grade3.as_str(), run3), ("B", last_run_id(&fx)));
    assert_eq!(reasons3.as_array().map(Vec::len), Some(2));

    // A registration change: the minor-only subject is now 吊销.
    register(&fx, "revoked.csv", &[(2, "吊销", "")]).assert_summary(0, 1, 0, 0);
    assert_eq!(evaluate_settled(&fx, &[]), counts(1, 0, 0, 0, 1));
    let ev3 = events(&fx);
    assert_eq!(ev3.len(), ev2.len() + 1);
    let (code, _, from, to, ..) = ev3.last().unwrap().clone();
    assert_eq!(
        (code, from.as_deref(), to.as_str()),
        (gen_code(2), Some("A"), "D")
    );

    // The full run agrees with what the incremental runs stored.
    let full = evaluate_settled(&fx, &["--full"]);
    assert_eq!(full, counts(9, 0, 3, 3, 3));
    assert_eq!(table_counts(&fx), full);
    assert_eq!(events(&fx), ev3);

    // Every run is recorded as it was printed, and audited.
    let r = runs(&fx);
    let flags: Vec<bool> = r.iter().map(|x| x.2).collect();
    assert_eq!(
        flags,
        vec![true, false, false, true, false, false, false, true]
    );
    assert!(r.iter().all(|x| x.3 == "done" && x.6 == version), "{r:?}");
    let evaluated: Vec<i64> = r.iter().map(|x| x.4).collect();
    assert_eq!(evaluated, vec![9, 0, 0, 9, 1, 1, 1, 9]);
    assert_eq!(r[4].5, [0, 1, 0, 0]);
    assert_eq!(audit_actions(&fx, "grade.run.start"), 8);
    assert_eq!(audit_actions(&fx, "grade.run.finish"), 8);
    let audit1 = fx.audit_ok();
    assert!(audit1 >= audit0 + 16, "{audit0} → {audit1}");
    fx.integrity_ok();
}

#[test]
fn an_incremental_run_past_a_window_end_regrades_that_subject_alone() {
    let fx = Fixture::new();
    register_active(&fx, &[1, 2, 3, 4]);
    let months = [
        "2024-01-10",
        "2024-02-10",
        "2024-03-10",
        "2024-04-10",
        "2024-05-10",
        "2024-05-20",
    ];
    let docs4: Vec<String> = (1..=6).map(|n| format!("利财罚〔2024〕4{n}号")).collect();
    let mut rows: Vec<Pen> = vec![
        (1, "利财罚〔2024〕1号", "罚款", "2024-03-05", ""),
        (2, "利市监罚〔2024〕2号", "责令停产停业", "2024-03-10", ""),
    ];
    for (doc, day) in docs4.iter().zip(months) {
        rows.push((4, doc, "罚款", day, ""));
    }
    penalties(&fx, "p.csv", &rows);

    assert_eq!(
        evaluate_settled(&fx, &["--as-of", "2024-06-01"]),
        counts(4, 1, 1, 2, 0)
    );
    // (A clean subject has no stored evaluation, and nothing that changes by itself.)
    let next = |i: u64| {
        let code = gen_code(i);
        is_stored(&fx, &code)
            .then(|| stored(&fx, &code).2)
            .flatten()
    };
    assert_eq!(next(1).as_deref(), Some("2025-03-05"));
    assert_eq!(next(2).as_deref(), Some("2025-03-10"));
    assert_eq!(next(3), None, "A does not change by itself");
    assert!(!is_stored(&fx, &gen_code(3)), "clean: not stored");
    assert_eq!(
        next(4).as_deref(),
        Some("2025-01-10"),
        "C → B when the first leaves"
    );
    let ev = events(&fx);

    // Before any window ends: nobody.
    assert_eq!(
        evaluate_settled(&fx, &["--as-of", "2025-01-09"]),
        counts(0, 0, 0, 0, 0)
    );
    // Subject 4's first record leaves: C → B.
    assert_eq!(
        evaluate_settled(&fx, &["--as-of", "2025-01-10"]),
        counts(1, 0, 1, 0, 0)
    );
    assert_eq!(next(4).as_deref(), Some("2025-05-20"), "then B → A");
    // The day before subject 1's record leaves: nobody; on that day: subject 1, back to A.
    assert_eq!(
        evaluate_settled(&fx, &["--as-of", "2025-03-04"]),
        counts(0, 0, 0, 0, 0)
    );
    assert_eq!(
        evaluate_settled(&fx, &["--as-of", "2025-03-05"]),
        counts(1, 1, 0, 0, 0)
    );
    // A again, but not clean: the general record still counts for the risk class (3 years),
    // until 2024-03-05 + 3 × 365 days.
    let (grade1, as_of1, next1, reasons1, _) = stored(&fx, &gen_code(1));
    assert_eq!(
        (grade1.as_str(), as_of1.as_str(), next1.as_deref()),
        ("A", "2025-03-05", Some("2027-03-05"))
    );
    assert_eq!(reasons1, serde_json::json!([]));
    // Past two ends at once: both.
    assert_eq!(
        evaluate_settled(&fx, &["--as-of", "2025-06-01"]),
        counts(2, 2, 0, 0, 0)
    );
    let new: Vec<Event> = events(&fx)[ev.len()..].to_vec();
    let summary: Vec<(String, String, Option<String>, String)> = new
        .into_iter()
        .map(|(code, as_of, from, to, ..)| (code, as_of, from, to))
        .collect();
    let s = |c: &str| Some(c.to_owned());
    let mut got = summary.clone();
    got.sort();
    let mut want = vec![
        (gen_code(4), "2025-01-10".into(), s("C"), "B".into()),
        (gen_code(1), "2025-03-05".into(), s("B"), "A".into()),
        (gen_code(2), "2025-06-01".into(), s("C"), "A".into()),
        (gen_code(4), "2025-06-01".into(), s("B"), "A".into()),
    ];
    want.sort();
    assert_eq!(got, want, "one event per change of grade");
    assert_eq!(table_counts(&fx), counts(4, 4, 0, 0, 0));
    // A full run as of the same day agrees and writes no event.
    assert_eq!(
        evaluate_settled(&fx, &["--as-of", "2025-06-01", "--full"]),
        counts(4, 4, 0, 0, 0)
    );
    assert_eq!(events(&fx).len(), ev.len() + 4);
    fx.audit_ok();
}

// ---------------------------------------------------------------------------------------------
// 4: errors.

#[test]
fn grade_of_an_unknown_subject_or_a_bad_date_is_a_chinese_error() {
    let fx = Fixture::new();
    register_active(&fx, &[1]);
    for code in [
        gen_code(2),
        "91350100M000100Y43".to_owned(),
        "123".to_owned(),
    ] {
        let r = fx.xj_db(&["grade", &code, "--json"]);
        r.assert_failure();
        assert!(has_chinese(&r.stderr), "{}", r.describe());
        assert!(
            r.stderr.contains(&code),
            "names the code:\n{}",
            r.describe()
        );
        assert!(r.stdout.trim().is_empty(), "no JSON:\n{}", r.describe());
    }
    for bad in ["2024-13-01", "2024-02-30", "昨天"] {
        let r = fx.xj_db(&["grade", &gen_code(1), "--as-of", bad, "--json"]);
        r.assert_failure();
        assert!(has_chinese(&r.stderr), "{}", r.describe());
        assert!(r.stdout.trim().is_empty(), "{}", r.describe());
        let r = fx.xj_db(&["evaluate", "--as-of", bad]);
        r.assert_failure();
        assert!(has_chinese(&r.stderr), "{}", r.describe());
        assert!(!r.stdout.contains("evaluated"), "{}", r.describe());
    }
    assert_eq!(fx.count("SELECT count(*) FROM evaluation_runs"), 0);
    assert_eq!(fx.count("SELECT count(*) FROM grades"), 0);
}

// ---------------------------------------------------------------------------------------------
// 5: the audit chain.

#[test]
fn evaluation_runs_keep_the_audit_chain_whole_and_tampering_shows() {
    let fx = Fixture::new();
    jurisdiction(&fx);
    let before = fx.audit_ok();
    evaluate(&fx, &[]);
    let one = fx.audit_ok();
    assert!(one > before, "{before} → {one}");
    evaluate(&fx, &[]);
    evaluate(&fx, &["--full"]);
    let three = fx.audit_ok();
    assert!(three >= one + 4, "each run is audited: {one} → {three}");
    assert!(audit_actions(&fx, "grade.run.chunk") >= 1);
    // Rewriting what a run reported is detected.
    let n = fx
        .conn()
        .execute(
            "UPDATE audit_log SET detail = replace(detail, '\"evaluated\":9', '\"evaluated\":8') \
             WHERE action = 'grade.run.finish'",
            [],
        )
        .unwrap();
    assert!(n >= 1, "a finish entry says evaluated 9");
    let r = fx.xj_db(&["audit", "verify"]);
    assert_eq!(r.status.code(), Some(1), "{}", r.describe());
    assert!(
        r.last_line().starts_with("broken at entry "),
        "{}",
        r.describe()
    );
}

// ---------------------------------------------------------------------------------------------
// Bugs found while writing these tests.

/// Regression (fixed; found by this test in crates/app/src/grading.rs, `evaluate_some`; crates/store/src/grading.rs,
/// `due_for_change`; crates/core/src/grade.rs, `evaluate`): the incremental run re-evaluates
/// only subjects changed since the last run or whose stored `next_change_on` has come, and
/// `next_change_on` is computed "without new facts", i.e. from what was decided by the stored
/// `as_of`. A record already in the store but decided after that `as_of` therefore never makes
/// its subject due: after `evaluate --as-of 2024-03-01`, `evaluate --as-of 2024-06-01` evaluates
/// nobody and keeps A, while `evaluate --as-of 2024-06-01 --full` gives B (and writes the A → B
/// event the incremental run missed). The same happens for a subject imported with 登记状态
/// 吊销 (its revocation day is its import day, see below) and for a serious-list entry entered
/// after the stored `as_of`.
#[test]
fn an_incremental_run_equals_a_full_run_for_records_decided_after_the_last_run() {
    let fx = Fixture::new();
    register_active(&fx, &[1, 2]);
    penalties(
        &fx,
        "p.csv",
        &[(1, "利财罚〔2024〕1号", "罚款", "2024-04-01", "")],
    );
    assert_eq!(
        evaluate_settled(&fx, &["--as-of", "2024-03-01"]),
        counts(2, 2, 0, 0, 0)
    );
    assert_eq!(
        evaluate_settled(&fx, &["--as-of", "2024-06-01"]),
        counts(1, 0, 1, 0, 0),
        "the record decided on 2024-04-01 entered the window: its subject is due"
    );
    assert_eq!(stored(&fx, &gen_code(1)).0, "B");
}

/// An incremental run reads its candidates a chunk of 1,000 at a time on two more connections
/// while it evaluates them in order: with thousands of candidates, among them subjects that
/// left the directory and revoked ones, it stores exactly what a full run would (the full run
/// after it changes nothing).
#[test]
fn an_incremental_run_over_several_chunks_of_candidates_stores_what_a_full_run_would() {
    let fx = Fixture::new();
    register_active(&fx, &(1..=3_200).collect::<Vec<u64>>());
    penalties_for_a_quarter(&fx);
    assert_eq!(evaluate_settled(&fx, &[]), counts(3_200, 2_400, 800, 0, 0));
    let (candidates, deregistered) = several_chunks_of_candidates(&fx);

    let inc = evaluate_settled(&fx, &[]);
    let run = runs(&fx).pop().unwrap();
    assert!(!run.2, "an incremental run, not one pass over everything");
    assert_eq!(
        inc.n,
        (candidates.len() - deregistered.len()) as i64,
        "every candidate still in the directory, no other"
    );
    let snapshot = grades_snapshot(&fx);
    let ev = events(&fx);
    let full = evaluate_settled(&fx, &["--full"]);
    assert_eq!(full.n, 3_200 - deregistered.len() as i64);
    assert_eq!(table_counts(&fx), full);
    assert_eq!(
        grades_snapshot(&fx),
        snapshot,
        "the full run rewrote no grade"
    );
    assert_eq!(events(&fx), ev, "the full run found no grade change");
    assert!(
        full.abcd.iter().all(|n| *n > 0),
        "all four grades: {full:?}"
    );
}

/// The same on PostgreSQL, where each reader is a connection with its own server process:
/// checked by the commands' output (the full run after the incremental one changes nothing).
#[test]
fn on_postgres_an_incremental_run_over_several_chunks_stores_what_a_full_run_would() {
    let Some(fx) = Fixture::on_postgres() else {
        eprintln!("XINJIAN_TEST_PG is not set: not run on PostgreSQL");
        return;
    };
    register_active(&fx, &(1..=3_200).collect::<Vec<u64>>());
    penalties_for_a_quarter(&fx);
    assert_eq!(evaluate(&fx, &[]), counts(3_200, 2_400, 800, 0, 0));
    let (candidates, deregistered) = several_chunks_of_candidates(&fx);
    let inc = evaluate(&fx, &[]);
    let in_directory = 3_200 - deregistered.len() as i64;
    // An incremental run over the candidates and what PostgreSQL's look-back for late commits
    // adds (here everything: it was all written within seconds of the first run).
    let full_run: bool = fx
        .pg_client()
        .query_one(
            "SELECT full_run <> 0 FROM evaluation_runs ORDER BY id DESC LIMIT 1",
            &[],
        )
        .expect("the last run")
        .get(0);
    assert!(
        !full_run,
        "an incremental run, not one pass over everything"
    );
    assert!(
        inc.n >= (candidates.len() - deregistered.len()) as i64 && inc.n <= in_directory,
        "{inc:?}"
    );
    // What is stored: the evaluations and the grade events.
    let stored = || -> (Vec<(i64, String, String)>, i64) {
        let mut c = fx.pg_client();
        let grades = c
            .query(
                "SELECT subject_id, grade, content_hash FROM grades ORDER BY subject_id",
                &[],
            )
            .expect("grades")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let events: i64 = c
            .query_one("SELECT count(*) FROM grade_events", &[])
            .expect("events")
            .get(0);
        (grades, events)
    };
    let before = stored();
    let full = fx.xj_db(&["evaluate", "--full"]);
    full.assert_success();
    assert!(
        full.stderr
            .contains("：0 个主体的评价结果有变化，其中 0 个等级变化"),
        "the full run after the incremental one changed nothing:\n{}",
        full.describe()
    );
    assert!(before.0.len() > 2_000, "{}", before.0.len());
    assert!(
        stored() == before,
        "the full run rewrote no evaluation and added no event"
    );
    let counted = evaluate(&fx, &["--full"]);
    assert_eq!(counted.n, in_directory);
    assert!(
        counted.abcd.iter().all(|n| *n > 0),
        "all four grades: {counted:?}"
    );
}

/// A general penalty 40 days ago for every fourth of subjects 1–3,200 (800 B).
fn penalties_for_a_quarter(fx: &Fixture) {
    let first: Vec<(u64, String)> = (1..=3_200u64)
        .filter(|i| *i % 4 == 0)
        .map(|i| (i, format!("利财罚〔2024〕{i}号")))
        .collect();
    let day = days_ago(40);
    let rows: Vec<Pen> = first
        .iter()
        .map(|(i, doc)| (*i, doc.as_str(), "罚款", day.as_str(), ""))
        .collect();
    penalties(fx, "p1.csv", &rows);
}

/// New penalties for four subjects in five of 1–3,200 (serious for every seventh), then some
/// deregistered and some revoked (吊销): more than 2,000 candidates for an incremental run.
/// Returns the candidates and the deregistered.
fn several_chunks_of_candidates(fx: &Fixture) -> (std::collections::BTreeSet<u64>, Vec<u64>) {
    let all: Vec<u64> = (1..=3_200).collect();
    let changed: Vec<(u64, String)> = all
        .iter()
        .filter(|i| *i % 5 != 0)
        .map(|i| (*i, format!("利财罚〔2025〕{i}号")))
        .collect();
    let day = days_ago(10);
    let rows: Vec<Pen> = changed
        .iter()
        .map(|(i, doc)| {
            let severity = if i % 7 == 0 { "严重" } else { "" };
            (*i, doc.as_str(), "罚款", day.as_str(), severity)
        })
        .collect();
    penalties(fx, "p2.csv", &rows);
    let deregistered: Vec<u64> = all.iter().copied().filter(|i| i % 44 == 0).collect();
    let revoked: Vec<u64> = all.iter().copied().filter(|i| i % 13 == 0).collect();
    let mut statuses: Vec<(u64, &str, &str)> =
        deregistered.iter().map(|i| (*i, "注销", "")).collect();
    statuses.extend(
        revoked
            .iter()
            .filter(|i| *i % 44 != 0)
            .map(|i| (*i, "吊销", "")),
    );
    register(fx, "statuses.csv", &statuses);
    let candidates: std::collections::BTreeSet<u64> = changed
        .iter()
        .map(|(i, _)| *i)
        .chain(deregistered.iter().copied())
        .chain(revoked.iter().copied())
        .collect();
    assert!(candidates.len() > 2_000, "several chunks of candidates");
    (candidates, deregistered)
}

/// Regression (fixed; found by this test in crates/app/src/grading.rs, `evaluate_all`/`evaluate_some`; crates/store/src/grading.rs,
/// `distribution`): a subject that leaves the evaluated directory (注销, 迁出) keeps its last
/// stored grade. After it is deregistered, `evaluate --full` prints `evaluated 2: …` but the
/// `grades` table still holds 3 grades, including the deregistered subject's B; the statistics
/// page and its export (`distribution`, which reads `grades` without the directory's
/// condition) keep counting it, and no grade event records that it left.
#[test]
fn a_deregistered_subject_leaves_the_graded_directory() {
    let fx = Fixture::new();
    register_active(&fx, &[1, 2, 3]);
    penalties(
        &fx,
        "p.csv",
        &[(1, "利财罚〔2024〕1号", "罚款", &days_ago(30), "")],
    );
    assert_eq!(evaluate(&fx, &[]), counts(3, 2, 1, 0, 0));
    register(&fx, "dereg.csv", &[(1, "注销", "")]).assert_summary(0, 1, 0, 0);
    evaluate(&fx, &[]);
    let full = evaluate(&fx, &["--full"]);
    assert_eq!(full, counts(2, 2, 0, 0, 0));
    assert_eq!(
        table_counts(&fx),
        full,
        "the grades table counts what the full run counted: {:?}",
        stored_grades(&fx)
    );
}

/// A subject with nothing against it any more is clean again: its stored evaluation is
/// removed, an event records the change (C → A), and it counts as A with the other clean
/// subjects; the next full run writes nothing.
#[test]
fn a_subject_whose_list_entry_ended_is_clean_again_and_no_longer_stored() {
    let fx = Fixture::new();
    register_active(&fx, &[1, 2]);
    let entry = |exited: &str, reason: &str| {
        format!(
            "统一社会信用代码,名单类型,列入日期,列入决定文号,列入机关,列入事由,移出日期,移出原因\n\
             {},严重失信主体名单,2023-01-05,利信认〔2023〕11号,广元市利州区财政局,严重失信行为,{exited},{reason}\n",
            gen_code(1)
        )
    };
    let path = fx.write("l1.csv", entry("", "")).display().to_string();
    fx.xj_db(&["import", "lists", &path])
        .assert_summary(1, 0, 0, 0);
    assert_eq!(evaluate_settled(&fx, &[]), counts(2, 1, 0, 1, 0));
    assert!(is_stored(&fx, &gen_code(1)));
    assert!(!is_stored(&fx, &gen_code(2)), "clean: not stored");

    let path = fx
        .write("l2.csv", entry(&days_ago(1), "信用修复"))
        .display()
        .to_string();
    fx.xj_db(&["import", "lists", &path])
        .assert_summary(0, 1, 0, 0);
    assert_eq!(evaluate_settled(&fx, &[]), counts(1, 1, 0, 0, 0));
    assert!(!is_stored(&fx, &gen_code(1)), "clean again: removed");
    assert_eq!(fx.count("SELECT count(*) FROM grades"), 0);
    let ev = events(&fx);
    let (code, _, from, to, ..) = ev.last().unwrap().clone();
    assert_eq!(
        (code, from.as_deref(), to.as_str()),
        (gen_code(1), Some("C"), "A")
    );
    assert_eq!(table_counts(&fx), counts(2, 2, 0, 0, 0));
    assert_eq!(evaluate_settled(&fx, &["--full"]), counts(2, 2, 0, 0, 0));
    assert_eq!(events(&fx), ev, "no event");
    assert_eq!(
        audit_actions(&fx, "grade.run.chunk"),
        2,
        "the full run wrote nothing"
    );
    fx.audit_ok();
}

/// A first run (nothing stored yet) builds the index of the days stored evaluations change by
/// themselves (`grades_next_change`) after writing them; a run that finds it missing — a first
/// run stopped before building it — builds it before anything else. The index is the one the
/// migration made.
#[test]
fn the_change_day_index_is_there_after_every_run() {
    let fx = Fixture::new();
    let index_sql = |fx: &Fixture| -> Vec<String> {
        let c = fx.conn();
        let mut st = c
            .prepare(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'grades_next_change' \
                 AND tbl_name = 'grades'",
            )
            .unwrap();
        let v = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        v
    };
    fx.xj_db(&["migrate"]).assert_success();
    let migrated = index_sql(&fx);
    assert_eq!(migrated.len(), 1, "the migration makes the index");
    register_active(&fx, &[1, 2, 3]);
    penalties(
        &fx,
        "p.csv",
        &[(1, "利财罚〔2026〕1号", "罚款", &days_ago(5), "")],
    );
    assert_eq!(evaluate(&fx, &[]), counts(3, 2, 1, 0, 0));
    assert_eq!(index_sql(&fx), migrated, "built after the first run");
    fx.conn()
        .execute("DROP INDEX grades_next_change", [])
        .unwrap();
    penalties(
        &fx,
        "q.csv",
        &[(2, "利财罚〔2026〕2号", "罚款", &days_ago(3), "")],
    );
    assert_eq!(evaluate(&fx, &[]).abcd, [1, 2, 0, 0]);
    assert_eq!(index_sql(&fx), migrated, "rebuilt by the next run");
    // A full run over stored evaluations leaves it in place.
    assert_eq!(evaluate(&fx, &["--full"]).abcd, [1, 2, 0, 0]);
    assert_eq!(index_sql(&fx), migrated);
    fx.audit_ok();
}

/// A clean subject has no stored evaluation, so its first stored one tells from the
/// registration whether it is a change: from A for a subject the last run saw (registered
/// before that run started), a first evaluation for one registered since.
#[test]
fn a_first_stored_evaluation_is_a_change_from_a_only_for_a_subject_the_last_run_saw() {
    let fx = Fixture::new();
    register_active(&fx, &[1, 2]);
    assert_eq!(evaluate(&fx, &[]), counts(2, 2, 0, 0, 0));
    assert!(events(&fx).is_empty(), "clean subjects: no event");
    register(&fx, "new.csv", &[(3, "存续", "")]).assert_summary(1, 0, 0, 0);
    penalties(
        &fx,
        "p.csv",
        &[
            (2, "利财罚〔2026〕21号", "罚款", &days_ago(5), ""),
            (3, "利财罚〔2026〕31号", "罚款", &days_ago(5), ""),
        ],
    );
    assert_eq!(evaluate(&fx, &[]).abcd[1], 2);
    let mut got: Vec<(String, Option<String>, String)> = events(&fx)
        .into_iter()
        .map(|(code, _, from, to, ..)| (code, from, to))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (gen_code(2), Some("A".to_owned()), "B".to_owned()),
            (gen_code(3), None, "B".to_owned()),
        ]
    );
}

/// A subject that left the directory (注销: its stored evaluation removed, no event) and came
/// back with the same grade continues its history: no event; a change from there is one from
/// its last recorded grade.
#[test]
fn a_subject_back_in_the_directory_continues_its_grade_history() {
    let fx = Fixture::new();
    register_active(&fx, &[1, 2]);
    penalties(
        &fx,
        "p.csv",
        &[(1, "利财罚〔2026〕11号", "罚款", &days_ago(30), "")],
    );
    assert_eq!(evaluate(&fx, &[]), counts(2, 1, 1, 0, 0));
    let ev = events(&fx);
    assert_eq!(ev.len(), 1);
    register(&fx, "out.csv", &[(1, "注销", "")]).assert_summary(0, 1, 0, 0);
    assert_eq!(evaluate(&fx, &["--full"]), counts(1, 1, 0, 0, 0));
    assert!(!is_stored(&fx, &gen_code(1)), "left the directory");
    register(&fx, "back.csv", &[(1, "存续", "")]).assert_summary(0, 1, 0, 0);
    assert_eq!(evaluate(&fx, &["--full"]), counts(2, 1, 1, 0, 0));
    assert!(is_stored(&fx, &gen_code(1)));
    assert_eq!(events(&fx), ev, "B again: no event");
    penalties(
        &fx,
        "p2.csv",
        &[(1, "利财罚〔2026〕12号", "罚款", &days_ago(20), "")],
    );
    penalties(
        &fx,
        "p3.csv",
        &[(1, "利市监罚〔2026〕13号", "吊销营业执照", &days_ago(10), "")],
    );
    assert_eq!(evaluate(&fx, &["--full"]), counts(2, 1, 0, 0, 1));
    let (code, _, from, to, ..) = events(&fx).last().unwrap().clone();
    assert_eq!(
        (code, from.as_deref(), to.as_str()),
        (gen_code(1), Some("B"), "D")
    );
}

/// The risk class counts the records of the last 3 years: a record outside the grade's window
/// but inside those 3 years keeps an A evaluation stored (it has risk points), with the day the
/// record leaves the look-back as its next change; that day the incremental run re-evaluates the
/// subject, which is clean then (its evaluation removed, no grade event). An older revocation
/// is D for good but no longer a risk point.
#[test]
fn a_record_leaving_the_risk_look_back_is_a_change_of_its_own() {
    let fx = Fixture::new();
    register_active(&fx, &[1, 2, 3]);
    penalties(
        &fx,
        "p.csv",
        &[
            (1, "利财罚〔2023〕11号", "罚款", "2023-06-01", ""),
            (2, "利市监罚〔2019〕21号", "吊销营业执照", "2019-03-01", ""),
        ],
    );
    assert_eq!(
        evaluate_settled(&fx, &["--as-of", "2025-06-01"]),
        counts(3, 2, 0, 0, 1)
    );
    let (grade, _, next, reasons, _) = stored(&fx, &gen_code(1));
    assert_eq!(grade, "A");
    assert_eq!(reasons, serde_json::json!([]));
    // 2023-06-01 + 3 × 365 days.
    assert_eq!(next.as_deref(), Some("2026-05-31"));
    let risk_detail = |code: &str| -> String {
        fx.conn()
            .query_row(
                "SELECT g.risk_detail FROM grades g JOIN subjects s ON s.id = g.subject_id WHERE s.code = ?1",
                [code],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert!(risk_detail(&gen_code(1)).contains("\"general_records\":1"));
    let d = risk_detail(&gen_code(2));
    assert!(!d.contains("licence_events"), "a revocation of 2019: {d}");
    assert!(!is_stored(&fx, &gen_code(3)));
    let ev = events(&fx);
    assert_eq!(
        evaluate_settled(&fx, &["--as-of", "2026-05-30"]),
        counts(0, 0, 0, 0, 0)
    );
    assert_eq!(
        evaluate_settled(&fx, &["--as-of", "2026-05-31"]),
        counts(1, 1, 0, 0, 0)
    );
    assert!(!is_stored(&fx, &gen_code(1)), "clean now");
    assert_eq!(events(&fx), ev, "A stays A: no event");
}

/// A full run whose writing fails (here a trigger playing a full disk on one subject's
/// evaluation) fails as a whole with the writer's error, marked failed, and stores nothing of
/// the chunk that failed; a run after the fault is gone stores everything (but the clean).
#[test]
fn a_full_run_whose_writing_fails_reports_it_and_is_marked_failed() {
    let fx = Fixture::new();
    register_active(&fx, &[1, 2, 3]);
    penalties(
        &fx,
        "p.csv",
        &[(2, "利财罚〔2026〕32号", "罚款", &days_ago(20), "")],
    );
    fx.conn()
        .execute_batch(
            "CREATE TRIGGER disk_full BEFORE INSERT ON grades WHEN NEW.grade = 'B' \
             BEGIN SELECT RAISE(ABORT, 'disk full (played by a trigger)'); END;",
        )
        .unwrap();
    let r = fx.xj_db(&["evaluate", "--full"]);
    r.assert_failure();
    assert!(r.stderr.contains("disk full"), "{}", r.describe());
    assert_eq!(fx.count("SELECT count(*) FROM grades"), 0);
    assert_eq!(fx.count("SELECT count(*) FROM grade_events"), 0);
    assert_eq!(runs(&fx).pop().expect("the run is recorded").3, "failed");

    fx.conn().execute_batch("DROP TRIGGER disk_full").unwrap();
    let r = fx.xj_db(&["evaluate", "--full"]);
    r.assert_success();
    assert!(
        r.stdout
            .trim_end()
            .ends_with("evaluated 3: A=2 B=1 C=0 D=0"),
        "{}",
        r.describe()
    );
    // The B; the two clean subjects are not stored.
    assert_eq!(fx.count("SELECT count(*) FROM grades"), 1);
    fx.audit_ok();
}

/// A full run whose reading of the facts fails part-way (here the first subject's grading
/// digest, damaged) fails as a whole: the evaluating side must not take the subjects it has not
/// seen facts for as having none and store them as A. `migrate --rebuild-digests` makes the
/// digests again from the records, and the run then succeeds.
#[test]
fn a_full_run_whose_reading_fails_stores_no_grade() {
    let fx = Fixture::new();
    register_active(&fx, &[1, 2, 3]);
    penalties(
        &fx,
        "p.csv",
        &[
            (1, "利财罚〔2026〕31号", "罚款", &days_ago(20), ""),
            (3, "利财罚〔2026〕33号", "罚款", &days_ago(30), ""),
        ],
    );
    let n = fx
        .conn()
        .execute(
            "UPDATE grading_digests SET facts = x'01020000' WHERE subject_id = \
             (SELECT subject_id FROM credit_records WHERE document_number = '利财罚〔2026〕31号')",
            [],
        )
        .unwrap();
    assert_eq!(n, 1);
    let r = fx.xj_db(&["evaluate", "--full"]);
    r.assert_failure();
    assert_eq!(
        fx.count("SELECT count(*) FROM grades"),
        0,
        "{}",
        r.describe()
    );
    assert_eq!(fx.count("SELECT count(*) FROM grade_events"), 0);
    let last = runs(&fx).pop().expect("the run is recorded");
    assert_eq!(last.3, "failed");
    assert!(
        r.stderr.contains("评价事实摘要") && r.stderr.contains("--rebuild-digests"),
        "{}",
        r.describe()
    );

    let r = fx.xj_db(&["migrate", "--rebuild-digests"]);
    r.assert_success();
    assert!(
        r.stdout.contains("rebuilt 2 grading digests"),
        "{}",
        r.describe()
    );
    let r = fx.xj_db(&["evaluate", "--full"]);
    r.assert_success();
    assert!(
        r.stdout
            .trim_end()
            .ends_with("evaluated 3: A=1 B=2 C=0 D=0"),
        "{}",
        r.describe()
    );
    fx.audit_ok();
}

/// A subject registered as 吊销 counts as revoked from the day the platform recorded it
/// (registry exports do not say when a licence was revoked): D from the import day, not before.
#[test]
fn a_subject_registered_as_revoked_is_d_from_the_day_it_was_recorded() {
    let fx = Fixture::new();
    register(&fx, "registry.csv", &[(1, "吊销", "")]).assert_summary(1, 0, 0, 0);
    assert_eq!(grade_today(&fx, &gen_code(1)).grade, "D");
    assert_eq!(g(&fx, 1, "2025-01-01"), "A");
}

/// Regression (fixed; found by this test in crates/store/src/grading.rs, `revoked_since`): the day a subject became 吊销 is the
/// first 10 characters of the version's `created_at`, an RFC 3339 time in UTC, while every day
/// of the platform is China's (`today()`, UTC+8). A change recorded at 01:00 on 5 March in
/// China (`…-03-04T17:00:00Z`) counts from 4 March: as of 4 March the subject is already D.
#[test]
fn the_day_a_subject_became_revoked_is_chinas_day() {
    let fx = Fixture::new();
    register_active(&fx, &[1]);
    register(&fx, "revoked.csv", &[(1, "吊销", "")]).assert_summary(0, 1, 0, 0);
    // Date the two versions: registered in 2020 (superseded, in the history), revoked at
    // 01:00 on 2025-03-05 China time (the current version).
    let c = fx.conn();
    let n = c
        .execute(
            "UPDATE subject_versions SET created_at = '2020-01-01T02:00:00.000000Z' \
             WHERE version = 1 AND subject_id = (SELECT id FROM subjects WHERE code = ?1)",
            [gen_code(1)],
        )
        .unwrap();
    assert_eq!(n, 1);
    let n = c
        .execute(
            "UPDATE subjects SET updated_at = '2025-03-04T17:00:00.000000Z' WHERE code = ?1 AND version = 2",
            [gen_code(1)],
        )
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(g(&fx, 1, "2025-03-05"), "D");
    assert_eq!(g(&fx, 1, "2025-03-04"), "A", "revoked on 5 March in China");
}

/// A change stamped before an evaluation run started but committed after the run read its
/// facts (a writer that took its time stamp, then waited for the database's write lock while
/// the run began) is not lost: the next incremental run looks back far enough to see it. Here
/// the late commit is played by a record stamped 10 seconds before the run's start.
#[test]
fn an_incremental_run_sees_a_change_stamped_just_before_the_last_run_started() {
    let fx = Fixture::new();
    register_active(&fx, &[1, 2]);
    assert_eq!(evaluate(&fx, &[]), counts(2, 2, 0, 0, 0));
    // The run keeps its look-back; the registration is made an hour older than the run, so
    // that only the late record falls within it.
    let c = fx.conn();
    c.execute(
        "UPDATE subjects SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', updated_at, '-1 hour')",
        [],
    )
    .unwrap();
    penalties(
        &fx,
        "p.csv",
        &[(1, "利财罚〔2026〕5号", "罚款", &days_ago(30), "")],
    );
    let started: String = c
        .query_row(
            "SELECT started_at FROM evaluation_runs ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let before =
        chrono::DateTime::parse_from_rfc3339(&started).unwrap() - chrono::Duration::seconds(10);
    let before = before
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let n = c
        .execute(
            "UPDATE credit_records SET updated_at = ?1, created_at = ?1 WHERE document_number = '利财罚〔2026〕5号'",
            [&before],
        )
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        evaluate_settled(&fx, &[]),
        counts(1, 0, 1, 0, 0),
        "the subject of the late commit is re-evaluated"
    );
    assert_eq!(stored(&fx, &gen_code(1)).0, "B");
}

/// On the demo's history (records and list entries as departments would have recorded them,
/// some held and released later; 吊销 subjects), a full run — which reads the grading digests —
/// stores for every subject graded B, C or D exactly the grade and reasons that `xinjian grade`
/// computes from the records, and so it does for A subjects with negative records. (Every kind
/// of record write is checked against the digests in the storage suite; this checks the two
/// readings agree on realistic data.)
#[test]
fn a_full_run_on_the_demo_stores_what_each_subject_s_records_give() {
    let fx = Fixture::new();
    fx.xj_db(&["demo", "--subjects", "600"]).assert_success();
    fx.xj_db(&["evaluate", "--full"]).assert_success();
    let c = fx.conn();
    let mut st = c
        .prepare(
            "SELECT s.code, g.grade, g.reasons FROM grades g JOIN subjects s ON s.id = g.subject_id \
             WHERE g.grade <> 'A' OR g.subject_id IN (SELECT subject_id FROM credit_records WHERE nature = 'negative' LIMIT 40) \
             ORDER BY s.id",
        )
        .unwrap();
    let stored: Vec<(String, String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let not_a = stored.iter().filter(|(_, g, _)| g != "A").count();
    assert!(
        not_a >= 10,
        "the demo grades some subjects B, C or D: {not_a}"
    );
    assert!(stored.len() > not_a, "and some A subjects with records");
    for (code, grade, reasons) in &stored {
        let live = grade_today(&fx, code);
        assert_eq!(&live.grade, grade, "{code}");
        let reasons =
            serde_json::to_value(xinjian_app::grading::stored_reasons(reasons).unwrap()).unwrap();
        assert_eq!(live.json["reasons"], reasons, "{code}");
    }
}
