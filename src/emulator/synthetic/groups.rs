//! The groups of a generated tenant: one synced security group per department first (a
//! tenant's most important groups), then a few dynamic groups whose members are computed from
//! their rules, then access and collaboration groups of every kind a hybrid tenant has: most
//! synced from AD (security groups, mail-enabled security groups, distribution lists), then
//! Microsoft 365 groups, cloud security groups and the mail-enabled groups created in Exchange
//! Online. Synced groups hold only synced members (AD knows no cloud object) and have no Entra
//! owners; nesting follows what Entra allows (no group in a mail-enabled group, none in a
//! Microsoft 365 group).

use serde_json::{json, Map, Value};

use super::people::People;
use super::words::{APP_WORDS, DEPARTMENTS, TOPICS};
use super::{cloud_sid, date, obj, Kinds, AD_DOMAIN, AD_NETBIOS, AD_SID, DOMAIN, EPOCH, LAST_SYNC};
use crate::emulator::config::SyntheticSpec;
use crate::emulator::dynamic;
use crate::emulator::rng::SplitMix64;
use crate::emulator::state::Tenant;

/// (name, rule, Microsoft 365 group) of the dynamic groups, in the rule syntax Entra documents.
const DYNAMIC: &[(&str, &str, bool)] = &[
    (
        "All Sales staff",
        r#"(user.department -eq "Sales") -and (user.accountEnabled -eq true)"#,
        false,
    ),
    (
        "Engineering Community",
        r#"(user.department -eq "Engineering") -and (user.userType -eq "Member")"#,
        true,
    ),
    (
        "People managers",
        r#"(user.jobTitle -contains "Manager") -or (user.jobTitle -startsWith "Head of")"#,
        false,
    ),
    ("All guests", r#"(user.userType -eq "Guest")"#, false),
];

/// What a generated group is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GroupKind {
    SyncedSecurity,
    SyncedMailSecurity,
    SyncedDistribution,
    Dynamic,
    Microsoft365,
    CloudSecurity,
    CloudMailSecurity,
    CloudDistribution,
}

impl GroupKind {
    fn synced(self) -> bool {
        matches!(
            self,
            GroupKind::SyncedSecurity
                | GroupKind::SyncedMailSecurity
                | GroupKind::SyncedDistribution
        )
    }

    fn mail_enabled(self) -> bool {
        matches!(
            self,
            GroupKind::SyncedMailSecurity
                | GroupKind::SyncedDistribution
                | GroupKind::Microsoft365
                | GroupKind::CloudMailSecurity
                | GroupKind::CloudDistribution
        )
    }

    fn security_enabled(self) -> bool {
        !matches!(
            self,
            GroupKind::SyncedDistribution | GroupKind::CloudDistribution | GroupKind::Microsoft365
        )
    }

    /// A kind for an access or collaboration group: most synced, as in a hybrid tenant.
    fn draw(rng: &mut SplitMix64) -> GroupKind {
        match rng.next_f64() {
            r if r < 0.45 => GroupKind::SyncedSecurity,
            r if r < 0.52 => GroupKind::SyncedMailSecurity,
            r if r < 0.57 => GroupKind::SyncedDistribution,
            r if r < 0.80 => GroupKind::Microsoft365,
            r if r < 0.93 => GroupKind::CloudSecurity,
            r if r < 0.97 => GroupKind::CloudMailSecurity,
            _ => GroupKind::CloudDistribution,
        }
    }
}

/// The groups generated, by slot, with their kinds.
#[derive(Debug, Default)]
pub(super) struct Groups {
    pub all: Vec<(u32, GroupKind)>,
    /// The department groups, in DEPARTMENTS order.
    pub departments: Vec<u32>,
}

impl Groups {
    pub fn of(&self, kind: GroupKind) -> impl Iterator<Item = u32> + '_ {
        self.all
            .iter()
            .filter(move |(_, k)| *k == kind)
            .map(|(s, _)| *s)
    }
}

fn props(
    rng: &mut SplitMix64,
    name: &str,
    description: &str,
    kind: GroupKind,
    i: usize,
) -> Map<String, Value> {
    let nick: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    let nick = format!("{nick}{i}");
    let unified = kind == GroupKind::Microsoft365;
    let mut p = obj(json!({
        "displayName": name,
        "description": description,
        "mailNickname": nick,
        "mailEnabled": kind.mail_enabled(),
        "securityEnabled": kind.security_enabled() || (unified && rng.chance(0.3)),
        "groupTypes": if unified { json!(["Unified"]) } else { json!([]) },
        "isAssignableToRole": false,
        "securityIdentifier": cloud_sid(rng),
        "createdDateTime": date(EPOCH + 3_600 * i as i64),
    }));
    if kind.mail_enabled() {
        let mail = format!("{nick}@{DOMAIN}");
        p.insert("proxyAddresses".into(), json!([format!("SMTP:{mail}")]));
        p.insert("mail".into(), json!(mail));
    }
    if unified {
        p.insert(
            "visibility".into(),
            json!(if rng.chance(0.7) { "Private" } else { "Public" }),
        );
        p.insert("resourceProvisioningOptions".into(), json!(["Team"]));
    }
    if kind.synced() {
        let sam: String = name.replace(' ', "-").chars().take(64).collect();
        p.extend(obj(json!({
            "onPremisesSyncEnabled": true,
            "onPremisesSamAccountName": sam,
            "onPremisesSecurityIdentifier": format!("{AD_SID}-{}", 500_000 + i),
            "onPremisesDomainName": AD_DOMAIN,
            "onPremisesNetBiosName": AD_NETBIOS,
            "onPremisesLastSyncDateTime": date(LAST_SYNC - 60 * rng.below(30) as i64),
        })));
    }
    p
}

fn pick(rng: &mut SplitMix64, from: &[u32], n: usize) -> Vec<u32> {
    if from.is_empty() {
        return Vec::new();
    }
    (0..n).map(|_| from[rng.below(from.len())]).collect()
}

fn link(tenant: &mut Tenant, slot: u32, li: usize, targets: impl IntoIterator<Item = u32>) {
    if let Some(e) = tenant.entry_mut(slot) {
        e.links[li].extend(targets);
    }
}

/// Generates the groups and their members and owners.
pub(super) fn generate(
    spec: &SyntheticSpec,
    k: &Kinds,
    rng: &mut SplitMix64,
    tenant: &mut Tenant,
    people: &People,
) -> Groups {
    let mut g = Groups::default();
    for (d, (dname, ..)) in DEPARTMENTS.iter().enumerate().take(spec.groups) {
        let p = props(
            rng,
            &format!("Dept - {dname}"),
            &format!("Everyone in {dname}"),
            GroupKind::SyncedSecurity,
            d,
        );
        let slot = tenant.insert(k.groups, rng.guid(), p);
        link(
            tenant,
            slot,
            k.members,
            people.synced_by_dept[d].iter().copied(),
        );
        g.departments.push(slot);
        g.all.push((slot, GroupKind::SyncedSecurity));
    }
    // Groups a later security group may nest.
    let mut synced_security: Vec<u32> = g.departments.clone();
    let mut cloud_security: Vec<u32> = Vec::new();
    for i in g.all.len()..spec.groups {
        let dynamic_index = i - DEPARTMENTS.len().min(spec.groups);
        if let Some((name, rule, unified)) = DYNAMIC.get(dynamic_index) {
            let slot = dynamic_group(k, rng, tenant, people, name, rule, *unified, i);
            g.all.push((slot, GroupKind::Dynamic));
            continue;
        }
        let kind = GroupKind::draw(rng);
        let (prefix, description) = match kind {
            GroupKind::SyncedMailSecurity | GroupKind::CloudMailSecurity => {
                ("MESG ", "Mail-enabled access group")
            }
            GroupKind::SyncedDistribution | GroupKind::CloudDistribution => {
                ("DL ", "Distribution list")
            }
            GroupKind::Microsoft365 => ("", "Collaboration space"),
            _ => ("", "Access group"),
        };
        let name = format!("{prefix}{} {} {i}", rng.pick(APP_WORDS), rng.pick(TOPICS));
        let p = props(rng, &name, description, kind, i);
        let slot = tenant.insert(k.groups, rng.guid(), p);
        let n = if spec.members == 0 {
            0
        } else {
            spec.members / 2 + rng.below(spec.members + 1)
        };
        let pool: &[u32] = match kind {
            k if k.synced() => &people.synced,
            GroupKind::Microsoft365 => &people.all,
            _ => &people.members,
        };
        let mut members = pick(rng, pool, n);
        // Security groups nest earlier groups (never a later one, so nesting has no cycles):
        // synced ones synced groups, cloud ones any security group.
        if rng.chance(0.1) && matches!(kind, GroupKind::SyncedSecurity | GroupKind::CloudSecurity) {
            let n = 1 + rng.below(3);
            let nested = match kind {
                GroupKind::SyncedSecurity => pick(rng, &synced_security, n),
                _ => {
                    let all = synced_security.len() + cloud_security.len();
                    (0..n.min(all))
                        .map(|_| {
                            let x = rng.below(all);
                            match synced_security.get(x) {
                                Some(s) => *s,
                                None => cloud_security[x - synced_security.len()],
                            }
                        })
                        .collect()
                }
            };
            members.extend(nested);
        }
        link(tenant, slot, k.members, members);
        if matches!(kind, GroupKind::Microsoft365 | GroupKind::CloudSecurity) {
            let n_owners = 1 + rng.below(2);
            let owners = pick(rng, &people.members, n_owners);
            link(tenant, slot, k.owners, owners);
        }
        match kind {
            GroupKind::SyncedSecurity => synced_security.push(slot),
            GroupKind::CloudSecurity => cloud_security.push(slot),
            _ => {}
        }
        g.all.push((slot, kind));
    }
    g
}

/// A dynamic group with exactly the users its rule matches.
#[allow(clippy::too_many_arguments)]
fn dynamic_group(
    k: &Kinds,
    rng: &mut SplitMix64,
    tenant: &mut Tenant,
    people: &People,
    name: &str,
    rule: &str,
    unified: bool,
    i: usize,
) -> u32 {
    let kind = if unified {
        GroupKind::Microsoft365
    } else {
        GroupKind::CloudSecurity
    };
    let mut p = props(rng, name, &format!("Members: {rule}"), kind, i);
    let types = if unified {
        json!(["Unified", "DynamicMembership"])
    } else {
        json!(["DynamicMembership"])
    };
    p.insert("groupTypes".into(), types);
    p.insert("membershipRule".into(), json!(rule));
    p.insert("membershipRuleProcessingState".into(), json!("On"));
    let slot = tenant.insert(k.groups, rng.guid(), p);
    let parsed = dynamic::parse(rule).expect("the generator's membership rules parse");
    let matching: Vec<u32> = people
        .all
        .iter()
        .copied()
        .filter(|u| tenant.entry(*u).is_some_and(|e| parsed.matches(&e.props)))
        .collect();
    link(tenant, slot, k.members, matching);
    let owners = pick(rng, &people.members, 1);
    link(tenant, slot, k.owners, owners);
    slot
}

/// A few service principals are members of cloud access groups, as automation accounts are.
pub(super) fn add_service_principals(
    k: &Kinds,
    rng: &mut SplitMix64,
    tenant: &mut Tenant,
    groups: &Groups,
    sps: &[u32],
) {
    if sps.is_empty() {
        return;
    }
    let cloud: Vec<u32> = groups.of(GroupKind::CloudSecurity).collect();
    for g in cloud.iter().step_by(4) {
        let sp = sps[rng.below(sps.len())];
        link(tenant, *g, k.members, [sp]);
    }
}
