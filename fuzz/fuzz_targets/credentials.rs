//! The `credentials` target: its body, and what it asserts, is `keygate_fuzzing::credentials`
//! (`tests/fuzzing/src/credentials.rs`), which `cargo test` also replays on every file of
//! `fuzz/corpus/credentials/` and `fuzz/artifacts/credentials/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_fuzzing::credentials(data));
