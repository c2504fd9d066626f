use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use postgres::types::{IsNull, ToSql, Type};

use crate::{Result, Row, StoreError, Value};

/// How long an SQLite writer waits for the write lock before it gives up (`SQLITE_BUSY`).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Which engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A handle to the database: a small pool of connections, cheap to clone.
///
/// `Db::open("postgres://…")` selects PostgreSQL; anything else (`sqlite:PATH`,
/// `sqlite://PATH` or a bare path) is an embedded SQLite file in WAL mode.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    target: Target,
    idle: Mutex<PoolState>,
    available: Condvar,
    max: usize,
}

struct PoolState {
    idle: Vec<Conn>,
    open: usize,
}

enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Db {
    /// Open a database by URL. For SQLite the parent directory is created if needed.
    pub fn open(url: &str) -> Result<Db> {
        let url = url.trim();
        let (backend, target) =
            if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                (Backend::Postgres, Target::Postgres(url.to_owned()))
            } else {
                let path = url
                    .strip_prefix("sqlite://")
                    .or_else(|| url.strip_prefix("sqlite:"))
                    .unwrap_or(url);
                if path.is_empty() {
                    return Err(StoreError::BadUrl("SQLite 文件路径为空".into()));
                }
                let path = PathBuf::from(path);
                if let Some(parent) = path.parent() {
                    if !parent.as_os_str().is_empty() {
                        std::fs::create_dir_all(parent)?;
                    }
                }
                (Backend::Sqlite, Target::Sqlite(path))
            };
        let max = match backend {
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        };
        let db = Db {
            inner: Arc::new(Inner {
                backend,
                target,
                idle: Mutex::new(PoolState {
                    idle: Vec::new(),
                    open: 0,
                }),
                available: Condvar::new(),
                max,
            }),
        };
        // Fail fast on a bad URL or an unreachable server.
        drop(db.conn()?);
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// A description safe to print (no password).
    pub fn describe(&self) -> String {
        match &self.inner.target {
            Target::Sqlite(p) => format!("sqlite:{}", p.display()),
            Target::Postgres(url) => redact_url(url),
        }
    }

    /// The SQLite file path, if this is SQLite.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match &self.inner.target {
            Target::Sqlite(p) => Some(p),
            Target::Postgres(_) => None,
        }
    }

    /// Take a connection from the pool (opening one if the pool is not full, else waiting).
    pub fn conn(&self) -> Result<PooledConn> {
        let mut state = self.inner.idle.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(PooledConn {
                    conn: Some(conn),
                    db: self.clone(),
                });
            }
            if state.open < self.inner.max {
                state.open += 1;
                drop(state);
                return match self.connect() {
                    Ok(conn) => Ok(PooledConn {
                        conn: Some(conn),
                        db: self.clone(),
                    }),
                    Err(e) => {
                        let mut s = self.inner.idle.lock().unwrap_or_else(|e| e.into_inner());
                        s.open -= 1;
                        self.inner.available.notify_one();
                        Err(e)
                    }
                };
            }
            state = self
                .inner
                .available
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Open a fresh connection outside the pool (for long bulk jobs).
    pub fn connect(&self) -> Result<Conn> {
        match &self.inner.target {
            Target::Sqlite(path) => {
                let c = rusqlite::Connection::open(path)?;
                c.busy_timeout(BUSY_TIMEOUT)?;
                c.execute_batch(
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; \
                     PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536;",
                )?;
                c.set_prepared_statement_cache_capacity(256);
                Ok(Conn {
                    kind: ConnKind::Sqlite(c),
                    depth: 0,
                    failed: false,
                    digests: crate::digests::Pending::default(),
                })
            }
            Target::Postgres(url) => {
                let client = postgres::Client::connect(url, postgres::NoTls)?;
                Ok(Conn {
                    kind: ConnKind::Postgres(Box::new(PgConn {
                        client,
                        cache: HashMap::new(),
                    })),
                    depth: 0,
                    failed: false,
                    digests: crate::digests::Pending::default(),
                })
            }
        }
    }

    fn give_back(&self, conn: Conn) {
        let mut state = self.inner.idle.lock().unwrap_or_else(|e| e.into_inner());
        if conn.depth == 0 && conn.is_healthy() {
            state.idle.push(conn);
        } else {
            state.open -= 1;
        }
        self.inner.available.notify_one();
    }
}

fn redact_url(url: &str) -> String {
    // postgres://user:secret@host/db → postgres://user:***@host/db
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        if let Some(at) = rest.find('@') {
            let creds = &rest[..at];
            if let Some(colon) = creds.find(':') {
                return format!(
                    "{}://{}:***{}",
                    &url[..scheme_end],
                    &creds[..colon],
                    &rest[at..]
                );
            }
        }
    }
    url.to_owned()
}

/// A connection borrowed from the pool; returned on drop.
pub struct PooledConn {
    conn: Option<Conn>,
    db: Db,
}

impl Deref for PooledConn {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn.as_ref().expect("connection present until drop")
    }
}
impl DerefMut for PooledConn {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("connection present until drop")
    }
}
impl Drop for PooledConn {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.db.give_back(c);
        }
    }
}

/// One database connection of either backend. All queries go through these methods.
pub struct Conn {
    kind: ConnKind,
    depth: u32,
    /// PostgreSQL: a statement failed inside the current transaction, which PostgreSQL has
    /// therefore aborted; committing it must fail rather than silently roll back.
    failed: bool,
    /// PostgreSQL: the grading-digest work of the current transaction, done just before it
    /// commits (see [`crate::digests::Pending`]).
    pub(crate) digests: crate::digests::Pending,
}

enum ConnKind {
    Sqlite(rusqlite::Connection),
    Postgres(Box<PgConn>),
}

struct PgConn {
    client: postgres::Client,
    cache: HashMap<String, postgres::Statement>,
}

impl PgConn {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.cache.get(sql) {
            return Ok(s.clone());
        }
        let stmt = self.client.prepare(&rewrite_placeholders(sql))?;
        if self.cache.len() > 512 {
            self.cache.clear();
        }
        self.cache.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }
}

impl Conn {
    pub fn backend(&self) -> Backend {
        match self.kind {
            ConnKind::Sqlite(_) => Backend::Sqlite,
            ConnKind::Postgres(_) => Backend::Postgres,
        }
    }

    fn is_healthy(&self) -> bool {
        match &self.kind {
            ConnKind::Sqlite(_) => true,
            ConnKind::Postgres(pg) => !pg.client.is_closed(),
        }
    }

    /// Run a statement; returns the number of rows changed.
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let r = self.execute_inner(sql, params);
        self.note(r)
    }

    /// Insert many rows with a one-row `INSERT … VALUES (…)` statement written once: as
    /// `VALUES (…), (…), …` with as many rows per statement as PostgreSQL's parameter limit
    /// allows (one round trip each instead of one a row). `rows` holds each row's parameters.
    pub fn insert_many(&mut self, single_row_insert: &str, rows: &[Vec<Value>]) -> Result<()> {
        let Some((head, group)) = single_row_insert.split_once(" VALUES ") else {
            return Err(StoreError::Migration(format!(
                "insert_many needs an INSERT … VALUES (…): {single_row_insert}"
            )));
        };
        let Some(width) = rows.first().map(Vec::len).filter(|w| *w > 0) else {
            return Ok(());
        };
        // PostgreSQL takes at most 65,535 parameters a statement; fewer rows keep them small.
        let per = (60_000 / width).clamp(1, 500);
        for chunk in rows.chunks(per) {
            let sql = format!("{head} VALUES {}", vec![group; chunk.len()].join(", "));
            let ps: Vec<Value> = chunk.iter().flatten().cloned().collect();
            self.execute(&sql, &ps)?;
        }
        Ok(())
    }

    /// Remember a failure inside a PostgreSQL transaction (see [`Conn::transaction`]).
    fn note<T>(&mut self, r: Result<T>) -> Result<T> {
        if r.is_err() && self.depth > 0 && self.backend() == Backend::Postgres {
            self.failed = true;
        }
        r
    }

    fn execute_inner(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        match &mut self.kind {
            ConnKind::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let n = stmt.execute(rusqlite::params_from_iter(params.iter().map(SqliteParam)))?;
                Ok(n as u64)
            }
            ConnKind::Postgres(pg) => {
                let stmt = pg.statement(sql)?;
                let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
                Ok(pg.client.execute(&stmt, &refs)?)
            }
        }
    }

    /// Run a query and collect its rows.
    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let mut out = Vec::new();
        self.query_each(sql, params, |r| {
            out.push(r);
            Ok::<(), StoreError>(())
        })?;
        Ok(out)
    }

    /// Exactly one row, or [`StoreError::NotFound`].
    pub fn query_row(&mut self, sql: &str, params: &[Value]) -> Result<Row> {
        self.query_opt(sql, params)?.ok_or(StoreError::NotFound)
    }

    /// At most one row (the first).
    pub fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>> {
        let mut first = None;
        self.query_each(sql, params, |r| {
            if first.is_none() {
                first = Some(r);
            }
            Ok::<(), StoreError>(())
        })?;
        Ok(first)
    }

    /// Stream the rows of a query through `f` without collecting them.
    pub fn query_each<E>(
        &mut self,
        sql: &str,
        params: &[Value],
        mut f: impl FnMut(Row) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E>
    where
        E: From<StoreError>,
    {
        match &mut self.kind {
            ConnKind::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql).map_err(StoreError::from)?;
                let ncols = stmt.column_count();
                let mut rows = stmt
                    .query(rusqlite::params_from_iter(params.iter().map(SqliteParam)))
                    .map_err(StoreError::from)?;
                while let Some(r) = rows.next().map_err(StoreError::from)? {
                    let mut values = Vec::with_capacity(ncols);
                    for i in 0..ncols {
                        values.push(sqlite_value(r.get_ref(i).map_err(StoreError::from)?));
                    }
                    f(Row { values })?;
                }
                Ok(())
            }
            ConnKind::Postgres(pg) => match pg_query_each(pg, sql, params, &mut f) {
                Ok(()) => Ok(()),
                Err(QueryError::Callback(e)) => Err(e),
                Err(QueryError::Db(e)) => {
                    if self.depth > 0 {
                        self.failed = true;
                    }
                    Err(e.into())
                }
            },
        }
    }

    /// Run an `INSERT … RETURNING id` and return the id.
    pub fn insert_id(&mut self, sql: &str, params: &[Value]) -> Result<i64> {
        self.query_row(sql, params)?.get(0)
    }

    /// Execute several `;`-separated statements without parameters (migrations, pragmas).
    pub fn execute_batch(&mut self, sql: &str) -> Result<()> {
        let r = match &mut self.kind {
            ConnKind::Sqlite(c) => c.execute_batch(sql).map_err(StoreError::from),
            ConnKind::Postgres(pg) => pg.client.batch_execute(sql).map_err(StoreError::from),
        };
        self.note(r)
    }

    /// Run `f` in a transaction: committed if it returns `Ok`, rolled back otherwise.
    /// Nested calls use savepoints. SQLite transactions start `IMMEDIATE` (they take the
    /// write lock at once, so two writers never deadlock on an upgrade).
    pub fn transaction<T, E>(
        &mut self,
        f: impl FnOnce(&mut Conn) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E>
    where
        E: From<StoreError>,
    {
        let depth = self.depth;
        let begin = if depth > 0 {
            format!("SAVEPOINT sp{depth}")
        } else {
            match self.backend() {
                Backend::Sqlite => "BEGIN IMMEDIATE".to_owned(),
                // Pinned, whatever the server's default: the digest work at commit reads what
                // other transactions committed after it waited for their locks.
                Backend::Postgres => "BEGIN ISOLATION LEVEL READ COMMITTED".to_owned(),
            }
        };
        self.execute_batch(&begin)?;
        let mark = self.digests.mark();
        self.depth += 1;
        let mut result = f(self);
        self.depth -= 1;
        if depth == 0 && result.is_ok() && !self.failed {
            // The transaction's grading-digest work, all subjects' locks in one order.
            let pending = std::mem::take(&mut self.digests);
            if let Err(e) = crate::digests::flush(self, pending) {
                result = Err(e.into());
            }
        }
        match &result {
            Err(_) => self.digests.truncate(mark),
            Ok(_) if depth == 0 => self.digests = Default::default(),
            Ok(_) => {}
        }
        match result {
            Ok(_) if depth == 0 && self.failed => {
                // PostgreSQL aborted the transaction when a statement failed; the closure
                // swallowed that error, but COMMIT would now silently roll back.
                let _ = self.execute_batch("ROLLBACK");
                self.failed = false;
                Err(StoreError::Aborted.into())
            }
            Ok(v) => {
                let commit = if depth > 0 {
                    format!("RELEASE SAVEPOINT sp{depth}")
                } else {
                    "COMMIT".into()
                };
                if let Err(e) = self.execute_batch(&commit) {
                    if depth == 0 {
                        let _ = self.execute_batch("ROLLBACK");
                        self.failed = false;
                    }
                    return Err(e.into());
                }
                Ok(v)
            }
            Err(e) => {
                let rollback = if depth > 0 {
                    format!("ROLLBACK TO SAVEPOINT sp{depth}; RELEASE SAVEPOINT sp{depth}")
                } else {
                    "ROLLBACK".into()
                };
                // Rolling back to the savepoint recovers a PostgreSQL transaction aborted
                // after it; a top-level rollback ends the transaction.
                if self.execute_batch(&rollback).is_ok() || depth == 0 {
                    self.failed = false;
                }
                Err(e)
            }
        }
    }

    /// Run `f`, which only reads, on one consistent view of the database without taking the
    /// write lock: on SQLite a deferred transaction (its snapshot is taken at the first read,
    /// and writers go on meanwhile), on PostgreSQL a read-only repeatable-read transaction.
    /// Inside a transaction `f` simply runs in it. A report made of several statements uses
    /// this instead of [`Conn::transaction`], whose SQLite `BEGIN IMMEDIATE` would hold every
    /// writer (an import, a login) for as long as the report reads.
    pub fn read_snapshot<T, E>(
        &mut self,
        f: impl FnOnce(&mut Conn) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E>
    where
        E: From<StoreError>,
    {
        if self.depth > 0 {
            return f(self);
        }
        self.execute_batch(match self.backend() {
            Backend::Sqlite => "BEGIN DEFERRED",
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        })?;
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        // Nothing was written: a rollback only releases the snapshot.
        let end = self.execute_batch("ROLLBACK");
        // PostgreSQL aborted the transaction at a failed statement whose error `f` swallowed:
        // what `f` read after it is not to be trusted.
        let aborted = std::mem::take(&mut self.failed);
        let v = result?;
        end?;
        if aborted {
            return Err(StoreError::Aborted.into());
        }
        Ok(v)
    }

    /// True inside [`Conn::transaction`] or [`Conn::read_snapshot`].
    pub fn in_transaction(&self) -> bool {
        self.depth > 0
    }

    /// Serialise writers of a hash chain (the audit log) until the end of the transaction.
    /// SQLite already holds the database write lock (`BEGIN IMMEDIATE`); PostgreSQL takes a
    /// transaction-scoped advisory lock.
    pub fn lock_chain(&mut self, key: i64) -> Result<()> {
        match &mut self.kind {
            ConnKind::Sqlite(_) => Ok(()),
            ConnKind::Postgres(_) => {
                self.query("SELECT pg_advisory_xact_lock(?)", &[Value::Int(key)])?;
                Ok(())
            }
        }
    }

    /// Prepare a connection for a long bulk write (an import): on SQLite, let the write-ahead
    /// log grow to 256 MiB between checkpoints instead of 4 MiB, so that the pages of the
    /// indexes are not copied back to the database file after every chunk, and skip the
    /// foreign-key lookups (three per credit record): the import writes rows whose references
    /// it has just resolved (subject ids looked up or created in the same transaction). The
    /// connection is the job's own and is dropped after it.
    pub fn tune_for_bulk(&mut self) -> Result<()> {
        match &mut self.kind {
            ConnKind::Sqlite(c) => {
                Ok(c.execute_batch("PRAGMA wal_autocheckpoint=65536; PRAGMA foreign_keys=OFF;")?)
            }
            // A bulk job runs the same lookups (`code IN (…)`) against a table it is filling:
            // a generic plan made while the table was small (a sequential scan) would be kept
            // as it grows — 86 ms a lookup at 20,000 subjects, quadratic over an import.
            ConnKind::Postgres(pg) => Ok(pg
                .client
                .batch_execute("SET plan_cache_mode = force_custom_plan")?),
        }
    }

    /// Refresh the planner's statistics of these tables (PostgreSQL's `ANALYZE`; nothing on
    /// SQLite, whose planner has no statistics here to go stale). A bulk job calls it as
    /// its tables grow: planned with the statistics of a much smaller table (or none, with
    /// autovacuum off or behind), a lookup of 500 keys `IN (…)` became a sequential scan —
    /// 250 ms a statement at 120,000 records instead of a few.
    pub fn analyze(&mut self, tables: &[&str]) -> Result<()> {
        match &mut self.kind {
            ConnKind::Sqlite(_) => Ok(()),
            ConnKind::Postgres(pg) => Ok(pg
                .client
                .batch_execute(&format!("ANALYZE {}", tables.join(", ")))?),
        }
    }

    /// Give this connection a page cache of `mib` MiB (SQLite; PostgreSQL's cache is the
    /// server's). Other connections keep the default of 64 MiB.
    pub fn set_cache_mib(&mut self, mib: u32) -> Result<()> {
        match &mut self.kind {
            ConnKind::Sqlite(c) => {
                Ok(c.execute_batch(&format!("PRAGMA cache_size=-{};", u64::from(mib) * 1024))?)
            }
            ConnKind::Postgres(_) => Ok(()),
        }
    }

    /// Prepare a connection for scattered lookups (an incremental evaluation: a few random
    /// pages of each of several tables per subject): on SQLite, a page cache of 4 MiB instead of
    /// 64 MiB. The b-trees' interior pages stay in it; the leaf pages are read once each, and a
    /// larger cache would only grow into new memory, a page fault per page read (1 M subjects,
    /// 3,081 changed: 54–85 ms instead of 94–134 ms). The connection is the job's own.
    pub fn tune_for_lookups(&mut self) -> Result<()> {
        match &mut self.kind {
            ConnKind::Sqlite(c) => Ok(c.execute_batch("PRAGMA cache_size=-4096;")?),
            ConnKind::Postgres(_) => Ok(()),
        }
    }

    /// After a bulk write: copy the write-ahead log back into the database (SQLite).
    pub fn checkpoint(&mut self) -> Result<()> {
        match &mut self.kind {
            ConnKind::Sqlite(c) => Ok(c.execute_batch("PRAGMA wal_checkpoint(PASSIVE);")?),
            ConnKind::Postgres(_) => Ok(()),
        }
    }

    /// `column IN (these ids)`, as SQL and its parameters: on SQLite a list of `?`; on
    /// PostgreSQL one array parameter (`= ANY(…)`), one statement and round trip for up to
    /// 10,000 ids instead of one per 500 (an incremental run's time there is in the row
    /// fetches, not in these statements: see BENCHMARKS.md). At most
    /// [`Conn::ids_per_statement`].
    pub(crate) fn ids_in(&self, column: &str, ids: &[i64]) -> (String, Vec<Value>) {
        match self.backend() {
            Backend::Sqlite => (
                format!("{column} IN ({})", vec!["?"; ids.len()].join(",")),
                ids.iter().map(|id| Value::from(*id)).collect(),
            ),
            Backend::Postgres => {
                let list: Vec<String> = ids.iter().map(i64::to_string).collect();
                (
                    format!("{column} = ANY(CAST(CAST(? AS TEXT) AS BIGINT[]))"),
                    vec![Value::from(format!("{{{}}}", list.join(",")))],
                )
            }
        }
    }

    /// How many ids [`Conn::ids_in`] takes in one statement.
    pub(crate) fn ids_per_statement(&self) -> usize {
        match self.backend() {
            Backend::Sqlite => 500,
            Backend::Postgres => 10_000,
        }
    }

    /// PostgreSQL: `COPY … FROM STDIN` (text format) with rows made by [`CopyRows`] — the
    /// fast way to write many rows (one stream instead of statements with thousands of
    /// parameters). Returns the number of rows copied.
    pub(crate) fn copy_in(&mut self, sql: &str, rows: &CopyRows) -> Result<u64> {
        use std::io::Write;
        let r = match &mut self.kind {
            ConnKind::Postgres(pg) => (|| {
                let mut w = pg.client.copy_in(sql)?;
                w.write_all(&rows.buf)?;
                Ok(w.finish()?)
            })(),
            ConnKind::Sqlite(_) => Err(StoreError::Io(std::io::Error::other(
                "COPY is a PostgreSQL statement",
            ))),
        };
        self.note(r)
    }

    /// The underlying SQLite connection, for bulk paths that need it (benchmarks, backups).
    /// SQLite's `PRAGMA data_version`: a number that changes when another connection commits
    /// to the database. What this connection has read stays true while it is unchanged (read
    /// inside a write transaction, it cannot change before the commit). `None` on PostgreSQL,
    /// which has no such number: nothing read may be kept.
    pub fn data_version(&mut self) -> Result<Option<i64>> {
        match &mut self.kind {
            ConnKind::Sqlite(c) => Ok(Some(c.query_row("PRAGMA data_version", [], |r| r.get(0))?)),
            ConnKind::Postgres(_) => Ok(None),
        }
    }

    pub fn as_sqlite(&mut self) -> Option<&mut rusqlite::Connection> {
        match &mut self.kind {
            ConnKind::Sqlite(c) => Some(c),
            ConnKind::Postgres(_) => None,
        }
    }
}

/// Rows for PostgreSQL's `COPY … FROM STDIN` in its text format: fields separated by tabs,
/// rows by newlines, `\N` for NULL, and backslash, tab, newline and carriage return escaped.
pub(crate) struct CopyRows {
    buf: Vec<u8>,
    at_row_start: bool,
}

impl CopyRows {
    pub(crate) fn new() -> CopyRows {
        CopyRows {
            buf: Vec::new(),
            at_row_start: true,
        }
    }

    fn sep(&mut self) {
        if !self.at_row_start {
            self.buf.push(b'\t');
        }
        self.at_row_start = false;
    }

    pub(crate) fn text(&mut self, v: &str) -> &mut Self {
        self.sep();
        for &b in v.as_bytes() {
            match b {
                b'\\' => self.buf.extend_from_slice(b"\\\\"),
                b'\t' => self.buf.extend_from_slice(b"\\t"),
                b'\n' => self.buf.extend_from_slice(b"\\n"),
                b'\r' => self.buf.extend_from_slice(b"\\r"),
                _ => self.buf.push(b),
            }
        }
        self
    }

    pub(crate) fn opt_text(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.text(v),
            None => {
                self.sep();
                self.buf.extend_from_slice(b"\\N");
                self
            }
        }
    }

    pub(crate) fn int(&mut self, v: i64) -> &mut Self {
        self.sep();
        self.buf.extend_from_slice(v.to_string().as_bytes());
        self
    }

    pub(crate) fn end_row(&mut self) {
        self.buf.push(b'\n');
        self.at_row_start = true;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

enum QueryError<E> {
    Db(StoreError),
    Callback(E),
}

fn pg_query_each<E>(
    pg: &mut PgConn,
    sql: &str,
    params: &[Value],
    f: &mut impl FnMut(Row) -> std::result::Result<(), E>,
) -> std::result::Result<(), QueryError<E>> {
    use postgres::fallible_iterator::FallibleIterator;
    let db = |e: postgres::Error| QueryError::Db(StoreError::from(e));
    let stmt = pg.statement(sql).map_err(QueryError::Db)?;
    let mut it = pg.client.query_raw(&stmt, params.iter()).map_err(db)?;
    while let Some(r) = it.next().map_err(db)? {
        f(pg_row(&r).map_err(QueryError::Db)?).map_err(QueryError::Callback)?;
    }
    Ok(())
}

struct SqliteParam<'a>(&'a Value);

impl rusqlite::ToSql for SqliteParam<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self.0 {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Real(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

fn sqlite_value(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn pg_row(r: &postgres::Row) -> Result<Row> {
    let mut values = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let ty = col.type_();
        let v = if *ty == Type::INT8 {
            r.try_get::<_, Option<i64>>(i)?.map(Value::Int)
        } else if *ty == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)?
                .map(|x| Value::Int(x as i64))
        } else if *ty == Type::INT2 {
            r.try_get::<_, Option<i16>>(i)?
                .map(|x| Value::Int(x as i64))
        } else if *ty == Type::BOOL {
            r.try_get::<_, Option<bool>>(i)?
                .map(|x| Value::Int(x as i64))
        } else if *ty == Type::FLOAT8 {
            r.try_get::<_, Option<f64>>(i)?.map(Value::Real)
        } else if *ty == Type::FLOAT4 {
            r.try_get::<_, Option<f32>>(i)?
                .map(|x| Value::Real(x as f64))
        } else if *ty == Type::BYTEA {
            r.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob)
        } else if *ty == Type::TEXT
            || *ty == Type::VARCHAR
            || *ty == Type::BPCHAR
            || *ty == Type::NAME
        {
            r.try_get::<_, Option<String>>(i)?.map(Value::Text)
        } else if *ty == Type::VOID {
            None
        } else {
            return Err(StoreError::Type {
                index: i,
                expected: "a portable column type",
                actual: "unsupported PostgreSQL type",
            });
        };
        values.push(v.unwrap_or(Value::Null));
    }
    Ok(Row { values })
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => {
                if *ty == Type::INT8 {
                    i.to_sql(ty, out)
                } else if *ty == Type::INT4 {
                    i32::try_from(*i)?.to_sql(ty, out)
                } else if *ty == Type::INT2 {
                    i16::try_from(*i)?.to_sql(ty, out)
                } else if *ty == Type::BOOL {
                    (*i != 0).to_sql(ty, out)
                } else if *ty == Type::FLOAT8 {
                    (*i as f64).to_sql(ty, out)
                } else if *ty == Type::FLOAT4 {
                    (*i as f32).to_sql(ty, out)
                } else if is_text(ty) {
                    i.to_string().as_str().to_sql(ty, out)
                } else {
                    Err(format!("integer cannot be bound to a {ty} parameter").into())
                }
            }
            Value::Real(f) => {
                if *ty == Type::FLOAT8 {
                    f.to_sql(ty, out)
                } else if *ty == Type::FLOAT4 {
                    (*f as f32).to_sql(ty, out)
                } else if *ty == Type::INT8 || *ty == Type::INT4 || *ty == Type::INT2 {
                    if f.fract() != 0.0 || !f.is_finite() || f.abs() > 9.0e15 {
                        return Err(
                            format!("{f} is not a whole number for a {ty} parameter").into()
                        );
                    }
                    Value::Int(*f as i64).to_sql(ty, out)
                } else {
                    Err(format!("real cannot be bound to a {ty} parameter").into())
                }
            }
            Value::Text(s) => {
                if is_text(ty) || *ty == Type::UNKNOWN {
                    s.as_str().to_sql(ty, out)
                } else {
                    Err(format!("text cannot be bound to a {ty} parameter").into())
                }
            }
            Value::Blob(b) => {
                if *ty == Type::BYTEA {
                    b.as_slice().to_sql(ty, out)
                } else {
                    Err(format!("bytes cannot be bound to a {ty} parameter").into())
                }
            }
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn is_text(ty: &Type) -> bool {
    *ty == Type::TEXT || *ty == Type::VARCHAR || *ty == Type::BPCHAR || *ty == Type::NAME
}

/// A thread that copies the write-ahead log back into the SQLite database file while a bulk
/// writer (an import) goes on writing, on its own connection: the writer then never stops to
/// checkpoint (a fifth of an import's time when it did). [`Checkpointer::nudge`] after each
/// commit; dropping it finishes the last checkpoint and joins the thread. The writer's own
/// automatic checkpoint stays as a safety net should this one fall behind.
pub struct Checkpointer {
    nudge: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    /// Ask for a checkpoint soon; nudges while one is running coalesce into one more.
    pub fn nudge(&self) {
        if let Some(tx) = &self.nudge {
            let _ = tx.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.nudge.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Db {
    /// A background checkpointer for a bulk write (SQLite); `None` on PostgreSQL.
    pub fn checkpointer(&self) -> Result<Option<Checkpointer>> {
        if self.backend() != Backend::Sqlite {
            return Ok(None);
        }
        let mut conn = self.connect()?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("checkpoint".into())
            .spawn(move || {
                for () in rx {
                    // PASSIVE: copies what it can without waiting for the writer; a failure
                    // only leaves the frames for the next checkpoint.
                    let _ = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);");
                }
            })?;
        Ok(Some(Checkpointer {
            nudge: Some(tx),
            thread: Some(thread),
        }))
    }
}

/// Rewrite `?` placeholders to PostgreSQL's `$1, $2, …`, leaving quoted text and comments alone.
pub(crate) fn rewrite_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                out.push(c);
                let mut prev = ' ';
                for d in chars.by_ref() {
                    out.push(d);
                    if prev == '*' && d == '/' {
                        break;
                    }
                    prev = d;
                }
            }
            '?' => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(
            rewrite_placeholders("SELECT '?' , x FROM t WHERE a = ? AND b = ? -- ?\n AND c = ?"),
            "SELECT '?' , x FROM t WHERE a = $1 AND b = $2 -- ?\n AND c = $3"
        );
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
    }
}
