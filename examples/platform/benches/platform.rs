//! What the platform's app adds to the engine: one API-key request on the platform's own
//! wiring (SQLite behind the key cache, the SQL meter), authenticated by the engine alone
//! (the baseline, measured in the same run) and answered by the whole axum app: routing,
//! keygate's layer, body read, handler, JSON.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use axum::body::Body;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use keygate_core::key::{KeyKind, NewKey};
use keygate_core::{Access, AuthMethod, Environment, Methods};
use keygate_sqlx::setup::{Setup, Start};
use tower::ServiceExt as _;

fn platform_request(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("keygate.db").display());
    let (app, key) = runtime.block_on(async {
        let opened = Setup::new(&url).open(Start::OpenOrCreate).await.unwrap();
        let keygate = opened.keygate_builder().unwrap().build().unwrap();
        let created = keygate
            .create_key(NewKey {
                tenant: Some("acme".into()),
                ..NewKey::new(KeyKind::Secret, Environment::Live)
            })
            .await
            .unwrap();
        let app = platform::App::new(keygate, opened.store().clone())
            .await
            .unwrap();
        (app, created.key.expose().to_owned())
    });
    let router = platform::adapters::axum::router(&app);
    let access = Access::authenticated()
        .accept(Methods::from([AuthMethod::ApiKey]))
        .cost(1);
    let request = || {
        Request::post("/api/detector/upload")
            .header("x-api-key", &key)
            .body(Body::empty())
            .unwrap()
    };

    let mut group = c.benchmark_group("platform_api_key_request");
    group.bench_function("engine_authenticate", |b| {
        b.to_async(&runtime).iter(|| async {
            let request = request();
            let keygate = app.keygate();
            let mut grant = keygate.authenticate(&request, &access).await.unwrap();
            keygate.finish(&mut grant, Some(200)).await;
            black_box(grant)
        });
    });
    group.bench_function("axum_app", |b| {
        b.to_async(&runtime).iter(|| async {
            let response = router.clone().oneshot(request()).await.unwrap();
            assert_eq!(response.status(), 200);
            black_box(response)
        });
    });
    group.finish();
}

criterion_group!(benches, platform_request);
criterion_main!(benches);
