//! The crate's error type. Each module keeps its own typed errors; this enum gathers them so the
//! CLI can print one `error:` line, the cause chain, and a `hint:` for the person at the keyboard.

pub use crate::yaml::YamlError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("invalid object file {0}")]
    Yaml(#[from] YamlError),
    #[error(transparent)]
    Emulator(#[from] crate::emulator::EmulatorError),
    #[error(transparent)]
    Normalize(#[from] crate::normalize::NormalizeError),
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    #[error("{message}")]
    Config {
        message: String,
        hint: Option<String>,
    },
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Read(#[from] crate::read::ReadError),
    #[error(transparent)]
    Journal(#[from] crate::apply::journal::JournalError),
    /// Some writes of a restore or apply failed; the report has been printed already.
    #[error("{failed} of {total} writes failed")]
    WritesFailed { failed: usize, total: usize },
}

impl From<crate::problem::Problem> for Error {
    fn from(p: crate::problem::Problem) -> Self {
        Error::Config {
            message: p.message,
            hint: Some(p.hint),
        }
    }
}

impl Error {
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn config(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Graph(e) => e.hint(),
            Error::Store(e) => e.hint(),
            Error::Yaml(_) => Some("fix the file (or restore it with `git checkout -- PATH`) and run again".into()),
            Error::Normalize(e) => e.hint(),
            Error::Emulator(e) => e.hint(),
            Error::Plan(e) => e.hint(),
            Error::Read(e) => e.hint(),
            Error::Journal(e) => e.hint(),
            Error::Config { hint, .. } | Error::Usage { hint, .. } => hint.clone(),
            Error::Io { .. } => None,
            Error::WritesFailed { .. } => {
                Some("the report above names each failed write; run the same command again to retry them".into())
            }
        }
    }

    /// Process exit status: 3 when writes failed, 2 for every other error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::WritesFailed { .. } => 3,
            _ => 2,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
