//! The `problem_json` target: its body, and what it asserts, is `keygate_fuzzing::problem_json`
//! (`tests/fuzzing/src/problem_json.rs`), which `cargo test` also replays on every file of
//! `fuzz/corpus/problem_json/` and `fuzz/artifacts/problem_json/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_fuzzing::problem_json(data));
