//! [`SqlStore`]: key records in SQL, and the connection every other SQL type shares.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use keygate_core::account::{Account, TenantSummary};
use keygate_core::key::{KeyDigest, KeyId, KeyRecord};
use keygate_core::store::{KeyChange, KeyListing};
use keygate_core::{KeyStore, Rotation, StoreError};
use time::OffsetDateTime;

use crate::backend::{Backend, Db, Pool, on_pool};
use crate::error::{ConnectError, is_unique_violation, store_error};
use crate::row::{KeyRow, key_columns, micros};

const FIND_BY_HASH: &str = concat!(
    "SELECT ",
    key_columns!(),
    " FROM kg_keys WHERE pepper = $1 AND digest = $2"
);
const GET: &str = concat!("SELECT ", key_columns!(), " FROM kg_keys WHERE id = $1");
const INSERT: &str = concat!(
    "INSERT INTO kg_keys (",
    key_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
     $18, $19, $20, $21, $22)"
);
// Keeps an earlier revocation time.
const REVOKE: &str = concat!(
    "UPDATE kg_keys SET revoked_at = CASE WHEN revoked_at IS NULL OR revoked_at > $1 \
     THEN $1 ELSE revoked_at END WHERE id = $2 RETURNING ",
    key_columns!()
);
// Only a key neither revoked nor already rotated is limited; the row lock this takes
// serializes racing rotations.
const LIMIT_FOR_ROTATION: &str = concat!(
    "UPDATE kg_keys SET valid_until = $1 \
     WHERE id = $2 AND revoked_at IS NULL AND valid_until IS NULL RETURNING ",
    key_columns!()
);
const ROTATION_STATE: &str = "SELECT revoked_at, valid_until FROM kg_keys WHERE id = $1";

/// How long a writer waits for SQLite's lock before giving up (503).
pub const SQLITE_BUSY_TIMEOUT: StdDuration = StdDuration::from_secs(5);

/// The database behind keygate: key records ([`KeyStore`]), and the pool that
/// [`SqlMeter`](crate::SqlMeter), the persisted settings and the cache listener share.
/// Cheap to clone: clones share one pool.
///
/// Open one with [`SqlStore::connect`] from a URL (`sqlite://keygate.db`,
/// `sqlite::memory:`, `postgres://…`), or with the typed constructors. Every constructor
/// brings the schema up to date before returning.
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) pool: Pool,
    /// The time for rows this store stamps itself (settings, change log).
    pub(crate) clock: Arc<dyn keygate_core::Clock>,
    /// Where the key cache's `LISTEN` connection goes, when not where the pool's do.
    #[cfg(feature = "postgres")]
    pub(crate) listen_options: Option<Arc<sqlx::postgres::PgConnectOptions>>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The pool's options would show the connection string: name the backend only.
        f.debug_struct("SqlStore")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Opens the database at `url` and applies keygate's migrations.
    ///
    /// - `sqlite://path/to/keygate.db` (the file is created when missing),
    ///   `sqlite:keygate.db`, `sqlite::memory:`: WAL mode, a 5 s busy timeout;
    /// - `postgres://…` or `postgresql://…`: a pool of 10 connections.
    ///
    /// Errors never repeat the URL, which may hold a password.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => {
                #[cfg(feature = "sqlite")]
                {
                    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                        .map_err(ConnectError::Url)?;
                    Self::connect_sqlite(options).await
                }
                #[cfg(not(feature = "sqlite"))]
                Err(ConnectError::FeatureDisabled("sqlite"))
            }
            "postgres" | "postgresql" => {
                #[cfg(feature = "postgres")]
                {
                    let options = sqlx::postgres::PgConnectOptions::from_str(url)
                        .map_err(ConnectError::Url)?;
                    Self::connect_postgres(options).await
                }
                #[cfg(not(feature = "postgres"))]
                Err(ConnectError::FeatureDisabled("postgres"))
            }
            other => Err(ConnectError::UnsupportedScheme(
                other.chars().take(32).collect(),
            )),
        }
    }

    /// Opens a SQLite database with keygate's settings added to `options`: the file is
    /// created when missing, WAL journal, `synchronous = NORMAL`, a 5 s busy timeout.
    /// An in-memory database gets one connection that is never closed (it would vanish
    /// with its last connection).
    #[cfg(feature = "sqlite")]
    pub async fn connect_sqlite(
        options: sqlx::sqlite::SqliteConnectOptions,
    ) -> Result<Self, ConnectError> {
        use sqlx::sqlite::{SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
        let in_memory = options.get_filename().to_str().is_some_and(|name| {
            name.is_empty() || name == ":memory:" || name.starts_with("file:sqlx-in-memory")
        });
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool_options = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(8)
        };
        // Switching a new file to WAL needs an exclusive lock that the busy timeout does
        // not wait for: when two processes create the file at once, one of them retries.
        let started = std::time::Instant::now();
        let pool = loop {
            match pool_options.clone().connect_with(options.clone()).await {
                Ok(pool) => break pool,
                Err(err) if is_busy(&err) && started.elapsed() < SQLITE_BUSY_TIMEOUT => {
                    tokio::time::sleep(StdDuration::from_millis(20)).await;
                }
                Err(err) => return Err(ConnectError::Connect(err)),
            }
        };
        Self::from_sqlite_pool(pool).await
    }

    /// Uses an existing SQLite pool (configure WAL and a busy timeout on it), after
    /// applying keygate's migrations.
    #[cfg(feature = "sqlite")]
    pub async fn from_sqlite_pool(pool: sqlx::SqlitePool) -> Result<Self, ConnectError> {
        let store = Self::new(Pool::Sqlite(pool));
        store.migrate().await?;
        Ok(store)
    }

    /// Opens a Postgres pool (10 connections, 5 s acquire timeout) on `options`.
    #[cfg(feature = "postgres")]
    pub async fn connect_postgres(
        options: sqlx::postgres::PgConnectOptions,
    ) -> Result<Self, ConnectError> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(StdDuration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(ConnectError::Connect)?;
        Self::from_pg_pool(pool).await
    }

    /// Uses an existing Postgres pool, after applying keygate's migrations.
    #[cfg(feature = "postgres")]
    pub async fn from_pg_pool(pool: sqlx::PgPool) -> Result<Self, ConnectError> {
        let store = Self::new(Pool::Postgres(pool));
        store.migrate().await?;
        Ok(store)
    }

    fn new(pool: Pool) -> Self {
        Self {
            pool,
            clock: Arc::new(keygate_core::SystemClock),
            #[cfg(feature = "postgres")]
            listen_options: None,
        }
    }

    /// Opens the key cache's `LISTEN` connection ([`SqlStore::cached`]) with `options`
    /// instead of the pool's own connect options. For a pool that goes through a
    /// connection pooler in transaction mode (PgBouncer), which does not carry `LISTEN`,
    /// point the listener at the database directly. `options` must reach the same
    /// database; the notify channel is still named after the pool's schema.
    #[cfg(feature = "postgres")]
    pub fn listen_through(mut self, options: sqlx::postgres::PgConnectOptions) -> Self {
        self.listen_options = Some(Arc::new(options));
        self
    }

    /// Brings the schema up to date. Idempotent; safe when several processes start at
    /// once (Postgres: sqlx's advisory lock; SQLite: the migration runs inside one
    /// `BEGIN IMMEDIATE` transaction, so the second process waits, then finds it done).
    /// Every constructor already calls it.
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                use sqlx::Connection as _;
                let mut conn = pool.acquire().await.map_err(ConnectError::Connect)?;
                let mut tx = conn
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(ConnectError::Connect)?;
                // The migrator's own transaction nests as a savepoint.
                sqlx::migrate!("migrations/sqlite")
                    .set_locking(false)
                    .run(&mut *tx)
                    .await
                    .map_err(ConnectError::Migrate)?;
                tx.commit().await.map_err(ConnectError::Connect)
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => sqlx::migrate!("migrations/postgres")
                .run(pool)
                .await
                .map_err(ConnectError::Migrate),
        }
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.pool.backend()
    }

    /// The SQLite pool, if this store is on SQLite.
    #[cfg(feature = "sqlite")]
    pub fn sqlite_pool(&self) -> Option<&sqlx::SqlitePool> {
        match &self.pool {
            Pool::Sqlite(pool) => Some(pool),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The Postgres pool, if this store is on Postgres.
    #[cfg(feature = "postgres")]
    pub fn pg_pool(&self) -> Option<&sqlx::PgPool> {
        match &self.pool {
            Pool::Postgres(pool) => Some(pool),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// Stamps rows this store writes itself (settings, change log) with `clock`'s time,
    /// instead of the system's.
    pub fn with_clock(mut self, clock: impl keygate_core::Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Whether the database answers (for a readiness probe).
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(&self.pool, pool => {
            sqlx::query("SELECT 1").execute(pool).await.map_err(store_error)?;
        });
        Ok(())
    }

    /// Closes every connection; later calls fail with 503.
    pub async fn close(&self) {
        on_pool!(&self.pool, pool => pool.close().await);
    }

    fn now_micros(&self) -> i64 {
        micros(self.clock.now())
    }
}

/// SQLITE_BUSY or SQLITE_LOCKED.
#[cfg(feature = "sqlite")]
fn is_busy(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("5" | "6")))
}

/// Binds a [`KeyRow`]'s columns, in `key_columns!` order, as `$1`…`$22`.
macro_rules! bind_row {
    ($query:expr, $row:expr) => {
        $query
            .bind($row.id)
            .bind($row.lineage)
            .bind($row.pepper)
            .bind($row.digest)
            .bind($row.prefix)
            .bind($row.start)
            .bind($row.kind)
            .bind($row.environment)
            .bind($row.tenant)
            .bind($row.name)
            .bind($row.scopes)
            .bind($row.rate_limit)
            .bind($row.rate_window)
            .bind($row.credits)
            .bind($row.metadata)
            .bind($row.created_at)
            .bind($row.expires_at)
            .bind($row.revoked_at)
            .bind($row.valid_until)
            .bind($row.owner)
            .bind($row.refill_amount)
            .bind($row.refill_interval)
    };
}
pub(crate) use bind_row;

fn record(row: Option<KeyRow>) -> Result<Option<Arc<KeyRecord>>, StoreError> {
    row.map(|row| row.into_record().map(Arc::new)).transpose()
}

fn rotation_refusal(state: Option<(Option<i64>, Option<i64>)>) -> Rotation {
    match state {
        None => Rotation::NotFound,
        Some((Some(_), _)) => Rotation::Revoked,
        Some((None, _)) => Rotation::AlreadyRotated,
    }
}

#[async_trait]
impl KeyStore for SqlStore {
    async fn create(&self, record: &KeyRecord) -> Result<(), StoreError> {
        let row = KeyRow::from_record(record)?;
        let result = on_pool!(&self.pool, pool => {
            bind_row!(sqlx::query(INSERT), row).execute(pool).await.map(|_| ())
        });
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_unique_violation(&err) => {
                Err(StoreError::conflict("a key with this id or digest exists"))
            }
            Err(err) => Err(store_error(err)),
        }
    }

    async fn find_by_hash(&self, digest: &KeyDigest) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        let row: Option<KeyRow> = on_pool!(&self.pool, pool => {
            sqlx::query_as(FIND_BY_HASH)
                .bind(digest.pepper.as_str())
                .bind(digest.bytes.as_slice())
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        record(row)
    }

    async fn get(&self, id: &KeyId) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        let row: Option<KeyRow> = on_pool!(&self.pool, pool => {
            sqlx::query_as(GET)
                .bind(id.as_str())
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        record(row)
    }

    async fn list(&self, listing: &KeyListing<'_>) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        let limit = i64::try_from(listing.limit).unwrap_or(i64::MAX);
        let after = listing
            .after
            .map(|(created_at, id)| (crate::row::micros(created_at), id.as_str()));
        let rows: Vec<KeyRow> = on_pool!(&self.pool, pool => {
            let db = db_of(pool);
            match (listing.tenant, after) {
                (None, None) => sqlx::query_as(db.list(false, false)).bind(limit).fetch_all(pool).await,
                (Some(tenant), None) => {
                    sqlx::query_as(db.list(true, false))
                        .bind(tenant)
                        .bind(limit)
                        .fetch_all(pool)
                        .await
                }
                (None, Some((created_at, id))) => {
                    sqlx::query_as(db.list(false, true))
                        .bind(created_at)
                        .bind(id)
                        .bind(limit)
                        .fetch_all(pool)
                        .await
                }
                (Some(tenant), Some((created_at, id))) => {
                    sqlx::query_as(db.list(true, true))
                        .bind(tenant)
                        .bind(created_at)
                        .bind(id)
                        .bind(limit)
                        .fetch_all(pool)
                        .await
                }
            }
            .map_err(store_error)?
        });
        rows.into_iter()
            .map(|row| row.into_record().map(Arc::new))
            .collect()
    }

    async fn revoke(
        &self,
        id: &KeyId,
        at: OffsetDateTime,
    ) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        let now = self.now_micros();
        let row: Option<KeyRow> = on_pool!(&self.pool, pool => {
            let mut tx = pool.begin_with(db_of(pool).begin()).await.map_err(store_error)?;
            let row: Option<KeyRow> = sqlx::query_as(REVOKE)
                .bind(micros(at))
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_error)?;
            if let Some(row) = &row {
                let digest = crate::row::digest_from(&row.pepper, &row.digest)?;
                let change = KeyChange { id: id.clone(), digest: Some(digest) };
                publish(&mut tx, &change, now).await.map_err(store_error)?;
            }
            tx.commit().await.map_err(store_error)?;
            row
        });
        record(row)
    }

    async fn rotate(
        &self,
        id: &KeyId,
        successor: &KeyRecord,
        valid_until: OffsetDateTime,
    ) -> Result<Rotation, StoreError> {
        let successor = KeyRow::from_record(successor)?;
        let now = self.now_micros();
        let result = on_pool!(&self.pool, pool => {
            async {
                let mut tx = pool.begin_with(db_of(pool).begin()).await?;
                let limited: Option<KeyRow> = sqlx::query_as(LIMIT_FOR_ROTATION)
                    .bind(micros(valid_until))
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(old) = limited else {
                    let state: Option<(Option<i64>, Option<i64>)> =
                        sqlx::query_as(ROTATION_STATE)
                            .bind(id.as_str())
                            .fetch_optional(&mut *tx)
                            .await?;
                    tx.rollback().await?;
                    return Ok(RotationTx::Refused(rotation_refusal(state)));
                };
                // Read the old record before committing: a row that does not parse is an
                // error, and then nothing may have changed (nor go unannounced).
                let old = match old.into_record() {
                    Ok(old) => Arc::new(old),
                    Err(err) => {
                        tx.rollback().await?;
                        return Ok(RotationTx::Corrupt(err));
                    }
                };
                bind_row!(sqlx::query(INSERT), successor).execute(&mut *tx).await?;
                publish(&mut tx, &KeyChange::of(&old), now).await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(RotationTx::Committed(old))
            }
            .await
        });
        match result {
            Ok(RotationTx::Committed(old)) => Ok(Rotation::Rotated(old)),
            Ok(RotationTx::Refused(refusal)) => Ok(refusal),
            Ok(RotationTx::Corrupt(err)) => Err(err),
            Err(err) if is_unique_violation(&err) => {
                Err(StoreError::conflict("a key with this id or digest exists"))
            }
            Err(err) => Err(store_error(err)),
        }
    }

    async fn create_within_limit(
        &self,
        record: &KeyRecord,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.insert_within_limit(record, limit, now).await
    }

    async fn account_keys(
        &self,
        account: &Account,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        self.select_account_keys(account, now, limit).await
    }

    async fn count_account_keys(
        &self,
        account: &Account,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.select_count_account_keys(account, now).await
    }

    async fn list_tenants(
        &self,
        after: Option<&str>,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<Vec<TenantSummary>, StoreError> {
        self.select_tenants(after, limit, now).await
    }

    async fn list_accounts(
        &self,
        tenant: Option<&str>,
        after: Option<&Account>,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<Vec<(Account, u64)>, StoreError> {
        self.select_accounts(tenant, after, limit, now).await
    }
}

/// What a rotation's transaction did.
enum RotationTx {
    /// Committed: the old record, as it is now.
    Committed(Arc<KeyRecord>),
    /// Rolled back: why not.
    Refused(Rotation),
    /// Rolled back: the old record does not parse.
    Corrupt(StoreError),
}

/// The [`Db`] facts of a pool's backend, as a value (so they can be reached from inside
/// [`on_pool!`], where only the pool is named).
pub(crate) struct DbOf<DB>(std::marker::PhantomData<DB>);

pub(crate) fn db_of<DB: Db>(_pool: &sqlx::Pool<DB>) -> DbOf<DB> {
    DbOf(std::marker::PhantomData)
}

impl<DB: Db> DbOf<DB> {
    pub(crate) fn begin(&self) -> &'static str {
        DB::BEGIN
    }
    pub(crate) fn collate(&self) -> &'static str {
        DB::COLLATE
    }
    pub(crate) fn list(&self, by_tenant: bool, after: bool) -> &'static str {
        match (by_tenant, after) {
            (false, false) => DB::LIST_ALL,
            (true, false) => DB::LIST_TENANT,
            (false, true) => DB::LIST_ALL_AFTER,
            (true, true) => DB::LIST_TENANT_AFTER,
        }
    }
}

async fn publish<DB: Db>(
    tx: &mut sqlx::Transaction<'static, DB>,
    change: &KeyChange,
    now: i64,
) -> Result<(), sqlx::Error> {
    DB::publish(&mut *tx, change, now).await
}
