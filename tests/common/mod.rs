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
            .env("GIT_AUTHOR_DATE", "@1795000000 +0000")
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

    /// A Graph request as an administrator (or a bad script) would make it; returns status and body.
    pub fn graph(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let client = reqwest::blocking::Client::new();
        let token: serde_json::Value = client
            .post(format!(
                "{}/contoso-test/oauth2/v2.0/token",
                self.emulator.url()
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "tenantgit-emulator"),
                ("client_secret", SECRET),
                ("scope", &format!("{}/.default", self.emulator.url())),
            ])
            .send()
            .expect("token request")
            .json()
            .expect("token JSON");
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = client
            .request(method, format!("{}/v1.0/{path}", self.emulator.url()))
            .bearer_auth(token["access_token"].as_str().expect("token"));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().expect("Graph request");
        let status = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Changes a user's properties the way a change reaches a hybrid tenant: for a user synced
    /// from Active Directory (most of the generated ones) through the emulator's Entra Connect
    /// (`POST /_emulator/sync`), because Graph refuses to write its on-premises-mastered
    /// attributes; for a cloud-only user through a Graph PATCH. Panics when it fails.
    pub fn change_user(&self, id: &str, props: serde_json::Value) {
        let (status, user) = self.graph(
            "GET",
            &format!("users/{id}?$select=onPremisesSyncEnabled"),
            None,
        );
        assert_eq!(status, 200, "{user}");
        if user["onPremisesSyncEnabled"] == true {
            let resp = reqwest::blocking::Client::new()
                .post(format!("{}/_emulator/sync", self.emulator.url()))
                .json(&serde_json::json!({"changes": [{"id": id, "set": props}]}))
                .send()
                .expect("sync request");
            let status = resp.status().as_u16();
            assert_eq!(status, 200, "{}", resp.text().unwrap_or_default());
        } else {
            let (status, body) = self.graph("PATCH", &format!("users/{id}"), Some(props));
            assert_eq!(status, 204, "{body}");
        }
    }

    /// The id in the first line of a file of the repository.
    pub fn id_of(&self, path: &str) -> String {
        let text = std::fs::read_to_string(self.repo.join(path)).expect("file exists");
        text.lines()
            .next()
            .and_then(|l| l.strip_prefix("id: "))
            .expect("id first")
            .trim_matches('"')
            .to_string()
    }

    /// The first file at HEAD whose path starts with `prefix` and contains `needle`.
    pub fn file(&self, prefix: &str, needle: &str) -> String {
        self.git(&["ls-tree", "-r", "--name-only", "HEAD"])
            .lines()
            .find(|f| f.starts_with(prefix) && f.contains(needle))
            .unwrap_or_else(|| panic!("no file {prefix}*{needle}*"))
            .to_string()
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
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<time>"),
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
