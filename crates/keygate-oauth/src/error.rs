//! RFC 6749 errors: the `error` codes of §4.1.2.1 and §5.2 with their statuses.

use std::borrow::Cow;

use http::StatusCode;
use keygate_core::store::StoreError;

/// An RFC 6749 `error` code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A parameter is missing, repeated, malformed or unsupported.
    InvalidRequest,
    /// Client authentication failed (401, `WWW-Authenticate: Basic`).
    InvalidClient,
    /// The code or refresh token is invalid, expired, used, revoked, or another client's.
    InvalidGrant,
    /// The client may not use this grant.
    UnauthorizedClient,
    /// The grant type is not one this server supports.
    UnsupportedGrantType,
    /// The response type is not `code`.
    UnsupportedResponseType,
    /// A scope is unknown, malformed, or wider than allowed.
    InvalidScope,
    /// The user or the application refused.
    AccessDenied,
    /// The server failed (its store did not answer): fail closed.
    ServerError,
    /// The server is overloaded or its store is down; retry later.
    TemporarilyUnavailable,
    /// A credential (a client secret, a code, a refresh token, a user's JWT) came over
    /// plain HTTP where the deployment requires HTTPS (403; RFC 6749 §3.1 and §3.2 require
    /// TLS at these endpoints). Not one of RFC 6749's codes: keygate's `https_required`,
    /// the same code its other routes answer.
    HttpsRequired,
}

impl ErrorCode {
    /// The code as RFC 6749 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::HttpsRequired => "https_required",
        }
    }

    /// The status a JSON answer with this code carries (RFC 6749 §5.2).
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidClient => StatusCode::UNAUTHORIZED,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::HttpsRequired => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// An RFC 6749 error: a code and a description that says what to do. The description
/// never holds a value the caller sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct OAuthError {
    /// The `error` code.
    pub code: ErrorCode,
    /// The `error_description`.
    pub description: Cow<'static, str>,
    /// Seconds to wait before retrying, for throttled or overloaded answers.
    pub retry_after: Option<u64>,
}

impl OAuthError {
    /// An error of `code` with `description`.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    /// `invalid_request` with `description`.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_client` with `description`.
    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    /// `invalid_grant` with `description`.
    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    /// `invalid_scope` with `description`.
    pub fn invalid_scope(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }

    /// `https_required` (403): the request came over plain HTTP where HTTPS is required
    /// (see [`Keygate::check_https`](keygate_core::Keygate::check_https)); nothing it
    /// carried was read.
    pub fn https_required() -> Self {
        Self::new(
            ErrorCode::HttpsRequired,
            "this server takes credentials over HTTPS only: send the request to its https:// address (nothing in this one was read; a secret sent in it has crossed the network in the clear, so rotate it)",
        )
    }

    /// The answer after a store failure: `temporarily_unavailable`, logged, never allowed.
    pub fn unavailable(error: &StoreError) -> Self {
        tracing::warn!(%error, "oauth store unavailable");
        Self {
            retry_after: Some(1),
            ..Self::new(
                ErrorCode::TemporarilyUnavailable,
                "the authorization server's store did not answer; retry shortly",
            )
        }
    }

    /// The same error with a `Retry-After`.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }
}

impl From<StoreError> for OAuthError {
    fn from(error: StoreError) -> Self {
        Self::unavailable(&error)
    }
}
