//! Accounts, login sessions and department API tokens.

use crate::{params, Conn, Result, Row};

/// A stored account.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub department: Option<String>,
    pub subject_code: Option<String>,
    #[serde(skip)]
    pub password_hash: String,
    pub active: bool,
    pub failed_logins: i64,
    pub locked_until: Option<String>,
    pub created_at: String,
}

const USER_COLS: &str =
    "id, username, display_name, role, department, subject_code, password_hash, active, failed_logins, locked_until, created_at";

fn user(r: &Row) -> Result<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        username: r.get(1)?,
        display_name: r.get(2)?,
        role: r.get(3)?,
        department: r.get(4)?,
        subject_code: r.get(5)?,
        password_hash: r.get(6)?,
        active: r.get(7)?,
        failed_logins: r.get(8)?,
        locked_until: r.get(9)?,
        created_at: r.get(10)?,
    })
}

/// Fields of a new account.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub role: &'a str,
    pub department: Option<&'a str>,
    pub subject_code: Option<&'a str>,
    pub password_hash: &'a str,
}

pub fn insert(conn: &mut Conn, u: &NewUser<'_>, now: &str) -> Result<i64> {
    conn.insert_id(
        "INSERT INTO users (username, display_name, role, department, subject_code, password_hash, active, failed_logins, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, 1, 0, ?, ?) RETURNING id",
        &params![u.username, u.display_name, u.role, u.department, u.subject_code, u.password_hash, now, now],
    )
}

pub fn by_username(conn: &mut Conn, username: &str) -> Result<Option<UserRow>> {
    conn.query_opt(
        &format!("SELECT {USER_COLS} FROM users WHERE username = ?"),
        &params![username],
    )?
    .map(|r| user(&r))
    .transpose()
}

pub fn by_id(conn: &mut Conn, id: i64) -> Result<Option<UserRow>> {
    conn.query_opt(
        &format!("SELECT {USER_COLS} FROM users WHERE id = ?"),
        &params![id],
    )?
    .map(|r| user(&r))
    .transpose()
}

pub fn list(conn: &mut Conn) -> Result<Vec<UserRow>> {
    conn.query(&format!("SELECT {USER_COLS} FROM users ORDER BY id"), &[])?
        .iter()
        .map(user)
        .collect()
}

pub fn count(conn: &mut Conn) -> Result<i64> {
    conn.query_row("SELECT count(*) FROM users", &[])?.get(0)
}

pub fn record_login_failure(
    conn: &mut Conn,
    id: i64,
    failed: i64,
    locked_until: Option<&str>,
    now: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE users SET failed_logins = ?, locked_until = ?, updated_at = ? WHERE id = ?",
        &params![failed, locked_until, now, id],
    )?;
    Ok(())
}

pub fn reset_login_failures(conn: &mut Conn, id: i64, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE users SET failed_logins = 0, locked_until = NULL, updated_at = ? WHERE id = ?",
        &params![now, id],
    )?;
    Ok(())
}

pub fn set_active(conn: &mut Conn, id: i64, active: bool, now: &str) -> Result<u64> {
    conn.execute(
        "UPDATE users SET active = ?, updated_at = ? WHERE id = ?",
        &params![active, now, id],
    )
}

pub fn set_password(conn: &mut Conn, id: i64, hash: &str, now: &str) -> Result<u64> {
    conn.execute(
        "UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL, updated_at = ? WHERE id = ?",
        &params![hash, now, id],
    )
}

// ---- sessions ----

pub fn insert_session(
    conn: &mut Conn,
    token_hash: &str,
    user_id: i64,
    csrf: &str,
    now: &str,
    expires_at: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        &params![token_hash, user_id, csrf, now, expires_at],
    )?;
    Ok(())
}

/// The session's user and CSRF token, if the session exists and has not expired.
pub fn session(conn: &mut Conn, token_hash: &str, now: &str) -> Result<Option<(UserRow, String)>> {
    let cols: String = USER_COLS
        .split(", ")
        .map(|c| format!("u.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let row = conn.query_opt(
        &format!("SELECT {cols}, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ?"),
        &params![token_hash, now],
    )?;
    match row {
        Some(r) => Ok(Some((user(&r)?, r.get(11)?))),
        None => Ok(None),
    }
}

pub fn delete_session(conn: &mut Conn, token_hash: &str) -> Result<u64> {
    conn.execute(
        "DELETE FROM sessions WHERE token_hash = ?",
        &params![token_hash],
    )
}

pub fn delete_sessions_of(conn: &mut Conn, user_id: i64) -> Result<u64> {
    conn.execute("DELETE FROM sessions WHERE user_id = ?", &params![user_id])
}

// ---- API tokens ----

#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

pub fn insert_token(
    conn: &mut Conn,
    user_id: i64,
    name: &str,
    prefix: &str,
    token_hash: &str,
    now: &str,
) -> Result<i64> {
    conn.insert_id(
        "INSERT INTO api_tokens (user_id, name, prefix, token_hash, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
        &params![user_id, name, prefix, token_hash, now],
    )
}

pub fn tokens(conn: &mut Conn) -> Result<Vec<TokenRow>> {
    conn.query(
        "SELECT t.id, t.user_id, u.username, t.name, t.prefix, t.created_at, t.revoked_at, t.last_used_at \
         FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(TokenRow {
            id: r.get(0)?,
            user_id: r.get(1)?,
            username: r.get(2)?,
            name: r.get(3)?,
            prefix: r.get(4)?,
            created_at: r.get(5)?,
            revoked_at: r.get(6)?,
            last_used_at: r.get(7)?,
        })
    })
    .collect()
}

/// The user of a token that exists and is not revoked.
pub fn token_user(conn: &mut Conn, token_hash: &str) -> Result<Option<(i64, UserRow)>> {
    let cols: String = USER_COLS
        .split(", ")
        .map(|c| format!("u.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let row = conn.query_opt(
        &format!("SELECT {cols}, t.id FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.revoked_at IS NULL"),
        &params![token_hash],
    )?;
    match row {
        Some(r) => Ok(Some((r.get(11)?, user(&r)?))),
        None => Ok(None),
    }
}

pub fn touch_token(conn: &mut Conn, id: i64, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE api_tokens SET last_used_at = ? WHERE id = ?",
        &params![now, id],
    )?;
    Ok(())
}

pub fn revoke_token(conn: &mut Conn, id: i64, now: &str) -> Result<u64> {
    conn.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        &params![now, id],
    )
}
