//! The plan document: one JSON document that `restore`/`apply`/`plan --format json` print and
//! `plan --out` saves, and that `apply --plan` reads back. Its checksum catches a file that was
//! cut off or edited by accident; it is no security boundary — anyone can recompute it — so a
//! saved plan is always checked again against a fresh plan before it is carried out.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::model::{Plan, PLAN_VERSION};

/// Why a plan cannot be used.
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
    #[error("{} is {what}, not a regular file: a plan is only ever written to a regular file", path.display())]
    NotRegular { path: PathBuf, what: &'static str },
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
    /// A saved plan asks for a write that a fresh plan of the same request would not make.
    #[error("the plan asks for more than a fresh plan of its request would do: {action} ({count} such {})", if *count == 1 { "action" } else { "actions" })]
    Exceeds { action: String, count: usize },
}

impl PlanError {
    pub fn hint(&self) -> Option<String> {
        match self {
            PlanError::Read { .. } => Some("check the path given to --plan".into()),
            PlanError::Write { .. } => {
                Some("check that the folder of --out exists and is writable".into())
            }
            PlanError::NotRegular { .. } => {
                Some("give --out the path of a new file or of an earlier plan file".into())
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
            PlanError::Exceeds { .. } => Some(
                "nothing was written; a saved plan can only narrow what a fresh plan does: make a \
                 new plan (`tenantgit plan --out FILE`), review it, and apply that"
                    .into(),
            ),
        }
    }
}

/// The plan document as pretty JSON with a final newline: the plan's own fields, plus what a
/// reader wants without computing it (the type, a summary, each refusal's message). Those
/// extras are ignored when the document is read back.
pub fn to_json(plan: &Plan) -> String {
    let fields = serde_json::to_value(plan).expect("a plan always serializes");
    let mut doc = serde_json::Map::new();
    doc.insert("version".into(), Value::from(plan.version));
    doc.insert("type".into(), Value::from("plan"));
    doc.insert(
        "summary".into(),
        serde_json::to_value(plan.summary()).expect("a summary always serializes"),
    );
    if let Value::Object(fields) = fields {
        doc.extend(fields);
    }
    if let Some(Value::Array(refusals)) = doc.get_mut("refusals") {
        for (value, refusal) in refusals.iter_mut().zip(&plan.refusals) {
            if let Value::Object(m) = value {
                m.insert("message".into(), Value::String(refusal.message()));
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON values always serialize");
    text.push('\n');
    text
}

/// Writes the plan document to a regular file (a new one, or one it replaces): never to a
/// device, a folder or through a symbolic link. The text goes to a temporary file first, so
/// that a reader never sees half a plan.
pub fn save(plan: &Plan, path: &Path) -> Result<(), PlanError> {
    let write = |source| PlanError::Write {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            let kind = meta.file_type();
            let what = if kind.is_symlink() {
                Some("a symbolic link")
            } else if kind.is_dir() {
                Some("a folder")
            } else if !kind.is_file() {
                Some("a device or other special file")
            } else {
                None
            };
            if let Some(what) = what {
                return Err(PlanError::NotRegular {
                    path: path.to_path_buf(),
                    what,
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(write(e)),
    }
    let text = to_json(plan);
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
pub fn load(path: &Path) -> Result<Plan, PlanError> {
    let text = std::fs::read_to_string(path).map_err(|source| PlanError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// [`load`] on text already read; `path` names it in errors.
pub fn parse(text: &str, path: &Path) -> Result<Plan, PlanError> {
    let corrupt = |detail: String| PlanError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let value: Value =
        serde_json::from_str(text).map_err(|e| corrupt(format!("not JSON ({e})")))?;
    // The version first: a plan of another format gets that message, not a field error.
    let found = value
        .get("version")
        .and_then(Value::as_u64)
        .ok_or_else(|| corrupt("no `version`".into()))?;
    if found != u64::from(PLAN_VERSION) {
        return Err(PlanError::Version {
            path: path.to_path_buf(),
            found: u32::try_from(found).unwrap_or(u32::MAX),
            expected: PLAN_VERSION,
        });
    }
    if value.get("type").and_then(Value::as_str) != Some("plan") {
        return Err(corrupt("`type` is not \"plan\"".into()));
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
