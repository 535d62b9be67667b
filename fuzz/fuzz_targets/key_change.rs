//! The `key_change` target: its body, and what it asserts, is `keygate_fuzzing::key_change`
//! (`tests/fuzzing/src/key_change.rs`), which `cargo test` also replays on every file of
//! `fuzz/corpus/key_change/` and `fuzz/artifacts/key_change/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_fuzzing::key_change(data));
