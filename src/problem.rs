//! A mistake in what the user gave (a setting, an argument) found by a module below the CLI:
//! what is wrong and what to do about it. The crate's `Error` turns it into an `error:` line and a
//! `hint:` line.

/// What is wrong, and the hint that says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Problem {
    pub message: String,
    pub hint: String,
}

impl Problem {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Problem {
        Problem {
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// The hint, as every error type of the crate offers one.
    pub fn hint(&self) -> Option<String> {
        Some(self.hint.clone())
    }
}
