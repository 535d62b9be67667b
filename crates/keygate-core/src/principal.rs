//! Who acts, after verification: the [`Principal`].

use std::sync::Arc;

use serde::Serialize;
use time::OffsetDateTime;

use crate::access::AuthMethod;
use crate::error::AuthError;
use crate::jwt::UserJwt;
use crate::key::{Environment, KeyId, KeyKind, KeyRecord, Metadata, empty_metadata};
use crate::oauth::OAuthAccess;
use crate::scope::{Scope, ScopeSet};
use crate::token::{TokenKind, VerifiedToken};

/// The authenticated caller of a request. Holds identifiers, never secrets; cheap to
/// clone. Serializes to the contract's principal JSON.
///
/// ```
/// # use keygate_core::{Principal, AuthMethod};
/// fn describe(principal: &Principal) -> String {
///     match (principal.method, principal.tenant.as_deref()) {
///         (AuthMethod::SecretKey, None) => "the platform operator".to_owned(),
///         (_, Some(tenant)) => format!("someone of {tenant}"),
///         (_, None) => "a caller without a tenant".to_owned(),
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Principal {
    /// How the caller authenticated.
    pub method: AuthMethod,
    /// The tenant the caller acts in; `None` for the platform operator and for
    /// credentials without one.
    pub tenant: Option<Arc<str>>,
    /// Who acts: the key id for keys and the tokens they mint, the owner for a key with
    /// an owner, the user under impersonation or for user JWTs.
    pub subject: Option<Arc<str>>,
    /// The owner of the key behind the credential (a user id), for a key with an owner:
    /// it acts for that user only, in its tenant (the account `<tenant>/<owner>`). `null`
    /// in JSON otherwise.
    pub owner: Option<Arc<str>>,
    /// Under impersonation, the key that acts on the subject's behalf.
    pub actor: Option<Arc<str>>,
    /// The API key behind the credential (the key itself, or the key that minted the
    /// token).
    pub key_id: Option<KeyId>,
    /// What the caller may do.
    pub scopes: ScopeSet,
    /// Live or test, when the credential says.
    pub environment: Option<Environment>,
    /// The user reference a token was minted for.
    pub user_reference: Option<Arc<str>>,
    /// The catalogue a token was minted for.
    pub catalogue_id: Option<Arc<str>>,
    /// Free-form JSON from the key or token.
    pub metadata: Arc<Metadata>,
    /// The kind of API key behind the credential, if one is.
    #[serde(skip)]
    pub key_kind: Option<KeyKind>,
    /// The kind of issued token behind the credential, if one is.
    #[serde(skip)]
    pub token_kind: Option<TokenKind>,
    /// When the credential stops working: a token's expiry, or the earlier of a key's
    /// expiry and the end of its rotation grace. Tokens it mints end no later.
    #[serde(skip)]
    pub expires_at: Option<OffsetDateTime>,
}

impl Principal {
    /// A principal of `method` with nothing else set: no tenant, no subject, no scopes.
    /// For authenticators built outside keygate-core and for tests of handlers; the engine
    /// builds its own.
    pub fn new(method: AuthMethod) -> Self {
        Self {
            method,
            tenant: None,
            subject: None,
            owner: None,
            actor: None,
            key_id: None,
            scopes: ScopeSet::none(),
            environment: None,
            user_reference: None,
            catalogue_id: None,
            metadata: empty_metadata(),
            key_kind: None,
            token_kind: None,
            expires_at: None,
        }
    }

    /// The platform operator (the platform secret in `x-client-secret`): every scope, no
    /// tenant. For trusted tooling that holds the deployment's database and pepper and
    /// acts without a request, such as the `keygate` command line minting a token; a
    /// service gets this principal only from [`Keygate::authenticate`](crate::Keygate::authenticate).
    pub fn operator() -> Self {
        Self {
            scopes: ScopeSet::all(),
            ..Self::new(AuthMethod::SecretKey)
        }
    }

    /// Whether this is the platform operator, who acts for every tenant.
    pub fn is_operator(&self) -> bool {
        self.method == AuthMethod::SecretKey && self.key_id.is_none()
    }

    /// Whether the caller may manage `tenant`'s keys and resources: the operator may
    /// manage every tenant, anyone else only their own.
    pub fn may_manage(&self, tenant: Option<&str>) -> bool {
        self.is_operator() || (self.tenant.is_some() && self.tenant.as_deref() == tenant)
    }

    /// The tenant an admin request acts in, for an application's own tenant-scoped
    /// resources: the operator names any tenant (or none); anyone else acts in their
    /// own tenant (the default when `requested` is `None`), and naming another — or
    /// having none — is 403 `tenant_forbidden`. Keys themselves go through
    /// [`Keygate::admin`](crate::Keygate::admin), which applies this rule and the others.
    ///
    /// ```
    /// use keygate_core::{AuthMethod, Principal};
    ///
    /// let mut acme = Principal::new(AuthMethod::SecretKey);
    /// acme.key_id = Some(keygate_core::key::KeyId::new("key_1"));
    /// acme.tenant = Some("acme".into());
    /// assert_eq!(acme.acting_tenant(None).unwrap(), Some("acme"));
    /// assert_eq!(acme.acting_tenant(Some("acme")).unwrap(), Some("acme"));
    /// assert_eq!(acme.acting_tenant(Some("globex")).unwrap_err().code(), "tenant_forbidden");
    /// assert_eq!(Principal::operator().acting_tenant(Some("globex")).unwrap(), Some("globex"));
    /// ```
    pub fn acting_tenant<'a>(
        &'a self,
        requested: Option<&'a str>,
    ) -> Result<Option<&'a str>, AuthError> {
        if self.is_operator() {
            return Ok(requested);
        }
        match (self.tenant.as_deref(), requested) {
            (Some(own), None) => Ok(Some(own)),
            (Some(own), Some(requested)) if own == requested => Ok(Some(own)),
            _ => Err(AuthError::TenantForbidden),
        }
    }

    /// Whether a token bound to a catalogue may read catalogue `id`: a principal minted
    /// with a `catalogueId` reads only that catalogue; one without reads any its scopes
    /// allow. A route serving catalogue `id` answers a `false` with 403
    /// `insufficient_scope`, as the contract says.
    ///
    /// ```
    /// use keygate_core::{AuthMethod, Principal};
    ///
    /// let mut bound = Principal::new(AuthMethod::Token);
    /// bound.catalogue_id = Some("cat_abc".into());
    /// assert!(bound.may_read_catalogue("cat_abc"));
    /// assert!(!bound.may_read_catalogue("cat_other"));
    /// assert!(Principal::new(AuthMethod::Token).may_read_catalogue("cat_other"));
    /// ```
    pub fn may_read_catalogue(&self, id: &str) -> bool {
        self.catalogue_id.as_deref().is_none_or(|bound| bound == id)
    }

    /// Whether the caller's scopes allow `scope`.
    pub fn allows(&self, scope: &Scope) -> bool {
        self.scopes.allows(scope)
    }

    /// Whether the credential is a key with an owner (or stands in for one): it acts for
    /// its owner only, so admin, minting and impersonation refuse it.
    pub fn is_owned(&self) -> bool {
        self.owner.is_some()
    }

    /// Whether the caller acts on behalf of a user (impersonation).
    pub fn is_impersonating(&self) -> bool {
        self.actor.is_some()
    }
}

/// Step 5: the principal each kind of verified credential makes.
impl Principal {
    /// An API key's principal: its tenant, id, scopes, environment and metadata.
    pub(crate) fn of_key(record: &KeyRecord) -> Self {
        Self {
            method: AuthMethod::ApiKey,
            tenant: record.tenant.clone(),
            subject: Some(
                record
                    .owner
                    .clone()
                    .unwrap_or_else(|| record.id.to_shared()),
            ),
            owner: record.owner.clone(),
            actor: None,
            key_id: Some(record.id.clone()),
            scopes: record.granted_scopes(),
            environment: Some(record.environment),
            user_reference: None,
            catalogue_id: None,
            metadata: Arc::clone(&record.metadata),
            key_kind: Some(record.kind),
            token_kind: None,
            expires_at: match (record.expires_at, record.valid_until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        }
    }

    /// A user JWT's principal: the user as subject, the claimed tenant and scopes (none
    /// when the token names none).
    pub(crate) fn of_user(user: UserJwt) -> Self {
        Self {
            tenant: user.tenant,
            subject: Some(user.subject),
            scopes: user.scopes.unwrap_or_else(ScopeSet::none),
            expires_at: Some(user.expires_at),
            ..Self::new(AuthMethod::Jwt)
        }
    }

    /// A publishable key with a user JWT: the key's tenant, environment and metadata, the
    /// user as subject and the user's scopes (a publishable key grants nothing by itself).
    pub(crate) fn of_pair(record: &KeyRecord, user: UserJwt) -> Self {
        let key = Self::of_key(record);
        Self {
            method: AuthMethod::PublishableKeyJwt,
            subject: Some(user.subject),
            scopes: user.scopes.unwrap_or_else(ScopeSet::none),
            expires_at: Some(
                key.expires_at
                    .map_or(user.expires_at, |at| at.min(user.expires_at)),
            ),
            ..key
        }
    }

    /// An OAuth access token's principal: the user as subject, the user's tenant, the
    /// granted scopes and `metadata.client_id`; always live.
    pub(crate) fn of_oauth(access: OAuthAccess) -> Self {
        let mut metadata = Metadata::new();
        metadata.insert(
            "client_id".to_owned(),
            serde_json::Value::String(access.client_id.to_string()),
        );
        Self {
            tenant: access.tenant,
            subject: Some(access.subject),
            scopes: access.scopes,
            environment: Some(Environment::Live),
            metadata: Arc::new(metadata),
            expires_at: Some(access.expires_at),
            ..Self::new(AuthMethod::OAuth)
        }
    }

    /// An issued token's principal: the context it was minted with.
    pub(crate) fn of_token(token: VerifiedToken, method: AuthMethod) -> Self {
        Self {
            method,
            tenant: token.tenant,
            subject: token.key_id.as_ref().map(KeyId::to_shared),
            owner: None,
            actor: None,
            key_id: token.key_id,
            scopes: token.scopes,
            environment: token.environment,
            user_reference: token.user_reference,
            catalogue_id: token.catalogue_id,
            metadata: token.metadata,
            key_kind: None,
            token_kind: Some(token.kind),
            expires_at: Some(token.expires_at),
        }
    }
}
