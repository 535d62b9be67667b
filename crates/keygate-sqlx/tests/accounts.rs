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
