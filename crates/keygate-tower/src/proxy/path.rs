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
pub(crate) enum PathRefusal {
    /// The path is not below the proxy's prefix (404).
    NotBelowPrefix,
    /// A `.` or `..` segment (plain or percent-encoded), an encoded slash or backslash,
    /// or a backslash: it could climb out of the upstream's base path (400).
    Traversal,
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
        if rest.split('/').any(climbs) {
            return Err(PathRefusal::Traversal);
        }
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

/// Whether a path segment could climb out of a base path once decoded or normalised, by
/// the upstream or by anything between: read as an upstream that decodes twice
/// (`%252e`), accepts overlong UTF-8 (`%c0%ae`) or drops path parameters (`..;x`, as
/// Tomcat does) would read it.
fn climbs(segment: &str) -> bool {
    if segment.contains('\\') {
        return true;
    }
    // `%25` is an encoded `%`: decoded once more, `%252e` is `%2e`.
    let lower = segment.to_ascii_lowercase().replace("%25", "%");
    // Encoded slashes and backslashes, and the overlong UTF-8 lead bytes `%c0`/`%c1`
    // (never valid; lenient decoders read `%c0%ae` as `.` and `%c0%af` as `/`).
    if ["%2f", "%5c", "%c0", "%c1"]
        .iter()
        .any(|bad| lower.contains(bad))
    {
        return true;
    }
    let decoded = lower.replace("%2e", ".");
    let without_parameters = decoded.split(';').next().unwrap_or_default();
    matches!(without_parameters, "." | "..")
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
