//! Reading and verifying the audit log.

use xinjian_core::role::Permission;
use xinjian_store::audit::{self, AuditRow, Verification};

use crate::{Actor, App, Result};

impl App {
    pub fn audit_recent(&self, actor: &Actor, filter: &str, limit: i64) -> Result<Vec<AuditRow>> {
        actor.require(Permission::AuditRead)?;
        Ok(audit::recent(&mut *self.db.conn()?, filter.trim(), limit)?)
    }

    /// Walk the hash chain from the first entry; report the first bad one.
    pub fn audit_verify(&self, actor: &Actor) -> Result<Verification> {
        actor.require(Permission::AuditRead)?;
        Ok(audit::verify(&mut *self.db.conn()?)?)
    }
}
