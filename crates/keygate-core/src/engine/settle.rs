//! Step 8, the engine's half: settling a grant once the handler has answered, so a
//! refused or failed request gets its credits (and a one-time token its use) back.

use super::Keygate;
use super::grant::Grant;
use crate::error::AuthError;
use crate::meter::CreditDebit;

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
    /// error): log the error (the first one, when both fail); the grant keeps what was
    /// not given back, so the call can be retried.
    pub async fn settle(&self, grant: &mut Grant, status: u16) -> Result<(), AuthError> {
        let (refunded, released) = self.settle_parts(grant, Some(status)).await;
        refunded.and(released)
    }

    /// What an adapter does once the handler has answered: [`settle`](Self::settle) with
    /// the response status, or, when the service failed without an answer (`None`),
    /// treat it as a 5xx: refund the credits and leave a one-time token used (the
    /// service may have acted). A failed refund or release leaves the answer standing;
    /// each is logged at `warn` (code and reason, never a credential) so an operator can
    /// reconcile, and not retried. Then copy [`Grant::headers`] onto the response.
    pub async fn finish(&self, grant: &mut Grant, status: Option<u16>) {
        let (refunded, released) = self.settle_parts(grant, status).await;
        if let Err(error) = refunded {
            tracing::warn!(code = error.code(), %error, "keygate: refunding credits failed");
        }
        if let Err(error) = released {
            tracing::warn!(
                code = error.code(),
                %error,
                "keygate: giving back a one-time token's use failed"
            );
        }
    }

    /// The two halves of [`settle`](Self::settle): the refund, then the release. `None`
    /// is a service that failed without an answer, settled as a 5xx.
    async fn settle_parts(
        &self,
        grant: &mut Grant,
        status: Option<u16>,
    ) -> (Result<(), AuthError>, Result<(), AuthError>) {
        let failed = status.is_none_or(|status| status >= 400);
        let refused = status.is_some_and(|status| (400..500).contains(&status));
        let refunded = if failed {
            self.refund(grant).await
        } else {
            Ok(())
        };
        let released = if refused {
            self.release(grant).await
        } else {
            Ok(())
        };
        (refunded, released)
    }

    /// Gives back the one-time token's use an allowed request took, once per grant. If
    /// the meter fails, the grant keeps the token id.
    async fn release(&self, grant: &mut Grant) -> Result<(), AuthError> {
        let Some(token_id) = &grant.one_time else {
            return Ok(());
        };
        self.inner
            .meter
            .release_one_time(token_id)
            .await
            .map_err(AuthError::AuthUnavailable)?;
        grant.one_time = None;
        Ok(())
    }

    /// Gives back the credits an allowed request took, whatever the status (a one-time
    /// token stays used: only [`settle`](Self::settle) gives that back, for a 4xx).
    /// Calling it again for the same grant does nothing. If the meter fails, the grant
    /// keeps its debit so the refund can be retried.
    pub async fn refund(&self, grant: &mut Grant) -> Result<(), AuthError> {
        let Some(debit) = &grant.debit else {
            return Ok(());
        };
        let refund: CreditDebit<'_> = debit.as_debit();
        self.inner
            .meter
            .refund(&refund)
            .await
            .map_err(AuthError::AuthUnavailable)?;
        let cost = debit.cost;
        grant.debit = None;
        grant.credits_remaining = grant
            .credits_remaining
            .map(|left| left.saturating_add(cost));
        Ok(())
    }
}
