//! A key record as a row, and back.

use std::sync::Arc;

use keygate_core::account::{Refill, RefillInterval};
use keygate_core::key::{KeyDigest, KeyId, KeyRecord, Metadata, RateLimit};
use keygate_core::secret::PepperId;
use keygate_core::{Environment, KeyKind, ScopeSet, StoreError};
use time::OffsetDateTime;

/// The columns of `kg_keys`, as a literal for `concat!`.
macro_rules! key_columns {
    () => {
        "id, lineage, pepper, digest, prefix, start, kind, environment, tenant, name, scopes, \
         rate_limit, rate_window, credits, metadata, created_at, expires_at, revoked_at, \
         valid_until, owner, refill_amount, refill_interval"
    };
}
pub(crate) use key_columns;

/// One row of `kg_keys`, as the database types it.
#[derive(sqlx::FromRow)]
pub(crate) struct KeyRow {
    pub(crate) id: String,
    pub(crate) lineage: String,
    pub(crate) pepper: String,
    pub(crate) digest: Vec<u8>,
    pub(crate) prefix: String,
    pub(crate) start: String,
    pub(crate) kind: String,
    pub(crate) environment: String,
    pub(crate) tenant: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) scopes: String,
    pub(crate) rate_limit: Option<i64>,
    pub(crate) rate_window: Option<i64>,
    pub(crate) credits: Option<i64>,
    pub(crate) metadata: String,
    pub(crate) created_at: i64,
    pub(crate) expires_at: Option<i64>,
    pub(crate) revoked_at: Option<i64>,
    pub(crate) valid_until: Option<i64>,
    pub(crate) owner: Option<String>,
    pub(crate) refill_amount: Option<i64>,
    pub(crate) refill_interval: Option<String>,
}

fn corrupt(what: &'static str) -> StoreError {
    StoreError::corrupt(what)
}

/// A time as stored: Unix microseconds (rounded down).
pub(crate) fn micros(at: OffsetDateTime) -> i64 {
    let micros = at.unix_timestamp_nanos().div_euclid(1000);
    i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX })
}

/// A stored time, read back.
pub(crate) fn from_micros(micros: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .map_err(|_| corrupt("a stored time is out of range"))
}

fn kind_from(text: &str) -> Option<KeyKind> {
    Some(match text {
        "secret" => KeyKind::Secret,
        "publishable" => KeyKind::Publishable,
        "restricted" => KeyKind::Restricted,
        "custom" => KeyKind::Custom,
        _ => return None,
    })
}

fn environment_from(text: &str) -> Option<Environment> {
    Some(match text {
        "live" => Environment::Live,
        "test" => Environment::Test,
        _ => return None,
    })
}

/// A digest as stored: pepper id and 32 bytes.
pub(crate) fn digest_from(pepper: &str, bytes: &[u8]) -> Result<KeyDigest, StoreError> {
    Ok(KeyDigest {
        pepper: PepperId::parse(pepper).ok_or_else(|| corrupt("a stored pepper id is invalid"))?,
        bytes: bytes
            .try_into()
            .map_err(|_| corrupt("a stored digest is not 32 bytes"))?,
    })
}

impl KeyRow {
    pub(crate) fn into_record(self) -> Result<KeyRecord, StoreError> {
        let rate_limit = match (self.rate_limit, self.rate_window) {
            (None, None) => None,
            (Some(limit), Some(window)) => {
                let limit = u32::try_from(limit).map_err(|_| corrupt("bad rate limit"))?;
                let window = u32::try_from(window).map_err(|_| corrupt("bad rate limit"))?;
                Some(RateLimit::new(limit, window).map_err(|_| corrupt("bad rate limit"))?)
            }
            _ => return Err(corrupt("a rate limit is missing its limit or window")),
        };
        let metadata: Metadata = serde_json::from_str(&self.metadata)
            .map_err(|_| corrupt("stored key metadata is not a JSON object"))?;
        let optional_time = |at: Option<i64>| at.map(from_micros).transpose();
        Ok(KeyRecord {
            id: KeyId::new(self.id),
            lineage: KeyId::new(self.lineage),
            digest: digest_from(&self.pepper, &self.digest)?,
            prefix: self.prefix.into(),
            start: self.start.into(),
            kind: kind_from(&self.kind).ok_or_else(|| corrupt("unknown stored key kind"))?,
            environment: environment_from(&self.environment)
                .ok_or_else(|| corrupt("unknown stored environment"))?,
            tenant: self.tenant.map(Arc::from),
            name: self.name,
            scopes: ScopeSet::from_space_separated(&self.scopes)
                .map_err(|_| corrupt("stored scopes are invalid"))?,
            rate_limit,
            credits: self
                .credits
                .map(u64::try_from)
                .transpose()
                .map_err(|_| corrupt("stored credits are negative"))?,
            metadata: Arc::new(metadata),
            created_at: from_micros(self.created_at)?,
            expires_at: optional_time(self.expires_at)?,
            revoked_at: optional_time(self.revoked_at)?,
            valid_until: optional_time(self.valid_until)?,
            owner: self.owner.map(Arc::from),
            refill: refill_from(self.refill_amount, self.refill_interval.as_deref())?,
        })
    }

    pub(crate) fn from_record(record: &KeyRecord) -> Result<Self, StoreError> {
        Ok(Self {
            id: record.id.as_str().to_owned(),
            lineage: record.lineage.as_str().to_owned(),
            pepper: record.digest.pepper.as_str().to_owned(),
            digest: record.digest.bytes.to_vec(),
            prefix: record.prefix.to_string(),
            start: record.start.to_string(),
            kind: record.kind.as_str().to_owned(),
            environment: record.environment.as_str().to_owned(),
            tenant: record.tenant.as_deref().map(str::to_owned),
            name: record.name.clone(),
            scopes: record.scopes.to_space_separated(),
            rate_limit: record.rate_limit.map(|r| i64::from(r.limit())),
            rate_window: record.rate_limit.map(|r| i64::from(r.window_seconds())),
            credits: record
                .credits
                .map(i64::try_from)
                .transpose()
                .map_err(|_| StoreError::conflict("credits above the largest balance"))?,
            metadata: serde_json::to_string(&*record.metadata)
                .map_err(|_| StoreError::corrupt("key metadata does not serialize"))?,
            created_at: micros(record.created_at),
            expires_at: record.expires_at.map(micros),
            revoked_at: record.revoked_at.map(micros),
            valid_until: record.valid_until.map(micros),
            owner: record.owner.as_deref().map(str::to_owned),
            refill_amount: record.refill.map(|refill| refill_amount(&refill)),
            refill_interval: record
                .refill
                .map(|refill| refill.interval().as_str().to_owned()),
        })
    }
}

/// A refill rule as stored: its amount (at most `i64::MAX`, as [`Refill`] allows).
pub(crate) fn refill_amount(refill: &Refill) -> i64 {
    i64::try_from(refill.amount()).unwrap_or(i64::MAX)
}

/// A stored refill rule (both columns or neither), read back.
pub(crate) fn refill_from(
    amount: Option<i64>,
    interval: Option<&str>,
) -> Result<Option<Refill>, StoreError> {
    match (amount, interval) {
        (None, None) => Ok(None),
        (Some(amount), Some(interval)) => {
            let interval = RefillInterval::parse(interval)
                .ok_or_else(|| corrupt("unknown refill interval"))?;
            let amount = u64::try_from(amount).map_err(|_| corrupt("bad refill amount"))?;
            Refill::new(amount, interval)
                .map(Some)
                .map_err(|_| corrupt("bad refill amount"))
        }
        _ => Err(corrupt("a refill is missing its amount or interval")),
    }
}
