//! Text normalisation helpers shared by the code parsers (full-width → half-width, trimming).

/// Maps a full-width ASCII variant (U+FF01..=U+FF5E) to its half-width counterpart and the
/// ideographic space (U+3000) to an ASCII space; every other character is returned unchanged.
pub fn to_half_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// Converts full-width ASCII characters to half-width and trims surrounding whitespace.
///
/// Interior characters (including interior whitespace) are otherwise left untouched.
pub fn normalize_text(input: &str) -> String {
    let half: String = input.chars().map(to_half_width).collect();
    half.trim().to_owned()
}

/// Normalises an identifier typed or pasted by a person: full-width → half-width, all
/// whitespace removed (leading, trailing and interior), ASCII letters upper-cased.
///
/// Non-ASCII characters are kept as they are so that a later validation step can point at them.
pub fn normalize_code(input: &str) -> String {
    input
        .chars()
        .map(to_half_width)
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Renders a character for an error message, spelling out invisible control characters.
pub(crate) fn display_char(c: char) -> String {
    if c.is_control() {
        format!("U+{:04X}", c as u32)
    } else {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_width_conversion() {
        assert_eq!(to_half_width('Ａ'), 'A');
        assert_eq!(to_half_width('９'), '9');
        assert_eq!(to_half_width('～'), '~');
        assert_eq!(to_half_width('！'), '!');
        assert_eq!(to_half_width('\u{3000}'), ' ');
        assert_eq!(to_half_width('信'), '信');
    }

    #[test]
    fn normalize_text_trims_and_converts() {
        assert_eq!(normalize_text("\u{3000} ＡＢＣ　ｄｅｆ \t"), "ABC def");
        assert_eq!(normalize_text("信用 中国"), "信用 中国");
        assert_eq!(normalize_text(""), "");
    }

    #[test]
    fn normalize_code_removes_whitespace_and_uppercases() {
        assert_eq!(normalize_code(" ９１４４ ０３　x\t"), "914403X");
        assert_eq!(normalize_code("abc"), "ABC");
        // Non-ASCII letters are not case-folded into ASCII look-alikes.
        assert_eq!(normalize_code("ı"), "ı");
    }
}
