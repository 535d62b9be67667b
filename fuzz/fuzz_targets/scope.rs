//! The `scope` target: its body, and what it asserts, is `keygate_fuzzing::scope`
//! (`tests/fuzzing/src/scope.rs`), which `cargo test` also replays on every file of
//! `fuzz/corpus/scope/` and `fuzz/artifacts/scope/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_fuzzing::scope(data));
