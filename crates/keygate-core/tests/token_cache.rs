//! The verified-token cache of session, one-time and `ek_` client tokens, through the
//! engine on a manual clock: a cached token is still refused at its expiry, a one-time
//! token is still consumed once, and a token minted by a key still follows that key
//! (revocation, rate limit) on every request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Fixture, bearer, code};
use keygate_core::key::{KeyKind, NewKey, RateLimit};
use keygate_core::token::{IssuedToken, TokenKind, TokenRequest};
use keygate_core::{Access, Environment, ScopeSet};
use time::Duration;

fn lens() -> Access {
    Access::scoped("lens:create").unwrap()
}

/// A secret key of tenant `acme` with a limit of `per_minute`, the principal it
/// authenticates as, and a token of `kind` it mints for `lens:create`.
async fn minted(
    f: &Fixture,
    kind: TokenKind,
    per_minute: u32,
) -> (keygate_core::CreatedKey, IssuedToken) {
    let parent = f
        .key(NewKey {
            tenant: Some("acme".into()),
            rate_limit: Some(RateLimit::new(per_minute, 60).unwrap()),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await;
    let minter = f
        .principal(
            &[("x-api-key", parent.key.expose())],
            &Access::authenticated(),
        )
        .await;
    let token = f
        .keygate
        .issue_token(
            &minter,
            TokenRequest {
                scopes: Some(ScopeSet::parse(["lens:create"]).unwrap()),
                ..TokenRequest::new(kind)
            },
        )
        .unwrap();
    (parent, token)
}

fn header(kind: TokenKind, token: &IssuedToken) -> (&'static str, String) {
    match kind {
        TokenKind::Client => ("x-api-key", token.expose().to_owned()),
        _ => ("authorization", bearer(token.expose())),
    }
}

#[tokio::test]
async fn a_cached_session_token_is_refused_at_its_expiry() {
    let f = Fixture::new();
    let operator = f.operator().await;
    let token = f
        .keygate
        .issue_token(
            &operator,
            TokenRequest {
                scopes: Some(ScopeSet::parse(["lens:create"]).unwrap()),
                lifetime: Some(Duration::minutes(30)),
                ..TokenRequest::new(TokenKind::Session)
            },
        )
        .unwrap();
    let auth = bearer(token.expose());
    let headers = [("authorization", auth.as_str())];
    // The first request verifies and caches it; the next ones are hits.
    for _ in 0..3 {
        f.call(&headers, &lens()).await.unwrap();
    }
    f.clock
        .advance(Duration::minutes(30) - Duration::seconds(1));
    f.call(&headers, &lens()).await.unwrap();
    f.clock.advance(Duration::seconds(1));
    assert_eq!(code(f.call(&headers, &lens()).await), "token_expired");
    f.clock.advance(Duration::days(1));
    assert_eq!(code(f.call(&headers, &lens()).await), "token_expired");
}

#[tokio::test]
async fn a_cached_one_time_token_is_still_consumed_once() {
    let f = Fixture::new();
    let token = f.token(TokenKind::OneTime, "lens:create").await;
    let auth = bearer(token.expose());
    let headers = [("authorization", auth.as_str())];
    // Verified (and cached) by a request it may not serve: not consumed.
    let other = Access::scoped("fill:create").unwrap();
    assert_eq!(code(f.call(&headers, &other).await), "insufficient_scope");
    assert_eq!(code(f.call(&headers, &other).await), "insufficient_scope");
    // Served from the cache, consumed through the meter once, then refused as used.
    assert!(f.call(&headers, &lens()).await.is_ok());
    assert_eq!(code(f.call(&headers, &lens()).await), "token_used");
    assert_eq!(code(f.call(&headers, &lens()).await), "token_used");
    f.clock.advance(Duration::seconds(300));
    assert_eq!(code(f.call(&headers, &lens()).await), "token_expired");
}

/// Session and client tokens minted by a key read that key on every request, cached or
/// not: each request is one store look-up, counts against the key's limit, and the
/// key's revocation ends its tokens at once.
#[tokio::test]
async fn cached_tokens_follow_their_key_on_every_request() {
    for kind in [TokenKind::Session, TokenKind::Client] {
        let f = Fixture::new();
        let (parent, token) = minted(&f, kind, 4).await;
        let (name, value) = header(kind, &token);
        let headers = [(name, value.as_str())];
        // The minter's authentication took 1 of 4.
        for remaining in [2, 1] {
            let before = f.store.lookups();
            let grant = f.call(&headers, &lens()).await.unwrap();
            assert_eq!(f.store.lookups(), before + 1, "{kind:?}: the key is read");
            assert_eq!(grant.rate_limit().unwrap().remaining, remaining, "{kind:?}");
        }
        f.keygate.revoke_key(&parent.record.id).await.unwrap();
        assert_eq!(
            code(f.call(&headers, &lens()).await),
            "key_revoked",
            "{kind:?}"
        );
        assert_eq!(
            code(f.call(&headers, &lens()).await),
            "key_revoked",
            "{kind:?}"
        );
    }
}

/// A key's token is refused once the key has been rotated out and its grace has ended,
/// though the token itself is cached and within its own lifetime.
#[tokio::test]
async fn cached_tokens_end_with_their_key_rotation_grace() {
    let f = Fixture::new();
    let (parent, token) = minted(&f, TokenKind::Client, 100).await;
    let (name, value) = header(TokenKind::Client, &token);
    let headers = [(name, value.as_str())];
    f.call(&headers, &lens()).await.unwrap();
    f.keygate
        .rotate_key(&parent.record.id, Duration::minutes(2))
        .await
        .unwrap();
    f.call(&headers, &lens()).await.unwrap();
    f.clock.advance(Duration::minutes(2));
    assert_eq!(code(f.call(&headers, &lens()).await), "key_expired");
}
