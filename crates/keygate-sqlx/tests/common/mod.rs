//! Backends for the shared suites: memory, a SQLite temp file, and a fresh schema on the
//! Postgres of `KEYGATE_TEST_POSTGRES_URL` (tests are skipped, with a message, when it is
//! unset).
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

pub mod keys;
pub mod meters;

use std::str::FromStr;
use std::sync::Arc;

use keygate_core::key::{KeyHasher, KeyId, KeyRecord};
use keygate_core::{Environment, KeyKind, Pepper, ScopeSet};
use keygate_sqlx::SqlStore;
use sqlx::Connection as _;
use sqlx::postgres::PgConnectOptions;
use time::OffsetDateTime;
use time::macros::datetime;

pub const T0: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);
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

    pub async fn drop_schema(self) {
        let mut conn = sqlx::PgConnection::connect_with(&self.base).await.unwrap();
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
}

pub fn hasher() -> KeyHasher {
    KeyHasher::new(&Pepper::from_bytes(vec![7; 32]).unwrap())
}

/// A record for key text `text`, created at `T0` plus `offset_secs`.
pub fn record(text: &str, tenant: Option<&str>, offset_secs: i64) -> KeyRecord {
    let id = KeyId::generate().unwrap();
    KeyRecord {
        lineage: id.clone(),
        id,
        digest: hasher().digest(text),
        prefix: "sk_live_".into(),
        start: "sk_live_abcd".into(),
        kind: KeyKind::Secret,
        environment: Environment::Live,
        tenant: tenant.map(Arc::from),
        name: None,
        scopes: ScopeSet::none(),
        rate_limit: None,
        credits: None,
        metadata: Arc::default(),
        created_at: T0 + time::Duration::seconds(offset_secs),
        expires_at: None,
        revoked_at: None,
        valid_until: None,
    }
}

/// Runs one suite function against every backend: a module per suite function, with a
/// test per backend. Postgres tests get their own schema and drop it afterwards.
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
                    $crate::common::$suite::$name(($from_store)(db.store.clone())).await;
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
                    $crate::common::$suite::$name(($from_store)(store.clone())).await;
                    store.close().await;
                    schema.drop_schema().await;
                }
            }
        )+
    };
}
