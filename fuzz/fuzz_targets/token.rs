//! `TokenIssuer::verify` on any text, and on a genuine token with fuzzed parts: only the
//! genuine token verifies.
#![no_main]

use std::sync::LazyLock;

use keygate_core::token::{TokenIssuer, TokenSecret};
use libfuzzer_sys::fuzz_target;

static ISSUER: LazyLock<TokenIssuer> =
    LazyLock::new(|| TokenIssuer::hs256(&TokenSecret::new(vec![9; 32]).unwrap()));

/// A genuine session token of `ISSUER` (header.payload.signature), built at first use.
static GENUINE: LazyLock<String> = LazyLock::new(|| {
    use keygate_core::token::{TokenKind, TokenRequest};
    use keygate_core::{Access, Keygate, Pepper, PlatformSecret, ScopeSet};
    let secret = PlatformSecret::new("a-fixed-platform-secret-for-fuzzing").unwrap();
    let keygate = Keygate::builder()
        .pepper(Pepper::from_bytes(vec![7; 32]).unwrap())
        .platform_secret(&secret)
        .token_issuer(ISSUER.clone())
        .build()
        .unwrap();
    let request = http::Request::builder()
        .header("x-client-secret", secret.expose())
        .body(())
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let operator = runtime
        .block_on(keygate.authenticate(&request, &Access::admin()))
        .unwrap()
        .into_principal();
    let token = keygate
        .issue_token(
            &operator,
            TokenRequest {
                scopes: Some(ScopeSet::parse(["lens:create"]).unwrap()),
                lifetime: Some(time_minutes(1440)),
                ..TokenRequest::new(TokenKind::Session)
            },
        )
        .unwrap();
    token.expose().to_owned()
});

fn time_minutes(m: i64) -> time::Duration {
    time::Duration::minutes(m)
}

fuzz_target!(|data: &str| {
    let now = time::OffsetDateTime::now_utc();
    if data != GENUINE.as_str() {
        assert!(ISSUER.verify(data, now).is_err());
    }
    // Keep the genuine header, fuzz the rest; then keep header and payload, fuzz the
    // signature.
    let (header, rest) = GENUINE.split_once('.').unwrap();
    let (payload, _) = rest.split_once('.').unwrap();
    for forged in [
        format!("{header}.{data}"),
        format!("{header}.{payload}.{data}"),
    ] {
        if forged != *GENUINE {
            assert!(
                ISSUER.verify(&forged, now).is_err(),
                "forged token accepted"
            );
        }
    }
});
