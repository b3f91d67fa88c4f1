//! The snapshot operation, independent of the command line (the demo runs the same function):
//! reading the tenant into a snapshot and committing it. Restores go through `crate::restore`.

use std::time::Instant;

use crate::error::Error;
use crate::graph::GraphClient;
use crate::live;
use crate::read::ReadProgress;
use crate::schema::KindSpec;
use crate::store::{CommitOptions, CommitOutcome, Store};

/// What one `snapshot` did.
pub struct SnapshotRun {
    pub outcome: CommitOutcome,
    pub objects: usize,
    pub read_seconds: f64,
    /// One-line notices of the read (delta tokens not trusted, full rounds and why).
    pub notices: Vec<String>,
    /// Every kind was read in full (no kind continued from stored delta tokens).
    pub full: bool,
    /// What was read. A caller that exits right after can leave it to the operating system:
    /// freeing a large tenant's million allocations one by one takes a third of a second.
    pub live: live::Live,
}

/// Reads every object of `kinds` — incrementally where the last snapshot's delta tokens allow —
/// and commits the result (only when the tree changed); then keeps the tokens of the next round
/// as a note on the commit whose files match the tenant (the new one, or `HEAD`). A failed read
/// returns the error before anything is written.
pub async fn snapshot(
    store: &Store,
    client: &GraphClient,
    kinds: &[&'static KindSpec],
    extra_files: &[(String, Vec<u8>)],
    options: &CommitOptions,
    read: &live::Options,
    progress: &dyn ReadProgress,
) -> Result<SnapshotRun, Error> {
    let started = Instant::now();
    crate::store::timing::mark("snapshot: start");
    // The snapshot only writes what it reads: objects may be kept as their files' text.
    let read = live::Options {
        freeze: true,
        ..read.clone()
    };
    let live = live::read(store, client, kinds, &read, progress).await?;
    let read_seconds = started.elapsed().as_secs_f64();
    crate::store::timing::mark("snapshot: live::read");
    let objects = live.len();
    // Objects a restore created carry new ids; the journal says which desired object each is.
    let journals = crate::apply::journal::read_all(store.common_dir())?;
    let mut options = options.clone();
    options.recreated.extend(
        crate::apply::journal::creates(&journals)
            .into_iter()
            .filter_map(|c| Some((c.old_id, c.new_id?))),
    );
    let outcome = store.commit_states(&live.states(), extra_files, &options)?;
    crate::store::timing::mark("snapshot: commit_states");
    let mut notices = live.notices.clone();
    if let Some(note) = live.note() {
        let target = match outcome.commit {
            Some(c) => Some(c),
            None => store.head()?,
        };
        if let Some(target) = target {
            if let Err(e) = store.set_note(target, &note) {
                notices.push(format!(
                    "could not keep the delta tokens ({e}); the next snapshot reads in full"
                ));
            }
        }
    }
    crate::store::timing::mark("snapshot: note");
    Ok(SnapshotRun {
        outcome,
        objects,
        read_seconds,
        notices,
        full: live.is_full(),
        live,
    })
}
