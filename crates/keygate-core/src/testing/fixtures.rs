//! The records and times the suites are written with.
// Test code: a pepper or id that cannot be made is a broken test machine, said loudly.
#![allow(clippy::expect_used)]

use std::sync::Arc;

use time::OffsetDateTime;
use time::macros::datetime;

use crate::key::{Environment, KeyHasher, KeyId, KeyKind, KeyRecord};
use crate::scope::ScopeSet;
use crate::secret::Pepper;

/// The instant the suites' records are created at (plus an offset): fixed, so no suite
/// reads a clock.
pub const T0: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

/// The hasher the suites' digests are made with (a fixed pepper of 32 bytes of 7).
///
/// ```
/// use keygate_core::testing::hasher;
///
/// assert_eq!(hasher().digest("sk_live_x"), hasher().digest("sk_live_x"));
/// ```
pub fn hasher() -> KeyHasher {
    KeyHasher::new(&Pepper::from_bytes(vec![7; 32]).expect("32 bytes make a pepper"))
}

/// A live secret-key record for key text `text`, of `tenant`, created at [`T0`] plus
/// `offset_secs`, with a fresh id and nothing else set.
///
/// ```
/// use keygate_core::testing::{T0, hasher, record};
///
/// let key = record("sk_live_x", Some("acme"), 60);
/// assert_eq!(key.digest, hasher().digest("sk_live_x"));
/// assert_eq!(key.created_at, T0 + time::Duration::minutes(1));
/// assert_eq!(key.lineage, key.id);
/// ```
pub fn record(text: &str, tenant: Option<&str>, offset_secs: i64) -> KeyRecord {
    let id = KeyId::generate().expect("the OS random source gives a key id");
    KeyRecord {
        lineage: id.clone(),
        id,
        digest: hasher().digest(text),
        prefix: "sk_live_".into(),
        start: "sk_live_abcd".into(),
        kind: KeyKind::Secret,
        environment: Environment::Live,
        tenant: tenant.map(Arc::from),
        name: None,
        scopes: ScopeSet::none(),
        rate_limit: None,
        credits: None,
        owner: None,
        refill: None,
        metadata: Arc::default(),
        created_at: T0 + time::Duration::seconds(offset_secs),
        expires_at: None,
        revoked_at: None,
        valid_until: None,
    }
}
