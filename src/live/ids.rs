//! Object ids as keys of maps looked up once per link end, over a million times for a large
//! tenant. A `String` key lives in its own allocation, and comparing it costs a cache miss
//! for every lookup. Directory object ids are GUIDs, so they are kept as 128-bit numbers in the
//! table itself. Any other id, or a GUID not in the lowercase form Graph writes, keeps its text.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The number of a GUID in Graph's form (lowercase, with dashes); `None` for any other id.
/// [`guid_text`] gives the same text back.
pub fn guid_key(id: &str) -> Option<u128> {
    let b = id.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut key: u128 = 0;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        key = key << 4 | u128::from(digit);
    }
    Some(key)
}

/// The text of a GUID number, as Graph writes it.
pub fn guid_text(key: u128) -> String {
    let hex = format!("{key:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Hashes GUID numbers by mixing their two halves (GUIDs are mostly random already).
#[derive(Default)]
pub struct GuidHasher(u64);

impl Hasher for GuidHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 =
                (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = ((v as u64) ^ (v >> 64) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A map by object id.
#[derive(Debug)]
pub struct IdMap<V> {
    guids: HashMap<u128, V, BuildHasherDefault<GuidHasher>>,
    others: HashMap<String, V>,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap {
            guids: HashMap::default(),
            others: HashMap::new(),
        }
    }
}

impl<V> IdMap<V> {
    pub fn insert(&mut self, id: &str, value: V) {
        match guid_key(id) {
            Some(k) => {
                self.guids.insert(k, value);
            }
            None => {
                self.others.insert(id.to_string(), value);
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<&V> {
        match guid_key(id) {
            Some(k) => self.guids.get(&k),
            None => self.others.get(id),
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    pub fn len(&self) -> usize {
        self.guids.len() + self.others.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every id, as text.
    pub fn ids(&self) -> impl Iterator<Item = String> + '_ {
        let guids = self.guids.keys().map(|k| guid_text(*k));
        guids.chain(self.others.keys().cloned())
    }
}

/// A set of object ids.
pub type IdSet = IdMap<()>;

impl IdSet {
    pub fn add(&mut self, id: &str) {
        self.insert(id, ());
    }
}

impl<'a> Extend<&'a String> for IdSet {
    fn extend<I: IntoIterator<Item = &'a String>>(&mut self, ids: I) {
        for id in ids {
            self.add(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_in_graphs_form_round_trip_and_other_ids_keep_their_text() {
        let id = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";
        assert_eq!(guid_text(guid_key(id).unwrap()), id);
        assert_eq!(guid_text(0), "00000000-0000-0000-0000-000000000000");
        for other in [
            "0A1B2C3D-4E5F-6789-ABCD-EF0123456789",
            "0a1b2c3d4e5f6789abcdef0123456789",
            "0a1b2c3d-4e5f-6789-abcd-ef012345678",
            "0a1b2c3d-4e5f-6789-abcd_ef0123456789",
            "0a1b2c3d-4e5f-6789-abcd-ef012345678g",
            "u1",
            "",
        ] {
            assert_eq!(guid_key(other), None, "{other}");
        }
        let mut set = IdSet::default();
        for id in [id, "u1", "0A1B2C3D-4E5F-6789-ABCD-EF0123456789", id] {
            set.add(id);
        }
        assert_eq!(set.len(), 3);
        assert!(set.contains("u1") && set.contains(id));
        assert!(!set.contains("u2"));
        assert!(!set.contains("0a1b2c3d-4e5f-6789-abcd-ef0123456788"));
        let mut ids: Vec<String> = set.ids().collect();
        ids.sort();
        assert_eq!(
            ids,
            [
                "0A1B2C3D-4E5F-6789-ABCD-EF0123456789",
                "0a1b2c3d-4e5f-6789-abcd-ef0123456789",
                "u1"
            ]
        );
        let mut map = IdMap::default();
        map.insert(id, 1);
        map.insert(id, 2);
        map.insert("x", 3);
        assert_eq!(
            (map.get(id), map.get("x"), map.get("y")),
            (Some(&2), Some(&3), None)
        );
    }
}
