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
use keygate_core::credentials::{Connection, Scheme};
use keygate_core::extract::{Admin, from_extensions};
use keygate_core::{Lifetime, Principal};
use keygate_tower::proxy::ProxyBody;
use keygate_tower::{ConnectionLayer, KeygateLayer};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{Message, Role};
use tower::util::BoxCloneSyncService;
use tower::{Layer as _, ServiceExt as _, service_fn};

use crate::access_log;
use crate::app::{App, Call};
use crate::body;
use crate::realtime;
use crate::reply::{self, Reply};
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
            let response = if let Some(reply) =
                crate::request_checks::refuse(&crate::request_checks::shape_of(&request))
            {
                into_tower(reply).map(Either::Left)
            } else if routes::is_proxied(&path) {
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
            if let (Endpoint::Realtime, Some(principal)) = (endpoint, &principal) {
                return Ok(realtime(&app, principal, request));
            }
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
                headers: &parts.headers,
                // Inserted by the `ConnectionLayer` of `serve`'s accept loop.
                connection: parts.extensions.get().copied(),
            };
            Ok::<_, Infallible>(into_tower(app.handle(endpoint, call).await))
        }
    }))
}

/// `GET /api/realtime`, admitted: the WebSocket handshake by hand (RFC 6455: a `GET`
/// upgrade, version 13, the accept key derived from the client's), answered 101 with the
/// subprotocol `keygate` when offered (never the token); hyper hands over the connection
/// once the 101 is sent, and tokio-tungstenite speaks WebSocket on it.
fn realtime(
    app: &App,
    principal: &Principal,
    mut request: Request<Incoming>,
) -> Response<RouteBody> {
    use http::header::{
        CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL,
        SEC_WEBSOCKET_VERSION, UPGRADE,
    };
    let headers = request.headers();
    let header = |name| headers.get(name).and_then(|value| value.to_str().ok());
    if !realtime::is_upgrade(
        request.method().as_str(),
        header(CONNECTION),
        header(UPGRADE),
    ) {
        return into_tower(realtime::upgrade_required());
    }
    if header(SEC_WEBSOCKET_VERSION) != Some("13") {
        return into_tower(reply::invalid(
            "WebSocket handshake: Sec-WebSocket-Version must be 13",
        ));
    }
    let Some(key) = headers.get(SEC_WEBSOCKET_KEY) else {
        return into_tower(reply::invalid(
            "WebSocket handshake: Sec-WebSocket-Key is missing",
        ));
    };
    let accept = derive_accept_key(key.as_bytes());
    let protocol = realtime::answered_protocol(
        headers
            .get_all(SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|value| value.to_str().ok()),
    );
    let lifetime = Lifetime::of(app.keygate(), principal);
    let upgrading = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        match upgrading.await {
            Ok(upgraded) => {
                let socket =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await;
                echo(socket, lifetime).await;
            }
            Err(error) => tracing::debug!(%error, "the WebSocket upgrade did not complete"),
        }
    });
    let mut response = Response::new(RouteBody::default());
    *response.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
    let answer = response.headers_mut();
    answer.insert(CONNECTION, http::HeaderValue::from_static("upgrade"));
    answer.insert(UPGRADE, http::HeaderValue::from_static("websocket"));
    if let Ok(accept) = http::HeaderValue::from_str(&accept) {
        answer.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    if let Some(protocol) = protocol {
        answer.insert(
            SEC_WEBSOCKET_PROTOCOL,
            http::HeaderValue::from_static(protocol),
        );
    }
    response
}

/// Echoes text and binary frames until the client closes, or closes with 1008 when the
/// credential ends (checked every [`realtime::CHECK_EVERY`]).
async fn echo(mut socket: WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>, lifetime: Lifetime) {
    use futures_util::{SinkExt as _, StreamExt as _};
    let ended = lifetime.ended(realtime::CHECK_EVERY);
    let mut ended = std::pin::pin!(ended);
    loop {
        tokio::select! {
            ended = &mut ended => {
                let close = CloseFrame {
                    code: CloseCode::from(realtime::POLICY_VIOLATION),
                    reason: realtime::close_reason(&ended).into(),
                };
                let _ = socket.close(Some(close)).await;
                return;
            }
            received = socket.next() => {
                let echoed = match received {
                    Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => message,
                    // Pings are answered by the socket itself.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                };
                if socket.send(echoed).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn into_tower(reply: Reply) -> Response<RouteBody> {
    reply.map(RouteBody::from)
}

/// Serves `service` on `listener` with hyper (HTTP/1.1) until Ctrl-C or
/// SIGTERM; connections in flight finish.
pub async fn serve(service: Service, listener: std::net::TcpListener) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    // hyper-util's `GracefulShutdown` does not watch upgradeable HTTP/1 connections, so
    // each connection watches a stop signal itself and the loop waits for them all.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(crate::start::shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        continue;
                    }
                };
                // With upgrades: `GET /api/realtime` hands its connection to a WebSocket.
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(
                        TokioIo::new(stream),
                        // The peer and scheme reach keygate (HTTPS requirement, secret
                        // lock-out) as a `Connection` in each request.
                        TowerToHyperService::new(
                            ConnectionLayer::new(Connection { peer, scheme: Scheme::Http })
                                .layer(service.clone()),
                        ),
                    )
                    .with_upgrades();
                let mut stopping = stopping.clone();
                connections.spawn(async move {
                    let mut connection = std::pin::pin!(connection);
                    let served = tokio::select! {
                        served = connection.as_mut() => served,
                        _ = stopping.changed() => {
                            connection.as_mut().graceful_shutdown();
                            connection.await
                        }
                    };
                    if let Err(error) = served {
                        tracing::debug!(error = %error, "connection ended with an error");
                    }
                });
                // Forget the connections that have ended.
                while connections.try_join_next().is_some() {}
            }
            () = &mut shutdown => break,
        }
    }
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}
