//! Redis failures as keygate errors: [`StoreError`] on the request path (503
//! `auth_unavailable`), [`ConnectError`] at start-up.

use std::time::Duration;

use keygate_core::StoreError;

/// Redis could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is not one the `redis` crate reads.
    #[error("the Redis URL {url} is not valid ({source}): use redis://[:password@]host:port[/db]")]
    Url {
        /// The URL, password redacted.
        url: String,
        /// Why.
        #[source]
        source: redis::RedisError,
    },
    /// Redis did not answer a `PING`.
    #[error(
        "Redis at {url} did not answer ({source}): check that it runs and that \
         KEYGATE_REDIS_URL names it"
    )]
    Unreachable {
        /// The URL, password redacted.
        url: String,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// Not called within a Tokio runtime.
    #[error("keygate-redis needs a Tokio runtime: connect from within one")]
    NoRuntime,
}

/// A Redis error on the request path.
pub(crate) fn store_error(url: &str, err: redis::RedisError) -> StoreError {
    StoreError::unavailable(
        format!("Redis at {url} failed; requests are refused until it answers again"),
        err,
    )
}

/// A Redis call that did not finish within `timeout`.
pub(crate) fn timed_out(url: &str, timeout: Duration) -> StoreError {
    StoreError::unavailable(
        format!(
            "Redis at {url} did not answer within {} ms; requests are refused until it does",
            timeout.as_millis()
        ),
        TimedOut,
    )
}

/// A reply of a shape the script never sends (another program writing keygate's keys?).
pub(crate) fn bad_reply(what: &str) -> StoreError {
    StoreError::corrupt(format!(
        "Redis answered the meter script with {what}; is another program writing keygate's keys? \
         Use a prefix of its own"
    ))
}

#[derive(Debug, thiserror::Error)]
#[error("timed out")]
struct TimedOut;
