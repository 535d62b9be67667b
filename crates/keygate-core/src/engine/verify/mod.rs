//! Step 4: verifying each presented credential, one module per kind.

mod jwt;
mod key;
mod oauth;
mod secret;
mod token;

use std::sync::Arc;

use time::OffsetDateTime;

use crate::access::AuthMethod;
use crate::credentials::Presented;
use crate::error::AuthError;
use crate::key::KeyRecord;
use crate::principal::Principal;

/// A verified credential: who acts, and what it needs metered.
pub(super) struct Verified {
    pub(super) principal: Principal,
    /// The key whose rate limit (and, with `credits`, whose balance) applies.
    pub(super) key: Option<Arc<KeyRecord>>,
    /// Whether the key's credits are read and spent.
    pub(super) credits: bool,
    /// A one-time token to consume: its id, issue time and expiry.
    pub(super) one_time: Option<(String, OffsetDateTime, OffsetDateTime)>,
}

impl Verified {
    /// A credential that needs nothing metered.
    fn unmetered(principal: Principal) -> Self {
        Self {
            principal,
            key: None,
            credits: false,
            one_time: None,
        }
    }

    /// A credential metered against `key`: its rate limit and its credits.
    fn keyed(principal: Principal, key: Arc<KeyRecord>) -> Self {
        Self {
            principal,
            key: Some(key),
            credits: true,
            one_time: None,
        }
    }
}

impl super::Keygate {
    /// Verifies what `Authorization` and `X-API-Key` carried.
    pub(super) async fn verify_presented(
        &self,
        presented: Presented<'_>,
        now: OffsetDateTime,
    ) -> Result<Verified, AuthError> {
        match presented {
            Presented::ApiKey(parsed) => self.verify_api_key(&parsed, now).await,
            Presented::Token(text) => self.verify_token(text, AuthMethod::Token, now).await,
            Presented::ClientToken(text) => {
                self.verify_token(text, AuthMethod::ClientToken, now).await
            }
            Presented::UserJwt(text) => self.verify_user(text, now).await,
            Presented::OAuthAccess(text) => self.verify_oauth(text, now).await,
            Presented::PublishableWithJwt { key, jwt } => self.verify_pair(&key, jwt, now).await,
        }
    }
}
