//! Tokens keygate signed: one-time, session and `ek_` client tokens. A token minted by a
//! tenant's key follows that key: it ends when the key is revoked, expires or passes its
//! rotation grace, and counts against the key's rate limit.

use std::sync::Arc;

use time::OffsetDateTime;

use super::Verified;
use crate::access::AuthMethod;
use crate::engine::Keygate;
use crate::error::AuthError;
use crate::principal::Principal;
use crate::token::TokenKind;

impl Keygate {
    /// Verifies an issued token's signature, expiry and shape, then the key that minted
    /// it, if a key did (tokens minted with the platform secret follow nothing but their
    /// own expiry). The key is read by id through the key store's cache, so a request
    /// with a token of a cached key costs no store round trip.
    pub(super) async fn verify_token(
        &self,
        text: &str,
        method: AuthMethod,
        now: OffsetDateTime,
    ) -> Result<Verified, AuthError> {
        let token = self.inner.issuer.verify(text, now)?;
        let parent = match &token.key_id {
            Some(id) => {
                let record = self
                    .inner
                    .keys
                    .get(id)
                    .await
                    .map_err(AuthError::AuthUnavailable)?
                    .ok_or(AuthError::InvalidToken)?;
                super::key::check_status(&record, now)?;
                Some(record)
            }
            None => None,
        };
        let one_time = (token.kind == TokenKind::OneTime)
            .then(|| (token.id.clone(), token.issued_at, token.expires_at));
        // Client tokens stand in for their key in a browser, credits included; one-time
        // and session tokens share the key's rate limit, and spend its credits only on a
        // route that costs some (see `charge`).
        let credits = method == AuthMethod::ClientToken;
        let mut principal = Principal::of_token(token, method);
        // A token of a key with an owner acts for the owner, as its key does.
        if let Some(owner) = parent.as_ref().and_then(|key| key.owner.clone()) {
            principal.subject = Some(Arc::clone(&owner));
            principal.owner = Some(owner);
        }
        Ok(Verified {
            principal,
            key: parent,
            credits,
            one_time,
        })
    }
}
