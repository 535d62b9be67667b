//! A bounded cache of key records in front of any [`KeyStore`], so a hot key costs no
//! store round trip.
//!
//! [`CachedKeyStore`] keeps records found by digest ([`KeyStore::find_by_hash`], the hot
//! path of every API-key request) and by id ([`KeyStore::get`]), and remembers briefly that
//! a digest or id is unknown, so a flood of well-formed garbage keys does not reach the
//! database once per request. Both caches are bounded ([quick_cache], an S3-FIFO-style
//! cache that resists scans), and unknown lookups live in a cache of their own, so random
//! keys can neither grow memory nor evict the hot keys.
//!
//! # Invalidation
//!
//! Revocation must not be outrun by the cache:
//!
//! - the cache's own [`create`](super::KeyStore::create),
//!   [`revoke`](super::KeyStore::revoke) and [`rotate`](super::KeyStore::rotate) drop what
//!   they change, after the store has committed;
//! - another instance's changes arrive through a [`CacheInvalidator`] (from
//!   [`CachedKeyStore::invalidator`]): a listener (Postgres `LISTEN/NOTIFY`, Redis
//!   pub/sub) calls [`CacheInvalidator::apply`] with the [`KeyChange`] it received;
//! - while such a listener is disconnected it calls [`CacheInvalidator::suspend`]: the
//!   cache then serves nothing and stores nothing, since notices may be lost; once it
//!   listens again it calls [`CacheInvalidator::resume`], which empties the cache first;
//! - a cache may have several listeners (Postgres or SQLite, and Redis), each with its own
//!   invalidator: it serves only while none of them is suspended, so a notice lost on any
//!   one channel cannot leave a stale record served;
//! - every entry also has a maximum age ([`KeyCacheConfig::max_age`]), a backstop for
//!   changes made where no notice is sent (another process on the same SQLite file).
//!
//! A lookup that races an invalidation never leaves a stale record behind: every
//! invalidation advances an epoch, and a lookup that saw the epoch move while it asked the
//! store takes back what it cached.
//!
//! Ages are read from the injected [`Clock`](crate::Clock), so tests move a
//! [`ManualClock`](crate::ManualClock) instead of sleeping.
//!
//! ```
//! use keygate_core::key::{KeyKind, NewKey};
//! use keygate_core::store::CachedKeyStore;
//! use keygate_core::{Environment, Keygate, MemoryKeyStore, Pepper};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cache = CachedKeyStore::new(MemoryKeyStore::new());
//! let invalidator = cache.invalidator(); // hand this to a listener
//! let keygate = Keygate::builder()
//!     .pepper(Pepper::generate()?)
//!     .key_store(cache.clone())
//!     .build()?;
//! let created = keygate.create_key(NewKey::new(KeyKind::Secret, Environment::Live)).await?;
//! # let _ = (invalidator, created);
//! # Ok(())
//! # }
//! ```
//!
//! [`KeyStore`]: super::KeyStore
//! [`KeyStore::find_by_hash`]: super::KeyStore::find_by_hash
//! [`KeyStore::get`]: super::KeyStore::get

mod cached_key_store;
mod config;
mod entry;
#[cfg(test)]
mod fixtures;
mod invalidation;
mod key_change;

pub use cached_key_store::{CachedKeyStore, KeyCacheStats};
pub use config::KeyCacheConfig;
pub use invalidation::CacheInvalidator;
pub use key_change::KeyChange;
