//! Checks of the desired side before anything is written: object files only in the kinds'
//! folders, only properties the kind manages, and the tenant's value types. Errors name the file
//! the object was read from and the line in that file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, YamlError};
use crate::model::{ObjectKey, Snapshot};
use crate::read::extensions::Selected;
use crate::schema;

/// YAML files in a folder that no kind owns would be silently skipped: refuse instead.
pub(super) fn check_worktree_folders(root: &Path) -> Result<(), Error> {
    let entries = std::fs::read_dir(root)
        .map_err(|e| Error::io(format!("cannot read {}", root.display()), e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.')
            || !entry.path().is_dir()
            || schema::kinds().iter().any(|k| k.dir == name)
        {
            continue;
        }
        let has_yaml = walkdir::WalkDir::new(entry.path())
            .into_iter()
            .flatten()
            .any(|e| {
                e.path()
                    .extension()
                    .is_some_and(|x| x == "yaml" || x == "yml")
            });
        if has_yaml {
            let mut dirs: Vec<String> = schema::kinds()
                .iter()
                .map(|k| format!("{}/", k.dir))
                .collect();
            // Several singletons share `policies/`, not always next to each other.
            let mut seen = std::collections::HashSet::new();
            dirs.retain(|d| seen.insert(d.clone()));
            return Err(Error::usage(
                format!("{name}/ holds YAML files but is not the folder of any kind"),
                format!(
                    "object files live in the kinds' folders: {}",
                    dirs.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Desired objects may only carry the kind's managed properties (and the directory extension
/// attributes the tenant defines for it, `extensions`), and a property set on both sides must
/// have the live value's JSON type (a hand edit that writes `accountEnabled: "yes"` is caught
/// here, not by Graph halfway through a restore). `paths` gives the file each object was read
/// from, `text` that file's text.
pub(super) fn desired(
    desired: &Snapshot,
    live: &Snapshot,
    extensions: &Selected,
    paths: &HashMap<ObjectKey, String>,
    text: &dyn Fn(&str) -> Option<String>,
) -> Result<(), Error> {
    for (key, object) in &desired.objects {
        let kind = object.kind;
        let path = paths.get(key).map(String::as_str).unwrap_or_default();
        let bad = |prop: &str, message: String| bad_file(path, text(path), prop, message);
        let odata_type = object.odata_type();
        if kind.has_variants() && odata_type.is_none_or(|t| !kind.variants.contains_key(t)) {
            return Err(bad(
                "@odata.type",
                format!(
                    "`@odata.type` must be one of {}",
                    kind.variants.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let managed = kind.managed_for(odata_type);
        for (prop, value) in &object.props {
            if prop == "id" || prop == "@odata.type" {
                continue;
            }
            if kind.stores_extension(prop) {
                if !extensions.of(&kind).contains(prop) {
                    return Err(bad(
                        prop,
                        format!(
                            "`{prop}` is not a directory extension attribute the tenant defines for {} (was the application that registered it deleted?)",
                            kind.extension_target.as_deref().unwrap_or_default()
                        ),
                    ));
                }
            } else if !managed.contains(&prop.as_str()) {
                return Err(bad(
                    prop,
                    format!("unknown property `{prop}` for {}", kind.kind),
                ));
            }
            let Some(current) = live.get(key).and_then(|l| l.props.get(prop)) else {
                continue;
            };
            if !value.is_null() && !current.is_null() && json_type(value) != json_type(current) {
                return Err(bad(
                    prop,
                    format!(
                        "`{prop}` is {} here but {} in the tenant",
                        json_type(value),
                        json_type(current)
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// An error at the line of the top-level `prop` in the file the object was read from.
fn bad_file(path: &str, text: Option<String>, prop: &str, message: String) -> Error {
    let quoted = format!("\"{prop}\":");
    let plain = format!("{prop}:");
    let line = text
        .as_deref()
        .and_then(|t| {
            t.lines()
                .position(|l| l.starts_with(&plain) || l.starts_with(&quoted))
        })
        .map_or(1, |i| i + 1);
    Error::Yaml(YamlError {
        path: PathBuf::from(path),
        line,
        column: 1,
        message,
    })
}
