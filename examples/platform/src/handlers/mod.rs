//! The handlers, one file per resource. Each takes the app and a [`Call`] and returns a
//! [`Reply`]; none knows which framework serves it.

mod accounts;
mod catalogues;
mod client_tokens;
mod health;
mod keys;
mod me;
mod oauth;
mod openapi;
mod resources;
mod tokens;

use keygate_core::token::{IssuedToken, TokenRequest};
use keygate_core::{AuthError, Principal};

use crate::app::{App, Call};
use crate::reply::{self, Reply};
use crate::routes::Endpoint;

pub(crate) async fn handle(app: &App, endpoint: Endpoint, call: Call<'_>) -> Reply {
    use Endpoint::*;
    match endpoint {
        Health => return health::health(),
        Ready => return health::ready(app).await,
        OAuthAuthorize => return oauth::authorize(app, &call).await,
        OAuthToken => return oauth::token(app, &call).await,
        OAuthRevoke => return oauth::revoke(app, &call).await,
        OAuthMetadata => return oauth::metadata(app),
        OpenApi => return openapi::document(),
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
        IssueClientToken => client_tokens::issue(app, principal, call.body),
        Resource(resource) => resources::resource(resource, "create", principal),
        ReadCatalogue => resources::read_catalogue(call.path, principal),
        Detect | UserDetect => resources::resource("detect", "create", principal),
        Upload => resources::resource("upload", "create", principal),
        Me => resources::me(principal),
        Gateway => resources::gateway(call.path, principal),
        CreateOrg => resources::resource("orgs", "create", principal),
        RegisterOAuthClient => oauth::register(app, principal, call.body).await,
        ListTenants => accounts::list_tenants(app, principal, call.query).await,
        ListAccounts => accounts::list(app, principal, call.query).await,
        ShowAccount => accounts::show(app, principal, call.path).await,
        AddAccountCredits => accounts::add_credits(app, principal, call.path, call.body).await,
        SetAccountRefill => accounts::set_refill(app, principal, call.path, call.body).await,
        CreateMyKey => me::create_key(app, principal, call.body).await,
        ListMyKeys => me::list_keys(app, principal).await,
        RevokeMyKey => me::revoke_key(app, principal, call.path).await,
        MyAccount => me::account(app, principal).await,
        Realtime => crate::realtime::upgrade_required(),
        Health | Ready | OpenApi | OAuthAuthorize | OAuthToken | OAuthRevoke | OAuthMetadata => {
            reply::internal()
        }
    }
}

/// The tenant a request acts in ([`Principal::acting_tenant`]): the operator may name any
/// tenant (or none); anyone else acts in their own, and naming another is 403
/// `tenant_forbidden`.
fn acting_tenant(principal: &Principal, requested: Option<&str>) -> Result<Option<String>, Reply> {
    principal
        .acting_tenant(requested)
        .map(|tenant| tenant.map(str::to_owned))
        .map_err(|refusal| reply::refused(&refusal))
}

/// The query of a list route: `?tenant=acme&limit=50&starting_after=<id>` (keys,
/// catalogues) or `&after=<name>` (tenants, accounts), decoded.
#[derive(Debug, Default)]
struct ListQuery {
    tenant: Option<String>,
    limit: Option<usize>,
    starting_after: Option<String>,
    after: Option<String>,
}

/// The longest `after`: an account, `<tenant>/<owner>`.
const MAX_AFTER: usize = 128 + 1 + 128;

/// A list route's query, with `tenant` the one `principal` may list ([`acting_tenant`]).
fn listing(principal: &Principal, query: Option<&str>) -> Result<ListQuery, Reply> {
    let mut query = list_query(query)?;
    query.tenant = acting_tenant(principal, query.tenant.as_deref())?;
    Ok(query)
}

/// Parses a list route's query; unknown parameters are ignored, a repeated or malformed
/// one is 400 naming it.
fn list_query(query: Option<&str>) -> Result<ListQuery, Reply> {
    let mut parsed = ListQuery::default();
    let Some(query) = query else {
        return Ok(parsed);
    };
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let slot_taken = match &*name {
            "tenant" => {
                if !keygate_core::credentials::is_valid_id(&value) {
                    return Err(reply::invalid("tenant: 1 to 128 of A-Z a-z 0-9 . _ : @ -"));
                }
                parsed.tenant.replace(value.into_owned()).is_some()
            }
            "limit" => {
                let limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|limit| (1..=keygate_core::MAX_LIST_LIMIT).contains(limit))
                    .ok_or_else(|| {
                        reply::invalid(format!("limit: 1 to {}", keygate_core::MAX_LIST_LIMIT))
                    })?;
                parsed.limit.replace(limit).is_some()
            }
            "starting_after" => {
                if value.is_empty() || value.len() > 64 {
                    return Err(reply::invalid(
                        "starting_after: an id from the previous page",
                    ));
                }
                parsed.starting_after.replace(value.into_owned()).is_some()
            }
            "after" => {
                if value.is_empty() || value.len() > MAX_AFTER {
                    return Err(reply::invalid("after: a name from the previous page"));
                }
                parsed.after.replace(value.into_owned()).is_some()
            }
            _ => false,
        };
        if slot_taken {
            return Err(reply::invalid(format!("{name}: give it once")));
        }
    }
    Ok(parsed)
}

/// Mints `request` for `principal`. A field the engine refuses (a malformed
/// `userReference`, metadata over its size limit, a minting key expiring within the
/// second) is the body's fault: 400 naming it; any other refusal is keygate's answer.
fn mint(app: &App, principal: &Principal, request: TokenRequest) -> Result<IssuedToken, Reply> {
    app.keygate()
        .issue_token(principal, request)
        .map_err(|error| match error {
            AuthError::InvalidRequest(detail) => reply::invalid(detail),
            error => reply::refused(&error),
        })
}
