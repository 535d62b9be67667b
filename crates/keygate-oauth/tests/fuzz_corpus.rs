//! Replays the committed corpus of the `oauth_form` fuzz target on stable, with the
//! target's own properties (`tests/properties/oauth_form.rs`). The fuzzer's findings
//! (`fuzz/artifacts/oauth_form/`, minimised with `cargo fuzz tmin`) go into
//! `tests/corpus/oauth_form/`, so they stay fixed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "properties/oauth_form.rs"]
mod properties;

#[test]
fn the_corpus_holds_every_property() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/oauth_form");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("the corpus folder") {
        let path = entry.expect("an entry").path();
        let data = std::fs::read(&path).expect("a corpus file");
        properties::check(&data);
        replayed += 1;
    }
    assert!(
        replayed >= 10,
        "only {replayed} corpus files in {}",
        dir.display()
    );
}

#[test]
fn edge_inputs_hold_every_property() {
    for data in [
        &b""[..],
        b"\n",
        b"=",
        b"&&&",
        b"a=1&a=",
        b"%",
        b"%zz=%",
        b"+=+",
        b"https://app.example/cb\nhttps://app.example/cb",
        b"https://app.example/cb?x=1\nx y&z",
        b"\xff\xfe=\xff\nhttp://[::1",
    ] {
        properties::check(data);
    }
}
