//! The load script: the three platform binaries under the same load, one after the other,
//! in one run, so their figures compare (the machine's noise hits all three alike).
//!
//! ```text
//! cargo build --release -p platform --bins
//! cargo run --release -p platform --example load -- --seconds 10 --concurrency 32
//! ```
//!
//! Each binary starts in a temporary directory on its own SQLite deployment. The script
//! reads the admin secret from the banner, creates a key with a rate limit high enough
//! never to trip, and `--concurrency` clients send `POST <route>` with that key for
//! `--seconds` over keep-alive connections. It prints requests per second, latency
//! percentiles and each binary's throughput against the first (axum). `--route
//! /api/detect` adds a credit debit (a database write) to every request; the default
//! `/api/detector/upload` is free (a key check from the cache, no write).
// A measuring script: it stops at the first thing that goes wrong, with a message; the
// server it started is killed and waited for by `Server`'s `Drop`.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::zombie_processes
)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

struct Options {
    seconds: u64,
    concurrency: usize,
    route: String,
}

fn options() -> Options {
    let mut options = Options {
        seconds: 10,
        concurrency: 32,
        route: "/api/detector/upload".to_owned(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_default();
        match arg.as_str() {
            "--seconds" => options.seconds = value.parse().expect("--seconds N"),
            "--concurrency" => options.concurrency = value.parse().expect("--concurrency N"),
            "--route" => options.route = value,
            other => panic!("unknown option {other}: --seconds N --concurrency N --route PATH"),
        }
    }
    options
}

/// The binaries beside this example (`target/<profile>/platform*`).
fn binary(name: &str) -> PathBuf {
    let example = std::env::current_exe().expect("the example's path");
    let profile = example
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/examples/load");
    let path = profile.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --release -p platform --bins` first",
        path.display()
    );
    path
}

struct Server {
    child: Child,
    base: String,
    secret: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(binary: &Path) -> Server {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut child = Command::new(binary)
        .current_dir(dir.path())
        .env("KEYGATE_ADDR", "127.0.0.1:0")
        // A deployment of its own: never the caller's database or secrets.
        .env_remove("KEYGATE_DATABASE_URL")
        .env_remove("KEYGATE_PEPPER")
        .env_remove("KEYGATE_ADMIN_SECRET")
        .env_remove("KEYGATE_TOKEN_SECRET")
        // The access log would measure the terminal, not the platform.
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut secret = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a banner line");
        if let Some(found) = line.strip_prefix("admin secret: ") {
            secret = found.to_owned();
        }
        if let Some(base) = line.strip_prefix("listening on ") {
            return Server {
                child,
                base: base.to_owned(),
                secret,
                _dir: dir,
            };
        }
    }
    panic!("{} exited before it listened", binary.display());
}

struct Figures {
    requests: usize,
    errors: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

async fn load(server: &Server, options: &Options) -> Figures {
    let client = http_client();
    let created: serde_json::Value = client
        .post(format!("{}/api/v1/admin/keys", server.base))
        .header("x-client-secret", &server.secret)
        .json(&json!({
            "kind": "secret",
            "environment": "test",
            "tenant": "load",
            "rate_limit": {"limit": 1_000_000, "window_seconds": 1},
            "credits": 1_000_000_000_u64,
        }))
        .send()
        .await
        .expect("create a key")
        .json()
        .await
        .expect("the key");
    let key = created["key"].as_str().expect("key text").to_owned();
    let url = format!("{}{}", server.base, options.route);
    // Warm up: the key enters the cache, connections open.
    for _ in 0..100 {
        let _ = client.post(&url).header("x-api-key", &key).send().await;
    }
    let until = Instant::now() + Duration::from_secs(options.seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..options.concurrency)
        .map(|_| {
            let (client, url, key) = (client.clone(), url.clone(), key.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                while Instant::now() < until {
                    let sent = Instant::now();
                    match client.post(&url).header("x-api-key", &key).send().await {
                        Ok(response) if response.status().is_success() => {
                            let _ = response.bytes().await;
                            latencies.push(sent.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (worker_latencies, worker_errors) = worker.await.expect("a worker");
        latencies.extend(worker_latencies);
        errors += worker_errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |fraction: f64| {
        let index =
            ((latencies.len() as f64 * fraction) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(index).copied().unwrap_or_default()
    };
    Figures {
        requests: latencies.len(),
        errors,
        per_second: latencies.len() as f64 / elapsed,
        p50: at(0.50),
        p99: at(0.99),
    }
}

#[tokio::main]
async fn main() {
    let options = options();
    println!(
        "{} s per binary, {} clients, POST {}",
        options.seconds, options.concurrency, options.route
    );
    println!(
        "{:<16} {:>10} {:>8} {:>12} {:>10} {:>10} {:>9}",
        "binary", "requests", "errors", "requests/s", "p50", "p99", "vs axum"
    );
    let mut baseline = None;
    for name in ["platform", "platform-actix", "platform-tower"] {
        let server = start(&binary(name));
        let figures = load(&server, &options).await;
        drop(server);
        let base = *baseline.get_or_insert(figures.per_second);
        println!(
            "{:<16} {:>10} {:>8} {:>12.0} {:>10.2?} {:>10.2?} {:>8.2}x",
            name,
            figures.requests,
            figures.errors,
            figures.per_second,
            figures.p50,
            figures.p99,
            figures.per_second / base
        );
    }
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
