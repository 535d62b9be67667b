//! User-JWT verification with static keys: what passes, and every forgery and malformed
//! token RFC 8725 warns about, refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod jwt_support;

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::JwkSet;
use keygate_core::jwt::{JwtConfigError, JwtVerifier, JwtVerifierBuilder};
use keygate_core::token::{TokenIssuer, TokenKind};
use keygate_core::{Clock, ManualClock, Scope};
use serde_json::{Value, json};
use time::Duration;

use jwt_support::*;

fn builder(keys: JwkSet) -> JwtVerifierBuilder {
    JwtVerifier::builder()
        .issuer(ISSUER)
        .audience(PROJECT)
        .static_keys(keys)
}

/// A verifier trusting `rsa-1`, the way one trusts Firebase.
fn firebase_like() -> JwtVerifier {
    builder(jwks(&[&TestKey::rsa1()])).build().unwrap()
}

async fn verify(verifier: &JwtVerifier, token: &str) -> &'static str {
    code(verifier.verify(token, T0).await)
}

#[tokio::test]
async fn a_firebase_token_verifies_with_subject_tenant_and_scopes() {
    let key = TestKey::rsa1();
    let verifier = firebase_like();

    let user = verifier
        .verify(&key.sign(&firebase_claims(T0)), T0)
        .await
        .unwrap();
    assert_eq!(&*user.subject, "user_1");
    assert_eq!(user.tenant, None);
    assert_eq!(user.scopes, None);
    assert_eq!(&*user.issuer, ISSUER);
    assert_eq!(user.expires_at, T0 + Duration::hours(1));

    // Tenant from the configured claim (tenant_id by default)...
    let claims = with(firebase_claims(T0), "tenant_id", json!("acme"));
    let user = verifier.verify(&key.sign(&claims), T0).await.unwrap();
    assert_eq!(user.tenant.as_deref(), Some("acme"));

    // ...else from firebase.tenant, as Firebase multi-tenancy writes it...
    let mut claims = firebase_claims(T0);
    claims["firebase"]["tenant"] = json!("tenant-2-abcde");
    let user = verifier.verify(&key.sign(&claims), T0).await.unwrap();
    assert_eq!(user.tenant.as_deref(), Some("tenant-2-abcde"));

    // ...and both, when they agree; when they differ the token is refused.
    claims["tenant_id"] = json!("tenant-2-abcde");
    assert_eq!(verify(&verifier, &key.sign(&claims)).await, "ok");
    claims["tenant_id"] = json!("acme");
    assert_eq!(verify(&verifier, &key.sign(&claims)).await, "invalid_token");

    // A tenant that is not a valid id is refused.
    let claims = with(firebase_claims(T0), "tenant_id", json!("acme corp"));
    assert_eq!(verify(&verifier, &key.sign(&claims)).await, "invalid_token");

    // Scopes from `scope` (space-separated)...
    let claims = with(
        firebase_claims(T0),
        "scope",
        json!("read:users write:orders"),
    );
    let scopes = verifier
        .verify(&key.sign(&claims), T0)
        .await
        .unwrap()
        .scopes
        .unwrap();
    assert!(scopes.allows(&Scope::new("write:orders").unwrap()));
    assert_eq!(scopes.len(), 2);
    // ...or `scp`, an array or a string.
    let claims = with(firebase_claims(T0), "scp", json!(["read:users", "lens:*"]));
    let scopes = verifier
        .verify(&key.sign(&claims), T0)
        .await
        .unwrap()
        .scopes
        .unwrap();
    assert!(scopes.allows(&Scope::new("lens:create").unwrap()));
    let claims = with(firebase_claims(T0), "scp", json!("read:users"));
    let scopes = verifier
        .verify(&key.sign(&claims), T0)
        .await
        .unwrap()
        .scopes
        .unwrap();
    assert_eq!(scopes.to_space_separated(), "read:users");
    // Invalid scope syntax is an invalid token.
    let claims = with(firebase_claims(T0), "scope", json!("read users!"));
    assert_eq!(verify(&verifier, &key.sign(&claims)).await, "invalid_token");
}

#[tokio::test]
async fn the_tenant_claim_is_configurable() {
    let key = TestKey::rsa1();
    let verifier = builder(jwks(&[&key]))
        .tenant_claim("org_id")
        .build()
        .unwrap();
    let claims = with(firebase_claims(T0), "org_id", json!("org-7"));
    let claims = with(claims, "tenant_id", json!("ignored"));
    let user = verifier.verify(&key.sign(&claims), T0).await.unwrap();
    assert_eq!(user.tenant.as_deref(), Some("org-7"));
}

#[tokio::test]
async fn alg_none_is_refused_in_any_spelling() {
    let verifier = firebase_like();
    let claims = firebase_claims(T0);
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": alg, "kid": "rsa-1", "typ": "JWT"});
        // As attackers send it (empty signature), and with a signature-looking segment.
        let unsigned = format!("{}.{}.", encode(&header), encode(&claims));
        assert_eq!(verify(&verifier, &unsigned).await, "invalid_token", "{alg}");
        let padded = format!("{unsigned}c2ln");
        assert_eq!(verify(&verifier, &padded).await, "invalid_token", "{alg}");
    }
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let key = TestKey::rsa1();
    let verifier = firebase_like();
    let jwk = key.jwk();
    let public_pem = {
        // What an attacker has: the public key, in every form it is published.
        let jsonwebtoken::jwk::AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
            unreachable!()
        };
        vec![
            serde_json::to_vec(&jwk).unwrap(),
            rsa.n.clone().into_bytes(),
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &rsa.n)
                .unwrap(),
        ]
    };
    for secret in public_pem {
        let hmac = jsonwebtoken::EncodingKey::from_secret(&secret);
        let header = json!({"alg": "HS256", "kid": "rsa-1", "typ": "JWT"});
        let token = sign_raw(&header, &firebase_claims(T0), |m| {
            jsonwebtoken::crypto::sign(m, &hmac, Algorithm::HS256).unwrap()
        });
        assert_eq!(verify(&verifier, &token).await, "invalid_token");
    }
    // And no verifier can be configured to accept HS256.
    let err = builder(jwks(&[&key]))
        .algorithms([Algorithm::RS256, Algorithm::HS256])
        .build()
        .unwrap_err();
    assert!(
        matches!(err, JwtConfigError::SymmetricAlgorithm(Algorithm::HS256)),
        "{err}"
    );
}

#[tokio::test]
async fn the_header_alg_must_fit_the_key() {
    let rsa = TestKey::rsa1();
    let ec = TestKey::es256();
    let verifier = builder(jwks(&[&rsa, &ec]))
        .algorithms([Algorithm::RS256, Algorithm::RS384, Algorithm::ES256])
        .build()
        .unwrap();
    // The JWK says RS256: an RS384 signature by the same key is refused.
    let rs384 = TestKey {
        alg: Algorithm::RS384,
        ..rsa.clone()
    };
    assert_eq!(
        verify(&verifier, &rs384.sign(&firebase_claims(T0))).await,
        "invalid_token"
    );
    // An ES256 header naming the RSA key's kid is refused before any signature check.
    let confused = ec.clone().with_kid("rsa-1");
    assert_eq!(
        verify(&verifier, &confused.sign(&firebase_claims(T0))).await,
        "invalid_token"
    );
    // The right pairs pass.
    assert_eq!(
        verify(&verifier, &rsa.sign(&firebase_claims(T0))).await,
        "ok"
    );
    assert_eq!(
        verify(&verifier, &ec.sign(&firebase_claims(T0))).await,
        "ok"
    );
}

#[tokio::test]
async fn a_wrong_or_unknown_kid_is_refused() {
    let verifier = firebase_like();
    // Signed by rsa-2 but naming rsa-1: the signature does not match rsa-1.
    let wrong = TestKey::rsa2().with_kid("rsa-1");
    assert_eq!(
        verify(&verifier, &wrong.sign(&firebase_claims(T0))).await,
        "invalid_token"
    );
    // A kid the set does not have.
    let unknown = TestKey::rsa1().with_kid("no-such-key");
    assert_eq!(
        verify(&verifier, &unknown.sign(&firebase_claims(T0))).await,
        "invalid_token"
    );
    // No kid at all.
    let header = json!({"alg": "RS256", "typ": "JWT"});
    let token = TestKey::rsa1().sign_with(&header, &firebase_claims(T0));
    assert_eq!(verify(&verifier, &token).await, "invalid_token");
}

#[tokio::test]
async fn keys_carried_by_the_token_are_never_used() {
    let verifier = firebase_like();
    let attacker = TestKey::rsa2().with_kid("attacker");

    // jku: "fetch my keys from here".
    let header = json!({"alg": "RS256", "kid": "attacker", "typ": "JWT",
        "jku": "https://attacker.example/jwks.json"});
    let token = attacker.sign_with(&header, &firebase_claims(T0));
    assert_eq!(verify(&verifier, &token).await, "invalid_token");
    // Even naming the real kid and signed by the real key, a jku is refused.
    let header = json!({"alg": "RS256", "kid": "rsa-1", "jku": "https://attacker.example/"});
    let token = TestKey::rsa1().sign_with(&header, &firebase_claims(T0));
    assert_eq!(verify(&verifier, &token).await, "invalid_token");

    // jwk: "here is my key".
    let embedded = serde_json::to_value(attacker.jwk()).unwrap();
    let header = json!({"alg": "RS256", "kid": "attacker", "typ": "JWT", "jwk": embedded});
    let token = attacker.sign_with(&header, &firebase_claims(T0));
    assert_eq!(verify(&verifier, &token).await, "invalid_token");
    let header = json!({"alg": "RS256", "kid": "rsa-1", "jwk": embedded});
    let token = attacker.sign_with(&header, &firebase_claims(T0));
    assert_eq!(verify(&verifier, &token).await, "invalid_token");

    // x5u and x5c likewise.
    for extra in [
        json!({"x5u": "https://attacker.example/cert"}),
        json!({"x5c": ["MIIB"]}),
    ] {
        let mut header = TestKey::rsa1().header();
        header
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let token = TestKey::rsa1().sign_with(&header, &firebase_claims(T0));
        assert_eq!(verify(&verifier, &token).await, "invalid_token");
    }
}

#[tokio::test]
async fn a_crit_header_is_refused() {
    let key = TestKey::rsa1();
    let verifier = firebase_like();
    let mut header = key.header();
    header["crit"] = json!(["exp"]);
    assert_eq!(
        verify(&verifier, &key.sign_with(&header, &firebase_claims(T0))).await,
        "invalid_token"
    );
}

#[tokio::test]
async fn issuer_and_audience_are_exact_single_strings() {
    let key = TestKey::rsa1();
    let verifier = firebase_like();
    let cases = [
        ("iss", json!([ISSUER])),
        ("iss", json!([ISSUER, "https://other.example"])),
        ("iss", json!("https://securetoken.google.com/other-project")),
        ("iss", json!(format!("{ISSUER}/"))),
        ("aud", json!("other-project")),
        ("aud", json!([PROJECT])),
        ("aud", json!([PROJECT, "other-project"])),
        ("aud", json!(42)),
        ("aud", json!(null)),
    ];
    for (claim, value) in cases {
        let claims = with(firebase_claims(T0), claim, value.clone());
        assert_eq!(
            verify(&verifier, &key.sign(&claims)).await,
            "invalid_token",
            "{claim}: {value}"
        );
    }
}

#[tokio::test]
async fn expiry_follows_the_manual_clock_also_when_cached() {
    let key = TestKey::rsa1();
    let verifier = firebase_like();
    let clock = ManualClock::new(T0);
    let token = key.sign(&firebase_claims(T0)); // exp = T0 + 1 h

    assert_eq!(code(verifier.verify(&token, clock.now()).await), "ok");
    clock.advance(Duration::minutes(59));
    assert_eq!(code(verifier.verify(&token, clock.now()).await), "ok"); // a cache hit
    // The default leeway is 30 s: still valid 29 s after exp, expired at 30 s.
    clock.set(T0 + Duration::hours(1) + Duration::seconds(29));
    assert_eq!(code(verifier.verify(&token, clock.now()).await), "ok");
    clock.advance(Duration::seconds(1));
    assert_eq!(
        code(verifier.verify(&token, clock.now()).await),
        "token_expired"
    );
    // Not cached, expired at first sight.
    let fresh = JwtVerifier::clone(&firebase_like());
    assert_eq!(
        code(fresh.verify(&token, clock.now()).await),
        "token_expired"
    );

    // A token expired long ago whose iss is also wrong is invalid, not expired.
    let claims = with(firebase_claims(T0), "iss", json!("https://other.example"));
    assert_eq!(
        code(fresh.verify(&key.sign(&claims), clock.now()).await),
        "invalid_token"
    );
}

#[tokio::test]
async fn iat_and_auth_time_in_the_future_are_refused() {
    let key = TestKey::rsa1();
    let verifier = firebase_like();
    let soon = (T0 + Duration::minutes(5)).unix_timestamp();
    for claim in ["iat", "auth_time"] {
        let claims = with(firebase_claims(T0), claim, json!(soon));
        assert_eq!(
            verify(&verifier, &key.sign(&claims)).await,
            "invalid_token",
            "{claim}"
        );
        // Within the leeway it passes: clocks drift.
        let claims = with(firebase_claims(T0), claim, json!(T0.unix_timestamp() + 20));
        assert_eq!(verify(&verifier, &key.sign(&claims)).await, "ok", "{claim}");
    }
}

#[tokio::test]
async fn nbf_in_the_future_is_refused_until_it_comes() {
    let key = TestKey::rsa1();
    let verifier = firebase_like();
    let clock = ManualClock::new(T0);
    let nbf = (T0 + Duration::minutes(10)).unix_timestamp();
    let token = key.sign(&with(firebase_claims(T0), "nbf", json!(nbf)));
    assert_eq!(
        code(verifier.verify(&token, clock.now()).await),
        "invalid_token"
    );
    clock.advance(Duration::minutes(10));
    assert_eq!(code(verifier.verify(&token, clock.now()).await), "ok");
    // Cached now; the cache still checks nbf if the clock goes back.
    clock.set(T0);
    assert_eq!(
        code(verifier.verify(&token, clock.now()).await),
        "invalid_token"
    );
}

#[tokio::test]
async fn malformed_shapes_are_refused_before_parsing() {
    let key = TestKey::rsa1();
    let verifier = firebase_like();
    let token = key.sign(&firebase_claims(T0));
    let (header, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();

    // A JWE (five segments), four segments, two.
    let jwe = format!("{header}.{payload}.{signature}.{payload}.{signature}");
    assert_eq!(verify(&verifier, &jwe).await, "invalid_token");
    assert_eq!(
        verify(&verifier, &format!("{token}.{signature}")).await,
        "invalid_token"
    );
    assert_eq!(
        verify(&verifier, &format!("{header}.{payload}")).await,
        "invalid_token"
    );
    // Padding, standard base64, whitespace.
    assert_eq!(
        verify(&verifier, &format!("{token}=")).await,
        "invalid_token"
    );
    assert_eq!(
        verify(&verifier, &format!("{header}.{payload}+.{signature}")).await,
        "invalid_token"
    );
    assert_eq!(
        verify(&verifier, &format!(" {token}")).await,
        "invalid_token"
    );
    // A payload that is not JSON, under a good signature.
    let header_json: Value = key.header();
    let bad = sign_raw_text(&key, &header_json, "not json");
    assert_eq!(verify(&verifier, &bad).await, "invalid_token");
    // The intact token passes.
    assert_eq!(verify(&verifier, &token).await, "ok");
}

fn sign_raw_text(key: &TestKey, header: &Value, payload: &str) -> String {
    use base64::Engine as _;
    let message = format!(
        "{}.{}",
        encode(header),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key.encoding, key.alg).unwrap();
    format!("{message}.{signature}")
}

#[tokio::test]
async fn an_oversized_token_is_refused_even_when_signed() {
    let key = TestKey::rsa1();
    let verifier = firebase_like();
    let claims = with(firebase_claims(T0), "padding", json!("x".repeat(4096)));
    let token = key.sign(&claims);
    assert!(token.len() > keygate_core::credentials::MAX_TOKEN_LEN);
    assert_eq!(verify(&verifier, &token).await, "invalid_token");
    let junk = "a".repeat(10_000);
    assert_eq!(
        verify(&verifier, &format!("{junk}.{junk}.{junk}")).await,
        "invalid_token"
    );
}

#[tokio::test]
async fn each_required_claim_is_required() {
    let key = TestKey::rsa1();
    let verifier = firebase_like();
    for claim in ["exp", "iat", "iss", "aud", "sub"] {
        let claims = without(firebase_claims(T0), claim);
        assert_eq!(
            verify(&verifier, &key.sign(&claims)).await,
            "invalid_token",
            "{claim}"
        );
    }
    for (claim, value) in [
        ("sub", json!("")),
        ("sub", json!(null)),
        ("exp", json!("soon")),
    ] {
        let claims = with(firebase_claims(T0), claim, value);
        assert_eq!(
            verify(&verifier, &key.sign(&claims)).await,
            "invalid_token",
            "{claim}"
        );
    }
}

#[tokio::test]
async fn keygate_issued_tokens_are_never_user_jwts() {
    // An engine that signs its tokens with EdDSA, so its public keys can even be handed
    // to a user-JWT verifier by mistake.
    let issuer = TokenIssuer::ed25519_generate().unwrap();
    let fixture = common::Fixture::with(|builder| builder.token_issuer(issuer.clone()));
    let token = fixture.token(TokenKind::Session, "read:users").await;

    let verifier = JwtVerifier::builder()
        .issuer(ISSUER)
        .audience("keygate")
        .static_keys(issuer.jwks().clone())
        .build()
        .unwrap();
    let err = verifier
        .verify(token.expose(), common::T0)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_token");

    // And the issuer `keygate` cannot be configured at all.
    let err = JwtVerifier::builder()
        .issuer("keygate")
        .audience("keygate")
        .static_keys(issuer.jwks().clone())
        .build()
        .unwrap_err();
    assert!(matches!(err, JwtConfigError::ReservedIssuer), "{err}");

    // HS256 keygate tokens fail even earlier: their alg is never allowed.
    let hs = common::Fixture::new();
    let token = hs.token(TokenKind::Session, "read:users").await;
    assert_eq!(
        code(verifier.verify(token.expose(), common::T0).await),
        "invalid_token"
    );
}

#[tokio::test]
async fn es256_and_eddsa_tokens_verify_with_static_keys() {
    let (ec, ed) = (TestKey::es256(), TestKey::ed25519());
    let verifier = builder(jwks(&[&ec, &ed])).build().unwrap();
    for key in [&ec, &ed] {
        let user = verifier
            .verify(&key.sign(&firebase_claims(T0)), T0)
            .await
            .unwrap();
        assert_eq!(&*user.subject, "user_1", "{:?}", key.alg);
        // A one-bit change in the signature is refused.
        let token = key.sign(&firebase_claims(T0));
        let mut tampered = token.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(
            verify(&verifier, &tampered).await,
            "invalid_token",
            "{:?}",
            key.alg
        );
    }
    // RS256 only: an EdDSA token is refused even though its key is known.
    let rs_only = builder(jwks(&[&ec, &ed, &TestKey::rsa1()]))
        .algorithms([Algorithm::RS256])
        .build()
        .unwrap();
    assert_eq!(
        verify(&rs_only, &ed.sign(&firebase_claims(T0))).await,
        "invalid_token"
    );
}

#[tokio::test]
async fn a_tampered_payload_is_refused_and_nothing_secret_is_in_debug() {
    let key = TestKey::rsa1();
    let verifier = firebase_like();
    let token = key.sign(&firebase_claims(T0));
    let forged_claims = with(firebase_claims(T0), "sub", json!("admin"));
    let (header, rest) = token.split_once('.').unwrap();
    let signature = rest.split_once('.').unwrap().1;
    let forged = format!("{header}.{}.{signature}", encode(&forged_claims));
    assert_eq!(verify(&verifier, &forged).await, "invalid_token");

    assert_eq!(verify(&verifier, &token).await, "ok");
    let shown = format!("{verifier:?}");
    let jsonwebtoken::jwk::AlgorithmParameters::RSA(rsa) = &key.jwk().algorithm else {
        unreachable!()
    };
    assert!(!shown.contains(&rsa.n[..40]), "{shown}");
    assert!(!shown.contains(&token[..40]), "{shown}");
    assert!(
        shown.contains("rsa-1") && shown.contains("cached_tokens: 1"),
        "{shown}"
    );
}

#[test]
fn configuration_errors_say_what_is_missing() {
    let keys = || jwks(&[&TestKey::rsa1()]);
    type Expected = fn(&JwtConfigError) -> bool;
    let cases: Vec<(JwtVerifierBuilder, Expected)> = vec![
        (
            JwtVerifier::builder().audience("a").static_keys(keys()),
            |e| matches!(e, JwtConfigError::MissingIssuer),
        ),
        (
            JwtVerifier::builder().issuer("i").static_keys(keys()),
            |e| matches!(e, JwtConfigError::MissingAudience),
        ),
        (JwtVerifier::builder().issuer("i").audience("a"), |e| {
            matches!(e, JwtConfigError::MissingKeySource)
        }),
        (builder(keys()).leeway(Duration::seconds(61)), |e| {
            matches!(e, JwtConfigError::LeewayOutOfRange)
        }),
        (builder(keys()).leeway(Duration::seconds(-1)), |e| {
            matches!(e, JwtConfigError::LeewayOutOfRange)
        }),
        (builder(keys()).algorithms([]), |e| {
            matches!(e, JwtConfigError::NoAlgorithms)
        }),
        (builder(keys()).tenant_claim("sub"), |e| {
            matches!(e, JwtConfigError::InvalidTenantClaim)
        }),
        (builder(keys()).algorithms([Algorithm::ES256]), |e| {
            matches!(e, JwtConfigError::NoUsableKeys)
        }),
        (builder(JwkSet { keys: vec![] }), |e| {
            matches!(e, JwtConfigError::NoUsableKeys)
        }),
        (
            builder(keys()).jwks_url("https://issuer.example/jwks"),
            |e| matches!(e, JwtConfigError::TwoKeySources),
        ),
        (builder(keys()).issuer(""), |e| {
            matches!(e, JwtConfigError::InvalidIssuer)
        }),
    ];
    for (builder, expected) in cases {
        let err = builder.build().unwrap_err();
        assert!(expected(&err), "{err:?}");
        assert!(!err.to_string().is_empty());
    }
    assert!(
        builder(keys())
            .leeway(Duration::seconds(60))
            .build()
            .is_ok()
    );
}
