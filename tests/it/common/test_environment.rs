//! `TestEnvironment`: the real `tenantgit` binary run hermetically against an in-process Graph
//! emulator. Each environment owns a temporary folder (HOME, TMPDIR and the parent of the
//! snapshot repository), its own emulator, and an administrator's Graph session for changing the
//! tenant behind tenantgit's back. Commands see only the variables set here: PATH, a fixed git
//! identity and clock, `NO_COLOR`, and the emulator's URL and credentials.

use std::cell::OnceCell;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::rc::Rc;

use serde_json::Value;
use tenantgit::emulator::{Emulator, EmulatorConfig, SyntheticSpec};

use super::command_output::{CommandOutput, Redactions};
use super::graph::{Admin, CLIENT_ID, SECRET, TENANT};

/// The author and committer date of every commit made in a test, by tenantgit or git.
pub const DATE: &str = "@1795000000 +0000";

pub struct TestEnvironment {
    pub emulator: Emulator,
    /// The snapshot repository, `<root>/repo` (not created until a command creates it).
    pub repo: PathBuf,
    root: PathBuf,
    _dir: tempfile::TempDir,
    redactions: Redactions,
    runtime: tokio::runtime::Runtime,
    admin: OnceCell<Admin>,
}

impl TestEnvironment {
    pub fn new(config: EmulatorConfig) -> TestEnvironment {
        let emulator = Emulator::start(config).expect("emulator starts");
        let dir = tempfile::tempdir().expect("temp dir");
        // Canonical, so that the path tenantgit prints is the one redacted.
        let root = dir.path().canonicalize().expect("temp dir path");
        for sub in ["home", "tmp"] {
            std::fs::create_dir(root.join(sub)).expect("create a folder in the temp dir");
        }
        let url = emulator.url();
        let host = url.trim_start_matches("http://").to_string();
        let redactions = Rc::new(std::cell::RefCell::new(vec![
            (url, "$EMULATOR".to_string()),
            (host, "$EMULATOR_HOST".to_string()),
            (root.display().to_string(), "$ROOT".to_string()),
        ]));
        TestEnvironment {
            emulator,
            repo: root.join("repo"),
            root,
            _dir: dir,
            redactions,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime"),
            admin: OnceCell::new(),
        }
    }

    /// An emulator with a synthetic tenant (`users=60,groups=12,…`; the same spec gives the
    /// same tenant, ids included).
    pub fn synthetic(spec: &str) -> TestEnvironment {
        let spec: SyntheticSpec = spec.parse().expect("valid spec");
        TestEnvironment::new(EmulatorConfig {
            synthetic: Some(spec),
            ..EmulatorConfig::default()
        })
    }

    /// An emulator seeded from a snapshot repository folder.
    pub fn seeded(dir: &Path) -> TestEnvironment {
        TestEnvironment::new(EmulatorConfig {
            seed_dir: Some(dir.to_path_buf()),
            ..EmulatorConfig::default()
        })
    }

    /// An emulator seeded from `example-repo` (the small tenant of the README and demo).
    pub fn example() -> TestEnvironment {
        TestEnvironment::seeded(&Path::new(env!("CARGO_MANIFEST_DIR")).join("example-repo"))
    }

    /// The temporary folder: HOME is `<root>/home`, the repository `<root>/repo`; put other
    /// files (plans, other repositories) here. Shown as `$ROOT` in snapshots.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Shows `value` as `placeholder` in every snapshot of this environment's outputs (for
    /// values that differ per run, such as the id Graph gives a re-created object).
    pub fn redact(&self, value: &str, placeholder: &str) {
        self.redactions
            .borrow_mut()
            .push((value.to_string(), placeholder.to_string()));
    }

    /// `tenantgit -C <repo> ARGS`.
    pub fn run(&self, args: &[&str]) -> CommandOutput {
        self.capture(&mut self.command(args))
    }

    /// `tenantgit -C <dir> ARGS`.
    pub fn run_in(&self, dir: &Path, args: &[&str]) -> CommandOutput {
        let mut cmd = self.bare_command();
        cmd.arg("-C").arg(dir).args(args);
        self.capture(&mut cmd)
    }

    /// `tenantgit -C <repo> ARGS` with the environment changed by `configure` (a wrong secret,
    /// a failpoint, a variable removed).
    pub fn run_with(
        &self,
        args: &[&str],
        configure: impl FnOnce(&mut Command) -> &mut Command,
    ) -> CommandOutput {
        let mut cmd = self.command(args);
        configure(&mut cmd);
        self.capture(&mut cmd)
    }

    /// The command `run` runs, to spawn it or change it further.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.bare_command();
        cmd.arg("-C").arg(&self.repo).args(args);
        cmd
    }

    /// Runs `cmd` to the end and captures its output.
    pub fn capture(&self, cmd: &mut Command) -> CommandOutput {
        self.output(cmd.output().expect("tenantgit runs"))
    }

    /// Wraps the output of a process started from `command` (e.g. a spawned child).
    pub fn output(&self, output: Output) -> CommandOutput {
        CommandOutput::new(output, Rc::clone(&self.redactions))
    }

    fn bare_command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantgit"));
        self.hermetic(&mut cmd);
        cmd.env("TENANTGIT_GRAPH_URL", self.emulator.url())
            .env("AZURE_AUTHORITY_HOST", self.emulator.url())
            .env("AZURE_TENANT_ID", TENANT)
            .env("AZURE_CLIENT_ID", CLIENT_ID)
            .env("AZURE_CLIENT_SECRET", SECRET);
        cmd
    }

    /// Only PATH from outside; a temporary HOME and TMPDIR, no system git config, a fixed git
    /// identity and date, no colour.
    fn hermetic(&self, cmd: &mut Command) {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.root.join("home"))
            .env("TMPDIR", self.root.join("tmp"))
            .env("NO_COLOR", "1")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Test User")
            .env("GIT_AUTHOR_EMAIL", "test.user@example.com")
            .env("GIT_COMMITTER_NAME", "Test User")
            .env("GIT_COMMITTER_EMAIL", "test.user@example.com")
            .env("GIT_AUTHOR_DATE", DATE)
            .env("GIT_COMMITTER_DATE", DATE)
            .current_dir(&self.root);
    }

    /// `git -C <repo> ARGS` in the same hermetic environment; stdout as text; panics when git
    /// fails.
    #[track_caller]
    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.repo, args)
    }

    /// `git -C <dir> ARGS`, as `git`.
    #[track_caller]
    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.git_output_in(dir, args);
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `git -C <dir> ARGS`, whatever its outcome.
    pub fn git_output_in(&self, dir: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new("git");
        self.hermetic(&mut cmd);
        cmd.arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .expect("git runs")
    }

    /// The commit `HEAD` names, if any.
    pub fn head(&self) -> Option<String> {
        let out = self.git_output_in(&self.repo, &["rev-parse", "--verify", "-q", "HEAD"]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The id in the first line of a file of the repository's working tree.
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

    /// The administrator's Graph session (a token is fetched on first use).
    pub fn admin(&self) -> &Admin {
        self.admin
            .get_or_init(|| self.block_on(Admin::connect(&self.emulator.url())))
    }

    /// Runs a future of the admin session to the end (environments are used from plain,
    /// synchronous tests).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// A Graph request as an administrator (or a bad script) would make it; returns status and
    /// body.
    pub fn graph(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let resp = self.block_on(self.admin().call(method, path, body));
        (resp.status, resp.body)
    }

    /// Changes a user's properties the way a change reaches a hybrid tenant (`Admin::change_user`):
    /// through the emulator's Entra Connect for a synced user, a Graph PATCH for a cloud-only
    /// one. Panics when it fails.
    pub fn change_user(&self, id: &str, props: Value) {
        self.block_on(self.admin().change_user(id, props));
    }
}
