//! keygate-axum's own API: custom rejections through route_layer, optional routes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use keygate_axum::{AuthError, KeygateLayer, Principal};
use keygate_core::{Access, Keygate, Pepper, PlatformSecret};
use tower::ServiceExt;

fn engine() -> (Keygate, PlatformSecret) {
    let secret = PlatformSecret::generate().unwrap();
    let keygate = Keygate::builder()
        .pepper(Pepper::generate().unwrap())
        .platform_secret(&secret)
        .build()
        .unwrap();
    (keygate, secret)
}

async fn text(response: Response) -> String {
    String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_closure_rejection_through_route_layer() {
    let (keygate, _) = engine();
    let app = Router::new().route(
        "/admin",
        get(|_: Principal| async { "admin" }).route_layer(
            KeygateLayer::admin(&keygate).with_rejection(
                |error: AuthError, _: &http::request::Parts| {
                    let mut response = Response::new(Body::from(format!("nope: {}", error.code())));
                    *response.status_mut() = StatusCode::IM_A_TEAPOT;
                    response
                },
            ),
        ),
    );
    let response = app
        .oneshot(Request::get("/admin").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
    assert_eq!(text(response).await, "nope: missing_credentials");
}

#[tokio::test]
async fn handlers_can_return_auth_errors() {
    let (keygate, secret) = engine();
    let app = Router::new().route(
        "/mine",
        get(|principal: Principal| async move {
            if principal.tenant.is_none() {
                return Err(AuthError::TenantRequired);
            }
            Ok("yours")
        })
        .route_layer(KeygateLayer::new(&keygate, Access::authenticated())),
    );
    let request = Request::get("/mine")
        .header("x-client-secret", secret.expose())
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert!(
        text(response)
            .await
            .contains("\"code\":\"tenant_required\"")
    );
}
