//! The `proxy_path` target: its body, and what it asserts, is `keygate_fuzzing::proxy_path`
//! (`tests/fuzzing/src/proxy_path.rs`), which `cargo test` also replays on every file of
//! `fuzz/corpus/proxy_path/` and `fuzz/artifacts/proxy_path/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_fuzzing::proxy_path(data));
