//! axum extractors for the core types and `IntoResponse` for the errors (feature `axum`).

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use super::{
    Admin, Authentication, ExtractRejection, Framework, Impersonation, Operator, Tenant, extract,
    extract_optional,
};
use crate::error::AuthError;
use crate::principal::Principal;

macro_rules! axum_extractor {
    ($($ty:ty),* $(,)?) => {$(
        impl<S: Send + Sync> FromRequestParts<S> for $ty {
            type Rejection = ExtractRejection;

            async fn from_request_parts(
                parts: &mut Parts,
                _state: &S,
            ) -> Result<Self, Self::Rejection> {
                extract(parts.extensions.get::<Authentication>(), Framework::Axum)
            }
        }

        impl<S: Send + Sync> OptionalFromRequestParts<S> for $ty {
            type Rejection = ExtractRejection;

            async fn from_request_parts(
                parts: &mut Parts,
                _state: &S,
            ) -> Result<Option<Self>, Self::Rejection> {
                extract_optional(parts.extensions.get::<Authentication>(), Framework::Axum)
            }
        }
    )*};
}

axum_extractor!(Principal, Admin, Operator, Tenant, Impersonation);

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        self.to_response::<Body>()
    }
}

impl IntoResponse for ExtractRejection {
    fn into_response(self) -> Response {
        self.to_response::<Body>()
    }
}
