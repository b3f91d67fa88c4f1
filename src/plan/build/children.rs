//! Plans for contained children stored in their owner's file (an application's
//! `federatedIdentityCredentials`): matched by key, each one that differs is written whole (an
//! upsert, so that a re-run converges) and each one the desired side lacks is removed.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::Builder;
use crate::model::{values_equal, Object};
use crate::plan::model::{Op, Phase, PlanAttribute};
use crate::schema::KindSpec;

impl Builder {
    /// The writes that take one contained collection from `live`'s children to `desired`'s,
    /// matched by key: a child that differs or is missing is written whole (upserted), one
    /// the desired side lacks is removed.
    pub(super) fn children(
        &mut self,
        kind: &'static KindSpec,
        live: &Object,
        desired: &Object,
        name: &str,
    ) {
        let Some(spec) = kind.child(name) else {
            return;
        };
        let by_key = |o: &Object| -> BTreeMap<String, Map<String, Value>> {
            o.props
                .get(name)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|item| {
                    let m = item.as_object()?;
                    let key = m.get(&spec.key)?.as_str()?;
                    Some((key.to_string(), m.clone()))
                })
                .collect()
        };
        let (have, want) = (by_key(live), by_key(desired));
        for (key, old) in &have {
            if want.contains_key(key) {
                continue;
            }
            self.push(
                desired,
                Phase::RemoveChildren,
                Op::RemoveChild {
                    child: name.to_string(),
                    key: key.clone(),
                },
                vec![PlanAttribute {
                    path: format!("{name}[{key}]"),
                    old: Value::Object(old.clone()),
                    new: Value::Null,
                    set_like: false,
                }],
            );
        }
        for (key, body) in want {
            let old = have.get(&key);
            if old.is_some_and(|o| {
                values_equal(&Value::Object(o.clone()), &Value::Object(body.clone()))
            }) {
                continue;
            }
            let shown = PlanAttribute {
                path: format!("{name}[{key}]"),
                old: old.cloned().map_or(Value::Null, Value::Object),
                new: Value::Object(body.clone()),
                set_like: false,
            };
            self.push(
                desired,
                Phase::WriteChildren,
                Op::WriteChild {
                    child: name.to_string(),
                    key,
                    body,
                },
                vec![shown],
            );
        }
    }
}
