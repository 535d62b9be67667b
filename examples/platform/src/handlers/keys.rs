//! `/api/v1/admin/keys`: create, list, show, revoke, rotate, top up. The platform secret
//! acts on every tenant; a tenant's `sk_` key in `x-client-secret` on its own tenant only
//! (another tenant's key is 404, creating for another tenant 403).

use std::sync::Arc;

use futures_util::{StreamExt as _, TryStreamExt as _};
use http::StatusCode;
use keygate_core::key::{KeyId, KeyKind, KeyRecord, KeyView, Metadata, NewKey, RateLimit};
use keygate_core::{Environment, Principal};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

use super::{acting_tenant, listing};
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
const BALANCE_READS: usize = 8;

/// The view of `record` with its live balance.
async fn view(app: &App, record: &KeyRecord) -> Result<KeyView, Reply> {
    let credits = app
        .keygate()
        .credits(record)
        .await
        .map_err(reply::admin_error)?;
    Ok(KeyView::new(record, credits, app.keygate().clock().now()))
}

/// Whether `principal` may create or change a key of `environment`: a tenant's test key
/// may not touch live keys (test keys go to developers and CI; a live key does not come
/// from them). The operator and live keys may touch both.
fn may_touch(principal: &Principal, environment: Environment) -> bool {
    principal.is_operator()
        || !(principal.environment == Some(Environment::Test) && environment == Environment::Live)
}

/// The key the path names, if the caller may change it: [`visible`], and not a live key
/// for a tenant's test key (403 `environment_forbidden`).
async fn changeable(app: &App, principal: &Principal, path: &str) -> Result<Arc<KeyRecord>, Reply> {
    let record = visible(app, principal, path).await?;
    if !may_touch(principal, record.environment) {
        return Err(reply::environment_forbidden());
    }
    Ok(record)
}

/// The key the path names, if the caller may see it; 404 otherwise (another tenant's key
/// is not found, so its existence does not leak).
async fn visible(app: &App, principal: &Principal, path: &str) -> Result<Arc<KeyRecord>, Reply> {
    let id = id_after(path, "/keys/").unwrap_or_default();
    if id.is_empty() || id.len() > 64 {
        return Err(reply::not_found("key"));
    }
    let record = app
        .keygate()
        .get_key(&KeyId::new(id))
        .await
        .map_err(reply::admin_error)?;
    if principal.may_manage(record.tenant.as_deref()) {
        Ok(record)
    } else {
        Err(reply::not_found("key"))
    }
}

pub(super) async fn create(app: &App, principal: &Principal, body: &[u8]) -> Reply {
    let request: CreateKey = match body::parse(body, false) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    let tenant = match acting_tenant(principal, request.tenant.as_deref()) {
        Ok(tenant) => tenant,
        Err(reply) => return reply,
    };
    // A tenant's key makes keys of its own environment unless told otherwise, never a live
    // key from a test key, and none that outlives it: a key about to expire (or in its
    // rotation grace, after a leak) cannot make one without end.
    let own_environment = (!principal.is_operator())
        .then_some(principal.environment)
        .flatten();
    let environment = request
        .environment
        .or(own_environment)
        .unwrap_or(Environment::Test);
    if !may_touch(principal, environment) {
        return reply::environment_forbidden();
    }
    let expires_at = match (principal.is_operator(), principal.expires_at) {
        (false, Some(limit)) => Some(request.expires_at.map_or(limit, |asked| asked.min(limit))),
        _ => request.expires_at,
    };
    let new = NewKey {
        prefix: request.prefix,
        tenant,
        name: request.name,
        scopes: request.scopes,
        rate_limit: request.rate_limit,
        credits: request.credits,
        expires_at,
        metadata: request.metadata,
        ..NewKey::new(request.kind, environment)
    };
    let created = match app.keygate().admin(principal).create_key(new).await {
        Ok(created) => created,
        Err(error) => return reply::admin_error(error),
    };
    let now = app.keygate().clock().now();
    let shown = KeyView::new(&created.record, created.record.credits, now).with_key(&created.key);
    reply::json(StatusCode::CREATED, &shown)
}

pub(super) async fn list(app: &App, principal: &Principal, query: Option<&str>) -> Reply {
    let query = match listing(principal, query) {
        Ok(query) => query,
        Err(reply) => return reply,
    };
    let tenant = query.tenant.clone();
    let after = query.starting_after.map(KeyId::new);
    let page = match app
        .keygate()
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
    let record = match visible(app, principal, path).await {
        Ok(record) => record,
        Err(reply) => return reply,
    };
    match view(app, &record).await {
        Ok(view) => reply::json(StatusCode::OK, &view),
        Err(reply) => reply,
    }
}

pub(super) async fn revoke(app: &App, principal: &Principal, path: &str) -> Reply {
    let record = match changeable(app, principal, path).await {
        Ok(record) => record,
        Err(reply) => return reply,
    };
    match app.keygate().admin(principal).revoke_key(&record.id).await {
        Ok(_) => reply::no_content(),
        Err(error) => reply::admin_error(error),
    }
}

pub(super) async fn rotate(app: &App, principal: &Principal, path: &str, body: &[u8]) -> Reply {
    let request: Rotate = match body::parse(body, true) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    let record = match changeable(app, principal, path).await {
        Ok(record) => record,
        Err(reply) => return reply,
    };
    if !principal.is_operator() && principal.expires_at.is_some() {
        return reply::expiring_credential();
    }
    let grace = time::Duration::seconds(i64::from(request.grace_seconds));
    let created = match app
        .keygate()
        .admin(principal)
        .rotate_key(&record.id, grace)
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
    let record = match changeable(app, principal, path).await {
        Ok(record) => record,
        Err(reply) => return reply,
    };
    let balance = match app
        .keygate()
        .admin(principal)
        .add_credits(&record.id, request.add)
        .await
    {
        Ok(balance) => balance,
        Err(error) => return reply::admin_error(error),
    };
    let now = app.keygate().clock().now();
    reply::json(StatusCode::OK, &KeyView::new(&record, Some(balance), now))
}
