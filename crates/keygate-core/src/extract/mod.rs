//! What an adapter's middleware leaves in a request, and the types handlers extract from
//! it: [`Principal`], `Option<Principal>`, [`Admin`], [`Operator`], [`Tenant`] and
//! [`Impersonation`].
//!
//! The middleware (keygate-tower's layer, which keygate-axum reuses, or keygate-actix's
//! middleware) authenticates the request and inserts one [`Authentication`] into its
//! extensions. Extractors read only that. A handler therefore never sees a principal the
//! middleware did not establish, and an extractor on a route without the middleware never
//! lets the request through as anonymous: it answers 500 with a problem document that
//! names the missing middleware ([`ExtractRejection::Misconfigured`]), so the mistake shows
//! on the first request rather than in production.
//!
//! The framework impls (`FromRequestParts`/`OptionalFromRequestParts` for axum,
//! `FromRequest`/`ResponseError` for actix-web) sit behind this crate's `axum` and `actix`
//! features, which keygate-axum and keygate-actix turn on.
//!
//! ```
//! use keygate_core::extract::{Authentication, Tenant};
//! use keygate_core::{Access, AuthMethod, Principal};
//!
//! // What the middleware inserted for a request of tenant "acme".
//! let mut principal = Principal::new(AuthMethod::ApiKey);
//! principal.tenant = Some("acme".into());
//! let auth = Authentication::new(Some(principal), &Access::authenticated());
//!
//! let Tenant(tenant) = auth.extract::<Tenant>()?;
//! assert_eq!(&*tenant, "acme");
//! # Ok::<(), keygate_core::extract::ExtractRejection>(())
//! ```

#[cfg(feature = "actix")]
mod actix;
#[cfg(feature = "axum")]
mod axum;

#[cfg(feature = "actix")]
pub use actix::Maybe;

use std::fmt;
use std::sync::Arc;

use crate::access::Access;
use crate::credentials::CredentialSources;
use crate::error::{AuthError, HeaderText, PROBLEM_JSON, http_response};
use crate::principal::Principal;

/// What the middleware established for one request: the principal, or nothing under an
/// optional route that was sent no credential. Inserted into the request's extensions by
/// every adapter; extractors read it.
#[derive(Debug, Clone)]
pub struct Authentication {
    principal: Option<Principal>,
    admin: bool,
    sources: Option<Arc<CredentialSources>>,
}

impl Authentication {
    /// The result of authenticating a request against `access`: `None` when the route's
    /// authentication is optional and no credential was presented.
    pub fn new(principal: Option<Principal>, access: &Access) -> Self {
        Self {
            principal,
            admin: access.is_admin(),
            sources: None,
        }
    }

    /// The same, noting where the engine read the credentials (a gate does this), so
    /// code behind the middleware can remove them before forwarding the request.
    pub(crate) fn read_from(mut self, sources: Arc<CredentialSources>) -> Self {
        self.sources = Some(sources);
        self
    }

    /// Where the engine that admitted the request reads credentials, when a gate
    /// admitted it: keygate-tower's proxy removes each of them before forwarding.
    pub fn credential_sources(&self) -> Option<&CredentialSources> {
        self.sources.as_deref()
    }

    /// Who acts, if anyone.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// Whether the route's access was [`Access::admin`].
    pub fn is_admin_route(&self) -> bool {
        self.admin
    }

    /// Reads `T` out of this authentication, as the framework extractors do.
    pub fn extract<T: FromAuthentication>(&self) -> Result<T, ExtractRejection> {
        T::from_authentication(self)
    }
}

/// A type an extractor builds from the request's [`Authentication`]. Implemented by
/// [`Principal`], [`Admin`], [`Operator`], [`Tenant`] and [`Impersonation`].
pub trait FromAuthentication: Sized {
    /// The type's name, for the message of a misconfigured route.
    const NAME: &'static str;

    /// Builds the value, or says why the request is refused.
    fn from_authentication(auth: &Authentication) -> Result<Self, ExtractRejection>;
}

/// Reads `T` from a request's extensions, for services on plain tower (axum and actix
/// handlers use the extractors instead). Without a keygate layer in front, it fails with
/// [`ExtractRejection::Misconfigured`].
///
/// ```
/// use keygate_core::Principal;
/// use keygate_core::extract::{ExtractRejection, from_extensions};
///
/// fn handler(request: &http::Request<()>) -> Result<String, ExtractRejection> {
///     let principal: Principal = from_extensions(request.extensions())?;
///     Ok(principal.method.to_string())
/// }
/// let err = handler(&http::Request::new(())).unwrap_err();
/// assert_eq!(err.status(), 500); // no keygate layer ran
/// ```
pub fn from_extensions<T: FromAuthentication>(
    extensions: &http::Extensions,
) -> Result<T, ExtractRejection> {
    extract(extensions.get(), Framework::Tower)
}

/// [`from_extensions`] for an optional value: `None` when an optional route got no
/// credential (or, for [`Impersonation`], when nobody is impersonated).
pub fn optional_from_extensions<T: FromAuthentication>(
    extensions: &http::Extensions,
) -> Result<Option<T>, ExtractRejection> {
    extract_optional(extensions.get(), Framework::Tower)
}

/// Extracting `T` when the middleware inserted `auth`, or did not run (`None`): the one
/// place that turns a missing middleware into a loud failure.
pub(crate) fn extract<T: FromAuthentication>(
    auth: Option<&Authentication>,
    framework: Framework,
) -> Result<T, ExtractRejection> {
    match auth {
        Some(auth) => T::from_authentication(auth),
        None => Err(ExtractRejection::missing_middleware(T::NAME, framework)),
    }
}

/// `Option<T>`: `None` when the route's authentication is optional and nothing was
/// presented (or, for [`Impersonation`], when nobody is impersonated); still a loud
/// failure without the middleware.
pub(crate) fn extract_optional<T: FromAuthentication>(
    auth: Option<&Authentication>,
    framework: Framework,
) -> Result<Option<T>, ExtractRejection> {
    match auth {
        Some(auth) if auth.principal.is_none() => Ok(None),
        Some(auth) => match T::from_authentication(auth) {
            Ok(value) => Ok(Some(value)),
            Err(ExtractRejection::Absent(_)) => Ok(None),
            Err(other) => Err(other),
        },
        None => Err(ExtractRejection::missing_middleware(T::NAME, framework)),
    }
}

/// The framework an extractor runs in, for the wording of the misconfiguration message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Framework {
    Tower,
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    Axum,
    #[cfg_attr(not(feature = "actix"), allow(dead_code))]
    Actix,
}

impl Framework {
    fn middleware_hint(self) -> &'static str {
        match self {
            Self::Tower => {
                "wrap the service in keygate_tower::KeygateLayer (for example \
                 `KeygateLayer::new(&keygate, access).layer(service)`)"
            }
            Self::Axum => {
                "add keygate_axum::KeygateLayer to this route or router (for example \
                 `.route_layer(KeygateLayer::new(&keygate, access))`)"
            }
            Self::Actix => {
                "wrap this route, scope or app in keygate_actix::KeygateMiddleware (for \
                 example `.wrap(KeygateMiddleware::new(&keygate, access))`)"
            }
        }
    }
}

/// Why an extractor refused a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum ExtractRejection {
    /// The request is refused as the contract says (for example 401 `missing_credentials`
    /// under an optional route, 403 `tenant_required`).
    Auth(AuthError),
    /// What the extractor reads is not there (no user is impersonated, no tenant): the
    /// error for the plain extractor, `None` for its `Option`.
    Absent(AuthError),
    /// The route is wired wrongly: the middleware did not run, or an [`Admin`] extractor
    /// sits on a route that is not admin-only. Answered with 500; the message says how to
    /// fix the route. Never a request let through as anonymous.
    Misconfigured(String),
}

impl ExtractRejection {
    fn missing_middleware(extractor: &str, framework: Framework) -> Self {
        Self::Misconfigured(format!(
            "keygate: the `{extractor}` extractor found no keygate authentication on this \
             request: {}",
            framework.middleware_hint()
        ))
    }

    /// The HTTP status: the auth error's, or 500 for a misconfigured route.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::Auth(error) | Self::Absent(error) => error.status(),
            Self::Misconfigured(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The response headers (names in lower case).
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, HeaderText<'_>)> + '_ {
        let (error, misconfigured) = match self {
            Self::Auth(error) | Self::Absent(error) => (Some(error), None),
            Self::Misconfigured(_) => (
                None,
                Some(("content-type", HeaderText::Static(PROBLEM_JSON))),
            ),
        };
        error
            .into_iter()
            .flat_map(AuthError::headers)
            .chain(misconfigured)
    }

    /// The `application/problem+json` body. A misconfigured route gets the code
    /// `keygate_misconfigured` and the fix in `detail`.
    pub fn problem_json(&self) -> String {
        match self {
            Self::Auth(error) | Self::Absent(error) => error.problem_json(),
            Self::Misconfigured(message) => crate::error::problem_document(
                500,
                "keygate_misconfigured",
                "Route misconfigured",
                message,
            ),
        }
    }

    /// The whole response, for adapters built on the `http` crate.
    pub fn to_response<B: From<String>>(&self) -> http::Response<B> {
        http_response(self.status(), self.headers(), self.problem_json())
    }
}

impl fmt::Display for ExtractRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auth(error) | Self::Absent(error) => error.fmt(f),
            Self::Misconfigured(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ExtractRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Auth(error) | Self::Absent(error) => Some(error),
            Self::Misconfigured(_) => None,
        }
    }
}

impl From<AuthError> for ExtractRejection {
    fn from(error: AuthError) -> Self {
        Self::Auth(error)
    }
}

fn authenticated(auth: &Authentication) -> Result<&Principal, ExtractRejection> {
    auth.principal
        .as_ref()
        .ok_or(ExtractRejection::Auth(AuthError::MissingCredentials))
}

impl FromAuthentication for Principal {
    const NAME: &'static str = "Principal";

    fn from_authentication(auth: &Authentication) -> Result<Self, ExtractRejection> {
        authenticated(auth).cloned()
    }
}

/// The principal of an admin route ([`Access::admin`]): the platform operator or a
/// tenant's `sk_` key in `x-client-secret`. A handler taking `Admin` documents that its
/// route is admin-only; on a route whose access is anything else it fails with 500
/// rather than trust a weaker credential.
#[derive(Debug, Clone)]
pub struct Admin(pub Principal);

impl FromAuthentication for Admin {
    const NAME: &'static str = "Admin";

    fn from_authentication(auth: &Authentication) -> Result<Self, ExtractRejection> {
        if !auth.admin {
            return Err(ExtractRejection::Misconfigured(
                "keygate: the `Admin` extractor is for admin-only routes, and this route's \
                 keygate access is not `Access::admin()`: declare the route with \
                 `Access::admin()` or take `Principal` instead"
                    .to_owned(),
            ));
        }
        authenticated(auth).cloned().map(Admin)
    }
}

/// The platform operator: the platform secret in `x-client-secret`. A handler taking
/// `Operator` refuses everyone else with the usual problem+json — a tenant's `sk_` key
/// with 403 `operator_required`, any other credential with 403 `secret_key_required` —
/// on any route, so it also makes one route of a wider group operator-only. To refuse
/// before the handler runs (and before the body is read), declare the route with
/// [`Access::operator`] instead.
///
/// ```
/// use keygate_core::extract::{Authentication, Operator};
/// use keygate_core::{Access, AuthMethod, Principal};
///
/// let auth = Authentication::new(Some(Principal::operator()), &Access::admin());
/// assert!(auth.extract::<Operator>().is_ok());
///
/// // A tenant's secret key, on the same admin route.
/// let mut tenant_key = Principal::new(AuthMethod::SecretKey);
/// tenant_key.key_id = Some(keygate_core::key::KeyId::new("key_1"));
/// tenant_key.key_kind = Some(keygate_core::KeyKind::Secret);
/// let auth = Authentication::new(Some(tenant_key), &Access::admin());
/// let refused = auth.extract::<Operator>().unwrap_err();
/// assert_eq!(refused.status(), 403);
/// assert!(refused.problem_json().contains("operator_required"));
/// ```
#[derive(Debug, Clone)]
pub struct Operator(pub Principal);

impl FromAuthentication for Operator {
    const NAME: &'static str = "Operator";

    fn from_authentication(auth: &Authentication) -> Result<Self, ExtractRejection> {
        let principal = authenticated(auth)?;
        operator_check(principal)?;
        Ok(Operator(principal.clone()))
    }
}

/// Whether `principal` is the operator; if not, the refusal: `operator_required` for a
/// tenant's secret key, `secret_key_required` for anything else.
fn operator_check(principal: &Principal) -> Result<(), AuthError> {
    if principal.is_operator() {
        Ok(())
    } else if principal.key_kind == Some(crate::key::KeyKind::Secret)
        && matches!(
            principal.method,
            crate::access::AuthMethod::SecretKey | crate::access::AuthMethod::ApiKey
        )
    {
        Err(AuthError::OperatorRequired)
    } else {
        Err(AuthError::SecretKeyRequired)
    }
}

/// The tenant the caller acts in. A caller without one (such as the platform operator)
/// is refused with 403 `tenant_required`; `Option<Tenant>` gives `None` instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant(pub Arc<str>);

impl FromAuthentication for Tenant {
    const NAME: &'static str = "Tenant";

    fn from_authentication(auth: &Authentication) -> Result<Self, ExtractRejection> {
        let principal = authenticated(auth)?;
        principal
            .tenant
            .clone()
            .map(Tenant)
            .ok_or(ExtractRejection::Absent(AuthError::TenantRequired))
    }
}

/// A request made on behalf of a user (`X-On-Behalf-Of`): the user acted as and the key
/// that acts. Take `Option<Impersonation>` on routes that serve both; the plain extractor
/// refuses a request that impersonates nobody with 400 `invalid_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impersonation {
    /// The user acted as (the principal's `subject`).
    pub user: Arc<str>,
    /// The key acting on the user's behalf (the principal's `actor`).
    pub actor: Arc<str>,
}

impl FromAuthentication for Impersonation {
    const NAME: &'static str = "Impersonation";

    fn from_authentication(auth: &Authentication) -> Result<Self, ExtractRejection> {
        let principal = authenticated(auth)?;
        match (&principal.subject, &principal.actor) {
            (Some(user), Some(actor)) => Ok(Impersonation {
                user: user.clone(),
                actor: actor.clone(),
            }),
            _ => Err(ExtractRejection::Absent(AuthError::invalid_request(
                "this route acts on behalf of a user: send X-On-Behalf-Of",
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::AuthMethod;

    fn with_tenant(tenant: Option<&str>) -> Principal {
        let mut principal = Principal::new(AuthMethod::ApiKey);
        principal.tenant = tenant.map(Arc::from);
        principal
    }

    #[test]
    fn without_the_middleware_every_extractor_fails_loudly() {
        let err = extract::<Principal>(None, Framework::Axum).unwrap_err();
        assert_eq!(err.status(), 500);
        assert!(err.to_string().contains("KeygateLayer"), "{err}");
        let err = extract_optional::<Principal>(None, Framework::Actix).unwrap_err();
        assert_eq!(err.status(), 500);
        assert!(err.to_string().contains("KeygateMiddleware"), "{err}");
        let body: serde_json::Value = serde_json::from_str(&err.problem_json()).unwrap();
        assert_eq!(body["code"], "keygate_misconfigured");
        assert_eq!(body["status"], 500);
    }

    #[test]
    fn optional_route_without_credentials() {
        let auth = Authentication::new(None, &Access::authenticated());
        assert!(matches!(
            extract_optional::<Principal>(Some(&auth), Framework::Axum),
            Ok(None)
        ));
        let err = extract::<Principal>(Some(&auth), Framework::Axum).unwrap_err();
        assert_eq!(
            (err.status().as_u16(), err.to_string().is_empty()),
            (401, false)
        );
        assert!(matches!(
            err,
            ExtractRejection::Auth(AuthError::MissingCredentials)
        ));
    }

    #[test]
    fn admin_only_on_admin_routes() {
        let auth = Authentication::new(Some(with_tenant(None)), &Access::authenticated());
        let err = auth.extract::<Admin>().unwrap_err();
        assert_eq!(err.status(), 500);
        let auth = Authentication::new(Some(with_tenant(None)), &Access::admin());
        assert!(auth.extract::<Admin>().is_ok());
    }

    #[test]
    fn tenant_required_for_the_tenant_extractor() {
        let auth = Authentication::new(Some(with_tenant(None)), &Access::authenticated());
        let err = auth.extract::<Tenant>().unwrap_err();
        assert_eq!(err.status(), 403);
        let auth = Authentication::new(Some(with_tenant(Some("acme"))), &Access::authenticated());
        assert_eq!(auth.extract::<Tenant>().unwrap(), Tenant("acme".into()));
    }

    #[test]
    fn impersonation_is_optional_or_a_400() {
        let mut principal = with_tenant(Some("acme"));
        let auth = Authentication::new(Some(principal.clone()), &Access::authenticated());
        assert!(matches!(
            extract_optional::<Impersonation>(Some(&auth), Framework::Axum),
            Ok(None)
        ));
        assert_eq!(auth.extract::<Impersonation>().unwrap_err().status(), 400);
        principal.subject = Some("user_1".into());
        principal.actor = Some("key_1".into());
        let auth = Authentication::new(Some(principal), &Access::authenticated());
        let acting = extract_optional::<Impersonation>(Some(&auth), Framework::Axum)
            .unwrap()
            .unwrap();
        assert_eq!((&*acting.user, &*acting.actor), ("user_1", "key_1"));
    }
}
