//! `x-client-secret`: the platform secret (compared as a digest, in constant time) or a
//! tenant's `sk_` key.

use time::OffsetDateTime;

use super::Verified;
use crate::access::AuthMethod;
use crate::credentials::SecretCredential;
use crate::engine::Keygate;
use crate::error::AuthError;
use crate::key::KeyKind;
use crate::principal::Principal;

impl Keygate {
    pub(in crate::engine) async fn verify_secret(
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
