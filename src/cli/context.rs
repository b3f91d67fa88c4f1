//! What most commands need before they start: the snapshot repository, its `tenantgit.toml`, and
//! a Graph client configured from the environment and the file.

use crate::config::{self, FileConfig};
use crate::error::Error;
use crate::graph::{self, GraphClient, GraphFileSettings};
use crate::store::{RepoLock, Store, StoreError};

use super::Global;

pub struct Repo {
    pub store: Store,
    pub config: FileConfig,
    /// The repository was created by this command.
    pub created: bool,
}

impl Repo {
    /// An existing snapshot repository.
    pub fn open(global: &Global) -> Result<Repo, Error> {
        let store = Store::open(&global.dir)?;
        let config = load_config(&store)?;
        Ok(Repo {
            store,
            config,
            created: false,
        })
    }

    /// The repository, initialised when the folder has none, locked for `command` (see
    /// [`lock`]) and with any checkout a killed run left half done finished (see [`recover`])
    /// before its files are read.
    /// Only a missing or empty folder is initialised, so that a mistyped `-C` never turns an
    /// unrelated folder into a snapshot repository.
    pub fn open_or_init_locked(global: &Global, command: &str) -> Result<(Repo, RepoLock), Error> {
        let dir = &global.dir;
        let has_files = std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false);
        if has_files && !dir.join(".git").exists() && Store::open(dir).is_err() {
            return Err(StoreError::NotARepository { path: dir.clone() }.into());
        }
        let (store, created) = Store::open_or_init(dir)?;
        let lock = lock(global, &store, command)?;
        recover(global, &store)?;
        let config = if created {
            FileConfig::parse(config::DEFAULT_TEXT, config::FILE_NAME)?
        } else {
            load_config(&store)?
        };
        Ok((
            Repo {
                store,
                config,
                created,
            },
            lock,
        ))
    }
}

/// Takes the repository lock for `command`, saying so when it took over the lock of a process
/// that is gone.
pub fn lock(global: &Global, store: &Store, command: &str) -> Result<RepoLock, Error> {
    let lock = store.lock(command)?;
    if let Some(notice) = lock.notice() {
        global.say(format!("notice: {notice}"));
    }
    Ok(lock)
}

/// Finishes a snapshot checkout that a killed run left half done, saying what it did.
pub fn recover(global: &Global, store: &Store) -> Result<(), Error> {
    if let Some(done) = store.recover_interrupted()? {
        let kept = if done.kept > 0 {
            format!(
                "; {} files hold edits of yours and were left alone",
                done.kept
            )
        } else {
            String::new()
        };
        global.say(format!(
            "notice: finished a snapshot that was interrupted: {} of its files brought back to HEAD{kept}",
            done.restored
        ));
    }
    Ok(())
}

fn load_config(store: &Store) -> Result<FileConfig, Error> {
    match store.read_file(config::FILE_NAME)? {
        Some(text) => FileConfig::parse(&text, config::FILE_NAME),
        None => Ok(FileConfig::default()),
    }
}

/// A Graph client from the process environment and the repository's `[graph]` settings.
pub fn graph_client(config: &FileConfig) -> Result<GraphClient, Error> {
    let g = &config.graph;
    let file = GraphFileSettings {
        graph_url: g.url.clone(),
        authority_host: g.authority_host.clone(),
        tenant_id: g.tenant_id.clone(),
        client_id: g.client_id.clone(),
        concurrency: g.concurrency,
        cloud: g.cloud.clone(),
    };
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut settings = graph::resolve_settings(&env, &file)?;
    if let Some(n) = g.max_retries {
        settings.max_retries = n;
    }
    Ok(GraphClient::new(settings)?)
}
