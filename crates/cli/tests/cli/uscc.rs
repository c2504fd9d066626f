//! `xinjian uscc check CODE...`: one line per code, `CODE<TAB>valid` or
//! `CODE<TAB>invalid<TAB>reason`; exit 0 only if all are valid; CODE printed as given.

use crate::support::*;

const VALID: [&str; 4] = [
    "914403001922038216",
    "9144030071526726XG",
    "91330100799655058B",
    "91350100M000100Y43",
];

#[test]
fn the_test_generator_agrees_with_the_known_valid_codes() {
    for code in VALID {
        assert_eq!(with_check(&code[..17]), code);
    }
}

#[test]
fn valid_codes_one_line_each_exit_zero() {
    let fx = Fixture::new();
    let mut args = vec!["uscc", "check"];
    args.extend(VALID);
    let r = fx.xj(&args);
    r.assert_success();
    let expected: Vec<String> = VALID.iter().map(|c| format!("{c}\tvalid")).collect();
    assert_eq!(r.lines(), expected, "{}", r.describe());
}

#[test]
fn generated_codes_are_valid_for_the_binary_too() {
    let fx = Fixture::new();
    let codes: Vec<String> = [0u64, 1, 30, 31, 961, 299_999, 27_512_614]
        .iter()
        .map(|&i| gen_code(i))
        .collect();
    let mut args = vec!["uscc", "check"];
    args.extend(codes.iter().map(String::as_str));
    let r = fx.xj(&args);
    r.assert_success();
    assert_eq!(r.lines().len(), codes.len());
    for line in r.lines() {
        assert!(line.ends_with("\tvalid"), "{line}");
    }
}

#[test]
fn the_code_is_printed_as_given() {
    let fx = Fixture::new();
    let inputs = [
        " 914403001922038216 ",
        // Full-width digits (as typed with a Chinese input method).
        "９１４４０３００１９２２０３８２１６",
        // Lower case and an ideographic space inside.
        "9144030071526726xg",
        "9133\u{3000}0100799655058B",
    ];
    let mut args = vec!["uscc", "check"];
    args.extend(inputs);
    let r = fx.xj(&args);
    r.assert_success();
    let expected: Vec<String> = inputs.iter().map(|c| format!("{c}\tvalid")).collect();
    assert_eq!(r.lines(), expected, "{}", r.describe());
}

#[test]
fn invalid_codes_give_a_reason_and_exit_non_zero() {
    let fx = Fixture::new();
    let inputs = [
        "914403001922038216",  // valid
        "914403001922038217",  // wrong check character (should be 6)
        "91440300192203821I",  // I is not in the alphabet
        "12345",               // too short
        " 91440300192203821 ", // 17 characters, spaces kept in the output
    ];
    let mut args = vec!["uscc", "check"];
    args.extend(inputs);
    let r = fx.xj(&args);
    assert_eq!(r.status.code(), Some(1), "{}", r.describe());
    let lines = r.lines();
    assert_eq!(lines.len(), inputs.len(), "{}", r.describe());
    assert_eq!(lines[0], "914403001922038216\tvalid");
    for (line, input) in lines.iter().zip(inputs).skip(1) {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 3, "{line:?}");
        assert_eq!(fields[0], input);
        assert_eq!(fields[1], "invalid");
        assert!(
            has_chinese(fields[2]),
            "reason should be a Chinese message: {line:?}"
        );
    }
    // The check-character reason names the expected character.
    assert!(
        lines[1].split('\t').nth(2).unwrap().contains('6'),
        "{}",
        lines[1]
    );
}

#[test]
fn a_single_invalid_code_fails() {
    let fx = Fixture::new();
    let r = fx.xj(&["uscc", "check", "914403001922038217"]);
    assert_eq!(r.status.code(), Some(1), "{}", r.describe());
    assert!(r.stdout.starts_with("914403001922038217\tinvalid\t"));
}
