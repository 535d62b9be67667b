//! How big a [`CachedKeyStore`](super::CachedKeyStore) is and how long its entries live.

use time::Duration;

/// How big the cache is and how long entries live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyCacheConfig {
    /// Records kept, per index (by digest and by id), counted in units of one KiB: a
    /// record weighs one unit per KiB it takes in memory, and most (without large
    /// metadata) weigh one. So the cache holds 10 000 ordinary records by default, or
    /// about 600 whose metadata is at the 4 KiB limit; either way about 10 MiB per index.
    pub capacity: usize,
    /// Unknown digests and ids remembered. Default 10 000.
    pub negative_capacity: usize,
    /// The longest a record is served from the cache, whatever notices arrive.
    /// Default 60 s.
    pub max_age: Duration,
    /// How long an unknown digest or id is remembered. Default 5 s.
    pub negative_ttl: Duration,
}

impl Default for KeyCacheConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            negative_capacity: 10_000,
            max_age: Duration::seconds(60),
            negative_ttl: Duration::seconds(5),
        }
    }
}

impl KeyCacheConfig {
    /// The defaults with `capacity` records (of up to 1 KiB each) per index.
    pub fn with_capacity(self, capacity: usize) -> Self {
        Self { capacity, ..self }
    }

    /// With `negative_capacity` unknown lookups remembered.
    pub fn with_negative_capacity(self, negative_capacity: usize) -> Self {
        Self {
            negative_capacity,
            ..self
        }
    }

    /// With records served for at most `max_age`.
    pub fn with_max_age(self, max_age: Duration) -> Self {
        Self { max_age, ..self }
    }

    /// With unknown lookups remembered for `negative_ttl` (zero: not at all).
    pub fn with_negative_ttl(self, negative_ttl: Duration) -> Self {
        Self {
            negative_ttl,
            ..self
        }
    }
}
