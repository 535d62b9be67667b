//! Secret material that keygate holds: the [`Pepper`] that keys API-key hashes and the
//! [`PlatformSecret`] that opens admin routes.
//!
//! Every type here keeps its bytes in a [`secrecy`] container: zeroized on drop, and a
//! `Debug` that prints no secret.

mod compare;
mod pepper;
mod platform;

pub(crate) use compare::same_bytes;
pub(crate) use pepper::keyed_mac;
pub use pepper::{MIN_PEPPER_LEN, Pepper, PepperError, PepperId};
pub use platform::{MAX_PLATFORM_SECRET_LEN, MIN_PLATFORM_SECRET_LEN, PlatformSecret};
