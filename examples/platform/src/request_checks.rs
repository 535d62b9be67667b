//! Checks on the shape of a request, before routing, the same on the three binaries:
//! what actix-web's HTTP parser already refuses and hyper's lets through (no `Host`, two
//! `Host`s, `Content-Length` with `Transfer-Encoding`, raw non-ASCII bytes in the path),
//! and a request target longer than [`MAX_TARGET`]. Each is refused with a problem
//! document; what the parsers refuse before the platform sees a request is in
//! `docs/adapters.md`.

use http::{HeaderValue, StatusCode, header};

use crate::reply::{Reply, problem};

/// The longest request target (path and query) the platform takes, in bytes: well below
/// both parsers' own limit (about 64 KiB), so every binary answers a long one alike, 414
/// `uri_too_long`.
pub const MAX_TARGET: usize = 8 * 1024;

/// What the checks read of a request.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    /// Whether it is HTTP/1.1 (HTTP/1.0 may omit `Host`; HTTP/2 carries `:authority`).
    pub http11: bool,
    /// How many `Host` header lines it carries.
    pub hosts: usize,
    /// Whether it carries both `Content-Length` and `Transfer-Encoding`.
    pub framed_twice: bool,
    /// The path, as sent.
    pub path: &'a str,
    /// The query, as sent.
    pub query: Option<&'a str>,
}

/// The answer to a request of this shape, when it is refused before routing.
pub fn refuse(shape: &Shape<'_>) -> Option<Reply> {
    let invalid = |detail: &str| {
        problem(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid request",
            detail,
        )
    };
    if shape.http11 && shape.hosts != 1 {
        return Some(invalid(
            "send exactly one Host header: HTTP/1.1 requires it (RFC 9112, section 3.2)",
        ));
    }
    if shape.framed_twice {
        // A request framed two ways can be read two ways by two servers (request
        // smuggling): refuse it and close the connection (RFC 9112, section 6.3).
        let mut reply =
            invalid("send Content-Length or Transfer-Encoding, not both (RFC 9112, section 6.3)");
        reply
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return Some(reply);
    }
    if !shape.path.is_ascii() {
        return Some(invalid(
            "percent-encode every byte outside ASCII in the path (RFC 3986, section 2.1)",
        ));
    }
    let target = shape.path.len() + shape.query.map_or(0, |query| query.len() + 1);
    if target > MAX_TARGET {
        return Some(problem(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            "URI too long",
            "the request target (path and query) is over 8192 bytes: send large input in the body",
        ));
    }
    None
}

/// The shape of an `http` request (axum, tower).
pub fn shape_of<B>(request: &http::Request<B>) -> Shape<'_> {
    let headers = request.headers();
    Shape {
        http11: request.version() == http::Version::HTTP_11,
        hosts: headers.get_all(header::HOST).iter().count(),
        framed_twice: headers.contains_key(header::CONTENT_LENGTH)
            && headers.contains_key(header::TRANSFER_ENCODING),
        path: request.uri().path(),
        query: request.uri().query(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn shape(path: &str) -> Shape<'_> {
        Shape {
            http11: true,
            hosts: 1,
            framed_twice: false,
            path,
            query: None,
        }
    }

    fn code(reply: Option<Reply>) -> Option<(u16, String)> {
        reply.map(|reply| {
            let body: serde_json::Value = serde_json::from_str(reply.body()).unwrap();
            (
                reply.status().as_u16(),
                body["code"].as_str().unwrap().to_owned(),
            )
        })
    }

    #[test]
    fn odd_shapes_are_refused_and_ordinary_ones_pass() {
        assert_eq!(code(refuse(&shape("/healthz"))), None);
        let bad = |s: Shape<'_>| code(refuse(&s));
        assert_eq!(
            bad(Shape {
                hosts: 0,
                ..shape("/")
            }),
            Some((400, "invalid_request".into()))
        );
        assert_eq!(
            bad(Shape {
                hosts: 2,
                ..shape("/")
            }),
            Some((400, "invalid_request".into()))
        );
        assert_eq!(
            bad(Shape {
                hosts: 0,
                http11: false,
                ..shape("/")
            }),
            None,
            "HTTP/1.0"
        );
        let twice = refuse(&Shape {
            framed_twice: true,
            ..shape("/")
        })
        .unwrap();
        assert_eq!(twice.headers()["connection"], "close");
        assert_eq!(
            bad(shape("/caf\u{e9}")),
            Some((400, "invalid_request".into()))
        );
        let long = "a".repeat(MAX_TARGET);
        assert_eq!(bad(shape(&long)), None);
        let query = Shape {
            query: Some("q"),
            ..shape(&long)
        };
        assert_eq!(bad(query), Some((414, "uri_too_long".into())));
    }
}
