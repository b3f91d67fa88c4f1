//! One changed object for the terminal, in the spirit of `terraform plan`: a header line with
//! `~`, `+` or `-`, then each attribute as `path: old → new`, long or multi-line values as a
//! unified diff, set-like arrays and links as the elements added and removed.

use std::io::{self, Write};

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use super::super::paint::{Painter, BOLD, DIM, GREEN, RED, YELLOW};
use super::super::{inline, sanitize};
use super::NewSide;
use crate::diff::{AttributeChange, Change, ChangeKind, LinkChange};
use crate::model::LinkRef;

/// Values longer than this (as one line of JSON) are shown as a unified diff.
const INLINE_MAX: usize = 60;

/// A changed object: its header line, then its attributes and links.
pub(in crate::render) fn object(
    change: &Change,
    new_side: NewSide,
    p: &Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    let (sign, color) = match change.change {
        ChangeKind::Added => ("+", GREEN),
        ChangeKind::Removed { .. } => ("-", RED),
        ChangeKind::Modified => ("~", YELLOW),
    };
    write!(
        out,
        "{} {} {} ({})",
        p.paint(color, sign),
        change.key.kind,
        p.paint(BOLD, &sanitize(&change.display_name)),
        sanitize(&change.key.id)
    )?;
    match &change.change {
        ChangeKind::Added => write!(out, " {}", new_side.added())?,
        ChangeKind::Modified => {}
        ChangeKind::Removed { restorable } => match restorable {
            Some(info) => {
                write!(out, " removed: soft-deleted")?;
                if let Some(at) = &info.deleted_at {
                    write!(out, " {}", sanitize(at))?;
                }
                match &info.restorable_until {
                    Some(until) => write!(out, ", restorable until {}", sanitize(until))?,
                    None => write!(out, ", restorable")?,
                }
            }
            None => write!(out, " {}", new_side.removed())?,
        },
    }
    writeln!(out)?;
    for a in &change.attributes {
        match change.change {
            ChangeKind::Modified => attribute(a, p, out)?,
            ChangeKind::Added => one_sided(&a.path, &a.new, GREEN, p, out)?,
            ChangeKind::Removed { .. } => one_sided(&a.path, &a.old, RED, p, out)?,
        }
    }
    for l in &change.links {
        link(l, p, out)?;
    }
    let removed = matches!(change.change, ChangeKind::Removed { .. });
    for (rule, what) in super::cannot_restore(change) {
        // A removed object: its creation is what Graph refuses, not each attribute.
        let what = if removed {
            "the object".to_string()
        } else {
            what.join(", ")
        };
        writeln!(
            out,
            "    {} {what}: {} ({})",
            p.paint(DIM, "cannot be restored through Graph:"),
            sanitize(&rule.fix),
            sanitize(&rule.reason)
        )?;
    }
    Ok(())
}

/// A changed attribute of a modified object.
pub(in crate::render) fn attribute(
    a: &AttributeChange,
    p: &Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    if let Some((added, removed)) = a.set_delta() {
        writeln!(out, "    {}: +{} −{}", a.path, added.len(), removed.len())?;
        for v in removed {
            writeln!(
                out,
                "      {} {}",
                p.paint(RED, "-"),
                p.paint(RED, &inline(v))
            )?;
        }
        for v in added {
            writeln!(
                out,
                "      {} {}",
                p.paint(GREEN, "+"),
                p.paint(GREEN, &inline(v))
            )?;
        }
        return Ok(());
    }
    let (old, new) = (inline(&a.old), inline(&a.new));
    if old.len() <= INLINE_MAX
        && new.len() <= INLINE_MAX
        && !is_multiline(&a.old)
        && !is_multiline(&a.new)
    {
        return writeln!(
            out,
            "    {}: {} → {}",
            a.path,
            p.paint(RED, &old),
            p.paint(GREEN, &new)
        );
    }
    writeln!(out, "    {}:", a.path)?;
    let (old, new) = (block_text(&a.old), block_text(&a.new));
    let diff = TextDiff::from_lines(&old, &new);
    for (i, group) in diff.grouped_ops(3).iter().enumerate() {
        if i > 0 {
            writeln!(out, "      {}", p.paint(DIM, "⋯"))?;
        }
        for op in group {
            for c in diff.iter_changes(op) {
                let line = sanitize(c.value().trim_end_matches('\n'));
                match c.tag() {
                    ChangeTag::Delete => {
                        writeln!(out, "      {}", p.paint(RED, &format!("- {line}")))?
                    }
                    ChangeTag::Insert => {
                        writeln!(out, "      {}", p.paint(GREEN, &format!("+ {line}")))?
                    }
                    ChangeTag::Equal => writeln!(out, "        {line}")?,
                }
            }
        }
    }
    Ok(())
}

/// An attribute of an added or removed object: only the side that has it.
pub(in crate::render) fn one_sided(
    path: &str,
    value: &Value,
    color: &str,
    p: &Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    let text = inline(value);
    if text.len() <= INLINE_MAX && !is_multiline(value) {
        return writeln!(out, "    {path}: {}", p.paint(color, &text));
    }
    writeln!(out, "    {path}:")?;
    for line in block_text(value).lines() {
        writeln!(out, "        {}", p.paint(color, &sanitize(line)))?;
    }
    Ok(())
}

/// A link change: counts, then the ends removed and added.
pub(in crate::render) fn link(l: &LinkChange, p: &Painter, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "    {}: +{} −{}",
        l.name,
        l.added.len(),
        l.removed.len()
    )?;
    let end = |r: &LinkRef| match r.display_name.as_deref() {
        Some(n) => format!("{} {}", sanitize(&r.id), sanitize(n)),
        None => sanitize(&r.id).into_owned(),
    };
    for r in &l.removed {
        writeln!(out, "      {}", p.paint(RED, &format!("- {}", end(r))))?;
    }
    for r in &l.added {
        writeln!(out, "      {}", p.paint(GREEN, &format!("+ {}", end(r))))?;
    }
    Ok(())
}

fn is_multiline(v: &Value) -> bool {
    matches!(v, Value::String(s) if s.contains('\n'))
}

/// A value as lines for a unified diff: strings as their text, structures as YAML, nothing for
/// null (null and absent are one).
fn block_text(v: &Value) -> String {
    let mut text = match v {
        Value::Null => return String::new(),
        Value::String(s) => s.clone(),
        Value::Object(_) | Value::Array(_) => crate::yaml::emit_value(v),
        other => inline(other),
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}
