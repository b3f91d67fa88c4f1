//! The plan in Markdown, for pull requests: refusals first, a summary table, then one
//! collapsible section per object (attribute table live | desired, link tables, notes) and the
//! list of what is kept.

use std::io::{self, Write};

use super::super::md::{code, elements, html, link_table, text, value};
use super::{blocks, notes_of};
use crate::model::values_equal;
use crate::plan::Plan;

pub(in crate::render) fn render(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "## tenantgit plan")?;
    writeln!(out)?;
    writeln!(out, "**Desired:** {}", code(&plan.desired))?;
    writeln!(out)?;
    if !plan.refusals.is_empty() {
        writeln!(out, "> **Refused without `--force`:**")?;
        for r in &plan.refusals {
            writeln!(out, "> - {}", text(&r.message()))?;
        }
        writeln!(out)?;
    }
    let s = plan.summary();
    writeln!(
        out,
        "| update | restore | create | delete | links to add | links to remove | kept |"
    )?;
    writeln!(out, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")?;
    writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} |",
        s.update, s.restore, s.create, s.delete, s.links_add, s.links_remove, s.kept
    )?;
    if s.children_write + s.children_remove > 0 {
        writeln!(out)?;
        writeln!(
            out,
            "Contained children: {} to write, {} to remove.",
            s.children_write, s.children_remove
        )?;
    }
    if plan.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", super::cannot_restore::nothing_to_write(plan))?;
    }
    for b in blocks(plan) {
        writeln!(out)?;
        let (sign, _, what) = b.headline();
        let what = if what.is_empty() { "update" } else { what };
        writeln!(
            out,
            "<details><summary>{sign} <code>{}</code> <b>{}</b> ({})</summary>",
            html(b.kind),
            html(b.display_name),
            html(what)
        )?;
        writeln!(out)?;
        writeln!(out, "Id: {}", code(b.id))?;
        let attrs: Vec<_> = b
            .actions
            .iter()
            .flat_map(|a| a.attributes.iter())
            .filter(|a| !values_equal(&a.old, &a.new))
            .collect();
        if !attrs.is_empty() {
            writeln!(out)?;
            writeln!(out, "| path | live | desired |")?;
            writeln!(out, "| --- | --- | --- |")?;
            for a in attrs {
                let c = a.as_change();
                let (old, new) = match c.set_delta() {
                    Some((added, removed)) => (elements("−", &removed), elements("+", &added)),
                    None => (value(&a.old), value(&a.new)),
                };
                writeln!(out, "| {} | {old} | {new} |", code(&a.path))?;
            }
        }
        for l in b.links() {
            link_table(out, &l, ("to add", "to remove"))?;
        }
        let notes = notes_of(plan, b.kind, b.id);
        if !notes.is_empty() {
            writeln!(out)?;
            for n in notes {
                writeln!(out, "- _Note:_ {}", text(&n.message))?;
            }
        }
        writeln!(out)?;
        writeln!(out, "</details>")?;
    }
    super::cannot_restore::markdown(plan, out)?;
    if !plan.kept.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "**Kept** (live, not on the desired side{}):",
            if plan.request.prune {
                ""
            } else {
                "; `--prune` deletes them"
            }
        )?;
        writeln!(out)?;
        for k in &plan.kept {
            writeln!(
                out,
                "- {} {} ({})",
                code(k.kind.name()),
                text(&k.display_name),
                code(&k.id)
            )?;
        }
    }
    Ok(())
}
