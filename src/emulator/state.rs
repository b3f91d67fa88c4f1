//! The emulated tenant in memory: every directory object once, addressed by a slot number, with
//! per-kind ordered indexes of live and soft-deleted objects and link sets (members, owners) as
//! sets of slots. Properties are kept as JSON without nulls (null and absent are one fact in
//! Graph); rendering a Graph response from an object lives here too, so that every route shapes
//! objects the same way.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::schema::{self, KindSpec};

/// Properties Graph has on a kind that tenantgit does not manage: known to `$select` and PATCH
/// validation. `(name, read_only)`.
fn extra_props(kind: &str) -> &'static [(&'static str, bool)] {
    match kind {
        "users" => &[
            ("passwordProfile", false),
            ("preferredDataLocation", false),
            ("assignedLicenses", true),
            ("assignedPlans", true),
            ("provisionedPlans", true),
            ("imAddresses", true),
            ("legalAgeGroupClassification", true),
            ("licenseAssignmentStates", true),
            ("onPremisesDistinguishedName", true),
            ("onPremisesDomainName", true),
            ("onPremisesSamAccountName", true),
            ("onPremisesSecurityIdentifier", true),
            ("onPremisesUserPrincipalName", true),
            ("onPremisesProvisioningErrors", true),
            ("securityIdentifier", true),
        ],
        "groups" => &[
            ("assignedLabels", true),
            ("assignedLicenses", true),
            ("licenseProcessingState", true),
            ("onPremisesSamAccountName", true),
            ("onPremisesSecurityIdentifier", true),
            ("onPremisesDomainName", true),
            ("onPremisesNetBiosName", true),
            ("onPremisesProvisioningErrors", true),
        ],
        "applications" => &[
            ("addIns", false),
            ("isDeviceOnlyAuthSupported", false),
            ("samlMetadataUrl", false),
            ("applicationTemplateId", true),
            ("certification", true),
            ("disabledByMicrosoftStatus", true),
            ("verifiedPublisher", true),
        ],
        "servicePrincipals" => &[
            ("addIns", false),
            ("customSecurityAttributes", false),
            ("info", false),
            ("preferredTokenSigningKeyThumbprint", false),
            ("applicationTemplateId", true),
            ("appDescription", true),
            ("disabledByMicrosoftStatus", true),
            ("resourceSpecificApplicationPermissions", true),
            ("verifiedPublisher", true),
        ],
        _ => &[],
    }
}

/// What the emulator needs to know about one kind beyond its schema.
#[derive(Debug)]
pub(crate) struct KindInfo {
    pub spec: &'static KindSpec,
    /// Every property name Graph knows on the kind, lower-cased → canonical spelling
    /// (Graph matches property names case-insensitively).
    pub known: HashMap<String, &'static str>,
    /// Properties a PATCH may not carry.
    pub read_only: BTreeSet<&'static str>,
    /// The `microsoft.graph.x` type name used in messages and casts.
    pub type_name: &'static str,
}

pub(crate) fn kind_infos() -> &'static [KindInfo] {
    static INFOS: OnceLock<Vec<KindInfo>> = OnceLock::new();
    INFOS.get_or_init(|| {
        schema::kinds()
            .iter()
            .map(|spec| {
                let mut known = HashMap::new();
                let mut read_only = BTreeSet::new();
                let mut add = |name: &'static str, ro: bool| {
                    known.insert(name.to_ascii_lowercase(), name);
                    if ro {
                        read_only.insert(name);
                    }
                };
                add("id", true);
                for p in spec.all_managed() {
                    add(p, spec.is_read_only(p) || spec.is_create_only(p));
                }
                // Volatile properties are all server-maintained timestamps and states.
                for p in &spec.volatile {
                    add(p.as_str(), true);
                }
                for (p, ro) in extra_props(&spec.kind) {
                    add(p, *ro);
                }
                for p in &spec.secret {
                    let root = p.as_str().split('.').next().unwrap_or(p);
                    known.entry(root.to_ascii_lowercase()).or_insert(root);
                }
                let type_name = spec
                    .graph_type
                    .strip_prefix('#')
                    .unwrap_or(&spec.graph_type);
                KindInfo {
                    spec,
                    known,
                    read_only,
                    type_name,
                }
            })
            .collect()
    })
}

pub(crate) fn kind_index(name: &str) -> Option<usize> {
    schema::kinds().iter().position(|k| k.kind == name)
}

pub(crate) fn info(kind: usize) -> &'static KindInfo {
    &kind_infos()[kind]
}

/// A soft-deleted object's bookkeeping.
#[derive(Debug, Clone)]
pub(crate) struct Deleted {
    pub at: String,
    /// Link sets of other objects this one was removed from, put back on restore.
    pub removed_from: Vec<(u32, usize)>,
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub kind: usize,
    pub id: String,
    /// Non-null properties other than `id`.
    pub props: Map<String, Value>,
    /// Link sets by position in the kind's `links`.
    pub links: Vec<BTreeSet<u32>>,
    pub deleted: Option<Deleted>,
}

impl Entry {
    pub fn info(&self) -> &'static KindInfo {
        info(self.kind)
    }

    pub fn odata_type(&self) -> &str {
        self.props
            .get("@odata.type")
            .and_then(Value::as_str)
            .unwrap_or(&self.info().spec.graph_type)
    }

    pub fn str_prop(&self, name: &str) -> Option<&str> {
        self.props.get(name).and_then(Value::as_str)
    }
}

/// Every object of the tenant.
#[derive(Debug, Default)]
pub(crate) struct Tenant {
    entries: Vec<Option<Entry>>,
    by_id: HashMap<String, u32>,
    /// Per kind: live objects ordered by id (the order lists and paging use).
    live: Vec<BTreeMap<String, u32>>,
    /// Per kind: soft-deleted objects ordered by id.
    recycle: Vec<BTreeMap<String, u32>>,
}

impl Tenant {
    pub fn new() -> Tenant {
        let n = schema::kinds().len();
        Tenant {
            entries: Vec::new(),
            by_id: HashMap::new(),
            live: vec![BTreeMap::new(); n],
            recycle: vec![BTreeMap::new(); n],
        }
    }

    /// Adds a live object (nulls dropped); replaces one with the same id.
    pub fn insert(&mut self, kind: usize, id: String, mut props: Map<String, Value>) -> u32 {
        props.retain(|k, v| k != "id" && !v.is_null());
        if let Some(slot) = self.by_id.get(&id).copied() {
            self.purge(slot);
        }
        let slot = u32::try_from(self.entries.len()).expect("fewer than 4 billion objects");
        let links = vec![BTreeSet::new(); info(kind).spec.links.len()];
        self.live[kind].insert(id.clone(), slot);
        self.by_id.insert(id.clone(), slot);
        self.entries.push(Some(Entry {
            kind,
            id,
            props,
            links,
            deleted: None,
        }));
        slot
    }

    pub fn entry(&self, slot: u32) -> Option<&Entry> {
        self.entries.get(slot as usize).and_then(Option::as_ref)
    }

    pub fn entry_mut(&mut self, slot: u32) -> Option<&mut Entry> {
        self.entries.get_mut(slot as usize).and_then(Option::as_mut)
    }

    /// Slot of any object (live or soft-deleted) with this id.
    pub fn slot(&self, id: &str) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    /// Slot of a live object.
    pub fn live_slot(&self, id: &str) -> Option<u32> {
        self.slot(id)
            .filter(|s| self.entry(*s).is_some_and(|e| e.deleted.is_none()))
    }

    pub fn is_live(&self, slot: u32) -> bool {
        self.entry(slot).is_some_and(|e| e.deleted.is_none())
    }

    pub fn live(&self, kind: usize) -> &BTreeMap<String, u32> {
        &self.live[kind]
    }

    pub fn recycle(&self, kind: usize) -> &BTreeMap<String, u32> {
        &self.recycle[kind]
    }

    pub fn count_live(&self, kind: usize) -> usize {
        self.live[kind].len()
    }

    /// Soft delete: the object leaves its kind's list and every link set it was in.
    pub fn soft_delete(&mut self, slot: u32, at: String) {
        let removed_from = self.unlink_everywhere(slot);
        let Some(entry) = self.entry_mut(slot) else {
            return;
        };
        entry.deleted = Some(Deleted { at, removed_from });
        let (kind, id) = (entry.kind, entry.id.clone());
        self.live[kind].remove(&id);
        self.recycle[kind].insert(id, slot);
    }

    /// Back from the recycle bin, with the memberships it had.
    pub fn restore(&mut self, slot: u32) {
        let Some(entry) = self.entry_mut(slot) else {
            return;
        };
        let Some(deleted) = entry.deleted.take() else {
            return;
        };
        let (kind, id) = (entry.kind, entry.id.clone());
        self.recycle[kind].remove(&id);
        self.live[kind].insert(id, slot);
        for (owner, link) in deleted.removed_from {
            if let Some(e) = self.entry_mut(owner) {
                e.links[link].insert(slot);
            }
        }
    }

    /// Permanent delete.
    pub fn purge(&mut self, slot: u32) {
        self.unlink_everywhere(slot);
        let Some(entry) = self.entries.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        self.live[entry.kind].remove(&entry.id);
        self.recycle[entry.kind].remove(&entry.id);
        self.by_id.remove(&entry.id);
    }

    /// Removes a slot from every link set; returns where it was.
    fn unlink_everywhere(&mut self, slot: u32) -> Vec<(u32, usize)> {
        let mut removed = Vec::new();
        for (owner, entry) in self.entries.iter_mut().enumerate() {
            let Some(entry) = entry else { continue };
            for (i, set) in entry.links.iter_mut().enumerate() {
                if set.remove(&slot) {
                    removed.push((owner as u32, i));
                }
            }
        }
        removed
    }

    /// Renders an object as Graph returns it. `select` = `None` returns every managed property
    /// (null when unset) and every other stored property.
    pub fn render(
        &self,
        slot: u32,
        select: Option<&[&'static str]>,
        opts: Render,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        let Some(entry) = self.entry(slot) else {
            return out;
        };
        let spec = entry.info().spec;
        if opts.odata_type || spec.has_variants() {
            out.insert(
                "@odata.type".into(),
                Value::String(entry.odata_type().to_string()),
            );
        }
        out.insert("id".into(), Value::String(entry.id.clone()));
        let mut put = |name: &str| {
            if name == "id" || name == "@odata.type" || out.contains_key(name) {
                return;
            }
            let value = entry.props.get(name).cloned().unwrap_or(Value::Null);
            out.insert(name.to_string(), shape_secret(name, value, opts.keep_key));
        };
        match select {
            Some(props) => props.iter().for_each(|p| put(p)),
            None => {
                let odata_type = spec.has_variants().then(|| entry.odata_type());
                for p in spec.managed_for(odata_type) {
                    put(p);
                }
                for k in entry.props.keys() {
                    if !spec.is_secret(k) {
                        put(k);
                    }
                }
            }
        }
        if let Some(d) = &entry.deleted {
            out.insert("deletedDateTime".into(), Value::String(d.at.clone()));
        } else if select.is_none() && spec.soft_delete {
            out.insert("deletedDateTime".into(), Value::Null);
        }
        out
    }
}

/// How [`Tenant::render`] shapes an object.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Render {
    /// Add `@odata.type` (directory-object collections, restore responses).
    pub odata_type: bool,
    /// Keep `keyCredentials[].key` (single GET with `$select=keyCredentials`, GRAPH.md A.5).
    pub keep_key: bool,
}

/// Secret values are never returned on reads: `secretText` is always null, key bytes are null
/// unless asked for one object at a time.
fn shape_secret(name: &str, value: Value, keep_key: bool) -> Value {
    let field = match name {
        "passwordCredentials" => "secretText",
        "keyCredentials" if !keep_key => "key",
        "passwordProfile" => return Value::Null,
        // Graph always returns all fifteen attributes; only the set ones are stored.
        "onPremisesExtensionAttributes" => {
            let Value::Object(mut m) = value else {
                return value;
            };
            for i in 1..=15 {
                m.entry(format!("extensionAttribute{i}"))
                    .or_insert(Value::Null);
            }
            let mut sorted: Vec<(String, Value)> = m.into_iter().collect();
            sorted.sort_by_key(|(k, _)| {
                k.strip_prefix("extensionAttribute")
                    .and_then(|n| n.parse::<u32>().ok())
                    .unwrap_or(u32::MAX)
            });
            return Value::Object(sorted.into_iter().collect());
        }
        _ => return value,
    };
    match value {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|mut item| {
                    if let Value::Object(m) = &mut item {
                        m.insert(field.to_string(), Value::Null);
                    }
                    item
                })
                .collect(),
        ),
        other => other,
    }
}
