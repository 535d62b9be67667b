//! The variants: name, state, credentials, app.

use std::io::Write;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use axum::Router;
use axum::routing::get;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use keygate_core::jwt::JwtVerifier;
use keygate_core::key::{KeyKind, NewKey, RateLimit};
use keygate_core::token::{TokenKind, TokenRequest};
use keygate_core::{Access, Environment, Keygate, MemoryMeter, Pepper, ScopeSet};

use crate::hand;

/// Every variant, in the order of the table.
pub const ALL: &[Variant] = &[
    Variant::BareAxum,
    Variant::TowerHttpBearer,
    Variant::HandHmacMap,
    Variant::KeygateApiKey,
    Variant::KeygateSession,
    Variant::KeygateJwtCached,
    Variant::KeygateJwtUncached,
    Variant::JwtAuthorizer,
    Variant::BareActix,
    Variant::ActixHttpauth,
    Variant::KeygateActix,
    Variant::KeygateRedisMeter,
    Variant::HandEvalsha,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    BareAxum,
    TowerHttpBearer,
    HandHmacMap,
    KeygateApiKey,
    KeygateSession,
    KeygateJwtCached,
    KeygateJwtUncached,
    JwtAuthorizer,
    BareActix,
    ActixHttpauth,
    KeygateActix,
    KeygateRedisMeter,
    HandEvalsha,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Self::BareAxum => "bare-axum",
            Self::TowerHttpBearer => "tower-http-bearer",
            Self::HandHmacMap => "hand-hmac-map",
            Self::KeygateApiKey => "keygate-apikey",
            Self::KeygateSession => "keygate-session",
            Self::KeygateJwtCached => "keygate-jwt-cached",
            Self::KeygateJwtUncached => "keygate-jwt-uncached",
            Self::JwtAuthorizer => "jwt-authorizer",
            Self::BareActix => "bare-actix",
            Self::ActixHttpauth => "actix-httpauth",
            Self::KeygateActix => "keygate-actix",
            Self::KeygateRedisMeter => "keygate-redis-meter",
            Self::HandEvalsha => "hand-evalsha",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        ALL.iter().copied().find(|v| v.name() == name)
    }

    /// Whether it stores API keys (and so takes the key count).
    pub fn stores_keys(self) -> bool {
        matches!(
            self,
            Self::HandHmacMap
                | Self::KeygateApiKey
                | Self::KeygateActix
                | Self::KeygateRedisMeter
                | Self::HandEvalsha
        )
    }

    pub fn needs_redis(self) -> bool {
        matches!(self, Self::KeygateRedisMeter | Self::HandEvalsha)
    }
}

/// What a client presents: one header, a value chosen at random per request.
pub struct Credentials {
    pub header: &'static str,
    pub values: Vec<String>,
}

impl Credentials {
    fn one(header: &'static str, value: String) -> Self {
        Self {
            header,
            values: vec![value],
        }
    }

    /// Header name on the first line, then the values, one a line.
    pub fn write(&self, out: &mut impl Write) {
        writeln!(out, "{}", self.header).unwrap();
        for v in &self.values {
            writeln!(out, "{v}").unwrap();
        }
    }
}

/// The app of a variant.
pub enum App {
    Axum(Router),
    /// jwt-authorizer's row: it is built on axum 0.7.
    Axum07(axum07::Router),
    Actix(ActixApp),
}

pub enum ActixApp {
    Bare,
    Httpauth,
    Keygate(Keygate),
}

/// A built variant, and the memory its stored keys took.
pub struct Built {
    pub app: App,
    pub credentials: Credentials,
    /// (keys, resident bytes added while storing them).
    pub stored: Option<(usize, u64)>,
}

pub const STATIC_TOKEN: &str = "bench-static-token-0123456789abcdef0123456789abcdef";
const JWT_ISSUER: &str = "https://securetoken.google.com/bench";
const JWT_AUDIENCE: &str = "bench";
const RSA_PEM: &[u8] = include_bytes!("../../crates/keygate-core/tests/fixtures/jwt/rsa-1.pem");

async fn ok() -> &'static str {
    "ok"
}

fn pepper() -> Pepper {
    Pepper::from_bytes(vec![1; 32]).unwrap()
}

/// Builds `variant` with `keys` stored keys (for the variants that store keys) and
/// `redis_url` for the Redis rows. The key texts are kept in the credentials.
pub async fn build(variant: Variant, keys: usize, redis_url: &str) -> Built {
    let router = || Router::new().route("/", get(ok));
    let dummy = || Credentials::one("x-api-key", "none".into());
    match variant {
        Variant::BareAxum => Built {
            app: App::Axum(router()),
            credentials: dummy(),
            stored: None,
        },
        Variant::TowerHttpBearer => {
            #[allow(deprecated)]
            let layer =
                tower_http::validate_request::ValidateRequestHeaderLayer::bearer(STATIC_TOKEN);
            Built {
                app: App::Axum(router().layer(layer)),
                credentials: Credentials::one("authorization", format!("Bearer {STATIC_TOKEN}")),
                stored: None,
            }
        }
        Variant::HandHmacMap | Variant::HandEvalsha => {
            let before = crate::rss_bytes();
            let mut text = Vec::new();
            let map = hand::HmacMap::generate(keys, &mut text);
            let stored = Some((keys, crate::rss_bytes().saturating_sub(before)));
            let values = String::from_utf8(text)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect();
            let credentials = Credentials {
                header: "x-api-key",
                values,
            };
            let app = if variant == Variant::HandHmacMap {
                router().layer(axum::middleware::from_fn_with_state(
                    Arc::new(map),
                    hand::hmac_map,
                ))
            } else {
                let client = redis::Client::open(redis_url).unwrap();
                let redis = redis::aio::ConnectionManager::new(client).await.unwrap();
                let state = hand::Evalsha {
                    map,
                    redis,
                    script: redis::Script::new(hand::GCRA_LUA),
                };
                router().layer(axum::middleware::from_fn_with_state(
                    Arc::new(state),
                    hand::evalsha,
                ))
            };
            Built {
                app: App::Axum(app),
                credentials,
                stored,
            }
        }
        Variant::KeygateApiKey | Variant::KeygateActix | Variant::KeygateRedisMeter => {
            let mut builder = Keygate::builder().pepper(pepper());
            let rate_limit = if variant == Variant::KeygateRedisMeter {
                let connection = keygate_redis::RedisConnection::connect(
                    keygate_redis::RedisConfig::new(redis_url),
                )
                .await
                .unwrap();
                builder = builder.meter(connection.meter(MemoryMeter::new()));
                // 1 000 000 a second per key: never refused, always counted (one script call).
                Some(RateLimit::new(1_000_000, 1).unwrap())
            } else {
                None
            };
            let keygate = builder.build().unwrap();
            let before = crate::rss_bytes();
            let mut values = Vec::with_capacity(keys);
            let mut key_bytes = 0u64;
            for _ in 0..keys {
                let created = keygate
                    .create_key(NewKey {
                        tenant: Some("acme".into()),
                        rate_limit,
                        ..NewKey::new(KeyKind::Secret, Environment::Live)
                    })
                    .await
                    .unwrap();
                let text = created.key.expose().to_owned();
                key_bytes += text.capacity() as u64 + 24;
                values.push(text);
            }
            // The key texts are the client's, not the store's: not counted.
            let rss = crate::rss_bytes().saturating_sub(before);
            let stored = Some((keys, rss.saturating_sub(key_bytes)));
            let credentials = Credentials {
                header: "x-api-key",
                values,
            };
            let app = if variant == Variant::KeygateActix {
                App::Actix(ActixApp::Keygate(keygate))
            } else {
                App::Axum(router().route_layer(keygate_axum::KeygateLayer::new(
                    &keygate,
                    Access::authenticated(),
                )))
            };
            Built {
                app,
                credentials,
                stored,
            }
        }
        Variant::KeygateSession => {
            let keygate = Keygate::builder().pepper(pepper()).build().unwrap();
            let created = keygate
                .create_key(NewKey {
                    tenant: Some("acme".into()),
                    ..NewKey::new(KeyKind::Secret, Environment::Live)
                })
                .await
                .unwrap();
            let request = http::Request::builder()
                .header("x-api-key", created.key.expose())
                .body(())
                .unwrap();
            let minter = keygate
                .authenticate(&request, &Access::authenticated())
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
            let access = Access::scoped("lens:create").unwrap();
            Built {
                app: App::Axum(
                    router().route_layer(keygate_axum::KeygateLayer::new(&keygate, access)),
                ),
                credentials: Credentials::one(
                    "authorization",
                    format!("Bearer {}", token.expose()),
                ),
                stored: None,
            }
        }
        Variant::KeygateJwtCached | Variant::KeygateJwtUncached | Variant::JwtAuthorizer => {
            let (jwt, jwks) = user_jwt();
            let credentials = Credentials::one("authorization", format!("Bearer {jwt}"));
            let app = if variant == Variant::JwtAuthorizer {
                App::Axum07(jwt_authorizer_router(&jwks).await)
            } else {
                let capacity = if variant == Variant::KeygateJwtCached {
                    10_000
                } else {
                    0
                };
                let verifier = JwtVerifier::builder()
                    .issuer(JWT_ISSUER)
                    .audience(JWT_AUDIENCE)
                    .static_keys(jwks)
                    .cache_capacity(capacity)
                    .build()
                    .unwrap();
                let keygate = Keygate::builder()
                    .pepper(pepper())
                    .jwt_verifier(verifier)
                    .build()
                    .unwrap();
                App::Axum(router().route_layer(keygate_axum::KeygateLayer::new(
                    &keygate,
                    Access::authenticated(),
                )))
            };
            Built {
                app,
                credentials,
                stored: None,
            }
        }
        Variant::BareActix => Built {
            app: App::Actix(ActixApp::Bare),
            credentials: dummy(),
            stored: None,
        },
        Variant::ActixHttpauth => Built {
            app: App::Actix(ActixApp::Httpauth),
            credentials: Credentials::one("authorization", format!("Bearer {STATIC_TOKEN}")),
            stored: None,
        },
    }
}

/// A Firebase-shaped RS256 user JWT (2048-bit key, 10 hours to live) and the key set
/// that verifies it.
fn user_jwt() -> (String, JwkSet) {
    let signing = EncodingKey::from_rsa_pem(RSA_PEM).unwrap();
    let mut jwk = Jwk::from_encoding_key(&signing, Algorithm::RS256).unwrap();
    jwk.common.key_id = Some("k".into());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = serde_json::json!({
        "iss": JWT_ISSUER, "aud": JWT_AUDIENCE, "sub": "user_1",
        "iat": now - 10, "auth_time": now - 10, "exp": now + 36_000, "tenant_id": "acme",
        "firebase": {"sign_in_provider": "password"},
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("k".into());
    let jwt = jsonwebtoken::encode(&header, &claims, &signing).unwrap();
    (jwt, JwkSet { keys: vec![jwk] })
}

/// jwt-authorizer (on axum 0.7, the version it is built for) with the same key, issuer
/// and audience.
async fn jwt_authorizer_router(jwks: &JwkSet) -> axum07::Router {
    use jwt_authorizer::{IntoLayer, JwtAuthorizer, RegisteredClaims, Validation};
    let text = serde_json::to_string(jwks).unwrap();
    let authorizer = JwtAuthorizer::<RegisteredClaims>::from_jwks_text(&text)
        .validation(Validation::new().iss(&[JWT_ISSUER]).aud(&[JWT_AUDIENCE]))
        .build()
        .await
        .unwrap();
    axum07::Router::new()
        .route("/", axum07::routing::get(ok))
        .layer(authorizer.into_layer())
}

/// The bare actix app.
pub fn actix_bare() -> actix_web::App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    actix_web::App::new().route("/", actix_web::web::get().to(|| async { "ok" }))
}

async fn validate(
    req: ServiceRequest,
    credentials: actix_web_httpauth::extractors::bearer::BearerAuth,
) -> Result<ServiceRequest, (actix_web::Error, ServiceRequest)> {
    if credentials.token() == STATIC_TOKEN {
        Ok(req)
    } else {
        Err((actix_web::error::ErrorUnauthorized("unauthorized"), req))
    }
}

/// actix-web-httpauth's bearer middleware with a static token.
pub fn actix_httpauth() -> actix_web::App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    actix_web::App::new()
        .wrap(actix_web_httpauth::middleware::HttpAuthentication::bearer(
            validate,
        ))
        .route("/", actix_web::web::get().to(|| async { "ok" }))
}

/// keygate's actix middleware, any authenticated caller.
pub fn actix_keygate(
    keygate: Keygate,
) -> actix_web::App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    actix_web::App::new()
        .wrap(keygate_actix::KeygateMiddleware::new(
            &keygate,
            Access::authenticated(),
        ))
        .route("/", actix_web::web::get().to(|| async { "ok" }))
}
