//! The routes that only show who called: token routes, metered routes, `/v1/users/me`,
//! the LLM gateway and organisation creation.

use http::StatusCode;
use keygate_core::{AuthError, Environment, Principal, Scope};
use serde_json::json;

use crate::reply::{self, Reply};

pub(super) fn resource(resource: &str, action: &str, principal: &Principal) -> Reply {
    reply::json(
        StatusCode::OK,
        &json!({ "resource": resource, "action": action, "principal": principal }),
    )
}

/// `GET /api/v1/catalogues/{id}`: a token minted with a `catalogueId` reads only that
/// catalogue; another id is 403 `insufficient_scope`, as if the scope were missing.
pub(super) fn read_catalogue(path: &str, principal: &Principal) -> Reply {
    let id = crate::routes::id_after(path, "/catalogues/").unwrap_or_default();
    if !principal.may_read_catalogue(id) {
        return reply::refused(&AuthError::InsufficientScope {
            required: Scope::new("catalogue:read").unwrap_or_else(|_| Scope::any()),
        });
    }
    resource("catalogue", "read", principal)
}

pub(super) fn me(principal: &Principal) -> Reply {
    let livemode = principal.environment == Some(Environment::Live);
    reply::json(
        StatusCode::OK,
        &json!({ "principal": principal, "livemode": livemode }),
    )
}

/// `POST /api/v1/llm/gateway/{method}`: the method named in the path, and who called.
pub(super) fn gateway(path: &str, principal: &Principal) -> Reply {
    let method = path.rsplit('/').next().unwrap_or_default();
    reply::json(
        StatusCode::OK,
        &json!({ "method": method, "principal": principal }),
    )
}
