//! axum: a `Router` with one nested admin router behind `KeygateLayer::admin`, every other
//! guarded route behind its own `route_layer`, and keygate's extractors in the handlers.
//! The proxy is a `route_service` (every method) behind its own `KeygateLayer`.

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter, on};
use keygate_axum::{Admin, KeygateLayer, Principal};
use keygate_core::Lifetime;
use tower::Layer as _;

use crate::access_log;
use crate::app::{App, Call};
use crate::body;
use crate::realtime;
use crate::reply::{self, Reply};
use crate::routes::{self, ADMIN_PREFIX, Endpoint, Guard, PROXY_PREFIX, Route};

/// The platform as an axum router.
pub fn router(app: &App) -> Router {
    let mut admin = Router::new();
    for route in routes::admin_routes() {
        admin = admin.route(&route.path, handler(app, &route));
    }
    let admin = admin.route_layer(KeygateLayer::admin(app.keygate()));
    let mut router = Router::new().nest(ADMIN_PREFIX, admin);
    // The proxy's paths: `/api/proxy/` and below (a wildcard does not match the empty
    // rest, so that path is a route of its own).
    let proxy = KeygateLayer::new(app.keygate(), routes::proxy_access()).layer(
        tower::ServiceExt::<Request>::map_response(
            app.proxy().clone(),
            |response: http::Response<keygate_tower::proxy::ProxyBody>| response.map(Body::new),
        ),
    );
    router = router
        .route_service(&format!("{PROXY_PREFIX}/"), proxy.clone())
        .route_service(&format!("{PROXY_PREFIX}/{{*path}}"), proxy);
    for route in routes::routes() {
        let handler = match &route.guard {
            Guard::Required(access) => {
                handler(app, &route).route_layer(KeygateLayer::new(app.keygate(), access.clone()))
            }
            Guard::Public => handler(app, &route),
        };
        router = router.route(&route.path, handler);
    }
    router
        .fallback(|| async { into_axum(routes::not_found()) })
        .method_not_allowed_fallback(|request: Request| async move {
            into_axum(routes::method_not_allowed(&routes::allowed(
                request.uri().path(),
            )))
        })
        .layer(axum::middleware::from_fn(
            |request: Request, next: axum::middleware::Next| async move {
                let started = std::time::Instant::now();
                let (method, path) = (request.method().clone(), request.uri().path().to_owned());
                let early =
                    crate::request_checks::refuse(&crate::request_checks::shape_of(&request))
                        .or_else(|| routes::before_routing(&method, &path));
                let response = match early {
                    Some(reply) => into_axum(reply),
                    None => next.run(request).await,
                };
                access_log::record(method.as_str(), &path, response.status().as_u16(), started);
                response
            },
        ))
}

fn handler(app: &App, route: &Route) -> MethodRouter {
    // The table's methods are GET, POST, PUT and DELETE (a unit test holds it to that),
    // which all convert.
    let filter = MethodFilter::try_from(route.method.clone()).unwrap_or(MethodFilter::GET);
    let endpoint = route.endpoint;
    let app = app.clone();
    match &route.guard {
        Guard::Public => on(filter, move |request: Request| async move {
            answer(&app, endpoint, None, request).await
        }),
        Guard::Required(access) if access.is_admin() => on(
            filter,
            move |Admin(principal): Admin, request: Request| async move {
                answer(&app, endpoint, Some(&principal), request).await
            },
        ),
        Guard::Required(_) if endpoint == Endpoint::Realtime => on(
            filter,
            move |principal: Principal, request: Request| async move {
                realtime(&app, &principal, request).await
            },
        ),
        Guard::Required(_) => on(
            filter,
            move |principal: Principal, request: Request| async move {
                answer(&app, endpoint, Some(&principal), request).await
            },
        ),
    }
}

async fn answer(
    app: &App,
    endpoint: Endpoint,
    principal: Option<&keygate_core::Principal>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = match body::read(body).await {
        Ok(body) => body,
        Err(reply) => return into_axum(reply),
    };
    let call = Call {
        principal,
        path: parts.uri.path(),
        query: parts.uri.query(),
        body: &body,
        headers: &parts.headers,
        // Inserted by keygate-axum's `connect_info` (see `serve`).
        connection: parts.extensions.get().copied(),
    };
    into_axum(app.handle(endpoint, call).await)
}

/// `GET /api/realtime`, admitted: axum's `WebSocketUpgrade` answers the handshake with
/// the subprotocol `keygate` (when offered, never the token), and the socket echoes until
/// the client leaves or the credential ends.
async fn realtime(app: &App, principal: &keygate_core::Principal, request: Request) -> Response {
    use axum::extract::FromRequestParts as _;
    let (mut parts, _) = request.into_parts();
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|value: &http::HeaderValue| value.to_str().ok())
    };
    let asked = realtime::is_upgrade(
        parts.method.as_str(),
        header(http::header::CONNECTION),
        header(http::header::UPGRADE),
    );
    if !asked {
        return into_axum(realtime::upgrade_required());
    }
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return into_axum(reply::invalid(format!("WebSocket handshake: {rejection}")));
        }
    };
    let lifetime = Lifetime::of(app.keygate(), principal);
    upgrade
        .protocols([realtime::PROTOCOL])
        .on_upgrade(move |socket| echo(socket, lifetime))
}

/// Echoes text and binary frames until the client closes, or closes with 1008 when the
/// credential ends (checked every [`realtime::CHECK_EVERY`]).
async fn echo(mut socket: WebSocket, lifetime: Lifetime) {
    let ended = lifetime.ended(realtime::CHECK_EVERY);
    let mut ended = std::pin::pin!(ended);
    loop {
        tokio::select! {
            ended = &mut ended => {
                let close = CloseFrame {
                    code: realtime::POLICY_VIOLATION,
                    reason: realtime::close_reason(&ended).into(),
                };
                let _ = socket.send(Message::Close(Some(close))).await;
                return;
            }
            received = socket.recv() => {
                let echoed = match received {
                    Some(Ok(Message::Text(text))) => Message::Text(text),
                    Some(Ok(Message::Binary(bytes))) => Message::Binary(bytes),
                    // Pings are answered by the socket itself.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                };
                if socket.send(echoed).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn into_axum(reply: Reply) -> Response {
    reply.map(Body::from)
}

/// Serves `router` on `listener` until Ctrl-C or SIGTERM; requests in flight finish.
pub async fn serve(router: Router, listener: std::net::TcpListener) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    // The peer address reaches keygate (HTTPS requirement, secret lock-out) through
    // ConnectInfo and keygate-axum's `connect_info`.
    let service = router
        .layer(keygate_axum::connect_info())
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(crate::start::shutdown_signal())
        .await
}
