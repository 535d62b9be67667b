//! The differential test's half: one sequence of requests, covering every section in
//! scope, sent to the platform through one adapter; the answers written down with what is
//! random (ids, keys, previews, tokens) replaced by placeholders in order of appearance.
//! Every column starts from a fresh database on the same clock, so what remains (status,
//! headers, bodies, timestamps) must match exactly.

use http::Method;
use serde_json::{Value, json};
use time::Duration;

use super::{ADMIN_KEYS, CATALOGUES, Database, Platform, PlatformAdapter, TOKEN, text};
use crate::harness::{Call, Reply};

/// The headers contract.md names, compared across adapters.
const HEADERS: [&str; 10] = [
    "cache-control",
    "content-type",
    "www-authenticate",
    "allow",
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-credits-remaining",
    "content-length",
];

/// Fields whose string values are random.
const VOLATILE: [&str; 6] = ["id", "key", "start", "token", "key_id", "apiKey"];

/// The answers, written down.
#[derive(Debug, Default)]
struct Transcript {
    /// Random values seen so far, with their placeholders.
    seen: Vec<(String, String)>,
    lines: Vec<String>,
}

impl Transcript {
    fn learn(&mut self, value: &Value) {
        match value {
            Value::Object(map) => {
                for (field, value) in map {
                    if let Value::String(text) = value
                        && VOLATILE.contains(&field.as_str())
                        && !self.seen.iter().any(|(seen, _)| seen == text)
                    {
                        let placeholder = format!("<{field}#{}>", self.seen.len() + 1);
                        self.seen.push((text.clone(), placeholder));
                    }
                    self.learn(value);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| self.learn(item)),
            _ => {}
        }
    }

    fn replace(&self, value: &mut Value) {
        match value {
            Value::String(text) => {
                if let Some((_, placeholder)) = self.seen.iter().find(|(seen, _)| seen == text) {
                    *text = placeholder.clone();
                }
            }
            Value::Object(map) => map.values_mut().for_each(|value| self.replace(value)),
            Value::Array(items) => items.iter_mut().for_each(|item| self.replace(item)),
            _ => {}
        }
    }

    /// Sends `call` and writes its answer down under `label`; the reply, as it came.
    async fn send(&mut self, label: &str, call: Call) -> Reply {
        let reply = call.send().await;
        let mut line = format!("{label} → {}", reply.status);
        for name in HEADERS {
            // The length of a body with random parts says nothing.
            if name == "content-length" && !reply.body.is_empty() {
                continue;
            }
            if let Some(value) = reply.header(name) {
                line.push_str(&format!(" | {name}: {value}"));
            }
        }
        let mut body = reply.json();
        if body.is_null() {
            line.push_str(&format!(" | body {:?}", reply.body));
        } else {
            self.learn(&body);
            self.replace(&mut body);
            line.push_str(&format!(" | {body}"));
        }
        self.lines.push(line);
        reply
    }
}

/// Sends the sequence through adapter `A` on a fresh database `D`; the transcript (empty
/// when `D` is not available here).
pub async fn transcript<A: PlatformAdapter, D: Database>() -> Vec<String> {
    let Some(p) = Platform::start::<A, D>().await else {
        return Vec::new();
    };
    let mut t = Transcript::default();
    let secret = p.secret.expose().to_owned();
    let admin = |method: Method, path: &str| p.admin(method, path);

    // Running, errors, routing.
    t.send("healthz", p.get("/healthz")).await;
    t.send("readyz", p.get("/readyz")).await;
    t.send("admin, nothing", p.get(ADMIN_KEYS)).await;
    t.send(
        "admin, wrong secret",
        p.get(ADMIN_KEYS).header("x-client-secret", "nope"),
    )
    .await;
    t.send(
        "admin, secret in query",
        p.get(&format!("{ADMIN_KEYS}?x-client-secret={secret}")),
    )
    .await;
    t.send(
        "admin, two secrets",
        admin(Method::GET, ADMIN_KEYS).header("x-client-secret", &secret),
    )
    .await;
    t.send("unknown path", p.get("/nope")).await;
    t.send(
        "unknown admin path",
        admin(Method::GET, "/api/v1/admin/nope"),
    )
    .await;
    t.send("wrong method", p.request(Method::PUT, ADMIN_KEYS))
        .await;
    t.send(
        "wrong method, id",
        admin(Method::PUT, &format!("{ADMIN_KEYS}/k1")),
    )
    .await;
    for path in ["/api/v1/llm/gateway/chat", "/api/v1/orgs/create"] {
        t.send(&format!("later route {path}"), admin(Method::POST, path))
            .await;
    }
    // OAuth answers hold nothing random when they refuse.
    let form = |call: Call| call.header("content-type", "application/x-www-form-urlencoded");
    t.send("oauth token, no form", admin(Method::POST, "/oauth/token"))
        .await;
    t.send(
        "oauth token, unsupported grant",
        form(p.post("/oauth/token")).body("grant_type=password&client_id=cl_x"),
    )
    .await;
    t.send(
        "oauth token, repeated parameter",
        form(p.post("/oauth/token")).body("grant_type=refresh_token&grant_type=refresh_token"),
    )
    .await;
    t.send(
        "oauth token, unknown client by Basic",
        form(p.post("/oauth/token"))
            .header("authorization", "Basic Y2xfeDpjc195")
            .body("grant_type=refresh_token&refresh_token=ort_x"),
    )
    .await;
    t.send(
        "oauth revoke, no token",
        form(p.post("/oauth/revoke")).body("client_id=cl_x"),
    )
    .await;
    t.send(
        "oauth authorize, unknown client",
        p.get("/oauth/authorize?response_type=code&client_id=cl_x"),
    )
    .await;
    t.send(
        "body over 64 KiB",
        admin(Method::POST, ADMIN_KEYS).body(vec![b' '; 64 * 1024 + 1]),
    )
    .await;

    // Keys.
    let metered = t
        .send(
            "create metered sk_live_",
            admin(Method::POST, ADMIN_KEYS).json(&json!({"kind": "secret", "environment": "live",
                "tenant": "acme", "name": "metered", "rate_limit": {"limit": 2, "window_seconds": 60},
                "credits": 3, "metadata": {"plan": "pro"}})),
        )
        .await
        .json();
    // A second between creations: lists are oldest first, whatever the ids.
    p.clock.advance(Duration::seconds(1));
    let restricted = t
        .send(
            "create rk_test_",
            admin(Method::POST, ADMIN_KEYS).json(&json!({"kind": "restricted",
                "environment": "test", "tenant": "acme", "scopes": ["read:users"]})),
        )
        .await
        .json();
    p.clock.advance(Duration::seconds(1));
    t.send(
        "create custom",
        admin(Method::POST, ADMIN_KEYS).json(&json!({"kind": "custom", "prefix": "bijou_",
            "expires_at": "2031-01-01T00:00:00Z"})),
    )
    .await;
    p.clock.advance(Duration::seconds(1));
    let globex = t
        .send(
            "create pk_live_ globex",
            admin(Method::POST, ADMIN_KEYS).json(&json!({"kind": "publishable",
                "tenant": "globex"})),
        )
        .await
        .json();
    for (label, body) in [
        ("create: unknown kind", json!({"kind": "master"})),
        ("create: custom without prefix", json!({"kind": "custom"})),
        (
            "create: prefix on sk_",
            json!({"kind": "secret", "prefix": "bijou_"}),
        ),
        (
            "create: bad rate limit",
            json!({"kind": "secret", "rate_limit": {"limit": 0, "window_seconds": 1}}),
        ),
        (
            "create: negative credits",
            json!({"kind": "secret", "credits": -1}),
        ),
        (
            "create: past expiry",
            json!({"kind": "secret", "expires_at": "2027-01-01T00:00:00Z"}),
        ),
        (
            "create: unknown field",
            json!({"kind": "secret", "owners": "me"}),
        ),
        (
            "create: metadata too large",
            json!({"kind": "secret", "metadata": {"x": "y".repeat(5000)}}),
        ),
    ] {
        t.send(label, admin(Method::POST, ADMIN_KEYS).json(&body))
            .await;
    }
    t.send(
        "create: bad JSON",
        admin(Method::POST, ADMIN_KEYS).body("{"),
    )
    .await;
    t.send("list", admin(Method::GET, ADMIN_KEYS)).await;
    t.send(
        "list acme",
        admin(Method::GET, &format!("{ADMIN_KEYS}?tenant=acme")),
    )
    .await;
    let metered_path = format!("{ADMIN_KEYS}/{}", text(&metered, "id"));
    let metered_key = text(&metered, "key").to_owned();
    t.send("show", admin(Method::GET, &metered_path)).await;
    t.send(
        "show unknown",
        admin(Method::GET, &format!("{ADMIN_KEYS}/key_nope")),
    )
    .await;

    // Metering.
    let detect = || p.post("/api/detect").header("x-api-key", &metered_key);
    let upload = || {
        p.post("/api/detector/upload")
            .header("x-api-key", &metered_key)
    };
    t.send("detect", detect()).await;
    t.send("upload", upload()).await;
    t.send("detect, rate limited", detect()).await;
    p.clock.advance(Duration::seconds(60));
    t.send("detect", detect()).await;
    t.send("detect", detect()).await;
    p.clock.advance(Duration::seconds(60));
    t.send("detect, out of credits", detect()).await;
    t.send(
        "top up",
        admin(Method::POST, &format!("{metered_path}/credits")).json(&json!({"add": 5})),
    )
    .await;
    t.send("detect after top-up", detect()).await;
    t.send("show after top-up", admin(Method::GET, &metered_path))
        .await;
    t.send(
        "detect, two keys",
        detect().header("x-api-key", &metered_key),
    )
    .await;
    // Client tokens, charged to the key that mints them.
    let client = t
        .send(
            "mint client token",
            p.post("/api/tokens")
                .bearer(&metered_key)
                .json(&json!({"metadata": {"device": "web"}, "ttl_seconds": 300})),
        )
        .await
        .json();
    let client = text(&client, "apiKey").to_owned();
    t.send(
        "detect, client token",
        p.post("/api/detect").header("x-api-key", &client),
    )
    .await;
    t.send(
        "mint client token, bad ttl",
        p.post("/api/tokens")
            .bearer(&metered_key)
            .json(&json!({"ttl_seconds": 0})),
    )
    .await;
    t.send("admin, client token", p.get(ADMIN_KEYS).bearer(&client))
        .await;
    t.send(
        "mint from a client token",
        p.post("/api/tokens").bearer(&client),
    )
    .await;
    t.send(
        "proxy, client token, no upstream",
        p.post("/api/proxy/v1/things?x=1").bearer(&client),
    )
    .await;
    t.send("proxy, nothing", p.get("/api/proxy/v1/things"))
        .await;
    t.send(
        "proxy, API key",
        p.get("/api/proxy/v1/things").bearer(&metered_key),
    )
    .await;
    t.send(
        "detect, publishable",
        p.post("/api/detect")
            .header("x-api-key", text(&globex, "key")),
    )
    .await;

    // User JWTs, publishable-key pairs and impersonation.
    let user = p.users.of_tenant("user_1", "globex");
    let untenanted = p.users.jwt("user_2", json!({}));
    let foreign = p.users.of_tenant("user_3", "acme");
    t.send(
        "gateway, user JWT",
        p.post("/api/v1/llm/gateway/chat").bearer(&user),
    )
    .await;
    t.send(
        "gateway, user JWT without tenant",
        p.post("/api/v1/llm/gateway/chat").bearer(&untenanted),
    )
    .await;
    t.send(
        "gateway, pair",
        p.post("/api/v1/llm/gateway/chat")
            .header("x-api-key", text(&globex, "key"))
            .bearer(&untenanted),
    )
    .await;
    t.send(
        "gateway, pair of two tenants",
        p.post("/api/v1/llm/gateway/chat")
            .header("x-api-key", text(&globex, "key"))
            .bearer(&foreign),
    )
    .await;
    t.send(
        "gateway, publishable alone",
        p.post("/api/v1/llm/gateway/chat")
            .header("x-api-key", text(&globex, "key")),
    )
    .await;
    t.send(
        "gateway, impersonation",
        p.post("/api/v1/llm/gateway/chat")
            .bearer(&metered_key)
            .header("x-on-behalf-of", "user_9"),
    )
    .await;
    t.send(
        "gateway, user impersonating",
        p.post("/api/v1/llm/gateway/chat")
            .bearer(&user)
            .header("x-on-behalf-of", "user_9"),
    )
    .await;
    t.send(
        "orgs, user JWT",
        p.post("/api/v1/orgs/create").bearer(&untenanted),
    )
    .await;
    t.send(
        "orgs, API key",
        p.post("/api/v1/orgs/create").bearer(&metered_key),
    )
    .await;

    // users/me.
    let restricted_key = text(&restricted, "key").to_owned();
    t.send("me, sk_live_", p.get("/v1/users/me").bearer(&metered_key))
        .await;
    t.send(
        "me, rk_test_",
        p.get("/v1/users/me").bearer(&restricted_key),
    )
    .await;

    // Rotation and revocation.
    let restricted_path = format!("{ADMIN_KEYS}/{}", text(&restricted, "id"));
    t.send(
        "rotate",
        admin(Method::POST, &format!("{restricted_path}/rotate"))
            .json(&json!({"grace_seconds": 60})),
    )
    .await;
    t.send(
        "me, old key in grace",
        p.get("/v1/users/me").bearer(&restricted_key),
    )
    .await;
    p.clock.advance(Duration::seconds(60));
    t.send(
        "me, old key after grace",
        p.get("/v1/users/me").bearer(&restricted_key),
    )
    .await;
    t.send(
        "rotate again",
        admin(Method::POST, &format!("{restricted_path}/rotate")),
    )
    .await;
    t.send("revoke", admin(Method::DELETE, &metered_path)).await;
    t.send("detect, revoked", detect()).await;
    t.send(
        "detect, revoked key's client token",
        p.post("/api/detect").bearer(&client),
    )
    .await;
    t.send("show revoked", admin(Method::GET, &metered_path))
        .await;

    // Tenant isolation.
    p.clock.advance(Duration::seconds(1));
    let acme = t
        .send(
            "create acme admin key",
            admin(Method::POST, ADMIN_KEYS).json(&json!({"kind": "secret", "tenant": "acme"})),
        )
        .await
        .json();
    let as_acme = |method: Method, path: &str| {
        p.request(method, path)
            .header("x-client-secret", text(&acme, "key"))
    };
    t.send("tenant: list", as_acme(Method::GET, ADMIN_KEYS))
        .await;
    t.send(
        "tenant: list other",
        as_acme(Method::GET, &format!("{ADMIN_KEYS}?tenant=globex")),
    )
    .await;
    t.send(
        "tenant: show other",
        as_acme(
            Method::GET,
            &format!("{ADMIN_KEYS}/{}", text(&globex, "id")),
        ),
    )
    .await;
    t.send(
        "tenant: create for other",
        as_acme(Method::POST, ADMIN_KEYS).json(&json!({"kind": "secret", "tenant": "globex"})),
    )
    .await;

    // Catalogues.
    let catalogue = t
        .send(
            "catalogue create",
            admin(Method::POST, CATALOGUES).json(&json!({"name": "Spring", "tenant": "globex"})),
        )
        .await
        .json();
    let catalogue_path = format!("{CATALOGUES}/{}", text(&catalogue, "id"));
    t.send("catalogue list", admin(Method::GET, CATALOGUES))
        .await;
    p.clock.advance(Duration::seconds(5));
    t.send(
        "catalogue update",
        admin(Method::PUT, &catalogue_path).json(&json!({"name": "Summer", "description": "d"})),
    )
    .await;
    t.send(
        "catalogue, other tenant",
        as_acme(Method::GET, &catalogue_path),
    )
    .await;
    t.send("catalogue delete", admin(Method::DELETE, &catalogue_path))
        .await;
    t.send(
        "catalogue show deleted",
        admin(Method::GET, &catalogue_path),
    )
    .await;

    // Tokens.
    let mint = |body: Value| admin(Method::POST, TOKEN).json(&body);
    let one_time = t
        .send(
            "mint one-time",
            mint(json!({"actionResource": "lens", "actionType": "create"})),
        )
        .await
        .json();
    let one_time = text(&one_time, "token").to_owned();
    let session = t
        .send(
            "mint session",
            mint(
                json!({"actionResource": "*", "actionType": "create", "type": "SESSION",
                "duration": 30, "userReference": "user_1"}),
            ),
        )
        .await
        .json();
    let session = text(&session, "token").to_owned();
    for (label, body) in [
        (
            "mint: unknown resource",
            json!({"actionResource": "x", "actionType": "create"}),
        ),
        (
            "mint: unknown action",
            json!({"actionResource": "lens", "actionType": "x"}),
        ),
        (
            "mint: unknown type",
            json!({"actionResource": "lens", "actionType": "create", "type": "X"}),
        ),
        (
            "mint: duration 0",
            json!({"actionResource": "lens", "actionType": "create", "type": "SESSION", "duration": 0}),
        ),
        (
            "mint: duration 1441",
            json!({"actionResource": "lens", "actionType": "create", "type": "SESSION", "duration": 1441}),
        ),
        (
            "mint: duration on one-time",
            json!({"actionResource": "lens", "actionType": "create", "duration": 5}),
        ),
        ("mint: missing field", json!({"actionResource": "lens"})),
    ] {
        t.send(label, mint(body)).await;
    }
    t.send(
        "mint with an API key",
        p.post(TOKEN).bearer(&restricted_key).json(&json!({})),
    )
    .await;
    t.send(
        "one-time, wrong route",
        p.post("/api/v1/fill").bearer(&one_time),
    )
    .await;
    t.send("one-time, admin route", p.get(ADMIN_KEYS).bearer(&one_time))
        .await;
    t.send("one-time", p.post("/api/v1/lens").bearer(&one_time))
        .await;
    t.send("one-time replay", p.post("/api/v1/lens").bearer(&one_time))
        .await;
    t.send("session", p.post("/api/v1/2d-to-3d").bearer(&session))
        .await;
    t.send(
        "session, catalogue read",
        p.get("/api/v1/catalogues/c1").bearer(&session),
    )
    .await;
    t.send(
        "mint from token, narrower",
        p.post(TOKEN)
            .bearer(&session)
            .json(&json!({"actionResource": "fill", "actionType": "create"})),
    )
    .await;
    t.send(
        "mint from token, broader",
        p.post(TOKEN)
            .bearer(&session)
            .json(&json!({"actionResource": "fill", "actionType": "*"})),
    )
    .await;
    t.send(
        "two bearers",
        p.post("/api/v1/lens").bearer(&session).bearer(&session),
    )
    .await;
    t.send("malformed token", p.post("/api/v1/lens").bearer("a.b.c"))
        .await;
    p.clock.advance(Duration::minutes(30));
    t.send(
        "session expired",
        p.post("/api/v1/2d-to-3d").bearer(&session),
    )
    .await;

    // Accounts and self-service keys.
    accounts(&mut t, &p).await;

    // The store goes away.
    p.app.store().close().await;
    t.send("readyz, store closed", p.get("/readyz")).await;
    t.send("healthz, store closed", p.get("/healthz")).await;
    t.send("list, store closed", admin(Method::GET, ADMIN_KEYS))
        .await;

    t.lines
}

/// Accounts (`owner` keys, the admin account routes with an encoded owner, refills) and
/// the self-service routes, through the same transcript.
async fn accounts(t: &mut Transcript, p: &Platform) {
    let admin = |method: Method, path: &str| p.admin(method, path);
    for (label, body) in [
        (
            "create: owner without tenant",
            json!({"kind": "secret", "owner": "auth0|abc"}),
        ),
        (
            "create: owner with credits",
            json!({"kind": "secret", "tenant": "acme", "owner": "auth0|abc", "credits": 5}),
        ),
        (
            "create: bad owner",
            json!({"kind": "secret", "tenant": "acme", "owner": "a b"}),
        ),
        (
            "create: bad refill",
            json!({"kind": "secret", "refill": {"amount": 0, "interval": "daily"}}),
        ),
    ] {
        t.send(label, admin(Method::POST, ADMIN_KEYS).json(&body))
            .await;
    }
    let owned = t
        .send(
            "create: owner",
            admin(Method::POST, ADMIN_KEYS).json(
                &json!({"kind": "secret", "environment": "live", "tenant": "acme", "owner": "auth0|abc"}),
            ),
        )
        .await
        .json();
    let owned_key = text(&owned, "key").to_owned();
    let account = "/api/v1/admin/accounts/acme/auth0%7Cabc";
    t.send("account", admin(Method::GET, account)).await;
    t.send(
        "detect, unmetered account",
        p.post("/api/detect").header("x-api-key", &owned_key),
    )
    .await;
    t.send(
        "account top-up",
        admin(Method::POST, &format!("{account}/credits")).json(&json!({"add": 2})),
    )
    .await;
    t.send(
        "account refill",
        admin(Method::POST, &format!("{account}/refill"))
            .json(&json!({"amount": 3, "interval": "daily"})),
    )
    .await;
    t.send(
        "account refill: bad interval",
        admin(Method::POST, &format!("{account}/refill"))
            .json(&json!({"amount": 3, "interval": "weekly"})),
    )
    .await;
    t.send(
        "detect, account",
        p.post("/api/detect").header("x-api-key", &owned_key),
    )
    .await;
    t.send(
        "accounts of acme",
        admin(Method::GET, "/api/v1/admin/accounts?tenant=acme"),
    )
    .await;
    t.send("tenants", admin(Method::GET, "/api/v1/admin/tenants"))
        .await;
    t.send(
        "account, bad encoding",
        admin(Method::GET, "/api/v1/admin/accounts/acme/a%ZZ"),
    )
    .await;
    t.send(
        "account, encoded route segment",
        admin(Method::GET, "/api/v1/admin/accounts/acme/a/cr%65dits"),
    )
    .await;
    t.send(
        "owner key on an admin route",
        p.get(ADMIN_KEYS).header("x-client-secret", &owned_key),
    )
    .await;
    t.send(
        "owner key mints",
        p.post(TOKEN)
            .header("x-client-secret", &owned_key)
            .json(&json!({"actionResource": "lens", "actionType": "create"})),
    )
    .await;
    t.send(
        "owner key on behalf of",
        p.post("/api/detector/upload")
            .header("x-api-key", &owned_key)
            .header("x-on-behalf-of", "user_2"),
    )
    .await;
    t.send(
        "account refill cleared",
        admin(Method::POST, &format!("{account}/refill")).json(&Value::Null),
    )
    .await;

    // Keys made in one second list by their (random) ids: a second apart, by age.
    p.clock.advance(Duration::seconds(1));
    let user = p.users.of_tenant("auth0|abc", "acme");
    let mine = t
        .send(
            "me: create key",
            p.post("/api/v1/me/keys")
                .bearer(&user)
                .json(&json!({"name": "laptop"})),
        )
        .await
        .json();
    t.send("me: keys", p.get("/api/v1/me/keys").bearer(&user))
        .await;
    t.send("me: account", p.get("/api/v1/me/account").bearer(&user))
        .await;
    t.send(
        "me: keys, an API key",
        p.get("/api/v1/me/keys").header("x-api-key", &owned_key),
    )
    .await;
    t.send(
        "me: keys, the platform secret",
        admin(Method::GET, "/api/v1/me/keys"),
    )
    .await;
    t.send(
        "me: create, bad environment",
        p.post("/api/v1/me/keys")
            .bearer(&user)
            .json(&json!({"environment": "staging"})),
    )
    .await;
    let other = p.users.of_tenant("user_2", "acme");
    let mine_path = format!("/api/v1/me/keys/{}", text(&mine, "id"));
    t.send(
        "me: revoke another's key",
        p.delete(&mine_path).bearer(&other),
    )
    .await;
    t.send("me: revoke", p.delete(&mine_path).bearer(&user))
        .await;
    t.send(
        "detect, revoked self-service key",
        p.post("/api/detect")
            .header("x-api-key", text(&mine, "key")),
    )
    .await;
}
