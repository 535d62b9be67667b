//! contract.md, "Token routes": `POST /api/v1/{resource}` needs `<resource>:create`,
//! `GET /api/v1/catalogues/{id}` needs `catalogue:read`; the platform secret opens both.

use http::Method;
use serde_json::{Value, json};

use super::insufficient;
use crate::platform::{Database, Platform, PlatformAdapter, text};

/// The resources with a token route.
const RESOURCES: [&str; 9] = [
    "lens",
    "object-detection",
    "2d-to-3d",
    "fill",
    "swap",
    "room-visualize",
    "property-visualize",
    "magic-background",
    "upload",
];

/// Each of the nine resources opens to a token with `<resource>:create` and to no other
/// token: 200 `{"resource", "action", "principal"}`, or 403 `insufficient_scope` whose
/// challenge names the scope needed.
pub async fn token_routes_need_their_scope<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    for resource in RESOURCES {
        let token = p.token("SESSION", resource, "create").await;
        let path = format!("/api/v1/{resource}");
        let reply = p.post(&path).bearer(&token).send().await;
        reply.assert_ok();
        assert_eq!(reply.header("content-type"), Some("application/json"));
        let body = reply.json();
        assert_eq!(body["resource"], resource);
        assert_eq!(body["action"], "create");
        assert_eq!(body["principal"]["method"], "token");
        assert_eq!(
            body["principal"]["scopes"],
            json!([format!("{resource}:create")])
        );
        assert!(!reply.body.contains(&token));
        for other in RESOURCES.iter().filter(|other| **other != resource) {
            let reply = p
                .post(&format!("/api/v1/{other}"))
                .bearer(&token)
                .send()
                .await;
            reply.assert_problem(403, "insufficient_scope");
            assert_eq!(
                reply.header("www-authenticate"),
                Some(insufficient(&format!("{other}:create")).as_str())
            );
        }
        let reply = p
            .get("/api/v1/catalogues/cat_1")
            .bearer(&token)
            .send()
            .await;
        reply.assert_problem(403, "insufficient_scope");
        assert_eq!(
            reply.header("www-authenticate"),
            Some(insufficient("catalogue:read").as_str())
        );
        // Another action on the same resource is another scope.
        let read = p.token("SESSION", resource, "read").await;
        p.post(&path)
            .bearer(&read)
            .send()
            .await
            .assert_problem(403, "insufficient_scope");
    }
}

/// `GET /api/v1/catalogues/{id}` needs `catalogue:read`.
pub async fn catalogue_read_needs_its_scope<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    for (action, allowed) in [
        ("read", true),
        ("*", true),
        ("create", false),
        ("update", false),
    ] {
        let token = p.token("SESSION", "catalogue", action).await;
        let reply = p
            .get("/api/v1/catalogues/cat_1")
            .bearer(&token)
            .send()
            .await;
        if allowed {
            reply.assert_ok();
            assert_eq!(reply.json()["resource"], "catalogue");
            assert_eq!(reply.json()["action"], "read");
            assert_eq!(
                reply.json()["principal"]["scopes"],
                json!([format!("catalogue:{action}")])
            );
        } else {
            reply.assert_problem(403, "insufficient_scope");
            assert_eq!(
                reply.header("www-authenticate"),
                Some(insufficient("catalogue:read").as_str())
            );
        }
    }
}

/// A one-time token presented to a route outside its scope is refused and NOT consumed;
/// it still serves its own route once.
pub async fn refused_one_time_token_is_not_consumed<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let token = p.token("ONE_TIME", "lens", "create").await;
    for path in ["/api/v1/magic-background", "/api/v1/fill"] {
        p.post(path)
            .bearer(&token)
            .send()
            .await
            .assert_problem(403, "insufficient_scope");
    }
    p.get("/api/v1/catalogues/cat_1")
        .bearer(&token)
        .send()
        .await
        .assert_problem(403, "insufficient_scope");
    p.post("/api/detect")
        .bearer(&token)
        .send()
        .await
        .assert_problem(403, "credential_not_accepted");
    p.get("/v1/users/me")
        .bearer(&token)
        .send()
        .await
        .assert_problem(403, "credential_not_accepted");
    p.post("/api/v1/lens")
        .bearer(&token)
        .send()
        .await
        .assert_ok();
    p.post("/api/v1/lens")
        .bearer(&token)
        .send()
        .await
        .assert_problem(401, "token_used");
}

/// A ONE_TIME token whose request a token route refuses (a body over 64 KiB: 413) is not
/// spent: it serves the next request, once.
pub async fn token_route_refusal_leaves_one_time_token_unused<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let token = p.token("ONE_TIME", "lens", "create").await;
    for _ in 0..2 {
        p.post("/api/v1/lens")
            .bearer(&token)
            .body(vec![b'x'; 1024 * 1024])
            .send()
            .await
            .assert_problem(413, "payload_too_large");
    }
    p.post("/api/v1/lens")
        .bearer(&token)
        .send()
        .await
        .assert_ok();
    p.post("/api/v1/lens")
        .bearer(&token)
        .send()
        .await
        .assert_problem(401, "token_used");
}

/// Wildcards: `*` matches anything in its place.
pub async fn wildcard_scopes<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let everything = p.token("SESSION", "*", "*").await;
    let any_create = p.token("SESSION", "*", "create").await;
    let any_lens = p.token("SESSION", "lens", "*").await;
    for resource in RESOURCES {
        let path = format!("/api/v1/{resource}");
        p.post(&path).bearer(&everything).send().await.assert_ok();
        p.post(&path).bearer(&any_create).send().await.assert_ok();
        let reply = p.post(&path).bearer(&any_lens).send().await;
        if resource == "lens" {
            reply.assert_ok();
        } else {
            reply.assert_problem(403, "insufficient_scope");
        }
    }
    let catalogue = "/api/v1/catalogues/cat_1";
    p.get(catalogue)
        .bearer(&everything)
        .send()
        .await
        .assert_ok();
    p.get(catalogue)
        .bearer(&any_create)
        .send()
        .await
        .assert_problem(403, "insufficient_scope");
    // A one-time wildcard token is still used up by its first request.
    let once = p.token("ONE_TIME", "*", "*").await;
    p.post("/api/v1/swap")
        .bearer(&once)
        .send()
        .await
        .assert_ok();
    p.post("/api/v1/fill")
        .bearer(&once)
        .send()
        .await
        .assert_problem(401, "token_used");
}

/// The platform secret opens every token route as the operator; a tenant's `sk_` key in
/// `x-client-secret` as its tenant. API keys elsewhere are not accepted there.
pub async fn token_routes_take_client_secrets<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let key = p.secret_key("acme").await;
    for resource in RESOURCES {
        let path = format!("/api/v1/{resource}");
        let reply = p.admin(Method::POST, &path).send().await;
        reply.assert_ok();
        let principal = &reply.json()["principal"];
        assert_eq!(principal["method"], "secret_key");
        assert_eq!(principal["tenant"], Value::Null);
        let reply = p
            .post(&path)
            .header("x-client-secret", text(&key, "key"))
            .send()
            .await;
        reply.assert_ok();
        assert_eq!(reply.json()["principal"]["tenant"], "acme");
        assert_eq!(reply.json()["principal"]["key_id"], key["id"]);
        let reply = p
            .post(&path)
            .header("x-api-key", text(&key, "key"))
            .send()
            .await;
        reply.assert_problem(403, "credential_not_accepted");
    }
    p.admin(Method::GET, "/api/v1/catalogues/cat_1")
        .send()
        .await
        .assert_ok();
    // Nothing presented: 401.
    let reply = p.post("/api/v1/lens").send().await;
    reply.assert_problem(401, "missing_credentials");
    assert_eq!(reply.header("www-authenticate"), Some(super::BARE));
}

/// Tokens that are not tokens: 401 `invalid_token`, never echoed. A bearer shaped like
/// someone else's JWT is not a token of this platform, and token routes take only those:
/// 403 `credential_not_accepted`, unverified.
pub async fn malformed_tokens_are_invalid<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let token = p.token("SESSION", "lens", "create").await;
    let mut tampered = token.clone();
    let last = tampered.pop().map(|c| if c == 'A' { 'B' } else { 'A' });
    tampered.extend(last);
    let mut truncated = token.clone();
    truncated.truncate(token.len() - 10);
    for bad in ["not-a-token", tampered.as_str(), truncated.as_str()] {
        let reply = p.post("/api/v1/lens").bearer(bad).send().await;
        reply.assert_problem(401, "invalid_token");
        assert_eq!(reply.header("www-authenticate"), Some(super::REJECTED));
        assert!(!reply.body.contains(bad), "{bad} is not echoed");
    }
    for foreign in ["eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl", "a.b.c"] {
        let reply = p.post("/api/v1/lens").bearer(foreign).send().await;
        reply.assert_problem(403, "credential_not_accepted");
        assert!(!reply.body.contains(foreign));
    }
    p.post("/api/v1/lens")
        .bearer(&token)
        .send()
        .await
        .assert_ok();
}

/// A token minted with a `catalogueId` reads only that catalogue: another id is 403
/// `insufficient_scope`, and a one-time token refused there stays unused.
pub async fn catalogue_tokens_read_only_their_catalogue<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    for kind in ["SESSION", "ONE_TIME"] {
        let reply = p
            .mint(
                json!({"actionResource": "catalogue", "actionType": "read", "type": kind,
                "catalogueId": "cat_abc"}),
            )
            .await;
        reply.assert_ok();
        let token = text(&reply.json(), "token").to_owned();
        for other in ["cat_other", "cat_abcd", "cat_ab"] {
            let reply = p
                .get(&format!("/api/v1/catalogues/{other}"))
                .bearer(&token)
                .send()
                .await;
            reply.assert_problem(403, "insufficient_scope");
            assert_eq!(
                reply.header("www-authenticate"),
                Some(insufficient("catalogue:read").as_str()),
                "{kind} on {other}"
            );
        }
        let reply = p
            .get("/api/v1/catalogues/cat_abc")
            .bearer(&token)
            .send()
            .await;
        reply.assert_ok();
        assert_eq!(reply.json()["principal"]["catalogue_id"], "cat_abc");
    }
    // A token bound to no catalogue reads any.
    let free = p.token("SESSION", "catalogue", "read").await;
    p.get("/api/v1/catalogues/cat_other")
        .bearer(&free)
        .send()
        .await
        .assert_ok();
}
