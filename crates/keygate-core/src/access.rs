//! What a route requires: [`Access`], declared once when the route is built.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::meter::{MeterAccount, WindowLimit};
use crate::principal::Principal;
use crate::scope::{Scope, ScopeError};

/// How a principal authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthMethod {
    /// `x-client-secret`: the platform secret or a tenant's `sk_` key.
    SecretKey,
    /// An API key in `Authorization: Bearer` or `X-API-Key`.
    ApiKey,
    /// A one-time or session token issued by keygate.
    Token,
    /// A user JWT from a configured issuer.
    Jwt,
    /// A publishable key together with a user JWT.
    PublishableKeyJwt,
    /// An `ek_` client token.
    ClientToken,
    /// An OAuth 2.0 access token.
    #[serde(rename = "oauth")]
    OAuth,
}

impl AuthMethod {
    const ALL: [AuthMethod; 7] = [
        Self::SecretKey,
        Self::ApiKey,
        Self::Token,
        Self::Jwt,
        Self::PublishableKeyJwt,
        Self::ClientToken,
        Self::OAuth,
    ];

    /// The method as in the principal's JSON (`secret_key`, `api_key`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecretKey => "secret_key",
            Self::ApiKey => "api_key",
            Self::Token => "token",
            Self::Jwt => "jwt",
            Self::PublishableKeyJwt => "publishable_key_jwt",
            Self::ClientToken => "client_token",
            Self::OAuth => "oauth",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of [`AuthMethod`]s.
///
/// ```
/// use keygate_core::{AuthMethod, Methods};
///
/// let keys_or_tokens = Methods::from([AuthMethod::ApiKey, AuthMethod::Token]);
/// assert!(keys_or_tokens.contains(AuthMethod::Token));
/// assert!(!keys_or_tokens.contains(AuthMethod::Jwt));
/// assert_eq!(keys_or_tokens.to_string(), "api_key, token");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Methods(u8);

impl Methods {
    /// Every method.
    pub const ALL: Methods = Methods(0b111_1111);

    /// Whether `method` is in the set.
    pub fn contains(self, method: AuthMethod) -> bool {
        self.0 & method.bit() != 0
    }

    /// The set with `method` added.
    pub fn with(self, method: AuthMethod) -> Self {
        Self(self.0 | method.bit())
    }

    /// The methods in the set.
    pub fn iter(self) -> impl Iterator<Item = AuthMethod> {
        AuthMethod::ALL
            .into_iter()
            .filter(move |m| self.contains(*m))
    }
}

impl<const N: usize> From<[AuthMethod; N]> for Methods {
    fn from(methods: [AuthMethod; N]) -> Self {
        methods.into_iter().fold(Methods(0), Methods::with)
    }
}

impl fmt::Display for Methods {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, method) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(method.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Methods {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Whether a route needs a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TenantRule {
    /// As the engine is configured ([`KeygateBuilder::require_tenant`](crate::KeygateBuilder::require_tenant)).
    Default,
    Required,
    Optional,
}

/// What a route requires. Declared once, when the route is built, and passed to
/// [`Keygate::authenticate`](crate::Keygate::authenticate) for each request.
///
/// ```
/// use keygate_core::{Access, AuthMethod, Methods};
///
/// // Admin routes: the platform secret (or a tenant's sk_ key) in x-client-secret, only.
/// let admin = Access::admin();
///
/// // A metered route: any API key, one credit per call.
/// let detect = Access::authenticated()
///     .accept(Methods::from([AuthMethod::ApiKey]))
///     .cost(1);
///
/// // A scoped route that needs a tenant.
/// let gateway = Access::scoped("llm:invoke")?.require_tenant();
/// assert_eq!(gateway.scope().map(|s| s.as_str()), Some("llm:invoke"));
/// # Ok::<(), keygate_core::ScopeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    admin: bool,
    operator: bool,
    scope: Option<Scope>,
    methods: Methods,
    tenant: TenantRule,
    cost: u64,
    impersonation: bool,
    secret_keys_only: bool,
    name: Option<Arc<str>>,
    quota: Option<Quota>,
}

impl Access {
    /// Any valid credential, with no particular scope.
    pub fn authenticated() -> Self {
        Self {
            admin: false,
            operator: false,
            scope: None,
            methods: Methods::ALL,
            tenant: TenantRule::Default,
            cost: 0,
            impersonation: true,
            secret_keys_only: false,
            name: None,
            quota: None,
        }
    }

    /// An admin route: only `x-client-secret` (the platform secret, or a tenant's `sk_`
    /// key for that tenant) opens it. Any other credential is refused with 403
    /// `secret_key_required` without being verified or consumed; nothing is metered.
    pub fn admin() -> Self {
        Self {
            admin: true,
            methods: Methods::from([AuthMethod::SecretKey]),
            impersonation: false,
            ..Self::authenticated()
        }
    }

    /// An operator-only route: an [admin route](Self::admin) that only the platform
    /// secret opens. A tenant's `sk_` key in `x-client-secret` is verified and then
    /// refused with 403 `operator_required`; any other credential is refused with 403
    /// `secret_key_required`, unverified and unconsumed, as on every admin route.
    ///
    /// ```
    /// use keygate_core::{Access, Keygate, Pepper, PlatformSecret};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let secret = PlatformSecret::generate()?;
    /// let keygate = Keygate::builder()
    ///     .pepper(Pepper::generate()?)
    ///     .platform_secret(&secret)
    ///     .build()?;
    /// let operator_only = Access::operator();
    /// assert!(operator_only.is_admin() && operator_only.is_operator_only());
    ///
    /// let request = http::Request::builder()
    ///     .header("x-client-secret", secret.expose())
    ///     .body(())?;
    /// let grant = keygate.authenticate(&request, &operator_only).await?;
    /// assert!(grant.principal().is_operator());
    /// # Ok(())
    /// # }
    /// ```
    pub fn operator() -> Self {
        Self {
            operator: true,
            ..Self::admin()
        }
    }

    /// A route that needs `scope`.
    pub fn for_scope(scope: Scope) -> Self {
        Self {
            scope: Some(scope),
            ..Self::authenticated()
        }
    }

    /// A route that needs the scope written as `scope`.
    pub fn scoped(scope: &str) -> Result<Self, ScopeError> {
        Ok(Self::for_scope(Scope::new(scope)?))
    }

    /// Accept only these kinds of credential (besides `x-client-secret`, which opens
    /// every route). Another kind is refused with 403 `credential_not_accepted`, without
    /// being verified or consumed.
    pub fn accept(mut self, methods: Methods) -> Self {
        self.methods = methods.with(AuthMethod::SecretKey);
        self
    }

    /// The principal must belong to a tenant (403 `tenant_required` otherwise). The
    /// platform secret, which acts for every tenant, passes.
    pub fn require_tenant(mut self) -> Self {
        self.tenant = TenantRule::Required;
        self
    }

    /// Exempts this route from an engine-wide tenant requirement.
    pub fn tenant_optional(mut self) -> Self {
        self.tenant = TenantRule::Optional;
        self
    }

    /// Each request costs `credits` from keys that carry a credit balance.
    pub fn cost(mut self, credits: u64) -> Self {
        self.cost = credits;
        self
    }

    /// Refuse `X-On-Behalf-Of` here (403 `impersonation_forbidden`), as on routes that
    /// mint keys or tokens. Admin routes always refuse it.
    pub fn forbid_impersonation(mut self) -> Self {
        self.impersonation = false;
        self
    }

    /// Of the API keys, only secret (`sk_`) keys open this route, as on routes that mint
    /// client tokens. Another kind (a `pk_`, `rk_` or custom key, or a `pk_` key paired
    /// with a user JWT) is refused with 403 `secret_key_required` without being verified.
    /// `x-client-secret` is unaffected (it holds only the platform secret or `sk_` keys).
    pub fn secret_keys_only(mut self) -> Self {
        self.secret_keys_only = true;
        self
    }

    /// Names the route, so its [usage records](crate::usage::UsageRecord) say which
    /// route they were for (`"detect"`, `"admin.keys.create"`, …). Names are not secret
    /// and not checked.
    ///
    /// ```
    /// use keygate_core::Access;
    ///
    /// let detect = Access::authenticated().cost(1).named("detect");
    /// assert_eq!(detect.name().map(|name| &**name), Some("detect"));
    /// ```
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(Arc::from(name));
        self
    }

    /// Counts each request against `quota`: a fixed window per UTC day or month, charged
    /// to the principal's user, tenant or key (see [`Quota`]) as one more charge in the
    /// route's single meter call. A request past it is refused with 429 `quota_exceeded`
    /// and a `Retry-After` reaching the reset; allowed responses carry `X-Quota-Limit`
    /// and `X-Quota-Remaining`. A refused request spends no quota.
    ///
    /// ```
    /// use keygate_core::access::{Quota, QuotaSubject};
    /// use keygate_core::meter::WindowLimit;
    /// use keygate_core::{Access, AuthMethod, Methods};
    ///
    /// // Five free detections per user per UTC day, for user JWTs only.
    /// let detect = Access::authenticated()
    ///     .accept(Methods::from([AuthMethod::Jwt]))
    ///     .quota(Quota::new(WindowLimit::per_day(5)?, QuotaSubject::User));
    /// assert_eq!(detect.quota_limit().map(|q| q.limit().count()), Some(5));
    /// # Ok::<(), keygate_core::meter::WindowLimitError>(())
    /// ```
    pub fn quota(mut self, quota: Quota) -> Self {
        self.quota = Some(quota);
        self
    }

    /// The route's quota, if it has one.
    pub fn quota_limit(&self) -> Option<&Quota> {
        self.quota.as_ref()
    }

    /// The route's name, if it has one.
    pub fn name(&self) -> Option<&Arc<str>> {
        self.name.as_ref()
    }

    /// Whether only secret keys open this route among API keys.
    pub fn requires_secret_keys(&self) -> bool {
        self.secret_keys_only
    }

    /// Whether this is an admin route (operator-only routes are admin routes too).
    pub fn is_admin(&self) -> bool {
        self.admin
    }

    /// Whether only the platform secret opens this route ([`Access::operator`]).
    pub fn is_operator_only(&self) -> bool {
        self.operator
    }

    /// The scope the route needs, if any.
    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }

    /// The kinds of credential the route accepts.
    pub fn methods(&self) -> Methods {
        self.methods
    }

    /// Credits each request costs.
    pub fn credit_cost(&self) -> u64 {
        self.cost
    }

    /// Whether `X-On-Behalf-Of` may be used here.
    pub fn allows_impersonation(&self) -> bool {
        self.impersonation
    }

    /// Whether the route needs a tenant, given the engine-wide default.
    pub fn requires_tenant(&self, engine_default: bool) -> bool {
        match self.tenant {
            TenantRule::Default => engine_default,
            TenantRule::Required => true,
            TenantRule::Optional => false,
        }
    }
}

/// Whose count a route's [`Quota`] is charged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QuotaSubject {
    /// The principal's user, `<tenant>/<subject>` ([`MeterAccount::user`]): the subject of
    /// a user JWT (or the impersonated user), the owner of a key with one, the key id of
    /// any other key.
    User,
    /// The principal's tenant ([`MeterAccount::tenant`]).
    Tenant,
    /// The key behind the credential, by lineage ([`MeterAccount::key_lineage`]): its
    /// rotations share the count.
    Key,
}

/// A route's quota: a fixed window per UTC day or month ([`WindowLimit`]), counted per
/// [`QuotaSubject`]. A principal without that subject (the platform operator, a
/// credential without a tenant for [`QuotaSubject::Tenant`], one without a key for
/// [`QuotaSubject::Key`]) is not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    limit: WindowLimit,
    per: QuotaSubject,
}

impl Quota {
    /// `limit` per `per`.
    pub const fn new(limit: WindowLimit, per: QuotaSubject) -> Self {
        Self { limit, per }
    }

    /// The window and its count.
    pub const fn limit(&self) -> WindowLimit {
        self.limit
    }

    /// Whose count it is.
    pub const fn subject(&self) -> QuotaSubject {
        self.per
    }

    /// The id of the account `principal`'s requests are counted against, or `None` when
    /// the principal has no such account (and is not counted). `lineage` is the lineage
    /// of the key behind the credential, if any.
    pub(crate) fn account_id(
        &self,
        principal: &Principal,
        lineage: Option<&str>,
    ) -> Option<String> {
        if principal.is_operator() {
            return None;
        }
        match self.per {
            QuotaSubject::User => {
                let user = principal.subject.as_deref()?;
                Some(format!(
                    "{}/{user}",
                    principal.tenant.as_deref().unwrap_or("")
                ))
            }
            QuotaSubject::Tenant => principal.tenant.as_deref().map(str::to_owned),
            QuotaSubject::Key => lineage.map(str::to_owned),
        }
    }

    /// The meter account for an id from [`account_id`](Self::account_id).
    pub(crate) fn account<'a>(&self, id: &'a str) -> MeterAccount<'a> {
        match self.per {
            QuotaSubject::User => MeterAccount::user(id),
            QuotaSubject::Tenant => MeterAccount::tenant(id),
            QuotaSubject::Key => MeterAccount::key_lineage(id),
        }
    }
}
