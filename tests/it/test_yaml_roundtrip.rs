//! Property test of the object file format: arbitrary Unicode strings, weighted towards the
//! characters YAML readers treat specially, in every managed property (and as map keys) and in
//! every link display name and reference name of objects of every kind. Each object is emitted
//! with `yaml::emit_object` and must read back equal in tenantgit (`yaml::parse_object`, display
//! names included, and re-emitted to the same bytes) and in PyYAML (the document equals the
//! object's JSON, links as id lists). A seeded generator keeps runs reproducible; set
//! `YAML_ROUNDTRIP_SEED` to explore other cases.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};
use tenantgit::model::{LinkRef, Object};
use tenantgit::schema::{self, KindSpec};
use tenantgit::yaml;

use crate::common::pyyaml;

const CASES: usize = 2000;

/// SplitMix64: tiny, seedable, good enough to spread cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Characters some YAML reader rejects, folds, or takes for syntax.
#[rustfmt::skip]
const TROUBLE: &[char] = &[
    '\0', '\u{1}', '\u{8}', '\t', '\n', '\u{b}', '\u{c}', '\r', '\u{1b}', '\u{1f}', '\u{7f}',
    '\u{80}', '\u{85}', '\u{92}', '\u{9f}', '\u{a0}', '\u{2028}', '\u{2029}', '\u{feff}',
    '\u{fffe}', '\u{ffff}', '\u{fffd}', '\u{d7ff}', '\u{e000}', '\u{10000}', '\u{1f600}',
    '\u{10ffff}', '"', '\'', '\\', '#', '%', '&', '*', '!', '|', '>', '<', '@', '`', '{', '}',
    '[', ']', ',', '?', ':', '-', '=', '~', ' ',
];

/// Whole words and pieces that YAML 1.1 or 1.2 resolve to something other than a string, or
/// that look like syntax.
#[rustfmt::skip]
const FRAGMENTS: &[&str] = &[
    "yes", "No", "on", "OFF", "y", "n", "null", "Null", "~", "true", "False", "1_000", "0x1F",
    "0o17", "017", "1e3", "1.5", ".inf", "-.Inf", ".NaN", "-1", "+1", "12:30", "190:20:30",
    "2024-01-01", "2024-01-01T10:00:00Z", "a: b", " #", "# ", "- ", "? ", "---", "...", "<<",
    "  ", "\r\n", "\\N", "\\u0041", "\\x92", "\"q\"", "'q'", "Zoë", "日本語", "👍🏽",
    "Alice Smith", "alice@contoso.com", "12345678-1234-1234-1234-123456789012",
];

fn random_char(rng: &mut Rng) -> char {
    loop {
        let code = match rng.below(10) {
            0..=3 => return *rng.pick(TROUBLE),
            4..=5 => 0x20 + rng.below(0x5f) as u32,
            6 => rng.below(0x100) as u32,
            7 => 0x2000 + rng.below(0x70) as u32,
            8 => rng.below(0x10000) as u32,
            _ => 0x10000 + rng.below(0x100000) as u32,
        };
        if let Some(c) = char::from_u32(code) {
            return c;
        }
    }
}

fn random_string(rng: &mut Rng) -> String {
    if rng.below(1000) < 3 {
        // Past the 1024 characters within which a reader looks for the `:` of a simple key.
        let piece = short_string(rng) + "x";
        return piece.repeat(1100 / piece.chars().count() + 1);
    }
    short_string(rng)
}

fn short_string(rng: &mut Rng) -> String {
    let mut s = String::new();
    if rng.chance(10) {
        s.push(' ');
    }
    for _ in 0..rng.below(7) {
        if rng.chance(30) {
            let fragment: &&str = rng.pick(FRAGMENTS);
            s.push_str(fragment);
        } else {
            for _ in 0..=rng.below(3) {
                s.push(random_char(rng));
            }
        }
    }
    if rng.chance(10) {
        s.push(' ');
    }
    s
}

fn random_guid(rng: &mut Rng) -> String {
    let hex = format!("{:016x}{:016x}", rng.next(), rng.next());
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Mostly a string; sometimes a list of strings or a map with arbitrary keys, so that keys and
/// nested scalars go through the emitter too.
fn random_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(10) {
        0 if depth < 2 => (0..rng.below(4))
            .map(|_| random_value(rng, depth + 1))
            .collect(),
        1 if depth < 2 => {
            let mut map = Map::new();
            for _ in 0..rng.below(4) {
                map.insert(random_string(rng), random_value(rng, depth + 1));
            }
            Value::Object(map)
        }
        _ => Value::String(random_string(rng)),
    }
}

fn random_object(rng: &mut Rng, kind: &'static KindSpec) -> Object {
    let id = random_guid(rng);
    let mut props = Map::new();
    props.insert("id".into(), Value::String(id.clone()));
    let odata_type = if kind.has_variants() {
        let variants: Vec<&String> = kind.variants.keys().collect();
        let t = rng.pick(&variants).to_string();
        props.insert("@odata.type".into(), Value::String(t.clone()));
        Some(t)
    } else {
        None
    };
    for p in kind.managed_for(odata_type.as_deref()) {
        props.insert(p.to_string(), random_value(rng, 0));
    }
    // A reference inside a property (a CA policy's authentication strength): its id, with the
    // target's name as a comment.
    let mut names = BTreeMap::new();
    for reference in &kind.references {
        if rng.chance(30) {
            continue;
        }
        let mut segs: Vec<&str> = reference.split('.').collect();
        let last = segs.pop().expect("a reference path has a name");
        let mut value = Value::Object(Map::from_iter([(
            "id".to_string(),
            Value::String(random_guid(rng)),
        )]));
        let mut holder = Map::from_iter([(last.to_string(), value)]);
        holder.insert(random_string(rng), random_value(rng, 1));
        for seg in segs.iter().skip(1).rev() {
            holder = Map::from_iter([(seg.to_string(), Value::Object(holder))]);
        }
        value = Value::Object(holder);
        props.insert(segs[0].to_string(), value);
        let name = random_string(rng);
        if !name.is_empty() {
            names.insert(reference.clone(), name);
        }
    }
    let mut links = BTreeMap::new();
    for link in &kind.links {
        let most = if link.single { 2 } else { 5 };
        let mut refs: Vec<LinkRef> = (0..rng.below(most))
            .map(|_| {
                let name = (!rng.chance(15)).then(|| random_string(rng));
                LinkRef::new(random_guid(rng), name)
            })
            .collect();
        refs.sort_by(|a, b| a.id.cmp(&b.id));
        links.insert(link.name.clone(), refs);
    }
    Object {
        kind: kind.into(),
        id,
        props,
        links,
        names,
    }
}

/// The file as JSON: properties, then every link as a list of ids.
fn as_json(object: &Object) -> Value {
    let mut map = object.props.clone();
    for link in &object.kind.links {
        let ids: Vec<Value> = object.link_ids(&link.name).map(|id| id.into()).collect();
        let value = if link.single {
            ids.into_iter().next().unwrap_or(Value::Null)
        } else {
            Value::Array(ids)
        };
        map.insert(link.name.clone(), value);
    }
    Value::Object(map)
}

/// Links as tenantgit should read them back: an empty display name is written as no comment.
fn expected_links(object: &Object) -> BTreeMap<String, Vec<LinkRef>> {
    let mut links = object.links.clone();
    for refs in links.values_mut() {
        for r in refs {
            r.display_name = r.display_name.take().filter(|n| !n.is_empty());
        }
    }
    links
}

/// YAML's printable set without tab, CR, U+0085, U+2028, U+2029 and U+FEFF.
fn is_plain_printable(c: char) -> bool {
    matches!(c, ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

#[test]
fn arbitrary_strings_read_back_in_tenantgit_and_pyyaml() {
    let seed = std::env::var("YAML_ROUNDTRIP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7e4a_4791_u64);
    let mut rng = Rng(seed);
    let kinds = schema::kinds();
    let objects: Vec<Object> = (0..CASES)
        .map(|i| random_object(&mut rng, &kinds[i % kinds.len()]))
        .collect();
    let texts: Vec<String> = objects.iter().map(yaml::emit_object).collect();

    for (i, (object, text)) in objects.iter().zip(&texts).enumerate() {
        let context = || format!("case {i} (seed {seed}), {}:\n{text}", object.kind.kind);
        // Only line feeds and characters every reader takes as they are, whatever tenantgit's
        // own reader would forgive.
        if let Some(c) = text.chars().find(|&c| c != '\n' && !is_plain_printable(c)) {
            panic!("raw {c:?} written in {}", context());
        }
        let parsed = yaml::parse_object(object.kind, Path::new("case.yaml"), text)
            .unwrap_or_else(|e| panic!("tenantgit cannot read its own file: {e}\n{}", context()));
        for (key, want) in &object.props {
            assert_eq!(
                parsed.props.get(key),
                Some(want),
                "property {key:?} differs in {}",
                context()
            );
        }
        assert_eq!(parsed.props.len(), object.props.len(), "{}", context());
        assert_eq!(
            parsed.links,
            expected_links(object),
            "links differ in {}",
            context()
        );
        assert_eq!(
            parsed.names,
            object.names,
            "reference names differ in {}",
            context()
        );
        assert_eq!(
            &yaml::emit_object(&parsed),
            text,
            "re-emitted bytes differ in {}",
            context()
        );
    }

    // The generator reaches what it is meant to: every special escape, quoted link comments,
    // and keys too long to be simple keys.
    for needle in [
        "\\N", "\\L", "\\P", "\\u0092", "\\u007f", "\\ufeff", "\\uffff", "\\u0000", "  # \"",
    ] {
        assert!(
            texts.iter().any(|t| t.contains(needle)),
            "no case writes {needle:?}"
        );
    }
    let explicit_keys = texts
        .iter()
        .flat_map(|t| t.lines())
        .filter(|l| l.trim_start().starts_with("? "))
        .count();
    assert!(explicit_keys > 0, "no case writes a long key");

    let Some(loaded) = pyyaml::load_all(&texts) else {
        return;
    };
    for (i, ((object, text), got)) in objects.iter().zip(&texts).zip(loaded).enumerate() {
        let context = || format!("case {i} (seed {seed}), {}:\n{text}", object.kind.kind);
        let got = got.unwrap_or_else(|e| panic!("PyYAML rejects {e}\n{}", context()));
        let want = as_json(object);
        if got != want {
            let (Value::Object(got), Value::Object(want)) = (&got, &want) else {
                panic!("PyYAML read {got} in {}", context());
            };
            for (key, value) in want {
                assert_eq!(
                    got.get(key),
                    Some(value),
                    "PyYAML reads property {key:?} differently in {}",
                    context()
                );
            }
            panic!("PyYAML reads other keys {:?} in {}", got.keys(), context());
        }
    }
}
