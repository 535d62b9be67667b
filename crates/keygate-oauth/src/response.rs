//! Framework-neutral answers of the OAuth endpoints: a status, headers and a body, which
//! an adapter copies onto its framework's response.

use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::error::{ErrorCode, OAuthError};

/// What an OAuth endpoint answers. Its `Debug` shows the status and the body's length,
/// never the body or the headers (tokens, a `Location` with a code).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct OAuthResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers (`Content-Type`, `Cache-Control: no-store`, `Location`, ...).
    pub headers: HeaderMap,
    /// The body (JSON, or empty).
    pub body: Vec<u8>,
}

impl OAuthResponse {
    /// A JSON answer with `Cache-Control: no-store` and `Pragma: no-cache`, as RFC 6749
    /// §5.1 asks of every answer that can carry a token.
    pub fn json(status: StatusCode, value: &serde_json::Value) -> Self {
        let mut headers = no_store();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Self {
            status,
            headers,
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    /// An RFC 6749 §5.2 error: `{"error", "error_description"}`; `invalid_client` with
    /// 401 and `WWW-Authenticate: Basic`; `Retry-After` when the error has one.
    pub fn error(error: &OAuthError) -> Self {
        let status = match (error.code, error.retry_after) {
            // A throttled client authentication: too many failures, not a bad secret.
            (ErrorCode::InvalidClient, Some(_)) => StatusCode::TOO_MANY_REQUESTS,
            (code, _) => code.status(),
        };
        let mut response = Self::json(
            status,
            &serde_json::json!({
                "error": error.code.as_str(),
                "error_description": error.description,
            }),
        );
        if error.code == ErrorCode::InvalidClient {
            response.headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"keygate\""),
            );
        }
        if let Some(seconds) = error.retry_after {
            response
                .headers
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }

    /// `200` with an empty body and `no-store` (a revocation's answer).
    pub fn empty_ok() -> Self {
        Self {
            status: StatusCode::OK,
            headers: no_store(),
            body: Vec::new(),
        }
    }

    /// `302 Found` to `location`, uncached.
    pub fn redirect(location: &str) -> Self {
        let mut headers = no_store();
        if let Ok(value) = HeaderValue::from_str(location) {
            headers.insert(LOCATION, value);
        }
        Self {
            status: StatusCode::FOUND,
            headers,
            body: Vec::new(),
        }
    }

    /// The answer as an `http::Response`.
    pub fn into_http(self) -> http::Response<Vec<u8>> {
        let mut response = http::Response::new(self.body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

impl From<OAuthError> for OAuthResponse {
    fn from(error: OAuthError) -> Self {
        Self::error(&error)
    }
}

fn no_store() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    headers
}

impl std::fmt::Debug for OAuthResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthResponse")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}
