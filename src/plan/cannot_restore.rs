//! What a plan does not write because Graph refuses it (the kinds' `writeRules`, see
//! `crate::write_rules`): per object and rule, the attributes and link ends that differ, why
//! Graph refuses, and where the change has to be made instead. These entries are part of the
//! plan document and its renderings ("cannot be restored through Graph"); they are not failures
//! and change no exit status.

use serde_json::{Map, Value};

use crate::diff::AttributeChange;
use crate::model::{LinkRef, Object};
use crate::write_rules::WriteRule;

use super::model::{Action, CannotRestore, CannotRestoreLink, Op, Phase, PlanAttribute, PlanLink};

/// The entries of a plan being built.
#[derive(Debug, Default)]
pub(super) struct Unwritable {
    pub entries: Vec<CannotRestore>,
}

impl Unwritable {
    fn entry(&mut self, o: &Object, rule: &WriteRule) -> &mut CannotRestore {
        let at = self
            .entries
            .iter()
            .position(|e| e.kind == o.kind && e.id == o.id && e.rule == rule.name);
        let i = at.unwrap_or_else(|| {
            self.entries.push(CannotRestore {
                kind: o.kind,
                id: o.id.clone(),
                display_name: o.display_name().to_string(),
                rule: rule.name.clone(),
                reason: rule.reason.clone(),
                fix: rule.fix.clone(),
                missing: false,
                attributes: Vec::new(),
                links: Vec::new(),
            });
            self.entries.len() - 1
        });
        &mut self.entries[i]
    }

    pub fn attribute(&mut self, o: &Object, rule: &WriteRule, a: &AttributeChange) {
        self.entry(o, rule)
            .attributes
            .push(PlanAttribute::of_change(a));
    }

    pub fn link(
        &mut self,
        o: &Object,
        rule: &WriteRule,
        link: &str,
        add: &[LinkRef],
        remove: &[LinkRef],
    ) {
        if add.is_empty() && remove.is_empty() {
            return;
        }
        self.entry(o, rule).links.push(CannotRestoreLink {
            link: link.to_string(),
            add: add.iter().map(PlanLink::from).collect(),
            remove: remove.iter().map(PlanLink::from).collect(),
        });
    }

    pub fn missing(&mut self, o: &Object, rule: &WriteRule) {
        self.entry(o, rule).missing = true;
    }
}

/// The state Graph judges a write by: the live object, or the desired one when the live state
/// is unknown (an object restored from the recycle bin whose state there was not read).
pub(super) fn state<'a>(live: &'a Object, desired: &'a Object) -> &'a Map<String, Value> {
    if live.props.is_empty() {
        &desired.props
    } else {
        &live.props
    }
}

/// The object's state once the plan's updates of it are done (what link writes, which come
/// after, are judged by: a group made dynamic again no longer takes member writes).
pub(super) fn state_after(
    base: &Map<String, Value>,
    o: &Object,
    actions: &[Action],
) -> Map<String, Value> {
    let mut after = base.clone();
    for a in actions {
        if a.kind == o.kind && a.id == o.id && a.phase == Phase::Update {
            if let Op::Update { body } = &a.op {
                for (k, v) in body {
                    after.insert(k.clone(), v.clone());
                }
            }
        }
    }
    after
}
