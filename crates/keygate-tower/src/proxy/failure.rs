//! The proxy's own answers, when it forwards nothing or gets nothing back: problem
//! documents in keygate's shape.

use http::{HeaderValue, Response, StatusCode, header};
use keygate_core::error::{PROBLEM_JSON, problem_document};

use super::body::ProxyBody;

/// Why the proxy answered itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No upstream is configured: 502 `upstream_unavailable`.
    NoUpstream,
    /// The upstream could not be reached (refused, reset, DNS, TLS, connect timeout):
    /// 502 `upstream_unavailable`.
    Unreachable,
    /// The upstream took the request but sent no response head in time: 504
    /// `upstream_timeout`.
    Timeout,
    /// The path is not below the proxy's prefix: 404 `not_found`.
    NotFound,
    /// The path could climb out of the upstream's base path: 400 `invalid_request`.
    Traversal,
    /// The caller's body broke off before it was sent: 400 `invalid_request`.
    CallerBody,
    /// `TRACE` or `CONNECT`: 405 `method_not_allowed`. An upstream that answers `TRACE`
    /// echoes the request, the injected key included; `CONNECT` asks for a tunnel.
    Method,
}

impl Failure {
    pub(crate) fn response(self) -> Response<ProxyBody> {
        let (status, code, title, detail) = match self {
            Self::NoUpstream => (
                StatusCode::BAD_GATEWAY,
                "upstream_unavailable",
                "Upstream unavailable",
                "no upstream is configured for this proxy; the operator sets its URL",
            ),
            Self::Unreachable => (
                StatusCode::BAD_GATEWAY,
                "upstream_unavailable",
                "Upstream unavailable",
                "the upstream could not be reached; try again later",
            ),
            Self::Timeout => (
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                "Upstream timeout",
                "the upstream did not answer in time; try again later",
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "Not found",
                "no route matches this path",
            ),
            Self::Traversal => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Invalid request",
                "path: only letters, digits, -._~!$&'()*+,=:@ and percent-escapes of other printable characters or UTF-8 can be proxied, without '.' or '..' segments and without escaped '.', '/', '\\', '%' or ';'",
            ),
            Self::CallerBody => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Invalid request",
                "body: the request body could not be read",
            ),
            Self::Method => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
                "TRACE and CONNECT are not proxied",
            ),
        };
        let body = problem_document(status.as_u16(), code, title, detail);
        let mut response = Response::new(ProxyBody::from(body));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}
