//! What the authorization server keeps, and the [`OAuthStore`] trait: memory here,
//! SQLite and Postgres in keygate-sqlx. Codes and tokens are kept only as
//! [`TokenDigest`]s.
//!
//! A *grant* is what one approval produced: the code's exchange starts it, and every
//! access and refresh token issued from it (through any number of rotations) belongs to
//! it. Revoking the grant ends all of them at once: a replayed code, a reused refresh
//! token, `POST /oauth/revoke` and a removed client all revoke whole grants.

mod memory;

pub use memory::MemoryOAuthStore;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use keygate_core::ScopeSet;
use keygate_core::store::StoreError;
use time::OffsetDateTime;

use crate::client::ClientRecord;
use crate::secret::TokenDigest;

/// A user's approval of a client, and everything issued from it.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantRecord {
    /// The grant's id (chosen when its code is issued).
    pub id: Arc<str>,
    /// The client it was given to.
    pub client_id: Arc<str>,
    /// The user who approved it.
    pub subject: Arc<str>,
    /// The user's tenant.
    pub tenant: Option<Arc<str>>,
    /// The scopes approved: no refresh may go beyond them.
    pub scopes: ScopeSet,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

/// An authorization code, bound to its client, redirect URI and PKCE challenge.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeRecord {
    /// SHA-256 of the code.
    pub digest: TokenDigest,
    /// The grant its exchange creates (and its replay revokes).
    pub grant_id: Arc<str>,
    /// The client it was issued to.
    pub client_id: Arc<str>,
    /// The redirect URI it was sent to.
    pub redirect_uri: String,
    /// Whether the authorization request named the redirect URI (then the token request
    /// must too, RFC 6749 §4.1.3).
    pub redirect_uri_given: bool,
    /// The S256 `code_challenge`.
    pub challenge: String,
    /// The user who approved.
    pub subject: Arc<str>,
    /// The user's tenant.
    pub tenant: Option<Arc<str>>,
    /// The scopes approved.
    pub scopes: ScopeSet,
    /// When it stops being exchangeable.
    pub expires_at: OffsetDateTime,
    /// Whether it was exchanged already.
    pub used: bool,
}

/// An issued access or refresh token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    /// SHA-256 of the token.
    pub digest: TokenDigest,
    /// The grant it belongs to.
    pub grant_id: Arc<str>,
    /// Its scopes.
    pub scopes: ScopeSet,
    /// When it expires.
    pub expires_at: OffsetDateTime,
    /// For refresh tokens: whether it was rotated already.
    pub used: bool,
}

/// The tokens one exchange or rotation issues.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedPair {
    /// The access token.
    pub access: TokenRecord,
    /// The refresh token.
    pub refresh: TokenRecord,
}

/// Persistent OAuth state. Every method that decides between two outcomes does so
/// atomically (one transaction, or one lock), so two instances racing on one code or
/// one refresh token cannot both win.
#[async_trait]
pub trait OAuthStore: Send + Sync + fmt::Debug + 'static {
    /// Registers a client (its id is new).
    async fn insert_client(&self, client: &ClientRecord) -> Result<(), StoreError>;

    /// The client with `id`.
    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError>;

    /// The clients of `tenant` (every client for `None`), oldest first, at most `limit`.
    async fn clients(
        &self,
        tenant: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ClientRecord>, StoreError>;

    /// Removes the client and revokes every grant it holds; `false` if there was none.
    async fn remove_client(&self, id: &str, now: OffsetDateTime) -> Result<bool, StoreError>;

    /// Keeps a new authorization code.
    async fn insert_code(&self, code: &CodeRecord) -> Result<(), StoreError>;

    /// The code with `digest`, used or not.
    async fn code(&self, digest: &TokenDigest) -> Result<Option<CodeRecord>, StoreError>;

    /// If the code is unused: marks it used, creates `grant` and keeps `tokens`, and
    /// returns `true`. If it was used already: changes nothing and returns `false`.
    async fn redeem_code(
        &self,
        digest: &TokenDigest,
        grant: &GrantRecord,
        tokens: &IssuedPair,
    ) -> Result<bool, StoreError>;

    /// The refresh token with `digest` and its grant.
    async fn refresh_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<(TokenRecord, GrantRecord)>, StoreError>;

    /// If the refresh token is unused and its grant not revoked: marks it used, keeps
    /// `tokens`, returns `true`. Otherwise changes nothing and returns `false`.
    async fn rotate_refresh_token(
        &self,
        digest: &TokenDigest,
        tokens: &IssuedPair,
    ) -> Result<bool, StoreError>;

    /// The access token with `digest` and its grant.
    async fn access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<(TokenRecord, GrantRecord)>, StoreError>;

    /// Revokes the grant (idempotent): its tokens stop working and its refresh tokens
    /// cannot rotate.
    async fn revoke_grant(&self, grant_id: &str, now: OffsetDateTime) -> Result<(), StoreError>;

    /// Deletes codes and tokens expired before `now`, and grants with nothing left;
    /// returns how many rows went. For a periodic task.
    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
}

#[async_trait]
impl<S: OAuthStore + ?Sized> OAuthStore for Arc<S> {
    async fn insert_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        (**self).insert_client(client).await
    }
    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        (**self).client(id).await
    }
    async fn clients(
        &self,
        tenant: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ClientRecord>, StoreError> {
        (**self).clients(tenant, limit).await
    }
    async fn remove_client(&self, id: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
        (**self).remove_client(id, now).await
    }
    async fn insert_code(&self, code: &CodeRecord) -> Result<(), StoreError> {
        (**self).insert_code(code).await
    }
    async fn code(&self, digest: &TokenDigest) -> Result<Option<CodeRecord>, StoreError> {
        (**self).code(digest).await
    }
    async fn redeem_code(
        &self,
        digest: &TokenDigest,
        grant: &GrantRecord,
        tokens: &IssuedPair,
    ) -> Result<bool, StoreError> {
        (**self).redeem_code(digest, grant, tokens).await
    }
    async fn refresh_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<(TokenRecord, GrantRecord)>, StoreError> {
        (**self).refresh_token(digest).await
    }
    async fn rotate_refresh_token(
        &self,
        digest: &TokenDigest,
        tokens: &IssuedPair,
    ) -> Result<bool, StoreError> {
        (**self).rotate_refresh_token(digest, tokens).await
    }
    async fn access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<(TokenRecord, GrantRecord)>, StoreError> {
        (**self).access_token(digest).await
    }
    async fn revoke_grant(&self, grant_id: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        (**self).revoke_grant(grant_id, now).await
    }
    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        (**self).purge_expired(now).await
    }
}
