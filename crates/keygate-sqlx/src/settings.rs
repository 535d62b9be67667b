//! Settings every instance must agree on, written once and then read: the platform
//! secret's digest and the token signing key.
//!
//! Each is `INSERT … ON CONFLICT DO NOTHING`, then `SELECT`: when two instances start at
//! once on an empty database, both propose a value, one is stored, and both get it back.

use keygate_core::StoreError;
use keygate_core::key::KeyDigest;
use keygate_core::secret::PepperId;
use keygate_core::token::Ed25519Seed;
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::backend::on_pool;
use crate::error::store_error;
use crate::row::digest_from;
use crate::store::SqlStore;

const PLATFORM_SECRET: &str = "platform_secret_digest";
const TOKEN_SEED: &str = "token_ed25519_seed";
const PEPPER_ID: &str = "pepper_id";

const INSERT_ONCE: &str = "INSERT INTO kg_settings (name, value, created_at) VALUES ($1, $2, $3) \
     ON CONFLICT (name) DO NOTHING";
const READ: &str = "SELECT value FROM kg_settings WHERE name = $1";
const NEWEST_KEY_PEPPER: &str = "SELECT pepper FROM kg_keys ORDER BY created_at DESC LIMIT 1";

/// A setting after [`SqlStore::init_platform_secret_digest`] and its kind: the value every
/// instance now shares, and whether it is the one this call proposed.
#[derive(Debug)]
#[non_exhaustive]
pub struct Stored<T> {
    /// The stored value.
    pub value: T,
    /// Whether this call stored it (`false`: another instance was first).
    pub inserted: bool,
}

fn digest_text(digest: &KeyDigest) -> String {
    let mut text = format!("{}:", digest.pepper);
    for byte in digest.bytes {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

fn digest_parse(text: &str) -> Result<KeyDigest, StoreError> {
    let corrupt = || StoreError::corrupt("the stored platform secret digest is malformed");
    let (pepper, hex) = text.split_once(':').ok_or_else(corrupt)?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(corrupt());
    }
    let bytes: Vec<u8> = (0..32)
        .map(|i| {
            hex.get(i * 2..i * 2 + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(corrupt)
        })
        .collect::<Result<_, _>>()?;
    digest_from(pepper, &bytes)
}

impl SqlStore {
    /// The setting's text, wiped from memory when dropped (one of them is the token seed).
    async fn read_setting(&self, name: &str) -> Result<Option<Zeroizing<String>>, StoreError> {
        let value: Option<String> = on_pool!(&self.pool, pool => {
            sqlx::query_scalar(READ)
                .bind(name)
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        Ok(value.map(Zeroizing::new))
    }

    /// Stores `value` under `name` unless a value is there; returns the stored one.
    async fn init_setting(
        &self,
        name: &str,
        value: &str,
    ) -> Result<Stored<Zeroizing<String>>, StoreError> {
        let now = crate::row::micros(self.clock.now());
        let inserted = on_pool!(&self.pool, pool => {
            sqlx::query(INSERT_ONCE)
                .bind(name)
                .bind(value)
                .bind(now)
                .execute(pool)
                .await
                .map_err(store_error)?
                .rows_affected()
        }) == 1;
        let stored = self
            .read_setting(name)
            .await?
            .ok_or_else(|| StoreError::corrupt("a setting vanished after it was stored"))?;
        Ok(Stored {
            value: stored,
            inserted,
        })
    }

    /// The id of the pepper the database was set up with (never the pepper), if recorded.
    pub(crate) async fn pepper_id(&self) -> Result<Option<PepperId>, StoreError> {
        self.read_setting(PEPPER_ID)
            .await?
            .map(|text| {
                PepperId::parse(&text)
                    .ok_or_else(|| StoreError::corrupt("the stored pepper id is malformed"))
            })
            .transpose()
    }

    /// Records `id` as the database's pepper unless one is recorded; returns the recorded.
    pub(crate) async fn init_pepper_id(
        &self,
        id: PepperId,
    ) -> Result<Stored<PepperId>, StoreError> {
        let stored = self.init_setting(PEPPER_ID, id.as_str()).await?;
        Ok(Stored {
            value: PepperId::parse(&stored.value)
                .ok_or_else(|| StoreError::corrupt("the stored pepper id is malformed"))?,
            inserted: stored.inserted,
        })
    }

    /// The pepper of the newest stored key, if there is a key: a database that holds keys
    /// was set up with a pepper, whether or not it recorded the pepper's id.
    pub(crate) async fn newest_key_pepper(&self) -> Result<Option<PepperId>, StoreError> {
        let text: Option<String> = on_pool!(&self.pool, pool => {
            sqlx::query_scalar(NEWEST_KEY_PEPPER)
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        text.map(|text| {
            PepperId::parse(&text)
                .ok_or_else(|| StoreError::corrupt("a stored key names a malformed pepper id"))
        })
        .transpose()
    }

    /// The stored digest of the platform secret, if one was stored.
    pub async fn platform_secret_digest(&self) -> Result<Option<KeyDigest>, StoreError> {
        self.read_setting(PLATFORM_SECRET)
            .await?
            .map(|text| digest_parse(&text))
            .transpose()
    }

    /// Stores `digest` as the platform secret's, unless one is stored already; returns
    /// the one every instance now uses. Only a digest is stored, never the secret.
    ///
    /// On first start, generate a secret, call this with its digest, and show the secret
    /// to the operator only if `inserted` is true: otherwise another instance won the race
    /// and this secret opens nothing.
    pub async fn init_platform_secret_digest(
        &self,
        digest: KeyDigest,
    ) -> Result<Stored<KeyDigest>, StoreError> {
        let stored = self
            .init_setting(PLATFORM_SECRET, &digest_text(&digest))
            .await?;
        Ok(Stored {
            value: digest_parse(&stored.value)?,
            inserted: stored.inserted,
        })
    }

    /// Stores `seed` as the Ed25519 token signing seed, unless one is stored already;
    /// returns the one every instance now signs with
    /// ([`TokenIssuer::ed25519_seed`](keygate_core::token::TokenIssuer::ed25519_seed)).
    ///
    /// The seed is stored as it is (base64): whoever can read `kg_settings` can sign
    /// tokens. Where that is too much, give every instance the key from a secret manager
    /// instead, or keep the default HS256 key derived from the pepper, which is not
    /// stored at all.
    pub async fn init_token_seed(
        &self,
        seed: Ed25519Seed,
    ) -> Result<Stored<Ed25519Seed>, StoreError> {
        let proposed = seed.to_base64();
        // The seed's text stays in secrecy and zeroizing types on this side of sqlx: the
        // proposal is a `SecretString`, the stored text a `Zeroizing<String>`.
        let stored = self
            .init_setting(TOKEN_SEED, proposed.expose_secret())
            .await?;
        Ok(Stored {
            value: Ed25519Seed::from_base64(stored.value.as_str())
                .map_err(|_| StoreError::corrupt("the stored token seed is malformed"))?,
            inserted: stored.inserted,
        })
    }
}
