//! Shared harness for tests that run the real `tenantgit` binary against the in-process Graph
//! emulator: a hermetic environment (temporary repository and HOME, fixed git identity, no
//! colour, only the variables set here), and helpers to read the repository with the git CLI.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tenantgit::emulator::{Emulator, EmulatorConfig, SyntheticSpec};

pub const SECRET: &str = "emulator-secret";

pub struct Harness {
    pub emulator: Emulator,
    pub home: tempfile::TempDir,
    /// The snapshot repository (not created until a command creates it).
    pub repo: PathBuf,
}

impl Harness {
    pub fn new(config: EmulatorConfig) -> Harness {
        let emulator = Emulator::start(config).expect("emulator starts");
        let home = tempfile::tempdir().expect("temp dir");
        let repo = home.path().join("repo");
        Harness {
            emulator,
            home,
            repo,
        }
    }

    /// An emulator with a small synthetic tenant.
    pub fn synthetic(spec: &str) -> Harness {
        let spec: SyntheticSpec = spec.parse().expect("valid spec");
        Harness::new(EmulatorConfig {
            synthetic: Some(spec),
            ..EmulatorConfig::default()
        })
    }

    /// An emulator seeded from a snapshot repository folder.
    pub fn seeded(dir: &Path) -> Harness {
        Harness::new(EmulatorConfig {
            seed_dir: Some(dir.to_path_buf()),
            ..EmulatorConfig::default()
        })
    }

    /// `tenantgit -C <repo> ARGS` with the emulator's credentials.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("tenantgit runs")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantgit"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("NO_COLOR", "1")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("TENANTGIT_GRAPH_URL", self.emulator.url())
            .env("AZURE_AUTHORITY_HOST", self.emulator.url())
            .env("AZURE_TENANT_ID", "contoso-test")
            .env("AZURE_CLIENT_ID", "tenantgit-emulator")
            .env("AZURE_CLIENT_SECRET", SECRET)
            .arg("-C")
            .arg(&self.repo)
            .args(args);
        cmd
    }

    /// `git -C <repo> ARGS`, stdout as text; panics when git fails.
    pub fn git(&self, args: &[&str]) -> String {
        git(&self.repo, args)
    }

    pub fn head(&self) -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.repo)
            .args(["rev-parse", "--verify", "-q", "HEAD"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Asserts the exit status, showing both streams when it differs.
#[track_caller]
pub fn assert_status(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit status\n--- stdout\n{}\n--- stderr\n{}",
        stdout(out),
        stderr(out)
    );
}

/// Replaces run-dependent details (commit ids, timings, ports, request ids) so output can be
/// snapshotted.
pub fn redact(text: &str, emulator_url: &str) -> String {
    let mut out = text.replace(emulator_url, "http://EMULATOR");
    for (pattern, replacement) in [
        (r"\b[0-9a-f]{40}\b", "<commit>"),
        (r"\b[0-9a-f]{10}\b", "<short>"),
        (r"\d+\.\d+s\b", "<secs>"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "<uuid>",
        ),
    ] {
        out = regex_replace(&out, pattern, replacement);
    }
    out
}

fn regex_replace(text: &str, pattern: &str, replacement: &str) -> String {
    regex::Regex::new(pattern)
        .expect("valid regex")
        .replace_all(text, replacement)
        .into_owned()
}
