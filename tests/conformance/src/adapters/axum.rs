//! The axum column: `Router` + `route_layer(KeygateLayer)` + extractors, served by
//! `axum::serve`.

use std::any::Any;
use std::net::TcpListener;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::{MethodFilter, MethodRouter, on};
use keygate_axum::{Admin, Impersonation, KeygateLayer, Operator, Principal, Tenant};
use keygate_core::Keygate;

use super::{AbortOnDrop, Adapter};
use crate::routes::{self, Answer, Guard};

/// keygate-axum.
#[derive(Debug)]
pub struct Axum;

fn handler(filter: MethodFilter, answer: Answer) -> MethodRouter {
    match answer {
        Answer::Resource { resource, action } => {
            on(filter, move |principal: Principal| async move {
                Json(routes::resource_body(resource, action, &principal))
            })
        }
        Answer::Admin => on(filter, |Admin(principal): Admin| async move {
            Json(routes::admin_body(&principal))
        }),
        Answer::Operator => on(filter, |Operator(principal): Operator| async move {
            Json(routes::operator_body(&principal))
        }),
        Answer::Status(code) => on(filter, move |principal: Principal| async move {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, Json(routes::status_body(&principal)))
        }),
        Answer::Optional => on(filter, |principal: Option<Principal>| async move {
            Json(routes::optional_body(principal.as_ref()))
        }),
        Answer::Tenant => on(filter, |Tenant(tenant): Tenant| async move {
            Json(routes::tenant_body(&tenant))
        }),
        Answer::Acting => on(filter, |acting: Option<Impersonation>| async move {
            Json(routes::acting_body(acting.as_ref()))
        }),
    }
}

/// The test app as an axum router: the admin group as a nested router behind one
/// `route_layer`, every other route with its own.
pub fn app(keygate: &Keygate) -> Router {
    let group = routes::admin_group();
    let mut admin = Router::new();
    for (method, path, answer) in group.routes {
        let filter = MethodFilter::try_from(method).unwrap_or(MethodFilter::GET);
        admin = admin.route(path, handler(filter, answer));
    }
    let admin = admin.route_layer(KeygateLayer::new(keygate, group.access));
    let mut router = Router::new().nest(group.prefix, admin);
    for route in routes::routes() {
        let filter = MethodFilter::try_from(route.method.clone()).unwrap_or(MethodFilter::GET);
        let handler = handler(filter, route.answer);
        let handler = match route.guard {
            Guard::Required(access) => handler.route_layer(KeygateLayer::new(keygate, access)),
            Guard::Optional(access) => handler.route_layer(KeygateLayer::optional(keygate, access)),
            Guard::Unwired => handler,
        };
        router = router.route(route.path, handler);
    }
    router
}

impl Adapter for Axum {
    const NAME: &'static str = "axum";
    const MIDDLEWARE: &'static str = "keygate_axum::KeygateLayer";
    type Store = crate::stores::Memory;

    fn serve(keygate: Keygate, listener: TcpListener) -> Box<dyn Any + Send> {
        // The peer address, as a real axum server gives it (keygate-axum's `connect_info`).
        let app = app(&keygate)
            .layer(keygate_axum::connect_info())
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        Box::new(AbortOnDrop(tokio::spawn(async move {
            if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                let _ = axum::serve(listener, app).await;
            }
        })))
    }
}
