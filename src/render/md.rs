//! Markdown building blocks shared by the Markdown renderings: code spans, escaped text and
//! HTML, value cells and link-change tables. Everything that comes from the tenant goes through
//! them, so that a display name cannot break a table or inject HTML.

use std::io::{self, Write};

use serde_json::Value;

use super::{inline, sanitize};
use crate::diff::LinkChange;

/// A value as a one-line JSON code span.
pub(super) fn value(v: &Value) -> String {
    code(&inline(v))
}

/// The elements of a set that one side has and the other lacks, one per line.
pub(super) fn elements(sign: &str, items: &[&Value]) -> String {
    if items.is_empty() {
        return if sign == "+" {
            "_none added_"
        } else {
            "_none removed_"
        }
        .into();
    }
    items
        .iter()
        .map(|v| format!("{sign} {}", code(&inline(v))))
        .collect::<Vec<_>>()
        .join("<br>")
}

/// A code span that holds any text: a fence longer than any backtick run inside, `|` escaped
/// for tables (GitHub honours `\|` inside code spans in table cells), line breaks folded.
pub(super) fn code(s: &str) -> String {
    let s = sanitize(s).replace('|', "\\|");
    let mut longest = 0;
    let mut run = 0;
    for ch in s.chars() {
        run = if ch == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    if s.starts_with('`') || s.ends_with('`') {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

/// Tenant text in a table cell or paragraph: HTML and Markdown specials escaped.
pub(super) fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in sanitize(s).chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(ch);
            }
            c => out.push(c),
        }
    }
    out
}

/// Tenant text inside HTML (the `<summary>` line).
pub(super) fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in sanitize(s).chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// A link change as a table of removed (−) and added (+) ends; `verbs` word the heading
/// ("added"/"removed" in a report, "to add"/"to remove" in a plan).
pub(super) fn link_table(
    out: &mut dyn Write,
    l: &LinkChange,
    verbs: (&str, &str),
) -> io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "**{}**: {} {}, {} {}",
        text(&l.name),
        l.added.len(),
        verbs.0,
        l.removed.len(),
        verbs.1
    )?;
    writeln!(out)?;
    writeln!(out, "| | id | display name |")?;
    writeln!(out, "| --- | --- | --- |")?;
    for (sign, r) in l
        .removed
        .iter()
        .map(|r| ("−", r))
        .chain(l.added.iter().map(|r| ("+", r)))
    {
        writeln!(
            out,
            "| {sign} | {} | {} |",
            code(&r.id),
            r.display_name.as_deref().map(text).unwrap_or_default()
        )?;
    }
    Ok(())
}
