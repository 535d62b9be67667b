//! What the tower layer adds to the engine: the same API-key request authenticated by
//! `Keygate::authenticate` directly (the baseline, measured in the same run) and through
//! `KeygateService` around a trivial service.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use keygate_core::key::{KeyKind, NewKey};
use keygate_core::{Access, Environment, Keygate, Pepper, PlatformSecret};
use keygate_tower::KeygateLayer;
use tower::{Layer, Service, ServiceExt, service_fn};

fn layer_overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let secret = PlatformSecret::generate().unwrap();
    let keygate = Keygate::builder()
        .pepper(Pepper::generate().unwrap())
        .platform_secret(&secret)
        .build()
        .unwrap();
    let created = runtime
        .block_on(keygate.create_key(NewKey {
            tenant: Some("acme".into()),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        }))
        .unwrap();
    let access = Access::scoped("magic-background:create").unwrap();
    let request = || {
        Request::post("/api/v1/magic-background")
            .header("x-api-key", created.key.expose())
            .body(String::new())
            .unwrap()
    };
    let service =
        KeygateLayer::new(&keygate, access.clone()).layer(service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));

    let mut group = c.benchmark_group("api_key_request");
    group.bench_function("engine_authenticate", |b| {
        b.to_async(&runtime).iter(|| async {
            let request = request();
            let mut grant = keygate.authenticate(&request, &access).await.unwrap();
            keygate.settle(&mut grant, 200).await.unwrap();
            let mut response = Response::new(String::new());
            grant.apply_headers(response.headers_mut());
            black_box(response)
        });
    });
    group.bench_function("tower_layer", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut service = service.clone();
            let response = service
                .ready()
                .await
                .unwrap()
                .call(request())
                .await
                .unwrap();
            black_box(response)
        });
    });
    group.finish();
}

criterion_group!(benches, layer_overhead);
criterion_main!(benches);
