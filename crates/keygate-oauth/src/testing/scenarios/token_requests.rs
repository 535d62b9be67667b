//! The token and revocation endpoints' requests: client authentication, throttling of
//! bad secrets, malformed requests, revocation (RFC 6749 §2.3 and §5.2, RFC 7009).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use time::Duration;

use crate::FAILURE_LIMIT;
use crate::store::OAuthStore;
use crate::testing::harness::{Harness, REDIRECT, VERIFIER};

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
    let public_view = crate::testing::harness::TestClient {
        id: client.id.clone(),
        secret: None,
    };
    let answer = h.exchange(&public_view, &code).await;
    assert_eq!(
        (answer.status.as_u16(), answer.error()),
        (401, "invalid_client")
    );
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
        crate::testing::harness::encode(&[("x", REDIRECT)]).trim_start_matches("x=")
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
