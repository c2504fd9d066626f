//! Xinjian use cases: one function per thing a user does.
//!
//! Each use case takes the [`Actor`] doing it, checks the permission (the table is
//! `xinjian_core::role::allows`), runs in one transaction and writes its audit entry in that
//! same transaction. The web handlers and the CLI commands are thin wrappers over these.

pub mod accounts;
pub mod audit_log;
pub mod calendar;
pub mod credit;
pub mod demo;
pub mod demo_credit;
pub mod error;
pub mod grading;
pub mod import;
pub mod registry;
mod reports;
pub mod sources;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use xinjian_core::calendar::WorkdayCalendar;
use xinjian_core::role::{allows, Permission, Role};
use xinjian_store::audit::AuditActor;
use xinjian_store::Db;

pub use error::AppError;

pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// Who is acting. Every use case receives one; every audit entry names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A logged-in account (or a department token).
    User(UserActor),
    /// The platform itself (scheduled jobs, the CLI run by the operator on the server).
    System(String),
    /// Anyone, on the public portal.
    Public,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserActor {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub department: Option<String>,
    pub subject_code: Option<String>,
    /// Set when authenticated by an API token: the token's id.
    pub token_id: Option<i64>,
}

impl Actor {
    /// The operator at the server's console (CLI): acts as the platform, audited as such.
    pub fn operator() -> Actor {
        let who = std::env::var("SUDO_USER")
            .or_else(|_| std::env::var("USER"))
            .unwrap_or_else(|_| "operator".into());
        Actor::System(format!("cli:{who}"))
    }

    pub fn role(&self) -> Option<Role> {
        match self {
            Actor::User(u) => Some(u.role),
            _ => None,
        }
    }

    /// Fail with `Forbidden` (or `Unauthenticated` for the public) unless allowed.
    /// The system actor may do everything: it is the operator on the server.
    pub fn require(&self, p: Permission) -> Result<()> {
        match self {
            Actor::System(_) => Ok(()),
            Actor::User(u) if allows(u.role, p) => Ok(()),
            Actor::User(_) => Err(AppError::Forbidden),
            Actor::Public => Err(AppError::Unauthenticated),
        }
    }

    pub fn can(&self, p: Permission) -> bool {
        self.require(p).is_ok()
    }

    /// Name and role as written to the audit log.
    pub fn audit(&self) -> AuditActor {
        match self {
            Actor::User(u) => AuditActor {
                actor: match u.token_id {
                    Some(t) => format!("token:{t}:{}", u.username),
                    None => format!("user:{}", u.username),
                },
                role: u.role.as_str().to_owned(),
            },
            Actor::System(name) => AuditActor {
                actor: name.clone(),
                role: "system".into(),
            },
            Actor::Public => AuditActor {
                actor: "public".into(),
                role: "public".into(),
            },
        }
    }

    /// Short name for provenance columns.
    pub fn name(&self) -> String {
        self.audit().actor
    }
}

/// The application: the database, the working-day calendar, the data directory.
#[derive(Clone)]
pub struct App {
    pub db: Db,
    calendar: Arc<RwLock<WorkdayCalendar>>,
    data_dir: PathBuf,
    reports: Arc<reports::ReportCache>,
}

impl App {
    /// Open the database, run migrations, load calendar years stored by administrators, and
    /// mark imports left running by a dead process as interrupted.
    pub fn open(db_url: &str, data_dir: &Path) -> Result<App> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            AppError::Internal(format!("无法创建数据目录 {}：{e}", data_dir.display()))
        })?;
        let db = Db::open(db_url)?;
        db.migrate()?;
        let app = App {
            db,
            calendar: Arc::new(RwLock::new(WorkdayCalendar::builtin())),
            data_dir: data_dir.to_owned(),
            reports: Default::default(),
        };
        app.reload_calendar()?;
        app.mark_dead_imports()?;
        Ok(app)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// An unnamed temporary file in the data directory, gone when it is closed: what a large
    /// download is written to before it is sent.
    pub fn scratch_file(&self) -> Result<std::fs::File> {
        sources::scratch_file(&self.data_dir)
    }

    /// A snapshot of the working-day calendar.
    pub fn calendar(&self) -> WorkdayCalendar {
        self.calendar
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set_calendar(&self, cal: WorkdayCalendar) {
        *self.calendar.write().unwrap_or_else(|e| e.into_inner()) = cal;
    }
}

/// How long a job on another host may stay silent before it is presumed dead.
pub const IMPORT_HEARTBEAT_TIMEOUT_MINUTES: i64 = 15;

impl App {
    /// Jobs left `running` by a process that is gone are marked interrupted: on this host when
    /// the owning process no longer exists, elsewhere when its heartbeat is older than
    /// [`IMPORT_HEARTBEAT_TIMEOUT_MINUTES`]. A job another live process is running is left alone.
    fn mark_dead_imports(&self) -> Result<()> {
        let mut conn = self.db.conn()?;
        let host = hostname();
        let stale = (chrono::Utc::now()
            - chrono::Duration::minutes(IMPORT_HEARTBEAT_TIMEOUT_MINUTES))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let dead: Vec<i64> = xinjian_store::imports::running(&mut conn)?
            .into_iter()
            .filter(|job| {
                match job
                    .owner
                    .as_deref()
                    .map(|o| o.rsplitn(3, ':').collect::<Vec<_>>())
                {
                    Some(parts) if parts.len() == 3 && parts[2] == host => {
                        !process_alive(parts[1], parts[0])
                    }
                    Some(_) => job
                        .heartbeat_at
                        .as_deref()
                        .is_none_or(|h| h < stale.as_str()),
                    None => true,
                }
            })
            .map(|job| job.id)
            .collect();
        if !dead.is_empty() {
            xinjian_store::imports::mark_interrupted_ids(&mut conn, &dead, &now())?;
        }
        Ok(())
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

/// The start time of a live process (field 22 of /proc/PID/stat), which tells a reused pid
/// apart. A zombie (killed, not yet reaped) counts as gone.
fn process_start(pid: &str) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields after it follow the last ')'.
    let mut rest = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    rest.nth(18).map(str::to_owned)
}

fn process_alive(pid: &str, start: &str) -> bool {
    process_start(pid).is_some_and(|s| s == start)
}

/// `host:pid:start-time` of this process, recorded as the owner of the jobs it runs.
pub fn process_identity() -> String {
    let pid = std::process::id().to_string();
    let start = process_start(&pid).unwrap_or_default();
    format!("{}:{pid}:{start}", hostname())
}

/// Now, as stored: RFC 3339 UTC with microseconds.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Today in China (UTC+8), which is what deadlines and "future date" checks mean.
pub fn today() -> chrono::NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive()
}

/// Random bytes as lower-case hex (tokens, CSRF values).
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS random number generator works");
    hex::encode(buf)
}

/// SHA-256 hex of a secret (tokens are stored only hashed).
pub fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// An app on a fresh SQLite store in a temporary directory, with a demo registry of
/// `subjects` subjects (seed `seed`) imported by the system: the start of the unit tests that
/// need a store with data. The directory lives as long as the returned guard.
#[cfg(test)]
pub(crate) fn test_app_with_registry(subjects: u64, seed: u64) -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(
        &format!("sqlite:{}", dir.path().join("x.db").display()),
        dir.path(),
    )
    .unwrap();
    let csv = dir.path().join("subjects.csv");
    demo::write_export(&csv, subjects, seed).unwrap();
    app.import_subjects(
        &Actor::System("test".into()),
        &csv,
        Default::default(),
        &mut |_| {},
    )
    .unwrap();
    (dir, app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_killed_child_is_not() {
        let me = process_identity();
        let parts: Vec<&str> = me.rsplitn(3, ':').collect();
        assert!(process_alive(parts[1], parts[0]), "{me}");
        // A child killed but not yet reaped is a zombie: it must count as gone.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let pid = child.id().to_string();
        let start = process_start(&pid).expect("child is running");
        child.kill().expect("kill");
        let mut gone = false;
        for _ in 0..100_000 {
            if !process_alive(&pid, &start) {
                gone = true;
                break;
            }
            std::thread::yield_now();
        }
        assert!(gone, "a killed child still counts as alive");
        child.wait().expect("reap");
        assert!(!process_alive(&pid, &start));
    }
}
