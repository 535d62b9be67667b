//! The access log: one `info` line per request, the same from the three binaries: method,
//! path, status and milliseconds. Never the query string nor any header, and no path
//! segment long enough to be a credential: a key or token pasted into a path by mistake
//! stays out of the logs.

use std::time::Instant;

/// The longest path logged, in bytes; longer ones are cut (on a character boundary).
const MAX_LOGGED_PATH: usize = 256;

/// Path segments at least this long are logged as `[redacted]`: the shortest API key (a
/// two-character custom prefix, 32 random characters, a 6-character checksum) is 40
/// characters, and every issued token is longer. Ids (`key_…` 28, `cat_…` 36) are shorter.
const SHORTEST_CREDENTIAL: usize = 40;

/// `path` as logged: at most [`MAX_LOGGED_PATH`] bytes, credential-sized segments
/// redacted.
fn loggable(path: &str) -> String {
    let mut logged = String::with_capacity(path.len().min(MAX_LOGGED_PATH));
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            logged.push('/');
        }
        if segment.chars().count() >= SHORTEST_CREDENTIAL {
            logged.push_str("[redacted]");
        } else {
            logged.push_str(segment);
        }
        if logged.len() >= MAX_LOGGED_PATH {
            let mut end = MAX_LOGGED_PATH;
            while !logged.is_char_boundary(end) {
                end -= 1;
            }
            logged.truncate(end);
            break;
        }
    }
    logged
}

/// Logs one answered request that started at `started`.
pub fn record(method: &str, path: &str, status: u16, started: Instant) {
    // Hundredths of a millisecond are enough, and read as a number in JSON logs.
    let millis = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
    tracing::info!(
        target: "platform::access",
        method,
        path = loggable(path),
        status,
        millis,
        "request"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_paths_are_redacted_and_ids_kept() {
        let key = "sk_live_0123456789abcdefghijABCDEFGHIJ012345";
        assert_eq!(
            loggable(&format!("/api/v1/admin/keys/{key}")),
            "/api/v1/admin/keys/[redacted]"
        );
        let shortest = format!("a_{}", "x".repeat(38));
        assert_eq!(loggable(&format!("/{shortest}")), "/[redacted]");
        assert_eq!(
            loggable("/api/v1/admin/keys/key_0123456789abcdefghijABCD/rotate"),
            "/api/v1/admin/keys/key_0123456789abcdefghijABCD/rotate"
        );
        assert_eq!(loggable("/healthz"), "/healthz");
        assert!(loggable(&"/ab".repeat(500)).len() <= MAX_LOGGED_PATH);
    }
}
