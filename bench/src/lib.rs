//! The variants of the load benchmark: each builds its state (keys, tokens, a Redis
//! connection), says which credential a client presents, and gives an axum router or
//! an actix app answering `GET /` with `ok` behind its authentication.
//!
//! `bench-server` serves one variant over HTTP; `bench-count` calls one in process under
//! callgrind. Both build it here, so the two measure the same thing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

pub mod hand;
pub mod variant;

pub use variant::{Credentials, Variant, build};

/// Resident memory of this process, in bytes (`/proc/self/statm`).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// A small deterministic generator (xorshift), for the choice of keys.
pub struct Xorshift(pub u64);

impl Xorshift {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
