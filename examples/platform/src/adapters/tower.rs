//! Plain tower and hyper, no framework: each route a `service_fn` behind its own
//! `KeygateLayer`, found by a small router over the route table; the proxy's paths go to
//! the proxy service behind its own `KeygateLayer`.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use keygate_core::Principal;
use keygate_core::extract::{Admin, from_extensions};
use keygate_tower::KeygateLayer;
use keygate_tower::proxy::ProxyBody;
use tower::util::BoxCloneSyncService;
use tower::{Layer as _, ServiceExt as _, service_fn};

use crate::access_log;
use crate::app::{App, Call};
use crate::body;
use crate::reply::Reply;
use crate::routes::{self, Endpoint, Guard};

/// A route's response body.
pub type RouteBody = Full<Bytes>;
/// The platform's response body: a route's, or the proxy's (streamed from the upstream).
pub type Body = Either<RouteBody, ProxyBody>;
/// The platform as a tower service.
pub type Service = BoxCloneSyncService<Request<Incoming>, Response<Body>, Infallible>;
/// One route of it.
pub type RouteService = BoxCloneSyncService<Request<Incoming>, Response<RouteBody>, Infallible>;
/// The proxy behind keygate.
type ProxyService = BoxCloneSyncService<Request<Incoming>, Response<ProxyBody>, Infallible>;

/// The platform as one tower service: 404 when no route has the path, 405 (with `Allow`)
/// when its routes take other methods.
pub fn service(app: &App) -> Service {
    let table: Vec<(String, http::Method, RouteService)> = routes::by_path()
        .into_iter()
        .flat_map(|(path, group)| {
            group
                .into_iter()
                .map(move |(route, _)| (path.clone(), route.method.clone(), route))
        })
        .map(|(path, method, route)| {
            let handler = handler(app, route.endpoint, &route.guard);
            let service = match &route.guard {
                Guard::Public => handler,
                Guard::Required(access) => BoxCloneSyncService::new(
                    KeygateLayer::new(app.keygate(), access.clone()).layer(handler),
                ),
            };
            (path, method, service)
        })
        .collect();
    let table = Arc::new(table);
    let proxy: ProxyService = BoxCloneSyncService::new(
        KeygateLayer::new(app.keygate(), routes::proxy_access()).layer(app.proxy().clone()),
    );
    BoxCloneSyncService::new(service_fn(move |request: Request<Incoming>| {
        let table = Arc::clone(&table);
        let proxy = proxy.clone();
        async move {
            let started = std::time::Instant::now();
            let (method, path) = (request.method().clone(), request.uri().path().to_owned());
            let response = if routes::is_proxied(&path) {
                match proxy.oneshot(request).await {
                    Ok(response) => response.map(Either::Right),
                    Err(never) => match never {},
                }
            } else {
                route(&table, request).await.map(Either::Left)
            };
            access_log::record(method.as_str(), &path, response.status().as_u16(), started);
            Ok(response)
        }
    }))
}

/// The answer of the route `request` is for, or 404/405.
async fn route(
    table: &[(String, http::Method, RouteService)],
    request: Request<Incoming>,
) -> Response<RouteBody> {
    let path = request.uri().path();
    if let Some(reply) = routes::before_routing(request.method(), path) {
        return into_tower(reply);
    }
    let matching: Vec<&(String, http::Method, RouteService)> = table
        .iter()
        .filter(|(pattern, _, _)| routes::matches(pattern, path))
        .collect();
    let found = matching
        .iter()
        .find(|(_, method, _)| method == request.method())
        .map(|(_, _, service)| service.clone());
    match found {
        Some(service) => match service.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        None if matching.is_empty() => into_tower(routes::not_found()),
        None => {
            let allow: Vec<http::Method> = matching
                .iter()
                .map(|(_, method, _)| method.clone())
                .collect();
            into_tower(routes::method_not_allowed(&allow))
        }
    }
}

fn handler(app: &App, endpoint: Endpoint, guard: &Guard) -> RouteService {
    let app = app.clone();
    let admin = matches!(guard, Guard::Required(access) if access.is_admin());
    let public = matches!(guard, Guard::Public);
    BoxCloneSyncService::new(service_fn(move |request: Request<Incoming>| {
        let app = app.clone();
        async move {
            let principal: Option<Principal> = if public {
                None
            } else if admin {
                match from_extensions::<Admin>(request.extensions()) {
                    Ok(Admin(principal)) => Some(principal),
                    Err(rejection) => return Ok(rejection.to_response()),
                }
            } else {
                match from_extensions::<Principal>(request.extensions()) {
                    Ok(principal) => Some(principal),
                    Err(rejection) => return Ok(rejection.to_response()),
                }
            };
            let (parts, body) = request.into_parts();
            let body = match body::read(body).await {
                Ok(body) => body,
                Err(reply) => return Ok(into_tower(reply)),
            };
            let call = Call {
                principal: principal.as_ref(),
                path: parts.uri.path(),
                query: parts.uri.query(),
                body: &body,
            };
            Ok::<_, Infallible>(into_tower(app.handle(endpoint, call).await))
        }
    }))
}

fn into_tower(reply: Reply) -> Response<RouteBody> {
    reply.map(RouteBody::from)
}

/// Serves `service` on `listener` with hyper (HTTP/1.1) until Ctrl-C or
/// SIGTERM; connections in flight finish.
pub async fn serve(service: Service, listener: std::net::TcpListener) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(crate::start::shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        continue;
                    }
                };
                let connection = hyper::server::conn::http1::Builder::new().serve_connection(
                    TokioIo::new(stream),
                    TowerToHyperService::new(service.clone()),
                );
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(error = %error, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    graceful.shutdown().await;
    Ok(())
}
