//! Delta state tokens: what a `$skiptoken` or `$deltatoken` carries (collection, selection,
//! round, position, age), sealed with this emulator's key so that a client can neither read nor
//! forge it — Graph's tokens are opaque (concepts/delta-query-overview.md @1c6fb603, "State
//! tokens"). The seal is SHA-256 in counter mode for secrecy and HMAC-SHA-256 for integrity:
//! enough to keep a test client honest, not a security boundary.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Where a round stopped: after every object up to an id, or inside one object whose
/// relationship entries span pages (after entry `(link, target id)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Cursor {
    After(String),
    Within(String, u8, String),
}

/// Everything a delta request needs besides the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct State {
    /// A `$deltatoken` (true) or a `$skiptoken`.
    pub d: bool,
    /// Collection index in the model.
    pub k: u16,
    /// Selected properties in Graph's spelling; `None` = the default set.
    pub sel: Option<Vec<String>>,
    /// Tracked relationships (link indexes of the collection).
    pub links: Vec<u8>,
    /// `$filter=id eq …` ids.
    pub ids: Option<Vec<String>>,
    /// The first request's query options, for the `Location` of a resync answer.
    pub q: String,
    /// Changes after this sequence number; `None` = the initial round (every object).
    pub since: Option<u64>,
    /// The round reports changes up to this sequence number (taken when the round began).
    pub upto: u64,
    pub at: Option<Cursor>,
    /// When the token was issued, milliseconds since the Unix epoch.
    pub born: i64,
    /// Tokens of an epoch before the current one have expired.
    pub epoch: u64,
}

const NONCE: usize = 16;
const TAG: usize = 16;

/// Two keys from one: one to hide the text, one to sign it.
fn subkey(key: &[u8; 32], purpose: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(purpose);
    h.update(key);
    h.finalize().into()
}

fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut pad = [0u8; 64];
    pad[..32].copy_from_slice(key);
    let mut inner = Sha256::new();
    inner.update(pad.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let mut outer = Sha256::new();
    outer.update(pad.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// XORs `data` with the keystream of (`key`, `nonce`).
fn crypt(key: &[u8; 32], nonce: &[u8], data: &mut [u8]) {
    for (i, chunk) in data.chunks_mut(32).enumerate() {
        let mut h = Sha256::new();
        h.update(key);
        h.update(nonce);
        h.update((i as u64).to_le_bytes());
        let block = h.finalize();
        for (b, k) in chunk.iter_mut().zip(block.iter()) {
            *b ^= k;
        }
    }
}

/// The token text for a state.
pub(crate) fn seal(key: &[u8; 32], state: &State) -> String {
    let mut data = serde_json::to_vec(state).expect("a delta state always serializes");
    let nonce = *uuid::Uuid::new_v4().as_bytes();
    crypt(&subkey(key, b"enc"), &nonce, &mut data);
    let tag = hmac(&subkey(key, b"mac"), &[&nonce, &data]);
    let mut out = Vec::with_capacity(NONCE + data.len() + TAG);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&data);
    out.extend_from_slice(&tag[..TAG]);
    URL_SAFE_NO_PAD.encode(out)
}

/// The state a token was sealed from; `None` for anything this emulator did not issue.
pub(crate) fn open(key: &[u8; 32], token: &str) -> Option<State> {
    let raw = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    if raw.len() < NONCE + TAG {
        return None;
    }
    let (nonce, rest) = raw.split_at(NONCE);
    let (data, tag) = rest.split_at(rest.len() - TAG);
    let want = hmac(&subkey(key, b"mac"), &[nonce, data]);
    if want[..TAG] != *tag {
        return None;
    }
    let mut data = data.to_vec();
    crypt(&subkey(key, b"enc"), nonce, &mut data);
    serde_json::from_slice(&data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            d: false,
            k: 0,
            sel: Some(vec!["displayName".into()]),
            links: vec![0],
            ids: None,
            q: "$select=displayName,manager".into(),
            since: Some(41),
            upto: 57,
            at: Some(Cursor::Within("u-1".into(), 0, "m-9".into())),
            born: 1_700_000_000_000,
            epoch: 0,
        }
    }

    #[test]
    fn sealed_tokens_open_only_with_their_key_and_untouched() {
        let key = [7u8; 32];
        let s = state();
        let t = seal(&key, &s);
        assert_eq!(open(&key, &t), Some(s.clone()));
        // The same state seals differently each time, and reveals nothing of itself.
        assert_ne!(seal(&key, &s), t);
        let raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(
            !text.contains("displayName") && !text.contains("u-1"),
            "{text}"
        );
        // Any flipped byte, another key or garbage: not ours.
        for i in [0, NONCE + 3, raw.len() - 1] {
            let mut bad = raw.clone();
            bad[i] ^= 1;
            assert_eq!(open(&key, &URL_SAFE_NO_PAD.encode(bad)), None, "byte {i}");
        }
        assert_eq!(open(&[8u8; 32], &t), None);
        assert_eq!(open(&key, "garbage"), None);
        assert_eq!(open(&key, ""), None);
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2_shape() {
        // RFC 4231 test case 2 uses a 4-byte key; padded to 32 bytes with zeros it is the same
        // HMAC key (keys shorter than the block are zero-padded).
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let mac = hmac(&key, &[b"what do ya want ", b"for nothing?"]);
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
