//! Credit information (DOMAIN §3, §7): record natures, severities and statuses, the catalog of
//! record kinds with their publicity periods, the penalty-category → severity mapping, the
//! list types, and the double-publicity (双公示) deadline rules. Pure: the stored catalog and
//! mapping are passed in.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::calendar::{CalendarError, WorkdayCalendar};

/// 守信 / 失信 / 中性.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Nature {
    Positive,
    Negative,
    Neutral,
}

impl Nature {
    pub const ALL: [Nature; 3] = [Nature::Positive, Nature::Negative, Nature::Neutral];
    pub fn as_str(self) -> &'static str {
        match self {
            Nature::Positive => "positive",
            Nature::Negative => "negative",
            Nature::Neutral => "neutral",
        }
    }
    pub fn parse(s: &str) -> Option<Nature> {
        Nature::ALL.into_iter().find(|n| n.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            Nature::Positive => "守信",
            Nature::Negative => "失信",
            Nature::Neutral => "中性",
        }
    }
}

/// Severity of a negative record. Ordered: `Minor < General < Serious`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Minor,
    General,
    Serious,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Minor, Severity::General, Severity::Serious];
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Minor => "minor",
            Severity::General => "general",
            Severity::Serious => "serious",
        }
    }
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|n| n.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            Severity::Minor => "轻微",
            Severity::General => "一般",
            Severity::Serious => "严重",
        }
    }
    /// The 失信严重程度 column: 轻微 / 一般 / 严重 (also 轻微失信, 严重失信, …).
    pub fn parse_zh(s: &str) -> Result<Severity, String> {
        let t = s.trim().trim_end_matches("失信");
        match t {
            "轻微" | "minor" => Ok(Severity::Minor),
            "一般" | "general" => Ok(Severity::General),
            "严重" | "serious" => Ok(Severity::Serious),
            _ => Err(format!(
                "无法识别的失信严重程度“{}”（应为 轻微、一般 或 严重）",
                s.trim()
            )),
        }
    }
}

/// The life of a record (DOMAIN §3). Every change is a new version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    Active,
    UnderObjection,
    Corrected,
    Revoked,
    Repaired,
    Expired,
}

impl RecordStatus {
    pub const ALL: [RecordStatus; 6] = [
        RecordStatus::Active,
        RecordStatus::UnderObjection,
        RecordStatus::Corrected,
        RecordStatus::Revoked,
        RecordStatus::Repaired,
        RecordStatus::Expired,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Active => "active",
            RecordStatus::UnderObjection => "under_objection",
            RecordStatus::Corrected => "corrected",
            RecordStatus::Revoked => "revoked",
            RecordStatus::Repaired => "repaired",
            RecordStatus::Expired => "expired",
        }
    }
    pub fn parse(s: &str) -> Option<RecordStatus> {
        RecordStatus::ALL.into_iter().find(|n| n.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            RecordStatus::Active => "有效",
            RecordStatus::UnderObjection => "异议处理中",
            RecordStatus::Corrected => "已更正",
            RecordStatus::Revoked => "已撤销",
            RecordStatus::Repaired => "已修复",
            RecordStatus::Expired => "已到期",
        }
    }
    /// Whether the record ends its publicity (and no longer counts) from this status on.
    pub fn ends_publicity(self) -> bool {
        matches!(
            self,
            RecordStatus::Corrected | RecordStatus::Revoked | RecordStatus::Repaired
        )
    }
}

/// The four lists of DOMAIN §7, named exactly as in the 名单类型 column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListType {
    Red,
    SeriousDishonest,
    KeyAttention,
    Abnormal,
}

impl ListType {
    pub const ALL: [ListType; 4] = [
        ListType::Red,
        ListType::SeriousDishonest,
        ListType::KeyAttention,
        ListType::Abnormal,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ListType::Red => "red",
            ListType::SeriousDishonest => "serious_dishonest",
            ListType::KeyAttention => "key_attention",
            ListType::Abnormal => "abnormal",
        }
    }
    pub fn parse(s: &str) -> Option<ListType> {
        ListType::ALL.into_iter().find(|n| n.as_str() == s)
    }
    /// The exact string of the 名单类型 column and of the UI.
    pub fn label(self) -> &'static str {
        match self {
            ListType::Red => "红名单",
            ListType::SeriousDishonest => "严重失信主体名单",
            ListType::KeyAttention => "重点关注名单",
            ListType::Abnormal => "经营异常名录",
        }
    }
    pub fn parse_zh(s: &str) -> Result<ListType, String> {
        let t = s.trim();
        ListType::ALL
            .into_iter()
            .find(|l| l.label() == t || l.as_str() == t)
            .ok_or_else(|| {
                format!("无法识别的名单类型“{t}”（应为 红名单、严重失信主体名单、重点关注名单 或 经营异常名录）")
            })
    }
    /// Whether being on the list is a positive fact (only the red list).
    pub fn is_positive(self) -> bool {
        self == ListType::Red
    }
}

/// A publicity period in months: at least `min_months` (repair possible after), at most
/// `max_months` (publication then stops automatically; `None`: no automatic end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub min_months: u32,
    pub max_months: Option<u32>,
}

/// The key of a period in a catalog kind: a severity, or `none` for records without one.
pub fn period_key(severity: Option<Severity>) -> &'static str {
    severity.map(Severity::as_str).unwrap_or("none")
}

/// One kind of the public credit information catalog (公共信用信息目录).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogKind {
    /// Stable identifier (`penalty`, `license`, …).
    pub code: String,
    pub name: String,
    pub nature: Nature,
    /// Severity of a negative record when the source states none.
    pub default_severity: Option<Severity>,
    /// Whether records of this kind are published on the portal.
    pub is_public: bool,
    /// Publication deadline in working days after the decision (双公示: 7), if tracked.
    pub publish_workdays: Option<u32>,
    /// Publicity periods keyed by [`period_key`].
    pub periods: BTreeMap<String, Period>,
}

impl CatalogKind {
    pub fn period(&self, severity: Option<Severity>) -> Option<Period> {
        self.periods.get(period_key(severity)).copied()
    }
}

/// The periods of 国办发〔2025〕22号 for negative information: minor ≤ 3 months, general 3–12
/// months, serious 12–36 months.
fn negative_periods() -> BTreeMap<String, Period> {
    BTreeMap::from([
        (
            "minor".to_owned(),
            Period {
                min_months: 0,
                max_months: Some(3),
            },
        ),
        (
            "general".to_owned(),
            Period {
                min_months: 3,
                max_months: Some(12),
            },
        ),
        (
            "serious".to_owned(),
            Period {
                min_months: 12,
                max_months: Some(36),
            },
        ),
    ])
}

fn open_ended() -> BTreeMap<String, Period> {
    BTreeMap::from([(
        "none".to_owned(),
        Period {
            min_months: 0,
            max_months: None,
        },
    )])
}

/// The catalog a new installation starts with (DOMAIN §3).
pub fn default_catalog() -> Vec<CatalogKind> {
    let kind = |code: &str,
                name: &str,
                nature: Nature,
                default_severity: Option<Severity>,
                is_public: bool,
                publish_workdays: Option<u32>| CatalogKind {
        code: code.into(),
        name: name.into(),
        nature,
        default_severity,
        is_public,
        publish_workdays,
        periods: if nature == Nature::Negative {
            negative_periods()
        } else {
            open_ended()
        },
    };
    use Nature::*;
    let g = Some(Severity::General);
    let seven = Some(7);
    vec![
        kind("license", "行政许可", Neutral, None, true, seven),
        kind("penalty", "行政处罚", Negative, g, true, seven),
        kind("coercion", "行政强制", Negative, g, true, seven),
        kind("confirmation", "行政确认", Neutral, None, true, seven),
        kind("levy", "行政征收", Neutral, None, true, seven),
        kind("payment", "行政给付", Neutral, None, true, seven),
        kind("adjudication", "行政裁决", Neutral, None, true, seven),
        kind("compensation", "行政补偿", Neutral, None, true, seven),
        kind("award", "行政奖励", Positive, None, true, seven),
        kind("inspection", "行政监督检查", Neutral, None, true, seven),
        kind(
            "enforcement",
            "失信被执行人",
            Negative,
            Some(Severity::Serious),
            true,
            None,
        ),
        kind("tax_arrears", "欠缴税款", Negative, g, true, None),
        kind("utility_arrears", "欠缴水电气费", Negative, g, false, None),
        kind(
            "commitment_kept",
            "信用承诺履约",
            Positive,
            None,
            true,
            None,
        ),
        kind("commitment_breach", "信用承诺违约", Negative, g, true, None),
        kind(
            "interview",
            "约谈",
            Negative,
            Some(Severity::Minor),
            false,
            None,
        ),
        kind(
            "complaint",
            "经核实的投诉举报",
            Negative,
            Some(Severity::Minor),
            false,
            None,
        ),
        kind("commendation", "诚信典型", Positive, None, true, None),
        kind("voluntary", "自愿注册信息", Neutral, None, false, None),
    ]
}

/// A kind code as a shared `&'static str` when it is one of the built-in kinds of
/// [`default_catalog`] (the evaluation keeps millions of them), copied otherwise (kinds an
/// administrator added).
pub fn kind_code(code: &str) -> std::borrow::Cow<'static, str> {
    use std::borrow::Cow::{Borrowed, Owned};
    match code {
        "license" => Borrowed("license"),
        "penalty" => Borrowed("penalty"),
        "coercion" => Borrowed("coercion"),
        "confirmation" => Borrowed("confirmation"),
        "levy" => Borrowed("levy"),
        "payment" => Borrowed("payment"),
        "adjudication" => Borrowed("adjudication"),
        "compensation" => Borrowed("compensation"),
        "award" => Borrowed("award"),
        "inspection" => Borrowed("inspection"),
        "enforcement" => Borrowed("enforcement"),
        "tax_arrears" => Borrowed("tax_arrears"),
        "utility_arrears" => Borrowed("utility_arrears"),
        "commitment_kept" => Borrowed("commitment_kept"),
        "commitment_breach" => Borrowed("commitment_breach"),
        "interview" => Borrowed("interview"),
        "complaint" => Borrowed("complaint"),
        "commendation" => Borrowed("commendation"),
        "voluntary" => Borrowed("voluntary"),
        other => Owned(other.to_owned()),
    }
}

/// How a penalty category (处罚类别) maps to a severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryRule {
    pub category: String,
    pub severity: Severity,
    /// 吊销营业执照: the business licence is revoked (grade D).
    pub revokes_business_licence: bool,
}

/// The configurable penalty-category mapping of DOMAIN §3.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeverityMap {
    rules: Vec<CategoryRule>,
}

/// What a penalty's categories amount to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PenaltyClass {
    pub severity: Severity,
    pub revokes_business_licence: bool,
}

impl SeverityMap {
    pub fn new(rules: Vec<CategoryRule>) -> SeverityMap {
        SeverityMap { rules }
    }

    /// The defaults of DOMAIN §3.
    pub fn default_rules() -> Vec<CategoryRule> {
        let r = |c: &str, s: Severity, revokes: bool| CategoryRule {
            category: c.into(),
            severity: s,
            revokes_business_licence: revokes,
        };
        use Severity::*;
        vec![
            r("警告", Minor, false),
            r("通报批评", Minor, false),
            r("罚款", General, false),
            r("没收违法所得", General, false),
            r("没收非法财物", General, false),
            r("暂扣许可证件", Serious, false),
            r("降低资质等级", Serious, false),
            r("吊销许可证件", Serious, false),
            r("限制开展生产经营活动", Serious, false),
            r("责令停产停业", Serious, false),
            r("责令关闭", Serious, false),
            r("限制从业", Serious, false),
            r("吊销营业执照", Serious, true),
        ]
    }

    pub fn rules(&self) -> &[CategoryRule] {
        &self.rules
    }

    /// Classify one category. A category such as “没收违法所得、没收非法财物” is split by
    /// [`split_categories`] first; here leading “其他-” and trailing notes in parentheses are
    /// tolerated.
    pub fn rule_for(&self, category: &str) -> Option<&CategoryRule> {
        let c = category.trim();
        self.rules.iter().find(|r| r.category == c).or_else(|| {
            let stripped = c
                .split(['（', '('])
                .next()
                .unwrap_or(c)
                .trim_start_matches("其他-")
                .trim();
            self.rules.iter().find(|r| r.category == stripped)
        })
    }

    /// The most severe of several categories. Unknown categories are an error naming them.
    pub fn classify(&self, categories: &[String]) -> Result<PenaltyClass, String> {
        let mut out: Option<PenaltyClass> = None;
        let mut unknown = Vec::new();
        for c in categories {
            match self.rule_for(c) {
                Some(r) => {
                    let cur = out.get_or_insert(PenaltyClass {
                        severity: r.severity,
                        revokes_business_licence: false,
                    });
                    cur.severity = cur.severity.max(r.severity);
                    cur.revokes_business_licence |= r.revokes_business_licence;
                }
                None => unknown.push(c.as_str()),
            }
        }
        if !unknown.is_empty() {
            return Err(format!(
                "处罚类别“{}”不在处罚类别对照表中（请由管理员在“信用目录”中补充对照，或在“失信严重程度”列注明 轻微/一般/严重）",
                unknown.join("、")
            ));
        }
        out.ok_or_else(|| "处罚类别为空".to_owned())
    }
}

/// Split a 处罚类别 cell: categories separated by `;`, `；`, `、`, `,` or `，`.
pub fn split_categories(cell: &str) -> Vec<String> {
    cell.split([';', '；', '、', ',', '，'])
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `date` plus `months` calendar months; a day that does not exist in the target month falls
/// back to the month's last day (29 February + 12 months = 28 February).
pub fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
    let total = date.year() * 12 + date.month0() as i32 + months as i32;
    let (y, m0) = (total.div_euclid(12), total.rem_euclid(12) as u32);
    let mut day = date.day();
    loop {
        if let Some(d) = NaiveDate::from_ymd_opt(y, m0 + 1, day) {
            return d;
        }
        day -= 1;
    }
}

/// The 双公示 deadline: the `workdays`-th working day after the decision date (the decision
/// day itself is not counted).
pub fn publish_deadline(
    calendar: &WorkdayCalendar,
    decision_date: NaiveDate,
    workdays: u32,
) -> Result<NaiveDate, CalendarError> {
    calendar.add_workdays(decision_date, workdays)
}

/// The day publication ends: the decision date plus the maximum period. The record is public
/// on the days before it (`date < publicity_until`), not on it.
pub fn publicity_until(decision_date: NaiveDate, period: Option<Period>) -> Option<NaiveDate> {
    period
        .and_then(|p| p.max_months)
        .map(|m| add_months(decision_date, m))
}

/// A record's standing in the publication report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicationStatus {
    /// Published after its deadline.
    Late,
    /// Not published and the deadline has passed.
    Missing,
    /// Not published, deadline within the next 3 working days (today included).
    DueSoon,
}

impl PublicationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PublicationStatus::Late => "late",
            PublicationStatus::Missing => "missing",
            PublicationStatus::DueSoon => "due_soon",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            PublicationStatus::Late => "逾期公示",
            PublicationStatus::Missing => "应公示未公示",
            PublicationStatus::DueSoon => "即将到期",
        }
    }
}

/// Working days ahead that count as "due soon".
pub const DUE_SOON_WORKDAYS: u32 = 3;

/// Where a record stands on `as_of`, given its deadline and the day it was published (if it
/// was by then). `due_soon_until` is `as_of` plus [`DUE_SOON_WORKDAYS`] working days.
pub fn publication_status(
    deadline: NaiveDate,
    published_on: Option<NaiveDate>,
    as_of: NaiveDate,
    due_soon_until: NaiveDate,
) -> Option<PublicationStatus> {
    match published_on.filter(|p| *p <= as_of) {
        Some(p) if p > deadline => Some(PublicationStatus::Late),
        Some(_) => None,
        None if deadline < as_of => Some(PublicationStatus::Missing),
        None if deadline <= due_soon_until => Some(PublicationStatus::DueSoon),
        None => None,
    }
}

/// The facts of one credit record as a source department states them (the national 双公示
/// fields). Bookkeeping — status, publication, version — is kept beside it, not in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordData {
    /// Catalog kind code.
    pub kind: String,
    pub subject_code: String,
    /// 行政相对人名称 as the source wrote it.
    pub subject_name: String,
    /// 行政处罚决定书文号 / 行政许可决定文书号.
    pub document_number: String,
    pub decision_date: NaiveDate,
    pub nature: Nature,
    pub severity: Option<Severity>,
    /// 处罚类别 / 许可类别, split.
    pub categories: Vec<String>,
    /// Whether the business licence is revoked by it (吊销营业执照).
    pub revokes_business_licence: bool,
    /// 处罚机关 / 许可机关.
    pub authority: Option<String>,
    /// 处罚内容 / 许可内容.
    pub content: Option<String>,
    /// 违法事实.
    pub facts: Option<String>,
    /// 处罚依据.
    pub basis: Option<String>,
    /// 罚款金额（万元）, a decimal as written (validated).
    pub fine_amount: Option<String>,
    /// 许可证书名称.
    pub certificate_name: Option<String>,
    /// 许可编号.
    pub license_number: Option<String>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    /// 数据来源单位.
    pub source_department: Option<String>,
    /// When the party is a natural person (行政相对人类别 自然人): the resident ID number the
    /// department gave (证件号码). `subject_code` is then the person's registry key, found or
    /// given when the record is stored. Personal information: never public. Absent from the
    /// canonical JSON of organisations' records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
}

impl RecordData {
    pub fn canonical_json_and_hash(&self) -> (String, String) {
        let json = serde_json::to_string(self).expect("record data serialises");
        let hash = hex::encode(Sha256::digest(json.as_bytes()));
        (json, hash)
    }
}

/// An entry on one of the lists as the deciding body states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListEntryData {
    pub subject_code: String,
    /// Subject name as written, when the file has one (used for a pending subject).
    pub subject_name: Option<String>,
    pub list_type: ListType,
    pub entered_on: NaiveDate,
    /// 列入决定文号.
    pub decision_number: String,
    /// 列入机关.
    pub authority: String,
    /// 列入事由.
    pub reason: String,
    /// 列入依据.
    pub basis: Option<String>,
    /// The entry ends on this day unless removed earlier (期限).
    pub term_until: Option<NaiveDate>,
    pub exited_on: Option<NaiveDate>,
    pub exit_reason: Option<String>,
}

impl ListEntryData {
    pub fn canonical_json_and_hash(&self) -> (String, String) {
        let json = serde_json::to_string(self).expect("list entry serialises");
        let hash = hex::encode(Sha256::digest(json.as_bytes()));
        (json, hash)
    }

    /// The day the entry ends (removal or term), whichever comes first.
    pub fn ends_on(&self) -> Option<NaiveDate> {
        match (self.exited_on, self.term_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// On the list on `date`: entered on or before it and not ended on or before it.
    pub fn is_on_list(&self, date: NaiveDate) -> bool {
        self.entered_on <= date && self.ends_on().is_none_or(|e| e > date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn most_severe_category_wins_and_business_licence_revocation_is_seen() {
        let m = SeverityMap::new(SeverityMap::default_rules());
        let c = m
            .classify(&split_categories("警告；罚款、没收违法所得"))
            .unwrap();
        assert_eq!(c.severity, Severity::General);
        assert!(!c.revokes_business_licence);
        let c = m.classify(&split_categories("罚款;吊销营业执照")).unwrap();
        assert_eq!(c.severity, Severity::Serious);
        assert!(c.revokes_business_licence);
        assert_eq!(
            m.classify(&split_categories("其他-警告")).unwrap().severity,
            Severity::Minor
        );
        let e = m.classify(&split_categories("罚款、训诫")).unwrap_err();
        assert!(e.contains("训诫"), "{e}");
        assert!(m.classify(&[]).is_err());
    }

    #[test]
    fn months_clamp_to_the_end_of_the_month() {
        assert_eq!(add_months(d("2024-02-29"), 12), d("2025-02-28"));
        assert_eq!(add_months(d("2024-01-31"), 1), d("2024-02-29"));
        assert_eq!(add_months(d("2024-03-05"), 36), d("2027-03-05"));
        assert_eq!(add_months(d("2024-11-30"), 3), d("2025-02-28"));
    }

    #[test]
    fn publicity_until_uses_the_maximum_period() {
        let cat = default_catalog();
        let penalty = cat.iter().find(|k| k.code == "penalty").unwrap();
        let until = |s| publicity_until(d("2024-03-05"), penalty.period(Some(s)));
        assert_eq!(until(Severity::Minor), Some(d("2024-06-05")));
        assert_eq!(until(Severity::General), Some(d("2025-03-05")));
        assert_eq!(until(Severity::Serious), Some(d("2027-03-05")));
        let license = cat.iter().find(|k| k.code == "license").unwrap();
        assert_eq!(publicity_until(d("2024-03-05"), license.period(None)), None);
    }

    #[test]
    fn catalog_has_the_ten_administrative_acts() {
        let names: Vec<String> = default_catalog().into_iter().map(|k| k.name).collect();
        for n in [
            "行政许可",
            "行政处罚",
            "行政强制",
            "行政确认",
            "行政征收",
            "行政给付",
            "行政裁决",
            "行政补偿",
            "行政奖励",
            "行政监督检查",
        ] {
            assert!(names.iter().any(|x| x == n), "{n}");
        }
    }

    #[test]
    fn deadlines_skip_holidays_and_count_make_up_days() {
        let cal = WorkdayCalendar::builtin();
        // A Friday decision: 7 working days end the Tuesday after next.
        assert_eq!(
            publish_deadline(&cal, d("2024-03-01"), 7).unwrap(),
            d("2024-03-12")
        );
        // National Day 2024: decided Sun 2024-09-29 (a make-up working day). Counting starts
        // the next day: 09-30 (1), then the holiday 10-01..10-07, 10-08 (2), 10-09 (3),
        // 10-10 (4), 10-11 (5), Sat 10-12 is a make-up working day (6), 10-14 (7).
        assert_eq!(
            publish_deadline(&cal, d("2024-09-29"), 7).unwrap(),
            d("2024-10-14")
        );
        // Spring Festival 2025: holiday 01-28..02-04, make-up days Sun 01-26 and Sat 02-08.
        // Decided Fri 01-24: 01-26 (1), 01-27 (2), 02-05 (3), 02-06 (4), 02-07 (5),
        // 02-08 (6), 02-10 (7).
        assert_eq!(
            publish_deadline(&cal, d("2025-01-24"), 7).unwrap(),
            d("2025-02-10")
        );
        // A decision on a holiday counts from the next working day.
        assert_eq!(
            publish_deadline(&cal, d("2024-10-03"), 1).unwrap(),
            d("2024-10-08")
        );
    }

    #[test]
    fn publication_statuses() {
        let deadline = d("2024-03-12");
        let as_of = d("2024-03-20");
        let soon = d("2024-03-25");
        assert_eq!(
            publication_status(deadline, Some(d("2024-03-12")), as_of, soon),
            None
        );
        assert_eq!(
            publication_status(deadline, Some(d("2024-03-13")), as_of, soon),
            Some(PublicationStatus::Late)
        );
        assert_eq!(
            publication_status(deadline, None, as_of, soon),
            Some(PublicationStatus::Missing)
        );
        // Published after as_of: as of that day it was still missing.
        assert_eq!(
            publication_status(deadline, Some(d("2024-03-21")), as_of, soon),
            Some(PublicationStatus::Missing)
        );
        // Deadline today, not yet published: due, not missing.
        assert_eq!(
            publication_status(as_of, None, as_of, soon),
            Some(PublicationStatus::DueSoon)
        );
        assert_eq!(publication_status(d("2024-03-26"), None, as_of, soon), None);
    }

    #[test]
    fn list_membership_ends_on_exit_or_term() {
        let mut e = ListEntryData {
            subject_code: "914403001922038216".into(),
            subject_name: None,
            list_type: ListType::SeriousDishonest,
            entered_on: d("2024-01-10"),
            decision_number: "X".into(),
            authority: "A".into(),
            reason: "R".into(),
            basis: None,
            term_until: Some(d("2025-01-10")),
            exited_on: None,
            exit_reason: None,
        };
        assert!(!e.is_on_list(d("2024-01-09")));
        assert!(e.is_on_list(d("2024-01-10")));
        assert!(e.is_on_list(d("2025-01-09")));
        assert!(!e.is_on_list(d("2025-01-10")));
        e.exited_on = Some(d("2024-06-01"));
        assert!(!e.is_on_list(d("2024-06-01")));
        assert!(e.is_on_list(d("2024-05-31")));
        assert_eq!(ListType::parse_zh("经营异常名录"), Ok(ListType::Abnormal));
        assert!(ListType::parse_zh("黑名单").is_err());
    }

    #[test]
    fn every_built_in_kind_code_is_shared() {
        for k in default_catalog() {
            assert!(
                matches!(kind_code(&k.code), std::borrow::Cow::Borrowed(c) if c == k.code),
                "{}",
                k.code
            );
        }
        assert!(matches!(kind_code("local_kind"), std::borrow::Cow::Owned(c) if c == "local_kind"));
    }
}
