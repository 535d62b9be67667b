//! How a refused request is answered: [`Rejection`], and the default [`ProblemJson`].

use actix_web::{HttpRequest, HttpResponse, ResponseError};
use keygate_core::AuthError;

/// Turns an [`AuthError`] into the response sent instead of calling the wrapped service.
/// The request is there to negotiate a format or echo a request id; never copy its
/// credential headers into the answer. The default, [`ProblemJson`], is the contract's
/// response; any `Fn(AuthError, &HttpRequest) -> HttpResponse` closure is a rejection too,
/// and can start from the contract's answer and adjust it:
///
/// ```
/// use actix_web::ResponseError;
/// use actix_web::http::header::{HeaderName, HeaderValue};
/// use keygate_actix::KeygateMiddleware;
/// use keygate_core::{Access, AuthError};
///
/// # fn demo(keygate: keygate_core::Keygate) {
/// let middleware = KeygateMiddleware::new(&keygate, Access::admin()).with_rejection(
///     |error: AuthError, _: &actix_web::HttpRequest| {
///         let mut response = error.error_response();
///         if error.status().is_server_error() {
///             response.headers_mut().insert(
///                 HeaderName::from_static("retry-after"),
///                 HeaderValue::from_static("5"),
///             );
///         }
///         response
///     },
/// );
/// # let _ = middleware;
/// # }
/// ```
pub trait Rejection: Clone + 'static {
    /// The response for a request refused with `error`.
    fn reject(&self, error: AuthError, request: &HttpRequest) -> HttpResponse;
}

/// The contract's error response: status, `application/problem+json` body and the
/// `WWW-Authenticate`, `Retry-After` and rate-limit headers.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProblemJson;

impl Rejection for ProblemJson {
    fn reject(&self, error: AuthError, _request: &HttpRequest) -> HttpResponse {
        error.error_response()
    }
}

impl<F> Rejection for F
where
    F: Fn(AuthError, &HttpRequest) -> HttpResponse + Clone + 'static,
{
    fn reject(&self, error: AuthError, request: &HttpRequest) -> HttpResponse {
        self(error, request)
    }
}
