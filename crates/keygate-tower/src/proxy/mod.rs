//! Proxy mode: a tower [`Service`] that forwards requests to an upstream API with the
//! upstream's key injected, so browsers and apps (holding an `ek_` client token or a user
//! JWT) never hold the key.
//!
//! [`Proxy`] forwards the method, the path below its prefix, the query and the body to
//! the configured upstream, and returns the upstream's status, headers and body. Bodies
//! stream both ways, chunk by chunk, with the usual backpressure: the proxy never holds
//! more than a chunk of either. On the way up it removes the hop-by-hop headers
//! (`Connection` and the headers it names, `Keep-Alive`, `Proxy-*`, `TE`, `Trailer`,
//! `Transfer-Encoding`, `Upgrade`), the caller's `Authorization`, `X-API-Key`,
//! `x-client-secret`, `X-On-Behalf-Of` and `Cookie`, every credential the engine's
//! [`CredentialSources`] read (the admitting engine's, from the request's
//! `Authentication`; else [`ProxyBuilder::credential_sources`]), and
//! `Host`; then it adds `Authorization: Bearer <key>`, marked sensitive. On the way down
//! it removes the hop-by-hop headers.
//!
//! The proxy authenticates nobody: put it behind a [`KeygateLayer`](crate::KeygateLayer),
//! whose access says who may use it. It answers itself, with a problem document in
//! keygate's shape, when it cannot forward:
//!
//! | status | code | when |
//! |---|---|---|
//! | 502 | `upstream_unavailable` | no upstream configured; connection refused, reset, DNS or TLS failure; connect timeout |
//! | 504 | `upstream_timeout` | the upstream sent no response head within the response timeout |
//! | 400 | `invalid_request` | a path with `.`/`..` segments (plain or percent-encoded), an encoded slash or a backslash, which could climb out of the upstream's base path; a caller's body that broke off |
//! | 404 | `not_found` | a path outside the prefix |
//!
//! Failures are logged (`tracing`, `warn`) with the upstream's origin and the reason,
//! never the key, the caller's credentials, the path or the query.
//!
//! ```
//! use http::Request;
//! use keygate_core::{Access, AuthMethod, Keygate, Methods, Pepper};
//! use keygate_tower::KeygateLayer;
//! use keygate_tower::proxy::Proxy;
//! use secrecy::SecretString;
//! use tower::{Layer as _, ServiceExt as _};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let keygate = Keygate::builder().pepper(Pepper::generate()?).build()?;
//! let proxy = Proxy::builder()
//!     .upstream("http://127.0.0.1:9/v1")
//!     .key(SecretString::from("upstream-key"))
//!     .strip_prefix("/api/proxy")
//!     .build()?;
//! // Client tokens and user JWTs may use it.
//! let access = Access::authenticated().accept(Methods::from([AuthMethod::ClientToken, AuthMethod::Jwt]));
//! let service = KeygateLayer::new(&keygate, access).layer(proxy);
//!
//! let response = service.oneshot(Request::get("/api/proxy/things").body(String::new())?).await?;
//! assert_eq!(response.status(), 401); // no credential: refused before anything is forwarded
//! # Ok(())
//! # }
//! ```
//!
//! With axum, mount it with `Router::nest_service` (or `route_service` on
//! `/api/proxy/{*path}`) behind the layer; with actix-web, turn the request and its
//! payload into an `http::Request` with a streaming body and the answer back (the
//! reference platform's `adapters::actix` shows the few lines it takes).

mod body;
mod builder;
mod client;
mod failure;
mod headers;
mod path;

pub use body::{BoxError, ProxyBody};
pub use builder::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_RESPONSE_TIMEOUT, ProxyBuilder, ProxyError};
pub use path::{PathRefusal, check_path};

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, Version};
use keygate_core::CredentialSources;
use keygate_core::extract::Authentication;
use tower_service::Service;

use body::{Progress, RequestBody};
use failure::Failure;
use path::Upstream;

/// The proxy service: forwards each request to the upstream with its key (see the
/// [module](self)). Cheap to clone; clones share one connection pool.
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<Inner>,
}

struct Inner {
    upstream: Option<(Upstream, reqwest::Client)>,
    /// `Bearer <key>`, marked sensitive.
    key: Option<HeaderValue>,
    prefix: String,
    connect_timeout: Duration,
    response_timeout: Duration,
    /// Where the engine in front reads credentials: all of it stays here.
    sources: CredentialSources,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("Proxy")
            .field(
                "upstream",
                &inner
                    .upstream
                    .as_ref()
                    .map(|(upstream, _)| upstream.origin()),
            )
            .field("key", &inner.key.as_ref().map(|_| "[redacted]"))
            .field("prefix", &inner.prefix)
            .field("connect_timeout", &inner.connect_timeout)
            .field("response_timeout", &inner.response_timeout)
            .finish()
    }
}

impl Proxy {
    /// A builder; see [`ProxyBuilder`].
    pub fn builder() -> ProxyBuilder {
        ProxyBuilder::default()
    }

    /// A proxy without an upstream: it answers every request 502 `upstream_unavailable`.
    pub fn unconfigured() -> Self {
        Self {
            inner: Arc::new(Inner {
                upstream: None,
                key: None,
                prefix: String::new(),
                connect_timeout: DEFAULT_CONNECT_TIMEOUT,
                response_timeout: DEFAULT_RESPONSE_TIMEOUT,
                sources: CredentialSources::default(),
            }),
        }
    }

    /// Whether an upstream is configured.
    pub fn is_configured(&self) -> bool {
        self.inner.upstream.is_some()
    }

    /// The prefix stripped from request paths.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The upstream URL a request to `path` (with `query`) is forwarded to, or `None`
    /// when the proxy refuses to forward it: no upstream configured, a path outside the
    /// prefix (404), or one that could climb out of the upstream's base path (400). The
    /// proxy's own path check, without I/O: for tests and fuzzing of the path filter.
    ///
    /// ```
    /// use keygate_tower::proxy::Proxy;
    /// use secrecy::SecretString;
    ///
    /// let proxy = Proxy::builder()
    ///     .upstream("https://api.example.com/v1")
    ///     .key(SecretString::from("upstream-key"))
    ///     .strip_prefix("/api/proxy")
    ///     .build()?;
    /// assert_eq!(
    ///     proxy.upstream_url("/api/proxy/things", Some("page=2")).as_deref(),
    ///     Some("https://api.example.com/v1/things?page=2")
    /// );
    /// assert_eq!(proxy.upstream_url("/api/proxy/../admin", None), None);
    /// # Ok::<(), keygate_tower::proxy::ProxyError>(())
    /// ```
    pub fn upstream_url(&self, path: &str, query: Option<&str>) -> Option<String> {
        let (upstream, _) = self.inner.upstream.as_ref()?;
        upstream
            .target(&self.inner.prefix, path, query)
            .ok()
            .map(String::from)
    }

    async fn forward<B>(self, request: Request<B>) -> Response<ProxyBody>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Into<Bytes> + Send,
        B::Error: Into<BoxError>,
    {
        let inner = &*self.inner;
        let Some((upstream, client)) = &inner.upstream else {
            tracing::warn!("keygate proxy: no upstream is configured; answering 502");
            return Failure::NoUpstream.response();
        };
        let (parts, body) = request.into_parts();
        if parts.method == http::Method::TRACE || parts.method == http::Method::CONNECT {
            return Failure::Method.response();
        }
        let url = match upstream.target(&inner.prefix, parts.uri.path(), parts.uri.query()) {
            Ok(url) => url,
            Err(PathRefusal::NotBelowPrefix) => return Failure::NotFound.response(),
            Err(PathRefusal::Traversal) => return Failure::Traversal.response(),
        };
        let progress = Arc::new(Progress::default());
        let mut outgoing = reqwest::Request::new(parts.method, url);
        *outgoing.version_mut() = Version::HTTP_11;
        // The sources of the engine that admitted the request, when a keygate layer ran in
        // front (it always should); else the builder's.
        let sources = parts
            .extensions
            .get::<Authentication>()
            .and_then(Authentication::credential_sources)
            .unwrap_or(&inner.sources);
        *outgoing.headers_mut() =
            headers::upstream_request(parts.headers, inner.key.as_ref(), sources);
        *outgoing.body_mut() = Some(reqwest::Body::wrap(RequestBody::new(
            body,
            Arc::clone(&progress),
        )));

        let mut sent = std::pin::pin!(client.execute(outgoing));
        let answer = loop {
            tokio::select! {
                answer = &mut sent => break answer,
                // The upstream took a chunk of the body: its time to answer starts over.
                () = progress.moved.notified() => {}
                () = tokio::time::sleep(inner.response_timeout) => {
                    tracing::warn!(
                        upstream = upstream.origin(),
                        timeout_ms = inner.response_timeout.as_millis() as u64,
                        "keygate proxy: the upstream sent no response in time; answering 504"
                    );
                    return Failure::Timeout.response();
                }
            }
        };
        match answer {
            Ok(answer) => {
                let mut answer: Response<reqwest::Body> = answer.into();
                headers::downstream_response(answer.headers_mut());
                answer.map(ProxyBody::upstream)
            }
            Err(_) if progress.failed.load(Ordering::Acquire) => {
                tracing::debug!("keygate proxy: the caller's body broke off; answering 400");
                Failure::CallerBody.response()
            }
            Err(error) => {
                let error = error.without_url();
                tracing::warn!(
                    upstream = upstream.origin(),
                    %error,
                    "keygate proxy: the upstream could not be reached; answering 502"
                );
                Failure::Unreachable.response()
            }
        }
    }
}

impl<B> Service<Request<B>> for Proxy
where
    B: http_body::Body + Send + 'static,
    B::Data: Into<Bytes> + Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> ResponseFuture {
        let proxy = self.clone();
        ResponseFuture {
            inner: Box::pin(async move { Ok(proxy.forward(request).await) }),
        }
    }
}

/// The future of [`Proxy`]: resolves once the upstream's response head is in (the body
/// then streams), or with the proxy's own answer. It never fails.
pub struct ResponseFuture {
    inner: Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, Infallible>> + Send>>,
}

impl Future for ResponseFuture {
    type Output = Result<Response<ProxyBody>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
