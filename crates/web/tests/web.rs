//! API and page behaviour over the real server: login and lockout, CSRF, tokens, uploads,
//! problem JSON, and the public portal's silence about personal data.

mod common;

use common::{TestServer, PASSWORD};
use serde_json::Value;

#[test]
fn wrong_passwords_lock_the_account() {
    let srv = TestServer::start();
    let c = srv.client();
    for i in 1..=5 {
        let r = c
            .post(srv.url("/login"))
            .form(&[
                ("username", "t_regulator"),
                ("password", "wrong-password"),
                ("next", ""),
            ])
            .send()
            .unwrap();
        let status = r.status().as_u16();
        let body = r.text().unwrap();
        if i < 5 {
            assert_eq!(status, 400, "attempt {i}");
            assert!(body.contains("用户名或密码错误"), "attempt {i}: {body}");
        } else {
            assert_eq!(status, 429, "attempt {i}");
            assert!(body.contains("已锁定"));
        }
    }
    // Even the right password is refused while locked.
    let r = c
        .post(srv.url("/login"))
        .form(&[
            ("username", "t_regulator"),
            ("password", PASSWORD),
            ("next", ""),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 429);
    // Unknown users get the same message as wrong passwords.
    let r = c
        .post(srv.url("/login"))
        .form(&[("username", "nobody"), ("password", "x"), ("next", "")])
        .send()
        .unwrap();
    assert!(r.text().unwrap().contains("用户名或密码错误"));
}

#[test]
fn session_cookie_is_httponly_and_samesite() {
    let srv = TestServer::start();
    let c = srv.client();
    let r = c
        .post(srv.url("/login"))
        .form(&[
            ("username", "t_admin"),
            ("password", PASSWORD),
            ("next", ""),
        ])
        .send()
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
}

#[test]
fn forms_without_the_csrf_token_are_refused() {
    let srv = TestServer::start();
    let (c, csrf) = srv.login("t_admin");
    let form = [
        ("username", "newuser"),
        ("display_name", "新用户"),
        ("role", "inspector"),
        ("department", "会计科"),
        ("subject_code", ""),
        ("password", "long-enough-pw"),
    ];
    let r = c.post(srv.url("/admin/users")).form(&form).send().unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("页面已过期"));
    let mut with = form.to_vec();
    with.push(("_csrf", csrf.as_str()));
    let r = c.post(srv.url("/admin/users")).form(&with).send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().unwrap().contains("已创建用户 newuser"));
}

#[test]
fn department_tokens_work_until_revoked() {
    let srv = TestServer::start();
    let c = srv.client();
    let url = srv.url(&format!("/api/v1/subjects/{}", srv.agency_code));
    let r = c
        .get(&url)
        .bearer_auth(&srv.department_token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(v["code"], srv.agency_code.as_str());
    // Masked personal data only.
    assert!(v["legal_rep_id_masked"]
        .as_str()
        .unwrap()
        .contains("********"));
    let (admin, csrf) = srv.login("t_admin");
    let tokens = srv
        .app
        .list_tokens(&xinjian_app::Actor::System("t".into()))
        .unwrap();
    let r = admin
        .post(srv.url(&format!("/admin/tokens/{}/revoke", tokens[0].id)))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .get(&url)
        .bearer_auth(&srv.department_token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c.get(&url).bearer_auth("xj_not_a_token").send().unwrap();
    assert_eq!(r.status(), 401);
}

#[test]
fn public_endpoints_show_no_personal_data() {
    let srv = TestServer::start();
    let system = xinjian_app::Actor::System("t".into());
    let s = srv
        .app
        .reveal_id_number(&system, &srv.agency_code, "测试")
        .unwrap()
        .unwrap();
    let masked = xinjian_core::person_id::mask_str(&s);
    let c = srv.client();
    for path in [
        format!("/api/v1/public/subjects/{}", srv.agency_code),
        format!("/s/{}", srv.agency_code),
        format!("/api/v1/public/search?q={}", srv.agency_code),
        "/search?q=%E5%88%A9%E5%B7%9E".to_owned(),
    ] {
        let r = c.get(srv.url(&path)).send().unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let body = r.text().unwrap();
        assert!(!body.contains(&s), "{path} leaks the ID number");
        assert!(
            !body.contains(&masked),
            "{path} shows even the masked ID number"
        );
        assert!(!body.contains("legal_rep_id"), "{path}");
    }
    let v: Value = c
        .get(srv.url(&format!("/api/v1/public/subjects/{}", srv.agency_code)))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["code"], srv.agency_code.as_str());
    assert!(v["records"].is_array() && v["lists"].is_array());
    let list: Value = c
        .get(srv.url("/api/v1/public/search?q=%E5%B9%BF%E5%85%83"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["code"].is_string() && x["name"].is_string()));
}

#[test]
fn the_portal_search_says_when_there_are_more_subjects_than_it_shows() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("more.csv");
    xinjian_app::demo::write_export(&csv, 150, 3).unwrap();
    let system = xinjian_app::Actor::System("t".into());
    srv.app
        .import_subjects(&system, &csv, Default::default(), &mut |_| {})
        .unwrap();
    // A flagged code whose short name ranks first: never shown, and it does not take the
    // place of one that is.
    let flagged = dir.path().join("flagged.csv");
    std::fs::write(
        &flagged,
        "统一社会信用代码,名称\n914403001922038217,广元市甲\n",
    )
    .unwrap();
    let opts = xinjian_app::import::ImportOptions {
        allow_flagged: true,
    };
    let r = srv
        .app
        .import_subjects(&system, &flagged, opts, &mut |_| {})
        .unwrap();
    assert_eq!(r.counts.imported, 1);
    let c = srv.client();
    let page = |q: &str| {
        let r = c.get(srv.url("/search")).query(&[("q", q)]).send().unwrap();
        assert_eq!(r.status(), 200);
        r.text().unwrap()
    };
    // A query with more matches than the page shows.
    let many = "广元";
    assert!(
        srv.app.public_search(many, 100).unwrap().len() > 50,
        "precondition"
    );
    let body = page(many);
    assert_eq!(body.matches("<li><a href=\"/s/").count(), 50);
    assert!(body.contains("多于 50 个"), "{body}");
    assert!(!body.contains("共找到"), "{body}");
    assert!(!body.contains("广元市甲"), "{body}");
    // And one with a single match.
    let body = page(&srv.agency_code);
    assert_eq!(body.matches("<li><a href=\"/s/").count(), 1);
    assert!(body.contains("共找到 1 个市场主体"), "{body}");
    assert!(!body.contains("多于"), "{body}");
}

#[test]
fn errors_are_problem_json_in_chinese() {
    let srv = TestServer::start();
    let c = srv.client();
    let r = c
        .get(srv.url("/api/v1/public/subjects/914403001922038216"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let v: Value = r.json().unwrap();
    assert_eq!(v["status"], 404);
    assert!(v["detail"].as_str().unwrap().contains("不存在"));
    let r = c.get(srv.url("/api/v1/nothing-here")).send().unwrap();
    assert_eq!(r.status(), 404);
    let r = c
        .get(srv.url(&("/api/v1/public/search?q=".to_owned() + &"长".repeat(200))))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c
        .get(srv.url("/api/v1/calendar/add-workdays?date=2030-01-02&n=3"))
        .bearer_auth(&srv.department_token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().unwrap().contains("2030"));
    let r = c
        .get(srv.url("/api/v1/calendar/add-workdays?date=2024-09-27&n=1"))
        .bearer_auth(&srv.department_token)
        .send()
        .unwrap();
    let v: Value = r.json().unwrap();
    assert_eq!(v["result"], "2024-09-29", "the make-up working Sunday");
}

#[test]
fn openapi_lists_every_api_route() {
    let srv = TestServer::start();
    let v: Value = srv
        .client()
        .get(srv.url("/api/v1/openapi.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    for r in xinjian_web::routes::ROUTES
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
    {
        assert!(
            v["paths"][r.path][r.method.to_ascii_lowercase()].is_object(),
            "{} {}",
            r.method,
            r.path
        );
    }
}

#[test]
fn upload_import_and_error_report() {
    let srv = TestServer::start();
    let (c, csrf) = srv.login("t_regulator");
    let file = srv.app.data_dir().join(xinjian_app::demo::MESSY_FILE);
    let bytes = std::fs::read(&file).unwrap();
    let form = reqwest::blocking::multipart::Form::new()
        .text("_csrf", csrf.clone())
        .part(
            "file",
            reqwest::blocking::multipart::Part::bytes(bytes).file_name("messy.csv"),
        );
    let r = c
        .post(srv.url(&format!("/imports?_csrf={csrf}")))
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().unwrap_or_default());
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
    let job = wait_for_job(&srv, &c, id);
    assert_eq!(job["status"], "done", "{job}");
    assert!(job["rejected"].as_i64().unwrap() >= 8, "{job}");
    assert!(job["imported"].as_i64().unwrap() >= 5, "{job}");
    let page = c.get(srv.url(&location)).send().unwrap().text().unwrap();
    assert!(
        page.contains("文件内重复") && page.contains("校验码"),
        "{page}"
    );
    let x = c
        .get(srv.url(&format!("/imports/{id}/errors.xlsx")))
        .send()
        .unwrap();
    assert_eq!(x.status(), 200);
    let length = x.headers()["content-length"].to_str().unwrap().to_owned();
    let report = x.bytes().unwrap();
    assert!(report.starts_with(b"PK"));
    assert_eq!(length, report.len().to_string());
    // Junk is refused with a clear message, and the job is marked failed.
    let form = reqwest::blocking::multipart::Form::new().part(
        "file",
        reqwest::blocking::multipart::Part::bytes(vec![0u8, 1, 2, 3, 255, 0, 7])
            .file_name("junk.bin"),
    );
    let r = c
        .post(srv.url(&format!("/imports?_csrf={csrf}")))
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    let id2: i64 = r.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let job = wait_for_job(&srv, &c, id2);
    assert_eq!(job["status"], "failed");
    assert!(job["message"].as_str().unwrap().contains("二进制"), "{job}");
}

#[test]
fn revealing_an_id_number_is_audited() {
    let srv = TestServer::start();
    let (c, csrf) = srv.login("t_regulator");
    let before = srv
        .app
        .audit_recent(
            &xinjian_app::Actor::System("t".into()),
            "personal_data.read",
            100,
        )
        .unwrap()
        .len();
    let r = c
        .post(srv.url(&format!("/subjects/{}/reveal", srv.agency_code)))
        .form(&[("_csrf", csrf.as_str()), ("purpose", "核查法定代表人身份")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().unwrap();
    assert!(body.contains("本次查看已记录审计日志"));
    let after = srv
        .app
        .audit_recent(
            &xinjian_app::Actor::System("t".into()),
            "personal_data.read",
            100,
        )
        .unwrap();
    assert_eq!(after.len(), before + 1);
    assert!(
        after[0].actor.contains("t_regulator") && after[0].detail.contains("核查法定代表人身份")
    );
    // Without a purpose: refused.
    let r = c
        .post(srv.url(&format!("/subjects/{}/reveal", srv.agency_code)))
        .form(&[("_csrf", csrf.as_str()), ("purpose", "")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[test]
fn staff_create_and_change_subjects_as_new_versions() {
    let srv = TestServer::start();
    let (c, csrf) = srv.login("t_regulator");
    // Create through the form.
    let form = [
        ("_csrf", csrf.as_str()),
        ("code", " ９１４４０３００１９２２０３８２１６ "),
        ("name", "华为技术有限公司"),
        ("entity_type", "有限责任公司"),
        ("reg_status", "active"),
        ("established_on", "1987/9/15"),
        ("reason", "补录"),
    ];
    let r = c.post(srv.url("/subjects")).form(&form).send().unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().unwrap_or_default());
    assert_eq!(r.headers()["location"], "/subjects/914403001922038216");
    // A bad code is explained on the form, with the position.
    let bad = [
        ("_csrf", csrf.as_str()),
        ("code", "91440300192203821I"),
        ("name", "某公司"),
        ("legal_rep_id", "11010519491231002X"),
        ("reason", "x"),
    ];
    let r = c.post(srv.url("/subjects")).form(&bad).send().unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().unwrap();
    assert!(page.contains("第18位"));
    // The form comes back with what was typed, except the ID number.
    assert!(
        page.contains("某公司") && !page.contains("11010519491231002X"),
        "{page}"
    );
    // Change through the JSON API: version 1 → 2; a stale version is a conflict.
    let url = srv.url("/api/v1/subjects/914403001922038216");
    let body = serde_json::json!({ "name": "华为技术有限公司", "reg_status": "吊销，未注销", "reason": "市场监管部门吊销营业执照", "version": 1 });
    let r = c
        .put(&url)
        .header("x-csrf-token", &csrf)
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap_or_default());
    let v: Value = r.json().unwrap();
    assert_eq!(v["version"], 2);
    assert_eq!(v["reg_status"], "revoked");
    // The same change again is a no-op; a different change based on the old version conflicts.
    let r = c
        .put(&url)
        .header("x-csrf-token", &csrf)
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let stale = serde_json::json!({ "name": "华为技术有限公司", "reg_status": "注销", "reason": "误操作", "version": 1 });
    let r = c
        .put(&url)
        .header("x-csrf-token", &csrf)
        .json(&stale)
        .send()
        .unwrap();
    assert_eq!(r.status(), 409);
    let h: Value = c
        .get(srv.url("/api/v1/subjects/914403001922038216/history"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(h.as_array().unwrap().len(), 2);
    assert!(
        h[0]["changes"]
            .to_string()
            .contains("登记状态：存续 → 吊销"),
        "{h}"
    );
    // Inspectors may read but not write.
    let (i, icsrf) = srv.login("t_inspector");
    let r = i
        .put(&url)
        .header("x-csrf-token", &icsrf)
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[test]
fn an_upload_over_the_limit_gets_a_clear_413() {
    let srv = TestServer::start();
    let (c, csrf) = srv.login("t_regulator");
    let big = vec![b'a'; xinjian_web::MAX_UPLOAD_BYTES + 1024];
    let form = reqwest::blocking::multipart::Form::new().part(
        "file",
        reqwest::blocking::multipart::Part::bytes(big).file_name("big.csv"),
    );
    let r = c
        .post(srv.url(&format!("/imports?_csrf={csrf}")))
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
    let body = r.text().unwrap();
    assert!(
        body.contains("文件过大") && body.contains("命令行"),
        "{body}"
    );
    // No partial file is left behind, and nothing was registered as an import.
    let uploads = srv.app.data_dir().join("uploads");
    let left: Vec<_> = std::fs::read_dir(&uploads)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.iter().all(|n| !n.ends_with("big.csv")), "{left:?}");
    assert!(srv
        .app
        .recent_imports(&xinjian_app::Actor::System("t".into()))
        .unwrap()
        .iter()
        .all(|j| j.file_name != "big.csv"));
}

/// Poll a background import until it is no longer running (a bounded number of requests; each
/// is a round trip to the server, so this waits on the job, not on a clock).
fn wait_for_job(srv: &TestServer, c: &reqwest::blocking::Client, id: i64) -> Value {
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

/// A natural person (DOMAIN §2): registered by staff with an ID number, given a key, shown
/// masked, revealed with an audited purpose, kept off the portal, found by staff by the whole
/// number, not graded.
#[test]
fn natural_persons_are_registered_masked_and_kept_off_the_portal() {
    let srv = TestServer::start();
    let (c, csrf) = srv.login("t_regulator");
    let id_number = "11010519491231002X";
    let form = |pid: &str| {
        vec![
            ("_csrf", csrf.clone()),
            ("name", "王会计".to_owned()),
            ("person_id", pid.to_owned()),
            ("address", "四川省广元市利州区东坝街道".to_owned()),
            ("industry", "代理记账从业人员".to_owned()),
            ("reason", "依据行政处罚决定书登记当事人".to_owned()),
        ]
    };
    let page = c
        .get(srv.url("/subjects/new?kind=natural_person"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("登记自然人") && page.contains("name=\"person_id\""));
    assert!(
        !page.contains("name=\"legal_rep\""),
        "no organisation fields"
    );

    // A wrong check character: refused with the reason, the number not echoed back.
    let r = c
        .post(srv.url("/subjects"))
        .form(&form("110105194912310021"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let body = r.text().unwrap();
    assert!(
        body.contains("身份证号码") && body.contains("登记自然人"),
        "{body}"
    );
    assert!(!body.contains("110105194912310021"));

    let r = c
        .post(srv.url("/subjects"))
        .form(&form(id_number))
        .send()
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().unwrap_or_default());
    let at = r.headers()["location"].to_str().unwrap().to_owned();
    let key = at
        .strip_prefix("/subjects/")
        .expect("subject page")
        .to_owned();
    assert!(xinjian_core::subject::is_person_key(&key), "{key}");

    // The same person again: a conflict naming the existing subject.
    let r = c
        .post(srv.url("/subjects"))
        .form(&form("11010519491231002x"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().unwrap().contains(&key));

    // Staff see the person with the number masked; the full number needs a purpose.
    let detail = c.get(srv.url(&at)).send().unwrap().text().unwrap();
    assert!(
        detail.contains("王会计") && detail.contains("110105********002X"),
        "{detail}"
    );
    assert!(!detail.contains(id_number));
    assert!(
        !detail.contains("公共信用综合评价"),
        "persons are not graded"
    );
    let r = c
        .post(srv.url(&format!("{at}/reveal")))
        .form(&[("_csrf", csrf.as_str()), ("purpose", "核实当事人身份")])
        .send()
        .unwrap();
    assert!(r.text().unwrap().contains(id_number));
    let audit = srv.app.db.conn().unwrap().query(
        "SELECT detail FROM audit_log WHERE action = 'personal_data.read' AND target = ?",
        &[xinjian_store::Value::from(format!("subject:{key}"))],
    );
    let audit = audit.unwrap();
    assert_eq!(audit.len(), 1);
    let detail: String = audit[0].get(0).unwrap();
    assert!(
        detail.contains("person_id") && detail.contains("核实当事人身份"),
        "{detail}"
    );

    // Staff find the person by the whole number in a form body (never in an address), and
    // every lookup is audited with the number masked.
    let lookups = |what: &str| -> Vec<String> {
        srv.app
            .db
            .conn()
            .unwrap()
            .query(
                "SELECT target || ' ' || detail FROM audit_log WHERE action = 'personal_data.lookup' ORDER BY seq",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get::<String>(0).unwrap())
            .inspect(|d| assert!(!d.contains(id_number), "{what}: the number is masked: {d}"))
            .collect()
    };
    let r = c
        .post(srv.url("/subjects/lookup"))
        .form(&[("_csrf", csrf.as_str()), ("id_number", id_number)])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        at,
        "the lookup lands on the person's page (its address carries the key, not the number)"
    );
    let audited = lookups("found");
    assert_eq!(audited.len(), 1);
    assert!(
        audited[0].starts_with(&format!("subject:{key} ")),
        "{audited:?}"
    );
    // A registered number with a wrong check character, and a number nobody has.
    let r = c
        .post(srv.url("/subjects/lookup"))
        .form(&[("_csrf", csrf.as_str()), ("id_number", "110105194912")])
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(r.contains("不是有效的居民身份证号码") && !r.contains(&key));
    let r = c
        .post(srv.url("/subjects/lookup"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("id_number", "510802199001011236"),
        ])
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(r.contains("没有以该证件号码登记的自然人"), "{r}");
    assert!(
        !r.contains("510802199001011236"),
        "the number is not echoed"
    );
    assert_eq!(
        lookups("not found").len(),
        2,
        "found and not found are audited, not the refused"
    );
    // The address search refuses a whole number (it would land in browser history), without
    // echoing it; a part of one finds nobody.
    let list = c
        .get(srv.url(&format!("/subjects?q={id_number}")))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(list.contains("按证件号码查找自然人") && list.contains("不能放在查询地址中"));
    assert!(!list.contains(&key) && !list.contains(&format!("value=\"{id_number}\"")));
    let list = c
        .get(srv.url("/subjects?q=110105194912"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(!list.contains(&key));
    // The API: the number in a JSON body; refused in a query string.
    let r = c
        .post(srv.url("/api/v1/subjects/lookup"))
        .header("x-csrf-token", csrf.as_str())
        .json(&serde_json::json!({ "id_number": id_number }))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<serde_json::Value>().unwrap()["code"], key.as_str());
    let r = c
        .get(srv.url(&format!("/api/v1/subjects?q={id_number}")))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body = r.text().unwrap();
    assert!(
        body.contains("/subjects/lookup") || body.contains("按证件号码查找"),
        "{body}"
    );
    assert!(!body.contains(id_number), "{body}");

    // A change keeps the key and the number (an empty number field keeps it).
    let r = c
        .post(srv.url(&at))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("version", "1"),
            ("code", key.as_str()),
            ("name", "王会计"),
            ("person_id", ""),
            ("address", "四川省广元市昭化区"),
            ("reason", "住址变更"),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().unwrap_or_default());
    let system = xinjian_app::Actor::System("t".into());
    let v = srv.app.subject(&system, &key).unwrap();
    assert_eq!(
        (v.version, v.address.as_deref()),
        (2, Some("四川省广元市昭化区"))
    );
    assert_eq!(
        srv.app
            .reveal_id_number(&system, &key, "测试")
            .unwrap()
            .as_deref(),
        Some(id_number)
    );

    // Not graded through the API either.
    let r = c
        .get(srv.url(&format!("/api/v1/subjects/{key}/grade")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 422);

    // A department pushes a penalty on the person (by ID number): stored under the key.
    let r = srv
        .client()
        .post(srv.url("/api/v1/records"))
        .bearer_auth(&srv.department_token)
        .json(&serde_json::json!({ "records": [{
            "kind": "penalty", "code": "", "person_id": id_number, "name": "王会计",
            "document_number": "利财罚〔2026〕88号", "decision_date": "2026-01-05",
            "categories": "罚款", "authority": "广元市利州区财政局" }] }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(
        (v["imported"].as_i64(), v["persons"].as_i64()),
        (Some(1), Some(0)),
        "{v}"
    );
    // The exchange export: the number in full for the regulator (who may read personal data),
    // masked for the credit office (who may export but not read ID numbers).
    let export = |c: &reqwest::blocking::Client| -> String {
        c.get(srv.url("/export/download?what=records&format=json&since=2026-01-01"))
            .send()
            .unwrap()
            .text()
            .unwrap()
    };
    assert!(export(&c).contains(id_number));
    let (office, _) = srv.login("t_credit_office");
    let masked = export(&office);
    assert!(
        masked.contains("利财罚〔2026〕88号") && masked.contains("110105********002X"),
        "{masked}"
    );
    assert!(!masked.contains(id_number));
    let credit = c
        .get(srv.url(&format!("/api/v1/subjects/{key}/credit")))
        .send()
        .unwrap();
    assert!(credit.text().unwrap().contains("利财罚〔2026〕88号"));

    // The portal knows nothing of the person: not by key, name or number, nor the penalty.
    let public = srv.client();
    let list = public
        .get(srv.url("/public/penalties"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(!list.contains("利财罚〔2026〕88号") && !list.contains("王会计"));
    for path in [
        format!("/s/{key}"),
        format!("/api/v1/public/subjects/{key}"),
    ] {
        assert_eq!(
            public.get(srv.url(&path)).send().unwrap().status(),
            404,
            "{path}"
        );
    }
    for path in [
        "/api/v1/public/search?q=%E7%8E%8B%E4%BC%9A%E8%AE%A1".to_owned(),
        "/search?q=%E7%8E%8B%E4%BC%9A%E8%AE%A1".to_owned(),
        format!("/api/v1/public/search?q={key}"),
        format!("/api/v1/public/search?q={id_number}"),
    ] {
        let body = public.get(srv.url(&path)).send().unwrap().text().unwrap();
        assert!(
            !body.contains(&key) && !body.contains("110105"),
            "{path}: {body}"
        );
    }
}
