//! keygate on SQL.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("keygate-sqlx needs at least one of its features: sqlite, postgres");

mod backend;
mod error;
mod listen;
mod meter;
mod row;
mod settings;
mod store;

pub use backend::{Backend, NOTIFY_CHANNEL_PREFIX};
pub use error::ConnectError;
pub use listen::SQLITE_POLL_INTERVAL;
pub use meter::SqlMeter;
pub use settings::Stored;
pub use store::{SQLITE_BUSY_TIMEOUT, SqlStore};
