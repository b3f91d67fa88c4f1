//! Renderings of restore/apply plans and of apply reports, in the three formats of the diff
//! renderers and in their style. Human: one block per object in the spirit of `terraform plan`
//! (`~ users Alice Smith (id)` with `department: null → "Sales"`, `members: +3 −1`), then what
//! is kept, notes, refusals and a summary line; each write's outcome with its HTTP status and,
//! on failure, Graph's request id. JSON: versioned data, described below. Markdown: a summary
//! table and one collapsible section per object, for pull requests.
//!
//! JSON plan: the plan document itself (`crate::plan::to_json`, described by
//! `schema/plan.schema.json`), which `apply --plan` takes back.
//!
//! JSON apply report: `{"version", "type": "apply", "writes", "failed",
//! "seconds", "outcomes": [{"kind", "id", "displayName", "action", "method", "path", "status",
//! "ok", "converged", "skipped", "error", "requestId", "newId", "note"}], "verified",
//! "verifyError", "remainingDrift": [changes as in the diff report]}`.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};

use serde_json::{json, Value};

use super::human::{self, Painter, BOLD, DIM, GREEN, RED, YELLOW};
use super::markdown::{code, elements, html, link_table, text, value};
use super::{sanitize, Format, Style};
use crate::apply::{ApplyReport, WriteOutcome};
use crate::diff::{LinkChange, Report, Side};
use crate::model::{values_equal, LinkRef};
use crate::plan::{Action, Note, Op, Plan, PlanLink};

/// Bumped whenever the JSON shape of apply reports changes incompatibly.
pub const APPLY_FORMAT_VERSION: u32 = 1;

/// Writes a plan in the given format.
pub fn render_plan(
    plan: &Plan,
    format: Format,
    style: &Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    match format {
        Format::Human => plan_human(plan, style, &mut out)?,
        Format::Json => plan_json(plan, &mut out)?,
        Format::Markdown => plan_markdown(plan, &mut out)?,
    }
    out.flush()
}

/// Writes an apply report in the given format.
pub fn render_apply(
    report: &ApplyReport,
    format: Format,
    style: &Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    match format {
        Format::Human => apply_human(report, style, &mut out)?,
        Format::Json => apply_json(report, &mut out)?,
        Format::Markdown => apply_markdown(report, &mut out)?,
    }
    out.flush()
}

/// The actions of one object, in plan order.
struct Block<'a> {
    kind: &'a str,
    id: &'a str,
    display_name: &'a str,
    actions: Vec<&'a Action>,
}

impl Block<'_> {
    fn has(&self, f: impl Fn(&Op) -> bool) -> bool {
        self.actions.iter().any(|a| f(&a.op))
    }

    /// Sign and what happens to the object as a whole.
    fn headline(&self) -> (&'static str, &'static str, String) {
        if self.has(|o| matches!(o, Op::Restore)) {
            ("+", GREEN, "restore from the recycle bin".into())
        } else if self.has(|o| matches!(o, Op::Create { .. })) {
            ("+", GREEN, "create (gets a new id)".into())
        } else if let Some(soft) = self.actions.iter().find_map(|a| match a.op {
            Op::Delete { soft } => Some(soft),
            _ => None,
        }) {
            let how = if soft {
                "delete (to the recycle bin)"
            } else {
                "delete (permanently)"
            };
            ("-", RED, how.into())
        } else {
            ("~", YELLOW, String::new())
        }
    }

    /// Link changes merged per link name: `members: +3 −1`.
    fn links(&self) -> Vec<LinkChange> {
        let mut by_name: BTreeMap<&str, LinkChange> = BTreeMap::new();
        let refs = |ends: &[PlanLink]| -> Vec<LinkRef> {
            ends.iter()
                .map(|e| LinkRef::new(e.id.clone(), e.display_name.clone()))
                .collect()
        };
        let mut order = Vec::new();
        for a in &self.actions {
            let (link, added, removed) = match &a.op {
                Op::AddLinks { link, ends } => (link, refs(ends), Vec::new()),
                Op::RemoveLinks { link, ends } => (link, Vec::new(), refs(ends)),
                _ => continue,
            };
            if !by_name.contains_key(link.as_str()) {
                order.push(link.as_str());
            }
            let e = by_name.entry(link).or_insert_with(|| LinkChange {
                name: link.clone(),
                added: Vec::new(),
                removed: Vec::new(),
            });
            e.added.extend(added);
            e.removed.extend(removed);
        }
        order
            .into_iter()
            .filter_map(|n| by_name.remove(n))
            .collect()
    }
}

fn blocks(plan: &Plan) -> Vec<Block<'_>> {
    let mut index: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut out: Vec<Block> = Vec::new();
    for a in &plan.actions {
        let k = (a.kind.as_str(), a.id.as_str());
        let i = *index.entry(k).or_insert_with(|| {
            out.push(Block {
                kind: &a.kind,
                id: &a.id,
                display_name: &a.display_name,
                actions: Vec::new(),
            });
            out.len() - 1
        });
        out[i].actions.push(a);
    }
    out
}

fn notes_of<'a>(plan: &'a Plan, kind: &str, id: &str) -> Vec<&'a Note> {
    plan.notes
        .iter()
        .filter(|n| n.kind == kind && n.id == id)
        .collect()
}

fn desired_text(plan: &Plan) -> String {
    sanitize(&plan.desired).into_owned()
}

fn summary_line(plan: &Plan) -> String {
    let s = plan.summary();
    let kept = if plan.request.prune {
        format!("{} kept", s.kept)
    } else {
        format!("{} kept (use --prune to delete)", s.kept)
    };
    format!(
        "{} to update, {} to restore, {} to create, {} to delete, {} links to add, {} links to remove, {kept}",
        s.update, s.restore, s.create, s.delete, s.links_add, s.links_remove
    )
}

fn plan_human(plan: &Plan, style: &Style, out: &mut dyn Write) -> io::Result<()> {
    let p = Painter { color: style.color };
    writeln!(
        out,
        "{}",
        p.paint(
            BOLD,
            &format!("Plan: make the tenant match {}", desired_text(plan))
        )
    )?;
    if plan.is_empty() {
        writeln!(out)?;
        writeln!(out, "No changes: the selected objects match.")?;
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
                    Op::Create { .. } => human::one_sided(&attr.path, &attr.new, GREEN, &p, out)?,
                    _ => human::attribute(&attr.as_change(), &p, out)?,
                }
            }
        }
        for l in b.links() {
            human::link(&l, &p, out)?;
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
    // Notes about objects without actions (secrets that cannot be restored, kinds that cannot
    // be created, re-created objects recognised).
    let acted: std::collections::BTreeSet<(&str, &str)> = plan
        .actions
        .iter()
        .map(|a| (a.kind.as_str(), a.id.as_str()))
        .collect();
    let loose: Vec<&Note> = plan
        .notes
        .iter()
        .filter(|n| !acted.contains(&(n.kind.as_str(), n.id.as_str())))
        .collect();
    if !loose.is_empty() {
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
    }
    if !plan.kept.is_empty() {
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
    }
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

/// The plan document itself: what `apply --plan` reads back.
fn plan_json(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(crate::plan::to_json(plan).as_bytes())
}

fn plan_markdown(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
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
        "| update | restore | create | delete | links added | links removed | kept |"
    )?;
    writeln!(out, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")?;
    writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} |",
        s.update, s.restore, s.create, s.delete, s.links_add, s.links_remove, s.kept
    )?;
    if plan.is_empty() {
        writeln!(out)?;
        writeln!(out, "No changes: the selected objects match.")?;
    }
    for b in blocks(plan) {
        writeln!(out)?;
        let (sign, _, what) = b.headline();
        let what = if what.is_empty() {
            "update".to_string()
        } else {
            what
        };
        writeln!(
            out,
            "<details><summary>{sign} <code>{}</code> <b>{}</b> ({})</summary>",
            html(b.kind),
            html(b.display_name),
            html(&what)
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
                code(&k.kind),
                text(&k.display_name),
                code(&k.id)
            )?;
        }
    }
    Ok(())
}

/// `ok`, `already`, `skipped` or `FAILED`: the outcome in a word (colour only underlines it).
fn verdict(o: &WriteOutcome) -> (&'static str, &'static str) {
    if o.skipped {
        ("skipped", YELLOW)
    } else if !o.ok {
        ("FAILED", RED)
    } else if o.converged {
        ("already", DIM)
    } else {
        ("ok", GREEN)
    }
}

fn request_text(o: &WriteOutcome) -> String {
    let mut s = String::new();
    if !o.method.is_empty() {
        s.push_str(&o.method);
        s.push(' ');
    }
    s.push_str(&sanitize(&o.path));
    if let Some(status) = o.status {
        s.push_str(&format!(" → {status}"));
    }
    s
}

/// Counts of an apply report's outcomes.
struct Counts {
    written: usize,
    converged: usize,
    failed: usize,
    skipped: usize,
}

fn counts(report: &ApplyReport) -> Counts {
    let o = &report.outcomes;
    Counts {
        written: o.iter().filter(|o| o.ok && !o.converged).count(),
        converged: o.iter().filter(|o| o.ok && o.converged).count(),
        failed: o.iter().filter(|o| !o.ok && !o.skipped).count(),
        skipped: o.iter().filter(|o| o.skipped).count(),
    }
}

fn drift_report(report: &ApplyReport) -> Report {
    Report {
        from: Side::new("desired state"),
        to: Side::new("live tenant after the writes"),
        changes: report.remaining_drift.clone(),
    }
}

fn apply_human(report: &ApplyReport, style: &Style, out: &mut dyn Write) -> io::Result<()> {
    let p = Painter { color: style.color };
    writeln!(out, "{}", p.paint(BOLD, "Writes:"))?;
    for o in &report.outcomes {
        let (word, color) = verdict(o);
        writeln!(
            out,
            "  {:<7} {} {} {} ({}): {}",
            p.paint(color, word),
            o.action,
            o.kind,
            sanitize(&o.display_name),
            sanitize(&o.id),
            request_text(o)
        )?;
        if let Some(new_id) = &o.new_id {
            writeln!(out, "          new id: {}", sanitize(new_id))?;
        }
        if !o.ok {
            if let Some(e) = &o.error {
                writeln!(out, "          {}", sanitize(e))?;
            }
            if let Some(r) = &o.request_id {
                writeln!(out, "          request-id: {}", sanitize(r))?;
            }
        }
        if let Some(n) = &o.note {
            writeln!(out, "          {} {}", p.paint(DIM, "note:"), sanitize(n))?;
        }
    }
    writeln!(out)?;
    match (&report.verify_error, report.remaining_drift.is_empty()) {
        (Some(e), _) => writeln!(
            out,
            "{} {}",
            p.paint(RED, "Not verified: reading the objects back failed:"),
            sanitize(e)
        )?,
        (None, true) => writeln!(
            out,
            "Verified: every touched object matches the desired state."
        )?,
        (None, false) => {
            writeln!(
                out,
                "{}",
                p.paint(
                    RED,
                    &format!(
                        "Still different after writing: {} objects",
                        report.remaining_drift.len()
                    )
                )
            )?;
            super::human::render(&drift_report(report), style, out)?;
        }
    }
    let c = counts(report);
    writeln!(out)?;
    writeln!(
        out,
        "{}",
        p.paint(
            BOLD,
            &format!(
                "Summary: {} written, {} already as wanted, {} failed, {} skipped; {} requests in {:.1} s",
                c.written, c.converged, c.failed, c.skipped, report.writes, report.seconds
            )
        )
    )
}

fn apply_json(report: &ApplyReport, out: &mut dyn Write) -> io::Result<()> {
    let mut drift = Vec::new();
    super::json::render(&drift_report(report), &mut drift)?;
    let drift: Value = serde_json::from_slice(&drift).map_err(io::Error::other)?;
    let doc = json!({
        "version": APPLY_FORMAT_VERSION,
        "type": "apply",
        "writes": report.writes,
        "failed": report.failed,
        "seconds": report.seconds,
        "outcomes": report.outcomes,
        "verified": report.verify_error.is_none(),
        "verifyError": report.verify_error,
        "remainingDrift": drift.get("changes").cloned().unwrap_or(Value::Array(Vec::new())),
    });
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::other)?;
    writeln!(out)
}

fn apply_markdown(report: &ApplyReport, out: &mut dyn Write) -> io::Result<()> {
    let c = counts(report);
    writeln!(out, "## tenantgit apply")?;
    writeln!(out)?;
    writeln!(
        out,
        "| written | already as wanted | failed | skipped | requests |"
    )?;
    writeln!(out, "| ---: | ---: | ---: | ---: | ---: |")?;
    writeln!(
        out,
        "| {} | {} | {} | {} | {} |",
        c.written, c.converged, c.failed, c.skipped, report.writes
    )?;
    let problems: Vec<&WriteOutcome> = report.outcomes.iter().filter(|o| !o.ok).collect();
    if !problems.is_empty() {
        writeln!(out)?;
        writeln!(out, "**Failed or skipped writes:**")?;
        writeln!(out)?;
        writeln!(out, "| object | action | request | error | request-id |")?;
        writeln!(out, "| --- | --- | --- | --- | --- |")?;
        for o in problems {
            writeln!(
                out,
                "| {} {} | {} | {} | {} | {} |",
                code(&o.kind),
                text(&o.display_name),
                text(&o.action),
                code(&request_text(o)),
                o.error.as_deref().map(text).unwrap_or_default(),
                o.request_id.as_deref().map(code).unwrap_or_default()
            )?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "<details><summary>All {} writes</summary>",
        report.outcomes.len()
    )?;
    writeln!(out)?;
    writeln!(out, "| outcome | object | action | request |")?;
    writeln!(out, "| --- | --- | --- | --- |")?;
    for o in &report.outcomes {
        writeln!(
            out,
            "| {} | {} {} | {} | {} |",
            verdict(o).0,
            code(&o.kind),
            text(&o.display_name),
            text(&o.action),
            code(&request_text(o))
        )?;
    }
    writeln!(out)?;
    writeln!(out, "</details>")?;
    writeln!(out)?;
    match (&report.verify_error, report.remaining_drift.is_empty()) {
        (Some(e), _) => writeln!(out, "**Not verified:** {}", text(e)),
        (None, true) => writeln!(
            out,
            "Verified: every touched object matches the desired state."
        ),
        (None, false) => {
            writeln!(
                out,
                "**Still different after writing:** {} objects",
                report.remaining_drift.len()
            )?;
            writeln!(out)?;
            super::markdown::render(&drift_report(report), out)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde_json::{json, Value};

    use super::*;
    use crate::apply::{ApplyReport, WriteOutcome};
    use crate::diff::{self, fixture, DiffOptions};
    use crate::model::{ObjectKey, Snapshot};
    use crate::plan::{self, DeletedObject, DesiredSource, PlanInput, PlanRequest, SafetySettings};

    macro_rules! snapshot {
        ($name:expr, $text:expr) => {
            insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
                insta::assert_snapshot!($name, $text);
            })
        };
    }

    /// The fixture's morning after as a plan: restore the backup, with the break-glass group
    /// protected... no: Alice protected, so that a refusal shows.
    fn scenario_plan() -> Plan {
        let (backup, live, _) = fixture::scenario();
        let dave = ObjectKey {
            kind: "users",
            id: fixture::DAVE.into(),
        };
        let mut deleted = HashMap::new();
        deleted.insert(
            dave.clone(),
            DeletedObject {
                key: dave,
                display_name: "Dave Brown".into(),
                deleted_at: None,
                state: backup
                    .get(&ObjectKey {
                        kind: "users",
                        id: fixture::DAVE.into(),
                    })
                    .map(|d| {
                        let mut d = d.clone();
                        d.props["department"] = Value::Null;
                        d
                    }),
            },
        );
        let mut counts = BTreeMap::new();
        for k in live.objects.keys() {
            *counts.entry(k.kind.to_string()).or_insert(0) += 1;
        }
        let mut safety = SafetySettings::default();
        safety.protected.insert(format!("users/{}", fixture::ALICE));
        let mut p = plan::plan(
            &PlanInput::new(&backup, &live)
                .live_counts(counts)
                .deleted(deleted)
                .safety(safety)
                .request(
                    PlanRequest {
                        desired: DesiredSource::Commit {
                            rev: "HEAD~1".into(),
                            commit: "3f2a1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b".into(),
                        },
                        selection: Default::default(),
                        prune: false,
                    },
                    "HEAD~1 (3f2a1c0)",
                ),
        );
        p.created = "2026-11-27T09:00:00Z".into();
        p.checksum = p.compute_checksum();
        p
    }

    fn outcome(action: &str, id: &str, name: &str) -> WriteOutcome {
        WriteOutcome {
            kind: "users".into(),
            id: id.into(),
            display_name: name.into(),
            action: action.into(),
            method: "PATCH".into(),
            path: format!("users/{id}"),
            status: Some(204),
            ok: true,
            converged: false,
            skipped: false,
            error: None,
            request_id: None,
            new_id: None,
            note: None,
        }
    }

    fn scenario_report() -> ApplyReport {
        let mut failed = outcome("update", fixture::BOB, "Bob Jones");
        failed.status = Some(500);
        failed.ok = false;
        failed.error = Some(format!(
            "PATCH users/{}: HTTP 500 generalException: injected fault (request-id 7d1c0ffe-0000-4000-8000-000000000001)",
            fixture::BOB
        ));
        failed.request_id = Some("7d1c0ffe-0000-4000-8000-000000000001".into());
        let mut created = outcome("create", fixture::VPN, "Legacy VPN users");
        created.kind = "groups".into();
        created.method = "POST".into();
        created.path = "groups".into();
        created.status = Some(201);
        created.new_id = Some("7e470000-0000-4000-8000-0000000000ff".into());
        let mut already = outcome("add members", fixture::SALES, "Sales Team");
        already.kind = "groups".into();
        already.method = "POST".into();
        already.path = format!("groups/{}/members/$ref", fixture::SALES);
        already.status = Some(400);
        already.converged = true;
        let mut skipped = outcome("update", fixture::DAVE, "Dave Brown");
        skipped.method = String::new();
        skipped.status = None;
        skipped.ok = false;
        skipped.skipped = true;
        skipped.error = Some("skipped: restoring or re-creating the object failed".into());
        // Bob's update failed: he is still wiped.
        let (backup, live, _) = fixture::scenario();
        let bob = |s: &Snapshot| {
            let mut out = Snapshot::default();
            out.insert(
                s.get(&ObjectKey {
                    kind: "users",
                    id: fixture::BOB.into(),
                })
                .unwrap()
                .clone(),
            );
            out
        };
        ApplyReport {
            outcomes: vec![
                created,
                outcome("update", fixture::ALICE, "Alice Smith"),
                failed,
                skipped,
                already,
            ],
            writes: 4,
            failed: 2,
            seconds: 0.25,
            remaining_drift: diff::diff(
                &bob(&backup),
                &bob(&live),
                &HashMap::new(),
                &DiffOptions::default(),
            ),
            verify_error: None,
        }
    }

    fn plan_text(p: &Plan, format: Format, color: bool) -> String {
        let mut out = Vec::new();
        render_plan(p, format, &Style { color }, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn apply_text(r: &ApplyReport, format: Format) -> String {
        let mut out = Vec::new();
        render_apply(r, format, &Style { color: false }, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn plan_human() {
        let text = plan_text(&scenario_plan(), Format::Human, false);
        assert!(text.contains("department: null → \"Sales\""), "{text}");
        assert!(text.contains("Refused without --force"));
        assert!(text.contains("kept (use --prune to delete)"));
        snapshot!("plan_human", text);
    }

    #[test]
    fn plan_human_in_colour_says_the_same_in_colour() {
        let p = scenario_plan();
        let coloured = plan_text(&p, Format::Human, true);
        assert!(coloured.contains('\x1b'));
        let stripped = regex::Regex::new("\x1b\\[[0-9;]*m")
            .unwrap()
            .replace_all(&coloured, "");
        assert_eq!(stripped, plan_text(&p, Format::Human, false));
    }

    #[test]
    fn plan_json() {
        let p = scenario_plan();
        let text = plan_text(&p, Format::Json, false);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["version"], json!(crate::plan::PLAN_VERSION));
        assert_eq!(v["summary"], serde_json::to_value(p.summary()).unwrap());
        assert_eq!(v["actions"].as_array().unwrap().len(), p.actions.len());
        assert!(v["refusals"][0]["message"]
            .as_str()
            .unwrap()
            .contains("protected"));
        snapshot!("plan_json", text);
        let schema: Value =
            serde_json::from_str(include_str!("../../schema/plan.schema.json")).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&v)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}", errors.join("\n"));
        // An empty plan too.
        let (backup, _, _) = fixture::scenario();
        let empty = plan::plan(&PlanInput::new(&backup, &backup));
        let v: Value = serde_json::from_str(&plan_text(&empty, Format::Json, false)).unwrap();
        assert!(validator.is_valid(&v));
        // And the document must say what it is.
        let mut wrong = v.clone();
        wrong["actions"] = json!([{"phase": "prune", "kind": "users", "id": "x", "displayName": "x", "op": "delete"}]);
        assert!(
            !validator.is_valid(&wrong),
            "a delete without `soft` is not a plan"
        );
    }

    #[test]
    fn plan_markdown() {
        snapshot!(
            "plan_markdown",
            plan_text(&scenario_plan(), Format::Markdown, false)
        );
    }

    #[test]
    fn empty_plan_says_so_in_every_format() {
        let (backup, _, _) = fixture::scenario();
        let p = plan::plan(&PlanInput::new(&backup, &backup).live_counts(BTreeMap::new()));
        for f in [Format::Human, Format::Markdown] {
            assert!(plan_text(&p, f, false).contains("No changes"), "{f:?}");
        }
        let v: Value = serde_json::from_str(&plan_text(&p, Format::Json, false)).unwrap();
        assert_eq!(v["actions"], json!([]));
    }

    #[test]
    fn apply_human() {
        let text = apply_text(&scenario_report(), Format::Human);
        assert!(text.contains("request-id: 7d1c0ffe-0000-4000-8000-000000000001"));
        assert!(text.contains("FAILED"));
        assert!(text.contains("Still different after writing: 1 objects"));
        snapshot!("apply_human", text);
    }

    #[test]
    fn apply_json() {
        let r = scenario_report();
        let text = apply_text(&r, Format::Json);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["failed"], json!(2));
        assert_eq!(
            v["outcomes"][2]["requestId"],
            json!("7d1c0ffe-0000-4000-8000-000000000001")
        );
        assert_eq!(v["remainingDrift"][0]["id"], json!(fixture::BOB));
        snapshot!("apply_json", text);
    }

    #[test]
    fn apply_markdown() {
        snapshot!(
            "apply_markdown",
            apply_text(&scenario_report(), Format::Markdown)
        );
    }
}
