//! Issue 18 on SQL, through the engine: an account's keys spend one balance under
//! concurrent requests, and self-service creations racing for an account's last slots
//! never make more than ten keys, on SQLite and on the Postgres of
//! `KEYGATE_TEST_POSTGRES_URL` (skipped, with a note, when unset). Two instances share
//! the balance too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{PgSchema, sqlite};
use keygate_core::testing::accounts::{
    an_accounts_keys_spend_one_balance, self_service_keys_are_capped_per_account,
};
use keygate_core::{Keygate, Pepper};
use keygate_sqlx::SqlStore;

fn engine(store: &SqlStore) -> Keygate {
    Keygate::builder()
        .pepper(Pepper::from_bytes(vec![3; 32]).unwrap())
        .key_store(store.clone())
        .meter(store.meter())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_two_keys_and_a_successor_spend_one_balance() {
    let db = sqlite().await;
    an_accounts_keys_spend_one_balance(&engine(&db.store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_self_service_caps_an_account_at_ten_keys() {
    let db = sqlite().await;
    self_service_keys_are_capped_per_account(&engine(&db.store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_keys_and_a_successor_spend_one_balance() {
    let Some(schema) = PgSchema::new("accounts_balance").await else {
        return;
    };
    let store = schema.store().await;
    an_accounts_keys_spend_one_balance(&engine(&store)).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_self_service_caps_an_account_at_ten_keys() {
    let Some(schema) = PgSchema::new("accounts_limit").await else {
        return;
    };
    let store = schema.store().await;
    self_service_keys_are_capped_per_account(&engine(&store)).await;
    store.close().await;
}

/// Two instances (own pools, own engines) on one Postgres: the account's balance is one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_instances_share_an_accounts_balance() {
    use keygate_core::account::Account;
    use keygate_core::key::{KeyKind, NewKey};
    use keygate_core::{Access, Environment, Principal};

    let Some(schema) = PgSchema::new("accounts_instances").await else {
        return;
    };
    let (a, b) = (schema.store().await, schema.store().await);
    let (one, two) = (engine(&a), engine(&b));
    let operator = Principal::operator();
    let key = one
        .admin(&operator)
        .create_key(NewKey {
            tenant: Some("acme".into()),
            owner: Some("auth0|ada".into()),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await
        .unwrap();
    let account = Account::new("acme", "auth0|ada").unwrap();
    two.admin(&operator)
        .add_account_credits(&account, 10)
        .await
        .unwrap();
    let paid = Access::authenticated().cost(1);
    let request = http::Request::builder()
        .header("x-api-key", key.key.expose())
        .body(())
        .unwrap();
    let mut served = 0;
    for i in 0..30 {
        let instance = if i % 2 == 0 { &one } else { &two };
        if instance.authenticate(&request, &paid).await.is_ok() {
            served += 1;
        }
    }
    assert_eq!(served, 10);
    let view = one.admin(&operator).get_account(&account).await.unwrap();
    assert_eq!((view.credits, view.keys), (Some(0), 1));
    a.close().await;
    b.close().await;
}

/// A key row written before migration 4 (its columns only) reads back as a key without
/// owner or refill, and keeps working: authenticated, metered against its own balance.
#[tokio::test]
async fn sqlite_key_rows_from_before_accounts_keep_working() {
    use keygate_core::key::{KeyKind, NewKey};
    use keygate_core::{Access, Environment};

    let db = sqlite().await;
    let keygate = engine(&db.store);
    // Made as any key, then its row rewritten with only the columns of migrations 1 to 3
    // set (the new ones NULL), as a row from before accounts would be.
    let created = keygate
        .create_key(NewKey {
            tenant: Some("acme".into()),
            credits: Some(3),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await
        .unwrap();
    let pool = db.store.sqlite_pool().unwrap();
    sqlx::query(
        "UPDATE kg_keys SET owner = NULL, refill_amount = NULL, refill_interval = NULL \
         WHERE id = $1",
    )
    .bind(created.record.id.as_str())
    .execute(pool)
    .await
    .unwrap();
    let request = http::Request::builder()
        .header("x-api-key", created.key.expose())
        .body(())
        .unwrap();
    let grant = keygate
        .authenticate(&request, &Access::authenticated().cost(1))
        .await
        .unwrap();
    assert_eq!(grant.credits_remaining(), Some(2));
    assert_eq!(grant.principal().owner, None);
    let record = keygate.get_key(&created.record.id).await.unwrap();
    assert_eq!((record.owner.clone(), record.refill), (None, None));
    let (refill,): (Option<i64>,) =
        sqlx::query_as("SELECT refill_amount FROM kg_credits WHERE account = $1")
            .bind(created.record.lineage.as_str())
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(refill, None);
}
