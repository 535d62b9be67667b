//! A JWKS endpoint on 127.0.0.1:0 for the tests: it counts the fetches it answers, and
//! the test changes its keys, its `Cache-Control` and whether it is up.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jsonwebtoken::jwk::JwkSet;

pub struct JwksServer {
    pub url: String,
    state: Arc<Shared>,
}

struct Shared {
    fetches: AtomicUsize,
    up: AtomicBool,
    keys: Mutex<JwkSet>,
    cache_control: Mutex<Option<String>>,
}

impl JwksServer {
    /// Serves `keys` at `/jwks` with `Cache-Control: public, max-age=3600`.
    pub async fn start(keys: JwkSet) -> Self {
        let state = Arc::new(Shared {
            fetches: AtomicUsize::new(0),
            up: AtomicBool::new(true),
            keys: Mutex::new(keys),
            cache_control: Mutex::new(Some("public, max-age=3600".into())),
        });
        let app = Router::new()
            .route("/jwks", get(jwks))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, state }
    }

    /// Requests answered so far, failed ones included.
    pub fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    pub fn set_keys(&self, keys: JwkSet) {
        *self.state.keys.lock().unwrap() = keys;
    }

    pub fn set_cache_control(&self, value: Option<&str>) {
        *self.state.cache_control.lock().unwrap() = value.map(str::to_owned);
    }

    /// Down: every fetch is answered 503.
    pub fn set_up(&self, up: bool) {
        self.state.up.store(up, Ordering::SeqCst);
    }

    /// Waits (in real time, at most 5 s) until `n` fetches were answered.
    pub async fn wait_for_fetches(&self, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while self.fetches() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "expected {n} fetches, saw {}",
                self.fetches()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Lets a background fetch that should not happen have its chance, then checks the
    /// count is still `n`.
    pub async fn assert_fetches_stay(&self, n: usize) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(self.fetches(), n);
    }
}

async fn jwks(State(state): State<Arc<Shared>>) -> Response {
    state.fetches.fetch_add(1, Ordering::SeqCst);
    if !state.up.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONNECTION, "close")],
        )
            .into_response();
    }
    let body = serde_json::to_string(&*state.keys.lock().unwrap()).unwrap();
    let cache_control = state.cache_control.lock().unwrap().clone();
    let mut response = (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CONNECTION, "close"),
        ],
        body,
    )
        .into_response();
    if let Some(value) = cache_control {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, value.parse().unwrap());
    }
    response
}
