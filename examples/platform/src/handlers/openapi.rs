//! `GET /openapi.json`: the platform's HTTP API as an OpenAPI 3.1 document, a static file
//! kept in step with the route table by a test in `routes.rs`.

use http::StatusCode;

use crate::reply::{self, Reply};

pub(super) fn document() -> Reply {
    reply::with_type(
        StatusCode::OK,
        crate::OPENAPI_JSON.to_owned(),
        "application/json",
    )
}
