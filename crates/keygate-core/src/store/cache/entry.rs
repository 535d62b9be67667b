//! The entries of the cache: a record with the time it was read, what it weighs, and the
//! lookups the cache is keyed by.

use std::sync::Arc;

use quick_cache::sync::Cache;
use time::{Duration, OffsetDateTime};

use crate::key::{KeyDigest, KeyId, KeyRecord};

/// A record as the cache keeps it.
#[derive(Clone)]
pub(super) struct Cached {
    pub(super) record: Arc<KeyRecord>,
    /// When it was read from the store.
    pub(super) at: OffsetDateTime,
    /// The record's weight, computed once (quick_cache asks for it during eviction).
    pub(super) weight: u32,
}

/// The unit of [`KeyCacheConfig::capacity`](super::KeyCacheConfig::capacity).
const WEIGHT_UNIT: usize = 1024;

/// How many [`WEIGHT_UNIT`]s a record takes in memory, roughly: the struct, its strings
/// and scopes, and its metadata (parsed JSON takes several times its text).
pub(super) fn weight_of(record: &KeyRecord) -> u32 {
    let metadata = serde_json::to_vec(&*record.metadata)
        .map_or(crate::key::MAX_METADATA_BYTES, |json| json.len());
    let strings = record.id.as_str().len()
        + record.lineage.as_str().len()
        + record.prefix.len()
        + record.start.len()
        + record.tenant.as_deref().map_or(0, str::len)
        + record.name.as_deref().map_or(0, str::len);
    let scopes: usize = record
        .scopes
        .iter()
        .map(|scope| scope.as_str().len() + 32)
        .sum();
    let bytes = std::mem::size_of::<KeyRecord>() + strings + scopes + metadata * 4;
    u32::try_from(bytes.div_ceil(WEIGHT_UNIT).max(1)).unwrap_or(u32::MAX)
}

/// Weighs cached records by [`weight_of`], so the capacity bounds memory, not entries.
#[derive(Clone, Copy)]
pub(super) struct RecordWeight;

impl<K> quick_cache::Weighter<K, Cached> for RecordWeight {
    fn weight(&self, _key: &K, cached: &Cached) -> u64 {
        u64::from(cached.weight)
    }
}

/// What a lookup asks for: the key of the cache of unknown lookups.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) enum Lookup {
    Digest(KeyDigest),
    Id(KeyId),
}

/// An index of records bounded by their weight.
pub(super) fn weighted<K: Eq + std::hash::Hash>(capacity: usize) -> Cache<K, Cached, RecordWeight> {
    let capacity = capacity.max(1);
    Cache::with_weighter(capacity, capacity as u64, RecordWeight)
}

/// Whether something cached at `at` is younger than `ttl` at `now`.
pub(super) fn fresh(at: OffsetDateTime, now: OffsetDateTime, ttl: Duration) -> bool {
    let age = now - at;
    !age.is_negative() && age < ttl
}
