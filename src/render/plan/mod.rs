//! The restore/apply plan in the three formats, and what its human and Markdown renderings
//! share: the plan's actions grouped into one block per object. JSON is the plan document
//! itself (`crate::plan::to_json`, described by `schema/plan.schema.json`), which
//! `apply --plan` takes back.

mod cannot_restore;
pub(super) mod human;
pub(super) mod json;
pub(super) mod markdown;

use std::collections::BTreeMap;

use super::paint::{GREEN, RED, YELLOW};
use crate::diff::LinkChange;
use crate::model::LinkRef;
use crate::plan::{Action, Note, Op, Plan, PlanLink};

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

    /// Sign, its colour, and what happens to the object as a whole (empty for an update). No
    /// parentheses: the Markdown rendering puts the words in some.
    fn headline(&self) -> (&'static str, &'static str, &'static str) {
        if self.has(|o| matches!(o, Op::Restore)) {
            ("+", GREEN, "restore from the recycle bin")
        } else if self.has(|o| matches!(o, Op::Create { .. })) {
            ("+", GREEN, "create with a new id")
        } else if self.has(|o| matches!(o, Op::Invite { .. })) {
            (
                "+",
                GREEN,
                "invite the guest again with a new id, no invitation message",
            )
        } else if let Some(soft) = self.actions.iter().find_map(|a| match a.op {
            Op::Delete { soft } => Some(soft),
            _ => None,
        }) {
            let how = if soft {
                "delete to the recycle bin"
            } else {
                "delete permanently"
            };
            ("-", RED, how)
        } else {
            ("~", YELLOW, "")
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
                cannot_restore: None,
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

/// The plan's actions grouped by object, objects in the order of their first action.
fn blocks(plan: &Plan) -> Vec<Block<'_>> {
    let mut index: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut out: Vec<Block> = Vec::new();
    for a in &plan.actions {
        let k = (a.kind.as_str(), a.id.as_str());
        let i = *index.entry(k).or_insert_with(|| {
            out.push(Block {
                kind: a.kind.name(),
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

#[cfg(test)]
mod tests;
