//! [`SqlOAuthStore`]: keygate-oauth's state in the same database as the keys (feature
//! `oauth`). Every decision between two outcomes (redeem a code, rotate a refresh token)
//! is one conditional `UPDATE` inside a transaction, so racing instances cannot both win.

use std::sync::Arc;

use async_trait::async_trait;
use keygate_core::{ScopeSet, StoreError};
use keygate_oauth::client::ClientRecord;
use keygate_oauth::secret::TokenDigest;
use keygate_oauth::store::{CodeRecord, GrantRecord, IssuedPair, OAuthStore, TokenRecord};
use time::OffsetDateTime;

use crate::backend::{Pool, on_pool};
use crate::error::{is_unique_violation, store_error};
use crate::row::{from_micros, micros};
use crate::store::{SqlStore, db_of};

const CLIENT_COLUMNS: &str = "id, name, tenant, redirect_uris, scopes, secret_hash, created_at";
const GRANT_COLUMNS: &str =
    "g.id, g.client_id, g.subject, g.tenant, g.scopes, g.created_at, g.revoked_at";

const INSERT_CLIENT: &str = "INSERT INTO kg_oauth_clients \
     (id, name, tenant, redirect_uris, scopes, secret_hash, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
const REVOKE_CLIENT_GRANTS: &str =
    "UPDATE kg_oauth_grants SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL";
const DELETE_CLIENT_CODES: &str = "DELETE FROM kg_oauth_codes WHERE client_id = $1";
const DELETE_CLIENT: &str = "DELETE FROM kg_oauth_clients WHERE id = $1";
const INSERT_CODE: &str = "INSERT INTO kg_oauth_codes (digest, grant_id, client_id, redirect_uri, \
     redirect_uri_given, challenge, subject, tenant, scopes, expires_at, used) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
const CODE: &str = "SELECT digest, grant_id, client_id, redirect_uri, redirect_uri_given, challenge, \
     subject, tenant, scopes, expires_at, used FROM kg_oauth_codes WHERE digest = $1";
const USE_CODE: &str = "UPDATE kg_oauth_codes SET used = TRUE WHERE digest = $1 AND used = FALSE";
const INSERT_GRANT: &str = "INSERT INTO kg_oauth_grants \
     (id, client_id, subject, tenant, scopes, created_at, revoked_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
const INSERT_TOKEN: &str = "INSERT INTO kg_oauth_tokens \
     (digest, kind, grant_id, scopes, expires_at, used) VALUES ($1, $2, $3, $4, $5, $6)";
const USE_REFRESH: &str = "UPDATE kg_oauth_tokens SET used = TRUE \
     WHERE digest = $1 AND kind = 'refresh' AND used = FALSE AND grant_id IN \
     (SELECT id FROM kg_oauth_grants WHERE revoked_at IS NULL)";
const REVOKE_GRANT: &str =
    "UPDATE kg_oauth_grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
const PURGE_CODES: &str = "DELETE FROM kg_oauth_codes WHERE expires_at <= $1";
const PURGE_TOKENS: &str = "DELETE FROM kg_oauth_tokens WHERE expires_at <= $1";
const PURGE_GRANTS: &str = "DELETE FROM kg_oauth_grants WHERE NOT EXISTS \
     (SELECT 1 FROM kg_oauth_tokens t WHERE t.grant_id = kg_oauth_grants.id)";

type ClientRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    i64,
);
type CodeRow = (
    Vec<u8>,
    String,
    String,
    String,
    bool,
    String,
    String,
    Option<String>,
    String,
    i64,
    bool,
);
/// A token's columns, then its grant's.
type TokenRow = (
    Vec<u8>,
    String,
    String,
    i64,
    bool,
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
    Option<i64>,
);

/// OAuth clients, codes, grants and tokens in SQL: SQLite or Postgres, whichever the
/// [`SqlStore`] it came from is on ([`SqlStore::oauth`]). The tables come with the
/// store's migrations (`kg_oauth_*`).
#[derive(Clone)]
pub struct SqlOAuthStore {
    pool: Pool,
}

impl std::fmt::Debug for SqlOAuthStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlOAuthStore")
            .field("backend", &self.pool.backend())
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// keygate-oauth's store on this database (feature `oauth`): give it to
    /// [`AuthorizationServerBuilder::store`](keygate_oauth::AuthorizationServerBuilder::store).
    pub fn oauth(&self) -> SqlOAuthStore {
        SqlOAuthStore {
            pool: self.pool.clone(),
        }
    }
}

fn scopes_from(text: &str) -> Result<ScopeSet, StoreError> {
    ScopeSet::from_space_separated(text)
        .map_err(|_| StoreError::corrupt("a stored OAuth scope list is not valid"))
}

fn digest_from(bytes: &[u8]) -> Result<TokenDigest, StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map(TokenDigest)
        .map_err(|_| StoreError::corrupt("a stored OAuth digest is not 32 bytes"))
}

fn client_from(row: ClientRow) -> Result<ClientRecord, StoreError> {
    let (id, name, tenant, redirect_uris, scopes, secret_hash, created_at) = row;
    let redirect_uris: Vec<String> = serde_json::from_str(&redirect_uris)
        .map_err(|_| StoreError::corrupt("stored redirect URIs are not a JSON array"))?;
    Ok(ClientRecord::new(
        id,
        name,
        tenant.map(Arc::from),
        redirect_uris,
        scopes_from(&scopes)?,
        secret_hash,
        from_micros(created_at)?,
    ))
}

fn code_from(row: CodeRow) -> Result<CodeRecord, StoreError> {
    let (
        digest,
        grant_id,
        client_id,
        redirect_uri,
        given,
        challenge,
        subject,
        tenant,
        scopes,
        expires,
        used,
    ) = row;
    Ok(CodeRecord {
        digest: digest_from(&digest)?,
        grant_id: Arc::from(grant_id),
        client_id: Arc::from(client_id),
        redirect_uri,
        redirect_uri_given: given,
        challenge,
        subject: Arc::from(subject),
        tenant: tenant.map(Arc::from),
        scopes: scopes_from(&scopes)?,
        expires_at: from_micros(expires)?,
        used,
    })
}

fn token_from(row: TokenRow) -> Result<(TokenRecord, GrantRecord), StoreError> {
    let (
        digest,
        grant_id,
        scopes,
        expires,
        used,
        id,
        client_id,
        subject,
        tenant,
        granted,
        created,
        revoked,
    ) = row;
    let token = TokenRecord {
        digest: digest_from(&digest)?,
        grant_id: Arc::from(grant_id),
        scopes: scopes_from(&scopes)?,
        expires_at: from_micros(expires)?,
        used,
    };
    let grant = GrantRecord {
        id: Arc::from(id),
        client_id: Arc::from(client_id),
        subject: Arc::from(subject),
        tenant: tenant.map(Arc::from),
        scopes: scopes_from(&granted)?,
        created_at: from_micros(created)?,
        revoked_at: revoked.map(from_micros).transpose()?,
    };
    Ok((token, grant))
}

fn token_query(kind: &str) -> String {
    format!(
        "SELECT t.digest, t.grant_id, t.scopes, t.expires_at, t.used, {GRANT_COLUMNS} \
         FROM kg_oauth_tokens t JOIN kg_oauth_grants g ON g.id = t.grant_id \
         WHERE t.digest = $1 AND t.kind = '{kind}'"
    )
}

/// Inserts both tokens of `pair` inside `$tx`.
macro_rules! insert_pair {
    ($tx:expr, $pair:expr) => {
        for (kind, token) in [("access", &$pair.access), ("refresh", &$pair.refresh)] {
            sqlx::query(INSERT_TOKEN)
                .bind(&token.digest.0[..])
                .bind(kind)
                .bind(&*token.grant_id)
                .bind(token.scopes.to_space_separated())
                .bind(micros(token.expires_at))
                .bind(token.used)
                .execute(&mut *$tx)
                .await?;
        }
    };
}

#[async_trait]
impl OAuthStore for SqlOAuthStore {
    async fn insert_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        let uris = serde_json::to_string(&client.redirect_uris)
            .map_err(|_| StoreError::corrupt("redirect URIs could not be encoded"))?;
        let result = on_pool!(&self.pool, pool => {
            sqlx::query(INSERT_CLIENT)
                .bind(&*client.id)
                .bind(&client.name)
                .bind(client.tenant.as_deref())
                .bind(&uris)
                .bind(client.scopes.to_space_separated())
                .bind(client.secret_hash.as_deref())
                .bind(micros(client.created_at))
                .execute(pool)
                .await
                .map(|_| ())
        });
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_unique_violation(&err) => {
                Err(StoreError::conflict("a client with this id exists"))
            }
            Err(err) => Err(store_error(err)),
        }
    }

    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM kg_oauth_clients WHERE id = $1");
        let row: Option<ClientRow> = on_pool!(&self.pool, pool => {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await
        })
        .map_err(store_error)?;
        row.map(client_from).transpose()
    }

    async fn clients(
        &self,
        tenant: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ClientRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<ClientRow> = match tenant {
            Some(tenant) => {
                let sql = format!(
                    "SELECT {CLIENT_COLUMNS} FROM kg_oauth_clients WHERE tenant = $1 \
                     ORDER BY created_at, id LIMIT $2"
                );
                on_pool!(&self.pool, pool => {
                    sqlx::query_as(&sql).bind(tenant).bind(limit).fetch_all(pool).await
                })
            }
            None => {
                let sql = format!(
                    "SELECT {CLIENT_COLUMNS} FROM kg_oauth_clients ORDER BY created_at, id LIMIT $1"
                );
                on_pool!(&self.pool, pool => {
                    sqlx::query_as(&sql).bind(limit).fetch_all(pool).await
                })
            }
        }
        .map_err(store_error)?;
        rows.into_iter().map(client_from).collect()
    }

    async fn remove_client(&self, id: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
        let removed: Result<bool, sqlx::Error> = on_pool!(&self.pool, pool => {
            async {
                let mut tx = pool.begin_with(db_of(pool).begin()).await?;
                sqlx::query(REVOKE_CLIENT_GRANTS).bind(id).bind(micros(now)).execute(&mut *tx).await?;
                sqlx::query(DELETE_CLIENT_CODES).bind(id).execute(&mut *tx).await?;
                let gone = sqlx::query(DELETE_CLIENT).bind(id).execute(&mut *tx).await?.rows_affected();
                tx.commit().await?;
                Ok(gone == 1)
            }
            .await
        });
        removed.map_err(store_error)
    }

    async fn insert_code(&self, code: &CodeRecord) -> Result<(), StoreError> {
        on_pool!(&self.pool, pool => {
            sqlx::query(INSERT_CODE)
                .bind(&code.digest.0[..])
                .bind(&*code.grant_id)
                .bind(&*code.client_id)
                .bind(&code.redirect_uri)
                .bind(code.redirect_uri_given)
                .bind(&code.challenge)
                .bind(&*code.subject)
                .bind(code.tenant.as_deref())
                .bind(code.scopes.to_space_separated())
                .bind(micros(code.expires_at))
                .bind(code.used)
                .execute(pool)
                .await
                .map(|_| ())
        })
        .map_err(store_error)?;
        Ok(())
    }

    async fn code(&self, digest: &TokenDigest) -> Result<Option<CodeRecord>, StoreError> {
        let row: Option<CodeRow> = on_pool!(&self.pool, pool => {
            sqlx::query_as(CODE).bind(&digest.0[..]).fetch_optional(pool).await
        })
        .map_err(store_error)?;
        row.map(code_from).transpose()
    }

    async fn redeem_code(
        &self,
        digest: &TokenDigest,
        grant: &GrantRecord,
        tokens: &IssuedPair,
    ) -> Result<bool, StoreError> {
        let redeemed: Result<bool, sqlx::Error> = on_pool!(&self.pool, pool => {
            async {
                let mut tx = pool.begin_with(db_of(pool).begin()).await?;
                let won = sqlx::query(USE_CODE).bind(&digest.0[..]).execute(&mut *tx).await?.rows_affected() == 1;
                if !won {
                    tx.rollback().await?;
                    return Ok(false);
                }
                sqlx::query(INSERT_GRANT)
                    .bind(&*grant.id)
                    .bind(&*grant.client_id)
                    .bind(&*grant.subject)
                    .bind(grant.tenant.as_deref())
                    .bind(grant.scopes.to_space_separated())
                    .bind(micros(grant.created_at))
                    .bind(grant.revoked_at.map(micros))
                    .execute(&mut *tx)
                    .await?;
                insert_pair!(tx, tokens);
                tx.commit().await?;
                Ok(true)
            }
            .await
        });
        redeemed.map_err(store_error)
    }

    async fn refresh_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<(TokenRecord, GrantRecord)>, StoreError> {
        let sql = token_query("refresh");
        let row: Option<TokenRow> = on_pool!(&self.pool, pool => {
            sqlx::query_as(&sql).bind(&digest.0[..]).fetch_optional(pool).await
        })
        .map_err(store_error)?;
        row.map(token_from).transpose()
    }

    async fn rotate_refresh_token(
        &self,
        digest: &TokenDigest,
        tokens: &IssuedPair,
    ) -> Result<bool, StoreError> {
        let rotated: Result<bool, sqlx::Error> = on_pool!(&self.pool, pool => {
            async {
                let mut tx = pool.begin_with(db_of(pool).begin()).await?;
                let won = sqlx::query(USE_REFRESH).bind(&digest.0[..]).execute(&mut *tx).await?.rows_affected() == 1;
                if !won {
                    tx.rollback().await?;
                    return Ok(false);
                }
                insert_pair!(tx, tokens);
                tx.commit().await?;
                Ok(true)
            }
            .await
        });
        rotated.map_err(store_error)
    }

    async fn access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<(TokenRecord, GrantRecord)>, StoreError> {
        let sql = token_query("access");
        let row: Option<TokenRow> = on_pool!(&self.pool, pool => {
            sqlx::query_as(&sql).bind(&digest.0[..]).fetch_optional(pool).await
        })
        .map_err(store_error)?;
        row.map(token_from).transpose()
    }

    async fn revoke_grant(&self, grant_id: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        on_pool!(&self.pool, pool => {
            sqlx::query(REVOKE_GRANT).bind(grant_id).bind(micros(now)).execute(pool).await.map(|_| ())
        })
        .map_err(store_error)?;
        Ok(())
    }

    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let purged: Result<u64, sqlx::Error> = on_pool!(&self.pool, pool => {
            async {
                let mut tx = pool.begin_with(db_of(pool).begin()).await?;
                let mut gone = 0;
                for sql in [PURGE_CODES, PURGE_TOKENS] {
                    gone += sqlx::query(sql).bind(micros(now)).execute(&mut *tx).await?.rows_affected();
                }
                gone += sqlx::query(PURGE_GRANTS).execute(&mut *tx).await?.rows_affected();
                tx.commit().await?;
                Ok(gone)
            }
            .await
        });
        purged.map_err(store_error)
    }
}
