//! The Redis of `KEYGATE_TEST_REDIS_URL` (tests are skipped, with a message, when it is
//! unset), a fresh key prefix per test whose keys are deleted when the test ends, and
//! credit ledgers for the meter: memory, a SQLite temp file, the Postgres of
//! `KEYGATE_TEST_POSTGRES_URL`.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use keygate_redis::{RedisConfig, RedisConnection, RedisMeter};
use keygate_sqlx::SqlStore;
use time::OffsetDateTime;
use tokio::net::{TcpListener, TcpStream};

pub const REDIS_URL: &str = "KEYGATE_TEST_REDIS_URL";
pub const POSTGRES_URL: &str = "KEYGATE_TEST_POSTGRES_URL";

/// A prefix no other test (or run) uses.
pub fn unique_prefix(test: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let name: String = test
        .rsplit("::")
        .next()
        .unwrap_or("t")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(24)
        .collect();
    format!(
        "kgtest-{name}-{}-{nanos:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The test Redis URL, or `None` (said on stderr).
pub fn redis_url(test: &str) -> Option<String> {
    match std::env::var(REDIS_URL) {
        Ok(url) => Some(url),
        Err(_) => {
            eprintln!("skipping {test}: set {REDIS_URL} to run the Redis tests");
            None
        }
    }
}

/// A connection with a prefix of its own; its keys are deleted on drop.
pub struct TestRedis {
    pub connection: RedisConnection,
    pub url: String,
    pub prefix: String,
}

impl TestRedis {
    pub async fn new(test: &str) -> Option<Self> {
        let url = redis_url(test)?;
        Some(Self::on(&url, test).await)
    }

    /// On `url` (another logical database, say).
    pub async fn on(url: &str, test: &str) -> Self {
        let prefix = unique_prefix(test);
        let connection = RedisConnection::connect(
            RedisConfig::new(url)
                .prefix(&prefix)
                .unwrap()
                .timeout(Duration::from_secs(5)),
        )
        .await
        .unwrap();
        Self {
            connection,
            url: url.to_owned(),
            prefix,
        }
    }

    /// Another connection (a second instance) on the same Redis and prefix.
    pub async fn second(&self) -> RedisConnection {
        RedisConnection::connect(
            RedisConfig::new(&self.url)
                .prefix(&self.prefix)
                .unwrap()
                .timeout(Duration::from_secs(5)),
        )
        .await
        .unwrap()
    }

    /// A meter with `credits` as its ledger, its token ledger declared complete (a fresh
    /// Redis never held a used token).
    pub async fn meter<C: keygate_core::Meter>(&self, credits: C) -> RedisMeter<C> {
        let meter = self.connection.meter(credits);
        meter
            .declare_ledger_complete_since(OffsetDateTime::UNIX_EPOCH)
            .await
            .unwrap();
        meter
    }

    /// The keys under this prefix.
    pub fn keys(&self) -> Vec<String> {
        let client = redis::Client::open(self.url.as_str()).unwrap();
        let mut conn = client.get_connection().unwrap();
        let pattern = format!("{{{}}}:*", self.prefix);
        let keys: redis::Iter<'_, String> = redis::cmd("SCAN")
            .cursor_arg(0)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .clone()
            .iter(&mut conn)
            .unwrap();
        keys.collect::<Result<Vec<_>, _>>().unwrap()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let keys = self.keys();
        if keys.is_empty() {
            return;
        }
        let deleted = redis::Client::open(self.url.as_str())
            .and_then(|client| client.get_connection())
            .and_then(|mut conn| redis::cmd("DEL").arg(&keys).query::<i64>(&mut conn));
        if let Err(err) = deleted {
            eprintln!("could not delete the test keys of {}: {err}", self.prefix);
        }
    }
}

/// A SQLite store on a fresh temp file; the directory lives as long as the store.
pub struct SqliteDb {
    pub store: SqlStore,
    pub dir: tempfile::TempDir,
}

pub async fn sqlite() -> SqliteDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("keygate.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    SqliteDb { store, dir }
}

/// A TCP proxy to Redis that can be cut (every connection closed, new ones refused) and
/// restored.
pub struct Proxy {
    pub port: u16,
    cut: Arc<AtomicBool>,
}

impl Proxy {
    pub async fn start(upstream: String) -> Self {
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
                let upstream = upstream.clone();
                let flag = Arc::clone(&flag);
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let copy = tokio::io::copy_bidirectional(&mut client, &mut server);
                    tokio::pin!(copy);
                    loop {
                        tokio::select! {
                            _ = &mut copy => return,
                            () = tokio::time::sleep(Duration::from_millis(10)) => {
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

    pub fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
    }
}

/// `host:port` of the test Redis URL.
pub fn redis_address(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    host.to_owned()
}
