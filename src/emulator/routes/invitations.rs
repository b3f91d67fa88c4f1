//! `POST /invitations` (invitation-post.md): invites an external user, which creates a guest
//! (`userType: Guest`, `creationType: Invitation`, an `#EXT#` user principal name, invitation
//! pending) and answers 201 with the invitation and `invitedUser.id`. Inviting an address that
//! already has a guest answers with that guest.

use serde_json::{json, Map, Value};

use super::reply::{not_allowed, now, Reply};
use super::request::Req;
use super::validate::{parse_writes, Target};
use super::writes::DOMAIN;
use crate::emulator::dynamic;
use crate::emulator::model::model;

pub(crate) fn route(req: &Req) -> Reply {
    if req.method != "POST" {
        return not_allowed(req.ctx);
    }
    let m = model();
    let body = match req.json_body() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let invitation = m.entity("invitation").expect("the metadata has invitation");
    let users = m.collection("users").expect("facts.yaml has users");
    let mut t = req.shared.write();
    let target = Target {
        coll: None,
        base: invitation,
        existing: None,
        creating: true,
        require_odata_type: false,
    };
    let w = match parse_writes(req.ctx, &t, &target, body) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let given: Map<String, Value> = w.props.into_iter().collect();
    let text = |k: &str| given.get(k).and_then(Value::as_str).map(str::to_string);
    let email = text("invitedUserEmailAddress").unwrap_or_default();
    let user_type = text("invitedUserType").unwrap_or_else(|| "Guest".into());
    let display = text("invitedUserDisplayName");
    let nick = format!("{}#EXT#", email.replace('@', "_"));
    let upn = format!("{nick}@{DOMAIN}");
    let slot = match t.find_by(users, "userPrincipalName", &upn) {
        Some(existing) => existing,
        None => {
            let stamp = now();
            let props = json!({
                "displayName": display.clone().unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_string()),
                "userPrincipalName": upn,
                "mail": email,
                "mailNickname": nick,
                "otherMails": [email],
                "userType": user_type,
                "creationType": "Invitation",
                "externalUserState": "PendingAcceptance",
                "externalUserStateChangeDateTime": stamp,
                "accountEnabled": true,
                "createdDateTime": stamp,
                "identities": [{"signInType": "userPrincipalName", "issuer": DOMAIN, "issuerAssignedId": upn}],
            });
            let props = props.as_object().cloned().unwrap_or_default();
            let slot = t.insert(users, uuid::Uuid::new_v4().to_string(), props);
            dynamic::after_write(&mut t, slot);
            slot
        }
    };
    let user_id = t.entry(slot).map(|e| e.id.clone()).unwrap_or_default();
    let id = uuid::Uuid::new_v4().to_string();
    let redeem = format!(
        "https://login.microsoftonline.com/redeem?rd=https%3a%2f%2finvitations.microsoft.com%2fredeem%2f%3ftenant%3d{}%26user%3d{id}",
        req.shared.tenant_id
    );
    Reply::json(
        201,
        json!({
            "@odata.context": req.context("invitations/$entity"),
            "id": id,
            "inviteRedeemUrl": redeem,
            "invitedUserDisplayName": display,
            "invitedUserType": user_type,
            "invitedUserEmailAddress": email,
            "sendInvitationMessage": given.get("sendInvitationMessage").cloned().unwrap_or(json!(false)),
            "resetRedemption": given.get("resetRedemption").cloned().unwrap_or(json!(false)),
            "inviteRedirectUrl": text("inviteRedirectUrl"),
            "status": "PendingAcceptance",
            "invitedUserMessageInfo": given.get("invitedUserMessageInfo").cloned().unwrap_or(json!({"messageLanguage": null, "customizedMessageBody": null, "ccRecipients": []})),
            "invitedUser": {"id": user_id},
        }),
    )
}
