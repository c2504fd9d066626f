//! Demo credit information: penalties, licences and list entries for the demo jurisdiction,
//! recorded as departments would have over the past years (most published within the 7
//! working days, some late, a few held for review), plus a department's penalty file with
//! the usual faults for people to try the import with.
//!
//! Dates count back from a fixed day ([`ANCHOR`]), so running the demo again (on any later
//! day) changes nothing.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Duration, NaiveDate};
use xinjian_core::credit::{
    split_categories, ListEntryData, ListType, Nature, RecordData, Severity, SeverityMap,
};
use xinjian_core::credit_row::{CreditRow, PreparedRow};
use xinjian_core::subject::scope_offers_bookkeeping;
use xinjian_core::WorkdayCalendar;
use xinjian_store::credit as store;
use xinjian_store::subjects::Provenance;

use crate::credit::{commit_rows, Recorder, RowColumns, Written};
use crate::demo::{subject, DemoRng, DemoSubject};
use crate::{now, App, AppError, Result};

/// The last day of the demo's history (a Friday).
pub const ANCHOR: (i32, u32, u32) = (2026, 11, 20);
/// The department file left in the data directory for the import page.
pub const PENALTY_FILE: &str = "demo-penalties-import.csv";

pub fn anchor() -> NaiveDate {
    NaiveDate::from_ymd_opt(ANCHOR.0, ANCHOR.1, ANCHOR.2).expect("valid anchor")
}

const FINANCE: &str = "广元市利州区财政局";
const MARKET: &str = "广元市利州区市场监督管理局";
const TAX: &str = "国家税务总局广元市利州区税务局";
const SAFETY: &str = "广元市利州区应急管理局";

/// (authority, document prefix, categories, facts, basis)
const PENALTIES: &[(&str, &str, &str, &str, &str)] = &[
    (
        FINANCE,
        "利财罚",
        "警告",
        "代理记账机构未按规定办理年度备案",
        "《代理记账管理办法》第二十七条",
    ),
    (
        FINANCE,
        "利财罚",
        "罚款",
        "代理记账机构从业人员未按规定开展业务，编制的财务会计报告存在重大错报",
        "《中华人民共和国会计法》第四十一条",
    ),
    (
        FINANCE,
        "利财罚",
        "警告；罚款",
        "未经批准从事代理记账业务",
        "《代理记账管理办法》第二十八条",
    ),
    (
        MARKET,
        "利市监罚",
        "罚款",
        "销售不符合食品安全标准的食品",
        "《中华人民共和国食品安全法》第一百二十四条",
    ),
    (
        MARKET,
        "利市监罚",
        "警告",
        "未按规定公示即时信息",
        "《企业信息公示暂行条例》第十八条",
    ),
    (
        MARKET,
        "利市监罚",
        "没收违法所得、罚款",
        "发布虚假广告",
        "《中华人民共和国广告法》第五十五条",
    ),
    (
        TAX,
        "利税罚",
        "罚款",
        "未按照规定期限办理纳税申报和报送纳税资料",
        "《中华人民共和国税收征收管理法》第六十二条",
    ),
    (
        TAX,
        "利税罚",
        "罚款",
        "未按规定开具发票",
        "《中华人民共和国发票管理办法》第三十五条",
    ),
    (
        SAFETY,
        "利应急罚",
        "责令停产停业；罚款",
        "未按规定对从业人员进行安全生产教育和培训，存在重大事故隐患",
        "《中华人民共和国安全生产法》第一百零二条",
    ),
    (
        MARKET,
        "利市监罚",
        "吊销许可证件",
        "以欺骗手段取得食品经营许可",
        "《中华人民共和国食品安全法》第一百二十二条",
    ),
];

fn subjects_of(n: u64, seed: u64) -> Vec<DemoSubject> {
    let mut rng = DemoRng::new(seed);
    (0..n).map(|i| subject(&mut rng, i)).collect()
}

/// One planned row: the day it was recorded, whether it was held, the row.
type Planned = (NaiveDate, bool, CreditRow);

fn record(
    s: &DemoSubject,
    kind: &str,
    doc: String,
    decided: NaiveDate,
    categories: &str,
    severity: Option<Severity>,
    revokes: bool,
) -> RecordData {
    RecordData {
        kind: kind.into(),
        subject_code: s.code.clone(),
        subject_name: s.name.clone(),
        document_number: doc,
        decision_date: decided,
        nature: if kind == "penalty" {
            Nature::Negative
        } else {
            Nature::Neutral
        },
        severity,
        categories: split_categories(categories),
        revokes_business_licence: revokes,
        authority: None,
        content: None,
        facts: None,
        basis: None,
        fine_amount: None,
        certificate_name: None,
        license_number: None,
        valid_from: None,
        valid_to: None,
        source_department: None,
        person_id: None,
    }
}

/// When a record of `decided` was recorded: mostly within the deadline, some late, a few held.
fn recording(rng: &mut DemoRng, cal: &WorkdayCalendar, decided: NaiveDate) -> (NaiveDate, bool) {
    let add = |n: u64| cal.add_workdays(decided, n as u32).unwrap_or(decided);
    // Records held for review are released within weeks; only recent ones are still held.
    let recent = decided > anchor() - Duration::days(20);
    let (day, hold) = match rng.below(100) {
        0..=84 => (add(1 + rng.below(7)), false),
        85..=96 => (add(8 + rng.below(25)), false),
        _ if recent => (add(1 + rng.below(3)), true),
        _ => (add(8 + rng.below(10)), false),
    };
    (day.min(anchor()), hold)
}

/// The series and numbers of the department file's penalties ([`write_penalty_file`]), which
/// the planned history never uses: its good rows must import as new records.
const FILE_SERIES: (&str, i32) = ("利财罚", 2026);
const FILE_NUMBERS: std::ops::RangeInclusive<u32> = 101..=120;

/// Plan the credit history of the first `n` subjects of the jurisdiction of `seed`.
pub fn plan(n: u64, seed: u64, cal: &WorkdayCalendar) -> Vec<Planned> {
    let map = SeverityMap::new(SeverityMap::default_rules());
    let mut rng = DemoRng::new(seed ^ 0xC2ED17);
    let mut out = Vec::new();
    let mut seq: BTreeMap<(&str, i32), u32> = BTreeMap::new();
    let mut doc = |prefix: &'static str, year: i32| {
        let n = seq.entry((prefix, year)).or_insert(0);
        *n += 1;
        // The department file's numbers are not the history's, however large the jurisdiction.
        if (prefix, year) == FILE_SERIES && FILE_NUMBERS.contains(n) {
            *n = FILE_NUMBERS.end() + 1;
        }
        format!("{prefix}〔{year}〕{n}号")
    };
    let a = anchor();
    for s in subjects_of(n, seed) {
        let deregistered = s.reg_status.starts_with("注销");
        let revoked = s.reg_status.starts_with("吊销");
        let agency = scope_offers_bookkeeping(&s.business_scope);
        // Licences: every bookkeeping agency holds one; some shops a food licence.
        if agency || rng.chance(4) {
            let decided = a - Duration::days(30 + rng.below(1800) as i64);
            let (cert, cat, auth, prefix) = if agency {
                ("代理记账许可证书", "普通", FINANCE, "利财许")
            } else {
                ("食品经营许可证", "普通", MARKET, "利市监许")
            };
            let mut r = record(
                &s,
                "license",
                doc(prefix, chrono::Datelike::year(&decided)),
                decided,
                cat,
                None,
                false,
            );
            r.certificate_name = Some(cert.into());
            r.license_number = Some(format!(
                "{}{:06}",
                if agency { "DLJZ51080" } else { "JY15108" },
                rng.below(1_000_000)
            ));
            r.content = Some(if agency {
                "准予从事代理记账业务".into()
            } else {
                "预包装食品销售（含冷藏冷冻食品）".into()
            });
            r.valid_from = Some(decided);
            r.valid_to = (!agency).then(|| decided + Duration::days(5 * 365));
            r.authority = Some(auth.into());
            r.source_department = Some(auth.into());
            let (day, hold) = recording(&mut rng, cal, decided);
            out.push((day, hold, CreditRow::Record(r)));
        }
        // Penalties: a few percent of the living subjects, some more than once.
        let mut serious = false;
        if !deregistered && rng.chance(if agency { 12 } else { 4 }) {
            let times = 1 + rng.below(3) as usize * usize::from(rng.chance(35));
            for _ in 0..times {
                let decided = a - Duration::days(rng.below(1000) as i64);
                let (auth, prefix, cats, facts, basis) = *rng.pick(PENALTIES);
                let class = map
                    .classify(&split_categories(cats))
                    .expect("demo categories are mapped");
                serious |= class.severity == Severity::Serious;
                let mut r = record(
                    &s,
                    "penalty",
                    doc(prefix, chrono::Datelike::year(&decided)),
                    decided,
                    cats,
                    Some(class.severity),
                    false,
                );
                r.authority = Some(auth.into());
                r.source_department = Some(auth.into());
                r.facts = Some(facts.into());
                r.basis = Some(basis.into());
                if cats.contains("罚款") {
                    let wan = (1 + rng.below(50)) as f64 / 10.0;
                    r.fine_amount = Some(format!("{wan}"));
                    r.content = Some(format!(
                        "{}，罚款人民币{}元",
                        cats.replace('；', "，"),
                        (wan * 10_000.0) as u64
                    ));
                } else {
                    r.content = Some(cats.replace('；', "，"));
                }
                let (day, hold) = recording(&mut rng, cal, decided);
                out.push((day, hold, CreditRow::Record(r)));
            }
        }
        if revoked && rng.chance(70) {
            let decided = a - Duration::days(rng.below(1500) as i64);
            let mut r = record(
                &s,
                "penalty",
                doc("利市监罚", chrono::Datelike::year(&decided)),
                decided,
                "吊销营业执照",
                Some(Severity::Serious),
                true,
            );
            r.authority = Some(MARKET.into());
            r.facts =
                Some("成立后无正当理由超过六个月未开业，或者开业后自行停业连续六个月以上".into());
            r.basis = Some("《中华人民共和国市场主体登记管理条例》第四十六条".into());
            r.content = Some("吊销营业执照".into());
            let (day, hold) = recording(&mut rng, cal, decided);
            out.push((day, hold, CreditRow::Record(r)));
        }
        // Lists.
        let entry = |list: ListType,
                     entered: NaiveDate,
                     decision: String,
                     authority: &str,
                     reason: &str,
                     term: Option<NaiveDate>| ListEntryData {
            subject_code: s.code.clone(),
            subject_name: Some(s.name.clone()),
            list_type: list,
            entered_on: entered,
            decision_number: decision,
            authority: authority.into(),
            reason: reason.into(),
            basis: None,
            term_until: term,
            exited_on: None,
            exit_reason: None,
        };
        if !deregistered && rng.chance(3) {
            let entered = a - Duration::days(rng.below(900) as i64);
            let mut e = entry(
                ListType::Abnormal,
                entered,
                doc("利市监异", chrono::Datelike::year(&entered)),
                MARKET,
                "未按照《企业信息公示暂行条例》规定的期限公示年度报告",
                None,
            );
            e.basis = Some("《企业信息公示暂行条例》第八条".into());
            if rng.chance(40) {
                let out_on = (entered + Duration::days(30 + rng.below(300) as i64)).min(a);
                e.exited_on = Some(out_on);
                e.exit_reason = Some("已补报未报年份的年度报告并公示".into());
            }
            out.push((entered, false, CreditRow::List(e)));
        }
        if serious && rng.chance(60) {
            let entered = a - Duration::days(rng.below(300) as i64);
            let mut e = entry(
                ListType::SeriousDishonest,
                entered,
                doc("利信认", chrono::Datelike::year(&entered)),
                FINANCE,
                "受到责令停产停业等严重行政处罚，情节严重",
                Some(xinjian_core::credit::add_months(entered, 36)),
            );
            e.basis = Some("《失信行为纠正后的信用信息修复管理办法（试行）》".into());
            out.push((entered, false, CreditRow::List(e)));
        }
        if !deregistered && !revoked && rng.chance(1) {
            let entered = a - Duration::days(rng.below(600) as i64);
            let e = entry(
                ListType::Red,
                entered,
                doc("利信红", chrono::Datelike::year(&entered)),
                TAX,
                "纳税信用等级评定为A级，诚信经营典型",
                Some(xinjian_core::credit::add_months(entered, 12)),
            );
            out.push((entered, false, CreditRow::List(e)));
        }
        if agency && rng.chance(8) {
            let entered = a - Duration::days(rng.below(500) as i64);
            let e = entry(
                ListType::KeyAttention,
                entered,
                doc("利财关", chrono::Datelike::year(&entered)),
                FINANCE,
                "代理记账机构年度备案逾期未改正",
                Some(xinjian_core::credit::add_months(entered, 12)),
            );
            out.push((entered, false, CreditRow::List(e)));
        }
    }
    out
}

impl App {
    /// Record the demo's credit history: each day's records in one transaction, as recorded
    /// on that day. Running it again changes nothing (same rows, same content).
    pub fn load_demo_credit(&self, n: u64, seed: u64) -> Result<Written> {
        let cal = self.calendar();
        let planned = plan(n, seed, &cal);
        let mut by_day: BTreeMap<(NaiveDate, bool), Vec<(u64, PreparedRow)>> = BTreeMap::new();
        for (i, (day, hold, row)) in planned.into_iter().enumerate() {
            by_day
                .entry((day, hold))
                .or_default()
                .push((i as u64, PreparedRow::new(row)));
        }
        let mut conn = self.db.conn()?;
        let catalog = store::catalog(&mut conn)?
            .into_iter()
            .map(|k| (k.code.clone(), k))
            .collect();
        let mut rec = Recorder::new(catalog, cal, anchor());
        let mut total = Written::default();
        let now = now();
        let p = Provenance {
            source: "demo",
            actor: "demo",
            reason: None,
            now: &now,
        };
        for ((day, hold), rows) in by_day {
            rec.set_today(day);
            let (w, refused, _) = conn.transaction(|tx| {
                let cols = RowColumns { doc: "决定文书号".into(), code: "统一社会信用代码".into() };
                let out = commit_rows(tx, &rec, &rows, &p, hold, &cols)?;
                xinjian_store::audit::append(
                    tx,
                    &crate::Actor::System("demo".into()).audit(),
                    "demo.credit",
                    "credit",
                    &serde_json::json!({ "recorded_on": day, "rows": rows.len(), "imported": out.0.imported }),
                )?;
                Ok::<_, AppError>(out)
            })?;
            debug_assert!(refused.is_empty(), "demo rows are valid: {refused:?}");
            total.imported += w.imported;
            total.updated += w.updated;
            total.unchanged += w.unchanged;
        }
        Ok(total)
    }
}

/// A department's penalty file (GBK, the national headers) with good rows — decided weeks
/// ago, so they are published late when imported — and the usual faults: a bad check
/// character, an unknown category, an impossible date, a future date, an amount that is not a
/// number, a document number reused for another subject, a duplicate row, a code not in the
/// registry (which creates a pending subject).
pub fn write_penalty_file(path: &Path, n: u64, seed: u64) -> Result<()> {
    let living: Vec<DemoSubject> = subjects_of(n.min(400), seed)
        .into_iter()
        .filter(|s| s.reg_status.starts_with("存续"))
        .skip(10)
        .take(8)
        .collect();
    if living.len() < 6 {
        return Err(AppError::Unprocessable(
            "演示辖区太小，无法生成处罚导入样例".into(),
        ));
    }
    let deregistered = subjects_of(n.min(2000), seed)
        .into_iter()
        .find(|s| s.reg_status.starts_with("注销"))
        .ok_or_else(|| AppError::Unprocessable("演示辖区太小，无法生成处罚导入样例".into()))?;
    let a = anchor();
    let head = "行政相对人名称,行政相对人类别,行政相对人代码_1(统一社会信用代码),行政处罚决定书文号,违法行为类型,违法事实,处罚依据,处罚类别,处罚内容,罚款金额（万元）,处罚决定日期,处罚机关,数据来源单位,失信严重程度";
    let line = |s: &DemoSubject, doc: &str, cats: &str, amount: &str, date: &str, sev: &str| {
        format!(
            "{},法人及非法人组织,{},{},会计违法,未按规定保管会计档案，编制虚假财务会计报告,《中华人民共和国会计法》第四十二条,{},{}，罚款金额见后列,{},{},{FINANCE},{FINANCE},{}",
            s.name, s.code, doc, cats, cats.replace(['；', ';'], "、"), amount, date, sev
        )
    };
    let d = |days: i64| (a - Duration::days(days)).to_string();
    let mut bad_code = living[5].code.clone();
    let last = bad_code.pop().expect("code");
    bad_code.push(if last == '0' { '1' } else { '0' });
    let unknown = {
        let mut r = DemoRng::new(seed ^ 0xFEED);
        let mut s = subject(&mut r, 90_001);
        s.name = "广元市利州区青禾财务咨询有限公司".into();
        s
    };
    let file_doc = |k: u32| {
        let (prefix, year) = FILE_SERIES;
        format!("{prefix}〔{year}〕{}号", FILE_NUMBERS.start() + k)
    };
    let rows = [
        line(&living[0], &file_doc(0), "罚款", "0.5", &d(40), ""),
        line(
            &living[1],
            &file_doc(1),
            "警告；罚款",
            "0.3",
            &d(25).replace('-', "/"),
            "",
        ),
        line(
            &living[2],
            &file_doc(2),
            "警告",
            "",
            &format!("{}年{}月{}日", 2026, 11, 16),
            "",
        ),
        line(&living[3], &file_doc(3), "罚款", "1.2", &d(60), "严重"),
        line(&unknown, &file_doc(4), "罚款", "0.2", &d(20), ""),
        // Faults.
        format!(
            "{},法人及非法人组织,{bad_code},{},,,,罚款,,0.1,{},{FINANCE},{FINANCE},",
            living[5].name,
            file_doc(5),
            d(15)
        ),
        line(&living[4], &file_doc(6), "训诫", "", &d(15), ""),
        line(&living[4], &file_doc(7), "罚款", "0.1", "2026-02-30", ""),
        line(&living[4], &file_doc(8), "罚款", "0.1", "2099-01-01", ""),
        line(&living[4], &file_doc(9), "罚款", "五千元", &d(15), ""),
        line(&living[5], &file_doc(0), "罚款", "0.1", &d(15), ""),
        line(&living[0], &file_doc(0), "罚款", "0.5", &d(40), ""),
        line(&deregistered, &file_doc(10), "罚款", "0.1", &d(15), ""),
    ];
    let text = format!("{head}\r\n{}\r\n", rows.join("\r\n"));
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    std::fs::write(path, &gbk)
        .map_err(|e| AppError::Internal(format!("写入 {} 失败：{e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The department file's good rows must import as new records however large the
    /// jurisdiction: the planned history never uses the file's document numbers, even where
    /// its series runs past them.
    #[test]
    fn the_history_never_uses_the_department_files_document_numbers() {
        let n = 20_000;
        let planned = plan(n, 1, &WorkdayCalendar::builtin());
        let history: std::collections::HashSet<&str> = planned
            .iter()
            .filter_map(|(_, _, r)| match r {
                CreditRow::Record(d) => Some(d.document_number.as_str()),
                CreditRow::List(_) => None,
            })
            .collect();
        let (prefix, year) = FILE_SERIES;
        let past = format!("{prefix}〔{year}〕{}号", FILE_NUMBERS.end() + 1);
        assert!(
            history.contains(past.as_str()),
            "the series runs past the file's numbers"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PENALTY_FILE);
        write_penalty_file(&path, n, 1).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let (text, _, _) = encoding_rs::GBK.decode(&bytes);
        let docs: Vec<&str> = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').nth(3))
            .collect();
        assert_eq!(docs.len(), 13);
        for d in docs {
            assert!(!history.contains(d), "{d} is in the history too");
        }
    }
}
