//! The hasher of the memory store's digest map: eight bytes of the digest itself.

use std::hash::{BuildHasher, Hash, Hasher};

use crate::key::KeyDigest;

/// A [`KeyDigest`] as a map key that hashes to eight of its own bytes.
///
/// A digest is an HMAC-SHA256 under the pepper: without the pepper nobody can choose
/// what a key digests to, so its bytes are already uniformly spread and cannot be steered
/// into colliding buckets (the flooding SipHash defends against). Hashing them again is
/// wasted work on every request. Equality still compares the whole digest and pepper id.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct DigestKey(pub(super) KeyDigest);

impl Hash for DigestKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let [a, b, c, d, e, f, g, h, ..] = self.0.bytes;
        state.write_u64(u64::from_ne_bytes([a, b, c, d, e, f, g, h]));
    }
}

/// Builds [`DigestHasher`]s.
#[derive(Clone, Copy, Default)]
pub(super) struct BuildDigestHasher;

impl BuildHasher for BuildDigestHasher {
    type Hasher = DigestHasher;

    fn build_hasher(&self) -> DigestHasher {
        DigestHasher(0)
    }
}

/// Passes on the `u64` a [`DigestKey`] writes. Anything else written (no other key type
/// uses it) is folded in, so it is still a correct, if poor, hasher.
pub(super) struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, value: u64) {
        self.0 ^= value;
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::hash::BuildHasher as _;

    use super::*;
    use crate::key::KeyHasher;
    use crate::secret::Pepper;

    /// The hash is the digest's first eight bytes, and different keys land apart.
    #[test]
    fn a_digest_hashes_to_its_first_eight_bytes() {
        let hasher = KeyHasher::new(&Pepper::generate().unwrap());
        let one = hasher.digest("sk_live_one");
        let other = hasher.digest("sk_live_other");
        let hash = |digest: KeyDigest| BuildDigestHasher.hash_one(DigestKey(digest));
        let first: [u8; 8] = one.bytes.first_chunk().copied().unwrap_or_default();
        assert_eq!(hash(one), u64::from_ne_bytes(first));
        assert_ne!(hash(one), hash(other));
    }
}
