//! The properties the `oauth_form` fuzz target checks on every input, shared with the
//! stable test that replays the committed corpus (`tests/fuzz_corpus.rs`): one
//! definition, two drivers.
//!
//! The input is split at its first newline: the whole input is a form body (and a query
//! string); the two halves are a registered and a presented redirect URI.

use keygate_oauth::client::redirect::{
    MAX_REDIRECT_URI_LEN, redirect_uri_matches, validate_redirect_uri, with_query,
};
use keygate_oauth::form::{MAX_ENCODED_LEN, MAX_PARAMS, Params};

/// Checks every property on `data`; panics on a violation.
pub(crate) fn check(data: &[u8]) {
    form(data);
    let (first, second) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &data[..0]),
    };
    redirect(
        &String::from_utf8_lossy(first),
        &String::from_utf8_lossy(second),
    );
}

fn form(data: &[u8]) {
    let Ok(params) = Params::parse(data) else {
        return;
    };
    assert!(data.len() <= MAX_ENCODED_LEN);
    let names: Vec<&str> = params.names().collect();
    assert!(names.len() <= MAX_PARAMS);
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "a name parsed twice");
    // Every kept parameter has a non-empty value without control characters, and
    // encoding them again parses back to the same parameters.
    let mut encoded = form_urlencoded::Serializer::new(String::new());
    for name in &names {
        let value = params.get(name).expect("a listed name has a value");
        assert!(!value.is_empty());
        assert!(!value.chars().any(char::is_control));
        encoded.append_pair(name, value);
    }
    let again = Params::parse(encoded.finish().as_bytes()).expect("re-encoded parameters parse");
    assert_eq!(again, params);
}

fn redirect(registered: &str, presented: &str) {
    // Exact comparison: equal bytes and nothing else.
    assert_eq!(
        redirect_uri_matches(registered, presented),
        registered.as_bytes() == presented.as_bytes()
    );
    assert!(redirect_uri_matches(registered, registered));
    if validate_redirect_uri(registered).is_ok() {
        assert!(!registered.is_empty() && registered.len() <= MAX_REDIRECT_URI_LEN);
        assert!(!registered.contains('#'));
        assert!(registered.bytes().all(|b| b.is_ascii_graphic()));
        assert!(
            registered.starts_with("https://")
                || registered.starts_with("http://")
                || registered
                    .split(':')
                    .next()
                    .is_some_and(|s| s.contains('.'))
        );
    }
    // Parameters are appended after the URI, never into it, and read back whole.
    let uri = with_query(registered, &[("code", presented), ("state", "s")]);
    assert!(uri.starts_with(registered));
    let appended = &uri[registered.len() + 1..];
    let pairs: Vec<(String, String)> = form_urlencoded::parse(appended.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("code".to_owned(), presented.to_owned()),
            ("state".to_owned(), "s".to_owned())
        ]
    );
}
