//! # keygate-sqlx
//!
//! keygate's state in SQL: key records ([`SqlStore`], a
//! [`KeyStore`](keygate_core::KeyStore)), credits and one-time tokens ([`SqlMeter`], a
//! [`Meter`](keygate_core::Meter)), and the settings every instance shares. SQLite (feature
//! `sqlite`, on by default) is the embedded default; Postgres (feature `postgres`) is for
//! several instances on one database.
//!
//! Open the database from a URL (`KEYGATE_DATABASE_URL`): [`SqlStore::connect`] takes
//! `sqlite://keygate.db` (created when missing), `sqlite::memory:` or `postgres://…`, and
//! applies keygate's embedded migrations before it returns. Put the store behind the key
//! cache with [`SqlStore::cached`], which also starts the task that applies other
//! instances' revocations (Postgres `LISTEN/NOTIFY`, or polling on SQLite).
//!
//! ```
//! use keygate_core::key::{KeyKind, NewKey};
//! use keygate_core::{Access, Environment, Keygate, Pepper};
//! use keygate_sqlx::SqlStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = SqlStore::connect("sqlite::memory:").await?;
//! let keygate = Keygate::builder()
//!     .pepper(Pepper::generate()?)
//!     .key_store(store.cached()?)
//!     .meter(store.meter())
//!     .build()?;
//!
//! let created = keygate
//!     .create_key(NewKey {
//!         credits: Some(2),
//!         ..NewKey::new(KeyKind::Secret, Environment::Live)
//!     })
//!     .await?;
//! let request = http::Request::builder()
//!     .header("x-api-key", created.key.expose())
//!     .body(())?;
//! let paid = Access::scoped("detect:create")?.cost(1);
//! let grant = keygate.authenticate(&request, &paid).await?;
//! assert_eq!(grant.credits_remaining(), Some(1));
//!
//! keygate.revoke_key(&created.record.id).await?;
//! let err = keygate.authenticate(&request, &paid).await.unwrap_err();
//! assert_eq!(err.code(), "key_revoked");
//! # Ok(())
//! # }
//! ```
//!
//! What is shared between instances and what is not:
//!
//! | state | where | across instances |
//! |---|---|---|
//! | key records | `kg_keys` | shared; revocations reach every cache within about a second |
//! | credits | `kg_credits`, one conditional upsert per request | shared, never oversold |
//! | one-time tokens | `kg_used_tokens`, insert once | shared, used once |
//! | quotas (fixed windows per UTC day or month) | `kg_windows`, one conditional upsert per window | shared, never exceeded |
//! | rate limits | process memory (GCRA) | **per instance** |
//! | platform-secret digest, token seed | `kg_settings`, insert once | shared |
//!
//! See `docs/stores.md` for operations: migrations, the cache, failure modes.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("keygate-sqlx needs at least one of its features: sqlite, postgres");

mod accounts;
mod backend;
pub mod deployment;
mod error;
mod listen;
mod meter;
#[cfg(feature = "oauth")]
mod oauth;
mod row;
mod settings;
mod store;

pub use backend::{Backend, NOTIFY_CHANNEL_PREFIX};
/// [`deployment`] under its older name: `keygate_sqlx::setup::{Setup, Start, Opened, ...}`
/// keep working.
pub use deployment as setup;
pub use error::ConnectError;
pub use listen::{LISTEN_HEARTBEAT_INTERVAL, LISTEN_HEARTBEAT_TIMEOUT, SQLITE_POLL_INTERVAL};
pub use meter::SqlMeter;
#[cfg(feature = "oauth")]
pub use oauth::SqlOAuthStore;
pub use settings::Stored;
pub use store::{SQLITE_BUSY_TIMEOUT, SqlStore};
