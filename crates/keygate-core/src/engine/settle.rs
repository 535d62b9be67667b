//! Step 8, the engine's half: settling a grant once the handler has answered, so a
//! refused or failed request gets its credits (and a one-time token its use) back.

use super::Keygate;
use super::grant::{Debit, Grant};
use crate::error::AuthError;
use crate::meter::Settlement;

impl Keygate {
    /// Settles a grant once the response status is known. Adapters call this (or
    /// [`finish`](Self::finish)) before writing [`Grant::headers`], so
    /// `X-Credits-Remaining` shows a refund.
    ///
    /// - **Any 4xx or 5xx** (a bad body, a refused request, a failed handler) gets its
    ///   credits back, as "a request rejected for any reason costs no credits".
    /// - **A 4xx** also gives back a one-time token's use: the request was refused, so
    ///   the token was not spent ("a ONE_TIME token is consumed only by a request it is
    ///   allowed to serve"), and it can be used again until it expires. A token route
    ///   whose handler answers 4xx must therefore not have acted.
    /// - **A 5xx** leaves the token used: a handler that failed may have acted before it
    ///   failed, and a single-use token must never be replayable after side effects.
    /// - Any other status changes nothing.
    ///
    /// Each is done at most once per grant. If the meter fails, the handler's response
    /// still stands (a failed settlement never turns an answered request into an
    /// error): log the error; the grant keeps what was not given back (credits and
    /// token are given back in one meter call, both or neither), so the call can be
    /// retried.
    pub async fn settle(&self, grant: &mut Grant, status: u16) -> Result<(), AuthError> {
        self.settle_grant(grant, Some(status)).await
    }

    /// What an adapter does once the handler has answered: [`settle`](Self::settle) with
    /// the response status, or, when the service failed without an answer (`None`),
    /// treat it as a 5xx: refund the credits and leave a one-time token used (the
    /// service may have acted). A failed settlement leaves the answer standing; it is
    /// logged at `warn` (code and reason, never a credential) so an operator can
    /// reconcile, and not retried. Then copy [`Grant::headers`] onto the response.
    pub async fn finish(&self, grant: &mut Grant, status: Option<u16>) {
        if let Err(error) = self.settle_grant(grant, status).await {
            tracing::warn!(
                code = error.code(),
                %error,
                "keygate: giving back credits or a one-time token's use failed"
            );
        }
    }

    /// [`settle`](Self::settle): one [`Settlement`] with the credits (any 4xx or 5xx) and
    /// the one-time token (a 4xx). `None` is a service that failed without an answer,
    /// settled as a 5xx.
    async fn settle_grant(&self, grant: &mut Grant, status: Option<u16>) -> Result<(), AuthError> {
        let failed = status.is_none_or(|status| status >= 400);
        let refused = status.is_some_and(|status| (400..500).contains(&status));
        self.give_back(grant, failed, refused).await
    }

    /// Gives back the grant's credits (when `credits`) and its one-time token's use (when
    /// `one_time`) in one meter call, each once per grant. If the meter fails, the grant
    /// keeps both, so the call can be retried.
    async fn give_back(
        &self,
        grant: &mut Grant,
        credits: bool,
        one_time: bool,
    ) -> Result<(), AuthError> {
        let settlement = Settlement {
            credits: grant
                .debit
                .as_ref()
                .filter(|_| credits)
                .map(Debit::as_debit),
            one_time: grant.one_time.as_deref().filter(|_| one_time),
        };
        if settlement.is_empty() {
            return Ok(());
        }
        self.inner
            .meter
            .settle(&settlement)
            .await
            .map_err(AuthError::AuthUnavailable)?;
        let (refunded, released) = (settlement.credits.is_some(), settlement.one_time.is_some());
        if refunded && let Some(debit) = grant.debit.take() {
            grant.credits_remaining = grant
                .credits_remaining
                .map(|left| left.saturating_add(debit.cost));
        }
        if released {
            grant.one_time = None;
        }
        Ok(())
    }

    /// Gives back the credits an allowed request took, whatever the status (a one-time
    /// token stays used: only [`settle`](Self::settle) gives that back, for a 4xx).
    /// Calling it again for the same grant does nothing. If the meter fails, the grant
    /// keeps its debit so the refund can be retried.
    pub async fn refund(&self, grant: &mut Grant) -> Result<(), AuthError> {
        self.give_back(grant, true, false).await
    }
}
