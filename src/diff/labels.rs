//! Labels on changes that a restore cannot write back through Graph (the kinds' write rules,
//! `crate::write_rules`): judged as a restore of the older side onto the newer one would be, so
//! that `diff` names the same changes a plan lists under "cannot be restored through Graph".

use serde_json::{Map, Value};

use crate::model::Object;
use crate::write_rules::{self, RuleContext};

use super::Change;

/// A change of an object both sides have: the newer side is the state Graph judges by; link
/// writes come after the attribute writes, so they are judged by the state those leave.
pub(super) fn modified(change: &mut Change, old: &Object, new: &Object, cx: &RuleContext) {
    let kind = new.kind.spec();
    if kind.write_rules.is_empty() {
        return;
    }
    let mut after: Option<Map<String, Value>> = None;
    for a in &mut change.attributes {
        let top = top_level(&a.path, old, new);
        a.cannot_restore = write_rules::property_rule(kind, &new.props, top, cx);
        let written = a.cannot_restore.is_none()
            && !kind.is_read_only(top)
            && !kind.is_create_only(top)
            && top != "@odata.type";
        if written {
            let state = after.get_or_insert_with(|| new.props.clone());
            state.insert(
                top.to_string(),
                old.props.get(top).cloned().unwrap_or(Value::Null),
            );
        }
    }
    let after = after.as_ref().unwrap_or(&new.props);
    for l in &mut change.links {
        l.cannot_restore = write_rules::link_rule(kind, after, &l.name, cx);
    }
}

/// An object only the older side has: a restore creates it, unless Graph refuses to.
pub(super) fn removed(change: &mut Change, old: &Object, cx: &RuleContext) {
    let Some(rule) = write_rules::create_rule(old.kind.spec(), &old.props, cx) else {
        return;
    };
    for a in &mut change.attributes {
        a.cannot_restore = Some(rule);
    }
    for l in &mut change.links {
        l.cannot_restore = Some(rule);
    }
}

/// The top-level property a dotted path belongs to: the longest name either object has that
/// prefixes it (names can hold dots themselves, `@odata.type`).
pub fn top_level<'a>(path: &'a str, a: &Object, b: &Object) -> &'a str {
    let mut best: Option<&'a str> = None;
    for k in a.props.keys().chain(b.props.keys()) {
        let matches = path == k
            || (path.len() > k.len()
                && path.starts_with(k.as_str())
                && path.as_bytes()[k.len()] == b'.');
        if matches && best.is_none_or(|b| b.len() < k.len()) {
            best = Some(&path[..k.len()]);
        }
    }
    best.unwrap_or_else(|| path.split('.').next().unwrap_or(path))
}
