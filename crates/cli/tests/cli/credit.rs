//! Credit information from the command line (issue 3): `xinjian import penalties|licenses|lists
//! FILE [--errors OUT.xlsx] [--hold]`, `xinjian publicity report [--as-of DATE] [--json]`,
//! `xinjian export records|lists [--since D] [--until D] --format xlsx|csv|json [--out FILE]`
//! and the demo's credit data.
//!
//! Checked from outside: exit status, stdout/stderr, the SQLite file read with rusqlite, and
//! the files written. Expected publication deadlines are literals worked out by hand, or come
//! from the working-day table below (written from the State Council holiday notices for
//! 2024–2026), never from the crate's own calendar.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde_json::Value;

use crate::support::*;

// ---------------------------------------------------------------------------------------------
// Days and working days, independently of the crate.

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// "Today" as the platform counts it: the date in China (UTC+8).
fn china_today() -> NaiveDate {
    (chrono::Utc::now() + Duration::hours(8)).date_naive()
}

/// Days off of the statutory holiday periods, 2024–2026 (first and last day, inclusive).
const OFF: &[(&str, &str)] = &[
    ("2024-01-01", "2024-01-01"),
    ("2024-02-10", "2024-02-17"),
    ("2024-04-04", "2024-04-06"),
    ("2024-05-01", "2024-05-05"),
    ("2024-06-10", "2024-06-10"),
    ("2024-09-15", "2024-09-17"),
    ("2024-10-01", "2024-10-07"),
    ("2025-01-01", "2025-01-01"),
    ("2025-01-28", "2025-02-04"),
    ("2025-04-04", "2025-04-06"),
    ("2025-05-01", "2025-05-05"),
    ("2025-05-31", "2025-06-02"),
    ("2025-10-01", "2025-10-08"),
    ("2026-01-01", "2026-01-03"),
    ("2026-02-15", "2026-02-23"),
    ("2026-04-04", "2026-04-06"),
    ("2026-05-01", "2026-05-05"),
    ("2026-06-19", "2026-06-21"),
    ("2026-09-25", "2026-09-27"),
    ("2026-10-01", "2026-10-07"),
];

/// Make-up working days (调休上班) on weekends, 2024–2026.
const MAKE_UP: &[&str] = &[
    "2024-02-04",
    "2024-02-18",
    "2024-04-07",
    "2024-04-28",
    "2024-05-11",
    "2024-09-14",
    "2024-09-29",
    "2024-10-12",
    "2025-01-26",
    "2025-02-08",
    "2025-04-27",
    "2025-09-28",
    "2025-10-11",
    "2026-01-04",
    "2026-02-14",
    "2026-02-28",
    "2026-05-09",
    "2026-09-20",
    "2026-10-10",
];

fn is_workday(day: NaiveDate) -> bool {
    assert!(
        (d("2023-12-01")..=d("2026-12-31")).contains(&day),
        "the test calendar covers December 2023 to 2026 only: {day}"
    );
    if MAKE_UP.iter().any(|m| d(m) == day) {
        return true;
    }
    if OFF.iter().any(|(a, b)| (d(a)..=d(b)).contains(&day)) {
        return false;
    }
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The `n`-th working day after `day` (not counted); `None` when it falls after 2026.
fn add_workdays(day: NaiveDate, n: u32) -> Option<NaiveDate> {
    let mut cur = day;
    let mut left = n;
    while left > 0 {
        cur += Duration::days(1);
        if cur.year() > 2026 {
            return None;
        }
        if is_workday(cur) {
            left -= 1;
        }
    }
    Some(cur)
}

#[test]
fn the_test_calendar_agrees_with_the_worked_examples() {
    // Worked by hand in the issue discussion; this keeps the table above honest.
    assert_eq!(add_workdays(d("2024-09-29"), 7), Some(d("2024-10-14")));
    assert_eq!(add_workdays(d("2025-01-24"), 7), Some(d("2025-02-10")));
    assert_eq!(add_workdays(d("2024-03-05"), 7), Some(d("2024-03-14")));
    assert_eq!(add_workdays(d("2024-02-29"), 7), Some(d("2024-03-11")));
    assert_eq!(add_workdays(d("2023-11-30"), 7), Some(d("2023-12-11")));
    assert_eq!(add_workdays(d("2024-10-03"), 7), Some(d("2024-10-15")));
    assert_eq!(add_workdays(d("2026-02-13"), 7), Some(d("2026-03-02")));
    assert_eq!(add_workdays(d("2025-12-26"), 7), Some(d("2026-01-07")));
    assert_eq!(add_workdays(d("2026-12-28"), 7), None);
}

// ---------------------------------------------------------------------------------------------
// Running the credit commands and reading the database.

/// `xinjian import KIND FILE --db … [extra]`.
fn import_kind(fx: &Fixture, kind: &str, file: &Path, extra: &[&str]) -> Run {
    let f = file.display().to_string();
    let mut args = vec!["import", kind, f.as_str()];
    args.extend_from_slice(extra);
    fx.xj_db(&args)
}

/// Register the four sample subjects and `测试企业第{i}号有限公司` for `i` in 1..=9.
fn registered(fx: &Fixture) {
    let sample = fx.write("registry-sample.csv", SAMPLE_CSV);
    fx.import(&sample, &[]).assert_summary(4, 0, 0, 0);
    let more = fx.path("registry-more.csv");
    write_registry_csv(&more, 1..10);
    fx.import(&more, &[]).assert_summary(9, 0, 0, 0);
}

/// A stored credit record, as an outside checker reads it.
#[derive(Debug, Clone, PartialEq)]
struct Rec {
    code: String,
    doc: String,
    kind: String,
    decision_date: String,
    nature: String,
    severity: Option<String>,
    deadline: Option<String>,
    published_on: Option<String>,
    held: bool,
    publicity_until: Option<String>,
    status: String,
    version: i64,
    data: Value,
}

const REC_SQL: &str = "SELECT subject_code, document_number, kind, decision_date, nature, severity, \
     publish_deadline, published_on, held, publicity_until, status, version, data FROM credit_records";

fn rec_of(r: &rusqlite::Row) -> rusqlite::Result<Rec> {
    let data: String = r.get(12)?;
    Ok(Rec {
        code: r.get(0)?,
        doc: r.get(1)?,
        kind: r.get(2)?,
        decision_date: r.get(3)?,
        nature: r.get(4)?,
        severity: r.get(5)?,
        deadline: r.get(6)?,
        published_on: r.get(7)?,
        held: r.get(8)?,
        publicity_until: r.get(9)?,
        status: r.get(10)?,
        version: r.get(11)?,
        data: serde_json::from_str(&data).expect("record data is JSON"),
    })
}

/// Every stored record, by document number and code.
fn records(fx: &Fixture) -> Vec<Rec> {
    let c = fx.conn();
    let mut st = c
        .prepare(&format!("{REC_SQL} ORDER BY document_number, subject_code"))
        .unwrap();
    let v = st
        .query_map([], rec_of)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    v
}

/// The one record with this document number.
fn rec(fx: &Fixture, doc: &str) -> Rec {
    let all: Vec<Rec> = records(fx).into_iter().filter(|r| r.doc == doc).collect();
    assert_eq!(all.len(), 1, "exactly one record {doc}: {all:?}");
    all.into_iter().next().unwrap()
}

fn has_record(fx: &Fixture, doc: &str) -> bool {
    records(fx).iter().any(|r| r.doc == doc)
}

/// `(version, reason, snapshot)` of every version of the record with this document number,
/// read as the platform reads them (superseded versions and the current one); the snapshot
/// is `{"data": …, "state": …}`.
fn versions(fx: &Fixture, doc: &str) -> Vec<(i64, Option<String>, Value)> {
    let id: i64 = fx
        .conn()
        .query_row(
            "SELECT id FROM credit_records WHERE document_number = ?1",
            [doc],
            |r| r.get(0),
        )
        .expect("the record");
    let db = xinjian_store::Db::open(&fx.db_path().display().to_string()).expect("open store");
    let mut c = db.conn().expect("connection");
    xinjian_store::credit::record_versions(&mut c, id)
        .expect("versions")
        .into_iter()
        .map(|v| {
            (
                v.version,
                v.reason,
                serde_json::json!({ "data": v.data, "state": v.state }),
            )
        })
        .collect()
}

/// `(row, column, value, reason)` of the errors of the latest import job.
fn import_errors(fx: &Fixture) -> Vec<(i64, String, String, String)> {
    let c = fx.conn();
    let mut st = c
        .prepare(
            "SELECT row_no, column_name, value, reason FROM import_errors \
             WHERE import_id = (SELECT max(id) FROM imports) ORDER BY row_no, column_name",
        )
        .unwrap();
    let v = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    v
}

/// The errors of one row of the latest import.
fn errors_of_row(fx: &Fixture, row: i64) -> Vec<(String, String, String)> {
    import_errors(fx)
        .into_iter()
        .filter(|e| e.0 == row)
        .map(|e| (e.1, e.2, e.3))
        .collect()
}

/// Assert that row `row` of the latest import was rejected for `column` with a Chinese reason
/// containing every fragment.
fn assert_rejected(fx: &Fixture, row: i64, column: Option<&str>, fragments: &[&str]) {
    let errs = errors_of_row(fx, row);
    assert!(
        !errs.is_empty(),
        "row {row} should be rejected: {:?}",
        import_errors(fx)
    );
    let hit = errs.iter().find(|(col, _, reason)| {
        column.is_none_or(|c| c == col) && fragments.iter().all(|f| reason.contains(f))
    });
    assert!(
        hit.is_some_and(|(_, _, reason)| has_chinese(reason)),
        "row {row}: expected a reason in column {column:?} containing {fragments:?}, got {errs:?}"
    );
}

fn subject_status(fx: &Fixture, code: &str) -> Option<String> {
    fx.conn()
        .query_row(
            "SELECT reg_status FROM subjects WHERE code = ?1",
            [code],
            |r| r.get(0),
        )
        .ok()
}

/// Names of the files in a ZIP archive, from its central directory.
fn zip_names(bytes: &[u8]) -> Vec<String> {
    assert!(bytes.starts_with(b"PK\x03\x04"), "a ZIP file");
    let eocd = (0..bytes.len().saturating_sub(21))
        .rev()
        .find(|&i| bytes[i..].starts_with(&[0x50, 0x4b, 0x05, 0x06]))
        .expect("an end-of-central-directory record");
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]) as usize;
    let u32_at = |i: usize| {
        u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as usize
    };
    let entries = u16_at(eocd + 10);
    let mut p = u32_at(eocd + 16);
    let mut names = Vec::new();
    for _ in 0..entries {
        assert_eq!(&bytes[p..p + 4], &[0x50, 0x4b, 0x01, 0x02], "central entry");
        let (n, m, k) = (u16_at(p + 28), u16_at(p + 30), u16_at(p + 32));
        names.push(String::from_utf8_lossy(&bytes[p + 46..p + 46 + n]).into_owned());
        p += 46 + n + m + k;
    }
    names
}

/// An XLSX workbook: a ZIP holding a workbook and a first worksheet.
fn assert_xlsx(bytes: &[u8]) {
    let names = zip_names(bytes);
    for part in [
        "[Content_Types].xml",
        "xl/workbook.xml",
        "xl/worksheets/sheet1.xml",
    ] {
        assert!(names.iter().any(|n| n == part), "{part} in {names:?}");
    }
}

/// `xinjian publicity report --as-of DATE --json`, each item checked to have exactly the five
/// keys of the contract: `(code, document_number, decision_date, publish_deadline, status)`.
fn report(fx: &Fixture, as_of: &str) -> Vec<[String; 5]> {
    let r = fx.xj_db(&["publicity", "report", "--as-of", as_of, "--json"]);
    r.assert_success();
    let v: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("JSON on stdout ({e}):\n{}", r.describe()));
    let items = v.as_array().expect("a JSON list");
    items
        .iter()
        .map(|it| {
            let o = it.as_object().expect("an object");
            let keys: BTreeSet<&str> = o.keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                BTreeSet::from([
                    "code",
                    "document_number",
                    "decision_date",
                    "publish_deadline",
                    "status"
                ]),
                "{it}"
            );
            let s = |k: &str| o[k].as_str().expect("a string").to_owned();
            let status = s("status");
            assert!(
                ["late", "missing", "due_soon"].contains(&status.as_str()),
                "{it}"
            );
            [
                s("code"),
                s("document_number"),
                s("decision_date"),
                s("publish_deadline"),
                status,
            ]
        })
        .collect()
}

/// The report as document number → status.
fn statuses(fx: &Fixture, as_of: &str) -> BTreeMap<String, String> {
    let items = report(fx, as_of);
    let map: BTreeMap<String, String> =
        items.iter().map(|i| (i[1].clone(), i[4].clone())).collect();
    assert_eq!(map.len(), items.len(), "one line per record: {items:?}");
    map
}

// ---------------------------------------------------------------------------------------------
// A department's penalty file in the national 双公示 format.

const PENALTY_HEAD: &str = "行政相对人名称,行政相对人代码_1(统一社会信用代码),行政处罚决定书文号,处罚类别,处罚决定日期,处罚机关,罚款金额（万元）,失信严重程度";

/// Six penalties: categories separated by `；`, `;` and `、`, the four date formats, an
/// explicit severity raising and one lowering the mapped one, two decisions on 29 February.
/// `45356` is the Excel serial number of 2024-03-05.
fn penalty_rows() -> Vec<[String; 8]> {
    let r = |a: &str, b: &str, c: &str, e: &str, f: &str, g: &str, h: &str, i: &str| {
        [a, b, c, e, f, g, h, i].map(str::to_owned)
    };
    let (g1, g2) = (gen_code(1), gen_code(2));
    vec![
        r(
            "华为技术有限公司",
            "914403001922038216",
            "利财罚〔2024〕1号",
            "警告；罚款",
            "2024-03-05",
            "广元市利州区财政局",
            "0.5",
            "",
        ),
        r(
            "腾讯科技（深圳）有限公司",
            "9144030071526726XG",
            "利财罚〔2024〕2号",
            "警告",
            "2024/3/5",
            "广元市利州区财政局",
            "",
            "",
        ),
        r(
            "阿里巴巴（中国）有限公司",
            "91330100799655058B",
            "利市监罚〔2024〕3号",
            "罚款、吊销许可证件",
            "2024年2月29日",
            "广元市利州区市场监督管理局",
            "1.2",
            "",
        ),
        r(
            "福州示例贸易有限公司",
            "91350100M000100Y43",
            "利市监罚〔2024〕4号",
            "罚款;没收违法所得",
            "45356",
            "广元市利州区市场监督管理局",
            "0.3",
            "严重",
        ),
        r(
            "测试企业第1号有限公司",
            &g1,
            "利财罚〔2024〕5号",
            "罚款",
            "2024-02-29",
            "广元市利州区财政局",
            "2",
            "",
        ),
        r(
            "测试企业第2号有限公司",
            &g2,
            "利财罚〔2023〕6号",
            "罚款",
            "2023-11-30",
            "广元市利州区财政局",
            "0.1",
            "轻微",
        ),
    ]
}

fn penalty_csv() -> String {
    let mut s = format!("{PENALTY_HEAD}\r\n");
    for row in penalty_rows() {
        s.push_str(&row.join(","));
        s.push_str("\r\n");
    }
    s
}

/// `(document number, code, severity, publish deadline, publicity until)` of the six rows.
fn expected_penalties() -> Vec<(
    &'static str,
    String,
    &'static str,
    &'static str,
    &'static str,
)> {
    vec![
        // 警告 (minor) + 罚款 (general): the most severe wins.
        (
            "利财罚〔2024〕1号",
            SAMPLE_CODES[0].to_owned(),
            "general",
            "2024-03-14",
            "2025-03-05",
        ),
        // 警告 alone: minor, 3 months.
        (
            "利财罚〔2024〕2号",
            SAMPLE_CODES[1].to_owned(),
            "minor",
            "2024-03-14",
            "2024-06-05",
        ),
        // 吊销许可证件: serious, 36 months; 29 February → 28 February.
        (
            "利市监罚〔2024〕3号",
            SAMPLE_CODES[2].to_owned(),
            "serious",
            "2024-03-11",
            "2027-02-28",
        ),
        // 罚款 and 没收违法所得 map to general; 失信严重程度 严重 overrides.
        (
            "利市监罚〔2024〕4号",
            SAMPLE_CODES[3].to_owned(),
            "serious",
            "2024-03-14",
            "2027-03-05",
        ),
        // General from 29 February: 12 months end on 28 February.
        (
            "利财罚〔2024〕5号",
            gen_code(1),
            "general",
            "2024-03-11",
            "2025-02-28",
        ),
        // 罚款 lowered to minor by 失信严重程度; 30 November + 3 months = 29 February (leap).
        (
            "利财罚〔2023〕6号",
            gen_code(2),
            "minor",
            "2023-12-11",
            "2024-02-29",
        ),
    ]
}

/// Check the six penalties as stored, all published on `published_on` (or held).
fn assert_penalties_stored(fx: &Fixture, published_on: Option<NaiveDate>) {
    let all = records(fx);
    assert_eq!(all.len(), 6, "{all:?}");
    for (doc, code, severity, deadline, until) in expected_penalties() {
        let r = rec(fx, doc);
        assert_eq!(r.code, code, "{doc}");
        assert_eq!(r.kind, "penalty", "{doc}");
        assert_eq!(r.nature, "negative", "{doc}");
        assert_eq!(r.status, "active", "{doc}");
        assert_eq!(r.severity.as_deref(), Some(severity), "{doc}");
        assert_eq!(r.deadline.as_deref(), Some(deadline), "{doc}");
        let decided = d(&r.decision_date);
        assert_eq!(
            add_workdays(decided, 7).map(|x| x.to_string()).as_deref(),
            Some(deadline),
            "{doc}: the 7th working day after the decision"
        );
        assert_eq!(r.publicity_until.as_deref(), Some(until), "{doc}");
        assert_eq!(r.published_on, published_on.map(|p| p.to_string()), "{doc}");
        assert_eq!(r.held, published_on.is_none(), "{doc}");
        assert_eq!(r.data["severity"], severity, "{doc}");
    }
    // The decision dates in the four formats are the same day.
    for doc in [
        "利财罚〔2024〕1号",
        "利财罚〔2024〕2号",
        "利市监罚〔2024〕4号",
    ] {
        assert_eq!(rec(fx, doc).decision_date, "2024-03-05", "{doc}");
    }
    assert_eq!(rec(fx, "利市监罚〔2024〕3号").decision_date, "2024-02-29");
    let one = rec(fx, "利财罚〔2024〕1号");
    assert_eq!(one.data["categories"], serde_json::json!(["警告", "罚款"]));
    assert_eq!(one.data["fine_amount"], "0.5");
    assert_eq!(one.data["authority"], "广元市利州区财政局");
    assert_eq!(
        rec(fx, "利市监罚〔2024〕4号").data["categories"],
        serde_json::json!(["罚款", "没收违法所得"])
    );
    assert_eq!(
        rec(fx, "利市监罚〔2024〕3号").data["categories"],
        serde_json::json!(["罚款", "吊销许可证件"])
    );
}

/// GBK bytes of every non-ASCII character of [`penalty_csv`] (from Python's `gbk` codec).
const GBK: &[(char, [u8; 2])] = &[
    ('、', [0xA1, 0xA2]),
    ('〔', [0xA1, 0xB2]),
    ('〕', [0xA1, 0xB3]),
    ('一', [0xD2, 0xBB]),
    ('万', [0xCD, 0xF2]),
    ('业', [0xD2, 0xB5]),
    ('严', [0xD1, 0xCF]),
    ('中', [0xD6, 0xD0]),
    ('为', [0xCE, 0xAA]),
    ('书', [0xCA, 0xE9]),
    ('人', [0xC8, 0xCB]),
    ('代', [0xB4, 0xFA]),
    ('件', [0xBC, 0xFE]),
    ('企', [0xC6, 0xF3]),
    ('会', [0xBB, 0xE1]),
    ('例', [0xC0, 0xFD]),
    ('信', [0xD0, 0xC5]),
    ('元', [0xD4, 0xAA]),
    ('公', [0xB9, 0xAB]),
    ('关', [0xB9, 0xD8]),
    ('决', [0xBE, 0xF6]),
    ('利', [0xC0, 0xFB]),
    ('别', [0xB1, 0xF0]),
    ('区', [0xC7, 0xF8]),
    ('华', [0xBB, 0xAA]),
    ('可', [0xBF, 0xC9]),
    ('号', [0xBA, 0xC5]),
    ('司', [0xCB, 0xBE]),
    ('吊', [0xB5, 0xF5]),
    ('名', [0xC3, 0xFB]),
    ('告', [0xB8, 0xE6]),
    ('国', [0xB9, 0xFA]),
    ('圳', [0xDB, 0xDA]),
    ('场', [0xB3, 0xA1]),
    ('处', [0xB4, 0xA6]),
    ('失', [0xCA, 0xA7]),
    ('定', [0xB6, 0xA8]),
    ('对', [0xB6, 0xD4]),
    ('局', [0xBE, 0xD6]),
    ('州', [0xD6, 0xDD]),
    ('巴', [0xB0, 0xCD]),
    ('市', [0xCA, 0xD0]),
    ('年', [0xC4, 0xEA]),
    ('广', [0xB9, 0xE3]),
    ('度', [0xB6, 0xC8]),
    ('得', [0xB5, 0xC3]),
    ('微', [0xCE, 0xA2]),
    ('所', [0xCB, 0xF9]),
    ('技', [0xBC, 0xBC]),
    ('收', [0xCA, 0xD5]),
    ('政', [0xD5, 0xFE]),
    ('文', [0xCE, 0xC4]),
    ('日', [0xC8, 0xD5]),
    ('易', [0xD2, 0xD7]),
    ('月', [0xD4, 0xC2]),
    ('有', [0xD3, 0xD0]),
    ('期', [0xC6, 0xDA]),
    ('术', [0xCA, 0xF5]),
    ('机', [0xBB, 0xFA]),
    ('款', [0xBF, 0xEE]),
    ('没', [0xC3, 0xBB]),
    ('法', [0xB7, 0xA8]),
    ('测', [0xB2, 0xE2]),
    ('深', [0xC9, 0xEE]),
    ('理', [0xC0, 0xED]),
    ('用', [0xD3, 0xC3]),
    ('监', [0xBC, 0xE0]),
    ('相', [0xCF, 0xE0]),
    ('督', [0xB6, 0xBD]),
    ('码', [0xC2, 0xEB]),
    ('示', [0xCA, 0xBE]),
    ('社', [0xC9, 0xE7]),
    ('福', [0xB8, 0xA3]),
    ('科', [0xBF, 0xC6]),
    ('称', [0xB3, 0xC6]),
    ('程', [0xB3, 0xCC]),
    ('第', [0xB5, 0xDA]),
    ('管', [0xB9, 0xDC]),
    ('类', [0xC0, 0xE0]),
    ('统', [0xCD, 0xB3]),
    ('罚', [0xB7, 0xA3]),
    ('腾', [0xCC, 0xDA]),
    ('行', [0xD0, 0xD0]),
    ('警', [0xBE, 0xAF]),
    ('讯', [0xD1, 0xB6]),
    ('许', [0xD0, 0xED]),
    ('证', [0xD6, 0xA4]),
    ('试', [0xCA, 0xD4]),
    ('财', [0xB2, 0xC6]),
    ('贸', [0xC3, 0xB3]),
    ('轻', [0xC7, 0xE1]),
    ('违', [0xCE, 0xA5]),
    ('里', [0xC0, 0xEF]),
    ('重', [0xD6, 0xD8]),
    ('金', [0xBD, 0xF0]),
    ('销', [0xCF, 0xFA]),
    ('阿', [0xB0, 0xA2]),
    ('限', [0xCF, 0xDE]),
    ('额', [0xB6, 0xEE]),
    ('（', [0xA3, 0xA8]),
    ('）', [0xA3, 0xA9]),
    ('；', [0xA3, 0xBB]),
];

fn to_gbk_penalties(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
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

/// The penalty file as XLSX written by rust_xlsxwriter: the code column under the other
/// accepted header 统一社会信用代码, amounts as numbers, the serial date as a number and 29
/// February as a date-formatted number (Excel serial 45351).
fn penalty_xlsx() -> Vec<u8> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    let date_format = Format::new().set_num_format("yyyy-mm-dd");
    let head: Vec<&str> = PENALTY_HEAD
        .split(',')
        .map(|h| {
            if h.starts_with("行政相对人代码") {
                "统一社会信用代码"
            } else {
                h
            }
        })
        .collect();
    for (c, h) in head.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (i, row) in penalty_rows().iter().enumerate() {
        let r = i as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            let c16 = c as u16;
            if c == 4 && cell == "45356" {
                ws.write_number(r, c16, 45356.0).unwrap();
            } else if c == 4 && cell == "2024-02-29" {
                ws.write_number_with_format(r, c16, 45351.0, &date_format)
                    .unwrap();
            } else if c == 6 && !cell.is_empty() {
                ws.write_number(r, c16, cell.parse::<f64>().unwrap())
                    .unwrap();
            } else if !cell.is_empty() {
                ws.write_string(r, c16, cell).unwrap();
            }
        }
    }
    book.save_to_buffer().expect("an XLSX workbook")
}

// ---------------------------------------------------------------------------------------------
// 1, 2: penalties in UTF-8, GBK and XLSX; idempotent re-import; a changed row.

#[test]
fn penalties_csv_imports_with_severity_deadlines_and_publicity_periods() {
    let fx = Fixture::new();
    registered(&fx);
    let file = fx.write("penalties.csv", penalty_csv());
    let today = china_today();
    let r = import_kind(&fx, "penalties", &file, &[]);
    r.assert_summary(6, 0, 0, 0);
    assert!(
        !r.stderr.contains("待核实"),
        "every code is registered: no pending subject\n{}",
        r.describe()
    );
    assert_penalties_stored(&fx, Some(today));
    // Every record has its first version, with the same facts and state.
    for (doc, ..) in expected_penalties() {
        let v = versions(&fx, doc);
        assert_eq!(v.len(), 1, "{doc}");
        assert_eq!(v[0].0, 1);
        assert_eq!(v[0].2["state"]["published_on"], today.to_string(), "{doc}");
        assert_eq!(v[0].2["data"]["document_number"], doc);
    }
    assert_eq!(fx.last_import().0, "done");

    // The same file again: nothing new, nothing written.
    let before = records(&fx);
    import_kind(&fx, "penalties", &file, &[]).assert_summary(0, 0, 6, 0);
    assert_eq!(records(&fx), before);
    assert_eq!(fx.all_record_versions(), 6);
    // Separators and date formats written differently are the same content.
    let respelled = penalty_csv()
        .replace("警告；罚款", "警告、罚款")
        .replace("2024/3/5", "2024年3月5日")
        .replace("罚款;没收违法所得", "罚款；没收违法所得");
    let file2 = fx.write("penalties-respelled.csv", respelled);
    import_kind(&fx, "penalties", &file2, &[]).assert_summary(0, 0, 6, 0);

    // One row changed: 腾讯's penalty is now stated as 严重.
    let changed = penalty_csv().replace(
        "2024/3/5,广元市利州区财政局,,",
        "2024/3/5,广元市利州区财政局,,严重",
    );
    assert_ne!(changed, penalty_csv());
    let file3 = fx.write("penalties-changed.csv", &changed);
    import_kind(&fx, "penalties", &file3, &[]).assert_summary(0, 1, 5, 0);
    let r2 = rec(&fx, "利财罚〔2024〕2号");
    assert_eq!(r2.version, 2);
    assert_eq!(r2.severity.as_deref(), Some("serious"));
    assert_eq!(r2.publicity_until.as_deref(), Some("2027-03-05"));
    assert_eq!(r2.deadline.as_deref(), Some("2024-03-14"));
    assert_eq!(
        r2.published_on,
        Some(today.to_string()),
        "published once, on the first import"
    );
    let v = versions(&fx, "利财罚〔2024〕2号");
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].2["data"]["severity"], "minor", "version 1 is kept");
    assert_eq!(v[0].2["state"]["publicity_until"], "2024-06-05");
    assert_eq!(v[1].2["data"]["severity"], "serious");
    assert!(
        v[1].1.as_deref().is_some_and(has_chinese),
        "a new version says why: {:?}",
        v[1].1
    );
    for (doc, ..) in expected_penalties() {
        if doc != "利财罚〔2024〕2号" {
            assert_eq!(rec(&fx, doc).version, 1, "{doc}");
        }
    }
    // The changed file again: unchanged; the old file: a third version, not an edit.
    import_kind(&fx, "penalties", &file3, &[]).assert_summary(0, 0, 6, 0);
    import_kind(&fx, "penalties", &file, &[]).assert_summary(0, 1, 5, 0);
    assert_eq!(versions(&fx, "利财罚〔2024〕2号").len(), 3);
    assert_eq!(
        rec(&fx, "利财罚〔2024〕2号").publicity_until.as_deref(),
        Some("2024-06-05")
    );
    assert_eq!(fx.count("SELECT count(*) FROM credit_records"), 6);
    fx.integrity_ok();
    fx.audit_ok();
}

#[test]
fn gbk_and_xlsx_penalty_files_read_the_same_as_utf8() {
    let gbk = to_gbk_penalties(&penalty_csv());
    assert!(
        std::str::from_utf8(&gbk).is_err(),
        "the bytes are not UTF-8"
    );
    let xlsx = penalty_xlsx();
    assert!(xlsx.starts_with(b"PK"));
    let today = china_today();

    let utf8_fx = Fixture::new();
    registered(&utf8_fx);
    let f = utf8_fx.write("p.csv", penalty_csv());
    import_kind(&utf8_fx, "penalties", &f, &[]).assert_summary(6, 0, 0, 0);

    // Into fresh databases: the same records.
    for (name, bytes) in [("p-gbk.csv", gbk.clone()), ("p.xlsx", xlsx.clone())] {
        let fx = Fixture::new();
        registered(&fx);
        let f = fx.write(name, &bytes);
        import_kind(&fx, "penalties", &f, &[]).assert_summary(6, 0, 0, 0);
        assert_penalties_stored(&fx, Some(today));
        assert_eq!(records(&fx), records(&utf8_fx), "{name}");
        import_kind(&fx, "penalties", &f, &[]).assert_summary(0, 0, 6, 0);
    }

    // After the UTF-8 file: the GBK and XLSX files are the same content, all unchanged.
    for (name, bytes) in [("again-gbk.csv", gbk), ("again.xlsx", xlsx)] {
        let f = utf8_fx.write(name, &bytes);
        import_kind(&utf8_fx, "penalties", &f, &[]).assert_summary(0, 0, 6, 0);
    }
    assert_eq!(utf8_fx.all_record_versions(), 6);
    utf8_fx.audit_ok();
}

// ---------------------------------------------------------------------------------------------
// 3: bad input.

#[test]
fn unknown_headers_fail_the_file_naming_the_missing_columns_and_write_nothing() {
    let fx = Fixture::new();
    registered(&fx);
    let subjects = fx.subjects();
    let cases: Vec<(&str, &str, String, Vec<&str>)> = vec![
        (
            "penalties",
            "english.csv",
            "code,name,doc,category,date\n914403001922038216,Huawei,X1,fine,2024-03-05\n".into(),
            vec![
                "统一社会信用代码",
                "行政相对人名称",
                "行政处罚决定书文号",
                "处罚类别",
                "处罚决定日期",
            ],
        ),
        (
            // A licence file given as penalties.
            "penalties",
            "licence-as-penalty.csv",
            "统一社会信用代码,行政相对人名称,行政许可决定文书号,许可决定日期\n\
             914403001922038216,华为技术有限公司,利财许〔2024〕1号,2024-03-05\n"
                .into(),
            vec!["行政处罚决定书文号", "处罚类别", "处罚决定日期"],
        ),
        (
            "licenses",
            "penalty-as-licence.csv",
            penalty_csv(),
            vec!["行政许可决定文书号", "许可决定日期"],
        ),
        (
            "lists",
            "no-list-type.csv",
            "统一社会信用代码,列入日期,列入决定文号\n914403001922038216,2024-03-05,X\n".into(),
            vec!["名单类型", "列入机关", "列入事由"],
        ),
    ];
    for (kind, name, text, missing) in cases {
        let file = fx.write(name, text);
        let r = import_kind(&fx, kind, &file, &[]);
        r.assert_failure();
        assert!(
            !r.stdout.contains("imported"),
            "{name}: no summary\n{}",
            r.describe()
        );
        assert!(has_chinese(&r.stderr), "{name}\n{}", r.describe());
        for m in missing {
            assert!(
                r.stderr.contains(m),
                "{name}: the message names {m}\n{}",
                r.describe()
            );
        }
        assert_eq!(fx.count("SELECT count(*) FROM credit_records"), 0, "{name}");
        assert_eq!(fx.count("SELECT count(*) FROM list_entries"), 0, "{name}");
        assert_eq!(fx.subjects(), subjects, "{name}: no pending subject");
        let (status, message) = fx.last_import();
        assert_eq!(status, "failed", "{name}");
        assert!(message.is_some_and(|m| has_chinese(&m)), "{name}");
    }
    // A file that does not exist.
    let missing = fx.path("missing.csv");
    let r = import_kind(&fx, "penalties", &missing, &[]);
    r.assert_failure();
    assert!(has_chinese(&r.stderr), "{}", r.describe());
    fx.integrity_ok();
    fx.audit_ok();
}

/// Register `gen_code(9)` as deregistered (登记状态 注销).
fn deregistered(fx: &Fixture) -> String {
    let code = gen_code(9);
    let file = fx.write(
        "deregistered.csv",
        format!(
            "统一社会信用代码,名称,登记状态,成立日期\n{code},测试企业第9号有限公司,注销,2020-01-01\n"
        ),
    );
    fx.import(&file, &[]).assert_summary(0, 1, 0, 0);
    assert_eq!(subject_status(fx, &code).as_deref(), Some("deregistered"));
    code
}

#[test]
fn bad_rows_are_rejected_with_reasons_and_leave_nothing_behind() {
    let fx = Fixture::new();
    registered(&fx);
    let dereg = deregistered(&fx);
    let today = china_today();
    let tomorrow = today + Duration::days(1);
    let (unregistered_a, unregistered_b) = (gen_code(50), gen_code(51));
    let head = "行政相对人名称,统一社会信用代码,行政处罚决定书文号,处罚类别,处罚决定日期,处罚机关,罚款金额（万元）,失信严重程度";
    let rows = [
        // 2: good.
        format!("华为技术有限公司,{},利财罚〔2024〕11号,罚款,2024-04-01,广元市利州区财政局,0.5,", SAMPLE_CODES[0]),
        // 3: a day-first or month-first date.
        format!("腾讯科技（深圳）有限公司,{},利财罚〔2024〕12号,罚款,05/03/2024,广元市利州区财政局,0.5,", SAMPLE_CODES[1]),
        // 4: tomorrow (China time).
        format!("阿里巴巴（中国）有限公司,{},利财罚〔2024〕13号,罚款,{tomorrow},广元市利州区财政局,0.5,", SAMPLE_CODES[2]),
        // 5: an amount that is not a number.
        format!("福州示例贸易有限公司,{},利财罚〔2024〕14号,罚款,2024-04-01,广元市利州区财政局,五千元,", SAMPLE_CODES[3]),
        // 6: an unknown category.
        format!("测试企业第1号有限公司,{},利财罚〔2024〕15号,警告、训诫,2024-04-01,广元市利州区财政局,,", gen_code(1)),
        // 7: an unknown category with an explicit severity: accepted.
        format!("测试企业第2号有限公司,{},利财罚〔2024〕16号,训诫,2024-04-01,广元市利州区财政局,,一般", gen_code(2)),
        // 8: row 2's document number for another subject.
        format!("测试企业第3号有限公司,{},利财罚〔2024〕11号,罚款,2024-04-02,广元市利州区财政局,0.1,", gen_code(3)),
        // 9: a deregistered subject.
        format!("测试企业第9号有限公司,{dereg},利财罚〔2024〕17号,罚款,2024-04-01,广元市利州区财政局,0.1,"),
        // 10: an impossible date, for a code not in the registry.
        format!("未登记的甲公司,{unregistered_a},利财罚〔2024〕18号,罚款,2024-02-30,广元市利州区财政局,0.1,"),
        // 11: decided today: accepted (today is not in the future).
        format!("测试企业第4号有限公司,{},利财罚〔2024〕19号,罚款,{today},广元市利州区财政局,0.1,", gen_code(4)),
        // 12: row 2's document number again, for a code not in the registry.
        format!("未登记的乙公司,{unregistered_b},利财罚〔2024〕11号,罚款,2024-04-01,广元市利州区财政局,0.1,"),
        // 13: a negative amount and an unknown severity.
        format!("测试企业第5号有限公司,{},利财罚〔2024〕20号,罚款,2024-04-01,广元市利州区财政局,-1,很严重", gen_code(5)),
    ];
    let file = fx.write("bad-rows.csv", format!("{head}\n{}\n", rows.join("\n")));
    let subjects = fx.subjects();
    let out = fx.path("errors.xlsx");
    let out_s = out.display().to_string();
    let r = import_kind(&fx, "penalties", &file, &["--errors", &out_s]);
    r.assert_summary(3, 0, 0, 9);
    assert!(
        has_chinese(&r.stderr) && r.stderr.contains('9'),
        "rejected rows are explained on stderr\n{}",
        r.describe()
    );

    // The error report, as a workbook and in the import_errors table.
    let bytes = std::fs::read(&out).expect("the errors file was written");
    assert_xlsx(&bytes);
    let rejected: BTreeSet<i64> = import_errors(&fx).iter().map(|e| e.0).collect();
    assert_eq!(
        rejected,
        BTreeSet::from([3, 4, 5, 6, 8, 9, 10, 12, 13]),
        "{:?}",
        import_errors(&fx)
    );
    assert_rejected(&fx, 3, Some("处罚决定日期"), &["05/03/2024", "不明确"]);
    assert_rejected(
        &fx,
        4,
        Some("处罚决定日期"),
        &[&tomorrow.to_string(), "将来"],
    );
    assert_rejected(&fx, 5, Some("罚款金额（万元）"), &["五千元", "不是数字"]);
    assert_rejected(&fx, 6, Some("处罚类别"), &["训诫"]);
    assert_rejected(&fx, 8, None, &["另一主体", SAMPLE_CODES[0]]);
    assert_rejected(&fx, 9, None, &["注销"]);
    assert_rejected(&fx, 10, Some("处罚决定日期"), &["2024-02-30"]);
    assert_rejected(&fx, 12, None, &["另一主体", SAMPLE_CODES[0]]);
    assert_rejected(&fx, 13, Some("罚款金额（万元）"), &["-1"]);
    assert_rejected(&fx, 13, Some("失信严重程度"), &["很严重"]);

    // Only rows 2, 7 and 11 are stored; rejected rows left no record and no pending subject.
    let docs: Vec<String> = records(&fx).into_iter().map(|r| r.doc).collect();
    assert_eq!(
        docs,
        [
            "利财罚〔2024〕11号",
            "利财罚〔2024〕16号",
            "利财罚〔2024〕19号"
        ]
    );
    assert_eq!(rec(&fx, "利财罚〔2024〕11号").code, SAMPLE_CODES[0]);
    assert_eq!(
        rec(&fx, "利财罚〔2024〕16号").severity.as_deref(),
        Some("general")
    );
    assert_eq!(
        rec(&fx, "利财罚〔2024〕19号").decision_date,
        today.to_string()
    );
    assert_eq!(fx.all_record_versions(), 3);
    assert_eq!(
        fx.subjects(),
        subjects,
        "no pending subject for a rejected row"
    );
    assert_eq!(subject_status(&fx, &unregistered_a), None);
    assert_eq!(subject_status(&fx, &unregistered_b), None);

    // Across two imports: the document numbers of row 2 and row 7 for other subjects.
    let second = [
        format!(
            "测试企业第5号有限公司,{},利财罚〔2024〕11号,罚款,2024-04-01,广元市利州区财政局,0.5,",
            gen_code(5)
        ),
        format!(
            "未登记的丙公司,{},利财罚〔2024〕16号,罚款,2024-04-01,广元市利州区财政局,0.5,",
            gen_code(52)
        ),
        format!(
            "华为技术有限公司,{},利财罚〔2024〕11号,罚款,2024-04-01,广元市利州区财政局,0.5,",
            SAMPLE_CODES[0]
        ),
    ];
    let file2 = fx.write("second.csv", format!("{head}\n{}\n", second.join("\n")));
    import_kind(&fx, "penalties", &file2, &[]).assert_summary(0, 0, 1, 2);
    assert_rejected(&fx, 2, None, &["另一主体", SAMPLE_CODES[0]]);
    assert_rejected(&fx, 3, None, &["另一主体", &gen_code(2)]);
    assert_eq!(fx.count("SELECT count(*) FROM credit_records"), 3);
    assert_eq!(rec(&fx, "利财罚〔2024〕11号").code, SAMPLE_CODES[0]);
    assert_eq!(rec(&fx, "利财罚〔2024〕11号").version, 1);
    assert_eq!(subject_status(&fx, &gen_code(52)), None);
    assert_eq!(fx.subjects(), subjects);

    // The same bad file again: the good rows unchanged, the bad ones still rejected.
    import_kind(&fx, "penalties", &file, &[]).assert_summary(0, 0, 3, 9);
    fx.integrity_ok();
    fx.audit_ok();
}

// ---------------------------------------------------------------------------------------------
// 4: a code not in the registry.

#[test]
fn a_code_not_in_the_registry_creates_a_pending_subject_and_says_so() {
    let fx = Fixture::new();
    registered(&fx);
    let subjects = fx.subjects();
    let code = gen_code(60);
    let file = fx.write(
        "pending.csv",
        format!(
            "{PENALTY_HEAD}\n\
             广元市利州区青禾财务咨询有限公司,{code},利财罚〔2024〕31号,罚款,2024-04-01,广元市利州区财政局,0.2,\n\
             华为技术有限公司,{},利财罚〔2024〕32号,罚款；吊销营业执照,2024-04-01,广元市利州区市场监督管理局,0.5,\n",
            SAMPLE_CODES[0]
        ),
    );
    let r = import_kind(&fx, "penalties", &file, &[]);
    r.assert_summary(2, 0, 0, 0);
    assert!(
        r.stderr.contains("待核实") && r.stderr.contains('1'),
        "a note on stderr about the one pending subject\n{}",
        r.describe()
    );
    assert_eq!(fx.subjects(), subjects + 1);
    assert_eq!(subject_status(&fx, &code).as_deref(), Some("pending"));
    assert_eq!(
        fx.text("SELECT name FROM subjects WHERE code = ?1", &code)
            .as_deref(),
        Some("广元市利州区青禾财务咨询有限公司")
    );
    let record = rec(&fx, "利财罚〔2024〕31号");
    assert_eq!(record.code, code);
    assert_eq!(
        fx.count(&format!(
            "SELECT count(*) FROM credit_records r JOIN subjects s ON s.id = r.subject_id \
             WHERE s.code = '{code}'"
        )),
        1,
        "the record is linked to the pending subject"
    );
    // 吊销营业执照: serious, and the business licence is revoked.
    let huawei = rec(&fx, "利财罚〔2024〕32号");
    assert_eq!(huawei.severity.as_deref(), Some("serious"));
    assert_eq!(huawei.publicity_until.as_deref(), Some("2027-04-01"));
    assert_eq!(
        fx.count(
            "SELECT revokes_business_licence FROM credit_records \
             WHERE document_number = '利财罚〔2024〕32号'"
        ),
        1
    );
    assert_eq!(
        fx.count(
            "SELECT revokes_business_licence FROM credit_records \
             WHERE document_number = '利财罚〔2024〕31号'"
        ),
        0
    );
    // Again: no second subject, no note.
    let r = import_kind(&fx, "penalties", &file, &[]);
    r.assert_summary(0, 0, 2, 0);
    assert!(!r.stderr.contains("待核实"), "{}", r.describe());
    assert_eq!(fx.subjects(), subjects + 1);
    fx.audit_ok();
}

// ---------------------------------------------------------------------------------------------
// 5: licences and lists.

const LICENSE_HEAD: &str = "行政相对人名称,统一社会信用代码,行政许可决定文书号,许可类别,许可证书名称,许可编号,许可内容,许可决定日期,有效期自,有效期至,许可机关";

fn license_csv() -> String {
    format!(
        "{LICENSE_HEAD}\n\
         华为技术有限公司,{},利财许〔2024〕1号,普通,代理记账许可证书,DLJZ51080000001,准予从事代理记账业务,2024年9月29日,2024-09-29,,广元市利州区财政局\n\
         腾讯科技（深圳）有限公司,{},利市监许〔2025〕1号,普通,食品经营许可证,JY15108000001,预包装食品销售,2025-01-24,2025/1/24,2030-01-23,广元市利州区市场监督管理局\n\
         阿里巴巴（中国）有限公司,{},利市监许〔2025〕2号,普通,食品经营许可证,JY15108000002,预包装食品销售,2025-03-03,2025-03-03,2024-03-03,广元市利州区市场监督管理局\n\
         福州示例贸易有限公司,{},利市监许〔2025〕3号,普通,食品经营许可证,JY15108000003,预包装食品销售,,2025-03-03,2030-03-03,广元市利州区市场监督管理局\n",
        SAMPLE_CODES[0], SAMPLE_CODES[1], SAMPLE_CODES[2], SAMPLE_CODES[3]
    )
}

#[test]
fn licences_import_with_deadlines_and_no_publicity_end() {
    let fx = Fixture::new();
    registered(&fx);
    let file = fx.write("licences.csv", license_csv());
    let today = china_today();
    import_kind(&fx, "licenses", &file, &[]).assert_summary(2, 0, 0, 2);
    assert_rejected(&fx, 4, Some("有效期至"), &["2024-03-03"]);
    assert_rejected(&fx, 5, Some("许可决定日期"), &["为空"]);
    assert!(!has_record(&fx, "利市监许〔2025〕2号"));
    assert!(!has_record(&fx, "利市监许〔2025〕3号"));

    let a = rec(&fx, "利财许〔2024〕1号");
    assert_eq!(a.code, SAMPLE_CODES[0]);
    assert_eq!(a.kind, "license");
    assert_eq!(a.nature, "neutral");
    assert_eq!(a.severity, None);
    assert_eq!(a.decision_date, "2024-09-29");
    // Decided on a Sunday make-up working day: counting starts the next day, skips National
    // Day and counts the Saturday make-up day 10-12.
    assert_eq!(a.deadline.as_deref(), Some("2024-10-14"));
    assert_eq!(a.publicity_until, None, "licences have no automatic end");
    assert_eq!(a.published_on, Some(today.to_string()));
    assert!(!a.held);
    assert_eq!(a.data["certificate_name"], "代理记账许可证书");
    assert_eq!(a.data["license_number"], "DLJZ51080000001");
    assert_eq!(a.data["valid_from"], "2024-09-29");
    assert_eq!(a.data["valid_to"], Value::Null);
    assert_eq!(a.data["authority"], "广元市利州区财政局");

    let b = rec(&fx, "利市监许〔2025〕1号");
    // Spring Festival 2025 with make-up days 01-26 and 02-08.
    assert_eq!(b.deadline.as_deref(), Some("2025-02-10"));
    assert_eq!(b.data["valid_to"], "2030-01-23");
    assert_eq!(b.data["content"], "预包装食品销售");

    import_kind(&fx, "licenses", &file, &[]).assert_summary(0, 0, 2, 2);
    assert_eq!(fx.all_record_versions(), 2);
    fx.audit_ok();
}

const LIST_HEAD: &str =
    "统一社会信用代码,名称,名单类型,列入日期,列入决定文号,列入机关,列入事由,有效期至,移出日期,移出原因";

fn list_csv() -> String {
    let rows = [
        format!("{},华为技术有限公司,红名单,2024-05-10,利信红〔2024〕1号,国家税务总局广元市利州区税务局,纳税信用等级评定为A级,2025-05-10,,", SAMPLE_CODES[0]),
        format!("{},腾讯科技（深圳）有限公司,严重失信主体名单,2024/6/1,利信认〔2024〕1号,广元市利州区财政局,受到责令停产停业的严重行政处罚,2027-06-01,,", SAMPLE_CODES[1]),
        format!("{},阿里巴巴（中国）有限公司,重点关注名单,2024年7月1日,利财关〔2024〕1号,广元市利州区财政局,代理记账机构年度备案逾期未改正,,,", SAMPLE_CODES[2]),
        format!("{},福州示例贸易有限公司,经营异常名录,2024-03-05,利市监异〔2024〕1号,广元市利州区市场监督管理局,未按期公示年度报告,,2024-09-01,已补报年度报告并公示", SAMPLE_CODES[3]),
        // 6: not one of the four lists.
        format!("{},测试企业第1号有限公司,黑名单,2024-03-05,利信认〔2024〕2号,广元市利州区财政局,严重失信,,,", gen_code(1)),
        // 7: an exit without its reason.
        format!("{},测试企业第2号有限公司,经营异常名录,2024-03-05,利市监异〔2024〕2号,广元市利州区市场监督管理局,未按期公示年度报告,,2024-09-01,", gen_code(2)),
        // 8: an exit before the entry.
        format!("{},测试企业第3号有限公司,经营异常名录,2024-03-05,利市监异〔2024〕3号,广元市利州区市场监督管理局,未按期公示年度报告,,2024-01-01,已补报", gen_code(3)),
        // 9: a code not in the registry.
        format!("{},广元市利州区青禾财务咨询有限公司,经营异常名录,2024-04-08,利市监异〔2024〕4号,广元市利州区市场监督管理局,通过登记的住所无法联系,,,", gen_code(70)),
    ];
    format!("{LIST_HEAD}\n{}\n", rows.join("\n"))
}

/// `(code, list_type, entered_on, decision, term_until, exited_on, exit_reason)` by decision.
type ListRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn list_entries(fx: &Fixture) -> Vec<ListRow> {
    let c = fx.conn();
    let mut st = c
        .prepare(
            "SELECT subject_code, list_type, entered_on, decision_number, term_until, exited_on, \
             json_extract(data, '$.exit_reason') FROM list_entries ORDER BY decision_number",
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
                r.get(6)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    v
}

#[test]
fn lists_import_the_four_list_types_with_exits() {
    let fx = Fixture::new();
    registered(&fx);
    let subjects = fx.subjects();
    let file = fx.write("lists.csv", list_csv());
    let r = import_kind(&fx, "lists", &file, &[]);
    r.assert_summary(5, 0, 0, 3);
    assert!(r.stderr.contains("待核实"), "{}", r.describe());
    assert_rejected(&fx, 6, Some("名单类型"), &["黑名单"]);
    assert_rejected(&fx, 7, Some("移出原因"), &[]);
    assert_rejected(&fx, 8, Some("移出日期"), &["2024-01-01"]);
    let s = |x: &str| Some(x.to_owned());
    let mut got = list_entries(&fx);
    got.sort();
    let mut expected = vec![
        (
            SAMPLE_CODES[2].to_owned(),
            "key_attention".to_owned(),
            "2024-07-01".to_owned(),
            "利财关〔2024〕1号".to_owned(),
            None,
            None,
            None,
        ),
        (
            SAMPLE_CODES[3].to_owned(),
            "abnormal".to_owned(),
            "2024-03-05".to_owned(),
            "利市监异〔2024〕1号".to_owned(),
            None,
            s("2024-09-01"),
            s("已补报年度报告并公示"),
        ),
        (
            gen_code(70),
            "abnormal".to_owned(),
            "2024-04-08".to_owned(),
            "利市监异〔2024〕4号".to_owned(),
            None,
            None,
            None,
        ),
        (
            SAMPLE_CODES[1].to_owned(),
            "serious_dishonest".to_owned(),
            "2024-06-01".to_owned(),
            "利信认〔2024〕1号".to_owned(),
            s("2027-06-01"),
            None,
            None,
        ),
        (
            SAMPLE_CODES[0].to_owned(),
            "red".to_owned(),
            "2024-05-10".to_owned(),
            "利信红〔2024〕1号".to_owned(),
            s("2025-05-10"),
            None,
            None,
        ),
    ];
    expected.sort();
    assert_eq!(got, expected);
    assert_eq!(fx.subjects(), subjects + 1);
    assert_eq!(
        subject_status(&fx, &gen_code(70)).as_deref(),
        Some("pending")
    );
    assert_eq!(subject_status(&fx, &gen_code(1)).as_deref(), Some("active"));
    assert_eq!(fx.count("SELECT count(*) FROM list_entry_versions"), 5);

    // Idempotent; a changed entry is a new version.
    import_kind(&fx, "lists", &file, &[]).assert_summary(0, 0, 5, 3);
    let changed = list_csv().replace(
        "代理记账机构年度备案逾期未改正,,,",
        "代理记账机构年度备案逾期未改正,,2024-12-02,已完成年度备案",
    );
    let file2 = fx.write("lists-changed.csv", changed);
    import_kind(&fx, "lists", &file2, &[]).assert_summary(0, 1, 4, 3);
    assert_eq!(fx.count("SELECT count(*) FROM list_entry_versions"), 6);
    assert_eq!(
        fx.text(
            "SELECT exited_on FROM list_entries WHERE decision_number = ?1",
            "利财关〔2024〕1号"
        )
        .as_deref(),
        Some("2024-12-02")
    );
    fx.integrity_ok();
    fx.audit_ok();
}

// ---------------------------------------------------------------------------------------------
// 6: the publication report.

/// Penalties decided around holidays and make-up days:
/// `(document number, decision date, deadline)`.
const BOUNDARY: &[(&str, &str, &str)] = &[
    // Sun 2024-09-29 is a make-up working day; 10-01..07 off; Sat 10-12 a make-up day.
    ("利财罚〔2024〕41号", "2024-09-29", "2024-10-14"),
    // Spring Festival 2025: make-up Sun 01-26, off 01-28..02-04, make-up Sat 02-08.
    ("利财罚〔2025〕42号", "2025-01-24", "2025-02-10"),
    // Decided on a holiday: 10-08 is the first working day after it.
    ("利财罚〔2024〕43号", "2024-10-03", "2024-10-15"),
    // Spring Festival 2026: make-up Sat 02-14 and 02-28.
    ("利财罚〔2026〕44号", "2026-02-13", "2026-03-02"),
    // Across the new year: 2026-01-01..03 off, Sun 01-04 a make-up day.
    ("利财罚〔2025〕45号", "2025-12-26", "2026-01-07"),
];

fn boundary_csv(docs: &[(&str, &str, &str)], codes: &[String]) -> String {
    let mut s = format!("{PENALTY_HEAD}\n");
    for ((doc, decided, _), code) in docs.iter().zip(codes) {
        s.push_str(&format!(
            "某某有限公司,{code},{doc},罚款,{decided},广元市利州区财政局,0.1,\n"
        ));
    }
    s
}

#[test]
fn held_records_are_due_soon_then_missing_around_holidays_and_make_up_days() {
    let fx = Fixture::new();
    let codes: Vec<String> = (100..105).map(gen_code).collect();
    let file = fx.write("held.csv", boundary_csv(BOUNDARY, &codes));
    import_kind(&fx, "penalties", &file, &["--hold"]).assert_summary(5, 0, 0, 0);
    for (doc, decided, deadline) in BOUNDARY {
        let r = rec(&fx, doc);
        assert_eq!(r.decision_date, *decided, "{doc}");
        assert_eq!(r.deadline.as_deref(), Some(*deadline), "{doc}");
        assert_eq!(
            add_workdays(d(decided), 7),
            Some(d(deadline)),
            "{doc}: the test calendar agrees"
        );
        assert!(r.held, "{doc}: held for review");
        assert_eq!(r.published_on, None, "{doc}: not published");
    }
    let st = |as_of: &str| statuses(&fx, as_of);
    let m = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let a = "利财罚〔2024〕41号";
    let c = "利财罚〔2024〕43号";
    // 3 working days after Wed 10-09 are 10-10, 10-11 and the make-up Sat 10-12: a deadline
    // on Mon 10-14 is not yet due soon.
    assert_eq!(st("2024-10-09"), m(&[]));
    // After Thu 10-10: 10-11, 10-12, 10-14.
    assert_eq!(st("2024-10-10"), m(&[(a, "due_soon")]));
    assert_eq!(st("2024-10-11"), m(&[(a, "due_soon"), (c, "due_soon")]));
    // The deadline day itself: still due, not missing.
    assert_eq!(st("2024-10-14"), m(&[(a, "due_soon"), (c, "due_soon")]));
    assert_eq!(st("2024-10-15"), m(&[(a, "missing"), (c, "due_soon")]));
    assert_eq!(st("2024-10-16"), m(&[(a, "missing"), (c, "missing")]));

    let b = "利财罚〔2025〕42号";
    let old = m(&[(a, "missing"), (c, "missing")]);
    let with = |extra: &[(&str, &str)]| {
        let mut x = old.clone();
        x.extend(m(extra));
        x
    };
    // After Wed 02-05: 02-06, 02-07 and the make-up Sat 02-08.
    assert_eq!(st("2025-02-05"), old);
    assert_eq!(st("2025-02-06"), with(&[(b, "due_soon")]));
    assert_eq!(st("2025-02-10"), with(&[(b, "due_soon")]));
    assert_eq!(st("2025-02-11"), with(&[(b, "missing")]));

    let e = "利财罚〔2025〕45号";
    assert_eq!(
        st("2026-01-06"),
        with(&[(b, "missing"), (e, "due_soon")]),
        "due within 3 working days across the new year"
    );
    assert_eq!(st("2026-01-08"), with(&[(b, "missing"), (e, "missing")]));
    let f = "利财罚〔2026〕44号";
    // After Wed 2026-02-25: 02-26, 02-27 and the make-up Sat 02-28.
    assert_eq!(
        st("2026-02-25"),
        with(&[(b, "missing"), (e, "missing")]),
        "a Monday deadline after a make-up Saturday"
    );
    assert_eq!(
        st("2026-02-26"),
        with(&[(b, "missing"), (e, "missing"), (f, "due_soon")])
    );

    // Today: all five held records are missing; the items carry the contract's values.
    let today = china_today().to_string();
    let items = report(&fx, &today);
    assert_eq!(items.len(), 5, "{items:?}");
    for ((doc, decided, deadline), code) in BOUNDARY.iter().zip(&codes) {
        let it = items
            .iter()
            .find(|i| i[1] == *doc)
            .unwrap_or_else(|| panic!("{doc} in {items:?}"));
        assert_eq!(
            it,
            &[
                code.clone(),
                doc.to_string(),
                decided.to_string(),
                deadline.to_string(),
                "missing".to_owned()
            ]
        );
    }
    // Without --as-of the report is as of today.
    let r = fx.xj_db(&["publicity", "report", "--json"]);
    r.assert_success();
    let v: Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(v.as_array().map(Vec::len), Some(5), "{}", r.describe());
    // The text form names the count.
    let r = fx.xj_db(&["publicity", "report", "--as-of", &today]);
    r.assert_success();
    assert!(
        has_chinese(&r.stdout) && r.stdout.contains('5'),
        "{}",
        r.describe()
    );
    // A bad day is refused.
    let r = fx.xj_db(&["publicity", "report", "--as-of", "05/03/2024", "--json"]);
    r.assert_failure();
    assert!(has_chinese(&r.stderr), "{}", r.describe());
    fx.audit_ok();
}

#[test]
fn records_published_on_import_are_late_after_their_deadline_and_on_time_before_it() {
    let fx = Fixture::new();
    let today = china_today();
    let codes: Vec<String> = (110..114).map(gen_code).collect();
    let mut docs: Vec<(String, NaiveDate)> = vec![
        ("利财罚〔2024〕51号".into(), d("2024-09-29")),
        ("利财罚〔2025〕52号".into(), d("2025-01-24")),
    ];
    // The latest decision whose deadline has passed today, and the next day, whose deadline
    // is today or later (computed with the test calendar, when it covers them).
    let boundary = (1..30)
        .map(|k| today - Duration::days(k))
        .filter(|x| x.year() <= 2026 && *x >= d("2023-12-01"))
        .find(|x| add_workdays(*x, 7).is_some_and(|dl| dl < today));
    if let Some(late_day) = boundary {
        docs.push(("利财罚〔2026〕53号".into(), late_day));
        docs.push(("利财罚〔2026〕54号".into(), late_day + Duration::days(1)));
    }
    let mut text = format!("{PENALTY_HEAD}\n");
    for ((doc, decided), code) in docs.iter().zip(&codes) {
        text.push_str(&format!(
            "某某有限公司,{code},{doc},罚款,{decided},广元市利州区财政局,0.1,\n"
        ));
    }
    let file = fx.write("published.csv", text);
    import_kind(&fx, "penalties", &file, &[]).assert_summary(docs.len() as u64, 0, 0, 0);
    for (doc, _) in &docs {
        let r = rec(&fx, doc);
        assert_eq!(r.published_on, Some(today.to_string()), "{doc}");
        assert!(!r.held, "{doc}");
    }
    let a = "利财罚〔2024〕51号";
    // Before publication (published today, later than as_of) the record counts as not
    // published yet: due soon, then missing; published after the deadline: late.
    assert_eq!(statuses(&fx, "2024-10-09").get(a), None);
    assert_eq!(
        statuses(&fx, "2024-10-10").get(a).map(String::as_str),
        Some("due_soon")
    );
    assert_eq!(
        statuses(&fx, "2024-10-15").get(a).map(String::as_str),
        Some("missing")
    );
    let now = statuses(&fx, &today.to_string());
    assert_eq!(now.get(a).map(String::as_str), Some("late"));
    assert_eq!(
        now.get("利财罚〔2025〕52号").map(String::as_str),
        Some("late")
    );
    if boundary.is_some() {
        assert_eq!(
            now.get("利财罚〔2026〕53号").map(String::as_str),
            Some("late"),
            "deadline yesterday or earlier, published today"
        );
        assert_eq!(
            now.get("利财罚〔2026〕54号"),
            None,
            "published today, deadline today or later: on time"
        );
    }
    // The report is of decisions made by as_of: nothing decided in 2025 shows in 2024.
    assert!(statuses(&fx, "2024-10-15")
        .keys()
        .all(|k| k.contains("2024")));
    fx.audit_ok();
}

// ---------------------------------------------------------------------------------------------
// 7: export.

fn export(fx: &Fixture, what: &str, args: &[&str]) -> Run {
    let mut all = vec!["export", what];
    all.extend_from_slice(args);
    fx.xj_db(&all)
}

fn exported_docs(r: &Run) -> Vec<String> {
    r.assert_success();
    let v: Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("JSON ({e}):\n{}", r.describe()));
    v.as_array()
        .expect("a JSON list")
        .iter()
        .map(|o| {
            o["document_number"]
                .as_str()
                .expect("document_number")
                .to_owned()
        })
        .collect()
}

#[test]
fn export_records_filters_by_decision_date_in_three_formats() {
    let fx = Fixture::new();
    registered(&fx);
    let p = fx.write("penalties.csv", penalty_csv());
    import_kind(&fx, "penalties", &p, &[]).assert_summary(6, 0, 0, 0);
    let l = fx.write("licences.csv", license_csv());
    import_kind(&fx, "licenses", &l, &[]).assert_summary(2, 0, 0, 2);

    // Decision dates: 2023-11-30, 2024-02-29 ×2, 2024-03-05 ×3, 2024-09-29, 2025-01-24.
    let r = export(
        &fx,
        "records",
        &["--since", "2024-03-05", "--format", "json"],
    );
    let docs: BTreeSet<String> = exported_docs(&r).into_iter().collect();
    assert_eq!(
        docs,
        [
            "利财罚〔2024〕1号",
            "利财罚〔2024〕2号",
            "利市监罚〔2024〕4号",
            "利财许〔2024〕1号",
            "利市监许〔2025〕1号"
        ]
        .into_iter()
        .map(str::to_owned)
        .collect(),
        "--since is inclusive"
    );
    assert!(r.stderr.contains("exported 5 rows"), "{}", r.describe());
    let r = export(
        &fx,
        "records",
        &[
            "--since",
            "2024-02-29",
            "--until",
            "2024-03-05",
            "--format",
            "json",
        ],
    );
    assert_eq!(exported_docs(&r).len(), 5, "both ends inclusive");
    let r = export(
        &fx,
        "records",
        &["--until", "2024-02-29", "--format", "json"],
    );
    let docs: BTreeSet<String> = exported_docs(&r).into_iter().collect();
    assert_eq!(
        docs,
        [
            "利市监罚〔2024〕3号",
            "利财罚〔2024〕5号",
            "利财罚〔2023〕6号"
        ]
        .into_iter()
        .map(str::to_owned)
        .collect()
    );
    // A date in another format works the same.
    let r = export(
        &fx,
        "records",
        &["--since", "2024年3月5日", "--format", "json"],
    );
    assert_eq!(exported_docs(&r).len(), 5);

    // JSON: English keys, the stored values.
    let r = export(&fx, "records", &["--format", "json"]);
    r.assert_success();
    let v: Value = serde_json::from_str(&r.stdout).expect("JSON");
    let items = v.as_array().expect("a list");
    assert_eq!(items.len(), 8);
    for it in items {
        let doc = it["document_number"].as_str().unwrap();
        let stored = rec(&fx, doc);
        assert_eq!(it["code"], stored.code.as_str(), "{doc}");
        assert_eq!(it["decision_date"], stored.decision_date.as_str(), "{doc}");
        assert_eq!(it["severity"].as_str(), stored.severity.as_deref(), "{doc}");
        assert_eq!(
            it["publicity_until"].as_str(),
            stored.publicity_until.as_deref(),
            "{doc}"
        );
        assert_eq!(it["kind"], stored.kind.as_str(), "{doc}");
    }
    let one = items
        .iter()
        .find(|i| i["document_number"] == "利市监罚〔2024〕3号")
        .unwrap();
    assert_eq!(one["severity"], "serious");
    assert_eq!(one["publicity_until"], "2027-02-28");
    assert_eq!(one["fine_amount"], "1.2");

    // CSV: a BOM, Chinese headers, one line per record.
    let r = export(
        &fx,
        "records",
        &["--since", "2024-03-05", "--format", "csv"],
    );
    r.assert_success();
    assert!(
        r.stdout.starts_with('\u{feff}'),
        "a UTF-8 BOM for Excel:\n{}",
        r.describe()
    );
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(r.stdout.trim_start_matches('\u{feff}').as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .expect("a header row")
        .iter()
        .map(str::to_owned)
        .collect();
    for h in [
        "统一社会信用代码",
        "行政相对人名称",
        "决定日期",
        "失信严重程度",
        "公示截止期",
    ] {
        assert!(headers.iter().any(|x| x == h), "{h} in {headers:?}");
    }
    assert!(headers.iter().all(|h| has_chinese(h)), "{headers:?}");
    let code_col = headers
        .iter()
        .position(|h| h == "统一社会信用代码")
        .unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().unwrap();
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().any(|row| &row[code_col] == SAMPLE_CODES[3]));

    // --out writes the same bytes as standard output.
    let out = fx.path("records.csv");
    let out_s = out.display().to_string();
    let r2 = export(
        &fx,
        "records",
        &["--since", "2024-03-05", "--format", "csv", "--out", &out_s],
    );
    r2.assert_success();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), r.stdout);

    // XLSX: a workbook.
    let out = fx.path("records.xlsx");
    let out_s = out.display().to_string();
    let r = export(&fx, "records", &["--format", "xlsx", "--out", &out_s]);
    r.assert_success();
    assert!(r.stderr.contains("exported 8 rows"), "{}", r.describe());
    assert_xlsx(&std::fs::read(&out).expect("the workbook was written"));
    // It reads back: the header and the 8 records, the same cells as the CSV export.
    let rows = xlsx_rows(&out);
    assert_eq!(rows.len(), 9, "{rows:?}");
    // Without a writable temporary directory the workbook cannot be made: a clear error, no
    // panic (the run checks), no partial file.
    let nowhere = fx.path("records-no-tmp.xlsx");
    let nowhere_s = nowhere.display().to_string();
    let all = ["export", "records", "--format", "xlsx", "--out", &nowhere_s];
    let r = fx.xj_db_env(&all, None, &[("TMPDIR", "/nonexistent-xinjian-tmp")]);
    r.assert_failure();
    assert!(r.stderr.contains("无法写入临时文件"), "{}", r.describe());
    assert!(!nowhere.exists());
    let csv = export(&fx, "records", &["--format", "csv"]);
    csv.assert_success();
    let csv_rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv.stdout.trim_start_matches('\u{feff}').as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(rows, csv_rows);

    // Bad arguments: an error, nothing written.
    let bad = fx.path("bad.pdf");
    let bad_s = bad.display().to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec!["--format", "pdf", "--out", &bad_s],
        vec![
            "--format",
            "json",
            "--since",
            "2024-03-05",
            "--until",
            "2024-03-01",
            "--out",
            &bad_s,
        ],
        vec!["--format", "json", "--since", "05/03/2024", "--out", &bad_s],
    ];
    for args in cases {
        let r = export(&fx, "records", &args);
        r.assert_failure();
        assert!(has_chinese(&r.stderr), "{}", r.describe());
        assert!(!bad.exists(), "{args:?}: no file");
    }
    let r = export(&fx, "records", &["--format", "pdf"]);
    r.assert_failure();
    assert!(r.stderr.contains("pdf"), "{}", r.describe());
    assert!(r.stdout.is_empty(), "{}", r.describe());
    // Exports are disclosures: audited.
    assert!(fx.count("SELECT count(*) FROM audit_log WHERE action = 'credit.export'") >= 7);
    fx.integrity_ok();
    fx.audit_ok();
}

#[test]
fn export_lists_filters_by_entry_date_and_its_xlsx_reads_back() {
    let fx = Fixture::new();
    registered(&fx);
    let file = fx.write("lists.csv", list_csv());
    import_kind(&fx, "lists", &file, &[]).assert_summary(5, 0, 0, 3);

    let r = export(&fx, "lists", &["--since", "2024-05-10", "--format", "json"]);
    r.assert_success();
    let v: Value = serde_json::from_str(&r.stdout).expect("JSON");
    let items = v.as_array().expect("a list");
    let got: BTreeSet<(String, String)> = items
        .iter()
        .map(|i| {
            (
                i["decision_number"].as_str().unwrap().to_owned(),
                i["list_type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        BTreeSet::from([
            ("利信红〔2024〕1号".to_owned(), "red".to_owned()),
            (
                "利信认〔2024〕1号".to_owned(),
                "serious_dishonest".to_owned()
            ),
            ("利财关〔2024〕1号".to_owned(), "key_attention".to_owned()),
        ])
    );
    for i in items {
        assert!(i.get("code").is_some_and(Value::is_string), "{i}");
        assert!(i.get("entered_on").is_some_and(Value::is_string), "{i}");
    }

    let r = export(&fx, "lists", &["--format", "csv"]);
    r.assert_success();
    assert!(r.stdout.starts_with('\u{feff}'));
    let first = r.stdout.lines().next().unwrap();
    for h in ["统一社会信用代码", "名单类型", "列入日期", "移出日期"] {
        assert!(first.contains(h), "{h} in {first}");
    }
    assert!(r.stdout.contains("经营异常名录"), "list names in Chinese");
    assert_eq!(r.stdout.lines().count(), 6);

    // The XLSX carries the list headers: imported back, every entry is unchanged.
    let out = fx.path("lists.xlsx");
    let out_s = out.display().to_string();
    export(&fx, "lists", &["--format", "xlsx", "--out", &out_s]).assert_success();
    assert_xlsx(&std::fs::read(&out).unwrap());
    import_kind(&fx, "lists", &out, &[]).assert_summary(0, 0, 5, 0);
    // So does the CSV (with its BOM).
    let out = fx.path("lists-export.csv");
    let out_s = out.display().to_string();
    export(&fx, "lists", &["--format", "csv", "--out", &out_s]).assert_success();
    assert!(std::fs::read(&out).unwrap().starts_with(b"\xEF\xBB\xBF"));
    import_kind(&fx, "lists", &out, &[]).assert_summary(0, 0, 5, 0);
    assert_eq!(fx.count("SELECT count(*) FROM list_entry_versions"), 5);
    fx.audit_ok();
}

// ---------------------------------------------------------------------------------------------
// 8: the demo.

/// The `demo credit: N records and list entries (M new)` line: `(N, M)`.
fn demo_credit_line(r: &Run) -> (u64, u64) {
    let line = r
        .lines()
        .into_iter()
        .find(|l| l.starts_with("demo credit: "))
        .unwrap_or_else(|| panic!("a demo credit line:\n{}", r.describe()))
        .to_owned();
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(nums.len(), 2, "{line}");
    (nums[0], nums[1])
}

#[test]
fn the_demo_credit_data_is_idempotent_and_its_penalty_file_imports() {
    let fx = Fixture::new();
    let r = fx.xj_db(&["demo", "--subjects", "2000"]);
    r.assert_success();
    let (total, new) = demo_credit_line(&r);
    assert!(total > 100, "real-looking credit data: {total}");
    assert_eq!(new, total, "all new on the first run");
    let records = fx.count("SELECT count(*) FROM credit_records");
    let entries = fx.count("SELECT count(*) FROM list_entries");
    assert_eq!((records + entries) as u64, total);
    for kind in ["penalty", "license"] {
        assert!(
            fx.count(&format!(
                "SELECT count(*) FROM credit_records WHERE kind = '{kind}'"
            )) > 0,
            "{kind}"
        );
    }
    assert!(fx.count("SELECT count(DISTINCT list_type) FROM list_entries") >= 3);
    assert!(
        fx.count("SELECT count(*) FROM credit_records WHERE published_on > publish_deadline") > 0,
        "some late publications to see"
    );
    let versions = fx.all_record_versions();

    let r = fx.xj_db(&["demo", "--subjects", "2000"]);
    r.assert_success();
    assert_eq!(demo_credit_line(&r), (total, 0), "{}", r.describe());
    assert_eq!(fx.count("SELECT count(*) FROM credit_records"), records);
    assert_eq!(fx.count("SELECT count(*) FROM list_entries"), entries);
    assert_eq!(fx.all_record_versions(), versions);

    let file = fx.data_dir().join("demo-penalties-import.csv");
    assert!(
        std::str::from_utf8(&std::fs::read(&file).expect("the demo wrote its penalty file"))
            .is_err(),
        "the department file is GBK"
    );
    let subjects = fx.subjects();
    let out = fx.path("demo-errors.xlsx").display().to_string();
    let r = import_kind(&fx, "penalties", &file, &["--errors", &out]);
    r.assert_summary(5, 0, 0, 8);
    assert!(r.stderr.contains("待核实"), "{}", r.describe());
    assert_eq!(fx.subjects(), subjects + 1, "one pending subject");
    assert_eq!(fx.count("SELECT count(*) FROM credit_records"), records + 5);
    assert_eq!(import_errors(&fx).len(), 8);
    assert_xlsx(&std::fs::read(&out).unwrap());
    // The five were decided weeks ago: published today, they are late.
    let today = china_today().to_string();
    let now = statuses(&fx, &today);
    for n in [101, 102, 104, 105] {
        let doc = format!("利财罚〔2026〕{n}号");
        assert_eq!(
            now.get(&doc).map(String::as_str),
            Some("late"),
            "{doc}: decided weeks ago, published today"
        );
    }
    // Again: the good rows unchanged, the bad ones still rejected.
    import_kind(&fx, "penalties", &file, &[]).assert_summary(0, 0, 5, 8);
    fx.integrity_ok();
    fx.audit_ok();
}

// ---------------------------------------------------------------------------------------------
// 9: the audit chain.

#[test]
fn credit_commands_keep_the_audit_chain_whole() {
    let fx = Fixture::new();
    registered(&fx);
    let before = fx.audit_ok();
    let p = fx.write("penalties.csv", penalty_csv());
    import_kind(&fx, "penalties", &p, &[]).assert_summary(6, 0, 0, 0);
    let l = fx.write("lists.csv", list_csv());
    import_kind(&fx, "lists", &l, &[]).assert_summary(5, 0, 0, 3);
    let bad = fx.write("bad.csv", "code,name\n1,2\n");
    import_kind(&fx, "penalties", &bad, &[]).assert_failure();
    export(&fx, "records", &["--format", "json"]).assert_success();
    fx.xj_db(&["publicity", "report", "--json"])
        .assert_success();
    let after = fx.audit_ok();
    assert!(after > before, "{before} → {after}");
    for action in [
        "credit.import.start",
        "credit.import.chunk",
        "credit.export",
    ] {
        assert!(
            fx.count(&format!(
                "SELECT count(*) FROM audit_log WHERE action = '{action}'"
            )) > 0,
            "{action}"
        );
    }
    // Tampering with an imported chunk's entry is detected.
    fx.conn()
        .execute(
            "UPDATE audit_log SET detail = replace(detail, '\"imported\":6', '\"imported\":7') \
             WHERE action = 'credit.import.chunk'",
            [],
        )
        .unwrap();
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

/// Regression (fixed; found by this test in crates/app/src/credit.rs, `commit_rows`; crates/store/src/credit.rs,
/// `records_by_documents`): records are keyed by document number and code only, whatever
/// their kind, so a licence whose document number equals that of a penalty of the same
/// subject is taken as a new version of the penalty: the penalty becomes a licence (kind
/// `license`, severity and publicity end gone) and disappears from the penalties.
#[test]
fn a_licence_never_overwrites_a_penalty_with_the_same_document_number() {
    let fx = Fixture::new();
    registered(&fx);
    let p = fx.write(
        "p.csv",
        format!(
            "{PENALTY_HEAD}\n华为技术有限公司,{},利财〔2024〕1号,罚款,2024-03-05,广元市利州区财政局,0.5,\n",
            SAMPLE_CODES[0]
        ),
    );
    import_kind(&fx, "penalties", &p, &[]).assert_summary(1, 0, 0, 0);
    let l = fx.write(
        "l.csv",
        format!(
            "行政相对人名称,统一社会信用代码,行政许可决定文书号,许可决定日期\n华为技术有限公司,{},利财〔2024〕1号,2024-03-06\n",
            SAMPLE_CODES[0]
        ),
    );
    let r = import_kind(&fx, "licenses", &l, &[]);
    r.assert_success();
    assert_ne!(
        r.last_line(),
        summary(0, 1, 0, 0),
        "a licence is not a new version of a penalty"
    );
    let penalty = fx.count(
        "SELECT count(*) FROM credit_records WHERE kind = 'penalty' AND severity = 'general' \
         AND version = 1",
    );
    assert_eq!(penalty, 1, "the penalty is still there: {:?}", records(&fx));
}

/// Regression (fixed; found by this test in crates/core/src/credit_row.rs, `parse_amount`, and the XLSX cell text in
/// crates/app/src/sources.rs): the fine amount is kept as written, so the same amount
/// written `0.50` in a CSV and stored as the number 0.5 in the XLSX of the same data (or
/// `0.5` in a later CSV) hashes differently: re-importing the same facts makes a new
/// version (`updated 1`) instead of `unchanged 1`.
#[test]
fn the_same_amount_written_differently_is_unchanged() {
    let fx = Fixture::new();
    registered(&fx);
    let row = |amount: &str| {
        format!(
            "{PENALTY_HEAD}\n华为技术有限公司,{},利财罚〔2024〕1号,罚款,2024-03-05,广元市利州区财政局,{amount},\n",
            SAMPLE_CODES[0]
        )
    };
    let a = fx.write("a.csv", row("0.50"));
    import_kind(&fx, "penalties", &a, &[]).assert_summary(1, 0, 0, 0);
    let b = fx.write("b.csv", row("0.5"));
    import_kind(&fx, "penalties", &b, &[]).assert_summary(0, 0, 1, 0);
    assert_eq!(fx.all_record_versions(), 1);
}

/// Regression (fixed; found by this test in crates/app/src/credit.rs, `commit_rows`): the rows refused at commit — a document
/// number used for another subject, a penalty for a deregistered subject — are reported under
/// fixed column names (`决定文书号`, `统一社会信用代码`) instead of the file's own headers,
/// unlike every other error; `决定文书号` is not a column of any 双公示 file, so the error
/// report points at a column the department cannot find.
#[test]
fn commit_time_rejections_name_the_files_columns() {
    let fx = Fixture::new();
    registered(&fx);
    let dereg = deregistered(&fx);
    let file = fx.write(
        "p.csv",
        format!(
            "{PENALTY_HEAD}\n\
             华为技术有限公司,{},利财罚〔2024〕61号,罚款,2024-04-01,广元市利州区财政局,0.5,\n\
             腾讯科技（深圳）有限公司,{},利财罚〔2024〕61号,罚款,2024-04-01,广元市利州区财政局,0.5,\n\
             测试企业第9号有限公司,{dereg},利财罚〔2024〕62号,罚款,2024-04-01,广元市利州区财政局,0.5,\n",
            SAMPLE_CODES[0], SAMPLE_CODES[1]
        ),
    );
    import_kind(&fx, "penalties", &file, &[]).assert_summary(1, 0, 0, 2);
    let headers: Vec<&str> = PENALTY_HEAD.split(',').collect();
    for (row, col, ..) in import_errors(&fx) {
        assert!(
            headers.contains(&col.as_str()),
            "row {row}: column {col:?} is not one of the file's headers {headers:?}"
        );
    }
}

/// Regression (fixed; found by this test in crates/app/src/credit.rs, `commit_rows`): the deregistered-subject check runs before
/// the record is looked up, so once a subject is deregistered, re-importing the same,
/// unchanged file reports its stored penalty as `rejected` with “处罚记录未导入”, although
/// the record is in the database (imported while the subject was active). A re-import of
/// unchanged rows should say `unchanged` (the check belongs to new records).
#[test]
fn a_stored_penalty_stays_unchanged_after_its_subject_is_deregistered() {
    let fx = Fixture::new();
    registered(&fx);
    let code = gen_code(9);
    let file = fx.write(
        "p.csv",
        format!(
            "{PENALTY_HEAD}\n测试企业第9号有限公司,{code},利市监罚〔2024〕71号,吊销营业执照,2024-04-01,广元市利州区市场监督管理局,,\n"
        ),
    );
    import_kind(&fx, "penalties", &file, &[]).assert_summary(1, 0, 0, 0);
    deregistered(&fx);
    import_kind(&fx, "penalties", &file, &[]).assert_summary(0, 0, 1, 0);
}

/// A department's list file without exits, imported again after an exit was recorded (here by
/// an earlier file with 移出日期), leaves the exit in place: re-importing never puts a subject
/// back on a list it was removed from.
#[test]
fn re_importing_a_list_file_without_exits_keeps_a_recorded_exit() {
    let fx = Fixture::new();
    registered(&fx);
    let row = |exit: &str, reason: &str| {
        format!(
            "{LIST_HEAD}\n{},腾讯科技（深圳）有限公司,严重失信主体名单,2024-06-01,利信认〔2024〕9号,广元市利州区财政局,受到严重行政处罚,,{exit},{reason}\n",
            SAMPLE_CODES[1]
        )
    };
    let entered = fx.write("entered.csv", row("", ""));
    import_kind(&fx, "lists", &entered, &[]).assert_summary(1, 0, 0, 0);
    let exited = fx.write("exited.csv", row("2024-09-01", "信用修复"));
    import_kind(&fx, "lists", &exited, &[]).assert_summary(0, 1, 0, 0);
    // The department sends its original file again.
    import_kind(&fx, "lists", &entered, &[]).assert_summary(0, 0, 1, 0);
    let got = list_entries(&fx);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].5.as_deref(), Some("2024-09-01"), "{got:?}");
    assert_eq!(got[0].6.as_deref(), Some("信用修复"), "{got:?}");
}

/// A penalty on a natural person (行政相对人类别 自然人): no code, the resident ID number in
/// 证件号码. The person is registered once, by number, under a key; the record is stored
/// under the key; the portal never shows it; the exchange export carries the number, not the
/// key; a bad number is refused naming the column.
#[test]
fn penalties_on_natural_persons_are_keyed_by_id_number() {
    let fx = Fixture::new();
    registered(&fx);
    let subjects = fx.subjects();
    let head = "行政相对人名称,行政相对人类别,统一社会信用代码,证件号码,行政处罚决定书文号,处罚类别,处罚决定日期,处罚机关";
    let file = fx.write(
        "persons.csv",
        format!(
            "{head}\n\
             王会计,自然人,,11010519491231002x,利财罚〔2024〕41号,罚款,2024-04-01,广元市利州区财政局\n\
             王会计,自然人,,11010519491231002X,利财罚〔2024〕42号,警告,2024-05-06,广元市利州区财政局\n\
             李出纳,自然人,,110105194912310021,利财罚〔2024〕43号,罚款,2024-05-06,广元市利州区财政局\n\
             赵某,自然人,,,利财罚〔2024〕44号,罚款,2024-05-06,广元市利州区财政局\n\
             华为技术有限公司,法人及非法人组织,{},,利财罚〔2024〕45号,罚款,2024-05-06,广元市利州区财政局\n\
             张出纳,自然人,/,510802199001011236,利财罚〔2024〕46号,罚款,2024-05-06,广元市利州区财政局\n",
            SAMPLE_CODES[0]
        ),
    );
    let r = import_kind(&fx, "penalties", &file, &[]);
    r.assert_summary(4, 0, 0, 2);
    assert!(
        r.stderr.contains("自然人") && r.stderr.contains('2'),
        "{}",
        r.describe()
    );
    assert_eq!(
        fx.subjects(),
        subjects + 2,
        "two persons, each registered once"
    );
    let chunk: String = fx
        .conn()
        .query_row(
            "SELECT detail FROM audit_log WHERE action = 'credit.import.chunk' ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        chunk.contains("\"persons\":2"),
        "the chunk's audit entry counts the persons it registered: {chunk}"
    );
    assert_rejected(&fx, 4, Some("证件号码"), &["校验码应为“X”"]);
    // The refused number is reported masked, never in full.
    let refused = errors_of_row(&fx, 4);
    assert_eq!(refused[0].1, "110105********0021", "{refused:?}");
    // A placeholder in the code column of a person's row counts as no code.
    assert!(fx
        .text(
            "SELECT code FROM subjects WHERE person_id = ?1",
            "510802199001011236"
        )
        .is_some_and(|k| xinjian_core::subject::is_person_key(&k)));
    assert_rejected(&fx, 5, Some("统一社会信用代码"), &["证件号码"]);

    let key = fx
        .text(
            "SELECT code FROM subjects WHERE person_id = ?1",
            "11010519491231002X",
        )
        .expect("the person is registered by the normalised number");
    assert!(xinjian_core::subject::is_person_key(&key), "{key}");
    assert_eq!(
        fx.text(
            "SELECT kind || '/' || name FROM subjects WHERE code = ?1",
            &key
        )
        .as_deref(),
        Some("natural_person/王会计")
    );
    for doc in ["利财罚〔2024〕41号", "利财罚〔2024〕42号"] {
        let r = rec(&fx, doc);
        assert_eq!(r.code, key, "{doc} is stored under the person's key");
        assert_eq!(r.data["person_id"], "11010519491231002X");
    }

    // Again: nothing changes, no second person.
    let r = import_kind(&fx, "penalties", &file, &[]);
    r.assert_summary(0, 0, 4, 2);
    assert!(!r.stderr.contains("自然人主体"), "{}", r.describe());
    assert_eq!(fx.subjects(), subjects + 2);

    // A later file about the same person finds the same subject.
    let later = fx.write(
        "persons-later.csv",
        format!("{head}\n王会计,自然人,,11010519491231002X,利财罚〔2025〕7号,罚款,2025-02-10,广元市利州区财政局\n"),
    );
    import_kind(&fx, "penalties", &later, &[]).assert_summary(1, 0, 0, 0);
    assert_eq!(rec(&fx, "利财罚〔2025〕7号").code, key);
    assert_eq!(fx.subjects(), subjects + 2);

    // The exchange export: the number under 证件号码, no code.
    let out = fx.path("export.json");
    let o = out.display().to_string();
    fx.xj_db(&[
        "export",
        "records",
        "--since",
        "2024-01-01",
        "--format",
        "json",
        "--out",
        &o,
    ])
    .assert_success();
    let exported: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let item = exported
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["document_number"] == "利财罚〔2024〕41号")
        .expect("exported");
    assert_eq!(
        (item["code"].as_str(), item["person_id"].as_str()),
        (Some(""), Some("11010519491231002X"))
    );
    fx.audit_ok();
}
