//! String scalars: when a string may stand plain, how it is double-quoted, and how the link
//! comments carry display names. Quoting must satisfy two readers at once: YAML 1.2 readers
//! (libyaml behind serde_yaml) reject characters outside the printable set anywhere in a file,
//! and YAML 1.1 readers (PyYAML) also take U+0085, U+2028 and U+2029 for line breaks and fold
//! them away inside quotes. Every such character is escaped. Everything else is written exactly
//! as `serde_json::to_string` writes it, as tenantgit always has, so that files of ordinary
//! objects keep their bytes and their git blob ids.

use std::fmt::Write as _;

/// A string scalar: plain where that is unambiguous in YAML 1.1 and 1.2, else double-quoted.
pub fn emit_scalar_str(out: &mut String, s: &str) {
    if is_plain_safe(s) {
        out.push_str(s);
    } else {
        push_quoted(out, s);
    }
}

/// `s` as a YAML double-quoted scalar. The escapes are the JSON ones serde_json writes
/// (lower-case `\u00xx` for other C0 controls) plus YAML's own `\N`, `\L`, `\P`; all of them
/// are understood by libyaml and by PyYAML.
pub(crate) fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    // Runs of characters that need no escape are copied whole.
    let mut run = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            // YAML 1.1 line breaks: a raw one inside quotes would be folded into a space.
            '\u{85}' => Some("\\N"),
            '\u{2028}' => Some("\\L"),
            '\u{2029}' => Some("\\P"),
            c if must_escape(c) => None,
            _ => continue,
        };
        out.push_str(&s[run..i]);
        match escape {
            Some(escape) => out.push_str(escape),
            None => {
                write!(out, "\\u{:04x}", u32::from(c)).expect("writing to a String never fails")
            }
        }
        run = i + c.len_utf8();
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// Characters that no YAML reader accepts raw in a file: C0 controls other than tab and line
/// feed (carriage return is a line break), DEL, C1 controls, the byte order mark (libyaml
/// refuses it inside a stream) and the non-characters U+FFFE and U+FFFF. Characters beyond
/// U+FFFF are printable in YAML.
fn must_escape(c: char) -> bool {
    matches!(c, '\0'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}')
}

/// Characters that a YAML reader rejects, takes for a line break, or that `.lines()` splits on.
fn breaks_a_line_or_file(c: char) -> bool {
    must_escape(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Words some YAML reader takes for a boolean or null.
const RESERVED: &[&str] = &["null", "true", "false", "yes", "no", "on", "off", "y", "n"];

/// `8-4-4-4-12` hex digits: no YAML 1.1 or 1.2 resolver takes that for a number, date or
/// boolean (they need digits only, a dot, a colon, or a four-digit year), so ids stay unquoted
/// and look alike whatever digit they start with.
fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Bytes a plain scalar may hold (after its first).
const PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b' ' | b'_'
                    | b'.'
                    | b'-'
                    | b'/'
                    | b'@'
                    | b'+'
                    | b'('
                    | b')'
                    | b'='
                    | b','
                    | b'\''
                    | b'&'
                    | b'$'
                    | b'~'
            );
        b += 1;
    }
    table
};

fn is_plain_safe(s: &str) -> bool {
    if is_guid(s) {
        return true;
    }
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    // A leading letter, underscore or slash rules out numbers, dates, indicators and `.inf`.
    if !(first.is_ascii_alphabetic() || first == b'_' || first == b'/') {
        return false;
    }
    if bytes.last() == Some(&b' ') {
        return false;
    }
    // One pass: every byte allowed, and no two spaces in a row.
    let mut space = false;
    for &b in bytes {
        if !PLAIN[usize::from(b)] || (b == b' ' && space) {
            return false;
        }
        space = b == b' ';
    }
    !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s))
}

/// A display name as the text of a link comment. Ordinary names are written as they are; a
/// name that holds a character a reader rejects or breaks the line at, that has whitespace at
/// either end (editors and `git diff` eat or flag it), or that starts with `"` is written as a
/// double-quoted scalar, which [`decode_comment`] reads back.
pub(crate) fn push_comment(out: &mut String, name: &str) {
    let quote = name.starts_with('"')
        || name.starts_with(char::is_whitespace)
        || name.ends_with(char::is_whitespace)
        || name
            .chars()
            .any(|c| c.is_control() || breaks_a_line_or_file(c));
    if quote {
        push_quoted(out, name);
    } else {
        out.push_str(name);
    }
}

/// The display name in a link comment: a double-quoted scalar that spans the whole comment is
/// decoded, anything else is the name itself.
pub(crate) fn decode_comment(comment: &str) -> String {
    match quoted_prefix(comment) {
        Some(quoted) if quoted.len() == comment.len() => {
            decode_quoted(quoted).unwrap_or_else(|| comment.to_string())
        }
        _ => comment.to_string(),
    }
}

/// The double-quoted scalar at the start of `s` (quotes included), if `s` starts with one that
/// closes on the same line.
pub(crate) fn quoted_prefix(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('"')?;
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(&s[..i + 2]),
            _ => {}
        }
    }
    None
}

/// The string a double-quoted scalar stands for, with every YAML escape understood.
pub(crate) fn decode_quoted(quoted: &str) -> Option<String> {
    serde_yaml::from_str::<String>(quoted).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(s: &str) -> String {
        let mut out = String::new();
        emit_scalar_str(&mut out, s);
        out
    }

    #[test]
    fn ambiguous_scalars_are_quoted() {
        for s in [
            "yes",
            "No",
            "on",
            "OFF",
            "y",
            "null",
            "~",
            "1_000",
            "0x1F",
            "2024-01-01",
            ".inf",
            "12:30",
            "-1",
            "+1",
            "",
            " lead",
            "trail ",
            "two  spaces",
            "a: b",
            "a #b",
            "@odata.type",
            "*alias",
            "&anchor",
            "!tag",
            "%dir",
            "[x]",
            "{x}",
            "'q'",
            "\"q\"",
            "line\nbreak",
            "Zoë",
            "tab\t",
        ] {
            let out = quoted(s);
            assert!(out.starts_with('"'), "{s:?} should be quoted, got {out}");
            let back: String = serde_yaml::from_str(&out).unwrap();
            assert_eq!(back, s);
        }
        for s in [
            "Alice Smith",
            "alice@contoso.com",
            "Sales",
            "abc-123",
            "/path/x",
        ] {
            assert_eq!(quoted(s), s);
        }
    }

    /// Same object, same bytes: strings without the newly escaped characters are quoted exactly
    /// as before (with `serde_json::to_string`), so existing snapshot repositories see no change.
    #[test]
    fn ordinary_strings_keep_their_bytes() {
        let mut corpus: Vec<String> = [
            "Alice Smith",
            "",
            " ",
            "yes",
            "Zoë Ångström",
            "Renée O'Brien-Müller",
            "東京都 渋谷区",
            "김민준",
            "Москва",
            "مرحبا",
            "👍🏽 team 🚀",
            "\u{1f600}\u{10000}\u{10ffff}",
            "say \"hi\"",
            "back\\slash \\n not a newline",
            "tab\there",
            "line one\nline two\r\n",
            "\u{0}\u{1}\u{8}\u{b}\u{c}\u{1b}\u{1f}",
            "a: b # c",
            "{[*&!|>'%@`]}",
            "\u{a0}non-breaking\u{a0}",
            "\u{d7ff}\u{e000}\u{fffd}\u{fdd0}",
            "2024-01-01T10:00:00Z",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every character from space to U+07FF that is not newly escaped, one string each.
        corpus.extend(
            (0x20u32..0x800)
                .filter_map(char::from_u32)
                .filter(|c| !('\u{7f}'..='\u{9f}').contains(c))
                .map(|c| format!("x{c}")),
        );
        for s in &corpus {
            let mut out = String::new();
            emit_scalar_str(&mut out, s);
            if out.starts_with('"') {
                assert_eq!(out, serde_json::to_string(s).unwrap(), "{s:?}");
            } else {
                assert_eq!(&out, s);
            }
        }
    }

    #[test]
    fn characters_yaml_readers_reject_or_fold_are_escaped() {
        for (s, want) in [
            ("\u{7f}", r#""\u007f""#),
            ("job\u{92}s", r#""job\u0092s""#),
            ("\u{80}\u{9f}", r#""\u0080\u009f""#),
            ("a\u{85}b", r#""a\Nb""#),
            ("a\u{2028}b", r#""a\Lb""#),
            ("a\u{2029}b", r#""a\Pb""#),
            ("\u{feff}bom", r#""\ufeffbom""#),
            ("\u{fffe}\u{ffff}", r#""\ufffe\uffff""#),
        ] {
            let out = quoted(s);
            assert_eq!(out, want, "{s:?}");
            assert_eq!(serde_yaml::from_str::<String>(&out).unwrap(), s);
            assert_eq!(decode_quoted(&out).as_deref(), Some(s));
        }
    }

    #[test]
    fn comments_keep_ordinary_names_and_quote_the_rest() {
        for name in [
            "Alice Smith",
            "Zoë",
            "a  # b",
            "O\"Brien",
            "x \"y\"",
            "日本",
        ] {
            let mut out = String::new();
            push_comment(&mut out, name);
            assert_eq!(out, name);
            assert_eq!(decode_comment(&out), name);
        }
        for (name, want) in [
            ("\"quoted\"", r#""\"quoted\"""#),
            (" lead", r#"" lead""#),
            ("trail ", r#""trail ""#),
            ("tab\tname", r#""tab\tname""#),
            ("two\nlines", r#""two\nlines""#),
            ("job\u{92}", r#""job\u0092""#),
            ("a\u{2028}b", r#""a\Lb""#),
            ("\u{3000}wide", "\"\u{3000}wide\""),
        ] {
            let mut out = String::new();
            push_comment(&mut out, name);
            assert_eq!(out, want, "{name:?}");
            assert_eq!(decode_comment(&out), name);
        }
        // A comment that only starts like a quoted scalar is the name itself.
        assert_eq!(decode_comment("\"Bob\" Smith"), "\"Bob\" Smith");
        assert_eq!(decode_comment("\"open"), "\"open");
    }

    #[test]
    fn quoted_prefix_finds_the_closing_quote() {
        assert_eq!(quoted_prefix(r#""a\"b"  # c"#), Some(r#""a\"b""#));
        assert_eq!(quoted_prefix(r#""a\\"b"#), Some(r#""a\\""#));
        assert_eq!(quoted_prefix(r#""open"#), None);
        assert_eq!(quoted_prefix("plain"), None);
    }
}
