//! The live tenant as the files of a snapshot, read as cheaply as Graph allows.
//!
//! Kinds with a delta query (users, groups, applications, service principals, administrative
//! units) follow the deltaLinks kept with the last snapshot — a git note on its commit
//! (`refs/notes/tenantgit`), so a clone that fetches the note continues where the last run
//! stopped — and lay the changes over that snapshot's files. The other kinds are read in full,
//! concurrently. Either way the result is the set of files a full read gives, byte for byte:
//!
//! * objects a round did not report keep their files (their blob ids, unread);
//! * a changed object is its file with the reported properties and link ends laid over it;
//! * an object new to the snapshot (created, or back from the recycle bin) is read whole by id,
//!   since a round may carry only some of its properties;
//! * links delta does not track (owners of applications and service principals) and contained
//!   children (an application's federated identity credentials) are read again for the changed
//!   objects;
//! * link ends are named as a full read names them: from the objects of the run, else through
//!   `directoryObjects/getByIds`; a renamed object is looked up backwards (`memberOf`,
//!   `ownedObjects`, `directReports`) and the files that name it are written again.
//!
//! A kind is read incrementally only when its note is trustworthy: readable, for this Graph and
//! this tenant, taken for the same query, not older than `[snapshot] full-every`, and when every
//! kind its links point to is read incrementally from the same note too (otherwise a rename
//! could go unseen). Anything else is a full round with a one-line notice — a stored token never
//! blocks a snapshot. Graph refusing a token (expired, reset) is the same.

mod followups;
mod ids;
mod note;

use std::collections::{BTreeMap, HashMap, HashSet};

use git2::Oid;

use crate::error::Error;
use crate::frozen::Frozen;
use crate::graph::GraphClient;
use crate::layout;
use crate::model::{Object, Snapshot};
use crate::read::round::{DeltaToken, Round};
use crate::read::{self, incremental, Fetch, Fetched, ReadProgress};
use crate::schema::KindSpec;
use crate::store::{KindState, Store, TreeIndex};

use followups::*;
use note::*;

/// How this run reads the live tenant.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Full rounds for every kind (`--full`).
    pub full: bool,
    /// `[snapshot] full-every`: a chain whose initial round is older gets a full round.
    pub full_every: Option<chrono::Duration>,
    /// Objects of a run that reads every kind in full may come as [`Frozen`] text: for a
    /// snapshot, which only writes them.
    pub freeze: bool,
}

/// One kind of the live tenant: files kept as they are in the base snapshot, and the objects
/// whose files are written.
pub struct LiveKind {
    pub kind: &'static KindSpec,
    /// (path, blob id) of the base snapshot's files that are still the tenant's.
    pub kept: Vec<(String, Oid)>,
    pub objects: Vec<Object>,
    /// Objects whose files are written, kept as text (see [`Options::freeze`]).
    pub frozen: Vec<Frozen>,
    /// The token of the next round (kinds read with delta).
    token: Option<DeltaToken>,
    /// Read incrementally: its kept files may name link ends that were renamed since.
    incremental: bool,
    /// Read by an initial delta round, which names no link end: every end is named afterwards.
    unnamed_ends: bool,
}

/// The live tenant, for the kinds asked for.
pub struct Live {
    pub kinds: Vec<LiveKind>,
    /// One-line notices: tokens not trusted or refused, full rounds and why.
    pub notices: Vec<String>,
    graph: String,
    tenant: Option<String>,
}

impl Live {
    /// Objects in the live tenant (kept files and read objects).
    pub fn len(&self) -> usize {
        self.kinds
            .iter()
            .map(|k| k.kept.len() + k.objects.len() + k.frozen.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The new state of each kind's files, for [`Store::commit_states`].
    pub fn states(&self) -> Vec<KindState<'_>> {
        self.kinds
            .iter()
            .map(|k| KindState {
                kind: k.kind,
                kept: &k.kept,
                objects: k.objects.iter().collect(),
                frozen: k.frozen.iter().collect(),
            })
            .collect()
    }

    /// Whether every kind was read in full (nothing kept from an earlier snapshot).
    pub fn is_full(&self) -> bool {
        self.kinds.iter().all(|k| !k.incremental)
    }

    /// The note to keep on the commit whose files are these (the new snapshot, or `HEAD` when
    /// nothing changed): the tokens of the next round. `None` when no kind has one.
    pub fn note(&self) -> Option<String> {
        let kinds: BTreeMap<String, DeltaToken> = self
            .kinds
            .iter()
            .filter_map(|k| Some((k.kind.kind.clone(), k.token.clone()?)))
            .collect();
        if kinds.is_empty() {
            return None;
        }
        let note = Note {
            version: NOTE_VERSION,
            graph: self.graph.clone(),
            tenant: self.tenant.clone(),
            kinds,
        };
        Some(serde_json::to_string_pretty(&note).expect("a note serializes"))
    }

    /// Every object of the live tenant, kept files parsed (for callers that need them all).
    pub fn into_snapshot(self, store: &Store) -> Result<Snapshot, Error> {
        let mut snapshot = Snapshot::default();
        for k in self.kinds {
            for (path, oid) in &k.kept {
                snapshot.insert(parse_file(store, k.kind, path, *oid)?);
            }
            for o in k.objects {
                snapshot.insert(o);
            }
            for f in &k.frozen {
                snapshot.insert(f.thaw()?);
            }
        }
        Ok(snapshot)
    }
}

/// Reads the live tenant for `kinds`: incrementally where the last snapshot's note allows,
/// otherwise in full (see the module's documentation).
pub async fn read(
    store: &Store,
    client: &GraphClient,
    kinds: &[&'static KindSpec],
    options: &Options,
    progress: &dyn ReadProgress,
) -> Result<Live, Error> {
    let now = chrono::Utc::now();
    let graph = client.base_url().to_string();
    let tenant = if kinds.iter().any(|k| k.delta) {
        client.token_tenant().await?
    } else {
        None
    };
    let mut notices = Vec::new();
    let note = if options.full {
        None
    } else {
        load_note(store, &mut notices)?
    };
    // A token is only good for the query it was taken with, whose `$select` names the
    // directory extension attributes registered now.
    let extensions = read::extensions::Selected::discover(client, kinds).await?;
    let mut plans = decide(
        kinds,
        note.as_ref(),
        &graph,
        tenant.as_deref(),
        options,
        &extensions,
        now,
        &mut notices,
    );
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // Frozen objects need no follow-ups: only a run without incremental kinds has them.
    let freeze = options.freeze && plans.iter().all(|(_, p)| !matches!(p, Plan::Since { .. }));
    let mut fetched = read::fetch(client, fetches(&plans, freeze), &stamp, progress).await?;
    crate::store::timing::mark("live: fetch");
    // Graph refused some tokens: those kinds, and the kinds that link to them, read in full.
    let refused: Vec<(usize, String)> = fetched
        .iter()
        .enumerate()
        .filter_map(|(i, (kind, f))| match f {
            Fetched::Rejected(e) => Some((
                i,
                format!(
                    "{}: Graph no longer accepts the stored delta token ({}); reading {} in full",
                    kind.kind,
                    rejection_reason(e),
                    kind.kind
                ),
            )),
            _ => None,
        })
        .collect();
    if !refused.is_empty() {
        for (i, notice) in &refused {
            notices.push(notice.clone());
            plans[*i].1 = Plan::Initial;
        }
        cascade(&mut plans);
        let again: Vec<usize> = (0..plans.len())
            .filter(|&i| {
                matches!(plans[i].1, Plan::Initial)
                    && !matches!(fetched[i].1, Fetched::Round(ref r) if r.objects.is_some())
            })
            .collect();
        let redo: Vec<(&'static KindSpec, Fetch)> = again
            .iter()
            .map(|&i| (plans[i].0, Fetch::Initial { freeze: false }))
            .collect();
        for (i, result) in again
            .into_iter()
            .zip(read::fetch(client, redo, &stamp, progress).await?)
        {
            fetched[i] = result;
        }
    }

    let mut indexes: HashMap<Oid, std::rc::Rc<TreeIndex>> = HashMap::new();
    let mut live = Live {
        kinds: Vec::new(),
        notices,
        graph,
        tenant,
    };
    let mut follow = Followups::default();
    for ((kind, plan), (_, result)) in plans.into_iter().zip(fetched) {
        let lk = match (plan, result) {
            (_, Fetched::Objects(objects)) => LiveKind {
                kind,
                kept: Vec::new(),
                objects,
                frozen: Vec::new(),
                token: None,
                incremental: false,
                unnamed_ends: false,
            },
            (_, Fetched::Round(r)) if r.objects.is_some() => {
                let objects = r.objects.expect("checked");
                LiveKind {
                    kind,
                    kept: Vec::new(),
                    objects,
                    frozen: r.frozen,
                    token: Some(r.round.token),
                    incremental: false,
                    unnamed_ends: true,
                }
            }
            (Plan::Since { base, .. }, Fetched::Round(r)) => {
                if let std::collections::hash_map::Entry::Vacant(e) = indexes.entry(base) {
                    e.insert(store.tree_index(base)?);
                }
                let index = &indexes[&base];
                since(store, client, kind, index, r.round, &mut follow, progress).await?
            }
            (_, Fetched::Round(_)) | (_, Fetched::Rejected(_)) => {
                unreachable!(
                    "a round without objects follows a token; refused tokens were read again"
                )
            }
        };
        live.kinds.push(lk);
    }
    crate::store::timing::mark("live: assemble kinds");
    name_ends(client, &mut live, &follow.unnamed).await?;
    crate::store::timing::mark("live: name_ends");
    if !follow.renamed.is_empty() {
        follow_renames(store, client, &mut live, &follow.renamed).await?;
    }
    if !follow.left.is_empty() || !follow.arrived.is_empty() {
        reread_referrers(store, client, &mut live, &follow).await?;
    }
    Ok(live)
}

/// A kind after a round from a token: the base snapshot's files, the round's changes laid over
/// them.
#[allow(clippy::too_many_arguments)]
async fn since(
    store: &Store,
    client: &GraphClient,
    kind: &'static KindSpec,
    index: &TreeIndex,
    round: Round,
    follow: &mut Followups,
    progress: &dyn ReadProgress,
) -> Result<LiveKind, Error> {
    let touched: HashSet<String> = round
        .objects
        .keys()
        .map(|id| layout::safe_component(id))
        .collect();
    let kept: Vec<(String, Oid)> = index
        .iter()
        .filter(|(path, k, _)| {
            k.kind == kind.kind
                && !layout::id_hint_from_path(kind, path).is_some_and(|h| touched.contains(&h))
        })
        .map(|(path, _, oid)| (path.to_string(), oid))
        .collect();
    let mut objects = Vec::new();
    let mut new = Vec::new();
    for (id, change) in &round.objects {
        if change.removed.is_some() {
            follow.left.push((id.clone(), kind));
            continue;
        }
        let base = match index.find(&kind.kind, &layout::safe_component(id)) {
            Some((path, oid)) => Some(parse_file(store, kind, path, oid)?).filter(|o| &o.id == id),
            None => None,
        };
        let Some(base) = base else {
            new.push(id.as_str());
            continue;
        };
        let before = base.end_name();
        let object = incremental::updated(kind, id, Some(base), change)?;
        if object.end_name() != before {
            follow.renamed.insert(id.clone(), (kind, object.end_name()));
        }
        for ends in change.links.values() {
            follow.unnamed.extend(&ends.added);
        }
        objects.push(object);
    }
    // Links delta does not track and contained children, read again for the changed objects.
    for id in read::read_untracked(client, kind, &mut objects).await? {
        progress.vanished(&kind.kind, &id);
    }
    // Objects new to the snapshot, read whole: a round may carry only some of their properties.
    let arrived = read::read_by_id(client, kind, new.into_iter()).await?;
    follow
        .arrived
        .extend(arrived.iter().map(|o| (o.id.clone(), kind)));
    objects.extend(arrived);
    Ok(LiveKind {
        kind,
        kept,
        objects,
        frozen: Vec::new(),
        token: Some(round.token),
        incremental: true,
        unnamed_ends: false,
    })
}

#[cfg(test)]
mod tests;
