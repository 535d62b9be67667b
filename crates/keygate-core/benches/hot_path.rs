//! The request hot path: key parsing and hashing, token verification, and whole
//! `authenticate` calls on the in-memory stores.
//!
//! Each group carries its own baseline measured in the same run, so results are read as
//! ratios (the machines these run on are noisy). `docs/benchmarks.md` records a run.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use keygate_core::key::{ApiKey, KeyHasher, KeyKind, KeyPrefix, NewKey, ParsedKey, RateLimit};
use keygate_core::token::{TokenIssuer, TokenKind, TokenRequest, TokenSecret};
use keygate_core::{
    Access, Environment, Keygate, Pepper, PlatformSecret, ScopeSet, credentials::Credentials,
};
use sha2::Sha256;

fn key_hashing(c: &mut Criterion) {
    let pepper_bytes = vec![7u8; 32];
    let pepper = Pepper::from_bytes(pepper_bytes.clone()).unwrap();
    let hasher = KeyHasher::new(&pepper);
    let key = ApiKey::generate(&KeyPrefix::standard(KeyKind::Secret, Environment::Live).unwrap())
        .unwrap();
    let text = key.expose().to_owned();

    let mut group = c.benchmark_group("key");
    // Baseline: HMAC keyed from scratch on every call.
    group.bench_function("hmac_rekeyed_per_call", |b| {
        b.iter(|| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(black_box(&pepper_bytes)).unwrap();
            mac.update(black_box(text.as_bytes()));
            black_box(mac.finalize())
        })
    });
    group.bench_function("hmac_prekeyed", |b| {
        b.iter(|| black_box(hasher.digest(black_box(&text))))
    });
    group.bench_function("parse_checksum", |b| {
        b.iter(|| black_box(ParsedKey::parse(black_box(&text)).unwrap()))
    });
    group.finish();
}

fn token_verification(c: &mut Criterion) {
    let now = time::OffsetDateTime::now_utc();
    let hs = TokenIssuer::hs256(&TokenSecret::new(vec![9; 32]).unwrap());
    let ed = TokenIssuer::ed25519_generate().unwrap();
    let mut group = c.benchmark_group("token_verify");
    for (name, issuer) in [("hs256", hs), ("eddsa", ed)] {
        let keygate = Keygate::builder()
            .pepper(Pepper::from_bytes(vec![1; 32]).unwrap())
            .platform_secret(&PlatformSecret::generate().unwrap())
            .token_issuer(issuer.clone())
            .build()
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let minter = rt
            .block_on(minting_principal(&keygate))
            .expect("a principal that may mint");
        let token = keygate
            .issue_token(
                &minter,
                TokenRequest {
                    scopes: Some(ScopeSet::parse(["lens:create"]).unwrap()),
                    ..TokenRequest::new(TokenKind::Session)
                },
            )
            .unwrap();
        let text = token.expose().to_owned();
        group.bench_function(name, |b| {
            b.iter(|| black_box(issuer.verify(black_box(&text), now).unwrap()))
        });
    }
    group.finish();
}

async fn minting_principal(keygate: &Keygate) -> Option<keygate_core::Principal> {
    // The bench only needs a principal allowed to mint: an sk_ key of a tenant.
    let created = keygate
        .create_key(NewKey::new(KeyKind::Secret, Environment::Live))
        .await
        .ok()?;
    let request = http::Request::builder()
        .header("x-api-key", created.key.expose())
        .body(())
        .ok()?;
    Some(
        keygate
            .authenticate(&request, &Access::authenticated())
            .await
            .ok()?
            .into_principal(),
    )
}

fn authenticate(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let secret = PlatformSecret::generate().unwrap();
    let keygate = Keygate::builder()
        .pepper(Pepper::from_bytes(vec![1; 32]).unwrap())
        .platform_secret(&secret)
        .build()
        .unwrap();
    let plain = rt
        .block_on(keygate.create_key(NewKey {
            tenant: Some("acme".into()),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        }))
        .unwrap();
    let limited = rt
        .block_on(keygate.create_key(NewKey {
            tenant: Some("acme".into()),
            rate_limit: Some(RateLimit::new(1_000_000, 1).unwrap()),
            credits: Some(u64::MAX >> 2),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        }))
        .unwrap();
    let minter = rt.block_on(minting_principal(&keygate)).unwrap();
    let session = keygate
        .issue_token(
            &minter,
            TokenRequest {
                scopes: Some(ScopeSet::parse(["lens:create"]).unwrap()),
                lifetime: Some(time::Duration::minutes(1440)),
                ..TokenRequest::new(TokenKind::Session)
            },
        )
        .unwrap();

    let request = |name: &str, value: String| {
        http::Request::builder()
            .header(name, value)
            .body(())
            .unwrap()
    };
    let api_key = request("x-api-key", plain.key.expose().to_owned());
    let metered = request("x-api-key", limited.key.expose().to_owned());
    let token = request("authorization", format!("Bearer {}", session.expose()));
    let admin = request("x-client-secret", secret.expose().to_owned());
    let any = Access::authenticated();
    let costly = Access::authenticated().cost(1);
    let lens = Access::scoped("lens:create").unwrap();

    let mut group = c.benchmark_group("authenticate");
    // Baseline: reading the credential headers alone.
    group.bench_function("parse_headers_only", |b| {
        b.iter(|| black_box(Credentials::parse(black_box(&api_key)).unwrap()))
    });
    group.bench_function("api_key", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(keygate.authenticate(&api_key, &any).await.unwrap()) })
    });
    group.bench_function("api_key_rate_limit_and_credits", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(keygate.authenticate(&metered, &costly).await.unwrap()) })
    });
    group.bench_function("session_token_hs256", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(keygate.authenticate(&token, &lens).await.unwrap()) })
    });
    group.bench_function("platform_secret_admin", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                keygate
                    .authenticate(&admin, &Access::admin())
                    .await
                    .unwrap(),
            )
        })
    });
    group.finish();
}

/// A Firebase-shaped RS256 user JWT through `authenticate`: verified once, then from the
/// verified-token cache; against the same request with the cache off (a signature check
/// every time), and a publishable key paired with the JWT.
fn user_jwts(c: &mut Criterion) {
    use jsonwebtoken::jwk::{Jwk, JwkSet};
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use keygate_core::jwt::JwtVerifier;

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let signing =
        EncodingKey::from_rsa_pem(include_bytes!("../tests/fixtures/jwt/rsa-1.pem")).unwrap();
    let mut jwk = Jwk::from_encoding_key(&signing, Algorithm::RS256).unwrap();
    jwk.common.key_id = Some("rsa-1".into());
    let keys = JwkSet { keys: vec![jwk] };
    let verifier = |capacity: usize| {
        JwtVerifier::builder()
            .issuer("https://securetoken.google.com/bench")
            .audience("bench")
            .static_keys(keys.clone())
            .cache_capacity(capacity)
            .build()
            .unwrap()
    };
    let engine = |capacity: usize| {
        Keygate::builder()
            .pepper(Pepper::from_bytes(vec![1; 32]).unwrap())
            .jwt_verifier(verifier(capacity))
            .build()
            .unwrap()
    };
    let cached = engine(10_000);
    let uncached = engine(0);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = serde_json::json!({
        "iss": "https://securetoken.google.com/bench", "aud": "bench", "sub": "user_1",
        "iat": now, "auth_time": now, "exp": now + 3600, "tenant_id": "acme",
        "firebase": {"sign_in_provider": "password"},
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-1".into());
    let jwt = jsonwebtoken::encode(&header, &claims, &signing).unwrap();
    let pk = rt
        .block_on(cached.create_key(NewKey {
            tenant: Some("acme".into()),
            ..NewKey::new(KeyKind::Publishable, Environment::Live)
        }))
        .unwrap();
    let user = http::Request::builder()
        .header("authorization", format!("Bearer {jwt}"))
        .body(())
        .unwrap();
    let pair = http::Request::builder()
        .header("authorization", format!("Bearer {jwt}"))
        .header("x-api-key", pk.key.expose())
        .body(())
        .unwrap();
    let any = Access::authenticated();

    let mut group = c.benchmark_group("user_jwt");
    // Baseline: the signature checked on every request.
    group.bench_function("rs256_uncached", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(uncached.authenticate(&user, &any).await.unwrap()) })
    });
    group.bench_function("rs256_cached", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(cached.authenticate(&user, &any).await.unwrap()) })
    });
    group.bench_function("publishable_key_with_jwt_cached", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(cached.authenticate(&pair, &any).await.unwrap()) })
    });
    group.finish();
}

criterion_group!(
    benches,
    key_hashing,
    token_verification,
    authenticate,
    user_jwts
);
criterion_main!(benches);
