//! Credit information over the real server (issue 3): the public side's silence about anything
//! internal, the department push API, the staff pages, a department's penalty file from upload
//! to the portal, lists, the export for the sharing platform and the audit trail.

mod common;

use chrono::{Duration, NaiveDate};
use common::TestServer;
use reqwest::blocking::{multipart, Client, Response};
use serde_json::{json, Value};
use xinjian_app::demo::{DemoRng, DemoSubject};
use xinjian_web::routes::{Access, ROUTES};

const TAX: &str = "国家税务总局广元市利州区税务局";
const FINANCE: &str = "广元市利州区财政局";
const LIST_TYPES: [&str; 4] = ["red", "serious_dishonest", "key_attention", "abnormal"];

// ---------------------------------------------------------------------------------------------
// Helpers

fn today() -> NaiveDate {
    xinjian_app::today()
}

fn ago(days: i64) -> NaiveDate {
    today() - Duration::days(days)
}

/// The test server's jurisdiction (the first 60 demo subjects of seed 7) and the subjects
/// that would follow them (not in the registry).
fn demo_subjects() -> Vec<DemoSubject> {
    let mut rng = DemoRng::new(7);
    (0..80)
        .map(|i| xinjian_app::demo::subject(&mut rng, i))
        .collect()
}

/// Subjects in the registry that are in business (penalties for them are accepted).
fn living(all: &[DemoSubject]) -> Vec<DemoSubject> {
    all[..60]
        .iter()
        .filter(|s| s.reg_status.starts_with("存续"))
        .cloned()
        .collect()
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

fn license(s: &DemoSubject, doc: &str, decided: NaiveDate) -> Value {
    json!({
        "kind": "license", "code": s.code, "name": s.name, "document_number": doc,
        "decision_date": decided.to_string(), "categories": "普通",
        "certificate_name": "食品经营许可证", "license_number": "JY15108000042",
        "content": "预包装食品销售（含冷藏冷冻食品）", "valid_from": decided.to_string(),
        "valid_to": (decided + Duration::days(5 * 365)).to_string(),
        "authority": "广元市利州区市场监督管理局",
    })
}

/// `POST /api/v1/records` with a bearer token.
fn push(srv: &TestServer, token: &str, records: Vec<Value>, hold: bool) -> (u16, Value) {
    let r = srv
        .client()
        .post(srv.url("/api/v1/records"))
        .bearer_auth(token)
        .json(&json!({ "records": records, "hold": hold }))
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}")),
    )
}

/// A logged-in browser session.
struct Session<'a> {
    srv: &'a TestServer,
    c: Client,
    csrf: String,
}

impl<'a> Session<'a> {
    fn login(srv: &'a TestServer, role: &str) -> Session<'a> {
        let (c, csrf) = srv.login(&format!("t_{role}"));
        Session { srv, c, csrf }
    }

    fn get(&self, path: &str) -> (u16, String) {
        let r = self.c.get(self.srv.url(path)).send().unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }

    fn json(&self, path: &str) -> Value {
        let r = self.c.get(self.srv.url(path)).send().unwrap();
        let status = r.status().as_u16();
        let text = r.text().unwrap();
        assert_eq!(status, 200, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// A form post with the session's CSRF token.
    fn post(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let mut form: Vec<(&str, &str)> = vec![("_csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        self.c.post(self.srv.url(path)).form(&form).send().unwrap()
    }

    /// `POST /api/v1/records` as this session (CSRF in the header).
    fn push(&self, records: Vec<Value>, hold: bool) -> (u16, Value) {
        let r = self
            .c
            .post(self.srv.url("/api/v1/records"))
            .header("x-csrf-token", &self.csrf)
            .json(&json!({ "records": records, "hold": hold }))
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().unwrap())
    }

    /// A record as staff see it (with id, version, status), found by subject and document.
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

    /// Hold, release, correct or revoke through the record page's form.
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

    /// A list entry as staff see it (with id and version).
    fn entry(&self, code: &str, decision: &str) -> Value {
        let v = self.json(&format!("/api/v1/subjects/{code}/credit"));
        v["lists"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["decision_number"] == decision)
            .cloned()
            .unwrap_or_else(|| panic!("no list entry {decision} for {code}: {v}"))
    }
}

fn location(r: &Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

fn public_json(srv: &TestServer, path: &str) -> Value {
    let r = srv.client().get(srv.url(path)).send().unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    r.json().unwrap()
}

fn public_text(srv: &TestServer, path: &str) -> String {
    let r = srv.client().get(srv.url(path)).send().unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    r.text().unwrap()
}

fn public_search(srv: &TestServer, q: &str) -> Vec<Value> {
    let url =
        reqwest::Url::parse_with_params(&srv.url("/api/v1/public/search"), &[("q", q)]).unwrap();
    let r = srv.client().get(url).send().unwrap();
    assert_eq!(r.status(), 200, "search {q}");
    let v: Value = r.json().unwrap();
    v.as_array().unwrap().clone()
}

fn docs_of(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["document_number"].as_str().unwrap().to_owned())
        .collect()
}

/// The document numbers of a subject's public records (`GET /api/v1/public/subjects/{code}`).
fn public_docs(srv: &TestServer, code: &str) -> Vec<String> {
    docs_of(&public_json(srv, &format!("/api/v1/public/subjects/{code}"))["records"])
}

/// Poll a background import until it is no longer running (bounded; each poll is a round
/// trip to the server).
fn wait_for_job(srv: &TestServer, c: &Client, id: i64) -> Value {
    for _ in 0..50_000 {
        let job: Value = c
            .get(srv.url(&format!("/api/v1/imports/{id}")))
            .send()
            .unwrap()
            .json()
            .unwrap();
        if job["status"] != "running" {
            return job;
        }
        std::thread::yield_now();
    }
    panic!("import {id} still running after 50,000 polls");
}

/// Upload a file through the import page; returns the job id.
fn upload(s: &Session, kind: &str, file_name: &str, bytes: Vec<u8>, hold: bool) -> i64 {
    let mut form = multipart::Form::new()
        .text("_csrf", s.csrf.clone())
        .text("kind", kind.to_owned());
    if hold {
        form = form.text("hold", "1");
    }
    let form = form.part(
        "file",
        multipart::Part::bytes(bytes).file_name(file_name.to_owned()),
    );
    let r =
        s.c.post(s.srv.url(&format!("/imports?_csrf={}", s.csrf)))
            .multipart(form)
            .send()
            .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().unwrap_or_default());
    location(&r).rsplit('/').next().unwrap().parse().unwrap()
}

/// The two-character window of `name` found in the fewest of `names`.
fn rarest_pair(name: &str, names: &[String]) -> String {
    let chars: Vec<char> = name.chars().collect();
    chars
        .windows(2)
        .map(|w| w.iter().collect::<String>())
        .filter(|p| p.chars().all(|c| !c.is_ascii()))
        .min_by_key(|p| names.iter().filter(|n| n.contains(p.as_str())).count())
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The public side

/// Keys of internal bookkeeping that no public JSON may carry (at any depth).
const INTERNAL_KEYS: [&str; 11] = [
    "held",
    "status",
    "version",
    "recorded_on",
    "publish_deadline",
    "id",
    "subject_id",
    "content_hash",
    "is_public_now",
    "legal_rep_id",
    "legal_rep_id_masked",
];

fn internal_keys(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let here = format!("{at}.{k}");
                if INTERNAL_KEYS.contains(&k.as_str()) {
                    out.push(here.clone());
                }
                internal_keys(x, &here, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                internal_keys(x, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// A resident ID number of the demo's division (510802…), full or masked, standing on its own
/// (not inside a credit code such as 92510802…).
fn id_like(body: &str) -> Option<String> {
    let b = body.as_bytes();
    for (i, _) in body.match_indices("510802") {
        if i > 0 && b[i - 1].is_ascii_alphanumeric() {
            continue;
        }
        let rest = &b[i + 6..];
        if rest.len() >= 12
            && rest[..12]
                .iter()
                .all(|c| c.is_ascii_digit() || matches!(c, b'X' | b'x' | b'*'))
        {
            return Some(String::from_utf8_lossy(&b[i..i + 18]).into_owned());
        }
    }
    None
}

/// What must never reach the public.
struct Secrets {
    /// Document numbers of records that are not public.
    docs: Vec<String>,
    /// The legal representatives' ID numbers.
    ids: Vec<String>,
}

fn assert_nothing_internal(label: &str, body: &str, secrets: &Secrets) {
    for d in &secrets.docs {
        assert!(!body.contains(d.as_str()), "{label} shows the record {d}");
    }
    for id in &secrets.ids {
        assert!(!body.contains(id.as_str()), "{label} shows an ID number");
        let masked = xinjian_core::person_id::mask_str(id);
        assert!(
            !body.contains(&masked),
            "{label} shows a masked ID number {masked}"
        );
    }
    assert!(!body.contains("********"), "{label} shows a masked value");
    // Staff words for internal states.
    for word in ["暂缓公示", "已撤销", "已更正", "录入日期", "应公示截止"] {
        assert!(!body.contains(word), "{label} shows the internal “{word}”");
    }
    if let Some(t) = id_like(body) {
        panic!("{label} shows an ID-like number {t}");
    }
    for staff in [
        "href=\"/records",
        "href=\"/subjects",
        "href=\"/publicity",
        "href=\"/lists",
        "href=\"/imports",
        "href=\"/export",
    ] {
        assert!(
            !body.contains(staff),
            "{label} links to staff pages ({staff})"
        );
    }
}

/// Every public GET route of the route table, made concrete for these codes and queries.
fn public_urls(srv: &TestServer, codes: &[String], queries: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for r in ROUTES
        .iter()
        .filter(|r| r.method == "GET" && r.access == Access::Public)
    {
        match r.path {
            "/static/{file}" | "/login" | "/healthz" | "/api/v1/openapi.json" => {}
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

/// Walk every public page and `/api/v1/public/` endpoint anonymously; returns the bodies.
fn sweep_public(srv: &TestServer, urls: &[String], secrets: &Secrets) -> Vec<(String, String)> {
    let c = srv.client();
    let mut bodies = Vec::new();
    for url in urls {
        let r = c.get(url).send().unwrap();
        assert_eq!(r.status(), 200, "{url}");
        let body = r.text().unwrap();
        assert_nothing_internal(url, &body, secrets);
        if url.contains("/api/v1/public/") {
            let v: Value = serde_json::from_str(&body).unwrap();
            let mut keys = Vec::new();
            internal_keys(&v, "$", &mut keys);
            assert!(keys.is_empty(), "{url} has internal fields {keys:?}");
            if url.contains("/api/v1/public/search") {
                for hit in v.as_array().unwrap() {
                    let mut k: Vec<&str> = hit
                        .as_object()
                        .unwrap()
                        .keys()
                        .map(|k| k.as_str())
                        .collect();
                    k.sort();
                    assert_eq!(k, ["code", "name"], "{url}");
                }
            }
        }
        bodies.push((url.clone(), body));
    }
    bodies
}

/// A record of a kind the catalog does not publish (欠缴水电气费), written as if it had been
/// published: no route accepts that kind, so it goes straight into the store.
fn insert_utility_arrears(srv: &TestServer, s: &DemoSubject, doc: &str) {
    use xinjian_core::credit::{Nature, RecordData, RecordStatus, Severity};
    let mut conn = srv.app.db.conn().unwrap();
    let subject = xinjian_store::subjects::by_code(&mut conn, &s.code)
        .unwrap()
        .unwrap();
    let d = RecordData {
        kind: "utility_arrears".into(),
        subject_code: s.code.clone(),
        subject_name: s.name.clone(),
        document_number: doc.into(),
        decision_date: ago(10),
        nature: Nature::Negative,
        severity: Some(Severity::General),
        categories: vec![],
        revokes_business_licence: false,
        authority: Some("广元市利州区供水有限公司".into()),
        content: Some("欠缴水费 3 个月".into()),
        facts: None,
        basis: None,
        fine_amount: None,
        certificate_name: None,
        license_number: None,
        valid_from: None,
        valid_to: None,
        source_department: None,
        person_id: None,
    };
    let (_, hash) = d.canonical_json_and_hash();
    let st = xinjian_store::credit::RecordState {
        status: RecordStatus::Active,
        publish_deadline: None,
        published_on: Some(today()),
        held: false,
        publicity_until: None,
    };
    let now = xinjian_app::now();
    let p = xinjian_store::subjects::Provenance {
        source: "test",
        actor: "test",
        reason: None,
        now: &now,
    };
    xinjian_store::credit::insert_record(&mut conn, subject.id, &d, &hash, &st, today(), &p)
        .unwrap();
}

#[test]
fn the_public_side_shows_nothing_internal() {
    let srv = TestServer::start();
    let all = demo_subjects();
    let live = living(&all);
    let (a, b, c) = (&live[0], &live[1], &live[2]);
    let reg = Session::login(&srv, "regulator");
    let token = srv.department_token.clone();

    // Published the day they are recorded.
    let mut expired = penalty(c, "利税罚〔2026〕期5号", ago(130), "警告");
    expired["severity"] = json!("轻微");
    let (st, v) = push(
        &srv,
        &token,
        vec![
            penalty(a, "利税罚〔2026〕公1号", ago(1), "罚款"),
            license(a, "利市监许〔2026〕公2号", ago(3)),
            penalty(b, "利税罚〔2026〕撤3号", ago(2), "罚款"),
            penalty(b, "利税罚〔2026〕更4号", ago(2), "警告；罚款"),
            expired,
        ],
        false,
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["imported"], 5, "{v}");
    // Held for review.
    let (st, v) = push(
        &srv,
        &token,
        vec![
            penalty(a, "利税罚〔2026〕缓6号", ago(1), "罚款"),
            license(b, "利市监许〔2026〕缓7号", ago(2)),
            penalty(c, "利税罚〔2026〕缓8号", ago(2), "罚款"),
            penalty(c, "利税罚〔2026〕缓9号", ago(2), "罚款"),
        ],
        true,
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["imported"], 4, "{v}");
    // Staff revoke, correct, release one held record and revoke another.
    for (code, doc, action) in [
        (&b.code, "利税罚〔2026〕撤3号", "revoke"),
        (&b.code, "利税罚〔2026〕更4号", "correct"),
        (&c.code, "利税罚〔2026〕缓8号", "release"),
        (&c.code, "利税罚〔2026〕缓9号", "revoke"),
    ] {
        let r = reg.change(&reg.record(code, doc), action, "测试：处理记录");
        assert_eq!(r.status(), 303, "{action} {doc}: {}", r.text().unwrap());
    }
    // A published record cannot be held any more.
    let r = reg.change(&reg.record(&a.code, "利税罚〔2026〕公1号"), "hold", "复核");
    assert_eq!(r.status(), 422);
    assert!(r.text().unwrap().contains("已公示"));
    insert_utility_arrears(&srv, a, "利水费〔2026〕欠10号");

    let mut ids: Vec<String> = all[..60]
        .iter()
        .map(|s| s.legal_rep_id.clone())
        .filter(|id| !id.is_empty())
        .collect();
    ids.sort();
    ids.dedup();
    assert!(ids.iter().all(|id| id.starts_with("510802")), "{ids:?}");
    let secrets = Secrets {
        docs: [
            "利税罚〔2026〕期5号",
            "利税罚〔2026〕缓6号",
            "利市监许〔2026〕缓7号",
            "利税罚〔2026〕撤3号",
            "利税罚〔2026〕更4号",
            "利税罚〔2026〕缓9号",
            "利水费〔2026〕欠10号",
        ]
        .map(String::from)
        .to_vec(),
        ids,
    };
    let names: Vec<String> = all[..60].iter().map(|s| s.name.clone()).collect();
    let codes: Vec<String> = live[..8].iter().map(|s| s.code.clone()).collect();
    let mut queries: Vec<String> = codes.clone();
    queries.extend([
        rarest_pair(&a.name, &names),
        a.name.chars().take(2).collect(),
        "利".to_owned(),
        all[0].legal_rep.clone(),
    ]);
    let urls = public_urls(&srv, &codes, &queries);
    assert!(
        urls.iter().any(|u| u.contains("/api/v1/public/catalog"))
            && urls.iter().any(|u| u.contains("/public/lists/abnormal"))
            && urls.iter().any(|u| u.contains("/api/v1/public/subjects/")),
        "{urls:?}"
    );

    // The staff side still has everything.
    assert!(!reg.record(&c.code, "利税罚〔2026〕期5号")["is_public_now"]
        .as_bool()
        .unwrap());
    assert_eq!(
        reg.record(&b.code, "利税罚〔2026〕撤3号")["status"],
        "revoked"
    );
    assert_eq!(
        reg.record(&b.code, "利税罚〔2026〕更4号")["status"],
        "corrected"
    );

    for pass in ["before upkeep", "after upkeep"] {
        let bodies = sweep_public(&srv, &urls, &secrets);
        let body_of = |path: &str| {
            bodies
                .iter()
                .find(|(u, _)| u.ends_with(path))
                .map(|(_, b)| b.as_str())
                .unwrap_or_else(|| panic!("{path} not swept"))
        };
        // What is public is there, with the contract's fields.
        let pa: Value =
            serde_json::from_str(body_of(&format!("/api/v1/public/subjects/{}", a.code))).unwrap();
        assert_eq!(pa["code"], a.code.as_str());
        assert_eq!(pa["name"], a.name.as_str());
        assert!(pa["lists"].is_array(), "{pass}: {pa}");
        let docs = docs_of(&pa["records"]);
        assert!(
            docs.contains(&"利税罚〔2026〕公1号".to_owned())
                && docs.contains(&"利市监许〔2026〕公2号".to_owned()),
            "{pass}: {docs:?}"
        );
        for r in pa["records"].as_array().unwrap() {
            for k in [
                "kind",
                "document_number",
                "decision_date",
                "severity",
                "publicity_until",
            ] {
                assert!(r.get(k).is_some(), "{pass}: record without {k}: {r}");
            }
        }
        let p1 = pa["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["document_number"] == "利税罚〔2026〕公1号")
            .unwrap();
        assert_eq!(p1["kind"], "penalty");
        assert_eq!(p1["severity"], "general");
        assert_eq!(p1["decision_date"], ago(1).to_string());
        assert_eq!(
            p1["publicity_until"],
            xinjian_core::credit::add_months(ago(1), 12).to_string()
        );
        assert!(public_docs(&srv, &c.code).contains(&"利税罚〔2026〕缓8号".to_owned()));
        assert!(body_of(&format!("/s/{}", a.code)).contains("利税罚〔2026〕公1号"));
        assert!(body_of(&format!("/s/{}", c.code)).contains("利税罚〔2026〕缓8号"));
        assert!(body_of("/public/penalties").contains("利税罚〔2026〕公1号"));
        assert!(body_of("/public/licenses").contains("利市监许〔2026〕公2号"));
        // The records that are not public are still kept for staff.
        if pass == "before upkeep" {
            let (_, n) = srv.app.credit_upkeep().unwrap();
            assert!(n >= 1, "the past-publicity record is expired by the upkeep");
            assert_eq!(
                reg.record(&c.code, "利税罚〔2026〕期5号")["status"],
                "expired"
            );
        }
    }
}

#[test]
fn a_kind_taken_off_the_portal_takes_its_records_with_it() {
    let srv = TestServer::start();
    let live = living(&demo_subjects());
    let s = &live[0];
    let (st, v) = push(
        &srv,
        &srv.department_token,
        vec![license(s, "利市监许〔2026〕目1号", ago(2))],
        false,
    );
    assert_eq!(st, 200, "{v}");
    assert!(public_docs(&srv, &s.code).contains(&"利市监许〔2026〕目1号".to_owned()));
    let admin = Session::login(&srv, "admin");
    let kind = |public: bool| {
        let mut f = vec![
            ("code", "license"),
            ("name", "行政许可"),
            ("nature", "neutral"),
            ("default_severity", ""),
            ("publish_workdays", "7"),
            ("none_min", "0"),
            ("none_max", ""),
        ];
        if public {
            f.push(("is_public", "1"));
        }
        let r = admin.post("/catalog/kinds", &f);
        assert_eq!(r.status(), 200);
        assert!(r.text().unwrap().contains("已保存信息类别"));
    };
    kind(false);
    assert!(!public_docs(&srv, &s.code).contains(&"利市监许〔2026〕目1号".to_owned()));
    assert!(!public_text(&srv, &format!("/s/{}", s.code)).contains("目1号"));
    let r = srv
        .client()
        .get(srv.url("/public/licenses"))
        .send()
        .unwrap();
    assert!(
        r.status() == 404 || r.status() == 200,
        "{}",
        r.status().as_u16()
    );
    assert!(!r.text().unwrap().contains("目1号"));
    let cat = public_json(&srv, "/api/v1/public/catalog");
    let lic = cat
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["code"] == "license")
        .unwrap();
    assert_eq!(lic["is_public"], false);
    // Back on the portal: the record is public again (it was never deleted).
    kind(true);
    assert!(public_docs(&srv, &s.code).contains(&"利市监许〔2026〕目1号".to_owned()));
}

#[test]
fn public_search_finds_by_short_chinese_queries_and_codes() {
    let srv = TestServer::start();
    let all = demo_subjects();
    let names: Vec<String> = all[..60].iter().map(|s| s.name.clone()).collect();
    let s = all[..60]
        .iter()
        .find(|s| s.name.starts_with("广元市"))
        .unwrap();
    let pair = rarest_pair(&s.name, &names);
    let hits = public_search(&srv, &pair);
    assert!(
        hits.iter().any(|h| h["code"] == s.code.as_str()),
        "{pair}: {hits:?}"
    );
    assert!(hits
        .iter()
        .all(|h| h["name"].as_str().unwrap().contains(&pair)));
    // One character.
    let one: String = pair.chars().next().unwrap().to_string();
    let hits = srv
        .client()
        .get(srv.url("/api/v1/public/search"))
        .query(&[("q", one.as_str()), ("limit", "100")])
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    let hits = hits.as_array().unwrap();
    assert!(hits.iter().any(|h| h["code"] == s.code.as_str()), "{one}");
    assert!(hits
        .iter()
        .all(|h| h["name"].as_str().unwrap().contains(&one)));
    // The full code: exactly that subject, with exactly code and name.
    let hits = public_search(&srv, &s.code);
    assert_eq!(hits, vec![json!({ "code": s.code, "name": s.name })]);
    // The lower-case code too.
    let hits = public_search(&srv, &s.code.to_lowercase());
    assert_eq!(hits.len(), 1, "{hits:?}");
    // The portal page shows the same.
    let url =
        reqwest::Url::parse_with_params(&srv.url("/search"), &[("q", pair.as_str())]).unwrap();
    let page = srv.client().get(url).send().unwrap().text().unwrap();
    assert!(page.contains(&format!("/s/{}", s.code)), "{page}");
    // Nothing to find is an empty list, not an error.
    assert!(public_search(&srv, "查无此企业名称").is_empty());
}

// ---------------------------------------------------------------------------------------------
// The department push API

#[test]
fn a_batch_stores_the_valid_records_and_explains_the_rest() {
    let srv = TestServer::start();
    let all = demo_subjects();
    let live = living(&all);
    let (a, b) = (&live[0], &live[1]);
    let unknown = &all[60];
    let mut bad_code = a.code.clone();
    let last = bad_code.pop().unwrap();
    bad_code.push(if last == '0' { '1' } else { '0' });
    let mut bad_code_item = penalty(a, "利税罚〔2026〕批7号", ago(3), "罚款");
    bad_code_item["code"] = json!(bad_code);
    let mut amount = penalty(a, "利税罚〔2026〕批4号", ago(3), "罚款");
    amount["fine_amount"] = json!("五千元");
    let mut kind = penalty(a, "利税罚〔2026〕批5号", ago(3), "罚款");
    kind["kind"] = json!("award");
    let mut severity = penalty(b, "利税罚〔2026〕批9号", ago(3), "罚款");
    severity["severity"] = json!("严重");
    let batch = vec![
        penalty(a, "利税罚〔2026〕批1号", ago(3), "罚款"), // 0 ok
        license(b, "利市监许〔2026〕批2号", ago(5)),       // 1 ok
        penalty(
            a,
            "利税罚〔2026〕批3号",
            today() + Duration::days(3),
            "罚款",
        ), // 2 future
        amount,                                            // 3 amount
        kind,                                              // 4 kind
        penalty(a, "利税罚〔2026〕批6号", ago(3), "训诫"), // 5 unknown category
        bad_code_item,                                     // 6 check character
        penalty(b, "利税罚〔2026〕批1号", ago(3), "罚款"), // 7 document of another subject
        penalty(a, "利税罚〔2026〕批1号", ago(3), "罚款"), // 8 repeated in the batch
        severity,                                          // 9 ok, 严重 overrides
        penalty(unknown, "利税罚〔2026〕批10号", ago(3), "罚款"), // 10 ok, pending subject
        penalty(a, "利税罚〔2026〕批11号", ago(3), ""),    // 11 no category
    ];
    let (st, v) = push(&srv, &srv.department_token, batch.clone(), false);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["imported"], 4, "{v}");
    assert_eq!(v["updated"], 0, "{v}");
    assert_eq!(v["unchanged"], 0, "{v}");
    assert_eq!(v["rejected"], 8, "{v}");
    assert_eq!(v["pending_subjects"], 1, "{v}");
    let errors = v["errors"].as_array().unwrap();
    let err = |i: usize| {
        errors
            .iter()
            .find(|e| e["index"] == i)
            .unwrap_or_else(|| panic!("no error for item {i}: {v}"))
    };
    for e in errors {
        assert!(
            e["index"].is_u64() && e["field"].is_string() && e["reason"].is_string(),
            "{e}"
        );
        assert!(!e["reason"].as_str().unwrap().is_empty());
    }
    for (i, field, words) in [
        (2usize, "decision_date", "将来"),
        (3, "fine_amount", ""),
        (4, "kind", "penalty"),
        (5, "categories", "训诫"),
        (6, "code", ""),
        (7, "document_number", "另一主体"),
        (8, "document_number", "第 0 条"),
        (11, "categories", "为空"),
    ] {
        let e = err(i);
        assert_eq!(e["field"], field, "item {i}: {e}");
        assert!(
            e["reason"].as_str().unwrap().contains(words),
            "item {i}: {e}"
        );
    }
    for i in [0usize, 1, 9, 10] {
        assert!(errors.iter().all(|e| e["index"] != i), "item {i}: {v}");
    }
    // Stored, severity from the mapping or the explicit column, the unknown code pending.
    let reg = Session::login(&srv, "regulator");
    let r = reg.record(&a.code, "利税罚〔2026〕批1号");
    assert_eq!(r["severity"], "general");
    assert_eq!(r["held"], false);
    assert_eq!(r["published_on"], today().to_string());
    assert_eq!(r["fine_amount"], "0.2");
    assert_eq!(
        reg.record(&b.code, "利税罚〔2026〕批9号")["severity"],
        "serious"
    );
    assert_eq!(
        reg.record(&b.code, "利市监许〔2026〕批2号")["kind"],
        "license"
    );
    let pending = reg.json(&format!("/api/v1/subjects/{}", unknown.code));
    assert_eq!(pending["reg_status"], "pending", "{pending}");
    let detail = srv
        .app
        .record(
            &xinjian_app::Actor::System("t".into()),
            r["id"].as_i64().unwrap(),
        )
        .unwrap();
    assert_eq!(detail.1[0].source, "api");

    // The same batch again: nothing new, nothing changed.
    let (st, again) = push(&srv, &srv.department_token, batch.clone(), false);
    assert_eq!(st, 200, "{again}");
    assert_eq!(again["imported"], 0, "{again}");
    assert_eq!(again["updated"], 0, "{again}");
    assert_eq!(again["unchanged"], 4, "{again}");
    assert_eq!(again["rejected"], 8, "{again}");
    assert_eq!(again["pending_subjects"], 0, "{again}");
    // A changed fact is a new version.
    let mut changed = penalty(a, "利税罚〔2026〕批1号", ago(3), "罚款");
    changed["fine_amount"] = json!("0.5");
    let (st, v) = push(&srv, &srv.department_token, vec![changed], false);
    assert_eq!(st, 200);
    assert_eq!(v["updated"], 1, "{v}");
    let r2 = reg.record(&a.code, "利税罚〔2026〕批1号");
    assert_eq!(r2["version"], r["version"].as_i64().unwrap() + 1);
    assert_eq!(r2["fine_amount"], "0.5");
    assert!(public_docs(&srv, &a.code).contains(&"利税罚〔2026〕批1号".to_owned()));

    // Nothing valid: 422 with the reasons; malformed bodies: 400.
    let (st, v) = push(
        &srv,
        &srv.department_token,
        vec![penalty(a, "利税罚〔2026〕批12号", ago(3), "训诫")],
        false,
    );
    assert_eq!(st, 422, "{v}");
    assert_eq!(v["rejected"], 1);
    assert!(
        public_json(&srv, &format!("/api/v1/public/subjects/{}", a.code))
            .to_string()
            .contains("批1号")
    );
    // An item with an unknown field is refused alone, naming the field (the batch itself is
    // well-formed).
    let r = srv
        .client()
        .post(srv.url("/api/v1/records"))
        .bearer_auth(&srv.department_token)
        .json(&json!({ "records": [{ "kind": "penalty", "code": a.code, "unknown_field": 1 }] }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().unwrap();
    assert_eq!(v["errors"][0]["index"], 0, "{v}");
    assert_eq!(v["errors"][0]["field"], "unknown_field", "{v}");
    for body in [
        json!({ "records": [] }),
        json!({ "records": [penalty(a, "x", ago(1), "罚款")], "hold": false, "extra": 1 }),
        json!([1, 2, 3]),
    ] {
        let r = srv
            .client()
            .post(srv.url("/api/v1/records"))
            .bearer_auth(&srv.department_token)
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
}

#[test]
fn a_repeated_item_points_at_the_first_copy() {
    let srv = TestServer::start();
    let live = living(&demo_subjects());
    let item = penalty(&live[0], "利税罚〔2026〕重1号", ago(3), "罚款");
    let (st, v) = push(
        &srv,
        &srv.department_token,
        vec![item.clone(), item.clone(), item],
        false,
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["imported"], 1);
    for e in v["errors"].as_array().unwrap() {
        assert!(
            e["reason"].as_str().unwrap().contains("第 0 条"),
            "item {} should point at item 0, the one stored: {e}",
            e["index"]
        );
    }
}

#[test]
fn only_departments_and_credit_staff_may_push_records() {
    let srv = TestServer::start();
    let live = living(&demo_subjects());
    let s = &live[0];
    let item = |n: u32| {
        vec![penalty(
            s,
            &format!("利税罚〔2026〕权{n}号"),
            ago(2),
            "罚款",
        )]
    };
    // Nobody, and staff without the right to write credit records.
    let (st, v) = push(&srv, "xj_not_a_token", item(1), false);
    assert_eq!(st, 401, "{v}");
    let r = srv
        .client()
        .post(srv.url("/api/v1/records"))
        .json(&json!({ "records": item(1) }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    for role in ["entity", "inspector", "admin"] {
        let (st, v) = Session::login(&srv, role).push(item(1), false);
        assert_eq!(st, 403, "{role}: {v}");
    }
    // Regulator and credit office with a session and the CSRF token.
    let reg = Session::login(&srv, "regulator");
    let r = reg
        .c
        .post(srv.url("/api/v1/records"))
        .json(&json!({ "records": item(2) }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400, "no CSRF token");
    let (st, v) = reg.push(item(2), false);
    assert_eq!((st, &v["imported"]), (200, &json!(1)), "{v}");
    let (st, v) = Session::login(&srv, "credit_office").push(item(3), true);
    assert_eq!((st, &v["imported"]), (200, &json!(1)), "{v}");
    assert_eq!(reg.record(&s.code, "利税罚〔2026〕权3号")["held"], true);
    // A department token, also one issued on the users page.
    let (st, v) = push(&srv, &srv.department_token, item(4), false);
    assert_eq!((st, &v["imported"]), (200, &json!(1)), "{v}");
    let admin = Session::login(&srv, "admin");
    let dept = xinjian_store::users::by_username(&mut srv.app.db.conn().unwrap(), "t_department")
        .unwrap()
        .unwrap();
    let page = admin
        .post(
            &format!("/admin/users/{}/tokens", dept.id),
            &[("name", "税务局推送")],
        )
        .text()
        .unwrap();
    let i = page.find("id=\"new-token\">").expect("token shown") + "id=\"new-token\">".len();
    let token = page[i..i + page[i..].find('<').unwrap()].to_owned();
    assert!(token.starts_with("xj_"), "{token}");
    let (st, v) = push(&srv, &token, item(5), false);
    assert_eq!((st, &v["imported"]), (200, &json!(1)), "{v}");
    // Who pushed is recorded as the source.
    let sys = xinjian_app::Actor::System("t".into());
    let id = reg.record(&s.code, "利税罚〔2026〕权2号")["id"]
        .as_i64()
        .unwrap();
    assert_eq!(srv.app.record(&sys, id).unwrap().1[0].source, "manual");
    let id = reg.record(&s.code, "利税罚〔2026〕权5号")["id"]
        .as_i64()
        .unwrap();
    assert_eq!(srv.app.record(&sys, id).unwrap().1[0].source, "api");
}

// ---------------------------------------------------------------------------------------------
// Staff pages

#[test]
fn staff_credit_pages_render_in_chinese() {
    let srv = TestServer::start();
    let live = living(&demo_subjects());
    let s = &live[0];
    let (st, _) = push(
        &srv,
        &srv.department_token,
        vec![penalty(s, "利税罚〔2026〕页1号", ago(2), "罚款")],
        true,
    );
    assert_eq!(st, 200);
    for role in ["regulator", "credit_office"] {
        let who = Session::login(&srv, role);
        let rec = who.record(&s.code, "利税罚〔2026〕页1号");
        let id = rec["id"].as_i64().unwrap();
        for (path, words) in [
            ("/records".to_owned(), vec!["信用记录", "页1号"]),
            (
                format!("/records?kind=penalty&code={}", s.code),
                vec!["信用记录", "页1号"],
            ),
            ("/records?held=1".to_owned(), vec!["页1号"]),
            (
                "/records/new".to_owned(),
                vec!["录入信用记录", "决定文书号"],
            ),
            (
                format!("/records/{id}"),
                vec!["页1号", "暂缓公示", "版本", "审核通过"],
            ),
            ("/publicity".to_owned(), vec!["双公示公示情况", "逾期公示"]),
            (
                format!("/publicity?as_of={}", ago(1)),
                vec!["双公示公示情况"],
            ),
            ("/lists".to_owned(), vec!["名单管理", "列入名单"]),
            (
                "/lists?type=abnormal".to_owned(),
                vec!["名单管理：经营异常名录"],
            ),
            ("/catalog".to_owned(), vec!["公共信用信息目录", "行政处罚"]),
            ("/export".to_owned(), vec!["导出"]),
        ] {
            let (status, body) = who.get(&path);
            assert_eq!(status, 200, "{role} {path}: {body}");
            for w in words {
                assert!(body.contains(w), "{role} {path} lacks {w}");
            }
        }
        // The catalog is read-only for them.
        let (_, body) = who.get("/catalog");
        assert!(!body.contains("action=\"/catalog/kinds\""), "{role}");
    }
    // An inspector reads, but does not write.
    let insp = Session::login(&srv, "inspector");
    for path in ["/records", "/publicity", "/lists", "/catalog"] {
        let (status, body) = insp.get(path);
        assert_eq!(status, 200, "inspector {path}");
        assert!(!body.contains("action=\"/lists\""), "inspector {path}");
    }
    let id = insp.record(&s.code, "利税罚〔2026〕页1号")["id"]
        .as_i64()
        .unwrap();
    let (status, body) = insp.get(&format!("/records/{id}"));
    assert_eq!(status, 200);
    assert!(
        !body.contains("change-form"),
        "no change form for inspectors"
    );
    for path in ["/records/new", "/export"] {
        assert_eq!(insp.get(path).0, 403, "inspector {path}");
    }
    let r = insp.post(
        "/records",
        &[
            ("kind", "penalty"),
            ("code", &s.code),
            ("name", &s.name),
            ("document_number", "利税罚〔2026〕页2号"),
            ("decision_date", &ago(1).to_string()),
            ("categories", "罚款"),
        ],
    );
    assert_eq!(r.status(), 403);
    let rec = insp.record(&s.code, "利税罚〔2026〕页1号");
    assert_eq!(insp.change(&rec, "release", "检查").status(), 403);
    // Not logged in: sent to the login page.
    let r = srv.client().get(srv.url("/records")).send().unwrap();
    assert_eq!(r.status(), 303);
}

#[test]
fn staff_enter_records_through_the_form() {
    let srv = TestServer::start();
    let live = living(&demo_subjects());
    let s = &live[0];
    let reg = Session::login(&srv, "regulator");
    let decided = ago(1).to_string();
    let fields = |doc: &'static str, date: &str, hold: bool| {
        let mut f: Vec<(&str, String)> = vec![
            ("kind", "penalty".into()),
            ("code", format!(" {} ", s.code.to_lowercase())),
            ("name", s.name.clone()),
            ("document_number", doc.into()),
            ("decision_date", date.into()),
            ("categories", "警告、罚款".into()),
            ("severity", "".into()),
            ("fine_amount", "0.3".into()),
            ("authority", FINANCE.into()),
            ("source_department", FINANCE.into()),
            ("facts", "未按规定保管会计档案".into()),
            ("basis", "《中华人民共和国会计法》第四十二条".into()),
            ("content", "警告，罚款人民币3000元".into()),
        ];
        if hold {
            f.push(("hold", "1".into()));
        }
        f
    };
    let post = |f: Vec<(&str, String)>| {
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        reg.post("/records", &f)
    };
    let r = post(fields("利财罚〔2026〕表1号", &decided, false));
    assert_eq!(r.status(), 303, "{}", r.text().unwrap_or_default());
    assert_eq!(location(&r), format!("/records?code={}", s.code));
    let rec = reg.record(&s.code, "利财罚〔2026〕表1号");
    assert_eq!(rec["categories"], json!(["警告", "罚款"]));
    assert_eq!(rec["severity"], "general");
    assert!(public_docs(&srv, &s.code).contains(&"利财罚〔2026〕表1号".to_owned()));
    // Held: not public until released.
    let r = post(fields("利财罚〔2026〕表2号", &decided, true));
    assert_eq!(r.status(), 303);
    let held = reg.record(&s.code, "利财罚〔2026〕表2号");
    assert_eq!(held["held"], true);
    assert!(!public_docs(&srv, &s.code).contains(&"利财罚〔2026〕表2号".to_owned()));
    // A change without a reason, or on a stale version, is refused with a message.
    let r = reg.change(&held, "release", " ");
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("原因"));
    assert_eq!(reg.change(&held, "release", "审核通过").status(), 303);
    let r = reg.change(&held, "revoke", "用旧版本撤销");
    assert_eq!(r.status(), 409);
    assert!(r.text().unwrap().contains("已被他人修改"));
    assert!(public_docs(&srv, &s.code).contains(&"利财罚〔2026〕表2号".to_owned()));
    let released = reg.record(&s.code, "利财罚〔2026〕表2号");
    assert_eq!(released["version"], 2);
    assert_eq!(released["published_on"], today().to_string());
    let r = reg.change(&released, "release", "再次发布");
    assert_eq!(r.status(), 422);
    // The versions are shown with who and why.
    let (_, page) = reg.get(&format!("/records/{}", released["id"]));
    assert!(
        page.contains("审核通过") && page.contains("t_regulator"),
        "{page}"
    );
    // A future date is explained on the form, which keeps what was typed.
    let r = post(fields(
        "利财罚〔2026〕表3号",
        &(today() + Duration::days(30)).to_string(),
        false,
    ));
    assert_eq!(r.status(), 422);
    let page = r.text().unwrap();
    assert!(
        page.contains("决定日期") && page.contains("利财罚〔2026〕表3号"),
        "{page}"
    );
    let all = reg.json(&format!("/api/v1/records?code={}", s.code));
    assert!(
        !docs_of(&all["items"]).contains(&"利财罚〔2026〕表3号".to_owned()),
        "nothing stored from a refused form"
    );
}

#[test]
fn the_catalog_is_edited_by_administrators_only() {
    let srv = TestServer::start();
    let live = living(&demo_subjects());
    let s = &live[0];
    let admin = Session::login(&srv, "admin");
    let (status, page) = admin.get("/catalog");
    assert_eq!(status, 200);
    assert!(page.contains("新增或修改信息类别") && page.contains("新增或修改处罚类别对照"));
    let green = [
        ("code", "green_credit"),
        ("name", "绿色信用承诺"),
        ("nature", "positive"),
        ("default_severity", ""),
        ("is_public", "1"),
        ("publish_workdays", ""),
        ("none_min", "0"),
        ("none_max", "24"),
    ];
    for role in ["regulator", "credit_office", "inspector"] {
        let who = Session::login(&srv, role);
        assert_eq!(who.post("/catalog/kinds", &green).status(), 403, "{role}");
        assert_eq!(
            who.post(
                "/catalog/categories",
                &[("category", "责令改正"), ("severity", "minor")]
            )
            .status(),
            403,
            "{role}"
        );
    }
    let r = admin.post("/catalog/kinds", &green);
    assert_eq!(r.status(), 200);
    let page = r.text().unwrap();
    assert!(page.contains("已保存信息类别") && page.contains("绿色信用承诺"));
    assert!(public_text(&srv, "/public/catalog").contains("绿色信用承诺"));
    let cat = public_json(&srv, "/api/v1/public/catalog");
    let k = cat
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["code"] == "green_credit")
        .expect("new kind in the public catalog");
    assert_eq!(k["periods"]["none"]["max_months"], 24);
    // Bad kinds are explained.
    for (field, value, words) in [
        ("code", "Green-Credit", "小写英文字母"),
        ("none_max", "x", "月数"),
        ("name", "", "名称"),
    ] {
        let mut f = green.to_vec();
        f.retain(|(k, _)| *k != field);
        f.push((field, value));
        let r = admin.post("/catalog/kinds", &f);
        assert_eq!(r.status(), 400, "{field}={value}");
        assert!(r.text().unwrap().contains(words), "{field}={value}");
    }
    let mut f = green.to_vec();
    f.retain(|(k, _)| *k != "none_min");
    f.push(("none_min", "30"));
    let r = admin.post("/catalog/kinds", &f);
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("最长公示期不能短于最短公示期"));

    // A category the mapping does not know is refused, until the administrator maps it.
    let item = || vec![penalty(s, "利税罚〔2026〕类1号", ago(10), "责令改正")];
    let (st, v) = push(&srv, &srv.department_token, item(), false);
    assert_eq!(st, 422, "{v}");
    assert_eq!(v["errors"][0]["field"], "categories");
    let r = admin.post(
        "/catalog/categories",
        &[("category", "责令改正"), ("severity", "minor")],
    );
    assert_eq!(r.status(), 200);
    assert!(r.text().unwrap().contains("已保存处罚类别对照"));
    assert!(public_text(&srv, "/public/catalog").contains("责令改正"));
    let r = admin.post(
        "/catalog/categories",
        &[("category", "责令改正"), ("severity", "catastrophic")],
    );
    assert_eq!(r.status(), 400);
    let (st, v) = push(&srv, &srv.department_token, item(), false);
    assert_eq!(st, 200, "{v}");
    let reg = Session::login(&srv, "regulator");
    let rec = reg.record(&s.code, "利税罚〔2026〕类1号");
    assert_eq!(rec["severity"], "minor");
    assert_eq!(
        rec["publicity_until"],
        xinjian_core::credit::add_months(ago(10), 3).to_string()
    );

    // Longer periods for minor penalties apply to records recorded from now on.
    let penalty_kind = [
        ("code", "penalty"),
        ("name", "行政处罚"),
        ("nature", "negative"),
        ("default_severity", "general"),
        ("is_public", "1"),
        ("publish_workdays", "7"),
        ("minor_min", "0"),
        ("minor_max", "6"),
        ("general_min", "3"),
        ("general_max", "12"),
        ("serious_min", "12"),
        ("serious_max", "36"),
    ];
    assert_eq!(admin.post("/catalog/kinds", &penalty_kind).status(), 200);
    let mut old = penalty(s, "利税罚〔2026〕类2号", ago(120), "警告");
    old["severity"] = json!("轻微");
    let (st, v) = push(&srv, &srv.department_token, vec![old], false);
    assert_eq!(st, 200, "{v}");
    let rec = reg.record(&s.code, "利税罚〔2026〕类2号");
    assert_eq!(
        rec["publicity_until"],
        xinjian_core::credit::add_months(ago(120), 6).to_string()
    );
    assert!(public_docs(&srv, &s.code).contains(&"利税罚〔2026〕类2号".to_owned()));
    assert_eq!(
        reg.record(&s.code, "利税罚〔2026〕类1号")["publicity_until"],
        xinjian_core::credit::add_months(ago(10), 3).to_string(),
        "records already stored keep their period"
    );
}

// ---------------------------------------------------------------------------------------------
// A department's penalty file, from upload to the portal

/// The staff page of the publication report shows 100 rows a page; its Excel export has every
/// row the report has.
#[test]
fn the_publication_report_pages_by_100_and_exports_every_row() {
    let srv = TestServer::start();
    let live = living(&demo_subjects());
    let head = "行政相对人名称,统一社会信用代码,行政处罚决定书文号,处罚类别,处罚决定日期,处罚机关,违法事实,处罚依据,处罚内容,罚款金额（万元）,失信严重程度";
    // 130 penalties decided 40 days ago and more, published by this import: all late.
    let rows: Vec<String> = (0..130)
        .map(|i| {
            let s = &live[i % 20];
            format!(
                "{},{},利财罚〔2026〕{}号,罚款,{},{FINANCE},未按规定保管会计档案,《中华人民共和国会计法》第四十二条,罚款,0.1,",
                s.name,
                s.code,
                1000 + i,
                ago(40 + i as i64)
            )
        })
        .collect();
    let reg = Session::login(&srv, "regulator");
    let csv = format!("{head}\r\n{}\r\n", rows.join("\r\n"));
    let id = upload(&reg, "penalties", "逾期.csv", csv.into_bytes(), false);
    let job = wait_for_job(&srv, &reg.c, id);
    assert_eq!(job["imported"], 130, "{job}");

    let (status, first) = reg.get("/publicity");
    assert_eq!(status, 200);
    // "共 N 条，第 1 / P 页" (grouped by thousands past 999).
    let n: usize = first
        .split("共 ")
        .nth(1)
        .and_then(|t| t.split(" 条").next())
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap();
    assert!(n >= 130, "{n}");
    let pages = n.div_ceil(100);
    let shown = |page: &str| page.matches("<tr class=\"pub-").count();
    assert_eq!(shown(&first), 100);
    assert!(first.contains(&format!("第 1 / {pages} 页")), "{first}");
    assert!(first.contains("page=2"), "a link to the next page");
    let (_, second) = reg.get(&format!("/publicity?as_of={}&page=2", today()));
    assert_eq!(shown(&second), (n - 100).min(100));
    // A page past the end shows the last one.
    let (_, past) = reg.get("/publicity?page=999");
    assert!(past.contains(&format!("第 {pages} / {pages} 页")), "{past}");

    let (header, rows) = common::get_xlsx(
        &reg.c,
        &srv.url(&format!("/publicity/export.xlsx?as_of={}", today())),
    );
    assert_eq!(header[..3], ["情况", "暂缓公示", "统一社会信用代码"]);
    let column = header.iter().position(|h| h == "决定文书号").unwrap();
    let mut exported: Vec<String> = rows.into_iter().map(|r| r[column].clone()).collect();
    // Every row of the page's report, once; these penalties among them.
    assert_eq!(exported.len(), n);
    exported.sort();
    exported.dedup();
    assert_eq!(exported.len(), n, "no row twice");
    let mut documents: Vec<String> = (0..130)
        .map(|i| format!("利财罚〔2026〕{}号", 1000 + i))
        .collect();
    documents.sort();
    exported.retain(|d| documents.contains(d));
    assert_eq!(exported, documents);
}

#[test]
fn an_uploaded_penalty_file_shows_late_publication_and_reaches_the_portal() {
    let srv = TestServer::start();
    let all = demo_subjects();
    let live = living(&all);
    let t = &live[3];
    let other = &live[4];
    let mut u = all[61].clone();
    u.name = "广元市霁澜文化传播有限公司".into();
    let mut bad_code = other.code.clone();
    let last = bad_code.pop().unwrap();
    bad_code.push(if last == '0' { '1' } else { '0' });
    let head = "行政相对人名称,统一社会信用代码,行政处罚决定书文号,处罚类别,处罚决定日期,处罚机关,违法事实,处罚依据,处罚内容,罚款金额（万元）,失信严重程度";
    let line = |name: &str, code: &str, doc: &str, cats: &str, date: &str, amount: &str| {
        format!(
            "{name},{code},{doc},{cats},{date},{FINANCE},未按规定保管会计档案,《中华人民共和国会计法》第四十二条,{cats},{amount},"
        )
    };
    let d40 = ago(40);
    let d25 = ago(25);
    let d20 = ago(20);
    let rows = [
        line(
            &t.name,
            &t.code,
            "利财罚〔2026〕501号",
            "罚款",
            &d40.to_string(),
            "0.5",
        ),
        line(
            &t.name,
            &t.code,
            "利财罚〔2026〕502号",
            "警告；罚款",
            &d25.format("%Y/%-m/%-d").to_string(),
            "0.3",
        ),
        line(
            &u.name,
            &u.code,
            "利财罚〔2026〕503号",
            "罚款",
            &d20.format("%Y年%-m月%-d日").to_string(),
            "0.2",
        ),
        // Faults.
        line(
            &other.name,
            &other.code,
            "利财罚〔2026〕504号",
            "罚款",
            "2099-01-01",
            "0.1",
        ),
        line(
            &other.name,
            &other.code,
            "利财罚〔2026〕505号",
            "罚款",
            &ago(15).to_string(),
            "五千元",
        ),
        line(
            &other.name,
            &other.code,
            "利财罚〔2026〕506号",
            "训诫",
            &ago(15).to_string(),
            "",
        ),
        line(
            &other.name,
            &bad_code,
            "利财罚〔2026〕507号",
            "罚款",
            &ago(15).to_string(),
            "0.1",
        ),
        line(
            &other.name,
            &other.code,
            "利财罚〔2026〕508号",
            "罚款",
            "2026-02-30",
            "0.1",
        ),
        line(
            &t.name,
            &t.code,
            "利财罚〔2026〕501号",
            "罚款",
            &d40.to_string(),
            "0.5",
        ),
        line(
            &other.name,
            &other.code,
            "利财罚〔2026〕501号",
            "罚款",
            &ago(15).to_string(),
            "0.1",
        ),
    ];
    let csv = format!("{head}\r\n{}\r\n", rows.join("\r\n"));
    let reg = Session::login(&srv, "regulator");
    let id = upload(
        &reg,
        "penalties",
        "财政局处罚.csv",
        csv.clone().into_bytes(),
        false,
    );
    let job = wait_for_job(&srv, &reg.c, id);
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["imported"], 3, "{job}");
    assert_eq!(job["rejected"], 7, "{job}");
    let (_, page) = reg.get(&format!("/imports/{id}"));
    for words in [
        "文件内重复",
        "训诫",
        "将来",
        "另一主体",
        "2026-02-30",
        "五千元",
    ] {
        assert!(page.contains(words), "the import page lacks {words}");
    }
    // The same file again changes nothing.
    let id2 = upload(&reg, "penalties", "财政局处罚.csv", csv.into_bytes(), false);
    let job = wait_for_job(&srv, &reg.c, id2);
    assert_eq!(
        (&job["imported"], &job["unchanged"], &job["rejected"]),
        (&json!(0), &json!(3), &json!(7)),
        "{job}"
    );

    // Held rows: one whose deadline has passed (missing), one due within 3 working days.
    let cal = srv.app.calendar();
    let due_until = cal.add_workdays(today(), 3).unwrap();
    let due_day = (0..30)
        .map(ago)
        .find(|d| {
            let dl = cal.add_workdays(*d, 7).unwrap();
            dl >= today() && dl <= due_until
        })
        .expect("a decision date due soon");
    let held = format!(
        "{head}\r\n{}\r\n{}\r\n",
        line(
            &t.name,
            &t.code,
            "利财罚〔2026〕601号",
            "罚款",
            &ago(40).to_string(),
            "0.1"
        ),
        line(
            &t.name,
            &t.code,
            "利财罚〔2026〕602号",
            "罚款",
            &due_day.to_string(),
            "0.1"
        ),
    );
    let id3 = upload(&reg, "penalties", "待审核.csv", held.into_bytes(), true);
    let job = wait_for_job(&srv, &reg.c, id3);
    assert_eq!(job["imported"], 2, "{job}");

    // The publication report: API and page.
    let report = reg.json(&format!("/api/v1/publicity?as_of={}", today()));
    let status_of = |report: &Value, doc: &str| {
        report
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["document_number"] == doc)
            .map(|r| r["status"].as_str().unwrap().to_owned())
    };
    for (doc, status) in [
        ("利财罚〔2026〕501号", "late"),
        ("利财罚〔2026〕502号", "late"),
        ("利财罚〔2026〕503号", "late"),
        ("利财罚〔2026〕601号", "missing"),
        ("利财罚〔2026〕602号", "due_soon"),
    ] {
        assert_eq!(
            status_of(&report, doc).as_deref(),
            Some(status),
            "{doc}: {report}"
        );
    }
    let item = report
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["document_number"] == "利财罚〔2026〕501号")
        .unwrap();
    let mut keys: Vec<&str> = item
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "code",
            "decision_date",
            "document_number",
            "publish_deadline",
            "status"
        ]
    );
    assert_eq!(item["code"], t.code.as_str());
    assert_eq!(item["decision_date"], d40.to_string());
    assert_eq!(
        item["publish_deadline"],
        cal.add_workdays(d40, 7).unwrap().to_string()
    );
    // As of yesterday, the penalty published today was still missing.
    let yesterday = reg.json(&format!("/api/v1/publicity?as_of={}", ago(1)));
    assert_eq!(
        status_of(&yesterday, "利财罚〔2026〕501号").as_deref(),
        Some("missing")
    );
    let (status, page) = reg.get(&format!("/publicity?as_of={}", today()));
    assert_eq!(status, 200);
    for words in [
        "利财罚〔2026〕501号",
        "逾期公示",
        "应公示未公示",
        "即将到期",
        "暂缓公示",
        &t.name,
    ] {
        assert!(page.contains(words), "/publicity lacks {words}");
    }
    let r = reg
        .c
        .get(srv.url("/api/v1/publicity?as_of=not-a-date"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);

    // The portal: a two-character query finds the penalised subjects, and the penalties are
    // on their pages (the held ones are not).
    let names: Vec<String> = all[..60].iter().map(|s| s.name.clone()).collect();
    let pair = rarest_pair(&t.name, &names);
    let hits = public_search(&srv, &pair);
    assert!(
        hits.iter().any(|h| h["code"] == t.code.as_str()),
        "{pair}: {hits:?}"
    );
    for q in ["霁澜", "霁"] {
        let hits = public_search(&srv, q);
        assert_eq!(hits, vec![json!({ "code": u.code, "name": u.name })], "{q}");
    }
    let v = public_json(&srv, &format!("/api/v1/public/subjects/{}", t.code));
    let docs = docs_of(&v["records"]);
    assert!(
        docs.contains(&"利财罚〔2026〕501号".to_owned())
            && docs.contains(&"利财罚〔2026〕502号".to_owned()),
        "{docs:?}"
    );
    assert!(!docs
        .iter()
        .any(|d| d.contains("601号") || d.contains("602号")));
    let r = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["document_number"] == "利财罚〔2026〕502号")
        .unwrap();
    assert_eq!(r["kind"], "penalty");
    assert_eq!(r["decision_date"], d25.to_string());
    assert_eq!(r["severity"], "general");
    assert_eq!(
        r["publicity_until"],
        xinjian_core::credit::add_months(d25, 12).to_string()
    );
    assert!(public_docs(&srv, &u.code).contains(&"利财罚〔2026〕503号".to_owned()));
    let page = public_text(&srv, &format!("/s/{}", t.code));
    assert!(page.contains("利财罚〔2026〕501号") && !page.contains("601号"));
    assert!(public_text(&srv, "/public/penalties").contains("利财罚〔2026〕503号"));

    // Only staff who may write credit records upload them (a small form: the refusal comes
    // before the body is read).
    let insp = Session::login(&srv, "inspector");
    assert_eq!(
        insp.post("/imports", &[("kind", "penalties")]).status(),
        403
    );
    assert_eq!(insp.get("/imports").0, 403);
}

#[test]
fn the_demo_department_file_imports_with_its_faults_reported() {
    let srv = TestServer::start();
    let reg = Session::login(&srv, "regulator");
    let (status, _) = reg.get("/imports");
    assert_eq!(status, 200);
    let r = reg
        .c
        .get(srv.url("/imports/demo-penalties.csv"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().unwrap().to_vec();
    assert!(std::str::from_utf8(&bytes).is_err(), "the demo file is GBK");
    let id = upload(&reg, "penalties", "demo-penalties.csv", bytes, false);
    let job = wait_for_job(&srv, &reg.c, id);
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["imported"], 5, "{job}");
    assert_eq!(job["rejected"], 8, "{job}");
    let (_, page) = reg.get(&format!("/imports/{id}"));
    assert!(page.contains("已注销") || page.contains("注销"), "{page}");
    let found = public_search(&srv, "青禾");
    let hit = found
        .iter()
        .find(|h| h["name"] == "广元市利州区青禾财务咨询有限公司")
        .unwrap_or_else(|| panic!("{found:?}"));
    let code = hit["code"].as_str().unwrap();
    assert!(public_docs(&srv, code).contains(&"利财罚〔2026〕105号".to_owned()));
}

// ---------------------------------------------------------------------------------------------
// Lists

#[test]
fn lists_are_entered_and_left_by_regulators_and_shown_on_the_portal() {
    let srv = TestServer::start();
    let live = living(&demo_subjects());
    let s = &live[6];
    let reg = Session::login(&srv, "regulator");
    let insp = Session::login(&srv, "inspector");
    let day = today().to_string();
    let enter = |who: &Session, list: &str, doc: &str, on: &str, term: &str| {
        who.post(
            "/lists",
            &[
                ("list_type", list),
                ("code", &s.code),
                ("entered_on", on),
                ("decision_number", doc),
                ("authority", "广元市利州区发展和改革局"),
                (
                    "reason",
                    "拒不履行法定义务，严重影响司法机关、行政机关公信力",
                ),
                ("basis", "《失信行为纠正后的信用信息修复管理办法（试行）》"),
                ("term_until", term),
            ],
        )
    };
    let doc = "利信认〔2026〕901号";
    assert_eq!(
        enter(&insp, "serious_dishonest", doc, &day, "").status(),
        403
    );
    let r = enter(&reg, "serious_dishonest", doc, &day, "");
    assert_eq!(r.status(), 303, "{}", r.text().unwrap_or_default());
    assert_eq!(location(&r), "/lists?type=serious_dishonest");
    let on_public_list =
        |list: &str, doc: &str| public_text(&srv, &format!("/public/lists/{list}")).contains(doc);
    let public_lists = || {
        public_json(&srv, &format!("/api/v1/public/subjects/{}", s.code))["lists"]
            .as_array()
            .unwrap()
            .clone()
    };
    assert!(on_public_list("serious_dishonest", doc));
    assert!(public_text(&srv, "/public/lists/serious_dishonest").contains(&s.code));
    assert!(!on_public_list("red", doc));
    let lists = public_lists();
    let e = lists
        .iter()
        .find(|e| e["decision_number"] == doc)
        .unwrap_or_else(|| panic!("{lists:?}"));
    assert_eq!(e["list_type"], "serious_dishonest");
    assert_eq!(e["list_name"], "严重失信主体名单");
    assert_eq!(e["entered_on"], day);
    let page = public_text(&srv, &format!("/s/{}", s.code));
    assert!(page.contains("严重失信主体名单") && page.contains(doc));
    let (_, staff) = reg.get("/lists?type=serious_dishonest");
    assert!(staff.contains(doc) && staff.contains("/exit"));
    let (status, staff) = insp.get("/lists?type=serious_dishonest");
    assert_eq!(status, 200);
    assert!(staff.contains(doc) && !staff.contains("/exit"));

    // The same decision twice, an unknown code, a bad list: explained.
    let r = enter(&reg, "serious_dishonest", doc, &day, "");
    assert_eq!(r.status(), 409);
    assert!(r.text().unwrap().contains("已按同一决定文号"));
    let r = reg.post(
        "/lists",
        &[
            ("list_type", "red"),
            ("code", "914403001922038216"),
            ("entered_on", &day),
            ("decision_number", "利信红〔2026〕1号"),
            ("authority", "x"),
            ("reason", "x"),
        ],
    );
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("登记库中没有"));
    let r = enter(&reg, "black", "利信认〔2026〕902号", &day, "");
    assert!(r.status().is_client_error() && r.status() != 403);

    // Leaving the list: only a regulator, with a reason, not before the entry.
    let entry = reg.entry(&s.code, doc);
    let id = entry["id"].as_i64().unwrap();
    let version = entry["version"].as_i64().unwrap().to_string();
    let exit = |who: &Session, version: &str, on: &str, reason: &str| {
        who.post(
            &format!("/lists/{id}/exit"),
            &[
                ("version", version),
                ("exited_on", on),
                ("reason", reason),
                ("list_type", "serious_dishonest"),
            ],
        )
    };
    assert_eq!(exit(&insp, &version, "", "已修复").status(), 403);
    let r = exit(&reg, &version, &ago(1).to_string(), "已修复");
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("早于列入日期"));
    let r = exit(
        &reg,
        &version,
        &(today() + Duration::days(1)).to_string(),
        "已修复",
    );
    assert_eq!(r.status(), 400);
    assert_eq!(exit(&reg, &version, "", " ").status(), 400);
    assert!(on_public_list("serious_dishonest", doc));
    let r = exit(&reg, &version, "", "已履行法定义务，信用修复完成");
    assert_eq!(r.status(), 303, "{}", r.text().unwrap_or_default());
    assert!(!on_public_list("serious_dishonest", doc));
    assert!(public_lists().iter().all(|e| e["decision_number"] != doc));
    assert!(!public_text(&srv, &format!("/s/{}", s.code)).contains(doc));
    let left = reg.entry(&s.code, doc);
    assert_eq!(left["exited_on"], day);
    assert_eq!(left["on_list"], false);
    // Again: stale version, then already left.
    assert_eq!(exit(&reg, &version, "", "再次移出").status(), 409);
    let v2 = left["version"].as_i64().unwrap().to_string();
    assert_eq!(exit(&reg, &v2, "", "再次移出").status(), 422);

    // Every list; an entry whose term has run out is not shown.
    for (i, list) in LIST_TYPES.iter().enumerate() {
        let doc = format!("利信〔2026〕91{i}号");
        let r = enter(&reg, list, &doc, &day, "");
        assert_eq!(r.status(), 303, "{list}");
        assert!(on_public_list(list, &doc), "{list}");
        assert!(public_lists().iter().any(|e| e["list_type"] == *list));
    }
    let ended = "利财关〔2025〕920号";
    let r = enter(
        &reg,
        "key_attention",
        ended,
        &ago(400).to_string(),
        &ago(1).to_string(),
    );
    assert_eq!(r.status(), 303);
    assert!(!on_public_list("key_attention", ended));
    assert!(public_lists().iter().all(|e| e["decision_number"] != ended));
    let r = srv
        .client()
        .get(srv.url("/public/lists/black"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
}

// ---------------------------------------------------------------------------------------------
// Export for the sharing platform

fn read_table(bytes: &[u8], ext: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("export.{ext}"));
    std::fs::write(&path, bytes).unwrap();
    let mut t = xinjian_app::sources::TableReader::open(&path).unwrap();
    let mut rows = Vec::new();
    while let Some((_, row)) = t.next_row().unwrap() {
        rows.push(row.unwrap());
    }
    (t.header.clone(), rows)
}

#[test]
fn records_and_lists_are_exported_in_three_formats() {
    let srv = TestServer::start();
    let live = living(&demo_subjects());
    let s = &live[0];
    let (st, _) = push(
        &srv,
        &srv.department_token,
        vec![
            penalty(s, "利税罚〔2026〕出1号", ago(2), "罚款"),
            license(s, "利市监许〔2026〕出2号", ago(1)),
            penalty(s, "利税罚〔2026〕出3号", ago(60), "罚款"),
        ],
        false,
    );
    assert_eq!(st, 200);
    let co = Session::login(&srv, "credit_office");
    let since = ago(5).to_string();
    let r = co.post(
        "/lists",
        &[
            ("list_type", "abnormal"),
            ("code", &s.code),
            ("entered_on", &today().to_string()),
            ("decision_number", "利市监异〔2026〕出4号"),
            ("authority", "广元市利州区市场监督管理局"),
            ("reason", "未按期公示年度报告"),
        ],
    );
    assert_eq!(r.status(), 303);
    let files_in_data_dir = || std::fs::read_dir(srv.app.data_dir()).unwrap().count();
    let files_before = files_in_data_dir();
    let get = |q: &str| {
        let r =
            co.c.get(srv.url(&format!("/export/download?{q}")))
                .send()
                .unwrap();
        let status = r.status().as_u16();
        let header = |name: &str| {
            r.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let (ct, length) = (header("content-type"), header("content-length"));
        let body = r.bytes().unwrap().to_vec();
        if status == 200 {
            // Sent from a temporary file as it is read, with the file's length.
            assert_eq!(length, body.len().to_string(), "{q}");
        }
        (status, ct, body)
    };
    // JSON
    let (status, ct, body) = get(&format!("what=records&format=json&since={since}"));
    assert_eq!(status, 200);
    assert!(ct.starts_with("application/json"), "{ct}");
    let rows: Value = serde_json::from_slice(&body).unwrap();
    let rows = rows.as_array().unwrap();
    let docs = docs_of(&json!(rows));
    assert!(docs.contains(&"利税罚〔2026〕出1号".to_owned()));
    assert!(docs.contains(&"利市监许〔2026〕出2号".to_owned()));
    assert!(
        !docs.contains(&"利税罚〔2026〕出3号".to_owned()),
        "before since"
    );
    for r in rows {
        assert!(
            r["decision_date"].as_str().unwrap() >= since.as_str(),
            "{r}"
        );
        for k in ["kind", "code", "name", "document_number", "decision_date"] {
            assert!(r.get(k).is_some(), "{k}: {r}");
        }
    }
    let p = rows
        .iter()
        .find(|r| r["document_number"] == "利税罚〔2026〕出1号")
        .unwrap();
    assert_eq!(p["code"], s.code.as_str());
    assert_eq!(p["kind"], "penalty");
    assert_eq!(p["fine_amount"], "0.2");
    // CSV: the same rows under the national headers.
    let (status, ct, body) = get(&format!("what=records&format=csv&since={since}"));
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/csv"), "{ct}");
    let (header, csv_rows) = read_table(&body, "csv");
    assert!(
        header.iter().any(|h| h == "统一社会信用代码") && header.iter().any(|h| h == "决定文书号"),
        "{header:?}"
    );
    assert_eq!(csv_rows.len(), rows.len());
    let doc_col = header.iter().position(|h| h == "决定文书号").unwrap();
    assert!(csv_rows.iter().any(|r| r[doc_col] == "利税罚〔2026〕出1号"));
    // XLSX
    let (status, ct, body) = get(&format!("what=records&format=xlsx&since={since}"));
    assert_eq!(status, 200);
    assert_eq!(
        ct,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(body.starts_with(b"PK"));
    let (xheader, xrows) = read_table(&body, "xlsx");
    assert_eq!(xheader, header);
    assert_eq!(xrows.len(), rows.len());
    // A range that ends before the records: nothing.
    let (_, _, body) = get(&format!(
        "what=records&format=json&since={since}&until={}",
        ago(4)
    ));
    let narrow: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        docs_of(&narrow).iter().all(|d| !d.contains("出")),
        "{narrow}"
    );
    // Lists.
    let (status, ct, body) = get(&format!("what=lists&format=csv&since={since}"));
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/csv"));
    let (lheader, lrows) = read_table(&body, "csv");
    assert!(lheader.iter().any(|h| h == "名单类型"), "{lheader:?}");
    assert!(lrows
        .iter()
        .any(|r| r.iter().any(|c| c == "利市监异〔2026〕出4号")));
    let (_, _, body) = get(&format!("what=lists&format=json&since={since}"));
    let l: Value = serde_json::from_slice(&body).unwrap();
    assert!(l
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["decision_number"] == "利市监异〔2026〕出4号" && e["list_type"] == "abnormal"));
    // The temporary files the downloads were made in are gone.
    assert_eq!(files_in_data_dir(), files_before);
    // Bad input, and who may not.
    assert_eq!(get("what=records&format=pdf").0, 400);
    assert_eq!(get("what=records&format=csv&since=yesterday").0, 400);
    let insp = Session::login(&srv, "inspector");
    let r = insp
        .c
        .get(srv.url("/export/download?what=records&format=json"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = srv
        .client()
        .get(srv.url("/export/download?what=records&format=json"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = srv
        .client()
        .get(srv.url("/export/download?what=records&format=json"))
        .bearer_auth(&srv.department_token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
}

// ---------------------------------------------------------------------------------------------
// Audit

#[test]
fn every_credit_change_is_audited() {
    let srv = TestServer::start();
    let live = living(&demo_subjects());
    let s = &live[0];
    let reg = Session::login(&srv, "regulator");
    let admin = Session::login(&srv, "admin");
    let (st, _) = push(
        &srv,
        &srv.department_token,
        vec![penalty(s, "利税罚〔2026〕审1号", ago(2), "罚款")],
        false,
    );
    assert_eq!(st, 200);
    let (st, _) = reg.push(
        vec![penalty(s, "利税罚〔2026〕审2号", ago(2), "罚款")],
        true,
    );
    assert_eq!(st, 200);
    let r = reg.change(
        &reg.record(&s.code, "利税罚〔2026〕审1号"),
        "revoke",
        "复议决定撤销",
    );
    assert_eq!(r.status(), 303);
    let r = reg.change(
        &reg.record(&s.code, "利税罚〔2026〕审2号"),
        "release",
        "审核通过",
    );
    assert_eq!(r.status(), 303);
    let r = reg.post(
        "/lists",
        &[
            ("list_type", "key_attention"),
            ("code", &s.code),
            ("entered_on", &today().to_string()),
            ("decision_number", "利财关〔2026〕审3号"),
            ("authority", FINANCE),
            ("reason", "代理记账机构年度备案逾期未改正"),
        ],
    );
    assert_eq!(r.status(), 303);
    let e = reg.entry(&s.code, "利财关〔2026〕审3号");
    let r = reg.post(
        &format!("/lists/{}/exit", e["id"]),
        &[
            ("version", &e["version"].to_string()),
            ("reason", "已改正"),
            ("list_type", "key_attention"),
        ],
    );
    assert_eq!(r.status(), 303);
    let r = admin.post(
        "/catalog/categories",
        &[("category", "责令改正"), ("severity", "minor")],
    );
    assert_eq!(r.status(), 200);
    let r = reg
        .c
        .get(srv.url("/export/download?what=records&format=json"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);

    let v = admin.json("/api/v1/audit/verify");
    assert_eq!(v["ok"], true, "{v}");
    let (status, page) = admin.get("/admin/audit");
    assert_eq!(status, 200);
    assert!(page.contains("哈希链校验：完整"), "chain shown as intact");
    for action in [
        "credit.records.submit",
        "credit.record.change",
        "list.enter",
        "list.exit",
        "catalog.category.save",
        "credit.export",
    ] {
        assert!(
            page.contains(&format!("<td>{action}</td>")),
            "/admin/audit lacks {action}"
        );
    }
    // Who did it and why.
    let (_, page) = admin.get("/admin/audit?q=credit.record.change");
    assert!(
        page.contains("user:t_regulator")
            && page.contains("复议决定撤销")
            && page.contains("revoke"),
        "{page}"
    );
    let (_, page) = admin.get("/admin/audit?q=credit.records.submit");
    assert!(
        page.contains("t_department"),
        "pushes name the token's account"
    );
    let (_, page) = admin.get("/admin/audit?q=list.exit");
    assert!(page.contains("已改正"));
    // Others may not read the trail.
    let r = reg.c.get(srv.url("/api/v1/audit/verify")).send().unwrap();
    assert_eq!(r.status(), 403);
}

#[test]
fn an_item_with_a_missing_or_mistyped_field_is_refused_alone() {
    let srv = TestServer::start();
    let live = living(&demo_subjects());
    let s = &live[0];
    let mut numeric = penalty(s, "利税罚〔2026〕型2号", ago(3), "罚款");
    numeric["fine_amount"] = json!(0.5);
    let mut nameless = penalty(s, "利税罚〔2026〕型3号", ago(3), "罚款");
    nameless.as_object_mut().unwrap().remove("name");
    let (st, v) = push(
        &srv,
        &srv.department_token,
        vec![
            penalty(s, "利税罚〔2026〕型1号", ago(3), "罚款"),
            numeric,
            nameless,
        ],
        false,
    );
    assert_eq!(st, 200, "one bad item refuses the whole batch: {v}");
    assert!(v["imported"].as_i64().unwrap() >= 1, "{v}");
    let errors = v["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e["index"] == 2 && e["field"] == "name"),
        "{v}"
    );
}

#[test]
fn publicity_ends_on_the_publicity_until_day() {
    let srv = TestServer::start();
    let live = living(&demo_subjects());
    let s = &live[0];
    let until = |d: NaiveDate| xinjian_core::credit::add_months(d, 3);
    // Minor penalties (3 months at most): one whose publicity ends today, one ending tomorrow.
    let last = (80..100).map(ago).find(|d| until(*d) == today());
    let still = (80..100)
        .map(ago)
        .find(|d| until(*d) == today() + Duration::days(1));
    let mut items = Vec::new();
    for (doc, day) in [
        ("利税罚〔2026〕界1号", last),
        ("利税罚〔2026〕界2号", still),
    ] {
        if let Some(day) = day {
            let mut p = penalty(s, doc, day, "警告");
            p["severity"] = json!("轻微");
            items.push(p);
        }
    }
    assert!(!items.is_empty());
    let (st, v) = push(&srv, &srv.department_token, items, false);
    assert_eq!(st, 200, "{v}");
    let docs = public_docs(&srv, &s.code);
    if last.is_some() {
        assert!(
            !docs.contains(&"利税罚〔2026〕界1号".to_owned()),
            "{docs:?}"
        );
    }
    if let Some(day) = still {
        assert!(docs.contains(&"利税罚〔2026〕界2号".to_owned()), "{docs:?}");
        let v = public_json(&srv, &format!("/api/v1/public/subjects/{}", s.code));
        let r = v["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["document_number"] == "利税罚〔2026〕界2号")
            .unwrap()
            .clone();
        assert_eq!(r["severity"], "minor");
        assert_eq!(r["publicity_until"], until(day).to_string());
    }
}

/// Through the API a department changes only the records it reported: another department
/// pushing the same document number and code with other facts is refused (the record stays),
/// while the reporting department — with a new token too — may correct its own.
#[test]
fn a_department_cannot_rewrite_another_departments_record() {
    let srv = TestServer::start();
    let system = xinjian_app::Actor::System("test".into());
    let token_for = |user: &str| {
        let id = xinjian_store::users::by_username(&mut srv.app.db.conn().unwrap(), user)
            .unwrap()
            .unwrap()
            .id;
        srv.app.issue_token(&system, id, "第二个令牌").unwrap()
    };
    let s = &demo_subjects()[7];
    let doc = "利税罚〔2026〕跨部门1号";
    let (st, v) = push(
        &srv,
        &srv.department_token,
        vec![penalty(s, doc, ago(5), "罚款")],
        false,
    );
    assert_eq!((st, v["imported"].clone()), (200, json!(1)), "{v}");
    // Another department ("tax" in the demo) sends the same key as a warning only.
    let mut other = penalty(s, doc, ago(5), "警告");
    other["severity"] = json!("轻微");
    let (st, v) = push(&srv, &token_for("tax"), vec![other.clone()], false);
    assert_eq!(st, 422, "{v}");
    assert_eq!(v["rejected"], 1, "{v}");
    assert!(
        v["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("不能通过接口修改"),
        "{v}"
    );
    let public = srv
        .client()
        .get(srv.url(&format!("/api/v1/public/subjects/{}", s.code)))
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    let rec = public["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["document_number"] == doc)
        .cloned()
        .unwrap();
    assert_eq!(rec["severity"], "general", "{rec}");
    // The reporting department, with a new token, may correct its own record.
    let (st, v) = push(&srv, &token_for("t_department"), vec![other], false);
    assert_eq!((st, v["updated"].clone()), (200, json!(1)), "{v}");
}
