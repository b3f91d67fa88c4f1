//! Command-line interface: clap definitions (one file per subcommand), resolution of arguments,
//! `tenantgit.toml` and environment into settings, and the one place where a `Result` becomes an
//! exit status. Exit codes: 0 success / no differences, 1 differences found (with
//! `--exit-code`), 2 error, 3 a restore or apply finished with some writes failed.

mod apply;
mod context;
mod demo;
mod diff;
mod emulator;
mod plan;
mod progress;
mod restore;
mod snapshot;
mod write;

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::error::Error;

/// Keep a Microsoft Entra ID tenant in git: snapshot, diff, restore.
#[derive(Debug, Parser)]
#[command(name = "tenantgit", version, about, max_term_width = 100)]
pub struct Cli {
    /// Run as if started in DIR (the snapshot repository), like `git -C DIR`.
    #[arg(short = 'C', value_name = "DIR", global = true)]
    pub dir: Option<PathBuf>,
    /// Print no narration or progress on stderr (errors still are).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When to colour output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read the tenant through Microsoft Graph and commit it as one YAML file per object.
    Snapshot(snapshot::Args),
    /// Show what differs between a commit and the live tenant, or between two commits.
    Diff(diff::Args),
    /// Make the live tenant match commit REV for the selected objects (plan first; writes only
    /// with --yes).
    Restore(restore::Args),
    /// Make the live tenant match the working tree (or a saved plan) for the selected objects.
    Apply(apply::Args),
    /// Compute a restore/apply plan and save it for review and `apply --plan`.
    Plan(plan::Args),
    /// Run the Graph emulator (a stand-in for Microsoft Graph on 127.0.0.1).
    #[command(subcommand)]
    Emulator(emulator::Command),
    /// Play the motivating story on the embedded emulator: snapshot, a damaging bulk change,
    /// snapshot again, the difference report, the restore, and the proof.
    Demo(demo::Args),
}

/// Options every command shares, resolved once.
#[derive(Debug, Clone)]
pub struct Global {
    pub dir: PathBuf,
    pub quiet: bool,
    /// Colour on stdout.
    pub color: bool,
    /// Colour on stderr.
    pub color_stderr: bool,
}

impl Global {
    fn resolve(cli: &Cli) -> Global {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let want = |terminal: bool| match cli.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => terminal && !no_color,
        };
        Global {
            dir: cli.dir.clone().unwrap_or_else(|| PathBuf::from(".")),
            quiet: cli.quiet,
            color: want(std::io::stdout().is_terminal()),
            color_stderr: want(std::io::stderr().is_terminal()),
        }
    }

    /// Narration on stderr unless `--quiet`.
    pub fn say(&self, line: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", line.as_ref());
        }
    }
}

/// Runs the program and returns its exit status.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let global = Global::resolve(&cli);
    let result = match cli.command {
        Command::Snapshot(args) => snapshot::run(&global, args),
        Command::Diff(args) => diff::run(&global, args),
        Command::Restore(args) => restore::run(&global, args),
        Command::Apply(args) => apply::run(&global, args),
        Command::Plan(args) => plan::run(&global, args),
        Command::Emulator(cmd) => emulator::run(&global, cmd),
        Command::Demo(args) => demo::run(&global, args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            report_error(&err);
            err.exit_code()
        }
    }
}

/// `error: what happened: why` on one line, then `hint: what to do`.
pub fn report_error(err: &Error) {
    let mut line = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    eprintln!("error: {}", line.replace('\n', " "));
    if let Some(hint) = err.hint() {
        eprintln!("hint: {hint}");
    }
}

/// A tokio runtime for one command.
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("cannot start the async runtime", e))
}
