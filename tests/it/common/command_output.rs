//! What one run of the binary gave: exit status, stdout and stderr. Its `Display` shows the three
//! together with run-dependent details redacted, so a test snapshots all the user sees at once
//! (`assert_snapshot!(output)`); the raw streams stay available for parsing and targeted checks.

use std::cell::RefCell;
use std::fmt;
use std::process::{ExitStatus, Output};
use std::rc::Rc;

use serde_json::Value;

/// Literal values of one environment and what they are shown as (the emulator's URL, the temp
/// folder, ids a test created); shared with every output of that environment so that a value
/// registered after a run is still redacted in its snapshot.
pub type Redactions = Rc<RefCell<Vec<(String, String)>>>;

pub struct CommandOutput {
    pub status: ExitStatus,
    /// Raw stdout (not redacted).
    pub stdout: String,
    /// Raw stderr (not redacted).
    pub stderr: String,
    redactions: Redactions,
}

impl CommandOutput {
    pub fn new(output: Output, redactions: Redactions) -> CommandOutput {
        CommandOutput {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            redactions,
        }
    }

    /// The exit code; `None` when a signal ended the process.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// `text` with this run's run-dependent details replaced by placeholders.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        // Longest first, so that a value containing another is replaced whole.
        let mut literals = self.redactions.borrow().clone();
        literals.sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
        for (value, placeholder) in literals {
            if !value.is_empty() {
                out = out.replace(&value, &placeholder);
            }
        }
        redact_patterns(&out)
    }
}

/// `status: N`, then each stream, redacted. A stream that does not end in a newline says so.
impl fmt::Display for CommandOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status.code() {
            Some(code) => writeln!(f, "status: {code}")?,
            None => writeln!(f, "status: {}", self.status)?,
        }
        for (name, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            writeln!(f, "----- {name} -----")?;
            let text = self.redact(text);
            f.write_str(&text)?;
            if !text.is_empty() && !text.ends_with('\n') {
                writeln!(f, "\n[no newline at end]")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for CommandOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Details that differ from run to run whatever the environment: commit ids (full and the
/// 10-digit short form), durations, timestamps and Graph request ids.
pub fn redact_patterns(text: &str) -> String {
    let mut out = text.to_string();
    for (pattern, replacement) in [
        (r"\b[0-9a-f]{40}\b", "<commit>"),
        (r"\b[0-9a-f]{10}\b", "<short>"),
        (r"\d+\.\d+ ?s\b", "<secs>"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<time>"),
        // The name of a write journal: its start time and the process id.
        (r"\b\d{8}T\d{6}\.\d{3}Z-\d+\b", "<stamp>"),
        (
            r"(request-id|requestId|client-request-id)(: |=|\x22: \x22)[0-9a-f-]{36}",
            "$1$2<request-id>",
        ),
    ] {
        out = regex::Regex::new(pattern)
            .expect("valid regex")
            .replace_all(&out, replacement)
            .into_owned();
    }
    out
}

/// Asserts the exit status, showing the whole output when it differs.
#[track_caller]
pub fn assert_status(out: &CommandOutput, code: i32) {
    assert_eq!(out.code(), Some(code), "exit status\n{out}");
}

/// Asserts one `error:` line containing `needle`, a `hint:` line, and exit status 2.
#[track_caller]
pub fn assert_error(out: &CommandOutput, needle: &str) {
    assert_status(out, 2);
    let err = &out.stderr;
    assert!(
        err.contains("error:") && err.contains(needle) && err.contains("\nhint:"),
        "expected an error naming {needle:?}:\n{err}"
    );
}

/// The JSON documents on stdout (a plan, then with `--yes` the apply report).
pub fn json_docs(out: &CommandOutput) -> Vec<Value> {
    serde_json::Deserializer::from_str(&out.stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .expect("stdout is JSON")
}

/// `insta::assert_snapshot!` with the snapshot file in the top-level `snapshots/` folder, named
/// `it__<module>__<test or given name>.snap`.
#[macro_export]
macro_rules! assert_snapshot {
    ($($arg:tt)*) => {{
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
        settings.bind(|| insta::assert_snapshot!($($arg)*));
    }};
}
