//! `tenantgit apply`: make the live tenant match the working tree (check out any commit, or edit
//! YAML in a pull request, then apply), or carry out a plan saved by `tenantgit plan` — after
//! holding it against a fresh plan of the same request.

use std::path::PathBuf;

use crate::error::Error;
use crate::plan;
use crate::restore::{self, Desired, Request};

use super::context::{self, Repo};
use super::write::{self, SelectArgs, WriteArgs};
use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Path patterns in gitignore syntax, e.g. 'users/**'. They select objects: an object whose
    /// file matches in the working tree or in the tenant as it is now is selected.
    #[arg(value_name = "PATTERN")]
    pub patterns: Vec<String>,
    /// Carry out a plan saved with `tenantgit plan --out FILE` instead. It is first held
    /// against a fresh plan of the same request: refused if it asks for anything a fresh plan
    /// would not do, or if an object it touches changed in the tenant since.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["patterns", "kinds", "ids", "prune"])]
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub write: WriteArgs,
}

pub fn run(global: &Global, args: Args) -> Result<i32, Error> {
    let repo = Repo::open(global)?;
    write::ensure_snapshot_repo(global, &repo)?;
    let saved = args.plan.as_deref().map(plan::load).transpose()?;
    let worktree_needed = saved
        .as_ref()
        .is_none_or(|p| matches!(p.request.desired, crate::plan::DesiredSource::WorkingTree));
    if repo.store.workdir().is_none() && worktree_needed {
        return Err(Error::usage(
            "apply needs a working tree, and this repository is bare",
            "use `tenantgit restore REV` in a bare repository, or clone it and check out the commit",
        ));
    }
    let client = context::graph_client(&repo.config)?;
    let _lock = if args.write.yes || worktree_needed {
        Some(write::lock_for_writes(global, &repo, "apply")?)
    } else {
        None
    };
    let (plan, selected) = match saved {
        Some(saved) => {
            let ignore = repo.store.read_file(".tenantgitignore")?;
            let request = Request::from_plan(
                &repo.store,
                &repo.config.kinds_in_scope(),
                &saved.request,
                ignore.as_deref(),
            )?;
            let fresh = write::compute_plan(global, &repo, &client, &request)?;
            let narrowed = restore::narrow(&saved, &fresh, &write::safety(&repo))?;
            (narrowed, fresh.selected.max(1))
        }
        None => {
            let request = Request {
                desired: Desired::Worktree,
                selection: args.select.selection(&repo, &args.patterns)?,
                prune: args.select.prune,
            };
            let planned = write::compute_plan(global, &repo, &client, &request)?;
            (planned.plan, planned.selected)
        }
    };
    write::finish(
        global,
        &repo,
        &client,
        plan,
        selected,
        args.select.format,
        &args.write,
    )
}
