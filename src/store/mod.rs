//! The git store: snapshots as trees and commits, read back from any revision or the worktree.
//! (Being written.)

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Other(String),
}

impl StoreError {
    pub fn hint(&self) -> Option<String> {
        None
    }
}
