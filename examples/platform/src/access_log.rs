//! The access log: one `info` line per request, the same from the three binaries: method,
//! path, status and milliseconds. Never the query string (a secret sent there by mistake
//! stays out of the logs) nor any header.

use std::time::Instant;

/// The longest path logged, in bytes; longer ones are cut (on a character boundary).
const MAX_LOGGED_PATH: usize = 256;

/// Logs one answered request that started at `started`.
pub fn record(method: &str, path: &str, status: u16, started: Instant) {
    let mut end = path.len().min(MAX_LOGGED_PATH);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    // Hundredths of a millisecond are enough, and read as a number in JSON logs.
    let millis = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
    tracing::info!(
        target: "platform::access",
        method,
        path = path.get(..end).unwrap_or_default(),
        status,
        millis,
        "request"
    );
}
