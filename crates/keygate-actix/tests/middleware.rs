//! The actix middleware's own API: guards, custom rejections, the loud extractors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use actix_web::{App, HttpResponse, test, web};
use keygate_actix::{KeygateMiddleware, Maybe, Principal, guard};
use keygate_core::key::{KeyKind, NewKey};
use keygate_core::{Access, AuthError, AuthMethod, Environment, Keygate, Pepper, PlatformSecret};

fn engine() -> (Keygate, PlatformSecret) {
    let secret = PlatformSecret::generate().unwrap();
    let keygate = Keygate::builder()
        .pepper(Pepper::generate().unwrap())
        .platform_secret(&secret)
        .build()
        .unwrap();
    (keygate, secret)
}

fn reply(body: &'static str) -> impl Fn() -> std::future::Ready<HttpResponse> + Clone {
    move || std::future::ready(HttpResponse::Ok().body(body))
}

#[actix_web::test]
async fn guards_route_on_what_the_middleware_established() {
    let (keygate, secret) = engine();
    let key = keygate
        .create_key(NewKey {
            tenant: Some("acme".into()),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await
        .unwrap();
    let app = test::init_service(
        App::new().service(
            web::scope("/reports")
                .wrap(KeygateMiddleware::optional(
                    &keygate,
                    Access::authenticated(),
                ))
                .route("", web::get().guard(guard::operator()).to(reply("all")))
                .route(
                    "",
                    web::get().guard(guard::admin()).to(reply("tenant admin")),
                )
                .route(
                    "",
                    web::get()
                        .guard(guard::method(AuthMethod::ApiKey))
                        .to(reply("mine")),
                )
                .route("", web::get().to(reply("public"))),
        ),
    )
    .await;
    let get = |header: Option<(&'static str, String)>| {
        let mut request = test::TestRequest::get().uri("/reports");
        if let Some(header) = header {
            request = request.insert_header(header);
        }
        request.to_request()
    };
    let body = |request| test::call_and_read_body(&app, request);
    assert_eq!(
        body(get(Some(("x-client-secret", secret.expose().to_owned())))).await,
        "all"
    );
    assert_eq!(
        body(get(Some(("x-api-key", key.key.expose().to_owned())))).await,
        "mine"
    );
    assert_eq!(body(get(None)).await, "public");
    let tenant_secret = Some(("x-client-secret", key.key.expose().to_owned()));
    assert_eq!(body(get(tenant_secret)).await, "tenant admin");
}

#[actix_web::test]
async fn guards_without_middleware_never_pass() {
    let (_, secret) = engine();
    let app = test::init_service(
        App::new()
            .route(
                "/",
                web::get().guard(guard::authenticated()).to(reply("secret")),
            )
            .route("/", web::get().to(reply("public"))),
    )
    .await;
    let request = test::TestRequest::get()
        .uri("/")
        .insert_header(("x-client-secret", secret.expose()))
        .to_request();
    assert_eq!(test::call_and_read_body(&app, request).await, "public");
}

#[actix_web::test]
async fn a_closure_rejection_answers_refused_requests() {
    let (keygate, _) = engine();
    let app = test::init_service(
        App::new().service(
            web::resource("/admin")
                .wrap(KeygateMiddleware::admin(&keygate).with_rejection(
                    |error: AuthError, request: &actix_web::HttpRequest| {
                        HttpResponse::ImATeapot().body(format!(
                            "nope: {} at {}",
                            error.code(),
                            request.path()
                        ))
                    },
                ))
                .route(web::get().to(reply("admin"))),
        ),
    )
    .await;
    let response =
        test::call_service(&app, test::TestRequest::get().uri("/admin").to_request()).await;
    assert_eq!(response.status().as_u16(), 418);
    assert_eq!(
        test::read_body(response).await,
        "nope: missing_credentials at /admin"
    );
}

#[actix_web::test]
async fn maybe_principal_without_middleware_fails_loudly() {
    let app = test::init_service(App::new().route(
        "/",
        web::get().to(|Maybe(principal): Maybe<Principal>| async move {
            HttpResponse::Ok().body(format!("{}", principal.is_some()))
        }),
    ))
    .await;
    let response = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(response.status().as_u16(), 500);
    let body = test::read_body(response).await;
    let body = std::str::from_utf8(&body).unwrap();
    assert!(body.contains("KeygateMiddleware"), "{body}");
}

#[actix_web::test]
async fn two_middlewares_on_one_request_path_answer_500_and_charge_once() {
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
    let app = test::init_service(
        App::new().service(
            web::scope("/detect")
                .wrap(KeygateMiddleware::new(&keygate, route.clone()))
                .route(
                    "",
                    web::post()
                        .to(reply("detected"))
                        .wrap(KeygateMiddleware::new(&keygate, route)),
                ),
        ),
    )
    .await;
    let request = test::TestRequest::post()
        .uri("/detect")
        .insert_header(("x-api-key", key.key.expose()))
        .to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status().as_u16(), 500);
    // The outer middleware settled its own charge with the 500: the credit is back.
    assert_eq!(
        response
            .headers()
            .get("x-credits-remaining")
            .map(|value| value.as_bytes()),
        Some(&b"10"[..])
    );
    let body: serde_json::Value = test::read_body_json(response).await;
    assert_eq!(body["code"], "keygate_misconfigured");
}

#[actix_web::test]
async fn several_cookie_lines_are_read_as_one_list() {
    let app_origin = "https://app.example.com";
    let keygate = Keygate::builder()
        .pepper(Pepper::generate().unwrap())
        .credential_sources(
            keygate_core::CredentialSources::builder()
                .cookie("kg_session")
                .allowed_origin(app_origin)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let key = keygate
        .create_key(NewKey::new(KeyKind::Secret, Environment::Live))
        .await
        .unwrap();
    let app = test::init_service(
        App::new().service(
            web::resource("/things")
                .wrap(KeygateMiddleware::new(&keygate, Access::authenticated()))
                .route(web::get().to(reply("ok"))),
        ),
    )
    .await;
    let credential = format!("kg_session={}", key.key.expose());
    let cases = [
        // Other cookies on two lines, the key in X-API-Key.
        vec![
            ("x-api-key", key.key.expose()),
            ("cookie", "theme=dark"),
            ("cookie", "_ga=GA1.2.3"),
        ],
        // The credential cookie on the second line.
        vec![
            ("cookie", "theme=dark"),
            ("cookie", credential.as_str()),
            ("origin", app_origin),
        ],
    ];
    for headers in cases {
        let mut request = test::TestRequest::get().uri("/things");
        for header in &headers {
            request = request.append_header(*header);
        }
        let response = test::call_service(&app, request.to_request()).await;
        assert_eq!(response.status().as_u16(), 200, "{headers:?}");
    }
    // Twice across the lines is still twice.
    let request = test::TestRequest::get()
        .uri("/things")
        .append_header(("cookie", credential.as_str()))
        .append_header(("cookie", credential.as_str()))
        .append_header(("origin", app_origin))
        .to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status().as_u16(), 400);
}
