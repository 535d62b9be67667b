//! The command line and a running platform on one database: a key the CLI creates opens
//! the platform's routes, and a key the CLI revokes is refused by the platform, which
//! had it cached, within its cache's poll (SQLite) or notice (Postgres).

use std::time::{Duration, Instant};

use keygate_sqlx::setup::{Setup, Start};

use crate::common::{Deployment, on_every_store};

on_every_store!(a_running_platform_follows_the_cli);

/// The platform's app, served on `127.0.0.1:0` until the returned task is aborted.
async fn platform(d: &Deployment) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let opened = Setup::new(&d.url)
        .pepper_file(d.pepper_file())
        .open(Start::OpenOrCreate)
        .await
        .unwrap();
    assert!(
        opened.new_admin_secret().is_none(),
        "init set the deployment up"
    );
    let keygate = opened.keygate_builder().unwrap().build().unwrap();
    let app = platform::App::new(keygate, opened.store().clone())
        .await
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = platform::adapters::axum::router(&app);
    let server = tokio::spawn(platform::adapters::axum::serve(router, listener));
    (base, server)
}

async fn detect(base: &str, key: &str) -> (u16, String) {
    let response = http_client()
        .post(format!("{base}/api/detect"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn a_running_platform_follows_the_cli(d: &Deployment) {
    d.init();
    let (base, server) = platform(d).await;

    let (id, key) = d.create(&["--kind", "secret", "--tenant", "acme"]);
    let (status, body) = detect(&base, &key).await;
    assert_eq!(
        status, 200,
        "a key the CLI created opens the platform: {body}"
    );

    d.run(&["keys", "revoke", &id]).ok();
    let revoked_at = Instant::now();
    let refused = loop {
        let (status, body) = detect(&base, &key).await;
        if status == 401 {
            break body;
        }
        assert_eq!(status, 200, "{body}");
        assert!(
            revoked_at.elapsed() < Duration::from_secs(10),
            "the platform still accepts a key the CLI revoked"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(refused.contains(r#""code":"key_revoked""#), "{refused}");
    server.abort();
}

/// A plain-HTTP client, built as keygate builds its own (`keygate_core::http`: TLS
/// configured with its crypto provider, so nothing depends on a process-wide one, which
/// reqwest's `rustls-no-provider` would otherwise need).
fn http_client() -> reqwest::Client {
    keygate_core::http::https_client_builder()
        .expect("keygate's HTTP client builder")
        .build()
        .expect("an HTTP client")
}
