//! The plan for the terminal, in the spirit of `terraform plan`: one block per object
//! (`~ users Alice Smith (id)` with `department: null → "Sales"`, `members: +3 −1`), then notes
//! about objects without actions, what is kept, refusals and a summary line.

use std::collections::BTreeSet;
use std::io::{self, Write};

use super::super::change::human::{attribute, link, one_sided};
use super::super::paint::{Painter, BOLD, DIM, GREEN, RED};
use super::super::{sanitize, Style};
use super::{blocks, notes_of};
use crate::model::values_equal;
use crate::plan::{plural, Note, Op, Plan};

pub(in crate::render) fn render(plan: &Plan, style: &Style, out: &mut dyn Write) -> io::Result<()> {
    let p = Painter { color: style.color };
    writeln!(
        out,
        "{}",
        p.paint(
            BOLD,
            &format!("Plan: make the tenant match {}", sanitize(&plan.desired))
        )
    )?;
    if plan.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", super::cannot_restore::nothing_to_write(plan))?;
    }
    for b in blocks(plan) {
        writeln!(out)?;
        let (sign, color, what) = b.headline();
        write!(
            out,
            "{} {} {} ({})",
            p.paint(color, sign),
            b.kind,
            p.paint(BOLD, &sanitize(b.display_name)),
            sanitize(b.id)
        )?;
        if !what.is_empty() {
            write!(out, " {what}")?;
        }
        writeln!(out)?;
        for a in &b.actions {
            for attr in &a.attributes {
                if values_equal(&attr.old, &attr.new) {
                    continue;
                }
                match a.op {
                    Op::Create { .. } | Op::Invite { .. } => {
                        one_sided(&attr.path, &attr.new, GREEN, &p, out)?
                    }
                    _ => attribute(&attr.as_change(), &p, out)?,
                }
            }
        }
        for l in b.links() {
            link(&l, &p, out)?;
        }
        for n in notes_of(plan, b.kind, b.id) {
            writeln!(
                out,
                "    {} {}",
                p.paint(DIM, "note:"),
                sanitize(&n.message)
            )?;
        }
    }
    loose_notes(plan, &p, out)?;
    super::cannot_restore::human(plan, &p, out)?;
    kept(plan, &p, out)?;
    if !plan.refusals.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", p.paint(RED, "Refused without --force:"))?;
        for r in &plan.refusals {
            writeln!(out, "  ! {}", sanitize(&r.message()))?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "{}",
        p.paint(BOLD, &format!("Summary: {}", summary_line(plan)))
    )
}

/// Notes about objects without actions (secrets that cannot be restored, kinds that cannot be
/// created, re-created objects recognised).
fn loose_notes(plan: &Plan, p: &Painter, out: &mut dyn Write) -> io::Result<()> {
    let acted: BTreeSet<(&str, &str)> = plan
        .actions
        .iter()
        .map(|a| (a.kind.as_str(), a.id.as_str()))
        .collect();
    let loose: Vec<&Note> = plan
        .notes
        .iter()
        .filter(|n| !acted.contains(&(n.kind.as_str(), n.id.as_str())))
        .collect();
    if loose.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "{}", p.paint(BOLD, "Notes:"))?;
    for n in loose {
        writeln!(
            out,
            "  {} {} ({}): {}",
            n.kind,
            sanitize(&n.display_name),
            sanitize(&n.id),
            sanitize(&n.message)
        )?;
    }
    Ok(())
}

/// Live objects that are not on the desired side and stay.
fn kept(plan: &Plan, p: &Painter, out: &mut dyn Write) -> io::Result<()> {
    if plan.kept.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    let title = if plan.request.prune {
        "Kept (live, not on the desired side, cannot be deleted):"
    } else {
        "Kept (live, not on the desired side; use --prune to delete):"
    };
    writeln!(out, "{}", p.paint(BOLD, title))?;
    for k in &plan.kept {
        writeln!(
            out,
            "  = {} {} ({})",
            k.kind,
            sanitize(&k.display_name),
            sanitize(&k.id)
        )?;
    }
    Ok(())
}

fn summary_line(plan: &Plan) -> String {
    let s = plan.summary();
    // The hint only where there is something --prune would delete.
    let kept = if plan.request.prune || s.kept == 0 {
        format!("{} kept", s.kept)
    } else {
        format!("{} kept (use --prune to delete)", s.kept)
    };
    // Contained children only where there are some, so that plans without stay as they were.
    let children = if s.children_write + s.children_remove == 0 {
        String::new()
    } else {
        format!(
            "{} to write, {} to remove, ",
            plural(s.children_write, "child", "children"),
            s.children_remove
        )
    };
    format!(
        "{} to update, {} to restore, {} to create, {} to delete, {}, {}, {children}{kept}",
        s.update,
        s.restore,
        s.create,
        s.delete,
        plural(s.links_add, "link to add", "links to add"),
        plural(s.links_remove, "link to remove", "links to remove"),
    )
}
