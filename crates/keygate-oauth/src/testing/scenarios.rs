//! The scenarios every [`OAuthStore`] passes: the flows of RFC 6749, 7636, 9700 and 7009
//! end to end, through the server and the engine.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use keygate_core::AuthMethod;
use time::Duration;

use super::harness::{CHALLENGE, Harness, ISSUER, REDIRECT, VERIFIER};
use crate::store::OAuthStore;
use crate::{AuthorizeRefusal, FAILURE_LIMIT, ResourceOwner};

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

/// Confidential clients authenticate by Basic or in the body, never both.
pub async fn confidential_clients_authenticate_by_basic_or_post(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(store);
    let client = h.register(true, None, &["read:users"]).await;
    let secret = client.secret.clone().unwrap();
    let code = h.code(&client, "read:users", None).await;
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let basic = h.token_basic(&client.id, &secret, &exchange, None).await;
    assert_eq!(basic.status, 200, "{:?}", basic.json);

    let code = h.code(&client, "read:users", None).await;
    let post = h.exchange(&client, &code).await;
    assert_eq!(post.status, 200, "{:?}", post.json);

    // Both at once: invalid_request.
    let code = h.code(&client, "read:users", None).await;
    let mut both = exchange.to_vec();
    both[1] = ("code", code.as_str());
    both.push(("client_secret", &secret));
    let answer = h.token_basic(&client.id, &secret, &both, None).await;
    assert_eq!(
        (answer.status.as_u16(), answer.error()),
        (400, "invalid_request")
    );
    // No secret at all: invalid_client.
    let public_view = super::harness::TestClient {
        id: client.id.clone(),
        secret: None,
    };
    let answer = h.exchange(&public_view, &code).await;
    assert_eq!(
        (answer.status.as_u16(), answer.error()),
        (401, "invalid_client")
    );
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
        &super::harness::TestClient {
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

/// A rotated refresh token used again revokes the whole family, the newest tokens too.
pub async fn refresh_reuse_revokes_the_family(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(store);
    let client = h.register(false, None, &["read:users"]).await;
    let code = h.code(&client, "read:users", None).await;
    let first = h.exchange(&client, &code).await;
    let refresh = |token: String| {
        let h = h.clone();
        let client = client.clone();
        async move {
            h.token_post(
                &client,
                &[("grant_type", "refresh_token"), ("refresh_token", &token)],
            )
            .await
        }
    };
    let second = refresh(first.text("refresh_token")).await;
    assert_eq!(second.status, 200);
    let reuse = refresh(first.text("refresh_token")).await;
    assert_eq!(
        (reuse.status.as_u16(), reuse.error()),
        (400, "invalid_grant")
    );
    assert_eq!(
        h.call(&second.text("access_token"))
            .await
            .unwrap_err()
            .code(),
        "invalid_token"
    );
    assert_eq!(
        refresh(second.text("refresh_token")).await.error(),
        "invalid_grant"
    );
}

/// A refresh may narrow the scope, never widen it beyond what the user granted.
pub async fn a_refresh_cannot_widen_scope(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(store);
    let client = h
        .register(false, None, &["read:users", "write:users"])
        .await;
    let code = h.code(&client, "read:users", None).await;
    let tokens = h.exchange(&client, &code).await;
    let wider = h
        .token_post(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &tokens.text("refresh_token")),
                ("scope", "read:users write:users"),
            ],
        )
        .await;
    assert_eq!(
        (wider.status.as_u16(), wider.error()),
        (400, "invalid_scope")
    );
    // The refused request did not spend the token.
    let same = h
        .token_post(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &tokens.text("refresh_token")),
                ("scope", "read:users"),
            ],
        )
        .await;
    assert_eq!(same.status, 200, "{:?}", same.json);
}

/// A bad secret is 401 with `WWW-Authenticate: Basic`; after the limit, that client from
/// that address is refused unverified (429) until the window ends, while the same client
/// from elsewhere still gets in.
pub async fn bad_client_secrets_are_401_then_throttled(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(store);
    let client = h.register(true, None, &["read:users"]).await;
    let secret = client.secret.clone().unwrap();
    let attacker = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)));
    let elsewhere = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)));
    let pairs = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "ort_nothing"),
    ];
    for _ in 0..FAILURE_LIMIT {
        let answer = h
            .token_basic(&client.id, "cs_wrong", &pairs, attacker)
            .await;
        assert_eq!(
            (answer.status.as_u16(), answer.error()),
            (401, "invalid_client")
        );
        assert!(
            answer.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic"),
            "{:?}",
            answer.headers
        );
    }
    // Throttled: even the right secret is not verified from there.
    let answer = h.token_basic(&client.id, &secret, &pairs, attacker).await;
    assert_eq!(
        (answer.status.as_u16(), answer.error()),
        (429, "invalid_client")
    );
    assert!(answer.headers.contains_key("retry-after"));
    // The real client, elsewhere, authenticates (and reaches the grant check).
    let answer = h.token_basic(&client.id, &secret, &pairs, elsewhere).await;
    assert_eq!(
        (answer.status.as_u16(), answer.error()),
        (400, "invalid_grant")
    );
    h.clock.advance(Duration::seconds(60));
    let answer = h.token_basic(&client.id, &secret, &pairs, attacker).await;
    assert_eq!(answer.error(), "invalid_grant");
}

/// Malformed token requests: a repeated parameter, an unsupported grant, a missing one,
/// a body that is not a form.
pub async fn malformed_token_requests_are_refused(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(store);
    let client = h.register(false, None, &["read:users"]).await;
    let code = h.code(&client, "read:users", None).await;
    let repeated = format!(
        "grant_type=authorization_code&code={code}&code={code}&client_id={}&code_verifier={VERIFIER}&redirect_uri={}",
        client.id,
        super::harness::encode(&[("x", REDIRECT)]).trim_start_matches("x=")
    );
    let answer = h.token_raw(&[], &repeated, None).await;
    assert_eq!(
        (answer.status.as_u16(), answer.error()),
        (400, "invalid_request")
    );
    assert_eq!(answer.headers["cache-control"], "no-store");
    // The refused request did not spend the code.
    assert_eq!(h.exchange(&client, &code).await.status, 200);

    let password = h
        .token_post(&client, &[("grant_type", "password"), ("username", "u")])
        .await;
    assert_eq!(
        (password.status.as_u16(), password.error()),
        (400, "unsupported_grant_type")
    );
    let none = h.token_post(&client, &[("code", "x")]).await;
    assert_eq!(none.error(), "invalid_request");
    let json = h
        .server
        .token(crate::EndpointRequest {
            authorization: &[],
            content_type: Some(b"application/json"),
            body: b"{}",
            client_address: None,
        })
        .await;
    assert_eq!(json.status, 400);
}

/// Revocation (RFC 7009) ends the grant: at once here, within a second elsewhere; an
/// unknown token or another client's is answered 200 and changes nothing.
pub async fn revocation_ends_the_grant_everywhere(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(store);
    let other = h.another_instance();
    let client = h.register(false, None, &["read:users"]).await;
    let stranger = h.register(false, None, &["read:users"]).await;
    let code = h.code(&client, "read:users", None).await;
    let tokens = h.exchange(&client, &code).await;
    let access = tokens.text("access_token");
    other.call(&access).await.unwrap();

    assert_eq!(h.revoke(&stranger, &access).await.status, 200);
    h.call(&access).await.unwrap();
    assert_eq!(h.revoke(&client, "oat_unknown").await.status, 200);

    let revoked = h.revoke(&client, &tokens.text("refresh_token")).await;
    assert_eq!(revoked.status, 200);
    assert_eq!(revoked.headers["cache-control"], "no-store");
    assert_eq!(h.call(&access).await.unwrap_err().code(), "invalid_token");
    // The other instance answers from its cache for at most one second.
    other.clock.advance(Duration::milliseconds(999));
    assert!(other.call(&access).await.is_ok());
    other.clock.advance(Duration::milliseconds(1));
    assert_eq!(
        other.call(&access).await.unwrap_err().code(),
        "invalid_token"
    );
}

/// A tenant's client is for that tenant's users: anyone else → `access_denied`.
pub async fn a_tenant_client_refuses_other_tenants_users(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(store);
    let client = h.register(false, Some("acme"), &["read:users"]).await;
    let request = h
        .authorize(&Harness::authorize_query(&client, "read:users"))
        .await
        .unwrap();
    for tenant in [Some("globex"), None] {
        let owner = ResourceOwner {
            subject: "user_2".into(),
            tenant: tenant.map(str::to_owned),
        };
        let denied = h.server.approve(&request, &owner).await;
        assert_eq!(
            Harness::redirect_param(&denied, "error").as_deref(),
            Some("access_denied"),
            "{tenant:?}"
        );
        assert!(Harness::redirect_param(&denied, "code").is_none());
    }
}

/// Removing a client revokes every grant it holds.
pub async fn removing_a_client_revokes_its_grants(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(store);
    let client = h.register(false, None, &["read:users"]).await;
    let code = h.code(&client, "read:users", None).await;
    let tokens = h.exchange(&client, &code).await;
    h.call(&tokens.text("access_token")).await.unwrap();
    assert!(h.server.remove_client(&client.id).await.unwrap());
    assert!(!h.server.remove_client(&client.id).await.unwrap());
    assert_eq!(
        h.call(&tokens.text("access_token"))
            .await
            .unwrap_err()
            .code(),
        "invalid_token"
    );
    assert!(h.server.client(&client.id).await.unwrap().is_none());
}

/// Clients list by tenant; expired codes and tokens are purged.
pub async fn clients_list_by_tenant_and_expired_state_is_purged(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(Arc::clone(&store));
    let a = h.register(false, Some("acme"), &["read:users"]).await;
    let b = h.register(true, Some("globex"), &["read:users"]).await;
    let acme = store.clients(Some("acme"), 100).await.unwrap();
    assert_eq!(acme.len(), 1);
    assert_eq!(&*acme[0].id, a.id.as_str());
    assert!(!acme[0].is_confidential());
    let all = store.clients(None, 100).await.unwrap();
    assert!(all.iter().any(|c| *c.id == *b.id && c.is_confidential()));
    let stored = store.client(&b.id).await.unwrap().unwrap();
    assert!(
        stored
            .secret_hash
            .as_deref()
            .unwrap()
            .starts_with("$argon2id$")
    );
    assert_eq!(stored.redirect_uris, vec![REDIRECT.to_owned()]);

    let code = h.code(&a, "read:users", Some("acme")).await;
    let tokens = h.exchange(&a, &code).await;
    assert_eq!(tokens.status, 200);
    h.clock.advance(Duration::days(31));
    assert!(store.purge_expired(h.clock_now()).await.unwrap() >= 3);
    assert_eq!(
        h.call(&tokens.text("access_token"))
            .await
            .unwrap_err()
            .code(),
        "invalid_token"
    );
}

impl Harness {
    fn clock_now(&self) -> time::OffsetDateTime {
        use keygate_core::Clock;
        self.clock.now()
    }
}
