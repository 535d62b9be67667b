//! Test suites for the traits store authors implement, published so that every store is
//! held to the same behaviour as keygate's own (feature `testing`, off by default; enable
//! it in your `[dev-dependencies]`).
//!
//! - [`key_store`]: the [`KeyStore`](crate::KeyStore) suite, as functions and as the
//!   [`key_store_suite!`](crate::key_store_suite) macro (one `#[tokio::test]` per
//!   scenario).
//! - [`meter`]: the [`Meter`](crate::Meter) suite, as functions and as the
//!   [`meter_suite!`](crate::meter_suite) macro; and [`meter::model`], a property test
//!   of random sequences against a model of the meter, as the
//!   [`meter_model!`](crate::meter_model) macro.
//!
//! - [`accounts`]: accounts end to end through a [`Keygate`](crate::Keygate) on the store
//!   and meter under test (shared balances, the self-service key limit).
//!
//! The suites read no clock and never sleep: every time they use is fixed, from [`T0`].
//! They panic with a message naming what the store got wrong, as tests do.

pub mod accounts;
mod fixtures;
pub mod key_store;
pub mod meter;

pub use fixtures::{T0, hasher, record};

/// What the suites' macros expand to, so that their users need no dependency of their
/// own beyond keygate-core.
#[doc(hidden)]
pub mod __private {
    pub use tokio;
}
