//! Key administration: create, read, list, revoke, rotate, top up.

use std::borrow::Cow;
use std::sync::Arc;

use time::Duration;

use super::Keygate;
use crate::audit::AuditEvent;
use crate::credentials::{is_valid_id, is_valid_user_id};
use crate::error::AuthError;
use crate::key::{
    ApiKey, KeyId, KeyKind, KeyPrefix, KeyRecord, MAX_METADATA_BYTES, MAX_NAME_LEN,
    MAX_ROTATION_GRACE, Metadata, NewKey,
};
use crate::meter::{CreditAccount, CreditSeed, MAX_CREDITS};
use crate::principal::Principal;
use crate::random::RandomError;
use crate::scope::ScopeSet;
use crate::store::{KeyListing, Rotation, StoreError, StoreErrorKind};

/// A key just created: the plaintext, shown once, and what was stored.
#[derive(Debug)]
#[non_exhaustive]
pub struct CreatedKey {
    /// The key text. Hand it to its owner now; it is not kept.
    pub key: ApiKey,
    /// The stored record.
    pub record: Arc<KeyRecord>,
}

/// The most keys one [`Keygate::list_keys`] call returns.
pub const MAX_LIST_LIMIT: usize = 100;

/// One page of [`Keygate::list_keys`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KeyPage {
    /// The keys, oldest first.
    pub keys: Vec<Arc<KeyRecord>>,
    /// Whether more keys follow the last one.
    pub has_more: bool,
}

/// Why a key operation failed. Messages name the field at fault, never a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The request is invalid; the text names the field and the rule.
    #[error("{0}")]
    Invalid(Cow<'static, str>),
    /// The principal acting through [`KeyAdmin`](super::KeyAdmin) may not do this; the
    /// error says why, with its contract code: 403 `operator_required` (only the platform
    /// secret creates credits), `expiring_credential` (a key in its rotation grace
    /// changing keys, or a key with an expiry rotating), `tenant_forbidden` (another
    /// tenant), `environment_forbidden` (a test key touching a live key),
    /// `secret_key_required` (not the operator nor a tenant's `sk_` key),
    /// `impersonation_forbidden` (acting on behalf of a user); or 401 `key_revoked` /
    /// `key_expired` / `invalid_secret_key` when the acting key is no longer active.
    /// Render it as any refusal: [`AuthError::to_response`].
    #[error(transparent)]
    Refused(AuthError),
    /// No key has this id, or the principal may not see it (another tenant's key or
    /// account, another user's key through [`SelfService`](super::SelfService)).
    #[error("no key has this id")]
    NotFound,
    /// The store refused a duplicate (an id or digest already taken).
    #[error("a key with this id or hash already exists")]
    Conflict(#[source] StoreError),
    /// The store did not answer.
    #[error("the key store is unavailable")]
    Unavailable(#[source] StoreError),
    /// The OS random source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
}

fn store_error(err: StoreError) -> AdminError {
    match err.kind() {
        StoreErrorKind::Conflict => AdminError::Conflict(err),
        _ => AdminError::Unavailable(err),
    }
}

fn invalid(detail: impl Into<Cow<'static, str>>) -> AdminError {
    AdminError::Invalid(detail.into())
}

impl Keygate {
    /// Creates a key from `new` and returns its text, shown this once.
    ///
    /// ```
    /// use keygate_core::key::{KeyKind, NewKey};
    /// use keygate_core::{Environment, Keygate, Pepper};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let keygate = Keygate::builder().pepper(Pepper::generate()?).build()?;
    /// let created = keygate
    ///     .create_key(NewKey {
    ///         tenant: Some("acme".into()),
    ///         ..NewKey::new(KeyKind::Secret, Environment::Test)
    ///     })
    ///     .await?;
    /// assert!(created.key.expose().starts_with("sk_test_"));
    /// assert_eq!(&*created.record.start, created.key.start());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn create_key(&self, new: NewKey) -> Result<CreatedKey, AdminError> {
        self.create_key_by(new, None, None).await
    }

    /// Creates the key; with `limit`, only if its account holds fewer active keys than
    /// that (409 `key_limit_reached` otherwise), checked atomically by the store.
    pub(super) async fn create_key_by(
        &self,
        new: NewKey,
        by: Option<&Principal>,
        limit: Option<usize>,
    ) -> Result<CreatedKey, AdminError> {
        let now = self.inner.clock.now();
        let prefix = match (new.kind, &new.prefix) {
            (KeyKind::Custom, Some(prefix)) => {
                KeyPrefix::custom(prefix).map_err(|e| invalid(format!("prefix: {e}")))?
            }
            (KeyKind::Custom, None) => return Err(invalid("prefix: a custom key needs a prefix")),
            (kind, None) => KeyPrefix::standard(kind, new.environment)
                .ok_or_else(|| invalid("kind: unknown"))?,
            (_, Some(_)) => return Err(invalid("prefix: only custom keys take a prefix")),
        };
        if let Some(tenant) = &new.tenant
            && !is_valid_id(tenant)
        {
            return Err(invalid("tenant: 1 to 128 of A-Z a-z 0-9 . _ : @ -"));
        }
        if let Some(owner) = &new.owner {
            if !is_valid_user_id(owner) {
                return Err(invalid("owner: 1 to 128 of A-Z a-z 0-9 . _ : @ | -"));
            }
            if new.tenant.is_none() {
                return Err(invalid("owner: a key with an owner needs a tenant"));
            }
            if new.credits.is_some() {
                return Err(invalid(
                    "credits: a key with an owner draws on its account's balance; add credits to the account",
                ));
            }
            if new.refill.is_some() {
                return Err(invalid(
                    "refill: a key with an owner draws on its account's balance; set the refill on the account",
                ));
            }
            if new.kind == KeyKind::Publishable {
                return Err(invalid(
                    "owner: a publishable key acts for the user of its JWT; it takes no owner",
                ));
            }
        }
        if new
            .name
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_NAME_LEN)
        {
            return Err(invalid(format!("name: at most {MAX_NAME_LEN} characters")));
        }
        let scopes = ScopeSet::parse(&new.scopes).map_err(|e| invalid(format!("scopes: {e}")))?;
        if new.credits.is_some_and(|c| c > MAX_CREDITS) {
            return Err(invalid(format!("credits: at most {MAX_CREDITS}")));
        }
        if new.expires_at.is_some_and(|at| at <= now) {
            return Err(invalid("expires_at: must be in the future"));
        }
        check_metadata(&new.metadata)?;

        let key = ApiKey::generate(&prefix)?;
        let id = KeyId::generate()?;
        let record = KeyRecord {
            lineage: id.clone(),
            id,
            digest: self.inner.hasher.digest(key.expose()),
            prefix: prefix.as_str().into(),
            start: key.start().into(),
            kind: new.kind,
            environment: new.environment,
            tenant: new.tenant.map(Arc::from),
            name: new.name,
            scopes,
            rate_limit: new.rate_limit,
            credits: new.credits,
            owner: new.owner.map(Arc::from),
            refill: new.refill,
            metadata: Arc::new(new.metadata),
            created_at: now,
            expires_at: new.expires_at,
            revoked_at: None,
            valid_until: None,
        };
        match limit {
            None => self.inner.keys.create(&record).await.map_err(store_error)?,
            Some(limit) => {
                let created = self
                    .inner
                    .keys
                    .create_within_limit(&record, limit, now)
                    .await
                    .map_err(store_error)?;
                if !created {
                    return Err(AdminError::Refused(AuthError::KeyLimitReached));
                }
            }
        }
        self.audit(&AuditEvent::KeyCreated {
            by,
            key_id: &record.id,
            tenant: record.tenant.as_deref(),
            kind: record.kind,
            environment: record.environment,
        });
        Ok(CreatedKey {
            key,
            record: Arc::new(record),
        })
    }

    /// The record of key `id`.
    pub async fn get_key(&self, id: &KeyId) -> Result<Arc<KeyRecord>, AdminError> {
        self.inner
            .keys
            .get(id)
            .await
            .map_err(AdminError::Unavailable)?
            .ok_or(AdminError::NotFound)
    }

    /// One page of the keys of `tenant` (every key for `None`), oldest first: at most
    /// `limit` (1 to [`MAX_LIST_LIMIT`]) keys after the key `after`, and whether more
    /// follow. Pass the last key's id as `after` for the next page.
    ///
    /// ```
    /// use keygate_core::key::{KeyKind, NewKey};
    /// use keygate_core::{Environment, Keygate, Pepper};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let keygate = Keygate::builder().pepper(Pepper::generate()?).build()?;
    /// for _ in 0..3 {
    ///     keygate.create_key(NewKey::new(KeyKind::Secret, Environment::Test)).await?;
    /// }
    /// let first = keygate.list_keys(None, None, 2).await?;
    /// assert_eq!((first.keys.len(), first.has_more), (2, true));
    /// let next = keygate.list_keys(None, Some(&first.keys[1].id), 2).await?;
    /// assert_eq!((next.keys.len(), next.has_more), (1, false));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn list_keys(
        &self,
        tenant: Option<&str>,
        after: Option<&KeyId>,
        limit: usize,
    ) -> Result<KeyPage, AdminError> {
        if !(1..=MAX_LIST_LIMIT).contains(&limit) {
            return Err(invalid(format!("limit: 1 to {MAX_LIST_LIMIT}")));
        }
        let cursor = match after {
            None => None,
            Some(id) => {
                let record = self
                    .inner
                    .keys
                    .get(id)
                    .await
                    .map_err(AdminError::Unavailable)?;
                match record {
                    Some(record) if tenant.is_none() || record.tenant.as_deref() == tenant => {
                        Some(record)
                    }
                    _ => {
                        return Err(invalid(
                            "starting_after: no key of this listing has this id",
                        ));
                    }
                }
            }
        };
        let mut listing = KeyListing::new(tenant, limit.saturating_add(1));
        if let Some(cursor) = &cursor {
            listing = listing.after(cursor);
        }
        let mut keys = self
            .inner
            .keys
            .list(&listing)
            .await
            .map_err(AdminError::Unavailable)?;
        let has_more = keys.len() > limit;
        keys.truncate(limit);
        Ok(KeyPage { keys, has_more })
    }

    /// Revokes key `id`: from now on it is refused with `key_revoked`.
    pub async fn revoke_key(&self, id: &KeyId) -> Result<Arc<KeyRecord>, AdminError> {
        self.revoke_key_by(id, None).await
    }

    pub(super) async fn revoke_key_by(
        &self,
        id: &KeyId,
        by: Option<&Principal>,
    ) -> Result<Arc<KeyRecord>, AdminError> {
        let now = self.inner.clock.now();
        let record = self
            .inner
            .keys
            .revoke(id, now)
            .await
            .map_err(AdminError::Unavailable)?
            .ok_or(AdminError::NotFound)?;
        self.audit(&AuditEvent::KeyRevoked {
            by,
            key_id: &record.id,
            tenant: record.tenant.as_deref(),
        });
        Ok(record)
    }

    /// Replaces key `id` with a new key of the same settings. The old key keeps working
    /// for `grace` (at most 30 days; zero ends it now). Rate limit and credits carry over:
    /// both keys count against the same lineage.
    pub async fn rotate_key(&self, id: &KeyId, grace: Duration) -> Result<CreatedKey, AdminError> {
        self.rotate_key_by(id, grace, None).await
    }

    pub(super) async fn rotate_key_by(
        &self,
        id: &KeyId,
        grace: Duration,
        by: Option<&Principal>,
    ) -> Result<CreatedKey, AdminError> {
        if grace.is_negative() || grace > MAX_ROTATION_GRACE {
            return Err(invalid("grace_seconds: 0 to 2592000 (30 days)"));
        }
        let now = self.inner.clock.now();
        let old = self.get_key(id).await?;
        if old.expires_at.is_some_and(|at| at <= now) {
            return Err(invalid(
                "an expired key cannot be rotated; create a new one",
            ));
        }
        let prefix = match old.kind {
            KeyKind::Custom => KeyPrefix::custom(&old.prefix),
            kind => {
                KeyPrefix::standard(kind, old.environment).ok_or(crate::key::KeyFormatError::Prefix)
            }
        }
        .map_err(|_| {
            AdminError::Unavailable(StoreError::corrupt("stored key prefix is invalid"))
        })?;
        let key = ApiKey::generate(&prefix)?;
        let successor = KeyRecord {
            id: KeyId::generate()?,
            lineage: old.lineage.clone(),
            digest: self.inner.hasher.digest(key.expose()),
            start: key.start().into(),
            created_at: now,
            revoked_at: None,
            valid_until: None,
            ..KeyRecord::clone(&old)
        };
        // The store checks revocation and an earlier rotation in the same step as the
        // write, so two rotations racing leave one successor.
        match self
            .inner
            .keys
            .rotate(id, &successor, now + grace)
            .await
            .map_err(store_error)?
        {
            Rotation::Rotated(_) => {}
            Rotation::NotFound => return Err(AdminError::NotFound),
            Rotation::Revoked => return Err(invalid("a revoked key cannot be rotated")),
            Rotation::AlreadyRotated => {
                return Err(invalid(
                    "this key was already rotated; rotate its successor",
                ));
            }
        }
        self.audit(&AuditEvent::KeyRotated {
            by,
            key_id: &old.id,
            successor: &successor.id,
            tenant: successor.tenant.as_deref(),
        });
        Ok(CreatedKey {
            key,
            record: Arc::new(successor),
        })
    }

    /// Adds `amount` credits to key `id` and returns the new balance. Keys without a
    /// credit allowance are unlimited and cannot be topped up.
    pub async fn add_credits(&self, id: &KeyId, amount: u64) -> Result<u64, AdminError> {
        self.add_credits_by(id, amount, None).await
    }

    pub(super) async fn add_credits_by(
        &self,
        id: &KeyId,
        amount: u64,
        by: Option<&Principal>,
    ) -> Result<u64, AdminError> {
        if amount == 0 || amount > MAX_CREDITS {
            return Err(invalid(format!("add: 1 to {MAX_CREDITS}")));
        }
        let record = self.get_key(id).await?;
        if let Some(account) = record.account() {
            return Err(invalid(format!(
                "this key draws on the balance of the account {account}; add credits to the account"
            )));
        }
        let Some(seed) = CreditSeed::of_key(record.credits, record.refill) else {
            return Err(invalid("this key has no credit balance (it is unlimited)"));
        };
        let now = self.inner.clock.now();
        let balance = self
            .inner
            .meter
            .add_credits(
                CreditAccount::KeyLineage(record.lineage.as_str()),
                amount,
                seed.as_of(record.created_at, now),
                now,
            )
            .await
            .map_err(AdminError::Unavailable)?;
        self.audit(&AuditEvent::CreditsAdded {
            by,
            key_id: &record.id,
            tenant: record.tenant.as_deref(),
            amount,
        });
        Ok(balance)
    }

    /// The current credit balance of `record`'s key, a due refill applied: its account's
    /// for a key with an owner; `None` when it is unlimited (or its account not metered).
    pub async fn credits(&self, record: &KeyRecord) -> Result<Option<u64>, AdminError> {
        let now = self.inner.clock.now();
        let balance = if let Some(account) = record.account() {
            let id = account.id();
            self.inner
                .meter
                .credits(CreditAccount::Owner(&id), CreditSeed::NONE, now)
                .await
        } else {
            let Some(seed) = CreditSeed::of_key(record.credits, record.refill) else {
                return Ok(None);
            };
            self.inner
                .meter
                .credits(
                    CreditAccount::KeyLineage(record.lineage.as_str()),
                    seed.as_of(record.created_at, now),
                    now,
                )
                .await
        };
        balance
            .map(|balance| balance.map(|balance| balance.credits))
            .map_err(AdminError::Unavailable)
    }
}

pub(crate) fn check_metadata(metadata: &Metadata) -> Result<(), AdminError> {
    let size = serde_json::to_vec(metadata)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_METADATA_BYTES {
        return Err(invalid(format!(
            "metadata: at most {MAX_METADATA_BYTES} bytes of JSON"
        )));
    }
    Ok(())
}
