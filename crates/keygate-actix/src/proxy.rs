//! keygate-tower's [`Proxy`] as an actix-web handler: [`forward`] turns actix's request
//! and payload into an `http::Request` with a streaming body, lets the proxy answer, and
//! streams the answer back. Needs the `proxy` feature.
//!
//! Mount it behind [`KeygateMiddleware`](crate::KeygateMiddleware) on a path with a tail
//! segment, for every method:
//!
//! ```no_run
//! use actix_web::{web, App, HttpRequest};
//! use keygate_actix::KeygateMiddleware;
//! use keygate_core::{Access, AuthMethod, Keygate, Methods};
//! use keygate_tower::proxy::Proxy;
//!
//! # fn app(keygate: Keygate) -> Result<(), Box<dyn std::error::Error>> {
//! let proxy = Proxy::builder()
//!     .upstream("https://api.example.com/v1")
//!     .key(std::env::var("UPSTREAM_KEY")?.into())
//!     .strip_prefix("/api/proxy")
//!     .build()?;
//! let clients = Access::authenticated().accept(Methods::from([AuthMethod::ClientToken]));
//! let app = App::new().route(
//!     "/api/proxy/{path:.*}",
//!     web::route()
//!         .to(move |request: HttpRequest, payload: web::Payload| {
//!             keygate_actix::proxy::forward(proxy.clone(), request, payload)
//!         })
//!         .wrap(KeygateMiddleware::new(&keygate, clients)),
//! );
//! # let _ = app;
//! # Ok(())
//! # }
//! ```

use actix_web::http::StatusCode;
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body_util::BodyExt as _;
use keygate_core::extract::Authentication;
use keygate_tower::proxy::Proxy;
use tower_service::Service as _;

/// Forwards one request through `proxy` and streams the answer back.
///
/// actix's payload is not `Send`, so it is read on the actix runtime and handed to the
/// proxy through a channel of one chunk: reading stops while the upstream is not taking
/// chunks, and nothing is buffered beyond that chunk. The answer's body streams as it
/// arrives, with the upstream's `Content-Length` kept when it sent one.
///
/// The [`Authentication`] the middleware put in the request goes along in the forwarded
/// request's extensions: it names the sources of the engine that admitted the request,
/// so the proxy removes every credential that engine reads (configured header names,
/// the subprotocol entry), even when the proxy was built without
/// `credential_sources`.
pub async fn forward(
    mut proxy: Proxy,
    request: HttpRequest,
    mut payload: web::Payload,
) -> HttpResponse {
    let (chunks, mut next) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    actix_web::rt::spawn(async move {
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|error| std::io::Error::other(error.to_string()));
            if chunks.send(chunk).await.is_err() {
                break;
            }
        }
    });
    let body = http_body_util::StreamBody::new(futures_util::stream::poll_fn(move |cx| {
        next.poll_recv(cx)
            .map(|chunk| chunk.map(|chunk| chunk.map(http_body::Frame::data)))
    }));
    let mut head = http::Request::builder()
        .method(request.method().as_str())
        .uri(request.uri().to_string());
    for (name, value) in request.headers() {
        head = head.header(name.as_str(), value.as_bytes());
    }
    // The middleware's Authentication names the sources of the engine that admitted the
    // request: the proxy removes each of them (a custom header, the subprotocol entry)
    // before forwarding. Without it the proxy knows only its builder's sources.
    if let Some(authentication) = request.extensions().get::<Authentication>() {
        head = head.extension(authentication.clone());
    }
    let Ok(request) = head.body(body) else {
        // actix has parsed the method, URI and headers already: they always convert.
        return HttpResponse::BadRequest().finish();
    };
    let Ok(answer) = proxy.call(request).await;
    let (parts, body) = answer.into_parts();
    let mut response = HttpResponse::build(
        StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
    );
    for (name, value) in &parts.headers {
        if name != http::header::CONTENT_LENGTH {
            response.append_header((name.as_str(), value.as_bytes()));
        }
    }
    let length = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    let stream = body
        .into_data_stream()
        .map(|chunk| chunk.map_err(std::io::Error::other));
    match length {
        Some(length) => response.body(actix_web::body::SizedStream::new(length, stream)),
        None => response.streaming(stream),
    }
}
