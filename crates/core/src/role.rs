//! Roles and permissions: the single place where "who may do what" is decided.
//!
//! Every route (web) and every use case (app) names a [`Permission`]; [`allows`] is the
//! table. A test in the web crate walks every route with every role against this table.

use serde::{Deserialize, Serialize};

/// The kinds of account (DOMAIN §1). The public has no account and no role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 系统管理员: users, roles, catalogs, calendar, backups; reads the audit log.
    Admin,
    /// 监管人员: the supervision workflows of their department.
    Regulator,
    /// 信用办: lists, objections, repair, evaluation runs, cross-department triggers.
    CreditOffice,
    /// 执法检查人员: their own inspection tasks.
    Inspector,
    /// 市场主体: an agency or enterprise account, sees its own affairs.
    Entity,
    /// 其他部门: another government department, by API token.
    Department,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Regulator,
        Role::CreditOffice,
        Role::Inspector,
        Role::Entity,
        Role::Department,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Regulator => "regulator",
            Role::CreditOffice => "credit_office",
            Role::Inspector => "inspector",
            Role::Entity => "entity",
            Role::Department => "department",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }

    /// The name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "系统管理员",
            Role::Regulator => "监管人员",
            Role::CreditOffice => "信用办",
            Role::Inspector => "执法检查人员",
            Role::Entity => "市场主体",
            Role::Department => "协同部门",
        }
    }

    /// Staff roles use the workspace (the bureau's own pages).
    pub fn is_staff(self) -> bool {
        matches!(
            self,
            Role::Admin | Role::Regulator | Role::CreditOffice | Role::Inspector
        )
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something an account may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Open the staff workspace (dashboard, navigation).
    Workspace,
    /// Read the subject registry (personal ID numbers masked).
    SubjectRead,
    /// Create or change a subject by hand.
    SubjectWrite,
    /// Import registration data from market regulation.
    SubjectImport,
    /// See a legal representative's full ID number (each read is audited).
    PersonalDataRead,
    /// The duplicate / erroneous code report (重错码).
    RegistryQuality,
    /// Manage user accounts and department API tokens.
    UserAdmin,
    /// Read the audit log.
    AuditRead,
    /// Load a new year of the working-day calendar.
    CalendarAdmin,
    /// Read the working-day calendar and compute deadlines.
    CalendarRead,
    /// An entity account reads its own subject.
    OwnSubjectRead,
    /// A department queries subjects through the API (信用核查).
    DepartmentQuery,
    /// Read credit records, lists and the publication report (staff).
    CreditRead,
    /// Record credit information: import department files, enter records, hold and release
    /// publication, correct or revoke a record.
    CreditWrite,
    /// A department pushes its records through the API.
    CreditPush,
    /// Enter subjects on lists and remove them (认定 and 移出).
    ListManage,
    /// Change the catalog of record kinds and the penalty-category mapping.
    CatalogAdmin,
    /// Export records and list entries for the sharing platform.
    CreditExport,
    /// Read grades and their explanations (staff).
    GradeRead,
    /// Run an evaluation of the jurisdiction.
    GradeRun,
    /// Change the grading rules and the risk scorecard (a new version).
    GradeRulesAdmin,
    /// Read the internal risk classification (never public, not for the entity).
    RiskRead,
    /// An entity account reads its own grade and explanation.
    OwnGradeRead,
}

impl Permission {
    pub const ALL: [Permission; 23] = [
        Permission::Workspace,
        Permission::SubjectRead,
        Permission::SubjectWrite,
        Permission::SubjectImport,
        Permission::PersonalDataRead,
        Permission::RegistryQuality,
        Permission::UserAdmin,
        Permission::AuditRead,
        Permission::CalendarAdmin,
        Permission::CalendarRead,
        Permission::OwnSubjectRead,
        Permission::DepartmentQuery,
        Permission::CreditRead,
        Permission::CreditWrite,
        Permission::CreditPush,
        Permission::ListManage,
        Permission::CatalogAdmin,
        Permission::CreditExport,
        Permission::GradeRead,
        Permission::GradeRun,
        Permission::GradeRulesAdmin,
        Permission::RiskRead,
        Permission::OwnGradeRead,
    ];
}

/// The permission table. Read it as: "a `role` may `permission`".
pub fn allows(role: Role, permission: Permission) -> bool {
    use Permission as P;
    use Role as R;
    match permission {
        P::Workspace | P::CalendarRead => role.is_staff(),
        P::SubjectRead => matches!(
            role,
            R::Admin | R::Regulator | R::CreditOffice | R::Inspector
        ),
        P::SubjectWrite | P::PersonalDataRead => matches!(role, R::Regulator),
        P::SubjectImport | P::RegistryQuality => matches!(role, R::Regulator | R::CreditOffice),
        P::UserAdmin | P::AuditRead | P::CalendarAdmin => matches!(role, R::Admin),
        P::OwnSubjectRead => matches!(role, R::Entity),
        P::DepartmentQuery | P::CreditPush => matches!(role, R::Department),
        P::CreditRead => role.is_staff(),
        P::CreditWrite | P::ListManage | P::CreditExport => {
            matches!(role, R::Regulator | R::CreditOffice)
        }
        P::CatalogAdmin => matches!(role, R::Admin),
        P::GradeRead | P::RiskRead => role.is_staff(),
        P::GradeRun | P::GradeRulesAdmin => matches!(role, R::CreditOffice),
        P::OwnGradeRead => matches!(role, R::Entity),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn personal_data_is_narrow() {
        let who: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| allows(*r, Permission::PersonalDataRead))
            .collect();
        assert_eq!(who, vec![Role::Regulator]);
    }

    #[test]
    fn entities_and_departments_never_reach_the_workspace() {
        for p in Permission::ALL {
            if p != Permission::OwnSubjectRead && p != Permission::OwnGradeRead {
                assert!(!allows(Role::Entity, p), "{p:?}");
            }
            if p != Permission::DepartmentQuery && p != Permission::CreditPush {
                assert!(!allows(Role::Department, p), "{p:?}");
            }
        }
    }
}
