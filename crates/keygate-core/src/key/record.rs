use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::KeyDigest;
use crate::account::{Account, Refill};
use crate::random::{RandomError, random_base62};
use crate::scope::ScopeSet;

/// Longest key name, in characters.
pub const MAX_NAME_LEN: usize = 128;
/// Largest metadata object of a key or token, serialized.
pub const MAX_METADATA_BYTES: usize = 4096;
/// Longest grace period of a rotation.
pub const MAX_ROTATION_GRACE: time::Duration = time::Duration::days(30);

/// Free-form JSON attached to a key or token, shown in the principal.
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// Shared by everything without metadata, so holding none costs no allocation.
static EMPTY_METADATA: std::sync::LazyLock<Arc<Metadata>> =
    std::sync::LazyLock::new(|| Arc::new(Metadata::new()));

/// The empty metadata, shared.
pub(crate) fn empty_metadata() -> Arc<Metadata> {
    Arc::clone(&EMPTY_METADATA)
}

/// What a key may do, as named by its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// `sk_`: acts with every scope of its tenant; may also open admin routes for its
    /// tenant through `x-client-secret`.
    Secret,
    /// `pk_`: identifies a tenant; grants nothing without a user JWT.
    Publishable,
    /// `rk_`: acts with its listed scopes only.
    Restricted,
    /// A custom prefix: acts with its listed scopes.
    Custom,
}

impl KeyKind {
    /// The kind as in the admin API (`secret`, `publishable`, `restricted`, `custom`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::Publishable => "publishable",
            Self::Restricted => "restricted",
            Self::Custom => "custom",
        }
    }
}

/// Live or test data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// Production.
    Live,
    /// Test mode.
    Test,
}

impl Environment {
    /// `live` or `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Test => "test",
        }
    }
}

/// A key's public identifier (`key_` and 24 base62 characters). Not secret.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(Arc<str>);

impl KeyId {
    /// A fresh random id.
    pub fn generate() -> Result<Self, RandomError> {
        Ok(Self(Arc::from(format!("key_{}", random_base62(24)?))))
    }

    /// An id read back from a store or a URL.
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as shared text, without copying it.
    pub fn to_shared(&self) -> Arc<str> {
        Arc::clone(&self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", &*self.0)
    }
}

/// A rate limit: at most `limit` requests in any `window_seconds`, with bursts up to
/// `limit` (enforced as GCRA by the [`Meter`](crate::Meter)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RateLimitFields")]
pub struct RateLimit {
    limit: u32,
    window_seconds: u32,
}

#[derive(Deserialize)]
struct RateLimitFields {
    limit: u32,
    window_seconds: u32,
}

impl TryFrom<RateLimitFields> for RateLimit {
    type Error = RateLimitError;
    fn try_from(fields: RateLimitFields) -> Result<Self, Self::Error> {
        RateLimit::new(fields.limit, fields.window_seconds)
    }
}

/// Why a rate limit was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a rate limit is 1 to 1000000 requests per window of 1 to 31622400 seconds (366 days)")]
pub struct RateLimitError;

impl RateLimit {
    /// `limit` requests per `window_seconds`; both at least 1, the limit at most one
    /// million and the window at most 366 days.
    pub fn new(limit: u32, window_seconds: u32) -> Result<Self, RateLimitError> {
        if (1..=1_000_000).contains(&limit) && (1..=31_622_400).contains(&window_seconds) {
            Ok(Self {
                limit,
                window_seconds,
            })
        } else {
            Err(RateLimitError)
        }
    }

    /// Requests allowed per window.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The window, in seconds.
    pub fn window_seconds(&self) -> u32 {
        self.window_seconds
    }
}

/// Whether a key can be used now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Usable.
    Active,
    /// Revoked: refused with `key_revoked`.
    Revoked,
    /// Past `expires_at`, or past the grace period after a rotation: `key_expired`.
    Expired,
}

/// What a [`KeyStore`](crate::KeyStore) keeps of a key: its digest, never its text.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    /// Public identifier.
    pub id: KeyId,
    /// The id of the first key of its rotation chain. Rate limits and credits are counted
    /// against it, so rotating a key neither resets its limit nor strands its balance.
    pub lineage: KeyId,
    /// HMAC-SHA256 of the key text under the pepper it names.
    pub digest: KeyDigest,
    /// The prefix, ending in `_`.
    pub prefix: Arc<str>,
    /// Non-secret preview: prefix and four characters.
    pub start: Arc<str>,
    /// What the key may do.
    pub kind: KeyKind,
    /// Live or test.
    pub environment: Environment,
    /// The tenant the key belongs to; `None` for keys of the platform itself.
    pub tenant: Option<Arc<str>>,
    /// A label for people.
    pub name: Option<String>,
    /// Scopes listed at creation (restricted and custom keys act with exactly these).
    pub scopes: ScopeSet,
    /// Per-key rate limit, if any.
    pub rate_limit: Option<RateLimit>,
    /// The credit allowance the key was created with; `None` means unlimited. The live
    /// balance is kept by the [`Meter`](crate::Meter). Always `None` for a key with an
    /// owner: it draws on its account's balance.
    pub credits: Option<u64>,
    /// The user the key belongs to, in its tenant: the key then acts for that user only
    /// and draws on the [`account`](Self::account)'s balance. Rotations keep it.
    pub owner: Option<Arc<str>>,
    /// The key's own refill rule (never for a key with an owner: its account has one).
    pub refill: Option<Refill>,
    /// Free-form JSON shown in the principal.
    pub metadata: Arc<Metadata>,
    /// When the key was made.
    pub created_at: OffsetDateTime,
    /// When the key stops working, if ever.
    pub expires_at: Option<OffsetDateTime>,
    /// When the key was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
    /// When a rotated-out key stops working (end of its grace period).
    pub valid_until: Option<OffsetDateTime>,
}

impl KeyRecord {
    /// Whether the key can be used at `now`. Revocation wins over expiry.
    pub fn status(&self, now: OffsetDateTime) -> KeyStatus {
        if self.revoked_at.is_some() {
            return KeyStatus::Revoked;
        }
        let ended = |at: Option<OffsetDateTime>| at.is_some_and(|at| at <= now);
        if ended(self.expires_at) || ended(self.valid_until) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }

    /// The account the key belongs to, for a key with an owner (and a tenant, which such a
    /// key always has).
    pub fn account(&self) -> Option<Account> {
        Some(Account {
            tenant: Arc::clone(self.tenant.as_ref()?),
            owner: Arc::clone(self.owner.as_ref()?),
        })
    }

    /// Whether the key is usable at `now` (neither revoked nor expired nor past its grace).
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.status(now) == KeyStatus::Active
    }

    /// The scopes the key acts with: every scope for `sk_`, none for `pk_`, the listed
    /// ones otherwise.
    pub fn granted_scopes(&self) -> ScopeSet {
        match self.kind {
            KeyKind::Secret => ScopeSet::all(),
            KeyKind::Publishable => ScopeSet::none(),
            KeyKind::Restricted | KeyKind::Custom => self.scopes.clone(),
        }
    }
}

/// The settings of a key to create. Start from [`NewKey::new`] and set what you need.
///
/// ```
/// use keygate_core::key::{KeyKind, NewKey, RateLimit};
/// use keygate_core::Environment;
///
/// let new = NewKey {
///     tenant: Some("acme".into()),
///     scopes: vec!["read:users".into()],
///     rate_limit: Some(RateLimit::new(100, 60)?),
///     credits: Some(500),
///     ..NewKey::new(KeyKind::Restricted, Environment::Live)
/// };
/// # let _ = new;
/// # Ok::<(), keygate_core::key::RateLimitError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NewKey {
    /// What the key may do.
    pub kind: KeyKind,
    /// Live or test.
    pub environment: Environment,
    /// The prefix of a [`KeyKind::Custom`] key (`[a-z0-9]{1,16}_`); must be `None` for
    /// the other kinds.
    pub prefix: Option<String>,
    /// The tenant (1 to 128 of `A-Z a-z 0-9 . _ : @ -`).
    pub tenant: Option<String>,
    /// A label, at most 128 characters.
    pub name: Option<String>,
    /// Scopes, for restricted and custom keys.
    pub scopes: Vec<String>,
    /// Per-key rate limit.
    pub rate_limit: Option<RateLimit>,
    /// Credit allowance; `None` is unlimited (or, with a `refill`, the refill's amount).
    /// Not for a key with an owner.
    pub credits: Option<u64>,
    /// The user (1 to 128 of `A-Z a-z 0-9 . _ : @ | -`) the key belongs to: it then acts
    /// for that user only and draws on the balance of the account `<tenant>/<owner>`,
    /// shared with the account's other keys. Needs a tenant; excludes `credits` and
    /// `refill` (an account's refill is set on the account).
    pub owner: Option<String>,
    /// Sets the key's balance back to an amount every UTC day or month. Only the platform
    /// operator sets one through [`KeyAdmin`](crate::KeyAdmin).
    pub refill: Option<Refill>,
    /// When the key stops working; must be in the future.
    pub expires_at: Option<OffsetDateTime>,
    /// Free-form JSON, at most 4 KiB once serialized.
    pub metadata: Metadata,
}

impl NewKey {
    /// A key of `kind` in `environment`, with nothing else set.
    pub fn new(kind: KeyKind, environment: Environment) -> Self {
        Self {
            kind,
            environment,
            prefix: None,
            tenant: None,
            name: None,
            scopes: Vec::new(),
            rate_limit: None,
            credits: None,
            owner: None,
            refill: None,
            expires_at: None,
            metadata: Metadata::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_are_bounded() {
        assert!(RateLimit::new(0, 60).is_err());
        assert!(RateLimit::new(10, 0).is_err());
        assert!(RateLimit::new(1_000_001, 60).is_err());
        assert!(RateLimit::new(10, 31_622_401).is_err());
        let ok = RateLimit::new(100, 60).unwrap();
        assert_eq!((ok.limit(), ok.window_seconds()), (100, 60));
        let parsed: Result<RateLimit, _> =
            serde_json::from_str(r#"{"limit": 0, "window_seconds": 60}"#);
        assert!(parsed.is_err());
    }

    #[test]
    fn key_ids_are_random_and_prefixed() {
        let a = KeyId::generate().unwrap();
        let b = KeyId::generate().unwrap();
        assert_ne!(a, b);
        assert!(a.as_str().starts_with("key_"));
        assert_eq!(a.as_str().len(), 28);
    }
}
