//! [`ConnectionLayer`]: puts the connection's peer address and scheme into each request,
//! where keygate reads them ([`Connection`]).

use std::net::SocketAddr;
use std::task::{Context, Poll};

use http::Request;
use keygate_core::credentials::{Connection, Scheme};
use tower_layer::Layer;
use tower_service::Service;

/// Inserts a [`Connection`] into every request's extensions, so keygate knows the peer
/// and the scheme: for the HTTPS requirement
/// ([`KeygateBuilder::require_https`](keygate_core::KeygateBuilder::require_https)) and
/// the lock-out of addresses that guess the platform secret. A request that already
/// carries a `Connection` (set nearer the socket) keeps it.
///
/// In an accept loop, one layer per connection with what the loop knows:
///
/// ```
/// use keygate_core::credentials::{Connection, RequestHead, Scheme};
/// use keygate_tower::ConnectionLayer;
/// use tower::{Layer, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let peer = "203.0.113.9:50000".parse()?; // from `listener.accept()`
/// let app = service_fn(|request: http::Request<()>| async move {
///     Ok::<_, std::convert::Infallible>(request.scheme())
/// });
/// // behind a TLS acceptor: Scheme::Https
/// let service = ConnectionLayer::new(Connection { peer, scheme: Scheme::Https }).layer(app);
/// assert_eq!(service.oneshot(http::Request::new(())).await?, Some(Scheme::Https));
/// # Ok(())
/// # }
/// ```
///
/// Behind a server that records the peer itself (axum's `ConnectInfo`), read it from
/// the request with [`from_extensions`](Self::from_extensions); keygate-axum has one
/// ready.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLayer {
    source: Source,
}

#[derive(Debug, Clone, Copy)]
enum Source {
    Fixed(Connection),
    Extensions {
        scheme: Scheme,
        peer: fn(&http::Extensions) -> Option<SocketAddr>,
    },
}

impl ConnectionLayer {
    /// Every request gets `connection` (one layer per accepted connection).
    pub fn new(connection: Connection) -> Self {
        Self {
            source: Source::Fixed(connection),
        }
    }

    /// Every request gets the peer `peer` finds in its extensions, with `scheme` (the
    /// listener's); a request where `peer` finds none gets no `Connection`.
    pub fn from_extensions(
        scheme: Scheme,
        peer: fn(&http::Extensions) -> Option<SocketAddr>,
    ) -> Self {
        Self {
            source: Source::Extensions { scheme, peer },
        }
    }
}

impl<S> Layer<S> for ConnectionLayer {
    type Service = ConnectionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConnectionService {
            inner,
            source: self.source,
        }
    }
}

/// The service of a [`ConnectionLayer`].
#[derive(Debug, Clone)]
pub struct ConnectionService<S> {
    inner: S,
    source: Source,
}

impl<S, B> Service<Request<B>> for ConnectionService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if request.extensions().get::<Connection>().is_none() {
            let connection = match self.source {
                Source::Fixed(connection) => Some(connection),
                Source::Extensions { scheme, peer } => {
                    peer(request.extensions()).map(|peer| Connection { peer, scheme })
                }
            };
            if let Some(connection) = connection {
                request.extensions_mut().insert(connection);
            }
        }
        self.inner.call(request)
    }
}
