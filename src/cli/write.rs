//! What `restore`, `apply` and `plan` share: the selection and safety flags, and the flow from a
//! plan to writes (print the plan; write only with `--yes`; refuse unsafe plans without
//! `--force`; report every write; exit 3 when some failed).

use std::path::PathBuf;

use crate::apply::{self, ApplyOptions};
use crate::compare::Selection;
use crate::config;
use crate::error::Error;
use crate::graph::GraphClient;
use crate::ops::{self, Desired, Planned};
use crate::plan;
use crate::plan::SafetySettings;
use crate::render::{self, Format, Style};

use super::context::Repo;
use super::progress::Bars;
use super::Global;

#[derive(Debug, clap::Args)]
pub struct SelectArgs {
    /// Only this kind (repeatable).
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,
    /// Only the object with this id (repeatable).
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<String>,
    /// Also delete live objects that the desired state does not have (soft delete where the kind
    /// has a recycle bin). Without it they are only listed.
    #[arg(long)]
    pub prune: bool,
    /// Output format of the plan and the report.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct WriteArgs {
    /// Make the changes. Without it the plan is printed and nothing is written.
    #[arg(long)]
    pub yes: bool,
    /// Proceed although the plan touches more than the safety threshold of a kind, or
    /// protected objects.
    #[arg(long)]
    pub force: bool,
    /// Writes in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
}

impl SelectArgs {
    pub fn selection(&self, repo: &Repo, patterns: &[String]) -> Result<Selection, Error> {
        let kinds = self
            .kinds
            .iter()
            .map(|k| config::check_kind(k, "--kind"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut selection = Selection::new(
            &repo.config.kinds_in_scope(),
            kinds,
            self.ids.clone(),
            patterns,
        )?;
        if let Some(text) = repo.store.read_file(".tenantgitignore")? {
            selection.exclude(&text)?;
        }
        Ok(selection)
    }
}

/// The desired state must come from a snapshot repository (one with `tenantgit.toml`): any
/// other git repository has none of the tenant's objects, so every live object would be planned
/// as absent from the desired side, and `--prune` would delete them.
pub fn ensure_snapshot_repo(global: &Global, repo: &Repo) -> Result<(), Error> {
    if repo.store.read_file(config::FILE_NAME)?.is_some() {
        return Ok(());
    }
    Err(Error::usage(
        format!(
            "{} is not a tenantgit snapshot repository: it has no {}",
            global.dir.display(),
            config::FILE_NAME
        ),
        "run in the repository `tenantgit snapshot` writes (pass -C DIR); `tenantgit snapshot` in an empty folder creates one",
    ))
}

/// Desired state + live tenant → plan, with progress bars while the tenant is read.
pub fn compute_plan(
    global: &Global,
    repo: &Repo,
    client: &GraphClient,
    desired: &Desired,
    selection: &Selection,
    prune: bool,
) -> Result<Planned, Error> {
    let bars = Bars::new(global.quiet);
    let planned = super::runtime()?.block_on(ops::make_plan(
        &repo.store,
        client,
        desired,
        selection,
        SafetySettings::from_config(&repo.config.safety),
        prune,
        &bars,
    ));
    bars.clear();
    planned
}

/// Prints the plan, and with `--yes` carries it out.
pub fn finish(
    global: &Global,
    client: &GraphClient,
    planned: Planned,
    format: Format,
    write: &WriteArgs,
    saved_to: Option<&PathBuf>,
) -> Result<i32, Error> {
    if planned.selected == 0 {
        global.say("the selection matches no object on either side: nothing to do");
        return Ok(0);
    }
    let plan = planned.plan;
    let style = Style {
        color: global.color,
    };
    let mut stdout = std::io::stdout().lock();
    render::render_plan(&plan, format, &style, &mut stdout)
        .map_err(|e| Error::io("cannot write the plan", e))?;
    drop(stdout);
    if let Some(path) = saved_to {
        global.say(format!(
            "plan saved to {}; carry it out with `tenantgit apply --plan {} --yes`",
            path.display(),
            path.display()
        ));
        return Ok(0);
    }
    if plan.is_empty() {
        global.say("the tenant already matches the desired state: nothing to do");
        return Ok(0);
    }
    if !write.yes {
        global.say("dry run: nothing was written; run again with --yes to make these changes");
        return Ok(0);
    }
    plan::ensure_allowed(&plan, write.force)?;
    let rt = super::runtime()?;
    let report = rt.block_on(apply::execute(
        client,
        &plan,
        &ApplyOptions {
            concurrency: write.concurrency.max(1),
        },
    ));
    let mut stdout = std::io::stdout().lock();
    render::render_apply(&report, format, &style, &mut stdout)
        .map_err(|e| Error::io("cannot write the report", e))?;
    drop(stdout);
    global.say(format!(
        "{} writes in {:.1}s, {} failed",
        report.writes, report.seconds, report.failed
    ));
    if report.failed > 0 {
        return Err(Error::WritesFailed {
            failed: report.failed,
            total: report.outcomes.len(),
        });
    }
    Ok(0)
}
