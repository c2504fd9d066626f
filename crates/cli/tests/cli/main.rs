//! Integration tests of the `xinjian` command line, run against the built binary
//! (`env!("CARGO_BIN_EXE_xinjian")`) and checked from outside: exit status, stdout/stderr,
//! and the SQLite file read directly with rusqlite.
//!
//! Run: `cargo test -p xinjian --test cli`. The crash test writes a 300 000-row CSV
//! (override with `XINJIAN_CRASH_ROWS`). Some tests are regression tests for bugs found
//! while writing them.

mod support;

mod audit_demo;
mod calendar;
mod crash;
mod credit;
mod grading;
mod import;
mod uscc;
mod users;
