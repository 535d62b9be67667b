//! The `KeyStore` suite against memory, SQLite and Postgres: bare, behind the cache, and
//! behind the cache `SqlStore::cached()` keeps in step with other instances.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[macro_use]
mod common;

/// Every function of the `KeyStore` suite, against every backend.
macro_rules! key_store_suite {
    ($make_memory:expr, $from_store:expr) => {
        against_every_backend!(keys, $make_memory, $from_store;
            a_record_round_trips_through_every_lookup,
            unknown_digests_and_ids_find_nothing,
            duplicates_are_conflicts,
            list_filters_by_tenant_oldest_first,
            revoke_keeps_the_earliest_time,
            rotation_stores_one_successor_and_says_why_not,
            racing_rotations_leave_exactly_one_successor,
        );
    };
}

mod bare {
    use keygate_core::MemoryKeyStore;
    use keygate_sqlx::SqlStore;

    key_store_suite!(MemoryKeyStore::new(), async |store: SqlStore| store);
}

mod cached {
    use keygate_core::MemoryKeyStore;
    use keygate_core::store::CachedKeyStore;
    use keygate_sqlx::SqlStore;

    key_store_suite!(
        CachedKeyStore::new(MemoryKeyStore::new()),
        async |store: SqlStore| { CachedKeyStore::new(store) }
    );
}

/// Behind the cache `SqlStore::cached()` builds: kept in step by its listener (Postgres)
/// or poller (SQLite), which must not disturb what the suite expects.
mod listening {
    use keygate_core::MemoryKeyStore;
    use keygate_core::store::CachedKeyStore;
    use keygate_sqlx::SqlStore;

    key_store_suite!(
        CachedKeyStore::new(MemoryKeyStore::new()),
        async |store: SqlStore| crate::common::listening_cache(store).await
    );
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
