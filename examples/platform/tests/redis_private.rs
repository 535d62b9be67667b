//! The platform on a private `redis-server` (started on a free port, killed and restarted
//! by the test; the shared Redis is never touched): two processes on one SQLite file
//! revoke through Redis pub/sub; Redis killed in the middle of a concurrent burst; a
//! one-time token minted before a `FLUSHALL`. Skipped unless `KEYGATE_TEST_REDIS_URL` is
//! set (the Redis tests' switch) and `redis-server` and `redis-cli` are on the PATH.
#![cfg(unix)]
#![allow(
    // Every child is killed and waited for in its `Drop`.
    clippy::zombie_processes,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const SECRET: &str = "redis-private-admin-secret-0123456789ab";

/// A `redis-server` of the test's own, without persistence.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// On a free port, or `None` (said on stderr) when the test cannot run.
    fn start() -> Option<Self> {
        if std::env::var("KEYGATE_TEST_REDIS_URL").is_err() {
            eprintln!("skipping: set KEYGATE_TEST_REDIS_URL to run the Redis tests");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Self { port, child: None };
        if !redis.restart() {
            eprintln!("skipping: redis-server is not on the PATH");
            return None;
        }
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server on its port; whether it answers within 5 s.
    fn restart(&mut self) -> bool {
        let Ok(child) = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        else {
            return false;
        };
        self.child = Some(child);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if self.cli(&["PING"]) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// SIGKILL: gone at once, nothing saved.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn cli(&self, args: &[&str]) -> bool {
        Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

struct Running {
    child: Child,
    base: String,
}

impl Running {
    fn start(binary: &str, dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(binary);
        command
            .current_dir(dir)
            .env("KEYGATE_ADDR", "127.0.0.1:0")
            .env_remove("KEYGATE_PEPPER")
            .env_remove("KEYGATE_TOKEN_SECRET")
            .env_remove("KEYGATE_JWT_ISSUER")
            .env_remove("KEYGATE_JWKS_URL")
            .env_remove("KEYGATE_FIREBASE_PROJECT")
            .env("RUST_LOG", "off")
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

fn http_client() -> reqwest::Client {
    keygate_core::http::https_client_builder()
        .expect("keygate's HTTP client builder")
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the platform answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn create_key(base: &str, body: Value) -> (String, String) {
    let (status, key) = send(
        http_client()
            .post(format!("{base}/api/v1/admin/keys"))
            .header("x-client-secret", SECRET)
            .json(&body),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    (
        key["id"].as_str().unwrap().to_owned(),
        key["key"].as_str().unwrap().to_owned(),
    )
}

fn sqlite_env<'a>(database_url: &'a str, redis_url: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("KEYGATE_DATABASE_URL", database_url),
        ("KEYGATE_REDIS_URL", redis_url),
        ("KEYGATE_ADMIN_SECRET", SECRET),
    ]
}

/// Two processes (axum and actix-web) on one SQLite file: without Redis they hear of
/// each other's revocations by polling the file's change table (about a second); with
/// `KEYGATE_REDIS_URL`, over Redis pub/sub, well within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_sqlite_file_revoke_through_redis() {
    let Some(redis) = PrivateRedis::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("keygate.db").display());
    let redis_url = redis.url();
    let env = sqlite_env(&database_url, &redis_url);
    // One after the other: the first start creates the database and the pepper file.
    let axum = Running::start(env!("CARGO_BIN_EXE_platform"), dir.path(), &env);
    let actix = Running::start(env!("CARGO_BIN_EXE_platform-actix"), dir.path(), &env);
    let client = http_client();
    let mut times = Vec::new();
    for round in 0..5 {
        let (from, to) = if round % 2 == 0 {
            (&axum.base, &actix.base)
        } else {
            (&actix.base, &axum.base)
        };
        let (id, key) = create_key(
            from,
            json!({"kind": "secret", "environment": "live", "tenant": "acme"}),
        )
        .await;
        // Both caches hold the live key (the second lookup is from memory).
        for base in [from, to, to] {
            let (status, body) = send(
                client
                    .post(format!("{base}/api/detector/upload"))
                    .header("x-api-key", &key),
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
        let (status, _) = send(
            client
                .delete(format!("{from}/api/v1/admin/keys/{id}"))
                .header("x-client-secret", SECRET),
        )
        .await;
        assert_eq!(status, 204);
        let revoked = Instant::now();
        loop {
            let (status, body) = send(
                client
                    .post(format!("{to}/api/detector/upload"))
                    .header("x-api-key", &key),
            )
            .await;
            if status == 401 {
                assert_eq!(body["code"], "key_revoked");
                break;
            }
            assert_eq!(status, 200, "{body}");
            assert!(
                revoked.elapsed() < Duration::from_secs(1),
                "the other process still accepts the key 1 s after its revocation"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        times.push(revoked.elapsed());
    }
    eprintln!("SQLite file + Redis: revoked on one process, refused by the other after {times:?}");
    // Redis pub/sub, not the SQLite poll (every second), carried every one.
    times.sort();
    assert!(
        times[times.len() / 2] < Duration::from_millis(250),
        "median {:?}: the notices did not come over Redis",
        times[times.len() / 2]
    );
}

/// Redis killed (SIGKILL) in the middle of a concurrent burst, then restarted on the same
/// port: every answer is 200 or 503 `auth_unavailable`, the balance read back is the
/// initial one less the successes, and service comes back without a platform restart.
/// Then a one-time token minted before a `FLUSHALL` is refused after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_killed_mid_burst_answers_503_and_loses_no_credit() {
    let Some(mut redis) = PrivateRedis::start() else {
        return;
    };
    // A new deployment: its empty Redis is declared complete, so tokens count at once.
    assert!(redis.cli(&["SET", "{keygate}:epoch", "0"]));
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("keygate.db").display());
    let redis_url = redis.url();
    let env = sqlite_env(&database_url, &redis_url);
    let platform = Running::start(env!("CARGO_BIN_EXE_platform"), dir.path(), &env);
    let base = platform.base.clone();
    const CREDITS: i64 = 1_000_000;
    // Metered on Redis (a rate limit that is never reached) and in SQL (credits).
    let (id, key) = create_key(
        &base,
        json!({"kind": "secret", "environment": "live", "tenant": "acme", "credits": CREDITS,
               "rate_limit": {"limit": 1_000_000, "window_seconds": 1}}),
    )
    .await;

    // 16 tasks fire without pause until told to stop, recording every answer in order.
    let stop = Arc::new(AtomicBool::new(false));
    let answers: Arc<Mutex<Vec<(Instant, u16, Value)>>> = Arc::default();
    let client = http_client();
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (stop, answers, client) = (Arc::clone(&stop), Arc::clone(&answers), client.clone());
            let (url, key) = (format!("{base}/api/detect"), key.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let (status, body) = send(client.post(&url).header("x-api-key", &key)).await;
                    answers.lock().unwrap().push((Instant::now(), status, body));
                }
            })
        })
        .collect();
    let count = |status: u16| {
        answers
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, s, _)| *s == status)
            .count()
    };
    // Up, under load.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before_kill = count(200);
    assert!(before_kill > 0, "nothing served before the kill");
    // Killed mid-burst; the burst goes on.
    redis.kill();
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, _) = send(client.get(format!("{base}/readyz"))).await;
    assert_eq!(status, 503, "/readyz while Redis is down");
    // Back on the same port, empty; the burst still going.
    assert!(redis.restart(), "redis-server restarts");
    let restarted = Instant::now();
    let back = loop {
        let served_after = answers
            .lock()
            .unwrap()
            .iter()
            .find(|(at, status, _)| *at > restarted && *status == 200)
            .map(|(at, _, _)| *at);
        if let Some(at) = served_after {
            break at - restarted;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(10),
            "no request served 10 s after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }

    let answers = std::mem::take(&mut *answers.lock().unwrap());
    let unexpected: Vec<_> = answers
        .iter()
        .filter(|(_, status, body)| {
            !(*status == 200 || (*status == 503 && body["code"] == "auth_unavailable"))
        })
        .take(5)
        .collect();
    assert!(
        unexpected.is_empty(),
        "answers other than 200 and 503: {unexpected:?}"
    );
    let served = answers.iter().filter(|(_, s, _)| *s == 200).count();
    let unavailable = answers.iter().filter(|(_, s, _)| *s == 503).count();
    let while_down = answers
        .iter()
        .filter(|(at, _, _)| *at > killed + Duration::from_millis(100) && *at < restarted)
        .collect::<Vec<_>>();
    assert!(
        !while_down.is_empty() && while_down.iter().all(|(_, s, _)| *s == 503),
        "while Redis was down, only 503s ({} answers then)",
        while_down.len()
    );
    assert!(
        answers
            .iter()
            .any(|(at, s, _)| *at > restarted && *s == 200)
    );
    let (status, _) = send(client.get(format!("{base}/readyz"))).await;
    assert_eq!(status, 200, "/readyz once Redis is back");
    // The balance read back equals the successes: nothing lost, nothing overspent.
    let (status, shown) = send(
        client
            .get(format!("{base}/api/v1/admin/keys/{id}"))
            .header("x-client-secret", SECRET),
    )
    .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(
        shown["credits"],
        json!(CREDITS - i64::try_from(served).unwrap()),
        "{served} served"
    );
    eprintln!(
        "Redis killed mid-burst: {} answers, {served} served ({before_kill} before the kill), \
         {unavailable} 503 auth_unavailable, nothing else; served again {back:?} after the \
         restart; balance {} = {CREDITS} - {served}",
        answers.len(),
        shown["credits"]
    );

    // A one-time token minted before a FLUSHALL is refused after it.
    assert!(redis.cli(&["SET", "{keygate}:epoch", "0"]));
    let mint = || {
        client
            .post(format!("{base}/api/v1/token"))
            .header("x-client-secret", SECRET)
            .json(&json!({"actionResource": "magic-background", "actionType": "create"}))
    };
    let (status, minted) = send(mint()).await;
    assert_eq!(status, 200, "{minted}");
    let before_flush = minted["token"].as_str().unwrap().to_owned();
    let (status, minted) = send(mint()).await;
    assert_eq!(status, 200, "{minted}");
    let used_before = minted["token"].as_str().unwrap().to_owned();
    let use_token = |token: &str| {
        client
            .post(format!("{base}/api/v1/magic-background"))
            .bearer_auth(token)
    };
    assert_eq!(
        send(use_token(&used_before)).await.0,
        200,
        "a fresh token works"
    );
    assert!(redis.cli(&["FLUSHALL"]));
    for token in [&before_flush, &used_before] {
        let (status, body) = send(use_token(token)).await;
        assert_eq!(
            (status, &body["code"]),
            (401, &json!("token_used")),
            "{body}"
        );
    }
}
