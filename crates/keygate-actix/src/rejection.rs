//! How a refused request is answered: [`Rejection`], and the default [`ProblemJson`].

use actix_web::{HttpRequest, HttpResponse, ResponseError};
use keygate_core::AuthError;

/// Turns an [`AuthError`] into the response sent instead of calling the wrapped service.
/// The request is there to negotiate a format or echo a request id; never copy its
/// credential headers into the answer. The default, [`ProblemJson`], is the contract's
/// response; any `Fn(AuthError, &HttpRequest) -> HttpResponse` closure is a rejection too.
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
