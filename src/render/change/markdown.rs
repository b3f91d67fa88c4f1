//! One changed object in Markdown: a collapsible `<details>` section with a table of attribute
//! changes (path | old side | new side) and tables of link changes. Values are one-line JSON in
//! code spans.

use std::io::{self, Write};

use super::super::md::{code, elements, html, link_table, text, value};
use super::NewSide;
use crate::diff::{Change, ChangeKind};

/// A changed object as a collapsible section. `columns` name the old and new side in the
/// attribute table.
pub(in crate::render) fn object(
    c: &Change,
    new_side: NewSide,
    columns: (&str, &str),
    out: &mut dyn Write,
) -> io::Result<()> {
    let (sign, word) = match c.change {
        ChangeKind::Added => ("+", new_side.added()),
        ChangeKind::Removed { restorable: None } if new_side == NewSide::ReadBack => {
            ("−", new_side.removed())
        }
        ChangeKind::Removed { .. } => ("−", "removed"),
        ChangeKind::Modified => ("~", "modified"),
    };
    writeln!(
        out,
        "<details><summary>{sign} <code>{}</code> <b>{}</b> ({word})</summary>",
        html(c.key.kind.name()),
        html(&c.display_name)
    )?;
    writeln!(out)?;
    writeln!(out, "Id: {}", code(&c.key.id))?;
    if let ChangeKind::Removed { restorable } = &c.change {
        match restorable {
            Some(info) => {
                writeln!(out)?;
                write!(out, "Soft-deleted")?;
                if let Some(at) = &info.deleted_at {
                    write!(out, " {}", text(at))?;
                }
                match &info.restorable_until {
                    Some(until) => writeln!(out, "; restorable until {}.", text(until))?,
                    None => writeln!(out, "; restorable.")?,
                }
            }
            None if new_side == NewSide::Live => {
                writeln!(out)?;
                writeln!(out, "Gone: not in the recycle bin.")?;
            }
            // A blank line with nothing after it would double the one before the table.
            None => {}
        }
    }
    if !c.attributes.is_empty() {
        writeln!(out)?;
        writeln!(out, "| path | {} | {} |", columns.0, columns.1)?;
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
    let held = super::cannot_restore(c);
    if !held.is_empty() {
        writeln!(out)?;
        let removed = matches!(c.change, ChangeKind::Removed { .. });
        for (rule, what) in held {
            // A removed object: its creation is what Graph refuses, not each attribute.
            let what = if removed {
                "the object".to_string()
            } else {
                what.iter().map(|w| code(w)).collect::<Vec<_>>().join(", ")
            };
            writeln!(
                out,
                "- _Cannot be restored through Graph:_ {what}: {} ({})",
                text(&rule.fix),
                text(&rule.reason)
            )?;
        }
    }
    writeln!(out)?;
    writeln!(out, "</details>")
}
