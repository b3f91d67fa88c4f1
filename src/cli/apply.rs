//! `tenantgit apply`: make the live tenant match the working tree (check out any commit, or edit
//! YAML in a pull request, then apply), or carry out a plan saved by `tenantgit plan`.

use std::path::PathBuf;

use crate::error::Error;
use crate::model::ObjectKey;
use crate::ops::{Desired, Planned};
use crate::plan;
use crate::read;
use crate::schema;

use super::context::{self, Repo};
use super::write::{self, SelectArgs, WriteArgs};
use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Path patterns in gitignore syntax, e.g. 'users/**'.
    #[arg(value_name = "PATTERN")]
    pub patterns: Vec<String>,
    /// Carry out a plan saved with `tenantgit plan --out FILE` instead, exactly as saved; refused
    /// if any object it touches changed in the tenant since.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["patterns", "kinds", "ids", "prune"])]
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub write: WriteArgs,
}

pub fn run(global: &Global, args: Args) -> Result<i32, Error> {
    let repo = Repo::open(global)?;
    if repo.store.workdir().is_none() && args.plan.is_none() {
        return Err(Error::usage(
            "apply needs a working tree, and this repository is bare",
            "use `tenantgit restore REV` in a bare repository, or clone it and check out the commit",
        ));
    }
    if args.plan.is_none() {
        write::ensure_snapshot_repo(global, &repo)?;
    }
    let client = context::graph_client(&repo.config)?;
    let planned = match &args.plan {
        Some(path) => {
            let saved = plan::load(path)?;
            let keys: Vec<ObjectKey> = saved
                .touched()
                .into_iter()
                .filter_map(|(kind, id)| {
                    schema::kind(&kind).map(|k| ObjectKey {
                        kind: k.kind.as_str(),
                        id,
                    })
                })
                .collect();
            let now = super::runtime()?.block_on(read::read_objects(&client, &keys))?;
            plan::ensure_fresh(&saved, &now)?;
            let selected = keys.len().max(1);
            Planned {
                plan: saved,
                selected,
            }
        }
        None => {
            let selection = args.select.selection(&repo, &args.patterns)?;
            write::compute_plan(
                global,
                &repo,
                &client,
                &Desired::Worktree,
                &selection,
                args.select.prune,
            )?
        }
    };
    write::finish(
        global,
        &client,
        planned,
        args.select.format,
        &args.write,
        None,
    )
}
