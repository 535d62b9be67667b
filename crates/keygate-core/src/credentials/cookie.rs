//! The cookie source: one named cookie of the strictly parsed `Cookie` headers, and the
//! `Origin` rule it comes with (browsers attach cookies to cross-site requests, so a
//! cookie alone does not show the request came from the application's pages).

use http::header::{self, HeaderMap, HeaderValue};

use super::MAX_TOKEN_LEN;
use super::head::{HeaderValues, RequestHead};
use super::syntax::{is_b64token, trim_ows};
use crate::error::AuthError;

/// Longest cookie name accepted at configuration.
const MAX_NAME_LEN: usize = 64;

/// Whether `name` may name the credential cookie: 1 to 64 of `A-Z a-z 0-9 - _` (RFC 6265
/// token characters, `__Host-` prefixes included).
pub(super) fn is_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `origin` is written as browsers serialize an origin: `scheme://host[:port]`
/// in lower case, no path, no trailing slash, no default port.
pub(super) fn is_origin(origin: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-".contains(&b));
    let (host_ok, port) = match authority.strip_prefix('[') {
        // An IPv6 literal: `[…]`, then perhaps `:port`.
        Some(v6) => {
            let Some((address, rest)) = v6.split_once(']') else {
                return false;
            };
            let port = match rest {
                "" => None,
                _ => match rest.strip_prefix(':') {
                    Some(port) => Some(port),
                    None => return false,
                },
            };
            (is_v6(address), port)
        }
        None => {
            let (host, port) = match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            let host_ok = !host.is_empty()
                && host.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'
                });
            (host_ok, port)
        }
    };
    let port_ok = match port {
        None => true,
        Some(port) => {
            let default = matches!((scheme, port), ("https", "443") | ("http", "80"));
            !default
                && !port.starts_with('0')
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|port| port > 0)
        }
    };
    scheme_ok && host_ok && port_ok
}

fn is_v6(address: &str) -> bool {
    !address.is_empty()
        && address
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b':' || b == b'.')
}

/// The value of the cookie `name`, read like a bearer value. Several `Cookie` headers are
/// one list, as if joined by `"; "` (HTTP/2 clients may send one per cookie, RFC 9113
/// §8.2.3); the cookie once in all of them; its value 1 to [`MAX_TOKEN_LEN`] `b64token`
/// characters (optionally in double quotes). Other cookies are not looked at beyond
/// their names.
pub(super) fn read<'a, H: RequestHead + ?Sized>(
    head: &'a H,
    name: &str,
) -> Result<Option<&'a str>, AuthError> {
    let mut found = None;
    let mut twice = false;
    head.each_header_value(&header::COOKIE, &mut |line| {
        for (pair_name, value) in pairs(line) {
            if pair_name != name.as_bytes() {
                continue;
            }
            twice |= found.is_some();
            found = Some(value);
        }
    });
    if twice {
        return Err(AuthError::invalid_request(
            "the credential cookie appears more than once; send it once",
        ));
    }
    let Some(value) = found else {
        return Ok(None);
    };
    let value = value
        .strip_prefix(b"\"")
        .and_then(|inner| inner.strip_suffix(b"\""))
        .unwrap_or(value);
    match std::str::from_utf8(value) {
        Ok(text) if text.len() <= MAX_TOKEN_LEN && is_b64token(text) => Ok(Some(text)),
        _ => Err(AuthError::invalid_request(format!(
            "the credential cookie must be 1 to {MAX_TOKEN_LEN} characters of A-Z a-z 0-9 - . _ ~ + / with = only as padding"
        ))),
    }
}

/// The `name=value` pairs of a `Cookie` header, trimmed; pieces without `=` are skipped.
fn pairs(header: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    header.split(|&b| b == b';').filter_map(|pair| {
        let at = pair.iter().position(|&b| b == b'=')?;
        let (name, value) = pair.split_at(at);
        Some((trim_ows(name), trim_ows(value.get(1..).unwrap_or_default())))
    })
}

/// The `Origin` rule of a cookie credential: exactly one `Origin` header, equal to one
/// of `origins`. Anything else, no `Origin` included, is 403 `origin_forbidden`.
pub(super) fn check_origin<H: RequestHead + ?Sized>(
    head: &H,
    origins: &[Box<str>],
) -> Result<(), AuthError> {
    match head.header(&header::ORIGIN) {
        HeaderValues::One(origin) if origins.iter().any(|allowed| allowed.as_bytes() == origin) => {
            Ok(())
        }
        _ => Err(AuthError::OriginForbidden),
    }
}

/// Removes the cookie `name` from every `Cookie` header of `headers`, keeping the other
/// cookies; a header left empty goes.
pub(super) fn remove(headers: &mut HeaderMap, name: &str) {
    let mut kept = Vec::new();
    let mut changed = false;
    for value in headers.get_all(header::COOKIE) {
        let mut rest: Vec<&[u8]> = Vec::new();
        for piece in value.as_bytes().split(|&b| b == b';') {
            let piece = trim_ows(piece);
            let named = piece
                .split(|&b| b == b'=')
                .next()
                .is_some_and(|piece_name| trim_ows(piece_name) == name.as_bytes());
            if named && piece.contains(&b'=') {
                changed = true;
            } else if !piece.is_empty() {
                rest.push(piece);
            }
        }
        kept.push(rest.join(&b"; "[..]));
    }
    if !changed {
        return;
    }
    headers.remove(header::COOKIE);
    for value in kept {
        if let Ok(value) = HeaderValue::from_bytes(&value)
            && !value.is_empty()
        {
            headers.append(header::COOKIE, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_written_as_browsers_send_them() {
        for good in [
            "https://app.example.com",
            "http://localhost:3000",
            "http://127.0.0.1:8080",
            "https://[::1]:8443",
            "https://[::1]",
            "capacitor://localhost",
        ] {
            assert!(is_origin(good), "{good}");
        }
        for bad in [
            "",
            "null",
            "app.example.com",
            "https://",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://App.example.com",
            "HTTPS://app.example.com",
            "https://app.example.com:443",
            "http://app.example.com:80",
            "https://app.example.com:0",
            "https://app.example.com:99999",
            "https://app.example.com:",
            "https://user@app.example.com",
            "https://[::1]x",
            "https://*.example.com",
        ] {
            assert!(!is_origin(bad), "{bad}");
        }
    }

    #[test]
    fn removing_the_cookie_keeps_the_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; kg=secret;b=2 ; kg2=x"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("kg=again"));
        remove(&mut headers, "kg");
        let left: Vec<_> = headers.get_all(header::COOKIE).iter().collect();
        assert_eq!(left, ["a=1; b=2; kg2=x"]);

        let mut untouched = HeaderMap::new();
        untouched.append(header::COOKIE, HeaderValue::from_static("a=1;b=2"));
        remove(&mut untouched, "kg");
        assert_eq!(untouched[header::COOKIE], "a=1;b=2");
    }
}
