//! Subjects of supervision (市场主体): kinds, registration status and the registry record.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What kind of subject (DOMAIN §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    Enterprise,
    IndividualBusiness,
    Cooperative,
    SocialOrganization,
    PublicInstitution,
    NaturalPerson,
}

impl SubjectKind {
    pub const ALL: [SubjectKind; 6] = [
        SubjectKind::Enterprise,
        SubjectKind::IndividualBusiness,
        SubjectKind::Cooperative,
        SubjectKind::SocialOrganization,
        SubjectKind::PublicInstitution,
        SubjectKind::NaturalPerson,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Enterprise => "enterprise",
            SubjectKind::IndividualBusiness => "individual_business",
            SubjectKind::Cooperative => "cooperative",
            SubjectKind::SocialOrganization => "social_organization",
            SubjectKind::PublicInstitution => "public_institution",
            SubjectKind::NaturalPerson => "natural_person",
        }
    }

    pub fn parse(s: &str) -> Option<SubjectKind> {
        SubjectKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            SubjectKind::Enterprise => "企业",
            SubjectKind::IndividualBusiness => "个体工商户",
            SubjectKind::Cooperative => "农民专业合作社",
            SubjectKind::SocialOrganization => "社会组织",
            SubjectKind::PublicInstitution => "事业单位",
            SubjectKind::NaturalPerson => "自然人",
        }
    }

    /// Classify a market-regulation 主体类型/企业类型 text, falling back on the USCC's
    /// registration-authority and entity-type characters when the text is empty.
    pub fn classify(type_text: &str, code: &str) -> SubjectKind {
        let t = type_text.trim();
        if t.contains("个体") {
            return SubjectKind::IndividualBusiness;
        }
        if t.contains("合作社") {
            return SubjectKind::Cooperative;
        }
        if [
            "社会团体",
            "民办非企业",
            "基金会",
            "社会服务机构",
            "社会组织",
        ]
        .iter()
        .any(|k| t.contains(k))
        {
            return SubjectKind::SocialOrganization;
        }
        if t.contains("事业单位") || t.contains("机关") {
            return SubjectKind::PublicInstitution;
        }
        if t == "自然人" {
            return SubjectKind::NaturalPerson;
        }
        if !t.is_empty() {
            return SubjectKind::Enterprise;
        }
        let mut chars = code.chars();
        match (chars.next(), chars.next()) {
            (Some('9'), Some('2')) => SubjectKind::IndividualBusiness,
            (Some('9'), Some('3')) | (Some('N'), _) => SubjectKind::Cooperative,
            (Some('5'), _) => SubjectKind::SocialOrganization,
            (Some('1'), _) | (Some('3'), _) => SubjectKind::PublicInstitution,
            _ => SubjectKind::Enterprise,
        }
    }
}

/// Registration status (登记状态).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegStatus {
    /// 存续（在营、开业、在册）
    Active,
    /// 吊销 — the business licence was revoked (grade D).
    Revoked,
    /// 注销 — deregistered.
    Deregistered,
    /// 迁出 — moved out of the jurisdiction.
    MovedOut,
    /// 待核实 — not (yet) in the registry: created because a credit record or list entry
    /// named this code. The next registry import replaces it with the registered facts.
    Pending,
}

impl RegStatus {
    pub const ALL: [RegStatus; 5] = [
        RegStatus::Active,
        RegStatus::Revoked,
        RegStatus::Deregistered,
        RegStatus::MovedOut,
        RegStatus::Pending,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RegStatus::Active => "active",
            RegStatus::Revoked => "revoked",
            RegStatus::Deregistered => "deregistered",
            RegStatus::MovedOut => "moved_out",
            RegStatus::Pending => "pending",
        }
    }

    pub fn parse(s: &str) -> Option<RegStatus> {
        RegStatus::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            RegStatus::Active => "存续",
            RegStatus::Revoked => "吊销",
            RegStatus::Deregistered => "注销",
            RegStatus::MovedOut => "迁出",
            RegStatus::Pending => "待核实",
        }
    }

    /// Read the status as market regulation writes it (“存续（在营、开业、在册）”, “吊销，未注销”,
    /// “吊销，已注销”, “注销”, “迁出”, …).
    pub fn parse_zh(text: &str) -> Result<RegStatus, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("登记状态为空".into());
        }
        if t.contains("已注销") || (t.contains("注销") && !t.contains("未注销")) {
            return Ok(RegStatus::Deregistered);
        }
        if t.contains("吊销") {
            return Ok(RegStatus::Revoked);
        }
        if t.contains("迁出") {
            return Ok(RegStatus::MovedOut);
        }
        if [
            "存续",
            "在业",
            "在营",
            "开业",
            "在册",
            "正常",
            "设立",
            "登记成立",
            "确立",
        ]
        .iter()
        .any(|k| t.contains(k))
        {
            return Ok(RegStatus::Active);
        }
        if let Some(s) = RegStatus::parse(t) {
            return Ok(s);
        }
        Err(format!(
            "无法识别的登记状态“{t}”（应为存续、在业、吊销、注销或迁出）"
        ))
    }
}

/// Why a code is kept although it is not a valid USCC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeFlag {
    /// A legacy code whose check character is wrong, recorded on the operator's request.
    CheckFailed,
}

impl CodeFlag {
    pub fn as_str(self) -> &'static str {
        "check_failed"
    }
    pub fn parse(s: &str) -> Option<CodeFlag> {
        (s == "check_failed").then_some(CodeFlag::CheckFailed)
    }
    pub fn label(self) -> &'static str {
        "校验码错误（存疑代码）"
    }
}

/// The registration facts of one subject, as imported from market regulation or entered by
/// staff. Its [`content_hash`](SubjectData::content_hash) decides whether a re-import changes
/// anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectData {
    pub code: String,
    pub code_flag: Option<CodeFlag>,
    pub name: String,
    pub kind: SubjectKind,
    pub entity_type: Option<String>,
    pub legal_rep: Option<String>,
    /// Personal information: stored, shown masked.
    pub legal_rep_id: Option<String>,
    pub address: Option<String>,
    pub division_code: Option<String>,
    pub business_scope: Option<String>,
    pub established_on: Option<NaiveDate>,
    pub reg_status: RegStatus,
    pub reg_authority: Option<String>,
    pub industry: Option<String>,
    /// A natural person's resident ID number (GB 11643), the person's real identity. Personal
    /// information: stored, shown masked, never public. `None` for organisations (and then
    /// absent from the canonical JSON, so organisations' hashes do not depend on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
}

/// The alphabet of codes (GB 32100): no I, O, S, V, Z.
const CODE_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The registry key of a natural person: `Z` and 17 random characters of the code alphabet.
/// A person is identified by the ID number, but the number is personal information and must
/// not travel in addresses, exports or audit targets the way a code does; the key does. `Z`
/// is outside the code alphabet of GB 32100, so a key is never taken for a code (a key
/// starting with a code character would pass the check one time in 31).
pub fn person_key(random: [u8; 17]) -> String {
    let mut key = String::with_capacity(18);
    key.push('Z');
    for b in random {
        key.push(CODE_ALPHABET[b as usize % CODE_ALPHABET.len()] as char);
    }
    key
}

/// Whether `s` has the shape of a [`person_key`].
pub fn is_person_key(s: &str) -> bool {
    s.len() == 18 && s.starts_with('Z') && s[1..].bytes().all(|b| CODE_ALPHABET.contains(&b))
}

impl SubjectData {
    /// SHA-256 over the canonical JSON of the fields (field order is the struct's).
    pub fn content_hash(&self) -> String {
        self.canonical_json_and_hash().1
    }

    /// The canonical JSON (stored as the version's snapshot) and its SHA-256, computed once.
    pub fn canonical_json_and_hash(&self) -> (String, String) {
        let json = serde_json::to_string(self).expect("subject data serialises");
        let hash = hex::encode(Sha256::digest(json.as_bytes()));
        (json, hash)
    }

    /// Whether the business scope includes bookkeeping (代理记账): see [`scope_offers_bookkeeping`].
    pub fn offers_bookkeeping(&self) -> bool {
        self.business_scope
            .as_deref()
            .is_some_and(scope_offers_bookkeeping)
    }
}

/// The activity that needs a bookkeeping licence (《代理记账管理办法》第3条), in both of the
/// spellings registrations use (帐 in many older ones).
pub const BOOKKEEPING: [&str; 2] = ["代理记账", "代理记帐"];

/// Words that, ahead of an activity in the same clause, exclude it from a business scope.
const EXCLUDED_BY: [&str; 8] = [
    "不含",
    "不包含",
    "不包括",
    "不得",
    "不从事",
    "不涉及",
    "不经营",
    "禁止",
];

/// Words that, after an activity in the same clause, exclude it ("代理记账除外", "代理记账以外的…").
const EXCLUDED_AFTER: [&str; 3] = ["除外", "以外", "之外"];

/// Words that, right after the activity's name, make it the name of a product instead
/// ("代理记账软件销售", "代理记账系统开发"): selling bookkeeping software needs no licence.
const PRODUCT_AFTER: [&str; 2] = ["软件", "系统"];

/// Characters that end a clause of a business scope outside parentheses.
fn ends_clause(c: char) -> bool {
    matches!(
        c,
        '；' | ';' | '。' | '，' | ',' | '：' | ':' | '（' | '(' | '）' | ')' | '\n'
    )
}

/// The clause of `scope` around `scope[at..end]`: inside parentheses, the whole parenthetical
/// (an exclusion such as "（不含审计、验资，代理记账）" runs to its closing parenthesis);
/// otherwise from the last character that ends a clause to the next.
fn clause_around(scope: &str, at: usize, end: usize) -> (&str, &str) {
    let (before, after) = (&scope[..at], &scope[end..]);
    let mut depth = 0usize;
    let open = before.char_indices().rev().find_map(|(i, c)| match c {
        '）' | ')' => {
            depth += 1;
            None
        }
        '（' | '(' if depth == 0 => Some(i + c.len_utf8()),
        '（' | '(' => {
            depth -= 1;
            None
        }
        _ => None,
    });
    match open {
        Some(start) => {
            let close = after.find(['）', ')']).unwrap_or(after.len());
            (&before[start..], &after[..close])
        }
        None => {
            let start = before
                .char_indices()
                .rev()
                .find(|(_, c)| ends_clause(*c))
                .map_or(0, |(i, c)| i + c.len_utf8());
            let close = after.find(ends_clause).unwrap_or(after.len());
            (&before[start..], &after[..close])
        }
    }
}

/// Whether a business scope (经营范围) includes bookkeeping. Scopes often name it only to
/// exclude it — "财务咨询（不含代理记账）", "除代理记账外的会计咨询", "税务咨询，代理记账除外" —
/// and such a business is no bookkeeping agency: one that needs a licence is one whose scope
/// names the activity at least once outside such a clause. `除` excludes only as `除…外`
/// around the activity (not in "除甲醛服务、代理记账", nor in a `除审计外` already closed).
/// Nor does the name of a product ("代理记账软件销售").
/// The registry's flag, the staff filter and the overview count are this rule (the store keeps
/// its answer beside each subject; a change of the rule needs a migration that sets it again,
/// as 0017 did).
pub fn scope_offers_bookkeeping(scope: &str) -> bool {
    // One pass for both spellings (every import row is asked): their common start, then 账/帐.
    const STEM: &str = "代理记";
    scope.match_indices(STEM).any(|(at, _)| {
        let end = at + STEM.len();
        let Some(last) = scope[end..]
            .chars()
            .next()
            .filter(|c| matches!(c, '账' | '帐'))
        else {
            return false;
        };
        let end = end + last.len_utf8();
        if PRODUCT_AFTER.iter().any(|p| scope[end..].starts_with(p)) {
            return false;
        }
        let (before, after) = clause_around(scope, at, end);
        let open_chu = before
            .rfind('除')
            .is_some_and(|i| !before[i..].contains('外'));
        let excluded = EXCLUDED_BY.iter().any(|x| before.contains(x))
            || EXCLUDED_AFTER.iter().any(|x| after.contains(x))
            || (open_chu && after.contains('外'));
        !excluded
    })
}

/// Longest accepted value of a free-text registry field, in characters.
pub const MAX_FIELD_CHARS: usize = 2000;
/// Longest accepted name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_as_written_by_market_regulation() {
        assert_eq!(
            RegStatus::parse_zh("存续（在营、开业、在册）"),
            Ok(RegStatus::Active)
        );
        assert_eq!(RegStatus::parse_zh("在业"), Ok(RegStatus::Active));
        assert_eq!(RegStatus::parse_zh("吊销，未注销"), Ok(RegStatus::Revoked));
        assert_eq!(
            RegStatus::parse_zh("吊销，已注销"),
            Ok(RegStatus::Deregistered)
        );
        assert_eq!(RegStatus::parse_zh("注销"), Ok(RegStatus::Deregistered));
        assert_eq!(RegStatus::parse_zh("迁出"), Ok(RegStatus::MovedOut));
        assert!(RegStatus::parse_zh("不知道").is_err());
    }

    #[test]
    fn bookkeeping_in_a_business_scope() {
        for scope in [
            "代理记账",
            "代理记账；财务咨询；税务咨询",
            "许可项目：代理记账（依法须经批准的项目，经相关部门批准后方可开展经营活动）",
            "一般项目：财务咨询；税务服务。许可项目：代理记账。",
            "会计咨询，代理记账业务",
            // Excluded once, offered elsewhere.
            "财务咨询（不含代理记账）；代理记账",
            "企业管理咨询；代理记账服务，不含审计",
            // 除 that is no exclusion of it, and the older spelling.
            "家政服务、室内除甲醛服务、代理记账、企业管理咨询",
            "保洁服务、除四害服务、代理记账",
            "除审计外的会计咨询、代理记账、税务咨询",
            "财务咨询（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）许可项目：代理记账",
            "代理记帐；财务咨询；税务咨询",
            "会计咨询、代理记帐、税务代理",
            // A product named once, the activity elsewhere.
            "代理记账软件销售；代理记账",
            "代理记账服务；财务软件、代理记账系统开发",
        ] {
            assert!(scope_offers_bookkeeping(scope), "{scope}");
        }
        for scope in [
            "",
            "财务咨询（不含代理记账）",
            "财务咨询(不含代理记账)",
            "企业管理咨询；税务咨询（不包括代理记账、审计）",
            "财务咨询（不含审计、代理记账及验资）",
            "除代理记账外的会计咨询",
            "税务咨询，代理记账除外",
            "商务信息咨询（不得从事代理记账业务）",
            "会计咨询（不涉及代理记账）",
            "记账凭证印刷；代理报关",
            "财务咨询（不含代理记帐）",
            // An exclusion in parentheses runs to the closing one, whatever it lists.
            "企业管理咨询（不含审计、验资，代理记账，评估）",
            "财务咨询（不含：代理记账、审计）",
            "除代理记账、审计外的会计咨询",
            "代理记账以外的会计咨询服务",
            "商务咨询（禁止从事代理记账）",
            "会计咨询（不经营代理记账）",
            // The name of a product.
            "软件开发；代理记账软件销售",
            "代理记账系统开发、技术服务",
            "代理记帐软件的开发与销售",
        ] {
            assert!(!scope_offers_bookkeeping(scope), "{scope}");
        }
    }

    #[test]
    fn kinds_from_text_or_code() {
        assert_eq!(
            SubjectKind::classify("有限责任公司（自然人投资或控股）", ""),
            SubjectKind::Enterprise
        );
        assert_eq!(
            SubjectKind::classify("个体工商户", ""),
            SubjectKind::IndividualBusiness
        );
        assert_eq!(
            SubjectKind::classify("", "92510802MA000000"),
            SubjectKind::IndividualBusiness
        );
        assert_eq!(
            SubjectKind::classify("农民专业合作社", ""),
            SubjectKind::Cooperative
        );
        assert_eq!(
            SubjectKind::classify("", "914403001922038216"),
            SubjectKind::Enterprise
        );
    }

    #[test]
    fn hash_changes_with_any_field() {
        let a = SubjectData {
            person_id: None,
            code: "914403001922038216".into(),
            code_flag: None,
            name: "华为技术有限公司".into(),
            kind: SubjectKind::Enterprise,
            entity_type: None,
            legal_rep: None,
            legal_rep_id: None,
            address: None,
            division_code: None,
            business_scope: None,
            established_on: None,
            reg_status: RegStatus::Active,
            reg_authority: None,
            industry: None,
        };
        let mut b = a.clone();
        assert_eq!(a.content_hash(), b.content_hash());
        b.reg_status = RegStatus::Revoked;
        assert_ne!(a.content_hash(), b.content_hash());
        // An organisation's canonical JSON has no person_id (hashes stored before natural
        // persons existed stay valid); a person's has it, and it changes the hash.
        assert!(!a.canonical_json_and_hash().0.contains("person_id"));
        let mut p = a.clone();
        p.person_id = Some("11010519491231002X".into());
        assert!(p
            .canonical_json_and_hash()
            .0
            .contains("\"person_id\":\"11010519491231002X\""));
        assert_ne!(a.content_hash(), p.content_hash());
    }

    #[test]
    fn person_keys_have_their_own_shape() {
        let k = person_key([0; 17]);
        assert_eq!(k, "Z00000000000000000");
        assert!(is_person_key(&k));
        let k = person_key([
            30, 31, 255, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
        ]);
        assert_eq!(k.len(), 18);
        assert!(is_person_key(&k), "{k}");
        // Codes are never person keys (P is no registration authority), nor are odd strings.
        assert!(!is_person_key("914403001922038216"));
        assert!(!is_person_key("Z0000000000000000"));
        assert!(!is_person_key("Z0000000000000000I"));
        assert!(!is_person_key("z00000000000000000"));
        // No key is ever a valid code, whatever its check character.
        for b in 0..=255u8 {
            let mut r = [b; 17];
            r[16] = b.wrapping_mul(7);
            assert!(crate::uscc::Uscc::parse(&person_key(r)).is_err());
        }
    }
}
