//! Files written before the escaping fix. Older tenantgit quoted strings with
//! `serde_json::to_string`, which left DEL, C1 controls, U+0085, U+2028, U+2029, U+FEFF,
//! U+FFFE and U+FFFF raw inside double quotes, and wrote U+2028 and friends raw into link
//! comments. libyaml rejects the first group anywhere in a file and takes the line breaks for
//! line breaks, so such a backup could not be read, diffed or restored from. Its text is
//! repaired before parsing: inside double-quoted scalars each such character becomes the escape
//! the emitter writes today (the string reads back exactly as it was in the tenant); inside a
//! comment it becomes a space, as older tenantgit did with control characters. Text that holds
//! none of them, which includes everything tenantgit writes today, is parsed as it is.

use std::borrow::Cow;

use super::scalar::push_quoted;

/// Characters older tenantgit wrote raw that a YAML reader rejects or breaks a line at.
fn is_legacy_raw(c: char) -> bool {
    matches!(
        c,
        '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
    )
}

/// The text with raw characters inside double quotes escaped and inside comments blanked; the
/// text itself when it holds none.
pub(crate) fn repair(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_legacy_raw) {
        return Cow::Borrowed(text);
    }
    #[derive(PartialEq)]
    enum At {
        Plain,
        Quoted { escaped: bool },
        Comment,
    }
    let mut at = At::Plain;
    let mut prev = '\n';
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match at {
            At::Quoted { escaped: true } => {
                at = At::Quoted { escaped: false };
                out.push(c);
            }
            At::Quoted { escaped: false } => {
                match c {
                    '\\' => at = At::Quoted { escaped: true },
                    '"' => at = At::Plain,
                    _ => {}
                }
                if is_legacy_raw(c) {
                    // `push_quoted` of one character is `"` + its escape + `"`.
                    let mut escaped = String::new();
                    push_quoted(&mut escaped, c.encode_utf8(&mut [0; 4]));
                    out.push_str(&escaped[1..escaped.len() - 1]);
                } else {
                    out.push(c);
                }
            }
            At::Comment => {
                if c == '\n' {
                    at = At::Plain;
                }
                out.push(if is_legacy_raw(c) { ' ' } else { c });
            }
            At::Plain => {
                match c {
                    '"' => at = At::Quoted { escaped: false },
                    '#' if prev == ' ' || prev == '\n' => at = At::Comment,
                    _ => {}
                }
                out.push(c);
            }
        }
        prev = c;
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_without_raw_characters_is_untouched() {
        let text = "id: x\njobTitle: \"a\\u0092b\\Lc\"\nmembers:\n- y  # \"n\\u0092\"\n";
        assert!(matches!(repair(text), Cow::Borrowed(_)));
    }

    #[test]
    fn raw_characters_are_escaped_in_quotes_and_blanked_in_comments() {
        let text = "id: x\n\
                    jobTitle: \"Director\u{92}s \\\"Office\\\"\u{7f}\"\n\
                    city: \"a\u{2028}b\u{85}c\"\n\
                    \"k\u{feff}\": \"\\\\\u{fffe}\"\n\
                    members:\n\
                    - y  # Grace\u{2028}Olsen \"x\u{92}\"\n";
        let repaired = repair(text);
        assert_eq!(
            repaired,
            "id: x\n\
             jobTitle: \"Director\\u0092s \\\"Office\\\"\\u007f\"\n\
             city: \"a\\Lb\\Nc\"\n\
             \"k\\ufeff\": \"\\\\\\ufffe\"\n\
             members:\n\
             - y  # Grace Olsen \"x \"\n"
        );
        let value: serde_json::Value = serde_yaml::from_str(&repaired).expect("valid now");
        assert_eq!(value["jobTitle"], "Director\u{92}s \"Office\"\u{7f}");
        assert_eq!(value["city"], "a\u{2028}b\u{85}c");
        assert_eq!(value["k\u{feff}"], "\\\u{fffe}");
    }
}
