//! OAuth 2.0 access tokens, verified by the authorization server's
//! [`AccessTokenVerifier`](crate::oauth::AccessTokenVerifier).

use time::OffsetDateTime;

use super::Verified;
use crate::engine::Keygate;
use crate::error::AuthError;
use crate::oauth::AccessTokenStatus;
use crate::principal::Principal;

impl Keygate {
    /// An access token's principal; without a verifier configured, `invalid_token`.
    pub(super) async fn verify_oauth(
        &self,
        text: &str,
        now: OffsetDateTime,
    ) -> Result<Verified, AuthError> {
        let Some(verifier) = &self.inner.oauth else {
            return Err(AuthError::InvalidToken);
        };
        match verifier
            .verify(text, now)
            .await
            .map_err(AuthError::AuthUnavailable)?
        {
            AccessTokenStatus::Active(access) => {
                Ok(Verified::unmetered(Principal::of_oauth(access)))
            }
            AccessTokenStatus::Expired => Err(AuthError::TokenExpired),
            AccessTokenStatus::Invalid => Err(AuthError::InvalidToken),
        }
    }
}
