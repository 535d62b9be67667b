//! `bench-server <variant> <port> [keys] [creds-file] [redis-url]`: builds one variant
//! (storing `keys` API keys, default 1 000 000, for the variants that store keys), writes
//! the credentials a client should present to `creds-file` (header name, then values,
//! one a line; the wrk script picks a value at random per request) and the memory the
//! stored keys took to `creds-file.mem`, then serves `GET /` on 127.0.0.1:`port` with
//! one worker: a current-thread tokio runtime for axum, one actix worker for actix.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::io::{BufWriter, Write};

use keygate_bench::variant::{ActixApp, App, actix_bare, actix_httpauth, actix_keygate};
use keygate_bench::{Variant, build};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: bench-server <variant> <port> [keys] [creds-file] [redis-url]";
    let variant = args
        .get(1)
        .and_then(|v| Variant::parse(v))
        .unwrap_or_else(|| panic!("{usage}"));
    let port: u16 = args.get(2).and_then(|p| p.parse().ok()).expect(usage);
    let keys: usize = args.get(3).map_or(1_000_000, |k| k.parse().expect(usage));
    let creds = args.get(4).cloned();
    let redis_url = args
        .get(5)
        .cloned()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let built = rt.block_on(build(variant, keys, &redis_url));
    if let Some(path) = &creds {
        let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
        built.credentials.write(&mut out);
        out.flush().unwrap();
        let (count, bytes) = built.stored.unwrap_or((0, 0));
        std::fs::write(format!("{path}.mem"), format!("{count} {bytes}\n")).unwrap();
    }
    // The key texts were for the client; the server keeps only its store.
    drop(built.credentials);
    match built.app {
        App::Axum(router) => rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap();
            println!("ready {}", variant.name());
            axum::serve(listener, router).await.unwrap();
        }),
        App::Axum07(router) => rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap();
            println!("ready {}", variant.name());
            axum07::serve(listener, router).await.unwrap();
        }),
        App::Actix(app) => {
            drop(rt);
            actix_web::rt::System::new().block_on(async move {
                let addr = ("127.0.0.1", port);
                let server = match app {
                    ActixApp::Bare => actix_web::HttpServer::new(actix_bare)
                        .workers(1)
                        .bind(addr)
                        .unwrap()
                        .run(),
                    ActixApp::Httpauth => actix_web::HttpServer::new(actix_httpauth)
                        .workers(1)
                        .bind(addr)
                        .unwrap()
                        .run(),
                    ActixApp::Keygate(keygate) => {
                        actix_web::HttpServer::new(move || actix_keygate(keygate.clone()))
                            .workers(1)
                            .bind(addr)
                            .unwrap()
                            .run()
                    }
                };
                println!("ready {}", variant.name());
                server.await.unwrap();
            });
        }
    }
}
