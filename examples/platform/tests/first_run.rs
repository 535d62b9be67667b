//! The real binaries, as a new user meets them: started as processes in an empty
//! directory, the admin secret read from what they print, the README's walk-through
//! driven over HTTP, then a Ctrl-C and a second start that prints no secret.
#![cfg(unix)]
#![allow(
    // Every child is killed and waited for in `Running`'s `Drop`.
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
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

/// A running binary and what it printed before it listened.
struct Running {
    child: Child,
    base: String,
    banner: Vec<String>,
    logs: mpsc::Receiver<Vec<String>>,
}

impl Running {
    /// Starts `binary` in `dir` with `env`, and waits (at most 60 s) for its
    /// "listening on" line.
    fn start(binary: &str, dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(binary);
        command
            .current_dir(dir)
            .env("KEYGATE_ADDR", "127.0.0.1:0")
            .env_remove("KEYGATE_DATABASE_URL")
            .env_remove("KEYGATE_PEPPER")
            .env_remove("KEYGATE_ADMIN_SECRET")
            .env_remove("KEYGATE_TOKEN_SECRET")
            .env_remove("KEYGATE_JWT_ISSUER")
            .env_remove("KEYGATE_JWT_AUDIENCE")
            .env_remove("KEYGATE_JWKS_URL")
            .env_remove("KEYGATE_FIREBASE_PROJECT")
            .env_remove("KEYGATE_TENANT_CLAIM")
            .env_remove("KEYGATE_REQUIRE_HTTPS")
            .env_remove("KEYGATE_TRUSTED_PROXIES")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the binary starts");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let (log_lines, logs) = mpsc::channel();
        std::thread::spawn(move || {
            let text: Vec<String> = BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
                .collect();
            let _ = log_lines.send(text);
        });
        let mut banner = Vec::new();
        loop {
            match received.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(base) = line.strip_prefix("listening on ") {
                        return Self {
                            child,
                            base: base.to_owned(),
                            banner,
                            logs,
                        };
                    }
                    banner.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let logs = logs
                        .recv_timeout(Duration::from_secs(5))
                        .unwrap_or_default();
                    panic!(
                        "{binary} did not listen; printed {banner:?}; logged:\n{}",
                        logs.join("\n")
                    );
                }
            }
        }
    }

    /// The admin secret the banner shows, if it shows one.
    fn admin_secret(&self) -> Option<String> {
        self.banner
            .iter()
            .find_map(|line| line.strip_prefix("admin secret: "))
            .map(str::to_owned)
    }

    /// Ctrl-C, then the exit status (at most 30 s) and everything it logged.
    fn interrupt(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill -INT");
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                let logs = self
                    .logs
                    .recv_timeout(Duration::from_secs(10))
                    .unwrap_or_default();
                return (status, logs.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        panic!("the binary did not stop on Ctrl-C");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn send(request: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.expect("the platform answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// The README's walk-through against a running platform; returns the created key and
/// the token.
async fn walk_through(base: &str, secret: &str) -> (String, String) {
    let client = http_client();

    // Create a key.
    let (status, _, key) = send(
        client
            .post(format!("{base}/api/v1/admin/keys"))
            .header("x-client-secret", secret)
            .json(&json!({"kind": "secret", "environment": "test", "tenant": "acme"})),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    let text = key["key"].as_str().unwrap().to_owned();
    assert!(text.starts_with("sk_test_"));

    // Mint a one-time token.
    let (status, _, minted) = send(
        client
            .post(format!("{base}/api/v1/token"))
            .header("x-client-secret", secret)
            .json(&json!({"actionResource": "magic-background", "actionType": "create"})),
    )
    .await;
    assert_eq!(status, 200, "{minted}");
    assert_eq!(minted["expiresIn"], 300);
    let token = minted["token"].as_str().unwrap().to_owned();

    // An admin route with the token: 403, and the token is not spent.
    let (status, _, refused) = send(
        client
            .get(format!("{base}/api/v1/admin/keys"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(
        (status, &refused["code"]),
        (403, &json!("secret_key_required"))
    );

    // Use it: 200. Use it again: 401 token_used.
    let use_token = || {
        client
            .post(format!("{base}/api/v1/magic-background"))
            .bearer_auth(&token)
    };
    let (status, _, first) = send(use_token()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["principal"]["method"], "token");
    let (status, headers, second) = send(use_token()).await;
    assert_eq!((status, &second["code"]), (401, &json!("token_used")));
    assert_eq!(
        headers["www-authenticate"],
        r#"Bearer realm="keygate", error="invalid_token""#
    );

    // The key itself works on an API-key route.
    let (status, _, me) = send(client.get(format!("{base}/v1/users/me")).bearer_auth(&text)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["livemode"], false);
    (text, token)
}

async fn first_and_second_start(binary: &str) {
    let dir = tempfile::tempdir().unwrap();

    let first = Running::start(binary, dir.path(), &[]);
    let secret = first
        .admin_secret()
        .expect("the first start prints the secret");
    assert!(
        first
            .banner
            .iter()
            .any(|line| line.contains("curl -s -X POST")),
        "the banner shows a curl line: {:?}",
        first.banner
    );
    assert!(dir.path().join("keygate.db").exists());
    let pepper = dir.path().join("keygate.pepper");
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&pepper).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the pepper file is private");
    }
    let (key, token) = walk_through(&first.base, &secret).await;
    // A key pasted where an id goes is answered, and kept out of the access log.
    let (status, _, _) = send(
        http_client()
            .get(format!("{}/api/v1/admin/keys/{key}", first.base))
            .header("x-client-secret", &secret),
    )
    .await;
    assert_eq!(status, 404);
    let (status, logs) = first.interrupt();
    assert!(status.success(), "Ctrl-C is a clean stop: {status}");
    assert!(
        logs.contains("key.created") && logs.contains("keygate::audit"),
        "the audit trail records admin changes: {logs}"
    );
    assert!(
        logs.contains("/api/v1/magic-background") && logs.contains("status=401"),
        "the access log records every request: {logs}"
    );
    for secret in [&secret, &key, &token] {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret was logged: {logs}"
        );
    }

    let second = Running::start(binary, dir.path(), &[]);
    assert_eq!(second.admin_secret(), None, "the secret is shown once");
    let client = http_client();
    let (status, _, listed) = send(
        client
            .get(format!("{}/api/v1/admin/keys", second.base))
            .header("x-client-secret", &secret),
    )
    .await;
    assert_eq!(
        status, 200,
        "the first start's secret still opens admin routes"
    );
    assert_eq!(listed["keys"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(&key), "lists never show a key");
    let (status, _, _) = send(
        client
            .post(format!("{}/api/detect", second.base))
            .header("x-api-key", &key),
    )
    .await;
    assert_eq!(status, 200, "the key survives a restart");
    assert!(second.interrupt().0.success());
}

#[tokio::test]
async fn axum_binary_first_run() {
    first_and_second_start(env!("CARGO_BIN_EXE_platform")).await;
}

#[tokio::test]
async fn actix_binary_first_run() {
    first_and_second_start(env!("CARGO_BIN_EXE_platform-actix")).await;
}

#[tokio::test]
async fn tower_binary_first_run() {
    first_and_second_start(env!("CARGO_BIN_EXE_platform-tower")).await;
}

/// `KEYGATE_REQUIRE_HTTPS` and `KEYGATE_TRUSTED_PROXIES` on a real binary: a credential
/// over plain HTTP is 403 `https_required`, `X-Forwarded-Proto: https` counts only from a
/// listed proxy (loopback here, since the test connects from it), and ten wrong secrets
/// from one forwarded client lock that client out (429, `Retry-After`), not the proxy.
async fn https_and_lockout(binary: &str) {
    let dir = tempfile::tempdir().unwrap();
    let untrusted = Running::start(binary, dir.path(), &[("KEYGATE_REQUIRE_HTTPS", "1")]);
    let secret = untrusted
        .admin_secret()
        .expect("a first start shows the secret");
    let client = http_client();
    let keys = |base: &str| client.get(format!("{base}/api/v1/admin/keys"));
    for proto in [None, Some("https")] {
        let mut request = keys(&untrusted.base).header("x-client-secret", &secret);
        if let Some(proto) = proto {
            request = request.header("x-forwarded-proto", proto);
        }
        let (status, _, body) = send(request).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("https_required")),
            "{binary} {proto:?}"
        );
    }
    drop(untrusted);

    let proxied = Running::start(
        binary,
        dir.path(),
        &[
            ("KEYGATE_REQUIRE_HTTPS", "true"),
            ("KEYGATE_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8"),
        ],
    );
    let via_proxy = |client_address: &str, value: &str| {
        keys(&proxied.base)
            .header("x-client-secret", value)
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-for", client_address)
    };
    let (status, _, body) = send(via_proxy("203.0.113.9", &secret)).await;
    assert_eq!(status, 200, "{binary}: {body}");
    for _ in 0..10 {
        let (status, _, body) = send(via_proxy("203.0.113.9", "wrong-secret")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("invalid_secret_key")),
            "{binary}"
        );
    }
    let (status, headers, body) = send(via_proxy("203.0.113.9", &secret)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("rate_limited")),
        "{binary}"
    );
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let (status, _, _) = send(via_proxy("203.0.113.10", &secret)).await;
    assert_eq!(status, 200, "{binary}: another client is not locked");
    let (_, logs) = proxied.interrupt();
    assert!(
        logs.contains("too many failed x-client-secret checks"),
        "{logs}"
    );
    assert!(
        !logs.contains("wrong-secret") && !logs.contains(&secret),
        "no secret logged"
    );
}

#[tokio::test]
async fn axum_binary_https_and_lockout() {
    https_and_lockout(env!("CARGO_BIN_EXE_platform")).await;
}

#[tokio::test]
async fn actix_binary_https_and_lockout() {
    https_and_lockout(env!("CARGO_BIN_EXE_platform-actix")).await;
}

#[tokio::test]
async fn tower_binary_https_and_lockout() {
    https_and_lockout(env!("CARGO_BIN_EXE_platform-tower")).await;
}

#[tokio::test]
async fn bad_settings_stop_the_start_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_platform"))
        .current_dir(dir.path())
        .env("KEYGATE_ADDR", "not an address")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("KEYGATE_ADDR"), "{stderr}");

    for (name, value) in [
        ("KEYGATE_TRUSTED_PROXIES", "10.0.0.0/33"),
        ("KEYGATE_REQUIRE_HTTPS", "maybe"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_platform"))
            .current_dir(dir.path())
            .env("KEYGATE_ADDR", "127.0.0.1:0")
            .env(name, value)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(name), "{stderr}");
    }

    let output = Command::new(env!("CARGO_BIN_EXE_platform"))
        .current_dir(dir.path())
        .env("KEYGATE_ADDR", "127.0.0.1:0")
        .env("KEYGATE_PEPPER", "not-a-pepper")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("KEYGATE_PEPPER"), "{stderr}");
    assert!(
        !stderr.contains("not-a-pepper"),
        "a secret is never echoed: {stderr}"
    );
}

/// A first start whose stdout is closed cannot show the admin secret: it stops with a
/// message on stderr naming the way back in, instead of serving an admin API nobody can
/// open; a start with `KEYGATE_ADMIN_SECRET` then works.
#[tokio::test]
async fn a_secret_that_cannot_be_printed_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_platform"))
        .current_dir(dir.path())
        .env("KEYGATE_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Nobody reads stdout: the banner meets a closed pipe.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("KEYGATE_ADMIN_SECRET"), "{stderr}");

    let given = "an-admin-secret-of-my-own-0123456789";
    let running = Running::start(
        env!("CARGO_BIN_EXE_platform"),
        dir.path(),
        &[("KEYGATE_ADMIN_SECRET", given)],
    );
    assert_eq!(running.admin_secret(), None);
    let (status, _, _) = send(
        http_client()
            .get(format!("{}/api/v1/admin/keys", running.base))
            .header("x-client-secret", given),
    )
    .await;
    assert_eq!(status, 200, "the operator's own secret opens the admin API");
}

/// A taken port stops the first start before anything is set up, so the admin secret is
/// not generated into a start that cannot show it: the next start shows it.
#[tokio::test]
async fn a_taken_port_loses_no_admin_secret() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_platform"))
        .current_dir(dir.path())
        .env("KEYGATE_ADDR", &addr)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("KEYGATE_ADDR"), "{stderr}");
    assert!(
        !dir.path().join("keygate.db").exists(),
        "nothing was set up"
    );
    drop(taken);
    let running = Running::start(env!("CARGO_BIN_EXE_platform"), dir.path(), &[]);
    assert!(
        running.admin_secret().is_some(),
        "the secret is shown on the start that works"
    );
}

/// `KEYGATE_DATABASE_URL=postgres://…` works the same: first start prints the secret,
/// the second does not, and the walk-through passes.
#[tokio::test]
async fn postgres_first_run() {
    let Ok(url) = std::env::var("KEYGATE_TEST_POSTGRES_URL") else {
        eprintln!("skipping postgres_first_run: set KEYGATE_TEST_POSTGRES_URL");
        return;
    };
    let schema = format!(
        "kg_platform_{}",
        std::process::id() as u64 * 1000 + u64::from(rand_suffix())
    );
    let admin = sqlx_exec(&url, &format!("CREATE SCHEMA {schema}")).await;
    assert!(admin.is_ok(), "{admin:?}");
    let database_url = format!("{url}?options=-c%20search_path%3D{schema}");
    let dir = tempfile::tempdir().unwrap();
    let env = [("KEYGATE_DATABASE_URL", database_url.as_str())];

    let first = Running::start(env!("CARGO_BIN_EXE_platform"), dir.path(), &env);
    let secret = first
        .admin_secret()
        .expect("the first start prints the secret");
    assert!(dir.path().join("keygate.pepper").exists());
    walk_through(&first.base, &secret).await;
    assert!(first.interrupt().0.success());
    let second = Running::start(env!("CARGO_BIN_EXE_platform-tower"), dir.path(), &env);
    assert_eq!(second.admin_secret(), None);
    drop(second);

    let dropped = sqlx_exec(&url, &format!("DROP SCHEMA {schema} CASCADE")).await;
    assert!(dropped.is_ok(), "{dropped:?}");
}

fn rand_suffix() -> u16 {
    let mut bytes = [0u8; 2];
    getrandom::getrandom(&mut bytes).unwrap();
    u16::from_le_bytes(bytes) % 1000
}

async fn sqlx_exec(url: &str, sql: &str) -> Result<(), sqlx::Error> {
    use sqlx::Connection as _;
    let mut connection = sqlx::PgConnection::connect(url).await?;
    sqlx::query(sql).execute(&mut connection).await?;
    connection.close().await
}

/// The README's curl walk-through, run by bash as written: only the pasted secret and the
/// port (the test listens on a free one) are filled in.
#[tokio::test]
async fn readme_walk_through_runs_as_written() {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("<!-- walk-through -->\n```sh\n")
        .expect("the marked block");
    let block = &readme[start..];
    let block = &block
        [block.find("```sh\n").unwrap() + 6..block.find("```\n<!-- /walk-through -->").unwrap()];
    assert!(block.contains("SECRET='paste the admin secret here'"));

    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(env!("CARGO_BIN_EXE_platform"), dir.path(), &[]);
    let secret = running.admin_secret().unwrap();
    let script = block
        .replace("paste the admin secret here", &secret)
        .replace("http://127.0.0.1:8080", &running.base);
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(r#""kind":"secret""#),
        "a key was created: {stdout}"
    );
    assert_eq!(
        stdout.matches(r#""resource":"magic-background""#).count(),
        1,
        "{stdout}"
    );
    assert!(stdout.contains(r#""code":"token_used""#), "{stdout}");
    assert!(
        stdout.contains(r#""code":"secret_key_required""#),
        "{stdout}"
    );
}

/// An identity provider in the test: an Ed25519 test key whose JWKS is served over HTTP
/// on 127.0.0.1, counting fetches.
struct Provider {
    signing: jsonwebtoken::EncodingKey,
    url: String,
    fetches: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Provider {
    const ISSUER: &str = "https://issuer.platform.test";
    const AUDIENCE: &str = "platform-test";

    async fn serve() -> Self {
        use jsonwebtoken::jwk::{Jwk, JwkSet};
        // PKCS#8 header of an Ed25519 key, then a fixed test seed.
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend([42u8; 32]);
        let signing = jsonwebtoken::EncodingKey::from_ed_der(&der);
        let mut jwk = Jwk::from_encoding_key(&signing, jsonwebtoken::Algorithm::EdDSA).unwrap();
        jwk.common.key_id = Some("k1".into());
        let body = serde_json::to_string(&JwkSet { keys: vec![jwk] }).unwrap();
        let fetches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = std::sync::Arc::clone(&fetches);
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let body = body.clone();
                async move {
                    (
                        [
                            ("content-type", "application/json"),
                            ("cache-control", "public, max-age=3600"),
                        ],
                        body,
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            signing,
            url,
            fetches,
        }
    }

    fn jwt(&self, sub: &str, tenant: &str) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = json!({
            "iss": Self::ISSUER, "aud": Self::AUDIENCE, "sub": sub, "iat": now,
            "exp": now + 600, "org": tenant,
        });
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(&header, &claims, &self.signing).unwrap()
    }
}

/// The user-JWT settings, end to end: the binary fetches the JWKS named by
/// `KEYGATE_JWKS_URL`, reads the tenant from `KEYGATE_TENANT_CLAIM`, and opens the gateway
/// to the user; a JWKS that cannot be reached is 503, never a pass.
#[tokio::test(flavor = "multi_thread")]
async fn user_jwts_from_a_jwks_url() {
    let provider = Provider::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = [
        ("KEYGATE_JWT_ISSUER", Provider::ISSUER),
        ("KEYGATE_JWT_AUDIENCE", Provider::AUDIENCE),
        ("KEYGATE_JWKS_URL", provider.url.as_str()),
        ("KEYGATE_TENANT_CLAIM", "org"),
    ];
    let running = Running::start(env!("CARGO_BIN_EXE_platform"), dir.path(), &settings);
    let jwt = provider.jwt("user_1", "acme");
    let client = http_client();
    let gateway = format!("{}/api/v1/llm/gateway/chat", running.base);
    let (status, _, body) = send(client.post(&gateway).bearer_auth(&jwt)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["principal"]["method"], "jwt");
    assert_eq!(body["principal"]["tenant"], "acme");
    assert_eq!(body["principal"]["subject"], "user_1");
    // Verified once, then served from the caches: the JWKS is fetched once.
    let (status, _, _) = send(client.post(&gateway).bearer_auth(&jwt)).await;
    assert_eq!(status, 200);
    assert_eq!(
        provider.fetches.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    let (status, logs) = running.interrupt();
    assert!(status.success());
    assert!(!logs.contains(&jwt), "a user JWT was logged: {logs}");

    // The same settings with the JWKS unreachable: the start succeeds, user JWTs are 503.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unreachable = format!("http://{}/jwks", closed.local_addr().unwrap());
    drop(closed);
    let settings = [
        ("KEYGATE_JWT_ISSUER", Provider::ISSUER),
        ("KEYGATE_JWT_AUDIENCE", Provider::AUDIENCE),
        ("KEYGATE_JWKS_URL", unreachable.as_str()),
    ];
    let running = Running::start(env!("CARGO_BIN_EXE_platform"), dir.path(), &settings);
    let gateway = format!("{}/api/v1/llm/gateway/chat", running.base);
    let (status, _, body) = send(client.post(&gateway).bearer_auth(&jwt)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "auth_unavailable");
}

/// Incomplete user-JWT settings stop the start before anything is created, naming what
/// is missing.
#[tokio::test]
async fn incomplete_jwt_settings_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    for (settings, named) in [
        (
            vec![
                ("KEYGATE_JWT_ISSUER", "https://issuer.test"),
                ("KEYGATE_JWT_AUDIENCE", "api"),
            ],
            "KEYGATE_JWKS_URL",
        ),
        (
            vec![
                ("KEYGATE_JWT_ISSUER", "https://issuer.test"),
                ("KEYGATE_JWKS_URL", "http://127.0.0.1:9/jwks"),
            ],
            "audience",
        ),
    ] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_platform"));
        command
            .current_dir(dir.path())
            .env("KEYGATE_ADDR", "127.0.0.1:0")
            .env_remove("KEYGATE_DATABASE_URL");
        for (name, value) in &settings {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.to_lowercase().contains(&named.to_lowercase()),
            "{stderr}"
        );
        assert!(
            !dir.path().join("keygate.db").exists(),
            "nothing is created before the settings are checked"
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
