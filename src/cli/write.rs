//! What `restore`, `apply` and `plan` share: the selection and safety flags, and the flow around
//! the library's restore pipeline (print the plan; write only with `--yes`, holding the
//! repository lock; report every write; exit 3 when some failed).

use crate::apply::ApplyReport;
use crate::config;
use crate::error::Error;
use crate::graph::GraphClient;
use crate::plan::{Plan, SafetySettings};
use crate::render::{self, Format, Style};
use crate::restore::{self, ExecuteOptions, Planned, Request};
use crate::select::Selection;
use crate::store::RepoLock;

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
    /// Proceed although the plan touches more than the safety threshold of a kind, deletes what
    /// no recycle bin brings back, empties a kind, or touches protected objects.
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

/// The repository's safety settings.
pub fn safety(repo: &Repo) -> SafetySettings {
    repo.config.safety.settings()
}

/// A writing run holds the repository lock from before the plan is computed until the last
/// write: two restores never plan against each other's half-done work, and a snapshot never
/// records a tenant in the middle of a restore. Reading the working tree as the desired state
/// takes it too.
/// Files a killed snapshot left half written are brought back first (they are never read as the
/// desired state).
pub fn lock_for_writes(global: &Global, repo: &Repo, command: &str) -> Result<RepoLock, Error> {
    let lock = super::context::lock(global, &repo.store, command)?;
    super::context::recover(global, &repo.store)?;
    Ok(lock)
}

/// Desired state + live tenant → plan, with progress bars while the tenant is read.
pub fn compute_plan(
    global: &Global,
    repo: &Repo,
    client: &GraphClient,
    request: &Request,
) -> Result<Planned, Error> {
    let bars = Bars::new(global.quiet);
    let planned = super::runtime()?.block_on(restore::plan(
        &repo.store,
        client,
        request,
        &safety(repo),
        &crate::live::Options {
            full: false,
            full_every: repo.config.full_every(),
            ..Default::default()
        },
        &bars,
    ));
    bars.clear();
    let planned = planned?;
    for notice in &planned.notices {
        global.say(format!("notice: {notice}"));
    }
    if planned.not_checked_out > 0 {
        global.say(format!(
            "{} not checked out (sparse checkout): their desired state is read from the index, not taken for deletions",
            crate::plan::plural(planned.not_checked_out, "object file is", "object files are")
        ));
    }
    Ok(planned)
}

/// Prints the plan, and with `--yes` carries it out through the pipeline.
pub fn finish(
    global: &Global,
    repo: &Repo,
    client: &GraphClient,
    plan: Plan,
    selected: usize,
    format: Format,
    write: &WriteArgs,
) -> Result<i32, Error> {
    if selected == 0 {
        global.say("the selection matches no object on either side: nothing to do");
        return Ok(0);
    }
    print_plan(global, &plan, format)?;
    if plan.is_empty() {
        global.say(if plan.cannot_restore.is_empty() {
            "the tenant already matches the desired state: nothing to do"
        } else {
            "nothing to do: what differs cannot be restored through Graph"
        });
        return Ok(0);
    }
    if !write.yes {
        global.say("dry run: nothing was written; run again with --yes to make these changes");
        return Ok(0);
    }
    let executed = super::runtime()?.block_on(restore::execute(
        &repo.store,
        client,
        &plan,
        ExecuteOptions {
            force: write.force,
            concurrency: write.concurrency,
        },
    ))?;
    report(global, &executed.report, format)?;
    global.say(format!(
        "journal of the writes: {}",
        executed.journal.display()
    ));
    let report = executed.report;
    if report.failed > 0 {
        return Err(Error::WritesFailed {
            failed: report.failed,
            total: report.outcomes.len(),
        });
    }
    Ok(0)
}

/// The plan on stdout in the chosen format (JSON: the plan document `apply --plan` takes).
pub fn print_plan(global: &Global, plan: &Plan, format: Format) -> Result<(), Error> {
    let style = Style {
        color: global.color,
    };
    let mut stdout = std::io::stdout().lock();
    render::render_plan(plan, format, &style, &mut stdout)
        .map_err(|e| Error::io("cannot write the plan", e))
}

fn report(global: &Global, report: &ApplyReport, format: Format) -> Result<(), Error> {
    let style = Style {
        color: global.color,
    };
    let mut stdout = std::io::stdout().lock();
    render::render_apply(report, format, &style, &mut stdout)
        .map_err(|e| Error::io("cannot write the report", e))?;
    drop(stdout);
    global.say(format!(
        "{} in {:.1}s, {} failed",
        crate::plan::plural(report.writes, "write", "writes"),
        report.seconds,
        report.failed
    ));
    Ok(())
}
