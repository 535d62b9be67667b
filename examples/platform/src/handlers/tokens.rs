//! `POST /api/v1/token`: mints a one-time or session token for one resource and action.
//! Every rule of the HTTP contract's "Issued tokens" is checked here; the engine then makes
//! sure the token is no broader and lives no longer than what mints it.

use http::StatusCode;
use keygate_core::token::{TokenKind, TokenRequest};
use keygate_core::{Principal, ScopeSet};
use serde::Deserialize;
use serde_json::json;

use super::mint;
use crate::app::App;
use crate::body;
use crate::reply::{self, Reply};
use crate::routes::TOKEN_RESOURCES;

/// The resources a token may be for beyond those with a token route
/// ([`TOKEN_RESOURCES`]): catalogues (read by `GET /api/v1/catalogues/{id}`), minting, and
/// every resource.
const OTHER_RESOURCES: [&str; 3] = ["catalogue", "token", "*"];

/// Whether `resource` may be a token's `actionResource`.
fn is_action_resource(resource: &str) -> bool {
    TOKEN_RESOURCES.contains(&resource) || OTHER_RESOURCES.contains(&resource)
}

/// The actions a token may be for.
pub(crate) const ACTION_TYPES: [&str; 5] = ["create", "read", "update", "delete", "*"];

/// Default session length, minutes.
const DEFAULT_SESSION_MINUTES: i64 = 5;
/// Longest session, minutes.
const MAX_SESSION_MINUTES: i64 = 1440;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IssueToken {
    action_resource: String,
    action_type: String,
    user_reference: Option<String>,
    catalogue_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    duration: Option<i64>,
}

pub(super) fn issue(app: &App, principal: &Principal, body: &[u8]) -> Reply {
    let request: IssueToken = match body::parse(body, false) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    if !is_action_resource(&request.action_resource) {
        return reply::invalid(format!(
            "actionResource: one of {}, {}",
            TOKEN_RESOURCES.join(", "),
            OTHER_RESOURCES.join(", ")
        ));
    }
    if !ACTION_TYPES.contains(&request.action_type.as_str()) {
        return reply::invalid(format!("actionType: one of {}", ACTION_TYPES.join(", ")));
    }
    let (kind, type_name) = match request.kind.as_deref() {
        None | Some("ONE_TIME") => (TokenKind::OneTime, "ONE_TIME"),
        Some("SESSION") => (TokenKind::Session, "SESSION"),
        Some(_) => return reply::invalid("type: ONE_TIME or SESSION"),
    };
    let lifetime = match (kind, request.duration) {
        (TokenKind::Session, duration) => {
            let minutes = duration.unwrap_or(DEFAULT_SESSION_MINUTES);
            if !(1..=MAX_SESSION_MINUTES).contains(&minutes) {
                return reply::invalid(format!("duration: 1 to {MAX_SESSION_MINUTES} minutes"));
            }
            Some(time::Duration::minutes(minutes))
        }
        (_, Some(_)) => {
            return reply::invalid(
                "duration: only SESSION tokens take a duration (ONE_TIME tokens live 300 s)",
            );
        }
        (_, None) => None,
    };
    let scope = format!("{}:{}", request.action_resource, request.action_type);
    let scopes = match ScopeSet::parse([scope.as_str()]) {
        Ok(scopes) => scopes,
        Err(_) => return reply::invalid("actionResource: not a valid scope"),
    };
    let issued = match mint(
        app,
        principal,
        TokenRequest {
            scopes: Some(scopes),
            lifetime,
            user_reference: request.user_reference,
            catalogue_id: request.catalogue_id,
            ..TokenRequest::new(kind)
        },
    ) {
        Ok(issued) => issued,
        Err(reply) => return reply,
    };
    reply::json(
        StatusCode::OK,
        &json!({
            "token": issued.expose(),
            "expiresIn": issued.expires_in(),
            "actionResource": request.action_resource,
            "actionType": request.action_type,
            "type": type_name,
        }),
    )
}
