//! OAuth 2.0 access tokens: the seam through which an authorization server (such as
//! keygate-oauth) lets the engine verify the access tokens it issued.
//!
//! An access token is opaque text starting with [`ACCESS_TOKEN_PREFIX`]. The engine
//! recognises it by that prefix alone and hands it to the configured
//! [`AccessTokenVerifier`]; without one, such a bearer value is `invalid_token`. A
//! verified token becomes a principal of method [`oauth`](crate::AuthMethod::OAuth): the
//! user as subject, the user's tenant, the granted scopes and `metadata.client_id`.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::scope::ScopeSet;
use crate::store::StoreError;

/// How every OAuth access token starts. API keys cannot take it as a custom prefix.
pub const ACCESS_TOKEN_PREFIX: &str = "oat_";

/// An access token the authorization server vouches for: still active, its grant not
/// revoked.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OAuthAccess {
    /// The client the token was issued to.
    pub client_id: Arc<str>,
    /// The user (resource owner) the client acts for.
    pub subject: Arc<str>,
    /// The user's tenant, if any.
    pub tenant: Option<Arc<str>>,
    /// The scopes granted to the token.
    pub scopes: ScopeSet,
    /// When the token expires.
    pub expires_at: OffsetDateTime,
}

impl OAuthAccess {
    /// An active access token's facts.
    pub fn new(
        client_id: impl Into<Arc<str>>,
        subject: impl Into<Arc<str>>,
        tenant: Option<Arc<str>>,
        scopes: ScopeSet,
        expires_at: OffsetDateTime,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            subject: subject.into(),
            tenant,
            scopes,
            expires_at,
        }
    }
}

/// What the authorization server says of a presented access token.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AccessTokenStatus {
    /// Active: the request acts with it.
    Active(OAuthAccess),
    /// Known, but past its expiry: `token_expired`.
    Expired,
    /// Unknown, or its grant was revoked: `invalid_token`.
    Invalid,
}

/// Verifies OAuth access tokens for the engine. Implemented by the authorization server's
/// token store; set with
/// [`KeygateBuilder::oauth_tokens`](crate::KeygateBuilder::oauth_tokens).
///
/// An implementation may cache answers, but a revocation must reach it within the bound
/// its documentation states; an error denies the request (503 `auth_unavailable`).
#[async_trait]
pub trait AccessTokenVerifier: Send + Sync + fmt::Debug + 'static {
    /// The status of `token` (which starts with [`ACCESS_TOKEN_PREFIX`]) at `now`.
    async fn verify(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<AccessTokenStatus, StoreError>;
}
