//! [`Admission`]: a request let in, to be settled once with the route's answer.

use std::fmt;
use std::sync::Arc;

use http::StatusCode;

use super::{Gate, Lifetime};
use crate::access::Access;
use crate::engine::{Grant, Keygate};
use crate::error::CREDITS_REMAINING;
use crate::extract::Authentication;
use crate::meter::RateLimitStatus;
use crate::principal::Principal;
use crate::usage::Outcome;

/// A request a [`Gate`] let in. Settle it exactly once, with the route's status, by
/// [`settle`](Self::settle): that gives back credits for a 4xx or 5xx answer and a
/// one-time token's use for a 4xx, reports the request to the usage queue, and hands
/// back the headers to add to the response. Not `Clone`, so it cannot be settled twice.
///
/// An admission dropped unsettled (the route's future was cancelled, say by a client
/// that went away) keeps what it took: the credits stay spent and a one-time token used,
/// as for a route that failed after acting.
#[must_use = "settle the admission with the route's status: Admission::settle"]
pub struct Admission {
    keygate: Keygate,
    access: Arc<Access>,
    grant: Option<Grant>,
}

impl Admission {
    pub(super) fn new(gate: &Gate, grant: Option<Grant>) -> Self {
        Self {
            keygate: gate.keygate.clone(),
            access: Arc::clone(&gate.access),
            grant,
        }
    }

    /// Who acts; `None` on an optional route that was sent no credential.
    pub fn principal(&self) -> Option<&Principal> {
        self.grant.as_ref().map(Grant::principal)
    }

    /// The grant behind the admission (rate limit, credits), if a credential was
    /// presented.
    pub fn grant(&self) -> Option<&Grant> {
        self.grant.as_ref()
    }

    /// How long the admitted credential stays good, for a connection that outlives the
    /// request (a WebSocket): see [`Lifetime`]. `None` when no credential was presented.
    pub fn lifetime(&self) -> Option<Lifetime> {
        self.principal()
            .map(|principal| Lifetime::of(&self.keygate, principal))
    }

    /// What the adapter puts into the request's extensions, for the extractors.
    pub fn authentication(&self) -> Authentication {
        Authentication::new(self.principal().cloned(), &self.access)
            .read_from(self.keygate.shared_sources())
    }

    /// Settles the admission with the route's status, or `None` when the route failed
    /// without an answer (settled as a 5xx: credits back, a one-time token stays used).
    /// A failed refund or release is logged at `warn` and leaves the answer standing.
    /// Returns the `X-RateLimit-*` and `X-Credits-Remaining` headers to add.
    pub async fn settle(mut self, status: Option<StatusCode>) -> ResponseHeaders {
        let code = status.map(|status| status.as_u16());
        if let Some(grant) = self.grant.as_mut() {
            self.keygate.finish(grant, code).await;
        }
        self.keygate
            .report_usage(&self.access, self.grant.as_ref(), || match code {
                Some(status) => Outcome::Answered { status },
                None => Outcome::Failed,
            });
        self.grant
            .as_ref()
            .map(Grant::response_headers)
            .unwrap_or_default()
    }
}

impl fmt::Debug for Admission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admission")
            .field("access", &self.access)
            .field("grant", &self.grant)
            .finish_non_exhaustive()
    }
}

/// The headers a settled request adds to its response: `X-RateLimit-Limit`,
/// `X-RateLimit-Remaining` and `X-RateLimit-Reset` when a rate limit applies,
/// `X-Quota-Limit` and `X-Quota-Remaining` when a quota does, `X-Credits-Remaining` when
/// credits do. Names are lower case; values are integers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseHeaders {
    pub(crate) rate_limit: Option<RateLimitStatus>,
    pub(crate) quota: Option<RateLimitStatus>,
    pub(crate) credits_remaining: Option<u64>,
}

impl ResponseHeaders {
    /// The headers, as names and integer values (for adapters on other header types).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.entries()
    }

    pub(crate) fn entries(self) -> impl Iterator<Item = (&'static str, u64)> {
        self.rate_limit
            .into_iter()
            .flat_map(|status| status.headers())
            .chain(
                self.quota
                    .into_iter()
                    .flat_map(|status| status.quota_headers()),
            )
            .chain(self.credits_remaining.map(|left| (CREDITS_REMAINING, left)))
    }

    /// Writes the headers into an `http` header map (tower, axum, hyper).
    pub fn apply(&self, headers: &mut http::HeaderMap) {
        for (name, value) in self.iter() {
            headers.insert(
                http::HeaderName::from_static(name),
                http::HeaderValue::from(value),
            );
        }
    }
}
