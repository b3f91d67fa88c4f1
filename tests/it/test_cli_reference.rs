//! The command-line reference: the `--help` text of `tenantgit` and of every subcommand, in one
//! markdown document snapshotted with insta, so that every change to a help text is reviewed.

use clap::CommandFactory;
use tenantgit::cli::Cli;

use crate::assert_snapshot;

/// The width the reference is rendered at (the help is wrapped to the terminal otherwise).
const COLUMNS: usize = 100;

/// Every command, depth first in declaration order: its words after `tenantgit` and what
/// `tenantgit WORDS --help` prints.
fn helps() -> Vec<(Vec<String>, String)> {
    fn walk(cmd: &clap::Command, words: Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
        out.push((words.clone(), help(&words)));
        for sub in cmd.get_subcommands() {
            if sub.get_name() != "help" {
                let mut words = words.clone();
                words.push(sub.get_name().to_string());
                walk(sub, words, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&Cli::command(), Vec::new(), &mut out);
    out
}

/// `tenantgit WORDS --help`, parsed in-process as the binary parses it.
fn help(words: &[String]) -> String {
    let args = std::iter::once("tenantgit".to_string())
        .chain(words.iter().cloned())
        .chain(["--help".to_string()]);
    let err = Cli::command()
        .term_width(COLUMNS)
        .try_get_matches_from(args)
        .expect_err("--help stops the parse");
    assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp, "{words:?}");
    err.render().to_string()
}

#[test]
fn every_help_text() {
    let mut doc = format!(
        "# tenantgit command-line reference\n\n\
         The `--help` of every command, as `tenantgit … --help` prints it at {COLUMNS} columns.\n\n"
    );
    for (words, help) in helps() {
        let name = std::iter::once("tenantgit".to_string())
            .chain(words)
            .collect::<Vec<_>>()
            .join(" ");
        doc.push_str(&format!(
            "## `{name}`\n\n```text\n{}\n```\n\n",
            help.trim_end()
        ));
    }
    assert_snapshot!("cli_reference", doc);
}

#[test]
fn the_binary_prints_the_reference() {
    // The reference is rendered in-process; the binary must print the same.
    for (words, help) in helps() {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tenantgit"))
            .args(&words)
            .arg("--help")
            .env_clear()
            .env("COLUMNS", COLUMNS.to_string())
            .output()
            .expect("tenantgit runs");
        assert!(out.status.success(), "{words:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), help, "{words:?}");
    }
}
