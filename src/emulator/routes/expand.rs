//! `$expand` on lists and single objects: a reference (`manager`, `owners`, `members`) or a
//! contained collection (`federatedIdentityCredentials`), several separated by commas, each
//! with an optional nested `$select` (`owners($select=id,displayName)`). Expanded references are
//! directory objects with their `@odata.type`, at most `limits.expandedItems` of them and no
//! nextLink, as Graph returns them (concepts/query-parameters.md, facts.yaml `limits`).

use serde_json::{Map, Value};

use super::reply::{unsupported_expand, Ctx, Reply};
use super::select::{directory_types, resolve_select};
use crate::emulator::model::model;
use crate::emulator::state::{render_child, Render, Tenant};

/// What one `$expand` item names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A reference link of the collection, by index.
    Link(usize),
    /// A contained collection, by index.
    Child(usize),
}

/// One relationship to return inside each object.
#[derive(Debug, Clone)]
pub(crate) struct Expand {
    pub target: Target,
    /// Graph's spelling of the relationship.
    pub name: String,
    pub select: Option<Vec<String>>,
}

/// Splits at commas outside parentheses: `owners($select=id,displayName),manager`.
fn split_top(raw: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in raw.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(raw[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(raw[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

/// Parses `$expand` for objects of collection `kind`.
pub(crate) fn parse_expand(
    ctx: &Ctx,
    kind: usize,
    raw: Option<&str>,
) -> Result<Vec<Expand>, Reply> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(Vec::new());
    };
    let coll = &model().collections[kind];
    let unsupported = || unsupported_expand(ctx, raw);
    let mut out: Vec<Expand> = Vec::new();
    for item in split_top(raw) {
        let (name, options) = match item.split_once('(') {
            Some((n, rest)) => (n.trim(), rest.strip_suffix(')')),
            None => (item, Some("")),
        };
        let Some(options) = options else {
            return Err(unsupported());
        };
        let (target, canonical) = match (coll.link(name), coll.child(name)) {
            (Some(l), _) => (Target::Link(l), coll.links[l].name.clone()),
            (None, Some(c)) => (Target::Child(c), coll.children[c].name.clone()),
            (None, None) => return Err(unsupported()),
        };
        let mut select = None;
        for opt in options.split(';').map(str::trim).filter(|o| !o.is_empty()) {
            match opt.split_once('=') {
                Some((k, v))
                    if k.trim()
                        .trim_start_matches('$')
                        .eq_ignore_ascii_case("select") =>
                {
                    select = Some(v.split(',').map(|s| s.trim().to_string()).collect());
                }
                _ => return Err(unsupported()),
            }
        }
        if out.iter().any(|x| x.target == target) {
            return Err(unsupported());
        }
        out.push(Expand {
            target,
            name: canonical,
            select,
        });
    }
    Ok(out)
}

const DIRECTORY: Render = Render {
    odata_type: true,
    keep_key: false,
    omit_null: false,
};

/// Adds the expanded relationships to a rendered object.
pub(crate) fn add_expanded(
    ctx: &Ctx,
    t: &Tenant,
    slot: u32,
    expands: &[Expand],
    out: &mut Map<String, Value>,
) -> Result<(), Reply> {
    let Some(entry) = t.entry(slot) else {
        return Ok(());
    };
    let limit = model().limits.expanded_items;
    for x in expands {
        match x.target {
            Target::Link(li) => {
                let select = match &x.select {
                    Some(s) => Some(resolve_select(
                        ctx,
                        t,
                        s,
                        &directory_types(),
                        "microsoft.graph.directoryObject",
                    )?),
                    None => None,
                };
                let mut targets = entry.links[li].iter().copied().filter(|s| t.is_live(*s));
                if entry.collection().links[li].single {
                    if let Some(target) = targets.next() {
                        let r = t.render(target, select.as_deref(), DIRECTORY);
                        out.insert(x.name.clone(), Value::Object(r));
                    }
                } else {
                    let items = targets
                        .take(limit)
                        .map(|s| Value::Object(t.render(s, select.as_deref(), DIRECTORY)))
                        .collect();
                    out.insert(x.name.clone(), Value::Array(items));
                }
            }
            Target::Child(ci) => {
                let items = entry
                    .children(ci)
                    .iter()
                    .map(|c| {
                        let full = render_child(c);
                        Value::Object(match &x.select {
                            Some(names) => full
                                .into_iter()
                                .filter(|(k, _)| {
                                    k == "id"
                                        || k == "@odata.type"
                                        || names.iter().any(|n| n.eq_ignore_ascii_case(k))
                                })
                                .collect(),
                            None => full,
                        })
                    })
                    .collect();
                out.insert(x.name.clone(), Value::Array(items));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_top;

    #[test]
    fn expand_items_split_outside_parentheses() {
        assert_eq!(
            split_top("owners($select=id,displayName), federatedIdentityCredentials"),
            [
                "owners($select=id,displayName)",
                "federatedIdentityCredentials"
            ]
        );
        assert_eq!(split_top("manager"), ["manager"]);
        assert!(split_top(" ").is_empty());
    }
}
