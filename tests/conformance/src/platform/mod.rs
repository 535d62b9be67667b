//! The reference platform (`examples/platform`) as the contract's black box: each
//! scenario starts the platform's own app exactly as its binaries do (the deployment
//! opened by `keygate_sqlx::setup`, the engine from `Opened::keygate_builder`, catalogues
//! in the same database), only with the engine's clock replaced by a manual one, and
//! speaks HTTP to it through one of the three adapters the binaries use:
//!
//! | column | serves with | binary |
//! |---|---|---|
//! | [`Axum`] | `platform::adapters::axum::router` | `platform` |
//! | [`Actix`] | `platform::adapters::actix::configure` | `platform-actix` |
//! | [`Tower`] | `platform::adapters::tower::service` on hyper | `platform-tower` |
//!
//! on a fresh SQLite file ([`Sqlite`]) or a fresh schema of `KEYGATE_TEST_POSTGRES_URL`
//! ([`Postgres`]; skipped with a note when unset). [`platform_suite!`](crate::platform_suite)
//! writes one test per scenario per column: `platform::sqlite::axum::admin_key_rotate_with_grace`.

mod adapters;
mod databases;
pub mod differential;
mod harness;
pub mod scenarios;
pub mod upstream;
pub mod users;

pub use adapters::{Actix, Axum, PlatformAdapter, Tower};
pub use databases::{Database, Postgres, Sqlite};
pub use harness::{ADMIN_KEYS, CATALOGUES, Platform, TOKEN, text};
