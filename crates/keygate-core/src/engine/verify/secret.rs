//! `x-client-secret`: the platform secret (compared as a digest, in constant time) or a
//! tenant's `sk_` key.

use time::OffsetDateTime;

use super::Verified;
use crate::access::AuthMethod;
use crate::credentials::{SecretCredential, classify_secret};
use crate::engine::Keygate;
use crate::error::AuthError;
use crate::key::KeyKind;
use crate::principal::Principal;
use crate::transport::Client;

impl Keygate {
    /// Reads and verifies `x-client-secret` (`text`) from `client`, unless the
    /// [lock-out](crate::lockout) has locked the client's address: then it is refused
    /// unread with 429. A wrong value (a malformed or unknown `sk_` key included) counts
    /// against the address; the failure that locks it is logged at `warn`, with the
    /// address and never the value. `read` is the credential's syntax check, done after
    /// the lock check so that a locked address is refused whatever it sends.
    pub(in crate::engine) fn read_secret<'t>(
        &self,
        text: &'t str,
        client: Client,
        now: OffsetDateTime,
    ) -> Result<SecretCredential<'t>, AuthError> {
        if let Some(lockouts) = &self.inner.lockouts {
            lockouts
                .check(client.address, now)
                .map_err(|retry_after_secs| AuthError::SecretLockedOut { retry_after_secs })?;
        }
        classify_secret(text).inspect_err(|error| self.count_secret_failure(error, client, now))
    }

    /// Verifies a secret [`read_secret`](Self::read_secret) let through; a wrong one counts
    /// against `client`.
    pub(in crate::engine) async fn verify_secret(
        &self,
        secret: SecretCredential<'_>,
        client: Client,
        now: OffsetDateTime,
    ) -> Result<Verified, AuthError> {
        self.check_secret(secret, now)
            .await
            .inspect_err(|error| self.count_secret_failure(error, client, now))
    }

    fn count_secret_failure(&self, error: &AuthError, client: Client, now: OffsetDateTime) {
        let Some(lockouts) = &self.inner.lockouts else {
            return;
        };
        if matches!(error, AuthError::InvalidSecretKey)
            && let Some((scope, retry_after_secs)) = lockouts.fail(client.address, now)
        {
            tracing::warn!(
                client = ?client.address,
                locked = scope.as_str(),
                retry_after_secs,
                "keygate: too many failed x-client-secret checks from this address; x-client-secret attempts from what is locked are refused until the window ends"
            );
        }
    }

    async fn check_secret(
        &self,
        secret: SecretCredential<'_>,
        now: OffsetDateTime,
    ) -> Result<Verified, AuthError> {
        match secret {
            SecretCredential::Platform(text) => {
                let valid = self
                    .inner
                    .platform_secret
                    .as_ref()
                    .is_some_and(|digest| self.inner.hasher.verify(text, digest));
                if !valid {
                    return Err(AuthError::InvalidSecretKey);
                }
                Ok(Verified::unmetered(Principal::operator()))
            }
            SecretCredential::TenantKey(parsed) => {
                let record = self
                    .find_key(&parsed)
                    .await?
                    .filter(|record| record.kind == KeyKind::Secret)
                    .ok_or(AuthError::InvalidSecretKey)?;
                super::key::check_status(&record, now)?;
                let mut principal = Principal::of_key(&record);
                principal.method = AuthMethod::SecretKey;
                Ok(Verified::keyed(principal, record))
            }
        }
    }
}
