//! The revocation race of the access-token cache, interleaved by hand: a look-up is held
//! inside the store while the same instance revokes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Mutex;

use keygate_core::ScopeSet;
use time::macros::datetime;
use tokio::sync::oneshot;

use super::*;
use crate::client::ClientRecord;
use crate::store::{CodeRecord, GrantRecord, IssuedPair, MemoryOAuthStore, TokenRecord};

const T0: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

/// A memory store whose first `access_token` look-up, once it has read, says so on
/// `read` and waits for `go` before answering.
#[derive(Debug)]
struct Paused {
    inner: MemoryOAuthStore,
    pause: Mutex<Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>>,
}

#[async_trait]
impl OAuthStore for Paused {
    async fn insert_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        self.inner.insert_client(client).await
    }
    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.inner.client(id).await
    }
    async fn clients(
        &self,
        tenant: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ClientRecord>, StoreError> {
        self.inner.clients(tenant, limit).await
    }
    async fn remove_client(&self, id: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
        self.inner.remove_client(id, now).await
    }
    async fn insert_code(&self, code: &CodeRecord) -> Result<(), StoreError> {
        self.inner.insert_code(code).await
    }
    async fn code(&self, digest: &TokenDigest) -> Result<Option<CodeRecord>, StoreError> {
        self.inner.code(digest).await
    }
    async fn redeem_code(
        &self,
        digest: &TokenDigest,
        grant: &GrantRecord,
        tokens: &IssuedPair,
    ) -> Result<bool, StoreError> {
        self.inner.redeem_code(digest, grant, tokens).await
    }
    async fn refresh_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<(TokenRecord, GrantRecord)>, StoreError> {
        self.inner.refresh_token(digest).await
    }
    async fn rotate_refresh_token(
        &self,
        digest: &TokenDigest,
        tokens: &IssuedPair,
    ) -> Result<bool, StoreError> {
        self.inner.rotate_refresh_token(digest, tokens).await
    }
    async fn access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<(TokenRecord, GrantRecord)>, StoreError> {
        let read = self.inner.access_token(digest).await;
        let pause = self.pause.lock().unwrap().take();
        if let Some((read_tx, go)) = pause {
            read_tx.send(()).unwrap();
            go.await.unwrap();
        }
        read
    }
    async fn revoke_grant(&self, grant_id: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        self.inner.revoke_grant(grant_id, now).await
    }
    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.purge_expired(now).await
    }
}

fn token(text: &str, grant: &str) -> TokenRecord {
    TokenRecord {
        digest: TokenDigest::of(text),
        grant_id: grant.into(),
        scopes: ScopeSet::parse(["read:users"]).unwrap(),
        expires_at: T0 + Duration::hours(1),
        used: false,
    }
}

/// An active grant `g1` with access token `oat_a`, in `store`.
async fn one_grant(store: &MemoryOAuthStore) {
    let code = CodeRecord {
        digest: TokenDigest::of("code"),
        grant_id: "g1".into(),
        client_id: "cl_1".into(),
        redirect_uri: "https://app.example/cb".into(),
        redirect_uri_given: true,
        challenge: String::new(),
        subject: "user_1".into(),
        tenant: None,
        scopes: ScopeSet::parse(["read:users"]).unwrap(),
        expires_at: T0 + Duration::minutes(1),
        used: false,
    };
    store.insert_code(&code).await.unwrap();
    let grant = GrantRecord {
        id: "g1".into(),
        client_id: "cl_1".into(),
        subject: "user_1".into(),
        tenant: None,
        scopes: ScopeSet::parse(["read:users"]).unwrap(),
        created_at: T0,
        revoked_at: None,
    };
    let pair = IssuedPair {
        access: token("oat_a", "g1"),
        refresh: token("ort_a", "g1"),
    };
    assert!(
        store
            .redeem_code(&code.digest, &grant, &pair)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_look_up_in_flight_across_a_revocation_does_not_cache_the_old_answer() {
    let inner = MemoryOAuthStore::new();
    one_grant(&inner).await;
    let (read_tx, read) = oneshot::channel();
    let (go_tx, go) = oneshot::channel();
    let store = Arc::new(Paused {
        inner,
        pause: Mutex::new(Some((read_tx, go))),
    });
    let tokens = AccessTokens::new(store.clone());

    // A request's look-up reads the grant while it is active, and is held there.
    let in_flight = tokio::spawn({
        let tokens = tokens.clone();
        async move { tokens.verify("oat_a", T0).await }
    });
    read.await.unwrap();
    // This instance revokes the grant meanwhile, and forgets its cache.
    store.inner.revoke_grant("g1", T0).await.unwrap();
    tokens.forget();
    go_tx.send(()).unwrap();
    let answered = in_flight.await.unwrap().unwrap();
    assert!(
        matches!(answered, AccessTokenStatus::Active(_)),
        "the look-up began before the revocation: {answered:?}"
    );

    // The next request, still inside the cache's second, sees the revocation.
    let next = tokens.verify("oat_a", T0).await.unwrap();
    assert!(
        matches!(next, AccessTokenStatus::Invalid),
        "the revoked grant's token was cached as active: {next:?}"
    );
}

#[tokio::test]
async fn without_a_revocation_the_answer_is_cached() {
    let inner = MemoryOAuthStore::new();
    one_grant(&inner).await;
    let store = Arc::new(Paused {
        inner,
        pause: Mutex::new(None),
    });
    let tokens = AccessTokens::new(store.clone());
    assert!(matches!(
        tokens.verify("oat_a", T0).await.unwrap(),
        AccessTokenStatus::Active(_)
    ));
    // Revoked in the store behind this instance's back (as another instance would):
    // the cached answer stands until ACCESS_CACHE_TTL has passed.
    store.inner.revoke_grant("g1", T0).await.unwrap();
    assert!(matches!(
        tokens
            .verify("oat_a", T0 + Duration::milliseconds(500))
            .await
            .unwrap(),
        AccessTokenStatus::Active(_)
    ));
    assert!(matches!(
        tokens.verify("oat_a", T0 + ACCESS_CACHE_TTL).await.unwrap(),
        AccessTokenStatus::Invalid
    ));
}
