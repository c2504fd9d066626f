//! `xinjian import subjects FILE --db URL [--errors OUT.xlsx] [--allow-flagged]`:
//! last stdout line `imported N, updated M, unchanged U, rejected K`.

use crate::support::*;

fn sample_xlsx(huawei_date_as_serial: bool) -> Vec<u8> {
    let rows: Vec<Vec<Cell>> = csv_cells(SAMPLE_CSV)
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|c| {
                    // 1987-09-15 is Excel serial 32035 (days since 1899-12-30).
                    if huawei_date_as_serial && c == "1987-09-15" {
                        Cell::Number(32035.0)
                    } else {
                        Cell::Text(c)
                    }
                })
                .collect()
        })
        .collect();
    xlsx(&rows)
}

#[test]
fn utf8_csv_imports_and_reimport_is_idempotent() {
    let fx = Fixture::new();
    let file = fx.write("sample.csv", SAMPLE_CSV);
    fx.import(&file, &[]).assert_summary(4, 0, 0, 0);
    assert_eq!(fx.subjects(), 4);
    assert_eq!(
        fx.text(
            "SELECT name FROM subjects WHERE code = ?1",
            "9144030071526726XG"
        )
        .as_deref(),
        Some("腾讯科技（深圳）有限公司")
    );
    assert_eq!(
        fx.text(
            "SELECT established_on FROM subjects WHERE code = ?1",
            "914403001922038216"
        )
        .as_deref(),
        Some("1987-09-15")
    );
    // The same file again: nothing new, nothing written.
    let versions = fx.all_versions();
    fx.import(&file, &[]).assert_summary(0, 0, 4, 0);
    fx.import(&file, &[]).assert_summary(0, 0, 4, 0);
    assert_eq!(fx.subjects(), 4);
    assert_eq!(fx.all_versions(), versions);
    for code in SAMPLE_CODES {
        assert_eq!(fx.versions_of(code), 1, "{code}");
    }
    fx.integrity_ok();
    fx.audit_ok();
}

/// While most rows of a file are new, a chunk is written insert-first (only the codes already
/// stored are looked up): the stored subjects among its rows are still updated or left alone,
/// exactly as in a file of known subjects.
#[test]
fn stored_subjects_among_mostly_new_rows_are_updated_or_left_alone() {
    let fx = Fixture::new();
    let known = fx.path("known.csv");
    write_registry_csv(&known, 0..4);
    fx.import(&known, &[]).assert_summary(4, 0, 0, 0);
    // 12,000 new rows first (the first chunk of 10,000 is all new), then the four stored
    // subjects in the second chunk: two as stored, two with a new address.
    let file = fx.path("mostly-new.csv");
    write_registry_csv(&file, 100..12_100);
    let mut text = std::fs::read_to_string(&file).unwrap();
    for i in 0..4u64 {
        let address = if i < 2 {
            format!("测试路{i}号")
        } else {
            format!("新址路{i}号")
        };
        text.push_str(&format!(
            "{},测试企业第{i}号有限公司,存续,2020-01-01,四川省广元市利州区{address}\n",
            gen_code(i)
        ));
    }
    std::fs::write(&file, text).unwrap();
    fx.import(&file, &[]).assert_summary(12_000, 2, 2, 0);
    assert_eq!(fx.subjects(), 12_004);
    for i in 0..4u64 {
        assert_eq!(
            fx.versions_of(&gen_code(i)),
            if i < 2 { 1 } else { 2 },
            "{i}"
        );
    }
    assert_eq!(
        fx.text("SELECT address FROM subjects WHERE code = ?1", &gen_code(3))
            .as_deref(),
        Some("四川省广元市利州区新址路3号")
    );
    // The same file again: everything unchanged.
    fx.import(&file, &[]).assert_summary(0, 0, 12_004, 0);
    fx.integrity_ok();
    fx.audit_ok();
}

#[test]
fn gbk_csv_with_the_same_content_reads_the_same() {
    let gbk = to_gbk(SAMPLE_CSV);
    assert!(
        std::str::from_utf8(&gbk).is_err(),
        "the GBK bytes are not UTF-8"
    );

    // Into a fresh database: the same four subjects, names decoded correctly.
    let fx = Fixture::new();
    let file = fx.write("sample-gbk.csv", &gbk);
    fx.import(&file, &[]).assert_summary(4, 0, 0, 0);
    assert_eq!(
        fx.text(
            "SELECT name FROM subjects WHERE code = ?1",
            "91330100799655058B"
        )
        .as_deref(),
        Some("阿里巴巴（中国）有限公司")
    );
    assert_eq!(
        fx.text(
            "SELECT address FROM subjects WHERE code = ?1",
            "91350100M000100Y43"
        )
        .as_deref(),
        Some("福州市鼓楼区五四路")
    );

    // After the UTF-8 file: every row is unchanged (byte-for-byte the same content).
    let fx = Fixture::new();
    let utf8 = fx.write("sample.csv", SAMPLE_CSV);
    fx.import(&utf8, &[]).assert_summary(4, 0, 0, 0);
    let file = fx.write("sample-gbk.csv", &gbk);
    fx.import(&file, &[]).assert_summary(0, 0, 4, 0);
    assert_eq!(fx.subjects(), 4);
}

#[test]
fn xlsx_imports_like_the_csv() {
    let fx = Fixture::new();
    let file = fx.write("sample.xlsx", sample_xlsx(true));
    assert!(std::fs::read(&file).unwrap().starts_with(b"PK"));
    fx.import(&file, &[]).assert_summary(4, 0, 0, 0);
    // The Excel serial date became the same date as in the CSV.
    assert_eq!(
        fx.text(
            "SELECT established_on FROM subjects WHERE code = ?1",
            "914403001922038216"
        )
        .as_deref(),
        Some("1987-09-15")
    );
    // Same content as CSV: all unchanged; XLSX again: all unchanged.
    let csv = fx.write("sample.csv", SAMPLE_CSV);
    fx.import(&csv, &[]).assert_summary(0, 0, 4, 0);
    let again = fx.write("sample2.xlsx", sample_xlsx(false));
    fx.import(&again, &[]).assert_summary(0, 0, 4, 0);
    assert_eq!(fx.subjects(), 4);
}

#[test]
fn a_changed_row_makes_a_second_version() {
    let fx = Fixture::new();
    let file = fx.write("v1.csv", SAMPLE_CSV);
    fx.import(&file, &[]).assert_summary(4, 0, 0, 0);
    let changed = SAMPLE_CSV.replace("深圳市南山区科技园", "深圳市南山区海天二路33号");
    assert_ne!(changed, SAMPLE_CSV);
    let file2 = fx.write("v2.csv", &changed);
    fx.import(&file2, &[]).assert_summary(0, 1, 3, 0);
    assert_eq!(fx.versions_of("9144030071526726XG"), 2);
    assert_eq!(fx.versions_of("914403001922038216"), 1);
    assert_eq!(
        fx.text(
            "SELECT address FROM subjects WHERE code = ?1",
            "9144030071526726XG"
        )
        .as_deref(),
        Some("深圳市南山区海天二路33号")
    );
    assert_eq!(
        fx.text(
            "SELECT CAST(version AS TEXT) FROM subjects WHERE code = ?1",
            "9144030071526726XG"
        )
        .as_deref(),
        Some("2")
    );
    // The changed file again: unchanged. The old file again: a third version.
    fx.import(&file2, &[]).assert_summary(0, 0, 4, 0);
    fx.import(&file, &[]).assert_summary(0, 1, 3, 0);
    assert_eq!(fx.versions_of("9144030071526726XG"), 3);
    assert_eq!(fx.subjects(), 4);
    fx.audit_ok();
}

#[test]
fn a_duplicate_code_inside_a_file_rejects_the_second_row() {
    let fx = Fixture::new();
    // Row 4 repeats row 2's code (with spaces around it, normalised to the same code).
    let csv = [
        "统一社会信用代码,名称",
        "914403001922038216,华为技术有限公司",
        "9144030071526726XG,腾讯科技（深圳）有限公司",
        " 914403001922038216 ,华为（重复）",
    ]
    .join("\n");
    let file = fx.write("dup.csv", csv);
    fx.import(&file, &[]).assert_summary(2, 0, 0, 1);
    assert_eq!(fx.subjects(), 2);
    assert_eq!(
        fx.text(
            "SELECT name FROM subjects WHERE code = ?1",
            "914403001922038216"
        )
        .as_deref(),
        Some("华为技术有限公司"),
        "the first row wins"
    );
    let (row, reason): (i64, String) = fx
        .conn()
        .query_row("SELECT row_no, reason FROM import_errors", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("one error row");
    assert_eq!(row, 4);
    assert!(reason.contains('2') && has_chinese(&reason), "{reason}");
}

const CHECK_CSV: &str = "统一社会信用代码,名称\n\
                         914403001922038216,华为技术有限公司\n\
                         914403001922038217,校验位错误的存量主体\n\
                         91440300192203821I,含字母I的代码\n";

#[test]
fn a_check_character_failure_is_rejected_by_default() {
    let fx = Fixture::new();
    let file = fx.write("check.csv", CHECK_CSV);
    fx.import(&file, &[]).assert_summary(1, 0, 0, 2);
    assert_eq!(fx.subjects(), 1);
    assert_eq!(
        fx.count("SELECT count(*) FROM subjects WHERE code = '914403001922038217'"),
        0
    );
    let reasons: Vec<(i64, String)> = {
        let c = fx.conn();
        let mut st = c
            .prepare("SELECT row_no, reason FROM import_errors ORDER BY row_no")
            .unwrap();
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows
    };
    assert_eq!(reasons.iter().map(|r| r.0).collect::<Vec<_>>(), vec![3, 4]);
    assert!(reasons[0].1.contains("校验"), "{:?}", reasons[0]);
}

#[test]
fn allow_flagged_keeps_a_check_character_failure_flagged() {
    let fx = Fixture::new();
    let file = fx.write("check.csv", CHECK_CSV);
    // A code with a letter outside the alphabet is never kept.
    fx.import(&file, &["--allow-flagged"])
        .assert_summary(2, 0, 0, 1);
    assert_eq!(fx.subjects(), 2);
    assert_eq!(
        fx.text(
            "SELECT code_flag FROM subjects WHERE code = ?1",
            "914403001922038217"
        )
        .as_deref(),
        Some("check_failed")
    );
    assert_eq!(
        fx.text(
            "SELECT code_flag FROM subjects WHERE code = ?1",
            "914403001922038216"
        ),
        None
    );
    // Idempotent with the flag too.
    fx.import(&file, &["--allow-flagged"])
        .assert_summary(0, 0, 2, 1);
}

#[test]
fn errors_option_writes_an_xlsx() {
    let fx = Fixture::new();
    let file = fx.write("check.csv", CHECK_CSV);
    let out = fx.path("errors.xlsx");
    let out_s = out.display().to_string();
    let r = fx.import(&file, &["--errors", &out_s]);
    r.assert_summary(1, 0, 0, 2);
    let bytes = std::fs::read(&out).expect("the errors file was written");
    assert!(bytes.starts_with(b"PK"), "an XLSX (ZIP) file");
    assert!(has_chinese(&r.stderr), "{}", r.describe());
    // It reads back: the title, the column headers, a row per refused code with its reason.
    let rows = xlsx_rows(&out);
    assert!(rows[0][0].contains("拒绝 2 行"), "{rows:?}");
    assert!(
        rows.iter().any(|r| r[..] == ["行号", "列", "值", "原因"]),
        "{rows:?}"
    );
    for (row_no, code) in [("3", "914403001922038217"), ("4", "91440300192203821I")] {
        assert!(
            rows.iter()
                .any(|r| r[0] == row_no && r[2] == code && has_chinese(&r[3])),
            "{code} in {rows:?}"
        );
    }
}

/// Every file-level failure: non-zero exit, a Chinese message on stderr naming the problem,
/// no panic, and nothing written (the registry is exactly as before).
#[test]
fn bad_files_fail_cleanly_and_write_nothing() {
    let fx = Fixture::new();
    let good = fx.write("sample.csv", SAMPLE_CSV);
    fx.import(&good, &[]).assert_summary(4, 0, 0, 0);
    let before_versions = fx.all_versions();

    let mut junk = junk_bytes(4096, 42);
    junk[0] = 0; // make sure: NUL bytes, and no recognisable magic number
    junk[100] = 0;
    let mut xls = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    xls.extend(std::iter::repeat_n(0u8, 504));
    let mut broken_xlsx = b"PK\x03\x04".to_vec();
    broken_xlsx.extend(junk_bytes(300, 7));
    let truncated_xlsx = sample_xlsx(false)[..200].to_vec();

    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        ("empty.csv", vec![], &["空"]),
        (
            "header-only.csv",
            "统一社会信用代码,名称\n".into(),
            &["表头"],
        ),
        (
            "blank-rows.csv",
            "统一社会信用代码,名称\n,\n  ,  \n\n".into(),
            &["表头"],
        ),
        (
            "no-code-column.csv",
            "代码,企业名称\n914403001922038216,华为技术有限公司\n".into(),
            &["统一社会信用代码"],
        ),
        (
            "no-name-column.csv",
            "统一社会信用代码,地址\n914403001922038216,深圳\n".into(),
            &["名称"],
        ),
        (
            "wrong-headers.csv",
            "code,name\n914403001922038216,Huawei\n".into(),
            &["统一社会信用代码", "名称"],
        ),
        ("junk.bin", junk, &["二进制"]),
        ("legacy.xls", xls, &[".xls"]),
        (
            "report.pdf",
            b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec(),
            &["PDF"],
        ),
        ("broken.xlsx", broken_xlsx, &["XLSX"]),
        ("truncated.xlsx", truncated_xlsx, &["XLSX"]),
    ];
    for (name, bytes, fragments) in cases {
        let file = fx.write(name, &bytes);
        let r = fx.import(&file, &[]);
        r.assert_failure();
        assert!(
            !r.stdout.contains("imported"),
            "{name}: no summary line\n{}",
            r.describe()
        );
        assert!(
            has_chinese(&r.stderr),
            "{name}: Chinese message\n{}",
            r.describe()
        );
        for f in fragments {
            assert!(
                r.stderr.contains(f),
                "{name}: the message should mention {f:?}\n{}",
                r.describe()
            );
        }
        assert_eq!(fx.subjects(), 4, "{name}: registry unchanged");
        assert_eq!(
            fx.all_versions(),
            before_versions,
            "{name}: no versions written"
        );
        let (status, message) = fx.last_import();
        assert_eq!(status, "failed", "{name}");
        assert!(message.is_some_and(|m| has_chinese(&m)), "{name}");
    }

    // A file that does not exist: no job at all.
    let jobs = fx.count("SELECT count(*) FROM imports");
    let missing = fx.path("missing.csv").display().to_string();
    let r = fx.xj_db(&["import", "subjects", &missing]);
    r.assert_failure();
    assert!(has_chinese(&r.stderr), "{}", r.describe());
    assert_eq!(fx.count("SELECT count(*) FROM imports"), jobs);
    assert_eq!(fx.subjects(), 4);

    fx.integrity_ok();
    fx.audit_ok();
}

/// Row-level problems: an impossible date and an over-long name are rejected rows, the rest
/// is imported, exit 0.
fn row_level_csv() -> String {
    format!(
        "统一社会信用代码,名称,成立日期\n\
         914403001922038216,华为技术有限公司,2023-02-29\n\
         9144030071526726XG,{},2000-02-24\n\
         91330100799655058B,阿里巴巴（中国）有限公司,2007-03-26\n",
        "长".repeat(300)
    )
}

#[test]
fn impossible_date_and_overlong_name_are_rejected_rows() {
    let fx = Fixture::new();
    let file = fx.write("rows.csv", row_level_csv());
    fx.import(&file, &[]).assert_summary(1, 0, 0, 2);
    assert_eq!(fx.subjects(), 1);
    let errors: Vec<(i64, String, String)> = {
        let c = fx.conn();
        let mut st = c
            .prepare("SELECT row_no, column_name, reason FROM import_errors ORDER BY row_no")
            .unwrap();
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows
    };
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!((errors[0].0, errors[0].1.as_str()), (2, "成立日期"));
    assert!(errors[0].2.contains("2023-02-29"), "{errors:?}");
    assert_eq!((errors[1].0, errors[1].1.as_str()), (3, "名称"));
    assert!(errors[1].2.contains("300"), "{errors:?}");
    let (status, _) = fx.last_import();
    assert_eq!(status, "done");
    fx.audit_ok();
}

/// The contract asks every bad file — row-level ones included — to print a Chinese message on
/// stderr. Without `--errors` a row-level import prints nothing there today.
#[test]
fn rejected_rows_are_explained_on_stderr() {
    let fx = Fixture::new();
    let file = fx.write("rows.csv", row_level_csv());
    let r = fx.import(&file, &[]);
    r.assert_summary(1, 0, 0, 2);
    assert!(
        has_chinese(&r.stderr),
        "rejected rows should be explained in Chinese on stderr:\n{}",
        r.describe()
    );
}

/// The demo leaves a messy GBK export in the data directory. Its content (see
/// `write_messy` in crates/app/src/demo.rs): 2 changed existing subjects, 6 new ones (one
/// with a full-width, space-padded code), 8 faulty rows and 1 duplicate of a new row.
#[test]
fn the_demo_messy_gbk_file_imports() {
    let fx = Fixture::new();
    fx.xj_db(&["demo", "--subjects", "50", "--seed", "20261122"])
        .assert_success();
    let messy = fx.data_dir().join("demo-messy-import.csv");
    let bytes = std::fs::read(&messy).expect("the demo wrote its messy file");
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the messy file is GBK"
    );
    let before = fx.subjects();
    let out = fx.path("messy-errors.xlsx").display().to_string();
    fx.import(&messy, &["--errors", &out])
        .assert_summary(6, 2, 0, 9);
    assert_eq!(fx.subjects(), before + 6);
    assert!(std::fs::read(&out).unwrap().starts_with(b"PK"));
    // Again: the good rows are unchanged now, the bad ones still rejected.
    fx.import(&messy, &[]).assert_summary(0, 0, 8, 9);
}

/// Regression (was a bug; crates/app/src/sources.rs, `TableReader::next_row`): when a CSV row cannot be decoded
/// (GBK bytes in a file detected as UTF-8 from its first 64 KiB), the row counter is not
/// advanced, so every later row is reported one row too early in the error list.
#[test]
fn row_numbers_after_an_undecodable_row_are_right() {
    let fx = Fixture::new();
    let mut bytes = "统一社会信用代码,名称,成立日期\n".as_bytes().to_vec();
    // Rows 2..=1501: valid UTF-8, well over the 64 KiB encoding sample.
    for i in 0..1500u64 {
        bytes.extend(format!("{},测试企业第{i}号有限公司,2020-01-01\n", gen_code(i)).bytes());
    }
    assert!(bytes.len() > 64 * 1024);
    // Row 1502: a name in GBK ("华为" = BB AA CE AA), not decodable as UTF-8.
    bytes.extend(format!("{},", gen_code(5000)).bytes());
    bytes.extend([0xBB, 0xAA, 0xCE, 0xAA]);
    bytes.extend(b",2020-01-01\n");
    // Row 1503: an impossible date.
    bytes.extend(format!("{},日期错误公司,2023-02-29\n", gen_code(5001)).bytes());
    let file = fx.write("mixed.csv", &bytes);
    fx.import(&file, &[]).assert_summary(1500, 0, 0, 2);
    let rows: Vec<(i64, String)> = {
        let c = fx.conn();
        let mut st = c
            .prepare("SELECT row_no, column_name FROM import_errors ORDER BY row_no, column_name")
            .unwrap();
        let v = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        v
    };
    assert_eq!(
        rows,
        vec![(1502, "（整行）".to_owned()), (1503, "成立日期".to_owned())]
    );
}

/// Regression (was a bug; minor, crates/app/src/import.rs, `run_inner`): a file with a header and no data rows
/// fails the job only after committing an empty chunk, so the audit log records a
/// `subject.import.chunk` (rows "0-0") for an import that failed at file level.
#[test]
fn a_header_only_file_commits_no_chunk() {
    let fx = Fixture::new();
    let file = fx.write("header-only.csv", "统一社会信用代码,名称\n");
    fx.import(&file, &[]).assert_failure();
    assert_eq!(fx.last_import().0, "failed");
    assert_eq!(
        fx.count("SELECT count(*) FROM audit_log WHERE action = 'subject.import.chunk'"),
        0
    );
}

/// A registry workbook of `n` valid rows, with `bad` (a cell's XML) in the name column of row
/// `bad_row` (as Excel numbers rows, the header being row 1).
fn registry_xlsx(n: u64, bad_row: u64, bad: &str) -> Vec<u8> {
    let mut rows = vec![vec![
        Cell::Text("统一社会信用代码".into()),
        Cell::Text("名称".into()),
    ]];
    for i in 0..n {
        let name = if i + 2 == bad_row {
            Cell::Xml(bad.into())
        } else {
            Cell::Text(format!("测试企业第{i}号有限公司"))
        };
        rows.push(vec![Cell::Text(gen_code(i)), name]);
    }
    xlsx(&rows)
}

/// A workbook that cannot be read past a row fails the import there and says where; what a
/// re-import of the corrected file does is what it always does.
#[test]
fn an_xlsx_that_breaks_partway_fails_and_says_where() {
    let fx = Fixture::new();
    let broken = fx.write(
        "broken.xlsx",
        registry_xlsx(12_000, 11_002, r#"<c r="{r}" t="n"><v>abc</v></c>"#),
    );
    let r = fx.import(&broken, &[]);
    r.assert_failure();
    assert!(r.stderr.contains("第 11002 行附近"), "{}", r.describe());
    // Whole chunks before it are kept (as for a CSV file that breaks partway).
    assert!(fx.subjects() < 12_000);
    let fixed = fx.write("fixed.xlsx", registry_xlsx(12_000, 0, ""));
    let r = fx.import(&fixed, &[]);
    r.assert_success();
    assert_eq!(fx.subjects(), 12_000);
}

/// A workbook the reader cannot cope with at all (a shared string that does not exist — the
/// reading thread stops without a reason) fails the import: it is never taken for a file that
/// simply ended there.
#[test]
fn an_xlsx_the_reader_gives_up_on_is_not_taken_for_a_short_file() {
    let fx = Fixture::new();
    let broken = fx.write(
        "broken.xlsx",
        registry_xlsx(12_000, 11_002, r#"<c r="{r}" t="s"><v>99</v></c>"#),
    );
    let r = fx.import(&broken, &[]);
    r.assert_failure();
    assert!(r.stderr.contains("第 11002 行附近"), "{}", r.describe());
    assert!(fx.subjects() < 12_000);
}
