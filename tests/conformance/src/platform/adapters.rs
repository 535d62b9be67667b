//! The three columns: the platform's app served by the glue each binary uses.

use std::any::Any;
use std::net::TcpListener;

use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use platform::App;

use crate::adapters::AbortOnDrop;

/// How one of the platform's binaries serves its app.
pub trait PlatformAdapter: 'static {
    /// The column's name, as in the test names (`platform::sqlite::axum::…`).
    const NAME: &'static str;

    /// Serves `app` on `listener` (bound, non-blocking) until the returned guard is
    /// dropped. Called inside a tokio runtime.
    fn serve(app: &App, listener: TcpListener) -> Box<dyn Any + Send>;
}

/// `platform` (the default binary): `platform::adapters::axum::router` on `axum::serve`.
#[derive(Debug)]
pub struct Axum;

impl PlatformAdapter for Axum {
    const NAME: &'static str = "axum";

    fn serve(app: &App, listener: TcpListener) -> Box<dyn Any + Send> {
        let router = platform::adapters::axum::router(app);
        Box::new(AbortOnDrop(tokio::spawn(async move {
            if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                let _ = axum::serve(listener, router).await;
            }
        })))
    }
}

/// `platform-actix`: `platform::adapters::actix::app` in an `HttpServer` on its own
/// actix system thread.
#[derive(Debug)]
pub struct Actix;

/// Stops the actix server when dropped.
struct StopOnDrop(actix_web::dev::ServerHandle);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        drop(self.0.stop(false));
    }
}

impl PlatformAdapter for Actix {
    const NAME: &'static str = "actix";

    fn serve(app: &App, listener: TcpListener) -> Box<dyn Any + Send> {
        let app = app.clone();
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server =
                    actix_web::HttpServer::new(move || platform::adapters::actix::app(&app))
                        .workers(1)
                        .disable_signals()
                        .shutdown_timeout(0)
                        .listen(listener);
                match server {
                    Ok(server) => {
                        let server = server.run();
                        let _ = handle_tx.send(Some(server.handle()));
                        let _ = server.await;
                    }
                    Err(_) => {
                        let _ = handle_tx.send(None);
                    }
                }
            });
        });
        match handle_rx.recv() {
            Ok(Some(handle)) => Box::new(StopOnDrop(handle)),
            _ => panic!("the actix server did not start"),
        }
    }
}

/// `platform-tower`: `platform::adapters::tower::service` on hyper's HTTP/1 connections,
/// no framework.
#[derive(Debug)]
pub struct Tower;

impl PlatformAdapter for Tower {
    const NAME: &'static str = "tower";

    fn serve(app: &App, listener: TcpListener) -> Box<dyn Any + Send> {
        let service = platform::adapters::tower::service(app);
        Box::new(AbortOnDrop(tokio::spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let service = TowerToHyperService::new(service.clone());
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        })))
    }
}
