//! The bodies of keygate's fuzz targets, one function per target, each taking the raw
//! input bytes. `fuzz/fuzz_targets/<target>.rs` (cargo-fuzz, nightly) calls them with what
//! libFuzzer generates; `tests/replay.rs` (stable, part of `cargo test --workspace`)
//! calls them with every file under `fuzz/corpus/<target>/` and `fuzz/artifacts/<target>/`,
//! so CI replays the corpus and every crash ever found.
//!
//! Each body asserts invariants, not only "no panic": what parses is well formed, the
//! engine answers garbage only with 4xx, no forged token verifies, a forwarded proxy path
//! cannot climb out of the upstream's base. A failed invariant panics, which is what the
//! fuzzer and the replay test look for.
//!
//! ```
//! // An input is just bytes; a body never returns an error, it panics on a violation.
//! keygate_fuzzing::api_key(b"sk_test_0123456789abcdefghijklmnopqrstuvwxyz");
//! keygate_fuzzing::scope(b"lens:create\xffmagic-background:*");
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// A fuzz body's job is to panic when an invariant breaks: the fixtures below are fixed
// test material whose construction cannot fail, and a failed assertion is the finding.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod api_key;
mod credentials;
mod key_change;
mod on_behalf_of;
mod problem_json;
mod proxy_path;
mod scope;
pub mod seeds;
mod token;
mod user_jwt;

pub use api_key::api_key;
pub use credentials::credentials;
pub use key_change::key_change;
pub use on_behalf_of::on_behalf_of;
pub use problem_json::problem_json;
pub use proxy_path::proxy_path;
pub use scope::scope;
pub use token::token;
pub use user_jwt::user_jwt;

/// A fuzz target: its name (the file under `fuzz/fuzz_targets/`, the folder under
/// `fuzz/corpus/` and `fuzz/artifacts/`) and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, by name.
pub const TARGETS: [Target; 9] = [
    ("api_key", api_key),
    ("credentials", credentials),
    ("key_change", key_change),
    ("on_behalf_of", on_behalf_of),
    ("problem_json", problem_json),
    ("proxy_path", proxy_path),
    ("scope", scope),
    ("token", token),
    ("user_jwt", user_jwt),
];

/// One current-thread Tokio runtime for the bodies that call async code.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::LazyLock<tokio::runtime::Runtime> = std::sync::LazyLock::new(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    });
    &RUNTIME
}

/// The fields of an input separated by `0xFF` (a byte no UTF-8 text contains), at most
/// `max` of them.
fn fields(data: &[u8], max: usize) -> impl Iterator<Item = &[u8]> {
    data.split(|b| *b == 0xFF).take(max)
}
