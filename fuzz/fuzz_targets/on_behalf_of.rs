//! The `on_behalf_of` target: its body, and what it asserts, is `keygate_fuzzing::on_behalf_of`
//! (`tests/fuzzing/src/on_behalf_of.rs`), which `cargo test` also replays on every file of
//! `fuzz/corpus/on_behalf_of/` and `fuzz/artifacts/on_behalf_of/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_fuzzing::on_behalf_of(data));
