//! The platform's answers: JSON for successes, `application/problem+json` (RFC 9457) for
//! every failure, in the same shape as keygate's own refusals.

use std::borrow::Cow;

use http::{HeaderValue, Response, StatusCode, header};
use keygate_core::{AdminError, AuthError};
use serde::Serialize;

/// What every handler returns; each adapter converts it to its framework's response.
pub type Reply = Response<String>;

/// `status` with `value` as JSON.
pub fn json(status: StatusCode, value: &impl Serialize) -> Reply {
    match serde_json::to_string(value) {
        Ok(body) => with_type(status, body, "application/json"),
        Err(error) => {
            tracing::error!(%error, "an answer could not be written as JSON");
            internal()
        }
    }
}

/// 204, no body.
pub fn no_content() -> Reply {
    let mut response = Response::new(String::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

pub(crate) fn with_type(status: StatusCode, body: String, content_type: &'static str) -> Reply {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// `status` with a problem document in keygate's shape: `code` is stable, `detail` says
/// what to do.
pub fn problem(status: StatusCode, code: &str, title: &str, detail: &str) -> Reply {
    let body = keygate_core::error::problem_document(status.as_u16(), code, title, detail);
    with_type(status, body, keygate_core::error::PROBLEM_JSON)
}

/// 400 `invalid_request` for a body or query the handler refuses; `detail` names the
/// field. Unlike keygate's refusal of a malformed credential, it carries no
/// `WWW-Authenticate`: the credentials were fine.
pub fn invalid(detail: impl Into<Cow<'static, str>>) -> Reply {
    problem(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "Invalid request",
        &detail.into(),
    )
}

/// 404 `not_found`: no such resource for this caller (another tenant's id included).
pub fn not_found(what: &str) -> Reply {
    problem(
        StatusCode::NOT_FOUND,
        "not_found",
        "Not found",
        &format!("no {what} has this id"),
    )
}

/// 413 `payload_too_large`.
pub fn too_large(limit: usize) -> Reply {
    problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "Payload too large",
        &format!("the request body is larger than {limit} bytes"),
    )
}

/// 500 `internal_error`, with nothing of the cause (it is logged).
pub fn internal() -> Reply {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "Internal error",
        "the platform failed to answer; the failure is logged",
    )
}

/// An engine refusal, as keygate renders it.
pub fn refused(error: &AuthError) -> Reply {
    if let AuthError::AuthUnavailable(source) = error {
        tracing::error!(error = %source, "the store failed while answering an admin request");
    }
    error.to_response()
}

/// A key operation's failure.
pub fn admin_error(error: AdminError) -> Reply {
    admin_error_about(error, "key")
}

/// An admin operation's failure, where `NotFound` means no `what` (`key`, `account`)
/// this caller may see has the id.
pub fn admin_error_about(error: AdminError, what: &str) -> Reply {
    match error {
        AdminError::Invalid(detail) => invalid(detail),
        AdminError::NotFound => not_found(what),
        AdminError::Refused(refusal) => refused(&refusal),
        AdminError::Conflict(source) => {
            tracing::error!(error = %source, "a generated key id or digest collided");
            internal()
        }
        AdminError::Unavailable(source) => refused(&AuthError::AuthUnavailable(source)),
        other => {
            tracing::error!(error = %other, "a key operation failed");
            internal()
        }
    }
}
