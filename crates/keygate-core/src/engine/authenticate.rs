//! Steps 2 to 7 of a request: credentials, access, verification, principal,
//! authorization and metering.

use std::sync::Arc;

use time::OffsetDateTime;

use super::Keygate;
use super::grant::{Debit, Grant};
use crate::access::{Access, AuthMethod};
use crate::audit::AuditEvent;
use crate::credentials::{Credentials, RequestHead};
use crate::error::AuthError;
use crate::jwt::UserJwt;
use crate::key::{KeyId, KeyKind, KeyRecord, KeyStatus, ParsedKey};
use crate::meter::{
    Charge, CreditAccount, Limit, MeterAccount, MeterDecision, MeterRequest, OneTimeUse, Settlement,
};
use crate::principal::Principal;
use crate::scope::{Scope, ScopeSet};
use crate::token::{CLIENT_TOKEN_PREFIX, TokenIssuer, TokenKind, VerifiedToken};

/// The scope that lets a key act on behalf of a user with `X-On-Behalf-Of`.
pub const IMPERSONATE_SCOPE: &str = "users:impersonate";

/// What `x-client-secret` carried, by syntax.
enum SecretCredential<'a> {
    Platform(&'a str),
    TenantKey(ParsedKey<'a>),
}

/// What `Authorization` and `X-API-Key` carried, by syntax.
enum Presented<'a> {
    ApiKey(ParsedKey<'a>),
    Token(&'a str),
    ClientToken(&'a str),
    UserJwt(&'a str),
    PublishableWithJwt { key: ParsedKey<'a>, jwt: &'a str },
}

impl Presented<'_> {
    /// Whether this is a key of another kind than secret, by its prefix (nothing is
    /// verified yet). Tokens and JWTs are not keys: the route's methods decide on them.
    fn is_non_secret_key(&self) -> bool {
        match self {
            Self::ApiKey(key) => key.kind() != KeyKind::Secret,
            Self::PublishableWithJwt { .. } => true,
            Self::Token(_) | Self::ClientToken(_) | Self::UserJwt(_) => false,
        }
    }

    fn method(&self) -> AuthMethod {
        match self {
            Self::ApiKey(_) => AuthMethod::ApiKey,
            Self::Token(_) => AuthMethod::Token,
            Self::ClientToken(_) => AuthMethod::ClientToken,
            Self::UserJwt(_) => AuthMethod::Jwt,
            Self::PublishableWithJwt { .. } => AuthMethod::PublishableKeyJwt,
        }
    }
}

/// A verified credential: who acts, and what it needs metered.
struct Verified {
    principal: Principal,
    /// The key whose rate limit and credits apply.
    key: Option<Arc<KeyRecord>>,
    /// A one-time token to consume.
    one_time: Option<(String, OffsetDateTime)>,
}

impl Keygate {
    /// Authenticates and authorizes one request against `access`: steps 2 to 7 of
    /// DESIGN.md. On success the [`Grant`] holds the principal and the meter's headers;
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
        let credentials = Credentials::parse(head);
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
        let credentials = Credentials::parse(head);
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
    /// [`Credentials::parse`].
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

    /// Records a refusal (see [`authenticate_credentials`](Self::authenticate_credentials))
    /// and hands it on.
    fn refused(&self, error: AuthError) -> AuthError {
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
            status: error.status(),
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
        let now = self.inner.clock.now();
        if access.is_admin() {
            return self.authenticate_admin(&credentials, now).await;
        }

        // Syntax first: nothing below touches a store until every credential is
        // well-formed and of a kind this route accepts.
        let secret = credentials
            .client_secret()
            .map(classify_secret)
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
            Some(secret) => Some(self.verify_secret(secret, now).await?),
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
        now: OffsetDateTime,
    ) -> Result<Grant, AuthError> {
        let Some(secret) = credentials.client_secret() else {
            // Something else was presented: refuse it unverified and unconsumed.
            return Err(AuthError::SecretKeyRequired);
        };
        let verified = self.verify_secret(classify_secret(secret)?, now).await?;
        if credentials.on_behalf_of().is_some() {
            return Err(AuthError::ImpersonationForbidden);
        }
        Ok(Grant::new(verified.principal))
    }

    async fn verify_secret(
        &self,
        secret: SecretCredential<'_>,
        now: OffsetDateTime,
    ) -> Result<Verified, AuthError> {
        match secret {
            SecretCredential::Platform(text) => {
                let valid = self
                    .inner
                    .platform_secret
                    .as_ref()
                    .is_some_and(|digest| self.inner.hasher.verify(text, digest));
                if !valid {
                    return Err(AuthError::InvalidSecretKey);
                }
                Ok(Verified {
                    principal: Principal::operator(),
                    key: None,
                    one_time: None,
                })
            }
            SecretCredential::TenantKey(parsed) => {
                let record = self
                    .find_key(&parsed)
                    .await?
                    .filter(|record| record.kind == KeyKind::Secret)
                    .ok_or(AuthError::InvalidSecretKey)?;
                check_status(&record, now)?;
                let mut principal = key_principal(&record);
                principal.method = AuthMethod::SecretKey;
                Ok(Verified {
                    principal,
                    key: Some(record),
                    one_time: None,
                })
            }
        }
    }

    async fn verify_presented(
        &self,
        presented: Presented<'_>,
        now: OffsetDateTime,
    ) -> Result<Verified, AuthError> {
        match presented {
            Presented::ApiKey(parsed) => {
                let record = self.verified_key(&parsed, now).await?;
                if record.kind == KeyKind::Publishable {
                    return Err(AuthError::UserTokenRequired);
                }
                Ok(Verified {
                    principal: key_principal(&record),
                    key: Some(record),
                    one_time: None,
                })
            }
            Presented::Token(text) => {
                let token = self.inner.issuer.verify(text, now)?;
                let one_time = (token.kind == TokenKind::OneTime)
                    .then(|| (token.id.clone(), token.expires_at));
                Ok(Verified {
                    principal: token_principal(token, AuthMethod::Token),
                    key: None,
                    one_time,
                })
            }
            Presented::ClientToken(text) => {
                let token = self.inner.issuer.verify(text, now)?;
                // Charged to, and living no longer than, the key that minted it.
                let parent = match &token.key_id {
                    Some(id) => {
                        let record = self
                            .inner
                            .keys
                            .get(id)
                            .await
                            .map_err(AuthError::AuthUnavailable)?
                            .ok_or(AuthError::InvalidToken)?;
                        check_status(&record, now)?;
                        Some(record)
                    }
                    None => None,
                };
                Ok(Verified {
                    principal: token_principal(token, AuthMethod::ClientToken),
                    key: parent,
                    one_time: None,
                })
            }
            Presented::UserJwt(text) => {
                let user = self.verify_user_jwt(text, now).await?;
                Ok(Verified {
                    principal: jwt_principal(user),
                    key: None,
                    one_time: None,
                })
            }
            Presented::PublishableWithJwt { key, jwt } => {
                // The key names the tenant; the JWT names the user. Both must be valid.
                let record = self.verified_key(&key, now).await?;
                if record.kind != KeyKind::Publishable {
                    return Err(AuthError::InvalidApiKey);
                }
                let user = self.verify_user_jwt(jwt, now).await?;
                if user.tenant.is_some() && user.tenant != record.tenant {
                    return Err(AuthError::TenantMismatch);
                }
                Ok(Verified {
                    principal: pair_principal(&record, user),
                    key: Some(record),
                    one_time: None,
                })
            }
        }
    }

    /// A user JWT's claims, from the configured verifier; without one, user JWTs are
    /// refused (`invalid_token`), as for a platform that configured no issuer.
    async fn verify_user_jwt(&self, text: &str, now: OffsetDateTime) -> Result<UserJwt, AuthError> {
        match &self.inner.jwt {
            Some(verifier) => verifier.verify(text, now).await,
            None => Err(AuthError::InvalidToken),
        }
    }

    /// The active record of a presented key, or why there is none.
    async fn verified_key(
        &self,
        parsed: &ParsedKey<'_>,
        now: OffsetDateTime,
    ) -> Result<Arc<KeyRecord>, AuthError> {
        let record = self
            .find_key(parsed)
            .await?
            .ok_or(AuthError::InvalidApiKey)?;
        check_status(&record, now)?;
        Ok(record)
    }

    /// Looks a key up by its digest under each known pepper (current first).
    async fn find_key(&self, parsed: &ParsedKey<'_>) -> Result<Option<Arc<KeyRecord>>, AuthError> {
        for digest in self.inner.hasher.digests(parsed.expose()) {
            let found = self
                .inner
                .keys
                .find_by_hash(&digest)
                .await
                .map_err(AuthError::AuthUnavailable)?;
            if let Some(record) = found {
                // Defence in depth: a store must never answer with another key's record.
                let genuine = record.digest.ct_eq(&digest) && record.prefix == parsed.prefix();
                return Ok(genuine.then_some(record));
            }
        }
        Ok(None)
    }

    async fn charge(
        &self,
        verified: Verified,
        access: &Access,
        now: OffsetDateTime,
    ) -> Result<Grant, AuthError> {
        let key = verified.key.as_deref();
        // A key with credits has its balance read on every request (for
        // `X-Credits-Remaining`), and debited when the route costs something.
        let debit = key.and_then(|key| {
            Some(Debit {
                account: key.lineage.clone(),
                cost: access.credit_cost(),
                allowance: key.credits?,
            })
        });
        // The key's rate limit, counted against its lineage.
        let charge = key.and_then(|key| {
            Some(Charge {
                account: MeterAccount::key_lineage(key.lineage.as_str()),
                limit: Limit::Rate(key.rate_limit?),
            })
        });
        let request = MeterRequest {
            now,
            charges: charge.as_slice(),
            credits: debit.as_ref().map(Debit::as_debit),
            one_time: verified
                .one_time
                .as_ref()
                .map(|(token_id, expires_at)| OneTimeUse {
                    token_id,
                    expires_at: *expires_at,
                }),
        };
        let mut grant = Grant::new(verified.principal);
        if request.is_empty() {
            return Ok(grant);
        }
        match self
            .inner
            .meter
            .meter(&request)
            .await
            .map_err(AuthError::AuthUnavailable)?
        {
            MeterDecision::Allowed {
                tightest,
                credits_remaining,
            } => {
                grant.rate_limit = tightest.map(|tightest| tightest.status);
                grant.credits_remaining = credits_remaining;
                grant.debit = debit.filter(|debit| debit.cost > 0);
                grant.one_time = verified.one_time.map(|(token_id, _)| token_id);
                Ok(grant)
            }
            MeterDecision::Limited { charge, status } => {
                if let Some(Limit::Window(_)) = request.charges.get(charge).map(|c| c.limit) {
                    return Err(AuthError::QuotaExceeded {
                        retry_after_secs: status.retry_after,
                    });
                }
                // The meter stopped at the limit, before the balance; a key with credits
                // still shows it (one read, and only on this refusal). A failed read
                // leaves the header out rather than turning the 429 into a 503.
                let credits_remaining = match &debit {
                    Some(debit) => self
                        .inner
                        .meter
                        .credits(
                            CreditAccount::KeyLineage(debit.account.as_str()),
                            debit.allowance,
                        )
                        .await
                        .ok(),
                    None => None,
                };
                Err(AuthError::RateLimited {
                    status,
                    credits_remaining,
                })
            }
            MeterDecision::InsufficientCredits {
                remaining,
                tightest,
            } => Err(AuthError::InsufficientCredits {
                remaining,
                rate_limit: tightest.map(|tightest| tightest.status),
            }),
            MeterDecision::AlreadyUsed => Err(AuthError::TokenUsed),
        }
    }

    /// Settles a grant once the response status is known. Adapters call this (or
    /// [`finish`](Self::finish)) before writing [`Grant::headers`], so
    /// `X-Credits-Remaining` shows a refund.
    ///
    /// - **Any 4xx or 5xx** (a bad body, a refused request, a failed handler) gets its
    ///   credits back, as "a request rejected for any reason costs no credits".
    /// - **A 4xx** also gives back a one-time token's use: the request was refused, so
    ///   the token was not spent ("a ONE_TIME token is consumed only by a request it is
    ///   allowed to serve"), and it can be used again until it expires. A token route
    ///   whose handler answers 4xx must therefore not have acted.
    /// - **A 5xx** leaves the token used: a handler that failed may have acted before it
    ///   failed, and a single-use token must never be replayable after side effects.
    /// - Any other status changes nothing.
    ///
    /// Each is done at most once per grant. If the meter fails, the handler's response
    /// still stands (a failed settlement never turns an answered request into an
    /// error): log the error; the grant keeps what was not given back (credits and
    /// token are given back in one meter call, both or neither), so the call can be
    /// retried.
    pub async fn settle(&self, grant: &mut Grant, status: u16) -> Result<(), AuthError> {
        self.settle_grant(grant, Some(status)).await
    }

    /// What an adapter does once the handler has answered: [`settle`](Self::settle) with
    /// the response status, or, when the service failed without an answer (`None`),
    /// treat it as a 5xx: refund the credits and leave a one-time token used (the
    /// service may have acted). A failed settlement leaves the answer standing; it is
    /// logged at `warn` (code and reason, never a credential) so an operator can
    /// reconcile, and not retried. Then copy [`Grant::headers`] onto the response.
    pub async fn finish(&self, grant: &mut Grant, status: Option<u16>) {
        if let Err(error) = self.settle_grant(grant, status).await {
            tracing::warn!(
                code = error.code(),
                %error,
                "keygate: giving back credits or a one-time token's use failed"
            );
        }
    }

    /// [`settle`](Self::settle): one [`Settlement`] with the credits (any 4xx or 5xx) and
    /// the one-time token (a 4xx). `None` is a service that failed without an answer,
    /// settled as a 5xx.
    async fn settle_grant(&self, grant: &mut Grant, status: Option<u16>) -> Result<(), AuthError> {
        let failed = status.is_none_or(|status| status >= 400);
        let refused = status.is_some_and(|status| (400..500).contains(&status));
        self.give_back(grant, failed, refused).await
    }

    /// Gives back the grant's credits (`credits`) and its one-time token's use
    /// (`one_time`) in one meter call, each once per grant. If the meter fails, the
    /// grant keeps both, so the call can be retried.
    async fn give_back(
        &self,
        grant: &mut Grant,
        credits: bool,
        one_time: bool,
    ) -> Result<(), AuthError> {
        let settlement = Settlement {
            credits: grant
                .debit
                .as_ref()
                .filter(|_| credits)
                .map(Debit::as_debit),
            one_time: grant.one_time.as_deref().filter(|_| one_time),
        };
        if settlement.is_empty() {
            return Ok(());
        }
        self.inner
            .meter
            .settle(&settlement)
            .await
            .map_err(AuthError::AuthUnavailable)?;
        let (refunded, released) = (settlement.credits.is_some(), settlement.one_time.is_some());
        if refunded && let Some(debit) = grant.debit.take() {
            grant.credits_remaining = grant
                .credits_remaining
                .map(|left| left.saturating_add(debit.cost));
        }
        if released {
            grant.one_time = None;
        }
        Ok(())
    }

    /// Gives back the credits an allowed request took, whatever the status (a one-time
    /// token stays used: only [`settle`](Self::settle) gives that back, for a 4xx).
    /// Calling it again for the same grant does nothing. If the meter fails, the grant
    /// keeps its debit so the refund can be retried.
    pub async fn refund(&self, grant: &mut Grant) -> Result<(), AuthError> {
        self.give_back(grant, true, false).await
    }
}

/// `x-client-secret` holds the platform secret or a tenant's `sk_` key. A well-formed
/// `pk_` or `rk_` key there is refused as not a secret, unverified; anything else is
/// taken for the platform secret (which is never shaped like those keys).
fn classify_secret(text: &str) -> Result<SecretCredential<'_>, AuthError> {
    if text.starts_with("sk_") {
        return ParsedKey::parse(text)
            .map(SecretCredential::TenantKey)
            .map_err(|_| AuthError::InvalidSecretKey);
    }
    // Only text starting like those keys is parsed: the platform secret never does, so
    // the admin check does no more work than it did.
    let key_shaped = text.starts_with("pk_") || text.starts_with("rk_");
    if key_shaped && ParsedKey::parse(text).is_ok() {
        return Err(AuthError::SecretKeyRequired);
    }
    Ok(SecretCredential::Platform(text))
}

fn classify<'a>(
    issuer: &TokenIssuer,
    bearer: Option<&'a str>,
    api_key: Option<&'a str>,
) -> Result<Option<Presented<'a>>, AuthError> {
    Ok(match (bearer, api_key) {
        (None, None) => None,
        (Some(bearer), None) => Some(classify_bearer(issuer, bearer)?),
        (None, Some(key)) => Some(classify_api_key(key)?),
        // One value in both headers is one credential; the bearer rules read it whole.
        (Some(bearer), Some(key)) if bearer == key => Some(classify_bearer(issuer, bearer)?),
        (Some(bearer), Some(key)) => {
            match (classify_bearer(issuer, bearer)?, classify_api_key(key)?) {
                (Presented::UserJwt(jwt), Presented::ApiKey(key))
                    if key.kind() == KeyKind::Publishable =>
                {
                    Some(Presented::PublishableWithJwt { key, jwt })
                }
                _ => {
                    return Err(AuthError::invalid_request(
                        "present one credential in Authorization or X-API-Key, or a publishable \
                     key in X-API-Key with a user token in Authorization",
                    ));
                }
            }
        }
    })
}

fn classify_bearer<'a>(issuer: &TokenIssuer, text: &'a str) -> Result<Presented<'a>, AuthError> {
    if text.starts_with(CLIENT_TOKEN_PREFIX) {
        Ok(Presented::ClientToken(text))
    } else if text.contains('.') {
        Ok(if issuer.recognizes(text) {
            Presented::Token(text)
        } else {
            Presented::UserJwt(text)
        })
    } else if text.contains('_') {
        ParsedKey::parse(text)
            .map(Presented::ApiKey)
            .map_err(|_| AuthError::InvalidApiKey)
    } else {
        Err(AuthError::InvalidToken)
    }
}

fn classify_api_key(text: &str) -> Result<Presented<'_>, AuthError> {
    if text.starts_with(CLIENT_TOKEN_PREFIX) {
        Ok(Presented::ClientToken(text))
    } else {
        ParsedKey::parse(text)
            .map(Presented::ApiKey)
            .map_err(|_| AuthError::InvalidApiKey)
    }
}

fn check_status(record: &KeyRecord, now: OffsetDateTime) -> Result<(), AuthError> {
    match record.status(now) {
        KeyStatus::Active => Ok(()),
        KeyStatus::Revoked => Err(AuthError::KeyRevoked),
        KeyStatus::Expired => Err(AuthError::KeyExpired),
    }
}

fn key_principal(record: &KeyRecord) -> Principal {
    Principal {
        method: AuthMethod::ApiKey,
        tenant: record.tenant.clone(),
        subject: Some(record.id.to_shared()),
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

fn jwt_principal(user: UserJwt) -> Principal {
    Principal {
        tenant: user.tenant,
        subject: Some(user.subject),
        scopes: user.scopes.unwrap_or_else(ScopeSet::none),
        expires_at: Some(user.expires_at),
        ..Principal::new(AuthMethod::Jwt)
    }
}

/// A publishable key with a user JWT: the key's tenant, environment and metadata, the
/// user as subject and the user's scopes (a publishable key grants nothing by itself).
fn pair_principal(record: &KeyRecord, user: UserJwt) -> Principal {
    let key = key_principal(record);
    Principal {
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

fn token_principal(token: VerifiedToken, method: AuthMethod) -> Principal {
    Principal {
        method,
        tenant: token.tenant,
        subject: token.key_id.as_ref().map(KeyId::to_shared),
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

/// `X-On-Behalf-Of`: only a key (an `sk_` key, or one with `users:impersonate`) may act
/// as a user, and only where the route allows it.
fn impersonate(principal: &mut Principal, user: &str, access: &Access) -> Result<(), AuthError> {
    let by_key = matches!(principal.method, AuthMethod::ApiKey | AuthMethod::SecretKey)
        && principal.key_id.is_some();
    if !access.allows_impersonation()
        || !by_key
        || !principal.allows(&Scope::trusted(IMPERSONATE_SCOPE))
    {
        return Err(AuthError::ImpersonationForbidden);
    }
    principal.actor = principal.key_id.as_ref().map(KeyId::to_shared);
    principal.subject = Some(Arc::from(user));
    Ok(())
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
