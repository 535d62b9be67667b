//! The three columns: the platform's app served by the glue each binary uses.

use std::any::Any;
use std::net::TcpListener;

use platform::App;

use crate::adapters::{AbortOnDrop, serve_actix, serve_hyper};

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
        // As the binary serves it: with the peer address, through ConnectInfo.
        let router = platform::adapters::axum::router(app)
            .layer(keygate_axum::connect_info())
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
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

impl PlatformAdapter for Actix {
    const NAME: &'static str = "actix";

    fn serve(app: &App, listener: TcpListener) -> Box<dyn Any + Send> {
        let app = app.clone();
        let start = move |listener| {
            Ok(
                actix_web::HttpServer::new(move || platform::adapters::actix::app(&app))
                    .workers(1)
                    .disable_signals()
                    .shutdown_timeout(0)
                    .listen(listener)?
                    .run(),
            )
        };
        match serve_actix(start, listener) {
            Some(guard) => Box::new(guard),
            None => panic!("the actix server did not start"),
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
        Box::new(serve_hyper(
            platform::adapters::tower::service(app),
            listener,
        ))
    }
}
