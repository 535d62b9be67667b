//! Backends for the suites: memory, a SQLite temp file, and a fresh schema on the
//! Postgres of `KEYGATE_TEST_POSTGRES_URL` (tests are skipped, with a message, when it is
//! unset). The `KeyStore` suite itself is keygate-core's (`keygate_core::testing`).
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::str::FromStr;
use std::sync::Arc;

use keygate_core::key::KeyId;
/// The records and times of the published suites, shared by these tests (not every test
/// binary uses each).
#[allow(unused_imports)]
pub use keygate_core::testing::{T0, hasher, record};
use keygate_sqlx::SqlStore;
use sqlx::Connection as _;
use sqlx::postgres::PgConnectOptions;

pub const POSTGRES_URL: &str = "KEYGATE_TEST_POSTGRES_URL";

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

/// A fresh, empty schema on the test Postgres; `None` (and a note on stderr) when
/// `KEYGATE_TEST_POSTGRES_URL` is unset.
pub struct PgSchema {
    pub base: PgConnectOptions,
    pub name: String,
}

impl PgSchema {
    pub async fn new(test: &str) -> Option<Self> {
        let Ok(url) = std::env::var(POSTGRES_URL) else {
            eprintln!("skipping {test}: set {POSTGRES_URL} to run the Postgres tests");
            return None;
        };
        let base = PgConnectOptions::from_str(&url).unwrap();
        let id = KeyId::generate().unwrap();
        let name = format!("kg_test_{}", id.as_str()[4..].to_lowercase());
        let mut conn = sqlx::PgConnection::connect_with(&base).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        Some(Self { base, name })
    }

    /// Connection options whose every session works in this schema.
    pub fn options(&self) -> PgConnectOptions {
        self.base
            .clone()
            .options([("search_path", self.name.as_str())])
    }

    /// A new store (own pool) on this schema.
    pub async fn store(&self) -> SqlStore {
        SqlStore::connect_postgres(self.options()).await.unwrap()
    }

    /// Drops the schema now (dropping the value does the same, even when the test
    /// panicked).
    pub async fn drop_schema(self) {
        drop(self);
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let base = self.base.clone();
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        // Drop runs inside the test's runtime, which cannot block on a future: a thread
        // with a runtime of its own does the clean-up.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|err| err.to_string())?;
            runtime.block_on(async move {
                let mut conn = sqlx::PgConnection::connect_with(&base)
                    .await
                    .map_err(|err| err.to_string())?;
                sqlx::query(&sql)
                    .execute(&mut conn)
                    .await
                    .map_err(|err| err.to_string())?;
                conn.close().await.map_err(|err| err.to_string())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test schema {}: {dropped:?}", self.name);
        }
    }
}

/// `store` behind the cache `SqlStore::cached()` builds (the listener or poller path),
/// once that cache serves.
pub async fn listening_cache(store: SqlStore) -> keygate_core::store::CachedKeyStore<SqlStore> {
    let cache = store.cached().unwrap();
    let start = std::time::Instant::now();
    while !cache.stats().serving {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "the cache's listener never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    cache
}

/// Runs one suite function against every backend: a module per suite function, with a
/// test per backend. `$from_store` is an async closure from a `SqlStore` to what the suite
/// tests. Postgres tests get their own schema and drop it afterwards.
#[allow(unused_macros)]
macro_rules! against_every_backend {
    ($suite:ident, $make_memory:expr, $from_store:expr; $($name:ident),+ $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test]
                async fn memory() {
                    $crate::common::$suite::$name($make_memory).await;
                }

                #[tokio::test]
                async fn sqlite() {
                    let db = $crate::common::sqlite().await;
                    $crate::common::$suite::$name(($from_store)(db.store.clone()).await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(schema) =
                        $crate::common::PgSchema::new(concat!(stringify!($name), "::postgres"))
                            .await
                    else {
                        return;
                    };
                    let store = schema.store().await;
                    $crate::common::$suite::$name(($from_store)(store.clone()).await).await;
                    store.close().await;
                    schema.drop_schema().await;
                }
            }
        )+
    };
}

/// A TCP proxy to the test Postgres that can go silent or cut: [`Proxy::freeze`] stops
/// forwarding in both directions without closing anything, as a NAT or load balancer
/// that forgets an idle flow does; [`Proxy::cut`] closes every connection and refuses new
/// ones until [`Proxy::restore`].
pub struct Proxy {
    pub port: u16,
    frozen: Arc<std::sync::atomic::AtomicBool>,
    refusing: Arc<std::sync::atomic::AtomicBool>,
    cuts: tokio::sync::watch::Sender<u64>,
    connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl Proxy {
    pub async fn start(upstream: &PgConnectOptions) -> Self {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let upstream = tokio::net::lookup_host((upstream.get_host(), upstream.get_port()))
            .await
            .unwrap()
            .next()
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let frozen = Arc::new(AtomicBool::new(false));
        let refusing = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let (cuts, _) = tokio::sync::watch::channel(0u64);
        let (f, r, c, k) = (
            frozen.clone(),
            refusing.clone(),
            connections.clone(),
            cuts.clone(),
        );
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if r.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                c.fetch_add(1, Ordering::SeqCst);
                let frozen = f.clone();
                let cut = k.subscribe();
                tokio::spawn(async move {
                    let Ok(outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (from_client, to_client) = inbound.into_split();
                    let (from_server, to_server) = outbound.into_split();
                    tokio::spawn(pipe(from_client, to_server, frozen.clone(), cut.clone()));
                    pipe(from_server, to_client, frozen, cut).await;
                });
            }
        });
        Self {
            port,
            frozen,
            refusing,
            cuts,
            connections,
        }
    }

    /// `options` with host and port replaced by this proxy's.
    pub fn options(&self, options: PgConnectOptions) -> PgConnectOptions {
        options.host("127.0.0.1").port(self.port)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Stops forwarding; every socket stays open.
    pub fn freeze(&self) {
        self.frozen.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Closes every connection, and refuses new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.refusing
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.cuts.send_modify(|cuts| *cuts += 1);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.refusing
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<std::sync::atomic::AtomicBool>,
    mut cut: tokio::sync::watch::Receiver<u64>,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let held = async || {
        while frozen.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        held().await;
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            // Returning drops this direction's halves; the other pipe does the same.
            _ = cut.changed() => return,
        };
        // Bytes read just as the proxy froze are held, not delivered.
        held().await;
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
