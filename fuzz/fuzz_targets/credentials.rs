//! Arbitrary credential headers through `Credentials::parse` and a whole `authenticate`:
//! never a panic, only 4xx answers, and never a grant from an engine holding no keys.
#![no_main]

use std::sync::LazyLock;

use keygate_core::{Access, Credentials, Keygate, Pepper, PlatformSecret};
use libfuzzer_sys::fuzz_target;

static ENGINE: LazyLock<(Keygate, tokio::runtime::Runtime)> = LazyLock::new(|| {
    let secret = PlatformSecret::new("a-fixed-platform-secret-for-fuzzing").unwrap();
    let keygate = Keygate::builder()
        .pepper(Pepper::from_bytes(vec![7; 32]).unwrap())
        .platform_secret(&secret)
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    (keygate, runtime)
});

const NAMES: [&str; 4] = [
    "authorization",
    "x-api-key",
    "x-client-secret",
    "x-on-behalf-of",
];

fuzz_target!(|data: &[u8]| {
    let (keygate, runtime) = &*ENGINE;
    let mut request = http::Request::new(());
    // Fields separated by 0xFF; a field may repeat a header (two values).
    for (i, value) in data.split(|b| *b == 0xFF).enumerate().take(8) {
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
        let result = runtime.block_on(keygate.authenticate(&request, &access));
        let err = result.expect_err("no keys exist and the secret is not guessable");
        assert!(matches!(err.status(), 400 | 401 | 403), "{}", err.code());
        let _ = err.problem_json();
        let _ = err.headers();
    }
});
