//! The `token` target: its body, and what it asserts, is `keygate_fuzzing::token`
//! (`tests/fuzzing/src/token.rs`), which `cargo test` also replays on every file of
//! `fuzz/corpus/token/` and `fuzz/artifacts/token/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_fuzzing::token(data));
