//! The WebSocket subprotocol source. Browsers cannot set headers on a WebSocket
//! handshake, but they can offer subprotocols: `new WebSocket(url, ["keygate", token])`
//! sends `Sec-WebSocket-Protocol: keygate, <token>`. Each offered subprotocol must be an
//! RFC 7230 token, and keygate's tokens, `ek_` client tokens, API keys and JWTs
//! (base64url, `.` and `_`) all are. The credential is the entry right after the
//! configured marker, read only on an upgrade request; the server answers with the
//! marker as its subprotocol, never with the token.

use http::header::{self, HeaderMap, HeaderValue};

use super::MAX_TOKEN_LEN;
use super::head::{HeaderValues, RequestHead};
use super::syntax::trim_ows;
use crate::error::AuthError;

/// Longest marker accepted at configuration.
const MAX_MARKER_LEN: usize = 64;

/// Whether `marker` may mark the credential: 1 to 64 of `A-Z a-z 0-9 - . _`.
pub(super) fn is_marker(marker: &str) -> bool {
    (1..=MAX_MARKER_LEN).contains(&marker.len())
        && marker
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// Whether `head` asks for a WebSocket: `GET` with `Connection` listing `upgrade` and
/// `Upgrade` listing `websocket` (both case-insensitive, each header sent once).
pub(super) fn is_upgrade<H: RequestHead + ?Sized>(head: &H) -> bool {
    let lists = |name, token: &[u8]| match head.header(name) {
        HeaderValues::One(value) => value
            .split(|&b| b == b',')
            .any(|entry| trim_ows(entry).eq_ignore_ascii_case(token)),
        HeaderValues::Absent | HeaderValues::Many => false,
    };
    head.method() == "GET"
        && lists(&header::CONNECTION, b"upgrade")
        && lists(&header::UPGRADE, b"websocket")
}

/// Characters of a credential entry: `b64token` characters that are also RFC 7230
/// `tchar`s (so no `/` and no `=` padding; base64url needs neither).
fn is_entry_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+')
}

/// The entry after `marker` in `Sec-WebSocket-Protocol`, on an upgrade request. The
/// header once; the marker once and followed by a credential of 1 to [`MAX_TOKEN_LEN`]
/// token characters. Without the marker, the header is not keygate's: `None`.
pub(super) fn read<'a, H: RequestHead + ?Sized>(
    head: &'a H,
    marker: &str,
) -> Result<Option<&'a str>, AuthError> {
    let value = match head.header(&header::SEC_WEBSOCKET_PROTOCOL) {
        HeaderValues::Absent => return Ok(None),
        HeaderValues::Many => {
            return Err(AuthError::invalid_request(
                "the Sec-WebSocket-Protocol header appears more than once; send the subprotocols in one header",
            ));
        }
        HeaderValues::One(value) => value,
    };
    let mut entries = value.split(|&b| b == b',').map(trim_ows);
    let mut found = None;
    while let Some(entry) = entries.next() {
        if entry != marker.as_bytes() {
            continue;
        }
        if found.is_some() {
            return Err(AuthError::invalid_request(
                "the credential subprotocol marker appears more than once in Sec-WebSocket-Protocol; offer it once",
            ));
        }
        found = Some(entries.next().unwrap_or_default());
    }
    let Some(credential) = found else {
        return Ok(None);
    };
    let well_formed = !credential.is_empty()
        && credential.len() <= MAX_TOKEN_LEN
        && credential.iter().all(|&b| is_entry_char(b));
    match std::str::from_utf8(credential) {
        Ok(text) if well_formed => Ok(Some(text)),
        _ => Err(AuthError::invalid_request(format!(
            "the credential subprotocol marker must be followed by one entry of 1 to {MAX_TOKEN_LEN} characters of A-Z a-z 0-9 - . _ ~ +"
        ))),
    }
}

/// Removes the marker and the entry after it from every `Sec-WebSocket-Protocol` header
/// of `headers`, keeping the other subprotocols; a header left empty goes.
pub(super) fn remove(headers: &mut HeaderMap, marker: &str) {
    let mut kept = Vec::new();
    let mut changed = false;
    for value in headers.get_all(header::SEC_WEBSOCKET_PROTOCOL) {
        let mut entries = value.as_bytes().split(|&b| b == b',').map(trim_ows);
        let mut rest: Vec<&[u8]> = Vec::new();
        while let Some(entry) = entries.next() {
            if entry == marker.as_bytes() {
                changed = true;
                entries.next();
            } else if !entry.is_empty() {
                rest.push(entry);
            }
        }
        kept.push(rest.join(&b", "[..]));
    }
    if !changed {
        return;
    }
    headers.remove(header::SEC_WEBSOCKET_PROTOCOL);
    for value in kept {
        if let Ok(value) = HeaderValue::from_bytes(&value)
            && !value.is_empty()
        {
            headers.append(header::SEC_WEBSOCKET_PROTOCOL, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_the_entry_keeps_other_subprotocols() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("graphql-ws, keygate, ek_a.b.c, chat"),
        );
        remove(&mut headers, "keygate");
        assert_eq!(headers[header::SEC_WEBSOCKET_PROTOCOL], "graphql-ws, chat");

        let mut only = HeaderMap::new();
        only.append(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("keygate, ek_a.b.c"),
        );
        remove(&mut only, "keygate");
        assert!(only.get(header::SEC_WEBSOCKET_PROTOCOL).is_none());
    }

    #[test]
    fn markers_are_tokens() {
        assert!(is_marker("keygate"));
        assert!(is_marker("kg.v1-auth_x"));
        for bad in ["", "a b", "a,b", "a/b", "a=b", &"a".repeat(65)] {
            assert!(!is_marker(bad), "{bad}");
        }
    }
}
