//! The plan's named hooks where Graph is irregular, chosen by data in `schema/` (see
//! `crate::write_rules`): a guest is re-created through an invitation, not a create; and enabled
//! app roles and permission scopes that change or go are disabled in a PATCH of their own first.

use serde_json::{Map, Value};

use crate::diff::AttributeChange;
use crate::model::Object;
use crate::schema::KindSpec;
use crate::write_rules::{self, Disabled};

use super::super::model::{Op, Phase, PlanAttribute};
use super::Builder;

/// Where a re-invited guest is sent after redeeming (required by `POST invitations`): the
/// user's own applications portal, as for any invitation made in the admin center.
pub const INVITE_REDIRECT_URL: &str = "https://myapplications.microsoft.com";

/// Properties an invitation sets on the user it makes (invitation-post.md: the display name and
/// type it is given, and the user principal name, mail and mail nickname made from the address):
/// never patched afterwards.
const SET_BY_INVITATION: &[&str] = &[
    "displayName",
    "userPrincipalName",
    "mail",
    "mailNickname",
    "userType",
];

/// The body of `POST invitations` that invites the guest `desired` again, without an
/// invitation message; `None` when the desired state names no address to invite.
pub(super) fn invitation(desired: &Object) -> Option<Map<String, Value>> {
    let text = |k: &str| desired.props.get(k).and_then(Value::as_str);
    let address = text("mail")
        .map(str::to_string)
        .or_else(|| {
            desired
                .props
                .get("otherMails")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .or_else(|| text("userPrincipalName").and_then(address_in_guest_upn))?;
    let mut body = Map::new();
    body.insert("invitedUserEmailAddress".into(), Value::String(address));
    if let Some(name) = text("displayName") {
        body.insert("invitedUserDisplayName".into(), Value::String(name.into()));
    }
    if let Some(t) = text("userType") {
        body.insert("invitedUserType".into(), Value::String(t.into()));
    }
    body.insert(
        "inviteRedirectUrl".into(),
        Value::String(INVITE_REDIRECT_URL.into()),
    );
    body.insert("sendInvitationMessage".into(), Value::Bool(false));
    Some(body)
}

/// `jane_fabrikam.com#EXT#@contoso.onmicrosoft.com` → `jane@fabrikam.com`.
fn address_in_guest_upn(upn: &str) -> Option<String> {
    let local = upn.split("#EXT#").next()?;
    let (user, domain) = local.rsplit_once('_')?;
    (!user.is_empty() && !domain.is_empty()).then(|| format!("{user}@{domain}"))
}

/// Whether the invitation sets `prop` (so the PATCH after it leaves it out).
pub(super) fn set_by_invitation(prop: &str) -> bool {
    SET_BY_INVITATION.contains(&prop)
}

/// The PATCH that disables, before `body` is sent, the enabled entitlements `body` changes or
/// removes, and what it shows reviewers; `None` when none does.
pub(super) fn disable_first(
    kind: &KindSpec,
    live: &Object,
    body: &Map<String, Value>,
) -> Option<(Map<String, Value>, Vec<PlanAttribute>)> {
    let (patch, disabled) = write_rules::disable_first(kind, &live.props, body)?;
    let shown = disabled
        .iter()
        .map(|d: &Disabled| PlanAttribute {
            path: format!(
                "{}[{}].{}",
                d.path,
                d.value.as_deref().unwrap_or(&d.key),
                d.flag
            ),
            old: Value::Bool(true),
            new: Value::Bool(false),
            set_like: false,
        })
        .collect();
    Some((patch, shown))
}

impl Builder {
    /// Every link end of `desired` added, where Graph lets them be written.
    pub(super) fn new_links(&mut self, kind: &'static KindSpec, desired: &Object) {
        for (name, refs) in &desired.links {
            if let Some(rule) = write_rules::link_rule(kind, &desired.props, name, &self.cx) {
                self.unwritable.link(desired, rule, name, refs, &[]);
                continue;
            }
            self.link_changes(desired, name, refs, &[]);
        }
    }

    /// Named hook `invitation`: a guest that is gone for good is invited again (`POST
    /// invitations`, no invitation message), then its other properties are patched; never
    /// `POST users`, which cannot make an external user.
    pub(super) fn invite(&mut self, kind: &'static KindSpec, desired: &Object) {
        let Some(invitation) = invitation(desired) else {
            self.note(
                desired,
                "cannot be invited again: the desired state names no e-mail address (mail, otherMails or an #EXT# user principal name)",
            );
            return;
        };
        let mut shown = Vec::new();
        let mut patch = Map::new();
        for (k, v) in &desired.props {
            if k == "id"
                || k == "@odata.type"
                || v.is_null()
                || super::not_writable(kind, k).is_some()
            {
                continue;
            }
            if let Some(rule) = write_rules::property_rule(kind, &desired.props, k, &self.cx) {
                let a = AttributeChange {
                    path: k.clone(),
                    old: Value::Null,
                    new: v.clone(),
                    set_like: kind.is_set_like(k),
                    cannot_restore: None,
                };
                self.unwritable.attribute(desired, rule, &a);
                continue;
            }
            if super::is_empty_value(v) {
                continue;
            }
            shown.push(PlanAttribute::created(kind, k, v));
            if !set_by_invitation(k) {
                patch.insert(k.clone(), v.clone());
            }
        }
        self.push(
            desired,
            Phase::Recover,
            Op::Invite { body: invitation },
            shown,
        );
        if !patch.is_empty() {
            self.push(
                desired,
                Phase::Update,
                Op::Update { body: patch },
                Vec::new(),
            );
        }
        self.note(
            desired,
            "a guest is invited again, without an invitation message, and gets a new id: it must accept the invitation again (resend it from the Entra admin center); references to the old id in this plan use the new one",
        );
        self.new_links(kind, desired);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_of_a_guest_comes_from_its_user_principal_name_when_nothing_else_says() {
        assert_eq!(
            address_in_guest_upn("jane.doe_fabrikam.com#EXT#@contoso.onmicrosoft.com").as_deref(),
            Some("jane.doe@fabrikam.com")
        );
        assert_eq!(
            address_in_guest_upn("a_b_c.org#EXT#@x").as_deref(),
            Some("a_b@c.org")
        );
        assert_eq!(address_in_guest_upn("nobody#EXT#@x"), None);
    }
}
