//! keygate-oauth's store suite (`keygate_oauth::oauth_store_suite!`) against SQLite and
//! Postgres: every flow and refusal of the authorization server, end to end through the
//! server and the engine, on `SqlStore::oauth()`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use keygate_oauth::oauth_store_suite;
use keygate_oauth::testing::StoreUnderTest;

use common::{PgSchema, sqlite};

oauth_store_suite!(sqlite_file, async {
    let db = sqlite().await;
    Some(StoreUnderTest::new(db.store.oauth()).guarded(db))
});

oauth_store_suite!(postgres, async {
    let schema = PgSchema::new("oauth store suite").await?;
    let store = schema.store().await;
    Some(StoreUnderTest::new(store.oauth()).guarded(schema))
});
