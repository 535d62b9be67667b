//! The OAuth 2.0 routes: client registration (admin), and the authorization, token,
//! revocation and metadata endpoints, which answer as RFC 6749 says (JSON errors or
//! redirects), never as problem+json. The logic is keygate-oauth's; this file only
//! copies requests in and answers out.

use http::StatusCode;
use keygate_core::transport::Client;
use keygate_core::{Access, AuthMethod, Methods, Principal, ScopeSet};
use keygate_oauth::client::NewClient;
use keygate_oauth::{
    AuthorizationServer, EndpointRequest, ErrorCode, OAuthError, OAuthResponse, RegisterError,
    ResourceOwner,
};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;

use crate::app::{App, Call};
use crate::body;
use crate::reply::{self, Reply};

/// `POST /api/v1/admin/oauth/clients`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterClient {
    name: String,
    redirect_uris: Vec<String>,
    scopes: Vec<String>,
    #[serde(default = "confidential_by_default")]
    confidential: bool,
    /// The operator may register a client for a tenant; a tenant's key registers its own.
    tenant: Option<String>,
}

fn confidential_by_default() -> bool {
    true
}

fn server(app: &App) -> Result<&AuthorizationServer, Reply> {
    app.oauth().ok_or_else(crate::routes::not_found)
}

pub(super) async fn register(app: &App, principal: &Principal, body: &[u8]) -> Reply {
    let server = match server(app) {
        Ok(server) => server,
        Err(reply) => return reply,
    };
    let request: RegisterClient = match body::parse(body, false) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    // KeyAdmin's rules for every admin change: the key's own tenant only, nothing by a
    // key in its rotation grace.
    let tenant = match app
        .keygate()
        .admin(principal)
        .authorize_change(request.tenant.as_deref())
        .await
    {
        Ok(tenant) => tenant,
        Err(error) => return reply::admin_error(error),
    };
    let scopes = match ScopeSet::parse(&request.scopes) {
        Ok(scopes) => scopes,
        Err(error) => return reply::invalid(format!("scopes: {error}")),
    };
    let new = NewClient {
        name: request.name,
        tenant,
        redirect_uris: request.redirect_uris,
        scopes,
        confidential: request.confidential,
    };
    match server.register_client(new).await {
        Ok(created) => {
            let record = &created.record;
            reply::json(
                StatusCode::CREATED,
                &json!({
                    "client_id": &*record.id,
                    "client_secret": created.secret.as_ref().map(|s| s.expose_secret()),
                    "name": record.name,
                    "tenant": record.tenant.as_deref(),
                    "redirect_uris": record.redirect_uris,
                    "scopes": record.scopes,
                    "confidential": record.is_confidential(),
                }),
            )
        }
        Err(RegisterError::Invalid(error)) => reply::invalid(error.to_string()),
        // The store did not answer: 503 `auth_unavailable`, as for every store failure.
        Err(RegisterError::Store(error)) => {
            reply::refused(&keygate_core::AuthError::AuthUnavailable(error))
        }
        Err(error) => {
            tracing::error!(%error, "an OAuth client could not be registered");
            reply::internal()
        }
    }
}

/// Who may approve: a signed-in user (a user JWT in `Authorization`).
fn users() -> Access {
    Access::authenticated()
        .accept(Methods::from([AuthMethod::Jwt]))
        .tenant_optional()
        .forbid_impersonation()
}

/// `GET /oauth/authorize`: the client and redirect URI first (a 400 page when either
/// cannot be trusted), then the request's other parameters, then the user; this
/// reference app treats a signed-in user's request as consent.
pub(super) async fn authorize(app: &App, call: &Call<'_>) -> Reply {
    let Ok(server) = server(app) else {
        return crate::routes::not_found();
    };
    let request = match server
        .authorization_request(call.query.unwrap_or_default())
        .await
    {
        Ok(request) => request,
        Err(refusal) => return into_reply(refusal.into_response()),
    };
    let head = head(call);
    let signed_in = match app.keygate().authenticate(&head, &users()).await {
        Ok(mut grant) => {
            let owner = grant
                .principal()
                .subject
                .as_ref()
                .map(|subject| ResourceOwner {
                    subject: subject.to_string(),
                    tenant: grant.principal().tenant.as_deref().map(str::to_owned),
                });
            let status = if owner.is_some() { 302 } else { 403 };
            let _ = app.keygate().settle(&mut grant, status).await;
            owner.filter(|_| grant.principal().method == AuthMethod::Jwt)
        }
        // The user's JWT came in the clear: refused as sent (403), not redirected to the
        // client as a denial.
        Err(keygate_core::AuthError::HttpsRequired) => {
            return into_reply(OAuthResponse::error(&OAuthError::https_required()));
        }
        Err(_) => None,
    };
    let response = match signed_in {
        Some(owner) => server.approve(&request, &owner).await,
        None => server.deny(
            &request,
            OAuthError::new(
                ErrorCode::AccessDenied,
                "the user is not signed in: send the user's JWT in Authorization",
            ),
        ),
    };
    into_reply(response)
}

/// The request's head as keygate reads it: the headers and the connection (so the engine
/// sees the peer and the scheme, and its trusted proxies and HTTPS requirement apply).
fn head(call: &Call<'_>) -> http::Request<()> {
    let mut head = http::Request::new(());
    *head.headers_mut() = call.headers.clone();
    if let Some(connection) = call.connection {
        head.extensions_mut().insert(connection);
    }
    head
}

/// The client of a token or revocation request, resolved with the engine's trusted
/// proxies; 403 `https_required` when the engine requires HTTPS and the client did not
/// use it: every such request carries a credential (a client secret, a code, a refresh
/// token, a token to revoke), and RFC 6749 §3.2 requires TLS for them. Checked before
/// the form is read.
fn client(app: &App, call: &Call<'_>) -> Result<Client, Reply> {
    let client = app.keygate().client(&head(call));
    match app.keygate().check_https(&client) {
        Ok(()) => Ok(client),
        Err(_) => Err(into_reply(OAuthResponse::error(
            &OAuthError::https_required(),
        ))),
    }
}

fn endpoint_request<'a>(
    call: &'a Call<'a>,
    client: &Client,
    authorization: &'a [&'a [u8]],
) -> EndpointRequest<'a> {
    let mut content_types = call.headers.get_all(http::header::CONTENT_TYPE).iter();
    let content_type = match (content_types.next(), content_types.next()) {
        (Some(one), None) => Some(one.as_bytes()),
        _ => None,
    };
    EndpointRequest {
        authorization,
        content_type,
        body: call.body,
        // The forwarded client behind a trusted proxy, so the failure throttle counts
        // clients one by one, not the proxy.
        client_address: client.address,
    }
}

fn authorization<'a>(call: &'a Call<'_>) -> Vec<&'a [u8]> {
    call.headers
        .get_all(http::header::AUTHORIZATION)
        .iter()
        .map(http::HeaderValue::as_bytes)
        .collect()
}

/// `POST /oauth/token`.
pub(super) async fn token(app: &App, call: &Call<'_>) -> Reply {
    let Ok(server) = server(app) else {
        return crate::routes::not_found();
    };
    let client = match client(app, call) {
        Ok(client) => client,
        Err(reply) => return reply,
    };
    let authorization = authorization(call);
    into_reply(
        server
            .token(endpoint_request(call, &client, &authorization))
            .await,
    )
}

/// `POST /oauth/revoke`.
pub(super) async fn revoke(app: &App, call: &Call<'_>) -> Reply {
    let Ok(server) = server(app) else {
        return crate::routes::not_found();
    };
    let client = match client(app, call) {
        Ok(client) => client,
        Err(reply) => return reply,
    };
    let authorization = authorization(call);
    into_reply(
        server
            .revoke(endpoint_request(call, &client, &authorization))
            .await,
    )
}

/// `GET /.well-known/oauth-authorization-server`.
pub(super) fn metadata(app: &App) -> Reply {
    match server(app) {
        Ok(server) => reply::json(StatusCode::OK, &server.metadata()),
        Err(reply) => reply,
    }
}

fn into_reply(response: OAuthResponse) -> Reply {
    let mut reply = Reply::new(String::from_utf8(response.body).unwrap_or_default());
    *reply.status_mut() = response.status;
    *reply.headers_mut() = response.headers;
    reply
}
