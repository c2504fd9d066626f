//! The public credit evaluation (公共信用综合评价, DOMAIN §4, seed 004): A/B/C/D as of a date,
//! with the facts that decided it and what would change it. Pure: the inputs and the rule set
//! are passed in; the rule set is versioned data.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::credit::{ListType, Severity};

/// The four classes of seed 004.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Grade {
    A,
    B,
    C,
    D,
}

impl Grade {
    pub const ALL: [Grade; 4] = [Grade::A, Grade::B, Grade::C, Grade::D];
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
            Grade::D => "D",
        }
    }
    pub fn parse(s: &str) -> Option<Grade> {
        Grade::ALL.into_iter().find(|g| g.as_str() == s)
    }
    /// The seed's name of the class.
    pub fn label(self) -> &'static str {
        match self {
            Grade::A => "守信",
            Grade::B => "一般失信",
            Grade::C => "严重失信",
            Grade::D => "“黑名单”",
        }
    }
}

/// A rule set, stored as a named version; every evaluation records the version it used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeRules {
    pub version: String,
    /// The window: records decided after the same day this many months earlier and on or
    /// before T.
    pub window_months: u32,
    /// Up to this many `general` records in the window: B; more: C (seed: “5次以下（含5次）”).
    pub general_b_max: u32,
    /// A `serious` record in the window makes C.
    pub serious_record_makes_c: bool,
    /// Being on one of these lists on T makes C.
    pub c_lists: Vec<ListType>,
    /// Registration status 吊销 makes D.
    pub d_on_revoked_status: bool,
    /// A penalty revoking the business licence (吊销营业执照) decided on or before T makes D.
    pub d_on_licence_revocation: bool,
    /// The evaluation cycle (评价周期): a full evaluation at least this often; incremental
    /// evaluations run daily in between (seed 004: 原则为 1 年，可缩短).
    #[serde(default = "twelve")]
    pub cycle_months: u32,
}

fn twelve() -> u32 {
    12
}

impl GradeRules {
    /// The rules of seed 004 as DOMAIN §4 states them.
    pub fn seed_004() -> GradeRules {
        GradeRules {
            version: "seed004-v1".into(),
            window_months: 12,
            general_b_max: 5,
            serious_record_makes_c: true,
            c_lists: vec![ListType::SeriousDishonest],
            d_on_revoked_status: true,
            d_on_licence_revocation: true,
            cycle_months: 12,
        }
    }

    /// The first day of the window of `t` is the day after this one.
    pub fn window_start_exclusive(&self, t: NaiveDate) -> NaiveDate {
        sub_months(t, self.window_months)
    }

    /// The window of `t`, its start computed once (for asking about many records).
    pub fn window(&self, t: NaiveDate) -> Window {
        Window {
            start_exclusive: self.window_start_exclusive(t),
            t,
        }
    }

    /// Whether a record decided on `d` is in the window of `t`.
    pub fn in_window(&self, d: NaiveDate, t: NaiveDate) -> bool {
        self.window(t).contains(d)
    }

    /// The first day after `d` on which a record decided on `d` is no longer in the window:
    /// the first day whose window starts on or after `d` — the same day `window_months` later,
    /// or the first of the next month when that month is too short for the day (29 February →
    /// 1 March). Computed, not searched (a run asks it for every counted record); a property
    /// test checks it against the search by [`GradeRules::in_window`].
    pub fn leaves_window_on(&self, d: NaiveDate) -> NaiveDate {
        let total = d.year() * 12 + d.month0() as i32 + self.window_months as i32;
        let first_of_month = |total: i32| {
            NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1)
                .expect("a month in the calendar")
        };
        let (y, m0) = (total.div_euclid(12), total.rem_euclid(12) as u32);
        NaiveDate::from_ymd_opt(y, m0 + 1, d.day()).unwrap_or_else(|| first_of_month(total + 1))
    }
}

/// `date` minus `months` calendar months; a day missing in the target month becomes the
/// month's last day (29 February − 12 months = 28 February).
pub fn sub_months(date: NaiveDate, months: u32) -> NaiveDate {
    let total = date.year() * 12 + date.month0() as i32 - months as i32;
    let (y, m0) = (total.div_euclid(12), total.rem_euclid(12) as u32);
    let mut day = date.day();
    loop {
        if let Some(d) = NaiveDate::from_ymd_opt(y, m0 + 1, day) {
            return d;
        }
        day -= 1;
    }
}

/// The evaluation window of a day `t` ([`GradeRules::window`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    start_exclusive: NaiveDate,
    t: NaiveDate,
}

impl Window {
    /// Whether a record decided on `d` is in the window: after its start, and by `t`.
    pub fn contains(&self, d: NaiveDate) -> bool {
        d <= self.t && d > self.start_exclusive
    }
}

/// A credit record as the evaluation sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeRecord {
    /// The catalog kind (`penalty`, …; shared for the built-in kinds, see
    /// [`crate::credit::kind_code`]).
    pub kind: std::borrow::Cow<'static, str>,
    pub document_number: String,
    pub decision_date: NaiveDate,
    /// `None` for records without severity (positive or neutral kinds).
    pub severity: Option<Severity>,
    pub revokes_business_licence: bool,
    /// The day the record was corrected away, revoked or repaired, if it was: from then on it
    /// does not count. A record under objection still counts.
    pub ended_on: Option<NaiveDate>,
}

impl GradeRecord {
    fn counts_on(&self, t: NaiveDate) -> bool {
        self.decision_date <= t && self.ended_on.is_none_or(|e| e > t)
    }
}

/// A list entry as the evaluation sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeListEntry {
    pub list_type: ListType,
    pub decision_number: String,
    pub entered_on: NaiveDate,
    /// Removal or end of term, whichever comes first.
    pub ends_on: Option<NaiveDate>,
}

impl GradeListEntry {
    fn on_list(&self, t: NaiveDate) -> bool {
        self.entered_on <= t && self.ends_on.is_none_or(|e| e > t)
    }
}

/// Everything the evaluation of one subject needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeInput {
    /// The day the registration status became 吊销 (business licence revoked), if it is.
    pub licence_revoked_on: Option<NaiveDate>,
    pub records: Vec<GradeRecord>,
    pub lists: Vec<GradeListEntry>,
}

/// Why a fact counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Registration status 吊销 (D).
    RevokedStatus,
    /// A penalty revoking the business licence (D).
    LicenceRevocation,
    /// On a list that makes C.
    SeriousList,
    /// A serious record in the window (C).
    SeriousRecord,
    /// A general record in the window (B, or C when more than the maximum).
    GeneralRecord,
}

impl Basis {
    pub fn label(self) -> &'static str {
        match self {
            Basis::RevokedStatus => "登记状态为吊销（营业执照被吊销）",
            Basis::LicenceRevocation => "被处以吊销营业执照的行政处罚",
            Basis::SeriousList => "被列入严重失信主体名单且未移出",
            Basis::SeriousRecord => "1 年内有严重失信行为记录",
            Basis::GeneralRecord => "1 年内的一般失信行为记录",
        }
    }
}

/// One fact that decided a grade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub basis: Basis,
    /// Record kind (`penalty`, …), the list type, or `reg_status`.
    pub kind: String,
    pub document_number: String,
    pub decision_date: NaiveDate,
    pub severity: Severity,
    /// When the fact stops counting by itself (leaves the window, the list term ends);
    /// `None`: it does not end by itself.
    pub counts_until: Option<NaiveDate>,
}

/// A grade and its explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub as_of: NaiveDate,
    pub grade: Grade,
    pub rule_version: String,
    /// Empty for A.
    pub reasons: Vec<Reason>,
    /// Without new facts: the days the grade changes and what it becomes, in order.
    pub outlook: Vec<(NaiveDate, Grade)>,
}

impl Evaluation {
    /// The day the grade returns to A without new facts, if it does.
    pub fn returns_to_a_on(&self) -> Option<NaiveDate> {
        self.outlook
            .iter()
            .find(|(_, g)| *g == Grade::A)
            .map(|(d, _)| *d)
    }

    /// The next day the grade changes without new facts.
    pub fn next_change_on(&self) -> Option<NaiveDate> {
        self.outlook.first().map(|(d, _)| *d)
    }
}

/// Which fact of a subject's input a reason is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactAt {
    /// The registration status (吊销).
    RegStatus,
    /// `input.records[i]`.
    Record(usize),
    /// `input.lists[i]`.
    List(usize),
}

/// A reason as the engine finds it: where its fact is in the input and what it says. The
/// kind and document number are read from the input ([`Self::to_reason`] copies them), so
/// that a run evaluating a million subjects does not copy texts it only writes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundReason {
    pub basis: Basis,
    pub fact: FactAt,
    pub decision_date: NaiveDate,
    pub severity: Severity,
    /// When the fact stops counting by itself; `None`: it does not end by itself.
    pub counts_until: Option<NaiveDate>,
}

impl FoundReason {
    /// The record kind, the list type, or `reg_status`.
    pub fn kind<'a>(&self, input: &'a GradeInput) -> &'a str {
        match self.fact {
            FactAt::RegStatus => "reg_status",
            FactAt::Record(i) => &input.records[i].kind,
            FactAt::List(i) => input.lists[i].list_type.as_str(),
        }
    }

    /// The decision's document number (empty for the registration status).
    pub fn document_number<'a>(&self, input: &'a GradeInput) -> &'a str {
        match self.fact {
            FactAt::RegStatus => "",
            FactAt::Record(i) => &input.records[i].document_number,
            FactAt::List(i) => &input.lists[i].decision_number,
        }
    }

    pub fn to_reason(&self, input: &GradeInput) -> Reason {
        Reason {
            basis: self.basis,
            kind: self.kind(input).to_owned(),
            document_number: self.document_number(input).to_owned(),
            decision_date: self.decision_date,
            severity: self.severity,
            counts_until: self.counts_until,
        }
    }
}

/// The grade on `t` and the facts that decided it (no outlook).
pub fn grade_on(input: &GradeInput, rules: &GradeRules, t: NaiveDate) -> (Grade, Vec<Reason>) {
    let (grade, found) = decide(input, rules, t, t, true);
    (grade, found.iter().map(|r| r.to_reason(input)).collect())
}

/// The grade on `t` from the facts known on `known_on` (decided, entered or recorded by
/// then), with the facts that decided it when `explain` is set. Seed 004's rules, in order:
/// D (the business licence revoked), C (a serious list, a serious record in the window, or
/// more general records than B allows), B (general records in the window), else A. Without
/// `explain` nothing is allocated: the outlook asks for the grade on many days.
fn decide(
    input: &GradeInput,
    rules: &GradeRules,
    t: NaiveDate,
    known_on: NaiveDate,
    explain: bool,
) -> (Grade, Vec<FoundReason>) {
    let known = |r: &(usize, &GradeRecord)| r.1.decision_date <= known_on && r.1.counts_on(t);
    let records = || input.records.iter().enumerate();
    // D: the business licence is revoked.
    let mut d = Vec::new();
    if rules.d_on_revoked_status {
        if let Some(on) = input
            .licence_revoked_on
            .filter(|on| *on <= t && *on <= known_on)
        {
            if !explain {
                return (Grade::D, d);
            }
            d.push(FoundReason {
                basis: Basis::RevokedStatus,
                fact: FactAt::RegStatus,
                decision_date: on,
                severity: Severity::Serious,
                counts_until: None,
            });
        }
    }
    if rules.d_on_licence_revocation {
        for (i, r) in records()
            .filter(known)
            .filter(|(_, r)| r.revokes_business_licence)
        {
            if !explain {
                return (Grade::D, d);
            }
            d.push(found(Basis::LicenceRevocation, i, r, None));
        }
    }
    if !d.is_empty() {
        sort(&mut d, input);
        return (Grade::D, d);
    }
    // C and B: serious lists, serious and general records in the window.
    let mut c = Vec::new();
    let mut serious = false;
    for (i, e) in input.lists.iter().enumerate().filter(|(_, e)| {
        rules.c_lists.contains(&e.list_type) && e.entered_on <= known_on && e.on_list(t)
    }) {
        serious = true;
        if explain {
            c.push(FoundReason {
                basis: Basis::SeriousList,
                fact: FactAt::List(i),
                decision_date: e.entered_on,
                severity: Severity::Serious,
                counts_until: e.ends_on,
            });
        }
    }
    let window = rules.window(t);
    let in_window = |r: &(usize, &GradeRecord)| known(r) && window.contains(r.1.decision_date);
    if rules.serious_record_makes_c {
        for (i, r) in records()
            .filter(in_window)
            .filter(|(_, r)| r.severity == Some(Severity::Serious))
        {
            serious = true;
            if explain {
                c.push(found(Basis::SeriousRecord, i, r, Some(rules)));
            }
        }
    }
    let general = || {
        records()
            .filter(in_window)
            .filter(|(_, r)| r.severity == Some(Severity::General))
    };
    let n_general = general().count();
    let too_many = n_general as u32 > rules.general_b_max;
    let grade = if serious || too_many {
        Grade::C
    } else if n_general > 0 {
        Grade::B
    } else {
        Grade::A
    };
    if !explain || grade == Grade::A {
        return (grade, Vec::new());
    }
    if grade == Grade::C && !too_many {
        sort(&mut c, input);
        return (grade, c);
    }
    c.extend(general().map(|(i, r)| found(Basis::GeneralRecord, i, r, Some(rules))));
    sort(&mut c, input);
    (grade, c)
}

fn found(basis: Basis, i: usize, r: &GradeRecord, window: Option<&GradeRules>) -> FoundReason {
    let until_window = window.map(|rules| rules.leaves_window_on(r.decision_date));
    let counts_until = match (until_window, r.ended_on) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    FoundReason {
        basis,
        fact: FactAt::Record(i),
        decision_date: r.decision_date,
        severity: r.severity.unwrap_or(Severity::Serious),
        counts_until,
    }
}

/// Most recent first, then by document number — a total order, so that the explanation does
/// not depend on the order the database returned the facts in.
fn sort(reasons: &mut [FoundReason], input: &GradeInput) {
    reasons.sort_by(|a, b| {
        b.decision_date
            .cmp(&a.decision_date)
            .then_with(|| a.document_number(input).cmp(b.document_number(input)))
            .then_with(|| a.kind(input).cmp(b.kind(input)))
            .then_with(|| a.basis.cmp(&b.basis))
            .then_with(|| a.severity.cmp(&b.severity))
            .then_with(|| a.counts_until.cmp(&b.counts_until))
    });
}

/// An evaluation whose reasons point into the input it was made from ([`assess`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub as_of: NaiveDate,
    pub grade: Grade,
    /// Empty for A.
    pub reasons: Vec<FoundReason>,
    /// Without new facts: the days the grade changes and what it becomes, in order.
    pub outlook: Vec<(NaiveDate, Grade)>,
}

impl Assessment {
    /// The next day the grade changes without new facts.
    pub fn next_change_on(&self) -> Option<NaiveDate> {
        self.outlook.first().map(|(d, _)| *d)
    }

    /// The evaluation, its reasons copied out of `input` (the input it was made from).
    pub fn to_evaluation(&self, input: &GradeInput, rules: &GradeRules) -> Evaluation {
        Evaluation {
            as_of: self.as_of,
            grade: self.grade,
            rule_version: rules.version.clone(),
            reasons: self.reasons.iter().map(|r| r.to_reason(input)).collect(),
            outlook: self.outlook.clone(),
        }
    }
}

/// Evaluate on `t`: the grade, its reasons, and how it would change without new facts.
pub fn evaluate(input: &GradeInput, rules: &GradeRules, t: NaiveDate) -> Evaluation {
    assess(input, rules, t).to_evaluation(input, rules)
}

/// [`evaluate`], the reasons pointing into `input` instead of copies.
pub fn assess(input: &GradeInput, rules: &GradeRules, t: NaiveDate) -> Assessment {
    let (grade, reasons) = decide(input, rules, t, t, true);
    let mut outlook = Vec::new();
    if grade == Grade::A {
        return Assessment {
            as_of: t,
            grade,
            reasons,
            outlook,
        };
    }
    // "Without new facts": what was decided or entered by T. The grade can then only change on
    // a day a fact stops counting: a record leaves the window or ends, a list entry ends.
    // At most two days a record and one a list entry: one allocation.
    let mut days: Vec<NaiveDate> = Vec::with_capacity(2 * input.records.len() + input.lists.len());
    for r in input
        .records
        .iter()
        .filter(|r| r.decision_date <= t && r.counts_on(t))
    {
        days.extend(r.ended_on);
        if rules.in_window(r.decision_date, t) {
            days.push(rules.leaves_window_on(r.decision_date));
        }
    }
    days.extend(
        input
            .lists
            .iter()
            .filter(|e| e.on_list(t))
            .filter_map(|e| e.ends_on),
    );
    days.retain(|d| *d > t);
    days.sort_unstable();
    days.dedup();
    let mut current = grade;
    for day in days {
        let (g, _) = decide(input, rules, day, t, false);
        if g != current {
            outlook.push((day, g));
            current = g;
        }
        if current == Grade::A {
            break;
        }
    }
    Assessment {
        as_of: t,
        grade,
        reasons,
        outlook,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn rec(date: &str, severity: Severity) -> GradeRecord {
        GradeRecord {
            kind: "penalty".into(),
            document_number: format!("X-{date}-{severity:?}"),
            decision_date: d(date),
            severity: Some(severity),
            revokes_business_licence: false,
            ended_on: None,
        }
    }

    fn general(dates: &[&str]) -> GradeInput {
        GradeInput {
            records: dates
                .iter()
                .enumerate()
                .map(|(i, x)| GradeRecord {
                    document_number: format!("G{i}"),
                    ..rec(x, Severity::General)
                })
                .collect(),
            ..Default::default()
        }
    }

    fn g(input: &GradeInput, t: &str) -> Grade {
        grade_on(input, &GradeRules::seed_004(), d(t)).0
    }

    #[test]
    fn five_general_records_are_b_and_six_are_c() {
        let five = general(&["2024-01-01"; 5]);
        assert_eq!(g(&five, "2024-06-01"), Grade::B);
        let six = general(&["2024-01-01"; 6]);
        assert_eq!(g(&six, "2024-06-01"), Grade::C);
        assert_eq!(
            grade_on(&six, &GradeRules::seed_004(), d("2024-06-01"))
                .1
                .len(),
            6
        );
        assert_eq!(g(&general(&[]), "2024-06-01"), Grade::A);
    }

    #[test]
    fn the_window_is_one_year_back_exclusive_and_t_inclusive() {
        let one = general(&["2024-03-05"]);
        assert_eq!(g(&one, "2024-03-04"), Grade::A, "decided after T");
        assert_eq!(g(&one, "2024-03-05"), Grade::B, "decided on T");
        assert_eq!(g(&one, "2025-03-04"), Grade::B, "last day in the window");
        assert_eq!(
            g(&one, "2025-03-05"),
            Grade::A,
            "same day one year later: out"
        );
        let r = GradeRules::seed_004();
        assert_eq!(r.leaves_window_on(d("2024-03-05")), d("2025-03-05"));
    }

    /// The day a record leaves the window, searched the way the definition reads: the first
    /// day from which `in_window` is false, from a little before the same day later on.
    fn leaves_window_by_search(rules: &GradeRules, d: NaiveDate) -> NaiveDate {
        let mut t = crate::credit::add_months(d, rules.window_months) - Duration::days(3);
        while rules.in_window(d, t) || t < d {
            t += Duration::days(1);
        }
        t
    }

    proptest! {
        #[test]
        fn leaving_the_window_is_computed_as_searched(
            days in 0i64..20_000,
            window_months in 0u32..40,
        ) {
            let rules = GradeRules { window_months, ..GradeRules::seed_004() };
            let d = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap() + Duration::days(days);
            let left = rules.leaves_window_on(d);
            prop_assert_eq!(left, leaves_window_by_search(&rules, d));
            // In the window the day before (for a window of any length), out from that day on.
            prop_assert!(!rules.in_window(d, left));
            if window_months > 0 {
                prop_assert!(rules.in_window(d, left - Duration::days(1)));
            }
        }
    }

    #[test]
    fn month_ends_leave_the_window_on_the_first_of_the_next_month() {
        let mut r = GradeRules::seed_004();
        r.window_months = 1;
        assert_eq!(r.leaves_window_on(d("2025-01-31")), d("2025-03-01"));
        assert_eq!(r.leaves_window_on(d("2024-01-31")), d("2024-03-01"));
        assert_eq!(r.leaves_window_on(d("2025-03-31")), d("2025-05-01"));
        assert_eq!(r.leaves_window_on(d("2025-12-31")), d("2026-01-31"));
    }

    #[test]
    fn twenty_ninth_of_february() {
        // T = 2024-02-29: one year earlier is 2023-02-28, so 2023-02-28 is out, 03-01 in.
        assert_eq!(g(&general(&["2023-02-28"]), "2024-02-29"), Grade::A);
        assert_eq!(g(&general(&["2023-03-01"]), "2024-02-29"), Grade::B);
        // A record of 2024-02-29 is in the window of 2025-02-28 (start 2024-02-28) and out on
        // 2025-03-01.
        let leap = general(&["2024-02-29"]);
        assert_eq!(g(&leap, "2025-02-28"), Grade::B);
        assert_eq!(g(&leap, "2025-03-01"), Grade::A);
        assert_eq!(
            GradeRules::seed_004().leaves_window_on(d("2024-02-29")),
            d("2025-03-01")
        );
    }

    #[test]
    fn minor_records_do_not_count() {
        let input = GradeInput {
            records: vec![rec("2024-01-01", Severity::Minor); 10],
            ..Default::default()
        };
        assert_eq!(g(&input, "2024-06-01"), Grade::A);
    }

    #[test]
    fn ended_records_stop_counting_from_their_end_and_objections_still_count() {
        let mut r = rec("2024-01-01", Severity::Serious);
        r.ended_on = Some(d("2024-03-01"));
        let input = GradeInput {
            records: vec![r],
            ..Default::default()
        };
        assert_eq!(g(&input, "2024-02-29"), Grade::C);
        assert_eq!(g(&input, "2024-03-01"), Grade::A);
    }

    #[test]
    fn lists_make_c_while_on_them() {
        let input = GradeInput {
            lists: vec![GradeListEntry {
                list_type: ListType::SeriousDishonest,
                decision_number: "L1".into(),
                entered_on: d("2024-01-10"),
                ends_on: Some(d("2024-06-01")),
            }],
            ..Default::default()
        };
        assert_eq!(g(&input, "2024-01-09"), Grade::A);
        assert_eq!(g(&input, "2024-01-10"), Grade::C);
        assert_eq!(g(&input, "2024-05-31"), Grade::C);
        assert_eq!(g(&input, "2024-06-01"), Grade::A, "exit on T: off the list");
        let mut abnormal = input.clone();
        abnormal.lists[0].list_type = ListType::Abnormal;
        assert_eq!(g(&abnormal, "2024-03-01"), Grade::A);
    }

    #[test]
    fn d_by_status_and_by_penalty_at_any_time_before_t() {
        let status = GradeInput {
            licence_revoked_on: Some(d("2020-05-01")),
            ..Default::default()
        };
        assert_eq!(g(&status, "2020-04-30"), Grade::A);
        assert_eq!(g(&status, "2024-01-01"), Grade::D);
        let mut p = rec("2019-01-01", Severity::Serious);
        p.revokes_business_licence = true;
        let penalty = GradeInput {
            records: vec![p],
            ..Default::default()
        };
        assert_eq!(g(&penalty, "2018-12-31"), Grade::A);
        assert_eq!(g(&penalty, "2024-01-01"), Grade::D, "no window for D");
    }

    #[test]
    fn the_outlook_says_when_it_returns_to_a() {
        let input = general(&[
            "2024-01-01",
            "2024-02-01",
            "2024-03-01",
            "2024-04-01",
            "2024-05-01",
            "2024-06-01",
        ]);
        let e = evaluate(&input, &GradeRules::seed_004(), d("2024-07-01"));
        assert_eq!(e.grade, Grade::C);
        // C by a serious record, B by general ones under it: the outlook goes through both.
        let mut mixed = general(&["2024-05-01"]);
        mixed.records.push(rec("2024-03-01", Severity::Serious));
        let m = evaluate(&mixed, &GradeRules::seed_004(), d("2024-07-01"));
        assert_eq!(m.grade, Grade::C);
        assert_eq!(
            m.outlook,
            vec![(d("2025-03-01"), Grade::B), (d("2025-05-01"), Grade::A)]
        );
        assert_eq!(
            e.outlook,
            vec![(d("2025-01-01"), Grade::B), (d("2025-06-01"), Grade::A)]
        );
        assert_eq!(e.returns_to_a_on(), Some(d("2025-06-01")));
        let a = evaluate(&general(&[]), &GradeRules::seed_004(), d("2024-07-01"));
        assert!(a.reasons.is_empty() && a.outlook.is_empty());
    }

    // ---- the property test against a deliberately naive implementation ----

    /// Seed 004 read literally, day by day, with no shared helpers: count what happened in
    /// "the year before T" by walking the calendar back one day at a time.
    fn naive(input: &GradeInput, t: NaiveDate) -> Grade {
        let counts =
            |r: &GradeRecord| r.decision_date <= t && !matches!(r.ended_on, Some(e) if e <= t);
        if matches!(input.licence_revoked_on, Some(x) if x <= t)
            || input
                .records
                .iter()
                .any(|r| r.revokes_business_licence && counts(r))
        {
            return Grade::D;
        }
        // One year earlier: same month and day of the previous year, 29 Feb → 28 Feb.
        let (y, m, dd) = (t.year() - 1, t.month(), t.day());
        let start = if m == 2 && dd == 29 {
            NaiveDate::from_ymd_opt(y, 2, 28).unwrap()
        } else {
            NaiveDate::from_ymd_opt(y, m, dd).unwrap()
        };
        let mut days = Vec::new();
        let mut x = t;
        while x > start {
            days.push(x);
            x = x.pred_opt().unwrap();
        }
        let in_year = |r: &GradeRecord| days.contains(&r.decision_date) && counts(r);
        let serious_list = input.lists.iter().any(|e| {
            e.list_type == ListType::SeriousDishonest
                && e.entered_on <= t
                && !matches!(e.ends_on, Some(x) if x <= t)
        });
        let serious = input
            .records
            .iter()
            .filter(|r| in_year(r) && r.severity == Some(Severity::Serious))
            .count();
        let general = input
            .records
            .iter()
            .filter(|r| in_year(r) && r.severity == Some(Severity::General))
            .count();
        if serious_list || serious > 0 || general >= 6 {
            Grade::C
        } else if general >= 1 {
            Grade::B
        } else {
            Grade::A
        }
    }

    fn date_in(lo: i32, hi: i32) -> impl Strategy<Value = NaiveDate> {
        let base = NaiveDate::from_ymd_opt(lo, 1, 1).unwrap();
        let span = (NaiveDate::from_ymd_opt(hi, 12, 31).unwrap() - base).num_days();
        (0..=span).prop_map(move |n| base + Duration::days(n))
    }

    fn record() -> impl Strategy<Value = GradeRecord> {
        (
            date_in(2022, 2025),
            prop_oneof![
                Just(None),
                Just(Some(Severity::Minor)),
                Just(Some(Severity::General)),
                Just(Some(Severity::General)),
                Just(Some(Severity::Serious))
            ],
            prop::bool::weighted(0.03),
            prop::option::weighted(0.2, date_in(2022, 2026)),
        )
            .prop_map(|(date, severity, revokes, ended_on)| GradeRecord {
                kind: "penalty".into(),
                document_number: format!("R{date}"),
                decision_date: date,
                severity,
                revokes_business_licence: revokes,
                ended_on,
            })
    }

    fn list() -> impl Strategy<Value = GradeListEntry> {
        (
            prop_oneof![
                Just(ListType::SeriousDishonest),
                Just(ListType::Abnormal),
                Just(ListType::Red),
                Just(ListType::KeyAttention)
            ],
            date_in(2022, 2025),
            prop::option::of(1i64..900),
        )
            .prop_map(|(list_type, entered_on, len)| GradeListEntry {
                list_type,
                decision_number: "L".into(),
                entered_on,
                ends_on: len.map(|n| entered_on + Duration::days(n)),
            })
    }

    fn input() -> impl Strategy<Value = GradeInput> {
        (
            prop::option::weighted(0.05, date_in(2022, 2025)),
            prop::collection::vec(record(), 0..12),
            prop::collection::vec(list(), 0..3),
        )
            .prop_map(|(licence_revoked_on, records, lists)| GradeInput {
                licence_revoked_on,
                records,
                lists,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn the_engine_agrees_with_the_naive_reading(input in input(), t in date_in(2022, 2026)) {
            let rules = GradeRules::seed_004();
            let e = evaluate(&input, &rules, t);
            prop_assert_eq!(e.grade, naive(&input, t));
            // The reasons are exactly the facts of the grade.
            prop_assert_eq!(e.reasons.is_empty(), e.grade == Grade::A);
            // Nothing depends on the order the facts were read in (databases scan in any order).
            let mut reversed = input.clone();
            reversed.records.reverse();
            reversed.lists.reverse();
            prop_assert_eq!(&evaluate(&reversed, &rules, t), &e);
            // The outlook ("without new facts": only what was decided or entered by T) is what
            // the naive reading says on those days, and the day before each change is unchanged.
            let mut known = input.clone();
            known.records.retain(|r| r.decision_date <= t);
            known.lists.retain(|e| e.entered_on <= t);
            known.licence_revoked_on = known.licence_revoked_on.filter(|x| *x <= t);
            let mut current = e.grade;
            let mut day = t;
            for (change, grade) in &e.outlook {
                prop_assert!(*change > day);
                prop_assert_eq!(naive(&known, *change - Duration::days(1)), current);
                prop_assert_eq!(naive(&known, *change), *grade);
                current = *grade;
                day = *change;
            }
        }
    }
}
