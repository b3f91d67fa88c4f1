//! Microsoft Graph client: authentication, paging, `$batch`, retries and typed errors.
//! (Being written; see the interface notes in the task for this module.)

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("{0}")]
    Other(String),
}

impl GraphError {
    pub fn hint(&self) -> Option<String> {
        None
    }
}
