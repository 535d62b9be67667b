//! The tower column: plain tower services behind `KeygateLayer`, routed by a small
//! `service_fn` and served by hyper, no framework.

use std::any::Any;
use std::convert::Infallible;
use std::net::TcpListener;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use keygate_core::extract::{
    Admin, ExtractRejection, Impersonation, Operator, Tenant, from_extensions,
    optional_from_extensions,
};
use keygate_core::{Keygate, Principal};
use keygate_tower::KeygateLayer;
use serde_json::Value;
use tower::util::BoxCloneSyncService;
use tower::{Layer, ServiceExt, service_fn};

use super::Adapter;
use crate::routes::{self, Answer, Guard};

/// keygate-tower with hyper.
#[derive(Debug)]
pub struct Tower;

type Body = Full<Bytes>;
type Route = BoxCloneSyncService<Request<Incoming>, Response<Body>, Infallible>;

fn json(status: StatusCode, value: &Value) -> Response<Body> {
    let mut response = Response::new(Body::from(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn answer(answer: Answer, request: &Request<Incoming>) -> Result<Response<Body>, ExtractRejection> {
    let extensions = request.extensions();
    Ok(match answer {
        Answer::Resource { resource, action } => {
            let principal: Principal = from_extensions(extensions)?;
            json(
                StatusCode::OK,
                &routes::resource_body(resource, action, &principal),
            )
        }
        Answer::Admin => {
            let Admin(principal) = from_extensions(extensions)?;
            json(StatusCode::OK, &routes::admin_body(&principal))
        }
        Answer::Operator => {
            let Operator(principal) = from_extensions(extensions)?;
            json(StatusCode::OK, &routes::operator_body(&principal))
        }
        Answer::Status(code) => {
            let principal: Principal = from_extensions(extensions)?;
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            json(status, &routes::status_body(&principal))
        }
        Answer::Optional => {
            let principal: Option<Principal> = optional_from_extensions(extensions)?;
            json(StatusCode::OK, &routes::optional_body(principal.as_ref()))
        }
        Answer::Tenant => {
            let Tenant(tenant) = from_extensions(extensions)?;
            json(StatusCode::OK, &routes::tenant_body(&tenant))
        }
        Answer::Acting => {
            let acting: Option<Impersonation> = optional_from_extensions(extensions)?;
            json(StatusCode::OK, &routes::acting_body(acting.as_ref()))
        }
    })
}

fn handler(which: Answer) -> Route {
    let service = service_fn(move |request: Request<Incoming>| async move {
        Ok::<_, Infallible>(
            answer(which, &request).unwrap_or_else(|rejection| rejection.to_response()),
        )
    });
    BoxCloneSyncService::new(service)
}

fn layered(keygate: &Keygate, guard: Guard, handler: Route) -> Route {
    match guard {
        Guard::Required(access) => {
            BoxCloneSyncService::new(KeygateLayer::new(keygate, access).layer(handler))
        }
        Guard::Optional(access) => {
            BoxCloneSyncService::new(KeygateLayer::optional(keygate, access).layer(handler))
        }
        Guard::Unwired => handler,
    }
}

/// The test app as one tower service: each route's service behind its own layer (the
/// admin group's routes each behind the group's access), found by method and path: 405
/// when only the path matches, 404 when nothing does.
pub fn app(keygate: &Keygate) -> Route {
    let group = routes::admin_group();
    let mut table: Vec<(http::Method, String, Route)> = group
        .routes
        .into_iter()
        .map(|(method, path, answer)| {
            let guard = Guard::Required(group.access.clone());
            let service = layered(keygate, guard, handler(answer));
            (method, format!("{}{path}", group.prefix), service)
        })
        .collect();
    table.extend(routes::routes().into_iter().map(|route| {
        let service = layered(keygate, route.guard, handler(route.answer));
        (route.method, route.path.to_owned(), service)
    }));
    let table = Arc::new(table);
    BoxCloneSyncService::new(service_fn(move |request: Request<Incoming>| {
        let table = Arc::clone(&table);
        async move {
            let path = request.uri().path();
            let found = table
                .iter()
                .find(|(method, route, _)| method == request.method() && route == path)
                .map(|(_, _, service)| service.clone());
            let status = if table.iter().any(|(_, route, _)| route == path) {
                StatusCode::METHOD_NOT_ALLOWED
            } else {
                StatusCode::NOT_FOUND
            };
            match found {
                Some(service) => service.oneshot(request).await,
                None => {
                    let mut response = Response::new(Body::default());
                    *response.status_mut() = status;
                    Ok(response)
                }
            }
        }
    }))
}

impl Adapter for Tower {
    const NAME: &'static str = "tower";
    const MIDDLEWARE: &'static str = "keygate_tower::KeygateLayer";
    type Store = crate::stores::Memory;

    fn serve(keygate: Keygate, listener: TcpListener) -> Box<dyn Any + Send> {
        Box::new(super::serve_hyper(app(&keygate), listener))
    }
}
