//! Exchange Online, simulated: `POST /_emulator/exchange` changes mail-enabled security groups
//! and distribution lists the way an Exchange administrator does (`Set-DistributionGroup`,
//! `Add-`/`Remove-DistributionGroupMember`). Graph refuses to write them ("Mail-enabled and
//! distribution groups are read-only through Microsoft Graph", resources/groups-overview.md;
//! the `mailEnabledGroup` write rule), so a test or the demo that needs such a change makes it
//! here, bypassing the write rules, recorded in the change log like any other change. Exchange
//! masters only the cloud ones: a group synced from Active Directory (`onPremisesSyncEnabled`)
//! is changed on-premises (`/_emulator/sync`), and a Microsoft 365 group (`Unified`) is
//! written through Graph. The request is `/_emulator/sync`'s, without managers; all changes are
//! checked before any is applied.

use serde_json::Value;

use super::state::Tenant;
use super::sync::{apply_as, Authority, SyncRequest};

/// Exchange Online: cloud mail-enabled security groups and distribution lists, with users and
/// groups as members.
const EXCHANGE: Authority = Authority {
    masters: exchange_group,
    may_name: |_, _| Ok(()),
    manager: false,
    synced_extensions: false,
    stamps_sync: false,
};

fn exchange_group(t: &Tenant, slot: u32) -> Result<(), String> {
    let Some(e) = t.entry(slot) else {
        return Err("no such object".into());
    };
    let is = |p: &str| e.props.get(p) == Some(&Value::Bool(true));
    let unified = e
        .props
        .get("groupTypes")
        .and_then(Value::as_array)
        .is_some_and(|types| types.iter().any(|x| x == "Unified"));
    if e.collection().name == "groups"
        && is("mailEnabled")
        && !unified
        && !is("onPremisesSyncEnabled")
    {
        return Ok(());
    }
    Err(format!(
        "{:?} is not a cloud mail-enabled security group or distribution list; Exchange Online \
         manages only those (synced groups change on-premises, other groups through Graph)",
        e.id
    ))
}

/// Applies changes made in Exchange Online; returns the ids changed, or why nothing was applied.
pub(crate) fn apply(t: &mut Tenant, req: &SyncRequest) -> Result<Vec<String>, String> {
    apply_as(t, req, &EXCHANGE)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::emulator::model::model;
    use crate::emulator::tests::props;

    #[test]
    fn exchange_changes_only_its_own_groups_and_logs_the_change() {
        let m = model();
        let (users, groups) = (
            m.collection("users").unwrap(),
            m.collection("groups").unwrap(),
        );
        let members = m.collections[groups].link("members").unwrap();
        let mut t = Tenant::new();
        let a = t.insert(users, "a".into(), props(json!({"displayName": "A"})));
        let mail = json!({"mailEnabled": true, "securityEnabled": true, "groupTypes": []});
        let g = t.insert(groups, "g".into(), props(mail.clone()));
        let mut synced = mail.clone();
        synced["onPremisesSyncEnabled"] = json!(true);
        t.insert(groups, "synced".into(), props(synced));
        let m365 = json!({"mailEnabled": true, "groupTypes": ["Unified"]});
        t.insert(groups, "m365".into(), props(m365));
        t.add_link(g, members, a);
        let start = t.changes.seq();
        let request = |v: Value| -> SyncRequest { serde_json::from_value(v).unwrap() };
        let done = apply(
            &mut t,
            &request(json!({"changes": [
                {"id": "g", "set": {"description": "changed"}, "removeMembers": ["a"]}]})),
        )
        .unwrap();
        assert_eq!(done, ["g"]);
        let e = t.entry(g).unwrap();
        assert_eq!(e.str_prop("description"), Some("changed"));
        assert!(!e.links[members].contains(&a));
        assert!(!e.props.contains_key("onPremisesLastSyncDateTime"));
        assert!(t.changes.links.iter().any(|c| c.seq > start && !c.added));
        // Synced and Microsoft 365 groups, users and managers are not Exchange's.
        let seq = t.changes.seq();
        for bad in [
            json!({"id": "synced", "addMembers": ["a"]}),
            json!({"id": "m365", "set": {"description": "x"}}),
            json!({"id": "a", "set": {"jobTitle": "x"}}),
            json!({"id": "g", "manager": "a"}),
        ] {
            assert!(
                apply(&mut t, &request(json!({"changes": [bad]}))).is_err(),
                "{bad}"
            );
        }
        assert_eq!(t.changes.seq(), seq);
    }
}
