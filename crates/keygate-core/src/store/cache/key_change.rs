//! The change notice instances send each other, and its text form.

use crate::key::{KeyDigest, KeyId, KeyRecord};
use crate::secret::PepperId;

/// A notice that a key changed (revoked, rotated), as sent between instances.
///
/// Its text form is `v1 <key id>` or `v1 <key id> <pepper id>:<64 hex digits>`: the id and
/// the digest under which caches index the key. A digest is an HMAC of the key, not the
/// key, and cannot be turned back into it without the pepper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    /// The key that changed.
    pub id: KeyId,
    /// Its digest, when known.
    pub digest: Option<KeyDigest>,
}

/// The longest [`KeyChange`] text accepted.
const MAX_CHANGE_LEN: usize = 512;

impl KeyChange {
    /// The notice for `record`.
    pub fn of(record: &KeyRecord) -> Self {
        Self {
            id: record.id.clone(),
            digest: Some(record.digest),
        }
    }

    /// The text form, to publish.
    pub fn to_message(&self) -> String {
        let mut text = format!("v1 {}", self.id);
        if let Some(digest) = &self.digest {
            text.push(' ');
            text.push_str(digest.pepper.as_str());
            text.push(':');
            for byte in digest.bytes {
                text.push_str(&format!("{byte:02x}"));
            }
        }
        text
    }

    /// Reads a text form; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() > MAX_CHANGE_LEN {
            return None;
        }
        let mut parts = text.split(' ');
        if parts.next()? != "v1" {
            return None;
        }
        let id = parts.next().filter(|id| !id.is_empty())?;
        let digest = match parts.next() {
            None => None,
            Some(digest) => {
                let (pepper, hex) = digest.split_once(':')?;
                Some(KeyDigest {
                    pepper: PepperId::parse(pepper)?,
                    bytes: parse_hex32(hex)?,
                })
            }
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            id: KeyId::new(id),
            digest,
        })
    }
}

fn parse_hex32(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (slot, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *slot = u8::from_str_radix(text, 16).ok()?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::cache::fixtures::record;

    #[test]
    fn key_change_messages_round_trip_and_reject_garbage() {
        let key = record("i");
        let change = KeyChange::of(&key);
        let text = change.to_message();
        assert!(text.starts_with(&format!("v1 {} ", key.id)));
        assert_eq!(KeyChange::parse(&text), Some(change));
        let bare = KeyChange {
            id: key.id.clone(),
            digest: None,
        };
        assert_eq!(KeyChange::parse(&bare.to_message()), Some(bare));
        for bad in [
            "",
            "v1",
            "v1 ",
            "v2 key_x",
            "v1 key_x 0011:ff",
            "v1 key_x zzzzzzzz:00",
            &format!("{text} extra"),
            &"v1 ".repeat(300),
        ] {
            assert_eq!(KeyChange::parse(bad), None, "{bad:?}");
        }
    }
}
