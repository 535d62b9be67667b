//! `GET /api/realtime`: a WebSocket that echoes text (and binary) frames (the HTTP
//! contract's "Realtime"). What the three adapters share is here; each adapter does the handshake
//! and the frames with its framework's WebSocket support.
//!
//! - The engine reads a client token from `Sec-WebSocket-Protocol: keygate, ek_…` on
//!   upgrade requests ([`credential_sources`]); keygate decides the upgrade like any
//!   request, so a refusal is a normal problem+json answer and no socket is opened.
//! - An admitted upgrade is answered `Sec-WebSocket-Protocol: keygate` when the client
//!   offered it ([`answered_protocol`]): never the token.
//! - An open socket re-checks its credential every [`CHECK_EVERY`] with
//!   [`keygate_core::Lifetime`]: a token past its expiry or a revoked or expired parent
//!   key closes it with [`POLICY_VIOLATION`] (1008), within 5 s.
//! - A `GET` that is not an upgrade, once admitted, is 426 ([`upgrade_required`]).

use std::time::Duration;

use http::StatusCode;
use keygate_core::{Access, AuthError, AuthMethod, CredentialSources, Methods};

use crate::reply::{self, Reply};

/// The path.
pub const PATH: &str = "/api/realtime";

/// The scope a credential needs to connect.
pub const SCOPE: &str = "realtime:connect";

/// The subprotocol that marks a credential in `Sec-WebSocket-Protocol`, and the one the
/// server answers with.
pub const PROTOCOL: &str = "keygate";

/// How often an open socket re-checks its credential. With the key cache's 1 s bound, a
/// revocation on another instance closes the socket within about 2 s (contract: 5 s).
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The close code for a socket whose credential ended: 1008, policy violation.
pub const POLICY_VIOLATION: u16 = 1008;

/// Who may connect: an API key or a client token with [`SCOPE`] (and `x-client-secret`,
/// which opens every route). A user JWT is 403 `credential_not_accepted`.
pub fn access() -> Access {
    match Access::scoped(SCOPE) {
        Ok(access) => access.accept(Methods::from([AuthMethod::ApiKey, AuthMethod::ClientToken])),
        // A literal of valid syntax; a typo fails the test suite.
        Err(error) => unreachable!("the realtime scope {SCOPE:?} is invalid: {error}"),
    }
}

/// The platform's credential sources: the contract's headers, and a client token in
/// `Sec-WebSocket-Protocol` after [`PROTOCOL`] on upgrade requests.
pub fn credential_sources() -> CredentialSources {
    match CredentialSources::builder()
        .websocket_protocol(PROTOCOL)
        .build()
    {
        Ok(sources) => sources,
        // PROTOCOL is a valid marker; a typo fails the test suite.
        Err(error) => unreachable!("the platform's credential sources are invalid: {error}"),
    }
}

/// Whether a request asks for a WebSocket: `GET` with `Connection: upgrade` (one of its
/// entries) and `Upgrade: websocket`, both case-insensitive.
pub fn is_upgrade(method: &str, connection: Option<&str>, upgrade: Option<&str>) -> bool {
    let has = |value: Option<&str>, wanted: &str| {
        value.is_some_and(|value| {
            value
                .split(',')
                .any(|entry| entry.trim().eq_ignore_ascii_case(wanted))
        })
    };
    method == "GET" && has(connection, "upgrade") && has(upgrade, "websocket")
}

/// The subprotocol to answer with, given the client's `Sec-WebSocket-Protocol` values:
/// [`PROTOCOL`] when one of the offered entries is it, else none. Never anything else of
/// what was offered, so never the token.
pub fn answered_protocol<'a>(offered: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
    offered
        .into_iter()
        .flat_map(|value| value.split(','))
        .any(|entry| entry.trim() == PROTOCOL)
        .then_some(PROTOCOL)
}

/// The reason sent with the 1008 close: the code of why the credential ended
/// (`token_expired`, `key_revoked`, `key_expired`, …), never a secret.
pub fn close_reason(ended: &AuthError) -> &'static str {
    ended.code()
}

/// 426 for an admitted `GET /api/realtime` that is not a WebSocket upgrade.
pub fn upgrade_required() -> Reply {
    let mut reply = reply::problem(
        StatusCode::UPGRADE_REQUIRED,
        "upgrade_required",
        "Upgrade required",
        "this route is a WebSocket: send an upgrade request (Connection: upgrade, Upgrade: websocket)",
    );
    reply.headers_mut().insert(
        http::header::UPGRADE,
        http::HeaderValue::from_static("websocket"),
    );
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrades_are_recognised_case_insensitively() {
        assert!(is_upgrade(
            "GET",
            Some("keep-alive, Upgrade"),
            Some("WebSocket")
        ));
        assert!(!is_upgrade("POST", Some("upgrade"), Some("websocket")));
        assert!(!is_upgrade("GET", None, Some("websocket")));
        assert!(!is_upgrade("GET", Some("upgrade"), Some("h2c")));
    }

    #[test]
    fn the_answer_is_the_marker_never_the_token() {
        assert_eq!(answered_protocol(["keygate, ek_secret"]), Some("keygate"));
        assert_eq!(answered_protocol(["chat", "keygate"]), Some("keygate"));
        assert_eq!(answered_protocol(["ek_secret"]), None);
        assert_eq!(answered_protocol([]), None);
    }

    #[test]
    fn the_settings_build() {
        assert_eq!(credential_sources().websocket_protocol(), Some(PROTOCOL));
        assert!(!access().is_admin());
    }
}
