//! One column per adapter: each serves [`routes`](crate::routes::routes) with its
//! framework's own middleware, extractors and server.

pub mod actix;
pub mod axum;
pub mod tower;

use std::any::Any;
use std::marker::PhantomData;
use std::net::TcpListener;

use keygate_core::Keygate;

use crate::stores::Store;

/// An adapter under test.
pub trait Adapter {
    /// The adapter's name, as in the test names (`axum::one_time_token_replay`).
    const NAME: &'static str;

    /// The name of the adapter's middleware, which a misconfigured route's message names.
    const MIDDLEWARE: &'static str;

    /// Where the engine keeps its state ([`Memory`](crate::stores::Memory) for the bare
    /// adapters; [`On`] pairs an adapter with another store).
    type Store: Store;

    /// Serves the test app with `keygate` on `listener` (already bound, non-blocking)
    /// until the returned guard is dropped. Called inside a tokio runtime.
    fn serve(keygate: Keygate, listener: TcpListener) -> Box<dyn Any + Send>;
}

/// Adapter `A` with its engine on store `S`: the store axis of the suite.
#[derive(Debug)]
pub struct On<A, S>(PhantomData<(A, S)>);

impl<A: Adapter, S: Store> Adapter for On<A, S> {
    const NAME: &'static str = A::NAME;
    const MIDDLEWARE: &'static str = A::MIDDLEWARE;
    type Store = S;

    fn serve(keygate: Keygate, listener: TcpListener) -> Box<dyn Any + Send> {
        A::serve(keygate, listener)
    }
}

/// Aborts a tokio task when dropped.
pub struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Stops an actix server when dropped.
pub(crate) struct StopOnDrop(pub(crate) actix_web::dev::ServerHandle);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        // Stopping is asynchronous; the server's system thread finishes it.
        drop(self.0.stop(false));
    }
}

/// Runs the actix server `start` makes of `listener` (with `HttpServer::…::run()`) on an
/// actix system thread of its own, until the returned guard is dropped; `None` when it
/// did not start.
pub(crate) fn serve_actix<F>(start: F, listener: TcpListener) -> Option<StopOnDrop>
where
    F: FnOnce(TcpListener) -> std::io::Result<actix_web::dev::Server> + Send + 'static,
{
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            match start(listener) {
                Ok(server) => {
                    let _ = handle_tx.send(Some(server.handle()));
                    let _ = server.await;
                }
                Err(_) => {
                    let _ = handle_tx.send(None);
                }
            }
        });
    });
    handle_rx.recv().ok().flatten().map(StopOnDrop)
}

/// A tower service answering HTTP requests, as the plain-tower columns build one.
pub type HyperService<B = http_body_util::Full<bytes::Bytes>> = ::tower::util::BoxCloneSyncService<
    http::Request<hyper::body::Incoming>,
    http::Response<B>,
    std::convert::Infallible,
>;

/// Serves `service` with hyper's HTTP/1 on `listener` until the returned guard is dropped.
/// Each request carries its connection's peer and scheme (keygate-tower's
/// `ConnectionLayer`), as a real server's would.
pub(crate) fn serve_hyper<B>(service: HyperService<B>, listener: TcpListener) -> AbortOnDrop
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    serve_hyper_on(service, listener, None)
}

/// Like `serve_hyper`, over TLS when `tls` is given (the requests then say `https`).
pub fn serve_hyper_on<B>(
    service: HyperService<B>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> AbortOnDrop
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use ::tower::Layer as _;
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;
    use keygate_core::credentials::{Connection, Scheme};
    AbortOnDrop(tokio::spawn(async move {
        let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
            return;
        };
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((stream, peer)) = listener.accept().await {
            let scheme = if tls.is_some() {
                Scheme::Https
            } else {
                Scheme::Http
            };
            let service = TowerToHyperService::new(
                keygate_tower::ConnectionLayer::new(Connection { peer, scheme })
                    .layer(service.clone()),
            );
            let tls = tls.clone();
            connections.spawn(async move {
                let http = hyper::server::conn::http1::Builder::new();
                match tls {
                    None => {
                        let _ = http
                            .serve_connection(TokioIo::new(stream), service)
                            .with_upgrades()
                            .await;
                    }
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                }
            });
        }
    }))
}
