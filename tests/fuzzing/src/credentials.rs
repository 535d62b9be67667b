use std::sync::LazyLock;

use keygate_core::{Access, Credentials, Keygate, Pepper, PlatformSecret};

/// An engine holding no keys, with a platform secret nobody can guess from the corpus.
pub(crate) static ENGINE: LazyLock<Keygate> = LazyLock::new(|| {
    let secret = PlatformSecret::new("a-fixed-platform-secret-for-fuzzing").unwrap();
    Keygate::builder()
        .pepper(Pepper::from_bytes(vec![7; 32]).unwrap())
        .platform_secret(&secret)
        .build()
        .unwrap()
});

const NAMES: [&str; 4] = [
    "authorization",
    "x-api-key",
    "x-client-secret",
    "x-on-behalf-of",
];

/// Arbitrary credential headers through `Credentials::parse` and a whole `authenticate`:
/// never a panic, only 4xx answers, and never a grant from an engine holding no keys.
/// Fields are separated by `0xFF` and go to `Authorization`, `X-API-Key`,
/// `x-client-secret`, `X-On-Behalf-Of` in turn; the fifth to eighth repeat them (a header
/// sent twice).
pub fn credentials(data: &[u8]) {
    let mut request = http::Request::new(());
    for (i, value) in crate::fields(data, 8).enumerate() {
        let Some(name) = NAMES.get(i % 4) else {
            continue;
        };
        if let Ok(value) = http::HeaderValue::from_bytes(value) {
            request.headers_mut().append(*name, value);
        }
    }
    if let Err(err) = Credentials::parse(&request) {
        assert_eq!(err.status(), 400);
    }
    for access in [Access::authenticated(), Access::admin()] {
        let result = crate::runtime().block_on(ENGINE.authenticate(&request, &access));
        let err = result.expect_err("no keys exist and the secret is not guessable");
        assert!(
            matches!(err.status().as_u16(), 400 | 401 | 403),
            "{}",
            err.code()
        );
        let _ = err.problem_json();
        let _ = err.headers().count();
    }
}
