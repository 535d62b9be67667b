//! The client registry: who may ask for tokens, where codes may be sent, and which
//! scopes they may ask for.

pub mod redirect;

use std::fmt;
use std::sync::Arc;

use keygate_core::ScopeSet;
use keygate_core::credentials::is_valid_id;
use secrecy::SecretString;
use time::OffsetDateTime;

use self::redirect::{RedirectUriError, validate_redirect_uri};

/// Most redirect URIs one client may register.
pub const MAX_REDIRECT_URIS: usize = 10;
/// Longest client name, in bytes.
pub const MAX_CLIENT_NAME_LEN: usize = 200;
/// How client ids start.
pub const CLIENT_ID_PREFIX: &str = "cl_";
/// How client secrets start.
pub const CLIENT_SECRET_PREFIX: &str = "cs_";

/// A registered client, as the store keeps it. `Debug` hides the secret's hash.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct ClientRecord {
    /// The public `client_id`.
    pub id: Arc<str>,
    /// A name to show users.
    pub name: String,
    /// The tenant that registered it; only that tenant's users may authorize it.
    pub tenant: Option<Arc<str>>,
    /// The exact redirect URIs it may use.
    pub redirect_uris: Vec<String>,
    /// The scopes it may ask for.
    pub scopes: ScopeSet,
    /// The argon2id PHC string of its secret; `None` for a public client.
    pub secret_hash: Option<String>,
    /// When it was registered.
    pub created_at: OffsetDateTime,
}

impl ClientRecord {
    /// A record with every field given (for stores reading one back).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: impl Into<Arc<str>>,
        name: String,
        tenant: Option<Arc<str>>,
        redirect_uris: Vec<String>,
        scopes: ScopeSet,
        secret_hash: Option<String>,
        created_at: OffsetDateTime,
    ) -> Self {
        Self {
            id: id.into(),
            name,
            tenant,
            redirect_uris,
            scopes,
            secret_hash,
            created_at,
        }
    }

    /// Whether the client authenticates with a secret.
    pub fn is_confidential(&self) -> bool {
        self.secret_hash.is_some()
    }
}

impl fmt::Debug for ClientRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("tenant", &self.tenant)
            .field("redirect_uris", &self.redirect_uris)
            .field("scopes", &self.scopes)
            .field("confidential", &self.is_confidential())
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// What to register.
#[derive(Debug, Clone, PartialEq)]
pub struct NewClient {
    /// A name to show users (1 to 200 bytes).
    pub name: String,
    /// The tenant registering it, if any.
    pub tenant: Option<String>,
    /// The exact redirect URIs (1 to 10).
    pub redirect_uris: Vec<String>,
    /// The scopes it may ask for (at least one).
    pub scopes: ScopeSet,
    /// Whether it gets a secret (a server-side app) or not (a native or browser app,
    /// which then relies on PKCE alone).
    pub confidential: bool,
}

/// A client just registered: its record, and its secret, shown this once.
#[derive(Debug)]
#[non_exhaustive]
pub struct CreatedClient {
    /// What the store keeps.
    pub record: ClientRecord,
    /// The secret (confidential clients only). Only its hash is stored.
    pub secret: Option<SecretString>,
}

/// Why a client cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The name is empty or too long.
    #[error("name must be 1 to {MAX_CLIENT_NAME_LEN} bytes")]
    Name,
    /// The tenant is not a valid id.
    #[error("tenant must be 1 to 128 characters of [A-Za-z0-9._:@-]")]
    Tenant,
    /// No redirect URI, or too many.
    #[error("redirect_uris must list 1 to {MAX_REDIRECT_URIS} URIs")]
    RedirectCount,
    /// A redirect URI cannot be registered.
    #[error("redirect_uris[{index}]: {error}")]
    RedirectUri {
        /// Which one.
        index: usize,
        /// Why.
        error: RedirectUriError,
    },
    /// No scope.
    #[error("scopes must list at least one scope")]
    NoScopes,
    /// A scope the server does not offer.
    #[error("scopes: {0} is not a scope this server offers")]
    UnknownScope(String),
}

impl NewClient {
    /// Checks every field; `offered` is what the server offers, if it restricts scopes.
    pub fn validate(&self, offered: Option<&ScopeSet>) -> Result<(), ClientError> {
        if self.name.is_empty() || self.name.len() > MAX_CLIENT_NAME_LEN {
            return Err(ClientError::Name);
        }
        if let Some(tenant) = &self.tenant
            && !is_valid_id(tenant)
        {
            return Err(ClientError::Tenant);
        }
        if self.redirect_uris.is_empty() || self.redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(ClientError::RedirectCount);
        }
        for (index, uri) in self.redirect_uris.iter().enumerate() {
            validate_redirect_uri(uri)
                .map_err(|error| ClientError::RedirectUri { index, error })?;
        }
        if self.scopes.is_empty() {
            return Err(ClientError::NoScopes);
        }
        if let Some(offered) = offered
            && let Some(scope) = self.scopes.iter().find(|s| !offered.allows(s))
        {
            return Err(ClientError::UnknownScope(scope.as_str().to_owned()));
        }
        Ok(())
    }
}
