//! The store axis: the same scenarios on memory, SQLite and Postgres. A store is put
//! behind the engine the way the reference platform does it (the SQL store behind its
//! key cache, the SQL meter), on the test's manual clock.

use std::any::Any;
use std::future::Future;
use std::str::FromStr;

use keygate_core::key::KeyId;
use keygate_core::store::KeyCacheConfig;
use keygate_core::{KeygateBuilder, ManualClock};
use keygate_sqlx::SqlStore;
use sqlx::Connection as _;
use sqlx::postgres::PgConnectOptions;

/// Where the engine keeps its state in a test.
pub trait Store: Send + Sync + 'static {
    /// The store's name, as in the test names (`sqlite::axum::one_time_token_replay`).
    const NAME: &'static str;

    /// Puts the store behind `builder`, with a guard that cleans it up when dropped; `None`
    /// (and a note on stderr) when the store is not available on this machine.
    fn install(
        builder: KeygateBuilder,
        clock: ManualClock,
    ) -> impl Future<Output = Option<(KeygateBuilder, Box<dyn Any + Send>)>>;
}

/// The engine's default in-memory store and meter.
#[derive(Debug)]
pub struct Memory;

impl Store for Memory {
    const NAME: &'static str = "memory";

    async fn install(
        builder: KeygateBuilder,
        _clock: ManualClock,
    ) -> Option<(KeygateBuilder, Box<dyn Any + Send>)> {
        Some((builder, Box::new(())))
    }
}

fn sql(builder: KeygateBuilder, store: SqlStore, clock: ManualClock) -> KeygateBuilder {
    let store = store.with_clock(clock.clone());
    let cache = store
        .cached_with(KeyCacheConfig::default(), clock)
        .expect("inside a tokio runtime");
    builder.key_store(cache).meter(store.meter())
}

/// keygate-sqlx on a fresh SQLite file.
#[derive(Debug)]
pub struct Sqlite;

impl Store for Sqlite {
    const NAME: &'static str = "sqlite";

    async fn install(
        builder: KeygateBuilder,
        clock: ManualClock,
    ) -> Option<(KeygateBuilder, Box<dyn Any + Send>)> {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!("sqlite://{}", dir.path().join("keygate.db").display());
        let store = SqlStore::connect(&url).await.expect("SQLite store");
        Some((sql(builder, store, clock), Box::new(dir)))
    }
}

/// The variable naming the test Postgres (`.ci/run` sets it).
pub const POSTGRES_URL: &str = "KEYGATE_TEST_POSTGRES_URL";

/// keygate-sqlx on a fresh schema of the Postgres at `KEYGATE_TEST_POSTGRES_URL`.
#[derive(Debug)]
pub struct Postgres;

/// Drops the test's schema.
struct DropSchema {
    base: PgConnectOptions,
    name: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let base = self.base.clone();
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        // Drop runs inside the test's runtime, which cannot block on a future: a thread
        // with a runtime of its own does the clean-up.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async move {
                    if let Ok(mut conn) = sqlx::PgConnection::connect_with(&base).await {
                        let _ = sqlx::query(&sql).execute(&mut conn).await;
                        let _ = conn.close().await;
                    }
                });
            }
        })
        .join();
    }
}

/// A fresh schema of the Postgres at `KEYGATE_TEST_POSTGRES_URL`: the server's URL, the
/// schema's name and a guard that drops the schema when dropped. `None` (and a note on
/// stderr) when the variable is unset.
pub(crate) async fn fresh_schema() -> Option<(String, String, Box<dyn Any + Send>)> {
    let Ok(url) = std::env::var(POSTGRES_URL) else {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipping: set {POSTGRES_URL} to run the Postgres conformance column");
        }
        return None;
    };
    let base = PgConnectOptions::from_str(&url).expect("a Postgres URL");
    let id = KeyId::generate().expect("random id");
    let name = format!("kg_conf_{}", id.as_str()[4..].to_lowercase());
    let mut conn = sqlx::PgConnection::connect_with(&base)
        .await
        .expect("Postgres");
    sqlx::query(&format!("CREATE SCHEMA {name}"))
        .execute(&mut conn)
        .await
        .expect("a fresh schema");
    let _ = conn.close().await;
    let guard = DropSchema {
        base,
        name: name.clone(),
    };
    Some((url, name, Box::new(guard)))
}

impl Store for Postgres {
    const NAME: &'static str = "postgres";

    async fn install(
        builder: KeygateBuilder,
        clock: ManualClock,
    ) -> Option<(KeygateBuilder, Box<dyn Any + Send>)> {
        let (url, name, guard) = fresh_schema().await?;
        let base = PgConnectOptions::from_str(&url).expect("a Postgres URL");
        let options = base.options([("search_path", name.as_str())]);
        let store = SqlStore::connect_postgres(options)
            .await
            .expect("Postgres store");
        Some((sql(builder, store, clock), guard))
    }
}
