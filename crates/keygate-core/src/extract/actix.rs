//! actix-web extractors for the core types and `ResponseError` for the errors (feature
//! `actix`).
//!
//! actix-web's own `impl FromRequest for Option<T>` turns every error into `None`, so
//! `Option<Principal>` there cannot fail loudly on a route without the middleware. Use
//! [`Maybe<T>`](Maybe) (`Maybe<Principal>`, `Maybe<Impersonation>`, ...) instead.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use super::{
    Admin, Authentication, ExtractRejection, Framework, FromAuthentication, Impersonation,
    Operator, Tenant, extract, extract_optional,
};
use crate::error::{AuthError, HeaderText};
use crate::principal::Principal;

/// `Option<T>` for actix-web, for any keygate extractor `T`: `None` on an optional route
/// that was sent no credential, or when what `T` reads is absent (nobody impersonated, no
/// tenant). Unlike actix's own `Option<T>`, which turns every error into `None`, it fails
/// loudly (500) when the middleware did not run, and keeps refusals such as a 401.
///
/// ```
/// use keygate_core::Principal;
/// use keygate_core::extract::{Impersonation, Maybe};
///
/// async fn handler(Maybe(principal): Maybe<Principal>, Maybe(acting): Maybe<Impersonation>) -> String {
///     match (principal, acting) {
///         (None, _) => "anonymous".into(),
///         (Some(_), Some(acting)) => format!("acting as {}", acting.user),
///         (Some(principal), None) => principal.method.to_string(),
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Maybe<T>(pub Option<T>);

macro_rules! actix_extractor {
    ($($ty:ty),* $(,)?) => {$(
        impl FromRequest for $ty {
            type Error = ExtractRejection;
            type Future = Ready<Result<Self, ExtractRejection>>;

            fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
                ready(extract(req.extensions().get::<Authentication>(), Framework::Actix))
            }
        }
    )*};
}

actix_extractor!(Principal, Admin, Operator, Tenant, Impersonation);

impl<T: FromAuthentication> FromRequest for Maybe<T> {
    type Error = ExtractRejection;
    type Future = Ready<Result<Self, ExtractRejection>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(
            extract_optional(req.extensions().get::<Authentication>(), Framework::Actix).map(Maybe),
        )
    }
}

fn respond<'a>(
    status: u16,
    headers: impl Iterator<Item = (&'static str, HeaderText<'a>)>,
    body: String,
) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::with_body(status, body);
    let map = response.headers_mut();
    for (name, value) in headers {
        let value = match value {
            HeaderText::Static(text) => Ok(HeaderValue::from_static(text)),
            HeaderText::Number(number) => Ok(HeaderValue::from(number)),
            HeaderText::ScopeChallenge(_) => HeaderValue::try_from(value.to_string()),
        };
        if let Ok(value) = value {
            map.insert(HeaderName::from_static(name), value);
        }
    }
    response.map_into_boxed_body()
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status().as_u16()).unwrap_or(StatusCode::UNAUTHORIZED)
    }

    fn error_response(&self) -> HttpResponse {
        respond(self.status().as_u16(), self.headers(), self.problem_json())
    }
}

impl ResponseError for ExtractRejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        respond(self.status().as_u16(), self.headers(), self.problem_json())
    }
}
