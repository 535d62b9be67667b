//! Redirect URIs: what may be registered, and how a presented one is compared (exactly,
//! byte for byte, as RFC 9700 §4.1.3 asks: no prefix, no normalisation, no port or case
//! leniency). Pure, so it is fuzzed.

/// Longest redirect URI accepted, in bytes.
pub const MAX_REDIRECT_URI_LEN: usize = 2048;

/// Why a redirect URI cannot be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectUriError {
    /// Empty, longer than [`MAX_REDIRECT_URI_LEN`], or with spaces or non-ASCII bytes.
    #[error(
        "a redirect URI is 1 to {MAX_REDIRECT_URI_LEN} visible ASCII characters (percent-encode the rest)"
    )]
    Text,
    /// It has a fragment (`#…`), which RFC 6749 §3.1.2 forbids.
    #[error("a redirect URI must not have a fragment (#...)")]
    Fragment,
    /// Neither `https://host…`, `http://` on a loopback host, nor a private-use scheme.
    #[error(
        "a redirect URI is https://host/..., http://localhost, 127.0.0.1 or [::1] (with any path), \
         or a reverse-domain private-use scheme such as com.example.app:/callback"
    )]
    Scheme,
}

/// Checks that `uri` may be registered: visible ASCII, no fragment, and `https`, `http` on
/// a loopback host, or a reverse-domain private-use scheme (RFC 8252 §7.1).
///
/// ```
/// use keygate_oauth::client::redirect::validate_redirect_uri;
///
/// assert!(validate_redirect_uri("https://app.example/callback").is_ok());
/// assert!(validate_redirect_uri("http://127.0.0.1:8123/cb").is_ok());
/// assert!(validate_redirect_uri("http://app.example/callback").is_err());
/// assert!(validate_redirect_uri("https://app.example/cb#top").is_err());
/// ```
pub fn validate_redirect_uri(uri: &str) -> Result<(), RedirectUriError> {
    if uri.is_empty()
        || uri.len() > MAX_REDIRECT_URI_LEN
        || !uri.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(RedirectUriError::Text);
    }
    if uri.contains('#') {
        return Err(RedirectUriError::Fragment);
    }
    let (scheme, rest) = uri.split_once(':').ok_or(RedirectUriError::Scheme)?;
    let scheme_ok = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
        && scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase());
    if !scheme_ok {
        return Err(RedirectUriError::Scheme);
    }
    match scheme {
        "https" => {
            let host = authority_host(rest).ok_or(RedirectUriError::Scheme)?;
            if host.is_empty() {
                return Err(RedirectUriError::Scheme);
            }
            Ok(())
        }
        "http" => {
            let host = authority_host(rest).ok_or(RedirectUriError::Scheme)?;
            if matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
                Ok(())
            } else {
                Err(RedirectUriError::Scheme)
            }
        }
        // A private-use scheme names a domain the app's maker controls, reversed.
        private if private.contains('.') && !rest.is_empty() => Ok(()),
        _ => Err(RedirectUriError::Scheme),
    }
}

/// The host of `//host[:port]/…`, with userinfo refused.
fn authority_host(rest: &str) -> Option<&str> {
    let authority = rest.strip_prefix("//")?;
    let end = authority.find(['/', '?']).unwrap_or(authority.len());
    let authority = authority.get(..end)?;
    if authority.contains('@') {
        return None;
    }
    let host = if authority.starts_with('[') {
        let close = authority.find(']')?;
        authority.get(..=close)?
    } else {
        authority.split(':').next()?
    };
    let port = authority.get(host.len()..)?;
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| {
            !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
        });
    port_ok.then_some(host)
}

/// Whether `presented` is exactly `registered`: the same bytes, nothing else. Another
/// path, query, trailing slash, port, scheme or letter case is a mismatch.
///
/// ```
/// use keygate_oauth::client::redirect::redirect_uri_matches;
///
/// let registered = "https://app.example/callback";
/// assert!(redirect_uri_matches(registered, "https://app.example/callback"));
/// assert!(!redirect_uri_matches(registered, "https://app.example/callback/"));
/// assert!(!redirect_uri_matches(registered, "https://APP.example/callback"));
/// ```
pub fn redirect_uri_matches(registered: &str, presented: &str) -> bool {
    registered.as_bytes() == presented.as_bytes()
}

/// `uri` with `params` appended to its query (`?` or `&`), each form-encoded.
///
/// ```
/// use keygate_oauth::client::redirect::with_query;
///
/// assert_eq!(
///     with_query("https://app.example/cb?tab=1", &[("code", "x y"), ("state", "a&b")]),
///     "https://app.example/cb?tab=1&code=x+y&state=a%26b"
/// );
/// ```
pub fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(uri.len() + 128);
    out.push_str(uri);
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        serializer.append_pair(name, value);
    }
    let query = serializer.finish();
    if !query.is_empty() {
        out.push(if uri.contains('?') { '&' } else { '?' });
        out.push_str(&query);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_accepts_https_loopback_and_private_use_schemes() {
        for uri in [
            "https://app.example/callback",
            "https://app.example:8443/cb?tab=1",
            "http://localhost/cb",
            "http://127.0.0.1:9000/cb",
            "http://[::1]:9000/cb",
            "com.example.app:/oauth",
        ] {
            assert_eq!(validate_redirect_uri(uri), Ok(()), "{uri}");
        }
        for (uri, error) in [
            ("", RedirectUriError::Text),
            ("https://app.example/a b", RedirectUriError::Text),
            ("https://app.example/cb#x", RedirectUriError::Fragment),
            ("http://app.example/cb", RedirectUriError::Scheme),
            ("http://localhost.evil.example/cb", RedirectUriError::Scheme),
            ("https://user@app.example/cb", RedirectUriError::Scheme),
            ("https:///cb", RedirectUriError::Scheme),
            ("https://app.example:x/cb", RedirectUriError::Scheme),
            ("javascript:alert(1)", RedirectUriError::Scheme),
            ("Https://app.example/cb", RedirectUriError::Scheme),
            ("/relative", RedirectUriError::Scheme),
        ] {
            assert_eq!(validate_redirect_uri(uri), Err(error), "{uri}");
        }
        let long = format!("https://app.example/{}", "a".repeat(MAX_REDIRECT_URI_LEN));
        assert_eq!(validate_redirect_uri(&long), Err(RedirectUriError::Text));
    }

    #[test]
    fn only_the_exact_uri_matches() {
        let registered = "https://app.example/callback";
        assert!(redirect_uri_matches(registered, registered));
        for other in [
            "https://app.example/callback/extra",
            "https://app.example/callback?x=1",
            "https://app.example/callback/",
            "https://app.example:444/callback",
            "http://app.example/callback",
            "https://app.example/Callback",
            "https://App.example/callback",
            "https://app.example/callbac",
            "https://app.example/call%62ack",
        ] {
            assert!(!redirect_uri_matches(registered, other), "{other}");
        }
    }
}
