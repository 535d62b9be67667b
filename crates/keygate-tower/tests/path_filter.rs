//! The proxy's path filter against every lenient reading an upstream might make: a path
//! that `check_path` admits never reads as a climb, however it is decoded.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use keygate_tower::proxy::check_path;
use proptest::prelude::*;

/// Pieces that traversal attempts are made of, and ordinary ones.
const PIECES: &[&str] = &[
    "a",
    "b1",
    ".",
    "..",
    "/",
    "%",
    "2e",
    "2E",
    "%2e",
    "%2E",
    "%25",
    "%2f",
    "%5c",
    "%00",
    ";",
    "%3b",
    "\\",
    "%c0%ae",
    "%c0",
    "%ae",
    "%u002e",
    "u002e",
    " ",
    "%20",
    "%3a",
    "é",
    "%c3%a9",
    "%ef%bc%8e",
    "%e2%80%a4",
    "~",
    "-",
    "_",
    ":",
    "@",
    "%41",
    "%%",
    "32",
    "%32",
    "65",
    "%65",
];

/// Decodes `%XX` and `%uXXXX` where they are well formed and leaves the rest, as a
/// lenient server does; bytes that are not UTF-8 are read as Latin-1 (one char each).
fn lenient_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(hex) = text.get(i + 1..i + 3)
                && let Ok(byte) = u8::from_str_radix(hex, 16)
            {
                out.push(byte);
                i += 3;
                continue;
            }
            if matches!(bytes.get(i + 1), Some(b'u' | b'U'))
                && let Some(hex) = text.get(i + 2..i + 6)
                && let Ok(code) = u32::from_str_radix(hex, 16)
                && let Some(c) = char::from_u32(code)
            {
                out.extend_from_slice(c.to_string().as_bytes());
                i += 6;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    match String::from_utf8(out.clone()) {
        Ok(text) => text,
        Err(_) => out.iter().map(|&b| b as char).collect(),
    }
}

/// Every reading of `path` a lenient upstream could make.
fn readings(path: &str) -> Vec<String> {
    let once = lenient_decode(path);
    let twice = lenient_decode(&once);
    let mut all = vec![path.to_owned(), once, twice];
    // Overlong UTF-8 read as what it encodes; look-alikes normalised; backslash as slash.
    for text in all.clone() {
        let normal = text
            .replace("\u{c0}\u{ae}", ".")
            .replace(['\u{2024}', '\u{fe52}', '\u{ff0e}'], ".")
            .replace('\\', "/");
        all.push(normal);
    }
    all
}

fn climbs(reading: &str) -> bool {
    reading.split('/').any(|segment| {
        // Path parameters dropped (Tomcat), NULs cut (C), trailing dots and spaces
        // trimmed (Windows).
        let segment = segment.split(';').next().unwrap_or_default();
        let segment = segment.split('\0').next().unwrap_or_default();
        let trimmed = segment.trim_end_matches(['.', ' ']);
        segment.contains('.') && trimmed.trim_start_matches(' ').is_empty()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn an_admitted_path_never_reads_as_a_climb(pieces in prop::collection::vec(0..PIECES.len(), 1..10)) {
        let path: String = pieces.iter().map(|&i| PIECES[i]).collect();
        if check_path(&path).is_ok() {
            for reading in readings(&path) {
                prop_assert!(!climbs(&reading), "{path:?} admitted, reads as {reading:?}");
            }
        }
    }

    #[test]
    fn any_string_is_answered_without_a_panic(path in ".{0,64}") {
        let _ = check_path(&path);
    }
}

#[test]
fn the_reported_forms_are_refused_and_ordinary_paths_pass() {
    for climb in [
        "/..%3b/x",
        "/..%00/x",
        "/.%00./x",
        "/%%32%65%%32%65/x",
        "/%u002e%u002e/x",
    ] {
        assert!(check_path(climb).is_err(), "{climb}");
        assert!(
            readings(climb).iter().any(|r| climbs(r)),
            "a lenient reading climbs: {climb}"
        );
    }
    for ordinary in [
        "/v1/items/abc-1_2.json",
        "/files/my%20report.pdf",
        "/caf%C3%A9",
    ] {
        assert!(check_path(ordinary).is_ok(), "{ordinary}");
    }
}
