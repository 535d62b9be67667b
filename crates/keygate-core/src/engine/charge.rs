//! Step 7: the meter. Everything a verified request needs counted is asked of the
//! [`Meter`](crate::Meter) in one call, all or nothing.

use time::OffsetDateTime;

use super::Keygate;
use super::grant::{Balance, Debit, Grant};
use super::verify::Verified;
use crate::access::Access;
use crate::error::AuthError;
use crate::key::KeyRecord;
use crate::meter::{
    Charge, CreditSeed, Limit, MeterAccount, MeterDecision, MeterRequest, OneTimeUse,
};

impl Keygate {
    pub(super) async fn charge(
        &self,
        verified: Verified,
        access: &Access,
        now: OffsetDateTime,
    ) -> Result<Grant, AuthError> {
        let key = verified.key.as_deref();
        // A key with credits has its balance read on every request (for
        // `X-Credits-Remaining`), and debited when the route costs something. A one-time or
        // session token reads it only where the route costs something: a key's tokens
        // never open a paid route the key itself could not pay for.
        let costs = access.credit_cost() > 0;
        let debit = key
            .filter(|_| verified.credits || costs)
            .and_then(|key| debit_of(key, access.credit_cost(), now));
        // The key's rate limit, counted against its lineage, then the route's quota:
        // both in the one meter call, all or nothing.
        let rate = key.and_then(|key| {
            Some(Charge {
                account: MeterAccount::key_lineage(key.lineage.as_str()),
                limit: Limit::Rate(key.rate_limit?),
            })
        });
        let quota = access.quota_limit();
        let quota_id = quota.and_then(|quota| {
            quota.account_id(&verified.principal, key.map(|key| key.lineage.as_str()))
        });
        let quota_charge = quota.zip(quota_id.as_deref()).map(|(quota, id)| Charge {
            account: quota.account(id),
            limit: Limit::Window(quota.limit()),
        });
        let both;
        let charges: &[Charge<'_>] = match (&rate, &quota_charge) {
            (Some(rate), Some(quota)) => {
                both = [*rate, *quota];
                &both
            }
            (Some(one), None) | (None, Some(one)) => std::slice::from_ref(one),
            (None, None) => &[],
        };
        let request = MeterRequest {
            now,
            charges,
            credits: debit.as_ref().map(Debit::as_debit),
            one_time: verified
                .one_time
                .as_ref()
                .map(|(token_id, issued_at, expires_at)| OneTimeUse {
                    token_id,
                    issued_at: *issued_at,
                    expires_at: *expires_at,
                }),
        };
        // Which of the request's charges is the quota (the last, when there is one).
        let is_quota = |index: usize| quota_charge.is_some() && index + 1 == charges.len();
        let mut grant = Grant::new(verified.principal);
        grant.account = key.map(|key| key.lineage.clone());
        if request.is_empty() {
            return Ok(grant);
        }
        match self
            .inner
            .meter
            .meter(&request)
            .await
            .map_err(AuthError::AuthUnavailable)?
        {
            MeterDecision::Allowed {
                tightest,
                credits_remaining,
            } => {
                // The meter reports the tightest charge: the quota's headers when it is
                // the quota, the key's rate limit otherwise.
                match tightest {
                    Some(tightest) if is_quota(tightest.charge) => {
                        grant.quota = Some(tightest.status);
                    }
                    tightest => grant.rate_limit = tightest.map(|tightest| tightest.status),
                }
                grant.credits_remaining = credits_remaining;
                // An owner account without a balance is not metered: nothing was taken.
                grant.debit = debit.filter(|debit| debit.cost > 0 && credits_remaining.is_some());
                grant.one_time = verified.one_time.map(|(token_id, _, _)| token_id);
                Ok(grant)
            }
            MeterDecision::Limited { charge, status } => {
                // A refused quota is 429 `quota_exceeded`, until the window resets.
                if is_quota(charge) {
                    return Err(AuthError::QuotaExceeded {
                        retry_after_secs: status.retry_after,
                        limit: Some(status.limit),
                    });
                }
                // The meter stopped at the limit, before the balance; a key with credits
                // still shows it (one read, and only on this refusal). A failed read
                // leaves the header out rather than turning the 429 into a 503.
                let credits_remaining = match &debit {
                    Some(debit) => self
                        .inner
                        .meter
                        .credits(debit.account.as_account(), debit.as_debit().seed(), now)
                        .await
                        .ok()
                        .flatten()
                        .map(|balance| balance.credits),
                    None => None,
                };
                Err(AuthError::RateLimited {
                    status,
                    credits_remaining,
                })
            }
            MeterDecision::InsufficientCredits {
                remaining,
                tightest,
            } => Err(AuthError::InsufficientCredits {
                remaining,
                rate_limit: tightest
                    .filter(|tightest| !is_quota(tightest.charge))
                    .map(|tightest| tightest.status),
            }),
            MeterDecision::AlreadyUsed => Err(AuthError::TokenUsed),
        }
    }
}

/// The debit a request with `key` makes: from its account's balance for a key with an
/// owner (not metered while the account has none), else from its lineage's, seeded from
/// its allowance or refill; `None` for an unlimited key.
fn debit_of(key: &KeyRecord, cost: u64, now: OffsetDateTime) -> Option<Debit> {
    if let Some(account) = key.account() {
        return Some(Debit {
            account: Balance::Owner(account.id()),
            cost,
            allowance: 0,
            refill: None,
        });
    }
    let seed = CreditSeed::of_key(key.credits, key.refill)?.as_of(key.created_at, now);
    Some(Debit {
        account: Balance::Lineage(key.lineage.clone()),
        cost,
        allowance: seed.allowance,
        refill: seed.refill,
    })
}
