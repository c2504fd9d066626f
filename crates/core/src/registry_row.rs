//! Reading one row of a market-regulation registration export into [`SubjectData`].
//!
//! The rules for what a valid registry row is live here, once; the app layer only feeds
//! cells in and stores what comes out.

use chrono::NaiveDate;

use crate::dates::parse_date;
use crate::person_id::PersonId;
use crate::subject::{
    CodeFlag, RegStatus, SubjectData, SubjectKind, MAX_FIELD_CHARS, MAX_NAME_CHARS,
};
use crate::text::normalize_text;
use crate::uscc::{classify, UsccCheck};

/// A registry field that a column can feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Code,
    Name,
    EntityType,
    LegalRep,
    LegalRepId,
    EstablishedOn,
    Address,
    BusinessScope,
    RegStatus,
    RegAuthority,
    Industry,
    DivisionCode,
}

impl Field {
    pub const ALL: [Field; 12] = [
        Field::Code,
        Field::Name,
        Field::EntityType,
        Field::LegalRep,
        Field::LegalRepId,
        Field::EstablishedOn,
        Field::Address,
        Field::BusinessScope,
        Field::RegStatus,
        Field::RegAuthority,
        Field::Industry,
        Field::DivisionCode,
    ];

    /// The standard header, as in the template.
    pub fn header(self) -> &'static str {
        self.synonyms()[0]
    }

    /// Headers recognised for this field (normalised: no spaces, ASCII parentheses).
    pub fn synonyms(self) -> &'static [&'static str] {
        match self {
            Field::Code => &[
                "统一社会信用代码",
                "社会信用代码",
                "信用代码",
                "统一代码",
                "USCC",
            ],
            Field::Name => &[
                "名称",
                "企业名称",
                "主体名称",
                "市场主体名称",
                "单位名称",
                "企业(机构)名称",
            ],
            Field::EntityType => &[
                "主体类型",
                "企业类型",
                "企业(机构)类型",
                "市场主体类型",
                "类型",
            ],
            Field::LegalRep => &[
                "法定代表人",
                "法定代表人(负责人)",
                "法定代表人姓名",
                "负责人",
                "经营者",
            ],
            Field::LegalRepId => &[
                "法定代表人证件号码",
                "法定代表人身份证号码",
                "法定代表人身份证号",
                "证件号码",
                "身份证号码",
            ],
            Field::EstablishedOn => &["成立日期", "注册日期", "设立日期", "成立时间"],
            Field::Address => &["住所", "住所(经营场所)", "经营场所", "注册地址", "地址"],
            Field::BusinessScope => &["经营范围"],
            Field::RegStatus => &["登记状态", "经营状态", "企业状态", "状态"],
            Field::RegAuthority => &["登记机关"],
            Field::Industry => &["所属行业", "行业", "行业门类", "国民经济行业"],
            Field::DivisionCode => &["行政区划代码", "所在地行政区划代码", "区划代码"],
        }
    }
}

/// Normalise a header cell: full-width to half-width, no whitespace, no BOM, no required-marks.
pub fn normalize_header(h: &str) -> String {
    normalize_text(h)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{feff}' && *c != '*')
        .collect()
}

/// Which column feeds which field, learned from the header row.
#[derive(Debug, Clone)]
pub struct HeaderMap {
    columns: Vec<(Field, usize)>,
    headers: Vec<String>,
}

impl HeaderMap {
    /// Recognise the header row. Fails, naming what is missing and what was found, when the
    /// code or name column is absent.
    pub fn detect(headers: &[String]) -> Result<HeaderMap, String> {
        let norm: Vec<String> = headers.iter().map(|h| normalize_header(h)).collect();
        let mut columns = Vec::new();
        for field in Field::ALL {
            if let Some(idx) = field
                .synonyms()
                .iter()
                .find_map(|s| norm.iter().position(|h| h == s))
            {
                if !columns.iter().any(|(_, i)| *i == idx) {
                    columns.push((field, idx));
                }
            }
        }
        let has = |f: Field| columns.iter().any(|(g, _)| *g == f);
        let missing: Vec<&str> = [Field::Code, Field::Name]
            .into_iter()
            .filter(|f| !has(*f))
            .map(|f| f.header())
            .collect();
        if !missing.is_empty() {
            let found: Vec<&str> = headers
                .iter()
                .map(|h| h.trim())
                .filter(|h| !h.is_empty())
                .take(20)
                .collect();
            return Err(format!(
                "表头缺少必需的列：{}。识别到的列：{}。请使用“统一社会信用代码”“名称”等标准表头（可下载导入模板）",
                missing.join("、"),
                if found.is_empty() { "（无）".to_owned() } else { found.join("、") }
            ));
        }
        Ok(HeaderMap {
            columns,
            headers: headers.to_vec(),
        })
    }

    /// The header text of the column feeding `field`, if any.
    pub fn column_of(&self, field: Field) -> Option<usize> {
        self.columns
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, i)| *i)
    }

    pub fn header_text(&self, field: Field) -> String {
        self.column_of(field)
            .and_then(|i| self.headers.get(i))
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|| field.header().to_owned())
    }

    /// The recognised fields, in column order (for the import summary).
    pub fn recognised(&self) -> Vec<Field> {
        let mut c = self.columns.clone();
        c.sort_by_key(|(_, i)| *i);
        c.into_iter().map(|(f, _)| f).collect()
    }
}

/// Why one cell of a row was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellError {
    pub column: String,
    pub value: String,
    pub reason: String,
}

/// Options of an import.
#[derive(Debug, Clone, Copy)]
pub struct RowOptions {
    /// Keep codes that fail only the check character, flagged.
    pub allow_flagged: bool,
    /// Dates after this are refused (the day of the import).
    pub today: NaiveDate,
}

/// Parse one data row. All problems of the row are reported together.
pub fn parse_row(
    map: &HeaderMap,
    cells: &[&str],
    opts: RowOptions,
) -> Result<SubjectData, Vec<CellError>> {
    let mut errors = Vec::new();
    let cell = |f: Field| -> &str {
        map.column_of(f)
            .and_then(|i| cells.get(i))
            .map(|s| s.trim())
            .unwrap_or("")
    };
    let mut err = |f: Field, value: &str, reason: String| {
        errors.push(CellError {
            column: map.header_text(f),
            value: value.chars().take(200).collect(),
            reason,
        });
    };
    let text = |f: Field, max: usize, err: &mut dyn FnMut(Field, &str, String)| -> Option<String> {
        let v = cell(f);
        if v.is_empty() {
            return None;
        }
        if v.chars().count() > max {
            err(
                f,
                v,
                format!("内容过长（{} 字，最多 {max} 字）", v.chars().count()),
            );
            return None;
        }
        if v.chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
        {
            err(f, v, "含有不可见的控制字符".into());
            return None;
        }
        Some(v.to_owned())
    };

    // Code.
    let raw_code = cell(Field::Code);
    let mut code_flag = None;
    let code = match classify(raw_code) {
        UsccCheck::Valid(u) => Some(u.as_str().to_owned()),
        UsccCheck::CheckFailed { normalized, error } => {
            if opts.allow_flagged {
                code_flag = Some(CodeFlag::CheckFailed);
                Some(normalized)
            } else {
                err(
                    Field::Code,
                    raw_code,
                    format!("{error}（如确为存量代码，可勾选“保留校验码错误的存量代码”或在命令行加 --allow-flagged 后重新导入）"),
                );
                None
            }
        }
        UsccCheck::Invalid(error) => {
            err(Field::Code, raw_code, error.to_string());
            None
        }
    };

    let name = match text(Field::Name, MAX_NAME_CHARS, &mut err) {
        Some(n) => Some(n),
        None => {
            if cell(Field::Name).is_empty() {
                err(Field::Name, "", "名称为空".into());
            }
            None
        }
    };
    let entity_type = text(Field::EntityType, 100, &mut err);
    let legal_rep = text(Field::LegalRep, 100, &mut err);
    let legal_rep_id = {
        let v = cell(Field::LegalRepId);
        if v.is_empty() {
            None
        } else {
            let n: String = normalize_text(v).to_uppercase();
            if n.chars().count() == 18 {
                match PersonId::parse(&n) {
                    Ok(p) => Some(p.as_str().to_owned()),
                    Err(e) => {
                        err(
                            Field::LegalRepId,
                            &crate::person_id::mask_str(&n),
                            format!("居民身份证号码无效：{e}"),
                        );
                        None
                    }
                }
            } else if (5..=30).contains(&n.len()) && n.chars().all(|c| c.is_ascii_alphanumeric()) {
                // Another document type (passport, 港澳台居民证件): kept as given.
                Some(n)
            } else {
                err(
                    Field::LegalRepId,
                    &crate::person_id::mask_str(&n),
                    "证件号码格式无效".into(),
                );
                None
            }
        }
    };
    let established_on = {
        let v = cell(Field::EstablishedOn);
        if v.is_empty() {
            None
        } else {
            match parse_date(v) {
                Ok(d) if d > opts.today => {
                    err(Field::EstablishedOn, v, format!("成立日期 {d} 晚于今天"));
                    None
                }
                Ok(d) => Some(d),
                Err(e) => {
                    err(Field::EstablishedOn, v, e);
                    None
                }
            }
        }
    };
    let address = text(Field::Address, 500, &mut err);
    let business_scope = text(Field::BusinessScope, MAX_FIELD_CHARS, &mut err);
    let reg_status = if map.column_of(Field::RegStatus).is_none() {
        Some(RegStatus::Active)
    } else {
        match RegStatus::parse_zh(cell(Field::RegStatus)) {
            Ok(s) => Some(s),
            Err(e) => {
                err(Field::RegStatus, cell(Field::RegStatus), e);
                None
            }
        }
    };
    let reg_authority = text(Field::RegAuthority, 100, &mut err);
    let industry = text(Field::Industry, 100, &mut err);
    let division_code = {
        let v = cell(Field::DivisionCode);
        if v.is_empty() {
            None
        } else {
            match crate::division::DivisionCode::parse(v) {
                Ok(d) => Some(d.as_str().to_owned()),
                Err(e) => {
                    err(Field::DivisionCode, v, e.to_string());
                    None
                }
            }
        }
    };

    match (code, name, reg_status) {
        (Some(code), Some(name), Some(reg_status)) if errors.is_empty() => {
            let division_code = division_code.or_else(|| {
                let d = &code[2..8];
                crate::division::DivisionCode::parse(d)
                    .ok()
                    .map(|d| d.as_str().to_owned())
            });
            let kind = SubjectKind::classify(entity_type.as_deref().unwrap_or(""), &code);
            Ok(SubjectData {
                code,
                code_flag,
                name,
                kind,
                entity_type,
                legal_rep,
                legal_rep_id,
                address,
                division_code,
                business_scope,
                established_on,
                reg_status,
                reg_authority,
                industry,
                person_id: None,
            })
        }
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }
    fn opts(allow_flagged: bool) -> RowOptions {
        RowOptions {
            allow_flagged,
            today: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
        }
    }

    #[test]
    fn recognises_synonyms_and_full_width() {
        let m = HeaderMap::detect(&headers(&[
            "\u{feff}统一社会信用代码",
            "企业名称",
            "企业（机构）类型",
            " 成立日期 ",
        ]))
        .unwrap();
        assert_eq!(
            m.recognised(),
            vec![
                Field::Code,
                Field::Name,
                Field::EntityType,
                Field::EstablishedOn
            ]
        );
    }

    #[test]
    fn missing_headers_are_named() {
        let e = HeaderMap::detect(&headers(&["代码", "企业名称"])).unwrap_err();
        assert!(e.contains("统一社会信用代码"), "{e}");
        assert!(e.contains("代码、企业名称"), "{e}");
    }

    #[test]
    fn a_good_row() {
        let m = HeaderMap::detect(&headers(&[
            "统一社会信用代码",
            "名称",
            "登记状态",
            "成立日期",
            "经营范围",
        ]))
        .unwrap();
        let d = parse_row(
            &m,
            &[
                "914403001922038216",
                "华为技术有限公司",
                "存续",
                "1987/9/15",
                "代理记账；咨询",
            ],
            opts(false),
        )
        .unwrap();
        assert_eq!(d.code, "914403001922038216");
        assert_eq!(d.division_code.as_deref(), Some("440300"));
        assert_eq!(d.established_on, NaiveDate::from_ymd_opt(1987, 9, 15));
        assert!(d.offers_bookkeeping());
    }

    #[test]
    fn all_problems_of_a_row_are_reported() {
        let m = HeaderMap::detect(&headers(&[
            "统一社会信用代码",
            "名称",
            "登记状态",
            "成立日期",
        ]))
        .unwrap();
        let e = parse_row(
            &m,
            &["914403001922038217", "", "不明", "2030-01-01"],
            opts(false),
        )
        .unwrap_err();
        let cols: Vec<&str> = e.iter().map(|c| c.column.as_str()).collect();
        assert_eq!(
            cols,
            vec!["统一社会信用代码", "名称", "成立日期", "登记状态"]
        );
    }

    #[test]
    fn check_failures_are_kept_flagged_only_on_request() {
        let m = HeaderMap::detect(&headers(&["统一社会信用代码", "名称"])).unwrap();
        assert!(parse_row(&m, &["914403001922038217", "某公司"], opts(false)).is_err());
        let d = parse_row(&m, &["914403001922038217", "某公司"], opts(true)).unwrap();
        assert_eq!(d.code_flag, Some(CodeFlag::CheckFailed));
        // A code with a letter that is not in the alphabet is never kept.
        assert!(parse_row(&m, &["91440300192203821I", "某公司"], opts(true)).is_err());
    }

    #[test]
    fn personal_id_errors_do_not_echo_the_number() {
        let m = HeaderMap::detect(&headers(&[
            "统一社会信用代码",
            "名称",
            "法定代表人证件号码",
        ]))
        .unwrap();
        let e = parse_row(
            &m,
            &["914403001922038216", "某公司", "410402199001011235"],
            opts(false),
        )
        .unwrap_err();
        assert!(e[0].value.contains("********"), "{:?}", e);
    }
}
