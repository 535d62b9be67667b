//! The suite's scenarios on accounts: keys with an owner, the atomic key limit, and the
//! tenant and account pages.

use std::sync::Arc;

use time::Duration;

use super::{T0, record};
use crate::account::{Account, Refill, RefillInterval};
use crate::key::KeyRecord;
use crate::store::KeyStore;

/// A key of `tenant` owned by `owner`, created `offset_secs` after [`T0`].
fn owned(text: &str, tenant: &str, owner: &str, offset_secs: i64) -> KeyRecord {
    KeyRecord {
        owner: Some(Arc::from(owner)),
        ..record(text, Some(tenant), offset_secs)
    }
}

fn account(tenant: &str, owner: &str) -> Account {
    Account::new(tenant, owner).unwrap()
}

fn ids(records: &[Arc<KeyRecord>]) -> Vec<&str> {
    records.iter().map(|record| record.id.as_str()).collect()
}

/// A key's owner and refill rule come back as stored, through every lookup.
pub async fn owner_and_refill_round_trip(store: impl KeyStore) {
    let with_owner = owned("sk_live_owned", "acme", "auth0|abc", 0);
    let with_refill = KeyRecord {
        refill: Some(Refill::new(500, RefillInterval::Monthly).unwrap()),
        credits: Some(500),
        ..record("sk_live_refill", Some("acme"), 1)
    };
    for key in [&with_owner, &with_refill] {
        store.create(key).await.unwrap();
        assert_eq!(*store.get(&key.id).await.unwrap().unwrap(), *key);
        assert_eq!(
            *store.find_by_hash(&key.digest).await.unwrap().unwrap(),
            *key
        );
    }
    assert_eq!(
        with_owner.account(),
        Some(account("acme", "auth0|abc")),
        "a key with a tenant and an owner belongs to their account"
    );
}

/// An account's keys: only those of its tenant and owner, only active ones (not revoked,
/// expired or past their grace), oldest first, at most the limit; and their count.
pub async fn account_keys_are_the_active_keys_of_one_account(store: impl KeyStore) {
    let now = T0 + Duration::hours(1);
    let first = owned("sk_live_a1", "acme", "ada", 0);
    let revoked = KeyRecord {
        revoked_at: Some(T0),
        ..owned("sk_live_a2", "acme", "ada", 1)
    };
    let expired = KeyRecord {
        expires_at: Some(now),
        ..owned("sk_live_a3", "acme", "ada", 2)
    };
    let rotated_out = KeyRecord {
        valid_until: Some(now - Duration::seconds(1)),
        ..owned("sk_live_a4", "acme", "ada", 3)
    };
    let in_grace = KeyRecord {
        valid_until: Some(now + Duration::seconds(1)),
        ..owned("sk_live_a5", "acme", "ada", 4)
    };
    let last = owned("sk_live_a6", "acme", "ada", 5);
    let others = [
        owned("sk_live_o1", "beta", "ada", 0),
        owned("sk_live_o2", "acme", "Ada", 0),
        owned("sk_live_o3", "acme", "adam", 0),
        record("sk_live_o4", Some("acme"), 0),
    ];
    for key in [&first, &revoked, &expired, &rotated_out, &in_grace, &last]
        .into_iter()
        .chain(&others)
    {
        store.create(key).await.unwrap();
    }
    let ada = account("acme", "ada");
    let listed = store.account_keys(&ada, now, 10).await.unwrap();
    assert_eq!(
        ids(&listed),
        [first.id.as_str(), in_grace.id.as_str(), last.id.as_str()]
    );
    let one = store.account_keys(&ada, now, 1).await.unwrap();
    assert_eq!(ids(&one), [first.id.as_str()]);
    assert_eq!(store.count_account_keys(&ada, now).await.unwrap(), 3);
    let nobody = account("acme", "nobody");
    assert!(
        store
            .account_keys(&nobody, now, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.count_account_keys(&nobody, now).await.unwrap(), 0);
}

/// A key is created within its account's limit only while the account has fewer active
/// keys; a revoked key frees its slot; keys of other accounts do not count.
pub async fn create_within_limit_counts_the_accounts_active_keys(store: impl KeyStore) {
    let now = T0 + Duration::minutes(5);
    let one = owned("sk_live_l1", "acme", "ada", 0);
    let two = owned("sk_live_l2", "acme", "ada", 1);
    let three = owned("sk_live_l3", "acme", "ada", 2);
    store
        .create(&owned("sk_live_lx", "acme", "bob", 0))
        .await
        .unwrap();
    assert!(store.create_within_limit(&one, 2, now).await.unwrap());
    assert!(store.create_within_limit(&two, 2, now).await.unwrap());
    assert!(!store.create_within_limit(&three, 2, now).await.unwrap());
    assert!(store.get(&three.id).await.unwrap().is_none(), "not stored");
    store.revoke(&one.id, now).await.unwrap();
    assert!(store.create_within_limit(&three, 2, now).await.unwrap());
    assert!(store.get(&three.id).await.unwrap().is_some());
    // A duplicate is still a conflict.
    assert!(store.create_within_limit(&three, 5, now).await.is_err());
}

/// Twenty creations racing for an account's ten slots store exactly ten keys.
pub async fn racing_creations_never_exceed_the_limit(store: impl KeyStore) {
    let store = Arc::new(store);
    let now = T0 + Duration::minutes(5);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let key = owned(&format!("sk_live_race{i}"), "acme", "ada", i);
                store.create_within_limit(&key, 10, now).await.unwrap()
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        if task.await.unwrap() {
            created += 1;
        }
    }
    assert_eq!(created, 10);
    let ada = account("acme", "ada");
    assert_eq!(store.count_account_keys(&ada, now).await.unwrap(), 10);
}

/// Tenants and accounts come in pages, ordered bytewise, after a cursor, at most the
/// limit; each with its active keys (and a tenant with its accounts).
pub async fn tenants_and_accounts_come_in_ordered_pages(store: impl KeyStore) {
    let now = T0 + Duration::minutes(5);
    let keys = [
        owned("sk_live_t1", "acme", "ada", 0),
        owned("sk_live_t2", "acme", "ada", 1),
        owned("sk_live_t3", "acme", "Zed", 2),
        KeyRecord {
            revoked_at: Some(T0),
            ..owned("sk_live_t4", "acme", "auth0|x", 3)
        },
        record("sk_live_t5", Some("acme"), 4),
        owned("sk_live_t6", "Beta", "ada", 0),
        record("sk_live_t7", Some("zeta"), 0),
        record("sk_live_t8", None, 0),
    ];
    for key in &keys {
        store.create(key).await.unwrap();
    }
    let summary = |t: &crate::account::TenantSummary| (t.tenant.to_string(), t.keys, t.accounts);
    let page = store.list_tenants(None, 2, now).await.unwrap();
    assert_eq!(
        page.iter().map(summary).collect::<Vec<_>>(),
        [("Beta".to_owned(), 1, 1), ("acme".to_owned(), 4, 3)]
    );
    let rest = store.list_tenants(Some("acme"), 2, now).await.unwrap();
    assert_eq!(
        rest.iter().map(summary).collect::<Vec<_>>(),
        [("zeta".to_owned(), 1, 0)]
    );

    let shown = |found: Vec<(Account, u64)>| {
        found
            .into_iter()
            .map(|(account, keys)| (account.to_string(), keys))
            .collect::<Vec<_>>()
    };
    let acme = store
        .list_accounts(Some("acme"), None, 10, now)
        .await
        .unwrap();
    assert_eq!(
        shown(acme),
        [
            ("acme/Zed".to_owned(), 1),
            ("acme/ada".to_owned(), 2),
            ("acme/auth0|x".to_owned(), 0),
        ]
    );
    let after = account("acme", "Zed");
    let next = store
        .list_accounts(Some("acme"), Some(&after), 1, now)
        .await
        .unwrap();
    assert_eq!(shown(next), [("acme/ada".to_owned(), 2)]);
    let every = store.list_accounts(None, None, 10, now).await.unwrap();
    assert_eq!(
        shown(every)
            .into_iter()
            .map(|(id, _)| id)
            .collect::<Vec<_>>(),
        ["Beta/ada", "acme/Zed", "acme/ada", "acme/auth0|x"]
    );
    let across = store
        .list_accounts(None, Some(&account("Beta", "ada")), 2, now)
        .await
        .unwrap();
    assert_eq!(
        shown(across)
            .into_iter()
            .map(|(id, _)| id)
            .collect::<Vec<_>>(),
        ["acme/Zed", "acme/ada"]
    );
}
