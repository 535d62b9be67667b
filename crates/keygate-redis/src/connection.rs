//! [`RedisConnection`]: one multiplexed connection behind a manager that reconnects,
//! every call bounded by the configured timeout.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use keygate_core::{Meter, StoreError};
use redis::aio::ConnectionManager;

use crate::config::{RedisConfig, redact};
use crate::error::{ConnectError, store_error, timed_out};
use crate::meter::RedisMeter;

/// Reconnection attempts per failed call, before the call's error is returned (the
/// call's timeout bounds them anyway).
const RETRIES: usize = 2;
const RETRY_MIN_DELAY: Duration = Duration::from_millis(10);
const RETRY_MAX_DELAY: Duration = Duration::from_millis(200);

/// A shared connection to Redis: cheap to clone, every clone multiplexing the same
/// connection. When Redis goes away, calls fail (within [`RedisConfig::timeout`]) and
/// the manager reconnects on the next call: no restart needed when Redis is back.
#[derive(Clone)]
pub struct RedisConnection {
    pub(crate) manager: ConnectionManager,
    pub(crate) client: redis::Client,
    pub(crate) shared: Arc<Shared>,
}

/// What every clone shares.
pub(crate) struct Shared {
    pub(crate) prefix: String,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    /// The URL, password redacted: the only form that goes into errors and logs.
    pub(crate) url: String,
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection")
            .field("url", &self.shared.url)
            .field("prefix", &self.shared.prefix)
            .field("timeout", &self.shared.timeout)
            .finish()
    }
}

impl RedisConnection {
    /// Connects and checks that Redis answers a `PING`.
    pub async fn connect(config: RedisConfig) -> Result<Self, ConnectError> {
        let connection = Self::connect_lazy(config)?;
        if let Err(source) = connection.ping().await {
            return Err(ConnectError::Unreachable {
                url: connection.shared.url.clone(),
                source,
            });
        }
        Ok(connection)
    }

    /// Sets the connection up without connecting: the first call connects. For services
    /// that must start while Redis is down (they answer 503 until it is up).
    pub fn connect_lazy(config: RedisConfig) -> Result<Self, ConnectError> {
        tokio::runtime::Handle::try_current().map_err(|_| ConnectError::NoRuntime)?;
        let url = redact(&config.url);
        let client =
            redis::Client::open(config.url.as_str()).map_err(|source| ConnectError::Url {
                url: url.clone(),
                source,
            })?;
        let manager_config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(config.timeout))
            .set_connection_timeout(Some(config.connect_timeout))
            .set_number_of_retries(RETRIES)
            .set_min_delay(RETRY_MIN_DELAY)
            .set_max_delay(RETRY_MAX_DELAY);
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)
            .map_err(|source| ConnectError::Url {
                url: url.clone(),
                source,
            })?;
        Ok(Self {
            manager,
            client,
            shared: Arc::new(Shared {
                prefix: config.prefix,
                timeout: config.timeout,
                connect_timeout: config.connect_timeout,
                url,
            }),
        })
    }

    /// A meter on this connection, with `credits` as the durable credit ledger (see
    /// [`RedisMeter`]).
    pub fn meter<C: Meter>(&self, credits: C) -> RedisMeter<C> {
        RedisMeter::new(self.clone(), credits)
    }

    /// Whether Redis answers a `PING` within the timeout: what `/readyz` asks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.call(
            |mut conn| async move { redis::cmd("PING").query_async::<String>(&mut conn).await },
        )
        .await
        .map(drop)
    }

    /// The key prefix (also the keys' hash tag).
    pub fn key_prefix(&self) -> &str {
        &self.shared.prefix
    }

    /// Runs one call on the shared connection within the timeout.
    pub(crate) async fn call<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(self.shared.timeout, call(self.manager.clone())).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(store_error(&self.shared.url, err)),
            Err(_) => Err(timed_out(&self.shared.url, self.shared.timeout)),
        }
    }
}
