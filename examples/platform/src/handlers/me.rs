//! `/api/v1/me/...`: a signed-in user (a user JWT with a tenant) manages their own keys
//! and reads their account, `<jwt tenant>/<sub>`. Who may do what (a user JWT only, at
//! most ten active keys, another user's key unseen) is keygate-core's `SelfService`'s:
//! these handlers read the request and write the answer.

use futures_util::{StreamExt as _, TryStreamExt as _};
use http::StatusCode;
use keygate_core::key::KeyView;
use keygate_core::{Environment, Principal};
use serde::Deserialize;
use serde_json::json;

use super::keys::{BALANCE_READS, key_id, view};
use crate::app::App;
use crate::body;
use crate::reply::{self, Reply};

/// `POST /api/v1/me/keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    name: Option<String>,
    environment: Option<Environment>,
}

pub(super) async fn create_key(app: &App, principal: &Principal, body: &[u8]) -> Reply {
    let request: CreateKey = match body::parse(body, true) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    let environment = request.environment.unwrap_or(Environment::Live);
    let created = match app
        .keygate()
        .self_service(principal)
        .create_key(request.name, environment)
        .await
    {
        Ok(created) => created,
        Err(error) => return reply::admin_error(error),
    };
    match view(app, &created.record).await {
        Ok(view) => reply::json(StatusCode::CREATED, &view.with_key(&created.key)),
        Err(reply) => reply,
    }
}

pub(super) async fn list_keys(app: &App, principal: &Principal) -> Reply {
    let keys = match app.keygate().self_service(principal).list_keys().await {
        Ok(keys) => keys,
        Err(error) => return reply::admin_error(error),
    };
    let views: Result<Vec<KeyView>, Reply> = futures_util::stream::iter(keys)
        .map(|record| {
            let app = app.clone();
            async move { view(&app, &record).await }
        })
        .buffered(BALANCE_READS)
        .try_collect()
        .await;
    match views {
        Ok(keys) => reply::json(StatusCode::OK, &json!({ "keys": keys })),
        Err(reply) => reply,
    }
}

pub(super) async fn revoke_key(app: &App, principal: &Principal, path: &str) -> Reply {
    let Some(id) = key_id(path) else {
        return reply::not_found("key");
    };
    match app.keygate().self_service(principal).revoke_key(&id).await {
        Ok(_) => reply::no_content(),
        Err(error) => reply::admin_error(error),
    }
}

/// `GET /api/v1/me/account` → `{"tenant", "owner", "credits", "keys"}`.
pub(super) async fn account(app: &App, principal: &Principal) -> Reply {
    match app.keygate().self_service(principal).account().await {
        Ok(view) => reply::json(
            StatusCode::OK,
            &json!({
                "tenant": &*view.account.tenant,
                "owner": &*view.account.owner,
                "credits": view.credits,
                "keys": view.keys,
            }),
        ),
        Err(error) => reply::admin_error_about(error, "account"),
    }
}
