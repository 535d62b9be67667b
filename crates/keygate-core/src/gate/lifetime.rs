//! [`Lifetime`]: how long an admitted credential stays good, for connections that outlive
//! their request (a WebSocket, a server-sent event stream).
//!
//! A request is checked once, at its start. A connection opened by that request goes on
//! after the check, so the adapter must learn when the credential ends: when a token's or
//! key's expiry passes, or when the API key behind it (the key itself, or the key that
//! minted the token) is revoked, expires or passes its rotation grace. [`Lifetime::check`]
//! answers that once; [`Lifetime::ended`] re-checks at an interval the adapter picks and
//! resolves when it has ended.
//!
//! The check is a re-verification, not a timer: time is read from the engine's
//! [`Clock`](crate::Clock) (a [`ManualClock`](crate::ManualClock) in tests, which moves
//! without waking sleepers), and the key is read through the engine's key store and its
//! cache. So an end is seen at the first check after it, and a revocation made on another
//! instance at the first check after the cache lets the key go (its bound, 1 s with
//! keygate-sqlx). With a 1 s interval, a revoked key's connections end within about 2 s.

use std::fmt;
use std::time::Duration;

use time::OffsetDateTime;

use crate::access::AuthMethod;
use crate::engine::Keygate;
use crate::error::AuthError;
use crate::key::{KeyId, KeyStatus};
use crate::principal::Principal;

/// What an admitted principal's credential lasts: until its expiry, and no longer than
/// the API key behind it stays active. Cheap to clone; holds no secret.
///
/// ```
/// use std::time::Duration;
/// use keygate_core::Lifetime;
/// use keygate_core::{Access, Gate, Keygate, Pepper, PlatformSecret};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let secret = PlatformSecret::generate()?;
/// # let keygate = Keygate::builder().pepper(Pepper::generate()?).platform_secret(&secret).build()?;
/// # let request = http::Request::builder().header("x-client-secret", secret.expose()).body(())?;
/// let gate = Gate::new(&keygate, Access::authenticated());
/// let admission = gate.admit(&request).await?;
/// let lifetime = admission.lifetime().expect("a credential was presented");
/// assert!(lifetime.check().await.is_ok());
///
/// // In the connection's task, beside reading and writing frames:
/// tokio::select! {
///     ended = lifetime.ended(Duration::from_secs(1)) => {
///         // close the connection (a WebSocket with 1008), saying `ended.code()`
///         # let _ = ended;
///     }
///     () = async {} => { /* the connection ended by itself */ }
/// }
/// # let _ = admission.settle(Some(http::StatusCode::SWITCHING_PROTOCOLS)).await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Lifetime {
    keygate: Keygate,
    key_id: Option<KeyId>,
    expires_at: Option<OffsetDateTime>,
    /// Whether the credential is a token or a user JWT (its expiry ends it as
    /// `token_expired`) rather than a key (`key_expired`).
    token: bool,
}

impl Lifetime {
    /// The lifetime of `principal`'s credential, as `keygate` admitted it. A principal
    /// without a key and without an expiry (the platform secret, a token the secret
    /// minted without one) never ends by itself.
    pub fn of(keygate: &Keygate, principal: &Principal) -> Self {
        Self {
            keygate: keygate.clone(),
            key_id: principal.key_id.clone(),
            expires_at: principal.expires_at,
            token: !matches!(principal.method, AuthMethod::ApiKey | AuthMethod::SecretKey),
        }
    }

    /// When the credential expires, if it does (the key may end it sooner).
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.expires_at
    }

    /// The API key the credential follows, if one.
    pub fn key_id(&self) -> Option<&KeyId> {
        self.key_id.as_ref()
    }

    /// Checks now whether the credential is still good: `Ok(())`, or why it has ended —
    /// [`AuthError::TokenExpired`] once a token's expiry has passed on the engine's clock
    /// (a user JWT's too; [`AuthError::KeyExpired`] for an API key's), [`AuthError::KeyRevoked`] or
    /// [`AuthError::KeyExpired`] for the key behind it, [`AuthError::InvalidToken`] when
    /// that key is gone, and [`AuthError::AuthUnavailable`] when the store cannot be
    /// read (fail closed: a credential that cannot be checked is not kept open).
    pub async fn check(&self) -> Result<(), AuthError> {
        let now = self.keygate.clock().now();
        if self.expires_at.is_some_and(|at| at <= now) {
            return Err(if self.token {
                AuthError::TokenExpired
            } else {
                AuthError::KeyExpired
            });
        }
        let Some(id) = &self.key_id else {
            return Ok(());
        };
        let record = self
            .keygate
            .key_store()
            .get(id)
            .await
            .map_err(AuthError::AuthUnavailable)?
            .ok_or(AuthError::InvalidToken)?;
        match record.status(now) {
            KeyStatus::Active => Ok(()),
            KeyStatus::Revoked => Err(AuthError::KeyRevoked),
            KeyStatus::Expired => Err(AuthError::KeyExpired),
        }
    }

    /// Resolves when the credential has ended, with the reason (see [`check`](Self::check)):
    /// checks at once, then every `every` (at least 10 ms). Cancel-safe: drop it to stop
    /// watching. Sleeps on tokio's timer, so the adapter's runtime must have one.
    pub async fn ended(&self, every: Duration) -> AuthError {
        let mut interval = tokio::time::interval(every.max(Duration::from_millis(10)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(ended) = self.check().await {
                return ended;
            }
        }
    }
}

impl fmt::Debug for Lifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lifetime")
            .field("key_id", &self.key_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration as StdDuration;

    use time::Duration;
    use time::macros::datetime;

    use super::*;
    use crate::access::Access;
    use crate::gate::Gate;
    use crate::key::{Environment, KeyKind, NewKey};
    use crate::secret::{Pepper, PlatformSecret};
    use crate::token::{TokenKind, TokenRequest};
    use crate::{ManualClock, MemoryKeyStore};

    struct World {
        keygate: Keygate,
        clock: ManualClock,
        secret: PlatformSecret,
    }

    fn world() -> World {
        let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
        let secret = PlatformSecret::generate().expect("a secret");
        let keygate = Keygate::builder()
            .pepper(Pepper::generate().expect("a pepper"))
            .platform_secret(&secret)
            .key_store(MemoryKeyStore::new())
            .clock(clock.clone())
            .build()
            .expect("the engine");
        World {
            keygate,
            clock,
            secret,
        }
    }

    /// The principal `header: value` is admitted as.
    async fn principal(keygate: &Keygate, header: &str, value: &str) -> Principal {
        let request = http::Request::builder()
            .header(header, value)
            .body(())
            .expect("a request");
        let gate = Gate::new(keygate, Access::authenticated());
        let admission = gate.admit(&request).await.expect("admitted");
        let principal = admission.principal().cloned().expect("a principal");
        let _ = admission.settle(Some(http::StatusCode::OK)).await;
        principal
    }

    /// A tenant's `sk_` key and a client token it minted for `ttl`: their principals and
    /// the key's id.
    async fn key_and_token(w: &World, ttl: Duration) -> (Principal, Principal, KeyId) {
        let created = w
            .keygate
            .create_key(NewKey {
                tenant: Some("acme".into()),
                ..NewKey::new(KeyKind::Secret, Environment::Live)
            })
            .await
            .expect("a key");
        let key = principal(&w.keygate, "x-api-key", created.key.expose()).await;
        let token = w
            .keygate
            .issue_token(
                &key,
                TokenRequest {
                    lifetime: Some(ttl),
                    ..TokenRequest::new(TokenKind::Client)
                },
            )
            .expect("a client token");
        let minted = principal(&w.keygate, "x-api-key", token.expose()).await;
        (key, minted, created.record.id.clone())
    }

    #[tokio::test]
    async fn a_token_ends_when_its_expiry_passes_on_the_engine_clock() {
        let w = world();
        let (_, token, _) = key_and_token(&w, Duration::seconds(60)).await;
        let lifetime = Lifetime::of(&w.keygate, &token);
        assert_eq!(lifetime.expires_at(), Some(datetime!(2030-01-01 0:01 UTC)));
        assert!(lifetime.check().await.is_ok());
        w.clock.advance(Duration::seconds(59));
        assert!(lifetime.check().await.is_ok());
        w.clock.advance(Duration::seconds(1));
        assert!(matches!(
            lifetime.check().await,
            Err(AuthError::TokenExpired)
        ));
    }

    #[tokio::test]
    async fn a_token_and_its_key_end_when_the_key_is_revoked() {
        let w = world();
        let (key, token, id) = key_and_token(&w, Duration::seconds(600)).await;
        let (of_key, of_token) = (
            Lifetime::of(&w.keygate, &key),
            Lifetime::of(&w.keygate, &token),
        );
        assert_eq!(of_token.key_id(), Some(&id));
        assert!(of_key.check().await.is_ok() && of_token.check().await.is_ok());
        w.keygate.revoke_key(&id).await.expect("revoked");
        assert!(matches!(of_token.check().await, Err(AuthError::KeyRevoked)));
        assert!(matches!(of_key.check().await, Err(AuthError::KeyRevoked)));
    }

    #[tokio::test]
    async fn a_key_past_its_expiry_ends_as_key_expired() {
        let w = world();
        let created = w
            .keygate
            .create_key(NewKey {
                expires_at: Some(datetime!(2030-01-01 0:10 UTC)),
                ..NewKey::new(KeyKind::Secret, Environment::Live)
            })
            .await
            .expect("a key");
        let key = principal(&w.keygate, "x-api-key", created.key.expose()).await;
        let lifetime = Lifetime::of(&w.keygate, &key);
        assert!(lifetime.check().await.is_ok());
        w.clock.advance(Duration::minutes(10));
        assert!(matches!(lifetime.check().await, Err(AuthError::KeyExpired)));
    }

    #[tokio::test]
    async fn the_platform_secret_never_ends_by_itself() {
        let w = world();
        let operator = principal(&w.keygate, "x-client-secret", w.secret.expose()).await;
        let lifetime = Lifetime::of(&w.keygate, &operator);
        w.clock.advance(Duration::days(3650));
        assert!(lifetime.check().await.is_ok());
        assert_eq!((lifetime.key_id(), lifetime.expires_at()), (None, None));
    }

    /// `ended` re-checks on tokio's timer (paused here: no real sleeping) and sees the
    /// manual clock move at its next check.
    #[tokio::test(start_paused = true)]
    async fn ended_resolves_at_the_first_check_after_the_end() {
        let w = world();
        let (_, token, id) = key_and_token(&w, Duration::seconds(30)).await;
        let lifetime = Lifetime::of(&w.keygate, &token);
        let watch = lifetime.clone();
        let watching = tokio::spawn(async move { watch.ended(StdDuration::from_secs(1)).await });
        tokio::time::sleep(StdDuration::from_millis(2_500)).await;
        assert!(!watching.is_finished(), "still good: not ended");
        w.clock.advance(Duration::seconds(30));
        let started = tokio::time::Instant::now();
        let ended = watching.await.expect("the watch");
        assert!(matches!(ended, AuthError::TokenExpired), "{ended:?}");
        assert!(started.elapsed() <= StdDuration::from_secs(1));

        // And a revocation: a fresh token of a key revoked while it is watched.
        let (_, token, id2) = key_and_token(&w, Duration::seconds(600)).await;
        assert_ne!(id, id2);
        let watch = Lifetime::of(&w.keygate, &token);
        let watching = tokio::spawn(async move { watch.ended(StdDuration::from_secs(1)).await });
        tokio::time::sleep(StdDuration::from_millis(1_500)).await;
        w.keygate.revoke_key(&id2).await.expect("revoked");
        let ended = watching.await.expect("the watch");
        assert!(matches!(ended, AuthError::KeyRevoked), "{ended:?}");
    }
}
