//! The Markdown rendering, for pull-request comments (GitHub-flavoured): a title naming both
//! sides, a summary table, then one collapsible `<details>` section per object with a table of
//! attribute changes (path | backup | current) and tables of link changes. Values are one-line
//! JSON in code spans; everything that comes from the tenant is escaped so that a display name
//! cannot break the table or inject HTML.

use std::io::{self, Write};

use serde_json::Value;

use super::{inline, sanitize};
use crate::diff::{Change, ChangeKind, KindSummary, LinkChange, Report, Side};

pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "## tenantgit diff")?;
    writeln!(out)?;
    writeln!(out, "**Backup:** {}  ", side(&report.from))?;
    writeln!(out, "**Current:** {}", side(&report.to))?;
    writeln!(out)?;
    if report.is_empty() {
        return writeln!(out, "No differences.");
    }
    writeln!(out, "| kind | added | removed | modified |")?;
    writeln!(out, "| --- | ---: | ---: | ---: |")?;
    let row = |s: &KindSummary| format!("{} | {} | {}", s.added, s.removed, s.modified);
    for (kind, s) in report.summary_in_order() {
        writeln!(out, "| {} | {} |", text(&kind), row(&s))?;
    }
    let t = report.totals();
    writeln!(
        out,
        "| **total** | **{}** | **{}** | **{}** |",
        t.added, t.removed, t.modified
    )?;
    let live = report.to.commit.is_none();
    for change in &report.changes {
        writeln!(out)?;
        object(change, live, out)?;
    }
    Ok(())
}

fn side(s: &Side) -> String {
    let mut out = code(&s.label);
    if let Some(t) = &s.time {
        out.push_str(", ");
        out.push_str(&text(t));
    }
    out
}

fn object(c: &Change, live: bool, out: &mut dyn Write) -> io::Result<()> {
    let (sign, word) = match c.change {
        ChangeKind::Added => ("+", "added"),
        ChangeKind::Removed { .. } => ("−", "removed"),
        ChangeKind::Modified => ("~", "modified"),
    };
    writeln!(
        out,
        "<details><summary>{sign} <code>{}</code> <b>{}</b> ({word})</summary>",
        html(c.key.kind),
        html(&c.display_name)
    )?;
    writeln!(out)?;
    writeln!(out, "Id: {}", code(&c.key.id))?;
    if let ChangeKind::Removed { restorable } = &c.change {
        writeln!(out)?;
        match restorable {
            Some(info) => {
                write!(out, "Soft-deleted")?;
                if let Some(at) = &info.deleted_at {
                    write!(out, " {}", text(at))?;
                }
                match &info.restorable_until {
                    Some(until) => writeln!(out, "; restorable until {}.", text(until))?,
                    None => writeln!(out, "; restorable.")?,
                }
            }
            None if live => writeln!(out, "Gone: not in the recycle bin.")?,
            None => {}
        }
    }
    if !c.attributes.is_empty() {
        writeln!(out)?;
        writeln!(out, "| path | backup | current |")?;
        writeln!(out, "| --- | --- | --- |")?;
        for a in &c.attributes {
            let (old, new) = match a.set_delta() {
                // Sets: what each side has that the other lacks.
                Some((added, removed)) if c.change == ChangeKind::Modified => {
                    (elements("−", &removed), elements("+", &added))
                }
                _ => (value(&a.old), value(&a.new)),
            };
            writeln!(out, "| {} | {old} | {new} |", code(&a.path))?;
        }
    }
    for l in &c.links {
        link_table(out, l, ("added", "removed"))?;
    }
    writeln!(out)?;
    writeln!(out, "</details>")
}

pub(super) fn value(v: &Value) -> String {
    code(&inline(v))
}

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
