//! HMAC-SHA256 digests of API keys and the platform secret, under a rotating pepper.

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::secret::{Pepper, PepperId};

/// The stored form of a key: HMAC-SHA256 of the whole key text under the pepper named by
/// `pepper`. Not reversible without the pepper; `Debug` still shows only the pepper id.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyDigest {
    /// The pepper the digest was made with.
    pub pepper: PepperId,
    /// The 32-byte HMAC-SHA256 tag.
    pub bytes: [u8; 32],
}

impl KeyDigest {
    /// Compares two digests in constant time.
    pub fn ct_eq(&self, other: &KeyDigest) -> bool {
        self.pepper == other.pepper && bool::from(self.bytes.ct_eq(&other.bytes))
    }
}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyDigest")
            .field("pepper", &self.pepper)
            .finish_non_exhaustive()
    }
}

/// Hashes key material with the current pepper and, during a pepper rotation, the
/// previous ones. The keyed HMAC state is computed once and cloned per message.
///
/// ```
/// use keygate_core::{Pepper, key::KeyHasher};
///
/// let old = Pepper::from_bytes(vec![1; 32])?;
/// let new = Pepper::from_bytes(vec![2; 32])?;
/// let stored = KeyHasher::new(&old).digest("sk_live_…");
/// let hasher = KeyHasher::new(&new).with_previous(&old);
/// assert!(hasher.verify("sk_live_…", &stored));
/// assert_eq!(hasher.digests("sk_live_…").count(), 2);
/// # Ok::<(), keygate_core::PepperError>(())
/// ```
#[derive(Clone)]
pub struct KeyHasher {
    current: Keyed,
    previous: Arc<[Keyed]>,
}

#[derive(Clone)]
struct Keyed {
    id: PepperId,
    mac: Hmac<Sha256>,
}

impl Keyed {
    fn digest(&self, text: &str) -> KeyDigest {
        let mut mac = self.mac.clone();
        mac.update(text.as_bytes());
        KeyDigest {
            pepper: self.id,
            bytes: mac.finalize().into_bytes().into(),
        }
    }
}

impl KeyHasher {
    /// A hasher that writes and reads digests under `current`.
    pub fn new(current: &Pepper) -> Self {
        Self {
            current: Keyed {
                id: current.id(),
                mac: current.keyed_mac(),
            },
            previous: Arc::from([]),
        }
    }

    /// Also reads digests made under `previous` (a pepper being rotated out).
    pub fn with_previous(self, previous: &Pepper) -> Self {
        let mut list: Vec<Keyed> = self.previous.iter().cloned().collect();
        list.push(Keyed {
            id: previous.id(),
            mac: previous.keyed_mac(),
        });
        Self {
            current: self.current,
            previous: Arc::from(list),
        }
    }

    /// The id of the pepper new digests are made with.
    pub fn current_pepper(&self) -> PepperId {
        self.current.id
    }

    /// The digest of `text` under the current pepper: what to store.
    pub fn digest(&self, text: &str) -> KeyDigest {
        self.current.digest(text)
    }

    /// The digests of `text` under every known pepper, current first: what to look up.
    pub fn digests<'a>(&'a self, text: &'a str) -> impl Iterator<Item = KeyDigest> + 'a {
        std::iter::once(&self.current)
            .chain(self.previous.iter())
            .map(move |keyed| keyed.digest(text))
    }

    /// Whether `text` hashes to `expected` under the pepper `expected` names, compared in
    /// constant time. `false` when that pepper is unknown.
    pub fn verify(&self, text: &str, expected: &KeyDigest) -> bool {
        std::iter::once(&self.current)
            .chain(self.previous.iter())
            .find(|keyed| keyed.id == expected.pepper)
            .is_some_and(|keyed| keyed.digest(text).ct_eq(expected))
    }
}

impl fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyHasher")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self.previous.iter().map(|k| k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pepper(byte: u8) -> Pepper {
        Pepper::from_bytes(vec![byte; 32]).unwrap()
    }

    #[test]
    fn digest_is_hmac_sha256_of_the_key_under_the_pepper() {
        // Reference value: Python `hmac.new(b"\x01"*32, b"sk_live_x", sha256).hexdigest()`.
        let digest = KeyHasher::new(&pepper(1)).digest("sk_live_x");
        let hex: String = digest.bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, REFERENCE);
    }

    const REFERENCE: &str = "e6d3117f725b094848df1dd2a869efc938249bb325913aa97e52b47c7f8f636c";

    #[test]
    fn rotation_reads_old_digests_and_writes_new_ones() {
        let old = KeyHasher::new(&pepper(1));
        let stored = old.digest("k");
        let rotated = KeyHasher::new(&pepper(2)).with_previous(&pepper(1));
        assert!(rotated.verify("k", &stored));
        assert!(!rotated.verify("other", &stored));
        assert_ne!(rotated.digest("k"), stored);
        assert_eq!(rotated.digests("k").nth(1), Some(stored));
        let retired = KeyHasher::new(&pepper(2));
        assert!(!retired.verify("k", &stored));
    }

    #[test]
    fn debug_names_peppers_not_bytes() {
        let hasher = KeyHasher::new(&pepper(1));
        let digest = hasher.digest("k");
        let hex: String = digest.bytes.iter().map(|b| format!("{b:02x}")).collect();
        for shown in [format!("{hasher:?}"), format!("{digest:?}")] {
            assert!(!shown.contains(&hex[..8]), "{shown}");
            assert!(shown.contains(pepper(1).id().as_str()));
        }
    }
}
