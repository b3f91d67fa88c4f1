//! Graph's per-object write rules as tenantgit's schema states them (`writeRules`,
//! `disableFirst` and `recreateThrough` in `schema/<kind>.yaml`), and the one evaluator that
//! answers, for an object in a given state: may this property or link be written, may the object
//! be created, does a change of an enabled entitlement need a disabling PATCH first, and is the
//! object re-created through a hook (a guest through an invitation) rather than a plain create.
//!
//! A write rule says what Graph refuses on objects whose state meets its condition (a synced
//! user's on-premises attributes, a dynamic group's members, anything of a mail-enabled group),
//! why, and where the change has to be made instead. The plan never sends such a write; it lists
//! it under "cannot be restored through Graph", and `diff` labels the same changes. The
//! emulator holds its own copy of these rules (from Graph's docs, `src/emulator/model/
//! facts.yaml`); a test holds the two against each other.

use serde::Deserialize;
use serde_json::{Map, Value};

/// The rules of one kind (`crate::schema::KindSpec` has them as data): the evaluator needs
/// nothing else of the kind.
pub trait KindRules {
    fn write_rules(&self) -> &[WriteRule];
    fn disable_first(&self) -> &[DisableFirst];
    fn recreate_through(&self) -> &[RecreateThrough];
}

/// What the rules need to know beyond the object itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleContext {
    /// The id of the tenant written to (the access token's `tid`), when known. Without it,
    /// conditions on another tenant's ownership do not hold.
    pub tenant: Option<String>,
    /// The directory extension attributes synced from on-premises (`isSyncedFromOnPremises`
    /// definitions, `crate::read::extensions`), for rules with `syncedExtensions`.
    pub on_premises_extensions: std::collections::BTreeSet<String>,
}

/// A condition on an object's stored properties; every given test must hold.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Condition {
    pub property: String,
    /// The property has this value.
    #[serde(default)]
    pub equals: Option<Value>,
    /// The property is an array holding this value, or a string containing it
    /// (case-insensitively).
    #[serde(default)]
    pub contains: Option<Value>,
    /// The opposite of `contains` (an absent property contains nothing).
    #[serde(default)]
    pub not_contains: Option<Value>,
    /// The property names a tenant other than the one written to (an application's owner).
    #[serde(default)]
    pub other_tenant: bool,
}

impl Condition {
    pub fn holds(&self, props: &Map<String, Value>, cx: &RuleContext) -> bool {
        let v = props.get(&self.property).unwrap_or(&Value::Null);
        self.equals.as_ref().is_none_or(|e| v == e)
            && self.contains.as_ref().is_none_or(|x| contains(v, x))
            && self.not_contains.as_ref().is_none_or(|x| !contains(v, x))
            && (!self.other_tenant
                || v.as_str().is_some_and(|owner| {
                    cx.tenant
                        .as_deref()
                        .is_some_and(|t| !t.eq_ignore_ascii_case(owner))
                }))
    }
}

fn contains(v: &Value, x: &Value) -> bool {
    match (v, x) {
        (Value::Array(a), _) => a.contains(x),
        (Value::String(s), Value::String(part)) => {
            s.to_ascii_lowercase().contains(&part.to_ascii_lowercase())
        }
        _ => false,
    }
}

/// What Graph refuses to write on objects meeting `when`, and where to change it instead.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteRule {
    /// A short name, shown in JSON (`syncedFromActiveDirectory`).
    pub name: String,
    #[serde(default)]
    pub when: Vec<Condition>,
    /// Top-level properties Graph does not let tenantgit write; `*` stands for every one.
    #[serde(default)]
    pub properties: Vec<String>,
    /// Properties that stay writable although `properties` covers them (`prefix*` matches by
    /// prefix).
    #[serde(default)]
    pub except: Vec<String>,
    /// The rule also covers the directory extension attributes synced from on-premises (their
    /// definitions say `isSyncedFromOnPremises`: Entra Connect registered them for an Active
    /// Directory attribute), whatever `except` says of `extension_*`.
    #[serde(default)]
    pub synced_extensions: bool,
    /// Links whose ends Graph does not let tenantgit add or remove.
    #[serde(default)]
    pub links: Vec<String>,
    /// Graph refuses to create such an object.
    #[serde(default)]
    pub create: bool,
    /// Why Graph refuses, for people.
    pub reason: String,
    /// Where the change has to be made instead.
    pub fix: String,
    /// The docs the rule comes from (read by people; required so that no rule lacks one).
    pub source: String,
}

impl WriteRule {
    fn holds(&self, state: &Map<String, Value>, cx: &RuleContext) -> bool {
        self.when.iter().all(|c| c.holds(state, cx))
    }

    fn covers_property(&self, prop: &str, cx: &RuleContext) -> bool {
        (self.properties.iter().any(|p| p == "*" || p == prop)
            && !self.except.iter().any(|e| name_matches(e, prop)))
            || (self.synced_extensions && cx.on_premises_extensions.contains(prop))
    }
}

/// `name` is `pattern`, or starts with it when the pattern ends with `*`.
fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// A collection of entitlements (app roles, permission scopes) whose enabled entries Graph lets
/// change or go only after a PATCH of their own has disabled them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DisableFirst {
    /// Dotted path of the array (`api.oauth2PermissionScopes`); its first segment is the
    /// top-level property a PATCH carries.
    pub path: String,
    /// What tells entries apart (`id`).
    pub key: String,
    /// The boolean that enables an entry (`isEnabled`).
    pub flag: String,
    /// Entry fields the service sets, never compared (`origin`).
    #[serde(default)]
    pub ignore: Vec<String>,
    pub source: String,
}

/// A named way of re-creating an object other than `POST {collection}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RecreateHook {
    /// `POST invitations` with `sendInvitationMessage: false`, then a PATCH of the rest (B2B
    /// guests: `POST users` cannot make one).
    Invitation,
}

/// Objects meeting `when` are re-created through `hook`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecreateThrough {
    pub hook: RecreateHook,
    pub when: Vec<Condition>,
    pub source: String,
}

/// The first rule that keeps `prop` of an object in `state` from being written.
pub fn property_rule<'k>(
    kind: &'k impl KindRules,
    state: &Map<String, Value>,
    prop: &str,
    cx: &RuleContext,
) -> Option<&'k WriteRule> {
    kind.write_rules()
        .iter()
        .find(|r| r.covers_property(prop, cx) && r.holds(state, cx))
}

/// The first rule that keeps the ends of `link` of an object in `state` from being written.
pub fn link_rule<'k>(
    kind: &'k impl KindRules,
    state: &Map<String, Value>,
    link: &str,
    cx: &RuleContext,
) -> Option<&'k WriteRule> {
    kind.write_rules()
        .iter()
        .find(|r| r.links.iter().any(|l| l == link) && r.holds(state, cx))
}

/// The first rule that keeps an object with the properties `desired` from being created.
pub fn create_rule<'k>(
    kind: &'k impl KindRules,
    desired: &Map<String, Value>,
    cx: &RuleContext,
) -> Option<&'k WriteRule> {
    kind.write_rules()
        .iter()
        .find(|r| r.create && r.holds(desired, cx))
}

/// How an object with the properties `desired` is re-created, when not by a plain create.
pub fn recreate_hook(
    kind: &impl KindRules,
    desired: &Map<String, Value>,
    cx: &RuleContext,
) -> Option<RecreateHook> {
    kind.recreate_through()
        .iter()
        .find(|r| r.when.iter().all(|c| c.holds(desired, cx)))
        .map(|r| r.hook)
}

/// One entry a disabling PATCH turns off.
#[derive(Debug, Clone, PartialEq)]
pub struct Disabled {
    /// The collection's dotted path.
    pub path: String,
    /// The entry's key.
    pub key: String,
    /// The flag set to false.
    pub flag: String,
    /// Its `value` (what people know an app role or scope by), when it has one.
    pub value: Option<String>,
}

/// The PATCH body that must go before `body` can take an object from `live` to what `body`
/// writes: every enabled entitlement entry that `body` removes or changes (other than only
/// disabling it) is disabled first, all else of the live collections unchanged. `None` when no
/// entry needs it.
pub fn disable_first(
    kind: &impl KindRules,
    live: &Map<String, Value>,
    body: &Map<String, Value>,
) -> Option<(Map<String, Value>, Vec<Disabled>)> {
    let mut out = Map::new();
    let mut disabled = Vec::new();
    for d in kind.disable_first() {
        let (top, rest) = match d.path.split_once('.') {
            Some((top, rest)) => (top, Some(rest)),
            None => (d.path.as_str(), None),
        };
        let Some(new_top) = body.get(top) else {
            continue;
        };
        let at = |v: &Value| -> Value {
            match rest {
                Some(rest) => v.pointer(&format!("/{}", rest.replace('.', "/"))).cloned(),
                None => Some(v.clone()),
            }
            .unwrap_or(Value::Null)
        };
        let old_list = at(live.get(top).unwrap_or(&Value::Null));
        let new_list = at(new_top);
        let new_items = new_list.as_array().map(Vec::as_slice).unwrap_or_default();
        let Some(old_items) = old_list.as_array() else {
            continue;
        };
        let mut changed = false;
        let mut items = old_items.clone();
        for item in &mut items {
            if item.get(&d.flag) != Some(&Value::Bool(true)) {
                continue;
            }
            let key = item.get(&d.key);
            let same = new_items
                .iter()
                .find(|n| n.get(&d.key) == key)
                .is_some_and(|n| same_entry(item, n, d));
            if same {
                continue;
            }
            disabled.push(Disabled {
                path: d.path.clone(),
                key: key.map(text).unwrap_or_default(),
                flag: d.flag.clone(),
                value: item
                    .get("value")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            });
            if let Value::Object(m) = item {
                m.insert(d.flag.clone(), Value::Bool(false));
            }
            changed = true;
        }
        if !changed {
            continue;
        }
        // The live top-level value with the disabled list in place.
        let mut top_value = out
            .get(top)
            .cloned()
            .unwrap_or_else(|| live.get(top).cloned().unwrap_or(Value::Null));
        match rest {
            None => top_value = Value::Array(items),
            Some(rest) => {
                if !top_value.is_object() {
                    top_value = Value::Object(Map::new());
                }
                set_path(&mut top_value, rest, Value::Array(items));
            }
        }
        out.insert(top.to_string(), top_value);
    }
    (!out.is_empty()).then_some((out, disabled))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn set_path(v: &mut Value, dotted: &str, new: Value) {
    let mut cur = v;
    let segs: Vec<&str> = dotted.split('.').collect();
    for (i, seg) in segs.iter().enumerate() {
        let Value::Object(m) = cur else { return };
        if i + 1 == segs.len() {
            m.insert(seg.to_string(), new);
            return;
        }
        cur = m
            .entry(seg.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// Two entries equal in everything but the flag and the ignored fields, nulls aside.
fn same_entry(a: &Value, b: &Value, d: &DisableFirst) -> bool {
    let fields = |v: &Value| -> Vec<(String, Value)> {
        let mut f: Vec<(String, Value)> = v
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| !v.is_null() && **k != d.flag && !d.ignore.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        f.sort_by(|x, y| x.0.cmp(&y.0));
        f
    };
    let (x, y) = (fields(a), fields(b));
    x.len() == y.len()
        && x.iter()
            .zip(&y)
            .all(|((ka, va), (kb, vb))| ka == kb && crate::equality::values_equal(va, vb))
}

#[cfg(test)]
mod emulator_tests;
#[cfg(test)]
mod tests;
