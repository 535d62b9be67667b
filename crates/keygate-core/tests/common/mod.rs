//! Helpers shared by the engine tests: a fixture engine on a manual clock, request
//! builders, and stores that count or fail.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use keygate_core::account::{Account, TenantSummary};
use keygate_core::key::{KeyDigest, KeyId, KeyKind, KeyRecord, NewKey};
use keygate_core::store::KeyListing;
use keygate_core::token::{IssuedToken, TokenKind, TokenRequest};
use keygate_core::{
    Access, AuthError, CreatedKey, Environment, Grant, KeyStore, Keygate, ManualClock,
    MemoryKeyStore, Pepper, PlatformSecret, Principal, Rotation, ScopeSet, StoreError,
};
use time::OffsetDateTime;
use time::macros::datetime;

pub const T0: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

/// An engine on a manual clock with a known platform secret and a counting store.
pub struct Fixture {
    pub keygate: Keygate,
    pub clock: ManualClock,
    pub secret: PlatformSecret,
    pub store: CountingStore,
}

impl Fixture {
    pub fn new() -> Self {
        Self::with(|builder| builder)
    }

    pub fn with(
        configure: impl FnOnce(keygate_core::KeygateBuilder) -> keygate_core::KeygateBuilder,
    ) -> Self {
        let clock = ManualClock::new(T0);
        let secret = PlatformSecret::generate().unwrap();
        let store = CountingStore::default();
        let builder = Keygate::builder()
            .pepper(pepper(1))
            .platform_secret(&secret)
            .key_store(store.clone())
            .clock(clock.clone());
        Self {
            keygate: configure(builder).build().unwrap(),
            clock,
            secret,
            store,
        }
    }

    pub async fn key(&self, new: NewKey) -> CreatedKey {
        self.keygate.create_key(new).await.unwrap()
    }

    pub async fn secret_key(&self, tenant: &str) -> CreatedKey {
        self.key(NewKey {
            tenant: Some(tenant.into()),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await
    }

    pub async fn operator(&self) -> Principal {
        let request = get(&[("x-client-secret", self.secret.expose())]);
        self.keygate
            .authenticate(&request, &Access::admin())
            .await
            .unwrap()
            .into_principal()
    }

    pub async fn token(&self, kind: TokenKind, scope: &str) -> IssuedToken {
        let operator = self.operator().await;
        self.keygate
            .issue_token(&operator, scoped(kind, scope))
            .unwrap()
    }

    /// The principal `headers` authenticate as on `access`.
    pub async fn principal(&self, headers: &[(&str, &str)], access: &Access) -> Principal {
        self.call(headers, access).await.unwrap().into_principal()
    }

    pub async fn call(
        &self,
        headers: &[(&str, &str)],
        access: &Access,
    ) -> Result<Grant, AuthError> {
        self.keygate.authenticate(&get(headers), access).await
    }
}

/// A token request of `kind` for the one scope `scope`.
pub fn scoped(kind: TokenKind, scope: &str) -> TokenRequest {
    TokenRequest {
        scopes: Some(ScopeSet::parse([scope]).unwrap()),
        ..TokenRequest::new(kind)
    }
}

pub fn pepper(byte: u8) -> Pepper {
    Pepper::from_bytes(vec![byte; 32]).unwrap()
}

pub fn get(headers: &[(&str, &str)]) -> http::Request<()> {
    let mut builder = http::Request::builder().uri("/api/v1/test");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap()
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub fn code<T: std::fmt::Debug>(result: Result<T, AuthError>) -> &'static str {
    result
        .expect_err("the request should have been refused")
        .code()
}

/// A memory store that counts look-ups, so tests can assert "no store was touched".
#[derive(Debug, Clone, Default)]
pub struct CountingStore {
    inner: MemoryKeyStore,
    lookups: Arc<AtomicUsize>,
}

impl CountingStore {
    pub fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl KeyStore for CountingStore {
    async fn create(&self, record: &KeyRecord) -> Result<(), StoreError> {
        self.inner.create(record).await
    }
    async fn find_by_hash(&self, digest: &KeyDigest) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.find_by_hash(digest).await
    }
    async fn get(&self, id: &KeyId) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.get(id).await
    }
    async fn list(&self, listing: &KeyListing<'_>) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        self.inner.list(listing).await
    }
    async fn revoke(
        &self,
        id: &KeyId,
        at: OffsetDateTime,
    ) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        self.inner.revoke(id, at).await
    }
    async fn rotate(
        &self,
        id: &KeyId,
        successor: &KeyRecord,
        valid_until: OffsetDateTime,
    ) -> Result<Rotation, StoreError> {
        self.inner.rotate(id, successor, valid_until).await
    }
    async fn create_within_limit(
        &self,
        record: &KeyRecord,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.inner.create_within_limit(record, limit, now).await
    }
    async fn account_keys(
        &self,
        account: &Account,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        self.inner.account_keys(account, now, limit).await
    }
    async fn count_account_keys(
        &self,
        account: &Account,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.inner.count_account_keys(account, now).await
    }
    async fn list_tenants(
        &self,
        after: Option<&str>,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<Vec<TenantSummary>, StoreError> {
        self.inner.list_tenants(after, limit, now).await
    }
    async fn list_accounts(
        &self,
        tenant: Option<&str>,
        after: Option<&Account>,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<Vec<(Account, u64)>, StoreError> {
        self.inner.list_accounts(tenant, after, limit, now).await
    }
}

/// A store whose backend is down.
#[derive(Debug, Clone, Default)]
pub struct DownStore;

fn down() -> StoreError {
    StoreError::unavailable(
        "connection refused",
        std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused"),
    )
}

#[async_trait]
impl KeyStore for DownStore {
    async fn create(&self, _: &KeyRecord) -> Result<(), StoreError> {
        Err(down())
    }
    async fn find_by_hash(&self, _: &KeyDigest) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        Err(down())
    }
    async fn get(&self, _: &KeyId) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        Err(down())
    }
    async fn list(&self, _: &KeyListing<'_>) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        Err(down())
    }
    async fn revoke(
        &self,
        _: &KeyId,
        _: OffsetDateTime,
    ) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        Err(down())
    }
    async fn rotate(
        &self,
        _: &KeyId,
        _: &KeyRecord,
        _: OffsetDateTime,
    ) -> Result<Rotation, StoreError> {
        Err(down())
    }
}
