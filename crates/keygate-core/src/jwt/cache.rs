//! Verified tokens, remembered by digest until they expire, so a user's next request
//! costs a hash and a look-up instead of a signature check.

use std::sync::Arc;

use quick_cache::sync::Cache;
use sha2::{Digest as _, Sha256};
use time::{Duration, OffsetDateTime};

use super::UserJwt;
use super::claims::{is_expired, is_future};
use super::keyset::KeySet;
use crate::error::AuthError;

/// The SHA-256 of a token: the cache never holds token text.
pub(crate) type TokenDigest = [u8; 32];

/// The digest `token` is cached under.
pub(crate) fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// A token that was verified, and with which key.
pub(crate) struct Verified {
    pub(crate) user: UserJwt,
    pub(crate) not_before: Option<OffsetDateTime>,
    /// The key that verified it: its `kid`, the digest of its parameters, and the
    /// generation of the key set it was found in.
    pub(crate) kid: Box<str>,
    pub(crate) key_digest: [u8; 32],
    pub(crate) generation: u64,
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

    /// Looks `digest` up. A hit is checked against `now` (expiry and `nbf`, with
    /// `leeway`) and against `keys`: an entry whose key has left the set is dropped and
    /// reported as a miss, so the token is verified again, and refused.
    pub(crate) fn lookup(
        &self,
        digest: &TokenDigest,
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
