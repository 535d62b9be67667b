//! The headers that cross the proxy, and those that must not: hop-by-hop headers (RFC
//! 9110 §7.6.1) both ways; the caller's credentials, impersonation and forwarding claims
//! on the way up; the upstream's cookies and challenges on the way down.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use keygate_core::CredentialSources;

/// Hop-by-hop headers: they describe one connection, never the next one.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// What the caller authenticated to keygate with (under the contract's names; the
/// engine's configured sources go too, see [`upstream_request`]), and what the caller
/// could claim to the upstream under the proxy's key: it stays here. `X-On-Behalf-Of` would ask the upstream
/// to act as a user on the strength of the operator's key; `Forwarded` and `X-Forwarded-*`
/// are the caller's word, not the proxy's. `Host` names the proxy, not the upstream (the
/// client sets the upstream's).
const CALLER_ONLY: [HeaderName; 11] = [
    header::AUTHORIZATION,
    HeaderName::from_static("x-api-key"),
    HeaderName::from_static("x-client-secret"),
    header::COOKIE,
    header::HOST,
    HeaderName::from_static("x-on-behalf-of"),
    header::FORWARDED,
    HeaderName::from_static("x-forwarded-for"),
    HeaderName::from_static("x-forwarded-host"),
    HeaderName::from_static("x-forwarded-proto"),
    HeaderName::from_static("x-real-ip"),
];

/// What the upstream says to the holder of its key, not to the caller: cookies for the
/// upstream (which would land on the proxy's origin, and never go back up: the caller's
/// `Cookie` is not forwarded), and challenges for the upstream key (a caller would take
/// them for keygate's, about its own credential).
const UPSTREAM_ONLY: [HeaderName; 2] = [header::SET_COOKIE, header::WWW_AUTHENTICATE];

/// Removes the hop-by-hop headers, and every header the `Connection` header names.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
}

/// The upstream's answer headers as sent to the caller: without hop-by-hop headers, and
/// without the upstream's cookies and challenges.
pub(crate) fn downstream_response(headers: &mut HeaderMap) {
    strip_hop_by_hop(headers);
    for name in &UPSTREAM_ONLY {
        headers.remove(name);
    }
}

/// The caller's headers as sent upstream: without hop-by-hop headers, without every
/// credential `sources` read (configured headers, the credential cookie, the
/// subprotocol entry) and the contract's credential headers, cookies and `Host`, and with
/// `key` (already marked sensitive) as `Authorization` when there is one. The key goes in
/// last, so no header of the caller's (`Connection: authorization` included) can take it
/// out.
pub(crate) fn upstream_request(
    mut headers: HeaderMap,
    key: Option<&HeaderValue>,
    sources: &CredentialSources,
) -> HeaderMap {
    strip_hop_by_hop(&mut headers);
    sources.remove_from(&mut headers);
    for name in &CALLER_ONLY {
        headers.remove(name);
    }
    if let Some(key) = key {
        headers.insert(header::AUTHORIZATION, key.clone());
    }
    headers
}

/// `Bearer <key>` as a header value marked sensitive (HTTP/2 never indexes it, and
/// `Debug` of the header map shows `Sensitive`); `None` when the key cannot be a header.
pub(crate) fn bearer(key: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::try_from(format!("Bearer {key}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn hop_by_hop_and_named_headers_go() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, X-Private"),
            ("keep-alive", "timeout=5"),
            ("x-private", "1"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("proxy-authorization", "Basic eA=="),
            ("trailer", "x-sum"),
            ("x-kept", "yes"),
        ] {
            headers.append(name, value.parse().unwrap());
        }
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert_eq!(headers["x-kept"], "yes");
    }

    #[test]
    fn credentials_go_and_the_key_comes_last() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer ek_caller"),
            ("x-api-key", "sk_live_caller"),
            ("x-client-secret", "secret"),
            ("cookie", "session=1"),
            ("host", "proxy.example"),
            ("connection", "authorization"),
            ("accept", "application/json"),
        ] {
            headers.append(name, value.parse().unwrap());
        }
        let key = bearer("upstream-key").unwrap();
        let sent = upstream_request(headers, Some(&key), &CredentialSources::default());
        assert_eq!(sent.len(), 2, "{sent:?}");
        assert_eq!(sent["authorization"], "Bearer upstream-key");
        assert!(sent["authorization"].is_sensitive());
        assert!(!format!("{sent:?}").contains("upstream-key"));
        assert_eq!(sent["accept"], "application/json");
        assert!(bearer("line\nbreak").is_none());
    }
}
