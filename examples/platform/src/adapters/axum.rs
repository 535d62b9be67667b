//! axum: a `Router` with one nested admin router behind `KeygateLayer::admin`, every other
//! guarded route behind its own `route_layer`, and keygate's extractors in the handlers.
//! The proxy is a `route_service` (every method) behind its own `KeygateLayer`.

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter, on};
use keygate_axum::{Admin, KeygateLayer, Principal};
use tower::Layer as _;

use crate::access_log;
use crate::app::{App, Call};
use crate::body;
use crate::reply::Reply;
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
                let response = match routes::before_routing(&method, &path) {
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
    };
    into_axum(app.handle(endpoint, call).await)
}

fn into_axum(reply: Reply) -> Response {
    reply.map(Body::from)
}

/// Serves `router` on `listener` until Ctrl-C or SIGTERM; requests in flight finish.
pub async fn serve(router: Router, listener: std::net::TcpListener) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    axum::serve(listener, router)
        .with_graceful_shutdown(crate::start::shutdown_signal())
        .await
}
