//! `/api/v1/admin/tenants` and `/api/v1/admin/accounts`: the tenants, their accounts
//! (`<tenant>/<owner>`, the owner a user id), an account's balance and refill rule. Every
//! rule (operator-only listing of tenants and creating credits, a tenant key seeing only
//! its tenant) is keygate-core's `KeyAdmin`'s: these handlers read the request and write
//! the answer.

use http::StatusCode;
use keygate_core::Principal;
use keygate_core::account::{Account, AccountView, Refill};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ListQuery, list_query};
use crate::app::App;
use crate::body;
use crate::reply::{self, Reply};
use crate::routes::account_segments;

/// `POST /api/v1/admin/accounts/{tenant}/{owner}/credits`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddCredits {
    add: u64,
}

/// An account as the admin routes show it: `{"tenant", "owner", "credits", "refill",
/// "keys"}` (`credits` null for an account that does not meter its keys).
fn shown(view: &AccountView) -> Reply {
    reply::json(StatusCode::OK, view)
}

/// The account the path names; 404 for segments no account could have (the owner of
/// `auth0%7Cabc` is `auth0|abc`).
fn account(path: &str) -> Result<Account, Reply> {
    account_segments(path)
        .and_then(|(tenant, owner)| Account::new(&tenant, &owner).ok())
        .ok_or_else(|| reply::not_found("account"))
}

/// The `after` of an account page: `<owner>` within the listed tenant, or
/// `<tenant>/<owner>` when listing every tenant.
fn after(query: &ListQuery) -> Result<Option<Account>, Reply> {
    let Some(after) = query.after.as_deref() else {
        return Ok(None);
    };
    let parsed = match (after.split_once('/'), query.tenant.as_deref()) {
        (Some((tenant, owner)), _) => Account::new(tenant, owner),
        (None, Some(tenant)) => Account::new(tenant, after),
        (None, None) => {
            return Err(reply::invalid(
                "after: <tenant>/<owner> from the previous page, or an owner with tenant",
            ));
        }
    };
    parsed
        .map(Some)
        .map_err(|_| reply::invalid("after: an account from the previous page"))
}

pub(super) async fn list_tenants(app: &App, principal: &Principal, query: Option<&str>) -> Reply {
    let query = match list_query(query) {
        Ok(query) => query,
        Err(reply) => return reply,
    };
    if query
        .after
        .as_deref()
        .is_some_and(|after| !keygate_core::credentials::is_valid_id(after))
    {
        return reply::invalid("after: a tenant from the previous page");
    }
    let limit = query.limit.unwrap_or(keygate_core::MAX_LIST_LIMIT);
    match app
        .keygate()
        .admin(principal)
        .list_tenants(query.after.as_deref(), limit)
        .await
    {
        Ok(page) => {
            let tenants: Vec<Value> = page
                .tenants
                .iter()
                .map(|summary| {
                    json!({
                        "tenant": &*summary.tenant,
                        "keys": summary.keys,
                        "accounts": summary.accounts,
                    })
                })
                .collect();
            reply::json(
                StatusCode::OK,
                &json!({ "tenants": tenants, "has_more": page.has_more }),
            )
        }
        Err(error) => reply::admin_error_about(error, "tenant"),
    }
}

pub(super) async fn list(app: &App, principal: &Principal, query: Option<&str>) -> Reply {
    let query = match super::listing(principal, query) {
        Ok(query) => query,
        Err(reply) => return reply,
    };
    let after = match after(&query) {
        Ok(after) => after,
        Err(reply) => return reply,
    };
    let limit = query.limit.unwrap_or(keygate_core::MAX_LIST_LIMIT);
    match app
        .keygate()
        .admin(principal)
        .list_accounts(query.tenant.as_deref(), after.as_ref(), limit)
        .await
    {
        Ok(page) => reply::json(
            StatusCode::OK,
            &json!({ "accounts": page.accounts, "has_more": page.has_more }),
        ),
        Err(error) => reply::admin_error_about(error, "account"),
    }
}

pub(super) async fn show(app: &App, principal: &Principal, path: &str) -> Reply {
    let account = match account(path) {
        Ok(account) => account,
        Err(reply) => return reply,
    };
    match app.keygate().admin(principal).get_account(&account).await {
        Ok(view) => shown(&view),
        Err(error) => reply::admin_error_about(error, "account"),
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
    let account = match account(path) {
        Ok(account) => account,
        Err(reply) => return reply,
    };
    let admin = app.keygate().admin(principal);
    if let Err(error) = admin.add_account_credits(&account, request.add).await {
        return reply::admin_error_about(error, "account");
    }
    match admin.get_account(&account).await {
        Ok(view) => shown(&view),
        Err(error) => reply::admin_error_about(error, "account"),
    }
}

/// `POST …/refill`: `{"amount", "interval"}` sets the rule, `null` or `{}` (or no body)
/// clears it.
pub(super) async fn set_refill(app: &App, principal: &Principal, path: &str, body: &[u8]) -> Reply {
    let value: Value = match body::parse(body, true) {
        Ok(value) => value,
        Err(reply) => return reply,
    };
    let clear = value.is_null() || value.as_object().is_some_and(serde_json::Map::is_empty);
    let refill = if clear {
        None
    } else {
        match body::parse::<Refill>(body, false) {
            Ok(refill) => Some(refill),
            Err(reply) => return reply,
        }
    };
    let account = match account(path) {
        Ok(account) => account,
        Err(reply) => return reply,
    };
    match app
        .keygate()
        .admin(principal)
        .set_account_refill(&account, refill)
        .await
    {
        Ok(view) => shown(&view),
        Err(error) => reply::admin_error_about(error, "account"),
    }
}
