//! Loading a tenant from a snapshot repository's object files with the emulator's own mapping of
//! folders to collections (facts.yaml `seed`) and a plain YAML parse: `id`, `@odata.type`,
//! structural properties checked against the model, reference lists (`members: [- <id>  # Name]`)
//! that become reference sets once every object is known, and contained children. A file says
//! nothing about server-side bookkeeping, so only what Graph always has is added later (policy
//! singletons, built-in strength policies).

use std::path::Path;

use serde_json::{Map, Value};
use walkdir::WalkDir;

use super::config::EmulatorError;
use super::model::{model, Seed};
use super::state::Tenant;

/// What a seed folder held.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub objects: usize,
    pub links: usize,
    /// Link ends naming an object that is not in the folder (kinds out of scope, devices …).
    pub dangling_links: usize,
}

/// What a file of the seed folder holds.
enum Holds {
    /// An object of this collection.
    Object(usize),
    /// A child of this collection's singleton, in the contained collection of this index.
    Child(usize, usize),
}

/// What the file at `rel` (a `/`-separated path below the seed folder) holds.
fn collection_for(rel: &str) -> Option<Holds> {
    if !rel.ends_with(".yaml") {
        return None;
    }
    let under = |d: &str| rel.strip_prefix(d).is_some_and(|r| r.starts_with('/'));
    let m = model();
    for (k, c) in m.collections.iter().enumerate() {
        let holds = match &c.seed {
            Some(Seed::File(f)) => f == rel,
            Some(Seed::Dir(d)) => under(d),
            None => false,
        };
        if holds {
            return Some(Holds::Object(k));
        }
        if c.singleton.is_some() {
            if let Some(ci) = c
                .children
                .iter()
                .position(|ch| ch.seed.as_deref().is_some_and(under))
            {
                return Some(Holds::Child(k, ci));
            }
        }
    }
    None
}

/// A child in a file of its own (a method configuration): its mapping as the file has it.
fn parse_child(path: &Path, text: &str) -> Result<Map<String, Value>, EmulatorError> {
    let bad = |message: String| EmulatorError::SeedFile {
        path: path.to_path_buf(),
        message,
    };
    match serde_yaml::from_str(text).map_err(|e| bad(e.to_string()))? {
        Value::Object(m) if m.get("id").is_some_and(Value::is_string) => Ok(m),
        _ => Err(bad("a child file holds a mapping with an `id`".into())),
    }
}

/// One parsed file before references are resolved.
struct Parsed {
    slot: u32,
    links: Vec<(usize, Vec<String>)>,
}

fn parse_file(
    path: &Path,
    text: &str,
    kind: usize,
    tenant: &mut Tenant,
) -> Result<Parsed, EmulatorError> {
    let bad = |message: String| EmulatorError::SeedFile {
        path: path.to_path_buf(),
        message,
    };
    let m = model();
    let coll = &m.collections[kind];
    let value: Value = serde_yaml::from_str(text).map_err(|e| bad(e.to_string()))?;
    let Value::Object(obj) = value else {
        return Err(bad("the file does not hold a mapping".into()));
    };
    let id = match (obj.get("id").and_then(Value::as_str), &coll.singleton) {
        (Some(id), _) => id.to_string(),
        (None, Some(id)) => id.clone(),
        (None, None) => return Err(bad("the object has no `id`".into())),
    };
    // A Graph type newer than the metadata excerpt (`#microsoft.graph.…`) is served as stored,
    // its properties unchecked; anything else must be a type of the collection.
    let mut opaque = false;
    let ty = match obj.get("@odata.type").and_then(Value::as_str) {
        Some(t) => match m.entity(t) {
            Some(known) if m.is_a(known, &m.ty(coll.ty).name) => known,
            None if t.starts_with("#microsoft.graph.") && coll.polymorphic(m) => {
                opaque = true;
                coll.ty
            }
            _ => {
                return Err(bad(format!(
                    "`@odata.type` {t} is not a type of {}",
                    coll.name
                )))
            }
        },
        None => coll.ty,
    };
    let t = m.ty(ty);
    let mut props = Map::new();
    let mut links = Vec::new();
    let mut children = Vec::new();
    for (key, v) in obj {
        if key == "id" {
            continue;
        }
        if key == "@odata.type" {
            props.insert(key, v);
        } else if let Some(li) = coll.link(&key) {
            let ids = match v {
                Value::Null => Vec::new(),
                Value::String(s) => vec![s],
                Value::Array(a) => a
                    .into_iter()
                    .map(|x| x.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad(format!("`{key}` lists object ids")))?,
                _ => return Err(bad(format!("`{key}` lists object ids"))),
            };
            links.push((li, ids));
        } else if let Some(ci) = coll.child(&key) {
            let items = v
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_object().cloned()).collect())
                .unwrap_or_default();
            children.push((ci, items));
        } else if let Some(p) = t.prop(&key) {
            props.insert(p.name.clone(), v);
        } else if opaque || t.is_inline_nav(&key) || key.starts_with("extension_") {
            props.insert(key, v);
        } else if !v.is_null() {
            // A null carries no claim (null and absent are one fact in Graph).
            return Err(bad(format!(
                "`{key}` is not a property of {} in Graph v1.0",
                t.qualified()
            )));
        }
    }
    let slot = tenant.insert(kind, id, props);
    if let Some(e) = tenant.entry_mut(slot) {
        if !children.is_empty() {
            let mut all = vec![Vec::new(); coll.children.len()];
            for (ci, items) in children {
                all[ci] = items;
            }
            e.children = Some(Box::new(all));
        }
    }
    Ok(Parsed { slot, links })
}

pub(crate) fn load(dir: &Path, tenant: &mut Tenant) -> Result<SeedReport, EmulatorError> {
    let io = |source: std::io::Error| EmulatorError::SeedIo {
        path: dir.to_path_buf(),
        source,
    };
    if !dir.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "not a folder",
        )));
    }
    let mut report = SeedReport::default();
    let mut pending = Vec::new();
    let mut own_files: Vec<(usize, usize, Map<String, Value>)> = Vec::new();
    let walk = WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git");
    for entry in walk {
        let entry = entry.map_err(|e| io(e.into()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(dir) else {
            continue;
        };
        let rel = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let Some(holds) = collection_for(&rel) else {
            continue;
        };
        let text =
            std::fs::read_to_string(entry.path()).map_err(|source| EmulatorError::SeedIo {
                path: entry.path().to_path_buf(),
                source,
            })?;
        match holds {
            Holds::Object(kind) => {
                pending.push(parse_file(entry.path(), &text, kind, tenant)?);
                report.objects += 1;
            }
            Holds::Child(kind, ci) => own_files.push((kind, ci, parse_child(entry.path(), &text)?)),
        }
    }
    // Children in files of their own join their singleton once every file is read.
    for (kind, ci, item) in own_files {
        let coll = &model().collections[kind];
        let slot = coll
            .singleton
            .as_deref()
            .and_then(|id| tenant.live(kind).get(id).copied())
            .ok_or_else(|| EmulatorError::SeedFile {
                path: dir.join(coll.children[ci].seed.as_deref().unwrap_or_default()),
                message: format!("these files need {} beside them", coll.path),
            })?;
        if let Some(e) = tenant.entry_mut(slot) {
            let n = coll.children.len();
            let all = e
                .children
                .get_or_insert_with(|| Box::new(vec![Vec::new(); n]));
            let children = &mut all[ci];
            // One file per child: a file replaces what the parent's file listed under that id.
            let id = item.get("id").cloned();
            children.retain(|c| c.get("id") != id.as_ref());
            children.push(item);
        }
    }
    for Parsed { slot, links } in pending {
        for (li, ids) in links {
            let slots: Vec<u32> = ids
                .iter()
                .filter_map(|id| {
                    let s = tenant.live_slot(id);
                    if s.is_none() {
                        report.dangling_links += 1;
                    }
                    s
                })
                .collect();
            report.links += slots.len();
            if let Some(e) = tenant.entry_mut(slot) {
                e.links[li].extend(slots);
            }
        }
    }
    Ok(report)
}
