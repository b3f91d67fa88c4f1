//! The people of a generated tenant: about 85% members synced from Active Directory (with the
//! on-premises attributes Entra Connect writes: `onPremisesSyncEnabled`, the immutable id, SAM
//! account name, domain, UPN, SID, distinguished name, last sync time, extension attributes),
//! cloud-only members (the break-glass account among them), about 3% guests invited from partner
//! organizations (`#EXT#` names, `creationType: Invitation`, an invitation state), and a manager
//! for every member but the chief executive: executives report to the CEO, each department's
//! head to an executive, team leads to their head and everyone else to a lead. A synced user's
//! manager is always synced too, because AD holds it.

use base64::Engine;
use serde_json::{json, Map, Value};

use super::words::{CITIES, DEPARTMENTS, GIVEN, PARTNERS, SURNAMES};
use super::{compact, date, obj, Kinds, AD_DOMAIN, AD_SID, DOMAIN, EPOCH, LAST_SYNC};
use crate::emulator::config::SyntheticSpec;
use crate::emulator::rng::SplitMix64;
use crate::emulator::state::Tenant;

/// Shares of the generated users.
pub(super) const GUEST_SHARE: f64 = 0.03;
pub(super) const SYNCED_SHARE: f64 = 0.85;
/// One team lead for this many synced members of a department.
const TEAM_SIZE: usize = 8;

/// The users generated, by slot.
#[derive(Debug, Default)]
pub(super) struct People {
    pub all: Vec<u32>,
    /// Members (not guests).
    pub members: Vec<u32>,
    pub synced: Vec<u32>,
    pub guests: Vec<u32>,
    /// Members per department (index into DEPARTMENTS).
    pub by_dept: Vec<Vec<u32>>,
    pub synced_by_dept: Vec<Vec<u32>>,
    /// The emergency-access account conditional access policies exclude: cloud-only.
    pub break_glass: Option<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Synced,
    Cloud,
    Guest,
}

fn department(rng: &mut SplitMix64) -> usize {
    let total: u32 = DEPARTMENTS.iter().map(|d| d.2).sum();
    let mut w = rng.below(total as usize) as u32;
    DEPARTMENTS
        .iter()
        .position(|d| {
            if w < d.2 {
                true
            } else {
                w -= d.2;
                false
            }
        })
        .unwrap_or(0)
}

/// A map of exactly these entries (no spare capacity: 100,000 users would keep it).
fn exact(entries: Vec<(&str, Value)>) -> Map<String, Value> {
    let mut out = Map::with_capacity(entries.len());
    for (k, v) in entries {
        out.insert(k.to_string(), v);
    }
    out
}

fn text(s: impl Into<String>) -> Value {
    Value::String(s.into())
}

/// The attributes Entra Connect writes for a user synced from AD.
fn on_premises(
    rng: &mut SplitMix64,
    i: usize,
    names: (&str, &str, &str),
    upn: &str,
    out: &mut Vec<(&str, Value)>,
) {
    let (given, surname, dept) = names;
    let guid: [u8; 16] = {
        let (a, b) = (rng.next_u64(), rng.next_u64());
        let mut g = [0u8; 16];
        g[..8].copy_from_slice(&a.to_le_bytes());
        g[8..].copy_from_slice(&b.to_le_bytes());
        g
    };
    let sam: String = format!("{}{}{i}", &given[..1], surname)
        .to_lowercase()
        .chars()
        .take(20)
        .collect();
    out.extend([
        ("onPremisesSyncEnabled", Value::Bool(true)),
        (
            "onPremisesImmutableId",
            text(base64::engine::general_purpose::STANDARD.encode(guid)),
        ),
        ("onPremisesSamAccountName", text(sam)),
        ("onPremisesDomainName", text(AD_DOMAIN)),
        ("onPremisesUserPrincipalName", text(upn)),
        (
            "onPremisesSecurityIdentifier",
            text(format!("{AD_SID}-{}", 1_100 + i)),
        ),
        (
            "onPremisesDistinguishedName",
            text(format!(
                "CN={given} {surname},OU={dept},OU=Users,OU=Contoso,DC=corp,DC=contoso,DC=example"
            )),
        ),
        (
            "onPremisesLastSyncDateTime",
            date(LAST_SYNC - 60 * rng.below(30) as i64),
        ),
    ]);
}

/// The appIds of the applications whose directory extensions users carry values of.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Extensions<'a> {
    /// Registered in the cloud (`costCenter`).
    pub cloud: Option<&'a str>,
    /// Entra Connect's Tenant Schema Extension App (`division`, synced from AD).
    pub synced: Option<&'a str>,
}

/// The Active Directory `division` of a department, which Entra Connect syncs as a directory
/// extension: derived, so that it draws nothing from the generator.
fn division(dept: &str) -> &'static str {
    match dept {
        "Sales" | "Marketing" | "Customer Support" => "Commercial",
        "Engineering" | "IT" | "Product" => "Technology",
        _ => "Corporate",
    }
}

fn member(
    rng: &mut SplitMix64,
    i: usize,
    dept: usize,
    synced: bool,
    extensions: Extensions,
) -> Map<String, Value> {
    let (dname, dcode, _, titles) = DEPARTMENTS[dept];
    let given = *rng.pick(GIVEN);
    let surname = *rng.pick(SURNAMES);
    let nick = format!("{}.{}.{i}", given.to_lowercase(), surname.to_lowercase());
    let upn = format!("{nick}@{DOMAIN}");
    let (city, state, country, usage, phone) = *rng.pick(CITIES);
    let cost_center = format!("CC-{}", 1000 + rng.below(90) * 10);
    let mut props: Vec<(&str, Value)> = Vec::with_capacity(40);
    props.extend([
        ("displayName", text(format!("{given} {surname}"))),
        ("userPrincipalName", text(upn.as_str())),
        ("accountEnabled", Value::Bool(!rng.chance(0.03))),
        ("userType", text("Member")),
        ("givenName", text(given)),
        ("surname", text(surname)),
        ("mail", text(upn.as_str())),
        ("mailNickname", text(nick)),
        ("jobTitle", text(*rng.pick(titles))),
        ("department", text(dname)),
        ("companyName", text("Contoso")),
        ("employeeId", text(format!("E{:06}", 100_000 + i))),
        (
            "employeeType",
            text(if rng.chance(0.08) {
                "Contractor"
            } else {
                "Employee"
            }),
        ),
        (
            "employeeHireDate",
            date(EPOCH - 86_400 * rng.below(3650) as i64),
        ),
        (
            "officeLocation",
            text(format!("{city} {}", 1 + rng.below(6))),
        ),
        ("city", text(city)),
        ("state", text(state)),
        ("country", text(country)),
        ("usageLocation", text(usage)),
        (
            "businessPhones",
            json!([format!("{phone} {:04}", rng.below(10_000))]),
        ),
        ("preferredLanguage", text("en-US")),
        ("proxyAddresses", json!([format!("SMTP:{upn}")])),
        (
            "identities",
            json!([{"signInType": "userPrincipalName", "issuer": DOMAIN, "issuerAssignedId": upn}]),
        ),
        ("createdDateTime", date(EPOCH + 600 * i as i64)),
    ]);
    if rng.chance(0.5) {
        props.push((
            "mobilePhone",
            text(format!("{phone} {:04}", rng.below(10_000))),
        ));
    }
    if synced {
        let mut ext = vec![
            ("extensionAttribute1", text(cost_center.as_str())),
            ("extensionAttribute2", text(dcode)),
        ];
        if rng.chance(0.4) {
            ext.push((
                "extensionAttribute5",
                text(format!("L{}", 1 + rng.below(7))),
            ));
        }
        if rng.chance(0.1) {
            ext.push(("extensionAttribute10", text("contractor-badge")));
        }
        props.push(("onPremisesExtensionAttributes", Value::Object(exact(ext))));
        on_premises(rng, i, (given, surname, dname), &upn, &mut props);
    }
    let mut out = exact(props);
    // A cloud directory extension (registered on the first app) carries the cost centre of a
    // quarter of the members; the AD-synced one the division of every synced member.
    let mut extra = Vec::new();
    if let Some(app_id) = extensions.cloud {
        if rng.chance(0.25) {
            extra.push((
                format!("extension_{}_costCenter", app_id.replace('-', "")),
                text(cost_center),
            ));
        }
    }
    if let (true, Some(app_id)) = (synced, extensions.synced) {
        extra.push((
            format!("extension_{}_division", app_id.replace('-', "")),
            text(division(dname)),
        ));
    }
    if !extra.is_empty() {
        let mut with = Map::with_capacity(out.len() + extra.len());
        with.extend(out);
        with.extend(extra);
        out = with;
    }
    out
}

fn guest(rng: &mut SplitMix64, i: usize) -> Map<String, Value> {
    let given = *rng.pick(GIVEN);
    let surname = *rng.pick(SURNAMES);
    let (company, domain) = *rng.pick(PARTNERS);
    let mail = format!(
        "{}.{}@{domain}",
        given.to_lowercase(),
        surname.to_lowercase()
    );
    let nick = format!("{}#EXT#", mail.replace('@', "_"));
    let upn = format!("{nick}@{DOMAIN}");
    let invited = EPOCH + 600 * i as i64;
    let accepted = rng.chance(0.85);
    let identity = if rng.chance(0.7) {
        json!({"signInType": "federated", "issuer": "ExternalAzureAD", "issuerAssignedId": null})
    } else {
        json!({"signInType": "emailAddress", "issuer": "mail", "issuerAssignedId": mail})
    };
    obj(json!({
        "displayName": format!("{given} {surname} ({company})"),
        "userPrincipalName": upn,
        "accountEnabled": true,
        "userType": "Guest",
        "creationType": "Invitation",
        "externalUserState": if accepted { "Accepted" } else { "PendingAcceptance" },
        "externalUserStateChangeDateTime": date(invited + if accepted { 86_400 } else { 0 }),
        "givenName": given,
        "surname": surname,
        "mail": mail,
        "mailNickname": nick,
        "otherMails": [mail],
        "companyName": company,
        "proxyAddresses": [format!("SMTP:{mail}")],
        "identities": [identity],
        "createdDateTime": date(invited),
    }))
}

/// Generates the users and their managers.
pub(super) fn generate(
    spec: &SyntheticSpec,
    k: &Kinds,
    rng: &mut SplitMix64,
    tenant: &mut Tenant,
    extensions: Extensions,
) -> People {
    let mut p = People {
        by_dept: vec![Vec::new(); DEPARTMENTS.len()],
        synced_by_dept: vec![Vec::new(); DEPARTMENTS.len()],
        ..People::default()
    };
    for i in 0..spec.users {
        let r = rng.next_f64();
        // The first user is the emergency-access account, which is cloud-only by design.
        let class = if i == 0 {
            Class::Cloud
        } else if r < GUEST_SHARE {
            Class::Guest
        } else if r < GUEST_SHARE + SYNCED_SHARE {
            Class::Synced
        } else {
            Class::Cloud
        };
        let dept = department(rng);
        let props = match class {
            Class::Guest => compact(guest(rng, i)),
            _ => member(rng, i, dept, class == Class::Synced, extensions),
        };
        let slot = tenant.insert(k.users, rng.guid(), props);
        p.all.push(slot);
        match class {
            Class::Guest => p.guests.push(slot),
            Class::Synced => {
                p.members.push(slot);
                p.synced.push(slot);
                p.by_dept[dept].push(slot);
                p.synced_by_dept[dept].push(slot);
            }
            Class::Cloud => {
                p.members.push(slot);
                p.by_dept[dept].push(slot);
                if p.break_glass.is_none() {
                    p.break_glass = Some(slot);
                }
            }
        }
    }
    p.break_glass = p.break_glass.or_else(|| p.members.first().copied());
    hierarchy(k, tenant, &p);
    p
}

fn set_manager(k: &Kinds, tenant: &mut Tenant, user: u32, manager: u32) {
    if user == manager {
        return;
    }
    if let Some(e) = tenant.entry_mut(user) {
        e.links[k.manager].clear();
        e.links[k.manager].insert(manager);
    }
}

fn set_title(tenant: &mut Tenant, user: u32, title: String) {
    if let Some(e) = tenant.entry_mut(user) {
        e.props.insert("jobTitle".into(), Value::String(title));
    }
}

/// Gives every member but the CEO a manager.
fn hierarchy(k: &Kinds, tenant: &mut Tenant, p: &People) {
    let exec = DEPARTMENTS
        .iter()
        .position(|d| d.0 == "Executive")
        .unwrap_or(DEPARTMENTS.len() - 1);
    let Some(ceo) = p.synced_by_dept[exec]
        .first()
        .or(p.synced.first())
        .or(p.members.first())
        .copied()
    else {
        return;
    };
    set_title(tenant, ceo, "Chief Executive Officer".into());
    let mut executives: Vec<u32> = p.synced_by_dept[exec]
        .iter()
        .copied()
        .filter(|x| *x != ceo)
        .collect();
    for x in &executives {
        set_manager(k, tenant, *x, ceo);
    }
    if executives.is_empty() {
        executives.push(ceo);
    }
    for (d, (dname, ..)) in DEPARTMENTS.iter().enumerate() {
        if d == exec {
            for m in &p.by_dept[d] {
                if !executives.contains(m) {
                    set_manager(k, tenant, *m, ceo);
                }
            }
            continue;
        }
        // Managers come from the synced members where there are any, so that a synced user's
        // manager is in AD too.
        let pool: &[u32] = if p.synced_by_dept[d].is_empty() {
            &p.by_dept[d]
        } else {
            &p.synced_by_dept[d]
        };
        let Some(&head) = pool.iter().find(|x| **x != ceo) else {
            continue;
        };
        set_manager(k, tenant, head, executives[d % executives.len()]);
        set_title(tenant, head, format!("Head of {dname}"));
        let leads: Vec<u32> = pool
            .iter()
            .copied()
            .filter(|x| *x != head && *x != ceo)
            .step_by(TEAM_SIZE)
            .collect();
        for l in &leads {
            set_manager(k, tenant, *l, head);
        }
        let is_lead: std::collections::HashSet<u32> = leads.iter().copied().collect();
        for (j, m) in p.by_dept[d].iter().enumerate() {
            if *m == head || *m == ceo || is_lead.contains(m) {
                continue;
            }
            let boss = if leads.is_empty() {
                head
            } else {
                leads[j % leads.len()]
            };
            set_manager(k, tenant, *m, boss);
        }
    }
}
