//! Contained children (an application's `federatedIdentityCredentials`) read per object through
//! `$batch`, for the reads that cannot `$expand` them: delta rounds carry no children, so an
//! initial round reads them for every object and an incremental one for the objects it changed.
//! Full and by-id reads get them with the object (`read: expand`).

use serde_json::Value;

use super::{read_error, read_links_where, ReadError};
use crate::graph::{GraphClient, GraphError};
use crate::model::Object;
use crate::normalize::canonical_children;
use crate::schema::{ChildSpec, KindSpec};

/// Objects whose children are read in one round of `$batch` calls.
const ROUND_OBJECTS: usize = 1000;

/// What a delta round does not carry, read for `objects`: the links delta does not track and
/// the contained children. Objects found gone are removed; their ids are returned.
pub async fn read_untracked(
    client: &GraphClient,
    kind: &'static KindSpec,
    objects: &mut Vec<Object>,
) -> Result<Vec<String>, ReadError> {
    let mut gone = read_links_where(client, kind, objects, &|l| !l.delta).await?;
    gone.extend(read_children(client, kind, objects, &|_| true).await?);
    Ok(gone)
}

/// Fills the contained collections `which` picks of `objects` with what Graph lists now. An
/// object whose children read answers 404 (deleted since) is removed and its id returned.
pub async fn read_children(
    client: &GraphClient,
    kind: &'static KindSpec,
    objects: &mut Vec<Object>,
    which: &(dyn Fn(&ChildSpec) -> bool + Sync),
) -> Result<Vec<String>, ReadError> {
    let mut gone = Vec::new();
    let wanted: Vec<&ChildSpec> = kind.children.iter().filter(|c| which(c)).collect();
    if wanted.is_empty() {
        return Ok(gone);
    }
    for round in objects.chunks_mut(ROUND_OBJECTS) {
        let paths: Vec<String> = round
            .iter()
            .flat_map(|o| {
                wanted
                    .iter()
                    .map(move |c| format!("{}/{}/{}", kind.path, o.id, c.path))
            })
            .collect();
        let results = client
            .batch_get_each(&paths, &GraphError::is_resource_not_found)
            .await
            .map_err(|e| read_error(kind, e))?;
        let mut results = results.into_iter();
        for object in round.iter_mut() {
            for child in &wanted {
                match results
                    .next()
                    .expect("batch_get_each answers every path it is given")
                {
                    Ok(items) => {
                        let value = canonical_children(kind, child, &Value::Array(items));
                        object.props.insert(child.name.clone(), value);
                    }
                    Err(_) => gone.push(object.id.clone()),
                }
            }
        }
    }
    gone.dedup();
    if !gone.is_empty() {
        objects.retain(|o| !gone.contains(&o.id));
    }
    Ok(gone)
}
