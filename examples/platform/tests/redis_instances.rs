//! Two platform processes (one on axum, one on actix-web) sharing one Postgres and one
//! Redis behave as one: requests fired at both at once behind a barrier (one-time
//! tokens, a key's credits, an account's credits shared by its keys, rate limits,
//! revocation). Skipped unless `KEYGATE_TEST_POSTGRES_URL` and `KEYGATE_TEST_REDIS_URL`
//! are set (and `redis-cli` is on the PATH, to empty the test's own logical database).
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

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use common::{Running, create_key, http_client, send};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Barrier;

/// The logical database of the test Redis this test owns (and empties).
const REDIS_DB: u32 = 11;
const SECRET: &str = "redis-instances-admin-secret-0123456789";

fn redis_cli(url: &str, args: &[&str]) -> bool {
    Command::new("redis-cli")
        .arg("-u")
        .arg(url)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn db_url(base: &str, db: u32) -> String {
    let server = match base.rsplit_once('/') {
        Some((server, db)) if !db.is_empty() && db.chars().all(|c| c.is_ascii_digit()) => server,
        _ => base.trim_end_matches('/'),
    };
    format!("{server}/{db}")
}

async fn sqlx_exec(url: &str, sql: &str) -> Result<(), sqlx::Error> {
    use sqlx::Connection as _;
    let mut connection = sqlx::PgConnection::connect(url).await?;
    sqlx::query(sql).execute(&mut connection).await?;
    connection.close().await
}

/// Fires `n` requests made by `request(base)` at the two bases in turn, all released
/// together; their statuses.
async fn burst(
    bases: &[String; 2],
    n: usize,
    request: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> Vec<u16> {
    let client = http_client();
    let barrier = Arc::new(Barrier::new(n));
    let request = Arc::new(request);
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (client, barrier, request) =
                (client.clone(), Arc::clone(&barrier), Arc::clone(&request));
            let base = bases[i % 2].clone();
            tokio::spawn(async move {
                let built = request(&client, &base);
                barrier.wait().await;
                send(built).await.0
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_postgres_and_redis_behave_as_one() {
    let (Ok(postgres), Ok(redis)) = (
        std::env::var("KEYGATE_TEST_POSTGRES_URL"),
        std::env::var("KEYGATE_TEST_REDIS_URL"),
    ) else {
        eprintln!(
            "skipping: set KEYGATE_TEST_POSTGRES_URL and KEYGATE_TEST_REDIS_URL to run two instances"
        );
        return;
    };
    let redis = db_url(&redis, REDIS_DB);
    if !redis_cli(&redis, &["FLUSHDB"]) {
        eprintln!("skipping: redis-cli is not on the PATH or cannot reach {redis}");
        return;
    }
    // A new deployment: its empty Redis is declared complete, so the first tokens count.
    assert!(redis_cli(&redis, &["SET", "{keygate}:epoch", "0"]));
    let schema = format!("kg_redis_{}", std::process::id());
    sqlx_exec(
        &postgres,
        &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
    )
    .await
    .unwrap();
    sqlx_exec(&postgres, &format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let database_url = format!("{postgres}?options=-c%20search_path%3D{schema}");
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("KEYGATE_DATABASE_URL", database_url.as_str()),
        ("KEYGATE_REDIS_URL", redis.as_str()),
        ("KEYGATE_ADMIN_SECRET", SECRET),
    ];
    let axum = Running::start(env!("CARGO_BIN_EXE_platform"), dir.path(), &env, "warn");
    let actix = Running::start(
        env!("CARGO_BIN_EXE_platform-actix"),
        dir.path(),
        &env,
        "warn",
    );
    let bases = [axum.base.clone(), actix.base.clone()];
    for base in &bases {
        let (status, _) = send(http_client().get(format!("{base}/readyz"))).await;
        assert_eq!(status, 200);
    }

    // A one-time token, 64 times at once: used once.
    let (status, minted) = send(
        http_client()
            .post(format!("{}/api/v1/token", bases[0]))
            .header("x-client-secret", SECRET)
            .json(&json!({"actionResource": "magic-background", "actionType": "create"})),
    )
    .await;
    assert_eq!(status, 200, "{minted}");
    let token = minted["token"].as_str().unwrap().to_owned();
    let statuses = burst(&bases, 64, move |client, base| {
        client
            .post(format!("{base}/api/v1/magic-background"))
            .bearer_auth(&token)
    })
    .await;
    assert_eq!((count(&statuses, 200), count(&statuses, 401)), (1, 63));

    // 25 credits, 64 requests at once: 25 served, a balance of 0.
    let (id, key) = create_key(
        &bases[0],
        SECRET,
        json!({"kind": "secret", "environment": "live", "tenant": "acme", "credits": 25}),
    )
    .await;
    let statuses = burst(&bases, 64, move |client, base| {
        client
            .post(format!("{base}/api/detect"))
            .header("x-api-key", &key)
    })
    .await;
    assert_eq!((count(&statuses, 200), count(&statuses, 402)), (25, 39));
    let (status, shown) = send(
        http_client()
            .get(format!("{}/api/v1/admin/keys/{id}", bases[1]))
            .header("x-client-secret", SECRET),
    )
    .await;
    assert_eq!((status, &shown["credits"]), (200, &json!(0)), "{shown}");

    // One account's balance across both instances: two keys of `acme/auth0|abc` and a
    // rotated successor of one, 30 credits, 100 requests at once → 30 served, balance 0.
    let owned =
        json!({"kind": "secret", "environment": "live", "tenant": "acme", "owner": "auth0|abc"});
    let (first, first_key) = create_key(&bases[0], SECRET, owned.clone()).await;
    let (_, second_key) = create_key(&bases[1], SECRET, owned).await;
    let account = "/api/v1/admin/accounts/acme/auth0%7Cabc";
    let (status, topped) = send(
        http_client()
            .post(format!("{}{account}/credits", bases[1]))
            .header("x-client-secret", SECRET)
            .json(&json!({"add": 30})),
    )
    .await;
    assert_eq!((status, &topped["credits"]), (200, &json!(30)), "{topped}");
    let (status, successor) = send(
        http_client()
            .post(format!("{}/api/v1/admin/keys/{first}/rotate", bases[0]))
            .header("x-client-secret", SECRET)
            .json(&json!({"grace_seconds": 3600})),
    )
    .await;
    assert_eq!(status, 201, "{successor}");
    let keys = Arc::new([
        first_key,
        second_key,
        successor["key"].as_str().unwrap().to_owned(),
    ]);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let statuses = burst(&bases, 100, move |client, base| {
        let i = next.fetch_add(1, Ordering::Relaxed);
        client
            .post(format!("{base}/api/detect"))
            .header("x-api-key", &keys[i % keys.len()])
    })
    .await;
    assert_eq!((count(&statuses, 200), count(&statuses, 402)), (30, 70));
    for base in &bases {
        let (status, shown) = send(
            http_client()
                .get(format!("{base}{account}"))
                .header("x-client-secret", SECRET),
        )
        .await;
        assert_eq!((status, &shown["credits"]), (200, &json!(0)), "{shown}");
    }

    // A key limited to 10 per minute, 40 requests at once: 10 admitted across both.
    let (_, key) = create_key(
        &bases[0],
        SECRET,
        json!({"kind": "secret", "environment": "live", "tenant": "acme",
               "rate_limit": {"limit": 10, "window_seconds": 60}}),
    )
    .await;
    let statuses = burst(&bases, 40, move |client, base| {
        client
            .post(format!("{base}/api/detector/upload"))
            .header("x-api-key", &key)
    })
    .await;
    assert_eq!((count(&statuses, 200), count(&statuses, 429)), (10, 30));

    // A key revoked on one instance is refused by the other within a second.
    let (id, key) = create_key(
        &bases[0],
        SECRET,
        json!({"kind": "secret", "environment": "live", "tenant": "acme"}),
    )
    .await;
    let client = http_client();
    for base in &bases {
        let (status, _) = send(
            client
                .post(format!("{base}/api/detector/upload"))
                .header("x-api-key", &key),
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, _) = send(
        client
            .delete(format!("{}/api/v1/admin/keys/{id}", bases[0]))
            .header("x-client-secret", SECRET),
    )
    .await;
    assert_eq!(status, 204);
    let revoked = Instant::now();
    loop {
        let (status, body) = send(
            client
                .post(format!("{}/api/detector/upload", bases[1]))
                .header("x-api-key", &key),
        )
        .await;
        if status == 401 {
            assert_eq!(body["code"], "key_revoked");
            break;
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(1),
            "still {status} after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    eprintln!(
        "revoked on axum, refused by actix after {:?}",
        revoked.elapsed()
    );

    drop((axum, actix));
    redis_cli(&redis, &["FLUSHDB"]);
    sqlx_exec(&postgres, &format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}

/// A TCP proxy to Redis that can be cut (every connection closed, new ones dropped) and
/// restored: Redis "stopped" and "started" without touching the shared server.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&cut);
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if flag.load(Ordering::SeqCst) {
                    continue;
                }
                let (upstream, flag) = (upstream.clone(), Arc::clone(&flag));
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let copy = tokio::io::copy_bidirectional(&mut client, &mut server);
                    tokio::pin!(copy);
                    loop {
                        tokio::select! {
                            _ = &mut copy => return,
                            () = tokio::time::sleep(Duration::from_millis(5)) => {
                                if flag.load(Ordering::SeqCst) {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        Self { port, cut }
    }
}

fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap();
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
        .to_owned()
}

/// Redis stopped in the middle of a burst: only 503s while it is down, no credit lost or
/// overspent, and service back when it is back, without restarting the platform.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_stopped_mid_burst_answers_503_and_loses_no_credit() {
    let (Ok(postgres), Ok(redis)) = (
        std::env::var("KEYGATE_TEST_POSTGRES_URL"),
        std::env::var("KEYGATE_TEST_REDIS_URL"),
    ) else {
        eprintln!("skipping: set KEYGATE_TEST_POSTGRES_URL and KEYGATE_TEST_REDIS_URL");
        return;
    };
    let redis_db = db_url(&redis, REDIS_DB + 1);
    if !redis_cli(&redis_db, &["FLUSHDB"]) {
        eprintln!("skipping: redis-cli is not on the PATH or cannot reach {redis_db}");
        return;
    }
    assert!(redis_cli(&redis_db, &["SET", "{keygate}:epoch", "0"]));
    let proxy = Proxy::start(host_port(&redis)).await;
    let through_proxy = format!("redis://127.0.0.1:{}/{}", proxy.port, REDIS_DB + 1);
    let schema = format!("kg_redis_fault_{}", std::process::id());
    sqlx_exec(
        &postgres,
        &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
    )
    .await
    .unwrap();
    sqlx_exec(&postgres, &format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let database_url = format!("{postgres}?options=-c%20search_path%3D{schema}");
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("KEYGATE_DATABASE_URL", database_url.as_str()),
        ("KEYGATE_REDIS_URL", through_proxy.as_str()),
        ("KEYGATE_ADMIN_SECRET", SECRET),
    ];
    let platform = Running::start(env!("CARGO_BIN_EXE_platform"), dir.path(), &env, "warn");
    let base = platform.base.clone();
    // Metered on Redis (a rate limit) and in SQL (credits).
    let (id, key) = create_key(
        &base,
        SECRET,
        json!({"kind": "secret", "environment": "live", "tenant": "acme", "credits": 1000,
               "rate_limit": {"limit": 100000, "window_seconds": 60}}),
    )
    .await;
    let client = http_client();
    let detect = || {
        client
            .post(format!("{base}/api/detect"))
            .header("x-api-key", &key)
    };
    let mut served = 0;
    // Up: served.
    for _ in 0..20 {
        let (status, body) = send(detect()).await;
        assert_eq!(status, 200, "{body}");
        served += 1;
    }
    // Down: 503 auth_unavailable, and nothing else.
    proxy.cut.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(30)).await;
    for _ in 0..20 {
        let (status, body) = send(detect()).await;
        assert_eq!(
            (status, &body["code"]),
            (503, &json!("auth_unavailable")),
            "{body}"
        );
    }
    let (status, _) = send(client.get(format!("{base}/readyz"))).await;
    assert_eq!(status, 503, "/readyz while Redis is down");
    // Back: served again, same process.
    proxy.cut.store(false, Ordering::SeqCst);
    let back = Instant::now();
    loop {
        let (status, body) = send(detect()).await;
        match status {
            200 => {
                served += 1;
                break;
            }
            503 if back.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            _ => panic!("{status} {body} {:?} after Redis came back", back.elapsed()),
        }
    }
    for _ in 0..20 {
        let (status, body) = send(detect()).await;
        assert_eq!(status, 200, "{body}");
        served += 1;
    }
    let (status, _) = send(client.get(format!("{base}/readyz"))).await;
    assert_eq!(status, 200);
    // The balance read back equals the successes.
    let (status, shown) = send(
        client
            .get(format!("{base}/api/v1/admin/keys/{id}"))
            .header("x-client-secret", SECRET),
    )
    .await;
    assert_eq!(
        (status, &shown["credits"]),
        (200, &json!(1000 - served)),
        "{shown}"
    );

    drop(platform);
    redis_cli(&redis_db, &["FLUSHDB"]);
    sqlx_exec(&postgres, &format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
