//! Unified social credit code (统一社会信用代码, GB 32100-2015): normalisation, validation, check character.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::text::{display_char, normalize_code};

/// The 31-character code alphabet; a character's index is its numeric value (no I, O, S, V, Z).
pub const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights for positions 1..=17 (3^(i-1) mod 31).
pub const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Length of a complete code.
pub const LEN: usize = 18;

/// Why a string is not a valid unified social credit code.
///
/// Positions are 1-based and refer to the normalised input (see [`normalize`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    /// Nothing left after normalisation.
    #[error("代码为空")]
    Empty,
    /// The normalised code does not have 18 characters.
    #[error("长度应为18位，实际为{len}位")]
    Length {
        /// Number of characters found.
        len: usize,
    },
    /// Input to [`check_char`] / [`Uscc::from_first17`] does not have 17 characters.
    #[error("前17位本体代码长度应为17位，实际为{len}位")]
    PrefixLength {
        /// Number of characters found.
        len: usize,
    },
    /// A character outside the code alphabet.
    #[error("{}", invalid_char_message(*position, *ch))]
    InvalidChar {
        /// 1-based position of the offending character.
        position: usize,
        /// The offending character.
        ch: char,
    },
    /// All characters are valid but the 18th does not match the computed check character.
    #[error("第18位校验码应为“{expected}”，实际为“{found}”")]
    CheckMismatch {
        /// The check character computed from positions 1..=17.
        expected: char,
        /// The check character present in the input.
        found: char,
    },
}

fn invalid_char_message(position: usize, ch: char) -> String {
    let hint = if matches!(ch, 'I' | 'O' | 'S' | 'V' | 'Z') {
        "统一社会信用代码不使用 I、O、S、V、Z"
    } else {
        "统一社会信用代码只能由数字和除 I、O、S、V、Z 以外的大写英文字母组成"
    };
    format!(
        "第{position}位字符“{}”不是有效字符（{hint}）",
        display_char(ch)
    )
}

/// Normalises user input: trims, removes all whitespace (including U+3000), converts
/// full-width ASCII to half-width and upper-cases ASCII letters.
pub fn normalize(input: &str) -> String {
    normalize_code(input)
}

/// Numeric value of a code character, or `None` when it is not in [`ALPHABET`].
fn value_of(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        _ => ALPHABET[10..]
            .iter()
            .position(|&b| b as char == c)
            .map(|p| p as u32 + 10),
    }
}

/// Validates that every character is in the alphabet and returns the values.
fn values(chars: &[char]) -> Result<Vec<u32>, UsccError> {
    chars
        .iter()
        .enumerate()
        .map(|(i, &ch)| {
            value_of(ch).ok_or(UsccError::InvalidChar {
                position: i + 1,
                ch,
            })
        })
        .collect()
}

/// Check character for the 17 values of positions 1..=17.
fn check_from_values(values: &[u32]) -> char {
    let sum: u32 = values.iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    ALPHABET[((31 - sum % 31) % 31) as usize] as char
}

/// Computes the check character (position 18) for the first 17 characters of a code.
///
/// The input is not normalised: it must already consist of 17 upper-case alphabet characters.
pub fn check_char(first17: &str) -> Result<char, UsccError> {
    let chars: Vec<char> = first17.chars().collect();
    if chars.is_empty() {
        return Err(UsccError::Empty);
    }
    if chars.len() != LEN - 1 {
        return Err(UsccError::PrefixLength { len: chars.len() });
    }
    Ok(check_from_values(&values(&chars)?))
}

/// A validated 18-character unified social credit code, stored in normalised form.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Uscc(String);

impl Uscc {
    /// Normalises and validates `input` (length, alphabet, check character).
    pub fn parse(input: &str) -> Result<Uscc, UsccError> {
        let normalized = normalize(input);
        let chars: Vec<char> = normalized.chars().collect();
        if chars.is_empty() {
            return Err(UsccError::Empty);
        }
        if chars.len() != LEN {
            return Err(UsccError::Length { len: chars.len() });
        }
        let vals = values(&chars)?;
        let expected = check_from_values(&vals[..LEN - 1]);
        let found = chars[LEN - 1];
        if expected != found {
            return Err(UsccError::CheckMismatch { expected, found });
        }
        Ok(Uscc(normalized))
    }

    /// Builds a code from its first 17 characters by appending the computed check character.
    pub fn from_first17(first17: &str) -> Result<Uscc, UsccError> {
        let check = check_char(first17)?;
        let mut code = String::with_capacity(LEN);
        code.push_str(first17);
        code.push(check);
        Ok(Uscc(code))
    }

    /// The normalised 18-character code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Position 1: registration authority (登记管理部门代码), e.g. `9` for market regulation.
    pub fn registration_authority(&self) -> char {
        self.0.as_bytes()[0] as char
    }

    /// Position 2: entity type (机构类别代码), e.g. `1` for an enterprise under authority `9`.
    pub fn entity_type(&self) -> char {
        self.0.as_bytes()[1] as char
    }

    /// Positions 3..=8: administrative division code of the registration authority (GB/T 2260).
    pub fn division_code(&self) -> &str {
        &self.0[2..8]
    }

    /// Positions 9..=17: organisation code (主体标识码).
    pub fn organization_code(&self) -> &str {
        &self.0[8..17]
    }

    /// Position 18: the check character.
    pub fn check(&self) -> char {
        self.0.as_bytes()[17] as char
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Uscc {
    type Err = UsccError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uscc::parse(s)
    }
}

impl TryFrom<String> for Uscc {
    type Error = UsccError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Uscc::parse(&value)
    }
}

impl From<Uscc> for String {
    fn from(value: Uscc) -> Self {
        value.0
    }
}

impl AsRef<str> for Uscc {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Outcome of [`classify`], for imports that must keep legacy codes instead of dropping them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsccCheck {
    /// A valid code.
    Valid(Uscc),
    /// 18 alphabet characters whose check character is wrong: a legacy code to record as flagged.
    CheckFailed {
        /// The normalised input.
        normalized: String,
        /// Always [`UsccError::CheckMismatch`].
        error: UsccError,
    },
    /// Not a code at all (empty, wrong length or invalid characters).
    Invalid(UsccError),
}

/// Classifies raw input as valid, check-failed (well-formed but wrong check character) or invalid.
pub fn classify(input: &str) -> UsccCheck {
    match Uscc::parse(input) {
        Ok(code) => UsccCheck::Valid(code),
        Err(error @ UsccError::CheckMismatch { .. }) => UsccCheck::CheckFailed {
            normalized: normalize(input),
            error,
        },
        Err(error) => UsccCheck::Invalid(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const VALID: [&str; 4] = [
        "914403001922038216",
        "9144030071526726XG",
        "91330100799655058B",
        "91350100M000100Y43",
    ];

    #[test]
    fn weights_are_powers_of_three_mod_31() {
        let mut w = 1u32;
        for weight in WEIGHTS {
            assert_eq!(weight, w);
            w = w * 3 % 31;
        }
    }

    #[test]
    fn alphabet_values() {
        for (i, &b) in ALPHABET.iter().enumerate() {
            assert_eq!(value_of(b as char), Some(i as u32));
        }
        for c in ['I', 'O', 'S', 'V', 'Z', 'a', '-', '华'] {
            assert_eq!(value_of(c), None);
        }
    }

    #[test]
    fn valid_examples_parse() {
        for s in VALID {
            let code = Uscc::parse(s).unwrap();
            assert_eq!(code.as_str(), s);
            assert_eq!(code.to_string(), s);
            assert_eq!(s.parse::<Uscc>().unwrap(), code);
            assert_eq!(check_char(&s[..17]).unwrap(), s.chars().last().unwrap());
            assert_eq!(Uscc::from_first17(&s[..17]).unwrap(), code);
            assert_eq!(classify(s), UsccCheck::Valid(code));
        }
    }

    #[test]
    fn parts() {
        let code = Uscc::parse("91350100M000100Y43").unwrap();
        assert_eq!(code.registration_authority(), '9');
        assert_eq!(code.entity_type(), '1');
        assert_eq!(code.division_code(), "350100");
        assert_eq!(code.organization_code(), "M000100Y4");
        assert_eq!(code.check(), '3');
    }

    #[test]
    fn normalisation() {
        assert_eq!(
            normalize(" ９１４４０３００１９２２０３８２１６ "),
            "914403001922038216"
        );
        assert_eq!(
            Uscc::parse(" ９１４４０３００１９２２０３８２１６ ")
                .unwrap()
                .as_str(),
            "914403001922038216"
        );
        assert_eq!(
            Uscc::parse("9144030071526726xg").unwrap().as_str(),
            "9144030071526726XG"
        );
        assert_eq!(
            Uscc::parse("9133 0100\u{3000}7996 5505 8b")
                .unwrap()
                .as_str(),
            "91330100799655058B"
        );
        assert_eq!(
            Uscc::parse("\t91350100m000100y43\n").unwrap().as_str(),
            "91350100M000100Y43"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(Uscc::parse(""), Err(UsccError::Empty));
        assert_eq!(Uscc::parse(" \u{3000} "), Err(UsccError::Empty));
        assert_eq!(
            Uscc::parse("91440300192203821"),
            Err(UsccError::Length { len: 17 })
        );
        assert_eq!(
            Uscc::parse("9144I30019220382161"),
            Err(UsccError::Length { len: 19 })
        );
        assert_eq!(
            Uscc::parse("9144I3001922038216"),
            Err(UsccError::InvalidChar {
                position: 5,
                ch: 'I'
            })
        );
        assert_eq!(
            Uscc::parse("91440300192203821-"),
            Err(UsccError::InvalidChar {
                position: 18,
                ch: '-'
            })
        );
        assert_eq!(
            Uscc::parse("914403001922038217"),
            Err(UsccError::CheckMismatch {
                expected: '6',
                found: '7'
            })
        );
        assert_eq!(check_char("9144"), Err(UsccError::PrefixLength { len: 4 }));
        assert_eq!(check_char(""), Err(UsccError::Empty));
        assert_eq!(
            Uscc::from_first17("91440300192203O21"),
            Err(UsccError::InvalidChar {
                position: 15,
                ch: 'O'
            })
        );
    }

    #[test]
    fn error_messages_are_chinese() {
        assert_eq!(UsccError::Empty.to_string(), "代码为空");
        assert_eq!(
            UsccError::Length { len: 17 }.to_string(),
            "长度应为18位，实际为17位"
        );
        assert_eq!(
            UsccError::InvalidChar {
                position: 5,
                ch: 'I'
            }
            .to_string(),
            "第5位字符“I”不是有效字符（统一社会信用代码不使用 I、O、S、V、Z）"
        );
        assert_eq!(
            UsccError::InvalidChar {
                position: 3,
                ch: '华'
            }
            .to_string(),
            "第3位字符“华”不是有效字符（统一社会信用代码只能由数字和除 I、O、S、V、Z 以外的大写英文字母组成）"
        );
        assert_eq!(
            UsccError::InvalidChar {
                position: 2,
                ch: '\u{0}'
            }
            .to_string(),
            "第2位字符“U+0000”不是有效字符（统一社会信用代码只能由数字和除 I、O、S、V、Z 以外的大写英文字母组成）"
        );
        assert_eq!(
            UsccError::CheckMismatch {
                expected: '6',
                found: '7'
            }
            .to_string(),
            "第18位校验码应为“6”，实际为“7”"
        );
    }

    #[test]
    fn classify_separates_check_failures() {
        assert_eq!(
            classify(" 914403001922038217 "),
            UsccCheck::CheckFailed {
                normalized: "914403001922038217".into(),
                error: UsccError::CheckMismatch {
                    expected: '6',
                    found: '7'
                },
            }
        );
        assert_eq!(
            classify("91440300192203821Z"),
            UsccCheck::Invalid(UsccError::InvalidChar {
                position: 18,
                ch: 'Z'
            })
        );
        assert_eq!(
            classify("9144"),
            UsccCheck::Invalid(UsccError::Length { len: 4 })
        );
        assert_eq!(classify(""), UsccCheck::Invalid(UsccError::Empty));
    }

    #[test]
    fn serde_round_trip_validates() {
        let code = Uscc::parse(VALID[1]).unwrap();
        let json = serde_json::to_string(&code).unwrap();
        assert_eq!(json, "\"9144030071526726XG\"");
        assert_eq!(serde_json::from_str::<Uscc>(&json).unwrap(), code);
        // Deserialisation normalises like parse.
        assert_eq!(
            serde_json::from_str::<Uscc>("\"9144030071526726xg\"").unwrap(),
            code
        );
        let err = serde_json::from_str::<Uscc>("\"914403001922038217\"").unwrap_err();
        assert!(err.to_string().contains("第18位校验码应为“6”"), "{err}");
    }

    fn alphabet_char() -> impl Strategy<Value = char> {
        (0usize..31).prop_map(|i| ALPHABET[i] as char)
    }

    fn first17() -> impl Strategy<Value = String> {
        proptest::collection::vec(alphabet_char(), 17).prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn generated_codes_parse(prefix in first17()) {
            let code = Uscc::from_first17(&prefix).unwrap();
            prop_assert!(code.as_str().starts_with(&prefix));
            prop_assert_eq!(Uscc::parse(code.as_str()).unwrap(), code.clone());
            prop_assert_eq!(Uscc::parse(&code.as_str().to_lowercase()).unwrap(), code);
        }

        /// 31 is prime and every weight is non-zero mod 31, so any single substitution changes
        /// the weighted sum and is detected.
        #[test]
        fn single_substitution_detected(prefix in first17(), pos in 0usize..18, repl in alphabet_char()) {
            let code = Uscc::from_first17(&prefix).unwrap();
            let mut chars: Vec<char> = code.as_str().chars().collect();
            prop_assume!(chars[pos] != repl);
            chars[pos] = repl;
            let changed: String = chars.into_iter().collect();
            let is_check_mismatch = matches!(
                Uscc::parse(&changed),
                Err(UsccError::CheckMismatch { .. })
            );
            prop_assert!(is_check_mismatch);
            let is_check_failed = matches!(classify(&changed), UsccCheck::CheckFailed { .. });
            prop_assert!(is_check_failed);
        }

        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = Uscc::parse(&s);
            let _ = classify(&s);
            let _ = check_char(&s);
        }

        #[test]
        fn parse_never_panics_on_near_codes(s in "[0-9A-Za-z０-９Ａ-Ｚ \u{3000}]{15,21}") {
            if let Ok(code) = Uscc::parse(&s) {
                prop_assert_eq!(code.as_str().len(), 18);
            }
        }
    }
}
