//! What a delta round reports, as plain data: per object its properties, how it left the
//! tenant, the link ends added and removed, and the token of the next round. `delta` fills it
//! from Graph's pages; `incremental` lays it over the last snapshot's objects.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::frozen::Frozen;
use crate::model::Object;

/// Where the next round of a kind starts, and what it was taken for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeltaToken {
    /// The deltaLink Graph gave at the end of the last round.
    pub link: String,
    /// A hash of the query the chain started with (its `$select`): a kind that gained a property
    /// needs a new initial round.
    pub query: String,
    /// When the chain's initial round ran (RFC 3339), for `[snapshot] full-every`.
    pub since: String,
}

/// How an object left the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    /// Soft-deleted: in the recycle bin (`@removed: {"reason": "changed"}`).
    Changed,
    /// Deleted for good (`"deleted"`).
    Deleted,
}

/// Ends added to and removed from one link in a round (the last word on an end counts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkDelta {
    pub added: BTreeSet<String>,
    pub removed: BTreeSet<String>,
}

impl LinkDelta {
    pub(super) fn add(&mut self, id: String) {
        self.removed.remove(&id);
        self.added.insert(id);
    }

    pub(super) fn remove(&mut self, id: String) {
        self.added.remove(&id);
        self.removed.insert(id);
    }
}

/// Everything a round said about one object.
#[derive(Debug, Clone, Default)]
pub struct ObjectDelta {
    /// Properties as Graph sent them (`@odata.type` included), later pages winning; in an
    /// initial round they are folded into `whole` as each page arrives.
    pub props: Map<String, Value>,
    /// Initial rounds: the object normalized from its properties (links not yet laid over), so
    /// that raw pages never pile up for the whole tenant.
    pub whole: Option<Object>,
    /// Initial rounds that freeze: `whole` as the text of its properties.
    pub frozen: Option<Frozen>,
    /// The object left the tenant (the last word of the round counts).
    pub removed: Option<Removed>,
    pub links: BTreeMap<String, LinkDelta>,
}

/// A kind's round.
#[derive(Debug, Clone)]
pub struct Round {
    pub objects: BTreeMap<String, ObjectDelta>,
    pub token: DeltaToken,
}
