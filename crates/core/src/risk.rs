//! Industry credit-risk classification (行业信用风险分级分类, DOMAIN §4): a configurable
//! scorecard, 0–1000 points, four classes. Internal only — never published, not a credit
//! rating; it allocates inspection effort.

use serde::{Deserialize, Serialize};

use crate::grade::Grade;

/// The four classes (SAMR's “信用风险低/一般/较高/高”).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskClass {
    Low,
    General,
    Higher,
    High,
}

impl RiskClass {
    pub const ALL: [RiskClass; 4] = [
        RiskClass::Low,
        RiskClass::General,
        RiskClass::Higher,
        RiskClass::High,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            RiskClass::Low => "low",
            RiskClass::General => "general",
            RiskClass::Higher => "higher",
            RiskClass::High => "high",
        }
    }
    pub fn parse(s: &str) -> Option<RiskClass> {
        RiskClass::ALL.into_iter().find(|c| c.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            RiskClass::Low => "低",
            RiskClass::General => "一般",
            RiskClass::Higher => "较高",
            RiskClass::High => "高",
        }
    }
}

/// What an indicator counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    /// The public grade: points for B, C or D (`points` is for B; C twice, D four times).
    PublicGrade,
    /// General negative records in the last 3 years.
    GeneralRecords,
    /// Serious negative records in the last 3 years.
    SeriousRecords,
    /// On the key-attention list today.
    KeyAttention,
    /// On the abnormal-operations list today.
    Abnormal,
    /// Verified complaints in the last 3 years.
    Complaints,
    /// Breached credit commitments in the last 3 years.
    CommitmentBreaches,
    /// Judicial enforcement (失信被执行人) records in the last 3 years.
    Enforcement,
    /// Licence suspensions and revocations in the last 3 years.
    LicenceEvents,
    /// Problems found in spot checks in the last 3 years (from the inspection module).
    InspectionFindings,
    /// Late annual filings in the last 3 years (from the licensing module).
    LateFilings,
}

impl Indicator {
    pub fn label(self) -> &'static str {
        match self {
            Indicator::PublicGrade => "公共信用综合评价结果",
            Indicator::GeneralRecords => "3 年内一般失信记录",
            Indicator::SeriousRecords => "3 年内严重失信记录",
            Indicator::KeyAttention => "列入重点关注名单",
            Indicator::Abnormal => "列入经营异常名录",
            Indicator::Complaints => "3 年内经核实的投诉举报",
            Indicator::CommitmentBreaches => "3 年内信用承诺违约",
            Indicator::Enforcement => "3 年内失信被执行人记录",
            Indicator::LicenceEvents => "3 年内暂扣、吊销许可证件",
            Indicator::InspectionFindings => "3 年内抽查发现问题",
            Indicator::LateFilings => "3 年内逾期备案",
        }
    }
}

/// One line of the scorecard: points per occurrence, at most `cap`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreLine {
    pub indicator: Indicator,
    pub points: u32,
    pub cap: u32,
}

/// A versioned scorecard: lines and the three cut-offs between the four classes (a score below
/// `cutoffs[0]` is low, below `cutoffs[1]` general, below `cutoffs[2]` higher, else high).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scorecard {
    pub version: String,
    pub lines: Vec<ScoreLine>,
    pub cutoffs: [u32; 3],
}

impl Scorecard {
    pub fn default_card() -> Scorecard {
        let l = |indicator, points, cap| ScoreLine {
            indicator,
            points,
            cap,
        };
        use Indicator::*;
        Scorecard {
            version: "risk-v1".into(),
            lines: vec![
                l(PublicGrade, 100, 400),
                l(GeneralRecords, 30, 150),
                l(SeriousRecords, 100, 300),
                l(KeyAttention, 150, 150),
                l(Abnormal, 80, 80),
                l(Complaints, 20, 100),
                l(CommitmentBreaches, 60, 180),
                l(Enforcement, 200, 200),
                l(LicenceEvents, 120, 240),
                l(InspectionFindings, 50, 200),
                l(LateFilings, 30, 90),
            ],
            cutoffs: [150, 350, 600],
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(self.cutoffs[0] < self.cutoffs[1] && self.cutoffs[1] < self.cutoffs[2]) {
            return Err("分级线应依次递增".into());
        }
        if self.cutoffs[2] > 1000 {
            return Err("分级线不能超过 1000 分".into());
        }
        Ok(())
    }
}

/// The facts the scorecard reads. Stored with each evaluation (`grades.risk_detail`) without
/// its zero counts and false flags: most subjects have none, and a million evaluations are
/// written at once by a first run or a rules change (a missing field reads as zero).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RiskInputs {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grade: Option<Grade>,
    #[serde(skip_serializing_if = "is_zero")]
    pub general_records: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub serious_records: u32,
    #[serde(skip_serializing_if = "is_false")]
    pub key_attention: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub abnormal: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub complaints: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub commitment_breaches: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub enforcement: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub licence_events: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub inspection_findings: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub late_filings: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A score, its class, and the points of each indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskScore {
    pub score: u32,
    pub class: RiskClass,
    pub scorecard_version: String,
    pub points: Vec<(Indicator, u32)>,
}

pub fn score(card: &Scorecard, inputs: &RiskInputs) -> RiskScore {
    let mut points = Vec::new();
    for line in &card.lines {
        let n: u32 = match line.indicator {
            Indicator::PublicGrade => match inputs.grade {
                Some(Grade::B) => 1,
                Some(Grade::C) => 2,
                Some(Grade::D) => 4,
                _ => 0,
            },
            Indicator::GeneralRecords => inputs.general_records,
            Indicator::SeriousRecords => inputs.serious_records,
            Indicator::KeyAttention => u32::from(inputs.key_attention),
            Indicator::Abnormal => u32::from(inputs.abnormal),
            Indicator::Complaints => inputs.complaints,
            Indicator::CommitmentBreaches => inputs.commitment_breaches,
            Indicator::Enforcement => inputs.enforcement,
            Indicator::LicenceEvents => inputs.licence_events,
            Indicator::InspectionFindings => inputs.inspection_findings,
            Indicator::LateFilings => inputs.late_filings,
        };
        let p = n.saturating_mul(line.points).min(line.cap);
        if p > 0 {
            points.push((line.indicator, p));
        }
    }
    let score = points.iter().map(|(_, p)| *p).sum::<u32>().min(1000);
    let class = if score < card.cutoffs[0] {
        RiskClass::Low
    } else if score < card.cutoffs[1] {
        RiskClass::General
    } else if score < card.cutoffs[2] {
        RiskClass::Higher
    } else {
        RiskClass::High
    };
    RiskScore {
        score,
        class,
        scorecard_version: card.version.clone(),
        points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_subject_is_low_and_a_blacklisted_one_high() {
        let card = Scorecard::default_card();
        card.validate().unwrap();
        let clean = score(
            &card,
            &RiskInputs {
                grade: Some(Grade::A),
                ..Default::default()
            },
        );
        assert_eq!((clean.score, clean.class), (0, RiskClass::Low));
        let bad = score(
            &card,
            &RiskInputs {
                grade: Some(Grade::D),
                serious_records: 5,
                enforcement: 1,
                key_attention: true,
                ..Default::default()
            },
        );
        // 400 (D) + 300 (cap) + 200 + 150 = 1050 → 1000.
        assert_eq!(bad.score, 1000);
        assert_eq!(bad.class, RiskClass::High);
        let b = score(
            &card,
            &RiskInputs {
                grade: Some(Grade::B),
                general_records: 2,
                ..Default::default()
            },
        );
        assert_eq!(b.score, 160);
        assert_eq!(b.class, RiskClass::General);
    }

    #[test]
    fn stored_inputs_leave_out_zeros_and_read_back_whole() {
        let clean = RiskInputs {
            grade: Some(Grade::A),
            ..Default::default()
        };
        assert_eq!(serde_json::to_string(&clean).unwrap(), r#"{"grade":"A"}"#);
        let some = RiskInputs {
            grade: Some(Grade::C),
            serious_records: 1,
            abnormal: true,
            late_filings: 2,
            ..Default::default()
        };
        let text = serde_json::to_string(&some).unwrap();
        assert_eq!(
            text,
            r#"{"grade":"C","serious_records":1,"abnormal":true,"late_filings":2}"#
        );
        assert_eq!(serde_json::from_str::<RiskInputs>(&text).unwrap(), some);
        // What earlier builds stored (every field) still reads.
        let full = r#"{"grade":"A","general_records":0,"serious_records":0,"key_attention":false,"abnormal":false,"complaints":0,"commitment_breaches":0,"enforcement":0,"licence_events":0,"inspection_findings":0,"late_filings":0}"#;
        assert_eq!(serde_json::from_str::<RiskInputs>(full).unwrap(), clean);
    }

    #[test]
    fn cutoffs_must_increase() {
        let mut card = Scorecard::default_card();
        card.cutoffs = [300, 200, 600];
        assert!(card.validate().is_err());
    }
}
