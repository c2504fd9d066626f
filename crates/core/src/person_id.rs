//! Resident identity card number (公民身份号码, GB 11643-1999) with masking for display and logs.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::text::{display_char, normalize_code};

/// ISO 7064 MOD 11-2 weights for positions 1..=17.
pub const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Check characters indexed by the weighted sum mod 11.
pub const CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// Length of an identity number.
pub const LEN: usize = 18;

/// Earliest accepted birth year.
pub const MIN_BIRTH_YEAR: i32 = 1900;

/// Why a string is not a valid resident identity number.
///
/// Positions are 1-based and refer to the normalised input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonIdError {
    /// Nothing left after normalisation.
    #[error("身份证号码为空")]
    Empty,
    /// The normalised number does not have 18 characters.
    #[error("身份证号码长度应为18位，实际为{len}位")]
    Length {
        /// Number of characters found.
        len: usize,
    },
    /// Input to [`check_char`] / [`PersonId::from_first17`] does not have 17 characters.
    #[error("身份证号码前17位本体码长度应为17位，实际为{len}位")]
    PrefixLength {
        /// Number of characters found.
        len: usize,
    },
    /// A non-digit in positions 1..=17, or something other than a digit or `X` in position 18.
    #[error("{}", invalid_char_message(*position, *ch))]
    InvalidChar {
        /// 1-based position of the offending character.
        position: usize,
        /// The offending character.
        ch: char,
    },
    /// Positions 7..=14 are not a real calendar date `YYYYMMDD` from 1900 on.
    ///
    /// The message names what is wrong without echoing the eight digits, so that it can be
    /// shown next to a masked number without undoing the mask.
    #[error("第7至14位出生日期无效：{problem}")]
    InvalidBirthDate {
        /// What is wrong with the date.
        problem: BirthDateProblem,
    },
    /// The 18th character does not match the computed check character.
    #[error("第18位校验码应为“{expected}”，实际为“{found}”")]
    CheckMismatch {
        /// The check character computed from positions 1..=17.
        expected: char,
        /// The check character present in the input.
        found: char,
    },
}

/// What is wrong with the birth date in positions 7..=14.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BirthDateProblem {
    /// The year is before [`MIN_BIRTH_YEAR`].
    #[error("出生年份早于{MIN_BIRTH_YEAR}年")]
    BeforeMinYear,
    /// The month is not 01..=12.
    #[error("月份“{0:02}”不存在")]
    Month(u32),
    /// The day does not exist in the month (in that year).
    #[error("{month}月没有{day}日")]
    Day {
        /// The month (1..=12).
        month: u32,
        /// The day found.
        day: u32,
    },
}

fn invalid_char_message(position: usize, ch: char) -> String {
    let ch = display_char(ch);
    if position == LEN {
        format!("第18位校验码“{ch}”无效（只能是数字或 X）")
    } else {
        format!("第{position}位字符“{ch}”不是数字")
    }
}

fn digits17(chars: &[char]) -> Result<[u32; 17], PersonIdError> {
    let mut out = [0u32; 17];
    for (i, (&ch, slot)) in chars.iter().zip(out.iter_mut()).enumerate() {
        *slot = ch.to_digit(10).ok_or(PersonIdError::InvalidChar {
            position: i + 1,
            ch,
        })?;
    }
    Ok(out)
}

fn check_from_digits(digits: &[u32; 17]) -> char {
    let sum: u32 = digits.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum();
    CHECK_CHARS[(sum % 11) as usize] as char
}

/// Parses the birth date from the 17 validated digits (positions 7..=14, `YYYYMMDD`, year ≥ 1900).
fn birth_date_of(digits: &[u32; 17]) -> Result<NaiveDate, BirthDateProblem> {
    let num = |range: std::ops::Range<usize>| digits[range].iter().fold(0, |acc, d| acc * 10 + d);
    let (year, month, day) = (num(6..10), num(10..12), num(12..14));
    if year < MIN_BIRTH_YEAR as u32 {
        return Err(BirthDateProblem::BeforeMinYear);
    }
    if !(1..=12).contains(&month) {
        return Err(BirthDateProblem::Month(month));
    }
    NaiveDate::from_ymd_opt(year as i32, month, day).ok_or(BirthDateProblem::Day { month, day })
}

/// Computes the check character (position 18) for the first 17 digits.
///
/// The input is not normalised and the birth date is not checked here.
pub fn check_char(first17: &str) -> Result<char, PersonIdError> {
    let chars: Vec<char> = first17.chars().collect();
    if chars.is_empty() {
        return Err(PersonIdError::Empty);
    }
    if chars.len() != LEN - 1 {
        return Err(PersonIdError::PrefixLength { len: chars.len() });
    }
    Ok(check_from_digits(&digits17(&chars)?))
}

/// Masks an identity number for display: an 18-character value keeps the first 6 and last 4
/// characters (`410402********1234`); other values of at least 8 characters keep the first 3
/// and last 2; anything shorter is replaced by stars entirely. Length in characters is preserved.
pub fn mask_str(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let n = chars.len();
    let (head, tail) = match n {
        LEN => (6, 4),
        8.. => (3, 2),
        _ => (0, 0),
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| if i < head || i >= n - tail { c } else { '*' })
        .collect()
}

/// A validated 18-character resident identity number, stored in normalised form.
///
/// `Debug` prints only the masked form; `Display` and serialisation give the full number,
/// so use [`PersonId::masked`] whenever the value is shown to someone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonId(String);

impl PersonId {
    /// Normalises (whitespace removed, full-width → half-width, `x` → `X`) and validates
    /// `input`: 17 digits, a real birth date in positions 7..=14 and the check character.
    pub fn parse(input: &str) -> Result<PersonId, PersonIdError> {
        let normalized = normalize_code(input);
        let chars: Vec<char> = normalized.chars().collect();
        if chars.is_empty() {
            return Err(PersonIdError::Empty);
        }
        if chars.len() != LEN {
            return Err(PersonIdError::Length { len: chars.len() });
        }
        let digits = digits17(&chars[..LEN - 1])?;
        let found = chars[LEN - 1];
        if !(found.is_ascii_digit() || found == 'X') {
            return Err(PersonIdError::InvalidChar {
                position: LEN,
                ch: found,
            });
        }
        birth_date_of(&digits).map_err(|problem| PersonIdError::InvalidBirthDate { problem })?;
        let expected = check_from_digits(&digits);
        if expected != found {
            return Err(PersonIdError::CheckMismatch { expected, found });
        }
        Ok(PersonId(normalized))
    }

    /// Builds a number from its first 17 digits by appending the check character
    /// (for demo data); the birth date is validated.
    pub fn from_first17(first17: &str) -> Result<PersonId, PersonIdError> {
        let check = check_char(first17)?;
        let mut raw = String::with_capacity(LEN);
        raw.push_str(first17);
        raw.push(check);
        PersonId::parse(&raw)
    }

    /// The full normalised number. Only for storage and authorised display.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The masked form, e.g. `410402********1234`.
    pub fn masked(&self) -> String {
        mask_str(&self.0)
    }

    /// Birth date from positions 7..=14.
    pub fn birth_date(&self) -> NaiveDate {
        let chars: Vec<char> = self.0.chars().take(LEN - 1).collect();
        let digits = digits17(&chars).expect("validated at construction");
        birth_date_of(&digits).expect("validated at construction")
    }

    /// Positions 1..=6: administrative division code of the place of household registration.
    pub fn division_code(&self) -> &str {
        &self.0[..6]
    }
}

impl fmt::Debug for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PersonId").field(&self.masked()).finish()
    }
}

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PersonId {
    type Err = PersonIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PersonId::parse(s)
    }
}

impl TryFrom<String> for PersonId {
    type Error = PersonIdError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        PersonId::parse(&value)
    }
}

impl From<PersonId> for String {
    fn from(value: PersonId) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Check characters computed independently (ISO 7064 MOD 11-2).
    const VALID: &str = "11010519491231002X";
    const VALID2: &str = "410402199001011230";

    #[test]
    fn check_chars() {
        assert_eq!(check_char("11010519491231002").unwrap(), 'X');
        assert_eq!(check_char("44052418800101001").unwrap(), '4');
        assert_eq!(check_char("41040219900101123").unwrap(), '0');
    }

    #[test]
    fn parse_valid() {
        let id = PersonId::parse(VALID).unwrap();
        assert_eq!(id.as_str(), VALID);
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(id.division_code(), "110105");
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(VALID.parse::<PersonId>().unwrap(), id);
        assert_eq!(PersonId::from_first17(&VALID[..17]).unwrap(), id);
        let id2 = PersonId::parse(VALID2).unwrap();
        assert_eq!(
            id2.birth_date(),
            NaiveDate::from_ymd_opt(1990, 1, 1).unwrap()
        );
        assert_eq!(id2.masked(), "410402********1230");
        // Check character is right but the birth year is before 1900.
        assert_eq!(
            PersonId::parse("440524188001010014"),
            Err(PersonIdError::InvalidBirthDate {
                problem: BirthDateProblem::BeforeMinYear
            })
        );
    }

    #[test]
    fn normalisation() {
        assert_eq!(
            PersonId::parse(" １１０１０５１９４９１２３１００２ｘ ")
                .unwrap()
                .as_str(),
            VALID
        );
        assert_eq!(
            PersonId::parse("110105 19491231 002x").unwrap().as_str(),
            VALID
        );
    }

    #[test]
    fn errors() {
        assert_eq!(PersonId::parse("  "), Err(PersonIdError::Empty));
        assert_eq!(
            PersonId::parse("1101051949123100"),
            Err(PersonIdError::Length { len: 16 })
        );
        assert_eq!(
            PersonId::parse("1101A519491231002X"),
            Err(PersonIdError::InvalidChar {
                position: 5,
                ch: 'A'
            })
        );
        assert_eq!(
            PersonId::parse("11010519491231002Y"),
            Err(PersonIdError::InvalidChar {
                position: 18,
                ch: 'Y'
            })
        );
        assert_eq!(
            PersonId::parse("110105194902300021"),
            Err(PersonIdError::InvalidBirthDate {
                problem: BirthDateProblem::Day { month: 2, day: 30 }
            })
        );
        assert_eq!(
            PersonId::parse("110105189912310021"),
            Err(PersonIdError::InvalidBirthDate {
                problem: BirthDateProblem::BeforeMinYear
            })
        );
        assert_eq!(
            PersonId::parse("110105194913310021"),
            Err(PersonIdError::InvalidBirthDate {
                problem: BirthDateProblem::Month(13)
            })
        );
        assert_eq!(
            PersonId::parse("110105194912310021"),
            Err(PersonIdError::CheckMismatch {
                expected: 'X',
                found: '1'
            })
        );
        assert_eq!(
            check_char("1101"),
            Err(PersonIdError::PrefixLength { len: 4 })
        );
        assert!(matches!(
            PersonId::from_first17("11010519491331002"),
            Err(PersonIdError::InvalidBirthDate { .. })
        ));
    }

    #[test]
    fn error_messages_are_chinese() {
        assert_eq!(
            PersonIdError::Length { len: 16 }.to_string(),
            "身份证号码长度应为18位，实际为16位"
        );
        assert_eq!(
            PersonIdError::InvalidChar {
                position: 5,
                ch: 'A'
            }
            .to_string(),
            "第5位字符“A”不是数字"
        );
        assert_eq!(
            PersonIdError::InvalidChar {
                position: 18,
                ch: 'Y'
            }
            .to_string(),
            "第18位校验码“Y”无效（只能是数字或 X）"
        );
        assert_eq!(
            PersonIdError::CheckMismatch {
                expected: 'X',
                found: '1'
            }
            .to_string(),
            "第18位校验码应为“X”，实际为“1”"
        );
        let msg = |raw: &str| PersonId::parse(raw).unwrap_err().to_string();
        assert_eq!(
            msg("110105194902300021"),
            "第7至14位出生日期无效：2月没有30日"
        );
        assert_eq!(
            msg("110105190002290021"),
            "第7至14位出生日期无效：2月没有29日"
        );
        assert_eq!(
            msg("110105194900100021"),
            "第7至14位出生日期无效：月份“00”不存在"
        );
        assert_eq!(
            msg("110105189912310021"),
            "第7至14位出生日期无效：出生年份早于1900年"
        );
        assert_eq!(PersonIdError::Empty.to_string(), "身份证号码为空");
    }

    #[test]
    fn debug_is_masked() {
        let id = PersonId::parse(VALID).unwrap();
        let debug = format!("{id:?}");
        assert_eq!(debug, "PersonId(\"110105********002X\")");
        assert!(!debug.contains("19491231"));
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            id: PersonId,
        }
        assert!(!format!("{:?}", Holder { id }).contains(VALID));
    }

    #[test]
    fn serde_full_and_validated() {
        let id = PersonId::parse(VALID).unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{VALID}\""));
        assert_eq!(serde_json::from_str::<PersonId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<PersonId>("\"110105194912310021\"").is_err());
    }

    #[test]
    fn mask_str_lengths() {
        assert_eq!(mask_str("410402199001011234"), "410402********1234");
        assert_eq!(mask_str("12345678"), "123***78");
        assert_eq!(mask_str("410402900101123"), "410**********23");
        assert_eq!(mask_str("1234567"), "*******");
        assert_eq!(mask_str(""), "");
        assert_eq!(mask_str("张三丰李四王五赵六"), "张三丰****赵六");
    }

    fn first17() -> impl Strategy<Value = String> {
        (
            "[1-8][0-9]{5}",
            (1900i32..=2100, 1u32..=366)
                .prop_filter_map("valid ordinal", |(y, o)| NaiveDate::from_yo_opt(y, o)),
            "[0-9]{3}",
        )
            .prop_map(|(div, date, seq)| format!("{div}{}{seq}", date.format("%Y%m%d")))
    }

    proptest! {
        #[test]
        fn generated_ids_parse(prefix in first17()) {
            let id = PersonId::from_first17(&prefix).unwrap();
            prop_assert_eq!(PersonId::parse(id.as_str()).unwrap(), id.clone());
            prop_assert_eq!(&id.as_str()[..17], prefix.as_str());
            prop_assert_eq!(id.birth_date().format("%Y%m%d").to_string(), &prefix[6..14]);

            let masked = id.masked();
            let chars: Vec<char> = masked.chars().collect();
            prop_assert_eq!(chars.len(), 18);
            for (i, c) in chars.iter().enumerate() {
                if (6..14).contains(&i) {
                    prop_assert_eq!(*c, '*');
                } else {
                    prop_assert_eq!(*c, id.as_str().as_bytes()[i] as char);
                }
            }
            prop_assert_eq!(masked.matches('*').count(), 8);
        }

        #[test]
        fn single_digit_change_detected(prefix in first17(), pos in 0usize..17, d in 0u32..10) {
            let id = PersonId::from_first17(&prefix).unwrap();
            let mut chars: Vec<char> = id.as_str().chars().collect();
            let new = char::from_digit(d, 10).unwrap();
            prop_assume!(chars[pos] != new);
            chars[pos] = new;
            let changed: String = chars.into_iter().collect();
            prop_assert!(PersonId::parse(&changed).is_err());
        }

        /// Error messages never echo positions 7..=14, so they can sit next to a masked number.
        #[test]
        fn errors_do_not_echo_the_birth_date(s in "[0-9]{17}[0-9X]") {
            if let Err(e) = PersonId::parse(&s) {
                prop_assert!(!e.to_string().contains(&s[6..14]));
                let debug = format!("{:?}", e);
                prop_assert!(!debug.contains(&s[6..14]));
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = PersonId::parse(&s);
            let _ = check_char(&s);
            let _ = mask_str(&s);
        }

        #[test]
        fn mask_preserves_length(s in "\\PC{0,30}") {
            prop_assert_eq!(mask_str(&s).chars().count(), s.chars().count());
        }
    }
}
