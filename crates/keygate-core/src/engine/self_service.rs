//! [`SelfService`]: a signed-in user managing the keys of their own account, with the
//! rules (who, for whom, how many) enforced here, not in the application's handlers.

use std::sync::Arc;

use super::Keygate;
use super::key_admin::refused;
use super::keys::{AdminError, CreatedKey, MAX_LIST_LIMIT};
use crate::access::{AuthMethod, Methods};
use crate::account::{Account, AccountView, MAX_ACCOUNT_KEYS};
use crate::error::AuthError;
use crate::key::{Environment, KeyId, KeyKind, KeyRecord, NewKey};
use crate::principal::Principal;

impl Keygate {
    /// The keys of the signed-in user behind `by`: a user JWT (not a key, a token, an
    /// OAuth token nor a publishable pair: those are 403 `credential_not_accepted`) with a
    /// tenant (403 `tenant_required` otherwise). The user's account is `<tenant>/<sub>`.
    ///
    /// ```
    /// use keygate_core::{AdminError, Keygate, Pepper, Principal};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let keygate = Keygate::builder().pepper(Pepper::generate()?).build()?;
    /// // An operator is no signed-in user.
    /// let refused = keygate.self_service(&Principal::operator()).list_keys().await.unwrap_err();
    /// assert!(matches!(refused, AdminError::Refused(e) if e.code() == "credential_not_accepted"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn self_service<'a>(&'a self, by: &'a Principal) -> SelfService<'a> {
        SelfService { keygate: self, by }
    }
}

/// Key management by a signed-in user for their own account, from
/// [`Keygate::self_service`]:
///
/// - [`create_key`](Self::create_key) makes a `secret` key of the user's tenant owned by
///   the user (so it acts for them only, and draws on their account's credits), shown
///   once; at most [`MAX_ACCOUNT_KEYS`] active keys per account (409
///   `key_limit_reached`, enforced atomically by the store);
/// - [`list_keys`](Self::list_keys) and [`revoke_key`](Self::revoke_key) see the user's
///   own keys only (another user's key is [`NotFound`](AdminError::NotFound));
/// - [`account`](Self::account) shows the account's balance and keys.
///
/// Creations and revocations are recorded in the audit trail with the user's principal.
///
/// ```
/// use keygate_core::{Environment, Keygate, Pepper, Principal};
///
/// async fn profile_page(keygate: &Keygate, user: &Principal) -> Result<String, keygate_core::AdminError> {
///     let me = keygate.self_service(user);
///     let created = me.create_key(Some("laptop".into()), Environment::Live).await?;
///     let keys = me.list_keys().await?;
///     Ok(format!("{} (shown once); {} keys", created.key.expose(), keys.len()))
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SelfService<'a> {
    keygate: &'a Keygate,
    by: &'a Principal,
}

impl SelfService<'_> {
    /// The signed-in user's account, or why there is none.
    fn own_account(&self) -> Result<Account, AdminError> {
        let by = self.by;
        if by.method != AuthMethod::Jwt || by.key_id.is_some() || by.is_impersonating() {
            return Err(refused(AuthError::CredentialNotAccepted {
                accepted: Methods::from([AuthMethod::Jwt]),
            }));
        }
        let Some(tenant) = by.tenant.as_deref() else {
            return Err(refused(AuthError::TenantRequired));
        };
        let subject = by.subject.as_deref().unwrap_or_default();
        Account::new(tenant, subject).map_err(|_| {
            AdminError::Invalid(
                "sub: the token's subject is not a user id (1 to 128 of A-Z a-z 0-9 . _ : @ | -)"
                    .into(),
            )
        })
    }

    /// Creates a `secret` key in `environment`, named `name`, of the user's tenant and
    /// owned by the user; the text is shown this once. 409 `key_limit_reached` when the
    /// account already has [`MAX_ACCOUNT_KEYS`] active keys.
    pub async fn create_key(
        &self,
        name: Option<String>,
        environment: Environment,
    ) -> Result<CreatedKey, AdminError> {
        let account = self.own_account()?;
        let new = NewKey {
            tenant: Some(account.tenant.to_string()),
            owner: Some(account.owner.to_string()),
            name,
            ..NewKey::new(KeyKind::Secret, environment)
        };
        self.keygate
            .create_key_by(new, Some(self.by), Some(MAX_ACCOUNT_KEYS))
            .await
    }

    /// The account's active keys, oldest first (never their text): at most
    /// [`MAX_LIST_LIMIT`] (self-service makes at most [`MAX_ACCOUNT_KEYS`]; an operator
    /// may have given the account more).
    pub async fn list_keys(&self) -> Result<Vec<Arc<KeyRecord>>, AdminError> {
        let account = self.own_account()?;
        let now = self.keygate.inner.clock.now();
        self.keygate
            .inner
            .keys
            .account_keys(&account, now, MAX_LIST_LIMIT)
            .await
            .map_err(AdminError::Unavailable)
    }

    /// Revokes the account's key `id`: refused from now on. Another account's key (or no
    /// key) is [`NotFound`](AdminError::NotFound).
    pub async fn revoke_key(&self, id: &KeyId) -> Result<Arc<KeyRecord>, AdminError> {
        let account = self.own_account()?;
        let record = self.keygate.get_key(id).await?;
        if record.account().as_ref() != Some(&account) {
            return Err(AdminError::NotFound);
        }
        self.keygate.revoke_key_by(&record.id, Some(self.by)).await
    }

    /// The account: its balance (a due refill applied; `None` when not metered), its
    /// refill rule and its active keys.
    pub async fn account(&self) -> Result<AccountView, AdminError> {
        let account = self.own_account()?;
        self.keygate.account_view(&account).await
    }
}
