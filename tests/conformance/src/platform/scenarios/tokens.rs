//! contract.md, "Issued tokens": `POST /api/v1/token`, every validation rule, and
//! minting from a token with `token:create`.

use http::Method;
use serde_json::{Value, json};
use time::Duration;

use super::{REJECTED, assert_invalid, insufficient};
use crate::platform::{ADMIN_KEYS, Database, Platform, PlatformAdapter, TOKEN, text};

const MAGIC: &str = "/api/v1/magic-background";

/// A ONE_TIME token (the default type): 200 with the contract's fields, `expiresIn` 300;
/// it serves one request, and the replay is 401 `token_used`.
pub async fn token_endpoint_one_time<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    for body in [
        json!({"actionResource": "magic-background", "actionType": "create"}),
        json!({"actionResource": "magic-background", "actionType": "create", "type": "ONE_TIME"}),
    ] {
        let reply = p.mint(body).await;
        reply.assert_ok();
        assert_eq!(reply.header("content-type"), Some("application/json"));
        let minted = reply.json();
        let token = text(&minted, "token").to_owned();
        let mut fields: Vec<&String> = minted.as_object().expect("an object").keys().collect();
        fields.sort();
        assert_eq!(
            fields,
            ["actionResource", "actionType", "expiresIn", "token", "type"],
            "{minted}"
        );
        assert_eq!(minted["expiresIn"], 300);
        assert_eq!(minted["actionResource"], "magic-background");
        assert_eq!(minted["actionType"], "create");
        assert_eq!(minted["type"], "ONE_TIME");
        let reply = p.post(MAGIC).bearer(&token).send().await;
        reply.assert_ok();
        assert_eq!(reply.json()["principal"]["method"], "token");
        assert_eq!(
            reply.json()["principal"]["scopes"],
            json!(["magic-background:create"])
        );
        let replay = p.post(MAGIC).bearer(&token).send().await;
        replay.assert_problem(401, "token_used");
        assert_eq!(replay.header("www-authenticate"), Some(REJECTED));
        assert!(!replay.body.contains(&token));
    }
}

/// A ONE_TIME token lives 300 s; a SESSION token `duration` minutes (default 5), reused
/// freely until then, and `expiresIn` says so in seconds.
pub async fn token_lifetimes<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let one_time = p.token("ONE_TIME", "magic-background", "create").await;
    let mut sessions = Vec::new();
    for (duration, expires_in) in [
        (None, 300),
        (Some(1), 60),
        (Some(30), 1800),
        (Some(1440), 86_400),
    ] {
        let mut body = json!({"actionResource": "magic-background", "actionType": "create",
            "type": "SESSION"});
        if let Some(minutes) = duration {
            body["duration"] = json!(minutes);
        }
        let reply = p.mint(body).await;
        reply.assert_ok();
        assert_eq!(reply.json()["expiresIn"], expires_in, "{duration:?}");
        assert_eq!(reply.json()["type"], "SESSION");
        sessions.push((text(&reply.json(), "token").to_owned(), expires_in));
    }
    for (token, _) in &sessions {
        for _ in 0..2 {
            p.post(MAGIC).bearer(token).send().await.assert_ok();
        }
    }
    p.clock.advance(Duration::seconds(59));
    for (token, _) in &sessions {
        p.post(MAGIC).bearer(token).send().await.assert_ok();
    }
    p.clock.advance(Duration::seconds(1));
    p.post(MAGIC)
        .bearer(&sessions[1].0)
        .send()
        .await
        .assert_problem(401, "token_expired");
    p.clock.advance(Duration::seconds(239));
    p.post(MAGIC)
        .bearer(&sessions[0].0)
        .send()
        .await
        .assert_ok();
    p.post(MAGIC).bearer(&one_time).send().await.assert_ok();
    p.clock.advance(Duration::seconds(1));
    let reply = p.post(MAGIC).bearer(&sessions[0].0).send().await;
    reply.assert_problem(401, "token_expired");
    assert_eq!(reply.header("www-authenticate"), Some(REJECTED));
    let late = p.token("ONE_TIME", "magic-background", "create").await;
    p.clock.advance(Duration::seconds(300));
    p.post(MAGIC)
        .bearer(&late)
        .send()
        .await
        .assert_problem(401, "token_expired");
    p.post(MAGIC)
        .bearer(&sessions[2].0)
        .send()
        .await
        .assert_ok();
    p.clock.advance(Duration::seconds(1800 - 600));
    p.post(MAGIC)
        .bearer(&sessions[2].0)
        .send()
        .await
        .assert_problem(401, "token_expired");
    p.clock.advance(Duration::seconds(86_400 - 1800 - 1));
    p.post(MAGIC)
        .bearer(&sessions[3].0)
        .send()
        .await
        .assert_ok();
    p.clock.advance(Duration::seconds(1));
    p.post(MAGIC)
        .bearer(&sessions[3].0)
        .send()
        .await
        .assert_problem(401, "token_expired");
}

/// Every validation rule of the token endpoint: 400 `invalid_request` naming the field.
pub async fn token_endpoint_validation<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let base = || json!({"actionResource": "lens", "actionType": "create"});
    let with = |field: &str, value: Value| {
        let mut body = base();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = base();
        body.as_object_mut().map(|o| o.remove(field));
        body
    };
    let session = |duration: Value| {
        json!({"actionResource": "lens", "actionType": "create", "type": "SESSION",
            "duration": duration})
    };
    let cases: Vec<(Value, &str)> = vec![
        (with("actionResource", json!("teleport")), "actionResource"),
        (with("actionResource", json!("Lens")), "actionResource"),
        (with("actionResource", json!("")), "actionResource"),
        (
            with("actionResource", json!("lens:create")),
            "actionResource",
        ),
        (with("actionType", json!("destroy")), "actionType"),
        (with("actionType", json!("CREATE")), "actionType"),
        (with("type", json!("FOREVER")), "type"),
        (with("type", json!("session")), "type"),
        (with("type", json!("CLIENT")), "type"),
        (session(json!(0)), "duration"),
        (session(json!(1441)), "duration"),
        (session(json!(-5)), "duration"),
        (session(json!(2.5)), "duration"),
        (session(json!("30")), "duration"),
        (with("duration", json!(5)), "duration"),
        (
            json!({"actionResource": "lens", "actionType": "create", "type": "ONE_TIME",
                "duration": 5}),
            "duration",
        ),
        (without("actionResource"), "body"),
        (without("actionType"), "body"),
        (json!({}), "body"),
        (with("userReference", json!("bad ref!")), "userReference"),
        (with("catalogueId", json!("x".repeat(129))), "catalogueId"),
    ];
    for (body, field) in cases {
        let reply = p.mint(body.clone()).await;
        assert_invalid(&reply, field, &body.to_string());
    }
    let reply = p.mint(with("scope", json!("*:*"))).await;
    reply.assert_problem(400, "invalid_request");
    assert!(
        super::detail(&reply).starts_with("scope: unknown field, expected one of"),
        "{}",
        reply.body
    );
    let reply = p
        .admin(Method::POST, TOKEN)
        .header("content-type", "application/json")
        .body("{\"actionResource\": ")
        .send()
        .await;
    reply.assert_problem(400, "invalid_request");
    assert!(
        super::detail(&reply).ends_with("the body is not valid JSON"),
        "{}",
        reply.body
    );
    // Every resource and action of the contract is accepted.
    for resource in [
        "lens",
        "object-detection",
        "2d-to-3d",
        "fill",
        "swap",
        "room-visualize",
        "property-visualize",
        "magic-background",
        "catalogue",
        "upload",
        "token",
        "*",
    ] {
        for action in ["create", "read", "update", "delete", "*"] {
            let reply = p
                .mint(json!({"actionResource": resource, "actionType": action}))
                .await;
            reply.assert_ok();
            assert_eq!(reply.json()["actionResource"], resource);
            assert_eq!(reply.json()["actionType"], action);
        }
    }
}

/// The token endpoint needs `x-client-secret` or a token; nothing is 401, an API key
/// (as a bearer or in `X-API-Key`) is refused without minting.
pub async fn token_endpoint_credentials<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let body = json!({"actionResource": "lens", "actionType": "create"});
    let reply = p.post(TOKEN).json(&body).send().await;
    reply.assert_problem(401, "missing_credentials");
    assert_eq!(reply.header("www-authenticate"), Some(super::BARE));
    let key = p.secret_key("acme").await;
    let key = text(&key, "key");
    for reply in [
        p.post(TOKEN).bearer(key).json(&body).send().await,
        p.post(TOKEN)
            .header("x-api-key", key)
            .json(&body)
            .send()
            .await,
    ] {
        reply.assert_problem(403, "credential_not_accepted");
        assert!(!reply.body.contains(key));
    }
    // The same key in x-client-secret mints, for its tenant.
    let reply = p
        .post(TOKEN)
        .header("x-client-secret", key)
        .json(&body)
        .send()
        .await;
    reply.assert_ok();
    let token = text(&reply.json(), "token").to_owned();
    let reply = p.post("/api/v1/lens").bearer(&token).send().await;
    reply.assert_ok();
    assert_eq!(reply.json()["principal"]["tenant"], "acme");
    assert_eq!(reply.json()["principal"]["environment"], "live");
    // A wrong secret mints nothing.
    p.post(TOKEN)
        .header("x-client-secret", "not-the-secret")
        .json(&body)
        .send()
        .await
        .assert_problem(401, "invalid_secret_key");
}

/// A token with `token:create` mints tokens no broader than itself: narrower is 200,
/// broader or elsewhere is 403 `insufficient_scope`; a token without `token:create` mints
/// nothing.
pub async fn token_minted_from_a_token<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let minter = p.token("SESSION", "*", "create").await;
    let mint = |body: Value| p.post(TOKEN).bearer(&minter).json(&body).send();
    let reply = mint(json!({"actionResource": "magic-background", "actionType": "create"})).await;
    reply.assert_ok();
    let minted = text(&reply.json(), "token").to_owned();
    p.post(MAGIC).bearer(&minted).send().await.assert_ok();
    let reply = mint(
        json!({"actionResource": "lens", "actionType": "create", "type": "SESSION",
        "duration": 2}),
    )
    .await;
    reply.assert_ok();
    assert_eq!(reply.json()["expiresIn"], 120);
    let reply = mint(json!({"actionResource": "*", "actionType": "create"})).await;
    reply.assert_ok();
    for (resource, action, scope) in [
        ("magic-background", "read", "magic-background:read"),
        ("*", "*", "*:*"),
        ("lens", "*", "lens:*"),
    ] {
        let reply = mint(json!({"actionResource": resource, "actionType": action})).await;
        reply.assert_problem(403, "insufficient_scope");
        assert_eq!(
            reply.header("www-authenticate"),
            Some(insufficient(scope).as_str()),
            "{resource}:{action}"
        );
    }
    // Without token:create, nothing.
    let plain = p.token("SESSION", "magic-background", "create").await;
    let reply = p
        .post(TOKEN)
        .bearer(&plain)
        .json(&json!({"actionResource": "magic-background", "actionType": "create"}))
        .send()
        .await;
    reply.assert_problem(403, "insufficient_scope");
    assert_eq!(
        reply.header("www-authenticate"),
        Some(insufficient("token:create").as_str())
    );
    // `token:create` alone mints only more of itself.
    let narrow = p.token("SESSION", "token", "create").await;
    let reply = p
        .post(TOKEN)
        .bearer(&narrow)
        .json(&json!({"actionResource": "token", "actionType": "create"}))
        .send()
        .await;
    reply.assert_ok();
    p.post(TOKEN)
        .bearer(&narrow)
        .json(&json!({"actionResource": "lens", "actionType": "create"}))
        .send()
        .await
        .assert_problem(403, "insufficient_scope");
}

/// A minted token never outlives the token that minted it: its lifetime is cut to the
/// minter's, and it expires with it.
pub async fn minted_token_cannot_outlive_its_minter<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let reply = p
        .mint(
            json!({"actionResource": "*", "actionType": "*", "type": "SESSION",
            "duration": 10}),
        )
        .await;
    let minter = text(&reply.json(), "token").to_owned();
    p.clock.advance(Duration::minutes(4));
    let reply = p
        .post(TOKEN)
        .bearer(&minter)
        .json(
            &json!({"actionResource": "lens", "actionType": "create", "type": "SESSION",
            "duration": 60}),
        )
        .send()
        .await;
    reply.assert_ok();
    assert_eq!(
        reply.json()["expiresIn"],
        360,
        "cut to the minter's 6 minutes left"
    );
    let session = text(&reply.json(), "token").to_owned();
    p.clock.advance(Duration::minutes(5));
    let reply = p
        .post(TOKEN)
        .bearer(&minter)
        .json(&json!({"actionResource": "lens", "actionType": "create"}))
        .send()
        .await;
    reply.assert_ok();
    assert_eq!(reply.json()["expiresIn"], 60, "a one-time token is cut too");
    let one_time = text(&reply.json(), "token").to_owned();
    p.post("/api/v1/lens")
        .bearer(&session)
        .send()
        .await
        .assert_ok();
    p.clock.advance(Duration::minutes(1));
    for token in [&minter, &session, &one_time] {
        p.post("/api/v1/lens")
            .bearer(token)
            .send()
            .await
            .assert_problem(401, "token_expired");
    }
}

/// A ONE_TIME token with `token:create` mints once; the second mint is 401 `token_used`.
/// Presented first to a route outside its scope, it stays unused.
pub async fn one_time_minter_is_used_up<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let minter = p.token("ONE_TIME", "*", "create").await;
    let mint = || {
        p.post(TOKEN)
            .bearer(&minter)
            .json(&json!({"actionResource": "lens", "actionType": "create"}))
            .send()
    };
    p.get("/api/v1/catalogues/cat_1")
        .bearer(&minter)
        .send()
        .await
        .assert_problem(403, "insufficient_scope");
    p.get(ADMIN_KEYS)
        .bearer(&minter)
        .send()
        .await
        .assert_problem(403, "secret_key_required");
    let reply = mint().await;
    reply.assert_ok();
    let minted = text(&reply.json(), "token").to_owned();
    mint().await.assert_problem(401, "token_used");
    // What it minted lives on.
    p.post("/api/v1/lens")
        .bearer(&minted)
        .send()
        .await
        .assert_ok();
}

/// A ONE_TIME minter whose mint the endpoint refuses is not spent ("consumed only by a
/// request it is allowed to serve"): a bad body (400), a body over 64 KiB (413) and a
/// request for a broader scope (403 `insufficient_scope`) leave it unused; the first mint
/// it is allowed uses it up.
pub async fn refused_mint_leaves_one_time_minter_unused<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let minter = p.token("ONE_TIME", "*", "create").await;
    let mint = |body: Value| p.post(TOKEN).bearer(&minter).json(&body).send();
    let body = json!({"actionResource": "teleport", "actionType": "create"});
    assert_invalid(&mint(body).await, "actionResource", "an unknown resource");
    let reply = p
        .post(TOKEN)
        .bearer(&minter)
        .header("content-type", "application/json")
        .body("{\"actionResource\": ")
        .send()
        .await;
    reply.assert_problem(400, "invalid_request");
    let reply = p
        .post(TOKEN)
        .bearer(&minter)
        .header("content-type", "application/json")
        .body(format!(
            "{{\"actionResource\": \"lens\", \"actionType\": \"create\"}}{}",
            " ".repeat(64 * 1024)
        ))
        .send()
        .await;
    reply.assert_problem(413, "payload_too_large");
    let reply = mint(json!({"actionResource": "lens", "actionType": "*"})).await;
    reply.assert_problem(403, "insufficient_scope");
    assert_eq!(
        reply.header("www-authenticate"),
        Some(insufficient("lens:*").as_str())
    );
    let reply = mint(json!({"actionResource": "lens", "actionType": "create"})).await;
    reply.assert_ok();
    let minted = text(&reply.json(), "token").to_owned();
    let replay = mint(json!({"actionResource": "lens", "actionType": "create"})).await;
    replay.assert_problem(401, "token_used");
    assert_eq!(replay.header("www-authenticate"), Some(REJECTED));
    p.post("/api/v1/lens")
        .bearer(&minted)
        .send()
        .await
        .assert_ok();
}

/// A token's `userReference` and `catalogueId` show in the principal; tokens minted from
/// it inherit them and cannot change them.
pub async fn minted_token_carries_its_context<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let reply = p
        .mint(
            json!({"actionResource": "*", "actionType": "*", "type": "SESSION",
            "userReference": "user_42", "catalogueId": "cat_7"}),
        )
        .await;
    reply.assert_ok();
    let minter = text(&reply.json(), "token").to_owned();
    let reply = p
        .get("/api/v1/catalogues/cat_7")
        .bearer(&minter)
        .send()
        .await;
    reply.assert_ok();
    let principal = &reply.json()["principal"];
    assert_eq!(principal["user_reference"], "user_42");
    assert_eq!(principal["catalogue_id"], "cat_7");
    assert_eq!(principal["tenant"], Value::Null);

    let reply = p
        .post(TOKEN)
        .bearer(&minter)
        .json(&json!({"actionResource": "lens", "actionType": "create"}))
        .send()
        .await;
    reply.assert_ok();
    let child = text(&reply.json(), "token").to_owned();
    let reply = p.post("/api/v1/lens").bearer(&child).send().await;
    reply.assert_ok();
    assert_eq!(reply.json()["principal"]["user_reference"], "user_42");
    assert_eq!(reply.json()["principal"]["catalogue_id"], "cat_7");
    for (field, value) in [("userReference", "user_43"), ("catalogueId", "cat_8")] {
        let mut body = json!({"actionResource": "lens", "actionType": "create"});
        body[field] = json!(value);
        let reply = p.post(TOKEN).bearer(&minter).json(&body).send().await;
        assert_invalid(&reply, field, "a changed context");
    }
}
