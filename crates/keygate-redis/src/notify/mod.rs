//! Key revocations and rotations between instances over Redis pub/sub: a
//! [`KeyChangePublisher`] in front of the key store sends a [`KeyChange`] for every
//! change, and a listener per cache ([`RedisConnection::cached`], or
//! [`RedisConnection::listen`] for a cache that listens on its SQL store already) drops
//! what each notice names. Put the publisher in front of the cache
//! (`redis.publisher(cache)`): the cache drops its own entries, the notice tells the
//! others.
//!
//! Pub/sub delivers only to subscribers connected at the time: a notice sent while an
//! instance was disconnected is lost. So, as the Postgres listener does, a cache stops
//! serving (every lookup goes to the store) from the moment its subscription is down,
//! and starts empty when it is back. A subscription that goes silent without closing is
//! found by a `PING` every [`NOTIFY_HEARTBEAT_INTERVAL`].
//!
//! [`KeyChange`]: keygate_core::store::KeyChange
//! [`RedisConnection::cached`]: crate::RedisConnection::cached
//! [`RedisConnection::listen`]: crate::RedisConnection::listen

mod listener;
mod publisher;

pub use listener::NOTIFY_HEARTBEAT_INTERVAL;
pub use publisher::KeyChangePublisher;

/// The channel of a prefix's key changes.
pub(crate) fn channel(prefix: &str) -> String {
    format!("{{{prefix}}}:keys")
}
