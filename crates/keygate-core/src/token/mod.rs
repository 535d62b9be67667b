//! Tokens keygate signs and verifies itself: one-time, session and client (`ek_`) tokens.
//!
//! They are compact JWS (HS256 by default, EdDSA as an option) with header
//! `typ: "kg+jwt"`, issuer and audience `keygate`, and a `kgt` claim naming the kind, so
//! they can never be taken for a user JWT, nor a user JWT for one. Session and client
//! tokens are verified without a store; a one-time token is consumed through the
//! [`Meter`](crate::Meter) only when a request it may serve has passed every other check.
//!
//! A verified token's claims are cached until it expires (see
//! [`TokenIssuer::cache_capacity`]), so its next request skips the signature check and
//! the claims decode; expiry, one-time use and the minting key's state are still checked
//! on every request.

mod issuer;
mod verified;

pub use issuer::{Ed25519Seed, TokenIssuer, TokenKeyError, TokenSecret};
/// The issuer and `typ` of keygate's own tokens, which the user-JWT verifier refuses.
pub(crate) use issuer::{ISSUER as KEYGATE_ISSUER, TYP as KEYGATE_TYP};
pub use verified::DEFAULT_TOKEN_CACHE_CAPACITY;

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::key::{Environment, KeyId, Metadata};
use crate::scope::ScopeSet;

/// The prefix that marks a client token.
pub const CLIENT_TOKEN_PREFIX: &str = "ek_";
/// How long a one-time token lives.
pub const ONE_TIME_LIFETIME: Duration = Duration::seconds(300);
/// Default lifetime of a session token.
pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::minutes(5);
/// Longest lifetime of a session token.
pub const MAX_SESSION_LIFETIME: Duration = Duration::minutes(1440);
/// Default lifetime of a client token.
pub const DEFAULT_CLIENT_LIFETIME: Duration = Duration::seconds(600);
/// Longest lifetime of a client token.
pub const MAX_CLIENT_LIFETIME: Duration = Duration::seconds(86_400);

/// The kinds of token keygate issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TokenKind {
    /// Valid for 300 s or until its first use.
    OneTime,
    /// Valid until it expires (1 to 1440 minutes), any number of times.
    Session,
    /// An `ek_` token for browsers and apps (1 to 86400 s), charged to the key that
    /// minted it.
    Client,
}

impl TokenKind {
    /// The allowed lifetimes: (default, shortest, longest).
    pub fn lifetimes(self) -> (Duration, Duration, Duration) {
        match self {
            Self::OneTime => (ONE_TIME_LIFETIME, ONE_TIME_LIFETIME, ONE_TIME_LIFETIME),
            Self::Session => (
                DEFAULT_SESSION_LIFETIME,
                Duration::minutes(1),
                MAX_SESSION_LIFETIME,
            ),
            Self::Client => (
                DEFAULT_CLIENT_LIFETIME,
                Duration::seconds(1),
                MAX_CLIENT_LIFETIME,
            ),
        }
    }
}

/// What to put in a new token. The minter's tenant, environment and key are added by
/// [`Keygate::issue_token`](crate::Keygate::issue_token).
///
/// ```
/// use keygate_core::token::{TokenKind, TokenRequest};
/// use keygate_core::ScopeSet;
///
/// let request = TokenRequest {
///     scopes: Some(ScopeSet::parse(["magic-background:create"])?),
///     user_reference: Some("user_42".into()),
///     ..TokenRequest::new(TokenKind::OneTime)
/// };
/// # let _ = request;
/// # Ok::<(), keygate_core::ScopeError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRequest {
    /// The kind of token.
    pub kind: TokenKind,
    /// Its scopes; `None` takes the minter's (the usual choice for client tokens).
    pub scopes: Option<ScopeSet>,
    /// Its lifetime; `None` takes the kind's default. One-time tokens always live 300 s.
    pub lifetime: Option<Duration>,
    /// The user the token is for.
    pub user_reference: Option<String>,
    /// The catalogue the token is for.
    pub catalogue_id: Option<String>,
    /// Free-form JSON shown in the principal (at most 4 KiB).
    pub metadata: Metadata,
}

impl TokenRequest {
    /// A request for a token of `kind` with every other field unset.
    pub fn new(kind: TokenKind) -> Self {
        Self {
            kind,
            scopes: None,
            lifetime: None,
            user_reference: None,
            catalogue_id: None,
            metadata: Metadata::new(),
        }
    }
}

/// A freshly signed token, to hand to its holder. `Debug` hides the token text.
#[derive(Debug)]
#[non_exhaustive]
pub struct IssuedToken {
    /// The token text (`ek_…` for client tokens).
    pub token: SecretString,
    /// The token's id (`jti`).
    pub id: String,
    /// The kind.
    pub kind: TokenKind,
    /// The scopes it carries.
    pub scopes: ScopeSet,
    /// When it was issued.
    pub issued_at: OffsetDateTime,
    /// When it expires.
    pub expires_at: OffsetDateTime,
}

impl IssuedToken {
    /// The token text, to hand to its holder.
    pub fn expose(&self) -> &str {
        self.token.expose_secret()
    }

    /// Seconds from issue to expiry (`expiresIn`).
    pub fn expires_in(&self) -> u64 {
        u64::try_from((self.expires_at - self.issued_at).whole_seconds()).unwrap_or(0)
    }
}

/// A token whose signature, type, issuer and audience have been checked.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VerifiedToken {
    /// The token's id (`jti`).
    pub id: String,
    /// The kind.
    pub kind: TokenKind,
    /// The scopes it carries.
    pub scopes: ScopeSet,
    /// The tenant of its minter.
    pub tenant: Option<Arc<str>>,
    /// The key that minted it (directly or through another token).
    pub key_id: Option<KeyId>,
    /// Live or test, from the minting key.
    pub environment: Option<Environment>,
    /// The user the token is for.
    pub user_reference: Option<Arc<str>>,
    /// The catalogue the token is for.
    pub catalogue_id: Option<Arc<str>>,
    /// Free-form JSON.
    pub metadata: Arc<Metadata>,
    /// When it was issued.
    pub issued_at: OffsetDateTime,
    /// When it expires.
    pub expires_at: OffsetDateTime,
}

/// The claims keygate writes. Short names keep tokens small.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) iss: String,
    pub(crate) aud: String,
    pub(crate) jti: String,
    pub(crate) kgt: TokenKind,
    pub(crate) scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ten: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) env: Option<Environment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) uref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cat: Option<String>,
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub(crate) meta: Metadata,
    pub(crate) iat: i64,
    pub(crate) exp: i64,
}
