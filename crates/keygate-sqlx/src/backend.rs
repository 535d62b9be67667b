//! What differs between SQLite and Postgres, behind one small trait, and the pool enum
//! every SQL type dispatches on.

use std::future::Future;

use keygate_core::store::KeyChange;

use crate::row::key_columns;

/// The channel of key-change notices on Postgres is this prefix followed by the schema
/// keygate's tables live in (`keygate_keys:public`), cut to Postgres's 63-byte limit: so
/// deployments in different schemas of one database do not hear each other.
pub const NOTIFY_CHANNEL_PREFIX: &str = "keygate_keys:";

/// The channel name, as SQL (the same expression for sender and listener).
#[cfg(feature = "postgres")]
pub(crate) const CHANNEL_SQL: &str = "left('keygate_keys:' || current_schema(), 63)";

/// Runs `$body` with `$p` bound to the concrete pool of whichever backend `$pool` holds.
/// The body is compiled once per backend, so it is written once for both.
macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            #[cfg(feature = "sqlite")]
            $crate::backend::Pool::Sqlite($p) => $body,
            #[cfg(feature = "postgres")]
            $crate::backend::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

/// A connection pool of either backend.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// SQLite: one file, one machine.
    Sqlite,
    /// Postgres: shared by every instance.
    Postgres,
}

impl Pool {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => Backend::Postgres,
        }
    }
}

/// The per-backend parts of the queries.
pub(crate) trait Db: sqlx::Database {
    /// How a writing transaction starts.
    const BEGIN: &'static str;
    /// The first `$1` keys, oldest first (ids compared bytewise, as the memory store does).
    const LIST_ALL: &'static str;
    /// The first `$2` keys of tenant `$1`, oldest first.
    const LIST_TENANT: &'static str;
    /// The first `$3` keys after (`created_at` `$1`, id `$2`), oldest first.
    const LIST_ALL_AFTER: &'static str;
    /// The first `$4` keys of tenant `$1` after (`created_at` `$2`, id `$3`).
    const LIST_TENANT_AFTER: &'static str;

    /// ` COLLATE "C"` on Postgres (so text compares bytewise, as on SQLite); empty on
    /// SQLite.
    const COLLATE: &'static str;

    /// Takes a lock on `account` for the rest of the transaction, so two creations in one
    /// account are decided one after the other (Postgres: an advisory lock; SQLite: its
    /// `BEGIN IMMEDIATE` transaction already holds the database's write lock).
    fn lock_account(
        conn: &mut Self::Connection,
        account: &str,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Publishes `change` inside the transaction that made it: `pg_notify` on Postgres, a
    /// row in `kg_key_changes` that other processes poll on SQLite.
    fn publish(
        conn: &mut Self::Connection,
        change: &KeyChange,
        now_micros: i64,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

#[cfg(feature = "sqlite")]
impl Db for sqlx::Sqlite {
    // Take the write lock up front: a deferred transaction that reads first and writes
    // later can fail with SQLITE_BUSY without waiting for the busy timeout.
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
    const COLLATE: &'static str = "";
    const LIST_ALL: &'static str = concat!(
        "SELECT ",
        key_columns!(),
        " FROM kg_keys ORDER BY created_at, id LIMIT $1"
    );
    const LIST_TENANT: &'static str = concat!(
        "SELECT ",
        key_columns!(),
        " FROM kg_keys WHERE tenant = $1 ORDER BY created_at, id LIMIT $2"
    );
    const LIST_ALL_AFTER: &'static str = concat!(
        "SELECT ",
        key_columns!(),
        " FROM kg_keys WHERE (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT $3"
    );
    const LIST_TENANT_AFTER: &'static str = concat!(
        "SELECT ",
        key_columns!(),
        " FROM kg_keys WHERE tenant = $1 AND (created_at, id) > ($2, $3) \
         ORDER BY created_at, id LIMIT $4"
    );

    async fn lock_account(
        _conn: &mut sqlx::SqliteConnection,
        _account: &str,
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }

    async fn publish(
        conn: &mut sqlx::SqliteConnection,
        change: &KeyChange,
        now_micros: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO kg_key_changes (message, created_at) VALUES ($1, $2)")
            .bind(change.to_message())
            .bind(now_micros)
            .execute(&mut *conn)
            .await?;
        // Changes are kept an hour: far longer than any poll interval.
        sqlx::query("DELETE FROM kg_key_changes WHERE created_at < $1")
            .bind(now_micros.saturating_sub(3_600_000_000))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

#[cfg(feature = "postgres")]
impl Db for sqlx::Postgres {
    const BEGIN: &'static str = "BEGIN";
    const COLLATE: &'static str = " COLLATE \"C\"";
    const LIST_ALL: &'static str = concat!(
        "SELECT ",
        key_columns!(),
        " FROM kg_keys ORDER BY created_at, id COLLATE \"C\" LIMIT $1"
    );
    const LIST_TENANT: &'static str = concat!(
        "SELECT ",
        key_columns!(),
        " FROM kg_keys WHERE tenant = $1 ORDER BY created_at, id COLLATE \"C\" LIMIT $2"
    );
    const LIST_ALL_AFTER: &'static str = concat!(
        "SELECT ",
        key_columns!(),
        " FROM kg_keys WHERE (created_at, id COLLATE \"C\") > ($1, $2) \
         ORDER BY created_at, id COLLATE \"C\" LIMIT $3"
    );
    const LIST_TENANT_AFTER: &'static str = concat!(
        "SELECT ",
        key_columns!(),
        " FROM kg_keys WHERE tenant = $1 AND (created_at, id COLLATE \"C\") > ($2, $3) \
         ORDER BY created_at, id COLLATE \"C\" LIMIT $4"
    );

    async fn lock_account(conn: &mut sqlx::PgConnection, account: &str) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('keygate_account:' || $1, 0))")
            .bind(account)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    async fn publish(
        conn: &mut sqlx::PgConnection,
        change: &KeyChange,
        _now_micros: i64,
    ) -> Result<(), sqlx::Error> {
        // Delivered to listeners when (and only if) the transaction commits.
        sqlx::query("SELECT pg_notify(left('keygate_keys:' || current_schema(), 63), $1)")
            .bind(change.to_message())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}
