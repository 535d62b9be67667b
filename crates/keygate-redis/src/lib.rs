//! keygate on Redis: several instances behave as one.
//!
//! - [`RedisMeter`] decides every rate limit and quota of a request, and its one-time
//!   token's use, in **one Lua script call** (EVALSHA, loading the script on `NOSCRIPT`),
//!   with the caller's clock and the core's integer GCRA, so memory, SQL and Redis meters
//!   agree to the microsecond. Credits stay in a durable ledger beside it (the SQL
//!   store's meter): a request with credits costs one Redis call and one SQL statement.
//! - A one-time token cannot be replayed after Redis lost its ledger (`FLUSHALL`, a
//!   restart without persistence): see [`LEDGER_SKEW`].
//! - [`KeyChangePublisher`] and [`RedisConnection::cached`] (or
//!   [`RedisConnection::listen`], beside a cache's SQL listener) carry key revocations
//!   and rotations between instances over Redis pub/sub.
//! - Redis unreachable or slower than [`RedisConfig::timeout`] is a
//!   [`StoreError`](keygate_core::StoreError): the engine answers 503 `auth_unavailable`,
//!   never allows and never charges; the connection manager reconnects when Redis is back.
//! - A `redis+cluster://host:port,host:port` URL selects the Redis Cluster client: every
//!   key of one meter shares the hash tag `{<prefix>}`, so each script call runs in one
//!   slot.
//!
//! ```no_run
//! use keygate_core::MemoryMeter;
//! use keygate_redis::{RedisConfig, RedisConnection};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let redis = RedisConnection::connect(RedisConfig::new("redis://127.0.0.1:6379")).await?;
//! // Credits in a durable ledger (here memory, in production `SqlStore::meter()`).
//! let meter = redis.meter(MemoryMeter::new());
//! # let _ = meter;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod connection;
mod error;
mod meter;
mod notify;

pub use config::{ConfigError, RedisConfig};
pub use connection::RedisConnection;
pub use error::ConnectError;
pub use meter::{LEDGER_SKEW, RedisMeter, USED_TOKEN_MARGIN};
pub use notify::{KeyChangePublisher, NOTIFY_HEARTBEAT_INTERVAL};
