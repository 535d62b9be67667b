use std::sync::LazyLock;

use keygate_tower::proxy::Proxy;
use secrecy::SecretString;

const BASE: &str = "https://upstream.fuzz/v2";
const PREFIX: &str = "/api/proxy";

static PROXY: LazyLock<Proxy> = LazyLock::new(|| {
    Proxy::builder()
        .upstream(BASE)
        .key(SecretString::from("upstream-key-for-fuzzing"))
        .strip_prefix(PREFIX)
        .build()
        .unwrap()
});

/// The proxy's path filter (`Proxy::upstream_url`) on any request path: the input is the
/// path and query (`path?query`; a path not starting with `/` is put below the prefix).
/// What is forwarded stays below the upstream's base, and no segment of it climbs, as an
/// upstream that decodes leniently would read it: percent-decoded up to three times,
/// `%uXXXX` decoded, overlong UTF-8 dots and slashes read as such, NUL bytes dropped,
/// path parameters after `;` dropped, surrounding spaces trimmed. And a plain path of
/// letters, digits, `-`, `_` and `~` segments is forwarded as it is.
pub fn proxy_path(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (path, query) = match text.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (text, None),
    };
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{PREFIX}/{path}")
    };
    let forwarded = PROXY.upstream_url(&path, query);
    if let Some(rest) = path.strip_prefix(PREFIX) {
        let plain = rest.split('/').skip(1).all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~'))
        });
        if rest.starts_with('/') && plain && query.is_none() {
            assert_eq!(
                forwarded.as_deref(),
                Some(format!("{BASE}{rest}").as_str()),
                "a plain path is forwarded as it is"
            );
        }
    }
    let Some(url) = forwarded else {
        return;
    };
    let after = url
        .strip_prefix(BASE)
        .unwrap_or_else(|| panic!("{url:?} is not below the base"));
    assert!(
        after.is_empty() || after.starts_with('/') || after.starts_with('?'),
        "{url:?} is not below the base"
    );
    let forwarded_path = after.split(['?', '#']).next().unwrap_or_default();
    for segment in forwarded_path.split('/') {
        let read = lenient(segment);
        assert!(
            !read.contains(&b'/') && !read.contains(&b'\\'),
            "{path:?} forwards a segment a lenient upstream reads as a slash: {segment:?}"
        );
        let read = read.split(|b| *b == b';').next().unwrap_or_default();
        let read = read.trim_ascii();
        assert!(
            read != b"." && read != b"..",
            "{path:?} forwards a segment a lenient upstream reads as a dot segment: {segment:?}"
        );
    }
}

/// `segment` as the most lenient upstream would read it.
fn lenient(segment: &str) -> Vec<u8> {
    let mut bytes = segment.as_bytes().to_vec();
    for _ in 0..3 {
        bytes = decode_once(&bytes);
    }
    // Overlong UTF-8 (`C0 AE` is `.`, `C0 AF` is `/`, `C1 9C` is `\`), then NUL dropped.
    let mut read = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let next = bytes.get(i + 1).copied();
        match (byte, next) {
            (0xC0, Some(0xAE)) => {
                read.push(b'.');
                i += 2;
            }
            (0xC0, Some(0xAF)) => {
                read.push(b'/');
                i += 2;
            }
            (0xC1, Some(0x9C)) => {
                read.push(b'\\');
                i += 2;
            }
            (0, _) => i += 1,
            _ => {
                read.push(byte);
                i += 1;
            }
        }
    }
    read
}

/// One pass of percent-decoding, `%XX` and IIS's `%uXXXX` (its low byte, for ASCII).
fn decode_once(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            if let (Some(h), Some(l)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(0));
                i += 3;
                continue;
            }
            if matches!(bytes.get(i + 1), Some(b'u' | b'U')) {
                let digits: Option<Vec<u32>> = (2..6).map(|at| hex(bytes.get(i + at))).collect();
                if let Some(digits) = digits {
                    let code = digits.iter().fold(0, |acc, d| acc * 16 + d);
                    if let Ok(ascii) = u8::try_from(code) {
                        out.push(ascii);
                        i += 6;
                        continue;
                    }
                }
            }
        }
        out.push(byte);
        i += 1;
    }
    out
}
