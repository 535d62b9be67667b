//! `GET /healthz` (the process answers) and `GET /readyz` (its store, and Redis if
//! configured, answer too).

use http::StatusCode;
use keygate_core::AuthError;
use serde_json::json;

use crate::app::App;
use crate::reply::{self, Reply};

pub(super) fn health() -> Reply {
    reply::json(StatusCode::OK, &json!({ "status": "ok" }))
}

pub(super) async fn ready(app: &App) -> Reply {
    if let Err(error) = app.store().ping().await {
        tracing::warn!(%error, "not ready: the store does not answer");
        return AuthError::AuthUnavailable(error).to_response();
    }
    if let Some(redis) = app.redis()
        && let Err(error) = redis.ping().await
    {
        tracing::warn!(%error, "not ready: Redis does not answer");
        return AuthError::AuthUnavailable(error).to_response();
    }
    reply::json(StatusCode::OK, &json!({ "status": "ready" }))
}
