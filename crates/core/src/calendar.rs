//! Chinese official working-day calendar (工作日): weekends, statutory holidays and make-up days.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// The built-in calendar data (State Council notices for 2019–2026).
pub const BUILTIN_JSON: &str = include_str!("../data/cn-workday-calendar.json");

/// Earliest year a calendar may hold.
pub const MIN_YEAR: i32 = 1900;
/// Latest year a calendar may hold.
pub const MAX_YEAR: i32 = 9999;

/// Errors from loading calendar data or computing with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// A computation needed a year for which no holiday arrangement is loaded.
    #[error("没有{0}年的节假日安排数据，请管理员先导入该年度国务院办公厅节假日安排通知")]
    YearNotLoaded(i32),
    /// The JSON could not be parsed or does not have the expected shape.
    #[error("节假日安排数据格式错误：{0}")]
    Json(String),
    /// The JSON contains no year.
    #[error("节假日安排数据中没有任何年度")]
    NoYears,
    /// A year outside [`MIN_YEAR`]..=[`MAX_YEAR`].
    #[error("年份{0}超出支持范围（{MIN_YEAR}—{MAX_YEAR}年）")]
    YearOutOfRange(i32),
    /// The same year appears twice in one document.
    #[error("{0}年在节假日安排数据中出现了多次")]
    DuplicateYear(i32),
    /// A year with no listed days (every real notice lists at least New Year's Day).
    #[error("{0}年的节假日安排为空，至少应包含元旦等法定节假日")]
    EmptyYear(i32),
    /// A date string that is not `YYYY-MM-DD` or not a real date.
    #[error("{year}年的日期“{date}”无效，应为YYYY-MM-DD格式的真实日期")]
    InvalidDate {
        /// The year entry the date is listed under.
        year: i32,
        /// The date string as given.
        date: String,
    },
    /// A date listed under another year's entry.
    #[error("日期{date}不属于{year}年，却列在{year}年的安排中")]
    DateYearMismatch {
        /// The year entry the date is listed under.
        year: i32,
        /// The listed date.
        date: NaiveDate,
    },
    /// A make-up working day (`isOffDay: false`) that is not a Saturday or Sunday.
    #[error("{date}（{}）本来就是工作日，不能列为调休上班日；调休上班日只能是周六或周日", weekday_zh(date.weekday()))]
    MakeupNotWeekend {
        /// The listed date.
        date: NaiveDate,
    },
    /// A date listed more than once in a year.
    #[error("日期{date}在节假日安排中重复出现")]
    DuplicateDate {
        /// The repeated date.
        date: NaiveDate,
    },
}

/// Chinese weekday name (周一 … 周日).
fn weekday_zh(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "周一",
        Weekday::Tue => "周二",
        Weekday::Wed => "周三",
        Weekday::Thu => "周四",
        Weekday::Fri => "周五",
        Weekday::Sat => "周六",
        Weekday::Sun => "周日",
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// One listed date of a year's holiday arrangement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarDay {
    /// Holiday name, e.g. `国庆节` or `国庆节（调休上班）`.
    pub name: String,
    /// The date.
    pub date: NaiveDate,
    /// `true`: a day off in a holiday period; `false`: a make-up working day on a weekend.
    pub is_off_day: bool,
}

// Wire format, shared by the data file, `load_json` and `to_json_year`.

#[derive(Serialize, Deserialize)]
struct FileJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    years: Vec<YearJson>,
}

#[derive(Serialize, Deserialize)]
struct YearJson {
    year: i32,
    days: Vec<DayJson>,
}

#[derive(Serialize, Deserialize)]
struct DayJson {
    #[serde(default)]
    name: String,
    date: String,
    #[serde(rename = "isOffDay")]
    is_off_day: bool,
}

/// Precomputed data for one year.
#[derive(Clone, PartialEq, Eq)]
struct YearData {
    source: Option<String>,
    note: Option<String>,
    /// Listed dates, sorted by date.
    days: Vec<CalendarDay>,
    /// `prefix[i]` = number of working days among the first `i` days of the year
    /// (ordinals 0..i); length = days in year + 1.
    prefix: Vec<u16>,
    /// The year's working days in ascending order.
    workdays: Vec<NaiveDate>,
}

impl YearData {
    /// Validates the listed days of `year` and precomputes the lookup tables.
    fn build(
        year: i32,
        mut days: Vec<CalendarDay>,
        source: Option<String>,
        note: Option<String>,
    ) -> Result<YearData, CalendarError> {
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return Err(CalendarError::YearOutOfRange(year));
        }
        if days.is_empty() {
            return Err(CalendarError::EmptyYear(year));
        }
        let mut seen = BTreeSet::new();
        for day in &days {
            if day.date.year() != year {
                return Err(CalendarError::DateYearMismatch {
                    year,
                    date: day.date,
                });
            }
            if !day.is_off_day && !is_weekend(day.date) {
                return Err(CalendarError::MakeupNotWeekend { date: day.date });
            }
            if !seen.insert(day.date) {
                return Err(CalendarError::DuplicateDate { date: day.date });
            }
        }
        days.sort_by_key(|d| d.date);

        let overrides: BTreeMap<NaiveDate, bool> =
            days.iter().map(|d| (d.date, !d.is_off_day)).collect();
        let first = NaiveDate::from_yo_opt(year, 1).ok_or(CalendarError::YearOutOfRange(year))?;
        let mut prefix = Vec::with_capacity(367);
        let mut workdays = Vec::with_capacity(260);
        prefix.push(0u16);
        for date in first.iter_days().take_while(|d| d.year() == year) {
            let working = overrides
                .get(&date)
                .copied()
                .unwrap_or_else(|| !is_weekend(date));
            if working {
                workdays.push(date);
            }
            prefix.push(workdays.len() as u16);
        }
        Ok(YearData {
            source,
            note,
            days,
            prefix,
            workdays,
        })
    }

    /// Number of working days on or before `date` within its year.
    fn count_through(&self, date: NaiveDate) -> u32 {
        u32::from(self.prefix[date.ordinal() as usize])
    }

    fn total(&self) -> u32 {
        self.workdays.len() as u32
    }
}

/// Working-day calendar: Monday–Friday work, Saturday–Sunday rest, except for the listed dates
/// of each loaded year. Computations refuse to touch a year that is not loaded.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct WorkdayCalendar {
    years: BTreeMap<i32, YearData>,
}

impl fmt::Debug for WorkdayCalendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkdayCalendar")
            .field("years", &self.years())
            .finish()
    }
}

impl WorkdayCalendar {
    /// An empty calendar with no year loaded.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh calendar with the built-in 2019–2026 data ([`BUILTIN_JSON`]).
    pub fn builtin() -> Self {
        Self::from_json(BUILTIN_JSON).expect("built-in calendar data is valid")
    }

    /// A shared, lazily built copy of [`WorkdayCalendar::builtin`].
    pub fn builtin_ref() -> &'static WorkdayCalendar {
        builtin_ref()
    }

    /// Builds a calendar from a JSON document in the data-file format.
    pub fn from_json(json: &str) -> Result<Self, CalendarError> {
        let mut calendar = Self::new();
        calendar.load_json(json)?;
        Ok(calendar)
    }

    /// Adds (or replaces) the years in `json`, returning them in document order.
    ///
    /// The whole document is validated first; on error the calendar is unchanged.
    pub fn load_json(&mut self, json: &str) -> Result<Vec<i32>, CalendarError> {
        let file: FileJson =
            serde_json::from_str(json).map_err(|e| CalendarError::Json(e.to_string()))?;
        if file.years.is_empty() {
            return Err(CalendarError::NoYears);
        }
        let mut built = Vec::with_capacity(file.years.len());
        let mut seen = BTreeSet::new();
        for y in file.years {
            if !seen.insert(y.year) {
                return Err(CalendarError::DuplicateYear(y.year));
            }
            let days = y
                .days
                .into_iter()
                .map(|d| parse_day(y.year, d))
                .collect::<Result<Vec<_>, _>>()?;
            let data = YearData::build(y.year, days, file.source.clone(), file.note.clone())?;
            built.push((y.year, data));
        }
        let years = built.iter().map(|(y, _)| *y).collect();
        self.years.extend(built);
        Ok(years)
    }

    /// Adds (or replaces) one year from already parsed days, e.g. entered in a form.
    pub fn load_year(
        &mut self,
        year: i32,
        days: Vec<CalendarDay>,
        source: Option<String>,
    ) -> Result<(), CalendarError> {
        let data = YearData::build(year, days, source, None)?;
        self.years.insert(year, data);
        Ok(())
    }

    /// The loaded years in ascending order.
    pub fn years(&self) -> Vec<i32> {
        self.years.keys().copied().collect()
    }

    /// Whether `year` is loaded.
    pub fn has_year(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// The listed dates of `year`, sorted by date.
    pub fn days(&self, year: i32) -> Option<&[CalendarDay]> {
        self.years.get(&year).map(|y| y.days.as_slice())
    }

    /// Number of working days in `year`.
    pub fn workdays_in_year(&self, year: i32) -> Result<u32, CalendarError> {
        Ok(self.year(year)?.total())
    }

    /// Serialises one year in the data-file format (for storing it in the database).
    pub fn to_json_year(&self, year: i32) -> Option<String> {
        let data = self.years.get(&year)?;
        let file = FileJson {
            source: data.source.clone(),
            note: data.note.clone(),
            years: vec![YearJson {
                year,
                days: data
                    .days
                    .iter()
                    .map(|d| DayJson {
                        name: d.name.clone(),
                        date: d.date.format("%Y-%m-%d").to_string(),
                        is_off_day: d.is_off_day,
                    })
                    .collect(),
            }],
        };
        serde_json::to_string_pretty(&file).ok()
    }

    fn year(&self, year: i32) -> Result<&YearData, CalendarError> {
        self.years
            .get(&year)
            .ok_or(CalendarError::YearNotLoaded(year))
    }

    /// Whether `date` is a working day.
    pub fn is_workday(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        let y = self.year(date.year())?;
        let i = date.ordinal() as usize;
        Ok(y.prefix[i] > y.prefix[i - 1])
    }

    /// The `n`-th working day after `start` (the start day itself is not counted);
    /// `n = 0` returns `start`. Every year touched must be loaded.
    pub fn add_workdays(&self, start: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let mut year = start.year();
        let mut data = self.year(year)?;
        if n == 0 {
            return Ok(start);
        }
        // 1-based index, within `year`, of the working day sought.
        let mut target = u64::from(data.count_through(start)) + u64::from(n);
        loop {
            let total = u64::from(data.total());
            if target <= total {
                return Ok(data.workdays[(target - 1) as usize]);
            }
            target -= total;
            year += 1;
            data = self.year(year)?;
        }
    }

    /// Number of working days `d` with `from < d <= to`; negative of the reverse count when
    /// `to < from`. Every year touched must be loaded.
    pub fn workdays_between(&self, from: NaiveDate, to: NaiveDate) -> Result<i64, CalendarError> {
        if to < from {
            return self.workdays_between(to, from).map(|n| -n);
        }
        let start = self.year(from.year())?;
        let end = self.year(to.year())?;
        if from.year() == to.year() {
            return Ok(i64::from(end.count_through(to)) - i64::from(start.count_through(from)));
        }
        let mut count = i64::from(start.total()) - i64::from(start.count_through(from));
        for y in from.year() + 1..to.year() {
            count += i64::from(self.year(y)?.total());
        }
        Ok(count + i64::from(end.count_through(to)))
    }

    /// `date` itself when it is a working day, otherwise the next working day.
    pub fn next_workday_on_or_after(&self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        if self.is_workday(date)? {
            Ok(date)
        } else {
            self.add_workdays(date, 1)
        }
    }
}

/// Parses one listed day strictly (`YYYY-MM-DD`).
fn parse_day(year: i32, d: DayJson) -> Result<CalendarDay, CalendarError> {
    let invalid = || CalendarError::InvalidDate {
        year,
        date: d.date.clone(),
    };
    let b = d.date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(invalid());
    }
    let date = NaiveDate::parse_from_str(&d.date, "%Y-%m-%d").map_err(|_| invalid())?;
    Ok(CalendarDay {
        name: d.name,
        date,
        is_off_day: d.is_off_day,
    })
}

/// A shared, lazily built copy of the built-in calendar.
pub fn builtin_ref() -> &'static WorkdayCalendar {
    static BUILTIN: OnceLock<WorkdayCalendar> = OnceLock::new();
    BUILTIN.get_or_init(WorkdayCalendar::builtin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn cal() -> &'static WorkdayCalendar {
        builtin_ref()
    }

    const CAL_2027: &str = r#"{
        "source": "test",
        "years": [{"year": 2027, "days": [
            {"name": "元旦", "date": "2027-01-01", "isOffDay": true}
        ]}]
    }"#;

    #[test]
    fn builtin_loads_2019_to_2026() {
        assert_eq!(cal().years(), (2019..=2026).collect::<Vec<_>>());
        assert_eq!(WorkdayCalendar::builtin(), *cal());
        assert!(format!("{:?}", cal()).contains("2026"));
    }

    #[test]
    fn workday_counts_per_year() {
        // Computed independently from the data file with a day-by-day script.
        let expected = [
            (2019, 250),
            (2020, 249),
            (2021, 250),
            (2022, 249),
            (2023, 249),
            (2024, 251),
            (2025, 248),
            (2026, 248),
        ];
        for (year, n) in expected {
            assert_eq!(cal().workdays_in_year(year).unwrap(), n, "{year}");
        }
    }

    #[test]
    fn national_day_2024() {
        let c = cal();
        assert!(!c.is_workday(d(2024, 10, 1)).unwrap());
        assert!(!c.is_workday(d(2024, 10, 5)).unwrap()); // listed Saturday off
        assert!(c.is_workday(d(2024, 9, 29)).unwrap()); // Sunday make-up day
        assert!(c.is_workday(d(2024, 10, 12)).unwrap()); // Saturday make-up day
        assert!(!c.is_workday(d(2024, 10, 13)).unwrap()); // ordinary Sunday
        assert!(c.is_workday(d(2024, 10, 8)).unwrap()); // ordinary Tuesday
        assert_eq!(c.add_workdays(d(2024, 9, 30), 1).unwrap(), d(2024, 10, 8));
        assert_eq!(
            c.next_workday_on_or_after(d(2024, 10, 1)).unwrap(),
            d(2024, 10, 8)
        );
        assert_eq!(
            c.next_workday_on_or_after(d(2024, 9, 29)).unwrap(),
            d(2024, 9, 29)
        );
    }

    #[test]
    fn spring_festival_2024() {
        // 02-08 Thu start (not counted); 02-09 Fri works; 02-10..17 off; 02-18 Sun make-up;
        // then 02-19..23 Mon–Fri.
        let c = cal();
        assert!(c.is_workday(d(2024, 2, 9)).unwrap());
        assert!(c.is_workday(d(2024, 2, 18)).unwrap());
        assert_eq!(c.add_workdays(d(2024, 2, 8), 1).unwrap(), d(2024, 2, 9));
        assert_eq!(c.add_workdays(d(2024, 2, 8), 2).unwrap(), d(2024, 2, 18));
        assert_eq!(c.add_workdays(d(2024, 2, 8), 7).unwrap(), d(2024, 2, 23));
        assert_eq!(
            c.workdays_between(d(2024, 2, 8), d(2024, 2, 23)).unwrap(),
            7
        );
        assert_eq!(
            c.workdays_between(d(2024, 2, 23), d(2024, 2, 8)).unwrap(),
            -7
        );
        assert_eq!(c.add_workdays(d(2024, 2, 8), 0).unwrap(), d(2024, 2, 8));
        // Starting on a day off: n = 0 still returns the start.
        assert_eq!(c.add_workdays(d(2024, 2, 12), 0).unwrap(), d(2024, 2, 12));
    }

    #[test]
    fn across_years() {
        let c = cal();
        // 2025-01-01 is a listed day off.
        assert_eq!(c.add_workdays(d(2024, 12, 31), 1).unwrap(), d(2025, 1, 2));
        assert_eq!(
            c.workdays_between(d(2024, 12, 31), d(2025, 1, 2)).unwrap(),
            1
        );
        let sum: i64 = (2020..=2025)
            .map(|y| i64::from(c.workdays_in_year(y).unwrap()))
            .sum();
        assert_eq!(
            c.workdays_between(d(2019, 12, 31), d(2025, 12, 31))
                .unwrap(),
            sum
        );
        let end = c.add_workdays(d(2019, 12, 31), sum as u32).unwrap();
        assert!(c.is_workday(end).unwrap());
        assert_eq!(c.workdays_between(end, d(2025, 12, 31)).unwrap(), 0);
    }

    #[test]
    fn year_not_loaded() {
        let c = cal();
        assert_eq!(
            c.is_workday(d(2027, 1, 4)),
            Err(CalendarError::YearNotLoaded(2027))
        );
        assert_eq!(
            c.add_workdays(d(2026, 12, 31), 1),
            Err(CalendarError::YearNotLoaded(2027))
        );
        assert_eq!(
            c.add_workdays(d(2027, 1, 4), 0),
            Err(CalendarError::YearNotLoaded(2027))
        );
        assert_eq!(
            c.add_workdays(d(2026, 1, 5), u32::MAX),
            Err(CalendarError::YearNotLoaded(2027))
        );
        assert_eq!(
            c.workdays_between(d(2018, 12, 31), d(2019, 1, 2)),
            Err(CalendarError::YearNotLoaded(2018))
        );
        assert_eq!(
            c.workdays_between(d(2026, 12, 1), d(2027, 1, 8)),
            Err(CalendarError::YearNotLoaded(2027))
        );
        assert_eq!(
            CalendarError::YearNotLoaded(2027).to_string(),
            "没有2027年的节假日安排数据，请管理员先导入该年度国务院办公厅节假日安排通知"
        );
    }

    #[test]
    fn loading_a_new_year() {
        let mut c = WorkdayCalendar::builtin();
        assert_eq!(c.load_json(CAL_2027).unwrap(), vec![2027]);
        assert!(c.has_year(2027));
        assert!(!c.is_workday(d(2027, 1, 1)).unwrap());
        // 2026-12-31 Thu → 2027-01-01 off, 01-02/03 weekend → Mon 01-04.
        assert_eq!(c.add_workdays(d(2026, 12, 31), 1).unwrap(), d(2027, 1, 4));
        assert_eq!(
            c.workdays_between(d(2026, 12, 31), d(2027, 1, 8)).unwrap(),
            5
        );
    }

    #[test]
    fn replacing_a_year() {
        let mut c = WorkdayCalendar::builtin();
        let json = r#"{"years":[{"year":2024,"days":[
            {"name":"x","date":"2024-10-08","isOffDay":true},
            {"name":"x","date":"2024-10-13","isOffDay":false}]}]}"#;
        assert_eq!(c.load_json(json).unwrap(), vec![2024]);
        assert!(c.is_workday(d(2024, 10, 1)).unwrap());
        assert!(!c.is_workday(d(2024, 10, 8)).unwrap());
        assert!(c.is_workday(d(2024, 10, 13)).unwrap());
        assert_eq!(c.days(2024).unwrap().len(), 2);
        assert_eq!(c.years().len(), 8);
    }

    #[test]
    fn load_year_from_days() {
        let mut c = WorkdayCalendar::new();
        c.load_year(
            2027,
            vec![CalendarDay {
                name: "元旦".into(),
                date: d(2027, 1, 1),
                is_off_day: true,
            }],
            Some("国办发明电".into()),
        )
        .unwrap();
        assert_eq!(c.years(), vec![2027]);
        assert!(c.to_json_year(2027).unwrap().contains("国办发明电"));
    }

    #[test]
    fn json_round_trip() {
        let c = cal();
        let json = c.to_json_year(2024).unwrap();
        assert!(json.contains("\"isOffDay\": true"));
        assert!(json.contains("\"2024-10-01\""));
        let back = WorkdayCalendar::from_json(&json).unwrap();
        assert_eq!(back.years(), vec![2024]);
        assert_eq!(back.days(2024), c.days(2024));
        for day in d(2024, 1, 1).iter_days().take(366) {
            assert_eq!(back.is_workday(day), c.is_workday(day));
        }
        assert_eq!(c.to_json_year(2030), None);
    }

    #[test]
    fn validation_errors() {
        let mut c = WorkdayCalendar::builtin();
        let before = c.clone();
        let load = |c: &mut WorkdayCalendar, days: &str| {
            c.load_json(&format!(r#"{{"years":[{{"year":2027,"days":[{days}]}}]}}"#))
        };
        assert_eq!(
            load(
                &mut c,
                r#"{"name":"a","date":"2026-10-01","isOffDay":true}"#
            ),
            Err(CalendarError::DateYearMismatch {
                year: 2027,
                date: d(2026, 10, 1)
            })
        );
        // 2027-10-04 is a Monday.
        let err = load(
            &mut c,
            r#"{"name":"a","date":"2027-10-04","isOffDay":false}"#,
        );
        assert_eq!(
            err,
            Err(CalendarError::MakeupNotWeekend {
                date: d(2027, 10, 4)
            })
        );
        assert_eq!(
            err.unwrap_err().to_string(),
            "2027-10-04（周一）本来就是工作日，不能列为调休上班日；调休上班日只能是周六或周日"
        );
        assert_eq!(
            load(
                &mut c,
                r#"{"name":"a","date":"2027-10-01","isOffDay":true},
                   {"name":"b","date":"2027-10-01","isOffDay":true}"#
            ),
            Err(CalendarError::DuplicateDate {
                date: d(2027, 10, 1)
            })
        );
        assert_eq!(
            load(&mut c, r#"{"name":"a","date":"2027-2-30","isOffDay":true}"#),
            Err(CalendarError::InvalidDate {
                year: 2027,
                date: "2027-2-30".into()
            })
        );
        assert_eq!(
            load(
                &mut c,
                r#"{"name":"a","date":"2027-02-30","isOffDay":true}"#
            ),
            Err(CalendarError::InvalidDate {
                year: 2027,
                date: "2027-02-30".into()
            })
        );
        assert_eq!(load(&mut c, ""), Err(CalendarError::EmptyYear(2027)));
        assert!(matches!(c.load_json("{"), Err(CalendarError::Json(_))));
        assert!(c
            .load_json("[]")
            .unwrap_err()
            .to_string()
            .starts_with("节假日安排数据格式错误"));
        assert_eq!(c.load_json(r#"{"years":[]}"#), Err(CalendarError::NoYears));
        let dup = r#"{"years":[
            {"year":2027,"days":[{"name":"a","date":"2027-01-01","isOffDay":true}]},
            {"year":2027,"days":[{"name":"a","date":"2027-01-01","isOffDay":true}]}]}"#;
        assert_eq!(c.load_json(dup), Err(CalendarError::DuplicateYear(2027)));
        // A valid year followed by an invalid one loads nothing.
        let partial = r#"{"years":[
            {"year":2027,"days":[{"name":"a","date":"2027-01-01","isOffDay":true}]},
            {"year":2028,"days":[]}]}"#;
        assert_eq!(c.load_json(partial), Err(CalendarError::EmptyYear(2028)));
        assert_eq!(
            c.load_json(r#"{"years":[{"year":1800,"days":[]}]}"#),
            Err(CalendarError::YearOutOfRange(1800))
        );
        assert_eq!(c, before);
    }

    fn date_2019_2026() -> impl Strategy<Value = NaiveDate> {
        (2019i32..=2026, 1u32..=366)
            .prop_filter_map("valid ordinal", |(y, o)| NaiveDate::from_yo_opt(y, o))
    }

    proptest! {
        #[test]
        fn between_inverts_add(start in date_2019_2026(), n in 0u32..1500) {
            let c = cal();
            match c.add_workdays(start, n) {
                Ok(end) => {
                    prop_assert_eq!(c.workdays_between(start, end).unwrap(), i64::from(n));
                    prop_assert_eq!(c.workdays_between(end, start).unwrap(), -i64::from(n));
                    if n > 0 {
                        prop_assert!(end > start);
                        prop_assert!(c.is_workday(end).unwrap());
                        // The previous working day is the (n-1)-th.
                        let prev = end.pred_opt().unwrap();
                        prop_assert_eq!(c.workdays_between(start, prev).unwrap(), i64::from(n) - 1);
                    }
                }
                Err(e) => prop_assert_eq!(e, CalendarError::YearNotLoaded(2027)),
            }
        }

        #[test]
        fn add_matches_day_by_day(start in date_2019_2026(), n in 0u32..60) {
            let c = cal();
            let mut day = start;
            let mut left = n;
            let expected = loop {
                if left == 0 {
                    break Ok(day);
                }
                day = day.succ_opt().unwrap();
                match c.is_workday(day) {
                    Ok(true) => left -= 1,
                    Ok(false) => {}
                    Err(e) => break Err(e),
                }
            };
            prop_assert_eq!(c.add_workdays(start, n), expected);
        }

        #[test]
        fn between_matches_day_by_day(a in date_2019_2026(), span in 0i64..120) {
            let c = cal();
            let b = a + chrono::Duration::days(span);
            prop_assume!(b.year() <= 2026);
            let expected = a
                .iter_days()
                .skip(1)
                .take_while(|d| *d <= b)
                .filter(|d| c.is_workday(*d).unwrap())
                .count() as i64;
            prop_assert_eq!(c.workdays_between(a, b).unwrap(), expected);
        }

        #[test]
        fn load_json_never_panics(s in "\\PC*") {
            let _ = WorkdayCalendar::new().load_json(&s);
        }
    }
}
