//! `tenantgit snapshot`: make git match the tenant.

use crate::config;
use crate::error::Error;
use crate::ops;
use crate::store::{self, CommitOptions};

use super::context::{self, Repo};
use super::progress::Bars;
use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Snapshot only this kind (repeatable); files of other kinds stay as they are.
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,
    /// Title of the commit message.
    #[arg(short, long, value_name = "TEXT")]
    pub message: Option<String>,
    /// Commit the tenant as it is even when HEAD holds desired changes (commits since the last
    /// snapshot) that the tenant does not have: they are discarded, and the commit message names
    /// them. Without it such a snapshot is refused, so that a merged change is never reverted
    /// silently.
    #[arg(long)]
    pub record_drift: bool,
    /// Read every kind in full instead of following the delta tokens kept with the last
    /// snapshot (a reconciliation; `[snapshot] full-every` does it on a schedule).
    #[arg(long)]
    pub full: bool,
}

pub fn run(global: &Global, args: Args) -> Result<i32, Error> {
    let (repo, _lock) = Repo::open_or_init_locked(global, "snapshot")?;
    let kinds = if args.kinds.is_empty() {
        repo.config.kinds_in_scope()
    } else {
        args.kinds
            .iter()
            .map(|k| config::check_kind(k, "--kind"))
            .collect::<Result<Vec<_>, _>>()?
    };
    let client = context::graph_client(&repo.config)?;
    // The first commit in a working tree brings a commented settings file, also when a first
    // run was interrupted before its commit (the repository exists then, but the file it had
    // written was undone).
    let first = repo.store.head()?.is_none();
    let extra: Vec<(String, Vec<u8>)> = if repo.created
        || (first && !repo.store.is_bare() && repo.store.read_file(config::FILE_NAME)?.is_none())
    {
        vec![(
            config::FILE_NAME.to_string(),
            config::DEFAULT_TEXT.as_bytes().to_vec(),
        )]
    } else {
        Vec::new()
    };
    let title = args
        .message
        .unwrap_or_else(|| match &repo.config.tenant.name {
            Some(name) => format!("snapshot of {name}"),
            None => "snapshot".to_string(),
        });
    // Like git, a fixed date in the environment makes commits reproducible.
    let time = ["GIT_COMMITTER_DATE", "GIT_AUTHOR_DATE"]
        .iter()
        .find_map(|v| std::env::var(v).ok())
        .and_then(|d| store::parse_git_date(&d));
    let options = CommitOptions {
        message_title: title,
        time,
        record_drift: args.record_drift,
        ..CommitOptions::default()
    };
    let bars = Bars::new(global.quiet);
    let run = super::runtime()?.block_on(ops::snapshot(
        &repo.store,
        &client,
        &kinds,
        &extra,
        &options,
        &crate::live::Options {
            full: args.full,
            full_every: repo.config.full_every(),
            ..Default::default()
        },
        &bars,
    ));
    bars.clear();
    let run = run?;
    for notice in &run.notices {
        global.say(format!("notice: {notice}"));
    }
    let m = client.metrics();
    global.say(format!(
        "read {} objects of {} kinds in {:.1}s{} ({} Graph requests, {} batch items, {:.1} MB, {} retries)",
        run.objects,
        kinds.len(),
        run.read_seconds,
        if run.full { "" } else { ", changes since the last snapshot" },
        m.requests,
        m.batch_items,
        m.bytes_read as f64 / 1e6,
        m.retries
    ));
    match run.outcome.commit {
        Some(commit) => {
            for (kind, c) in &run.outcome.summary.per_kind {
                if c.added.len() + c.changed.len() + c.removed.len() > 0 {
                    global.say(format!(
                        "  {kind}: {} added, {} changed, {} removed",
                        c.added.len(),
                        c.changed.len(),
                        c.removed.len()
                    ));
                }
            }
            let applied = run.outcome.desired.iter().filter(|d| d.applied).count();
            let discarded = run.outcome.desired.len() - applied;
            if applied > 0 {
                global.say(format!(
                    "  {applied} desired changes since the last snapshot are in the tenant now"
                ));
            }
            if discarded > 0 {
                global.say(format!(
                    "  discarded {discarded} desired changes the tenant does not have (--record-drift); the commit message names them"
                ));
            }
            global.say(format!(
                "committed {} ({} git objects written in {:.2}s, working tree updated in {:.2}s)",
                &commit.to_string()[..10],
                run.outcome.objects_written,
                run.outcome.git_seconds - run.outcome.worktree_seconds,
                run.outcome.worktree_seconds
            ));
            println!("{commit}");
            if first && run.objects > 20_000 {
                global.say("tip: the first pack of a large tenant is stored uncompressed so that it is written fast; `git gc` compresses it");
            }
        }
        None => global.say("no changes: the tenant matches HEAD, nothing committed"),
    }
    // The process ends here: what was read goes back to the system with it, without being
    // freed object by object.
    std::mem::forget(run);
    Ok(0)
}
