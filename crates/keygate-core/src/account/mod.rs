//! Accounts: `<tenant>/<owner>`, an owner (a user id) in a tenant, that owns keys and one
//! credit balance they share ([`Account`]); the rule that sets a balance back at each UTC
//! day or month ([`Refill`]); and what the admin API shows of them ([`AccountView`],
//! [`TenantSummary`] and their pages).
//!
//! A key created with an [`owner`](crate::key::NewKey::owner) belongs to the account of
//! its tenant and owner: it draws on the account's balance (with its sibling keys, their
//! rotations and tokens) and acts for its owner only. An account that was never given
//! credits nor a refill does not meter its keys.

mod refill;
mod view;

pub use refill::{Refill, RefillError, RefillInterval};
pub use view::{AccountPage, AccountView, TenantPage, TenantSummary};

use std::fmt;
use std::sync::Arc;

use crate::credentials::{is_valid_id, is_valid_user_id};

/// The most active keys one account may hold through self-service
/// ([`SelfService::create_key`](crate::SelfService::create_key)).
pub const MAX_ACCOUNT_KEYS: usize = 10;

/// An account: an owner (a user id) in a tenant. Shown as `<tenant>/<owner>`.
///
/// ```
/// use keygate_core::account::Account;
///
/// let account = Account::new("acme", "auth0|abc")?;
/// assert_eq!(account.to_string(), "acme/auth0|abc");
/// assert_eq!(account.id(), "acme/auth0|abc");
/// assert!(Account::new("acme", "user 1").is_err());
/// # Ok::<(), keygate_core::account::AccountError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Account {
    /// The tenant (1 to 128 of `A-Z a-z 0-9 . _ : @ -`).
    pub tenant: Arc<str>,
    /// The owner, a user id (1 to 128 of `A-Z a-z 0-9 . _ : @ | -`).
    pub owner: Arc<str>,
}

/// Why an [`Account`] was refused; the text names the part at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    /// The tenant is not a valid id.
    #[error("tenant: 1 to 128 of A-Z a-z 0-9 . _ : @ -")]
    Tenant,
    /// The owner is not a valid user id.
    #[error("owner: 1 to 128 of A-Z a-z 0-9 . _ : @ | -")]
    Owner,
}

impl Account {
    /// The account of `owner` in `tenant`, both checked.
    pub fn new(tenant: &str, owner: &str) -> Result<Self, AccountError> {
        if !is_valid_id(tenant) {
            return Err(AccountError::Tenant);
        }
        if !is_valid_user_id(owner) {
            return Err(AccountError::Owner);
        }
        Ok(Self {
            tenant: Arc::from(tenant),
            owner: Arc::from(owner),
        })
    }

    /// `<tenant>/<owner>`: the id its balance is kept under
    /// ([`CreditAccount::Owner`](crate::meter::CreditAccount::Owner)). A tenant never
    /// contains `/`, so the id names one account.
    pub fn id(&self) -> String {
        format!("{}/{}", self.tenant, self.owner)
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tenant, self.owner)
    }
}

impl std::str::FromStr for Account {
    type Err = AccountError;

    /// Reads `<tenant>/<owner>` (the owner may not contain `/`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (tenant, owner) = text.split_once('/').ok_or(AccountError::Owner)?;
        Self::new(tenant, owner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn accounts_check_both_parts_and_read_back() {
        assert_eq!(Account::new("", "ada"), Err(AccountError::Tenant));
        assert_eq!(Account::new("acme", "a/b"), Err(AccountError::Owner));
        assert_eq!(Account::new("ac|me", "ada"), Err(AccountError::Tenant));
        let account: Account = "acme/auth0|abc".parse().unwrap();
        assert_eq!(account, Account::new("acme", "auth0|abc").unwrap());
        assert!("acme".parse::<Account>().is_err());
    }
}
