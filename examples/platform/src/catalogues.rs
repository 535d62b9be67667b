//! Catalogues: the platform's small admin resource, kept in the same database as the
//! keys (table `platform_catalogues`), so every instance sees the same ones.

use keygate_core::StoreError;
use keygate_sqlx::SqlStore;
use serde::Serialize;
use time::OffsetDateTime;

/// One catalogue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Catalogue {
    /// `cat_` and 32 hex characters.
    pub id: String,
    /// The tenant it belongs to; `None` for the platform's own.
    pub tenant: Option<String>,
    /// A label.
    pub name: String,
    /// A longer text.
    pub description: Option<String>,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    tenant: Option<String>,
    name: String,
    description: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<Row> for Catalogue {
    type Error = StoreError;
    fn try_from(row: Row) -> Result<Self, StoreError> {
        let at = |micros: i64| {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
                .map_err(|_| StoreError::corrupt("a catalogue's timestamp is out of range"))
        };
        Ok(Self {
            created_at: at(row.created_at)?,
            updated_at: at(row.updated_at)?,
            id: row.id,
            tenant: row.tenant,
            name: row.name,
            description: row.description,
        })
    }
}

// Times are Unix microseconds, so they sort as numbers (RFC 3339 text with a varying
// fraction does not sort as time).
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS platform_catalogues (\
     id TEXT PRIMARY KEY, tenant TEXT, name TEXT NOT NULL, description TEXT, \
     created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)";
const CREATE_INDEX: &str = "CREATE INDEX IF NOT EXISTS platform_catalogues_tenant \
     ON platform_catalogues (tenant, created_at, id)";
const INSERT: &str = "INSERT INTO platform_catalogues \
     (id, tenant, name, description, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)";
const GET: &str = "SELECT id, tenant, name, description, created_at, updated_at \
     FROM platform_catalogues WHERE id = $1";
// One query for every listing: `$1` the tenant (NULL for all), after (`$2`, `$3`) when
// `$2` is not NULL, at most `$4`. Ids are ASCII, so their order is the same everywhere.
const LIST: &str = "SELECT id, tenant, name, description, created_at, updated_at \
     FROM platform_catalogues \
     WHERE (CAST($1 AS TEXT) IS NULL OR tenant = $1) \
     AND (CAST($2 AS BIGINT) IS NULL OR created_at > $2 OR (created_at = $2 AND id > $3)) \
     ORDER BY created_at, id LIMIT $4";
const UPDATE: &str =
    "UPDATE platform_catalogues SET name = $2, description = $3, updated_at = $4 WHERE id = $1";
const DELETE: &str = "DELETE FROM platform_catalogues WHERE id = $1";

/// Runs `$body` with `$pool` bound to whichever pool the store has.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {{
        if let Some($pool) = $store.sqlite_pool() {
            $body
        } else if let Some($pool) = $store.pg_pool() {
            $body
        } else {
            return Err(StoreError::corrupt("the store has no pool"));
        }
    }};
}

fn failed(err: sqlx::Error) -> StoreError {
    StoreError::unavailable("the catalogue table did not answer", err)
}

fn micros(at: OffsetDateTime) -> Result<i64, StoreError> {
    i64::try_from(at.unix_timestamp_nanos() / 1_000)
        .map_err(|_| StoreError::corrupt("a timestamp is out of range"))
}

/// The catalogue table.
#[derive(Debug, Clone)]
pub struct Catalogues {
    store: SqlStore,
}

impl Catalogues {
    /// Opens the table on `store`'s database, creating it when missing.
    pub async fn open(store: &SqlStore) -> Result<Self, StoreError> {
        on_pool!(store, pool => {
            sqlx::query(CREATE_TABLE).execute(pool).await.map_err(failed)?;
            sqlx::query(CREATE_INDEX).execute(pool).await.map_err(failed)?;
        });
        Ok(Self {
            store: store.clone(),
        })
    }

    /// Stores a new catalogue.
    pub async fn create(&self, catalogue: &Catalogue) -> Result<(), StoreError> {
        let (created, updated) = (micros(catalogue.created_at)?, micros(catalogue.updated_at)?);
        on_pool!(self.store, pool => {
            sqlx::query(INSERT)
                .bind(&catalogue.id)
                .bind(&catalogue.tenant)
                .bind(&catalogue.name)
                .bind(&catalogue.description)
                .bind(created)
                .bind(updated)
                .execute(pool)
                .await
                .map_err(failed)?;
        });
        Ok(())
    }

    /// The catalogue `id`.
    pub async fn get(&self, id: &str) -> Result<Option<Catalogue>, StoreError> {
        let row: Option<Row> = on_pool!(self.store, pool => {
            sqlx::query_as(GET).bind(id).fetch_optional(pool).await.map_err(failed)?
        });
        row.map(Catalogue::try_from).transpose()
    }

    /// At most `limit` catalogues of `tenant` (every one for `None`), oldest first, after
    /// the catalogue `after`.
    pub async fn list(
        &self,
        tenant: Option<&str>,
        after: Option<&Catalogue>,
        limit: usize,
    ) -> Result<Vec<Catalogue>, StoreError> {
        let after_at = after
            .map(|catalogue| micros(catalogue.created_at))
            .transpose()?;
        let after_id = after.map(|catalogue| catalogue.id.as_str());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<Row> = on_pool!(self.store, pool => {
            sqlx::query_as(LIST)
                .bind(tenant)
                .bind(after_at)
                .bind(after_id)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(failed)?
        });
        rows.into_iter().map(Catalogue::try_from).collect()
    }

    /// Replaces the name and description of `id`; `None` when there is no such catalogue.
    pub async fn update(
        &self,
        id: &str,
        name: &str,
        description: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<Option<Catalogue>, StoreError> {
        let at = micros(at)?;
        let changed = on_pool!(self.store, pool => {
            sqlx::query(UPDATE)
                .bind(id)
                .bind(name)
                .bind(description)
                .bind(at)
                .execute(pool)
                .await
                .map_err(failed)?
                .rows_affected()
        });
        if changed == 0 {
            return Ok(None);
        }
        self.get(id).await
    }

    /// Deletes `id`; whether there was one.
    pub async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = on_pool!(self.store, pool => {
            sqlx::query(DELETE)
                .bind(id)
                .execute(pool)
                .await
                .map_err(failed)?
                .rows_affected()
        });
        Ok(deleted == 1)
    }
}
