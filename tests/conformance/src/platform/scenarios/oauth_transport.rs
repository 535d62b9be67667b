//! contract.md, "Running" (`KEYGATE_REQUIRE_HTTPS`, `KEYGATE_TRUSTED_PROXIES`) on the
//! OAuth endpoints: they are not behind keygate's middleware, yet a client secret, a
//! code or a refresh token is a credential (RFC 6749 §3.2 requires TLS), so plain HTTP
//! is refused with 403 `https_required` (in RFC 6749's JSON shape, as these endpoints
//! answer), and behind a trusted proxy the failure throttle counts the forwarded client,
//! not the proxy.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::Method;
use serde_json::json;

use crate::harness::Reply;
use crate::platform::{Database, Platform, PlatformAdapter, text};

const CLIENTS: &str = "/api/v1/admin/oauth/clients";
const AUTHORIZE: &str = "/oauth/authorize";
const TOKEN: &str = "/oauth/token";
const REVOKE: &str = "/oauth/revoke";
const REDIRECT: &str = "https://app.example/callback";
/// RFC 7636, appendix B.
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The platform with `KEYGATE_REQUIRE_HTTPS` on and loopback (where the test client
/// connects from) as the trusted TLS-terminating proxy.
async fn behind_a_proxy<A: PlatformAdapter, D: Database>() -> Option<Platform> {
    Platform::start_with_engine::<A, D>(|engine| {
        engine
            .require_https(true)
            .trusted_proxies("127.0.0.1".parse().expect("a proxy list"))
    })
    .await
}

/// What the proxy adds: the scheme the client used and its address.
fn via(proto: Option<&str>, client: Option<&str>) -> Vec<(&'static str, String)> {
    let mut headers = Vec::new();
    if let Some(proto) = proto {
        headers.push(("x-forwarded-proto", proto.to_owned()));
    }
    if let Some(client) = client {
        headers.push(("x-forwarded-for", client.to_owned()));
    }
    headers
}

async fn post_form(
    p: &Platform,
    path: &str,
    basic: (&str, &str),
    form: &str,
    forwarded: &[(&'static str, String)],
) -> Reply {
    let credentials = STANDARD.encode(format!("{}:{}", basic.0, basic.1));
    let mut call = p
        .post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", &format!("Basic {credentials}"))
        .body(form.to_owned());
    for (name, value) in forwarded {
        call = call.header(name, value);
    }
    call.send().await
}

fn assert_error(reply: &Reply, status: u16, error: &str, what: &str) {
    assert_eq!(
        (
            reply.status,
            reply.json()["error"].as_str().unwrap_or_default()
        ),
        (status, error),
        "{what}: {}",
        reply.body
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "{what}"
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"), "{what}");
}

/// A confidential client, registered through the proxy over HTTPS: (id, secret).
async fn client(p: &Platform) -> (String, String) {
    let reply = p
        .admin(Method::POST, CLIENTS)
        .header("x-forwarded-proto", "https")
        .json(&json!({"name": "App", "redirect_uris": [REDIRECT],
            "scopes": ["read:users"], "confidential": true}))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let client = reply.json();
    (
        text(&client, "client_id").to_owned(),
        text(&client, "client_secret").to_owned(),
    )
}

const BOGUS_REFRESH: &str = "grant_type=refresh_token&refresh_token=ort_not_a_real_one";

/// `/oauth/token` and `/oauth/revoke` over plain HTTP → 403 `https_required`, before the
/// client's secret is checked; through the trusted proxy with `X-Forwarded-Proto: https`
/// they are served; a spoofed `X-Forwarded-Proto` from an untrusted peer counts for
/// nothing (the engine-level scenarios cover that peer; here the check is the same call).
pub async fn oauth_endpoints_refuse_plain_http<A: PlatformAdapter, D: Database>() {
    let Some(p) = behind_a_proxy::<A, D>().await else {
        return;
    };
    let (id, secret) = client(&p).await;
    for proto in [None, Some("http"), Some("https, http")] {
        let forwarded = via(proto, None);
        let reply = post_form(&p, TOKEN, (&id, &secret), BOGUS_REFRESH, &forwarded).await;
        assert_error(&reply, 403, "https_required", &format!("token {proto:?}"));
        assert!(!reply.body.contains(&secret));
        let reply = post_form(&p, REVOKE, (&id, &secret), "token=oat_x", &forwarded).await;
        assert_error(&reply, 403, "https_required", &format!("revoke {proto:?}"));
    }
    // Over HTTPS (the proxy says so), served: the made-up refresh token is refused as a
    // grant, not for the transport.
    let https = via(Some("https"), Some("203.0.113.9"));
    let reply = post_form(&p, TOKEN, (&id, &secret), BOGUS_REFRESH, &https).await;
    assert_error(&reply, 400, "invalid_grant", "token over https");
    let reply = post_form(&p, REVOKE, (&id, &secret), "token=oat_x", &https).await;
    assert_eq!(reply.status, 200, "revoke over https: {}", reply.body);

    // `/oauth/authorize` with a user's JWT in the clear: 403, not a redirect.
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "read:users")
        .append_pair("state", "s")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let jwt = p.users.jwt("user_1", json!({"tenant_id": "acme"}));
    let authorize = |proto: Option<&str>| {
        let call = p
            .request_no_redirect(Method::GET, &format!("{AUTHORIZE}?{query}"))
            .bearer(&jwt);
        match proto {
            Some(proto) => call.header("x-forwarded-proto", proto),
            None => call,
        }
    };
    let reply = authorize(None).send().await;
    assert_error(&reply, 403, "https_required", "authorize over http");
    assert_eq!(reply.header("location"), None);
    let reply = authorize(Some("https")).send().await;
    assert_eq!(reply.status, 302, "authorize over https: {}", reply.body);
}

/// Behind a trusted proxy, the failure throttle counts each forwarded client: ten wrong
/// secrets from one lock that client out (429), while another client behind the same
/// proxy is still served.
pub async fn oauth_throttle_counts_clients_behind_a_proxy<A: PlatformAdapter, D: Database>() {
    let Some(p) = behind_a_proxy::<A, D>().await else {
        return;
    };
    let (id, secret) = client(&p).await;
    let from = |client: &str| via(Some("https"), Some(client));
    for n in 0..10 {
        let reply = post_form(
            &p,
            TOKEN,
            (&id, "cs_wrong"),
            BOGUS_REFRESH,
            &from("203.0.113.9"),
        )
        .await;
        assert_error(&reply, 401, "invalid_client", &format!("guess {n}"));
    }
    let reply = post_form(
        &p,
        TOKEN,
        (&id, &secret),
        BOGUS_REFRESH,
        &from("203.0.113.9"),
    )
    .await;
    assert_eq!(reply.status, 429, "the guessing client: {}", reply.body);
    assert!(reply.header("retry-after").is_some());
    let reply = post_form(
        &p,
        TOKEN,
        (&id, &secret),
        BOGUS_REFRESH,
        &from("203.0.113.10"),
    )
    .await;
    assert_error(
        &reply,
        400,
        "invalid_grant",
        "another client behind the same proxy is not throttled",
    );
}
