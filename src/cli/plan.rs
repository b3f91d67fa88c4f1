//! `tenantgit plan --out FILE`: compute a restore/apply plan and save it, with fingerprints of
//! the live state it was computed from, for review and a later `tenantgit apply --plan FILE`.

use std::path::PathBuf;

use crate::error::Error;
use crate::plan;
use crate::restore::{Desired, Request};

use super::context::{self, Repo};
use super::write::{self, SelectArgs};
use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Path patterns in gitignore syntax, e.g. 'users/**'.
    #[arg(value_name = "PATTERN")]
    pub patterns: Vec<String>,
    /// Desired state from this commit instead of the working tree.
    #[arg(long, value_name = "REV")]
    pub from: Option<String>,
    /// Where to save the plan (JSON): a new file, or an earlier plan file it replaces.
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
    // The working tree is read only with no snapshot writing it, and after one a kill left half
    // done was finished.
    let _lock = match desired {
        Desired::Worktree => Some(write::lock_for_writes(global, &repo, "plan")?),
        Desired::Commit { .. } => None,
    };
    let request = Request {
        desired,
        selection: args.select.selection(&repo, &args.patterns)?,
        prune: args.select.prune,
    };
    let client = context::graph_client(&repo.config)?;
    let planned = write::compute_plan(global, &repo, &client, &request)?;
    if planned.selected == 0 {
        global.say("the selection matches no object on either side: nothing to do");
        return Ok(0);
    }
    plan::save(&planned.plan, &args.out)?;
    write::print_plan(global, &planned.plan, args.select.format)?;
    global.say(format!(
        "plan saved to {}; carry it out with `tenantgit apply --plan {} --yes`",
        args.out.display(),
        args.out.display()
    ));
    Ok(0)
}
