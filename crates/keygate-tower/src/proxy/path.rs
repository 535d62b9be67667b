//! Where a request goes upstream: the configured base URL joined with the request's path
//! below the proxy's prefix, the query kept, and no way out of the base path.

/// A checked upstream base URL.
#[derive(Debug, Clone)]
pub(crate) struct Upstream {
    /// `scheme://authority/base/path`, without a trailing slash.
    base: String,
    /// `scheme://authority`, for logs.
    origin: String,
}

/// Why a request path cannot be forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathRefusal {
    /// The path is not below the proxy's prefix (404).
    NotBelowPrefix,
    /// The path holds a byte outside the allowed set, or a segment that a lenient
    /// upstream could read as a climb (see [`check_path`]) (400).
    Traversal,
}

/// Whether `path` (the part below the proxy's prefix, as the request sent it, percent
/// escapes and all) may go upstream verbatim: an allow-list, so that no upstream, however
/// leniently it decodes, can read a climb out of its base path into it.
///
/// - **Raw bytes**: letters, digits, `-._~`, `!$&'()*+,=:@` and `/` (RFC 3986's `pchar`
///   without `;`: Tomcat and others drop `;` parameters, so `..;x` reads as `..`).
///   Nothing else: no `\`, no `%` that does not start an escape, no raw non-ASCII, no
///   control byte.
/// - **Escapes** `%XX` (two hex digits): any printable ASCII byte except `.` (`%2E`),
///   `/` (`%2F`), `\` (`%5C`), `%` (`%25`: decoded again, `%252e` is `%2e`) and `;`
///   (`%3B`); no control byte (`%00`, `%0A`, ...); bytes from 0x80 only as well-formed
///   UTF-8 (so not the overlong `%C0%AE`), and not a character that Unicode
///   normalisation turns into a dot or a slash (`%EF%BC%8E`, fullwidth `.`). So `%u002e`
///   (IIS) and `%%32%65` (decoded twice) are refused: they are not escapes.
/// - **Segments** made only of dots and spaces (`.`, `..`, `...`, `.. `, `%20..`) are
///   refused: Windows servers trim trailing dots and spaces.
///
/// Pure and allocation-free: a fuzz target can call it with any string.
///
/// ```
/// use keygate_tower::proxy::check_path;
///
/// for ok in ["/v1/items/abc-1_2.json", "/a%20b/c.d/..e", "/caf%C3%A9", "/x:y@z,w=1", ""] {
///     assert!(check_path(ok).is_ok(), "{ok}");
/// }
/// for climb in ["/../admin", "/..%3b/admin", "/..%00/admin", "/.%00./x", "/%%32%65%%32%65/x",
///               "/%u002e%u002e/x", "/%2e%2e/x", "/..;/x", "/a\\..", "/%c0%ae%c0%ae/x"] {
///     assert!(check_path(climb).is_err(), "{climb}");
/// }
/// ```
pub fn check_path(path: &str) -> Result<(), PathRefusal> {
    path.as_bytes()
        .split(|byte| *byte == b'/')
        .try_for_each(check_segment)
}

/// Raw bytes a segment may hold: `pchar` (RFC 3986) without `;`, and without `%`, which
/// the escape reader takes.
fn is_plain(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b'='
                | b':'
                | b'@'
        )
}

/// Characters that Unicode compatibility normalisation (NFKC) maps to `.`, `/` or `\\`.
const LOOKALIKES: [char; 9] = [
    '\u{2024}', // one dot leader
    '\u{FE52}', // small full stop
    '\u{FF0E}', // fullwidth full stop
    '\u{2044}', // fraction slash
    '\u{2215}', // division slash
    '\u{FF0F}', // fullwidth solidus
    '\u{FE68}', // small reverse solidus
    '\u{FF3C}', // fullwidth reverse solidus
    '\u{2216}', // set minus
];

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

fn check_segment(segment: &[u8]) -> Result<(), PathRefusal> {
    // Whether the segment is only dots and (encoded) spaces, with at least one dot.
    let mut only_dots = true;
    let mut dots = false;
    // A run of escaped bytes from 0x80, checked as UTF-8 when it ends: at most one
    // character's worth at a time.
    let mut run = [0u8; 4];
    let mut run_len = 0usize;
    let mut rest = segment;
    while let Some((&byte, after)) = rest.split_first() {
        if byte == b'%' {
            let decoded = match after {
                [high, low, ..] => match (hex(*high), hex(*low)) {
                    (Some(high), Some(low)) => (high << 4) | low,
                    _ => return Err(PathRefusal::Traversal),
                },
                _ => return Err(PathRefusal::Traversal),
            };
            rest = after.get(2..).unwrap_or_default();
            if decoded >= 0x80 {
                *run.get_mut(run_len).ok_or(PathRefusal::Traversal)? = decoded;
                run_len += 1;
                match std::str::from_utf8(run.get(..run_len).unwrap_or_default()) {
                    Ok(text) => {
                        if text.chars().any(|c| LOOKALIKES.contains(&c)) {
                            return Err(PathRefusal::Traversal);
                        }
                        run_len = 0;
                    }
                    // Not yet a whole character: wait for the next escape (a run that
                    // can never be UTF-8 fails below or on its fifth byte).
                    Err(error) if error.error_len().is_none() => {}
                    Err(_) => return Err(PathRefusal::Traversal),
                }
                only_dots = false;
                continue;
            }
            if run_len > 0
                || decoded < 0x20
                || matches!(decoded, 0x7f | b'.' | b'/' | b'\\' | b'%' | b';')
            {
                return Err(PathRefusal::Traversal);
            }
            only_dots &= decoded == b' ';
            continue;
        }
        if run_len > 0 || !is_plain(byte) {
            return Err(PathRefusal::Traversal);
        }
        dots |= byte == b'.';
        only_dots &= byte == b'.';
        rest = after;
    }
    if run_len > 0 || (only_dots && dots) {
        return Err(PathRefusal::Traversal);
    }
    Ok(())
}

impl Upstream {
    /// Checks `url`: an absolute `http://` or `https://` URL with a host, and without
    /// credentials, query or fragment. The error says what to change.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        const EXAMPLE: &str = "such as https://api.example.com/v1";
        let parsed = reqwest::Url::parse(url)
            .map_err(|error| format!("the upstream URL is not a URL ({error}): {EXAMPLE}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "the upstream URL must start with http:// or https://, {EXAMPLE}"
            ));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(format!("the upstream URL needs a host, {EXAMPLE}"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(
                "the upstream URL must not carry credentials: give the key as the upstream key"
                    .to_owned(),
            );
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(format!(
                "the upstream URL must not have a query or fragment, {EXAMPLE}"
            ));
        }
        let base = parsed.as_str().trim_end_matches('/').to_owned();
        let origin = parsed.origin().ascii_serialization();
        Ok(Self { base, origin })
    }

    /// `scheme://authority`, safe to log.
    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }

    /// The upstream URL for a request to `path?query` through a proxy mounted at
    /// `prefix`: `/prefix/a/b?q` → `BASE/a/b?q`, `/prefix` → `BASE`.
    pub(crate) fn target(
        &self,
        prefix: &str,
        path: &str,
        query: Option<&str>,
    ) -> Result<reqwest::Url, PathRefusal> {
        let rest = path
            .strip_prefix(prefix)
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .ok_or(PathRefusal::NotBelowPrefix)?;
        check_path(rest)?;
        let mut url = String::with_capacity(self.base.len() + rest.len() + 1);
        url.push_str(&self.base);
        url.push_str(rest);
        if let Some(query) = query {
            url.push('?');
            url.push_str(query);
        }
        let url = reqwest::Url::parse(&url).map_err(|_| PathRefusal::Traversal)?;
        // Defence in depth: whatever the URL parser made of the path, it stays below the
        // base.
        let below = url
            .as_str()
            .strip_prefix(self.base.as_str())
            .is_some_and(|after| {
                after.is_empty() || after.starts_with('/') || after.starts_with('?')
            });
        if below {
            Ok(url)
        } else {
            Err(PathRefusal::Traversal)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn upstream() -> Upstream {
        Upstream::parse("https://api.example.com/v2/").unwrap()
    }

    #[test]
    fn paths_join_below_the_base_with_the_query() {
        let up = upstream();
        let at = |path: &str, query: Option<&str>| {
            up.target("/api/proxy", path, query)
                .map(|url| url.to_string())
        };
        assert_eq!(
            at("/api/proxy/things/1", Some("a=1&b=%20")).unwrap(),
            "https://api.example.com/v2/things/1?a=1&b=%20"
        );
        assert_eq!(
            at("/api/proxy", None).unwrap(),
            "https://api.example.com/v2"
        );
        assert_eq!(
            at("/api/proxy/", None).unwrap(),
            "https://api.example.com/v2/"
        );
        assert_eq!(
            at("/api/proxy/a%20b/c.d/..e", None).unwrap(),
            "https://api.example.com/v2/a%20b/c.d/..e"
        );
        for ordinary in [
            "/api/proxy/v1/items/abc-1_2.json",
            "/api/proxy/files/my%20report%20(final).pdf",
            "/api/proxy/caf%C3%A9/%E2%82%AC/%F0%9F%98%80",
            "/api/proxy/users/u:123@example.com",
            "/api/proxy/a,b=c&d+e!$'*~",
            "/api/proxy/.well-known/x",
            "/api/proxy/v1.2/..hidden/a..b/x",
            "/api/proxy/a//b",
            "/api/proxy/%41%7e%20%3a",
        ] {
            assert!(at(ordinary, None).is_ok(), "{ordinary}");
        }
        assert_eq!(at("/api/proxyx", None), Err(PathRefusal::NotBelowPrefix));
        assert_eq!(at("/elsewhere", None), Err(PathRefusal::NotBelowPrefix));
    }

    #[test]
    fn nothing_climbs_out_of_the_base() {
        let up = upstream();
        for path in [
            "/api/proxy/..",
            "/api/proxy/../admin",
            "/api/proxy/a/../../admin",
            "/api/proxy/./a",
            "/api/proxy/%2e%2e/admin",
            "/api/proxy/%2E./admin",
            "/api/proxy/.%2e/admin",
            "/api/proxy/a%2f..%2f..%2fadmin",
            "/api/proxy/a%2F..",
            "/api/proxy/a%5c..",
            "/api/proxy/a\\..",
            "/api/proxy/..;/admin",
            "/api/proxy/..;jsessionid=x/admin",
            "/api/proxy/%252e%252e/admin",
            "/api/proxy/a%252f..",
            "/api/proxy/%c0%ae%c0%ae/admin",
            "/api/proxy/a%c0%afadmin",
            // What an independent attack found slipping through the old deny-list.
            "/api/proxy/..%3b/admin",
            "/api/proxy/..%00/admin",
            "/api/proxy/.%00./admin",
            "/api/proxy/%%32%65%%32%65/admin",
            "/api/proxy/%u002e%u002e/admin",
            // Windows trims trailing dots and spaces; Unicode look-alikes normalise.
            "/api/proxy/.../admin",
            "/api/proxy/..%20/admin",
            "/api/proxy/%20../admin",
            "/api/proxy/%ef%bc%8e%ef%bc%8e/admin",
            "/api/proxy/a%ef%bc%8fadmin",
            // Controls, raw non-ASCII, stray or short escapes, a truncated UTF-8 run.
            "/api/proxy/a%0a",
            "/api/proxy/a%7f",
            "/api/proxy/a\u{e9}",
            "/api/proxy/a%",
            "/api/proxy/a%2",
            "/api/proxy/a%zz",
            "/api/proxy/caf%c3",
            "/api/proxy/caf%c3x",
            "/api/proxy/%e2%80",
            "/api/proxy/a;b",
            "/api/proxy/a%3bb",
            "/api/proxy/a b",
            "/api/proxy/a\"b",
            "/api/proxy/a<b",
        ] {
            assert_eq!(
                up.target("/api/proxy", path, None),
                Err(PathRefusal::Traversal),
                "{path}"
            );
        }
    }

    #[test]
    fn bad_upstream_urls_say_what_to_fix() {
        for (url, says) in [
            ("api.example.com", "not a URL"),
            ("ftp://api.example.com", "http://"),
            ("https://user:pw@api.example.com", "credentials"),
            ("https://api.example.com/?k=1", "query"),
            ("https://api.example.com/#x", "fragment"),
        ] {
            let error = Upstream::parse(url).unwrap_err();
            assert!(error.contains(says), "{url}: {error}");
        }
        assert_eq!(upstream().origin(), "https://api.example.com");
    }
}
