//! Authorization codes: the code flow with PKCE, its redirect errors, wrong verifiers,
//! replayed, racing and expired codes (RFC 6749 §4.1, RFC 7636, RFC 9700 §4.5).

use std::sync::Arc;

use keygate_core::AuthMethod;
use time::Duration;

use crate::store::OAuthStore;
use crate::testing::harness::{CHALLENGE, Harness, ISSUER, REDIRECT, VERIFIER};
use crate::{AuthorizeRefusal, ResourceOwner};

/// Code + PKCE, a refresh, and calls with both access tokens: the principal is the
/// user's, with method `oauth`, the granted scopes and `metadata.client_id`.
pub async fn the_code_flow_issues_tokens_the_engine_accepts(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(store);
    let client = h
        .register(false, Some("acme"), &["read:users", "write:users"])
        .await;
    let request = h
        .authorize(&Harness::authorize_query(&client, "read:users"))
        .await
        .unwrap();
    let owner = ResourceOwner {
        subject: "user_1".into(),
        tenant: Some("acme".into()),
    };
    let redirect = h.server.approve(&request, &owner).await;
    assert_eq!(redirect.status, 302);
    let location = redirect.headers["location"].to_str().unwrap();
    assert!(
        location.starts_with(&format!("{REDIRECT}?code=")),
        "{location}"
    );
    // state comes back byte for byte, and iss names this server (RFC 9207).
    assert_eq!(
        Harness::redirect_param(&redirect, "state").as_deref(),
        Some("st&te =/+ü")
    );
    assert_eq!(
        Harness::redirect_param(&redirect, "iss").as_deref(),
        Some(ISSUER)
    );
    let code = Harness::redirect_param(&redirect, "code").unwrap();

    let tokens = h.exchange(&client, &code).await;
    assert_eq!(tokens.status, 200, "{:?}", tokens.json);
    assert_eq!(tokens.headers["cache-control"], "no-store");
    assert_eq!(tokens.text("token_type"), "Bearer");
    assert_eq!(tokens.json["expires_in"], 3600);
    assert_eq!(tokens.text("scope"), "read:users");
    let access = tokens.text("access_token");
    assert!(access.starts_with("oat_"));
    let principal = h.call(&access).await.unwrap();
    assert_eq!(principal.method, AuthMethod::OAuth);
    assert_eq!(principal.subject.as_deref(), Some("user_1"));
    assert_eq!(principal.tenant.as_deref(), Some("acme"));
    assert_eq!(principal.metadata["client_id"], client.id.as_str());
    assert_eq!(principal.scopes.to_space_separated(), "read:users");

    let refreshed = h
        .token_post(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &tokens.text("refresh_token")),
            ],
        )
        .await;
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.json);
    assert_ne!(
        refreshed.text("refresh_token"),
        tokens.text("refresh_token")
    );
    h.call(&refreshed.text("access_token")).await.unwrap();
    // Rotation leaves the older access token alone: it lives out its hour.
    h.call(&access).await.unwrap();
    h.clock.advance(Duration::hours(1));
    assert_eq!(h.call(&access).await.unwrap_err().code(), "token_expired");
}

/// PKCE is required, S256 only; `response_type=token` is not supported; scopes stay
/// within the client's.
pub async fn pkce_response_type_and_scope_errors_redirect(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(store);
    let client = h.register(false, None, &["read:users"]).await;
    let base = |challenge: Option<&str>, method: Option<&str>, response_type: &str, scope: &str| {
        Harness::query(&[
            ("response_type", Some(response_type)),
            ("client_id", Some(&client.id)),
            ("redirect_uri", Some(REDIRECT)),
            ("scope", Some(scope)),
            ("code_challenge", challenge),
            ("code_challenge_method", method),
        ])
    };
    let missing = base(None, None, "code", "read:users");
    assert_eq!(
        redirected_error(h.authorize(&missing).await),
        "invalid_request"
    );
    let plain = base(Some(VERIFIER), Some("plain"), "code", "read:users");
    assert_eq!(
        redirected_error(h.authorize(&plain).await),
        "invalid_request"
    );
    let no_method = base(Some(CHALLENGE), None, "code", "read:users");
    assert_eq!(
        redirected_error(h.authorize(&no_method).await),
        "invalid_request"
    );
    let implicit = base(Some(CHALLENGE), Some("S256"), "token", "read:users");
    assert_eq!(
        redirected_error(h.authorize(&implicit).await),
        "unsupported_response_type"
    );
    let wider = base(
        Some(CHALLENGE),
        Some("S256"),
        "code",
        "read:users write:users",
    );
    assert_eq!(redirected_error(h.authorize(&wider).await), "invalid_scope");
}

fn redirected_error(refusal: Result<crate::AuthorizationRequest, AuthorizeRefusal>) -> String {
    match refusal {
        Err(AuthorizeRefusal::Redirect(response)) => {
            assert_eq!(response.status, 302);
            assert_eq!(
                Harness::redirect_param(&response, "iss").as_deref(),
                Some(ISSUER)
            );
            Harness::redirect_param(&response, "error").unwrap()
        }
        other => panic!("expected a redirect with an error, got {other:?}"),
    }
}

/// A wrong verifier is `invalid_grant` and revokes nothing: the right one still works.
pub async fn a_wrong_verifier_fails_and_revokes_nothing(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(store);
    let client = h.register(false, None, &["read:users"]).await;
    let code = h.code(&client, "read:users", None).await;
    let first = h.exchange(&client, &code).await;
    assert_eq!(first.status, 200);
    // A replay with a wrong verifier: refused, and the tokens stay good.
    let wrong = h
        .token_post(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &"x".repeat(43)),
            ],
        )
        .await;
    assert_eq!(
        (wrong.status.as_u16(), wrong.error()),
        (400, "invalid_grant")
    );
    h.call(&first.text("access_token")).await.unwrap();

    // On a fresh code, a wrong verifier leaves the code exchangeable.
    let code = h.code(&client, "read:users", None).await;
    let wrong = h
        .token_post(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &"y".repeat(43)),
            ],
        )
        .await;
    assert_eq!(wrong.error(), "invalid_grant");
    assert_eq!(h.exchange(&client, &code).await.status, 200);
}

/// A code replayed with its verifier revokes every token it issued, on this instance at
/// once and on another within a second.
pub async fn a_replayed_code_revokes_what_it_issued(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(store);
    let other = h.another_instance();
    let client = h.register(false, None, &["read:users"]).await;
    let code = h.code(&client, "read:users", None).await;
    let tokens = h.exchange(&client, &code).await;
    let access = tokens.text("access_token");
    h.call(&access).await.unwrap();
    other.call(&access).await.unwrap(); // cached there now

    let replay = h.exchange(&client, &code).await;
    assert_eq!(
        (replay.status.as_u16(), replay.error()),
        (400, "invalid_grant")
    );
    assert_eq!(h.call(&access).await.unwrap_err().code(), "invalid_token");
    h.clock.advance(Duration::seconds(1));
    assert_eq!(
        other.call(&access).await.unwrap_err().code(),
        "invalid_token"
    );
    let refresh = h
        .token_post(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &tokens.text("refresh_token")),
            ],
        )
        .await;
    assert_eq!(refresh.error(), "invalid_grant");
}

/// Two instances racing to redeem one code: exactly one gets tokens, and the loser's
/// attempt counts as a replay (the grant is revoked), as RFC 6749 §4.1.2 asks.
pub async fn racing_redemptions_issue_tokens_once(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(store);
    let other = h.another_instance();
    let client = h.register(false, None, &["read:users"]).await;
    for _ in 0..5 {
        let code = h.code(&client, "read:users", None).await;
        let (a, b) = tokio::join!(h.exchange(&client, &code), other.exchange(&client, &code));
        let won = [&a, &b].iter().filter(|x| x.status == 200).count();
        assert_eq!(won, 1, "{:?} {:?}", a.json, b.json);
        let loser = if a.status == 200 { &b } else { &a };
        assert_eq!(loser.error(), "invalid_grant");
    }
}

/// A code lives 60 s.
pub async fn an_expired_code_is_invalid_grant(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(store);
    let client = h.register(false, None, &["read:users"]).await;
    let code = h.code(&client, "read:users", None).await;
    h.clock.advance(Duration::seconds(60));
    let late = h.exchange(&client, &code).await;
    assert_eq!((late.status.as_u16(), late.error()), (400, "invalid_grant"));
    let code = h.code(&client, "read:users", None).await;
    h.clock.advance(Duration::seconds(59));
    assert_eq!(h.exchange(&client, &code).await.status, 200);
}

/// Redirect URIs match exactly: any other one is a 400 page, never a redirect; so is an
/// unknown client.
pub async fn redirect_mismatches_and_unknown_clients_get_a_page(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(store);
    let client = h.register(false, None, &["read:users"]).await;
    for other in [
        "https://app.example/callback/extra",
        "https://app.example/callback?x=1",
        "https://app.example/callback/",
        "https://app.example:8443/callback",
        "http://app.example/callback",
        "https://APP.example/callback",
        "https://app.example/CALLBACK",
    ] {
        let query = Harness::query(&[
            ("response_type", Some("code")),
            ("client_id", Some(&client.id)),
            ("redirect_uri", Some(other)),
            ("code_challenge", Some(CHALLENGE)),
            ("code_challenge_method", Some("S256")),
        ]);
        match h.authorize(&query).await {
            Err(AuthorizeRefusal::Page(error)) => {
                assert_eq!(error.code.as_str(), "invalid_request", "{other}");
                let page = AuthorizeRefusal::Page(error).into_response();
                assert_eq!(page.status, 400);
                assert!(page.headers.get("location").is_none());
            }
            other_answer => panic!("{other}: {other_answer:?}"),
        }
    }
    let unknown = Harness::authorize_query(
        &crate::testing::harness::TestClient {
            id: "cl_nobody".into(),
            secret: None,
        },
        "read:users",
    );
    assert!(matches!(
        h.authorize(&unknown).await,
        Err(AuthorizeRefusal::Page(_))
    ));
}
