//! The task that keeps one cache in step with the prefix's channel.

use std::time::Duration;

use futures_util::StreamExt as _;
use keygate_core::store::{CacheInvalidator, CachedKeyStore, KeyCacheConfig, KeyChange, KeyStore};
use keygate_core::{Clock, SystemClock};
use tokio::sync::oneshot;

use crate::connection::RedisConnection;
use crate::error::ConnectError;

/// How often a listening cache checks that its subscription still answers (`PING` on
/// the subscribed connection, within 500 ms). A subscription that
/// misses one counts as down: the cache stops serving at once and reconnects. So a
/// notice lost on a silent connection is covered within 750 ms of it going silent.
pub const NOTIFY_HEARTBEAT_INTERVAL: Duration = Duration::from_millis(250);
/// How long a heartbeat may take.
const NOTIFY_HEARTBEAT_TIMEOUT: Duration = Duration::from_millis(500);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl RedisConnection {
    /// `store` behind a [`CachedKeyStore`] with the default size and ages, kept in step
    /// with other instances over this connection's pub/sub (see
    /// [`RedisConnection::cached_with`]).
    pub fn cached<S: KeyStore>(&self, store: S) -> Result<CachedKeyStore<S>, ConnectError> {
        self.cached_with(store, KeyCacheConfig::default(), SystemClock)
    }

    /// `store` behind a [`CachedKeyStore`] of the given size and ages, with a background
    /// task that subscribes to the prefix's key-change channel (on a connection of its
    /// own) and drops what each notice names (see [`RedisConnection::listen`]). Must be
    /// called within a Tokio runtime; the task ends when the last clone of the cache is
    /// dropped.
    pub fn cached_with<S: KeyStore>(
        &self,
        store: S,
        config: KeyCacheConfig,
        clock: impl Clock,
    ) -> Result<CachedKeyStore<S>, ConnectError> {
        let cache = CachedKeyStore::with_config(store, config, clock);
        self.listen(&cache)?;
        Ok(cache)
    }

    /// Keeps an existing `cache` in step with other instances over this connection's
    /// pub/sub, beside any listener it has already (the SQL store's, say: a cache serves
    /// only while every one of its listeners is up). A background task subscribes to the
    /// prefix's key-change channel on a connection of its own and drops what each notice
    /// names. The cache serves nothing from this call until the subscription is up, nor
    /// while it is down, and is emptied each time it is back. Must be called within a
    /// Tokio runtime; the task ends when the last clone of the cache is dropped.
    ///
    /// ```no_run
    /// # async fn run(redis: keygate_redis::RedisConnection) -> Result<(), Box<dyn std::error::Error>> {
    /// use keygate_core::store::{CachedKeyStore, MemoryKeyStore};
    ///
    /// let cache = CachedKeyStore::new(MemoryKeyStore::new());
    /// redis.listen(&cache)?;
    /// // The engine's key store: its own changes drop this cache's entries and are
    /// // published to every other instance's.
    /// let keys = redis.publisher(cache);
    /// # let _ = keys;
    /// # Ok(())
    /// # }
    /// ```
    pub fn listen<S: KeyStore>(&self, cache: &CachedKeyStore<S>) -> Result<(), ConnectError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConnectError::NoRuntime)?;
        let invalidator = cache.invalidator();
        invalidator.suspend();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        cache.attach(stop_tx);
        runtime.spawn(listen(self.clone(), invalidator, stop_rx));
        Ok(())
    }
}

/// Sleeps for `wait`, unless told to stop first; `false` means stop.
async fn pause(stop: &mut oneshot::Receiver<()>, wait: Duration) -> bool {
    tokio::select! {
        _ = stop => false,
        () = tokio::time::sleep(wait) => true,
    }
}

async fn listen(
    redis: RedisConnection,
    invalidator: CacheInvalidator,
    mut stop: oneshot::Receiver<()>,
) {
    let channel = super::channel(redis.key_prefix());
    let mut backoff = FIRST_BACKOFF;
    loop {
        if invalidator.is_closed() {
            return;
        }
        let connect = async {
            let pubsub = redis.client.get_async_pubsub().await?;
            let (mut sink, stream) = pubsub.split();
            sink.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>((sink, stream))
        };
        let connected = tokio::select! {
            _ = &mut stop => return,
            connected = tokio::time::timeout(redis.shared.connect_timeout, connect) => connected,
        };
        let (mut sink, mut stream) = match connected {
            Ok(Ok(pair)) => pair,
            failed => {
                invalidator.suspend();
                let why = match failed {
                    Ok(Err(err)) => err.to_string(),
                    _ => "timed out".to_owned(),
                };
                tracing::warn!(
                    redis = %redis.shared.url,
                    error = %why,
                    "key cache: cannot subscribe to key changes on Redis; lookups bypass the cache"
                );
                if !pause(&mut stop, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = FIRST_BACKOFF;
        // Subscribed now: anything sent before is in the store already or was missed, so
        // start from an empty cache.
        if !invalidator.resume() {
            return;
        }
        let mut beat = tokio::time::interval(NOTIFY_HEARTBEAT_INTERVAL);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        beat.reset();
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = beat.tick() => {
                    let ping = sink.ping::<redis::Value>();
                    if matches!(tokio::time::timeout(NOTIFY_HEARTBEAT_TIMEOUT, ping).await, Ok(Ok(_))) {
                        continue;
                    }
                    invalidator.suspend();
                    tracing::warn!("key cache: Redis subscription missed its heartbeat; reconnecting");
                    break;
                }
                message = stream.next() => {
                    let Some(message) = message else {
                        invalidator.suspend();
                        tracing::warn!("key cache: Redis subscription lost; reconnecting");
                        break;
                    };
                    let change = message
                        .get_payload::<String>()
                        .ok()
                        .and_then(|text| KeyChange::parse(&text));
                    let applied = match change {
                        Some(change) => invalidator.apply(&change),
                        // Not ours to read: drop everything rather than guess.
                        None => invalidator.clear(),
                    };
                    if !applied {
                        return;
                    }
                }
            }
        }
    }
}
