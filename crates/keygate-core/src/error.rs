//! Every way authentication or authorization can fail, and how each failure is rendered.
//!
//! [`AuthError`] carries a stable [`code`](AuthError::code) and HTTP
//! [`status`](AuthError::status), renders itself as an RFC 9457 `application/problem+json`
//! body ([`problem_json`](AuthError::problem_json)) and as the response headers the contract
//! names ([`headers`](AuthError::headers)): `WWW-Authenticate` per RFC 6750, `Retry-After`
//! and the rate-limit headers. Adapters copy those out; they decide nothing.
//!
//! No variant holds a presented or stored secret, so neither `Display` nor the rendered
//! body and headers can leak one. [`AuthError::AuthUnavailable`] keeps the store's error as
//! its `source()` (and in `Debug`) for logs: store implementations must keep secrets such
//! as connection-string passwords out of their errors.

use std::borrow::Cow;

use serde::Serialize;

use crate::access::Methods;
use crate::meter::{QUOTA_LIMIT, QUOTA_REMAINING, RateLimitStatus, retry_wait};
use crate::scope::Scope;
use crate::store::StoreError;

/// The realm named in every `WWW-Authenticate` challenge.
pub const REALM: &str = "keygate";

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A failure to authenticate or authorize a request.
///
/// ```
/// use keygate_core::AuthError;
///
/// let err = AuthError::TokenUsed;
/// assert_eq!(err.code(), "token_used");
/// assert_eq!(err.status(), 401);
/// assert_eq!(
///     err.www_authenticate().as_deref(),
///     Some(r#"Bearer realm="keygate", error="invalid_token""#)
/// );
/// let body: serde_json::Value = serde_json::from_str(&err.problem_json()).unwrap();
/// assert_eq!(body["type"], "urn:keygate:error:token_used");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// 400: a credential header is malformed or repeated, or a request field is invalid.
    /// The text says which header or field, never its value.
    #[error("invalid request: {0}")]
    InvalidRequest(Cow<'static, str>),
    /// 401: no credential was presented.
    #[error("no credentials were presented")]
    MissingCredentials,
    /// 401: `x-client-secret` is neither the platform secret nor an active `sk_` key.
    #[error("the x-client-secret value is not valid")]
    InvalidSecretKey,
    /// 401: an API key is malformed, has a bad checksum, or is unknown.
    #[error("the API key is not valid")]
    InvalidApiKey,
    /// 401: a known API key that has been revoked.
    #[error("the API key has been revoked")]
    KeyRevoked,
    /// 401: a known API key past its expiry or its rotation grace period.
    #[error("the API key has expired")]
    KeyExpired,
    /// 401: a token with a bad signature, issuer, audience or shape.
    #[error("the token is not valid")]
    InvalidToken,
    /// 401: a token past its expiry.
    #[error("the token has expired")]
    TokenExpired,
    /// 401: a one-time token presented again.
    #[error("this one-time token has already been used")]
    TokenUsed,
    /// 401: a publishable key presented without the user JWT it needs.
    #[error("a publishable key needs a user token in Authorization")]
    UserTokenRequired,
    /// 402: the key has fewer credits than the route costs.
    #[error("the key has {remaining} credits, fewer than this request costs")]
    InsufficientCredits {
        /// Credits left on the key.
        remaining: u64,
        /// The key's rate limit as it stands (the refused request took no slot).
        rate_limit: Option<RateLimitStatus>,
    },
    /// 403: an admin route reached without `x-client-secret`.
    #[error("this route needs the platform secret or an sk_ key in x-client-secret")]
    SecretKeyRequired,
    /// 403: an action only the platform secret may take, attempted with a tenant's key:
    /// anything that creates credits (top-ups, `credits` at key creation) and operator-only
    /// routes ([`Access::operator`](crate::Access::operator)). Checked before
    /// [`ExpiringCredential`](Self::ExpiringCredential).
    #[error(
        "only the platform secret may do this (it creates credits or is operator-only); send the platform secret in x-client-secret"
    )]
    OperatorRequired,
    /// 403: an admin change (create, revoke, rotate, top up) by a key in its rotation
    /// grace, or a rotation by a key with an expiry: a leaked key that was rotated cannot
    /// lock out its successor, and no key hands out a key that outlives it.
    #[error(
        "a key in its rotation grace cannot change keys, and a key that expires cannot rotate keys; use the key's successor, a key without an expiry, or the platform secret"
    )]
    ExpiringCredential,
    /// 403: a tenant's key acting on another tenant (or on keys of no tenant).
    #[error(
        "a tenant's secret key manages that tenant only; use the platform secret for other tenants"
    )]
    TenantForbidden,
    /// 403: a tenant's test key creating or changing a live key.
    #[error("a test key cannot create or change live keys; use a live key or the platform secret")]
    EnvironmentForbidden,
    /// 403: the credential is valid but lacks the route's scope.
    #[error("this request needs the scope {required}")]
    InsufficientScope {
        /// The scope the route needs.
        required: Scope,
    },
    /// 403: the route does not accept this kind of credential.
    #[error("this route does not accept this kind of credential; it accepts: {accepted}")]
    CredentialNotAccepted {
        /// The kinds of credential the route accepts.
        accepted: Methods,
    },
    /// 403: a user credential without a tenant on a route that needs one.
    #[error("this route needs a credential that belongs to a tenant")]
    TenantRequired,
    /// 403: two credentials from different tenants.
    #[error("the credentials presented belong to different tenants")]
    TenantMismatch,
    /// 403: `X-On-Behalf-Of` from a caller not allowed to impersonate, or on a route that
    /// never allows it.
    #[error("this credential may not act on behalf of a user here")]
    ImpersonationForbidden,
    /// 403: the credential cookie came with a request whose `Origin` header is missing or
    /// not one of the allowed origins. Browsers attach cookies to cross-site requests
    /// too; a page of another origin cannot use them. Send the request from an allowed
    /// origin, or present the credential in a header instead.
    #[error(
        "the credential cookie is accepted only from the allowed origins; send the request from one of them, or present the credential in a header"
    )]
    OriginForbidden,
    /// 403: a credential came over plain HTTP while the engine requires HTTPS
    /// ([`KeygateBuilder::require_https`](crate::KeygateBuilder::require_https)). It was
    /// not verified; treat it as exposed and rotate it if it is a real secret.
    #[error(
        "this API accepts credentials over HTTPS only; send the request to the https:// URL, and rotate the credential if it is a real secret"
    )]
    HttpsRequired,
    /// 409: the account already holds
    /// [`MAX_ACCOUNT_KEYS`](crate::account::MAX_ACCOUNT_KEYS) active keys, so
    /// self-service creates no other.
    #[error(
        "this account already has the most active keys it may hold (10); revoke one before creating another"
    )]
    KeyLimitReached,
    /// 429: too many failed `x-client-secret` checks from this client address (see
    /// [`lockout`](crate::lockout)); its `x-client-secret` attempts are refused, unchecked,
    /// until the window ends.
    #[error("too many failed x-client-secret checks from this address; retry in {} s", retry_wait(*.retry_after_secs))]
    SecretLockedOut {
        /// Seconds until the window ends (at least 1).
        retry_after_secs: u64,
    },
    /// 429: the key's rate limit is used up.
    #[error("rate limit exceeded; retry in {} s", .status.retry_after_secs())]
    RateLimited {
        /// The limit as it stands.
        status: RateLimitStatus,
        /// The key's credit balance, for a key with credits (`X-Credits-Remaining`, which
        /// every response for such a key carries).
        credits_remaining: Option<u64>,
    },
    /// 429: the user's quota for the period is used up.
    #[error("quota used up; retry in {} s", retry_wait(*.retry_after_secs))]
    QuotaExceeded {
        /// Seconds until the quota resets (at least 1).
        retry_after_secs: u64,
        /// The quota's count per period, for `X-Quota-Limit` (with `X-Quota-Remaining:
        /// 0`); `None` leaves both headers out.
        limit: Option<u32>,
    },
    /// 500: keygate is set up wrong for this request (two keygate layers on one request
    /// path, say). The text says what to fix; it names no credential.
    #[error("keygate is misconfigured: {0}")]
    Misconfigured(Cow<'static, str>),
    /// 503: a store or counter backend did not answer. keygate fails closed: the request is
    /// refused, never let through.
    #[error("the authentication backend is unavailable")]
    AuthUnavailable(#[source] StoreError),
}

impl AuthError {
    /// Shorthand for [`AuthError::InvalidRequest`].
    pub fn invalid_request(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidRequest(detail.into())
    }

    /// The stable machine-readable code, as in the contract's table.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::MissingCredentials => "missing_credentials",
            Self::InvalidSecretKey => "invalid_secret_key",
            Self::InvalidApiKey => "invalid_api_key",
            Self::KeyRevoked => "key_revoked",
            Self::KeyExpired => "key_expired",
            Self::InvalidToken => "invalid_token",
            Self::TokenExpired => "token_expired",
            Self::TokenUsed => "token_used",
            Self::UserTokenRequired => "user_token_required",
            Self::InsufficientCredits { .. } => "insufficient_credits",
            Self::SecretKeyRequired => "secret_key_required",
            Self::OperatorRequired => "operator_required",
            Self::ExpiringCredential => "expiring_credential",
            Self::TenantForbidden => "tenant_forbidden",
            Self::EnvironmentForbidden => "environment_forbidden",
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::CredentialNotAccepted { .. } => "credential_not_accepted",
            Self::TenantRequired => "tenant_required",
            Self::TenantMismatch => "tenant_mismatch",
            Self::ImpersonationForbidden => "impersonation_forbidden",
            Self::OriginForbidden => "origin_forbidden",
            Self::HttpsRequired => "https_required",
            Self::KeyLimitReached => "key_limit_reached",
            Self::RateLimited { .. } | Self::SecretLockedOut { .. } => "rate_limited",
            Self::QuotaExceeded { .. } => "quota_exceeded",
            Self::Misconfigured(_) => "keygate_misconfigured",
            Self::AuthUnavailable(_) => "auth_unavailable",
        }
    }

    /// The HTTP status code.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::MissingCredentials
            | Self::InvalidSecretKey
            | Self::InvalidApiKey
            | Self::KeyRevoked
            | Self::KeyExpired
            | Self::InvalidToken
            | Self::TokenExpired
            | Self::TokenUsed
            | Self::UserTokenRequired => StatusCode::UNAUTHORIZED,
            Self::InsufficientCredits { .. } => StatusCode::PAYMENT_REQUIRED,
            Self::SecretKeyRequired
            | Self::OperatorRequired
            | Self::ExpiringCredential
            | Self::TenantForbidden
            | Self::EnvironmentForbidden
            | Self::InsufficientScope { .. }
            | Self::CredentialNotAccepted { .. }
            | Self::TenantRequired
            | Self::TenantMismatch
            | Self::ImpersonationForbidden
            | Self::OriginForbidden
            | Self::HttpsRequired => StatusCode::FORBIDDEN,
            Self::KeyLimitReached => StatusCode::CONFLICT,
            Self::RateLimited { .. }
            | Self::SecretLockedOut { .. }
            | Self::QuotaExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Misconfigured(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::AuthUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A short human-readable summary of the problem type (RFC 9457 `title`).
    pub fn title(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "Invalid request",
            Self::MissingCredentials => "Missing credentials",
            Self::InvalidSecretKey => "Invalid secret key",
            Self::InvalidApiKey => "Invalid API key",
            Self::KeyRevoked => "API key revoked",
            Self::KeyExpired => "API key expired",
            Self::InvalidToken => "Invalid token",
            Self::TokenExpired => "Token expired",
            Self::TokenUsed => "Token already used",
            Self::UserTokenRequired => "User token required",
            Self::InsufficientCredits { .. } => "Insufficient credits",
            Self::SecretKeyRequired => "Secret key required",
            Self::OperatorRequired => "Operator required",
            Self::ExpiringCredential => "Expiring credential",
            Self::TenantForbidden => "Tenant forbidden",
            Self::EnvironmentForbidden => "Environment forbidden",
            Self::InsufficientScope { .. } => "Insufficient scope",
            Self::CredentialNotAccepted { .. } => "Credential not accepted",
            Self::TenantRequired => "Tenant required",
            Self::TenantMismatch => "Tenant mismatch",
            Self::ImpersonationForbidden => "Impersonation forbidden",
            Self::OriginForbidden => "Origin forbidden",
            Self::HttpsRequired => "HTTPS required",
            Self::KeyLimitReached => "Key limit reached",
            Self::RateLimited { .. } | Self::SecretLockedOut { .. } => "Rate limited",
            Self::QuotaExceeded { .. } => "Quota exceeded",
            Self::Misconfigured(_) => "keygate misconfigured",
            Self::AuthUnavailable(_) => "Authentication unavailable",
        }
    }

    /// Seconds the client should wait before retrying, for the 429 errors.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::RateLimited { status, .. } => Some(status.retry_after_secs()),
            Self::QuotaExceeded {
                retry_after_secs, ..
            }
            | Self::SecretLockedOut { retry_after_secs } => Some(retry_wait(*retry_after_secs)),
            _ => None,
        }
    }

    /// The `WWW-Authenticate` challenge (RFC 6750), for the errors that carry one.
    ///
    /// - 401 with nothing presented: `Bearer realm="keygate"`;
    /// - any other 401 (a credential was presented and rejected): adds
    ///   `error="invalid_token"`;
    /// - 400: `Bearer realm="keygate", error="invalid_request"`;
    /// - 403 for a missing scope: `Bearer error="insufficient_scope", scope="<needed>"`.
    pub fn www_authenticate(&self) -> Option<String> {
        self.challenge().map(|challenge| challenge.to_string())
    }

    fn challenge(&self) -> Option<HeaderText<'_>> {
        match self {
            Self::MissingCredentials => Some(HeaderText::Static(CHALLENGE)),
            Self::InvalidRequest(_) => Some(HeaderText::Static(CHALLENGE_INVALID_REQUEST)),
            Self::InsufficientScope { required } => Some(HeaderText::ScopeChallenge(required)),
            other if other.status() == 401 => Some(HeaderText::Static(CHALLENGE_INVALID_TOKEN)),
            _ => None,
        }
    }

    /// The RFC 9457 problem document for this error, as JSON text.
    pub fn problem_json(&self) -> String {
        problem_document(
            self.status().as_u16(),
            self.code(),
            self.title(),
            &self.to_string(),
        )
    }

    /// Every header the error response carries, in order: `Content-Type`,
    /// `WWW-Authenticate`, `Retry-After`, then the `X-RateLimit-*` headers for
    /// [`AuthError::RateLimited`], `X-Quota-Limit` and `X-Quota-Remaining` for
    /// [`AuthError::QuotaExceeded`] with a limit, and `X-Credits-Remaining` for a key with credits.
    /// Names are lower case. Nothing is allocated until a value is rendered.
    ///
    /// ```
    /// use keygate_core::AuthError;
    ///
    /// let names: Vec<&str> = AuthError::TokenUsed.headers().map(|(name, _)| name).collect();
    /// assert_eq!(names, ["content-type", "www-authenticate"]);
    /// ```
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, HeaderText<'_>)> + '_ {
        let (rate_limit, credits) = match self {
            Self::RateLimited {
                status,
                credits_remaining,
            } => (Some(status), *credits_remaining),
            Self::InsufficientCredits {
                remaining,
                rate_limit,
            } => (rate_limit.as_ref(), Some(*remaining)),
            _ => (None, None),
        };
        let quota_limit = match self {
            Self::QuotaExceeded { limit, .. } => limit.map(u64::from),
            _ => None,
        };
        std::iter::once(("content-type", HeaderText::Static(PROBLEM_JSON)))
            .chain(self.challenge().map(|text| ("www-authenticate", text)))
            .chain(
                self.retry_after_secs()
                    .map(|secs| ("retry-after", HeaderText::Number(secs))),
            )
            .chain(
                rate_limit
                    .into_iter()
                    .flat_map(RateLimitStatus::headers)
                    .map(|(name, value)| (name, HeaderText::Number(value))),
            )
            .chain(
                quota_limit
                    .into_iter()
                    .flat_map(|limit| [(QUOTA_LIMIT, limit), (QUOTA_REMAINING, 0)])
                    .map(|(name, value)| (name, HeaderText::Number(value))),
            )
            .chain(credits.map(|left| (CREDITS_REMAINING, HeaderText::Number(left))))
    }
}

const CHALLENGE: &str = "Bearer realm=\"keygate\"";
const CHALLENGE_INVALID_TOKEN: &str = "Bearer realm=\"keygate\", error=\"invalid_token\"";
const CHALLENGE_INVALID_REQUEST: &str = "Bearer realm=\"keygate\", error=\"invalid_request\"";

/// A response header's value as an error renders it: fixed text, an integer, or the
/// challenge that names a missing scope. Rendered only when written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderText<'a> {
    /// Fixed text.
    Static(&'static str),
    /// A whole number (`Retry-After`, the rate-limit and credit headers).
    Number(u64),
    /// `Bearer error="insufficient_scope", scope="<scope>"`.
    ScopeChallenge(&'a Scope),
}

impl HeaderText<'_> {
    /// The value as an `http` header value (fixed text is not copied).
    pub fn to_header_value(&self) -> http::HeaderValue {
        match self {
            Self::Static(text) => http::HeaderValue::from_static(text),
            Self::Number(value) => http::HeaderValue::from(*value),
            // A scope is `[A-Za-z0-9:*_.-]`: always a valid header value.
            Self::ScopeChallenge(_) => http::HeaderValue::try_from(self.to_string())
                .unwrap_or_else(|_| http::HeaderValue::from_static(CHALLENGE)),
        }
    }
}

impl std::fmt::Display for HeaderText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Static(text) => f.write_str(text),
            Self::Number(value) => write!(f, "{value}"),
            Self::ScopeChallenge(scope) => {
                write!(f, "Bearer error=\"insufficient_scope\", scope=\"{scope}\"")
            }
        }
    }
}

impl AuthError {
    /// The whole error response, for adapters built on the `http` crate (tower, axum):
    /// status, [`headers`](Self::headers) and the problem+json body.
    pub fn to_response<B: From<String>>(&self) -> http::Response<B> {
        http_response(self.status(), self.headers(), self.problem_json())
    }
}

/// A response of `status` with `headers` (names in lower case) and `body`: how every
/// keygate refusal is rendered for the `http` crate.
pub(crate) fn http_response<'a, B: From<String>>(
    status: http::StatusCode,
    headers: impl Iterator<Item = (&'static str, HeaderText<'a>)>,
    body: String,
) -> http::Response<B> {
    let mut response = http::Response::new(B::from(body));
    *response.status_mut() = status;
    let map = response.headers_mut();
    for (name, value) in headers {
        map.insert(http::HeaderName::from_static(name), value.to_header_value());
    }
    response
}

/// The response header that reports a key's remaining credits.
pub const CREDITS_REMAINING: &str = "x-credits-remaining";

#[derive(Serialize)]
struct Problem<'a> {
    r#type: String,
    title: &'a str,
    status: u16,
    code: &'a str,
    detail: &'a str,
}

/// A problem document (RFC 9457) in keygate's shape: `type` is `urn:keygate:error:<code>`,
/// then `title`, `status`, `code` and `detail`. keygate's own refusals are written with
/// it; so can an application's errors, to answer in the same shape.
///
/// ```
/// let body = keygate_core::error::problem_document(404, "not_found", "Not found", "no such key");
/// assert_eq!(
///     body,
///     r#"{"type":"urn:keygate:error:not_found","title":"Not found","status":404,"code":"not_found","detail":"no such key"}"#
/// );
/// ```
pub fn problem_document(status: u16, code: &str, title: &str, detail: &str) -> String {
    let problem = Problem {
        r#type: format!("urn:keygate:error:{code}"),
        title,
        status,
        code,
        detail,
    };
    // Serializing a struct of strings and integers cannot fail.
    serde_json::to_string(&problem).unwrap_or_default()
}
