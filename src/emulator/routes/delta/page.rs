//! One page of a delta round: the objects after the cursor, each shaped as Graph's delta
//! returns it (selected properties without the never-set ones, `@removed`, `{link}@delta`
//! arrays), a bounded number of objects and of relationship entries per page, a group with more
//! members than fit repeated on the next page with the next slice
//! (concepts/delta-query-groups.md @b7c64905, "Paging through members in a large group").

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use serde_json::{json, Map, Value};

use super::changes::{collect, current_links, recycled, Change, LinkEntry, Tracking};
use super::token::{Cursor, State};
use crate::emulator::config::DeltaConfig;
use crate::emulator::model::model;
use crate::emulator::state::{Render, Tenant};

/// An object as one page shows it: its head (id and properties, or `@removed`) and the
/// relationship entries still to show.
struct Item<'a> {
    head: Map<String, Value>,
    links: Vec<LinkEntry<'a>>,
}

/// What a page holds and where the round goes on.
pub(crate) struct Page {
    pub items: Vec<Value>,
    /// Where the next page starts; `None` = the round is complete.
    pub next: Option<Cursor>,
}

fn removed(id: &str, reason: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), Value::String(id.to_string()));
    m.insert("@removed".into(), json!({ "reason": reason }));
    m
}

/// An object's selected properties, never-set ones left out unless `keep` names them (a
/// property a round saw set to null is reported as null).
fn shaped(
    t: &Tenant,
    slot: u32,
    sel: Option<&[String]>,
    keep: &BTreeSet<String>,
) -> Map<String, Value> {
    let opts = Render {
        omit_null: keep.is_empty(),
        ..Render::default()
    };
    let mut head = t.render(slot, sel, opts);
    head.retain(|k, v| !v.is_null() || keep.contains(k));
    head
}

/// How one page request reads the tenant.
struct Reader<'a> {
    t: &'a Tenant,
    state: &'a State,
    minimal: bool,
    recycled: Option<HashMap<(u32, usize), Vec<u32>>>,
}

impl<'a> Reader<'a> {
    fn held(&mut self) -> &HashMap<(u32, usize), Vec<u32>> {
        let (t, k) = (self.t, self.state.k as usize);
        self.recycled.get_or_insert_with(|| recycled(t, k))
    }

    /// A live object in full: every selected property and every relationship entry.
    fn whole(&mut self, slot: u32) -> Item<'a> {
        let (t, state) = (self.t, self.state);
        let links = if state.links.is_empty() {
            Vec::new()
        } else {
            current_links(t, slot, &state.links, self.held())
        };
        Item {
            head: shaped(t, slot, state.sel.as_deref(), &BTreeSet::new()),
            links,
        }
    }

    /// An object of a later round as it is now.
    fn changed(&mut self, id: &str, ch: Change<'a>) -> Item<'a> {
        let t = self.t;
        let Some(slot) = t.slot(id) else {
            return Item {
                head: removed(id, "deleted"),
                links: Vec::new(),
            };
        };
        if !t.is_live(slot) {
            return Item {
                head: removed(id, "changed"),
                links: Vec::new(),
            };
        }
        if ch.whole {
            return self.whole(slot);
        }
        let head = if self.minimal {
            let names: Vec<String> = ch.props.iter().cloned().collect();
            t.render(slot, Some(&names), Render::default())
        } else {
            shaped(t, slot, self.state.sel.as_deref(), &ch.props)
        };
        Item {
            head,
            links: ch.links,
        }
    }
}

/// Adds `{link}@delta` arrays for `entries` to an object's head.
fn with_links(mut head: Map<String, Value>, kind: usize, entries: &[LinkEntry]) -> Value {
    let coll = &model().collections[kind];
    for e in entries {
        let name = format!("{}@delta", coll.links[e.link as usize].name);
        let mut v = Map::new();
        v.insert("@odata.type".into(), Value::String(e.ty.to_string()));
        v.insert("id".into(), Value::String(e.id.to_string()));
        if e.removed {
            v.insert("@removed".into(), json!({"reason": "deleted"}));
        }
        let arr = head.entry(name).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(a) = arr {
            a.push(Value::Object(v));
        }
    }
    Value::Object(head)
}

/// Where an object of the page comes from.
enum Source<'a> {
    /// A live object of the initial round.
    Live(u32),
    /// An object a later round reports.
    Changed(Change<'a>),
}

impl<'a> Reader<'a> {
    fn item(&mut self, id: &str, source: Source<'a>) -> Item<'a> {
        match source {
            Source::Live(slot) => self.whole(slot),
            Source::Changed(ch) => self.changed(id, ch),
        }
    }
}

/// The objects from the cursor on (at most `want`): live ones in the initial round, changed ones
/// in a later round, by id.
fn walk<'a>(t: &'a Tenant, state: &State, want: usize) -> Vec<(String, Source<'a>)> {
    let kind = state.k as usize;
    let lower = match &state.at {
        Some(Cursor::Within(id, _, _)) => Bound::Included(id.clone()),
        Some(Cursor::After(id)) => Bound::Excluded(id.clone()),
        None => Bound::Unbounded,
    };
    let Some(since) = state.since else {
        let live = t.live(kind);
        return match &state.ids {
            Some(ids) => ids
                .iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .filter(|id| in_range(id, &lower))
                .filter_map(|id| live.get(id).map(|s| (id.clone(), Source::Live(*s))))
                .take(want)
                .collect(),
            None => live
                .range::<String, _>((lower, Bound::Unbounded))
                .take(want)
                .map(|(id, s)| (id.clone(), Source::Live(*s)))
                .collect(),
        };
    };
    let tr = Tracking {
        kind,
        sel: state.sel.as_deref(),
        links: &state.links,
    };
    collect(t, &tr, since, state.upto)
        .into_iter()
        .filter(|(id, _)| in_range(id, &lower))
        .filter(|(id, _)| state.ids.as_ref().is_none_or(|ids| ids.contains(id)))
        .take(want)
        .map(|(id, ch)| (id, Source::Changed(ch)))
        .collect()
}

fn in_range(id: &str, lower: &Bound<String>) -> bool {
    match lower {
        Bound::Included(l) => id >= l.as_str(),
        Bound::Excluded(l) => id > l.as_str(),
        Bound::Unbounded => true,
    }
}

/// Builds the page that starts at `state.at`, within the object and entry limits.
pub(crate) fn build(t: &Tenant, state: &State, minimal: bool, limits: &DeltaConfig) -> Page {
    let kind = state.k as usize;
    let max_objects = limits.page_objects.max(1);
    let max_links = limits.page_links.max(1);
    let mut reader = Reader {
        t,
        state,
        // `Prefer: return=minimal` shapes later rounds only (user-delta.md @3bd18aec).
        minimal: minimal && state.since.is_some(),
        recycled: None,
    };
    let mut out: Vec<Value> = Vec::new();
    let mut used = 0usize;
    let mut last_done: Option<String> = None;
    for (id, source) in walk(t, state, max_objects + 1) {
        if out.len() == max_objects {
            let done = last_done.expect("a full page has a finished object");
            return Page {
                items: out,
                next: Some(Cursor::After(done)),
            };
        }
        let item = reader.item(&id, source);
        // Entries earlier pages showed of this object.
        let entries: Vec<LinkEntry> = match &state.at {
            Some(Cursor::Within(at, link, target)) if *at == id => item
                .links
                .into_iter()
                .filter(|e| e.key() > (*link, target.as_str()))
                .collect(),
            _ => item.links,
        };
        if entries.is_empty() {
            out.push(Value::Object(item.head));
            last_done = Some(id);
            continue;
        }
        let room = max_links - used;
        if room == 0 {
            let done = last_done.expect("entries were laid, so an object finished");
            return Page {
                items: out,
                next: Some(Cursor::After(done)),
            };
        }
        let take = room.min(entries.len());
        out.push(with_links(item.head, kind, &entries[..take]));
        used += take;
        if take < entries.len() {
            let last = &entries[take - 1];
            return Page {
                items: out,
                next: Some(Cursor::Within(id, last.link, last.id.to_string())),
            };
        }
        last_done = Some(id);
    }
    Page {
        items: out,
        next: None,
    }
}
