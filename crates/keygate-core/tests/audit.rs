//! The audit trail: what the engine records, with ids and never a secret.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::{Arc, Mutex};

use common::{Fixture, bearer, get};
use keygate_core::audit::AuditEvent;
use keygate_core::key::{KeyKind, NewKey};
use keygate_core::{Access, Environment, Principal};

/// Each event as its name and its `Debug` text.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

fn recording() -> (Fixture, Seen) {
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    let fixture = Fixture::with(move |builder| {
        builder.audit(move |event: &AuditEvent<'_>| {
            log.lock()
                .unwrap()
                .push((event.name().to_owned(), format!("{event:?}")));
        })
    });
    (fixture, seen)
}

fn names(seen: &Seen) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|(n, _)| n.clone())
        .collect()
}

#[tokio::test]
async fn refusals_are_recorded_with_their_code_only() {
    let (fixture, seen) = recording();
    let forged = "sk_live_0000000000000000000000000000000000000A";
    let request = get(&[("authorization", &bearer(forged))]);
    let access = Access::authenticated();
    assert!(
        fixture
            .keygate
            .authenticate(&request, &access)
            .await
            .is_err()
    );
    let request = get(&[]);
    assert!(
        fixture
            .keygate
            .authenticate(&request, &access)
            .await
            .is_err()
    );

    let events = seen.lock().unwrap().clone();
    assert_eq!(names(&seen), ["denied", "denied"]);
    assert!(events[0].1.contains("invalid_api_key"), "{events:?}");
    assert!(events[1].1.contains("missing_credentials"), "{events:?}");
    assert!(events.iter().all(|(_, text)| !text.contains(forged)));
}

#[tokio::test]
async fn key_changes_name_who_made_them() {
    let (fixture, seen) = recording();
    let operator = Principal::operator();
    let admin = fixture.keygate.admin(&operator);
    let created = admin
        .create_key(NewKey {
            tenant: Some("acme".into()),
            credits: Some(10),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await
        .unwrap();
    let id = created.record.id.clone();
    admin.add_credits(&id, 5).await.unwrap();
    let rotated = admin.rotate_key(&id, time::Duration::ZERO).await.unwrap();
    admin.revoke_key(&rotated.record.id).await.unwrap();
    // Trusted tooling, without a principal, is recorded too.
    fixture
        .keygate
        .create_key(NewKey::new(KeyKind::Secret, Environment::Test))
        .await
        .unwrap();

    assert_eq!(
        names(&seen),
        [
            "key.created",
            "key.credits_added",
            "key.rotated",
            "key.revoked",
            "key.created"
        ]
    );
    let events = seen.lock().unwrap().clone();
    assert!(events[0].1.contains(id.as_str()) && events[0].1.contains("acme"));
    assert!(events[0].1.contains("by: Some(") && events[4].1.contains("by: None"));
    assert!(events[2].1.contains(rotated.record.id.as_str()));
    for (_, text) in &events {
        assert!(!text.contains(created.key.expose()));
        assert!(!text.contains(rotated.key.expose()));
    }
}

#[tokio::test]
async fn impersonation_is_recorded_only_when_let_through() {
    let (fixture, seen) = recording();
    let key = fixture.secret_key("acme").await;
    let request = get(&[
        ("authorization", &bearer(key.key.expose())),
        ("x-on-behalf-of", "user_123"),
    ]);
    let grant = fixture
        .keygate
        .authenticate(&request, &Access::authenticated())
        .await
        .unwrap();
    assert_eq!(grant.principal().subject.as_deref(), Some("user_123"));

    // Where the route forbids it, it is a refusal, not an impersonation.
    let refused = fixture
        .keygate
        .authenticate(&request, &Access::authenticated().forbid_impersonation())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "impersonation_forbidden");

    let events = seen.lock().unwrap().clone();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["key.created", "impersonation", "denied"]);
    let impersonation = &events[1].1;
    assert!(impersonation.contains("user_123"));
    assert!(impersonation.contains(key.record.id.as_str()));
    assert!(impersonation.contains("acme"));
    assert!(!impersonation.contains(key.key.expose()));
}

#[tokio::test]
async fn admin_routes_refuse_impersonation_and_record_it() {
    let (fixture, seen) = recording();
    let request = get(&[
        ("x-client-secret", fixture.secret.expose()),
        ("x-on-behalf-of", "user_123"),
    ]);
    let refused = fixture
        .keygate
        .authenticate(&request, &Access::admin())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "impersonation_forbidden");
    assert_eq!(names(&seen), ["denied"]);
}

#[tokio::test]
async fn self_service_and_account_changes_are_recorded_with_who_made_them() {
    let (fixture, seen) = recording();
    let ada = keygate_core::testing::accounts::user("acme", "auth0|ada");
    let me = fixture.keygate.self_service(&ada);
    let created = me.create_key(None, Environment::Live).await.unwrap();
    me.revoke_key(&created.record.id).await.unwrap();
    let operator = Principal::operator();
    let account = keygate_core::account::Account::new("acme", "auth0|ada").unwrap();
    let admin = fixture.keygate.admin(&operator);
    admin.add_account_credits(&account, 5).await.unwrap();
    let daily = keygate_core::account::Refill::new(5, keygate_core::account::RefillInterval::Daily)
        .unwrap();
    admin
        .set_account_refill(&account, Some(daily))
        .await
        .unwrap();
    admin.set_account_refill(&account, None).await.unwrap();
    assert_eq!(
        names(&seen),
        [
            "key.created",
            "key.revoked",
            "account.credits_added",
            "account.refill_set",
            "account.refill_cleared"
        ]
    );
    let events = seen.lock().unwrap().clone();
    assert!(
        events[0].1.contains("auth0|ada"),
        "the user made it: {}",
        events[0].1
    );
    assert!(events[2].1.contains("acme/auth0|ada"), "{}", events[2].1);
    assert!(!events[0].1.contains(created.key.expose()));
}

/// Self-service keys and account top-ups: the events name the user and the account,
/// never a key's text; neither does the `Debug` of what the calls return.
#[tokio::test]
async fn self_service_and_account_events_hold_no_key_text() {
    let (fixture, seen) = recording();
    let ada = keygate_core::testing::accounts::user("acme", "auth0|ada");
    let me = fixture.keygate.self_service(&ada);
    let created = me.create_key(None, Environment::Live).await.unwrap();
    let text = created.key.expose().to_owned();
    assert!(!format!("{created:?}").contains(&text));
    let listed = me.list_keys().await.unwrap();
    assert!(!format!("{listed:?}").contains(&text));
    let operator = Principal::operator();
    let account = keygate_core::account::Account::new("acme", "auth0|ada").unwrap();
    fixture
        .keygate
        .admin(&operator)
        .add_account_credits(&account, 5)
        .await
        .unwrap();
    let view = me.account().await.unwrap();
    assert_eq!(view.credits, Some(5));
    assert!(!format!("{view:?}").contains(&text));
    me.revoke_key(&created.record.id).await.unwrap();

    let events = seen.lock().unwrap().clone();
    assert!(events.len() >= 3, "{events:?}");
    assert!(events[0].1.contains("auth0|ada"), "{events:?}");
    for (_, event) in &events {
        assert!(!event.contains(&text), "{event}");
    }
}
