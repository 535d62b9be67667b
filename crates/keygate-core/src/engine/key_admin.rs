//! [`KeyAdmin`]: key administration on behalf of the principal of a request, with the
//! tenant rules enforced here, whatever the application's handler does.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use super::Keygate;
use super::keys::{AdminError, CreatedKey, KeyPage};
use crate::access::AuthMethod;
use crate::error::AuthError;
use crate::key::{Environment, KeyId, KeyKind, KeyRecord, KeyStatus, NewKey};
use crate::principal::Principal;

impl Keygate {
    /// Key administration by `by`, the principal of an admin request: the changes are
    /// recorded in the audit trail with it, and the tenant rules are enforced for it.
    ///
    /// - The platform operator acts on every tenant.
    /// - A tenant's `sk_` key acts on its own tenant only: another tenant's key is
    ///   [`NotFound`](AdminError::NotFound), creating or listing for another tenant is 403
    ///   `tenant_forbidden`; a key created without a tenant gets the key's tenant.
    /// - A test key cannot create or change live keys (403 `environment_forbidden`).
    /// - No key outlives the key that made it: a key with an expiry creates keys that
    ///   expire no later than itself.
    /// - A key in its rotation grace may read, but every change it attempts is 403
    ///   `expiring_credential`, so a leaked key that was rotated cannot lock out its
    ///   successor; a key with an expiry cannot rotate keys (same code).
    /// - Only the platform secret creates credits (`credits` or `refill` at creation,
    ///   top-ups, account credits and refills) and lists tenants: 403 `operator_required`,
    ///   checked before `expiring_credential`.
    /// - A key with an owner is refused (403 `secret_key_required`): it acts for its
    ///   owner only.
    /// - Any other principal (a restricted or publishable key, a token, a user JWT, a
    ///   principal under impersonation) is refused: 403 `secret_key_required` (or
    ///   `impersonation_forbidden`).
    ///
    /// The acting key's record is read again from the store for each call, so a key
    /// revoked or rotated since the request was authenticated is judged as it stands. A
    /// refusal is [`AdminError::Refused`], carrying the [`AuthError`] to answer with.
    ///
    /// ```
    /// use keygate_core::key::{KeyKind, NewKey};
    /// use keygate_core::{Environment, Keygate, Pepper, Principal};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let keygate = Keygate::builder().pepper(Pepper::generate()?).build()?;
    /// let operator = Principal::operator();
    /// let created = keygate
    ///     .admin(&operator)
    ///     .create_key(NewKey::new(KeyKind::Secret, Environment::Test))
    ///     .await?;
    /// keygate.admin(&operator).revoke_key(&created.record.id).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn admin<'a>(&'a self, by: &'a Principal) -> KeyAdmin<'a> {
        KeyAdmin { keygate: self, by }
    }
}

/// Key administration by a known principal, with the tenant rules enforced: from
/// [`Keygate::admin`], which lists the rules. An admin handler passes the principal its
/// middleware established and needs no checks of its own:
///
/// ```
/// use keygate_core::key::{KeyKind, NewKey};
/// use keygate_core::{AdminError, AuthError, Environment, Keygate, Pepper, Principal};
///
/// /// `POST /keys`: whatever the body asks, the rules hold.
/// async fn create(keygate: &Keygate, admin: &Principal, new: NewKey) -> http::Response<String> {
///     match keygate.admin(admin).create_key(new).await {
///         Ok(created) => http::Response::new(created.record.id.to_string()),
///         Err(AdminError::Refused(refusal)) => refusal.to_response(),
///         Err(AdminError::Invalid(detail)) => AuthError::invalid_request(detail).to_response(),
///         Err(_) => {
///             let mut failed = http::Response::new(String::new());
///             *failed.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
///             failed
///         }
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct KeyAdmin<'a> {
    pub(super) keygate: &'a Keygate,
    pub(super) by: &'a Principal,
}

/// Who acts, as the store has it now.
#[derive(Debug)]
pub(super) enum Actor {
    /// The platform secret: every tenant.
    Operator,
    /// A tenant's `sk_` key.
    Key(Arc<KeyRecord>),
}

pub(super) fn refused(error: AuthError) -> AdminError {
    AdminError::Refused(error)
}

impl Actor {
    /// The tenant this key manages (`None`: a key of no tenant manages nothing).
    pub(super) fn tenant(&self) -> Option<&str> {
        match self {
            Self::Operator => None,
            Self::Key(record) => record.tenant.as_deref(),
        }
    }

    /// Whether this actor may see `record`: the operator every key, a tenant's key those
    /// of its tenant.
    fn sees(&self, record: &KeyRecord) -> bool {
        match self {
            Self::Operator => true,
            Self::Key(_) => self.tenant().is_some() && record.tenant.as_deref() == self.tenant(),
        }
    }

    /// Whether this actor may see the accounts of `tenant`.
    pub(super) fn sees_tenant(&self, tenant: &str) -> bool {
        match self {
            Self::Operator => true,
            Self::Key(_) => self.tenant() == Some(tenant),
        }
    }

    /// 403 `operator_required` for anyone but the operator.
    pub(super) fn must_be_operator(&self) -> Result<(), AdminError> {
        match self {
            Self::Operator => Ok(()),
            Self::Key(_) => Err(refused(AuthError::OperatorRequired)),
        }
    }

    /// 403 `expiring_credential` for a key in its rotation grace.
    fn must_not_be_rotated(&self) -> Result<(), AdminError> {
        match self {
            Self::Key(record) if record.valid_until.is_some() => {
                Err(refused(AuthError::ExpiringCredential))
            }
            _ => Ok(()),
        }
    }

    /// 403 `environment_forbidden` for a test key touching a live key.
    fn may_touch(&self, environment: Environment) -> Result<(), AdminError> {
        match self {
            Self::Key(record)
                if record.environment == Environment::Test && environment == Environment::Live =>
            {
                Err(refused(AuthError::EnvironmentForbidden))
            }
            _ => Ok(()),
        }
    }

    /// The tenant a listing or a new key is for: the operator names any tenant (or
    /// none); a tenant's key its own (the default), never another (403
    /// `tenant_forbidden`).
    pub(super) fn acting_tenant<'r>(
        &'r self,
        requested: Option<&'r str>,
    ) -> Result<Option<&'r str>, AdminError> {
        match (self, self.tenant(), requested) {
            (Self::Operator, _, requested) => Ok(requested),
            (Self::Key(_), Some(own), None) => Ok(Some(own)),
            (Self::Key(_), Some(own), Some(requested)) if own == requested => Ok(Some(own)),
            (Self::Key(_), _, _) => Err(refused(AuthError::TenantForbidden)),
        }
    }
}

impl KeyAdmin<'_> {
    /// The principal, judged against the store as it stands now.
    pub(super) async fn actor(&self, now: OffsetDateTime) -> Result<Actor, AdminError> {
        let by = self.by;
        if by.is_operator() {
            return Ok(Actor::Operator);
        }
        if by.is_impersonating() {
            return Err(refused(AuthError::ImpersonationForbidden));
        }
        // A key with an owner acts for its owner only: never as an administrator.
        if by.is_owned() {
            return Err(refused(AuthError::SecretKeyRequired));
        }
        let Some(key_id) = by.key_id.as_ref().filter(|_| {
            matches!(by.method, AuthMethod::SecretKey | AuthMethod::ApiKey)
                && by.key_kind == Some(KeyKind::Secret)
        }) else {
            return Err(refused(AuthError::SecretKeyRequired));
        };
        let record = self
            .keygate
            .inner
            .keys
            .get(key_id)
            .await
            .map_err(AdminError::Unavailable)?
            .ok_or(refused(AuthError::InvalidSecretKey))?;
        if record.kind != KeyKind::Secret || record.owner.is_some() {
            return Err(refused(AuthError::SecretKeyRequired));
        }
        match record.status(now) {
            KeyStatus::Active => Ok(Actor::Key(record)),
            KeyStatus::Revoked => Err(refused(AuthError::KeyRevoked)),
            KeyStatus::Expired => Err(refused(AuthError::KeyExpired)),
        }
    }

    /// Key `id`, if `actor` may see it; [`AdminError::NotFound`] otherwise, so another
    /// tenant's key is not told apart from a key that does not exist.
    async fn visible(&self, actor: &Actor, id: &KeyId) -> Result<Arc<KeyRecord>, AdminError> {
        let record = self.keygate.get_key(id).await?;
        if actor.sees(&record) {
            Ok(record)
        } else {
            Err(AdminError::NotFound)
        }
    }

    pub(super) fn now(&self) -> OffsetDateTime {
        self.keygate.inner.clock.now()
    }

    /// The rules every admin change follows, for an application's own tenant-scoped admin
    /// resources (the reference platform's catalogues, say): the principal must be the
    /// operator or an active tenant `sk_` key not in its rotation grace (403
    /// `expiring_credential`), and acts in its own tenant only. Returns the tenant the
    /// change is for: `requested` for the operator, else the key's own tenant (the
    /// default); another is 403 `tenant_forbidden`.
    ///
    /// ```
    /// use keygate_core::{Keygate, Pepper, Principal};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let keygate = Keygate::builder().pepper(Pepper::generate()?).build()?;
    /// let operator = Principal::operator();
    /// let tenant = keygate.admin(&operator).authorize_change(Some("acme")).await?;
    /// assert_eq!(tenant.as_deref(), Some("acme"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn authorize_change(
        &self,
        requested: Option<&str>,
    ) -> Result<Option<String>, AdminError> {
        let actor = self.actor(self.now()).await?;
        actor.must_not_be_rotated()?;
        Ok(actor.acting_tenant(requested)?.map(str::to_owned))
    }

    /// [`Keygate::create_key`], by this principal. `new.tenant` `None` means the acting
    /// key's tenant (for the operator: a key of no tenant); `new.expires_at` is brought
    /// forward to the acting key's own expiry.
    pub async fn create_key(&self, mut new: NewKey) -> Result<CreatedKey, AdminError> {
        let actor = self.actor(self.now()).await?;
        if new.credits.is_some() || new.refill.is_some() {
            actor.must_be_operator()?;
        }
        actor.must_not_be_rotated()?;
        let tenant = actor
            .acting_tenant(new.tenant.as_deref())?
            .map(str::to_owned);
        actor.may_touch(new.environment)?;
        if let Actor::Key(record) = &actor
            && let Some(limit) = record.expires_at
        {
            new.expires_at = Some(new.expires_at.map_or(limit, |asked| asked.min(limit)));
        }
        new.tenant = tenant;
        self.keygate.create_key_by(new, Some(self.by), None).await
    }

    /// [`Keygate::get_key`], by this principal: another tenant's key is
    /// [`NotFound`](AdminError::NotFound).
    pub async fn get_key(&self, id: &KeyId) -> Result<Arc<KeyRecord>, AdminError> {
        let actor = self.actor(self.now()).await?;
        self.visible(&actor, id).await
    }

    /// [`Keygate::list_keys`], by this principal: a tenant's key lists its own tenant
    /// (`tenant` `None` or its own), never another (403 `tenant_forbidden`).
    pub async fn list_keys(
        &self,
        tenant: Option<&str>,
        after: Option<&KeyId>,
        limit: usize,
    ) -> Result<KeyPage, AdminError> {
        let actor = self.actor(self.now()).await?;
        let tenant = actor.acting_tenant(tenant)?;
        self.keygate.list_keys(tenant, after, limit).await
    }

    /// [`Keygate::revoke_key`], by this principal.
    pub async fn revoke_key(&self, id: &KeyId) -> Result<Arc<KeyRecord>, AdminError> {
        let actor = self.actor(self.now()).await?;
        actor.must_not_be_rotated()?;
        let record = self.visible(&actor, id).await?;
        actor.may_touch(record.environment)?;
        self.keygate.revoke_key_by(&record.id, Some(self.by)).await
    }

    /// [`Keygate::rotate_key`], by this principal. A key with an expiry (or in its
    /// rotation grace) cannot rotate: the new key would outlive it.
    pub async fn rotate_key(&self, id: &KeyId, grace: Duration) -> Result<CreatedKey, AdminError> {
        let actor = self.actor(self.now()).await?;
        if let Actor::Key(record) = &actor
            && (record.expires_at.is_some() || record.valid_until.is_some())
        {
            return Err(refused(AuthError::ExpiringCredential));
        }
        let record = self.visible(&actor, id).await?;
        actor.may_touch(record.environment)?;
        self.keygate
            .rotate_key_by(&record.id, grace, Some(self.by))
            .await
    }

    /// [`Keygate::add_credits`], by this principal: the platform operator only (403
    /// `operator_required` for a tenant's key).
    pub async fn add_credits(&self, id: &KeyId, amount: u64) -> Result<u64, AdminError> {
        let actor = self.actor(self.now()).await?;
        actor.must_be_operator()?;
        self.keygate.add_credits_by(id, amount, Some(self.by)).await
    }
}
