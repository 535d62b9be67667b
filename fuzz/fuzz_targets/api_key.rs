//! The `api_key` target: its body, and what it asserts, is `keygate_fuzzing::api_key`
//! (`tests/fuzzing/src/api_key.rs`), which `cargo test` also replays on every file of
//! `fuzz/corpus/api_key/` and `fuzz/artifacts/api_key/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_fuzzing::api_key(data));
