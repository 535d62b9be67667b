//! Accounts through [`KeyAdmin`]: tenants and their accounts, an account's balance and
//! refill rule, with the tenant rules of [`Keygate::admin`].

use super::Keygate;
use super::key_admin::{Actor, KeyAdmin};
use super::keys::{AdminError, MAX_LIST_LIMIT};
use crate::account::{Account, AccountPage, AccountView, Refill, TenantPage};
use crate::audit::AuditEvent;
use crate::meter::{CreditAccount, CreditSeed, MAX_CREDITS};

fn check_limit(limit: usize) -> Result<(), AdminError> {
    if (1..=MAX_LIST_LIMIT).contains(&limit) {
        Ok(())
    } else {
        Err(AdminError::Invalid(
            format!("limit: 1 to {MAX_LIST_LIMIT}").into(),
        ))
    }
}

impl Keygate {
    /// `account` as it stands: its balance (a due refill applied; `None` when it is not
    /// metered), its refill rule and its active keys.
    pub(super) async fn account_view(&self, account: &Account) -> Result<AccountView, AdminError> {
        let now = self.inner.clock.now();
        let keys = self
            .inner
            .keys
            .count_account_keys(account, now)
            .await
            .map_err(AdminError::Unavailable)?;
        self.account_view_with(account.clone(), keys).await
    }

    async fn account_view_with(
        &self,
        account: Account,
        keys: u64,
    ) -> Result<AccountView, AdminError> {
        let now = self.inner.clock.now();
        let id = account.id();
        let balance = self
            .inner
            .meter
            .credits(CreditAccount::Owner(&id), CreditSeed::NONE, now)
            .await
            .map_err(AdminError::Unavailable)?;
        Ok(AccountView {
            account,
            credits: balance.map(|balance| balance.credits),
            refill: balance.and_then(|balance| balance.refill),
            keys,
        })
    }
}

impl KeyAdmin<'_> {
    /// One page of the tenants that have keys, by name: at most `limit` (1 to
    /// [`MAX_LIST_LIMIT`]) after the tenant `after`, and whether more follow. The platform
    /// operator only (403 `operator_required`).
    ///
    /// ```
    /// use keygate_core::key::{KeyKind, NewKey};
    /// use keygate_core::{Environment, Keygate, Pepper, Principal};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let keygate = Keygate::builder().pepper(Pepper::generate()?).build()?;
    /// let operator = Principal::operator();
    /// let admin = keygate.admin(&operator);
    /// admin
    ///     .create_key(NewKey {
    ///         tenant: Some("acme".into()),
    ///         owner: Some("auth0|ada".into()),
    ///         ..NewKey::new(KeyKind::Secret, Environment::Live)
    ///     })
    ///     .await?;
    /// let page = admin.list_tenants(None, 100).await?;
    /// assert_eq!((&*page.tenants[0].tenant, page.tenants[0].keys, page.tenants[0].accounts), ("acme", 1, 1));
    /// assert!(!page.has_more);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn list_tenants(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<TenantPage, AdminError> {
        let now = self.now();
        let actor = self.actor(now).await?;
        actor.must_be_operator()?;
        check_limit(limit)?;
        let mut tenants = self
            .keygate
            .inner
            .keys
            .list_tenants(after, limit.saturating_add(1), now)
            .await
            .map_err(AdminError::Unavailable)?;
        let has_more = tenants.len() > limit;
        tenants.truncate(limit);
        Ok(TenantPage { tenants, has_more })
    }

    /// One page of the accounts that own keys, ordered by tenant then owner: those of
    /// `tenant` (a tenant's key: its own, the default; another is 403 `tenant_forbidden`;
    /// the operator: every tenant's for `None`), at most `limit` (1 to
    /// [`MAX_LIST_LIMIT`]) after the account `after`, each with its balance, refill and
    /// active keys.
    pub async fn list_accounts(
        &self,
        tenant: Option<&str>,
        after: Option<&Account>,
        limit: usize,
    ) -> Result<AccountPage, AdminError> {
        let now = self.now();
        let actor = self.actor(now).await?;
        let tenant = actor.acting_tenant(tenant)?;
        check_limit(limit)?;
        let mut found = self
            .keygate
            .inner
            .keys
            .list_accounts(tenant, after, limit.saturating_add(1), now)
            .await
            .map_err(AdminError::Unavailable)?;
        let has_more = found.len() > limit;
        found.truncate(limit);
        let mut accounts = Vec::with_capacity(found.len());
        for (account, keys) in found {
            accounts.push(self.keygate.account_view_with(account, keys).await?);
        }
        Ok(AccountPage { accounts, has_more })
    }

    /// `account` as it stands: balance (a due refill applied), refill rule, active keys.
    /// An account with no key and no balance is answered too (`credits` `None`, no keys):
    /// owners are ids the caller chooses, so this tells nothing. Another tenant's account
    /// is [`NotFound`](AdminError::NotFound) for a tenant's key.
    pub async fn get_account(&self, account: &Account) -> Result<AccountView, AdminError> {
        let actor = self.actor(self.now()).await?;
        visible(&actor, account)?;
        self.keygate.account_view(account).await
    }

    /// Adds `amount` (1 to [`MAX_CREDITS`]) credits to `account` and returns its new
    /// balance; an account that was not metered starts from 0 and is metered from now
    /// on. The platform operator only (403 `operator_required`).
    ///
    /// ```
    /// use keygate_core::account::Account;
    /// use keygate_core::{Keygate, Pepper, Principal};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let keygate = Keygate::builder().pepper(Pepper::generate()?).build()?;
    /// let operator = Principal::operator();
    /// let account = Account::new("acme", "auth0|ada")?;
    /// assert_eq!(keygate.admin(&operator).get_account(&account).await?.credits, None);
    /// assert_eq!(keygate.admin(&operator).add_account_credits(&account, 30).await?, 30);
    /// assert_eq!(keygate.admin(&operator).get_account(&account).await?.credits, Some(30));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn add_account_credits(
        &self,
        account: &Account,
        amount: u64,
    ) -> Result<u64, AdminError> {
        let now = self.now();
        let actor = self.actor(now).await?;
        actor.must_be_operator()?;
        if amount == 0 || amount > MAX_CREDITS {
            return Err(AdminError::Invalid(
                format!("add: 1 to {MAX_CREDITS}").into(),
            ));
        }
        let id = account.id();
        let balance = self
            .keygate
            .inner
            .meter
            .add_credits(CreditAccount::Owner(&id), amount, CreditSeed::NONE, now)
            .await
            .map_err(AdminError::Unavailable)?;
        self.keygate.audit(&AuditEvent::AdminChange {
            by: Some(self.by),
            action: "account.credits_added",
            target: &id,
            tenant: Some(&account.tenant),
        });
        Ok(balance)
    }

    /// Sets (or, with `None`, clears) the refill rule of `account` and returns the account.
    /// An account without a balance starts at the rule's amount; one with a balance keeps
    /// it until the rule's next boundary. Clearing leaves the balance as it is. The
    /// platform operator only (403 `operator_required`).
    ///
    /// ```
    /// use keygate_core::account::{Account, Refill, RefillInterval};
    /// use keygate_core::{Keygate, Pepper, Principal};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let keygate = Keygate::builder().pepper(Pepper::generate()?).build()?;
    /// let operator = Principal::operator();
    /// let account = Account::new("acme", "ada")?;
    /// let daily = Refill::new(500, RefillInterval::Daily)?;
    /// let view = keygate.admin(&operator).set_account_refill(&account, Some(daily)).await?;
    /// assert_eq!((view.credits, view.refill), (Some(500), Some(daily)));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn set_account_refill(
        &self,
        account: &Account,
        refill: Option<Refill>,
    ) -> Result<AccountView, AdminError> {
        let now = self.now();
        let actor = self.actor(now).await?;
        actor.must_be_operator()?;
        let id = account.id();
        self.keygate
            .inner
            .meter
            .set_refill(CreditAccount::Owner(&id), refill, now)
            .await
            .map_err(AdminError::Unavailable)?;
        self.keygate.audit(&AuditEvent::AdminChange {
            by: Some(self.by),
            action: if refill.is_some() {
                "account.refill_set"
            } else {
                "account.refill_cleared"
            },
            target: &id,
            tenant: Some(&account.tenant),
        });
        self.keygate.account_view(account).await
    }
}

/// A tenant's key sees only its tenant's accounts; another's is not told apart from one
/// that does not exist.
fn visible(actor: &Actor, account: &Account) -> Result<(), AdminError> {
    if actor.sees_tenant(&account.tenant) {
        Ok(())
    } else {
        Err(AdminError::NotFound)
    }
}
