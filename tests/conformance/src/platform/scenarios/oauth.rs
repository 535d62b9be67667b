//! contract.md, "Stripe-style keys and OAuth 2.0": client registration, the authorization
//! code flow with PKCE, refresh rotation, revocation and metadata, over HTTP. OAuth
//! answers are RFC 6749's (JSON `error` or a redirect), never problem+json.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::Method;
use serde_json::{Value, json};
use time::Duration;

use crate::harness::Reply;
use crate::platform::{Database, Platform, PlatformAdapter, text};

const CLIENTS: &str = "/api/v1/admin/oauth/clients";
const AUTHORIZE: &str = "/oauth/authorize";
const TOKEN: &str = "/oauth/token";
const REVOKE: &str = "/oauth/revoke";
const ME: &str = "/v1/users/me";
const METADATA: &str = "/.well-known/oauth-authorization-server";
const REDIRECT: &str = "https://app.example/callback";
/// RFC 7636, appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn form(pairs: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        out.append_pair(name, value);
    }
    out.finish()
}

fn location_params(reply: &Reply) -> Vec<(String, String)> {
    let location = reply.header("location").unwrap_or_default();
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param(reply: &Reply, name: &str) -> Option<String> {
    location_params(reply)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Asserts an RFC 6749 §5.2 JSON error with `Cache-Control: no-store`.
fn assert_oauth_error(reply: &Reply, status: u16, error: &str) {
    assert_eq!(
        (
            reply.status,
            reply.json()["error"].as_str().unwrap_or_default()
        ),
        (status, error),
        "body: {}",
        reply.body
    );
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

impl Platform {
    async fn register_client(&self, body: Value) -> Value {
        let reply = self.admin(Method::POST, CLIENTS).json(&body).send().await;
        assert_eq!(reply.status, 201, "body: {}", reply.body);
        reply.json()
    }

    fn authorize_query(client_id: &str, scope: &str) -> String {
        form(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "xyz ABC/+=&"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
    }

    async fn authorize(&self, query: &str, jwt: Option<&str>) -> Reply {
        let call = self.request_no_redirect(Method::GET, &format!("{AUTHORIZE}?{query}"));
        match jwt {
            Some(jwt) => call.bearer(jwt),
            None => call,
        }
        .send()
        .await
    }

    /// A code for `client_id`, approved by `user` of `tenant`.
    async fn oauth_code(&self, client_id: &str, scope: &str, tenant: &str) -> String {
        let jwt = self.users.jwt("user_1", json!({"tenant_id": tenant}));
        let reply = self
            .authorize(&Self::authorize_query(client_id, scope), Some(&jwt))
            .await;
        assert_eq!(reply.status, 302, "body: {}", reply.body);
        param(&reply, "code").expect("a code")
    }

    async fn token_form(&self, basic: Option<(&str, &str)>, pairs: &[(&str, &str)]) -> Reply {
        let mut call = self
            .post(TOKEN)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(pairs));
        if let Some((id, secret)) = basic {
            let credentials = STANDARD.encode(format!("{id}:{secret}"));
            call = call.header("authorization", &format!("Basic {credentials}"));
        }
        call.send().await
    }

    async fn exchange(&self, id: &str, secret: &str, code: &str) -> Reply {
        self.token_form(
            Some((id, secret)),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await
    }

    /// A confidential client of tenant `acme` with `read:users write:users`: (id, secret).
    async fn acme_client(&self) -> (String, String) {
        let client = self
            .register_client(json!({"name": "Acme app", "tenant": "acme",
                "redirect_uris": [REDIRECT], "scopes": ["read:users", "write:users"],
                "confidential": true}))
            .await;
        (
            text(&client, "client_id").to_owned(),
            text(&client, "client_secret").to_owned(),
        )
    }
}

/// RFC 8414 metadata: the issuer (the platform's base URL without KEYGATE_ISSUER_URL),
/// its endpoints, S256 only.
pub async fn oauth_metadata_names_the_issuer<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let reply = p.get(METADATA).send().await;
    reply.assert_ok();
    let doc = reply.json();
    assert_eq!(doc["issuer"], p.base());
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{}{AUTHORIZE}", p.base())
    );
    assert_eq!(doc["token_endpoint"], format!("{}{TOKEN}", p.base()));
    assert_eq!(doc["revocation_endpoint"], format!("{}{REVOKE}", p.base()));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
}

/// Registration: admin only; a confidential client's secret shown once, a public client
/// gets none; a tenant's key registers for its tenant; bad redirect URIs and unoffered
/// scopes are 400.
pub async fn oauth_client_registration<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let confidential = p
        .register_client(json!({"name": "App", "redirect_uris": [REDIRECT],
            "scopes": ["read:users"], "confidential": true}))
        .await;
    assert!(text(&confidential, "client_id").starts_with("cl_"));
    assert!(text(&confidential, "client_secret").starts_with("cs_"));
    let public = p
        .register_client(json!({"name": "SPA", "redirect_uris": [REDIRECT],
            "scopes": ["read:users"], "confidential": false}))
        .await;
    assert_eq!(public["client_secret"], Value::Null);

    let key = p.secret_key("acme").await;
    let reply = p
        .post(CLIENTS)
        .header("x-client-secret", text(&key, "key"))
        .json(&json!({"name": "Acme", "redirect_uris": [REDIRECT], "scopes": ["read:users"]}))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.json()["tenant"], "acme");
    let reply = p
        .post(CLIENTS)
        .header("x-client-secret", text(&key, "key"))
        .json(
            &json!({"name": "Other", "tenant": "globex", "redirect_uris": [REDIRECT],
            "scopes": ["read:users"]}),
        )
        .send()
        .await;
    reply.assert_problem(403, "tenant_forbidden");

    for body in [
        json!({"name": "x", "redirect_uris": ["http://app.example/cb"], "scopes": ["read:users"]}),
        json!({"name": "x", "redirect_uris": ["https://app.example/cb#f"], "scopes": ["read:users"]}),
        json!({"name": "x", "redirect_uris": [], "scopes": ["read:users"]}),
        json!({"name": "x", "redirect_uris": [REDIRECT], "scopes": ["admin:everything"]}),
    ] {
        let reply = p.admin(Method::POST, CLIENTS).json(&body).send().await;
        reply.assert_problem(400, "invalid_request");
    }
    // Not an admin credential: refused by keygate, unverified.
    let jwt = p.users.jwt("user_1", json!({}));
    let reply = p.post(CLIENTS).bearer(&jwt).json(&json!({})).send().await;
    reply.assert_problem(403, "secret_key_required");
}

/// The whole flow: authorize with a user JWT (302 with `code`, `state` byte for byte,
/// `iss`), exchange with Basic, call `/v1/users/me` (method `oauth`, the user, the
/// tenant, the scopes, `metadata.client_id`), refresh, revoke, and the token is refused.
pub async fn oauth_code_flow_over_http<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let (id, secret) = p.acme_client().await;
    let jwt = p.users.jwt("user_1", json!({"tenant_id": "acme"}));
    let reply = p
        .authorize(&Platform::authorize_query(&id, "read:users"), Some(&jwt))
        .await;
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert!(
        reply
            .header("location")
            .unwrap_or_default()
            .starts_with(REDIRECT)
    );
    assert_eq!(param(&reply, "state").as_deref(), Some("xyz ABC/+=&"));
    assert_eq!(param(&reply, "iss").as_deref(), Some(p.base()));
    let code = param(&reply, "code").expect("a code");

    let tokens = p.exchange(&id, &secret, &code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    let body = tokens.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "read:users");
    let access = text(&body, "access_token").to_owned();

    let me = p.get(ME).bearer(&access).send().await;
    me.assert_ok();
    let principal = &me.json()["principal"];
    assert_eq!(principal["method"], "oauth");
    assert_eq!(principal["subject"], "user_1");
    assert_eq!(principal["tenant"], "acme");
    assert_eq!(principal["scopes"], json!(["read:users"]));
    assert_eq!(principal["metadata"]["client_id"], id.as_str());
    assert_eq!(principal["actor"], Value::Null);
    assert_eq!(me.json()["livemode"], true);

    let refreshed = p
        .token_form(
            None,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", text(&body, "refresh_token")),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let newer = text(&refreshed.json(), "access_token").to_owned();
    p.get(ME).bearer(&newer).send().await.assert_ok();

    let revoked = p
        .post(REVOKE)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            &format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        )
        .body(form(&[("token", &newer)]))
        .send()
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    for token in [&access, &newer] {
        let me = p.get(ME).bearer(token).send().await;
        me.assert_problem(401, "invalid_token");
    }
    // An access token is no credential for routes that take none.
    let code = p.oauth_code(&id, "read:users", "acme").await;
    let access = text(
        &p.exchange(&id, &secret, &code).await.json(),
        "access_token",
    )
    .to_owned();
    p.post("/api/detect")
        .bearer(&access)
        .send()
        .await
        .assert_problem(403, "credential_not_accepted");
}

/// The authorization endpoint's refusals: an unknown client or a redirect URI that is not
/// an exact match is a 400 without `Location`; the rest redirect with `error` and `iss`.
pub async fn oauth_authorize_refusals<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let (id, _) = p.acme_client().await;
    let jwt = p.users.jwt("user_1", json!({"tenant_id": "acme"}));
    let with = |pairs: &[(&str, &str)]| {
        let mut all = vec![
            ("response_type", "code"),
            ("client_id", id.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        for (name, value) in pairs {
            all.retain(|(n, _)| n != name);
            if !value.is_empty() {
                all.push((name, value));
            }
        }
        form(&all)
    };
    for redirect in [
        "https://app.example/callback/extra",
        "https://app.example/callback?x=1",
        "https://app.example/callback/",
        "https://app.example:8443/callback",
        "http://app.example/callback",
        "https://APP.example/callback",
    ] {
        let reply = p
            .authorize(&with(&[("redirect_uri", redirect)]), Some(&jwt))
            .await;
        assert_oauth_error(&reply, 400, "invalid_request");
        assert!(reply.header("location").is_none(), "{redirect}");
    }
    let reply = p
        .authorize(&with(&[("client_id", "cl_unknown")]), Some(&jwt))
        .await;
    assert_oauth_error(&reply, 400, "invalid_request");
    assert!(reply.header("location").is_none());

    for (pairs, error) in [
        (
            vec![("code_challenge", ""), ("code_challenge_method", "")],
            "invalid_request",
        ),
        (
            vec![
                ("code_challenge", VERIFIER),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("scope", "read:orders")], "invalid_scope"),
    ] {
        let reply = p.authorize(&with(&pairs), Some(&jwt)).await;
        assert_eq!(reply.status, 302, "{pairs:?}: {}", reply.body);
        assert_eq!(param(&reply, "error").as_deref(), Some(error), "{pairs:?}");
        assert_eq!(param(&reply, "iss").as_deref(), Some(p.base()));
        assert!(param(&reply, "code").is_none());
    }
    // No user, and another tenant's user: access_denied, no code.
    let globex = p.users.jwt("user_9", json!({"tenant_id": "globex"}));
    for user in [None, Some(globex.as_str())] {
        let reply = p.authorize(&with(&[]), user).await;
        assert_eq!(reply.status, 302, "{}", reply.body);
        assert_eq!(param(&reply, "error").as_deref(), Some("access_denied"));
        assert!(param(&reply, "code").is_none());
    }
}

/// The token endpoint's refusals, RFC 6749 §5.2: a bad Basic secret is 401 with
/// `WWW-Authenticate: Basic`; a repeated parameter, an unsupported grant, a wrong
/// verifier; all `no-store`.
pub async fn oauth_token_refusals<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let (id, secret) = p.acme_client().await;
    let code = p.oauth_code(&id, "read:users", "acme").await;
    let reply = p.exchange(&id, "cs_wrong", &code).await;
    assert_oauth_error(&reply, 401, "invalid_client");
    assert!(
        reply
            .header("www-authenticate")
            .unwrap_or_default()
            .starts_with("Basic"),
        "{:?}",
        reply.headers
    );
    let repeated = format!(
        "{}&code={code}",
        form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
    );
    let credentials = STANDARD.encode(format!("{id}:{secret}"));
    let reply = p
        .post(TOKEN)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", &format!("Basic {credentials}"))
        .body(repeated)
        .send()
        .await;
    assert_oauth_error(&reply, 400, "invalid_request");
    let reply = p
        .token_form(
            Some((&id, &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_oauth_error(&reply, 400, "unsupported_grant_type");
    let reply = p
        .token_form(
            Some((&id, &secret)),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &"v".repeat(43)),
            ],
        )
        .await;
    assert_oauth_error(&reply, 400, "invalid_grant");
    // None of those spent the code.
    assert_eq!(p.exchange(&id, &secret, &code).await.status, 200);
}

/// A replayed code revokes the tokens it issued (checked on `/v1/users/me`); an expired
/// code (61 s on the manual clock) is `invalid_grant`.
pub async fn oauth_code_replay_and_expiry<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let (id, secret) = p.acme_client().await;
    let code = p.oauth_code(&id, "read:users", "acme").await;
    let tokens = p.exchange(&id, &secret, &code).await.json();
    let access = text(&tokens, "access_token").to_owned();
    p.get(ME).bearer(&access).send().await.assert_ok();
    let replay = p.exchange(&id, &secret, &code).await;
    assert_oauth_error(&replay, 400, "invalid_grant");
    p.get(ME)
        .bearer(&access)
        .send()
        .await
        .assert_problem(401, "invalid_token");

    let code = p.oauth_code(&id, "read:users", "acme").await;
    p.clock.advance(Duration::seconds(61));
    assert_oauth_error(&p.exchange(&id, &secret, &code).await, 400, "invalid_grant");
}

/// Refresh tokens rotate; reusing a rotated one revokes the family; a refresh cannot
/// widen scope.
pub async fn oauth_refresh_rotation_and_reuse<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let (id, secret) = p.acme_client().await;
    let code = p.oauth_code(&id, "read:users", "acme").await;
    let first = p.exchange(&id, &secret, &code).await.json();
    let refresh = |token: String, scope: Option<&'static str>| {
        let (id, secret) = (id.clone(), secret.clone());
        let p = &p;
        async move {
            let mut pairs = vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", token.as_str()),
            ];
            if let Some(scope) = scope {
                pairs.push(("scope", scope));
            }
            p.token_form(Some((&id, &secret)), &pairs).await
        }
    };
    let wider = refresh(
        text(&first, "refresh_token").to_owned(),
        Some("read:users write:users"),
    )
    .await;
    assert_oauth_error(&wider, 400, "invalid_scope");
    let second = refresh(text(&first, "refresh_token").to_owned(), None).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let second = second.json();
    let reuse = refresh(text(&first, "refresh_token").to_owned(), None).await;
    assert_oauth_error(&reuse, 400, "invalid_grant");
    p.get(ME)
        .bearer(text(&second, "access_token"))
        .send()
        .await
        .assert_problem(401, "invalid_token");
    let after = refresh(text(&second, "refresh_token").to_owned(), None).await;
    assert_oauth_error(&after, 400, "invalid_grant");
}

/// With the store closed every OAuth endpoint fails closed: the token and authorization
/// endpoints answer 503 `temporarily_unavailable` (never a code or a token), and an access
/// token issued before is refused with 503 `auth_unavailable` once its cached answer is
/// older than a second.
pub async fn oauth_fails_closed_without_its_store<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let (id, secret) = p.acme_client().await;
    let code = p.oauth_code(&id, "read:users", "acme").await;
    let tokens = p.exchange(&id, &secret, &code).await.json();
    let access = text(&tokens, "access_token").to_owned();
    p.get(ME).bearer(&access).send().await.assert_ok();
    p.app.store().close().await;
    p.clock.advance(Duration::seconds(1));

    let reply = p
        .token_form(
            Some((&id, &secret)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", text(&tokens, "refresh_token")),
            ],
        )
        .await;
    assert_oauth_error(&reply, 503, "temporarily_unavailable");
    let jwt = p.users.jwt("user_1", json!({"tenant_id": "acme"}));
    let reply = p
        .authorize(&Platform::authorize_query(&id, "read:users"), Some(&jwt))
        .await;
    assert_oauth_error(&reply, 503, "temporarily_unavailable");
    assert!(reply.header("location").is_none());
    p.get(ME)
        .bearer(&access)
        .send()
        .await
        .assert_problem(503, "auth_unavailable");
}
