//! `bench-count <variant> <requests> [keys] [redis-url]`: builds one variant exactly as
//! `bench-server` does, then calls its app in process `requests` times (a random stored
//! key per request for the key variants), after 200 calls that warm it (caches filled,
//! Redis script loaded). Only the function `measured` is meant to be counted: run under
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured*'` and
//! divide by `requests` (bench/callgrind does). No HTTP parsing or socket I/O is counted:
//! the figure is the framework's routing and the authentication, per request.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic
)]

use std::hint::black_box;

use keygate_bench::variant::{ActixApp, App, actix_bare, actix_httpauth, actix_keygate};
use keygate_bench::{Variant, Xorshift, build};
use tower::ServiceExt as _;

const WARM: usize = 200;

#[inline(never)]
fn measured<T>(run: impl FnOnce() -> T) -> T {
    run()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: bench-count <variant> <requests> [keys] [redis-url]";
    let variant = args
        .get(1)
        .and_then(|v| Variant::parse(v))
        .unwrap_or_else(|| panic!("{usage}"));
    let n: usize = args.get(2).and_then(|p| p.parse().ok()).expect(usage);
    let keys: usize = args.get(3).map_or(1_000_000, |k| k.parse().expect(usage));
    let redis_url = args
        .get(4)
        .cloned()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let built = rt.block_on(build(variant, keys, &redis_url));
    let header = built.credentials.header;
    let values = built.credentials.values;
    let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
    let mut pick = move || values[rng.next() as usize % values.len()].clone();
    let picks: Vec<String> = (0..WARM + n).map(|_| pick()).collect();
    let (warm, counted) = picks.split_at(WARM);

    match built.app {
        App::Axum(router) => {
            let requests = |values: &[String]| -> Vec<_> {
                values
                    .iter()
                    .map(|v| {
                        axum::http::Request::get("/")
                            .header(header, v.as_str())
                            .body(axum::body::Body::empty())
                            .unwrap()
                    })
                    .collect()
            };
            rt.block_on(async {
                for req in requests(warm) {
                    assert!(
                        router
                            .clone()
                            .oneshot(req)
                            .await
                            .unwrap()
                            .status()
                            .is_success()
                    );
                }
            });
            let requests = requests(counted);
            let ok = measured(|| {
                rt.block_on(async {
                    let mut ok = 0usize;
                    for req in requests {
                        let response = router.clone().oneshot(req).await.unwrap();
                        ok += usize::from(response.status().is_success());
                        black_box(response);
                    }
                    ok
                })
            });
            assert_eq!(ok, n, "every counted request must pass");
        }
        App::Axum07(router) => {
            let requests = |values: &[String]| -> Vec<_> {
                values
                    .iter()
                    .map(|v| {
                        axum07::http::Request::get("/")
                            .header(header, v.as_str())
                            .body(axum07::body::Body::empty())
                            .unwrap()
                    })
                    .collect()
            };
            rt.block_on(async {
                for req in requests(warm) {
                    assert!(
                        router
                            .clone()
                            .oneshot(req)
                            .await
                            .unwrap()
                            .status()
                            .is_success()
                    );
                }
            });
            let requests = requests(counted);
            let ok = measured(|| {
                rt.block_on(async {
                    let mut ok = 0usize;
                    for req in requests {
                        let response = router.clone().oneshot(req).await.unwrap();
                        ok += usize::from(response.status().is_success());
                        black_box(response);
                    }
                    ok
                })
            });
            assert_eq!(ok, n, "every counted request must pass");
        }
        App::Actix(app) => {
            drop(rt);
            let system = actix_web::rt::System::new();
            match app {
                ActixApp::Bare => run_actix(&system, actix_bare(), header, warm, counted),
                ActixApp::Httpauth => run_actix(&system, actix_httpauth(), header, warm, counted),
                ActixApp::Keygate(keygate) => {
                    run_actix(&system, actix_keygate(keygate), header, warm, counted)
                }
            }
        }
    }
    println!("{} {n}", variant.name());
}

fn run_actix<T, B>(
    system: &actix_web::rt::SystemRunner,
    app: actix_web::App<T>,
    header: &'static str,
    warm: &[String],
    counted: &[String],
) where
    T: actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    T::Future: 'static,
    T::Service: 'static,
    B: actix_web::body::MessageBody + 'static,
{
    use actix_web::test;
    let service = system.block_on(test::init_service(app));
    let requests = |values: &[String]| -> Vec<_> {
        values
            .iter()
            .map(|v| {
                test::TestRequest::get()
                    .uri("/")
                    .insert_header((header, v.as_str()))
                    .to_request()
            })
            .collect()
    };
    system.block_on(async {
        for req in requests(warm) {
            assert!(
                test::call_service(&service, req)
                    .await
                    .status()
                    .is_success()
            );
        }
    });
    let requests = requests(counted);
    let ok = measured(|| {
        system.block_on(async {
            let mut ok = 0usize;
            for req in requests {
                let response = test::call_service(&service, req).await;
                ok += usize::from(response.status().is_success());
                black_box(response);
            }
            ok
        })
    });
    assert_eq!(ok, counted.len(), "every counted request must pass");
}
