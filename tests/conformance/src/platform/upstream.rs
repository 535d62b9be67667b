//! An upstream API for the proxy scenarios, on 127.0.0.1: it answers with what reached it,
//! so a scenario sees what the proxy forwarded.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::adapters::AbortOnDrop;

/// The upstream key the platform is given in the scenarios.
pub const UPSTREAM_KEY: &str = "upstream-secret-key-0123456789";

/// An echo server; stops when dropped.
///
/// - `GET /base/status/{code}`: that status with `x-upstream: yes`, `set-cookie`, and
///   hop-by-hop headers (`connection: x-hop`, `x-hop`, `proxy-authenticate`) that must
///   not come back;
/// - `GET /base/bytes/{n}`: `n` bytes, made as they are sent;
/// - anything else: `{"method", "path", "query", "headers": [[name, value]…], "length",
///   "body"}` (the body as text when it is at most 4 KiB), the body read chunk by chunk.
pub struct Upstream {
    /// Where it listens.
    pub addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    _task: AbortOnDrop,
}

impl Upstream {
    /// Starts one on `127.0.0.1:0`.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the upstream");
        let addr = listener.local_addr().expect("its address");
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let counted = Arc::clone(&counted);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        counted.fetch_add(1, Ordering::SeqCst);
                        answer(request)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            requests,
            _task: AbortOnDrop(task),
        }
    }

    /// Its URL with the base path `/base`.
    pub fn url(&self) -> String {
        format!("http://{}/base", self.addr)
    }

    /// How many requests reached it.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

async fn answer(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path().to_owned();
    if let Some(code) = path.strip_prefix("/base/status/") {
        let mut response = Response::new(Full::from("from upstream").boxed());
        *response.status_mut() =
            http::StatusCode::from_u16(code.parse().unwrap_or(500)).unwrap_or_default();
        for (name, value) in [
            ("x-upstream", "yes"),
            ("set-cookie", "upstream=1"),
            ("connection", "x-hop"),
            ("x-hop", "1"),
            ("proxy-authenticate", "Basic"),
        ] {
            response
                .headers_mut()
                .insert(name, http::HeaderValue::from_static(value));
        }
        return Ok(response);
    }
    if let Some(count) = path.strip_prefix("/base/bytes/") {
        let total: usize = count.parse().unwrap_or(0);
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        let chunks = futures_util::stream::unfold(total, move |left| {
            let chunk = chunk.clone();
            async move {
                (left > 0).then(|| {
                    let take = left.min(chunk.len());
                    (
                        Ok::<_, Infallible>(Frame::data(chunk.slice(..take))),
                        left - take,
                    )
                })
            }
        });
        return Ok(Response::new(StreamBody::new(chunks).boxed()));
    }
    let (parts, mut body) = request.into_parts();
    let mut length = 0usize;
    let mut kept = Vec::new();
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            length += data.len();
            if kept.len() < 4096 {
                kept.extend_from_slice(data);
            }
        }
    }
    let headers: Vec<Value> = parts
        .headers
        .iter()
        .map(|(name, value)| json!([name.as_str(), value.to_str().unwrap_or("?")]))
        .collect();
    let echo = json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers,
        "length": length,
        "body": (length <= 4096).then(|| String::from_utf8_lossy(&kept).into_owned()),
    });
    let mut response = Response::new(Full::from(echo.to_string()).boxed());
    response.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// The values the upstream saw for header `name` in an echo.
pub fn seen<'a>(echo: &'a Value, name: &str) -> Vec<&'a str> {
    echo["headers"]
        .as_array()
        .map(|pairs| {
            pairs
                .iter()
                .filter(|pair| pair[0] == name)
                .filter_map(|pair| pair[1].as_str())
                .collect()
        })
        .unwrap_or_default()
}
