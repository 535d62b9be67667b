//! Every committed fuzz input, replayed on stable: each file under
//! `fuzz/corpus/<target>/` (the seeds and what `cargo fuzz` found worth keeping) and
//! `fuzz/artifacts/<target>/` (every crash ever found, kept once fixed) goes through
//! that target's body. A file that panics fails its target's test, named.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

/// Crashes found and filed but not fixed yet, each named `target/file` with what fixes
/// it. Their replay must still fail: once one passes, this list says so and the entry
/// goes.
const OPEN: &[(&str, &str)] = &[];

/// Fuzz targets replayed by a test of their own crate (`target`, that test's path from
/// the repository's root), not through keygate-fuzzing.
const REPLAYED_ELSEWHERE: &[(&str, &str)] =
    &[("oauth_form", "crates/keygate-oauth/tests/fuzz_corpus.rs")];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `dir` (none when it does not exist), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .filter(|path| path.file_name().is_none_or(|name| name != ".gitkeep"))
        .collect();
    files.sort();
    files
}

/// Runs `body` on every input of `target`; returns the inputs that panicked.
fn replay(target: &str, body: fn(&[u8]), dir: &str) -> Vec<String> {
    let mut failed = Vec::new();
    for file in files(&fuzz_dir().join(dir).join(target)) {
        let data = std::fs::read(&file).unwrap();
        let name = format!("{target}/{}", file.file_name().unwrap().to_string_lossy());
        if std::panic::catch_unwind(|| body(&data)).is_err() {
            failed.push(name);
        }
    }
    failed
}

fn run(target: &str) {
    let (_, body) = keygate_fuzzing::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap();
    let corpus = files(&fuzz_dir().join("corpus").join(target));
    assert!(
        !corpus.is_empty(),
        "fuzz/corpus/{target}/ has no seeds: commit some inputs"
    );
    let mut failed = replay(target, *body, "corpus");
    let crashes = replay(target, *body, "artifacts");
    for (open, fixed_by) in OPEN {
        if open.starts_with(&format!("{target}/")) {
            assert!(
                crashes.iter().any(|c| c == open),
                "{open} passes now ({fixed_by}): remove it from OPEN"
            );
        }
    }
    failed.extend(
        crashes
            .into_iter()
            .filter(|crash| !OPEN.iter().any(|(open, _)| open == crash)),
    );
    assert!(failed.is_empty(), "inputs that fail {target}: {failed:?}");
}

macro_rules! replay_targets {
    ($($target:ident),+ $(,)?) => {
        $(
            #[test]
            fn $target() {
                run(stringify!($target));
            }
        )+

        /// Every target has a test here, a body in keygate-fuzzing, a cargo-fuzz binary
        /// and a corpus, under one name.
        #[test]
        fn every_target_is_replayed_and_fuzzed() {
            let tested = [$(stringify!($target)),+];
            let bodies: Vec<&str> = keygate_fuzzing::TARGETS.iter().map(|(name, _)| *name).collect();
            assert_eq!(bodies, tested);
            let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
            for target in tested {
                let source = fuzz_dir().join("fuzz_targets").join(format!("{target}.rs"));
                let source = std::fs::read_to_string(&source)
                    .unwrap_or_else(|_| panic!("no fuzz/fuzz_targets/{target}.rs"));
                assert!(
                    source.contains(&format!("keygate_fuzzing::{target}(")),
                    "fuzz/fuzz_targets/{target}.rs does not call keygate_fuzzing::{target}"
                );
                assert!(
                    manifest.contains(&format!("name = \"{target}\"")),
                    "fuzz/Cargo.toml has no [[bin]] {target}"
                );
            }
            // Targets whose replay lives in their own crate, next to the code they fuzz.
            for (target, replay) in REPLAYED_ELSEWHERE {
                let replay = fuzz_dir().join("..").join(replay);
                assert!(replay.is_file(), "{target}: no replay test at {}", replay.display());
                assert!(
                    manifest.contains(&format!("name = \"{target}\"")),
                    "fuzz/Cargo.toml has no [[bin]] {target}"
                );
            }
            let sources = files(&fuzz_dir().join("fuzz_targets")).len();
            assert_eq!(
                sources,
                tested.len() + REPLAYED_ELSEWHERE.len(),
                "a fuzz target without a replay test"
            );
        }
    };
}

replay_targets!(
    api_key,
    credentials,
    key_change,
    on_behalf_of,
    problem_json,
    proxy_path,
    scope,
    token,
    user_jwt,
);
