//! A test's world: an engine on a manual clock, the adapter serving the test app on a
//! real listener, and a real HTTP client.

use std::any::Any;
use std::net::TcpListener;

use keygate_core::key::{KeyKind, NewKey};
use keygate_core::token::{TokenKind, TokenRequest};
use keygate_core::{
    Access, CreatedKey, Environment, Keygate, ManualClock, Pepper, PlatformSecret, Principal,
    ScopeSet,
};
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;

use crate::adapters::Adapter;
use crate::stores::Store as _;

/// The manual clock's starting time.
pub const T0: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

/// An engine, its clock and secret, and an adapter serving the test app over HTTP.
pub struct Harness {
    /// The engine the adapter serves.
    pub keygate: Keygate,
    /// The engine's clock; scenarios advance it instead of sleeping.
    pub clock: ManualClock,
    /// The platform secret.
    pub secret: PlatformSecret,
    base: String,
    client: reqwest::Client,
    // Dropped in this order: the server, then the store's clean-up.
    _server: Box<dyn Any + Send>,
    _store: Box<dyn Any + Send>,
}

impl Harness {
    /// Starts adapter `A` on `127.0.0.1:0` with a fresh engine on its store; `None` when
    /// the store is not available here (the scenario is then skipped, with a note).
    pub async fn start<A: Adapter>() -> Option<Self> {
        Self::start_with::<A>(|builder| builder).await
    }

    /// Like [`start`](Self::start), with the engine's builder adjusted (another store, say).
    pub async fn start_with<A: Adapter>(
        configure: impl FnOnce(keygate_core::KeygateBuilder) -> keygate_core::KeygateBuilder,
    ) -> Option<Self> {
        let clock = ManualClock::new(T0);
        let secret = PlatformSecret::generate().expect("random secret");
        let builder = Keygate::builder()
            .pepper(Pepper::from_bytes(vec![7; 32]).expect("pepper"))
            .platform_secret(&secret)
            .clock(clock.clone());
        let (builder, store) = A::Store::install(builder, clock.clone()).await?;
        let keygate = configure(builder).build().expect("engine");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let server = A::serve(keygate.clone(), listener);
        Some(Self {
            keygate,
            clock,
            secret,
            base,
            client: http_client(),
            _server: server,
            _store: store,
        })
    }

    /// A request to `path` on the adapter.
    pub fn request(&self, method: http::Method, path: &str) -> Call {
        Call {
            builder: self.client.request(method, format!("{}{path}", self.base)),
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Call {
        self.request(http::Method::GET, path)
    }

    /// `POST path`.
    pub fn post(&self, path: &str) -> Call {
        self.request(http::Method::POST, path)
    }

    /// Creates a key through the engine.
    pub async fn key(&self, new: NewKey) -> CreatedKey {
        self.keygate.create_key(new).await.expect("create key")
    }

    /// A tenant's `sk_` key.
    pub async fn secret_key(&self, tenant: &str) -> CreatedKey {
        self.key(NewKey {
            tenant: Some(tenant.into()),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await
    }

    /// The platform operator's principal, for minting.
    pub async fn operator(&self) -> Principal {
        let request = http::Request::get("/")
            .header("x-client-secret", self.secret.expose())
            .body(())
            .expect("request");
        self.keygate
            .authenticate(&request, &Access::admin())
            .await
            .expect("operator")
            .into_principal()
    }

    /// A token of `kind` with `scope`, minted by the operator.
    pub async fn token(&self, kind: TokenKind, scope: &str) -> String {
        let operator = self.operator().await;
        let token = self
            .keygate
            .issue_token(
                &operator,
                TokenRequest {
                    scopes: Some(ScopeSet::parse([scope]).expect("scope")),
                    ..TokenRequest::new(kind)
                },
            )
            .expect("token");
        token.expose().to_owned()
    }
}

/// A plain-HTTP client, built as keygate builds its own (`keygate_core::http`: TLS
/// configured with its crypto provider, so nothing depends on a process-wide one, which
/// reqwest's `rustls-no-provider` would otherwise need).
pub fn http_client() -> reqwest::Client {
    keygate_core::http::https_client_builder()
        .expect("keygate's HTTP client builder")
        .build()
        .expect("an HTTP client")
}

/// A request being built.
pub struct Call {
    builder: reqwest::RequestBuilder,
}

impl Call {
    /// A request from a client's builder.
    pub(crate) fn new(builder: reqwest::RequestBuilder) -> Self {
        Self { builder }
    }

    /// A JSON body, with `Content-Type: application/json`.
    pub fn json(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(body.to_string())
    }

    /// A body as it is (no `Content-Type` added).
    pub fn body(self, body: impl Into<reqwest::Body>) -> Self {
        Self {
            builder: self.builder.body(body),
        }
    }

    /// Adds a header (a second call with the same name adds a second value).
    pub fn header(self, name: &str, value: &str) -> Self {
        Self {
            builder: self.builder.header(name, value),
        }
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// Sends it.
    pub async fn send(self) -> Reply {
        let response = self.builder.send().await.expect("the adapter answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.expect("a body");
        Reply {
            status,
            headers,
            body,
        }
    }
}

/// An answer.
#[derive(Debug)]
pub struct Reply {
    /// The status.
    pub status: u16,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body text.
    pub body: String,
}

impl Reply {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The problem document's `code`.
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }

    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// A header's value as an integer.
    pub fn number(&self, name: &str) -> Option<u64> {
        self.header(name).and_then(|value| value.parse().ok())
    }

    /// Asserts the status and the problem `code`, with the body in the message.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "body: {}",
            self.body
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
    }

    /// Asserts a 200, with the body in the message.
    pub fn assert_ok(&self) {
        assert_eq!(self.status, 200, "body: {}", self.body);
    }
}
