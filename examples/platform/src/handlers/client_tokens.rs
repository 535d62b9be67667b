//! `POST /api/tokens`: mints an `ek_` client token for a browser or an app. The body's
//! rules are checked here; the engine decides who may mint (the platform secret and
//! `sk_` keys) and makes sure the token carries the minter's tenant and scopes, never
//! more, and lives no longer than the minting key.

use http::StatusCode;
use keygate_core::Principal;
use keygate_core::key::Metadata;
use keygate_core::token::{MAX_CLIENT_LIFETIME, TokenKind, TokenRequest};
use serde::Deserialize;
use serde_json::json;
use time::format_description::well_known::Rfc3339;

use super::mint;
use crate::app::App;
use crate::body;
use crate::reply::{self, Reply};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MintClientToken {
    #[serde(default)]
    metadata: Metadata,
    ttl_seconds: Option<i64>,
}

pub(super) fn issue(app: &App, principal: &Principal, body: &[u8]) -> Reply {
    let request: MintClientToken = match body::parse(body, true) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    let longest = MAX_CLIENT_LIFETIME.whole_seconds();
    let lifetime = match request.ttl_seconds {
        None => None,
        Some(seconds) if (1..=longest).contains(&seconds) => Some(time::Duration::seconds(seconds)),
        Some(_) => return reply::invalid(format!("ttl_seconds: 1 to {longest} seconds")),
    };
    let issued = match mint(
        app,
        principal,
        TokenRequest {
            lifetime,
            metadata: request.metadata,
            ..TokenRequest::new(TokenKind::Client)
        },
    ) {
        Ok(issued) => issued,
        Err(reply) => return reply,
    };
    let Ok(expires_at) = issued.expires_at.format(&Rfc3339) else {
        tracing::error!("a client token's expiry could not be written as RFC 3339");
        return reply::internal();
    };
    reply::json(
        StatusCode::OK,
        &json!({ "apiKey": issued.expose(), "expiresAt": expires_at }),
    )
}
