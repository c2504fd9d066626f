//! Reading one row of a department's 双公示 file (penalties, licences) or a list file into
//! [`RecordData`] / [`ListEntryData`]. The header synonyms and the row rules live here, once.

use chrono::NaiveDate;

use crate::credit::{
    split_categories, ListEntryData, ListType, Nature, RecordData, Severity, SeverityMap,
};
use crate::dates::parse_date;
use crate::person_id::PersonId;
use crate::registry_row::{normalize_header, CellError};
use crate::subject::MAX_NAME_CHARS;
use crate::text::normalize_text;
use crate::uscc::{classify, UsccCheck};

/// The kind of file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    Penalties,
    Licenses,
    Lists,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Penalties => "penalties",
            FileKind::Licenses => "licenses",
            FileKind::Lists => "lists",
        }
    }
    pub fn parse(s: &str) -> Option<FileKind> {
        [FileKind::Penalties, FileKind::Licenses, FileKind::Lists]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            FileKind::Penalties => "行政处罚",
            FileKind::Licenses => "行政许可",
            FileKind::Lists => "名单",
        }
    }
    /// The catalog kind of the records of this file.
    pub fn catalog_code(self) -> Option<&'static str> {
        match self {
            FileKind::Penalties => Some("penalty"),
            FileKind::Licenses => Some("license"),
            FileKind::Lists => None,
        }
    }
    pub fn columns(self) -> &'static [Col] {
        use Col::*;
        match self {
            FileKind::Penalties => &[
                Code,
                IdNumber,
                Name,
                DocNumber,
                Categories,
                DecisionDate,
                Authority,
                Facts,
                Basis,
                Content,
                FineAmount,
                SeverityCol,
                SourceDept,
            ],
            FileKind::Licenses => &[
                Code,
                IdNumber,
                Name,
                LicDocNumber,
                LicCategory,
                CertName,
                LicNumber,
                LicContent,
                LicDecisionDate,
                ValidFrom,
                ValidTo,
                LicAuthority,
                SourceDept,
            ],
            FileKind::Lists => &[
                Code,
                Name,
                ListTypeCol,
                EnteredOn,
                ListDecision,
                ListAuthority,
                ListReason,
                ListBasis,
                TermUntil,
                ExitedOn,
                ExitReason,
            ],
        }
    }
    fn required(self) -> &'static [Col] {
        use Col::*;
        match self {
            FileKind::Penalties => &[Code, Name, DocNumber, Categories, DecisionDate],
            FileKind::Licenses => &[Code, Name, LicDocNumber, LicDecisionDate],
            FileKind::Lists => &[
                Code,
                ListTypeCol,
                EnteredOn,
                ListDecision,
                ListAuthority,
                ListReason,
            ],
        }
    }
}

/// A column a file can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Col {
    Code,
    Name,
    DocNumber,
    Categories,
    DecisionDate,
    Authority,
    Facts,
    Basis,
    Content,
    FineAmount,
    SeverityCol,
    SourceDept,
    LicDocNumber,
    LicCategory,
    CertName,
    LicNumber,
    LicContent,
    LicDecisionDate,
    ValidFrom,
    ValidTo,
    LicAuthority,
    ListTypeCol,
    EnteredOn,
    ListDecision,
    ListAuthority,
    ListReason,
    ListBasis,
    TermUntil,
    ExitedOn,
    ExitReason,
    /// 证件号码: a natural person's resident ID number (when the code is empty).
    IdNumber,
}

impl Col {
    /// The standard header.
    pub fn header(self) -> &'static str {
        self.synonyms()[0]
    }
    /// Recognised headers, normalised (no spaces, ASCII parentheses).
    pub fn synonyms(self) -> &'static [&'static str] {
        use Col::*;
        match self {
            Code => &[
                "统一社会信用代码",
                "行政相对人代码_1(统一社会信用代码)",
                "行政相对人代码_1",
                "行政相对人代码(统一社会信用代码)",
                "行政相对人代码",
                "社会信用代码",
            ],
            Name => &["行政相对人名称", "主体名称", "名称", "企业名称", "单位名称"],
            DocNumber => &["行政处罚决定书文号", "处罚决定书文号", "决定书文号"],
            Categories => &["处罚类别", "处罚类别1", "处罚种类"],
            DecisionDate => &["处罚决定日期", "决定日期", "处罚日期"],
            Authority => &["处罚机关", "作出处罚决定的机关"],
            Facts => &["违法事实", "主要违法事实"],
            Basis => &["处罚依据"],
            Content => &["处罚内容", "处罚结果"],
            FineAmount => &["罚款金额(万元)", "罚款金额"],
            SeverityCol => &["失信严重程度", "严重程度"],
            SourceDept => &["数据来源单位", "数据来源"],
            LicDocNumber => &["行政许可决定文书号", "许可决定文书号", "许可文书号"],
            LicCategory => &["许可类别"],
            CertName => &["许可证书名称"],
            LicNumber => &["许可编号", "许可证编号"],
            LicContent => &["许可内容"],
            LicDecisionDate => &["许可决定日期", "决定日期"],
            ValidFrom => &["有效期自"],
            ValidTo => &["有效期至"],
            LicAuthority => &["许可机关"],
            ListTypeCol => &["名单类型"],
            EnteredOn => &["列入日期"],
            ListDecision => &["列入决定文号", "认定文书号"],
            ListAuthority => &["列入机关", "认定机关"],
            ListReason => &["列入事由", "列入原因"],
            ListBasis => &["列入依据", "认定依据"],
            TermUntil => &["有效期至", "期限至", "列入期限至"],
            ExitedOn => &["移出日期"],
            ExitReason => &["移出原因"],
            IdNumber => &[
                "证件号码",
                "行政相对人证件号码",
                "身份证号码",
                "居民身份证号码",
            ],
        }
    }
}

/// Which column feeds which field of a file of a given kind.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    pub kind: FileKind,
    columns: Vec<(Col, usize)>,
    headers: Vec<String>,
}

impl ColumnMap {
    /// Recognise the header row; fails naming the missing required columns.
    pub fn detect(kind: FileKind, headers: &[String]) -> Result<ColumnMap, String> {
        let norm: Vec<String> = headers.iter().map(|h| normalize_header(h)).collect();
        let mut columns = Vec::new();
        for &col in kind.columns() {
            if let Some(idx) = col.synonyms().iter().find_map(|s| {
                norm.iter()
                    .enumerate()
                    .position(|(i, h)| h == s && !columns.iter().any(|(_, j)| *j == i))
            }) {
                columns.push((col, idx));
            }
        }
        let missing: Vec<&str> = kind
            .required()
            .iter()
            .filter(|c| !columns.iter().any(|(d, _)| d == *c))
            .map(|c| c.header())
            .collect();
        if !missing.is_empty() {
            let found: Vec<&str> = headers
                .iter()
                .map(|h| h.trim())
                .filter(|h| !h.is_empty())
                .take(20)
                .collect();
            return Err(format!(
                "这不是可识别的{}文件：表头缺少必需的列：{}。识别到的列：{}",
                kind.label(),
                missing.join("、"),
                if found.is_empty() {
                    "（无）".to_owned()
                } else {
                    found.join("、")
                }
            ));
        }
        Ok(ColumnMap {
            kind,
            columns,
            headers: headers.to_vec(),
        })
    }

    fn column_of(&self, col: Col) -> Option<usize> {
        self.columns
            .iter()
            .find(|(c, _)| *c == col)
            .map(|(_, i)| *i)
    }

    pub fn header_text(&self, col: Col) -> String {
        self.column_of(col)
            .and_then(|i| self.headers.get(i))
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|| col.header().to_owned())
    }

    /// The recognised standard headers, in column order.
    pub fn recognised(&self) -> Vec<&'static str> {
        let mut c = self.columns.clone();
        c.sort_by_key(|(_, i)| *i);
        c.into_iter().map(|(f, _)| f.header()).collect()
    }
}

/// What a row parser needs besides the row.
#[derive(Debug, Clone, Copy)]
pub struct CreditRowOptions<'a> {
    pub severity_map: &'a SeverityMap,
    /// Decision dates after this are refused.
    pub today: NaiveDate,
}

/// A parsed row of any credit file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditRow {
    Record(RecordData),
    List(ListEntryData),
}

impl CreditRow {
    pub fn subject_code(&self) -> &str {
        match self {
            CreditRow::Record(r) => &r.subject_code,
            CreditRow::List(l) => &l.subject_code,
        }
    }
    /// The identity of the row: a record is keyed by its document number and code, a list
    /// entry by code, list and decision number.
    pub fn key(&self) -> String {
        match self {
            CreditRow::Record(r) => match &r.person_id {
                // A person's key is not known before the record is stored: the ID number is.
                Some(id) if r.subject_code.is_empty() => {
                    format!("{}\u{1f}person:{id}", r.document_number)
                }
                _ => format!("{}\u{1f}{}", r.document_number, r.subject_code),
            },
            CreditRow::List(l) => format!(
                "{}\u{1f}{}\u{1f}{}",
                l.subject_code,
                l.list_type.as_str(),
                l.decision_number
            ),
        }
    }
}

/// A parsed row with its canonical JSON and content hash, computed once — on an import's
/// parser thread, so the writer does not.
#[derive(Debug, Clone)]
pub struct PreparedRow {
    pub row: CreditRow,
    pub json: String,
    pub hash: String,
}

impl PreparedRow {
    pub fn new(row: CreditRow) -> PreparedRow {
        let (json, hash) = match &row {
            CreditRow::Record(d) => d.canonical_json_and_hash(),
            CreditRow::List(l) => l.canonical_json_and_hash(),
        };
        PreparedRow { row, json, hash }
    }
}

struct Cells<'a> {
    map: &'a ColumnMap,
    cells: &'a [&'a str],
    errors: Vec<CellError>,
}

impl<'a> Cells<'a> {
    fn raw(&self, c: Col) -> &'a str {
        self.map
            .column_of(c)
            .and_then(|i| self.cells.get(i))
            .map(|s| s.trim())
            .unwrap_or("")
    }
    fn err(&mut self, c: Col, value: &str, reason: impl Into<String>) {
        self.errors.push(CellError {
            column: self.map.header_text(c),
            value: value.chars().take(200).collect(),
            reason: reason.into(),
        });
    }
    fn text(&mut self, c: Col, max: usize) -> Option<String> {
        let v = self.raw(c);
        if v.is_empty() {
            return None;
        }
        if v.chars().count() > max {
            let n = v.chars().count();
            self.err(c, v, format!("内容过长（{n} 字，最多 {max} 字）"));
            return None;
        }
        if v.chars()
            .any(|ch| ch.is_control() && ch != '\n' && ch != '\t' && ch != '\r')
        {
            self.err(c, v, "含有不可见的控制字符");
            return None;
        }
        Some(v.to_owned())
    }
    fn required_text(&mut self, c: Col, max: usize) -> Option<String> {
        let v = self.text(c, max);
        if v.is_none() && self.raw(c).is_empty() {
            self.err(c, "", format!("{}为空", c.header()));
        }
        v
    }
    fn date(&mut self, c: Col, today: NaiveDate, not_future: bool) -> Option<NaiveDate> {
        let v = self.raw(c);
        if v.is_empty() {
            return None;
        }
        match parse_date(v) {
            Ok(d) if not_future && d > today => {
                self.err(
                    c,
                    v,
                    format!("日期 {d} 晚于今天（{today}），不能是将来的日期"),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.err(c, v, e);
                None
            }
        }
    }
    fn required_date(&mut self, c: Col, today: NaiveDate) -> Option<NaiveDate> {
        if self.raw(c).is_empty() {
            self.err(c, "", format!("{}为空", c.header()));
            return None;
        }
        self.date(c, today, true)
    }
    /// The party of a record: its code, or — the code left empty and an ID number given (a
    /// natural person) — an empty code and the ID number.
    fn party(&mut self) -> Option<(String, Option<String>)> {
        let id = self.raw(Col::IdNumber);
        // Departments write a placeholder in the code column of a person's row as often as
        // they leave it empty.
        let no_code = matches!(
            self.raw(Col::Code),
            "" | "/" | "／" | "-" | "—" | "无" | "不适用"
        );
        if no_code && !id.is_empty() {
            return match PersonId::parse(id) {
                Ok(p) => Some((String::new(), Some(p.as_str().to_owned()))),
                Err(e) => {
                    // Never echoed in full: a number that fails its check is usually a real
                    // number with a typo (the error report is downloaded and shown).
                    let masked = crate::person_id::mask_str(id);
                    self.err(Col::IdNumber, &masked, format!("证件号码：{e}"));
                    None
                }
            };
        }
        if self.raw(Col::Code).is_empty() {
            self.err(
                Col::Code,
                "",
                "统一社会信用代码为空；当事人为自然人时，请填写证件号码（居民身份证号码）",
            );
            return None;
        }
        self.code().map(|c| (c, None))
    }
    fn code(&mut self) -> Option<String> {
        let raw = self.raw(Col::Code);
        match classify(raw) {
            UsccCheck::Valid(u) => Some(u.as_str().to_owned()),
            UsccCheck::CheckFailed { error, .. } => {
                self.err(Col::Code, raw, error.to_string());
                None
            }
            UsccCheck::Invalid(error) => {
                self.err(Col::Code, raw, error.to_string());
                None
            }
        }
    }
}

/// Parse a fine amount in 万元: a non-negative decimal, at most 6 decimals.
pub fn parse_amount(s: &str) -> Result<String, String> {
    let t = normalize_text(s).replace([',', '，'], "");
    let t = t.trim().trim_end_matches("万元").trim();
    let ok = !t.is_empty()
        && t.chars().filter(|c| *c == '.').count() <= 1
        && t.chars().all(|c| c.is_ascii_digit() || c == '.')
        && !t.starts_with('.')
        && !t.ends_with('.')
        && t.split('.').nth(1).is_none_or(|f| f.len() <= 6);
    if !ok {
        return Err(format!(
            "罚款金额“{}”不是数字（以万元为单位，如 0.5）",
            s.trim()
        ));
    }
    // One spelling per amount (0.50 = .5 = 0.5), so that re-imports compare equal.
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    Ok(if frac.is_empty() {
        int.to_owned()
    } else {
        format!("{int}.{frac}")
    })
}

const TEXT_MAX: usize = 4000;

/// Parse one data row of a file. All problems of the row are reported together.
pub fn parse_credit_row(
    map: &ColumnMap,
    cells: &[&str],
    opts: CreditRowOptions<'_>,
) -> Result<CreditRow, Vec<CellError>> {
    let mut c = Cells {
        map,
        cells,
        errors: Vec::new(),
    };
    let out = match map.kind {
        FileKind::Penalties => {
            let party = c.party();
            penalty(&mut c, party, opts).map(CreditRow::Record)
        }
        FileKind::Licenses => {
            let party = c.party();
            license(&mut c, party, opts).map(CreditRow::Record)
        }
        FileKind::Lists => {
            let code = c.code();
            list(&mut c, code, opts).map(CreditRow::List)
        }
    };
    match out {
        Some(row) if c.errors.is_empty() => Ok(row),
        _ => Err(c.errors),
    }
}

fn penalty(
    c: &mut Cells,
    party: Option<(String, Option<String>)>,
    o: CreditRowOptions,
) -> Option<RecordData> {
    let name = c.required_text(Col::Name, MAX_NAME_CHARS);
    let doc = c.required_text(Col::DocNumber, 200);
    let cats_raw = c.raw(Col::Categories);
    let categories = split_categories(cats_raw);
    if categories.is_empty() {
        c.err(Col::Categories, cats_raw, "处罚类别为空");
    }
    let explicit = match c.raw(Col::SeverityCol) {
        "" => None,
        v => match Severity::parse_zh(v) {
            Ok(s) => Some(s),
            Err(e) => {
                c.err(Col::SeverityCol, v, e);
                None
            }
        },
    };
    let class = if categories.is_empty() {
        None
    } else {
        match o.severity_map.classify(&categories) {
            Ok(k) => Some((k.severity, k.revokes_business_licence)),
            Err(_) if explicit.is_some() => Some((Severity::General, false)),
            Err(e) => {
                c.err(Col::Categories, cats_raw, e);
                None
            }
        }
    };
    let decision_date = c.required_date(Col::DecisionDate, o.today);
    let fine_amount = match c.raw(Col::FineAmount) {
        "" => None,
        v => match parse_amount(v) {
            Ok(a) => Some(a),
            Err(e) => {
                c.err(Col::FineAmount, v, e);
                None
            }
        },
    };
    let authority = c.text(Col::Authority, 200);
    let facts = c.text(Col::Facts, TEXT_MAX);
    let basis = c.text(Col::Basis, TEXT_MAX);
    let content = c.text(Col::Content, TEXT_MAX);
    let source_department = c.text(Col::SourceDept, 200);
    let (severity, revokes) = class?;
    let (subject_code, person_id) = party?;
    Some(RecordData {
        kind: "penalty".into(),
        subject_code,
        subject_name: name?,
        document_number: normalize_text(&doc?),
        decision_date: decision_date?,
        nature: Nature::Negative,
        severity: Some(explicit.unwrap_or(severity)),
        categories,
        revokes_business_licence: revokes,
        authority,
        content,
        facts,
        basis,
        fine_amount,
        certificate_name: None,
        license_number: None,
        valid_from: None,
        valid_to: None,
        source_department,
        person_id,
    })
}

fn license(
    c: &mut Cells,
    party: Option<(String, Option<String>)>,
    o: CreditRowOptions,
) -> Option<RecordData> {
    let name = c.required_text(Col::Name, MAX_NAME_CHARS);
    let doc = c.required_text(Col::LicDocNumber, 200);
    let categories = split_categories(c.raw(Col::LicCategory));
    let decision_date = c.required_date(Col::LicDecisionDate, o.today);
    let certificate_name = c.text(Col::CertName, 200);
    let license_number = c.text(Col::LicNumber, 200);
    let content = c.text(Col::LicContent, TEXT_MAX);
    let valid_from = c.date(Col::ValidFrom, o.today, false);
    let valid_to = c.date(Col::ValidTo, o.today, false);
    if let (Some(f), Some(t)) = (valid_from, valid_to) {
        if t < f {
            let v = c.raw(Col::ValidTo).to_owned();
            c.err(Col::ValidTo, &v, format!("有效期至 {t} 早于有效期自 {f}"));
        }
    }
    let authority = c.text(Col::LicAuthority, 200);
    let source_department = c.text(Col::SourceDept, 200);
    let (subject_code, person_id) = party?;
    Some(RecordData {
        kind: "license".into(),
        subject_code,
        subject_name: name?,
        document_number: normalize_text(&doc?),
        decision_date: decision_date?,
        nature: Nature::Neutral,
        severity: None,
        categories,
        revokes_business_licence: false,
        authority,
        content,
        facts: None,
        basis: None,
        fine_amount: None,
        certificate_name,
        license_number,
        valid_from,
        valid_to,
        source_department,
        person_id,
    })
}

fn list(c: &mut Cells, code: Option<String>, o: CreditRowOptions) -> Option<ListEntryData> {
    let subject_name = c.text(Col::Name, MAX_NAME_CHARS);
    let list_type = match ListType::parse_zh(c.raw(Col::ListTypeCol)) {
        Ok(t) => Some(t),
        Err(e) => {
            let v = c.raw(Col::ListTypeCol);
            c.err(Col::ListTypeCol, v, e);
            None
        }
    };
    let entered_on = c.required_date(Col::EnteredOn, o.today);
    let decision_number = c.required_text(Col::ListDecision, 200);
    let authority = c.required_text(Col::ListAuthority, 200);
    let reason = c.required_text(Col::ListReason, TEXT_MAX);
    let basis = c.text(Col::ListBasis, TEXT_MAX);
    let term_until = c.date(Col::TermUntil, o.today, false);
    let exited_on = c.date(Col::ExitedOn, o.today, true);
    let exit_reason = c.text(Col::ExitReason, TEXT_MAX);
    if let (Some(e), Some(x)) = (entered_on, exited_on) {
        if x < e {
            let v = c.raw(Col::ExitedOn).to_owned();
            c.err(Col::ExitedOn, &v, format!("移出日期 {x} 早于列入日期 {e}"));
        }
    }
    if let (Some(e), Some(t)) = (entered_on, term_until) {
        if t <= e {
            let v = c.raw(Col::TermUntil).to_owned();
            c.err(Col::TermUntil, &v, format!("期限 {t} 不晚于列入日期 {e}"));
        }
    }
    if exited_on.is_some() && exit_reason.is_none() {
        c.err(Col::ExitReason, "", "填写了移出日期，但移出原因为空");
    }
    Some(ListEntryData {
        subject_code: code?,
        subject_name,
        list_type: list_type?,
        entered_on: entered_on?,
        decision_number: normalize_text(&decision_number?),
        authority: authority?,
        reason: reason?,
        basis,
        term_until,
        exited_on,
        exit_reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }
    fn opts(m: &SeverityMap) -> CreditRowOptions<'_> {
        CreditRowOptions {
            severity_map: m,
            today: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
        }
    }
    const PEN: &[&str] = &[
        "行政相对人名称",
        "行政相对人代码_1(统一社会信用代码)",
        "行政处罚决定书文号",
        "处罚类别",
        "处罚决定日期",
        "处罚机关",
        "罚款金额（万元）",
        "失信严重程度",
    ];

    #[test]
    fn a_penalty_row_with_national_headers() {
        let m = SeverityMap::new(SeverityMap::default_rules());
        let map = ColumnMap::detect(FileKind::Penalties, &h(PEN)).unwrap();
        let row = parse_credit_row(
            &map,
            &[
                "华为技术有限公司",
                "914403001922038216",
                "利财罚〔2024〕3号",
                "警告；罚款",
                "2024年3月5日",
                "利州区财政局",
                "0.5",
                "",
            ],
            opts(&m),
        )
        .unwrap();
        let CreditRow::Record(r) = row else { panic!() };
        assert_eq!(r.severity, Some(Severity::General));
        assert_eq!(r.categories, vec!["警告", "罚款"]);
        assert_eq!(
            r.decision_date,
            NaiveDate::from_ymd_opt(2024, 3, 5).unwrap()
        );
        assert_eq!(r.fine_amount.as_deref(), Some("0.5"));
    }

    #[test]
    fn explicit_severity_overrides_the_mapping() {
        let m = SeverityMap::new(SeverityMap::default_rules());
        let map = ColumnMap::detect(FileKind::Penalties, &h(PEN)).unwrap();
        let row = parse_credit_row(
            &map,
            &[
                "某公司",
                "914403001922038216",
                "X1",
                "罚款",
                "45000",
                "",
                "",
                "严重",
            ],
            opts(&m),
        )
        .unwrap();
        let CreditRow::Record(r) = row else { panic!() };
        assert_eq!(r.severity, Some(Severity::Serious));
    }

    #[test]
    fn bad_cells_are_all_reported() {
        let m = SeverityMap::new(SeverityMap::default_rules());
        let map = ColumnMap::detect(FileKind::Penalties, &h(PEN)).unwrap();
        let e = parse_credit_row(
            &map,
            &[
                "某公司",
                "914403001922038217",
                "X1",
                "训诫",
                "2030-01-01",
                "",
                "五千元",
                "",
            ],
            opts(&m),
        )
        .unwrap_err();
        let cols: Vec<&str> = e.iter().map(|c| c.column.as_str()).collect();
        assert_eq!(
            cols,
            vec![
                "行政相对人代码_1(统一社会信用代码)",
                "处罚类别",
                "处罚决定日期",
                "罚款金额（万元）"
            ]
        );
        // Ambiguous dates are refused.
        let e = parse_credit_row(
            &map,
            &[
                "某公司",
                "914403001922038216",
                "X1",
                "罚款",
                "05/03/2024",
                "",
                "",
                "",
            ],
            opts(&m),
        )
        .unwrap_err();
        assert_eq!(e[0].column, "处罚决定日期");
    }

    #[test]
    fn missing_columns_are_named() {
        let e =
            ColumnMap::detect(FileKind::Licenses, &h(&["统一社会信用代码", "名称"])).unwrap_err();
        assert!(e.contains("行政许可决定文书号"), "{e}");
        assert!(e.contains("许可决定日期"), "{e}");
    }

    #[test]
    fn list_rows() {
        let m = SeverityMap::default();
        let map = ColumnMap::detect(
            FileKind::Lists,
            &h(&[
                "统一社会信用代码",
                "名单类型",
                "列入日期",
                "列入决定文号",
                "列入机关",
                "列入事由",
                "移出日期",
                "移出原因",
            ]),
        )
        .unwrap();
        let row = parse_credit_row(
            &map,
            &[
                "914403001922038216",
                "经营异常名录",
                "2024/3/5",
                "利市监异〔2024〕1号",
                "利州区市场监督管理局",
                "未按规定报送年度报告",
                "",
                "",
            ],
            opts(&m),
        )
        .unwrap();
        let CreditRow::List(l) = row else { panic!() };
        assert_eq!(l.list_type, ListType::Abnormal);
        let e = parse_credit_row(
            &map,
            &[
                "914403001922038216",
                "黑名单",
                "2024/3/5",
                "X",
                "A",
                "R",
                "2024/3/1",
                "",
            ],
            opts(&m),
        )
        .unwrap_err();
        let cols: Vec<&str> = e.iter().map(|c| c.column.as_str()).collect();
        assert_eq!(cols, vec!["名单类型", "移出日期", "移出原因"]);
    }

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("1,200.5").unwrap(), "1200.5");
        assert_eq!(parse_amount("0.50").unwrap(), "0.5");
        assert_eq!(parse_amount("00.500").unwrap(), "0.5");
        assert_eq!(parse_amount("2.0").unwrap(), "2");
        assert_eq!(parse_amount("0").unwrap(), "0");
        assert_eq!(parse_amount("０．５").unwrap(), "0.5");
        assert!(parse_amount("-1").is_err());
        assert!(parse_amount("1e3").is_err());
        assert!(parse_amount("五千").is_err());
    }
}
