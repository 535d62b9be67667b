use crate::account::Refill;
use crate::gate::ResponseHeaders;
use crate::key::KeyId;
use crate::meter::{CreditAccount, CreditDebit, RateLimitStatus};
use crate::principal::Principal;

/// A request let through: who acts, and what the meter said. Adapters hold it inside an
/// [`Admission`](crate::Admission), which settles it once with the response status.
/// Code that calls [`Keygate::authenticate`](crate::Keygate::authenticate) itself settles
/// with [`Keygate::settle`](crate::Keygate::settle) (it refunds credits for any 4xx or
/// 5xx, and gives a one-time token's use back for a 4xx), then puts
/// [`headers`](Self::headers) onto the response.
///
/// Settle a grant once, not a clone of it too: each copy would give back again.
#[derive(Debug, Clone)]
pub struct Grant {
    pub(crate) principal: Principal,
    pub(crate) rate_limit: Option<RateLimitStatus>,
    /// The route's quota after this request, when one counted it.
    pub(crate) quota: Option<RateLimitStatus>,
    pub(crate) credits_remaining: Option<u64>,
    pub(crate) debit: Option<Debit>,
    /// The id of the one-time token this request consumed, until its use is given back.
    pub(crate) one_time: Option<String>,
    /// The account (key lineage) the request was metered against.
    pub(crate) account: Option<KeyId>,
}

/// Credits taken from an account, so they can be given back.
#[derive(Debug, Clone)]
pub(crate) struct Debit {
    pub(crate) account: Balance,
    pub(crate) cost: u64,
    pub(crate) allowance: u64,
    pub(crate) refill: Option<Refill>,
}

/// The balance a debit draws on, owned: a key lineage's, or an owner account's
/// (`<tenant>/<owner>`).
#[derive(Debug, Clone)]
pub(crate) enum Balance {
    Lineage(KeyId),
    Owner(String),
}

impl Balance {
    pub(crate) fn as_account(&self) -> CreditAccount<'_> {
        match self {
            Self::Lineage(id) => CreditAccount::KeyLineage(id.as_str()),
            Self::Owner(id) => CreditAccount::Owner(id),
        }
    }
}

impl Debit {
    pub(crate) fn as_debit(&self) -> CreditDebit<'_> {
        CreditDebit {
            account: self.account.as_account(),
            cost: self.cost,
            allowance: self.allowance,
            refill: self.refill,
        }
    }
}

impl Grant {
    pub(crate) fn new(principal: Principal) -> Self {
        Self {
            principal,
            rate_limit: None,
            quota: None,
            credits_remaining: None,
            debit: None,
            one_time: None,
            account: None,
        }
    }

    /// Who acts.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// Who acts, taken out of the grant.
    pub fn into_principal(self) -> Principal {
        self.principal
    }

    /// The rate limit after this request, when the key has one.
    pub fn rate_limit(&self) -> Option<&RateLimitStatus> {
        self.rate_limit.as_ref()
    }

    /// The route's quota after this request, when one counted it (see
    /// [`Access::quota`](crate::Access::quota)).
    pub fn quota(&self) -> Option<&RateLimitStatus> {
        self.quota.as_ref()
    }

    /// Credits left after this request, when the key has a credit balance (on free
    /// routes too).
    pub fn credits_remaining(&self) -> Option<u64> {
        self.credits_remaining
    }

    /// Whether credits were taken (and could be refunded).
    pub fn is_charged(&self) -> bool {
        self.debit.is_some()
    }

    /// Whether this request consumed a one-time token, and its use has not been given
    /// back since.
    pub fn consumed_one_time_token(&self) -> bool {
        self.one_time.is_some()
    }

    /// The response headers as they stand (see [`ResponseHeaders`]).
    pub fn response_headers(&self) -> ResponseHeaders {
        ResponseHeaders {
            rate_limit: self.rate_limit,
            quota: self.quota,
            credits_remaining: self.credits_remaining,
        }
    }

    /// Writes [`headers`](Self::headers) into an `http` header map (tower, axum).
    pub fn apply_headers(&self, headers: &mut http::HeaderMap) {
        self.response_headers().apply(headers);
    }

    /// The response headers: `X-RateLimit-Limit`, `X-RateLimit-Remaining`,
    /// `X-RateLimit-Reset` when a rate limit applies, `X-Quota-Limit` and
    /// `X-Quota-Remaining` when a quota does, `X-Credits-Remaining` when credits do.
    /// Names are lower case; values are integers.
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, u64)> {
        self.response_headers().entries()
    }
}
