//! Accounts: login with lockout, sessions, users, department API tokens.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use serde_json::json;
use xinjian_core::role::{Permission, Role};
use xinjian_store::{audit, users, Conn};

use crate::{now, random_hex, sha256_hex, Actor, App, AppError, Result, UserActor};

/// Failed logins before the account is locked.
pub const MAX_FAILED_LOGINS: i64 = 5;
/// How long a lock lasts.
pub const LOCK_MINUTES: i64 = 15;
/// How long a session lasts.
pub const SESSION_HOURS: i64 = 12;
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Hash a password with argon2id (the crate's default parameters).
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("密码哈希失败：{e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A new login session: the cookie value (returned once, stored only hashed) and its CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf: String,
    pub user: UserActor,
}

fn user_actor(u: &users::UserRow, token_id: Option<i64>) -> Result<UserActor> {
    Ok(UserActor {
        id: u.id,
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        role: Role::parse(&u.role)
            .ok_or_else(|| AppError::Internal(format!("unknown role {}", u.role)))?,
        department: u.department.clone(),
        subject_code: u.subject_code.clone(),
        token_id,
    })
}

/// Input for a new account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub department: Option<String>,
    pub subject_code: Option<String>,
    pub password: String,
}

fn validate_username(name: &str) -> Result<()> {
    let ok = (2..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(AppError::invalid(
            "用户名",
            "应为 2–64 个字母、数字或 _-.@ 字符",
        ))
    }
}

fn validate_password(p: &str) -> Result<()> {
    if p.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::invalid(
            "密码",
            format!("至少 {MIN_PASSWORD_CHARS} 个字符"),
        ));
    }
    if p.chars().count() > 256 {
        return Err(AppError::invalid("密码", "过长"));
    }
    Ok(())
}

impl App {
    /// Create an account. Entity accounts must name their subject's code.
    pub fn create_user(&self, actor: &Actor, a: &NewAccount) -> Result<i64> {
        actor.require(Permission::UserAdmin)?;
        validate_username(&a.username)?;
        validate_password(&a.password)?;
        let display = a.display_name.trim();
        let display = if display.is_empty() {
            a.username.as_str()
        } else {
            display
        };
        let subject_code = match (
            a.role,
            a.subject_code
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty()),
        ) {
            (Role::Entity, None) => {
                return Err(AppError::invalid(
                    "统一社会信用代码",
                    "市场主体账号必须关联一个主体",
                ))
            }
            (Role::Entity, Some(c)) => Some(
                xinjian_core::uscc::Uscc::parse(c)
                    .map_err(|e| AppError::invalid("统一社会信用代码", e.to_string()))?
                    .as_str()
                    .to_owned(),
            ),
            (_, _) => None,
        };
        let department = a
            .department
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if a.role == Role::Department && department.is_none() {
            return Err(AppError::invalid("部门", "协同部门账号必须填写部门名称"));
        }
        let hash = hash_password(&a.password)?;
        let now = now();
        let mut conn = self.db.conn()?;
        conn.transaction(|tx| {
            if users::by_username(tx, &a.username)?.is_some() {
                return Err(AppError::Conflict(format!("用户名“{}”已存在", a.username)));
            }
            let id = users::insert(
                tx,
                &users::NewUser {
                    username: &a.username,
                    display_name: display,
                    role: a.role.as_str(),
                    department,
                    subject_code: subject_code.as_deref(),
                    password_hash: &hash,
                },
                &now,
            )?;
            audit::append(
                tx,
                &actor.audit(),
                "user.create",
                &format!("user:{}", a.username),
                &json!({ "role": a.role.as_str(), "department": department, "subject_code": subject_code }),
            )?;
            Ok(id)
        })
    }

    /// Log in. Wrong passwords count towards a lock; the message never says which part was wrong.
    pub fn login(&self, username: &str, password: &str) -> Result<NewSession> {
        let now_dt = chrono::Utc::now();
        let now = now();
        let mut conn = self.db.conn()?;
        let user = users::by_username(&mut conn, username.trim())?;
        let Some(user) = user else {
            // Same work as a real check, so timing does not reveal which usernames exist.
            static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            let dummy =
                DUMMY.get_or_init(|| hash_password("not-a-real-password").unwrap_or_default());
            let _ = verify_password(password, dummy);
            return Err(AppError::invalid("登录", "用户名或密码错误"));
        };
        if let Some(until) = &user.locked_until {
            if until.as_str() > now.as_str() {
                return Err(AppError::Locked(format_local(until)));
            }
        }
        if !user.active {
            return Err(AppError::invalid("登录", "账号已停用，请联系管理员"));
        }
        let role = Role::parse(&user.role).ok_or_else(|| AppError::Internal("bad role".into()))?;
        if role == Role::Department {
            return Err(AppError::invalid(
                "登录",
                "协同部门账号只能通过接口令牌访问",
            ));
        }
        if !verify_password(password, &user.password_hash) {
            let failed = user.failed_logins + 1;
            let lock = (failed >= MAX_FAILED_LOGINS).then(|| {
                (now_dt + chrono::Duration::minutes(LOCK_MINUTES))
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            });
            let who = Actor::System("login".into());
            conn.transaction(|tx| {
                users::record_login_failure(
                    tx,
                    user.id,
                    if lock.is_some() { 0 } else { failed },
                    lock.as_deref(),
                    &now,
                )?;
                audit::append(
                    tx,
                    &who.audit(),
                    if lock.is_some() {
                        "user.lock"
                    } else {
                        "user.login_failed"
                    },
                    &format!("user:{}", user.username),
                    &json!({ "failed_logins": failed }),
                )?;
                Ok::<_, AppError>(())
            })?;
            return Err(match lock {
                Some(until) => AppError::Locked(format_local(&until)),
                None => AppError::invalid(
                    "登录",
                    format!(
                        "用户名或密码错误（再错 {} 次将锁定 {LOCK_MINUTES} 分钟）",
                        MAX_FAILED_LOGINS - failed
                    ),
                ),
            });
        }
        let token = random_hex(32);
        let csrf = random_hex(16);
        let expires = (now_dt + chrono::Duration::hours(SESSION_HOURS))
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let actor = user_actor(&user, None)?;
        let who = Actor::User(actor.clone());
        conn.transaction(|tx| {
            users::reset_login_failures(tx, user.id, &now)?;
            users::insert_session(tx, &sha256_hex(&token), user.id, &csrf, &now, &expires)?;
            audit::append(
                tx,
                &who.audit(),
                "user.login",
                &format!("user:{}", user.username),
                &json!({}),
            )?;
            Ok::<_, AppError>(())
        })?;
        Ok(NewSession {
            token,
            csrf,
            user: actor,
        })
    }

    /// The user and CSRF token of a live session.
    pub fn session(&self, token: &str) -> Result<Option<(UserActor, String)>> {
        let mut conn = self.db.conn()?;
        match users::session(&mut conn, &sha256_hex(token), &now())? {
            Some((u, csrf)) if u.active => Ok(Some((user_actor(&u, None)?, csrf))),
            _ => Ok(None),
        }
    }

    pub fn logout(&self, actor: &Actor, token: &str) -> Result<()> {
        let mut conn = self.db.conn()?;
        conn.transaction(|tx| {
            if users::delete_session(tx, &sha256_hex(token))? > 0 {
                audit::append(
                    tx,
                    &actor.audit(),
                    "user.logout",
                    &format!("user:{}", actor.name()),
                    &json!({}),
                )?;
            }
            Ok::<_, AppError>(())
        })
    }

    /// Authenticate a department API token (`Authorization: Bearer …`).
    pub fn token_actor(&self, token: &str) -> Result<Option<UserActor>> {
        let mut conn = self.db.conn()?;
        match users::token_user(&mut conn, &sha256_hex(token))? {
            Some((tid, u)) if u.active => {
                users::touch_token(&mut conn, tid, &now())?;
                Ok(Some(user_actor(&u, Some(tid))?))
            }
            _ => Ok(None),
        }
    }

    pub fn list_users(&self, actor: &Actor) -> Result<Vec<users::UserRow>> {
        actor.require(Permission::UserAdmin)?;
        Ok(users::list(&mut *self.db.conn()?)?)
    }

    /// Enable or disable an account; disabling ends its sessions.
    pub fn set_user_active(&self, actor: &Actor, user_id: i64, active: bool) -> Result<()> {
        actor.require(Permission::UserAdmin)?;
        if let Actor::User(u) = actor {
            if u.id == user_id && !active {
                return Err(AppError::invalid("账号", "不能停用自己的账号"));
            }
        }
        let now = now();
        let mut conn = self.db.conn()?;
        conn.transaction(|tx| {
            let u = users::by_id(tx, user_id)?.ok_or_else(|| AppError::NotFound("用户".into()))?;
            users::set_active(tx, user_id, active, &now)?;
            if !active {
                users::delete_sessions_of(tx, user_id)?;
            }
            audit::append(
                tx,
                &actor.audit(),
                if active {
                    "user.enable"
                } else {
                    "user.disable"
                },
                &format!("user:{}", u.username),
                &json!({}),
            )?;
            Ok(())
        })
    }

    /// Set a new password (administrator), which also lifts a lock and ends sessions.
    pub fn reset_password(&self, actor: &Actor, user_id: i64, password: &str) -> Result<()> {
        actor.require(Permission::UserAdmin)?;
        validate_password(password)?;
        let hash = hash_password(password)?;
        let now = now();
        let mut conn = self.db.conn()?;
        conn.transaction(|tx| {
            let u = users::by_id(tx, user_id)?.ok_or_else(|| AppError::NotFound("用户".into()))?;
            users::set_password(tx, user_id, &hash, &now)?;
            users::delete_sessions_of(tx, user_id)?;
            audit::append(
                tx,
                &actor.audit(),
                "user.reset_password",
                &format!("user:{}", u.username),
                &json!({}),
            )?;
            Ok(())
        })
    }

    /// Issue an API token for a department account. The token is returned once.
    pub fn issue_token(&self, actor: &Actor, user_id: i64, name: &str) -> Result<String> {
        actor.require(Permission::UserAdmin)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AppError::invalid("令牌名称", "应为 1–100 个字符"));
        }
        let token = format!("xj_{}", random_hex(24));
        let prefix: String = token.chars().take(10).collect();
        let now = now();
        let mut conn = self.db.conn()?;
        conn.transaction(|tx| {
            let u = users::by_id(tx, user_id)?.ok_or_else(|| AppError::NotFound("用户".into()))?;
            if u.role != Role::Department.as_str() {
                return Err(AppError::invalid("账号", "只能为协同部门账号签发接口令牌"));
            }
            let id = users::insert_token(tx, user_id, name, &prefix, &sha256_hex(&token), &now)?;
            audit::append(
                tx,
                &actor.audit(),
                "token.issue",
                &format!("token:{id}"),
                &json!({ "user": u.username, "name": name }),
            )?;
            Ok::<_, AppError>(())
        })?;
        Ok(token)
    }

    pub fn list_tokens(&self, actor: &Actor) -> Result<Vec<users::TokenRow>> {
        actor.require(Permission::UserAdmin)?;
        Ok(users::tokens(&mut *self.db.conn()?)?)
    }

    pub fn revoke_token(&self, actor: &Actor, token_id: i64) -> Result<()> {
        actor.require(Permission::UserAdmin)?;
        let now = now();
        let mut conn = self.db.conn()?;
        conn.transaction(|tx: &mut Conn| {
            if users::revoke_token(tx, token_id, &now)? == 0 {
                return Err(AppError::NotFound("有效的令牌".into()));
            }
            audit::append(
                tx,
                &actor.audit(),
                "token.revoke",
                &format!("token:{token_id}"),
                &json!({}),
            )?;
            Ok(())
        })
    }

    /// Whether any account exists (a fresh installation has none).
    pub fn has_users(&self) -> Result<bool> {
        Ok(users::count(&mut *self.db.conn()?)? > 0)
    }
}

/// An RFC 3339 UTC timestamp shown in China time, to the minute.
pub fn format_local(ts: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(ts)
        .map(|t| {
            (t.with_timezone(&chrono::Utc) + chrono::Duration::hours(8))
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| ts.to_owned())
}
