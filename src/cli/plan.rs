//! `tenantgit plan --out FILE`: compute a restore/apply plan and save it, with fingerprints of
//! the live state it was computed from, for review and a later `tenantgit apply --plan FILE`.

use std::path::PathBuf;

use crate::error::Error;
use crate::ops::Desired;
use crate::plan;

use super::context::{self, Repo};
use super::write::{self, SelectArgs, WriteArgs};
use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Path patterns in gitignore syntax, e.g. 'users/**'.
    #[arg(value_name = "PATTERN")]
    pub patterns: Vec<String>,
    /// Desired state from this commit instead of the working tree.
    #[arg(long, value_name = "REV")]
    pub from: Option<String>,
    /// Where to save the plan (JSON).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub select: SelectArgs,
}

pub fn run(global: &Global, args: Args) -> Result<i32, Error> {
    let repo = Repo::open(global)?;
    write::ensure_snapshot_repo(global, &repo)?;
    let desired = match &args.from {
        Some(rev) => Desired::Commit {
            rev: rev.clone(),
            commit: repo.store.resolve(rev)?,
        },
        None => Desired::Worktree,
    };
    let selection = args.select.selection(&repo, &args.patterns)?;
    let client = context::graph_client(&repo.config)?;
    let planned = write::compute_plan(
        global,
        &repo,
        &client,
        &desired,
        &selection,
        args.select.prune,
    );
    let planned = planned?;
    plan::save(&planned.plan, &args.out)?;
    let no_write = WriteArgs {
        yes: false,
        force: false,
        concurrency: 1,
    };
    write::finish(
        global,
        &client,
        planned,
        args.select.format,
        &no_write,
        Some(&args.out),
    )
}
