//! Persistence for Xinjian: one query layer over embedded SQLite and PostgreSQL.
//!
//! Every query is written once, in the portable SQL subset both engines share, with `?`
//! placeholders (rewritten to `$n` for PostgreSQL). Values cross the boundary as [`Value`]
//! and come back as [`Row`]s. The backend is chosen by the database URL (see [`Db::open`]).
//! Schema changes are per-backend migration files run by [`Db::migrate`]. The modules below
//! hold the queries of each domain; they take a `&mut Conn` so that the caller (the app
//! layer) decides the transaction.

mod db;
mod error;
mod migrate;
mod value;

pub mod audit;
pub mod calendar;
pub mod credit;
pub mod digests;
pub mod grading;
pub mod imports;
pub mod subjects;
pub mod users;

pub use db::{Backend, Checkpointer, Conn, Db, PooledConn, BUSY_TIMEOUT};
pub use error::StoreError;
pub use migrate::latest_version;
pub use value::{FromValue, Row, Value};

/// Shorthand for results of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Build a parameter list: `params![a, b, c]` → `Vec<Value>`.
#[macro_export]
macro_rules! params {
    () => { ::std::vec::Vec::<$crate::Value>::new() };
    ($($x:expr),+ $(,)?) => { ::std::vec![$($crate::Value::from($x)),+] };
}
