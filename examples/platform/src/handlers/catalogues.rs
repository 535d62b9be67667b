//! `/api/v1/admin/catalogues`: a small admin resource, scoped to tenants like keys.

use http::StatusCode;
use keygate_core::Principal;
use keygate_core::audit::AuditEvent;
use serde::Deserialize;
use serde_json::json;

use super::listing;
use crate::app::App;
use crate::body;
use crate::catalogues::Catalogue;
use crate::reply::{self, Reply};
use crate::routes::id_after;

const MAX_NAME: usize = 128;
const MAX_DESCRIPTION: usize = 1024;

/// `POST /api/v1/admin/catalogues`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateCatalogue {
    name: String,
    description: Option<String>,
    tenant: Option<String>,
}

/// `PUT /api/v1/admin/catalogues/{id}`: replaces both fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateCatalogue {
    name: String,
    description: Option<String>,
}

fn check(name: &str, description: Option<&str>) -> Result<(), Reply> {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME {
        return Err(reply::invalid(format!("name: 1 to {MAX_NAME} characters")));
    }
    if description.is_some_and(|d| d.chars().count() > MAX_DESCRIPTION) {
        return Err(reply::invalid(format!(
            "description: at most {MAX_DESCRIPTION} characters"
        )));
    }
    Ok(())
}

fn unavailable(error: keygate_core::StoreError) -> Reply {
    reply::refused(&keygate_core::AuthError::AuthUnavailable(error))
}

/// The catalogue the path names, if the caller may see it; 404 otherwise.
async fn visible(app: &App, principal: &Principal, path: &str) -> Result<Catalogue, Reply> {
    let id = id_after(path, "/catalogues/").unwrap_or_default();
    if id.is_empty() || id.len() > 64 {
        return Err(reply::not_found("catalogue"));
    }
    match app.catalogues().get(id).await {
        Ok(Some(catalogue)) if principal.may_manage(catalogue.tenant.as_deref()) => Ok(catalogue),
        Ok(_) => Err(reply::not_found("catalogue")),
        Err(error) => Err(unavailable(error)),
    }
}

fn new_id() -> Result<String, Reply> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|_| reply::internal())?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("cat_{hex}"))
}

pub(super) async fn create(app: &App, principal: &Principal, body: &[u8]) -> Reply {
    let request: CreateCatalogue = match body::parse(body, false) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    if let Err(reply) = check(&request.name, request.description.as_deref()) {
        return reply;
    }
    if let Some(tenant) = &request.tenant
        && !keygate_core::credentials::is_valid_id(tenant)
    {
        return reply::invalid("tenant: 1 to 128 of A-Z a-z 0-9 . _ : @ -");
    }
    // keygate's rules for admin changes: own tenant only, none by a key in its rotation
    // grace.
    let tenant = match app
        .keygate()
        .admin(principal)
        .authorize_change(request.tenant.as_deref())
        .await
    {
        Ok(tenant) => tenant,
        Err(error) => return reply::admin_error(error),
    };
    let id = match new_id() {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    let now = keygate_core::clock::to_micros(app.keygate().clock().now());
    let catalogue = Catalogue {
        id,
        tenant,
        name: request.name,
        description: request.description,
        created_at: now,
        updated_at: now,
    };
    match app.catalogues().create(&catalogue).await {
        Ok(()) => {
            audit(app, principal, "catalogue.create", &catalogue);
            reply::json(StatusCode::CREATED, &catalogue)
        }
        Err(error) => unavailable(error),
    }
}

pub(super) async fn list(app: &App, principal: &Principal, query: Option<&str>) -> Reply {
    let query = match listing(principal, query) {
        Ok(query) => query,
        Err(reply) => return reply,
    };
    let tenant = query.tenant.clone();
    let after = match &query.starting_after {
        None => None,
        Some(id) => match app.catalogues().get(id).await {
            Ok(Some(catalogue))
                if principal.may_manage(catalogue.tenant.as_deref())
                    && (tenant.is_none() || catalogue.tenant == tenant) =>
            {
                Some(catalogue)
            }
            Ok(_) => {
                return reply::invalid("starting_after: no catalogue of this listing has this id");
            }
            Err(error) => return unavailable(error),
        },
    };
    let limit = query.limit.unwrap_or(keygate_core::MAX_LIST_LIMIT);
    match app
        .catalogues()
        .list(tenant.as_deref(), after.as_ref(), limit.saturating_add(1))
        .await
    {
        Ok(mut catalogues) => {
            let has_more = catalogues.len() > limit;
            catalogues.truncate(limit);
            reply::json(
                StatusCode::OK,
                &json!({ "catalogues": catalogues, "has_more": has_more }),
            )
        }
        Err(error) => unavailable(error),
    }
}

pub(super) async fn show(app: &App, principal: &Principal, path: &str) -> Reply {
    match visible(app, principal, path).await {
        Ok(catalogue) => reply::json(StatusCode::OK, &catalogue),
        Err(reply) => reply,
    }
}

pub(super) async fn update(app: &App, principal: &Principal, path: &str, body: &[u8]) -> Reply {
    let request: UpdateCatalogue = match body::parse(body, false) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    if let Err(reply) = check(&request.name, request.description.as_deref()) {
        return reply;
    }
    if let Err(error) = app.keygate().admin(principal).authorize_change(None).await {
        return reply::admin_error(error);
    }
    let catalogue = match visible(app, principal, path).await {
        Ok(catalogue) => catalogue,
        Err(reply) => return reply,
    };
    let now = keygate_core::clock::to_micros(app.keygate().clock().now());
    match app
        .catalogues()
        .update(
            &catalogue.id,
            &request.name,
            request.description.as_deref(),
            now,
        )
        .await
    {
        Ok(Some(updated)) => {
            audit(app, principal, "catalogue.update", &updated);
            reply::json(StatusCode::OK, &updated)
        }
        Ok(None) => reply::not_found("catalogue"),
        Err(error) => unavailable(error),
    }
}

pub(super) async fn delete(app: &App, principal: &Principal, path: &str) -> Reply {
    if let Err(error) = app.keygate().admin(principal).authorize_change(None).await {
        return reply::admin_error(error);
    }
    let catalogue = match visible(app, principal, path).await {
        Ok(catalogue) => catalogue,
        Err(reply) => return reply,
    };
    match app.catalogues().delete(&catalogue.id).await {
        Ok(_) => {
            audit(app, principal, "catalogue.delete", &catalogue);
            reply::no_content()
        }
        Err(error) => unavailable(error),
    }
}

/// Records a catalogue change in keygate's audit trail, with who made it.
fn audit(app: &App, principal: &Principal, action: &str, catalogue: &Catalogue) {
    app.keygate().audit(&AuditEvent::AdminChange {
        by: Some(principal),
        action,
        target: &catalogue.id,
        tenant: catalogue.tenant.as_deref(),
    });
}
