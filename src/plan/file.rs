//! Plan files: a plan as pretty JSON, written atomically, read back only when its checksum still
//! matches — a plan that was edited (or cut off) after review is refused rather than executed.

use std::path::{Path, PathBuf};

use super::{Plan, PLAN_VERSION};

/// Why a plan file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read plan file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write plan file {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a tenantgit plan: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("{} was written by a tenantgit with plan format {found}; this one reads format {expected}", path.display())]
    Version {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    /// The plan has refusals and `--force` was not given.
    #[error("refusing to write: {}", reasons.join("; "))]
    Refused { reasons: Vec<String> },
    /// Objects the plan acts on changed live since the plan was made.
    #[error("the live state of {} changed since the plan was made: {}", objects.len(), objects.join(", "))]
    Stale { objects: Vec<String> },
    #[error("{} was changed after it was made: its checksum does not match its contents", path.display())]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
}

impl PlanError {
    pub fn hint(&self) -> Option<String> {
        match self {
            PlanError::Read { .. } => Some("check the path given to --plan".into()),
            PlanError::Write { .. } => {
                Some("check that the folder of --out exists and is writable".into())
            }
            PlanError::Corrupt { .. } | PlanError::Checksum { .. } => Some(
                "a plan file must not be edited: make a new one with `tenantgit plan --out FILE`, \
                 review it, and apply that"
                    .into(),
            ),
            PlanError::Version { .. } => {
                Some("make the plan again with this version: `tenantgit plan --out FILE`".into())
            }
            PlanError::Refused { .. } => {
                Some("review the plan; if it is what you want, run again with --force".into())
            }
            PlanError::Stale { .. } => Some(
                "nothing was written; make a new plan from the current state \
                 (`tenantgit plan --out FILE`), review it, and apply that"
                    .into(),
            ),
        }
    }
}

/// Writes the plan as JSON (to a temporary file first, so that a reader never sees half a plan).
pub fn save(plan: &Plan, path: &Path) -> Result<(), crate::Error> {
    let write = |source| PlanError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut text = serde_json::to_string_pretty(plan).expect("a plan always serializes");
    text.push('\n');
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(write)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(write)?;
    tmp.persist(path).map_err(|e| write(e.error))?;
    Ok(())
}

/// Reads a plan file, refusing one whose checksum does not match its contents.
pub fn load(path: &Path) -> Result<Plan, crate::Error> {
    let text = std::fs::read_to_string(path).map_err(|source| PlanError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse(&text, path)?)
}

/// [`load`] on text already read; `path` names it in errors.
pub fn parse(text: &str, path: &Path) -> Result<Plan, PlanError> {
    let corrupt = |detail: String| PlanError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| corrupt(format!("not JSON ({e})")))?;
    // The version first: a plan of another format gets that message, not a field error.
    let found = value
        .get("version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| corrupt("no `version`".into()))?;
    if found != u64::from(PLAN_VERSION) {
        return Err(PlanError::Version {
            path: path.to_path_buf(),
            found: u32::try_from(found).unwrap_or(u32::MAX),
            expected: PLAN_VERSION,
        });
    }
    let plan: Plan = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
    let actual = plan.compute_checksum();
    if actual != plan.checksum {
        return Err(PlanError::Checksum {
            path: path.to_path_buf(),
            expected: plan.checksum.clone(),
            actual,
        });
    }
    Ok(plan)
}
