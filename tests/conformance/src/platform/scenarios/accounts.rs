//! contract.md, "Accounts and self-service keys" and "Refilling credits", the admin side:
//! keys with an `owner` share their account's balance and act for their owner only; the
//! admin account routes; refills set the balance back at each UTC boundary.

use http::Method;
use serde_json::{Value, json};
use time::Duration;

use super::assert_invalid;
use crate::harness::Reply;
use crate::platform::{ADMIN_KEYS, Database, Platform, PlatformAdapter, TOKEN, text};

const DETECT: &str = "/api/detect";
/// The account `acme/auth0|abc`, its owner percent-encoded as a path needs.
const ACCOUNT: &str = "/api/v1/admin/accounts/acme/auth0%7Cabc";
const OWNER: &str = "auth0|abc";

/// A live secret key of `acme` owned by `owner`; its JSON (with `key`).
async fn owned_key(p: &Platform, owner: &str) -> Value {
    p.create_key(json!({"kind": "secret", "environment": "live", "tenant": "acme", "owner": owner}))
        .await
}

/// `GET path` with the admin secret; 200's JSON.
async fn read(p: &Platform, path: &str) -> Value {
    let reply = p.admin(Method::GET, path).send().await;
    reply.assert_ok();
    reply.json()
}

/// `POST ACCOUNT/credits {"add": n}` with the admin secret.
async fn top_up(p: &Platform, account: &str, add: u64) -> Reply {
    p.admin(Method::POST, &format!("{account}/credits"))
        .json(&json!({ "add": add }))
        .send()
        .await
}

/// Two keys of one account and a rotated successor of one of them spend one balance:
/// 30 credits, 100 requests at once across the three → exactly 30 served, the rest 402
/// `insufficient_credits`, the balance 0 on the account and on every key.
pub async fn account_keys_share_one_balance<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let first = owned_key(&p, OWNER).await;
    let second = owned_key(&p, OWNER).await;
    assert_eq!(first["owner"], OWNER);
    assert_eq!(first["credits"], Value::Null, "an unmetered account");
    let reply = top_up(&p, ACCOUNT, 30).await;
    reply.assert_ok();
    assert_eq!(reply.json()["credits"], 30);
    let rotated = p
        .admin(
            Method::POST,
            &format!("{ADMIN_KEYS}/{}/rotate", text(&first, "id")),
        )
        .json(&json!({"grace_seconds": 3600}))
        .send()
        .await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    let successor = rotated.json();
    assert_eq!(successor["owner"], OWNER, "the successor keeps the owner");
    assert_eq!(successor["credits"], 30, "and shows the account's balance");
    let keys = [
        text(&first, "key").to_owned(),
        text(&second, "key").to_owned(),
        text(&successor, "key").to_owned(),
    ];
    let calls: Vec<_> = (0..100)
        .map(|i| {
            p.post(DETECT)
                .header("x-api-key", &keys[i % keys.len()])
                .send()
        })
        .collect();
    let replies = futures_util::future::join_all(calls).await;
    let served = replies.iter().filter(|reply| reply.status == 200).count();
    let refused = replies
        .iter()
        .filter(|reply| reply.status == 402 && reply.code() == "insufficient_credits")
        .count();
    assert_eq!((served, refused), (30, 70), "one balance of 30");
    let account = read(&p, ACCOUNT).await;
    assert_eq!(account["credits"], 0);
    assert_eq!(account["keys"], 3, "two keys and a successor are active");
    for key in [&first, &second, &successor] {
        assert_eq!(p.show_key(text(key, "id")).await["credits"], 0);
    }
    // A key of another account, or without one, keeps its own balance.
    let other = owned_key(&p, "user_2").await;
    p.post(DETECT)
        .header("x-api-key", text(&other, "key"))
        .send()
        .await
        .assert_ok();
}

/// A key with an owner acts for its owner only: the principal's `subject` and `owner`
/// are the owner; admin routes refuse it (403 `secret_key_required`), the minting routes
/// (403 `credential_not_accepted`), and `X-On-Behalf-Of` (403 `impersonation_forbidden`).
pub async fn owner_keys_act_for_their_owner<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let created = owned_key(&p, OWNER).await;
    let key = text(&created, "key");
    let reply = p.post(DETECT).header("x-api-key", key).send().await;
    reply.assert_ok();
    let principal = &reply.json()["principal"];
    assert_eq!(principal["owner"], OWNER);
    assert_eq!(principal["subject"], OWNER);
    assert_eq!(principal["tenant"], "acme");
    // It opens the API's other routes like a secret key of its tenant.
    let reply = p
        .post("/api/v1/llm/gateway/chat")
        .header("x-api-key", key)
        .send()
        .await;
    reply.assert_ok();
    assert_eq!(reply.json()["principal"]["owner"], OWNER);
    for (method, path) in [
        (Method::GET, ADMIN_KEYS.to_owned()),
        (Method::POST, ADMIN_KEYS.to_owned()),
        (Method::GET, ACCOUNT.to_owned()),
        (Method::GET, "/api/v1/admin/accounts".to_owned()),
        (
            Method::DELETE,
            format!("{ADMIN_KEYS}/{}", text(&created, "id")),
        ),
    ] {
        let reply = p
            .request(method.clone(), &path)
            .header("x-client-secret", key)
            .json(&json!({"kind": "secret", "tenant": "acme"}))
            .send()
            .await;
        reply.assert_problem(403, "secret_key_required");
        assert!(!reply.body.contains(key));
    }
    let mint = json!({"actionResource": "lens", "actionType": "create"});
    for call in [
        p.post(TOKEN).header("x-client-secret", key).json(&mint),
        p.post(TOKEN).bearer(key).json(&mint),
        p.post("/api/tokens").bearer(key).json(&json!({})),
        p.post("/api/tokens")
            .header("x-api-key", key)
            .json(&json!({})),
    ] {
        call.send()
            .await
            .assert_problem(403, "credential_not_accepted");
    }
    p.post(DETECT)
        .header("x-api-key", key)
        .header("x-on-behalf-of", "user_2")
        .send()
        .await
        .assert_problem(403, "impersonation_forbidden");
    // Still active: none of the refusals touched it.
    assert_eq!(p.show_key(text(&created, "id")).await["status"], "active");
}

/// `owner` at key creation: it needs a tenant, takes no `credits` nor `refill` (400
/// naming the field), and is a user id; a tenant's key may give its own tenant's keys an
/// owner, and only the platform secret gives a refill (403 `operator_required`).
pub async fn owner_key_creation_rules<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let refill = json!({"amount": 5, "interval": "daily"});
    for (body, field) in [
        (json!({"kind": "secret", "owner": OWNER}), "owner"),
        (
            json!({"kind": "secret", "tenant": "acme", "owner": OWNER, "credits": 5}),
            "credits",
        ),
        (
            json!({"kind": "secret", "tenant": "acme", "owner": OWNER, "refill": refill}),
            "refill",
        ),
        (
            json!({"kind": "secret", "tenant": "acme", "owner": "a b"}),
            "owner",
        ),
        (
            json!({"kind": "secret", "refill": {"amount": 0, "interval": "daily"}}),
            "refill",
        ),
        (
            json!({"kind": "secret", "refill": {"amount": 5, "interval": "weekly"}}),
            "refill.interval",
        ),
    ] {
        let reply = p.admin(Method::POST, ADMIN_KEYS).json(&body).send().await;
        assert_invalid(&reply, field, &body.to_string());
    }
    let tenant_key = p.secret_key("acme").await;
    let as_tenant = |body: Value| {
        p.post(ADMIN_KEYS)
            .header("x-client-secret", text(&tenant_key, "key"))
            .json(&body)
            .send()
    };
    let reply = as_tenant(json!({"kind": "secret", "tenant": "acme", "owner": OWNER})).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.json()["owner"], OWNER);
    as_tenant(json!({"kind": "secret", "tenant": "acme", "refill": refill}))
        .await
        .assert_problem(403, "operator_required");
    as_tenant(json!({"kind": "secret", "tenant": "other", "owner": OWNER}))
        .await
        .assert_problem(403, "tenant_forbidden");
    // Without an owner a key has none, and shows it.
    let plain = p.secret_key("acme").await;
    assert_eq!(plain["owner"], Value::Null);
    assert_eq!(plain["refill"], Value::Null);
}

/// The admin account routes: an account is read with its balance, refill and active
/// keys (an unknown one as an empty account); topped up and given a refill by the
/// platform secret only; a tenant key sees its own tenant's accounts only (another's →
/// 404); the tenants listing is the operator's.
pub async fn admin_account_routes<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    owned_key(&p, OWNER).await;
    owned_key(&p, OWNER).await;
    owned_key(&p, "user_2").await;
    let account = read(&p, ACCOUNT).await;
    assert_eq!(
        account,
        json!({"tenant": "acme", "owner": OWNER, "credits": null, "refill": null, "keys": 2})
    );
    let nobody = read(&p, "/api/v1/admin/accounts/acme/nobody").await;
    assert_eq!(
        (&nobody["credits"], &nobody["keys"]),
        (&Value::Null, &json!(0))
    );
    let reply = top_up(&p, ACCOUNT, 100).await;
    reply.assert_ok();
    assert_eq!(reply.json()["credits"], 100);
    assert_eq!(top_up(&p, ACCOUNT, 5).await.json()["credits"], 105);
    let reply = p
        .admin(Method::POST, &format!("{ACCOUNT}/refill"))
        .json(&json!({"amount": 50, "interval": "monthly"}))
        .send()
        .await;
    reply.assert_ok();
    assert_eq!(
        reply.json()["refill"],
        json!({"amount": 50, "interval": "monthly"})
    );
    for clear in [Value::Null, json!({})] {
        let reply = p
            .admin(Method::POST, &format!("{ACCOUNT}/refill"))
            .json(&clear)
            .send()
            .await;
        reply.assert_ok();
        assert_eq!(reply.json()["refill"], Value::Null, "{clear} clears");
    }
    let reply = p
        .admin(Method::POST, &format!("{ACCOUNT}/refill"))
        .json(&json!({"amount": 50}))
        .send()
        .await;
    assert_invalid(&reply, "body", "a refill without its interval");
    let reply = p
        .admin(Method::POST, &format!("{ACCOUNT}/credits"))
        .json(&json!({"add": -1}))
        .send()
        .await;
    assert_invalid(&reply, "add", "a negative top-up");

    // A tenant's key: reads its own tenant's accounts, creates no credits, sees no other.
    let tenant_key = p.secret_key("acme").await;
    let tenant_key = text(&tenant_key, "key");
    let as_tenant = |method: Method, path: &str| {
        p.request(method, path)
            .header("x-client-secret", tenant_key)
    };
    let reply = as_tenant(Method::GET, ACCOUNT).send().await;
    reply.assert_ok();
    assert_eq!(reply.json()["credits"], 105);
    as_tenant(Method::POST, &format!("{ACCOUNT}/credits"))
        .json(&json!({"add": 1}))
        .send()
        .await
        .assert_problem(403, "operator_required");
    as_tenant(Method::POST, &format!("{ACCOUNT}/refill"))
        .json(&json!({"amount": 1, "interval": "daily"}))
        .send()
        .await
        .assert_problem(403, "operator_required");
    as_tenant(Method::GET, "/api/v1/admin/tenants")
        .send()
        .await
        .assert_problem(403, "operator_required");
    p.create_key(json!({"kind": "secret", "tenant": "globex", "owner": OWNER}))
        .await;
    as_tenant(Method::GET, "/api/v1/admin/accounts/globex/auth0%7Cabc")
        .send()
        .await
        .assert_problem(404, "not_found");
    as_tenant(Method::GET, "/api/v1/admin/accounts?tenant=globex")
        .send()
        .await
        .assert_problem(403, "tenant_forbidden");
    let reply = as_tenant(Method::GET, "/api/v1/admin/accounts")
        .send()
        .await;
    reply.assert_ok();
    let owners: Vec<Value> = reply.json()["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|account| account["owner"].clone())
        .collect();
    assert_eq!(owners, [json!(OWNER), json!("user_2")], "acme's only");

    // Pages, and the operator's tenants.
    let page = read(&p, "/api/v1/admin/accounts?tenant=acme&limit=1").await;
    assert_eq!(page["accounts"][0]["owner"], OWNER);
    assert_eq!(page["has_more"], true);
    let next = read(
        &p,
        "/api/v1/admin/accounts?tenant=acme&limit=1&after=auth0%7Cabc",
    )
    .await;
    assert_eq!(next["accounts"][0]["owner"], "user_2");
    let tenants = read(&p, "/api/v1/admin/tenants").await;
    let acme = tenants["tenants"]
        .as_array()
        .expect("tenants")
        .iter()
        .find(|tenant| tenant["tenant"] == "acme")
        .cloned()
        .expect("acme is listed");
    assert_eq!(acme["accounts"], 2);
    assert_eq!(acme["keys"], 4, "three owned keys and the tenant's own key");
    assert_eq!(tenants["has_more"], false);
    // Bad ids in the path are no account.
    for path in [
        "/api/v1/admin/accounts/acme/a%20b",
        "/api/v1/admin/accounts/acme/a%ZZ",
        "/api/v1/admin/accounts/ac%7Cme/u1",
    ] {
        p.admin(Method::GET, path)
            .send()
            .await
            .assert_problem(404, "not_found");
    }
}

/// A refill over HTTP, on the platform's manual clock: at each boundary the balance is
/// set back to the amount (not added to), lazily on the first request or read after it;
/// a key created with a refill and no credits starts at the amount.
pub async fn refills_set_the_balance_back<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let daily = p
        .create_key(json!({"kind": "secret", "tenant": "acme",
            "refill": {"amount": 3, "interval": "daily"}}))
        .await;
    assert_eq!(
        daily["credits"], 3,
        "a refill with no credits starts at its amount"
    );
    assert_eq!(daily["refill"], json!({"amount": 3, "interval": "daily"}));
    let key = text(&daily, "key");
    let detect = || p.post(DETECT).header("x-api-key", key).send();
    for left in [2, 1, 0] {
        assert_eq!(detect().await.number("x-credits-remaining"), Some(left));
    }
    detect().await.assert_problem(402, "insufficient_credits");
    p.clock.advance(Duration::hours(23));
    detect().await.assert_problem(402, "insufficient_credits");
    p.clock.advance(Duration::hours(1));
    assert_eq!(
        p.show_key(text(&daily, "id")).await["credits"],
        3,
        "read: refilled"
    );
    assert_eq!(detect().await.number("x-credits-remaining"), Some(2));

    // An account's refill: set back, not added to, at the first of the month.
    owned_key(&p, OWNER).await;
    top_up(&p, ACCOUNT, 100).await.assert_ok();
    p.admin(Method::POST, &format!("{ACCOUNT}/refill"))
        .json(&json!({"amount": 10, "interval": "monthly"}))
        .send()
        .await
        .assert_ok();
    assert_eq!(
        read(&p, ACCOUNT).await["credits"],
        100,
        "not before the boundary"
    );
    p.clock.advance(Duration::days(31));
    assert_eq!(read(&p, ACCOUNT).await["credits"], 10, "set to the amount");
    assert_eq!(read(&p, ACCOUNT).await["credits"], 10, "once");
}

/// Path tricks on `/api/v1/admin/accounts/{tenant}/{owner}`: a double-encoded `|`
/// (`%257C`), an encoded `/` (`%2F`), dot segments, non-ASCII, an over-long owner and a
/// trailing slash name no account (404, never a 5xx), and a top-up through one of them
/// reaches no account's balance (404, or 405 where the path reads as a GET-only route).
pub async fn account_paths_name_one_account_or_none<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    owned_key(&p, OWNER).await;
    top_up(&p, ACCOUNT, 105).await.assert_ok();
    let long = "a".repeat(129);
    let paths = [
        "/api/v1/admin/accounts/acme/auth0%257Cabc".to_owned(),
        "/api/v1/admin/accounts/acme%2Fauth0%7Cabc".to_owned(),
        "/api/v1/admin/accounts/acme/auth0%2Fabc".to_owned(),
        "/api/v1/admin/accounts/acme/x%2F..%2Fauth0%7Cabc".to_owned(),
        "/api/v1/admin/accounts/globex%2F..%2Facme/auth0%7Cabc".to_owned(),
        "/api/v1/admin/accounts/acme/auth0%7Cab%C3%A7".to_owned(),
        "/api/v1/admin/accounts/acme/%00".to_owned(),
        "/api/v1/admin/accounts/acme/".to_owned(),
        format!("/api/v1/admin/accounts/acme/{long}"),
        format!("{ACCOUNT}/"),
        format!("{ACCOUNT}/credits/"),
    ];
    for path in &paths {
        let reply = p.admin(Method::GET, path).send().await;
        assert_eq!(reply.status, 404, "GET {path}: {}", reply.body);
        let reply = p
            .admin(Method::POST, &format!("{path}/credits"))
            .json(&json!({"add": 1}))
            .send()
            .await;
        // 405 where the path reads as the account route of owner `credits`/`refill`.
        assert!(
            matches!(reply.status, 404 | 405),
            "POST {path}/credits: {}",
            reply.body
        );
        let reply = p
            .admin(Method::POST, &format!("{path}/refill"))
            .json(&json!({"amount": 1, "interval": "daily"}))
            .send()
            .await;
        // 405 where the path reads as the account route of owner `credits`/`refill`.
        assert!(
            matches!(reply.status, 404 | 405),
            "POST {path}/refill: {}",
            reply.body
        );
    }
    let account = read(&p, ACCOUNT).await;
    assert_eq!(
        (&account["credits"], &account["refill"]),
        (&json!(105), &Value::Null),
        "no trick reached the account"
    );
}

/// Credits at the edges: a top-up of `MAX_CREDITS` (i64::MAX) saturates there, one above
/// it, 0, a negative, a float or a string is 400; a refill amount of 0 or above the
/// maximum is 400; nothing answers 5xx.
pub async fn account_credits_at_the_edges<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    owned_key(&p, OWNER).await;
    let max = i64::MAX;
    for add in [
        json!(0),
        json!(-1),
        json!(1.5),
        json!("1"),
        json!(9_223_372_036_854_775_808u64),
    ] {
        let reply = p
            .admin(Method::POST, &format!("{ACCOUNT}/credits"))
            .json(&json!({ "add": add }))
            .send()
            .await;
        assert_eq!(reply.status, 400, "add {add}: {}", reply.body);
    }
    assert_eq!(
        read(&p, ACCOUNT).await["credits"],
        Value::Null,
        "nothing added"
    );
    let reply = top_up(&p, ACCOUNT, 10).await;
    assert_eq!(reply.json()["credits"], 10);
    let reply = top_up(&p, ACCOUNT, max.unsigned_abs()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json()["credits"],
        json!(max),
        "saturates at the maximum"
    );
    assert_eq!(read(&p, ACCOUNT).await["credits"], json!(max));
    for amount in [
        json!(0),
        json!(9_223_372_036_854_775_808u64),
        json!(-5),
        json!(2.5),
    ] {
        let reply = p
            .admin(Method::POST, &format!("{ACCOUNT}/refill"))
            .json(&json!({"amount": amount, "interval": "daily"}))
            .send()
            .await;
        assert_eq!(reply.status, 400, "refill amount {amount}: {}", reply.body);
    }
    let reply = p
        .admin(Method::POST, &format!("{ACCOUNT}/refill"))
        .json(&json!({"amount": max, "interval": "monthly"}))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    for credits in [json!(9_223_372_036_854_775_808u64), json!(-1)] {
        let reply = p
            .admin(Method::POST, ADMIN_KEYS)
            .json(&json!({"kind": "secret", "credits": credits}))
            .send()
            .await;
        assert_eq!(reply.status, 400, "key credits {credits}: {}", reply.body);
    }
}
