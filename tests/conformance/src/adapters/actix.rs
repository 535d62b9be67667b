//! The actix column: resources wrapped in `KeygateMiddleware` with actix extractors,
//! served by `HttpServer` on its own actix system thread.

use std::any::Any;
use std::net::TcpListener;

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpServer, web};
use keygate_actix::{Admin, Impersonation, KeygateMiddleware, Maybe, Operator, Principal, Tenant};
use keygate_core::Keygate;
use serde_json::Value;

use super::Adapter;
use crate::routes::{self, Answer, Guard};

/// keygate-actix.
#[derive(Debug)]
pub struct Actix;

fn json(status: u16, value: &Value) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .content_type("application/json")
        .body(value.to_string())
}

fn route(method: &http::Method, answer: Answer) -> actix_web::Route {
    let method = actix_web::http::Method::from_bytes(method.as_str().as_bytes())
        .unwrap_or(actix_web::http::Method::GET);
    let route = web::method(method);
    match answer {
        Answer::Resource { resource, action } => route.to(move |principal: Principal| async move {
            json(200, &routes::resource_body(resource, action, &principal))
        }),
        Answer::Admin => {
            route.to(
                |Admin(principal): Admin| async move { json(200, &routes::admin_body(&principal)) },
            )
        }
        Answer::Operator => route.to(|Operator(principal): Operator| async move {
            json(200, &routes::operator_body(&principal))
        }),
        Answer::Status(code) => route.to(move |principal: Principal| async move {
            json(code, &routes::status_body(&principal))
        }),
        Answer::Optional => route.to(|Maybe(principal): Maybe<Principal>| async move {
            json(200, &routes::optional_body(principal.as_ref()))
        }),
        Answer::Tenant => route
            .to(|Tenant(tenant): Tenant| async move { json(200, &routes::tenant_body(&tenant)) }),
        Answer::Acting => route.to(|Maybe(acting): Maybe<Impersonation>| async move {
            json(200, &routes::acting_body(acting.as_ref()))
        }),
    }
}

/// Adds the test app's routes to an actix `App`: the admin group as a `web::scope`
/// wrapped in one middleware, every other route wrapped on its own (`Route::wrap`, so the
/// middleware runs only once path and method matched).
pub fn configure(keygate: &Keygate, config: &mut web::ServiceConfig) {
    let group = routes::admin_group();
    let mut scope = web::scope(group.prefix);
    for (method, path, answer) in group.routes {
        scope = scope.route(path, route(&method, answer));
    }
    config.service(scope.wrap(KeygateMiddleware::new(keygate, group.access)));
    for spec in routes::routes() {
        let handler = route(&spec.method, spec.answer);
        let handler = match spec.guard {
            Guard::Required(access) => handler.wrap(KeygateMiddleware::new(keygate, access)),
            Guard::Optional(access) => handler.wrap(KeygateMiddleware::optional(keygate, access)),
            Guard::Unwired => handler,
        };
        // A resource, not `config.route`, which moves the method guard onto the resource
        // and so answers a wrong method with 404 instead of 405.
        config.service(web::resource(spec.path).route(handler));
    }
}

impl Adapter for Actix {
    const NAME: &'static str = "actix";
    const MIDDLEWARE: &'static str = "keygate_actix::KeygateMiddleware";
    type Store = crate::stores::Memory;

    fn serve(keygate: Keygate, listener: TcpListener) -> Box<dyn Any + Send> {
        let factory = move || {
            let keygate = keygate.clone();
            App::new().configure(move |config| configure(&keygate, config))
        };
        let start = move |listener| {
            Ok(HttpServer::new(factory)
                .workers(1)
                .disable_signals()
                .shutdown_timeout(0)
                .listen(listener)?
                .run())
        };
        match super::serve_actix(start, listener) {
            Some(guard) => Box::new(guard),
            None => Box::new(()),
        }
    }
}
