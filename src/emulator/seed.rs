//! Loading a tenant from a snapshot repository's object files: every file a kind owns (found
//! with `layout::kind_for_path`) is parsed with `yaml::parse_object`; link lists become the
//! emulator's link sets once every object is known. A file says nothing about server-side
//! bookkeeping, so only what Graph always has is added: the policy singletons when missing.

use std::path::Path;

use walkdir::WalkDir;

use super::config::EmulatorError;
use super::state::{kind_index, Tenant};
use crate::layout;
use crate::yaml;

/// What a seed folder held.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub objects: usize,
    pub links: usize,
    /// Link ends naming an object that is not in the folder (kinds out of scope, devices …).
    pub dangling_links: usize,
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
        let Some(kind) = layout::kind_for_path(&rel) else {
            continue;
        };
        let text =
            std::fs::read_to_string(entry.path()).map_err(|source| EmulatorError::SeedIo {
                path: entry.path().to_path_buf(),
                source,
            })?;
        let object = yaml::parse_object(kind, entry.path(), &text)?;
        let k = kind_index(&kind.kind).expect("layout only returns schema kinds");
        let slot = tenant.insert(k, object.id.clone(), object.props);
        pending.push((slot, object.links));
        report.objects += 1;
    }
    for (slot, links) in pending {
        let Some(kind) = tenant.entry(slot).map(|e| e.info().spec) else {
            continue;
        };
        for (i, link) in kind.links.iter().enumerate() {
            let ids: Vec<u32> = links
                .get(&link.name)
                .into_iter()
                .flatten()
                .filter_map(|r| {
                    let s = tenant.live_slot(&r.id);
                    if s.is_none() {
                        report.dangling_links += 1;
                    }
                    s
                })
                .collect();
            report.links += ids.len();
            if let Some(e) = tenant.entry_mut(slot) {
                e.links[i].extend(ids);
            }
        }
    }
    Ok(report)
}
