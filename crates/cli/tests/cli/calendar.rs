//! `xinjian calendar is-workday | add-workdays | load`.
//!
//! Expected answers worked out by hand from /work/shared/data/cn-workday-calendar.json:
//!
//! 2024 Spring Festival: 02-04 (Sun) 调休上班; 02-10 (Sat) … 02-17 (Sat) off; 02-18 (Sun) 调休上班.
//! 2024 Mid-Autumn: 09-14 (Sat) 调休上班; 09-15 … 09-17 off.
//! 2024 National Day: 09-29 (Sun) 调休上班; 10-01 (Tue) … 10-07 (Mon) off; 10-12 (Sat) 调休上班.
//! 2026 New Year: 01-01 … 01-03 off; 01-04 (Sun) 调休上班.
//! The built-in data ends with 2026.

use crate::support::*;

fn is_workday(fx: &Fixture, date: &str) -> String {
    let r = fx.xj(&["calendar", "is-workday", date]);
    r.assert_success();
    r.stdout.trim_end().to_owned()
}

fn add_workdays(fx: &Fixture, date: &str, n: u32) -> String {
    let n = n.to_string();
    let r = fx.xj(&["calendar", "add-workdays", date, &n]);
    r.assert_success();
    r.stdout.trim_end().to_owned()
}

#[test]
fn is_workday_prints_true_or_false() {
    let fx = Fixture::new();
    // National Day (a Tuesday): off.
    assert_eq!(is_workday(&fx, "2024-10-01"), "false");
    // A Sunday, but a make-up working day before National Day.
    assert_eq!(is_workday(&fx, "2024-09-29"), "true");
    // A Saturday make-up working day after National Day.
    assert_eq!(is_workday(&fx, "2024-10-12"), "true");
    // A normal Saturday and Sunday.
    assert_eq!(is_workday(&fx, "2024-10-19"), "false");
    assert_eq!(is_workday(&fx, "2024-10-20"), "false");
    // A normal Wednesday.
    assert_eq!(is_workday(&fx, "2024-10-16"), "true");
    // Spring Festival Monday 2024-02-12: off; make-up Sunday 2024-02-04: working.
    assert_eq!(is_workday(&fx, "2024-02-12"), "false");
    assert_eq!(is_workday(&fx, "2024-02-04"), "true");
}

#[test]
fn add_workdays_across_spring_festival_2024() {
    let fx = Fixture::new();
    // Thu 02-08 + 1 → Fri 02-09 (an ordinary working day before the holiday).
    assert_eq!(add_workdays(&fx, "2024-02-08", 1), "2024-02-09");
    // Fri 02-09 + 1: 02-10 … 02-17 off → Sun 02-18, the make-up day.
    assert_eq!(add_workdays(&fx, "2024-02-09", 1), "2024-02-18");
    // Fri 02-09 + 2 → Mon 02-19.
    assert_eq!(add_workdays(&fx, "2024-02-09", 2), "2024-02-19");
    // Fri 02-02 + 1: Sat 02-03 off → Sun 02-04 (make-up day).
    assert_eq!(add_workdays(&fx, "2024-02-02", 1), "2024-02-04");
    // Thu 02-01 + 10: 02-02 (1), 02-04 Sun (2), 02-05 … 02-09 (3–7), [02-10 … 02-17 off],
    // 02-18 Sun (8), 02-19 (9), 02-20 (10).
    assert_eq!(add_workdays(&fx, "2024-02-01", 10), "2024-02-20");
    // Starting on a holiday: Tue 02-13 + 1 → Sun 02-18.
    assert_eq!(add_workdays(&fx, "2024-02-13", 1), "2024-02-18");
}

#[test]
fn add_workdays_across_national_day_2024() {
    let fx = Fixture::new();
    // Fri 09-27 + 1: Sat 09-28 off → Sun 09-29 (make-up day).
    assert_eq!(add_workdays(&fx, "2024-09-27", 1), "2024-09-29");
    // Mon 09-30 + 1: 10-01 … 10-07 off → Tue 10-08.
    assert_eq!(add_workdays(&fx, "2024-09-30", 1), "2024-10-08");
    // Mon 09-30 + 5: 10-08 … 10-11 (1–4), Sat 10-12 make-up (5).
    assert_eq!(add_workdays(&fx, "2024-09-30", 5), "2024-10-12");
    // Mon 09-30 + 6: Sun 10-13 off → Mon 10-14.
    assert_eq!(add_workdays(&fx, "2024-09-30", 6), "2024-10-14");
    // Thu 09-26 + 10: 09-27 (1), 09-29 Sun (2), 09-30 (3), 10-08 … 10-11 (4–7),
    // 10-12 Sat (8), 10-14 (9), 10-15 (10).
    assert_eq!(add_workdays(&fx, "2024-09-26", 10), "2024-10-15");
    // Mid-Autumn make-up day: Fri 09-13 + 1 → Sat 09-14.
    assert_eq!(add_workdays(&fx, "2024-09-13", 1), "2024-09-14");
}

#[test]
fn add_workdays_across_a_year_end_and_zero() {
    let fx = Fixture::new();
    // Wed 2025-12-31 + 1: 2026-01-01 … 01-03 off → Sun 2026-01-04 (make-up day).
    assert_eq!(add_workdays(&fx, "2025-12-31", 1), "2026-01-04");
    // N = 0 is the start date itself.
    assert_eq!(add_workdays(&fx, "2024-10-01", 0), "2024-10-01");
}

#[test]
fn add_workdays_refuses_a_year_without_data() {
    let fx = Fixture::new();
    for (date, n, year) in [
        ("2027-01-04", 3, "2027"),
        ("2030-06-03", 1, "2030"),
        // Starts in 2026 (built in) but the answer lies in 2027.
        ("2026-12-31", 1, "2027"),
    ] {
        let n = n.to_string();
        let r = fx.xj(&["calendar", "add-workdays", date, &n]);
        r.assert_failure();
        assert!(r.stdout.trim().is_empty(), "{}", r.describe());
        assert!(
            has_chinese(&r.stderr) && r.stderr.contains(year),
            "the message should name the year:\n{}",
            r.describe()
        );
    }
    let r = fx.xj(&["calendar", "is-workday", "2027-01-04"]);
    r.assert_failure();
    assert!(has_chinese(&r.stderr), "{}", r.describe());
}

/// A 2027 arrangement in the data-file format. Besides New Year's Day it declares a (test)
/// day off on Wed 01-06 and a make-up working day on Sat 01-09, so that results differ from
/// plain Monday–Friday arithmetic.
const CAL_2027: &str = r#"{
 "source": "test data, not an official notice",
 "years": [
  {
   "year": 2027,
   "days": [
    { "name": "元旦", "date": "2027-01-01", "isOffDay": true },
    { "name": "测试休息日", "date": "2027-01-06", "isOffDay": true },
    { "name": "测试调休上班", "date": "2027-01-09", "isOffDay": false }
   ]
  }
 ]
}"#;

#[test]
fn a_loaded_year_is_used_with_db() {
    let fx = Fixture::new();
    let file = fx.write("cal-2027.json", CAL_2027);
    let file = file.display().to_string();
    let r = fx.xj_db(&["calendar", "load", &file]);
    r.assert_success();
    assert!(r.stdout.contains("2027"), "{}", r.describe());

    let add = |date: &str, n: &str| {
        let r = fx.xj_db(&["calendar", "add-workdays", date, n]);
        r.assert_success();
        r.stdout.trim_end().to_owned()
    };
    // Mon 2027-01-04 + 3: 01-05 (1), [01-06 off], 01-07 (2), 01-08 (3).
    assert_eq!(add("2027-01-04", "3"), "2027-01-08");
    // + 4: Sat 01-09 make-up day.
    assert_eq!(add("2027-01-04", "4"), "2027-01-09");
    // Thu 2026-12-31 (built-in year) + 1: 2027-01-01 off, 01-02/01-03 weekend → Mon 01-04.
    assert_eq!(add("2026-12-31", "1"), "2027-01-04");
    // The built-in years still work with a database.
    assert_eq!(add("2024-09-30", "1"), "2024-10-08");

    let r = fx.xj_db(&["calendar", "is-workday", "2027-01-01"]);
    r.assert_success();
    assert_eq!(r.stdout.trim_end(), "false");

    // Without the database 2027 is still unknown.
    fx.xj(&["calendar", "add-workdays", "2027-01-04", "3"])
        .assert_failure();

    // Loading is audited.
    assert_eq!(fx.audit_ok(), 1);
}

#[test]
fn an_invalid_calendar_file_is_refused_and_nothing_is_stored() {
    let fx = Fixture::new();
    // 2027-01-06 is a Wednesday: it cannot be a make-up working day.
    let bad = CAL_2027.replace(
        r#""date": "2027-01-06", "isOffDay": true"#,
        r#""date": "2027-01-06", "isOffDay": false"#,
    );
    assert_ne!(bad, CAL_2027);
    let file = fx.write("bad.json", &bad);
    let file = file.display().to_string();
    let r = fx.xj_db(&["calendar", "load", &file]);
    r.assert_failure();
    assert!(has_chinese(&r.stderr), "{}", r.describe());
    fx.xj_db(&["calendar", "add-workdays", "2027-01-04", "3"])
        .assert_failure();
    assert_eq!(fx.count("SELECT count(*) FROM calendar_years"), 0);

    let junk = fx.write("junk.json", "not json at all");
    let junk = junk.display().to_string();
    let r = fx.xj_db(&["calendar", "load", &junk]);
    r.assert_failure();
    assert!(has_chinese(&r.stderr), "{}", r.describe());
}
