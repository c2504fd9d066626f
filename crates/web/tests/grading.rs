//! Credit grading over the real server (issue 4): the grade API's contract and its `as_of`,
//! who may read grades, run evaluations and change the rules, the internal risk class's
//! silence towards the public and the entity itself, the grade with its reasons and outlook on
//! the staff page and the entity's own page, the statistics page with its chart and export,
//! and the rules as versions.

mod common;

use chrono::{Datelike, Duration, NaiveDate};
use common::TestServer;
use reqwest::blocking::{Client, Response};
use serde_json::{json, Value};
use xinjian_app::demo::{DemoRng, DemoSubject};
use xinjian_app::Actor;
use xinjian_store::grading::RunRow;
use xinjian_web::routes::{Access, ROUTES};

const TAX: &str = "国家税务总局广元市利州区税务局";
const LIST_TYPES: [&str; 4] = ["red", "serious_dishonest", "key_attention", "abnormal"];
const STAFF: [&str; 4] = ["admin", "regulator", "credit_office", "inspector"];

// ---------------------------------------------------------------------------------------------
// Helpers

fn today() -> NaiveDate {
    xinjian_app::today()
}

fn ago(days: i64) -> NaiveDate {
    today() - Duration::days(days)
}

fn system() -> Actor {
    Actor::System("test".into())
}

/// The day a record decided on `d` has left the 12-month window: the same day one year later
/// (1 March for 29 February).
fn one_year_after(d: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year() + 1, d.month(), d.day())
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(d.year() + 1, 3, 1).unwrap())
}

/// The test server's jurisdiction: the first 60 demo subjects of seed 7.
fn demo_subjects() -> Vec<DemoSubject> {
    let mut rng = DemoRng::new(7);
    (0..60)
        .map(|i| xinjian_app::demo::subject(&mut rng, i))
        .collect()
}

/// Subjects in business graded A today with nothing against them (records can be pushed for
/// them and every grade they get comes from the test), the entity's own subject excepted.
fn fresh(srv: &TestServer) -> Vec<DemoSubject> {
    let out: Vec<DemoSubject> = demo_subjects()
        .into_iter()
        .filter(|s| s.reg_status.starts_with("存续") && s.code != srv.agency_code)
        .filter(|s| {
            let g = srv.app.grade_of(&system(), &s.code, None).unwrap();
            g.json.grade == "A" && g.json.reasons.is_empty()
        })
        .collect();
    assert!(out.len() >= 8, "too few clean subjects: {}", out.len());
    out
}

fn penalty(s: &DemoSubject, doc: &str, decided: NaiveDate, categories: &str) -> Value {
    json!({
        "kind": "penalty", "code": s.code, "name": s.name, "document_number": doc,
        "decision_date": decided.to_string(), "categories": categories, "authority": TAX,
        "facts": "未按照规定期限办理纳税申报和报送纳税资料",
        "basis": "《中华人民共和国税收征收管理法》第六十二条",
        "content": "罚款人民币2000元", "fine_amount": "0.2", "source_department": TAX,
    })
}

fn with_severity(mut v: Value, severity: &str) -> Value {
    v["severity"] = json!(severity);
    v
}

/// `POST /api/v1/records` with the department's token; every record must be stored.
fn push(srv: &TestServer, records: Vec<Value>) {
    let n = records.len();
    let r = srv
        .client()
        .post(srv.url("/api/v1/records"))
        .bearer_auth(&srv.department_token)
        .json(&json!({ "records": records, "hold": false }))
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let v: Value = r.json().unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["imported"], n, "{v}");
}

/// A logged-in browser session.
struct Session<'a> {
    srv: &'a TestServer,
    c: Client,
    csrf: String,
}

impl<'a> Session<'a> {
    /// One of the test server's accounts (`t_{role}`).
    fn login(srv: &'a TestServer, role: &str) -> Session<'a> {
        let (c, csrf) = srv.login(&format!("t_{role}"));
        Session { srv, c, csrf }
    }

    /// An account with its own password (the demo's accounts).
    fn login_with(srv: &'a TestServer, username: &str, password: &str) -> Session<'a> {
        let c = srv.client();
        let r = c
            .post(srv.url("/login"))
            .form(&[("username", username), ("password", password), ("next", "")])
            .send()
            .unwrap();
        assert_eq!(r.status(), 303, "login of {username}");
        let csrf = srv.csrf_of(&c);
        Session { srv, c, csrf }
    }

    /// The demo's entity account `agency`.
    fn agency(srv: &'a TestServer) -> Session<'a> {
        Session::login_with(srv, "agency", xinjian_app::demo::DEMO_PASSWORD)
    }

    fn get(&self, path: &str) -> (u16, String) {
        let r = self.c.get(self.srv.url(path)).send().unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }

    fn page(&self, path: &str) -> String {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// A form post with the session's CSRF token.
    fn post(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let mut form: Vec<(&str, &str)> = vec![("_csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        self.c.post(self.srv.url(path)).form(&form).send().unwrap()
    }

    /// A record as staff see it (with id and version), found by subject and document.
    fn record(&self, code: &str, doc: &str) -> Value {
        let v = self.json(&format!("/api/v1/records?code={code}"));
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["document_number"] == doc)
            .cloned()
            .unwrap_or_else(|| panic!("{doc} is not among the records of {code}: {v}"))
    }

    /// Correct or revoke a record through the record page's form.
    fn change(&self, rec: &Value, action: &str, reason: &str) -> Response {
        let id = rec["id"].as_i64().unwrap();
        let version = rec["version"].as_i64().unwrap().to_string();
        self.post(
            &format!("/records/{id}/change"),
            &[
                ("version", version.as_str()),
                ("action", action),
                ("reason", reason),
            ],
        )
    }
}

fn grade_path(code: &str, as_of: Option<&str>) -> String {
    match as_of {
        Some(d) => format!("/api/v1/subjects/{code}/grade?as_of={d}"),
        None => format!("/api/v1/subjects/{code}/grade"),
    }
}

/// `GET /api/v1/subjects/{code}/grade` as this session: status, content type, body.
fn grade_call(s: &Session, code: &str, as_of: Option<&str>) -> (u16, String, Value) {
    let r = s.c.get(s.srv.url(&grade_path(code, as_of))).send().unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = r.text().unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, ct, v)
}

/// The grade of a subject as this session reads it, checked against the contract's shape.
fn grade(s: &Session, code: &str, as_of: Option<&str>) -> Value {
    let (status, _, v) = grade_call(s, code, as_of);
    assert_eq!(status, 200, "{code} as of {as_of:?}: {v}");
    assert_contract(&v);
    v
}

/// `{code, as_of, grade, rule_version, reasons}`: exactly these keys; reasons with kind,
/// document_number, decision_date and severity (general|serious); none for A.
fn assert_contract(v: &Value) {
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["as_of", "code", "grade", "reasons", "rule_version"],
        "{v}"
    );
    let date = |x: &Value| NaiveDate::parse_from_str(x.as_str().unwrap(), "%Y-%m-%d").is_ok();
    assert!(date(&v["as_of"]), "{v}");
    assert!(
        ["A", "B", "C", "D"].contains(&v["grade"].as_str().unwrap()),
        "{v}"
    );
    assert!(!v["rule_version"].as_str().unwrap().is_empty(), "{v}");
    let reasons = v["reasons"].as_array().unwrap();
    assert_eq!(reasons.is_empty(), v["grade"] == "A", "{v}");
    for r in reasons {
        assert!(r["kind"].is_string(), "{r}");
        assert!(r["document_number"].is_string(), "{r}");
        assert!(date(&r["decision_date"]), "{r}");
        assert!(
            r["severity"] == "general" || r["severity"] == "serious",
            "{r}"
        );
    }
}

fn docs_of(v: &Value) -> Vec<String> {
    v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["document_number"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_problem(status: u16, ct: &str, v: &Value, expected: u16) {
    assert_eq!(status, expected, "{v}");
    assert_eq!(ct, "application/problem+json", "{v}");
    assert_eq!(v["status"], expected, "{v}");
    assert!(!v["detail"].as_str().unwrap_or_default().is_empty(), "{v}");
}

/// Wait for the background runs started through `POST /grades/run`: bounded polling until
/// there are more runs than `before` and none is running. Returns the newest run.
fn wait_for_run(srv: &TestServer, before: usize) -> RunRow {
    for _ in 0..50_000 {
        let runs = srv.app.evaluation_runs(&system()).unwrap();
        if runs.len() > before && runs.iter().all(|r| r.status != "running") {
            return runs[0].clone();
        }
        std::thread::yield_now();
    }
    panic!("the evaluation run did not finish after 50,000 polls");
}

fn runs(srv: &TestServer) -> usize {
    srv.app.evaluation_runs(&system()).unwrap().len()
}

/// Start a run from the statistics page as the credit office and wait for it.
fn run_from_page(co: &Session, full: bool, as_of: &str) -> RunRow {
    let before = runs(co.srv);
    let mut fields = vec![("as_of", as_of)];
    if full {
        fields.push(("full", "1"));
    }
    let r = co.post("/grades/run", &fields);
    assert_eq!(r.status(), 303, "{}", r.text().unwrap_or_default());
    assert_eq!(r.headers()["location"], "/grades?started=1");
    let run = wait_for_run(co.srv, before);
    assert_eq!(run.status, "done", "{run:?}");
    // A full run asked for is full; an incremental one may become full (after a rules change,
    // or as of an earlier day than the last run).
    if full {
        assert!(run.full_run, "{run:?}");
    }
    run
}

/// The stored grades: how many subjects are A, B, C, D.
fn stored_counts(srv: &TestServer) -> [i64; 4] {
    let mut conn = srv.app.db.conn().unwrap();
    let mut out = [0i64; 4];
    // The stored evaluations, and A for the subjects of the evaluated directory without one (a
    // clean evaluation is not stored; all of them were registered before the first run).
    for r in conn
        .query(
            "SELECT grade, count(*) FROM (SELECT grade FROM grades UNION ALL \
             SELECT 'A' FROM subjects s WHERE s.reg_status IN ('active', 'revoked') \
             AND s.kind <> 'natural_person' AND NOT EXISTS (SELECT 1 FROM grades g WHERE g.subject_id = s.id)) x \
             GROUP BY grade",
            &[],
        )
        .unwrap()
    {
        let g: String = r.get(0).unwrap();
        let i = ["A", "B", "C", "D"].iter().position(|x| *x == g).unwrap();
        out[i] = r.get(1).unwrap();
    }
    out
}

/// The stored grade of one subject: (grade, rule_version, risk_class).
fn stored_grade(srv: &TestServer, code: &str) -> Option<(String, String, String)> {
    let mut conn = srv.app.db.conn().unwrap();
    conn.query(
        "SELECT g.grade, g.rule_version, g.risk_class FROM grades g JOIN subjects s ON s.id = g.subject_id WHERE s.code = ?",
        &[xinjian_store::Value::from(code.to_owned())],
    )
    .unwrap()
    .first()
    .map(|r| (r.get(0).unwrap(), r.get(1).unwrap(), r.get(2).unwrap()))
}

/// The totals of the statistics page (`<b id="n-A">…</b>`).
fn page_totals(html: &str) -> [i64; 4] {
    ["A", "B", "C", "D"].map(|g| {
        let tag = format!("id=\"n-{g}\">");
        let i = html
            .find(&tag)
            .unwrap_or_else(|| panic!("no total for {g}"))
            + tag.len();
        // Grouped by thousands on the page (1,234).
        html[i..i + html[i..].find('<').unwrap()]
            .replace(',', "")
            .parse()
            .unwrap()
    })
}

/// The text of the element with this id (up to its first closing `</p>`, `</table>` or
/// `</div>`), for checks that must look at one section.
fn section<'h>(html: &'h str, id: &str) -> &'h str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element {id}"));
    let rest = &html[start..];
    let end = ["</p>", "</table>", "</div>"]
        .iter()
        .filter_map(|t| rest.find(t))
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

fn number(s: &str) -> i64 {
    s.trim()
        .parse::<f64>()
        .unwrap_or_else(|_| panic!("not a number: {s}")) as i64
}

/// Save a rule version through the statistics page's form.
fn save_rules(s: &Session, version: &str, general_b_max: &str, cutoffs: [&str; 3]) -> Response {
    s.post(
        "/grades/rules",
        &[
            ("version", version),
            ("window_months", "12"),
            ("general_b_max", general_b_max),
            ("cutoff_general", cutoffs[0]),
            ("cutoff_higher", cutoffs[1]),
            ("cutoff_high", cutoffs[2]),
        ],
    )
}

fn current_version(srv: &TestServer) -> String {
    srv.app.grade_rules().unwrap().0.version
}

// ---------------------------------------------------------------------------------------------
// The internal risk class

/// What betrays the internal risk classification (as the staff page renders it, and as data).
const RISK_WORDS: [&str; 12] = [
    "风险",
    "行业信用风险",
    "风险低",
    "风险一般",
    "风险较高",
    "风险高",
    "内部参考",
    "评分卡",
    "risk",
    "score",
    "risk-v1",
    "id=\"risk\"",
];

fn assert_no_risk(label: &str, body: &str) {
    for w in RISK_WORDS {
        assert!(
            !body.contains(w),
            "{label} shows the internal risk word “{w}”"
        );
    }
    // The class labels as rendered next to their heading ("行业信用风险 <b>较高</b>").
    for l in ["低", "一般", "较高", "高"] {
        assert!(
            !body.contains(&format!("<b>{l}</b>")),
            "{label} shows a risk class label {l}"
        );
    }
}

/// Every public GET route, made concrete for these codes and queries.
fn public_urls(srv: &TestServer, codes: &[String], queries: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for r in ROUTES
        .iter()
        .filter(|r| r.method == "GET" && r.access == Access::Public)
    {
        match r.path {
            "/static/{file}" => {
                out.push(srv.url("/static/app.css"));
                out.push(srv.url("/static/import.js"));
            }
            "/search" | "/api/v1/public/search" => {
                for q in queries {
                    let u = reqwest::Url::parse_with_params(&srv.url(r.path), &[("q", q)]);
                    out.push(u.unwrap().to_string());
                }
            }
            p if p.contains("{code}") => {
                out.extend(codes.iter().map(|c| srv.url(&p.replace("{code}", c))))
            }
            p if p.contains("{list}") => {
                out.extend(LIST_TYPES.iter().map(|l| srv.url(&p.replace("{list}", l))))
            }
            p if p.contains('{') => {
                panic!("the public route {p} has a parameter this test does not know")
            }
            p => {
                out.push(srv.url(p));
                if p.starts_with("/public/") {
                    out.push(srv.url(&format!("{p}?page=2")));
                }
            }
        }
    }
    out
}

#[test]
fn the_risk_class_never_reaches_the_public_or_the_entity() {
    let srv = TestServer::start();
    let all = demo_subjects();
    let clean = fresh(&srv);
    let me = all.iter().find(|s| s.code == srv.agency_code).unwrap();
    // The entity's own subject with much against it: C with a high score.
    let mut records: Vec<Value> = (1..=6)
        .map(|i| penalty(me, &format!("利税罚〔2026〕险{i}号"), ago(20 + i), "罚款"))
        .collect();
    // C 200 + 6 general 150 (the cap) + 3 serious 300 = 650: high.
    for (doc, days) in [
        ("利税罚〔2026〕险7号", 5),
        ("利税罚〔2026〕险10号", 6),
        ("利税罚〔2026〕险11号", 7),
    ] {
        records.push(with_severity(penalty(me, doc, ago(days), "罚款"), "严重"));
    }
    records.push(penalty(&clean[0], "利税罚〔2026〕险8号", ago(3), "罚款"));
    records.push(with_severity(
        penalty(&clean[1], "利税罚〔2026〕险9号", ago(4), "罚款"),
        "严重",
    ));
    push(&srv, records);

    // An evaluation run: stored grades with risk classes, not all of them low.
    let co = Session::login(&srv, "credit_office");
    let run = run_from_page(&co, true, "");
    assert_eq!(run.evaluated, 58, "{run:?}");
    let mut conn = srv.app.db.conn().unwrap();
    let classes: Vec<(String, i64)> = conn
        .query(
            "SELECT risk_class, count(*) FROM grades GROUP BY risk_class ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
        .collect();
    drop(conn);
    assert!(
        classes.len() >= 3 && classes.iter().any(|(c, _)| c == "high"),
        "{classes:?}"
    );
    let (g, _, risk) = stored_grade(&srv, &me.code).unwrap();
    assert_eq!(g, "C");
    assert!(risk == "higher" || risk == "high", "{risk}");

    // Every public page and /api/v1/public/ response, for every subject of the jurisdiction.
    let codes: Vec<String> = all.iter().map(|s| s.code.clone()).collect();
    let mut queries: Vec<String> = vec!["利".into(), "公司".into(), me.code.clone()];
    queries.push(me.name.chars().take(4).collect());
    queries.push(clean[1].name.clone());
    let urls = public_urls(&srv, &codes, &queries);
    let anonymous = srv.client();
    let mut seen = 0;
    for url in &urls {
        let r = anonymous.get(url).send().unwrap();
        let status = r.status().as_u16();
        let body = r.text().unwrap();
        assert!(status == 200 || status == 404, "{url}: {status}");
        if status == 200 {
            seen += 1;
        }
        assert_no_risk(url, &body);
        if url.contains("/api/v1/public/") {
            let v: Value = serde_json::from_str(&body).unwrap();
            let text = v.to_string();
            assert_no_risk(url, &text);
        }
    }
    assert!(seen > 2 * codes.len(), "only {seen} public answers");
    // The entity's public page does show its public records (the sweep is not vacuous).
    let portal = anonymous
        .get(srv.url(&format!("/s/{}", me.code)))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(portal.contains("利税罚〔2026〕险7号"));

    // The entity's own view: its grade with reasons, never the risk class.
    for entity in [Session::agency(&srv), Session::login(&srv, "entity")] {
        let my = entity.page("/my");
        assert!(my.contains("data-grade=\"C\""), "{my}");
        assert!(section(&my, "grade-reasons").contains("利税罚〔2026〕险7号"));
        assert_no_risk("/my", &my);
        for as_of in [None, Some(ago(1).to_string()), Some(today().to_string())] {
            let v = grade(&entity, &me.code, as_of.as_deref());
            assert_eq!(v["grade"], "C");
            assert_no_risk("the entity's grade API", &v.to_string());
        }
    }

    // Staff with RiskRead see it on the subject page, as the app computes it.
    let risk = srv
        .app
        .grade_of(&system(), &me.code, None)
        .unwrap()
        .risk
        .unwrap();
    for role in STAFF {
        let s = Session::login(&srv, role);
        let page = s.page(&format!("/subjects/{}", me.code));
        let part = section(&page, "risk");
        assert!(
            part.contains("行业信用风险")
                && part.contains(&format!("<b>{}</b>", risk.class_label))
                && part.contains(&format!("{} 分", risk.score))
                && part.contains("risk-v1"),
            "{role}: {part}"
        );
        // The staff API keeps to the contract: no risk there either.
        let v = grade(&s, &me.code, None);
        assert_no_risk("the staff grade API", &v.to_string());
    }
}

// ---------------------------------------------------------------------------------------------
// The API contract

#[test]
fn the_grade_api_keeps_to_the_contract_and_follows_as_of() {
    let srv = TestServer::start();
    let clean = fresh(&srv);
    let (a, b, c, d) = (&clean[0], &clean[1], &clean[2], &clean[3]);
    let reg = Session::login(&srv, "regulator");

    // A: no reasons, today, the default rules.
    let v = grade(&reg, &a.code, None);
    assert_eq!(v["code"], a.code.as_str());
    assert_eq!(v["grade"], "A");
    assert_eq!(v["as_of"], today().to_string());
    assert_eq!(v["rule_version"], "seed004-v1");
    assert_eq!(v["reasons"], json!([]));

    let decided = ago(10);
    push(
        &srv,
        vec![
            penalty(a, "利税罚〔2026〕约1号", decided, "罚款"),
            with_severity(penalty(b, "利税罚〔2026〕约2号", ago(20), "罚款"), "严重"),
            penalty(c, "利税罚〔2026〕约3号", ago(30), "吊销营业执照"),
            with_severity(penalty(d, "利税罚〔2026〕约4号", ago(2), "警告"), "轻微"),
        ],
    );

    // B with the general record that decided it.
    let v = grade(&reg, &a.code, None);
    assert_eq!(v["grade"], "B", "{v}");
    let r = &v["reasons"][0];
    assert_eq!(v["reasons"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(r["kind"], "penalty");
    assert_eq!(r["document_number"], "利税罚〔2026〕约1号");
    assert_eq!(r["decision_date"], decided.to_string());
    assert_eq!(r["severity"], "general");

    // as_of: before the decision A, on the decision day B; the window's last day B, the day
    // after it A.
    let back = one_year_after(decided);
    for (day, expected) in [
        (decided - Duration::days(1), "A"),
        (decided, "B"),
        (back - Duration::days(1), "B"),
        (back, "A"),
    ] {
        let v = grade(&reg, &a.code, Some(&day.to_string()));
        assert_eq!(v["as_of"], day.to_string(), "{v}");
        assert_eq!(v["grade"], expected, "as of {day}: {v}");
    }

    // C for a serious record, D for the revocation of the business licence; a minor record
    // does not count.
    let v = grade(&reg, &b.code, None);
    assert_eq!(v["grade"], "C", "{v}");
    assert_eq!(v["reasons"][0]["severity"], "serious");
    assert_eq!(v["reasons"][0]["document_number"], "利税罚〔2026〕约2号");
    assert_eq!(
        grade(&reg, &b.code, Some(&ago(21).to_string()))["grade"],
        "A"
    );
    let v = grade(&reg, &c.code, None);
    assert_eq!(v["grade"], "D", "{v}");
    assert!(
        docs_of(&v).contains(&"利税罚〔2026〕约3号".to_owned()),
        "{v}"
    );
    assert!(v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["severity"] == "serious"));
    assert_eq!(grade(&reg, &d.code, None)["grade"], "A");

    // A subject revoked by its registration status: D, with a well-formed reason.
    let revoked = demo_subjects()
        .into_iter()
        .find(|s| s.reg_status.starts_with("吊销"))
        .unwrap();
    let v = grade(&reg, &revoked.code, None);
    assert_eq!(v["grade"], "D", "{v}");

    // The code is read as the registry writes it.
    let v = grade(&reg, &a.code.to_lowercase(), None);
    assert_eq!(v["code"], a.code.as_str());

    // A bad as_of is a 400 problem; an unknown subject a 404 problem.
    for bad in ["not-a-date", "2026-02-30", "2026-13-01", "2026-11-", "0"] {
        let (status, ct, v) = grade_call(&reg, &a.code, Some(bad));
        assert_problem(status, &ct, &v, 400);
        assert_eq!(v["field"], "as_of", "{v}");
    }
    let (status, ct, v) = grade_call(&reg, "91510802MA7ZZZZZZZ", None);
    assert!(status == 404 || status == 400, "{status}: {v}");
    assert_eq!(ct, "application/problem+json");
    let unknown = demo_subject_outside(&srv);
    let (status, ct, v) = grade_call(&reg, &unknown, None);
    assert_problem(status, &ct, &v, 404);
}

/// A valid code that is not in the registry (the demo's 61st subject).
fn demo_subject_outside(srv: &TestServer) -> String {
    let mut rng = DemoRng::new(7);
    let s = (0..61)
        .map(|i| xinjian_app::demo::subject(&mut rng, i))
        .last()
        .unwrap();
    let mut conn = srv.app.db.conn().unwrap();
    assert!(xinjian_store::subjects::by_code(&mut conn, &s.code)
        .unwrap()
        .is_none());
    s.code
}

#[test]
fn the_api_counts_records_as_seed_004_says() {
    let srv = TestServer::start();
    let clean = fresh(&srv);
    let s = &clean[0];
    let reg = Session::login(&srv, "regulator");
    // Five general records: B.
    push(
        &srv,
        (1..=5)
            .map(|i| penalty(s, &format!("利税罚〔2026〕数{i}号"), ago(10 * i), "罚款"))
            .collect(),
    );
    let v = grade(&reg, &s.code, None);
    assert_eq!(v["grade"], "B", "{v}");
    assert_eq!(v["reasons"].as_array().unwrap().len(), 5);
    // Minor records do not count.
    push(
        &srv,
        vec![with_severity(
            penalty(s, "利税罚〔2026〕数轻号", ago(3), "警告"),
            "轻微",
        )],
    );
    assert_eq!(grade(&reg, &s.code, None)["grade"], "B");
    // The sixth: C, with all six records as its reasons, most recent first.
    push(
        &srv,
        vec![penalty(s, "利税罚〔2026〕数6号", ago(1), "罚款")],
    );
    let v = grade(&reg, &s.code, None);
    assert_eq!(v["grade"], "C", "{v}");
    let docs = docs_of(&v);
    assert_eq!(docs.len(), 6, "{v}");
    assert_eq!(docs[0], "利税罚〔2026〕数6号");
    assert!(!docs.contains(&"利税罚〔2026〕数轻号".to_owned()));
    // As of the day before the sixth: B again.
    assert_eq!(
        grade(&reg, &s.code, Some(&ago(2).to_string()))["grade"],
        "B"
    );
    // A revoked record stops counting from the day it is revoked (today): C yesterday, B today.
    let r = reg.change(
        &reg.record(&s.code, "利税罚〔2026〕数6号"),
        "revoke",
        "测试：撤销处罚决定",
    );
    assert_eq!(r.status(), 303, "{}", r.text().unwrap());
    let v = grade(&reg, &s.code, None);
    assert_eq!(v["grade"], "B", "{v}");
    assert!(!docs_of(&v).contains(&"利税罚〔2026〕数6号".to_owned()));
    assert_eq!(
        grade(&reg, &s.code, Some(&ago(1).to_string()))["grade"],
        "C"
    );
}

// ---------------------------------------------------------------------------------------------
// Authorisation

#[test]
fn who_may_read_grades_run_evaluations_and_change_rules() {
    let srv = TestServer::start();
    let own = srv.agency_code.clone();
    let other = srv.other_code.clone();
    for role in STAFF {
        let s = Session::login(&srv, role);
        for code in [&own, &other] {
            let v = grade(&s, code, None);
            assert_eq!(v["code"], code.as_str(), "{role}");
        }
        assert_eq!(s.get("/grades").0, 200, "{role}");
    }

    // The entity: its own grade only (the demo account and the test's).
    for entity in [Session::agency(&srv), Session::login(&srv, "entity")] {
        let me = entity.json("/api/v1/me");
        assert_eq!(me["subject_code"], own.as_str());
        let v = grade(&entity, &own, None);
        assert_eq!(v["code"], own.as_str());
        grade(&entity, &own, Some(&ago(30).to_string()));
        grade(&entity, &own.to_lowercase(), None);
        let (status, ct, v) = grade_call(&entity, &other, None);
        assert_problem(status, &ct, &v, 403);
        let (status, ct, v) = grade_call(&entity, &other, Some(&ago(30).to_string()));
        assert_problem(status, &ct, &v, 403);
        // Nor the staff pages of grading.
        assert_eq!(entity.get("/grades").0, 403);
        assert_eq!(entity.get("/grades/export.xlsx").0, 403);
    }

    // A department's token and the public.
    for code in [&own, &other] {
        let r = srv
            .client()
            .get(srv.url(&grade_path(code, None)))
            .bearer_auth(&srv.department_token)
            .send()
            .unwrap();
        assert_eq!(r.status(), 403);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let r = srv
            .client()
            .get(srv.url(&grade_path(code, None)))
            .send()
            .unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }

    // Runs: the credit office only.
    let before = runs(&srv);
    for role in ["admin", "regulator", "inspector", "entity"] {
        let s = Session::login(&srv, role);
        let r = s.post("/grades/run", &[("full", "1"), ("as_of", "")]);
        assert_eq!(r.status(), 403, "{role} started a run");
        let r = save_rules(&s, &format!("{role}-v2"), "5", ["150", "350", "600"]);
        assert_eq!(r.status(), 403, "{role} saved rules");
    }
    for path in ["/grades/run", "/grades/rules"] {
        let r = srv
            .client()
            .post(srv.url(path))
            .bearer_auth(&srv.department_token)
            .form(&[("full", "1"), ("version", "dept-v2")])
            .send()
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
    let r = srv
        .client()
        .post(srv.url("/grades/run"))
        .form(&[("full", "1")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = srv
        .client()
        .post(srv.url("/grades/rules"))
        .form(&[("version", "public-v2")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(runs(&srv), before, "a refused request started a run");
    assert_eq!(current_version(&srv), "seed004-v1");

    let co = Session::login(&srv, "credit_office");
    // Even the credit office needs the form's CSRF token.
    let r =
        co.c.post(srv.url("/grades/run"))
            .form(&[("full", "1"), ("as_of", "")])
            .send()
            .unwrap();
    assert_eq!(r.status(), 400);
    let r =
        co.c.post(srv.url("/grades/rules"))
            .form(&[
                ("version", "nocsrf-v2"),
                ("window_months", "12"),
                ("general_b_max", "5"),
                ("cutoff_general", "150"),
                ("cutoff_higher", "350"),
                ("cutoff_high", "600"),
            ])
            .send()
            .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(runs(&srv), before);
    assert_eq!(current_version(&srv), "seed004-v1");
    let run = run_from_page(&co, true, "");
    assert_eq!(run.evaluated, 58);
    let r = save_rules(&co, "office-v2", "5", ["150", "350", "600"]);
    assert_eq!(r.status(), 303, "{}", r.text().unwrap_or_default());
    assert_eq!(current_version(&srv), "office-v2");
}

// ---------------------------------------------------------------------------------------------
// Explanations on the pages

#[test]
fn the_grade_is_explained_on_the_subject_page_and_on_the_entitys_own_page() {
    let srv = TestServer::start();
    let all = demo_subjects();
    let clean = fresh(&srv);
    let s = &clean[0];
    let me = all.iter().find(|x| x.code == srv.agency_code).unwrap();
    let (d1, d2) = (ago(40), ago(100));
    push(
        &srv,
        vec![
            penalty(s, "利税罚〔2026〕释1号", d1, "罚款"),
            penalty(s, "利税罚〔2026〕释2号", d2, "罚款"),
            penalty(me, "利税罚〔2026〕释3号", d1, "罚款"),
        ],
    );
    // The later record decides when it returns to A.
    let back = one_year_after(d1);
    let reg = Session::login(&srv, "regulator");
    let v = srv.app.grade_of(&system(), &s.code, None).unwrap();
    assert_eq!(v.returns_to_a_on, Some(back));
    let api = grade(&reg, &s.code, None);
    let until: Vec<&str> = api["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["counts_until"].as_str().unwrap())
        .collect();
    assert_eq!(
        until,
        [back.to_string(), one_year_after(d2).to_string()],
        "{api}"
    );

    for role in STAFF {
        let st = Session::login(&srv, role);
        let page = st.page(&format!("/subjects/{}", s.code));
        assert!(page.contains("data-grade=\"B\""), "{role}");
        assert!(page.contains("一般失信"), "{role}");
        let reasons = section(&page, "grade-reasons");
        for doc in ["利税罚〔2026〕释1号", "利税罚〔2026〕释2号"] {
            assert!(reasons.contains(doc), "{role}: {reasons}");
        }
        assert!(reasons.contains(&d1.to_string()) && reasons.contains(&d2.to_string()));
        let outlook = section(&page, "grade-outlook");
        assert!(
            outlook.contains(&format!("{back} 起为 A 类（守信）")),
            "{role}: {outlook}"
        );
        assert!(page.contains("id=\"risk\""), "{role}");
    }
    // An A subject: no reasons, no outlook.
    let page = reg.page(&format!("/subjects/{}", clean[1].code));
    assert!(page.contains("data-grade=\"A\""));
    assert!(!page.contains("id=\"grade-reasons\"") && !page.contains("id=\"grade-outlook\""));

    // The entity's own page: its grade, the record, the day it returns to A.
    let back_me = one_year_after(d1);
    for entity in [Session::agency(&srv), Session::login(&srv, "entity")] {
        let my = entity.page("/my");
        assert!(my.contains("data-grade=\"B\""), "{my}");
        assert!(section(&my, "grade-reasons").contains("利税罚〔2026〕释3号"));
        assert!(section(&my, "grade-outlook").contains(&format!("{back_me} 起为 A 类（守信）")));
        assert!(!my.contains("id=\"risk\""));
        // Not the staff page of another subject.
        assert_eq!(entity.get(&format!("/subjects/{}", s.code)).0, 403);
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics, runs and export

#[test]
fn the_statistics_page_the_chart_and_the_export_match_the_stored_grades() {
    let srv = TestServer::start();
    let clean = fresh(&srv);
    let co = Session::login(&srv, "credit_office");
    // The demo's own first run is there already.
    let page = co.page("/grades");
    assert_eq!(page_totals(&page), stored_counts(&srv));

    push(
        &srv,
        vec![
            penalty(&clean[0], "利税罚〔2026〕统1号", ago(5), "罚款"),
            with_severity(
                penalty(&clean[1], "利税罚〔2026〕统2号", ago(6), "罚款"),
                "严重",
            ),
        ],
    );
    let run = run_from_page(&co, true, "");
    let stored = stored_counts(&srv);
    assert_eq!(
        stored,
        [run.count_a, run.count_b, run.count_c, run.count_d],
        "{run:?}"
    );
    assert_eq!(stored.iter().sum::<i64>(), run.evaluated);
    assert_eq!(run.evaluated, 58);
    assert!(
        stored[1] >= 1 && stored[2] >= 2 && stored[3] >= 1,
        "{stored:?}"
    );
    assert_eq!(stored_grade(&srv, &clean[0].code).unwrap().0, "B");
    assert_eq!(stored_grade(&srv, &clean[1].code).unwrap().0, "C");

    for by in ["industry", "division"] {
        for role in STAFF {
            let s = Session::login(&srv, role);
            let page = s.page(&format!("/grades?by={by}"));
            assert_eq!(page_totals(&page), stored, "{role} by {by}");
            // The distribution table: its group rows add up to the stored grades.
            let table = section(&page, "distribution");
            let mut sums = [0i64; 4];
            for row in table.split("<tr>").skip(2) {
                let cells: Vec<&str> = row
                    .split("<td")
                    .skip(1)
                    .map(|c| &c[c.find('>').unwrap() + 1..c.find("</td>").unwrap()])
                    .collect();
                let total = number(cells[1]);
                let grades: Vec<i64> = cells[2..6].iter().map(|c| number(c)).collect();
                assert_eq!(grades.iter().sum::<i64>(), total, "{row}");
                for i in 0..4 {
                    sums[i] += grades[i];
                }
            }
            assert_eq!(sums, stored, "{role} by {by}");
            let groups = table.split("<tr>").skip(2).count();
            assert!(groups >= 1, "{table}");
            // The chart: an overall bar and one per group (15 at most), four rectangles each.
            let chart =
                &page[page.find("<svg").unwrap()..page.find("id=\"distribution\"").unwrap()];
            let rects = chart.matches("<rect").count();
            assert_eq!(rects, 4 * (1 + groups.min(15)), "{role} by {by}");
            for g in ["A", "B", "C", "D"] {
                assert!(chart.contains(&format!("<rect class=\"g-{g}\"")), "{g}");
            }
            // The run is listed with its counts.
            let runs_table = section(&page, "runs");
            assert!(
                runs_table.contains(&format!(
                    "{}/{}/{}/{}",
                    stored[0], stored[1], stored[2], stored[3]
                )) && runs_table.contains("全量")
                    && runs_table.contains("已完成"),
                "{runs_table}"
            );
            // The run and rules forms only for the credit office.
            assert_eq!(
                page.contains("id=\"run-form\""),
                role == "credit_office",
                "{role}"
            );
            assert_eq!(
                page.contains("id=\"rules-form\""),
                role == "credit_office",
                "{role}"
            );

            // The export: an XLSX workbook with the same numbers.
            let (header, rows) =
                common::get_xlsx(&s.c, &srv.url(&format!("/grades/export.xlsx?by={by}")));
            assert_eq!(
                header[1..6],
                ["主体数", "A 守信", "B 一般失信", "C 严重失信", "D 黑名单"]
            );
            let mut sums = [0i64; 4];
            for row in &rows {
                for i in 0..4 {
                    sums[i] += number(&row[2 + i]);
                }
            }
            assert_eq!(sums, stored, "{role}: export by {by}");
        }
    }
}

#[test]
fn a_run_from_the_page_without_full_regrades_only_what_changed() {
    let srv = TestServer::start();
    let clean = fresh(&srv);
    let co = Session::login(&srv, "credit_office");
    let first = run_from_page(&co, true, "");
    assert_eq!(first.evaluated, 58);
    // As if the run had happened a while after the data was loaded: an incremental run also
    // re-reads changes stamped shortly before the last run started (its look-back), so the
    // look-back is moved up to now. (Not by aging the data's stamps: that would move a 吊销's
    // China day back across midnight between 00:00 and 01:00 China time.)
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let moved = srv
        .app
        .db
        .conn()
        .unwrap()
        .execute(
            "UPDATE evaluation_runs SET changes_from = ? WHERE id = (SELECT max(id) FROM evaluation_runs)",
            &xinjian_store::params![now.as_str()],
        )
        .unwrap();
    assert_eq!(moved, 1, "the run is recorded");
    let before = stored_counts(&srv);
    assert_eq!(
        stored_grade(&srv, &clean[0].code),
        None,
        "clean: not stored"
    );

    push(
        &srv,
        vec![penalty(&clean[0], "利税罚〔2026〕增1号", ago(2), "罚款")],
    );
    let run = run_from_page(&co, false, "");
    assert!(
        run.evaluated >= 1 && run.evaluated < first.evaluated,
        "{run:?}"
    );
    assert_eq!(stored_grade(&srv, &clean[0].code).unwrap().0, "B");
    let after = stored_counts(&srv);
    assert_eq!(after[0], before[0] - 1);
    assert_eq!(after[1], before[1] + 1);
    let page = co.page("/grades");
    assert_eq!(page_totals(&page), after);
    assert!(section(&page, "runs").contains("增量"));

    // A run as of an earlier day, and a bad day refused.
    let run = run_from_page(&co, true, &ago(3).to_string());
    assert_eq!(run.as_of, ago(3));
    assert_eq!(stored_grade(&srv, &clean[0].code), None, "clean again");
    let r = co.post("/grades/run", &[("as_of", "2026-02-30"), ("full", "1")]);
    assert_eq!(r.status(), 400);
}

// ---------------------------------------------------------------------------------------------
// Rules as versions

#[test]
fn saving_rules_makes_a_new_current_version() {
    let srv = TestServer::start();
    let clean = fresh(&srv);
    let s = &clean[0];
    push(
        &srv,
        vec![penalty(s, "利税罚〔2026〕则1号", ago(8), "罚款")],
    );
    let co = Session::login(&srv, "credit_office");
    let reg = Session::login(&srv, "regulator");
    assert_eq!(grade(&reg, &s.code, None)["grade"], "B");
    let page = co.page("/grades");
    assert!(page.contains("当前规则版本 <b>seed004-v1</b>"));

    // Any general record makes C under the new version; the risk cut-offs move too.
    let r = save_rules(&co, "test-v2", "0", ["100", "300", "500"]);
    assert_eq!(r.status(), 303, "{}", r.text().unwrap_or_default());
    assert_eq!(r.headers()["location"], "/grades?saved=1");
    let page = co.page("/grades?saved=1");
    assert!(page.contains("当前规则版本 <b>test-v2</b>"), "{page}");
    assert!(page.contains("已保存新的规则版本"));
    let form = section(&page, "rules-form");
    assert!(
        form.contains("name=\"general_b_max\" value=\"0\""),
        "{form}"
    );
    assert!(
        form.contains("name=\"cutoff_high\" value=\"500\""),
        "{form}"
    );
    let v = grade(&reg, &s.code, None);
    assert_eq!(v["rule_version"], "test-v2");
    assert_eq!(v["grade"], "C", "{v}");
    assert_eq!(grade(&reg, &clean[1].code, None)["rule_version"], "test-v2");
    // The staff page names the new scorecard.
    let staff_page = reg.page(&format!("/subjects/{}", s.code));
    assert!(section(&staff_page, "risk").contains("test-v2-risk"));
    // A run records the version it used.
    let run = run_from_page(&co, true, "");
    assert_eq!(run.rule_version, "test-v2");
    let (g, version, _) = stored_grade(&srv, &s.code).unwrap();
    assert_eq!((g.as_str(), version.as_str()), ("C", "test-v2"));
    let page = co.page("/grades");
    assert!(section(&page, "runs").contains("test-v2"));
    // A version name is shown as text.
    let r = save_rules(&co, "v<b>3</b>", "5", ["150", "350", "600"]);
    assert_eq!(r.status(), 303);
    let page = co.page("/grades");
    assert!(page.contains("当前规则版本 <b>v&lt;b&gt;3&lt;"));
    assert!(!page.contains("v<b>3</b>"));
}

#[test]
fn rules_that_reuse_a_version_or_have_bad_cut_offs_are_refused() {
    let srv = TestServer::start();
    let co = Session::login(&srv, "credit_office");
    let r = save_rules(&co, "test-v2", "5", ["150", "350", "600"]);
    assert_eq!(r.status(), 303);
    assert_eq!(current_version(&srv), "test-v2");

    // A version name that exists: 409 with a Chinese message, the current version unchanged.
    for name in ["test-v2", "seed004-v1", " seed004-v1 "] {
        let r = save_rules(&co, name, "3", ["150", "350", "600"]);
        assert_eq!(r.status(), 409, "{name}");
        let body = r.text().unwrap();
        assert!(
            body.contains(&format!("规则版本“{}”已存在", name.trim()))
                && body.contains("请使用新的版本名称"),
            "{name}: {body}"
        );
        assert_eq!(current_version(&srv), "test-v2", "{name}");
        assert_eq!(srv.app.grade_rules().unwrap().0.general_b_max, 5);
    }

    // Cut-offs that do not increase: 400.
    for cutoffs in [
        ["300", "300", "600"],
        ["150", "600", "350"],
        ["600", "350", "150"],
    ] {
        let r = save_rules(&co, "test-v3", "5", cutoffs);
        assert_eq!(r.status(), 400, "{cutoffs:?}");
        assert!(
            r.text().unwrap().contains("分级线应依次递增"),
            "{cutoffs:?}"
        );
        assert_eq!(current_version(&srv), "test-v2");
    }
    // Nor above 1000 points, nor an empty name.
    let r = save_rules(&co, "test-v3", "5", ["150", "350", "1200"]);
    assert_eq!(r.status(), 400);
    let r = save_rules(&co, "  ", "5", ["150", "350", "600"]);
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("请填写规则版本名称"));
    assert_eq!(current_version(&srv), "test-v2");
    // The refused name is still free.
    let r = save_rules(&co, "test-v3", "5", ["100", "200", "300"]);
    assert_eq!(r.status(), 303);
    assert_eq!(current_version(&srv), "test-v3");
    assert_eq!(srv.app.grade_rules().unwrap().1.cutoffs, [100, 200, 300]);
}

// ---------------------------------------------------------------------------------------------
// Bugs

#[test]
fn an_incremental_run_after_a_rules_change_regrades_under_the_new_rules() {
    let srv = TestServer::start();
    let clean = fresh(&srv);
    let s = &clean[0];
    push(
        &srv,
        vec![penalty(s, "利税罚〔2026〕版1号", ago(8), "罚款")],
    );
    let co = Session::login(&srv, "credit_office");
    run_from_page(&co, true, "");
    assert_eq!(
        stored_grade(&srv, &s.code).unwrap(),
        ("B".into(), "seed004-v1".into(), "low".into())
    );
    let r = save_rules(&co, "test-v2", "0", ["150", "350", "600"]);
    assert_eq!(r.status(), 303);
    // The page's form without “full” (its default).
    let run = run_from_page(&co, false, "");
    assert_eq!(run.rule_version, "test-v2");
    // Under test-v2 one general record is C, and the API says so.
    let reg = Session::login(&srv, "regulator");
    assert_eq!(grade(&reg, &s.code, None)["grade"], "C");
    let (g, version, _) = stored_grade(&srv, &s.code).unwrap();
    assert_eq!(
        (g.as_str(), version.as_str()),
        ("C", "test-v2"),
        "the stored grade after a run under test-v2 ({run:?})"
    );
    let mut conn = srv.app.db.conn().unwrap();
    let old: i64 = conn
        .query_row(
            "SELECT count(*) FROM grades WHERE rule_version <> 'test-v2'",
            &[],
        )
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(
        old, 0,
        "grades left on the old rules after a run under test-v2"
    );
}

#[test]
fn a_deregistered_subject_leaves_the_statistics() {
    let srv = TestServer::start();
    let co = Session::login(&srv, "credit_office");
    let first = run_from_page(&co, true, "");
    assert_eq!(first.evaluated, 58);
    // The regulator records the deregistration of a subject in business.
    let code = fresh(&srv)[0].code.clone();
    let reg = Session::login(&srv, "regulator");
    let current = reg.json(&format!("/api/v1/subjects/{code}"));
    let row = {
        let mut conn = srv.app.db.conn().unwrap();
        xinjian_store::subjects::by_code(&mut conn, &code)
            .unwrap()
            .unwrap()
    };
    let mut data = row.data.clone();
    data.reg_status = xinjian_core::subject::RegStatus::Deregistered;
    srv.app
        .update_subject(
            &system(),
            data,
            current["version"].as_i64().unwrap(),
            "注销登记",
        )
        .unwrap();
    let run = run_from_page(&co, true, "");
    assert_eq!(run.evaluated, 57, "{run:?}");
    let totals = page_totals(&co.page("/grades"));
    assert_eq!(
        totals.iter().sum::<i64>(),
        run.evaluated,
        "the statistics after the full run count {totals:?}"
    );
    assert!(
        stored_grade(&srv, &code).is_none(),
        "a stale grade is kept for {code}"
    );
}

/// A subject that came into the registry already 吊销 counts as revoked from the day the
/// platform recorded it (registry exports do not say when a licence was revoked): D from then,
/// A as of earlier days, and the reason carries that day.
#[test]
fn a_subject_that_came_in_revoked_is_d_from_the_day_it_was_recorded() {
    let srv = TestServer::start();
    let revoked = demo_subjects()
        .into_iter()
        .find(|s| s.reg_status.starts_with("吊销"))
        .unwrap();
    let reg = Session::login(&srv, "regulator");
    let v = grade(&reg, &revoked.code, None);
    assert_eq!(v["grade"], "D", "{v}");
    assert_eq!(v["reasons"][0]["kind"], "reg_status");
    // Its only version says 吊销 from the import on: nothing says since when.
    let h = reg.json(&format!("/api/v1/subjects/{}/history", revoked.code));
    assert_eq!(h.as_array().unwrap().len(), 1, "{h}");
    assert_eq!(v["reasons"][0]["decision_date"], today().to_string(), "{v}");
    for day in [ago(1), ago(200)] {
        let v = grade(&reg, &revoked.code, Some(&day.to_string()));
        assert_ne!(v["grade"], "D", "as of {day}, before it was recorded: {v}");
    }
}
