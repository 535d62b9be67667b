//! Verified tokens, remembered until they expire, so a user's next request costs a hash,
//! a look-up and a compare instead of a signature check.
//!
//! Entries are found by a fast keyed hash of the token (foldhash, seeded at random once
//! per process) and confirmed by comparing the stored token with the presented one in
//! constant time. The hash needs no collision resistance: a collision, chosen or not, is
//! a miss (the token is verified again), never a hit on someone else's entry. The seed
//! never leaves the process and the hash is not logged, so nothing derived from a token
//! leaks either. SHA-256 of a 1 KB token cost ~12 k instructions per request; this costs
//! a few hundred.

use std::hash::BuildHasher as _;
use std::sync::{Arc, LazyLock};

use quick_cache::sync::Cache;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroize as _;

use super::UserJwt;
use super::claims::{is_expired, is_future};
use super::keyset::KeySet;
use crate::error::AuthError;
use crate::secret::same_bytes;

/// A keyed fast hash of a token: where it is looked for, not what proves a hit.
pub(crate) type TokenDigest = u64;

/// The per-process random seed of [`digest`].
static SEED: LazyLock<foldhash::quality::RandomState> =
    LazyLock::new(foldhash::quality::RandomState::default);

/// The hash `token` is cached under.
pub(crate) fn digest(token: &str) -> TokenDigest {
    SEED.hash_one(token.as_bytes())
}

/// A token that was verified, and with which key.
pub(crate) struct Verified {
    /// The token itself, compared in constant time on every hit (and wiped when the
    /// entry is dropped).
    pub(crate) token: Box<str>,
    pub(crate) user: UserJwt,
    pub(crate) not_before: Option<OffsetDateTime>,
    /// The key that verified it: its `kid`, the digest of its parameters, and the
    /// generation of the key set it was found in.
    pub(crate) kid: Box<str>,
    pub(crate) key_digest: [u8; 32],
    pub(crate) generation: u64,
}

impl Drop for Verified {
    fn drop(&mut self) {
        self.token.zeroize();
    }
}

impl Verified {
    /// Whether the key that verified this token is still in `keys`, unchanged. The same
    /// generation means the same set; another generation is searched by `kid`.
    fn still_signed_in(&self, keys: &KeySet) -> bool {
        keys.generation() == self.generation
            || keys
                .get(&self.kid)
                .is_some_and(|key| key.digest == self.key_digest)
    }
}

/// A bounded cache of verified tokens; capacity 0 turns it off.
pub(crate) struct VerifiedCache {
    cache: Option<Cache<TokenDigest, Arc<Verified>>>,
}

/// What the cache knows of a token.
pub(crate) enum Lookup {
    /// Not cached (or no longer valid for the current keys): verify it.
    Miss,
    /// Cached, and still valid or definitely not at `now`.
    Hit(Result<UserJwt, AuthError>),
}

impl VerifiedCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            cache: (capacity > 0).then(|| Cache::new(capacity)),
        }
    }

    /// Looks `token` up under its `digest`. A hit is the same token, compared in constant
    /// time. A hit is checked against `now` (expiry and `nbf`, with
    /// `leeway`) and against `keys`: an entry whose key has left the set is dropped and
    /// reported as a miss, so the token is verified again, and refused.
    pub(crate) fn lookup(
        &self,
        digest: &TokenDigest,
        token: &str,
        keys: Option<&KeySet>,
        now: OffsetDateTime,
        leeway: Duration,
    ) -> Lookup {
        let Some(cache) = &self.cache else {
            return Lookup::Miss;
        };
        let Some(entry) = cache.get(digest) else {
            return Lookup::Miss;
        };
        // Another token under the same hash is a miss; verifying it replaces the entry.
        if !same_bytes(entry.token.as_bytes(), token.as_bytes()) {
            return Lookup::Miss;
        }
        if !keys.is_some_and(|keys| entry.still_signed_in(keys)) {
            cache.remove(digest);
            return Lookup::Miss;
        }
        if is_expired(entry.user.expires_at, now, leeway) {
            cache.remove(digest);
            return Lookup::Hit(Err(AuthError::TokenExpired));
        }
        if entry
            .not_before
            .is_some_and(|nbf| is_future(nbf, now, leeway))
        {
            return Lookup::Hit(Err(AuthError::InvalidToken));
        }
        Lookup::Hit(Ok(entry.user.clone()))
    }

    /// Remembers a verified token.
    pub(crate) fn insert(&self, digest: TokenDigest, verified: Verified) {
        if let Some(cache) = &self.cache {
            cache.insert(digest, Arc::new(verified));
        }
    }

    /// Number of cached tokens.
    pub(crate) fn len(&self) -> usize {
        self.cache.as_ref().map_or(0, Cache::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(token: &str, expires_at: OffsetDateTime) -> Verified {
        Verified {
            token: token.into(),
            user: UserJwt {
                subject: "user_1".into(),
                tenant: None,
                scopes: None,
                issuer: "https://issuer.example".into(),
                expires_at,
            },
            not_before: None,
            kid: "k".into(),
            key_digest: [0; 32],
            generation: 0,
        }
    }

    /// A hit needs the very token: another token filed under the same hash (a collision,
    /// forced here) is a miss, so it goes through full verification.
    #[test]
    fn a_hit_needs_the_same_token_not_just_the_same_hash() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let keys = KeySet::from_jwks(&[], &[], 0);
        let cache = VerifiedCache::new(10);
        let digest = digest("a.b.c");
        cache.insert(digest, verified("a.b.c", now + Duration::hours(1)));
        assert!(matches!(
            cache.lookup(&digest, "a.b.c", Some(&keys), now, Duration::ZERO),
            Lookup::Hit(Ok(_))
        ));
        assert!(matches!(
            cache.lookup(&digest, "a.b.d", Some(&keys), now, Duration::ZERO),
            Lookup::Miss
        ));
        assert!(matches!(
            cache.lookup(&digest, "a.b.", Some(&keys), now, Duration::ZERO),
            Lookup::Miss
        ));
        assert_ne!(digest, super::digest("a.b.d"));
    }
}
