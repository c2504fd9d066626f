use thiserror::Error;

/// Errors from the storage layer. Callers map `Conflict` and `NotFound` to user errors;
/// everything else is an internal failure.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {}", pg_detail(.0))]
    Postgres(#[from] postgres::Error),
    #[error("数据库地址无效：{0}")]
    BadUrl(String),
    #[error("记录不存在")]
    NotFound,
    #[error("唯一性冲突：{0}")]
    Conflict(String),
    #[error("列 {index} 的类型不符：期望 {expected}，实际 {actual}")]
    Type {
        index: usize,
        expected: &'static str,
        actual: &'static str,
    },
    #[error("数据库迁移失败：{0}")]
    Migration(String),
    /// Stored derived data that cannot be read (a grading digest).
    #[error("存储的数据已损坏：{0}")]
    Damaged(String),
    #[error("事务中有语句失败，整个事务已回滚")]
    Aborted,
    #[error("I/O：{0}")]
    Io(#[from] std::io::Error),
}

/// The server's message when there is one ("db error" alone says nothing).
fn pg_detail(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

impl StoreError {
    /// True when the store was too busy to answer in time: SQLite's write lock held by another
    /// connection past the busy timeout, or on PostgreSQL a lock timeout, a deadlock or a
    /// serialization failure. Worth trying again a little later; nothing was written.
    pub fn is_busy(&self) -> bool {
        use postgres::error::SqlState;
        match self {
            // (Not SQLITE_LOCKED: without a shared cache it is a conflict inside one
            // connection, a defect to report, not a wait.)
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::DatabaseBusy
            }
            StoreError::Postgres(e) => e.code().is_some_and(|c| {
                [
                    SqlState::LOCK_NOT_AVAILABLE,
                    SqlState::T_R_DEADLOCK_DETECTED,
                    SqlState::T_R_SERIALIZATION_FAILURE,
                ]
                .contains(c)
            }),
            _ => false,
        }
    }

    /// True when the error is a unique-constraint violation in either backend.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Conflict(_) => true,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            StoreError::Postgres(e) => {
                e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
            }
            _ => false,
        }
    }
}
