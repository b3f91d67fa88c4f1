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
    /// Patterns of this output alone, applied after the literals (see `redact_matches`).
    patterns: Vec<(regex::Regex, String)>,
}

impl CommandOutput {
    pub fn new(output: Output, redactions: Redactions) -> CommandOutput {
        CommandOutput {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            redactions,
            patterns: Vec::new(),
        }
    }

    /// Also shows what matches `pattern` as `replacement` (which may name groups: `$1`), for
    /// output that is variable in this test only, such as which of several concurrent reads
    /// failed first.
    pub fn redact_matches(mut self, pattern: &str, replacement: &str) -> CommandOutput {
        let regex = regex::Regex::new(pattern).expect("valid regex");
        self.patterns.push((regex, replacement.to_string()));
        self
    }

    /// When every read fails the same way (Graph unreachable, no token), the kinds are read
    /// concurrently and the error names whichever failed first: shows that kind and its path as
    /// `<kind>` and `<path>`.
    pub fn redact_failing_kind(self) -> CommandOutput {
        self.redact_matches(
            r"reading \w+ from Graph failed:",
            "reading <kind> from Graph failed:",
        )
        .redact_matches(r"failed: GET [^:\s]+:", "failed: GET <path>:")
        .redact_matches(
            r"(cannot reach http://127\.0\.0\.1:9/v1\.0/)[^:\s]+:",
            "${1}<path>:",
        )
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
        for (regex, replacement) in &self.patterns {
            out = regex.replace_all(&out, replacement.as_str()).into_owned();
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
/// 10-digit short form), durations, timestamps, Graph's request ids, the trace and correlation
/// ids of a token error, the megabytes a read transferred (the emulator's port is in every
/// nextLink), and a plan's checksum (it covers the plan's creation time).
pub fn redact_patterns(text: &str) -> String {
    let mut out = text.to_string();
    for (pattern, replacement) in [
        (r"\b[0-9a-f]{40}\b", "<commit>"),
        (r"\b[0-9a-f]{10}\b", "<short>"),
        (r"\d+\.\d+ ?s\b", "<secs>"),
        (r#""seconds": [\d.e-]+"#, r#""seconds": "<secs>""#),
        (r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?Z", "<time>"),
        // The name of a write journal: its start time and the process id.
        (r"\b\d{8}T\d{6}\.\d{3}Z-\d+\b", "<stamp>"),
        (
            r"(request-id|requestId|Trace ID|Correlation ID)(: | |=|\x22: \x22)[0-9a-f-]{36}",
            "$1$2<request-id>",
        ),
        (r"\b\d+\.\d+ MB\b", "<MB>"),
        // A plan's checksum covers its creation time.
        (
            r#""checksum": "[0-9a-f]{64}""#,
            r#""checksum": "<checksum>""#,
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
