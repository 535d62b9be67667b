//! The handlers, one file per resource. Each takes the app and a [`Call`] and returns a
//! [`Reply`]; none knows which framework serves it.

mod catalogues;
mod health;
mod keys;
mod resources;
mod tokens;

use keygate_core::Principal;

use crate::app::{App, Call};
use crate::reply::{self, Reply};
use crate::routes::Endpoint;

pub(crate) async fn handle(app: &App, endpoint: Endpoint, call: Call<'_>) -> Reply {
    use Endpoint::*;
    match endpoint {
        Health => return health::health(),
        Ready => return health::ready(app).await,
        _ => {}
    }
    // Every other route is behind keygate: without a principal the route was wired
    // without its middleware, which must fail loudly, never serve anonymously.
    let Some(principal) = call.principal else {
        tracing::error!(
            ?endpoint,
            "a guarded route was reached without keygate's middleware"
        );
        return reply::internal();
    };
    match endpoint {
        CreateKey => keys::create(app, principal, call.body).await,
        ListKeys => keys::list(app, principal, call.query).await,
        ShowKey => keys::show(app, principal, call.path).await,
        RevokeKey => keys::revoke(app, principal, call.path).await,
        RotateKey => keys::rotate(app, principal, call.path, call.body).await,
        AddCredits => keys::add_credits(app, principal, call.path, call.body).await,
        ListCatalogues => catalogues::list(app, principal, call.query).await,
        CreateCatalogue => catalogues::create(app, principal, call.body).await,
        ShowCatalogue => catalogues::show(app, principal, call.path).await,
        UpdateCatalogue => catalogues::update(app, principal, call.path, call.body).await,
        DeleteCatalogue => catalogues::delete(app, principal, call.path).await,
        IssueToken => tokens::issue(app, principal, call.body),
        Resource(resource) => resources::resource(resource, "create", principal),
        ReadCatalogue => resources::resource("catalogue", "read", principal),
        Detect => resources::resource("detect", "create", principal),
        Upload => resources::resource("upload", "create", principal),
        Me => resources::me(principal),
        Health | Ready => reply::internal(),
    }
}

/// The tenant a request acts in: the operator may name any tenant (or none); anyone else
/// acts in their own, and naming another is 403 `tenant_forbidden`.
fn acting_tenant(principal: &Principal, requested: Option<&str>) -> Result<Option<String>, Reply> {
    if principal.is_operator() {
        return Ok(requested.map(str::to_owned));
    }
    match (principal.tenant.as_deref(), requested) {
        (Some(own), None) => Ok(Some(own.to_owned())),
        (Some(own), Some(requested)) if own == requested => Ok(Some(own.to_owned())),
        _ => Err(reply::tenant_forbidden()),
    }
}

/// The `tenant` parameter of a query string (`?tenant=acme`), decoded.
fn tenant_query(query: Option<&str>) -> Result<Option<String>, Reply> {
    let Some(query) = query else { return Ok(None) };
    let mut tenant = None;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if name == "tenant" {
            if tenant.is_some() {
                return Err(reply::invalid("tenant: give it once"));
            }
            if !keygate_core::credentials::is_valid_id(&value) {
                return Err(reply::invalid("tenant: 1 to 128 of A-Z a-z 0-9 . _ : @ -"));
            }
            tenant = Some(value.into_owned());
        }
    }
    Ok(tenant)
}
