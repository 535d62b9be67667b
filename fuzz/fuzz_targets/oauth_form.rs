//! keygate-oauth's form parsing (token and revocation bodies, authorization queries) and
//! redirect-URI validation, comparison and query building, on any bytes: never panics,
//! and every property of `crates/keygate-oauth/tests/properties/oauth_form.rs` holds.
//! Seed it with the committed corpus:
//!   mkdir -p corpus/oauth_form && cp ../crates/keygate-oauth/tests/corpus/oauth_form/* corpus/oauth_form/
//!   cargo +nightly fuzz run oauth_form -- -max_total_time=60
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/keygate-oauth/tests/properties/oauth_form.rs"]
mod properties;

fuzz_target!(|data: &[u8]| properties::check(data));
