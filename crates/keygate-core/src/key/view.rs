//! A key as the admin API and the command line show it: every setting and the live
//! state, never the digest, and the key text only on the one answer that creates it.

use std::sync::Arc;

use serde::Serialize;
use time::OffsetDateTime;

use super::{ApiKey, Environment, KeyKind, KeyRecord, KeyStatus, Metadata, RateLimit};
use crate::account::Refill;
use crate::clock::to_micros;
use crate::scope::ScopeSet;

/// The admin API's JSON of a key (`POST /api/v1/admin/keys`, `GET …/keys/{id}`).
/// Timestamps are RFC 3339; fields that do not apply are `null`.
///
/// ```
/// use keygate_core::key::{KeyKind, KeyView, NewKey};
/// use keygate_core::{Environment, Keygate, Pepper};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let keygate = Keygate::builder().pepper(Pepper::generate()?).build()?;
/// let created = keygate
///     .create_key(NewKey { credits: Some(10), ..NewKey::new(KeyKind::Secret, Environment::Test) })
///     .await?;
/// let now = keygate.clock().now();
/// let shown = serde_json::to_value(KeyView::new(&created.record, Some(10), now).with_key(&created.key))?;
/// assert_eq!(shown["kind"], "secret");
/// assert_eq!(shown["status"], "active");
/// assert_eq!(shown["key"], created.key.expose());
/// let listed = serde_json::to_value(KeyView::new(&created.record, Some(10), now))?;
/// assert!(listed.get("key").is_none(), "the text is shown once");
/// let logged = format!("{:?}", KeyView::new(&created.record, None, now).with_key(&created.key));
/// assert!(!logged.contains(created.key.expose()), "Debug never shows the text");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Serialize)]
#[non_exhaustive]
pub struct KeyView {
    /// The key's id.
    pub id: String,
    /// The key text: only when the key was just created or rotated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The non-secret preview (prefix and four characters).
    pub start: String,
    /// The prefix.
    pub prefix: String,
    /// `secret`, `publishable`, `restricted` or `custom`.
    pub kind: KeyKind,
    /// `live` or `test`.
    pub environment: Environment,
    /// The tenant.
    pub tenant: Option<Arc<str>>,
    /// The label.
    pub name: Option<String>,
    /// The listed scopes.
    pub scopes: ScopeSet,
    /// The rate limit.
    pub rate_limit: Option<RateLimit>,
    /// The current credit balance (its account's, for a key with an owner); `null` for an
    /// unlimited key.
    pub credits: Option<u64>,
    /// The user the key belongs to; `null` for none.
    pub owner: Option<Arc<str>>,
    /// The key's own refill rule; `null` for none.
    pub refill: Option<Refill>,
    /// `active`, `revoked` or `expired`, now.
    pub status: &'static str,
    /// Free-form JSON.
    pub metadata: Arc<Metadata>,
    /// When the key was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stops working, if ever.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// When it was revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// When a rotated-out key's grace ends.
    #[serde(with = "time::serde::rfc3339::option")]
    pub valid_until: Option<OffsetDateTime>,
}

impl KeyView {
    /// The view of `record`, with its current `credits` balance, as of `now`.
    pub fn new(record: &KeyRecord, credits: Option<u64>, now: OffsetDateTime) -> Self {
        Self {
            id: record.id.as_str().to_owned(),
            key: None,
            start: record.start.to_string(),
            prefix: record.prefix.to_string(),
            kind: record.kind,
            environment: record.environment,
            tenant: record.tenant.clone(),
            name: record.name.clone(),
            scopes: record.scopes.clone(),
            rate_limit: record.rate_limit,
            credits,
            owner: record.owner.clone(),
            refill: record.refill,
            status: match record.status(now) {
                KeyStatus::Active => "active",
                KeyStatus::Revoked => "revoked",
                KeyStatus::Expired => "expired",
            },
            metadata: Arc::clone(&record.metadata),
            created_at: to_micros(record.created_at),
            expires_at: record.expires_at.map(to_micros),
            revoked_at: record.revoked_at.map(to_micros),
            valid_until: record.valid_until.map(to_micros),
        }
    }

    /// Adds the key text, for the one answer that shows it.
    pub fn with_key(mut self, key: &ApiKey) -> Self {
        self.key = Some(key.expose().to_owned());
        self
    }
}

impl std::fmt::Debug for KeyView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key text, when present, is a secret: its presence shows, never its value.
        f.debug_struct("KeyView")
            .field("id", &self.id)
            .field("key", &self.key.as_ref().map(|_| "[redacted]"))
            .field("start", &self.start)
            .field("kind", &self.kind)
            .field("environment", &self.environment)
            .field("tenant", &self.tenant)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}
