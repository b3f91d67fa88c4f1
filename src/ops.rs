//! The snapshot operation, independent of the command line (the demo runs the same function):
//! reading the tenant into a snapshot and committing it. Restores go through `crate::restore`.

use std::time::Instant;

use crate::error::Error;
use crate::graph::GraphClient;
use crate::read::{self, ReadProgress};
use crate::schema::KindSpec;
use crate::store::{CommitOptions, CommitOutcome, Store};

/// What one `snapshot` did.
pub struct SnapshotRun {
    pub outcome: CommitOutcome,
    pub objects: usize,
    pub read_seconds: f64,
}

/// Reads every object of `kinds` and commits the result (only when the tree changed). A failed
/// read returns the error before anything is written.
pub async fn snapshot(
    store: &Store,
    client: &GraphClient,
    kinds: &[&'static KindSpec],
    extra_files: &[(String, Vec<u8>)],
    options: &CommitOptions,
    progress: &dyn ReadProgress,
) -> Result<SnapshotRun, Error> {
    let started = Instant::now();
    let snapshot = read::read_tenant(client, kinds, progress).await?;
    let read_seconds = started.elapsed().as_secs_f64();
    let objects = snapshot.len();
    // Objects a restore created carry new ids; the journal says which desired object each is.
    let journals = crate::apply::journal::read_all(store.common_dir())?;
    let mut options = options.clone();
    options.recreated.extend(
        crate::apply::journal::creates(&journals)
            .into_iter()
            .filter_map(|c| Some((c.old_id, c.new_id?))),
    );
    let outcome = store.commit_snapshot(&snapshot, kinds, extra_files, &options)?;
    Ok(SnapshotRun {
        outcome,
        objects,
        read_seconds,
    })
}
