//! What a plan's actions become: the requests and `@odata.bind` batches that carry them out,
//! with the Graph paths of objects, children and link ends, and which failures mean "already as
//! wanted" (a re-run converges).

use reqwest::Method;
use serde_json::{json, Value};

use crate::plan::{Action, Op, Phase, Plan, PlanLink};
use crate::schema::KindSpec;

use super::{Origin, State, WriteOutcome, BIND_MAX};

/// Which failures mean "already as wanted".
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Tolerate {
    Nothing,
    /// 404: the link end or object is already gone.
    Missing,
    /// 400 "…already exist…": the link end is already there.
    Existing,
}

/// One unit of concurrent work.
pub(super) enum Work {
    Request {
        origin: Origin,
        method: Method,
        path: String,
        body: Option<Value>,
        tolerate: Tolerate,
        /// A create: remember the new id (and appId) under the old ones.
        create: Option<CreateInfo>,
        /// The `Prefer` header (`create-if-missing` for child upserts).
        prefer: Option<&'static str>,
    },
    /// Link ends added with one `@odata.bind` PATCH, falling back to one `$ref` POST per end
    /// when Graph refuses the batch (it is all-or-nothing, and one end already there fails it).
    Bind {
        origin: Origin,
        owner_path: String,
        link: String,
        link_path: String,
        ends: Vec<String>,
    },
}

pub(super) struct CreateInfo {
    /// The secret the create carries (see `schema::CreateSecret`), generated when sent.
    pub secret: Option<&'static crate::schema::CreateSecret>,
    /// The desired values of the kind's key properties, which Graph assigns anew.
    pub old_keys: Vec<(&'static str, String)>,
}

/// The path of an object: the singleton's own path, else `{collection}/{id}`.
pub(super) fn object_path(kind: &KindSpec, id: &str) -> String {
    if kind.singleton {
        kind.path.clone()
    } else {
        format!("{}/{}", kind.path, id)
    }
}

/// The units of work of one action; outcomes of ends that are skipped go to `skip` at once.
pub(super) fn works(
    action: &Action,
    plan: &Plan,
    state: &State,
    graph_root: &str,
    skip: &mut dyn FnMut(WriteOutcome),
) -> Vec<Work> {
    let origin = Origin {
        kind: action.kind,
        id: action.id.clone(),
        display_name: action.display_name.clone(),
        label: action.op.label(),
    };
    let kind = action.kind.spec();
    let id = state.id(&action.id);
    let path = object_path(kind, &id);
    // Everything but the restore or create itself depends on the object being there.
    if action.phase != Phase::Recover && state.failed.contains(&action.key()) {
        skip(origin.skipped(
            "",
            &path,
            "skipped: restoring or re-creating the object failed".into(),
        ));
        return Vec::new();
    }
    let request = |method: Method, path: String, body: Option<Value>, tolerate| Work::Request {
        origin: origin.clone(),
        method,
        path,
        body,
        tolerate,
        create: None,
        prefer: None,
    };
    match &action.op {
        Op::Restore => vec![request(
            Method::POST,
            format!("directory/deletedItems/{id}/restore"),
            None,
            Tolerate::Nothing,
        )],
        Op::Create { body, password } => {
            let desired = plan.desired_object(action.kind, &action.id);
            let old_keys = kind
                .key_properties
                .iter()
                .filter_map(|p| {
                    let v = desired?.props.get(p)?.as_str()?;
                    Some((p.as_str(), v.to_string()))
                })
                .collect();
            vec![Work::Request {
                origin: origin.clone(),
                method: Method::POST,
                path: kind.path.clone(),
                body: Some(state.value(&Value::Object(body.clone()))),
                tolerate: Tolerate::Nothing,
                create: Some(CreateInfo {
                    secret: kind.create_secret.as_ref().filter(|_| *password),
                    old_keys,
                }),
                prefer: None,
            }]
        }
        Op::Update { body } => vec![request(
            Method::PATCH,
            path,
            Some(state.value(&Value::Object(body.clone()))),
            Tolerate::Nothing,
        )],
        Op::Delete { .. } => vec![request(Method::DELETE, path, None, Tolerate::Missing)],
        // Named hook `invitation` (schema `recreateThrough`): the guest is invited again; the
        // invitation's answer names the new user.
        Op::Invite { body } => vec![Work::Request {
            origin: origin.clone(),
            method: Method::POST,
            path: "invitations".into(),
            body: Some(state.value(&Value::Object(body.clone()))),
            tolerate: Tolerate::Nothing,
            create: Some(CreateInfo {
                secret: None,
                old_keys: Vec::new(),
            }),
            prefer: None,
        }],
        Op::WriteChild { child, key, body } => {
            let Some(spec) = kind.child(child) else {
                let mut o = origin.outcome("", &path);
                o.error = Some(format!("{} has no child collection {child:?}", kind.kind));
                skip(o);
                return Vec::new();
            };
            vec![Work::Request {
                origin: origin.clone(),
                method: Method::PATCH,
                path: child_path(&path, spec, key),
                body: Some(state.value(&Value::Object(body.clone()))),
                tolerate: Tolerate::Nothing,
                create: None,
                // Creates the child when it is missing (federatedidentitycredential-upsert.md),
                // so a re-run converges.
                prefer: Some("create-if-missing"),
            }]
        }
        Op::RemoveChild { child, key } => {
            let Some(spec) = kind.child(child) else {
                let mut o = origin.outcome("", &path);
                o.error = Some(format!("{} has no child collection {child:?}", kind.kind));
                skip(o);
                return Vec::new();
            };
            vec![request(
                Method::DELETE,
                child_path(&path, spec, key),
                None,
                Tolerate::Missing,
            )]
        }
        Op::AddLinks { link, ends } => {
            let Some(spec) = kind.link(link) else {
                let mut o = origin.outcome("", &path);
                o.error = Some(format!("{} has no link {link:?}", kind.kind));
                skip(o);
                return Vec::new();
            };
            let ends = live_ends(ends, state, &origin, &path, link, skip);
            if spec.single {
                // `PUT …/manager/$ref` replaces the one there (user-post-manager.md): the plan
                // names the one end to set.
                return ends
                    .into_iter()
                    .take(1)
                    .map(|end| {
                        request(
                            Method::PUT,
                            format!("{path}/{}/$ref", spec.path),
                            Some(json!({ "@odata.id": directory_object_url(graph_root, &end) })),
                            Tolerate::Nothing,
                        )
                    })
                    .collect();
            }
            if spec.bulk_bind {
                ends.chunks(BIND_MAX)
                    .map(|chunk| Work::Bind {
                        origin: origin.clone(),
                        owner_path: path.clone(),
                        link: link.clone(),
                        link_path: spec.path.clone(),
                        ends: chunk.to_vec(),
                    })
                    .collect()
            } else {
                ends.into_iter()
                    .map(|end| {
                        request(
                            Method::POST,
                            format!("{path}/{}/$ref", spec.path),
                            Some(json!({ "@odata.id": directory_object_url(graph_root, &end) })),
                            Tolerate::Existing,
                        )
                    })
                    .collect()
            }
        }
        Op::RemoveLinks { link, ends } => {
            let Some(spec) = kind.link(link) else {
                let mut o = origin.outcome("", &path);
                o.error = Some(format!("{} has no link {link:?}", kind.kind));
                skip(o);
                return Vec::new();
            };
            if spec.single {
                // `DELETE …/manager/$ref` (user-delete-manager.md); none there is done.
                return vec![request(
                    Method::DELETE,
                    format!("{path}/{}/$ref", spec.path),
                    None,
                    Tolerate::Missing,
                )];
            }
            // Always `…/{id}/$ref`: without `/$ref` Graph deletes the member object itself.
            ends.iter()
                .map(|end| {
                    request(
                        Method::DELETE,
                        format!("{path}/{}/{}/$ref", spec.path, state.id(&end.id)),
                        None,
                        Tolerate::Missing,
                    )
                })
                .collect()
        }
    }
}

/// `{object}/{path}({key}='…')`: one child addressed by its key, the value quoted as OData
/// quotes strings (`'` doubled) and percent-encoded where a URL path needs it.
pub(super) fn child_path(object: &str, spec: &crate::schema::ChildSpec, key: &str) -> String {
    let quoted = key.replace('\'', "''");
    let mut encoded = String::with_capacity(quoted.len());
    for b in quoted.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'\'') {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{object}/{}({}='{encoded}')", spec.path, spec.key)
}

/// Ids (new ones for re-created objects) of the link ends to add, without those whose own
/// restore or create failed (those are reported as skipped).
pub(super) fn live_ends(
    ends: &[PlanLink],
    state: &State,
    origin: &Origin,
    path: &str,
    link: &str,
    skip: &mut dyn FnMut(WriteOutcome),
) -> Vec<String> {
    let mut out = Vec::new();
    for end in ends {
        let failed = state
            .failed
            .iter()
            .any(|k| k.rsplit_once('/').is_some_and(|(_, id)| id == end.id));
        if failed {
            skip(origin.skipped(
                "",
                &format!("{path}/{link}/{}", end.id),
                format!(
                    "skipped: restoring or re-creating {} failed",
                    end.display_name.as_deref().unwrap_or(&end.id)
                ),
            ));
        } else {
            out.push(state.id(&end.id));
        }
    }
    out
}

/// `{graph_root}/directoryObjects/{id}`, the reference Graph takes in `$ref` and bind bodies.
pub(super) fn directory_object_url(graph_root: &str, id: &str) -> String {
    format!("{graph_root}/directoryObjects/{id}")
}
