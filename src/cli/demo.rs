//! `tenantgit demo`: the product's motivating story, played on the embedded Graph emulator and
//! narrated on stderr. A healthy tenant is snapshotted; a bulk script meant to change job titles
//! instead wipes the department and manager of a whole department (in Active Directory for the
//! synced users) and removes those users from their groups (in Exchange Online for the
//! mail-enabled ones); a second snapshot records the damage; the difference report shows it; a
//! restore from the healthy snapshot puts back what Graph can write and lists the rest by where
//! to fix it, and a final difference report proves only those labelled changes remain.
//! Everything goes over real HTTP to the emulator, through the same code paths as a real
//! tenant. The repository is left behind for `git log -p`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use reqwest::Method;
use serde_json::{json, Value};

use crate::compare;
use crate::diff::{Change, ChangeKind, DiffOptions, Report};
use crate::emulator::{Emulator, EmulatorConfig, SyntheticSpec};
use crate::error::Error;
use crate::graph::{Credential, GraphClient, GraphSettings, Secret};
use crate::model::Snapshot;
use crate::ops;
use crate::plan::{plural, PlanError};
use crate::read::NoProgress;
use crate::render::{self, Format, Style};
use crate::restore::{self, Desired, ExecuteOptions, Request};
use crate::select::Selection;
use crate::store::{CommitOptions, Store};
use crate::{config, schema};

use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder for the demo's snapshot repository (must not exist or be empty); a new temporary
    /// folder when not given.
    pub dir: Option<PathBuf>,
    /// Size of the synthetic tenant.
    #[arg(
        long,
        value_name = "SPEC",
        default_value = "users=2000,groups=200,members=15,apps=30,policies=12"
    )]
    pub tenant: SyntheticSpec,
}

pub fn run(global: &Global, args: Args) -> Result<i32, Error> {
    let dir = demo_dir(args.dir)?;
    let say = |s: &str| global.say(s);
    say(&format!("tenantgit demo — repository: {}", dir.display()));
    say("");
    say("Starting the Graph emulator with a synthetic tenant (this stands in for Microsoft Graph;");
    say("tenantgit talks to it over HTTP exactly as it would to graph.microsoft.com).");
    let emulator = Emulator::start(EmulatorConfig {
        synthetic: Some(args.tenant),
        ..EmulatorConfig::default()
    })
    .map_err(|e| {
        Error::usage(
            format!("cannot start the emulator: {e}"),
            "is the loopback interface available?",
        )
    })?;
    let defaults = EmulatorConfig::default();
    let client = GraphClient::new(GraphSettings {
        graph_url: emulator.url(),
        authority_host: emulator.url(),
        tenant_id: defaults.tenant_id.clone(),
        client_id: defaults.client_id.clone(),
        credential: Credential::ClientSecret(Secret::new(defaults.client_secret.clone())),
        concurrency: 8,
        max_retries: 8,
    })?;
    say(&format!("  emulator listening on {}", emulator.url()));
    say("");

    let (store, _) = Store::open_or_init(&dir)?;
    let kinds: Vec<_> = schema::kinds().iter().collect();
    let rt = super::runtime()?;
    let toml = vec![(
        config::FILE_NAME.to_string(),
        config::DEFAULT_TEXT.as_bytes().to_vec(),
    )];

    say("1. Snapshot of the healthy tenant");
    let options = CommitOptions {
        message_title: "snapshot: healthy tenant".into(),
        ..CommitOptions::default()
    };
    let first = rt.block_on(ops::snapshot(
        &store,
        &client,
        &kinds,
        &toml,
        &options,
        &crate::live::Options::default(),
        &NoProgress,
    ))?;
    let first_commit = first
        .outcome
        .commit
        .expect("a new repository always gets a first commit");
    say(&format!(
        "   {} objects committed as {} in {:.1}s",
        first.objects,
        short(&first_commit.to_string()),
        first.read_seconds + first.outcome.git_seconds
    ));
    let healthy = store.load_snapshot(first_commit, &|k, _| {
        [
            "users",
            "groups",
            "applications",
            "conditionalAccessPolicies",
        ]
        .contains(&k.kind.as_str())
    })?;
    say("");

    let (department, victims) = largest_department(&healthy);
    say(&format!(
        "2. A bulk script meant to update job titles in {department} goes wrong: it clears the department"
    ));
    say(&format!(
        "   and manager of all {} users of the department, in Active Directory for the synced ones",
        victims.len()
    ));
    say("   (Entra Connect carries it up) and through Graph for the cloud-only ones, and removes");
    say("   them from their groups (in Exchange Online for the mail-enabled ones). That afternoon");
    say("   someone also switches a Conditional Access policy to report-only, disables FIDO2");
    say("   security keys, narrows a dynamic group's rule, removes an app role and deletes a");
    say("   guest for good.");
    let done = rt.block_on(damage(&client, &emulator.url(), &healthy, &victims))?;
    say(&format!(
        "   {} synced users changed on-premises, {} in Exchange Online and {} Graph writes",
        done.synced,
        plural(done.exchange, "group", "groups"),
        done.writes
    ));
    say("   later, the tenant is damaged; nobody noticed yet.");
    say("");

    say("3. The next scheduled snapshot records the damage");
    let options = CommitOptions {
        message_title: "snapshot: after the bulk change".into(),
        ..CommitOptions::default()
    };
    let second = rt.block_on(ops::snapshot(
        &store,
        &client,
        &kinds,
        &[],
        &options,
        &crate::live::Options::default(),
        &NoProgress,
    ))?;
    let Some(second_commit) = second.outcome.commit else {
        return Err(Error::usage(
            "the damage left no trace in the snapshot",
            "this is a bug in the demo",
        ));
    };
    for (kind, c) in &second.outcome.summary.per_kind {
        if !c.changed.is_empty() || !c.added.is_empty() || !c.removed.is_empty() {
            say(&format!(
                "   {kind}: {} changed, {} added, {} removed",
                c.changed.len(),
                c.added.len(),
                c.removed.len()
            ));
        }
    }
    say(&format!(
        "   committed {}",
        short(&second_commit.to_string())
    ));
    say("");

    say(&format!(
        "4. The difference report: the healthy snapshot ({}) against the live tenant",
        short(&first_commit.to_string())
    ));
    say(&format!("   (tenantgit -C {} diff HEAD~1)", dir.display()));
    let selection = selection_all(&kinds)?;
    let report = rt
        .block_on(compare::commit_vs_live(
            &store,
            &client,
            "HEAD~1",
            first_commit,
            &selection,
            &DiffOptions::default(),
            &crate::live::Options::default(),
            &NoProgress,
        ))?
        .0;
    show_report_excerpt(global, &report)?;
    say("");

    say(&format!(
        "5. Restore from the healthy snapshot (tenantgit -C {} restore HEAD~1)",
        dir.display()
    ));
    let selection = selection_all(&kinds)?;
    let settings = config::FileConfig::parse(config::DEFAULT_TEXT, config::FILE_NAME)?;
    let safety = settings.safety.settings();
    let request = Request {
        desired: Desired::Commit {
            rev: "HEAD~1".into(),
            commit: first_commit,
        },
        selection,
        prune: false,
    };
    let planned = rt.block_on(restore::plan(
        &store,
        &client,
        &request,
        &safety,
        &crate::live::Options::default(),
        &NoProgress,
    ))?;
    let plan = planned.plan;
    let summary = plan.summary();
    say(&format!(
        "   plan: {} to update, {} to re-create, {} to add, {} to remove",
        plural(summary.update, "object", "objects"),
        summary.create + summary.restore,
        plural(summary.links_add, "link", "links"),
        summary.links_remove
    ));
    if !plan.cannot_restore.is_empty() {
        say(&format!(
            "   not written, because Graph refuses it ({} objects; the plan lists each):",
            plan.cannot_restore.len()
        ));
        for (fix, n) in count_by(plan.cannot_restore.iter().map(|c| c.fix.as_str())) {
            say(&format!("     {n:>4} × {fix}"));
        }
    }
    let options = ExecuteOptions {
        force: false,
        concurrency: 8,
    };
    let applied = match rt.block_on(restore::execute(&store, &client, &plan, options)) {
        Err(Error::Plan(refused @ PlanError::Refused { .. })) => {
            say(&format!("   tenantgit refuses: {refused}"));
            say("   The report above was reviewed, so the demo runs it again with --force.");
            rt.block_on(restore::execute(
                &store,
                &client,
                &plan,
                ExecuteOptions {
                    force: true,
                    ..options
                },
            ))?
        }
        other => other?,
    };
    let applied = applied.report;
    // Objects gone for good come back with new ids (the guest, invited again).
    let recreated: BTreeMap<String, String> = applied
        .outcomes
        .iter()
        .filter_map(|o| Some((o.id.clone(), o.new_id.clone()?)))
        .collect();
    for o in applied.outcomes.iter().filter(|o| o.new_id.is_some()) {
        say(&format!(
            "   {} ({}) was gone for good: re-created ({}) with a new id",
            o.display_name, o.kind, o.action
        ));
    }
    say(&format!(
        "   {} in {:.1}s, {} failed; read back: {} still {}",
        plural(applied.writes, "write", "writes"),
        applied.seconds,
        applied.failed,
        plural(applied.remaining_drift.len(), "object", "objects"),
        if applied.remaining_drift.len() == 1 {
            "differs"
        } else {
            "differ"
        }
    ));
    say("");

    say("6. Proof: the live tenant against the healthy snapshot (tenantgit diff HEAD~1 --exit-code)");
    let after = rt
        .block_on(compare::commit_vs_live(
            &store,
            &client,
            "HEAD~1",
            first_commit,
            &selection_all(&kinds)?,
            &DiffOptions::default(),
            &crate::live::Options::default(),
            &NoProgress,
        ))?
        .0;
    // What is left must be exactly what the plan said Graph refuses: every remaining attribute
    // and link change carries its label.
    let unlabelled: Vec<&Change> = after
        .changes
        .iter()
        .filter(|c| {
            let renewed = match c.change {
                ChangeKind::Removed { .. } => recreated.contains_key(&c.key.id),
                ChangeKind::Added => recreated.values().any(|id| *id == c.key.id),
                ChangeKind::Modified => false,
            };
            !renewed
        })
        .filter(|c| {
            !matches!(c.change, ChangeKind::Modified)
                || c.attributes.iter().any(|a| a.cannot_restore.is_none())
                || c.links.iter().any(|l| l.cannot_restore.is_none())
        })
        .collect();
    if after.is_empty() {
        say("   No differences: exit status 0. The department is back.");
    } else if unlabelled.is_empty() {
        say(&format!(
            "   Everything Graph can write is back. {} objects still differ, each labelled with where",
            after.changes.len() - 2 * recreated.len()
        ));
        if done.exchange > 0 {
            say("   to fix it (the department's synced users are fixed in Active Directory, the");
            say("   mail-enabled groups' members in Exchange Online):");
        } else {
            say("   to fix it (the department's synced users are fixed in Active Directory):");
        }
        let fixes = after
            .changes
            .iter()
            .filter(|c| matches!(c.change, ChangeKind::Modified))
            .flat_map(|c| {
                let attributes = c.attributes.iter().filter_map(|a| a.cannot_restore);
                let links = c.links.iter().filter_map(|l| l.cannot_restore);
                let mut rules: Vec<&str> =
                    attributes.chain(links).map(|r| r.fix.as_str()).collect();
                rules.dedup();
                rules
            });
        for (fix, n) in count_by(fixes) {
            say(&format!("     {n:>4} × {fix}"));
        }
    } else {
        let report = Report {
            from: after.from.clone(),
            to: after.to.clone(),
            changes: unlabelled.into_iter().cloned().collect(),
        };
        show_report_excerpt(global, &report)?;
        return Err(Error::usage(
            format!(
                "{} still {} after the restore",
                plural(report.changes.len(), "object", "objects"),
                if report.changes.len() == 1 {
                    "differs"
                } else {
                    "differ"
                }
            ),
            "this is a bug in tenantgit; the report above names them",
        ));
    }
    say("");
    say(&format!(
        "Explore the history: cd {} && git log --stat",
        dir.display()
    ));
    drop(emulator);
    Ok(0)
}

/// How often each value occurs, most frequent first.
fn count_by<'a>(values: impl Iterator<Item = &'a str>) -> Vec<(&'a str, usize)> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let mut out: Vec<(&str, usize)> = counts.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    out
}

fn short(id: &str) -> &str {
    &id[..10.min(id.len())]
}

/// A new empty folder for the repository: the one given (created if missing, refused if it has
/// files) or a fresh temporary one that is kept.
fn demo_dir(dir: Option<PathBuf>) -> Result<PathBuf, Error> {
    match dir {
        Some(dir) => {
            if dir.exists() {
                let mut entries = std::fs::read_dir(&dir)
                    .map_err(|e| Error::io(format!("cannot read {}", dir.display()), e))?;
                if entries.next().is_some() {
                    return Err(Error::usage(
                        format!("{} is not empty", dir.display()),
                        "give the demo a new folder, or leave DIR out to use a temporary one",
                    ));
                }
            }
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
            Ok(dir)
        }
        None => {
            let tmp = tempfile::Builder::new()
                .prefix("tenantgit-demo-")
                .tempdir()
                .map_err(|e| Error::io("cannot create a temporary folder", e))?;
            Ok(tmp.keep())
        }
    }
}

/// The department with the most users, and their ids.
fn largest_department(snapshot: &Snapshot) -> (String, Vec<String>) {
    let mut by_dept: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for user in snapshot.of_kind("users") {
        if let Some(Value::String(d)) = user.props.get("department") {
            by_dept.entry(d.clone()).or_default().push(user.id.clone());
        }
    }
    by_dept
        .into_iter()
        .max_by_key(|(_, ids)| ids.len())
        .unwrap_or_default()
}

/// What the bad bulk change did, for the narration.
struct Damage {
    /// Synced users changed in Active Directory (and carried up by Entra Connect).
    synced: usize,
    /// Mail-enabled groups changed in Exchange Online.
    exchange: usize,
    /// Graph writes of the script: cloud-only users, memberships, the policies.
    writes: usize,
}

/// Whether a group is managed in Exchange Online: a cloud mail-enabled security group or
/// distribution list (mail-enabled, not a Microsoft 365 group, not synced from AD).
fn managed_in_exchange(group: &crate::model::Object) -> bool {
    let is = |p: &str| group.props.get(p) == Some(&Value::Bool(true));
    let unified = group
        .props
        .get("groupTypes")
        .and_then(Value::as_array)
        .is_some_and(|t| t.iter().any(|t| t == "Unified"));
    is("mailEnabled") && !unified && !is("onPremisesSyncEnabled")
}

/// Whether a group's members are written through Graph: assigned (not dynamic), not
/// mail-enabled, not synced and not role-assignable.
fn members_writable(group: &crate::model::Object) -> bool {
    let is = |p: &str| group.props.get(p) == Some(&Value::Bool(true));
    let dynamic = group
        .props
        .get("groupTypes")
        .and_then(Value::as_array)
        .is_some_and(|t| t.iter().any(|t| t == "DynamicMembership"));
    !dynamic && !is("mailEnabled") && !is("onPremisesSyncEnabled") && !is("isAssignableToRole")
}

/// The bad bulk change. Most of the department is synced from Active Directory: the script ran
/// there, clearing department and manager, and Entra Connect carried the damage up (the
/// emulator's `POST /_emulator/sync`). In Exchange Online it removed them from the cloud
/// mail-enabled groups (`POST /_emulator/exchange`: Graph cannot write those). Through Graph it
/// cleared the same on the department's cloud-only users, removed them from their assigned
/// groups, switched the first enabled Conditional Access policy to report-only and disabled
/// FIDO2 security keys.
async fn damage(
    client: &GraphClient,
    emulator_url: &str,
    healthy: &Snapshot,
    victims: &[String],
) -> Result<Damage, Error> {
    let victim_set: std::collections::HashSet<&str> = victims.iter().map(String::as_str).collect();
    let mut synced = Vec::new();
    let mut requests: Vec<(Method, String, Option<Value>)> = Vec::new();
    for user in healthy
        .of_kind("users")
        .filter(|u| victim_set.contains(u.id.as_str()))
    {
        if user.props.get("onPremisesSyncEnabled") == Some(&Value::Bool(true)) {
            synced.push(json!({"id": user.id, "set": {"department": null}, "manager": null}));
            continue;
        }
        requests.push((
            Method::PATCH,
            format!("users/{}", user.id),
            Some(json!({"department": null})),
        ));
        if user.link_ids("manager").next().is_some() {
            requests.push((
                Method::DELETE,
                format!("users/{}/manager/$ref", user.id),
                None,
            ));
        }
    }
    let mut exchange = Vec::new();
    for group in healthy.of_kind("groups").filter(|g| managed_in_exchange(g)) {
        let gone: Vec<&str> = group
            .link_ids("members")
            .filter(|m| victim_set.contains(m))
            .collect();
        if !gone.is_empty() {
            exchange.push(json!({"id": group.id, "removeMembers": gone}));
        }
    }
    for group in healthy.of_kind("groups").filter(|g| members_writable(g)) {
        for member in group.link_ids("members").filter(|m| victim_set.contains(m)) {
            requests.push((
                Method::DELETE,
                format!("groups/{}/members/{member}/$ref", group.id),
                None,
            ));
        }
    }
    if let Some(policy) = healthy
        .of_kind("conditionalAccessPolicies")
        .find(|p| p.props.get("state") == Some(&json!("enabled")))
    {
        requests.push((
            Method::PATCH,
            format!("identity/conditionalAccess/policies/{}", policy.id),
            Some(json!({"state": "enabledForReportingButNotEnforced"})),
        ));
    }
    requests.push((
        Method::PATCH,
        "policies/authenticationMethodsPolicy/authenticationMethodConfigurations/Fido2".into(),
        Some(json!({
            "@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration",
            "state": "disabled"
        })),
    ));
    // A dynamic group's rule is narrowed, an application loses its first app role (disabled,
    // then removed, as Graph requires) and a guest is deleted for good.
    if let Some(group) = healthy.of_kind("groups").find(|g| {
        g.props.get("onPremisesSyncEnabled") != Some(&Value::Bool(true))
            && g.props.get("membershipRule").is_some_and(Value::is_string)
    }) {
        let rule = group.props["membershipRule"].as_str().unwrap_or_default();
        requests.push((
            Method::PATCH,
            format!("groups/{}", group.id),
            Some(
                json!({"membershipRule": format!("({rule}) and (user.accountEnabled -eq false)")}),
            ),
        ));
    }
    let mut sequential: Vec<(Method, String, Option<Value>)> = Vec::new();
    if let Some((app, roles)) = healthy.of_kind("applications").find_map(|a| {
        let roles = a.props.get("appRoles")?.as_array()?;
        (!roles.is_empty()).then(|| (a, roles.clone()))
    }) {
        let mut disabled = roles.clone();
        disabled[0]["isEnabled"] = Value::Bool(false);
        let path = format!("applications/{}", app.id);
        sequential.push((
            Method::PATCH,
            path.clone(),
            Some(json!({"appRoles": disabled})),
        ));
        sequential.push((Method::PATCH, path, Some(json!({"appRoles": roles[1..]}))));
    }
    if let Some(guest) = healthy.of_kind("users").find(|u| {
        !victim_set.contains(u.id.as_str())
            && u.props
                .get("userPrincipalName")
                .and_then(Value::as_str)
                .is_some_and(|upn| upn.contains("#EXT#"))
    }) {
        sequential.push((Method::DELETE, format!("users/{}", guest.id), None));
        sequential.push((
            Method::DELETE,
            format!("directory/deletedItems/{}", guest.id),
            None,
        ));
    }
    let on_premises = synced.len();
    if !synced.is_empty() {
        back_door(emulator_url, "sync", "AD", synced).await?;
    }
    let in_exchange = exchange.len();
    if !exchange.is_empty() {
        back_door(emulator_url, "exchange", "Exchange Online", exchange).await?;
    }
    let total = requests.len();
    let client = Arc::new(client.clone());
    let mut tasks = tokio::task::JoinSet::new();
    for (method, path, body) in requests {
        let client = client.clone();
        tasks.spawn(async move { client.send(method, &path, body.as_ref()).await });
    }
    while let Some(result) = tasks.join_next().await {
        result
            .map_err(|e| Error::usage(format!("a demo write panicked: {e}"), "this is a bug"))??;
    }
    for (method, path, body) in &sequential {
        client.send(method.clone(), path, body.as_ref()).await?;
    }
    Ok(Damage {
        synced: on_premises,
        exchange: in_exchange,
        writes: total + sequential.len(),
    })
}

/// Changes objects where Graph cannot: in Active Directory, carried up by Entra Connect
/// (`/_emulator/sync`), or in Exchange Online (`/_emulator/exchange`).
async fn back_door(
    emulator_url: &str,
    path: &str,
    whose: &str,
    changes: Vec<Value>,
) -> Result<(), Error> {
    let bug = |e: String| {
        Error::usage(
            format!("the demo's {whose} change failed: {e}"),
            "this is a bug in the demo",
        )
    };
    let resp = reqwest::Client::new()
        .post(format!("{emulator_url}/_emulator/{path}"))
        .json(&json!({ "changes": changes }))
        .send()
        .await
        .map_err(|e| bug(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(bug(resp.text().await.unwrap_or_default()));
    }
    Ok(())
}

fn selection_all(kinds: &[&'static crate::schema::KindSpec]) -> Result<Selection, Error> {
    Selection::new(kinds, Vec::new(), Vec::new(), &[])
}

/// The first few objects of a report and its whole summary, indented.
fn show_report_excerpt(global: &Global, report: &Report) -> Result<(), Error> {
    // The first two objects of each kind.
    let mut shown: Vec<Change> = Vec::new();
    let mut per_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &report.changes {
        let n = per_kind.entry(c.key.kind.as_str()).or_default();
        if *n < 2 {
            *n += 1;
            shown.push(c.clone());
        }
    }
    let excerpt = Report {
        from: report.from.clone(),
        to: report.to.clone(),
        changes: shown,
    };
    let style = Style {
        color: global.color_stderr,
    };
    let render = |r: &Report| -> Result<String, Error> {
        let mut out = Vec::new();
        render::render_diff(r, Format::Human, &style, &mut out)
            .map_err(|e| Error::io("cannot render", e))?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    };
    let head = render(&excerpt)?;
    let full = render(report)?;
    let body = head.split("\nSummary:").next().unwrap_or_default();
    for line in body.lines() {
        global.say(format!("   {line}"));
    }
    global.say(format!(
        "   … and {} more objects",
        report.changes.len().saturating_sub(excerpt.changes.len())
    ));
    global.say("");
    if let Some(at) = full.find("Summary:") {
        for line in full[at..].lines() {
            global.say(format!("   {line}"));
        }
    }
    Ok(())
}
