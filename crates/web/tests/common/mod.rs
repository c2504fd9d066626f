//! Test harness: the real server on port 0 over a fresh SQLite store, with one account per role.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::mpsc;

use xinjian_app::accounts::NewAccount;
use xinjian_app::{Actor, App};
use xinjian_core::role::Role;

pub const PASSWORD: &str = "correct-horse-battery";

pub struct TestServer {
    pub base: String,
    pub app: App,
    pub agency_code: String,
    pub other_code: String,
    pub department_token: String,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = App::open(
            &format!("sqlite:{}", dir.path().join("t.db").display()),
            dir.path(),
        )
        .expect("open app");
        let system = Actor::System("test".into());
        // A small jurisdiction through the real demo path (no accounts needed from it).
        let report = app.load_demo(60, 7, &mut |_| {}).expect("demo");
        assert_eq!(report.import.counts.imported, 60);
        let mut rng = xinjian_app::demo::DemoRng::new(7);
        let codes: Vec<String> = (0..60)
            .map(|i| xinjian_app::demo::subject(&mut rng, i).code)
            .collect();
        let agency_code = codes[0].clone();
        let other_code = codes[1].clone();
        for role in Role::ALL {
            let name = format!("t_{}", role.as_str());
            app.create_user(
                &system,
                &NewAccount {
                    username: name,
                    display_name: role.label().into(),
                    role,
                    department: Some("测试部门".into()),
                    subject_code: (role == Role::Entity).then(|| agency_code.clone()),
                    password: PASSWORD.into(),
                },
            )
            .expect("create user");
        }
        let dept = xinjian_store::users::by_username(&mut app.db.conn().unwrap(), "t_department")
            .unwrap()
            .unwrap();
        let department_token = app.issue_token(&system, dept.id, "测试").expect("token");
        let (tx, rx) = mpsc::channel::<SocketAddr>();
        let served = app.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                xinjian_web::serve(served, "127.0.0.1:0".parse().unwrap(), |addr| {
                    tx.send(addr).unwrap()
                })
                .await
                .unwrap();
            });
        });
        let addr = rx.recv().expect("server started");
        TestServer {
            base: format!("http://{addr}"),
            app,
            agency_code,
            other_code,
            department_token,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A client without redirects and with its own cookie jar.
    pub fn client(&self) -> reqwest::blocking::Client {
        reqwest::blocking::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Log in through the form; returns the client and its CSRF token (read from a page).
    pub fn login(&self, username: &str) -> (reqwest::blocking::Client, String) {
        let c = self.client();
        let r = c
            .post(self.url("/login"))
            .form(&[("username", username), ("password", PASSWORD), ("next", "")])
            .send()
            .unwrap();
        assert_eq!(
            r.status(),
            303,
            "login of {username}: {}",
            r.text().unwrap_or_default()
        );
        let csrf = self.csrf_of(&c);
        (c, csrf)
    }

    pub fn csrf_of(&self, c: &reqwest::blocking::Client) -> String {
        let token = self.app.db.conn().unwrap();
        drop(token);
        // The CSRF token is embedded in every page with a form (the logout button).
        let html = c.get(self.url("/")).send().unwrap().text().unwrap();
        let i = html
            .find("name=\"_csrf\" value=\"")
            .expect("csrf field on page");
        let rest = &html[i + 20..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

/// Download an Excel workbook with `client`: status 200 and the XLSX content type; its header
/// row and the rows after it, as text.
pub fn get_xlsx(client: &reqwest::blocking::Client, url: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let r = client.get(url).send().unwrap();
    assert_eq!(r.status(), 200, "{url}");
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let bytes = r.bytes().unwrap();
    assert_eq!(&bytes[..2], b"PK", "a zip container");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("download.xlsx");
    std::fs::write(&path, &bytes).unwrap();
    let mut t = xinjian_app::sources::TableReader::open(&path).unwrap();
    let mut rows = Vec::new();
    while let Some((_, row)) = t.next_row().unwrap() {
        rows.push(row.unwrap());
    }
    (t.header.clone(), rows)
}
