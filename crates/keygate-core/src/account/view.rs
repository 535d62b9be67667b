//! What the admin API shows of accounts and tenants.

use std::sync::Arc;

use serde::{Serialize, Serializer};

use super::{Account, Refill};

/// An account as it stands: its balance, its refill rule and how many active keys it has.
/// Serializes as `{"tenant", "owner", "credits", "refill", "keys"}`.
///
/// ```
/// use keygate_core::account::{Account, AccountView};
///
/// let view = AccountView { account: Account::new("acme", "ada")?, credits: None, refill: None, keys: 0 };
/// let json = serde_json::to_value(&view)?;
/// assert_eq!(json, serde_json::json!({"tenant": "acme", "owner": "ada", "credits": null, "refill": null, "keys": 0}));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountView {
    /// The account.
    pub account: Account,
    /// Its balance, with any due refill applied; `None` when the account is not metered
    /// (it was never given credits nor a refill): its keys are then unlimited.
    pub credits: Option<u64>,
    /// Its refill rule, if any.
    pub refill: Option<Refill>,
    /// Its active keys.
    pub keys: u64,
}

impl Serialize for AccountView {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a> {
            tenant: &'a str,
            owner: &'a str,
            credits: Option<u64>,
            refill: Option<Refill>,
            keys: u64,
        }
        Shown {
            tenant: &self.account.tenant,
            owner: &self.account.owner,
            credits: self.credits,
            refill: self.refill,
            keys: self.keys,
        }
        .serialize(serializer)
    }
}

/// A tenant with keys: how many active keys it has, and how many accounts own some.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TenantSummary {
    /// The tenant.
    pub tenant: Arc<str>,
    /// Its active keys.
    pub keys: u64,
    /// Its accounts that own an active key.
    pub accounts: u64,
}

impl TenantSummary {
    /// A summary, as a store reports it.
    pub fn new(tenant: Arc<str>, keys: u64, accounts: u64) -> Self {
        Self {
            tenant,
            keys,
            accounts,
        }
    }
}

/// One page of tenants, ordered by name (bytewise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TenantPage {
    /// The tenants.
    pub tenants: Vec<TenantSummary>,
    /// Whether more follow the last one.
    pub has_more: bool,
}

/// One page of accounts, ordered by tenant then owner (bytewise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AccountPage {
    /// The accounts.
    pub accounts: Vec<AccountView>,
    /// Whether more follow the last one.
    pub has_more: bool,
}
