//! User JWTs, alone or paired with a publishable key.

use time::OffsetDateTime;

use super::Verified;
use crate::engine::Keygate;
use crate::error::AuthError;
use crate::jwt::UserJwt;
use crate::key::{KeyKind, ParsedKey};
use crate::principal::Principal;

impl Keygate {
    /// A user JWT alone: unmetered, the user as subject.
    pub(super) async fn verify_user(
        &self,
        text: &str,
        now: OffsetDateTime,
    ) -> Result<Verified, AuthError> {
        let user = self.verify_user_jwt(text, now).await?;
        Ok(Verified::unmetered(Principal::of_user(user)))
    }

    /// A publishable key with a user JWT: the key names the tenant, the JWT the user, and
    /// both must be valid.
    pub(super) async fn verify_pair(
        &self,
        key: &ParsedKey<'_>,
        jwt: &str,
        now: OffsetDateTime,
    ) -> Result<Verified, AuthError> {
        let record = self.verified_key(key, now).await?;
        if record.kind != KeyKind::Publishable {
            return Err(AuthError::InvalidApiKey);
        }
        let user = self.verify_user_jwt(jwt, now).await?;
        if user.tenant.is_some() && user.tenant != record.tenant {
            return Err(AuthError::TenantMismatch);
        }
        Ok(Verified::keyed(Principal::of_pair(&record, user), record))
    }

    /// A user JWT's claims, from the configured verifier; without one, user JWTs are
    /// refused (`invalid_token`), as for a platform that configured no issuer.
    async fn verify_user_jwt(&self, text: &str, now: OffsetDateTime) -> Result<UserJwt, AuthError> {
        match &self.inner.jwt {
            Some(verifier) => verifier.verify(text, now).await,
            None => Err(AuthError::InvalidToken),
        }
    }
}
