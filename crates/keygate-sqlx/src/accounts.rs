//! The account queries of [`SqlStore`]: keys of an account, the atomic key limit, and the
//! tenant and account pages.

use std::sync::Arc;

use keygate_core::StoreError;
use keygate_core::account::{Account, TenantSummary};
use keygate_core::key::KeyRecord;
use time::OffsetDateTime;

use crate::backend::{Db, on_pool};
use crate::error::{is_unique_violation, store_error};
use crate::row::{KeyRow, key_columns, micros};
use crate::store::{SqlStore, db_of};

/// A key active at `$N`: neither revoked nor expired nor past its rotation grace.
fn active(at: &str) -> String {
    format!(
        "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > {at}) \
         AND (valid_until IS NULL OR valid_until > {at})"
    )
}

/// Stores the key (`$1`…`$22`) only while its account (`$9` tenant, `$20` owner) holds
/// fewer than `$24` keys active at `$23`. One statement; on SQLite it runs under the
/// database's single write lock, on Postgres under the account's advisory lock.
fn insert_within_limit() -> String {
    format!(
        "INSERT INTO kg_keys ({}) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         $13, $14, $15, $16, $17, $18, $19, $20, $21, $22 \
         WHERE (SELECT COUNT(*) FROM kg_keys WHERE tenant = $9 AND owner = $20 AND {}) < $24",
        key_columns!(),
        active("$23")
    )
}

fn account_keys(collate: &str) -> String {
    format!(
        "SELECT {} FROM kg_keys WHERE tenant = $1 AND owner = $2 AND {} \
         ORDER BY created_at, id{collate} LIMIT $4",
        key_columns!(),
        active("$3")
    )
}

fn count_account_keys() -> String {
    format!(
        "SELECT COUNT(*) FROM kg_keys WHERE tenant = $1 AND owner = $2 AND {}",
        active("$3")
    )
}

fn list_tenants(collate: &str) -> String {
    format!(
        "SELECT tenant, SUM(CASE WHEN {} THEN 1 ELSE 0 END), COUNT(DISTINCT owner) \
         FROM kg_keys WHERE tenant IS NOT NULL AND ($2 IS NULL OR tenant{collate} > $2) \
         GROUP BY tenant ORDER BY tenant{collate} LIMIT $3",
        active("$1")
    )
}

fn list_accounts(collate: &str) -> String {
    format!(
        "SELECT tenant, owner, SUM(CASE WHEN {} THEN 1 ELSE 0 END) FROM kg_keys \
         WHERE tenant IS NOT NULL AND owner IS NOT NULL AND ($2 IS NULL OR tenant = $2) \
         AND ($3 IS NULL OR (tenant{collate}, owner{collate}) > ($3, $4)) \
         GROUP BY tenant, owner ORDER BY tenant{collate}, owner{collate} LIMIT $5",
        active("$1")
    )
}

fn count(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::corrupt("a stored count is negative"))
}

fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl SqlStore {
    pub(crate) async fn insert_within_limit(
        &self,
        record: &KeyRecord,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let lock_key = record
            .account()
            .map(|account| account.id())
            .ok_or_else(|| {
                StoreError::conflict("a key within an account's limit needs a tenant and an owner")
            })?;
        let row = KeyRow::from_record(record)?;
        let sql = insert_within_limit();
        let result = on_pool!(&self.pool, pool => {
            async {
                let mut tx = pool.begin_with(db_of(pool).begin()).await?;
                lock_account(&mut tx, &lock_key).await?;
                let inserted = crate::store::bind_row!(sqlx::query(&sql), row)
                    .bind(micros(now))
                    .bind(limit_of(limit))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok::<_, sqlx::Error>(inserted == 1)
            }
            .await
        });
        match result {
            Ok(inserted) => Ok(inserted),
            Err(err) if is_unique_violation(&err) => {
                Err(StoreError::conflict("a key with this id or digest exists"))
            }
            Err(err) => Err(store_error(err)),
        }
    }

    pub(crate) async fn select_account_keys(
        &self,
        account: &Account,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        let rows: Vec<KeyRow> = on_pool!(&self.pool, pool => {
            sqlx::query_as(&account_keys(db_of(pool).collate()))
                .bind(&*account.tenant)
                .bind(&*account.owner)
                .bind(micros(now))
                .bind(limit_of(limit))
                .fetch_all(pool)
                .await
                .map_err(store_error)?
        });
        rows.into_iter()
            .map(|row| row.into_record().map(Arc::new))
            .collect()
    }

    pub(crate) async fn select_count_account_keys(
        &self,
        account: &Account,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let found: i64 = on_pool!(&self.pool, pool => {
            sqlx::query_scalar(&count_account_keys())
                .bind(&*account.tenant)
                .bind(&*account.owner)
                .bind(micros(now))
                .fetch_one(pool)
                .await
                .map_err(store_error)?
        });
        count(found)
    }

    pub(crate) async fn select_tenants(
        &self,
        after: Option<&str>,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<Vec<TenantSummary>, StoreError> {
        let rows: Vec<(String, i64, i64)> = on_pool!(&self.pool, pool => {
            sqlx::query_as(&list_tenants(db_of(pool).collate()))
                .bind(micros(now))
                .bind(after)
                .bind(limit_of(limit))
                .fetch_all(pool)
                .await
                .map_err(store_error)?
        });
        rows.into_iter()
            .map(|(tenant, keys, accounts)| {
                Ok(TenantSummary::new(
                    Arc::from(tenant),
                    count(keys)?,
                    count(accounts)?,
                ))
            })
            .collect()
    }

    pub(crate) async fn select_accounts(
        &self,
        tenant: Option<&str>,
        after: Option<&Account>,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<Vec<(Account, u64)>, StoreError> {
        let rows: Vec<(String, String, i64)> = on_pool!(&self.pool, pool => {
            sqlx::query_as(&list_accounts(db_of(pool).collate()))
                .bind(micros(now))
                .bind(tenant)
                .bind(after.map(|after| &*after.tenant))
                .bind(after.map(|after| &*after.owner))
                .bind(limit_of(limit))
                .fetch_all(pool)
                .await
                .map_err(store_error)?
        });
        rows.into_iter()
            .map(|(tenant, owner, keys)| {
                let account = Account {
                    tenant: Arc::from(tenant),
                    owner: Arc::from(owner),
                };
                Ok((account, count(keys)?))
            })
            .collect()
    }
}

/// Serializes creations in one account: Postgres takes a transaction-scoped advisory lock
/// on the account's id; SQLite's `BEGIN IMMEDIATE` already holds the only write lock.
async fn lock_account<DB: Db>(
    tx: &mut sqlx::Transaction<'static, DB>,
    account: &str,
) -> Result<(), sqlx::Error> {
    DB::lock_account(&mut *tx, account).await
}
