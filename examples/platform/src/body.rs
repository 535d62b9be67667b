//! Request bodies: bounded in size, parsed as JSON into a typed request whose errors name
//! the field at fault.

use serde::de::DeserializeOwned;

use crate::reply::{self, Reply};

/// The largest request body the platform reads (64 KiB); larger ones get 413 before the
/// rest is read.
pub const BODY_LIMIT: usize = 64 * 1024;

/// `body` as a `T`; an empty body reads as `{}` when `empty_is_object` (for routes whose
/// every field is optional). A malformed body is 400 `invalid_request`, and the detail
/// names the field and the expected type, never a value the caller sent
/// ([`keygate_core::body::parse_json`]).
pub fn parse<T: DeserializeOwned>(body: &[u8], empty_is_object: bool) -> Result<T, Reply> {
    let body: &[u8] = if empty_is_object && body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    keygate_core::body::parse_json(body).map_err(|error| reply::invalid(error.to_string()))
}

/// Reads `body` whole, refusing more than [`BODY_LIMIT`] bytes (413) and a body the client
/// did not finish sending (400).
pub async fn read<B>(body: B) -> Result<bytes::Bytes, Reply>
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use http_body_util::BodyExt as _;
    match http_body_util::Limited::new(body, BODY_LIMIT)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(reply::too_large(BODY_LIMIT))
        }
        Err(_) => Err(reply::invalid("body: the request body could not be read")),
    }
}

/// Reads a stream of chunks whole (actix-web's payload), with the same limits as [`read`].
pub async fn read_stream<S, E>(stream: S) -> Result<bytes::Bytes, Reply>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>>,
{
    use futures_util::StreamExt as _;
    let mut stream = std::pin::pin!(stream);
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| reply::invalid("body: the request body could not be read"))?;
        if body.len().saturating_add(chunk.len()) > BODY_LIMIT {
            return Err(reply::too_large(BODY_LIMIT));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Example {
        name: String,
        count: Option<u32>,
    }

    fn detail(reply: Reply) -> String {
        let body: serde_json::Value = serde_json::from_str(reply.body()).unwrap_or_default();
        body["detail"].as_str().unwrap_or_default().to_owned()
    }

    #[test]
    fn errors_name_the_field() {
        let err = parse::<Example>(br#"{"name": "a", "count": -1}"#, false).unwrap_err();
        assert_eq!(err.status(), 400);
        let text = detail(err);
        assert!(text.contains("count: "), "{text}");
        let err = parse::<Example>(br#"{"count": 1}"#, false).unwrap_err();
        assert!(detail(err).ends_with("body: missing field `name`"));
        // A typo is named; a key-shaped unknown field is not repeated.
        let err = parse::<Example>(br#"{"name": "a", "nme": 1}"#, false).unwrap_err();
        assert_eq!(
            detail(err),
            "nme: unknown field, expected `name` or `count`"
        );
        let err = parse::<Example>(br#"{"name": "a", "sk_live_AbCd": 1}"#, false).unwrap_err();
        assert_eq!(
            detail(err),
            "body: unknown field, expected `name` or `count`"
        );
        let err = parse::<Example>(br#"{"name": "a", "count": "sk_test_x"}"#, false).unwrap_err();
        assert_eq!(detail(err), "count: invalid type, expected u32");
        let err = parse::<Example>(b"{", false).unwrap_err();
        let text = detail(err);
        assert!(text.ends_with("body: the body is not valid JSON"), "{text}");
        let err = parse::<Example>(br#"{"name": "a"} x"#, false).unwrap_err();
        assert!(detail(err).contains("trailing"));
        assert!(parse::<Example>(b"", false).is_err());
    }

    #[test]
    fn an_empty_body_may_mean_no_options() {
        #[derive(Debug, serde::Deserialize)]
        struct Options {
            #[allow(dead_code)]
            grace_seconds: Option<u64>,
        }
        assert!(parse::<Options>(b"", true).is_ok());
        assert!(parse::<Options>(b"  \n", true).is_ok());
    }
}
