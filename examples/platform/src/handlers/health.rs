//! `GET /healthz` (the process answers) and `GET /readyz` (its store answers too).

use http::StatusCode;
use keygate_core::AuthError;
use serde_json::json;

use crate::app::App;
use crate::reply::{self, Reply};

pub(super) fn health() -> Reply {
    reply::json(StatusCode::OK, &json!({ "status": "ok" }))
}

pub(super) async fn ready(app: &App) -> Reply {
    match app.store().ping().await {
        Ok(()) => reply::json(StatusCode::OK, &json!({ "status": "ready" })),
        Err(error) => {
            tracing::warn!(%error, "not ready: the store does not answer");
            AuthError::AuthUnavailable(error).to_response()
        }
    }
}
