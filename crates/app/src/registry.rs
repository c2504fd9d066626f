//! The subject registry: view, search, create, change (as new versions), history,
//! personal-data reveal (audited) and the duplicate/erroneous-code report.

use serde::Serialize;
use serde_json::json;
use xinjian_core::person_id::mask_str;
use xinjian_core::role::Permission;
use xinjian_core::subject::{SubjectData, SubjectKind};
use xinjian_store::subjects::{self, Provenance, SubjectQuery, SubjectRow, VersionRow};
use xinjian_store::{audit, imports};

use crate::{now, Actor, App, AppError, Result};

/// A subject as shown to staff: the legal representative's ID number masked.
#[derive(Debug, Clone, Serialize)]
pub struct SubjectView {
    pub code: String,
    pub code_flag: Option<&'static str>,
    pub name: String,
    pub kind: &'static str,
    pub kind_label: &'static str,
    pub entity_type: Option<String>,
    pub legal_rep: Option<String>,
    pub legal_rep_id_masked: Option<String>,
    /// A natural person's ID number, masked.
    pub person_id_masked: Option<String>,
    pub address: Option<String>,
    pub division_code: Option<String>,
    pub business_scope: Option<String>,
    pub established_on: Option<String>,
    pub reg_status: &'static str,
    pub reg_status_label: &'static str,
    pub reg_authority: Option<String>,
    pub industry: Option<String>,
    pub offers_bookkeeping: bool,
    pub version: i64,
    pub updated_at: String,
}

impl From<&SubjectRow> for SubjectView {
    fn from(r: &SubjectRow) -> Self {
        let d = &r.data;
        SubjectView {
            code: d.code.clone(),
            code_flag: d.code_flag.map(|f| f.label()),
            name: d.name.clone(),
            kind: d.kind.as_str(),
            kind_label: d.kind.label(),
            entity_type: d.entity_type.clone(),
            legal_rep: d.legal_rep.clone(),
            legal_rep_id_masked: d.legal_rep_id.as_deref().map(mask_str),
            person_id_masked: d.person_id.as_deref().map(mask_str),
            address: d.address.clone(),
            division_code: d.division_code.clone(),
            business_scope: d.business_scope.clone(),
            established_on: d.established_on.map(|x| x.to_string()),
            reg_status: d.reg_status.as_str(),
            reg_status_label: d.reg_status.label(),
            reg_authority: d.reg_authority.clone(),
            industry: d.industry.clone(),
            offers_bookkeeping: d.offers_bookkeeping(),
            version: r.version,
            updated_at: r.updated_at.clone(),
        }
    }
}

/// A search result on the portal.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub code: String,
    pub name: String,
    pub reg_status: &'static str,
    pub reg_status_label: &'static str,
}

/// What the public may see of a subject (DOMAIN §1): registration facts, no personal data.
#[derive(Debug, Clone, Serialize)]
pub struct PublicSubject {
    pub code: String,
    pub name: String,
    pub kind: &'static str,
    pub kind_label: &'static str,
    pub legal_rep: Option<String>,
    pub address: Option<String>,
    pub business_scope: Option<String>,
    pub established_on: Option<String>,
    pub reg_status: &'static str,
    pub reg_status_label: &'static str,
    pub reg_authority: Option<String>,
    pub industry: Option<String>,
}

impl From<&SubjectRow> for PublicSubject {
    fn from(r: &SubjectRow) -> Self {
        let d = &r.data;
        PublicSubject {
            code: d.code.clone(),
            name: d.name.clone(),
            kind: d.kind.as_str(),
            kind_label: d.kind.label(),
            // Individual businesses' operators and natural persons are private persons.
            legal_rep: match d.kind {
                SubjectKind::IndividualBusiness | SubjectKind::NaturalPerson => None,
                _ => d.legal_rep.clone(),
            },
            address: d.address.clone(),
            business_scope: d.business_scope.clone(),
            established_on: d.established_on.map(|x| x.to_string()),
            reg_status: d.reg_status.as_str(),
            reg_status_label: d.reg_status.label(),
            reg_authority: d.reg_authority.clone(),
            industry: d.industry.clone(),
        }
    }
}

/// A subject as entered by staff (form or API). Empty strings mean "not given".
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SubjectInput {
    pub code: String,
    pub name: String,
    pub entity_type: String,
    pub legal_rep: String,
    /// When editing, empty keeps the stored number (it is never sent back to the browser).
    pub legal_rep_id: String,
    pub established_on: String,
    pub address: String,
    pub business_scope: String,
    /// `active`, `revoked`, `deregistered`, `moved_out`, or the Chinese words.
    pub reg_status: String,
    pub reg_authority: String,
    pub industry: String,
    /// A natural person's resident ID number (then `code` stays empty). When editing, empty
    /// keeps the stored number.
    pub person_id: String,
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

impl SubjectInput {
    /// Validate into registry data; the first problem is reported with its field. `current`
    /// is the stored subject when editing: an empty ID number then keeps the stored one.
    ///
    /// A natural person (自然人) is entered with a resident ID number (`person_id`) and no
    /// code: the registry gives the person a key (`Z…`) when it is created.
    pub fn into_data(self, current: Option<&SubjectData>) -> Result<SubjectData> {
        let is_person = match current {
            Some(c) => c.kind == SubjectKind::NaturalPerson,
            None => self.code.trim().is_empty() && !self.person_id.trim().is_empty(),
        };
        if is_person {
            return self.into_person(current);
        }
        if !self.person_id.trim().is_empty() {
            return Err(AppError::invalid(
                "身份证号码",
                "组织机构以统一社会信用代码登记，不填身份证号码；登记自然人时请不填统一社会信用代码",
            ));
        }
        let code = xinjian_core::uscc::Uscc::parse(&self.code)
            .map_err(|e| AppError::invalid("统一社会信用代码", e.to_string()))?;
        let name = self.name.trim().to_owned();
        if name.is_empty() {
            return Err(AppError::invalid("名称", "不能为空"));
        }
        let reg_status = match self.reg_status.trim() {
            "" => xinjian_core::subject::RegStatus::Active,
            s => xinjian_core::subject::RegStatus::parse(s)
                .map(Ok)
                .unwrap_or_else(|| xinjian_core::subject::RegStatus::parse_zh(s))
                .map_err(|e| AppError::invalid("登记状态", e))?,
        };
        let established_on = match opt(&self.established_on) {
            None => None,
            Some(d) => Some(
                xinjian_core::dates::parse_date(&d)
                    .map_err(|e| AppError::invalid("成立日期", e))?,
            ),
        };
        let legal_rep_id = match opt(&self.legal_rep_id) {
            None => current.and_then(|c| c.legal_rep_id.clone()),
            Some(id) => Some(
                xinjian_core::person_id::PersonId::parse(&id)
                    .map_err(|e| AppError::invalid("法定代表人证件号码", e.to_string()))?
                    .as_str()
                    .to_owned(),
            ),
        };
        let entity_type = opt(&self.entity_type);
        Ok(SubjectData {
            kind: SubjectKind::classify(entity_type.as_deref().unwrap_or(""), code.as_str()),
            division_code: Some(code.division_code().to_owned()),
            code: code.as_str().to_owned(),
            code_flag: None,
            name,
            entity_type,
            legal_rep: opt(&self.legal_rep),
            legal_rep_id,
            address: opt(&self.address),
            business_scope: opt(&self.business_scope),
            established_on,
            reg_status,
            reg_authority: opt(&self.reg_authority),
            industry: opt(&self.industry),
            person_id: None,
        })
    }

    fn into_person(self, current: Option<&SubjectData>) -> Result<SubjectData> {
        let name = self.name.trim().to_owned();
        if name.is_empty() {
            return Err(AppError::invalid("姓名", "不能为空"));
        }
        if opt(&self.legal_rep).is_some() || opt(&self.legal_rep_id).is_some() {
            return Err(AppError::invalid(
                "法定代表人",
                "自然人没有法定代表人，请不填",
            ));
        }
        let person_id = match (opt(&self.person_id), current) {
            (Some(id), _) => xinjian_core::person_id::PersonId::parse(&id)
                .map_err(|e| AppError::invalid("身份证号码", e.to_string()))?,
            (None, Some(c)) => {
                xinjian_core::person_id::PersonId::parse(c.person_id.as_deref().unwrap_or(""))
                    .map_err(|e| AppError::invalid("身份证号码", e.to_string()))?
            }
            (None, None) => return Err(AppError::invalid("身份证号码", "不能为空")),
        };
        // The staff form does not ask for a person's status: editing keeps it.
        let reg_status = match self.reg_status.trim() {
            "" => current.map_or(xinjian_core::subject::RegStatus::Active, |c| c.reg_status),
            s => xinjian_core::subject::RegStatus::parse(s)
                .map(Ok)
                .unwrap_or_else(|| xinjian_core::subject::RegStatus::parse_zh(s))
                .map_err(|e| AppError::invalid("状态", e))?,
        };
        Ok(SubjectData {
            code: current.map(|c| c.code.clone()).unwrap_or_default(),
            code_flag: None,
            name,
            kind: SubjectKind::NaturalPerson,
            entity_type: Some(SubjectKind::NaturalPerson.label().to_owned()),
            legal_rep: None,
            legal_rep_id: None,
            address: opt(&self.address),
            division_code: Some(person_id.division_code().to_owned()),
            business_scope: None,
            established_on: None,
            reg_status,
            reg_authority: None,
            industry: opt(&self.industry),
            person_id: Some(person_id.as_str().to_owned()),
        })
    }
}

/// One entry of a subject's history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub version: i64,
    pub at: String,
    pub source: String,
    pub source_label: String,
    pub actor: String,
    pub actor_label: String,
    pub reason: Option<String>,
    /// Human-readable changes against the previous version.
    pub changes: Vec<String>,
    pub reg_status_label: &'static str,
}

/// A page of search results.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SubjectPage {
    pub total: i64,
    pub items: Vec<SubjectView>,
}

/// The 重错码 report (seed 001: error rate below 1/10000).
#[derive(Debug, Clone, Serialize)]
pub struct QualityReport {
    pub total: i64,
    pub flagged: Vec<SubjectView>,
    pub flagged_count: i64,
    pub name_conflicts: Vec<subjects::NameConflict>,
    /// Flagged codes per 10,000 subjects.
    pub error_rate_per_10000: f64,
    pub meets_target: bool,
    /// Rows rejected in recent imports for duplicate codes or bad check characters.
    pub recent_import_rejections: Vec<imports::ImportRow>,
}

fn describe_changes(old: &SubjectData, new: &SubjectData) -> Vec<String> {
    let mut out = Vec::new();
    let mut diff = |label: &str, a: Option<String>, b: Option<String>| {
        if a != b {
            out.push(format!(
                "{label}：{} → {}",
                a.unwrap_or_else(|| "（空）".into()),
                b.unwrap_or_else(|| "（空）".into())
            ));
        }
    };
    diff("名称", Some(old.name.clone()), Some(new.name.clone()));
    diff(
        "登记状态",
        Some(old.reg_status.label().into()),
        Some(new.reg_status.label().into()),
    );
    diff("主体类型", old.entity_type.clone(), new.entity_type.clone());
    diff("法定代表人", old.legal_rep.clone(), new.legal_rep.clone());
    diff(
        "法定代表人证件号码",
        old.legal_rep_id.as_deref().map(mask_str),
        new.legal_rep_id.as_deref().map(mask_str),
    );
    diff(
        "身份证号码",
        old.person_id.as_deref().map(mask_str),
        new.person_id.as_deref().map(mask_str),
    );
    diff("住所", old.address.clone(), new.address.clone());
    diff(
        "经营范围",
        old.business_scope.clone(),
        new.business_scope.clone(),
    );
    diff(
        "成立日期",
        old.established_on.map(|d| d.to_string()),
        new.established_on.map(|d| d.to_string()),
    );
    diff(
        "登记机关",
        old.reg_authority.clone(),
        new.reg_authority.clone(),
    );
    diff("所属行业", old.industry.clone(), new.industry.clone());
    diff(
        "行政区划",
        old.division_code.clone(),
        new.division_code.clone(),
    );
    out
}

impl App {
    pub fn subject(&self, actor: &Actor, code: &str) -> Result<SubjectView> {
        let row = self.subject_row(actor, code)?;
        Ok(SubjectView::from(&row))
    }

    fn subject_row(&self, actor: &Actor, code: &str) -> Result<SubjectRow> {
        let code = xinjian_core::uscc::normalize(code);
        match actor {
            Actor::User(u) if u.role == xinjian_core::role::Role::Entity => {
                actor.require(Permission::OwnSubjectRead)?;
                if u.subject_code.as_deref() != Some(code.as_str()) {
                    return Err(AppError::Forbidden);
                }
            }
            _ => {
                if !actor.can(Permission::DepartmentQuery) {
                    actor.require(Permission::SubjectRead)?;
                }
            }
        }
        subjects::by_code(&mut *self.db.conn()?, &code)?
            .ok_or_else(|| AppError::NotFound(format!("主体 {code} ")))
    }

    pub fn search_subjects(&self, actor: &Actor, query: &SubjectQuery) -> Result<SubjectPage> {
        actor.require(Permission::SubjectRead)?;
        // An ID number never travels in a query string (addresses end up in browser history,
        // proxies and logs) and its lookup is audited: see `lookup_person`.
        // (A valid organisation code that also passes as an ID number is searched as a code.)
        let q = query.q.trim();
        if xinjian_core::person_id::PersonId::parse(q).is_ok()
            && xinjian_core::uscc::Uscc::parse(q).is_err()
        {
            return Err(AppError::invalid(SEARCH_FIELD, PERSON_LOOKUP_HINT));
        }
        let (rows, total) = subjects::search(&mut *self.db.conn()?, query)?;
        Ok(SubjectPage {
            total,
            items: rows.iter().map(SubjectView::from).collect(),
        })
    }

    /// Public search: name fragment or code; registration facts only.
    /// Search by name fragment (one character and up) or code, through the search index.
    pub fn public_search(&self, q: &str, limit: i64) -> Result<Vec<SearchHit>> {
        let q = q.trim();
        if q.is_empty() {
            return Ok(Vec::new());
        }
        if q.chars().count() > 100 {
            return Err(AppError::invalid("q", "查询内容过长"));
        }
        let limit = limit.clamp(1, 100);
        let mut conn = self.db.conn()?;
        // Flagged codes are never shown: ask for more while they take places a shown subject
        // could have had (the index ranks the same way however many are asked for).
        let mut ask = limit;
        loop {
            let hits = subjects::find(&mut conn, q, ask)?;
            let full = hits.len() as i64 == ask;
            let mut shown: Vec<SearchHit> = hits
                .into_iter()
                .filter(|h| !h.flagged)
                .map(|h| SearchHit {
                    code: h.code,
                    name: h.name,
                    reg_status: h.reg_status.as_str(),
                    reg_status_label: h.reg_status.label(),
                })
                .collect();
            let short = limit - shown.len() as i64;
            if short <= 0 || !full || ask >= 100 {
                shown.truncate(limit as usize);
                return Ok(shown);
            }
            ask = (ask + short).min(100);
        }
    }

    pub fn public_subject(&self, code: &str) -> Result<PublicSubject> {
        let code = xinjian_core::uscc::normalize(code);
        let row = subjects::by_code(&mut *self.db.conn()?, &code)?
            // Flagged codes and natural persons are never public.
            .filter(|r| r.data.code_flag.is_none() && r.data.kind != SubjectKind::NaturalPerson)
            .ok_or_else(|| AppError::NotFound(format!("主体 {code} ")))?;
        Ok(PublicSubject::from(&row))
    }

    /// The registration history, newest first, with what changed in each version.
    pub fn subject_history(&self, actor: &Actor, code: &str) -> Result<Vec<HistoryEntry>> {
        let row = self.subject_row(actor, code)?;
        let versions: Vec<VersionRow> = subjects::versions(&mut *self.db.conn()?, row.id)?;
        let mut out = Vec::with_capacity(versions.len());
        for (i, v) in versions.iter().enumerate() {
            let changes = if i == 0 {
                vec!["登记入库".to_owned()]
            } else {
                describe_changes(&versions[i - 1].data, &v.data)
            };
            out.push(HistoryEntry {
                version: v.version,
                at: crate::accounts::format_local(&v.created_at),
                source: v.source.clone(),
                source_label: source_label(&v.source),
                actor: v.actor.clone(),
                actor_label: actor_label(&v.actor),
                reason: v.reason.clone(),
                changes,
                reg_status_label: v.data.reg_status.label(),
            });
        }
        out.reverse();
        Ok(out)
    }

    /// The full ID number of the subject's person: the legal representative's, or a natural
    /// person's own. Each reveal is audited.
    pub fn reveal_id_number(
        &self,
        actor: &Actor,
        code: &str,
        purpose: &str,
    ) -> Result<Option<String>> {
        actor.require(Permission::PersonalDataRead)?;
        let purpose = purpose.trim();
        if purpose.is_empty() {
            return Err(AppError::invalid("查看事由", "查看个人信息须说明事由"));
        }
        let code = xinjian_core::uscc::normalize(code);
        let mut conn = self.db.conn()?;
        conn.transaction(|tx| {
            let row = subjects::by_code(tx, &code)?
                .ok_or_else(|| AppError::NotFound(format!("主体 {code} ")))?;
            audit::append(
                tx,
                &actor.audit(),
                "personal_data.read",
                &format!("subject:{code}"),
                &json!({ "field": if row.data.person_id.is_some() { "person_id" } else { "legal_rep_id" }, "purpose": purpose }),
            )?;
            Ok(row.data.person_id.or(row.data.legal_rep_id))
        })
    }

    /// Find the natural person registered with a resident ID number (staff). The number is
    /// personal information: it is asked for in a form body, never in an address, and every
    /// lookup is audited (`personal_data.lookup`, the number masked) in the transaction that
    /// reads it. Returns the person's registry key, if registered.
    pub fn lookup_person(&self, actor: &Actor, id_number: &str) -> Result<Option<String>> {
        actor.require(Permission::SubjectRead)?;
        // The number is not echoed back: a number that fails its check is usually a real one
        // with a typo.
        let pid = xinjian_core::person_id::PersonId::parse(id_number.trim()).map_err(|_| {
            AppError::invalid(
                "证件号码",
                "不是有效的居民身份证号码（18 位，末位为校验码）",
            )
        })?;
        let mut conn = self.db.conn()?;
        conn.transaction(|tx| {
            let found = subjects::by_person_id(tx, pid.as_str())?;
            let target = found.as_ref().map_or_else(
                || "person_id:none".to_owned(),
                |r| format!("subject:{}", r.data.code),
            );
            audit::append(
                tx,
                &actor.audit(),
                "personal_data.lookup",
                &target,
                &json!({ "person_id": pid.masked(), "found": found.is_some() }),
            )?;
            Ok(found.map(|r| r.data.code))
        })
    }

    /// Create a subject by hand (e.g. one missing from the last market-regulation export), or
    /// register a natural person (`data.code` empty: the person gets a new key `Z…`).
    pub fn create_subject(
        &self,
        actor: &Actor,
        mut data: SubjectData,
        reason: &str,
    ) -> Result<SubjectView> {
        actor.require(Permission::SubjectWrite)?;
        let name = actor.name();
        let mut conn = self.db.conn()?;
        // Stamped once the connection is ours: see `evaluate_some`'s look-back.
        let now = now();
        let row = conn.transaction(|tx| {
            if let Some(pid) = data.person_id.as_deref() {
                if let Some(other) = subjects::by_person_id(tx, pid)? {
                    return Err(AppError::Conflict(format!(
                        "该身份证号码已登记为自然人主体 {}（{}）",
                        other.data.code, other.data.name
                    )));
                }
                if data.code.is_empty() {
                    data.code = new_person_key(tx)?;
                }
            }
            validate_manual(&data)?;
            let hash = data.content_hash();
            if subjects::by_code(tx, &data.code)?.is_some() {
                return Err(AppError::Conflict(format!(
                    "统一社会信用代码 {} 已登记",
                    data.code
                )));
            }
            let p = Provenance {
                source: "manual",
                actor: &name,
                reason: Some(reason),
                now: &now,
            };
            subjects::insert(tx, &data, &hash, &p)?;
            audit::append(
                tx,
                &actor.audit(),
                "subject.create",
                &format!("subject:{}", data.code),
                &json!({ "reason": reason }),
            )?;
            subjects::by_code(tx, &data.code)?
                .ok_or(AppError::Internal("inserted subject vanished".into()))
        })?;
        Ok(SubjectView::from(&row))
    }

    /// Create a subject from staff input.
    pub fn create_subject_input(
        &self,
        actor: &Actor,
        input: SubjectInput,
        reason: &str,
    ) -> Result<SubjectView> {
        actor.require(Permission::SubjectWrite)?;
        self.create_subject(actor, input.into_data(None)?, reason)
    }

    /// Change a subject from staff input (a new version). An empty ID number keeps the stored one.
    pub fn update_subject_input(
        &self,
        actor: &Actor,
        code: &str,
        input: SubjectInput,
        expected_version: i64,
        reason: &str,
    ) -> Result<SubjectView> {
        actor.require(Permission::SubjectWrite)?;
        let current = self.subject_row(actor, code)?;
        let data = input.into_data(Some(&current.data))?;
        if data.code != current.data.code {
            return Err(AppError::invalid(
                "统一社会信用代码",
                "不能修改主体的统一社会信用代码；代码变更请登记新主体",
            ));
        }
        self.update_subject(actor, data, expected_version, reason)
    }

    /// Record a new version of a subject; `expected_version` is the version the editor saw.
    pub fn update_subject(
        &self,
        actor: &Actor,
        data: SubjectData,
        expected_version: i64,
        reason: &str,
    ) -> Result<SubjectView> {
        actor.require(Permission::SubjectWrite)?;
        validate_manual(&data)?;
        if reason.trim().is_empty() {
            return Err(AppError::invalid("变更事由", "修改登记信息须说明事由"));
        }
        let hash = data.content_hash();
        let name = actor.name();
        let mut conn = self.db.conn()?;
        // Stamped once the connection is ours: see `evaluate_some`'s look-back.
        let now = now();
        let row = conn.transaction(|tx| {
            let cur = subjects::by_code(tx, &data.code)?.ok_or_else(|| AppError::NotFound(format!("主体 {} ", data.code)))?;
            if cur.content_hash == hash {
                return Ok(cur);
            }
            if let Some(pid) = data.person_id.as_deref() {
                if let Some(other) = subjects::by_person_id(tx, pid)?.filter(|o| o.id != cur.id) {
                    return Err(AppError::Conflict(format!(
                        "该身份证号码已登记为另一自然人主体 {}（{}）",
                        other.data.code, other.data.name
                    )));
                }
            }
            let p = Provenance { source: "manual", actor: &name, reason: Some(reason), now: &now };
            let v = subjects::update(tx, cur.id, expected_version, &data, &hash, &p)?;
            audit::append(
                tx,
                &actor.audit(),
                "subject.update",
                &format!("subject:{}", data.code),
                &json!({ "version": v, "reason": reason, "changes": describe_changes(&cur.data, &data) }),
            )?;
            subjects::by_code(tx, &data.code)?.ok_or(AppError::Internal("updated subject vanished".into()))
        })?;
        Ok(SubjectView::from(&row))
    }

    pub fn registry_stats(&self, actor: &Actor) -> Result<subjects::RegistryStats> {
        actor.require(Permission::SubjectRead)?;
        self.registry_counts()
    }

    /// The registry's counts, kept until it changes (a scan of the registry at 1,000,000).
    fn registry_counts(&self) -> Result<subjects::RegistryStats> {
        self.report("registry_stats", |c| Ok(subjects::stats(c)?))
    }

    pub fn quality_report(&self, actor: &Actor) -> Result<QualityReport> {
        actor.require(Permission::RegistryQuality)?;
        // The registry-wide parts (a scan each) as kept until the registry changes; the flagged
        // codes (from their index) and the latest imports are read now.
        let stats = self.registry_counts()?;
        let name_conflicts =
            self.report("name_conflicts", |c| Ok(subjects::name_conflicts(c, 200)?))?;
        let mut conn = self.db.conn()?;
        let flagged = subjects::flagged(&mut conn, 200)?;
        let rate = if stats.total == 0 {
            0.0
        } else {
            stats.flagged as f64 * 10_000.0 / stats.total as f64
        };
        let recent = imports::recent(&mut conn, 20)?
            .into_iter()
            .filter(|i| i.rejected > 0)
            .collect();
        Ok(QualityReport {
            total: stats.total,
            flagged: flagged.iter().map(SubjectView::from).collect(),
            flagged_count: stats.flagged,
            name_conflicts,
            error_rate_per_10000: (rate * 100.0).round() / 100.0,
            meets_target: rate < 1.0,
            recent_import_rejections: recent,
        })
    }
}

/// A key no subject has yet (17 random characters: a clash is astronomically rare, but checked).
pub(crate) fn new_person_key(tx: &mut xinjian_store::Conn) -> Result<String> {
    loop {
        let mut random = [0u8; 17];
        getrandom::fill(&mut random)
            .map_err(|e| AppError::Internal(format!("random source: {e}")))?;
        let key = xinjian_core::subject::person_key(random);
        if subjects::by_code(tx, &key)?.is_none() {
            return Ok(key);
        }
    }
}

/// Hand-entered subjects must carry a valid code (flagged codes only come from imports); a
/// natural person a person key and a valid ID number.
fn validate_manual(d: &SubjectData) -> Result<()> {
    match &d.person_id {
        Some(pid) => {
            if d.kind != SubjectKind::NaturalPerson
                || !xinjian_core::subject::is_person_key(&d.code)
            {
                return Err(AppError::invalid(
                    "身份证号码",
                    "只有自然人主体登记身份证号码",
                ));
            }
            xinjian_core::person_id::PersonId::parse(pid)
                .map_err(|e| AppError::invalid("身份证号码", e.to_string()))?;
        }
        None => {
            if d.kind == SubjectKind::NaturalPerson && xinjian_core::subject::is_person_key(&d.code)
            {
                return Err(AppError::invalid("身份证号码", "自然人须登记身份证号码"));
            }
            xinjian_core::uscc::Uscc::parse(&d.code)
                .map_err(|e| AppError::invalid("统一社会信用代码", e.to_string()))?;
        }
    }
    if d.name.trim().is_empty() {
        return Err(AppError::invalid("名称", "不能为空"));
    }
    if d.name.chars().count() > xinjian_core::subject::MAX_NAME_CHARS {
        return Err(AppError::invalid("名称", "过长"));
    }
    if let Some(id) = &d.legal_rep_id {
        xinjian_core::person_id::PersonId::parse(id)
            .map_err(|e| AppError::invalid("法定代表人证件号码", e.to_string()))?;
    }
    if let Some(dt) = d.established_on {
        if dt > crate::today() {
            return Err(AppError::invalid("成立日期", "不能晚于今天"));
        }
    }
    Ok(())
}

/// The field a refused registry search names (the search box).
pub const SEARCH_FIELD: &str = "查询内容";

/// Why a registry search refuses an ID number, and where to look it up instead.
pub const PERSON_LOOKUP_HINT: &str =
    "证件号码属于个人信息，不能放在查询地址中：请用“按证件号码查找自然人”（查找留痕）";

/// `import:12` → 导入任务 12, `manual` → 人工录入.
pub fn source_label(source: &str) -> String {
    match source.split_once(':') {
        Some(("import", id)) => format!("导入任务 {id}"),
        _ if source == "manual" => "人工录入".into(),
        _ => source.to_owned(),
    }
}

/// `user:wang` → wang, `cli:root` → 命令行（root）, `demo` → 演示数据.
pub fn actor_label(actor: &str) -> String {
    match actor.split_once(':') {
        Some(("user", name)) => name.to_owned(),
        Some(("cli", name)) => format!("命令行（{name}）"),
        Some(("token", rest)) => format!("接口令牌（{}）", rest.rsplit(':').next().unwrap_or(rest)),
        _ if actor == "demo" => "演示数据".into(),
        _ if actor == "system" => "系统".into(),
        _ => actor.to_owned(),
    }
}
