//! Walks every route of the route table with every role (and the public) and asserts the
//! allowed/denied matrix against the permission table in `xinjian_core::role`.

mod common;

use common::TestServer;
use xinjian_core::role::{allows, Role};
use xinjian_web::routes::{Access, ROUTES};

/// Ids that do not exist: a route must be refused or reached without changing anything.
fn concrete(path: &str, code: &str) -> String {
    path.replace("{code}", code)
        .replace("{id}", "999999")
        .replace("{file}", "app.css")
}

#[test]
fn every_route_with_every_role() {
    let srv = TestServer::start();
    let mut sessions = Vec::new();
    for role in Role::ALL {
        if role == Role::Department {
            continue;
        }
        let (c, csrf) = srv.login(&format!("t_{}", role.as_str()));
        sessions.push((Some(role), c, csrf, None));
    }
    sessions.push((
        Some(Role::Department),
        srv.client(),
        String::new(),
        Some(srv.department_token.clone()),
    ));
    sessions.push((None, srv.client(), String::new(), None));

    // Logout last, so that it does not end the sessions the other routes need.
    let mut routes: Vec<_> = ROUTES.iter().collect();
    routes.sort_by_key(|r| r.path == "/logout");
    let mut checked = 0;
    for (role, client, csrf, bearer) in &sessions {
        for r in &routes {
            let url = srv.url(&concrete(r.path, &srv.agency_code));
            let mut req = match r.method {
                "GET" => client.get(&url),
                "PUT" => client
                    .put(&url)
                    .header("x-csrf-token", csrf.as_str())
                    .header("content-type", "application/json"),
                "POST" => client
                    .post(&url)
                    .header("x-csrf-token", csrf.as_str())
                    .header("content-type", "application/x-www-form-urlencoded"),
                m => panic!("method {m}"),
            };
            if let Some(t) = bearer {
                req = req.bearer_auth(t);
            }
            let status = req.send().unwrap().status().as_u16();
            let allowed = match (r.access, role) {
                (Access::Public, _) => true,
                (Access::Login, Some(_)) => true,
                (Access::Login, None) => false,
                (Access::Any(perms), Some(role)) => perms.iter().any(|p| allows(*role, *p)),
                (Access::Any(_), None) => false,
            };
            let who = role.map(|r| r.as_str()).unwrap_or("public");
            if allowed {
                assert!(
                    !matches!(status, 401 | 403) && status < 500,
                    "{who} should reach {} {} but got {status}",
                    r.method,
                    r.path
                );
            } else if role.is_none() {
                let expect_redirect = r.method == "GET" && !r.path.starts_with("/api/");
                let ok = if expect_redirect {
                    status == 303
                } else {
                    status == 401
                };
                assert!(ok, "public on {} {} got {status}", r.method, r.path);
            } else {
                assert_eq!(status, 403, "{who} must be refused {} {}", r.method, r.path);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, ROUTES.len() * (Role::ALL.len() + 1));
}

#[test]
fn entity_sees_only_its_own_subject() {
    let srv = TestServer::start();
    let (c, _) = srv.login("t_entity");
    let own = c
        .get(srv.url(&format!("/api/v1/subjects/{}", srv.agency_code)))
        .send()
        .unwrap();
    assert_eq!(own.status(), 200);
    let other = c
        .get(srv.url(&format!("/api/v1/subjects/{}", srv.other_code)))
        .send()
        .unwrap();
    assert_eq!(other.status(), 403);
    assert_eq!(other.headers()["content-type"], "application/problem+json");
}
