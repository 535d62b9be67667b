use std::sync::LazyLock;

use keygate_core::token::{TokenIssuer, TokenKind, TokenRequest, TokenSecret};
use keygate_core::{Access, Keygate, Pepper, PlatformSecret, ScopeSet};

static ISSUER: LazyLock<TokenIssuer> =
    LazyLock::new(|| TokenIssuer::hs256(&TokenSecret::new(vec![9; 32]).unwrap()));

/// A genuine session token of `ISSUER` (header.payload.signature), built at first use.
pub(crate) static GENUINE: LazyLock<String> = LazyLock::new(|| mint(ISSUER.clone()));

/// A session token for `lens:create`, minted with the platform secret by an engine whose
/// tokens `issuer` signs.
pub(crate) fn mint(issuer: TokenIssuer) -> String {
    let secret = PlatformSecret::new("a-fixed-platform-secret-for-fuzzing").unwrap();
    let keygate = Keygate::builder()
        .pepper(Pepper::from_bytes(vec![7; 32]).unwrap())
        .platform_secret(&secret)
        .token_issuer(issuer)
        .build()
        .unwrap();
    let request = http::Request::builder()
        .header("x-client-secret", secret.expose())
        .body(())
        .unwrap();
    let operator = crate::runtime()
        .block_on(keygate.authenticate(&request, &Access::admin()))
        .unwrap()
        .into_principal();
    let token = keygate
        .issue_token(
            &operator,
            TokenRequest {
                scopes: Some(ScopeSet::parse(["lens:create"]).unwrap()),
                lifetime: Some(time::Duration::minutes(1440)),
                ..TokenRequest::new(TokenKind::Session)
            },
        )
        .unwrap();
    token.expose().to_owned()
}

/// A genuine token of another key: well formed, and never valid for `ISSUER`.
pub(crate) fn foreign() -> String {
    mint(TokenIssuer::hs256(&TokenSecret::new(vec![8; 32]).unwrap()))
}

/// `TokenIssuer::verify` on any text, and on a genuine token with fuzzed parts: only the
/// genuine token verifies.
pub fn token(data: &[u8]) {
    let Ok(data) = std::str::from_utf8(data) else {
        return;
    };
    let now = time::OffsetDateTime::now_utc();
    if data != GENUINE.as_str() {
        assert!(ISSUER.verify(data, now).is_err(), "arbitrary text verified");
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
}
