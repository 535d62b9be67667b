//! Issue 18 through the engine: keys with an owner share their account's balance and act
//! for their owner only; accounts through `KeyAdmin`; refills on the manual clock;
//! self-service keys for signed-in users.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Fixture, bearer, code};
use keygate_core::account::{Account, MAX_ACCOUNT_KEYS, Refill, RefillInterval};
use keygate_core::key::{KeyKind, NewKey};
use keygate_core::testing::accounts::{
    an_accounts_keys_spend_one_balance, self_service_keys_are_capped_per_account, user,
};
use keygate_core::token::{TokenKind, TokenRequest};
use keygate_core::{Access, AdminError, AuthMethod, Environment, Principal};
use time::Duration;
use time::macros::datetime;

fn owned(owner: &str) -> NewKey {
    NewKey {
        tenant: Some("acme".into()),
        owner: Some(owner.into()),
        ..NewKey::new(KeyKind::Secret, Environment::Live)
    }
}

fn ada() -> Account {
    Account::new("acme", "auth0|ada").unwrap()
}

fn refusal<T: std::fmt::Debug>(result: Result<T, AdminError>) -> (u16, &'static str) {
    match result.unwrap_err() {
        AdminError::Refused(error) => (error.status().as_u16(), error.code()),
        other => panic!("not a refusal: {other:?}"),
    }
}

fn invalid<T: std::fmt::Debug>(result: Result<T, AdminError>) -> String {
    match result.unwrap_err() {
        AdminError::Invalid(detail) => detail.into_owned(),
        other => panic!("not a 400: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_keys_and_a_successor_spend_one_balance_on_memory() {
    let f = Fixture::new();
    an_accounts_keys_spend_one_balance(&f.keygate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn self_service_caps_an_account_at_ten_active_keys_on_memory() {
    let f = Fixture::new();
    self_service_keys_are_capped_per_account(&f.keygate).await;
    assert_eq!(MAX_ACCOUNT_KEYS, 10);
}

#[tokio::test]
async fn an_owner_key_acts_for_its_owner_only() {
    let f = Fixture::new();
    let operator = f.operator().await;
    let key = f
        .keygate
        .admin(&operator)
        .create_key(owned("auth0|ada"))
        .await
        .unwrap();
    let text = key.key.expose();
    let principal = f
        .principal(&[("x-api-key", text)], &Access::authenticated())
        .await;
    assert_eq!(principal.subject.as_deref(), Some("auth0|ada"));
    assert_eq!(principal.owner.as_deref(), Some("auth0|ada"));
    assert_eq!(principal.tenant.as_deref(), Some("acme"));
    assert_eq!(principal.key_id.as_ref(), Some(&key.record.id));
    let json = serde_json::to_value(&principal).unwrap();
    assert_eq!(json["owner"], "auth0|ada");
    assert_eq!(json["subject"], "auth0|ada");
    // It opens the tenant's other routes like a secret key.
    let scoped = Access::scoped("magic-background:create").unwrap();
    assert!(
        f.call(&[("authorization", &bearer(text))], &scoped)
            .await
            .is_ok()
    );

    // Admin routes refuse it, in x-client-secret or through KeyAdmin.
    let admin = f.call(&[("x-client-secret", text)], &Access::admin()).await;
    assert_eq!(code(admin), "secret_key_required");
    let by_key = f.keygate.admin(&principal);
    assert_eq!(
        refusal(by_key.list_keys(None, None, 10).await),
        (403, "secret_key_required")
    );
    assert_eq!(
        refusal(by_key.get_account(&ada()).await),
        (403, "secret_key_required")
    );
    // It mints nothing: no token, no client token.
    for kind in [TokenKind::Session, TokenKind::OneTime, TokenKind::Client] {
        let minted = f.keygate.issue_token(&principal, TokenRequest::new(kind));
        let error = minted.unwrap_err();
        assert_eq!(
            (error.status().as_u16(), error.code()),
            (403, "credential_not_accepted")
        );
    }
    // It acts for no other user.
    let on_behalf = f
        .call(
            &[("x-api-key", text), ("x-on-behalf-of", "user_2")],
            &Access::authenticated(),
        )
        .await;
    assert_eq!(code(on_behalf), "impersonation_forbidden");
}

#[tokio::test]
async fn owner_keys_are_validated_and_credits_and_refills_take_the_operator() {
    let f = Fixture::new();
    let operator = f.operator().await;
    let admin = f.keygate.admin(&operator);
    let no_tenant = NewKey {
        owner: Some("ada".into()),
        ..NewKey::new(KeyKind::Secret, Environment::Live)
    };
    assert_eq!(
        invalid(admin.create_key(no_tenant).await),
        "owner: a key with an owner needs a tenant"
    );
    let with_credits = NewKey {
        credits: Some(5),
        ..owned("ada")
    };
    assert!(invalid(admin.create_key(with_credits).await).starts_with("credits: "));
    let daily = Refill::new(10, RefillInterval::Daily).unwrap();
    let with_refill = NewKey {
        refill: Some(daily),
        ..owned("ada")
    };
    assert!(invalid(admin.create_key(with_refill).await).starts_with("refill: "));
    let bad_owner = owned("ada lovelace");
    assert!(invalid(admin.create_key(bad_owner).await).starts_with("owner: "));
    assert!(
        admin.create_key(owned("auth0|abc")).await.is_ok(),
        "user ids with |"
    );

    // A tenant's key may create owner keys of its tenant, but no credits nor refills.
    let tenant_key = f.secret_key("acme").await;
    let acme = f
        .principal(
            &[("x-client-secret", tenant_key.key.expose())],
            &Access::admin(),
        )
        .await;
    let by_tenant = f.keygate.admin(&acme);
    let created = by_tenant
        .create_key(NewKey {
            tenant: None,
            ..owned("auth0|ada")
        })
        .await
        .unwrap();
    assert_eq!(created.record.tenant.as_deref(), Some("acme"));
    let refilled_key = NewKey {
        tenant: Some("acme".into()),
        refill: Some(daily),
        ..NewKey::new(KeyKind::Secret, Environment::Live)
    };
    assert_eq!(
        refusal(by_tenant.create_key(refilled_key).await),
        (403, "operator_required")
    );
    assert_eq!(
        refusal(by_tenant.add_account_credits(&ada(), 5).await),
        (403, "operator_required")
    );
    assert_eq!(
        refusal(by_tenant.set_account_refill(&ada(), Some(daily)).await),
        (403, "operator_required")
    );
    assert_eq!(
        refusal(by_tenant.list_tenants(None, 10).await),
        (403, "operator_required")
    );
    // It reads its own tenant's accounts, not another's.
    assert_eq!(by_tenant.get_account(&ada()).await.unwrap().keys, 1);
    let other = Account::new("globex", "auth0|ada").unwrap();
    assert!(matches!(
        by_tenant.get_account(&other).await,
        Err(AdminError::NotFound)
    ));
    assert_eq!(
        refusal(by_tenant.list_accounts(Some("globex"), None, 10).await),
        (403, "tenant_forbidden")
    );
    // Account credits: 1 to MAX_CREDITS.
    assert!(invalid(admin.add_account_credits(&ada(), 0).await).starts_with("add: "));
    // An owner key's balance is its account's: it is topped up through the account.
    assert!(
        invalid(admin.add_credits(&created.record.id, 5).await)
            .contains("add credits to the account")
    );
}

#[tokio::test]
async fn an_account_without_a_balance_does_not_meter_its_keys() {
    let f = Fixture::new();
    let key = f.key(owned("auth0|ada")).await;
    let paid = Access::authenticated().cost(5);
    for _ in 0..3 {
        let grant = f
            .call(&[("x-api-key", key.key.expose())], &paid)
            .await
            .unwrap();
        assert_eq!(grant.credits_remaining(), None);
        assert!(!grant.is_charged());
    }
    assert_eq!(f.keygate.credits(&key.record).await.unwrap(), None);
    let operator = f.operator().await;
    let view = f
        .keygate
        .admin(&operator)
        .get_account(&ada())
        .await
        .unwrap();
    assert_eq!((view.credits, view.refill, view.keys), (None, None, 1));
    // An account nobody has heard of is answered too.
    let nobody = Account::new("acme", "nobody").unwrap();
    let view = f
        .keygate
        .admin(&operator)
        .get_account(&nobody)
        .await
        .unwrap();
    assert_eq!((view.credits, view.keys), (None, 0));
}

#[tokio::test]
async fn an_account_refill_sets_the_balance_back_at_midnight_on_the_manual_clock() {
    let f = Fixture::new();
    let key = f.key(owned("auth0|ada")).await;
    let operator = f.operator().await;
    let admin = f.keygate.admin(&operator);
    let daily = Refill::new(3, RefillInterval::Daily).unwrap();
    f.clock.set(datetime!(2030-03-10 22:00 UTC));
    let view = admin.set_account_refill(&ada(), Some(daily)).await.unwrap();
    assert_eq!((view.credits, view.refill), (Some(3), Some(daily)));
    let paid = Access::authenticated().cost(1);
    let headers = [("x-api-key", key.key.expose())];
    for left in [2, 1, 0] {
        let grant = f.call(&headers, &paid).await.unwrap();
        assert_eq!(grant.credits_remaining(), Some(left));
    }
    assert_eq!(code(f.call(&headers, &paid).await), "insufficient_credits");
    f.clock.set(datetime!(2030-03-11 0:00 UTC));
    // A read after the boundary shows the refill; the next request takes from it.
    assert_eq!(admin.get_account(&ada()).await.unwrap().credits, Some(3));
    assert_eq!(
        f.call(&headers, &paid).await.unwrap().credits_remaining(),
        Some(2)
    );
    // Added credits on top of a refill stay until the next boundary, then it is set back.
    assert_eq!(admin.add_account_credits(&ada(), 10).await.unwrap(), 12);
    f.clock.set(datetime!(2030-03-12 0:00 UTC));
    assert_eq!(
        f.call(&headers, &paid).await.unwrap().credits_remaining(),
        Some(2)
    );
    // Cleared: the balance stays and no longer refills.
    let cleared = admin.set_account_refill(&ada(), None).await.unwrap();
    assert_eq!((cleared.credits, cleared.refill), (Some(2), None));
    f.clock.set(datetime!(2030-03-13 0:00 UTC));
    assert_eq!(admin.get_account(&ada()).await.unwrap().credits, Some(2));
}

#[tokio::test]
async fn a_key_with_a_refill_starts_at_its_amount_and_refills_monthly() {
    let f = Fixture::new();
    f.clock.set(datetime!(2030-02-14 9:00 UTC));
    let monthly = Refill::new(2, RefillInterval::Monthly).unwrap();
    let key = f
        .key(NewKey {
            refill: Some(monthly),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await;
    assert_eq!(key.record.refill, Some(monthly));
    let headers = [("x-api-key", key.key.expose())];
    let paid = Access::authenticated().cost(1);
    assert_eq!(f.keygate.credits(&key.record).await.unwrap(), Some(2));
    f.call(&headers, &paid).await.unwrap();
    f.call(&headers, &paid).await.unwrap();
    f.clock.set(datetime!(2030-02-28 23:59:59 UTC));
    assert_eq!(code(f.call(&headers, &paid).await), "insufficient_credits");
    f.clock.set(datetime!(2030-03-01 0:00 UTC));
    assert_eq!(
        f.call(&headers, &paid).await.unwrap().credits_remaining(),
        Some(1)
    );
}

/// The first boundary of a key's refill counts from the key's creation: a key created
/// with 5 credits and a daily refill of 100, unused until after midnight, reads 100 and
/// spends from 100 (on every meter; before, a meter seeding it at first sight read 5).
#[tokio::test]
async fn a_key_unused_across_its_first_boundary_starts_from_its_refill() {
    let f = Fixture::new();
    f.clock.set(datetime!(2030-05-10 9:00 UTC));
    let daily = Refill::new(100, RefillInterval::Daily).unwrap();
    let key = f
        .key(NewKey {
            credits: Some(5),
            refill: Some(daily),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await;
    assert_eq!(f.keygate.credits(&key.record).await.unwrap(), Some(5));
    f.clock.set(datetime!(2030-05-11 0:00 UTC));
    assert_eq!(f.keygate.credits(&key.record).await.unwrap(), Some(100));
    let headers = [("x-api-key", key.key.expose())];
    let paid = Access::authenticated().cost(10);
    assert_eq!(
        f.call(&headers, &paid).await.unwrap().credits_remaining(),
        Some(90)
    );
    // Seeded now, it refills at the next midnight, not again at once.
    f.clock.set(datetime!(2030-05-11 23:59 UTC));
    assert_eq!(f.keygate.credits(&key.record).await.unwrap(), Some(90));
    f.clock.set(datetime!(2030-05-12 0:00 UTC));
    assert_eq!(f.keygate.credits(&key.record).await.unwrap(), Some(100));
}

#[tokio::test]
async fn tenants_and_accounts_come_in_bounded_pages() {
    let f = Fixture::new();
    let operator = f.operator().await;
    let admin = f.keygate.admin(&operator);
    for owner in ["a", "b", "c"] {
        admin.create_key(owned(owner)).await.unwrap();
    }
    f.secret_key("beta").await;
    for limit in [0, 101] {
        assert!(invalid(admin.list_tenants(None, limit).await).starts_with("limit: "));
        assert!(invalid(admin.list_accounts(None, None, limit).await).starts_with("limit: "));
    }
    let tenants = admin.list_tenants(None, 1).await.unwrap();
    assert_eq!((tenants.tenants.len(), tenants.has_more), (1, true));
    assert_eq!(&*tenants.tenants[0].tenant, "acme");
    assert_eq!(
        (tenants.tenants[0].keys, tenants.tenants[0].accounts),
        (3, 3)
    );
    let rest = admin.list_tenants(Some("acme"), 100).await.unwrap();
    assert_eq!((rest.tenants.len(), rest.has_more), (1, false));
    let admin_b = f.keygate.admin(&operator);
    admin_b
        .add_account_credits(&Account::new("acme", "b").unwrap(), 7)
        .await
        .unwrap();
    let page = admin_b.list_accounts(Some("acme"), None, 2).await.unwrap();
    assert!(page.has_more);
    let shown: Vec<_> = page
        .accounts
        .iter()
        .map(|view| (view.account.to_string(), view.credits, view.keys))
        .collect();
    assert_eq!(
        shown,
        [
            ("acme/a".into(), None, 1),
            ("acme/b".to_owned(), Some(7), 1)
        ]
    );
    let after = &page.accounts[1].account;
    let next = admin_b
        .list_accounts(Some("acme"), Some(after), 2)
        .await
        .unwrap();
    assert_eq!((next.accounts.len(), next.has_more), (1, false));
    let json = serde_json::to_value(&next).unwrap();
    assert_eq!(json["accounts"][0]["owner"], "c");
    assert_eq!(json["has_more"], false);
}

#[tokio::test]
async fn self_service_is_for_signed_in_users_of_a_tenant_and_their_own_keys() {
    let f = Fixture::new();
    // A key, the operator, a token: not a signed-in user.
    let sk = f.secret_key("acme").await;
    let key_principal = f
        .principal(&[("x-api-key", sk.key.expose())], &Access::authenticated())
        .await;
    let operator = f.operator().await;
    let token = f.token(TokenKind::Session, "lens:read").await;
    let token_principal = f
        .principal(
            &[("authorization", &bearer(token.expose()))],
            &Access::scoped("lens:read").unwrap(),
        )
        .await;
    for not_a_user in [&key_principal, &operator, &token_principal] {
        let me = f.keygate.self_service(not_a_user);
        assert_eq!(
            refusal(me.list_keys().await),
            (403, "credential_not_accepted")
        );
        assert_eq!(
            refusal(me.create_key(None, Environment::Live).await),
            (403, "credential_not_accepted")
        );
    }
    let mut no_tenant = Principal::new(AuthMethod::Jwt);
    no_tenant.subject = Some("auth0|ada".into());
    assert_eq!(
        refusal(f.keygate.self_service(&no_tenant).account().await),
        (403, "tenant_required")
    );

    let ada_user = user("acme", "auth0|ada");
    let bob_user = user("acme", "auth0|bob");
    let ada_me = f.keygate.self_service(&ada_user);
    let bob_me = f.keygate.self_service(&bob_user);
    let created = ada_me
        .create_key(Some("laptop".into()), Environment::Test)
        .await
        .unwrap();
    assert!(created.key.expose().starts_with("sk_test_"));
    assert_eq!(created.record.kind, KeyKind::Secret);
    assert_eq!(created.record.tenant.as_deref(), Some("acme"));
    assert_eq!(created.record.owner.as_deref(), Some("auth0|ada"));
    assert_eq!(created.record.name.as_deref(), Some("laptop"));
    // The key acts for ada.
    let principal = f
        .principal(
            &[("x-api-key", created.key.expose())],
            &Access::authenticated(),
        )
        .await;
    assert_eq!(principal.subject.as_deref(), Some("auth0|ada"));

    f.clock.advance(Duration::seconds(1));
    let second = ada_me.create_key(None, Environment::Live).await.unwrap();
    let bobs = bob_me.create_key(None, Environment::Live).await.unwrap();
    let listed: Vec<_> = ada_me
        .list_keys()
        .await
        .unwrap()
        .iter()
        .map(|r| r.id.clone())
        .collect();
    assert_eq!(
        listed,
        [created.record.id.clone(), second.record.id.clone()]
    );
    // Bob can neither see nor revoke ada's keys.
    assert!(matches!(
        bob_me.revoke_key(&created.record.id).await,
        Err(AdminError::NotFound)
    ));
    assert_eq!(bob_me.list_keys().await.unwrap().len(), 1);
    assert!(matches!(
        ada_me.revoke_key(&bobs.record.id).await,
        Err(AdminError::NotFound)
    ));
    // Revoked: refused at once, and no longer listed.
    ada_me.revoke_key(&created.record.id).await.unwrap();
    let refused = f
        .call(
            &[("x-api-key", created.key.expose())],
            &Access::authenticated(),
        )
        .await;
    assert_eq!(code(refused), "key_revoked");
    let listed = ada_me.list_keys().await.unwrap();
    assert_eq!(listed.len(), 1);
    let account = ada_me.account().await.unwrap();
    assert_eq!((account.keys, account.credits), (1, None));
}

/// The same `sub` in another tenant is another user: it neither lists, revokes nor
/// sees the keys of `acme/user_1`.
#[tokio::test]
async fn the_same_subject_in_another_tenant_manages_none_of_the_keys() {
    let f = Fixture::new();
    let acme = user("acme", "user_1");
    let globex = user("globex", "user_1");
    let created = f
        .keygate
        .self_service(&acme)
        .create_key(None, Environment::Live)
        .await
        .unwrap();
    let other = f.keygate.self_service(&globex);
    assert!(other.list_keys().await.unwrap().is_empty());
    assert!(matches!(
        other.revoke_key(&created.record.id).await,
        Err(AdminError::NotFound)
    ));
    assert_eq!(other.account().await.unwrap().keys, 0);
    let mine = f.keygate.self_service(&acme).list_keys().await.unwrap();
    assert_eq!(mine.len(), 1, "still active");
    assert_eq!(mine[0].tenant.as_deref(), Some("acme"));
}
