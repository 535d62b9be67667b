//! keygate-core's published `KeyStore` suite (`keygate_core::testing::key_store`) against
//! SQLite and Postgres: bare, behind the cache, and behind the cache `SqlStore::cached()`
//! keeps in step with other instances. (The memory store runs it in keygate-core.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use keygate_core::key_store_suite;
use keygate_core::store::CachedKeyStore;
use keygate_core::testing::key_store::Guarded;

use common::{PgSchema, listening_cache, sqlite};

/// SQLite on a fresh temp file per test, the directory kept as long as the store.
mod sqlite {
    use super::*;

    key_store_suite!(bare, async {
        let db = sqlite().await;
        Guarded::new(db.store.clone(), db)
    });

    key_store_suite!(cached, async {
        let db = sqlite().await;
        Guarded::new(CachedKeyStore::new(db.store.clone()), db)
    });

    // Behind the cache `SqlStore::cached()` builds, kept in step by its poller, which
    // must not disturb what the suite expects.
    key_store_suite!(listening, async {
        let db = sqlite().await;
        Guarded::new(listening_cache(db.store.clone()).await, db)
    });
}

/// The Postgres of `KEYGATE_TEST_POSTGRES_URL`, in a fresh schema per test that is dropped
/// with the store; skipped, with a note on stderr, when the URL is unset.
mod postgres {
    use super::*;

    key_store_suite!(bare, async {
        let schema = PgSchema::new(module_path!()).await?;
        Some(Guarded::new(schema.store().await, schema))
    });

    key_store_suite!(cached, async {
        let schema = PgSchema::new(module_path!()).await?;
        Some(Guarded::new(
            CachedKeyStore::new(schema.store().await),
            schema,
        ))
    });

    // Behind the cache `SqlStore::cached()` builds, kept in step by its LISTEN/NOTIFY
    // listener.
    key_store_suite!(listening, async {
        let schema = PgSchema::new(module_path!()).await?;
        Some(Guarded::new(
            listening_cache(schema.store().await).await,
            schema,
        ))
    });
}

/// Postgres listings order ids bytewise (`COLLATE "C"`); the migrations give them indexes
/// in that collation, so a page is read from an index, not sorted from the whole table.
#[tokio::test]
async fn postgres_listing_indexes_match_the_listing_order() {
    let Some(schema) = common::PgSchema::new("listing_indexes").await else {
        return;
    };
    let store = schema.store().await;
    let pool = store.pg_pool().expect("a Postgres store");
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexname, indexdef FROM pg_indexes \
         WHERE schemaname = current_schema() AND tablename = 'kg_keys'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let def = |name: &str| {
        indexes
            .iter()
            .find(|(index, _)| index == name)
            .map(|(_, def)| def.clone())
            .unwrap_or_else(|| panic!("no index {name}: {indexes:?}"))
    };
    assert!(def("kg_keys_created_c").contains(r#"id COLLATE "C""#));
    assert!(def("kg_keys_tenant_c").contains(r#"id COLLATE "C""#));
    assert!(
        !indexes.iter().any(|(index, _)| index == "kg_keys_created"),
        "the default-collation index is gone: {indexes:?}"
    );
    store.close().await;
    schema.drop_schema().await;
}
