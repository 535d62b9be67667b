//! contract.md, "API keys": the catalogues admin resource, scoped to tenants like keys.

use http::Method;
use serde_json::{Value, json};
use time::Duration;

use super::assert_invalid;
use crate::platform::{CATALOGUES, Database, Platform, PlatformAdapter, text};

fn path(catalogue: &Value) -> String {
    format!("{CATALOGUES}/{}", text(catalogue, "id"))
}

/// Create, list, show, replace and delete a catalogue with the admin secret.
pub async fn catalogue_crud<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let reply = p
        .admin(Method::POST, CATALOGUES)
        .json(&json!({"name": "Spring", "description": "sofas", "tenant": "acme"}))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let created = reply.json();
    let id = text(&created, "id");
    assert!(id.starts_with("cat_") && id.len() == 4 + 32, "{id}");
    assert_eq!(created["name"], "Spring");
    assert_eq!(created["description"], "sofas");
    assert_eq!(created["tenant"], "acme");
    assert_eq!(created["created_at"], "2030-01-01T00:00:00Z");
    assert_eq!(created["updated_at"], "2030-01-01T00:00:00Z");

    let platform_own = p
        .admin(Method::POST, CATALOGUES)
        .json(&json!({"name": "House"}))
        .send()
        .await
        .json();
    assert_eq!(platform_own["tenant"], Value::Null);
    assert_eq!(platform_own["description"], Value::Null);

    let listed = p.admin(Method::GET, CATALOGUES).send().await;
    listed.assert_ok();
    assert_eq!(
        listed.json()["catalogues"].as_array().map(Vec::len),
        Some(2)
    );
    let acme = p
        .admin(Method::GET, &format!("{CATALOGUES}?tenant=acme"))
        .send()
        .await
        .json();
    assert_eq!(
        acme,
        json!({"catalogues": [created.clone()], "has_more": false})
    );

    let shown = p.admin(Method::GET, &path(&created)).send().await;
    shown.assert_ok();
    assert_eq!(shown.json(), created);

    p.clock.advance(Duration::minutes(5));
    let reply = p
        .admin(Method::PUT, &path(&created))
        .json(&json!({"name": "Summer"}))
        .send()
        .await;
    reply.assert_ok();
    let updated = reply.json();
    assert_eq!(updated["name"], "Summer");
    assert_eq!(
        updated["description"],
        Value::Null,
        "PUT replaces both fields"
    );
    assert_eq!(updated["created_at"], "2030-01-01T00:00:00Z");
    assert_eq!(updated["updated_at"], "2030-01-01T00:05:00Z");
    assert_eq!(updated["tenant"], "acme");
    assert_eq!(
        p.admin(Method::GET, &path(&created)).send().await.json(),
        updated
    );

    let reply = p.admin(Method::DELETE, &path(&created)).send().await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert!(reply.body.is_empty());
    for method in [Method::GET, Method::DELETE] {
        p.admin(method, &path(&created))
            .send()
            .await
            .assert_problem(404, "not_found");
    }
    p.admin(Method::PUT, &path(&created))
        .json(&json!({"name": "Again"}))
        .send()
        .await
        .assert_problem(404, "not_found");
    let listed = p.admin(Method::GET, CATALOGUES).send().await.json();
    assert_eq!(
        listed,
        json!({"catalogues": [platform_own], "has_more": false})
    );
}

/// Invalid catalogue bodies: 400 `invalid_request` naming the field; nothing stored.
pub async fn catalogue_validation<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    for (body, field) in [
        (json!({}), "body"),
        (json!({"name": ""}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "n".repeat(129)}), "name"),
        (
            json!({"name": "ok", "description": "d".repeat(1025)}),
            "description",
        ),
        (json!({"name": "ok", "tenant": "bad tenant!"}), "tenant"),
    ] {
        let reply = p.admin(Method::POST, CATALOGUES).json(&body).send().await;
        assert_invalid(&reply, field, &body.to_string());
    }
    let reply = p
        .admin(Method::POST, CATALOGUES)
        .json(&json!({"name": "ok", "colour": "red"}))
        .send()
        .await;
    reply.assert_problem(400, "invalid_request");
    assert!(super::detail(&reply).contains("colour"), "{}", reply.body);
    let created = p
        .admin(Method::POST, CATALOGUES)
        .json(&json!({"name": "ok"}))
        .send()
        .await
        .json();
    let reply = p
        .admin(Method::PUT, &path(&created))
        .json(&json!({"name": "ok", "tenant": "globex"}))
        .send()
        .await;
    reply.assert_problem(400, "invalid_request");
    assert!(super::detail(&reply).contains("tenant"), "{}", reply.body);
    let listed = p.admin(Method::GET, CATALOGUES).send().await.json();
    assert_eq!(listed, json!({"catalogues": [created], "has_more": false}));
}

/// A tenant's `sk_` key in `x-client-secret` sees and changes only its tenant's
/// catalogues; catalogues are admin-only.
pub async fn catalogue_tenant_isolation<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let acme_key = p.secret_key("acme").await;
    let acme_key = text(&acme_key, "key").to_owned();
    let create = |body: Value| p.admin(Method::POST, CATALOGUES).json(&body).send();
    let globex = create(json!({"name": "G", "tenant": "globex"}))
        .await
        .json();
    let platform_own = create(json!({"name": "P"})).await.json();
    let as_acme =
        |method: Method, path: &str| p.request(method, path).header("x-client-secret", &acme_key);

    let reply = as_acme(Method::POST, CATALOGUES)
        .json(&json!({"name": "A"}))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let acme = reply.json();
    assert_eq!(acme["tenant"], "acme");
    as_acme(Method::POST, CATALOGUES)
        .json(&json!({"name": "A2", "tenant": "globex"}))
        .send()
        .await
        .assert_problem(403, "tenant_forbidden");

    let listed = as_acme(Method::GET, CATALOGUES).send().await;
    listed.assert_ok();
    assert_eq!(
        listed.json(),
        json!({"catalogues": [acme.clone()], "has_more": false})
    );
    as_acme(Method::GET, &format!("{CATALOGUES}?tenant=globex"))
        .send()
        .await
        .assert_problem(403, "tenant_forbidden");

    for other in [&globex, &platform_own] {
        as_acme(Method::GET, &path(other))
            .send()
            .await
            .assert_problem(404, "not_found");
        as_acme(Method::PUT, &path(other))
            .json(&json!({"name": "taken"}))
            .send()
            .await
            .assert_problem(404, "not_found");
        as_acme(Method::DELETE, &path(other))
            .send()
            .await
            .assert_problem(404, "not_found");
    }
    assert_eq!(
        p.admin(Method::GET, &path(&globex)).send().await.json(),
        globex
    );
    as_acme(Method::GET, &path(&acme)).send().await.assert_ok();
    let reply = as_acme(Method::DELETE, &path(&acme)).send().await;
    assert_eq!(reply.status, 204, "{}", reply.body);

    // Tokens and API keys are refused, whatever their scope.
    let token = p.token("SESSION", "*", "*").await;
    p.get(CATALOGUES)
        .bearer(&token)
        .send()
        .await
        .assert_problem(403, "secret_key_required");
    p.get(CATALOGUES)
        .header("x-api-key", &acme_key)
        .send()
        .await
        .assert_problem(403, "secret_key_required");
}

/// Catalogue changes are admin changes: a tenant's key in its rotation grace reads its
/// tenant's catalogues but cannot create, replace or delete one (403
/// `expiring_credential`); its successor can.
pub async fn rotated_keys_change_no_catalogue<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let leaked = p.secret_key("acme").await;
    let catalogue = p
        .admin(Method::POST, CATALOGUES)
        .json(&json!({"name": "A", "tenant": "acme"}))
        .send()
        .await
        .json();
    let reply = p
        .admin(
            Method::POST,
            &format!("/api/v1/admin/keys/{}/rotate", text(&leaked, "id")),
        )
        .json(&json!({"grace_seconds": 3600}))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let successor = text(&reply.json(), "key").to_owned();
    let as_key = |key: &str, method: Method, path: &str| {
        p.request(method, path).header("x-client-secret", key)
    };
    let leaked = text(&leaked, "key").to_owned();
    as_key(&leaked, Method::GET, &path(&catalogue))
        .send()
        .await
        .assert_ok();
    as_key(&leaked, Method::GET, CATALOGUES)
        .send()
        .await
        .assert_ok();
    as_key(&leaked, Method::POST, CATALOGUES)
        .json(&json!({"name": "B"}))
        .send()
        .await
        .assert_problem(403, "expiring_credential");
    as_key(&leaked, Method::PUT, &path(&catalogue))
        .json(&json!({"name": "renamed"}))
        .send()
        .await
        .assert_problem(403, "expiring_credential");
    as_key(&leaked, Method::DELETE, &path(&catalogue))
        .send()
        .await
        .assert_problem(403, "expiring_credential");
    // Registering an OAuth client is an admin change too.
    let client = json!({"name": "App", "redirect_uris": ["https://app.example/cb"],
        "scopes": ["read:users"]});
    as_key(&leaked, Method::POST, "/api/v1/admin/oauth/clients")
        .json(&client)
        .send()
        .await
        .assert_problem(403, "expiring_credential");
    let reply = as_key(&successor, Method::POST, "/api/v1/admin/oauth/clients")
        .json(&client)
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let shown = p.admin(Method::GET, &path(&catalogue)).send().await;
    shown.assert_ok();
    assert_eq!(shown.json()["name"], "A");
    let reply = as_key(&successor, Method::DELETE, &path(&catalogue))
        .send()
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
}
