//! [`RedisConnection`]: one multiplexed connection behind a manager that reconnects,
//! every call bounded by the configured timeout.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use keygate_core::{Meter, StoreError};
use redis::aio::ConnectionManager;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use tokio::sync::OnceCell;

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
///
/// A `redis+cluster://[:password@]host:port,host:port,…` URL selects the Redis Cluster
/// client: every key one meter touches shares the hash tag `{<prefix>}`, so each script
/// call runs in one slot. Pub/sub (key-change notices) uses the first node named: Redis
/// Cluster delivers a `PUBLISH` to subscribers on every node.
#[derive(Clone)]
pub struct RedisConnection {
    link: Link,
    /// A client for one node: the pub/sub subscriptions and, on a single Redis, the
    /// connection manager's.
    pub(crate) client: redis::Client,
    pub(crate) shared: Arc<Shared>,
}

/// How calls reach Redis.
#[derive(Clone)]
enum Link {
    /// One Redis, behind a manager that reconnects.
    Single(ConnectionManager),
    /// A Redis Cluster, connected on the first call (and again after a failed attempt).
    Cluster {
        client: Arc<ClusterClient>,
        connection: Arc<OnceCell<ClusterConnection>>,
    },
}

/// A connection a call runs on: one Redis or a cluster.
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl redis::aio::ConnectionLike for Conn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

/// The scheme that selects the cluster client.
const CLUSTER_SCHEME: &str = "redis+cluster://";

/// The node URLs of a `redis+cluster://[userinfo@]host:port,host:port[/]` URL.
fn cluster_nodes(url: &str) -> Option<Vec<String>> {
    let rest = url.strip_prefix(CLUSTER_SCHEME)?.trim_end_matches('/');
    let (userinfo, hosts) = match rest.rsplit_once('@') {
        Some((userinfo, hosts)) => (format!("{userinfo}@"), hosts),
        None => (String::new(), rest),
    };
    let nodes: Vec<String> = hosts
        .split(',')
        .filter(|host| !host.is_empty())
        .map(|host| format!("redis://{userinfo}{host}"))
        .collect();
    (!nodes.is_empty()).then_some(nodes)
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
        let invalid = |source| ConnectError::Url {
            url: url.clone(),
            source,
        };
        let (link, client) = if config.url.starts_with(CLUSTER_SCHEME) {
            let nodes = cluster_nodes(&config.url).ok_or_else(|| {
                invalid(redis::RedisError::from((
                    redis::ErrorKind::InvalidClientConfig,
                    "a redis+cluster:// URL names its nodes as host:port,host:port",
                )))
            })?;
            let cluster = redis::cluster::ClusterClientBuilder::new(nodes.clone())
                .connection_timeout(config.connect_timeout)
                .response_timeout(config.timeout)
                .retries(u32::try_from(RETRIES).unwrap_or(2))
                .build()
                .map_err(invalid)?;
            let first = nodes.first().map(String::as_str).unwrap_or_default();
            let client = redis::Client::open(first).map_err(invalid)?;
            let link = Link::Cluster {
                client: Arc::new(cluster),
                connection: Arc::new(OnceCell::new()),
            };
            (link, client)
        } else {
            let client = redis::Client::open(config.url.as_str()).map_err(invalid)?;
            let manager_config = redis::aio::ConnectionManagerConfig::new()
                .set_response_timeout(Some(config.timeout))
                .set_connection_timeout(Some(config.connect_timeout))
                .set_number_of_retries(RETRIES)
                .set_min_delay(RETRY_MIN_DELAY)
                .set_max_delay(RETRY_MAX_DELAY);
            let manager = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)
                .map_err(invalid)?;
            (Link::Single(manager), client)
        };
        Ok(Self {
            link,
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
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let run = async {
            let conn = match &self.link {
                Link::Single(manager) => Conn::Single(manager.clone()),
                Link::Cluster { client, connection } => Conn::Cluster(
                    connection
                        .get_or_try_init(|| client.get_async_connection())
                        .await?
                        .clone(),
                ),
            };
            call(conn).await
        };
        match tokio::time::timeout(self.shared.timeout, run).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(store_error(&self.shared.url, err)),
            Err(_) => Err(timed_out(&self.shared.url, self.shared.timeout)),
        }
    }
}
