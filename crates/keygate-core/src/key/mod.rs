//! API keys: their text form ([`ApiKey`], [`ParsedKey`]), their stored form
//! ([`KeyRecord`], hashed by a [`KeyHasher`]), and what a new one is made from ([`NewKey`]).

mod format;
mod hash;
mod record;
mod view;

pub use format::{
    ApiKey, CHECKSUM_LEN, KeyFormatError, KeyPrefix, MAX_CUSTOM_PREFIX, MAX_KEY_LEN, ParsedKey,
    RANDOM_LEN, START_CHARS,
};
pub use hash::{KeyDigest, KeyHasher};
pub(crate) use record::empty_metadata;
pub use record::{
    Environment, KeyId, KeyKind, KeyRecord, KeyStatus, MAX_METADATA_BYTES, MAX_NAME_LEN,
    MAX_ROTATION_GRACE, Metadata, NewKey, RateLimit, RateLimitError,
};
pub use view::KeyView;
