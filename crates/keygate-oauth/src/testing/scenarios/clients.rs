//! Clients: tenant clients, removal revoking grants, listing and purging expired state.

use std::sync::Arc;

use time::Duration;

use crate::ResourceOwner;
use crate::store::OAuthStore;
use crate::testing::harness::{Harness, REDIRECT};

/// A tenant's client is for that tenant's users: anyone else → `access_denied`.
pub async fn a_tenant_client_refuses_other_tenants_users(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(store);
    let client = h.register(false, Some("acme"), &["read:users"]).await;
    let request = h
        .authorize(&Harness::authorize_query(&client, "read:users"))
        .await
        .unwrap();
    for tenant in [Some("globex"), None] {
        let owner = ResourceOwner {
            subject: "user_2".into(),
            tenant: tenant.map(str::to_owned),
        };
        let denied = h.server.approve(&request, &owner).await;
        assert_eq!(
            Harness::redirect_param(&denied, "error").as_deref(),
            Some("access_denied"),
            "{tenant:?}"
        );
        assert!(Harness::redirect_param(&denied, "code").is_none());
    }
}

/// Removing a client revokes every grant it holds.
pub async fn removing_a_client_revokes_its_grants(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(store);
    let client = h.register(false, None, &["read:users"]).await;
    let code = h.code(&client, "read:users", None).await;
    let tokens = h.exchange(&client, &code).await;
    h.call(&tokens.text("access_token")).await.unwrap();
    assert!(h.server.remove_client(&client.id).await.unwrap());
    assert!(!h.server.remove_client(&client.id).await.unwrap());
    assert_eq!(
        h.call(&tokens.text("access_token"))
            .await
            .unwrap_err()
            .code(),
        "invalid_token"
    );
    assert!(h.server.client(&client.id).await.unwrap().is_none());
}

/// Clients list by tenant; expired codes and tokens are purged.
pub async fn clients_list_by_tenant_and_expired_state_is_purged(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(Arc::clone(&store));
    let a = h.register(false, Some("acme"), &["read:users"]).await;
    let b = h.register(true, Some("globex"), &["read:users"]).await;
    let acme = store.clients(Some("acme"), 100).await.unwrap();
    assert_eq!(acme.len(), 1);
    assert_eq!(&*acme[0].id, a.id.as_str());
    assert!(!acme[0].is_confidential());
    let all = store.clients(None, 100).await.unwrap();
    assert!(all.iter().any(|c| *c.id == *b.id && c.is_confidential()));
    let stored = store.client(&b.id).await.unwrap().unwrap();
    assert!(
        stored
            .secret_hash
            .as_deref()
            .unwrap()
            .starts_with("$argon2id$")
    );
    assert_eq!(stored.redirect_uris, vec![REDIRECT.to_owned()]);

    let code = h.code(&a, "read:users", Some("acme")).await;
    let tokens = h.exchange(&a, &code).await;
    assert_eq!(tokens.status, 200);
    h.clock.advance(Duration::days(31));
    assert!(store.purge_expired(h.clock_now()).await.unwrap() >= 3);
    assert_eq!(
        h.call(&tokens.text("access_token"))
            .await
            .unwrap_err()
            .code(),
        "invalid_token"
    );
}

impl Harness {
    fn clock_now(&self) -> time::OffsetDateTime {
        use keygate_core::Clock;
        self.clock.now()
    }
}
