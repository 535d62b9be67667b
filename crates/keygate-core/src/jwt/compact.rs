//! The shape of a compact JWS and its header, checked before any key is looked at.

use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::{Deserialize, Deserializer};

use crate::credentials::MAX_TOKEN_LEN;
use crate::error::AuthError;

/// The longest `kid` looked up.
const MAX_KID_LEN: usize = 256;

/// A token split into its three segments. Every segment is non-empty base64url without
/// padding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Compact<'a> {
    pub(crate) header: &'a str,
    pub(crate) payload: &'a str,
    pub(crate) signature: &'a str,
    /// `header.payload`: what the signature covers.
    pub(crate) signed: &'a str,
}

/// Splits `token`, refusing anything that is not a compact JWS of at most
/// [`MAX_TOKEN_LEN`] bytes: a five-segment JWE, an empty segment (as `alg: none` tokens
/// end), padding, or any character outside the base64url alphabet.
pub(crate) fn split(token: &str) -> Result<Compact<'_>, AuthError> {
    use crate::credentials::syntax::{BASE64URL, class};
    let bytes = token.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_TOKEN_LEN {
        return Err(AuthError::InvalidToken);
    }
    // One pass: every byte base64url or one of exactly two dots.
    let mut dots = [0usize; 2];
    let mut found = 0usize;
    for (at, &b) in bytes.iter().enumerate() {
        if class(b) & BASE64URL != 0 {
            continue;
        }
        if b != b'.' || found == 2 {
            return Err(AuthError::InvalidToken);
        }
        if let Some(slot) = dots.get_mut(found) {
            *slot = at;
        }
        found += 1;
    }
    let [first, second] = dots;
    // Non-empty segments: no dot first, last, or next to another.
    if found != 2 || first == 0 || second == first + 1 || second + 1 == bytes.len() {
        return Err(AuthError::InvalidToken);
    }
    let segment = |range: std::ops::Range<usize>| token.get(range).ok_or(AuthError::InvalidToken);
    Ok(Compact {
        header: segment(0..first)?,
        payload: segment(first + 1..second)?,
        signature: segment(second + 1..bytes.len())?,
        signed: segment(0..second)?,
    })
}

/// Decodes one base64url segment.
pub(crate) fn decode(segment: &str) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| AuthError::InvalidToken)
}

/// The header fields keygate acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) alg: Algorithm,
    pub(crate) kid: String,
}

/// The header as written. Parameters that would let the token choose its own key
/// (`jku`, `jwk`, `x5u`, `x5c`), change how it is processed (`crit`, `b64`, `cty`) or
/// make it a JWE (`enc`, `zip`) fail deserialization when present, whatever their value.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(rename = "crit", default, deserialize_with = "refuse")]
    _crit: (),
    #[serde(rename = "jku", default, deserialize_with = "refuse")]
    _jku: (),
    #[serde(rename = "jwk", default, deserialize_with = "refuse")]
    _jwk: (),
    #[serde(rename = "x5u", default, deserialize_with = "refuse")]
    _x5u: (),
    #[serde(rename = "x5c", default, deserialize_with = "refuse")]
    _x5c: (),
    #[serde(rename = "cty", default, deserialize_with = "refuse")]
    _cty: (),
    #[serde(rename = "b64", default, deserialize_with = "refuse")]
    _b64: (),
    #[serde(rename = "enc", default, deserialize_with = "refuse")]
    _enc: (),
    #[serde(rename = "zip", default, deserialize_with = "refuse")]
    _zip: (),
}

fn refuse<'de, D: Deserializer<'de>>(_: D) -> Result<(), D::Error> {
    Err(serde::de::Error::custom("header parameter not accepted"))
}

/// Parses the header segment: `alg` one of `allowed` (exact spelling, so `none`, `None`
/// and `HS256` never pass), a `kid` of 1 to 256 bytes, an acceptable `typ`, and none of
/// the refused parameters.
pub(crate) fn parse_header(segment: &str, allowed: &[Algorithm]) -> Result<Header, AuthError> {
    let bytes = decode(segment)?;
    let raw: RawHeader = serde_json::from_slice(&bytes).map_err(|_| AuthError::InvalidToken)?;
    let alg = Algorithm::from_str(&raw.alg).map_err(|_| AuthError::InvalidToken)?;
    if !allowed.contains(&alg) {
        return Err(AuthError::InvalidToken);
    }
    if let Some(typ) = &raw.typ
        && !is_accepted_typ(typ)
    {
        return Err(AuthError::InvalidToken);
    }
    let kid = raw.kid.ok_or(AuthError::InvalidToken)?;
    if kid.is_empty() || kid.len() > MAX_KID_LEN {
        return Err(AuthError::InvalidToken);
    }
    Ok(Header { alg, kid })
}

/// `JWT` (what Firebase and most providers write) or `at+jwt` (RFC 9068 access tokens),
/// in any case and with or without `application/`. Anything else is another kind of
/// token: keygate's own `kg+jwt`, a logout token, a security event...
fn is_accepted_typ(typ: &str) -> bool {
    let lower = typ.to_ascii_lowercase();
    let media = lower.strip_prefix("application/").unwrap_or(&lower);
    // Spelled out, though neither listed type could be it: keygate's own tokens are
    // never user JWTs.
    media != crate::token::KEYGATE_TYP && matches!(media, "jwt" | "at+jwt")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    const RS: &[Algorithm] = &[Algorithm::RS256];

    #[test]
    fn only_three_base64url_segments_pass() {
        assert!(split("a.b.c").is_ok());
        for bad in [
            "",
            "a.b",
            "a.b.",
            ".b.c",
            "a..c",
            "a.b.c.d.e",
            "a.b.c.",
            "a.b=.c",
            "a.b.c=",
            "a+.b.c",
            "a/.b.c",
            "a.b .c",
        ] {
            assert!(split(bad).is_err(), "{bad:?}");
        }
        let long = format!("a.b.{}", "c".repeat(MAX_TOKEN_LEN));
        assert!(split(&long).is_err());
        let parts = split("hh.pp.ss").unwrap();
        assert_eq!(parts.signed, "hh.pp");
    }

    #[test]
    fn header_needs_an_allowed_alg_in_its_exact_spelling() {
        let ok = header(r#"{"alg":"RS256","kid":"k","typ":"JWT"}"#);
        assert_eq!(
            parse_header(&ok, RS).unwrap(),
            Header {
                alg: Algorithm::RS256,
                kid: "k".into()
            }
        );
        for alg in [
            "none", "None", "NONE", "nOnE", "rs256", "HS256", "ES256", "",
        ] {
            let h = header(&format!(r#"{{"alg":"{alg}","kid":"k"}}"#));
            assert!(parse_header(&h, RS).is_err(), "{alg}");
        }
        assert!(parse_header(&header(r#"{"alg":["RS256"],"kid":"k"}"#), RS).is_err());
    }

    #[test]
    fn header_refuses_key_carrying_and_critical_parameters() {
        for extra in [
            r#""crit":["exp"]"#,
            r#""crit":null"#,
            r#""jku":"https://evil.example/jwks""#,
            r#""jwk":{"kty":"oct","k":"AAAA"}"#,
            r#""x5u":"https://evil.example/cert""#,
            r#""x5c":["MIIB"]"#,
            r#""cty":"JWT""#,
            r#""b64":false"#,
            r#""enc":"A256GCM""#,
            r#""zip":"DEF""#,
            r#""kid":"a","kid":"b""#,
        ] {
            let h = header(&format!(r#"{{"alg":"RS256","kid":"k",{extra}}}"#));
            assert!(parse_header(&h, RS).is_err(), "{extra}");
        }
    }

    #[test]
    fn header_typ_and_kid_rules() {
        for typ in [
            "JWT",
            "jwt",
            "application/jwt",
            "at+jwt",
            "application/at+JWT",
        ] {
            let h = header(&format!(r#"{{"alg":"RS256","kid":"k","typ":"{typ}"}}"#));
            assert!(parse_header(&h, RS).is_ok(), "{typ}");
        }
        assert!(!is_accepted_typ(crate::token::KEYGATE_TYP));
        for typ in ["kg+jwt", "KG+JWT", "logout+jwt", "secevent+jwt", ""] {
            let h = header(&format!(r#"{{"alg":"RS256","kid":"k","typ":"{typ}"}}"#));
            assert!(parse_header(&h, RS).is_err(), "{typ}");
        }
        assert!(parse_header(&header(r#"{"alg":"RS256"}"#), RS).is_err());
        assert!(parse_header(&header(r#"{"alg":"RS256","kid":""}"#), RS).is_err());
        assert!(parse_header(&header(r#"{"alg":"RS256","kid":7}"#), RS).is_err());
        let long = format!(r#"{{"alg":"RS256","kid":"{}"}}"#, "k".repeat(257));
        assert!(parse_header(&header(&long), RS).is_err());
        assert!(parse_header("%%%", RS).is_err());
        assert!(parse_header(&header("not json"), RS).is_err());
    }
}
