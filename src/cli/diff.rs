//! `tenantgit diff`: what differs between a commit and the live tenant, or between two commits.

use crate::compare;
use crate::config;
use crate::diff::{DiffOptions, IgnoreRules};
use crate::error::Error;
use crate::render::{self, Format, Style};
use crate::select::Selection;

use super::context::{self, Repo};
use super::progress::Bars;
use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// `[REV]` compares commit REV (default HEAD) with the live tenant; `REV1 REV2` compares two
    /// commits without touching the tenant. Further arguments (or any after `--`) are path
    /// patterns in gitignore syntax, e.g. 'users/**' 'conditionalAccessPolicies/*'.
    #[arg(value_name = "REV|PATTERN")]
    pub args: Vec<String>,
    /// Path patterns (everything after `--`).
    #[arg(last = true, value_name = "PATTERN")]
    pub patterns: Vec<String>,
    /// Only this kind (repeatable).
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,
    /// Only the object with this id (repeatable).
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Exit with status 1 when there are differences, 0 when there are none.
    #[arg(long)]
    pub exit_code: bool,
    /// Read the live tenant in full instead of following the delta tokens kept with the last
    /// snapshot.
    #[arg(long)]
    pub full: bool,
}

pub fn run(global: &Global, args: Args) -> Result<i32, Error> {
    let repo = Repo::open(global)?;
    let mut revs: Vec<String> = Vec::new();
    let mut patterns: Vec<String> = Vec::new();
    for arg in args.args {
        if patterns.is_empty() && revs.len() < 2 && repo.store.resolve(&arg).is_ok() {
            revs.push(arg);
        } else if looks_like_pattern(&arg) {
            patterns.push(arg);
        } else {
            // Neither a revision nor a pattern: let the store say why the revision is unknown.
            repo.store.resolve(&arg)?;
        }
    }
    patterns.extend(args.patterns);
    let kinds = args
        .kinds
        .iter()
        .map(|k| config::check_kind(k, "--kind"))
        .collect::<Result<Vec<_>, _>>()?;
    let selection = Selection::new(&repo.config.kinds_in_scope(), kinds, args.ids, &patterns)?;
    let mut options = DiffOptions {
        ignore: IgnoreRules::new(repo.config.diff.ignore.clone())?,
        ..DiffOptions::default()
    };

    let report = match revs.as_slice() {
        [old, new] => {
            let (o, n) = (repo.store.resolve(old)?, repo.store.resolve(new)?);
            compare::commit_vs_commit(&repo.store, (old, o), (new, n), &selection, &options)?
        }
        _ => {
            let rev = revs.first().cloned().unwrap_or_else(|| "HEAD".to_string());
            let commit = repo.store.resolve(&rev)?;
            let client = context::graph_client(&repo.config)?;
            // One runtime for the client's requests: its pooled connections live there.
            let rt = super::runtime()?;
            // The write rules judge ownership by the tenant written to (the token's).
            options.rules.tenant = rt.block_on(client.token_tenant()).ok().flatten();
            // And directory extensions by where they are mastered (asked once per run: the
            // live read selects them).
            let extensions = rt.block_on(crate::read::extensions::Selected::discover(
                &client,
                &selection.kinds,
            ))?;
            options.rules.on_premises_extensions = extensions.on_premises().clone();
            let bars = Bars::new(global.quiet);
            let started = std::time::Instant::now();
            let report = rt.block_on(compare::commit_vs_live(
                &repo.store,
                &client,
                &rev,
                commit,
                &selection,
                &options,
                &crate::live::Options {
                    full: args.full,
                    full_every: repo.config.full_every(),
                    ..Default::default()
                },
                &bars,
            ));
            bars.clear();
            let (report, notices) = report?;
            for notice in &notices {
                global.say(format!("notice: {notice}"));
            }
            if let Some(read) = bars.read_finished_at() {
                global.say(format!(
                    "read the live tenant in {:.1}s ({} Graph requests, {} batch items), compared in {:.1}s",
                    (read - started).as_secs_f64(),
                    client.metrics().requests,
                    client.metrics().batch_items,
                    read.elapsed().as_secs_f64()
                ));
            }
            report
        }
    };
    let mut stdout = std::io::stdout().lock();
    render::render_diff(
        &report,
        args.format,
        &Style {
            color: global.color,
        },
        &mut stdout,
    )
    .map_err(|e| Error::io("cannot write the report", e))?;
    Ok(if args.exit_code && !report.is_empty() {
        1
    } else {
        0
    })
}

/// Path patterns start with a kind's folder or contain glob characters; anything else is taken
/// for a revision (so a mistyped `origin/mian` is an unknown revision, not an empty pattern).
fn looks_like_pattern(arg: &str) -> bool {
    let first = arg
        .trim_start_matches(['!', '/'])
        .split('/')
        .next()
        .unwrap_or_default();
    arg.contains(['*', '?', '['])
        || crate::schema::kinds()
            .iter()
            .any(|k| k.dir == first || k.file.as_deref() == Some(arg))
}
