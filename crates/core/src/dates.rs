//! Dates as they arrive in spreadsheets: ISO, slashes, Chinese, compact, Excel serials.

use chrono::{Duration, NaiveDate};

/// Parse a date written exactly `YYYY-MM-DD` (the API and command-line contracts).
pub fn parse_iso_date(input: &str) -> Result<NaiveDate, String> {
    let t = input.trim();
    let b = t.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(format!("日期“{t}”应写作 YYYY-MM-DD（如 2026-03-05）"));
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| format!("“{t}”不是有效日期"))
}

/// Parse a date written the ways Chinese government spreadsheets write them:
/// `2024-03-05`, `2024/3/5`, `2024.3.5`, `2024年3月5日`, `20240305`, an optional time after a
/// space or `T`, or an Excel serial number (1900 date system). Day-first or month-first forms
/// such as `05/03/2024` are ambiguous and refused.
pub fn parse_date(input: &str) -> Result<NaiveDate, String> {
    let s = crate::text::normalize_text(input);
    if s.is_empty() {
        return Err("日期为空".into());
    }
    // Excel serial number (possibly with a fractional time part).
    if let Ok(f) = s.parse::<f64>() {
        if s.len() == 8 && !s.contains('.') {
            // 20240305
            return ymd(&s[0..4], &s[4..6], &s[6..8], input);
        }
        if (1.0..=2_958_465.0).contains(&f) {
            let days = f.trunc() as i64;
            // Excel's day 60 is the non-existent 1900-02-29; serials after it are offset by one.
            let base = NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid base date");
            if days == 60 {
                return Err(format!(
                    "“{input}”不是有效日期（Excel 的 1900-02-29 不存在）"
                ));
            }
            let days = if days < 60 { days + 1 } else { days };
            return Ok(base + Duration::days(days));
        }
        return Err(format!("“{input}”不是有效日期"));
    }
    let date_part = s.split([' ', 'T']).next().unwrap_or("");
    let cleaned = date_part.replace(['年', '月'], "-").replace('日', "");
    let parts: Vec<&str> = cleaned.split(['-', '/', '.']).collect();
    if parts.len() == 3 {
        if parts[0].len() == 4 {
            return ymd(parts[0], parts[1], parts[2], input);
        }
        if parts[2].len() == 4 {
            return Err(format!(
                "“{input}”的日月顺序不明确，请使用“年-月-日”格式，如 2024-03-05"
            ));
        }
    }
    Err(format!(
        "“{input}”不是可识别的日期，请使用“年-月-日”格式，如 2024-03-05"
    ))
}

fn ymd(y: &str, m: &str, d: &str, input: &str) -> Result<NaiveDate, String> {
    let num = |x: &str| -> Result<u32, String> {
        if x.is_empty() || x.len() > 4 || !x.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("“{input}”不是可识别的日期"));
        }
        x.parse::<u32>()
            .map_err(|_| format!("“{input}”不是可识别的日期"))
    };
    let (y, m, d) = (num(y)?, num(m)?, num(d)?);
    if !(1900..=2999).contains(&y) {
        return Err(format!("“{input}”的年份不合理"));
    }
    NaiveDate::from_ymd_opt(y as i32, m, d).ok_or_else(|| format!("“{input}”不是存在的日期"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn accepts_the_usual_forms() {
        for s in [
            "2024-03-05",
            "2024/3/5",
            "2024.03.05",
            "2024年3月5日",
            "20240305",
            "2024-03-05 10:00:00",
            " ２０２４-03-05 ",
        ] {
            assert_eq!(parse_date(s), Ok(d(2024, 3, 5)), "{s}");
        }
    }

    #[test]
    fn excel_serials() {
        assert_eq!(parse_date("45356"), Ok(d(2024, 3, 5)));
        assert_eq!(parse_date("45356.5"), Ok(d(2024, 3, 5)));
        assert_eq!(parse_date("1"), Ok(d(1900, 1, 1)));
        assert_eq!(parse_date("61"), Ok(d(1900, 3, 1)));
        assert!(parse_date("60").is_err());
    }

    #[test]
    fn refuses_impossible_and_ambiguous() {
        assert!(parse_date("2023-02-29")
            .unwrap_err()
            .contains("不是存在的日期"));
        assert!(parse_date("05/03/2024").unwrap_err().contains("不明确"));
        assert!(parse_date("明天").is_err());
        assert!(parse_date("").is_err());
        assert!(parse_date("0024-01-01").is_err());
    }
}

/// A date as `YYYY-MM-DD` text (as `NaiveDate` displays it) without a heap allocation or the
/// formatting machinery for the years 0–9999: for writers of many dates (SQL parameters, the
/// stored JSON of evaluations).
pub enum DateText {
    Digits([u8; 10]),
    Other(String),
}

impl DateText {
    pub fn new(d: NaiveDate) -> Self {
        use chrono::Datelike;
        let Ok(y @ 0..=9999) = u32::try_from(d.year()) else {
            return DateText::Other(d.to_string());
        };
        let (m, day) = (d.month(), d.day());
        let digit = |v: u32| b'0' + (v % 10) as u8;
        DateText::Digits([
            digit(y / 1000),
            digit(y / 100),
            digit(y / 10),
            digit(y),
            b'-',
            digit(m / 10),
            digit(m),
            b'-',
            digit(day / 10),
            digit(day),
        ])
    }

    pub fn as_str(&self) -> &str {
        match self {
            DateText::Digits(b) => std::str::from_utf8(b).expect("ASCII digits"),
            DateText::Other(s) => s,
        }
    }
}

#[cfg(test)]
mod date_text_tests {
    use super::*;

    #[test]
    fn date_text_is_the_date_as_it_displays() {
        for (y, m, d) in [
            (2026, 12, 1),
            (2024, 2, 29),
            (1, 1, 1),
            (999, 10, 31),
            (9999, 12, 31),
        ] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(DateText::new(date).as_str(), date.to_string());
        }
        for y in [-1, 10000, 262_000] {
            let date = NaiveDate::from_ymd_opt(y, 3, 5).unwrap();
            assert_eq!(DateText::new(date).as_str(), date.to_string(), "{y}");
        }
    }
}
