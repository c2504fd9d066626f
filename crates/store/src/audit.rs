//! The append-only, hash-chained audit log (table `audit_log`, head in `audit_head`).

use xinjian_core::audit::{AuditEntry, ChainFault, ChainVerifier, GENESIS_HASH};

use crate::{params, Conn, Result};

/// Advisory-lock key serialising appends on PostgreSQL.
const AUDIT_LOCK: i64 = 0x6175646974; // "audit"

/// Who did it, for the log.
#[derive(Debug, Clone)]
pub struct AuditActor {
    pub actor: String,
    pub role: String,
}

/// Append one entry. Must run inside the transaction of the change it records.
pub fn append(
    conn: &mut Conn,
    who: &AuditActor,
    action: &str,
    target: &str,
    detail: &serde_json::Value,
) -> Result<i64> {
    debug_assert!(
        conn.in_transaction(),
        "audit entries are written in the change's transaction"
    );
    conn.lock_chain(AUDIT_LOCK)?;
    let head = conn.query_opt("SELECT seq, hash FROM audit_head WHERE id = 1", &[])?;
    let (prev_seq, prev_hash) = match head {
        Some(r) => (r.get::<i64>(0)?, r.get::<String>(1)?),
        None => (0, GENESIS_HASH.to_owned()),
    };
    let entry = AuditEntry {
        seq: prev_seq + 1,
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        actor: who.actor.clone(),
        role: who.role.clone(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail: detail.to_string(),
    };
    let hash = entry.hash(&prev_hash);
    conn.execute(
        "INSERT INTO audit_log (seq, at, actor, role, action, target, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &params![entry.seq, entry.at.as_str(), entry.actor.as_str(), entry.role.as_str(), entry.action.as_str(), entry.target.as_str(), entry.detail.as_str(), prev_hash.as_str(), hash.as_str()],
    )?;
    if prev_seq == 0 {
        conn.execute(
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)",
            &params![entry.seq, hash.as_str()],
        )?;
    } else {
        conn.execute(
            "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1",
            &params![entry.seq, hash.as_str()],
        )?;
    }
    Ok(entry.seq)
}

/// The audit actions that change no registry, credit or grading data: accounts, sessions,
/// tokens, and reads (of personal data, exports). A pattern for `LIKE`.
const NOT_DATA: [&str; 4] = ["user.%", "token.%", "personal_data.%", "credit.export"];

/// The sequence number of the last audited change to the data (0 for none): since every change
/// is audited in its own transaction, a report made in the same snapshot as this number stays
/// current for as long as the number does not move. Entries of [`NOT_DATA`] (a login, say) do
/// not move it.
pub fn data_version(conn: &mut Conn) -> Result<i64> {
    let skip = vec!["action NOT LIKE ?"; NOT_DATA.len()].join(" AND ");
    let ps: Vec<crate::Value> = NOT_DATA.iter().map(|p| crate::Value::from(*p)).collect();
    Ok(conn
        .query_opt(
            &format!("SELECT seq FROM audit_log WHERE {skip} ORDER BY seq DESC LIMIT 1"),
            &ps,
        )?
        .map(|r| r.get::<i64>(0))
        .transpose()?
        .unwrap_or(0))
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Ok { entries: i64, head_hash: String },
    Broken { entry: i64, fault: ChainFault },
}

/// Walk the whole chain in order and report the first bad entry.
pub fn verify(conn: &mut Conn) -> Result<Verification> {
    let mut v = ChainVerifier::default();
    let mut broken: Option<(i64, ChainFault)> = None;
    conn.query_each(
        "SELECT seq, at, actor, role, action, target, detail, prev_hash, hash FROM audit_log ORDER BY seq",
        &[],
        |r| {
            if broken.is_some() {
                return Ok::<(), crate::StoreError>(());
            }
            let e = AuditEntry {
                seq: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                role: r.get(3)?,
                action: r.get(4)?,
                target: r.get(5)?,
                detail: r.get(6)?,
            };
            let prev: String = r.get(7)?;
            let hash: String = r.get(8)?;
            if let Err(b) = v.check(&e, &prev, &hash) {
                broken = Some(b);
            }
            Ok(())
        },
    )?;
    if let Some((entry, fault)) = broken {
        return Ok(Verification::Broken { entry, fault });
    }
    let head = conn.query_opt("SELECT seq, hash FROM audit_head WHERE id = 1", &[])?;
    let head = match head {
        Some(r) => Some((r.get::<i64>(0)?, r.get::<String>(1)?)),
        None => None,
    };
    if let Err((entry, fault)) = v.finish(head.as_ref().map(|(s, h)| (*s, h.as_str()))) {
        return Ok(Verification::Broken { entry, fault });
    }
    Ok(Verification::Ok {
        entries: v.count(),
        head_hash: v.head_hash().to_owned(),
    })
}

/// One entry for display.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// The latest entries, newest first, optionally filtered by action prefix or target.
pub fn recent(conn: &mut Conn, filter: &str, limit: i64) -> Result<Vec<AuditRow>> {
    let like = format!("%{}%", filter.replace('%', ""));
    conn.query(
        "SELECT seq, at, actor, role, action, target, detail FROM audit_log \
         WHERE (? = '' OR action LIKE ? OR target LIKE ? OR actor LIKE ?) ORDER BY seq DESC LIMIT ?",
        &params![filter, like.as_str(), like.as_str(), like.as_str(), limit],
    )?
    .into_iter()
    .map(|r| {
        Ok(AuditRow {
            seq: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            role: r.get(3)?,
            action: r.get(4)?,
            target: r.get(5)?,
            detail: r.get(6)?,
        })
    })
    .collect()
}
