//! `/api/v1/admin/keys`: create (for an account too: `owner`), list, show, revoke, rotate,
//! top up. The platform secret
//! acts on every tenant; a tenant's `sk_` key in `x-client-secret` on its own tenant only
//! (another tenant's key is 404, creating for another tenant 403). Every rule is
//! keygate-core's `KeyAdmin`'s: these handlers read the request and write the answer.

use futures_util::{StreamExt as _, TryStreamExt as _};
use http::StatusCode;
use keygate_core::account::Refill;
use keygate_core::key::{KeyId, KeyKind, KeyRecord, KeyView, Metadata, NewKey, RateLimit};
use keygate_core::{Environment, Principal};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

use super::list_query;
use crate::app::App;
use crate::body;
use crate::reply::{self, Reply};
use crate::routes::id_after;

/// `POST /api/v1/admin/keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    kind: KeyKind,
    #[serde(default)]
    environment: Option<Environment>,
    prefix: Option<String>,
    tenant: Option<String>,
    name: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    rate_limit: Option<RateLimit>,
    credits: Option<u64>,
    /// The account (`<tenant>/<owner>`) the key belongs to: a user id.
    owner: Option<String>,
    /// Credits set back to `amount` at each UTC day or month (operator only).
    refill: Option<Refill>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
    #[serde(default)]
    metadata: Metadata,
}

/// `POST /api/v1/admin/keys/{id}/rotate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rotate {
    #[serde(default)]
    grace_seconds: u32,
}

/// `POST /api/v1/admin/keys/{id}/credits`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddCredits {
    add: u64,
}

/// How many balances `list` reads at once.
pub(super) const BALANCE_READS: usize = 8;

/// The view of `record` with its live balance.
pub(super) async fn view(app: &App, record: &KeyRecord) -> Result<KeyView, Reply> {
    let credits = app
        .keygate()
        .credits(record)
        .await
        .map_err(reply::admin_error)?;
    Ok(KeyView::new(record, credits, app.keygate().clock().now()))
}

/// The key id the path names; `None` for one no key could have (404).
pub(super) fn key_id(path: &str) -> Option<KeyId> {
    let id = id_after(path, "/keys/").unwrap_or_default();
    (!id.is_empty() && id.len() <= 64).then(|| KeyId::new(id))
}

pub(super) async fn create(app: &App, principal: &Principal, body: &[u8]) -> Reply {
    let request: CreateKey = match body::parse(body, false) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    // A tenant's key makes keys of its own environment unless told otherwise. The tenant
    // rules (own tenant only, no live key from a test key, none that outlives the key
    // that makes it, no credits but from the platform secret) are `KeyAdmin`'s.
    let own_environment = (!principal.is_operator())
        .then_some(principal.environment)
        .flatten();
    let environment = request
        .environment
        .or(own_environment)
        .unwrap_or(Environment::Test);
    let new = NewKey {
        prefix: request.prefix,
        tenant: request.tenant,
        name: request.name,
        scopes: request.scopes,
        rate_limit: request.rate_limit,
        credits: request.credits,
        owner: request.owner,
        refill: request.refill,
        expires_at: request.expires_at,
        metadata: request.metadata,
        ..NewKey::new(request.kind, environment)
    };
    let created = match app.keygate().admin(principal).create_key(new).await {
        Ok(created) => created,
        Err(error) => return reply::admin_error(error),
    };
    // An owner's key shows its account's balance, which the record does not hold.
    match view(app, &created.record).await {
        Ok(view) => reply::json(StatusCode::CREATED, &view.with_key(&created.key)),
        Err(reply) => reply,
    }
}

pub(super) async fn list(app: &App, principal: &Principal, query: Option<&str>) -> Reply {
    let query = match list_query(query) {
        Ok(query) => query,
        Err(reply) => return reply,
    };
    let tenant = query.tenant.clone();
    let after = query.starting_after.map(KeyId::new);
    let page = match app
        .keygate()
        .admin(principal)
        .list_keys(
            tenant.as_deref(),
            after.as_ref(),
            query.limit.unwrap_or(keygate_core::MAX_LIST_LIMIT),
        )
        .await
    {
        Ok(page) => page,
        Err(error) => return reply::admin_error(error),
    };
    let views: Result<Vec<KeyView>, Reply> = futures_util::stream::iter(page.keys)
        .map(|record| {
            let app = app.clone();
            async move { view(&app, &record).await }
        })
        .buffered(BALANCE_READS)
        .try_collect()
        .await;
    match views {
        Ok(keys) => reply::json(
            StatusCode::OK,
            &json!({ "keys": keys, "has_more": page.has_more }),
        ),
        Err(reply) => reply,
    }
}

pub(super) async fn show(app: &App, principal: &Principal, path: &str) -> Reply {
    let Some(id) = key_id(path) else {
        return reply::not_found("key");
    };
    let record = match app.keygate().admin(principal).get_key(&id).await {
        Ok(record) => record,
        Err(error) => return reply::admin_error(error),
    };
    match view(app, &record).await {
        Ok(view) => reply::json(StatusCode::OK, &view),
        Err(reply) => reply,
    }
}

pub(super) async fn revoke(app: &App, principal: &Principal, path: &str) -> Reply {
    let Some(id) = key_id(path) else {
        return reply::not_found("key");
    };
    match app.keygate().admin(principal).revoke_key(&id).await {
        Ok(_) => reply::no_content(),
        Err(error) => reply::admin_error(error),
    }
}

pub(super) async fn rotate(app: &App, principal: &Principal, path: &str, body: &[u8]) -> Reply {
    let request: Rotate = match body::parse(body, true) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    let Some(id) = key_id(path) else {
        return reply::not_found("key");
    };
    let grace = time::Duration::seconds(i64::from(request.grace_seconds));
    let created = match app.keygate().admin(principal).rotate_key(&id, grace).await {
        Ok(created) => created,
        Err(error) => return reply::admin_error(error),
    };
    match view(app, &created.record).await {
        Ok(view) => reply::json(StatusCode::CREATED, &view.with_key(&created.key)),
        Err(reply) => reply,
    }
}

pub(super) async fn add_credits(
    app: &App,
    principal: &Principal,
    path: &str,
    body: &[u8],
) -> Reply {
    let request: AddCredits = match body::parse(body, false) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    let Some(id) = key_id(path) else {
        return reply::not_found("key");
    };
    let admin = app.keygate().admin(principal);
    let balance = match admin.add_credits(&id, request.add).await {
        Ok(balance) => balance,
        Err(error) => return reply::admin_error(error),
    };
    let record = match admin.get_key(&id).await {
        Ok(record) => record,
        Err(error) => return reply::admin_error(error),
    };
    let now = app.keygate().clock().now();
    reply::json(StatusCode::OK, &KeyView::new(&record, Some(balance), now))
}
