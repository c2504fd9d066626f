//! `xinjian migrate` and `xinjian user add`.

use crate::support::*;

#[test]
fn migrate_twice_second_is_up_to_date() {
    let fx = Fixture::new();
    let url = fx.url();
    let r = fx.xj(&["migrate", "--db", &url]);
    r.assert_success();
    assert!(r.last_line().starts_with("applied "), "{}", r.describe());
    let applied = r
        .last_line()
        .trim_start_matches("applied ")
        .split(", ")
        .count() as i64;
    assert!(
        r.last_line().contains("0001_foundation") && r.last_line().contains("0002_credit"),
        "{}",
        r.describe()
    );
    let r = fx.xj(&["migrate", "--db", &url]);
    r.assert_success();
    assert!(r.last_line().contains("up to date"), "{}", r.describe());
    // The schema is there.
    assert_eq!(fx.subjects(), 0);
    assert_eq!(fx.count("SELECT count(*) FROM schema_migrations"), applied);
}

fn add_user(fx: &Fixture, args: &[&str], password: &str) -> Run {
    let mut all = vec!["user", "add"];
    all.extend_from_slice(args);
    fx.xj_db_stdin(&all, Some(password.as_bytes()))
}

fn users(fx: &Fixture) -> i64 {
    fx.count("SELECT count(*) FROM users")
}

#[test]
fn user_add_reads_the_password_from_stdin() {
    let fx = Fixture::new();
    let r = add_user(
        &fx,
        &[
            "--name",
            "wangke",
            "--role",
            "regulator",
            "--department",
            "财政局会计科",
        ],
        "correct horse battery\n",
    );
    r.assert_success();
    assert!(r.stdout.contains("wangke"), "{}", r.describe());
    let (role, dept, hash): (String, Option<String>, String) = fx
        .conn()
        .query_row(
            "SELECT role, department, password_hash FROM users WHERE username = 'wangke'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("the user row");
    assert_eq!(role, "regulator");
    assert_eq!(dept.as_deref(), Some("财政局会计科"));
    assert!(
        !hash.contains("correct horse"),
        "the password is stored hashed"
    );
    assert!(hash.starts_with("$argon2"), "{hash}");
    // Creating a user is audited.
    assert_eq!(fx.audit_ok(), 1);

    // A second account without a department.
    add_user(&fx, &["--name", "admin2", "--role", "admin"], "12345678").assert_success();
    assert_eq!(users(&fx), 2);
}

#[test]
fn user_add_unknown_role_fails() {
    let fx = Fixture::new();
    fx.xj_db(&["migrate"]).assert_success();
    let r = add_user(
        &fx,
        &["--name", "someone", "--role", "superuser"],
        "long enough password\n",
    );
    r.assert_failure();
    assert!(has_chinese(&r.stderr), "{}", r.describe());
    assert!(r.stderr.contains("superuser"), "{}", r.describe());
    assert_eq!(users(&fx), 0);
}

#[test]
fn user_add_short_password_fails() {
    let fx = Fixture::new();
    fx.xj_db(&["migrate"]).assert_success();
    // 7 characters (the newline is not part of the password).
    let r = add_user(
        &fx,
        &["--name", "shorty", "--role", "inspector"],
        "1234567\n",
    );
    r.assert_failure();
    assert!(has_chinese(&r.stderr), "{}", r.describe());
    assert_eq!(users(&fx), 0);
    // An empty stdin.
    let r = add_user(&fx, &["--name", "shorty", "--role", "inspector"], "");
    r.assert_failure();
    assert_eq!(users(&fx), 0);
    // Exactly 8 is enough.
    add_user(
        &fx,
        &["--name", "shorty", "--role", "inspector"],
        "12345678\n",
    )
    .assert_success();
    assert_eq!(users(&fx), 1);
}

#[test]
fn user_add_duplicate_name_fails() {
    let fx = Fixture::new();
    add_user(&fx, &["--name", "dup", "--role", "admin"], "password-1\n").assert_success();
    let r = add_user(&fx, &["--name", "dup", "--role", "admin"], "password-2\n");
    r.assert_failure();
    assert!(has_chinese(&r.stderr), "{}", r.describe());
    assert_eq!(users(&fx), 1);
}
