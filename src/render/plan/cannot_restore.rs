//! The plan's "cannot be restored through Graph" section, for the terminal and in Markdown: per
//! object and rule, what differs, where to fix it and why Graph refuses. These are not failures.

use std::io::{self, Write};

use super::super::change::human::{attribute, link};
use super::super::md::{code, text};
use super::super::paint::{Painter, BOLD, DIM};
use super::super::sanitize;
use crate::diff::LinkChange;
use crate::model::LinkRef;
use crate::plan::{CannotRestore, CannotRestoreLink, Plan};

/// The section's title.
pub(super) const TITLE: &str = "Cannot be restored through Graph";

/// What an empty plan says: the objects match, or nothing that differs can be written.
pub(super) fn nothing_to_write(plan: &Plan) -> &'static str {
    if plan.cannot_restore.is_empty() {
        "No changes: the selected objects match."
    } else {
        "Nothing to write: what differs cannot be restored through Graph (below)."
    }
}

fn link_change(l: &CannotRestoreLink) -> LinkChange {
    let refs = |ends: &[crate::plan::PlanLink]| {
        ends.iter()
            .map(|e| LinkRef::new(e.id.clone(), e.display_name.clone()))
            .collect()
    };
    LinkChange {
        name: l.link.clone(),
        added: refs(&l.add),
        removed: refs(&l.remove),
        cannot_restore: None,
    }
}

pub(super) fn human(plan: &Plan, p: &Painter, out: &mut dyn Write) -> io::Result<()> {
    if plan.cannot_restore.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "{}",
        p.paint(
            BOLD,
            &format!("{TITLE} (not written, not a failure; fix it where it is managed):")
        )
    )?;
    for e in &plan.cannot_restore {
        writeln!(
            out,
            "  {} {} ({}): {}",
            e.kind,
            p.paint(BOLD, &sanitize(&e.display_name)),
            sanitize(&e.id),
            sanitize(&e.fix)
        )?;
        if e.missing {
            writeln!(out, "    missing live, and Graph cannot create it")?;
        }
        for a in &e.attributes {
            attribute(&a.as_change(), p, out)?;
        }
        for l in &e.links {
            link(&link_change(l), p, out)?;
        }
        writeln!(out, "    {} {}", p.paint(DIM, "why:"), sanitize(&e.reason))?;
    }
    Ok(())
}

pub(super) fn markdown(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    if plan.cannot_restore.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "### {TITLE}")?;
    writeln!(out)?;
    writeln!(
        out,
        "Not written and not a failure: fix these where they are managed."
    )?;
    writeln!(out)?;
    writeln!(out, "| object | differs | where to fix it | why |")?;
    writeln!(out, "| --- | --- | --- | --- |")?;
    for e in &plan.cannot_restore {
        writeln!(
            out,
            "| {} **{}** ({}) | {} | {} | {} |",
            code(e.kind.name()),
            text(&e.display_name),
            code(&e.id),
            what(e),
            text(&e.fix),
            text(&e.reason)
        )?;
    }
    Ok(())
}

/// `department`, `members` (+2 −1), or "missing live".
fn what(e: &CannotRestore) -> String {
    let mut parts: Vec<String> = Vec::new();
    if e.missing {
        parts.push("missing live".into());
    }
    for a in &e.attributes {
        parts.push(code(&a.path));
    }
    for l in &e.links {
        parts.push(format!(
            "{} (+{} −{})",
            code(&l.link),
            l.add.len(),
            l.remove.len()
        ));
    }
    parts.join(", ")
}
