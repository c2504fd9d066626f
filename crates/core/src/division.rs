//! Administrative division code (行政区划代码, GB/T 2260): six digits, province-level prefix table.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::text::{display_char, normalize_code};

/// The 34 province-level divisions: two-digit prefix and Chinese name, ordered by code.
pub const PROVINCES: [(&str, &str); 34] = [
    ("11", "北京市"),
    ("12", "天津市"),
    ("13", "河北省"),
    ("14", "山西省"),
    ("15", "内蒙古自治区"),
    ("21", "辽宁省"),
    ("22", "吉林省"),
    ("23", "黑龙江省"),
    ("31", "上海市"),
    ("32", "江苏省"),
    ("33", "浙江省"),
    ("34", "安徽省"),
    ("35", "福建省"),
    ("36", "江西省"),
    ("37", "山东省"),
    ("41", "河南省"),
    ("42", "湖北省"),
    ("43", "湖南省"),
    ("44", "广东省"),
    ("45", "广西壮族自治区"),
    ("46", "海南省"),
    ("50", "重庆市"),
    ("51", "四川省"),
    ("52", "贵州省"),
    ("53", "云南省"),
    ("54", "西藏自治区"),
    ("61", "陕西省"),
    ("62", "甘肃省"),
    ("63", "青海省"),
    ("64", "宁夏回族自治区"),
    ("65", "新疆维吾尔自治区"),
    ("71", "台湾省"),
    ("81", "香港特别行政区"),
    ("82", "澳门特别行政区"),
];

/// Chinese name of the province-level division with the given two-digit prefix.
pub fn province_name_of(prefix: &str) -> Option<&'static str> {
    PROVINCES
        .binary_search_by(|(code, _)| (*code).cmp(prefix))
        .ok()
        .map(|i| PROVINCES[i].1)
}

/// Why a string is not a valid administrative division code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DivisionError {
    /// Nothing left after normalisation.
    #[error("行政区划代码为空")]
    Empty,
    /// Not six characters long.
    #[error("行政区划代码应为6位数字，实际为{len}位")]
    Length {
        /// Number of characters found.
        len: usize,
    },
    /// A character that is not a digit.
    #[error("行政区划代码第{position}位字符“{}”不是数字", display_char(*ch))]
    NotDigit {
        /// 1-based position of the offending character.
        position: usize,
        /// The offending character.
        ch: char,
    },
    /// The first two digits are not a province-level division.
    #[error("行政区划代码前两位“{prefix}”不是有效的省级行政区划代码")]
    UnknownProvince {
        /// The two-digit prefix found.
        prefix: String,
    },
}

/// Level of a division code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DivisionLevel {
    /// `xx0000`: province, autonomous region, municipality, SAR (省级).
    Province,
    /// `xxxx00`: prefecture-level city, prefecture, league (地级).
    Prefecture,
    /// Anything else: county, district, county-level city, banner (县级).
    County,
}

impl DivisionLevel {
    /// Chinese label: 省级, 地级 or 县级.
    pub fn label(self) -> &'static str {
        match self {
            DivisionLevel::Province => "省级",
            DivisionLevel::Prefecture => "地级",
            DivisionLevel::County => "县级",
        }
    }
}

/// A validated six-digit administrative division code.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DivisionCode(String);

impl DivisionCode {
    /// Normalises (whitespace removed, full-width → half-width) and validates `input`:
    /// six digits with a real province-level prefix.
    pub fn parse(input: &str) -> Result<DivisionCode, DivisionError> {
        let normalized = normalize_code(input);
        let chars: Vec<char> = normalized.chars().collect();
        if chars.is_empty() {
            return Err(DivisionError::Empty);
        }
        if chars.len() != 6 {
            return Err(DivisionError::Length { len: chars.len() });
        }
        if let Some((i, &ch)) = chars.iter().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
            return Err(DivisionError::NotDigit {
                position: i + 1,
                ch,
            });
        }
        if province_name_of(&normalized[..2]).is_none() {
            return Err(DivisionError::UnknownProvince {
                prefix: normalized[..2].to_owned(),
            });
        }
        Ok(DivisionCode(normalized))
    }

    /// The six-digit code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The two-digit province prefix, e.g. `51`.
    pub fn province_code(&self) -> &str {
        &self.0[..2]
    }

    /// The four-digit prefecture prefix, e.g. `5108`.
    pub fn prefecture_code(&self) -> &str {
        &self.0[..4]
    }

    /// Chinese name of the province-level division, e.g. `四川省`.
    pub fn province_name(&self) -> &'static str {
        province_name_of(self.province_code()).expect("validated at construction")
    }

    /// Province (`xx0000`), prefecture (`xxxx00`) or county (anything else).
    pub fn level(&self) -> DivisionLevel {
        if self.0.ends_with("0000") {
            DivisionLevel::Province
        } else if self.0.ends_with("00") {
            DivisionLevel::Prefecture
        } else {
            DivisionLevel::County
        }
    }

    /// Whether `other` lies within this division (or is this division).
    pub fn contains(&self, other: &DivisionCode) -> bool {
        match self.level() {
            DivisionLevel::Province => self.province_code() == other.province_code(),
            DivisionLevel::Prefecture => self.prefecture_code() == other.prefecture_code(),
            DivisionLevel::County => self == other,
        }
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DivisionCode {
    type Err = DivisionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DivisionCode::parse(s)
    }
}

impl TryFrom<String> for DivisionCode {
    type Error = DivisionError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        DivisionCode::parse(&value)
    }
}

impl From<DivisionCode> for String {
    fn from(value: DivisionCode) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table_is_sorted_and_complete() {
        assert!(PROVINCES.windows(2).all(|w| w[0].0 < w[1].0));
        for (code, name) in PROVINCES {
            assert_eq!(province_name_of(code), Some(name));
        }
        assert_eq!(province_name_of("51"), Some("四川省"));
        assert_eq!(province_name_of("10"), None);
    }

    #[test]
    fn parse_and_parts() {
        let c = DivisionCode::parse("510802").unwrap();
        assert_eq!(c.as_str(), "510802");
        assert_eq!(c.province_code(), "51");
        assert_eq!(c.prefecture_code(), "5108");
        assert_eq!(c.province_name(), "四川省");
        assert_eq!(c.level(), DivisionLevel::County);
        assert_eq!(
            DivisionCode::parse("510000").unwrap().level(),
            DivisionLevel::Province
        );
        assert_eq!(
            DivisionCode::parse("510800").unwrap().level(),
            DivisionLevel::Prefecture
        );
        assert_eq!(
            DivisionCode::parse(" ４４０３００ ")
                .unwrap()
                .province_name(),
            "广东省"
        );
        assert_eq!(
            "820000".parse::<DivisionCode>().unwrap().province_name(),
            "澳门特别行政区"
        );
        assert_eq!(DivisionLevel::Prefecture.label(), "地级");
    }

    #[test]
    fn contains() {
        let p = DivisionCode::parse("510000").unwrap();
        let m = DivisionCode::parse("510800").unwrap();
        let c = DivisionCode::parse("510802").unwrap();
        let other = DivisionCode::parse("440300").unwrap();
        assert!(p.contains(&m) && p.contains(&c) && m.contains(&c) && c.contains(&c));
        assert!(!c.contains(&m) && !p.contains(&other) && !m.contains(&other));
    }

    #[test]
    fn errors() {
        assert_eq!(DivisionCode::parse(""), Err(DivisionError::Empty));
        assert_eq!(
            DivisionCode::parse("5108"),
            Err(DivisionError::Length { len: 4 })
        );
        assert_eq!(
            DivisionCode::parse("51A802"),
            Err(DivisionError::NotDigit {
                position: 3,
                ch: 'A'
            })
        );
        assert_eq!(
            DivisionCode::parse("100000"),
            Err(DivisionError::UnknownProvince {
                prefix: "10".into()
            })
        );
        assert_eq!(
            DivisionError::UnknownProvince {
                prefix: "10".into()
            }
            .to_string(),
            "行政区划代码前两位“10”不是有效的省级行政区划代码"
        );
        assert_eq!(
            DivisionError::NotDigit {
                position: 3,
                ch: 'A'
            }
            .to_string(),
            "行政区划代码第3位字符“A”不是数字"
        );
        assert_eq!(
            DivisionError::Length { len: 4 }.to_string(),
            "行政区划代码应为6位数字，实际为4位"
        );
    }

    #[test]
    fn serde() {
        let c = DivisionCode::parse("510802").unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"510802\"");
        assert_eq!(
            serde_json::from_str::<DivisionCode>("\"510802\"").unwrap(),
            c
        );
        assert!(serde_json::from_str::<DivisionCode>("\"990000\"").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = DivisionCode::parse(&s);
        }

        #[test]
        fn six_digit_codes(s in "[0-9]{6}") {
            let known = province_name_of(&s[..2]).is_some();
            prop_assert_eq!(DivisionCode::parse(&s).is_ok(), known);
        }
    }
}
