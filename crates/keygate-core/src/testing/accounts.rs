//! Accounts end to end, through a [`Keygate`] built on the store and meter under test:
//! the scenarios issue 18 checks on every backend (call them from a multi-threaded
//! Tokio test, so the requests really race).
//!
//! ```
//! use keygate_core::{Keygate, MemoryKeyStore, MemoryMeter, Pepper};
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let keygate = Keygate::builder()
//!     .pepper(Pepper::generate()?)
//!     .key_store(MemoryKeyStore::new())
//!     .meter(MemoryMeter::new())
//!     .build()?;
//! keygate_core::testing::accounts::an_accounts_keys_spend_one_balance(&keygate).await;
//! # Ok(())
//! # }
//! ```
// Test code: a failed expectation panics, failing the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use time::Duration;

use crate::access::AuthMethod;
use crate::account::Account;
use crate::error::AuthError;
use crate::key::{Environment, KeyKind, NewKey};
use crate::{Access, AdminError, Keygate, Principal};

/// The principal of a signed-in user: a user JWT of `tenant` for `sub`.
pub fn user(tenant: &str, sub: &str) -> Principal {
    let mut user = Principal::new(AuthMethod::Jwt);
    user.tenant = Some(Arc::from(tenant));
    user.subject = Some(Arc::from(sub));
    user
}

/// Two keys of one account and the successor of one of them spend one balance: with 30
/// credits, 100 concurrent requests costing 1, split across the three, serve exactly 30;
/// the balance ends at 0.
pub async fn an_accounts_keys_spend_one_balance(keygate: &Keygate) {
    let operator = Principal::operator();
    let admin = keygate.admin(&operator);
    let account = Account::new("acme", "auth0|ada").unwrap();
    let owned = || NewKey {
        tenant: Some("acme".into()),
        owner: Some("auth0|ada".into()),
        ..NewKey::new(KeyKind::Secret, Environment::Live)
    };
    let first = admin.create_key(owned()).await.unwrap();
    let second = admin.create_key(owned()).await.unwrap();
    let successor = admin
        .rotate_key(&second.record.id, Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(successor.record.owner.as_deref(), Some("auth0|ada"));
    assert_eq!(admin.add_account_credits(&account, 30).await.unwrap(), 30);

    let texts: Vec<String> = [&first, &second, &successor]
        .iter()
        .map(|created| created.key.expose().to_owned())
        .collect();
    let paid = Access::authenticated().cost(1);
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let (keygate, paid) = (keygate.clone(), paid.clone());
            let text = texts[i % texts.len()].clone();
            tokio::spawn(async move {
                let request = http::Request::builder()
                    .header("x-api-key", text)
                    .body(())
                    .unwrap();
                match keygate.authenticate(&request, &paid).await {
                    Ok(grant) => Ok(grant.principal().owner.clone()),
                    Err(error) => Err(error.code()),
                }
            })
        })
        .collect();
    let (mut served, mut short) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(owner) => {
                assert_eq!(owner.as_deref(), Some("auth0|ada"));
                served += 1;
            }
            Err("insufficient_credits") => short += 1,
            Err(other) => panic!("refused with {other}"),
        }
    }
    assert_eq!((served, short), (30, 70));
    assert_eq!(admin.get_account(&account).await.unwrap().credits, Some(0));
    assert_eq!(keygate.credits(&first.record).await.unwrap(), Some(0));
}

/// Twenty self-service creations racing for one account's ten slots make exactly ten
/// keys; the others are 409 `key_limit_reached`. A revoked key frees a slot.
pub async fn self_service_keys_are_capped_per_account(keygate: &Keygate) {
    let ada = user("acme", "auth0|ada");
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (keygate, ada) = (keygate.clone(), ada.clone());
            tokio::spawn(async move {
                keygate
                    .self_service(&ada)
                    .create_key(Some(format!("key {i}")), Environment::Live)
                    .await
                    .map(|created| created.record)
            })
        })
        .collect();
    let mut created = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(record) => created.push(record),
            Err(AdminError::Refused(AuthError::KeyLimitReached)) => {}
            Err(other) => panic!("refused with {other:?}"),
        }
    }
    assert_eq!(created.len(), 10);
    let me = keygate.self_service(&ada);
    assert_eq!(me.list_keys().await.unwrap().len(), 10);
    assert_eq!(me.account().await.unwrap().keys, 10);
    let refused = me.create_key(None, Environment::Live).await.unwrap_err();
    let AdminError::Refused(error) = refused else {
        panic!("the eleventh key: {refused:?}");
    };
    assert_eq!(
        (error.status().as_u16(), error.code()),
        (409, "key_limit_reached")
    );
    me.revoke_key(&created[0].id).await.unwrap();
    assert_eq!(me.list_keys().await.unwrap().len(), 9);
    me.create_key(None, Environment::Test).await.unwrap();
    assert_eq!(me.account().await.unwrap().keys, 10);
}
