//! A platform scenario's world: the platform's app on a fresh database, started the way
//! its binaries start it but on a manual clock, served by one adapter on a real listener,
//! and a real HTTP client.

use std::any::Any;
use std::net::TcpListener;

use keygate_core::{ManualClock, PlatformSecret};
use keygate_sqlx::setup::Start;
use platform::App;
use serde_json::{Value, json};

use super::users::Users;
use super::{Database, PlatformAdapter};
use crate::harness::{Call, Reply, T0};

/// `/api/v1/admin/keys`.
pub const ADMIN_KEYS: &str = "/api/v1/admin/keys";
/// `/api/v1/admin/catalogues`.
pub const CATALOGUES: &str = "/api/v1/admin/catalogues";
/// `/api/v1/token`.
pub const TOKEN: &str = "/api/v1/token";

/// The platform's app, its clock and admin secret, served over HTTP.
pub struct Platform {
    /// The app the adapter serves (its store, to close it).
    pub app: App,
    /// The engine's and the store's clock, starting at [`T0`]; scenarios advance it
    /// instead of sleeping.
    pub clock: ManualClock,
    /// The admin secret the first start generated (only its digest is stored).
    pub secret: PlatformSecret,
    /// The identity provider whose user JWTs the platform trusts.
    pub users: Users,
    base: String,
    client: reqwest::Client,
    // Dropped in this order: the server, then the database's clean-up.
    _server: Box<dyn Any + Send>,
    _database: Box<dyn Any + Send>,
}

impl Platform {
    /// Starts the platform with adapter `A` on a fresh database `D`, as `platform::start`
    /// does: `Setup::open(Start::OpenOrCreate)` (a first start, which generates the admin
    /// secret), the engine from `Opened::keygate_builder`, `App::new` on the opened store.
    /// `None` when `D` is not available here (the scenario is then skipped).
    pub async fn start<A: PlatformAdapter, D: Database>() -> Option<Self> {
        Self::start_with::<A, D>(|app| app).await
    }

    /// Like [`start`](Self::start), with the app adjusted before it is served (given a
    /// proxy to an upstream, say: `|app| app.with_proxy(…)`).
    pub async fn start_with<A: PlatformAdapter, D: Database>(
        configure: impl FnOnce(App) -> App,
    ) -> Option<Self> {
        Self::start_configured::<A, D>(|engine| engine, configure).await
    }

    /// Like [`start`](Self::start), with the engine's builder adjusted (as the binaries do
    /// for `KEYGATE_REQUIRE_HTTPS` and `KEYGATE_TRUSTED_PROXIES`, say).
    pub async fn start_with_engine<A: PlatformAdapter, D: Database>(
        engine: impl FnOnce(keygate_core::KeygateBuilder) -> keygate_core::KeygateBuilder,
    ) -> Option<Self> {
        Self::start_configured::<A, D>(engine, |app| app).await
    }

    async fn start_configured<A: PlatformAdapter, D: Database>(
        engine: impl FnOnce(keygate_core::KeygateBuilder) -> keygate_core::KeygateBuilder,
        configure: impl FnOnce(App) -> App,
    ) -> Option<Self> {
        let clock = ManualClock::new(T0);
        let (setup, database) = D::setup().await?;
        let opened = setup
            .clock(clock.clone())
            .open(Start::OpenOrCreate)
            .await
            .expect("the deployment opens");
        let secret = opened
            .new_admin_secret()
            .expect("a first start generates the admin secret");
        let secret = PlatformSecret::new(secret.expose()).expect("a platform secret");
        let users = Users::new(7, clock.clone());
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        // The OAuth server as `platform::start` builds it: its issuer is the base URL
        // (no KEYGATE_ISSUER_URL), on the opened store, on the manual clock.
        let oauth = platform::oauth::server(
            &base,
            Some(opened.store()),
            Some(std::sync::Arc::new(clock.clone())),
        )
        .expect("the OAuth server");
        let keygate = engine(
            opened
                .keygate_builder()
                .expect("the engine's builder")
                .credential_sources(platform::realtime::credential_sources())
                .jwt_verifier(users.verifier())
                .oauth_tokens(oauth.access_tokens()),
        )
        .build()
        .expect("the engine");
        let app = configure(
            App::new(keygate, opened.store().clone())
                .await
                .expect("the app")
                .with_oauth(oauth),
        );
        let server = A::serve(&app, listener);
        Some(Self {
            app,
            clock,
            secret,
            users,
            base,
            client: crate::harness::http_client(),
            _server: server,
            _database: database,
        })
    }

    /// The base URL (`http://host:port`): the OAuth issuer.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request to `path` from a client that does not follow redirects (an OAuth
    /// client reads the authorization endpoint's `Location` itself).
    pub fn request_no_redirect(&self, method: http::Method, path: &str) -> Call {
        // Built per request: a client kept across tests would hold connections of a
        // test runtime that has ended.
        let client = keygate_core::http::https_client_builder()
            .expect("keygate's HTTP client builder")
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        Call::new(client.request(method, format!("{}{path}", self.base)))
    }

    /// The address it listens on (`host:port`), for raw requests.
    pub fn authority(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// A request to `path`.
    pub fn request(&self, method: http::Method, path: &str) -> Call {
        Call::new(self.client.request(method, format!("{}{path}", self.base)))
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Call {
        self.request(http::Method::GET, path)
    }

    /// `POST path`.
    pub fn post(&self, path: &str) -> Call {
        self.request(http::Method::POST, path)
    }

    /// `PUT path`.
    pub fn put(&self, path: &str) -> Call {
        self.request(http::Method::PUT, path)
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Call {
        self.request(http::Method::DELETE, path)
    }

    /// A request with the admin secret in `x-client-secret`.
    pub fn admin(&self, method: http::Method, path: &str) -> Call {
        self.request(method, path)
            .header("x-client-secret", self.secret.expose())
    }

    /// Creates a key through `POST /api/v1/admin/keys` with the admin secret; the 201's
    /// JSON (with `key`).
    pub async fn create_key(&self, body: Value) -> Value {
        let reply = self
            .admin(http::Method::POST, ADMIN_KEYS)
            .json(&body)
            .send()
            .await;
        assert_eq!(reply.status, 201, "creating {body}: {}", reply.body);
        reply.json()
    }

    /// A tenant's `sk_live_` key, created over HTTP; its JSON.
    pub async fn secret_key(&self, tenant: &str) -> Value {
        self.create_key(json!({"kind": "secret", "environment": "live", "tenant": tenant}))
            .await
    }

    /// `GET /api/v1/admin/keys/{id}` with the admin secret; the key's JSON.
    pub async fn show_key(&self, id: &str) -> Value {
        let reply = self
            .admin(http::Method::GET, &format!("{ADMIN_KEYS}/{id}"))
            .send()
            .await;
        reply.assert_ok();
        reply.json()
    }

    /// `POST /api/v1/token` with the admin secret and `body`; the reply.
    pub async fn mint(&self, body: Value) -> Reply {
        self.admin(http::Method::POST, TOKEN)
            .json(&body)
            .send()
            .await
    }

    /// A token minted by the admin secret for `resource:action`, of `kind`
    /// (`ONE_TIME` or `SESSION`).
    pub async fn token(&self, kind: &str, resource: &str, action: &str) -> String {
        let reply = self
            .mint(json!({"actionResource": resource, "actionType": action, "type": kind}))
            .await;
        reply.assert_ok();
        reply.json()["token"].as_str().expect("a token").to_owned()
    }
}

/// The text of a JSON string field (panics with the value when absent).
pub fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {value}"))
}
