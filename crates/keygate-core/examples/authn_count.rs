//! A repeatable instruction-count harness for `Keygate::authenticate`.
//!
//! `authn_count <variant> <requests> [keys]` builds an engine, then runs `requests`
//! `authenticate` calls of one kind on a current-thread runtime. Run it twice under
//! callgrind with two request counts and divide the difference in instructions by the
//! difference in requests: set-up cancels out (see docs/benchmarks.md, "Hot path,
//! instruction counts").
//!
//! Variants: `api_key` (a random key per request out of `keys`, default 1 000 000, in the
//! memory store), `session` (an HS256 session token), `rs256_cached`, `rs256_uncached`,
//! `es256_uncached` (a Firebase-shaped user JWT, static keys), `none` (set-up only).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    // A measuring tool run by hand: a bad argument ends it, and `% len` keeps indexes in bounds.
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use keygate_core::jwt::JwtVerifier;
use keygate_core::key::{KeyKind, NewKey};
use keygate_core::token::{TokenKind, TokenRequest};
use keygate_core::{Access, Environment, Keygate, Pepper, PlatformSecret, ScopeSet};

const ISSUER: &str = "https://securetoken.google.com/bench";

fn request(name: &str, value: &str) -> http::Request<()> {
    http::Request::builder()
        .header(name, value)
        .body(())
        .unwrap()
}

/// A small deterministic generator (xorshift), so runs pick the same keys.
struct Xorshift(u64);
impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn jwt_engine(alg: Algorithm, capacity: usize) -> (Keygate, http::Request<()>) {
    let signing = match alg {
        Algorithm::RS256 => {
            EncodingKey::from_rsa_pem(include_bytes!("../tests/fixtures/jwt/rsa-1.pem")).unwrap()
        }
        _ => EncodingKey::from_ec_pem(include_bytes!("../tests/fixtures/jwt/ec-p256.pem")).unwrap(),
    };
    let mut jwk = Jwk::from_encoding_key(&signing, alg).unwrap();
    jwk.common.key_id = Some("k".into());
    let verifier = JwtVerifier::builder()
        .issuer(ISSUER)
        .audience("bench")
        .static_keys(JwkSet { keys: vec![jwk] })
        .cache_capacity(capacity)
        .build()
        .unwrap();
    let keygate = Keygate::builder()
        .pepper(Pepper::from_bytes(vec![1; 32]).unwrap())
        .jwt_verifier(verifier)
        .build()
        .unwrap();
    // A long-lived token: the harness runs on the system clock.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = serde_json::json!({
        "iss": ISSUER, "aud": "bench", "sub": "user_1",
        "iat": now - 10, "auth_time": now - 10, "exp": now + 36_000, "tenant_id": "acme",
        "firebase": {"sign_in_provider": "password"},
    });
    let mut header = Header::new(alg);
    header.kid = Some("k".into());
    let jwt = jsonwebtoken::encode(&header, &claims, &signing).unwrap();
    (keygate, request("authorization", &format!("Bearer {jwt}")))
}

/// The counted part: run with `--collect-atstart=no --toggle-collect='*measured*'`.
#[inline(never)]
fn measured(run: impl FnOnce()) {
    run();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let variant = args.get(1).map_or("api_key", String::as_str).to_owned();
    let n: usize = args.get(2).map_or(1000, |s| s.parse().unwrap());
    let key_count: usize = args.get(3).map_or(1_000_000, |s| s.parse().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let any = Access::authenticated();
    match variant.as_str() {
        "api_key" | "none" => {
            let keygate = Keygate::builder()
                .pepper(Pepper::from_bytes(vec![1; 32]).unwrap())
                .platform_secret(&PlatformSecret::generate().unwrap())
                .build()
                .unwrap();
            let mut keys = Vec::with_capacity(key_count);
            rt.block_on(async {
                for _ in 0..key_count {
                    let created = keygate
                        .create_key(NewKey {
                            tenant: Some("acme".into()),
                            ..NewKey::new(KeyKind::Secret, Environment::Live)
                        })
                        .await
                        .unwrap();
                    keys.push(created.key.expose().to_owned());
                }
            });
            let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
            let requests: Vec<http::Request<()>> = (0..n)
                .map(|_| request("x-api-key", &keys[rng.next() as usize % keys.len()]))
                .collect();
            drop(keys);
            if variant == "none" {
                return;
            }
            measured(|| {
                rt.block_on(async {
                    for req in &requests {
                        black_box(keygate.authenticate(req, &any).await.unwrap());
                    }
                });
            });
        }
        "session" => {
            let keygate = Keygate::builder()
                .pepper(Pepper::from_bytes(vec![1; 32]).unwrap())
                .platform_secret(&PlatformSecret::generate().unwrap())
                .build()
                .unwrap();
            let lens = Access::scoped("lens:create").unwrap();
            let req = rt.block_on(async {
                let created = keygate
                    .create_key(NewKey {
                        tenant: Some("acme".into()),
                        ..NewKey::new(KeyKind::Secret, Environment::Live)
                    })
                    .await
                    .unwrap();
                let minter = keygate
                    .authenticate(&request("x-api-key", created.key.expose()), &any)
                    .await
                    .unwrap()
                    .into_principal();
                let token = keygate
                    .issue_token(
                        &minter,
                        TokenRequest {
                            scopes: Some(ScopeSet::parse(["lens:create"]).unwrap()),
                            lifetime: Some(time::Duration::minutes(1440)),
                            ..TokenRequest::new(TokenKind::Session)
                        },
                    )
                    .unwrap();
                request("authorization", &format!("Bearer {}", token.expose()))
            });
            measured(|| {
                rt.block_on(async {
                    for _ in 0..n {
                        black_box(keygate.authenticate(&req, &lens).await.unwrap());
                    }
                });
            });
        }
        jwt => {
            let (alg, capacity) = match jwt {
                "rs256_cached" => (Algorithm::RS256, 10_000),
                "rs256_uncached" => (Algorithm::RS256, 0),
                "es256_uncached" => (Algorithm::ES256, 0),
                other => panic!("unknown variant {other}"),
            };
            let (keygate, req) = jwt_engine(alg, capacity);
            // One call outside the count: the cached variant measures hits only.
            rt.block_on(keygate.authenticate(&req, &any)).unwrap();
            measured(|| {
                rt.block_on(async {
                    for _ in 0..n {
                        black_box(keygate.authenticate(&req, &any).await.unwrap());
                    }
                });
            });
        }
    }
}
