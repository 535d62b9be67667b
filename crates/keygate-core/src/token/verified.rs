//! Issued tokens already verified, remembered until they expire, so a session or client
//! token's next request costs a hash, a look-up and a compare instead of an HMAC (or
//! EdDSA) check and a JSON decode of its claims.
//!
//! The same scheme as the user-JWT cache (`jwt::cache`): an entry is found by a fast keyed
//! hash of the token text (foldhash, seeded at random once per process) and confirmed by
//! comparing the stored token with the presented one in constant time
//! (`secret::same_bytes`, shared with it), so a collision,
//! chosen or not, is a miss and the token is verified in full. The stored token is wiped
//! when its entry is dropped.
//!
//! Only what the signature proves is cached: the claims. Everything that can change after
//! signing stays per request, outside this cache: the clock (expiry and a future `iat`
//! are checked again on every hit), whether a one-time token was used (the meter consumes
//! it on every request), and the state of the key that minted the token (the engine reads
//! it by id on every request, so revoking the key ends its tokens at once). Each
//! [`TokenIssuer`](super::TokenIssuer) has its own cache, built with its key set, so an
//! entry never outlives the keys that verified it.

use std::sync::Arc;

use quick_cache::sync::Cache;
use time::OffsetDateTime;
use zeroize::Zeroize as _;

use super::VerifiedToken;
use crate::error::AuthError;
use crate::jwt::cache::TokenDigest;
use crate::secret::same_bytes;

/// Verified tokens cached when no capacity is configured.
pub const DEFAULT_TOKEN_CACHE_CAPACITY: usize = 10_000;

/// A verified token and the text it was verified from.
struct Entry {
    /// The token as presented (with its `ek_` prefix for client tokens), compared in
    /// constant time on every hit.
    token: Box<str>,
    verified: VerifiedToken,
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.token.zeroize();
    }
}

/// A bounded cache of verified tokens; capacity 0 turns it off.
pub(crate) struct VerifiedTokens {
    cache: Option<Cache<TokenDigest, Arc<Entry>>>,
    capacity: usize,
}

impl VerifiedTokens {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            cache: (capacity > 0).then(|| Cache::new(capacity)),
            capacity,
        }
    }

    /// The most tokens it holds.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// What the cache knows of `token` at `now`: `None` when it is not cached (verify
    /// it), else the cached claims, checked against `now` like a fresh verification. An
    /// expired entry is dropped.
    pub(crate) fn lookup(
        &self,
        digest: &TokenDigest,
        token: &str,
        now: OffsetDateTime,
    ) -> Option<Result<VerifiedToken, AuthError>> {
        let cache = self.cache.as_ref()?;
        let entry = cache.get(digest)?;
        // Another token under the same hash is a miss; verifying it replaces the entry.
        if !same_bytes(entry.token.as_bytes(), token.as_bytes()) {
            return None;
        }
        let verified = &entry.verified;
        if let Err(err) =
            super::issuer::check_lifetime(verified.issued_at, verified.expires_at, now)
        {
            if matches!(err, AuthError::TokenExpired) {
                cache.remove(digest);
            }
            return Some(Err(err));
        }
        Some(Ok(verified.clone()))
    }

    /// Remembers that `token` verified as `verified`.
    pub(crate) fn insert(&self, digest: TokenDigest, token: &str, verified: &VerifiedToken) {
        if let Some(cache) = &self.cache {
            let entry = Entry {
                token: token.into(),
                verified: verified.clone(),
            };
            cache.insert(digest, Arc::new(entry));
        }
    }

    /// Number of cached tokens.
    pub(crate) fn len(&self) -> usize {
        self.cache.as_ref().map_or(0, Cache::len)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use time::Duration;

    use super::*;
    use crate::jwt::cache::digest;
    use crate::scope::ScopeSet;
    use crate::token::TokenKind;

    const NOW: OffsetDateTime = time::macros::datetime!(2030-01-01 0:00 UTC);

    fn verified(expires_at: OffsetDateTime) -> VerifiedToken {
        VerifiedToken {
            id: "tok_1".into(),
            kind: TokenKind::Session,
            scopes: ScopeSet::none(),
            tenant: None,
            key_id: None,
            environment: None,
            user_reference: None,
            catalogue_id: None,
            metadata: crate::key::empty_metadata(),
            issued_at: NOW,
            expires_at,
        }
    }

    /// A hit needs the very token: another token filed under the same hash (a collision,
    /// forced here) is a miss, so it goes through full verification.
    #[test]
    fn a_hit_needs_the_same_token_not_just_the_same_hash() {
        let cache = VerifiedTokens::new(10);
        let at = digest("a.b.c");
        cache.insert(at, "a.b.c", &verified(NOW + Duration::hours(1)));
        assert_eq!(
            cache.lookup(&at, "a.b.c", NOW).unwrap().unwrap(),
            verified(NOW + Duration::hours(1))
        );
        assert!(cache.lookup(&at, "a.b.d", NOW).is_none());
        assert!(cache.lookup(&at, "a.b.", NOW).is_none());
        assert!(cache.lookup(&at, "ek_a.b.c", NOW).is_none());
        assert_ne!(at, digest("a.b.d"));
    }

    /// The clock is read on every hit: past `exp` the entry is refused and dropped, and a
    /// clock set back before `iat` (beyond the skew allowed) refuses it as at issue.
    #[test]
    fn a_hit_is_checked_against_the_clock_of_the_request() {
        let cache = VerifiedTokens::new(10);
        let at = digest("a.b.c");
        let expires_at = NOW + Duration::minutes(5);
        cache.insert(at, "a.b.c", &verified(expires_at));
        assert!(
            cache
                .lookup(&at, "a.b.c", expires_at - Duration::seconds(1))
                .unwrap()
                .is_ok()
        );
        assert!(matches!(
            cache.lookup(&at, "a.b.c", NOW - Duration::minutes(2)),
            Some(Err(AuthError::InvalidToken))
        ));
        assert_eq!(cache.len(), 1, "a clock set back keeps the entry");
        assert!(matches!(
            cache.lookup(&at, "a.b.c", expires_at),
            Some(Err(AuthError::TokenExpired))
        ));
        assert_eq!(cache.len(), 0, "an expired entry is dropped");
        assert!(cache.lookup(&at, "a.b.c", NOW).is_none());
    }

    fn claims(kind: TokenKind, exp: OffsetDateTime) -> crate::token::Claims {
        crate::token::Claims {
            iss: "keygate".into(),
            aud: "keygate".into(),
            jti: "tok_1".into(),
            kgt: kind,
            scope: "lens:create".into(),
            sub: Some("key_1".into()),
            ten: Some("acme".into()),
            env: None,
            uref: None,
            cat: None,
            meta: crate::key::Metadata::new(),
            iat: NOW.unix_timestamp(),
            exp: exp.unix_timestamp(),
        }
    }

    fn issuer() -> crate::token::TokenIssuer {
        crate::token::TokenIssuer::hs256(&crate::token::TokenSecret::new(vec![7; 32]).unwrap())
    }

    /// The issuer caches what it verified, serves the same claims from the cache, and
    /// caches nothing it refused.
    #[test]
    fn the_issuer_caches_verified_tokens_only() {
        let issuer = issuer();
        for kind in [TokenKind::Session, TokenKind::Client, TokenKind::OneTime] {
            let token = issuer
                .sign(&claims(kind, NOW + Duration::hours(1)))
                .unwrap();
            let first = issuer.verify(&token, NOW).unwrap();
            let cached = issuer.inner().verified.len();
            let again = issuer.verify(&token, NOW).unwrap();
            assert_eq!(first, again);
            assert_eq!(issuer.inner().verified.len(), cached, "a hit adds nothing");
            // A forged signature is refused and not remembered.
            let mut forged = token.clone();
            let last = forged.pop().unwrap();
            forged.push(if last == 'A' { 'B' } else { 'A' });
            assert!(matches!(
                issuer.verify(&forged, NOW),
                Err(AuthError::InvalidToken)
            ));
            assert_eq!(issuer.inner().verified.len(), cached);
        }
        assert_eq!(issuer.inner().verified.len(), 3);
    }

    /// A cached token is refused at its expiry like an uncached one; an `ek_` token
    /// without its prefix (or a session token with one) is another text, never a hit.
    #[test]
    fn cached_tokens_expire_and_keep_their_prefix_rule() {
        let issuer = issuer();
        let expires_at = NOW + Duration::minutes(10);
        let client = issuer.sign(&claims(TokenKind::Client, expires_at)).unwrap();
        assert!(issuer.verify(&client, NOW).is_ok());
        let bare = client.strip_prefix("ek_").unwrap();
        assert!(matches!(
            issuer.verify(bare, NOW),
            Err(AuthError::InvalidToken)
        ));
        assert!(
            issuer
                .verify(&client, expires_at - Duration::seconds(1))
                .is_ok()
        );
        assert!(matches!(
            issuer.verify(&client, expires_at),
            Err(AuthError::TokenExpired)
        ));
        assert!(matches!(
            issuer.verify(&client, expires_at + Duration::days(1)),
            Err(AuthError::TokenExpired)
        ));
    }

    /// Another key set is another cache: an issuer that no longer accepts a key refuses
    /// its tokens even after the old issuer cached them; 0 turns the cache off.
    #[test]
    fn each_key_set_has_its_own_cache() {
        let old = issuer();
        let token = old
            .sign(&claims(TokenKind::Session, NOW + Duration::hours(1)))
            .unwrap();
        assert!(old.verify(&token, NOW).is_ok());
        let new =
            crate::token::TokenIssuer::hs256(&crate::token::TokenSecret::new(vec![8; 32]).unwrap());
        assert!(matches!(
            new.verify(&token, NOW),
            Err(AuthError::InvalidToken)
        ));
        let rotating = new.clone().with_previous(&old);
        assert!(rotating.verify(&token, NOW).is_ok());
        assert!(matches!(
            new.verify(&token, NOW),
            Err(AuthError::InvalidToken)
        ));

        let off = old.cache_capacity(0);
        assert!(off.verify(&token, NOW).is_ok());
        assert_eq!(off.inner().verified.len(), 0);
    }

    #[test]
    fn capacity_zero_caches_nothing() {
        let cache = VerifiedTokens::new(0);
        let at = digest("a.b.c");
        cache.insert(at, "a.b.c", &verified(NOW + Duration::hours(1)));
        assert!(cache.lookup(&at, "a.b.c", NOW).is_none());
        assert_eq!((cache.len(), cache.capacity()), (0, 0));
    }
}
