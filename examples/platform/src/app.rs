//! The application: the engine, the store and the catalogues, and the one function that
//! answers a route. Adapters extract the principal with their framework's tools, read the
//! body, and call [`App::handle`].

use std::sync::Arc;

use keygate_core::{Keygate, Principal, StoreError};
use keygate_oauth::AuthorizationServer;
use keygate_redis::RedisConnection;
use keygate_sqlx::SqlStore;
use keygate_tower::proxy::Proxy;

use crate::catalogues::Catalogues;
use crate::handlers;
use crate::reply::Reply;
use crate::routes::Endpoint;

/// The platform's state. Cheap to clone (one `Arc`).
#[derive(Debug, Clone)]
pub struct App {
    inner: Arc<Inner>,
    /// `ANY /api/proxy/{*path}`'s service (cheap to clone).
    proxy: Proxy,
    /// Redis, when the meter's counters are there (`/readyz` asks it too).
    redis: Option<RedisConnection>,
    /// The OAuth authorization server; without one the OAuth routes answer 404.
    oauth: Option<AuthorizationServer>,
}

#[derive(Debug)]
struct Inner {
    keygate: Keygate,
    store: SqlStore,
    catalogues: Catalogues,
}

/// One request, as a handler sees it: who is authenticated (from keygate's middleware),
/// the path, the query and the body, already read and bounded.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The authenticated caller; `None` on public routes.
    pub principal: Option<&'a Principal>,
    /// The request path.
    pub path: &'a str,
    /// The query string, if any.
    pub query: Option<&'a str>,
    /// The body (at most [`BODY_LIMIT`](crate::body::BODY_LIMIT) bytes).
    pub body: &'a [u8],
    /// The request headers (the OAuth endpoints read `Authorization` and `Content-Type`
    /// themselves: they are not behind keygate's middleware).
    pub headers: &'a http::HeaderMap,
    /// The connection the request came on (the TCP peer and the scheme), when the server
    /// says: the OAuth endpoints resolve their client from it with the engine's trusted
    /// proxies ([`Keygate::client`]), and refuse plain HTTP as the engine does
    /// ([`Keygate::check_https`]).
    pub connection: Option<keygate_core::credentials::Connection>,
}

impl App {
    /// The app on `keygate`, with catalogues kept in `store`'s database.
    pub async fn new(keygate: Keygate, store: SqlStore) -> Result<Self, StoreError> {
        let catalogues = Catalogues::open(&store).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                keygate,
                store,
                catalogues,
            }),
            proxy: Proxy::unconfigured(),
            redis: None,
            oauth: None,
        })
    }

    /// The app with `proxy` serving `ANY /api/proxy/{*path}` (its prefix should be
    /// [`PROXY_PREFIX`](crate::routes::PROXY_PREFIX)). Without one, the proxy answers 502
    /// `upstream_unavailable`.
    pub fn with_proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = proxy;
        self
    }

    /// The app with its meter's Redis, which `/readyz` then checks too.
    pub fn with_redis(mut self, redis: Option<RedisConnection>) -> Self {
        self.redis = redis;
        self
    }

    /// The app with `server` answering the OAuth routes. The engine must verify its
    /// access tokens ([`AuthorizationServer::access_tokens`]).
    pub fn with_oauth(mut self, server: AuthorizationServer) -> Self {
        self.oauth = Some(server);
        self
    }

    /// The OAuth authorization server, if the app has one.
    pub fn oauth(&self) -> Option<&AuthorizationServer> {
        self.oauth.as_ref()
    }

    /// Redis, if the meter uses it.
    pub fn redis(&self) -> Option<&RedisConnection> {
        self.redis.as_ref()
    }

    /// The proxy service, without keygate in front: adapters put it behind
    /// [`proxy_access`](crate::routes::proxy_access).
    pub fn proxy(&self) -> &Proxy {
        &self.proxy
    }

    /// The engine.
    pub fn keygate(&self) -> &Keygate {
        &self.inner.keygate
    }

    /// The store.
    pub fn store(&self) -> &SqlStore {
        &self.inner.store
    }

    /// The catalogues.
    pub fn catalogues(&self) -> &Catalogues {
        &self.inner.catalogues
    }

    /// Answers `call` with the handler of `endpoint`.
    pub async fn handle(&self, endpoint: Endpoint, call: Call<'_>) -> Reply {
        handlers::handle(self, endpoint, call).await
    }
}
