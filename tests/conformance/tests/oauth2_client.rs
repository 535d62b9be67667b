//! An outside OAuth client — the `oauth2` crate, configured as any app would configure it
//! for a provider — drives the platform's authorization server end to end over HTTP, on
//! each of the three binaries' adapters: authorization code with PKCE (S256), the code
//! exchange, a refresh, calls to `/v1/users/me`, and revocation. Confidential clients
//! authenticate with `client_secret_basic` and with `client_secret_post`; a public client
//! with PKCE alone.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::borrow::Cow;

use keygate_conformance::platform::{Actix, Axum, Platform, PlatformAdapter, Sqlite, Tower};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    RedirectUrl, RefreshToken, RevocationUrl, Scope, StandardRevocableToken, TokenResponse,
    TokenUrl,
};
use serde_json::json;

const REDIRECT: &str = "https://app.example/callback";

/// A failed request of the app's HTTP client.
#[derive(Debug)]
struct HttpError(String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

/// The app's HTTP client for `oauth2`: it follows no redirects (the authorization
/// endpoint's answer is read as it is).
fn http_client() -> reqwest::Client {
    keygate_core::http::https_client_builder()
        .unwrap()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn send(
    client: reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| HttpError(e.to_string()))?;
    let mut out = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        out = out.header(name, value);
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| HttpError(e.to_string()))?;
    out.body(body.to_vec())
        .map_err(|e| HttpError(e.to_string()))
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy)]
enum Auth {
    Basic,
    Post,
    Public,
}

async fn whole_flow<A: PlatformAdapter>(auth: Auth) {
    let p = Platform::start::<A, Sqlite>()
        .await
        .expect("SQLite is here");
    let base = p.base().to_owned();
    let reply = p
        .admin(http::Method::POST, "/api/v1/admin/oauth/clients")
        .json(
            &json!({"name": "Outside app", "tenant": "acme", "redirect_uris": [REDIRECT],
            "scopes": ["read:users", "read:orders"],
            "confidential": !matches!(auth, Auth::Public)}),
        )
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let registered = reply.json();
    let id = registered["client_id"].as_str().unwrap().to_owned();

    let mut client = BasicClient::new(ClientId::new(id.clone()))
        .set_auth_uri(AuthUrl::new(format!("{base}/oauth/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(format!("{base}/oauth/token")).unwrap())
        .set_revocation_url(RevocationUrl::new(format!("{base}/oauth/revoke")).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());
    if let Some(secret) = registered["client_secret"].as_str() {
        client = client.set_client_secret(ClientSecret::new(secret.to_owned()));
    }
    let client = client.set_auth_type(match auth {
        Auth::Basic => AuthType::BasicAuth,
        Auth::Post | Auth::Public => AuthType::RequestBody,
    });
    let http = http_client();
    let http = move |request| send(http.clone(), request);

    // The user's browser goes to the authorization URL, signed in (a user JWT).
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("read:users".to_owned()))
        .set_pkce_challenge(challenge)
        .url();
    let jwt = p.users.jwt("user_7", json!({"tenant_id": "acme"}));
    let answer = http_client()
        .get(url.as_str())
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 302);
    let location = url_of(answer.headers()["location"].to_str().unwrap());
    let params: Vec<(Cow<'_, str>, Cow<'_, str>)> = location.query_pairs().collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_string())
    };
    assert_eq!(get("state").as_deref(), Some(csrf.secret().as_str()));
    assert_eq!(get("iss").as_deref(), Some(base.as_str()));
    let code = get("code").expect("a code");

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the code exchange");
    assert_eq!(tokens.expires_in().map(|d| d.as_secs()), Some(3600));
    let scopes: Vec<String> = tokens
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, ["read:users"]);
    let me = p
        .get("/v1/users/me")
        .bearer(tokens.access_token().secret())
        .send()
        .await;
    me.assert_ok();
    assert_eq!(me.json()["principal"]["method"], "oauth");
    assert_eq!(me.json()["principal"]["subject"], "user_7");
    assert_eq!(me.json()["principal"]["metadata"]["client_id"], id.as_str());

    let refresh = tokens.refresh_token().expect("a refresh token").clone();
    let refreshed = client
        .exchange_refresh_token(&refresh)
        .request_async(&http)
        .await
        .expect("the refresh");
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        refresh.secret(),
        "rotated"
    );
    p.get("/v1/users/me")
        .bearer(refreshed.access_token().secret())
        .send()
        .await
        .assert_ok();
    // The rotated token again: refused, and the whole family with it.
    let reused = client
        .exchange_refresh_token(&RefreshToken::new(refresh.secret().clone()))
        .request_async(&http)
        .await;
    assert!(reused.is_err());
    p.get("/v1/users/me")
        .bearer(refreshed.access_token().secret())
        .send()
        .await
        .assert_problem(401, "invalid_token");

    // A second grant, revoked through RFC 7009.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("read:users".to_owned()))
        .set_pkce_challenge(challenge)
        .url();
    let answer = http_client()
        .get(url.as_str())
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    let location = url_of(answer.headers()["location"].to_str().unwrap());
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.to_string())
        .unwrap();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    // `oauth2` sends revocations over TLS only (RFC 7009 §2 asks for TLS), and this
    // platform listens on plain HTTP on loopback: the RFC 7009 request by hand, as the
    // crate would form it.
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("token", tokens.refresh_token().unwrap().secret());
    form.append_pair("token_type_hint", "refresh_token");
    form.append_pair("client_id", &id);
    if let Some(secret) = registered["client_secret"].as_str() {
        form.append_pair("client_secret", secret);
    }
    let revoked = p
        .post("/oauth/revoke")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.finish())
        .send()
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert!(
        client
            .revoke_token(StandardRevocableToken::RefreshToken(
                tokens.refresh_token().unwrap().clone(),
            ))
            .is_err(),
        "oauth2 would have refused a plain-HTTP revocation URL"
    );
    p.get("/v1/users/me")
        .bearer(tokens.access_token().secret())
        .send()
        .await
        .assert_problem(401, "invalid_token");
}

fn url_of(text: &str) -> oauth2::url::Url {
    oauth2::url::Url::parse(text).unwrap()
}

#[tokio::test]
async fn axum_with_client_secret_basic() {
    whole_flow::<Axum>(Auth::Basic).await;
}

#[tokio::test]
async fn actix_with_client_secret_post() {
    whole_flow::<Actix>(Auth::Post).await;
}

#[tokio::test]
async fn tower_with_a_public_client() {
    whole_flow::<Tower>(Auth::Public).await;
}

#[tokio::test]
async fn the_other_adapter_and_client_pairings() {
    whole_flow::<Axum>(Auth::Public).await;
    whole_flow::<Tower>(Auth::Basic).await;
    whole_flow::<Actix>(Auth::Basic).await;
}
