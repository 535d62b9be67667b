//! Keys fetched from a JWKS URL: the cached set, the 30-second refetch throttle, one
//! shared fetch at a time, and the background task that refreshes the set when its
//! `Cache-Control: max-age` runs out.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use time::OffsetDateTime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Duration, Instant};

use super::config::JwtConfigError;
use super::keyset::{KeySet, VerifyingKey};
use super::verifier::{Inner, KeySource};
use crate::error::AuthError;
use crate::store::StoreError;

/// The least time between two fetches made because a token named an unknown `kid` (or
/// no keys were loaded yet), measured with the `now` given to `verify`.
pub const REFETCH_INTERVAL: time::Duration = time::Duration::seconds(30);
/// The shortest a fetched key set is kept, whatever its `Cache-Control` says.
pub const MIN_KEYS_LIFETIME: Duration = Duration::from_secs(60);
/// The longest a fetched key set is kept, whatever its `Cache-Control` says.
pub const MAX_KEYS_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a key set without `Cache-Control: max-age` is kept.
pub const DEFAULT_KEYS_LIFETIME: Duration = Duration::from_secs(300);
/// How long the background task waits after a failed fetch, doubling after each
/// further failure up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_secs(30);
/// The longest wait between two background retries.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);
/// The most one fetch may take, connecting included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The most one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest JWKS document read (Google's is about 2 KiB).
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Checks a JWKS URL: absolute, `https`, or `http` to a loopback address (a test
/// server), and without credentials in it.
pub(crate) fn jwks_url(text: &str) -> Result<reqwest::Url, JwtConfigError> {
    let invalid = |why: &str| JwtConfigError::InvalidJwksUrl(why.to_owned());
    let url = reqwest::Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("it must not carry credentials"));
    }
    let Some(host) = url.host_str() else {
        return Err(invalid("it has no host"));
    };
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || ip.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(invalid("plain http is only allowed to a loopback address")),
        _ => Err(invalid("the scheme must be https")),
    }
}

/// The client JWKS are fetched with: rustls on ring with the platform's roots, bounded
/// in time, following no redirect.
pub(crate) fn jwks_client() -> Result<reqwest::Client, JwtConfigError> {
    let builder =
        crate::http::https_client_builder().map_err(|e| JwtConfigError::HttpClient(Box::new(e)))?;
    builder
        .timeout(FETCH_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("keygate/", env!("CARGO_PKG_VERSION"), " (jwks)"))
        .build()
        .map_err(|e| JwtConfigError::HttpClient(Box::new(e)))
}

/// A key set fetched from a URL, and what is known of its freshness.
pub(crate) struct Remote {
    url: reqwest::Url,
    client: reqwest::Client,
    state: Mutex<State>,
    /// Held for the length of a fetch: concurrent verifications that need keys wait on
    /// it and then use the result, so one fetch serves them all.
    flight: tokio::sync::Mutex<()>,
    refresher: Mutex<Option<Refresher>>,
}

#[derive(Default)]
struct State {
    keys: Option<Arc<KeySet>>,
    /// Fetches finished, whether they succeeded or not.
    attempts: u64,
    /// Fetches that succeeded: the generation of the newest key set.
    generation: u64,
    /// When a verification last fetched because no set was loaded yet, by the `now` it
    /// was given (the throttle while the JWKS is unreachable).
    last_fetch_unloaded: Option<OffsetDateTime>,
    /// When a verification last fetched because its `kid` was unknown (the throttle
    /// against made-up `kid`s). Kept apart from the first, so loading the set at
    /// start-up does not delay picking up a key rotated in just after.
    last_fetch_unknown_kid: Option<OffsetDateTime>,
    /// Whether the latest fetch failed.
    last_failed: bool,
    /// Failed fetches in a row, for the background task's back-off.
    failures: u32,
    /// When the background task fetches next; `None` means at once.
    next_refresh: Option<Instant>,
    /// The lifetime of the current set, as its `Cache-Control` gave it, clamped.
    lifetime: Option<Duration>,
}

/// The background task, and the sender whose drop (with the verifier) stops it.
struct Refresher {
    _stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Remote {
    pub(crate) fn new(url: reqwest::Url, client: reqwest::Client) -> Self {
        Self {
            url,
            client,
            state: Mutex::new(State::default()),
            flight: tokio::sync::Mutex::new(()),
            refresher: Mutex::new(None),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key set in use, if one has been loaded.
    pub(crate) fn current(&self) -> Option<Arc<KeySet>> {
        self.state().keys.clone()
    }

    /// Starts the background task, if a Tokio runtime is at hand and it is not running.
    /// Called at build time and on every uncached verification, so a verifier built
    /// outside a runtime (or in one that has since shut down) gets its task at first use.
    pub(crate) fn start(&self, inner: &Arc<Inner>) {
        let mut refresher = self
            .refresher
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if refresher.as_ref().is_some_and(|r| !r.task.is_finished()) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (stop, stopped) = oneshot::channel();
        let task = runtime.spawn(refresh_loop(Arc::downgrade(inner), stopped));
        *refresher = Some(Refresher { _stop: stop, task });
    }

    /// The key named `kid`, fetching the set first when it is not there: at once when
    /// no fetch was made for a verification in the last [`REFETCH_INTERVAL`], else from
    /// the set as it is. Concurrent callers share one fetch.
    pub(crate) async fn key_for(
        &self,
        inner: &Arc<Inner>,
        kid: &str,
        now: OffsetDateTime,
    ) -> Result<(Arc<KeySet>, Arc<VerifyingKey>), AuthError> {
        let seen = {
            let state = self.state();
            if let Some(found) = find(state.keys.as_ref(), kid) {
                return Ok(found);
            }
            state.attempts
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            self.fetch_on_demand(inner, seen, now).await;
        }
        let state = self.state();
        if let Some(found) = find(state.keys.as_ref(), kid) {
            return Ok(found);
        }
        if state.keys.is_none() {
            return Err(AuthError::AuthUnavailable(StoreError::unavailable(
                "no user-JWT keys are loaded yet: the JWKS could not be fetched",
                format!("JWKS at {} not loaded", self.url),
            )));
        }
        if state.last_failed {
            // The key may be a new one the issuer rotated in: refuse with 503, so the
            // client retries rather than signing its user out.
            return Err(AuthError::AuthUnavailable(StoreError::unavailable(
                "the token's key is unknown and the JWKS could not be refetched",
                format!("JWKS at {} unreachable", self.url),
            )));
        }
        Err(AuthError::InvalidToken)
    }

    /// Fetches for a verification, unless a fetch finished since `seen` (its result
    /// serves) or the throttle says wait.
    async fn fetch_on_demand(&self, inner: &Inner, seen: u64, now: OffsetDateTime) {
        let _flight = self.flight.lock().await;
        {
            let mut state = self.state();
            if state.attempts != seen {
                return;
            }
            let last = if state.keys.is_some() {
                &mut state.last_fetch_unknown_kid
            } else {
                &mut state.last_fetch_unloaded
            };
            if last.is_some_and(|last| (now - last).abs() < REFETCH_INTERVAL) {
                return;
            }
            *last = Some(now);
        }
        self.fetch(inner).await;
    }

    /// Fetches for the background task, if the set is (still) due for a refresh.
    async fn refresh_if_due(&self, inner: &Inner) {
        let seen = self.state().attempts;
        let _flight = self.flight.lock().await;
        let due = {
            let state = self.state();
            state.attempts == seen && state.next_refresh.is_none_or(|at| at <= Instant::now())
        };
        if due {
            self.fetch(inner).await;
        }
    }

    /// When the background task should fetch next.
    fn next_refresh(&self) -> Instant {
        self.state().next_refresh.unwrap_or_else(Instant::now)
    }

    /// Fetches the set once and records the outcome. Callers hold `flight`.
    async fn fetch(&self, inner: &Inner) {
        // Lifetimes count from the request, not from the answer: the age of a response
        // starts when it is made, and this keeps a slow fetch from stretching it.
        let started = Instant::now();
        let outcome = self.download().await.and_then(|(body, lifetime)| {
            let generation = self.state().generation + 1;
            KeySet::from_json(&body, &inner.settings.algorithms, generation)
                .map(|keys| (keys, lifetime))
                .map_err(|e| format!("the JWKS is not a JSON key set: {e}"))
        });
        let mut state = self.state();
        state.attempts += 1;
        match outcome {
            Ok((keys, lifetime)) => {
                if keys.is_empty() {
                    tracing::warn!(url = %self.url, "the JWKS has no key keygate can use");
                } else {
                    tracing::debug!(url = %self.url, keys = keys.len(), ?lifetime, "JWKS loaded");
                }
                state.generation = keys.generation();
                state.keys = Some(Arc::new(keys));
                state.last_failed = false;
                state.failures = 0;
                state.lifetime = Some(lifetime);
                state.next_refresh = Some(started + lifetime);
            }
            Err(reason) => {
                state.last_failed = true;
                state.failures = state.failures.saturating_add(1);
                let delay = retry_delay(state.failures);
                state.next_refresh = Some(started + delay);
                tracing::warn!(
                    url = %self.url,
                    %reason,
                    retry_in = ?delay,
                    have_keys = state.keys.is_some(),
                    "JWKS fetch failed; keeping the last good keys"
                );
            }
        }
    }

    /// GETs the document: a 200 answer of at most [`MAX_JWKS_BYTES`], and its lifetime.
    async fn download(&self) -> Result<(Vec<u8>, Duration), String> {
        let mut response = self
            .client
            .get(self.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(format!("answered {}", response.status()));
        }
        let lifetime = keys_lifetime(response.headers());
        if response
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err(format!("larger than {MAX_JWKS_BYTES} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("reading the body failed: {e}"))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("larger than {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, lifetime))
    }
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("Jwks")
            .field("url", &self.url.as_str())
            .field("keys", &state.keys)
            .field("lifetime", &state.lifetime)
            .field("last_fetch_failed", &state.last_failed)
            .finish_non_exhaustive()
    }
}

/// The key named `kid` in `keys`.
fn find(keys: Option<&Arc<KeySet>>, kid: &str) -> Option<(Arc<KeySet>, Arc<VerifyingKey>)> {
    let keys = keys?;
    let key = keys.get(kid)?;
    Some((Arc::clone(keys), Arc::clone(key)))
}

/// Wait before the background retry after `failures` failed fetches in a row.
fn retry_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(8);
    FIRST_RETRY_DELAY
        .saturating_mul(1 << doublings)
        .min(MAX_RETRY_DELAY)
}

/// How long to keep a fetched set: `max-age` less `Age`, clamped to
/// [`MIN_KEYS_LIFETIME`]..=[`MAX_KEYS_LIFETIME`]; `no-cache` and `no-store` count as 0,
/// so as the minimum; [`DEFAULT_KEYS_LIFETIME`] without either.
pub(crate) fn keys_lifetime(headers: &reqwest::header::HeaderMap) -> Duration {
    let mut max_age: Option<u64> = None;
    for value in headers.get_all(reqwest::header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',').map(str::trim) {
            let (name, argument) = directive.split_once('=').unwrap_or((directive, ""));
            let name = name.trim();
            if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
                max_age = Some(0);
            } else if name.eq_ignore_ascii_case("max-age")
                && let Ok(seconds) = argument.trim().trim_matches('"').parse::<u64>()
            {
                max_age = Some(max_age.map_or(seconds, |known| known.min(seconds)));
            }
        }
    }
    let Some(max_age) = max_age else {
        return DEFAULT_KEYS_LIFETIME;
    };
    let age = headers
        .get(reqwest::header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_secs(max_age.saturating_sub(age)).clamp(MIN_KEYS_LIFETIME, MAX_KEYS_LIFETIME)
}

/// The background refresh: sleeps until the set is due, fetches, and again, for as long
/// as the verifier lives. It holds only a weak reference between fetches, and `stop`
/// resolves the moment the last clone of the verifier is dropped, ending it at once.
async fn refresh_loop(verifier: Weak<Inner>, mut stop: oneshot::Receiver<()>) {
    loop {
        let due = {
            let Some(inner) = verifier.upgrade() else {
                return;
            };
            let KeySource::Remote(remote) = &inner.source else {
                return;
            };
            remote.next_refresh()
        };
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep_until(due) => {}
        }
        let Some(inner) = verifier.upgrade() else {
            return;
        };
        if let KeySource::Remote(remote) = &inner.source {
            remote.refresh_if_due(&inner).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{AGE, CACHE_CONTROL, HeaderMap, HeaderValue};

    fn lifetime(values: &[(&reqwest::header::HeaderName, &str)]) -> u64 {
        let mut headers = HeaderMap::new();
        for (name, value) in values {
            headers.append(*name, HeaderValue::from_str(value).unwrap());
        }
        keys_lifetime(&headers).as_secs()
    }

    #[test]
    fn cache_control_sets_the_lifetime_within_bounds() {
        assert_eq!(lifetime(&[]), 300);
        assert_eq!(
            lifetime(&[(
                &CACHE_CONTROL,
                "public, max-age=19800, must-revalidate, no-transform"
            )]),
            19_800
        );
        assert_eq!(lifetime(&[(&CACHE_CONTROL, "max-age=5")]), 60);
        assert_eq!(lifetime(&[(&CACHE_CONTROL, "max-age=999999")]), 86_400);
        assert_eq!(lifetime(&[(&CACHE_CONTROL, "no-store")]), 60);
        assert_eq!(lifetime(&[(&CACHE_CONTROL, "MAX-AGE=\"120\"")]), 120);
        assert_eq!(
            lifetime(&[(&CACHE_CONTROL, "max-age=600"), (&AGE, "100")]),
            500
        );
        assert_eq!(lifetime(&[(&CACHE_CONTROL, "max-age=600, max-age=90")]), 90);
        assert_eq!(lifetime(&[(&CACHE_CONTROL, "max-age=soon")]), 300);
    }

    #[test]
    fn retries_back_off_to_five_minutes() {
        let delays: Vec<u64> = (1..=6).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [30, 60, 120, 240, 300, 300]);
        assert_eq!(retry_delay(u32::MAX).as_secs(), 300);
    }

    #[test]
    fn jwks_urls_are_https_or_loopback_http() {
        for ok in [
            "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com",
            "http://127.0.0.1:8080/jwks",
            "http://localhost/jwks",
            "http://[::1]:9/jwks",
        ] {
            assert!(jwks_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://issuer.example/jwks",
            "http://10.0.0.1/jwks",
            "ftp://issuer.example/jwks",
            "https://user:pass@issuer.example/jwks",
            "/relative/jwks",
            "",
        ] {
            assert!(jwks_url(bad).is_err(), "{bad}");
        }
    }
}
