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
