//! The `user_jwt` target: its body, and what it asserts, is `keygate_fuzzing::user_jwt`
//! (`tests/fuzzing/src/user_jwt.rs`), which `cargo test` also replays on every file of
//! `fuzz/corpus/user_jwt/` and `fuzz/artifacts/user_jwt/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_fuzzing::user_jwt(data));
