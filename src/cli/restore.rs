//! `tenantgit restore REV`: make the live tenant match commit REV for the selected objects.

use crate::error::Error;
use crate::restore::{Desired, Request};

use super::context::{self, Repo};
use super::write::{self, SelectArgs, WriteArgs};
use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The commit to restore from (any git revision: HEAD~3, a commit id, a tag).
    #[arg(value_name = "REV")]
    pub rev: String,
    /// Path patterns in gitignore syntax, e.g. 'users/**' 'groups/*/dept-sales.*'. They select
    /// objects, not files: an object whose file matches on either side (the commit or the
    /// tenant as it is now) is selected, so a renamed object is one object.
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
    let _lock = if args.write.yes {
        Some(write::lock_for_writes(global, &repo, "restore")?)
    } else {
        None
    };
    let request = Request {
        desired: Desired::Commit {
            rev: args.rev.clone(),
            commit,
        },
        selection,
        prune: args.select.prune,
    };
    let planned = write::compute_plan(global, &repo, &client, &request)?;
    write::finish(
        global,
        &repo,
        &client,
        planned.plan,
        planned.selected,
        args.select.format,
        &args.write,
    )
}
