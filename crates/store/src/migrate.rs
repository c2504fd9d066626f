//! Schema migrations, one ordered list per backend, embedded in the binary.

use crate::{Backend, Conn, Db, Result, StoreError, Value};

/// `(version, sql)` pairs in order. A version is never edited once released: add a new one.
const SQLITE: &[(&str, &str)] = &[
    (
        "0001_foundation",
        include_str!("../migrations/sqlite/0001_foundation.sql"),
    ),
    (
        "0002_credit",
        include_str!("../migrations/sqlite/0002_credit.sql"),
    ),
    (
        "0003_grading",
        include_str!("../migrations/sqlite/0003_grading.sql"),
    ),
    (
        "0004_persons",
        include_str!("../migrations/sqlite/0004_persons.sql"),
    ),
    (
        "0005_subject_history",
        include_str!("../migrations/sqlite/0005_subject_history.sql"),
    ),
    (
        "0006_grading_facts",
        include_str!("../migrations/sqlite/0006_grading_facts.sql"),
    ),
    (
        "0007_record_history",
        include_str!("../migrations/sqlite/0007_record_history.sql"),
    ),
    (
        "0008_grading_digests",
        include_str!("../migrations/sqlite/0008_grading_digests.sql"),
    ),
    (
        "0009_evaluations_without_foreign_keys",
        include_str!("../migrations/sqlite/0009_evaluations_without_foreign_keys.sql"),
    ),
    (
        "0010_changed_records_by_subject",
        include_str!("../migrations/sqlite/0010_changed_records_by_subject.sql"),
    ),
    (
        "0011_change_days_only",
        include_str!("../migrations/sqlite/0011_change_days_only.sql"),
    ),
    (
        "0012_name_index_merges",
        include_str!("../migrations/sqlite/0012_name_index_merges.sql"),
    ),
    (
        "0013_digest_subjects",
        include_str!("../migrations/sqlite/0013_digest_subjects.sql"),
    ),
    (
        "0014_flagged_codes",
        include_str!("../migrations/sqlite/0014_flagged_codes.sql"),
    ),
    (
        "0015_records_awaiting_publication",
        include_str!("../migrations/sqlite/0015_records_awaiting_publication.sql"),
    ),
    (
        "0016_bookkeeping_scope",
        include_str!("../migrations/sqlite/0016_bookkeeping_scope.sql"),
    ),
    (
        "0017_bookkeeping_products",
        include_str!("../migrations/sqlite/0017_bookkeeping_products.sql"),
    ),
];
const POSTGRES: &[(&str, &str)] = &[
    (
        "0001_foundation",
        include_str!("../migrations/postgres/0001_foundation.sql"),
    ),
    (
        "0002_credit",
        include_str!("../migrations/postgres/0002_credit.sql"),
    ),
    (
        "0003_grading",
        include_str!("../migrations/postgres/0003_grading.sql"),
    ),
    (
        "0004_persons",
        include_str!("../migrations/postgres/0004_persons.sql"),
    ),
    (
        "0005_subject_history",
        include_str!("../migrations/postgres/0005_subject_history.sql"),
    ),
    (
        "0006_grading_facts",
        include_str!("../migrations/postgres/0006_grading_facts.sql"),
    ),
    (
        "0007_record_history",
        include_str!("../migrations/postgres/0007_record_history.sql"),
    ),
    (
        "0008_grading_digests",
        include_str!("../migrations/postgres/0008_grading_digests.sql"),
    ),
    (
        "0009_evaluations_without_foreign_keys",
        include_str!("../migrations/postgres/0009_evaluations_without_foreign_keys.sql"),
    ),
    (
        "0010_changed_records_by_subject",
        include_str!("../migrations/postgres/0010_changed_records_by_subject.sql"),
    ),
    (
        "0011_change_days_only",
        include_str!("../migrations/postgres/0011_change_days_only.sql"),
    ),
    (
        "0012_name_index_merges",
        include_str!("../migrations/postgres/0012_name_index_merges.sql"),
    ),
    (
        "0013_digest_subjects",
        include_str!("../migrations/postgres/0013_digest_subjects.sql"),
    ),
    (
        "0014_flagged_codes",
        include_str!("../migrations/postgres/0014_flagged_codes.sql"),
    ),
    (
        "0015_records_awaiting_publication",
        include_str!("../migrations/postgres/0015_records_awaiting_publication.sql"),
    ),
    (
        "0016_bookkeeping_scope",
        include_str!("../migrations/postgres/0016_bookkeeping_scope.sql"),
    ),
    (
        "0017_bookkeeping_products",
        include_str!("../migrations/postgres/0017_bookkeeping_products.sql"),
    ),
];

/// Data steps that follow a schema version, written in Rust because their content lives in
/// the core crate (one place for the defaults).
fn after(conn: &mut Conn, version: &str) -> Result<()> {
    if version == "0002_credit" {
        let now = chrono::Utc::now().to_rfc3339();
        crate::credit::seed_defaults(conn, &now)?;
        crate::subjects::rebuild_name_index(conn)?;
    }
    if version == "0003_grading" {
        let now = chrono::Utc::now().to_rfc3339();
        crate::grading::seed_rules(conn, &now)?;
    }
    if version == "0008_grading_digests" {
        crate::digests::rebuild(conn)?;
    }
    if version == "0016_bookkeeping_scope" || version == "0017_bookkeeping_products" {
        crate::subjects::mark_bookkeeping(conn, version)?;
    }
    Ok(())
}

/// Arbitrary key for the PostgreSQL advisory lock that serialises concurrent migrators.
const MIGRATION_LOCK: i64 = 0x78696e6a69616e; // "xinjian"

impl Db {
    /// Apply the migrations not yet applied; returns the versions applied now.
    pub fn migrate(&self) -> Result<Vec<String>> {
        let mut conn = self.conn()?;
        migrate_conn(&mut conn)
    }
}

pub(crate) fn migrate_conn(conn: &mut Conn) -> Result<Vec<String>> {
    let list = match conn.backend() {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    conn.transaction(|tx| {
        // Under the lock, so that concurrent first migrations do not race on creating it.
        tx.lock_chain(MIGRATION_LOCK)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)",
        )?;
        let done: Vec<String> = tx
            .query(
                "SELECT version FROM schema_migrations ORDER BY version",
                &[],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect::<Result<_>>()?;
        // A database migrated by a newer build: this one would write without what the newer
        // schema keeps up (e.g. the grading digests of 0008) — refuse instead.
        if let Some(unknown) = done.iter().find(|d| !list.iter().any(|(v, _)| v == d)) {
            return Err(StoreError::Migration(format!(
                "数据库结构版本 {unknown} 比本程序新（本程序最高 {}），请使用新版程序",
                list.last().map(|(v, _)| *v).unwrap_or("")
            )));
        }
        let mut applied = Vec::new();
        for (version, sql) in list {
            if done.iter().any(|d| d == version) {
                continue;
            }
            tx.execute_batch(sql)
                .map_err(|e| StoreError::Migration(format!("{version}: {e}")))?;
            after(tx, version)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                &[
                    Value::from(*version),
                    Value::from(chrono::Utc::now().to_rfc3339()),
                ],
            )?;
            applied.push((*version).to_owned());
        }
        Ok(applied)
    })
}

/// The latest schema version this build knows.
pub fn latest_version() -> &'static str {
    SQLITE.last().map(|(v, _)| *v).unwrap_or("")
}
