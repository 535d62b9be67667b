//! API keys: checksum (already checked by the parser), HMAC digest under each known
//! pepper, then the store (through its cache, when it has one).

use std::sync::Arc;

use time::OffsetDateTime;

use super::Verified;
use crate::engine::Keygate;
use crate::error::AuthError;
use crate::key::{KeyKind, KeyRecord, KeyStatus, ParsedKey};
use crate::principal::Principal;

impl Keygate {
    /// An API key alone: any kind but publishable, which needs a user JWT beside it.
    pub(super) async fn verify_api_key(
        &self,
        parsed: &ParsedKey<'_>,
        now: OffsetDateTime,
    ) -> Result<Verified, AuthError> {
        let record = self.verified_key(parsed, now).await?;
        if record.kind == KeyKind::Publishable {
            return Err(AuthError::UserTokenRequired);
        }
        Ok(Verified::keyed(Principal::of_key(&record), record))
    }

    /// The active record of a presented key, or why there is none.
    pub(super) async fn verified_key(
        &self,
        parsed: &ParsedKey<'_>,
        now: OffsetDateTime,
    ) -> Result<Arc<KeyRecord>, AuthError> {
        let record = self
            .find_key(parsed)
            .await?
            .ok_or(AuthError::InvalidApiKey)?;
        check_status(&record, now)?;
        Ok(record)
    }

    /// Looks a key up by its digest under each known pepper (current first).
    pub(super) async fn find_key(
        &self,
        parsed: &ParsedKey<'_>,
    ) -> Result<Option<Arc<KeyRecord>>, AuthError> {
        for digest in self.inner.hasher.digests(parsed.expose()) {
            let found = self
                .inner
                .keys
                .find_by_hash(&digest)
                .await
                .map_err(AuthError::AuthUnavailable)?;
            if let Some(record) = found {
                // Defence in depth: a store must never answer with another key's record.
                let genuine = record.digest.ct_eq(&digest) && *record.prefix == *parsed.prefix();
                return Ok(genuine.then_some(record));
            }
        }
        Ok(None)
    }
}

/// Whether a known key may still act: not revoked, not expired, not past its grace.
pub(super) fn check_status(record: &KeyRecord, now: OffsetDateTime) -> Result<(), AuthError> {
    match record.status(now) {
        KeyStatus::Active => Ok(()),
        KeyStatus::Revoked => Err(AuthError::KeyRevoked),
        KeyStatus::Expired => Err(AuthError::KeyExpired),
    }
}
