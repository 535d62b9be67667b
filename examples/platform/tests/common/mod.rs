//! What the platform's multi-process tests share: a running binary, an HTTP client, and
//! the admin call that creates a key.
#![allow(
    // Every child is killed and waited for in `Running`'s `Drop`.
    clippy::zombie_processes,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// A platform binary started on a free port, killed and waited for when dropped.
pub(crate) struct Running {
    child: Child,
    /// `http://127.0.0.1:<port>`, from the line the binary prints when it listens.
    pub(crate) base: String,
}

impl Running {
    /// Starts `binary` in `dir` with `env` (keygate's other settings cleared) and
    /// `RUST_LOG=log`; returns once it prints where it listens.
    pub(crate) fn start(binary: &str, dir: &Path, env: &[(&str, &str)], log: &str) -> Self {
        let mut command = Command::new(binary);
        command
            .current_dir(dir)
            .env("KEYGATE_ADDR", "127.0.0.1:0")
            .env_remove("KEYGATE_PEPPER")
            .env_remove("KEYGATE_TOKEN_SECRET")
            .env_remove("KEYGATE_JWT_ISSUER")
            .env_remove("KEYGATE_JWKS_URL")
            .env_remove("KEYGATE_FIREBASE_PROJECT")
            .env("RUST_LOG", log)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the binary starts");
        let stdout = child.stdout.take().unwrap();
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        loop {
            match received.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(base) = line.strip_prefix("listening on ") {
                        return Self {
                            child,
                            base: base.to_owned(),
                        };
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("{binary} did not listen");
                }
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// keygate's HTTP client (the platform's roots), with a 10 s timeout.
pub(crate) fn http_client() -> reqwest::Client {
    keygate_core::http::https_client_builder()
        .expect("keygate's HTTP client builder")
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

/// Sends `request`; its status and JSON body (`Null` when the body is not JSON).
pub(crate) async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the platform answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Creates a key with the platform secret `secret`: its id and its secret.
pub(crate) async fn create_key(base: &str, secret: &str, body: Value) -> (String, String) {
    let (status, key) = send(
        http_client()
            .post(format!("{base}/api/v1/admin/keys"))
            .header("x-client-secret", secret)
            .json(&body),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    (
        key["id"].as_str().unwrap().to_owned(),
        key["key"].as_str().unwrap().to_owned(),
    )
}
