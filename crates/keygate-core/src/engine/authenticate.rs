//! Steps 2 to 6 of a request, in order: credentials, access, verification, principal and
//! authorization; then the meter (`charge.rs`). Each step's work lives in its own module:
//! classification in [`crate::credentials`], verification in `verify/`, principals in
//! [`crate::principal`].

use std::sync::Arc;

use time::OffsetDateTime;

use super::Keygate;
use super::grant::Grant;
use crate::access::{Access, AuthMethod};
use crate::audit::AuditEvent;
use crate::credentials::{Credentials, RequestHead, classify};
use crate::error::AuthError;
use crate::key::{KeyId, KeyKind};
use crate::principal::Principal;
use crate::scope::Scope;
use crate::transport::Client;

/// The scope that lets a key act on behalf of a user with `X-On-Behalf-Of`.
pub const IMPERSONATE_SCOPE: &str = "users:impersonate";

impl Keygate {
    /// Authenticates and authorizes one request against `access`: steps 2 to 7 of a
    /// request (credentials, access, verification, principal, authorization, meter).
    /// Adapters call [`Gate::admit`](crate::Gate::admit), which wraps this. On success the [`Grant`] holds the principal and the meter's headers;
    /// on failure the [`AuthError`] says what to answer.
    ///
    /// Every presented credential is verified and any invalid one fails the request. An
    /// admin route verifies only `x-client-secret` and consumes nothing. A one-time token
    /// is consumed only when every other check has passed, and given back by
    /// [`settle`](Self::settle) if the handler then answers 4xx.
    ///
    /// The headers are read before the returned future is created, so the future borrows
    /// only their text and is `Send` whatever the request type (axum's body is not
    /// `Sync`, actix's request not `Send`).
    pub fn authenticate<'a, H: RequestHead + ?Sized>(
        &'a self,
        head: &'a H,
        access: &'a Access,
    ) -> impl Future<Output = Result<Grant, AuthError>> + Send + 'a {
        let credentials = self.read_credentials(head);
        async move {
            match credentials {
                Ok(credentials) => self.authenticate_credentials(credentials, access).await,
                Err(error) => Err(self.refused(error)),
            }
        }
    }

    /// Like [`authenticate`](Self::authenticate) for routes where authentication is
    /// optional: `Ok(None)` when no credential at all was presented. A presented
    /// credential is still verified, and an invalid one still fails the request.
    pub fn authenticate_optional<'a, H: RequestHead + ?Sized>(
        &'a self,
        head: &'a H,
        access: &'a Access,
    ) -> impl Future<Output = Result<Option<Grant>, AuthError>> + Send + 'a {
        let credentials = self.read_credentials(head);
        async move {
            let credentials = credentials.map_err(|error| self.refused(error))?;
            if credentials.is_empty() {
                return Ok(None);
            }
            self.authenticate_credentials(credentials, access)
                .await
                .map(Some)
        }
    }

    /// [`authenticate`](Self::authenticate) for credentials already read with
    /// [`Credentials::parse_with`] (and this engine's
    /// [`credential_sources`](Self::credential_sources)).
    ///
    /// Every refusal is recorded in the audit trail ([`AuditEvent::Denied`], with the
    /// code only), and a 503 `auth_unavailable` is also logged at `error` with the
    /// backend's reason, so a fail-closed outage is visible. A request let through under
    /// impersonation is recorded as [`AuditEvent::Impersonation`]. Never a credential.
    pub async fn authenticate_credentials(
        &self,
        credentials: Credentials<'_>,
        access: &Access,
    ) -> Result<Grant, AuthError> {
        match self.decide(credentials, access).await {
            Ok(grant) => {
                let principal = grant.principal();
                if let (Some(actor), Some(user)) = (&principal.key_id, &principal.subject)
                    && principal.is_impersonating()
                {
                    self.audit(&AuditEvent::Impersonation {
                        actor,
                        user,
                        tenant: principal.tenant.as_deref(),
                        method: principal.method,
                    });
                }
                Ok(grant)
            }
            Err(error) => Err(self.refused(error)),
        }
    }

    /// Step 2: the credentials `head` presented, by syntax only, and who sent them
    /// ([`Client`], read only when the HTTPS requirement or the secret lock-out needs it).
    pub(crate) fn read_credentials<'h, H: RequestHead + ?Sized>(
        &'h self,
        head: &'h H,
    ) -> Result<Credentials<'h>, AuthError> {
        let credentials = Credentials::parse_with(head, &self.inner.sources)?;
        let needs_client = (self.inner.require_https && !credentials.is_empty())
            || (self.inner.lockouts.is_some() && credentials.client_secret().is_some());
        Ok(if needs_client {
            credentials.with_client(Client::of(head, &self.inner.proxies))
        } else {
            credentials
        })
    }

    /// Records a refusal (see [`authenticate_credentials`](Self::authenticate_credentials))
    /// and hands it on.
    pub(crate) fn refused(&self, error: AuthError) -> AuthError {
        if error.status() == 503 {
            let source = std::error::Error::source(&error).map(ToString::to_string);
            tracing::error!(
                code = error.code(),
                ?source,
                "keygate: refused, backend unavailable"
            );
        }
        self.audit(&AuditEvent::Denied {
            code: error.code(),
            status: error.status().as_u16(),
        });
        error
    }

    async fn decide(
        &self,
        credentials: Credentials<'_>,
        access: &Access,
    ) -> Result<Grant, AuthError> {
        if credentials.is_empty() {
            return Err(AuthError::MissingCredentials);
        }
        // Before anything is verified: a credential sent in the clear is refused as sent.
        self.https_rule(&credentials.client())?;
        let now = self.inner.clock.now();
        if access.is_admin() {
            return self
                .authenticate_admin(&credentials, access.is_operator_only(), now)
                .await;
        }

        // Syntax first: nothing below touches a store until every credential is
        // well-formed and of a kind this route accepts.
        let secret = credentials
            .client_secret()
            .map(|text| self.read_secret(text, credentials.client(), now))
            .transpose()?;
        let presented = classify(
            &self.inner.issuer,
            credentials.bearer(),
            credentials.api_key(),
        )?;
        if let Some(presented) = &presented {
            if !access.methods().contains(presented.method()) {
                return Err(AuthError::CredentialNotAccepted {
                    accepted: access.methods(),
                });
            }
            if access.requires_secret_keys() && presented.is_non_secret_key() {
                return Err(AuthError::SecretKeyRequired);
            }
        }

        let secret = match secret {
            Some(secret) => Some(
                self.verify_secret(secret, credentials.client(), now)
                    .await?,
            ),
            None => None,
        };
        let presented = match presented {
            Some(presented) => Some(self.verify_presented(presented, now).await?),
            None => None,
        };
        let mut verified = match (secret, presented) {
            (Some(secret), Some(other)) => {
                // The secret vouches for the caller; the other credential narrows who
                // acts. A tenant's key may only vouch for its own tenant.
                if !secret.principal.is_operator()
                    && secret.principal.tenant != other.principal.tenant
                {
                    return Err(AuthError::TenantMismatch);
                }
                other
            }
            (Some(only), None) | (None, Some(only)) => only,
            (None, None) => return Err(AuthError::MissingCredentials),
        };

        if let Some(user) = credentials.on_behalf_of() {
            impersonate(&mut verified.principal, user, access)?;
        }
        authorize(&verified.principal, access, self.inner.require_tenant)?;
        self.charge(verified, access, now).await
    }

    async fn authenticate_admin(
        &self,
        credentials: &Credentials<'_>,
        operator_only: bool,
        now: OffsetDateTime,
    ) -> Result<Grant, AuthError> {
        let Some(secret) = credentials.client_secret() else {
            // Something else was presented: refuse it unverified and unconsumed.
            return Err(AuthError::SecretKeyRequired);
        };
        let secret = self.read_secret(secret, credentials.client(), now)?;
        let verified = self
            .verify_secret(secret, credentials.client(), now)
            .await?;
        // A key with an owner acts for its owner only: never as an administrator.
        if verified.principal.is_owned() {
            return Err(AuthError::SecretKeyRequired);
        }
        if operator_only && !verified.principal.is_operator() {
            return Err(AuthError::OperatorRequired);
        }
        if credentials.on_behalf_of().is_some() {
            return Err(AuthError::ImpersonationForbidden);
        }
        Ok(Grant::new(verified.principal))
    }
}

/// `X-On-Behalf-Of`: only a key may act as a user — an `sk_` key, or a restricted or
/// custom key that lists `users:impersonate` by name (a wildcard such as `*` or `users:*`
/// does not grant it) — and only where the route allows it.
fn impersonate(principal: &mut Principal, user: &str, access: &Access) -> Result<(), AuthError> {
    // A key with an owner acts for its owner only, never for another user.
    let by_key = matches!(principal.method, AuthMethod::ApiKey | AuthMethod::SecretKey)
        && principal.key_id.is_some()
        && !principal.is_owned();
    if !access.allows_impersonation() || !by_key || !may_impersonate(principal) {
        return Err(AuthError::ImpersonationForbidden);
    }
    principal.actor = principal.key_id.as_ref().map(KeyId::to_shared);
    principal.subject = Some(Arc::from(user));
    Ok(())
}

/// Whether the key behind `principal` may impersonate: a secret key always; any other key
/// only when its scopes list [`IMPERSONATE_SCOPE`] itself.
fn may_impersonate(principal: &Principal) -> bool {
    principal.key_kind == Some(KeyKind::Secret)
        || principal.scopes.lists(&Scope::trusted(IMPERSONATE_SCOPE))
}

fn authorize(
    principal: &Principal,
    access: &Access,
    require_tenant: bool,
) -> Result<(), AuthError> {
    if let Some(required) = access.scope()
        && !principal.allows(required)
    {
        return Err(AuthError::InsufficientScope {
            required: required.clone(),
        });
    }
    if access.requires_tenant(require_tenant)
        && principal.tenant.is_none()
        && !principal.is_operator()
    {
        return Err(AuthError::TenantRequired);
    }
    Ok(())
}
