//! Per-object write rules as data: a rule names the types it holds for, the object state it
//! needs (`when`), the operations and properties or links it covers, Graph's answer, and at most
//! one named check for what plain data cannot say. The write path asks [`refusal`] before it
//! changes anything; only rules with `enforce: true` refuse.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::Model;

/// A condition on an object's stored properties.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Condition {
    pub property: String,
    #[serde(default)]
    pub equals: Option<Value>,
    /// The property is an array holding this value.
    #[serde(default)]
    pub contains: Option<Value>,
    #[serde(default)]
    pub not_contains: Option<Value>,
}

impl Condition {
    pub fn holds(&self, props: &Map<String, Value>) -> bool {
        let v = props.get(&self.property).unwrap_or(&Value::Null);
        let has = |x: &Value| v.as_array().is_some_and(|a| a.contains(x));
        self.equals.as_ref().is_none_or(|e| v == e)
            && self.contains.as_ref().is_none_or(has)
            && self.not_contains.as_ref().is_none_or(|x| !has(x))
    }
}

/// What a write does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum WriteOp {
    Create,
    Update,
    Delete,
    AddLink,
    RemoveLink,
}

/// What plain data cannot say about a rule, in code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Check {
    /// An enabled app role or permission scope is removed or changed.
    EnabledEntitlementChanged,
    /// The service principal's application belongs to another tenant.
    OwnedByAnotherTenant,
    /// The user principal name is outside the tenant's verified domains or carries the `#EXT#`
    /// marker of invited guests.
    ExternalUserPrincipalName,
    /// The write sets a directory extension attribute whose definition Entra Connect
    /// registered for an Active Directory attribute (`isSyncedFromOnPremises: true`).
    SyncedExtensionAttribute,
}

/// One per-object write rule (facts.yaml `writeRules`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct WriteRule {
    pub name: String,
    pub types: Vec<String>,
    #[serde(default)]
    pub when: Vec<Condition>,
    pub on: Vec<WriteOp>,
    /// The rule covers writes touching one of these properties (all when empty).
    #[serde(default)]
    pub properties: Vec<String>,
    /// Writes touching only these properties are allowed (`prefix*` matches by prefix).
    #[serde(default)]
    pub except: Vec<String>,
    /// Link operations on these links (all when empty).
    #[serde(default)]
    pub links: Vec<String>,
    #[serde(default)]
    pub check: Option<Check>,
    pub status: u16,
    pub code: String,
    pub message: String,
    pub enforce: bool,
    /// Where the rule comes from; required so that no rule lacks one (read by people).
    #[allow(dead_code)]
    pub source: String,
}

/// A write about to happen, as the rules see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Write<'a> {
    pub op: WriteOp,
    /// Entity type of the object written.
    pub ty: usize,
    /// The object's stored properties (the body for a create).
    pub state: &'a Map<String, Value>,
    /// Properties the write sets (empty for link writes).
    pub body: &'a [(String, Value)],
    pub link: Option<&'a str>,
    pub tenant: &'a TenantFacts,
    /// The directory extension attributes of `body` whose definitions are synced from
    /// on-premises (`isSyncedFromOnPremises: true`), as the tenant's definitions say.
    pub synced_extensions: &'a [String],
}

/// What the rules need to know about the tenant itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct TenantFacts {
    pub id: String,
    /// Domains user principal names may use, lower case.
    pub domains: Vec<String>,
}

/// `name` is `pattern`, or starts with it when the pattern ends with `*` (case-insensitively,
/// as Graph matches property names).
fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix)),
        None => pattern.eq_ignore_ascii_case(name),
    }
}

impl WriteRule {
    /// Whether this rule, enforced or not, covers `w`.
    pub fn applies(&self, m: &Model, w: &Write) -> bool {
        if !self.on.contains(&w.op) || !self.types.iter().any(|t| m.is_a(w.ty, t)) {
            return false;
        }
        if !self.when.iter().all(|c| c.holds(w.state)) {
            return false;
        }
        if let Some(link) = w.link {
            if !self.links.is_empty() && !self.links.iter().any(|l| l == link) {
                return false;
            }
        }
        if matches!(w.op, WriteOp::Update | WriteOp::Create) {
            let touched = |p: &str| w.body.iter().any(|(k, _)| k == p);
            if !self.properties.is_empty() && !self.properties.iter().any(|p| touched(p)) {
                return false;
            }
            if !self.except.is_empty()
                && w.body
                    .iter()
                    .all(|(k, _)| self.except.iter().any(|e| name_matches(e, k)))
            {
                return false;
            }
        }
        match self.check {
            None => true,
            Some(Check::OwnedByAnotherTenant) => w
                .state
                .get("appOwnerOrganizationId")
                .and_then(Value::as_str)
                .is_some_and(|o| !o.eq_ignore_ascii_case(&w.tenant.id)),
            Some(Check::ExternalUserPrincipalName) => w
                .body
                .iter()
                .find(|(k, _)| k == "userPrincipalName")
                .and_then(|(_, v)| v.as_str())
                .is_some_and(|upn| external_upn(upn, &w.tenant.domains)),
            Some(Check::SyncedExtensionAttribute) => w.body.iter().any(|(k, _)| {
                w.synced_extensions
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case(k))
            }),
            Some(Check::EnabledEntitlementChanged) => w.body.iter().any(|(k, new)| {
                let old = match k.as_str() {
                    "appRoles" | "oauth2PermissionScopes" => w.state.get(k),
                    "api" => w
                        .state
                        .get("api")
                        .and_then(|a| a.get("oauth2PermissionScopes")),
                    _ => None,
                };
                let new = if k == "api" {
                    new.get("oauth2PermissionScopes")
                } else {
                    Some(new)
                };
                old.is_some_and(|o| enabled_changed(o, new.unwrap_or(&Value::Null)))
            }),
        }
    }
}

/// A user principal name a member of this directory cannot have: the B2B `#EXT#` marker, or a
/// domain that is not one of the tenant's.
fn external_upn(upn: &str, domains: &[String]) -> bool {
    if upn.to_ascii_lowercase().contains("#ext#") {
        return true;
    }
    match upn.rsplit_once('@') {
        Some((_, domain)) => !domains.iter().any(|d| d.eq_ignore_ascii_case(domain)),
        None => true,
    }
}

/// An enabled entry of `old` (by `id`) is missing from `new`, or changed there other than by
/// being disabled (disabling first, alone, is how Graph wants it done). Nulls and absent fields
/// are one fact, and the read-only `origin` is not compared.
fn enabled_changed(old: &Value, new: &Value) -> bool {
    let new_items = new.as_array().map(Vec::as_slice).unwrap_or_default();
    old.as_array().into_iter().flatten().any(|o| {
        if o.get("isEnabled") != Some(&Value::Bool(true)) {
            return false;
        }
        match new_items.iter().find(|n| n.get("id") == o.get("id")) {
            None => true,
            Some(n) => !same_entry(o, n),
        }
    })
}

/// Two entries equal in everything but `isEnabled` and `origin`, nulls ignored. The order of a
/// list of plain values (`allowedMemberTypes`) is no change of the entry: the emulator's
/// decision, the docs say nothing, and an entry read and written back unchanged must pass.
fn same_entry(a: &Value, b: &Value) -> bool {
    let unordered = |v: &Value| -> Value {
        match v.as_array() {
            Some(items) if items.iter().all(|x| !x.is_object() && !x.is_array()) => {
                let mut items = items.clone();
                items.sort_by_key(|x| x.to_string());
                Value::Array(items)
            }
            _ => v.clone(),
        }
    };
    let fields = |v: &Value| -> Vec<(String, Value)> {
        let mut f: Vec<(String, Value)> = v
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| !v.is_null() && *k != "isEnabled" && *k != "origin")
            .map(|(k, v)| (k.clone(), unordered(v)))
            .collect();
        f.sort_by(|x, y| x.0.cmp(&y.0));
        f
    };
    fields(a) == fields(b)
}

/// The first enforced rule that refuses `w`.
pub(crate) fn refusal<'m>(m: &'m Model, w: &Write) -> Option<&'m WriteRule> {
    m.rules.iter().find(|r| r.enforce && r.applies(m, w))
}
