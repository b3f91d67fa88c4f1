//! `tenantgit restore REV`: make the live tenant match commit REV for the selected objects.

use crate::error::Error;
use crate::ops::Desired;

use super::context::{self, Repo};
use super::write::{self, SelectArgs, WriteArgs};
use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The commit to restore from (any git revision: HEAD~3, a commit id, a tag).
    #[arg(value_name = "REV")]
    pub rev: String,
    /// Path patterns in gitignore syntax, e.g. 'users/**' 'groups/*/dept-sales.*'.
    #[arg(value_name = "PATTERN")]
    pub patterns: Vec<String>,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub write: WriteArgs,
}

pub fn run(global: &Global, args: Args) -> Result<i32, Error> {
    let repo = Repo::open(global)?;
    write::ensure_snapshot_repo(global, &repo)?;
    let commit = repo.store.resolve(&args.rev)?;
    let selection = args.select.selection(&repo, &args.patterns)?;
    let client = context::graph_client(&repo.config)?;
    let desired = Desired::Commit {
        rev: args.rev.clone(),
        commit,
    };
    let planned = write::compute_plan(
        global,
        &repo,
        &client,
        &desired,
        &selection,
        args.select.prune,
    );
    write::finish(
        global,
        &client,
        planned?,
        args.select.format,
        &args.write,
        None,
    )
}
