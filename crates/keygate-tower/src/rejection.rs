//! How a refused request is answered: [`Rejection`], and the default [`ProblemJson`].

use http::Response;
use http::request::Parts;
use keygate_core::AuthError;

/// Turns an [`AuthError`] into the response sent instead of calling the inner service.
/// The request's head is there to negotiate a format or echo a request id; never copy its
/// credential headers into the answer.
///
/// The default, [`ProblemJson`], answers as the contract says: the error's status,
/// `application/problem+json` body, `WWW-Authenticate`, `Retry-After` and rate-limit
/// headers. Any `Fn(AuthError, &Parts) -> Response<B>` closure is a rejection too:
///
/// ```
/// use http::{HeaderValue, Response};
/// use keygate_core::{Access, AuthError};
/// use keygate_tower::KeygateLayer;
///
/// # fn demo(keygate: keygate_core::Keygate) {
/// // Start from the contract's answer (status, problem+json, challenges) and adjust it.
/// let layer = KeygateLayer::new(&keygate, Access::admin()).with_rejection(
///     |error: AuthError, _: &http::request::Parts| {
///         let mut response: Response<String> = error.to_response();
///         if error.status().is_server_error() {
///             response.headers_mut().insert("retry-after", HeaderValue::from_static("5"));
///         }
///         response
///     },
/// );
/// # let _ = layer;
/// # }
/// ```
pub trait Rejection<B>: Clone + Send + Sync + 'static {
    /// The response for a request refused with `error`.
    fn reject(&self, error: AuthError, request: &Parts) -> Response<B>;
}

/// The contract's error response: [`AuthError::to_response`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ProblemJson;

impl<B: From<String>> Rejection<B> for ProblemJson {
    fn reject(&self, error: AuthError, _request: &Parts) -> Response<B> {
        error.to_response()
    }
}

impl<B, F> Rejection<B> for F
where
    F: Fn(AuthError, &Parts) -> Response<B> + Clone + Send + Sync + 'static,
{
    fn reject(&self, error: AuthError, request: &Parts) -> Response<B> {
        self(error, request)
    }
}
