//! A generated tenant of any size for demos and benchmarks, deterministic: the same
//! [`SyntheticSpec`] always gives the same objects with the same ids, because everything is
//! drawn from seeded splitmix64 generators. The shape follows a hybrid enterprise: about 85% of
//! the users synced from Active Directory (with the on-premises attributes Entra Connect
//! writes), cloud-only members, about 3% invited guests, a manager for every member in a
//! hierarchy per department (`people`); synced department and access groups, dynamic groups
//! whose members follow their rules, mail-enabled security groups and distribution lists,
//! Microsoft 365 groups (`groups`); app registrations with app roles, permission scopes,
//! federated credentials and a directory extension, their service principals and Microsoft's
//! first-party ones, and the Tenant Schema Extension App through which Entra Connect syncs an
//! Active Directory attribute as a directory extension (`apps`); named locations, conditional
//! access policies (some requiring an authentication strength), the authentication methods
//! policy with every method configuration, and regional administrative units (`policies`).

use serde_json::{Map, Value};

mod apps;
mod groups;
mod people;
mod policies;
mod words;

use super::config::{SyntheticSpec, TENANT_DOMAIN};
use super::model::model;
use super::rng::SplitMix64;
use super::state::Tenant;

/// 2021-01-01T00:00:00Z, the synthetic tenant's birthday.
const EPOCH: i64 = 1_609_459_200;
const DOMAIN: &str = TENANT_DOMAIN;
/// The Active Directory forest Entra Connect syncs from.
const AD_DOMAIN: &str = "corp.contoso.example";
const AD_NETBIOS: &str = "CORP";
/// The AD domain's SID prefix; each synced object adds its relative id.
const AD_SID: &str = "S-1-5-21-3623811015-3361044348-30300820";
/// When Entra Connect last ran: 2026-06-01T00:00:00Z.
const LAST_SYNC: i64 = 1_780_272_000;

fn date(secs: i64) -> Value {
    let dt = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    // `2021-01-01T00:00:00Z`; cheaper than a format string, which matters for 100,000 users.
    Value::String(dt.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The same map without spare capacity: a map grows by doubling while it is built, and a
/// user's ends just past a power of two; 100,000 users would keep that slack.
fn compact(props: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::with_capacity(props.len());
    out.extend(props);
    out
}

/// A cloud security identifier as Entra gives every user and group.
fn cloud_sid(rng: &mut SplitMix64) -> String {
    format!(
        "S-1-12-1-{}-{}-{}-{}",
        rng.next_u64() as u32,
        rng.next_u64() as u32,
        rng.next_u64() as u32,
        rng.next_u64() as u32
    )
}

/// Collections, links and children the generator writes, by index.
struct Kinds {
    users: usize,
    groups: usize,
    apps: usize,
    sps: usize,
    named_locations: usize,
    ca: usize,
    admin_units: usize,
    methods_policy: usize,
    manager: usize,
    members: usize,
    owners: usize,
    app_owners: usize,
    sp_owners: usize,
    au_members: usize,
    fic: usize,
    extensions: usize,
    method_configurations: usize,
}

impl Kinds {
    fn new() -> Kinds {
        let m = model();
        let k = |name: &str| {
            m.collection(name)
                .expect("facts.yaml has every generated collection")
        };
        let link = |kind: usize, name: &str| {
            m.collections[kind]
                .link(name)
                .expect("facts.yaml has the generated references")
        };
        let child = |kind: usize, name: &str| {
            m.collections[kind]
                .child(name)
                .expect("facts.yaml has the generated children")
        };
        let (users, groups, apps, sps) = (
            k("users"),
            k("groups"),
            k("applications"),
            k("servicePrincipals"),
        );
        let admin_units = k("administrativeUnits");
        let methods_policy = k("authenticationMethodsPolicy");
        Kinds {
            users,
            groups,
            apps,
            sps,
            named_locations: k("namedLocations"),
            ca: k("conditionalAccessPolicies"),
            admin_units,
            methods_policy,
            manager: link(users, "manager"),
            members: link(groups, "members"),
            owners: link(groups, "owners"),
            app_owners: link(apps, "owners"),
            sp_owners: link(sps, "owners"),
            au_members: link(admin_units, "members"),
            fic: child(apps, "federatedIdentityCredentials"),
            extensions: child(apps, "extensionProperties"),
            method_configurations: child(methods_policy, "authenticationMethodConfigurations"),
        }
    }
}

/// Sets the items of one contained collection of a freshly built object.
fn set_children(tenant: &mut Tenant, slot: u32, child: usize, items: Vec<Map<String, Value>>) {
    let Some(e) = tenant.entry_mut(slot) else {
        return;
    };
    let n = e.collection().children.len();
    let all = e
        .children
        .get_or_insert_with(|| Box::new(vec![Vec::new(); n]));
    all[child] = items;
}

/// Adds the synthetic tenant to `tenant`.
pub(crate) fn generate(spec: &SyntheticSpec, tenant_id: &str, tenant: &mut Tenant) {
    let k = Kinds::new();
    let mut rng = SplitMix64::new(0x7e4a_417a_11e4_0001);
    // The first application registers the directory extension users carry values of, so its
    // appId is drawn before the users, from a stream of its own.
    let extension_app = (spec.apps > 0).then(|| SplitMix64::new(0x7e4a_417a_11e4_00e0).guid());
    // Likewise the application Entra Connect registers its directory extensions on.
    let schema_app = (spec.apps > 0).then(|| SplitMix64::new(0x7e4a_417a_11e4_00e1).guid());
    let extensions = people::Extensions {
        cloud: extension_app.as_deref(),
        synced: schema_app.as_deref(),
    };
    let people = people::generate(spec, &k, &mut rng, tenant, extensions);
    let groups = groups::generate(spec, &k, &mut rng, tenant, &people);
    let sps = apps::generate(
        spec,
        &k,
        &mut rng,
        tenant,
        tenant_id,
        &people,
        extension_app.as_deref(),
    );
    if let Some(app_id) = schema_app.as_deref() {
        apps::schema_extension_app(&k, tenant, app_id);
    }
    groups::add_service_principals(&k, &mut rng, tenant, &groups, &sps);
    policies::generate(spec, &k, &mut rng, tenant, &people, &groups);
}

#[cfg(test)]
mod tests;
