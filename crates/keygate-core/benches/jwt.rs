//! User-JWT verification: a Firebase-shaped RS256 token (and EdDSA, ES256) verified
//! from scratch (cache off) against the same token served from the verified-token cache.
//! Read the ratio: the cache is what makes a user's second request cheap.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use keygate_core::jwt::JwtVerifier;

const ISSUER: &str = "https://securetoken.google.com/bench";

fn key(alg: Algorithm) -> (EncodingKey, Jwk) {
    let encoding = match alg {
        Algorithm::RS256 => {
            EncodingKey::from_rsa_pem(include_bytes!("../tests/fixtures/jwt/rsa-1.pem")).unwrap()
        }
        Algorithm::ES256 => {
            EncodingKey::from_ec_pem(include_bytes!("../tests/fixtures/jwt/ec-p256.pem")).unwrap()
        }
        _ => EncodingKey::from_ed_pem(include_bytes!("../tests/fixtures/jwt/ed25519.pem")).unwrap(),
    };
    let mut jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
    jwk.common.key_id = Some("k".into());
    (encoding, jwk)
}

fn user_jwt(c: &mut Criterion) {
    let now = time::OffsetDateTime::now_utc();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("user_jwt");
    for (name, alg) in [
        ("rs256", Algorithm::RS256),
        ("es256", Algorithm::ES256),
        ("eddsa", Algorithm::EdDSA),
    ] {
        let (encoding, jwk) = key(alg);
        let claims = serde_json::json!({
            "iss": ISSUER, "aud": "bench", "sub": "user_1", "user_id": "user_1",
            "iat": now.unix_timestamp(), "exp": now.unix_timestamp() + 3600,
            "auth_time": now.unix_timestamp(),
            "firebase": {"sign_in_provider": "password", "tenant": "acme"},
        });
        let mut header = Header::new(alg);
        header.kid = Some("k".into());
        let token = jsonwebtoken::encode(&header, &claims, &encoding).unwrap();
        let build = |capacity| {
            JwtVerifier::builder()
                .issuer(ISSUER)
                .audience("bench")
                .static_keys(JwkSet {
                    keys: vec![jwk.clone()],
                })
                .cache_capacity(capacity)
                .build()
                .unwrap()
        };
        let (uncached, cached) = (build(0), build(1000));
        rt.block_on(cached.verify(&token, now)).unwrap();
        group.bench_function(format!("{name}_uncached"), |b| {
            b.iter(|| {
                black_box(
                    rt.block_on(uncached.verify(black_box(&token), now))
                        .unwrap(),
                )
            })
        });
        group.bench_function(format!("{name}_cached"), |b| {
            b.iter(|| black_box(rt.block_on(cached.verify(black_box(&token), now)).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, user_jwt);
criterion_main!(benches);
