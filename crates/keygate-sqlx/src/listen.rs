//! Keeping a [`CachedKeyStore`] in front of a [`SqlStore`] honest across instances.
//!
//! - **Postgres**: `revoke` and `rotate` send `pg_notify('keygate_keys:<schema>', …)` inside their
//!   transaction; a task per cache `LISTEN`s, on a connection of its own (not one of the
//!   store's pool), and drops what each notice names. Every
//!   [`LISTEN_HEARTBEAT_INTERVAL`] it runs `SELECT 1` on that connection; a connection
//!   that errors, closes or misses a heartbeat counts as down. While the listening
//!   connection is down the cache is suspended (every lookup goes to the database); when
//!   it is back the cache is emptied, since notices sent meanwhile are lost, and serves
//!   again.
//! - **SQLite**: `revoke` and `rotate` append to `kg_key_changes`; a task per cache polls
//!   it (every second by default), so a key revoked by another process on the same file
//!   (the CLI) is refused within about a second.
//!
//! The task holds only a weak handle on the cache and a stop signal attached to it: it
//! ends when the last clone of the cache is dropped, never because one clone was.

use std::time::Duration as StdDuration;

use keygate_core::store::{CacheInvalidator, CachedKeyStore, KeyCacheConfig, KeyChange};
use keygate_core::{Clock, SystemClock};
use tokio::sync::oneshot;

use crate::backend::Pool;
use crate::error::ConnectError;
use crate::store::SqlStore;

/// How often a SQLite cache looks for other processes' changes.
pub const SQLITE_POLL_INTERVAL: StdDuration = StdDuration::from_secs(1);
/// How often a Postgres cache checks that its `LISTEN` connection still answers.
///
/// A connection that goes silent without closing (a NAT or load balancer that forgets
/// idle flows) delivers no error, and no notice either. A cache whose connection misses a
/// heartbeat stops serving at once (every lookup goes to the database) and reconnects.
/// So a notice lost on a silent connection is covered within
/// `LISTEN_HEARTBEAT_INTERVAL + LISTEN_HEARTBEAT_TIMEOUT` (750 ms) of the connection going
/// silent. The heartbeats' traffic also keeps NAT and load-balancer state alive.
pub const LISTEN_HEARTBEAT_INTERVAL: StdDuration = StdDuration::from_millis(250);
/// How long a heartbeat (`SELECT 1` on the listening connection) may take.
pub const LISTEN_HEARTBEAT_TIMEOUT: StdDuration = StdDuration::from_millis(500);
/// How long connecting the listener (and `LISTEN`) may take before it is retried.
#[cfg(feature = "postgres")]
const LISTEN_CONNECT_TIMEOUT: StdDuration = StdDuration::from_secs(5);
#[cfg(feature = "postgres")]
const MAX_BACKOFF: StdDuration = StdDuration::from_secs(5);
#[cfg(feature = "postgres")]
const FIRST_BACKOFF: StdDuration = StdDuration::from_millis(100);
/// Changes read per poll at most.
#[cfg(feature = "sqlite")]
const POLL_BATCH: i64 = 1000;

impl SqlStore {
    /// This store behind a [`CachedKeyStore`] with the default size and ages, kept in step
    /// with other instances (see [`SqlStore::cached_with`]).
    pub fn cached(&self) -> Result<CachedKeyStore<SqlStore>, ConnectError> {
        self.cached_with(KeyCacheConfig::default(), SystemClock)
    }

    /// This store behind a [`CachedKeyStore`] of the given size and ages, with a
    /// background task that applies other instances' revocations and rotations: Postgres
    /// `LISTEN/NOTIFY`, or polling `kg_key_changes` on SQLite. The cache serves nothing
    /// until that task is listening. Must be called within a Tokio runtime; the task ends
    /// when the last clone of the cache is dropped.
    pub fn cached_with(
        &self,
        config: KeyCacheConfig,
        clock: impl Clock,
    ) -> Result<CachedKeyStore<SqlStore>, ConnectError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConnectError::NoRuntime)?;
        let cache = CachedKeyStore::with_config(self.clone(), config, clock);
        let invalidator = cache.invalidator();
        invalidator.suspend();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        cache.attach(stop_tx);
        match &self.pool {
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => {
                let options = match &self.listen_options {
                    Some(options) => (**options).clone(),
                    None => (*pool.connect_options()).clone(),
                };
                runtime.spawn(listen(pool.clone(), options, invalidator, stop_rx));
            }
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                runtime.spawn(poll(
                    pool.clone(),
                    invalidator,
                    stop_rx,
                    SQLITE_POLL_INTERVAL,
                ));
            }
        }
        Ok(cache)
    }
}

/// Sleeps for `wait`, unless told to stop first; `false` means stop.
async fn pause(stop: &mut oneshot::Receiver<()>, wait: StdDuration) -> bool {
    tokio::select! {
        _ = stop => false,
        () = tokio::time::sleep(wait) => true,
    }
}

/// The connection a cache `LISTEN`s on: its own, from a pool of one that never reuses a
/// connection it gets back (a connection given up on is closed, not tested again).
#[cfg(feature = "postgres")]
async fn connect_listener(
    options: &sqlx::postgres::PgConnectOptions,
    channel: &str,
) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    use sqlx::postgres::{PgListener, PgPoolOptions};

    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(LISTEN_CONNECT_TIMEOUT)
        .test_before_acquire(false)
        .after_release(|_, _| Box::pin(async { Ok(false) }))
        .connect_lazy_with(options.clone());
    let mut listener = PgListener::connect_with(&pool).await?;
    // Its pool is private: nobody else closes it.
    listener.ignore_pool_close_event(true);
    listener.eager_reconnect(false);
    listener.listen(channel).await?;
    Ok(listener)
}

/// Whether the listening connection still answers: `SELECT 1` on it, within
/// [`LISTEN_HEARTBEAT_TIMEOUT`]. Notices that arrive meanwhile are buffered by the
/// listener, not lost.
#[cfg(feature = "postgres")]
async fn heartbeat(listener: &mut sqlx::postgres::PgListener) -> bool {
    let ping = sqlx::query("SELECT 1").execute(&mut *listener);
    matches!(
        tokio::time::timeout(LISTEN_HEARTBEAT_TIMEOUT, ping).await,
        Ok(Ok(_))
    )
}

#[cfg(feature = "postgres")]
async fn listen(
    pool: sqlx::PgPool,
    options: sqlx::postgres::PgConnectOptions,
    invalidator: CacheInvalidator,
    mut stop: oneshot::Receiver<()>,
) {
    // The store being closed ends the task too (its connection is not the pool's, so
    // closing the pool would not reach it otherwise).
    let mut closed = std::pin::pin!(pool.close_event());
    let mut channel: Option<String> = None;
    let mut backoff = FIRST_BACKOFF;
    loop {
        if invalidator.is_closed() || pool.is_closed() {
            return;
        }
        let connect = async {
            let channel = match &channel {
                Some(channel) => channel.clone(),
                // Named after the store's schema, asked once of the store's pool: later
                // reconnections need nothing from it.
                None => {
                    let name: String =
                        sqlx::query_scalar(&format!("SELECT {}", crate::backend::CHANNEL_SQL))
                            .fetch_one(&pool)
                            .await?;
                    channel = Some(name.clone());
                    name
                }
            };
            connect_listener(&options, &channel).await
        };
        let connected = tokio::select! {
            _ = &mut stop => return,
            () = &mut closed => return,
            connected = tokio::time::timeout(LISTEN_CONNECT_TIMEOUT, connect) => {
                connected.unwrap_or(Err(sqlx::Error::PoolTimedOut))
            }
        };
        let mut listener = match connected {
            Ok(listener) => listener,
            Err(err) => {
                invalidator.suspend();
                tracing::warn!(error = %err, "key cache: cannot LISTEN; lookups bypass the cache");
                if !pause(&mut stop, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = FIRST_BACKOFF;
        // Listening now: anything sent before is either in the store already or was
        // missed, so start from an empty cache.
        if !invalidator.resume() {
            return;
        }
        let mut beat = tokio::time::interval(LISTEN_HEARTBEAT_INTERVAL);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        beat.reset();
        loop {
            let next = tokio::select! {
                _ = &mut stop => return,
                () = &mut closed => return,
                _ = beat.tick() => {
                    if heartbeat(&mut listener).await {
                        continue;
                    }
                    // Silent (a NAT or load balancer dropped it without a word) or
                    // too slow to trust: notices may be lost, so stop serving.
                    invalidator.suspend();
                    tracing::warn!(
                        "key cache: LISTEN connection missed its heartbeat; reconnecting"
                    );
                    break;
                }
                next = listener.try_recv() => next,
            };
            match next {
                Ok(Some(notice)) => {
                    let applied = match KeyChange::parse(notice.payload()) {
                        Some(change) => invalidator.apply(&change),
                        // Not ours to read: drop everything rather than guess.
                        None => invalidator.clear(),
                    };
                    if !applied {
                        return;
                    }
                }
                Ok(None) | Err(_) => {
                    invalidator.suspend();
                    tracing::warn!("key cache: LISTEN connection lost; reconnecting");
                    break;
                }
            }
        }
    }
}

#[cfg(feature = "sqlite")]
async fn poll(
    pool: sqlx::SqlitePool,
    invalidator: CacheInvalidator,
    mut stop: oneshot::Receiver<()>,
    every: StdDuration,
) {
    // Where this cache starts: changes before now are already in the store.
    let mut seen: Option<i64> = None;
    loop {
        if invalidator.is_closed() || pool.is_closed() {
            return;
        }
        let step = poll_once(&pool, &invalidator, seen).await;
        match step {
            Ok(last) => {
                if seen.is_none() && !invalidator.resume() {
                    return;
                }
                seen = Some(last);
            }
            Err(err) => {
                invalidator.suspend();
                seen = None;
                tracing::warn!(error = %err, "key cache: cannot read kg_key_changes; lookups bypass the cache");
            }
        }
        if !pause(&mut stop, every).await {
            return;
        }
    }
}

/// Applies changes after `seen` (none on the first poll) and returns the last one read.
#[cfg(feature = "sqlite")]
async fn poll_once(
    pool: &sqlx::SqlitePool,
    invalidator: &CacheInvalidator,
    seen: Option<i64>,
) -> Result<i64, sqlx::Error> {
    let Some(seen) = seen else {
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM kg_key_changes")
            .fetch_one(pool)
            .await?;
        return Ok(last.unwrap_or(0));
    };
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT seq, message FROM kg_key_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(seen)
    .bind(POLL_BATCH)
    .fetch_all(pool)
    .await?;
    let mut last = seen;
    for (seq, message) in rows {
        if seq != last + 1 {
            // A gap: rows were purged before this cache read them (it slept over an
            // hour), or a writer's transaction is still open with an earlier number.
            // Either way, forget everything.
            invalidator.clear();
        }
        match KeyChange::parse(&message) {
            Some(change) => invalidator.apply(&change),
            None => invalidator.clear(),
        };
        last = seq;
    }
    Ok(last)
}
