//! Writes the seed corpus and the known crashes (`keygate_fuzzing::seeds`) under
//! `fuzz/corpus/<target>/seed-*` and `fuzz/artifacts/<target>/crash-*`. Ignored: run by
//! hand when the seeds change, then commit the files:
//!
//! ```text
//! cargo test -p keygate-fuzzing --test seeds -- --ignored
//! ```
#![allow(clippy::unwrap_used)]

use std::path::Path;

#[test]
#[ignore = "writes files: run by hand to refresh the seed corpus"]
fn write_seeds() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let seeds = keygate_fuzzing::seeds::seeds();
    let crashes = keygate_fuzzing::seeds::crashes();
    for (dir, inputs) in [("corpus", seeds), ("artifacts", crashes)] {
        for seed in inputs {
            let folder = fuzz.join(dir).join(seed.target);
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(folder.join(&seed.name), &seed.data).unwrap();
        }
    }
}
