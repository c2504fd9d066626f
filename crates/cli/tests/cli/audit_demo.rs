//! `xinjian audit verify` (and tampering with the log behind its back) and `xinjian demo`.

use crate::support::*;

/// A database with exactly four audit entries:
/// 1 user.create, 2 user.create, 3 subject.import.start, 4 subject.import.chunk.
fn four_entries() -> Fixture {
    let fx = Fixture::new();
    for name in ["alice", "bob"] {
        fx.xj_db_stdin(
            &["user", "add", "--name", name, "--role", "regulator"],
            Some(b"a long password\n"),
        )
        .assert_success();
    }
    let file = fx.write("sample.csv", SAMPLE_CSV);
    fx.import(&file, &[]).assert_summary(4, 0, 0, 0);
    let actions: Vec<String> = {
        let c = fx.conn();
        let mut st = c
            .prepare("SELECT action FROM audit_log ORDER BY seq")
            .unwrap();
        let v = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        v
    };
    assert_eq!(
        actions,
        [
            "user.create",
            "user.create",
            "subject.import.start",
            "subject.import.chunk"
        ]
    );
    fx
}

fn verify(fx: &Fixture) -> Run {
    fx.xj_db(&["audit", "verify"])
}

fn assert_broken_at(fx: &Fixture, entry: i64) -> String {
    let r = verify(fx);
    assert_eq!(r.status.code(), Some(1), "{}", r.describe());
    let prefix = format!("broken at entry {entry}: ");
    assert!(
        r.last_line().starts_with(&prefix) && r.last_line().len() > prefix.len(),
        "expected `{prefix}…`:\n{}",
        r.describe()
    );
    r.last_line().to_owned()
}

#[test]
fn verify_reports_ok_and_the_number_of_entries() {
    let fx = Fixture::new();
    fx.xj_db(&["migrate"]).assert_success();
    let r = verify(&fx);
    r.assert_success();
    assert_eq!(r.last_line(), "ok 0 entries");

    let fx = four_entries();
    let r = verify(&fx);
    r.assert_success();
    assert_eq!(r.last_line(), "ok 4 entries");
    // Verifying does not add entries.
    assert_eq!(verify(&fx).last_line(), "ok 4 entries");
}

#[test]
fn a_modified_entry_is_found() {
    let fx = four_entries();
    let original: String = fx
        .conn()
        .query_row("SELECT detail FROM audit_log WHERE seq = 2", [], |r| {
            r.get(0)
        })
        .unwrap();
    fx.conn()
        .execute(
            "UPDATE audit_log SET detail = ?1 WHERE seq = 2",
            [original.replace("regulator", "admin")],
        )
        .unwrap();
    let line = assert_broken_at(&fx, 2);
    assert!(line.contains("modified"), "{line}");
    // Restoring the original content restores the chain.
    fx.conn()
        .execute(
            "UPDATE audit_log SET detail = ?1 WHERE seq = 2",
            [&original],
        )
        .unwrap();
    assert_eq!(verify(&fx).last_line(), "ok 4 entries");

    // The last entry, too.
    fx.conn()
        .execute(
            "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 4",
            [],
        )
        .unwrap();
    assert_broken_at(&fx, 4);
}

#[test]
fn a_deleted_entry_is_found() {
    let fx = four_entries();
    fx.conn()
        .execute("DELETE FROM audit_log WHERE seq = 3", [])
        .unwrap();
    assert_broken_at(&fx, 3);

    let fx = four_entries();
    fx.conn()
        .execute("DELETE FROM audit_log WHERE seq = 1", [])
        .unwrap();
    assert_broken_at(&fx, 1);
}

#[test]
fn deleting_the_last_entry_is_found() {
    let fx = four_entries();
    fx.conn()
        .execute("DELETE FROM audit_log WHERE seq = 4", [])
        .unwrap();
    assert_broken_at(&fx, 4);
}

fn codes(fx: &Fixture) -> Vec<String> {
    let c = fx.conn();
    let mut st = c
        .prepare("SELECT code FROM subjects ORDER BY code")
        .unwrap();
    let v = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    v
}

fn demo(fx: &Fixture, n: &str, seed: &str) -> Run {
    let r = fx.xj_db(&["demo", "--subjects", n, "--seed", seed]);
    r.assert_success();
    r
}

#[test]
fn demo_twice_imports_nothing_new_and_the_seed_decides_the_codes() {
    let a = Fixture::new();
    let r = demo(&a, "300", "7");
    assert!(
        r.stdout.contains(&summary(300, 0, 0, 0)),
        "{}",
        r.describe()
    );
    assert_eq!(a.subjects(), 300);
    let r = demo(&a, "300", "7");
    assert!(
        r.stdout.contains(&summary(0, 0, 300, 0)),
        "second run: all unchanged\n{}",
        r.describe()
    );
    assert_eq!(a.subjects(), 300);
    assert_eq!(a.all_versions(), 300, "one version each");
    // The demo accounts are created once.
    let users = a.count("SELECT count(*) FROM users");
    assert!(users > 0);
    demo(&a, "300", "7");
    assert_eq!(a.count("SELECT count(*) FROM users"), users);

    // The same seed in another database: the same codes.
    let b = Fixture::new();
    demo(&b, "300", "7");
    let codes_a = codes(&a);
    assert_eq!(codes_a.len(), 300);
    assert_eq!(codes_a, codes(&b));

    // Another seed: other codes.
    let c = Fixture::new();
    demo(&c, "300", "8");
    assert_ne!(codes_a, codes(&c));

    a.integrity_ok();
    a.audit_ok();
}
