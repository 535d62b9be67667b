//! `proxy::forward` behind the actix middleware, against a real upstream on 127.0.0.1
//! that answers with the request head it received.
#![cfg(feature = "proxy")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read as _, Write as _};
use std::net::TcpListener;

use actix_web::{App, HttpRequest, test, web};
use keygate_actix::KeygateMiddleware;
use keygate_core::credentials::CredentialSources;
use keygate_core::token::{TokenKind, TokenRequest};
use keygate_core::{Access, AuthMethod, Keygate, Methods, Pepper, PlatformSecret};
use keygate_tower::proxy::Proxy;

const APP: &str = "https://app.example.com";

/// An upstream that answers every request with the head it received, as its body.
fn echo_upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let Ok(n) = stream.read(&mut buf) else { break };
                if n == 0 {
                    break;
                }
                head.extend_from_slice(buf.get(..n).unwrap());
            }
            let body = String::from_utf8_lossy(&head).to_string();
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                body.len(),
                body
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    format!("http://{addr}")
}

/// The values the upstream saw for the header `name`.
fn seen<'a>(head: &'a str, name: &str) -> Vec<&'a str> {
    head.lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .filter(|(header, _)| header.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
        .collect()
}

#[actix_web::test]
async fn the_admitting_engines_credentials_do_not_go_up() {
    let secret = PlatformSecret::generate().unwrap();
    let keygate = Keygate::builder()
        .pepper(Pepper::generate().unwrap())
        .platform_secret(&secret)
        .credential_sources(
            CredentialSources::builder()
                .api_key_header("x-acme-key")
                .bearer_header("x-acme-auth")
                .cookie("kg_session")
                .allowed_origin(APP)
                .websocket_protocol("keygate")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let operator = keygate
        .authenticate(
            &http::Request::builder()
                .header("x-client-secret", secret.expose())
                .body(())
                .unwrap(),
            &Access::admin(),
        )
        .await
        .unwrap()
        .into_principal();
    let client = keygate
        .issue_token(&operator, TokenRequest::new(TokenKind::Client))
        .unwrap();
    let token = client.expose();

    // As the module's doc example builds it: the proxy is not told the engine's sources,
    // the middleware in front hands them on.
    let proxy = Proxy::builder()
        .upstream(echo_upstream())
        .key(String::from("upstream-key").into())
        .strip_prefix("/api/proxy")
        .build()
        .unwrap();
    let clients = Access::authenticated().accept(Methods::from([AuthMethod::ClientToken]));
    let app = test::init_service(
        App::new().route(
            "/api/proxy/{path:.*}",
            web::route()
                .to(move |request: HttpRequest, payload: web::Payload| {
                    keygate_actix::proxy::forward(proxy.clone(), request, payload)
                })
                .wrap(KeygateMiddleware::new(&keygate, clients)),
        ),
    )
    .await;

    let bearer = format!("Bearer {token}");
    let protocol = format!("chat, keygate, {token}");
    let cookie = format!("theme=dark; kg_session={token}");
    let cases: [(&str, Vec<(&str, &str)>); 4] = [
        ("x-acme-key", vec![("x-acme-key", token)]),
        ("x-acme-auth", vec![("x-acme-auth", &bearer)]),
        (
            "sec-websocket-protocol",
            vec![
                ("connection", "Upgrade"),
                ("upgrade", "websocket"),
                ("sec-websocket-protocol", &protocol),
            ],
        ),
        ("cookie", vec![("cookie", &cookie), ("origin", APP)]),
    ];
    for (case, headers) in cases {
        let mut request = test::TestRequest::get()
            .uri("/api/proxy/things")
            .insert_header(("x-request-id", case));
        for header in headers {
            request = request.insert_header(header);
        }
        let response = test::call_service(&app, request.to_request()).await;
        assert_eq!(response.status(), 200, "{case}");
        let head = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
        assert!(
            !head.contains(token),
            "{case}: the caller's token went up:\n{head}"
        );
        assert_eq!(seen(&head, "x-request-id"), [case], "{head}");
        assert_eq!(
            seen(&head, "authorization"),
            ["Bearer upstream-key"],
            "{head}"
        );
        match case {
            // The other subprotocols stay.
            "sec-websocket-protocol" => assert_eq!(seen(&head, case), ["chat"], "{head}"),
            _ => assert!(seen(&head, case).is_empty(), "{case} went up:\n{head}"),
        }
    }
}
