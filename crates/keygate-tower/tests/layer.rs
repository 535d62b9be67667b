//! The tower layer's own API: custom rejections, failing inner services, cloning.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;

use http::{Request, Response, StatusCode};
use keygate_core::key::{KeyKind, NewKey};
use keygate_core::{
    Access, AuthError, AuthMethod, Environment, Keygate, Methods, Pepper, PlatformSecret,
};
use keygate_tower::{KeygateLayer, KeygateService, ProblemJson};
use tower::{Layer, ServiceExt, service_fn};

fn engine() -> (Keygate, PlatformSecret) {
    let secret = PlatformSecret::generate().unwrap();
    let keygate = Keygate::builder()
        .pepper(Pepper::generate().unwrap())
        .platform_secret(&secret)
        .build()
        .unwrap();
    (keygate, secret)
}

async fn ok(_: Request<String>) -> Result<Response<String>, Infallible> {
    Ok(Response::new("served".to_owned()))
}

#[tokio::test]
async fn a_closure_rejection_answers_refused_requests() {
    let (keygate, _) = engine();
    let service = KeygateLayer::admin(&keygate)
        .with_rejection(|error: AuthError, request: &http::request::Parts| {
            let mut response =
                Response::new(format!("nope: {} at {}", error.code(), request.uri.path()));
            *response.status_mut() = StatusCode::IM_A_TEAPOT;
            response
        })
        .layer(service_fn(ok));
    let request = Request::get("/admin").body(String::new()).unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
    assert_eq!(response.body(), "nope: missing_credentials at /admin");
}

#[tokio::test]
async fn the_default_rejection_is_the_contract_response() {
    let (keygate, _) = engine();
    let service = KeygateLayer::admin(&keygate).layer(service_fn(ok));
    let response = service.oneshot(Request::new(String::new())).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="keygate""#
    );
}

#[tokio::test]
async fn an_inner_service_error_gives_the_credits_back() {
    let (keygate, _) = engine();
    let created = keygate
        .create_key(NewKey {
            tenant: Some("acme".into()),
            credits: Some(3),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await
        .unwrap();
    let access = Access::authenticated()
        .accept(Methods::from([AuthMethod::ApiKey]))
        .cost(1);
    let failing = service_fn(|_: Request<String>| async {
        Err::<Response<String>, _>(std::io::Error::other("backend down"))
    });
    let service = KeygateLayer::new(&keygate, access.clone()).layer(failing);
    let request = Request::builder()
        .header("x-api-key", created.key.expose())
        .body(String::new())
        .unwrap();
    assert!(service.oneshot(request).await.is_err());
    assert_eq!(keygate.credits(&created.record).await.unwrap(), Some(3));

    // A served request is charged.
    let service = KeygateLayer::new(&keygate, access).layer(service_fn(ok));
    let request = Request::builder()
        .header("x-api-key", created.key.expose())
        .body(String::new())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.headers()["x-credits-remaining"], "2");
    assert_eq!(keygate.credits(&created.record).await.unwrap(), Some(2));
}

#[test]
fn layers_and_services_are_clone_send_and_sync() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<KeygateLayer>();
    assert_traits::<
        KeygateService<
            tower::util::BoxCloneSyncService<Request<String>, Response<String>, Infallible>,
            ProblemJson,
        >,
    >();
}

#[tokio::test]
async fn two_layers_on_one_request_path_answer_500_and_charge_once() {
    let (keygate, _) = engine();
    let key = keygate
        .create_key(NewKey {
            tenant: Some("acme".into()),
            credits: Some(10),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await
        .unwrap();
    let route = Access::authenticated().cost(1);
    let inner = KeygateLayer::new(&keygate, route.clone()).layer(service_fn(ok));
    let service = KeygateLayer::new(&keygate, route).layer(inner);
    let request = Request::post("/detect")
        .header("x-api-key", key.key.expose())
        .body(String::new())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    // The outer layer settled its own charge with the 500: the credit is back.
    assert_eq!(response.headers()["x-credits-remaining"], "10");
    assert!(response.body().contains("keygate_misconfigured"));
}
