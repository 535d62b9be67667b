//! Steps 1 and 8 of a request, the part every adapter shares: a [`Gate`] admits a
//! request into a route, and its [`Admission`] is settled once the route has answered.
//!
//! An adapter is glue around these two calls. keygate-tower's layer (which keygate-axum
//! reuses) and keygate-actix's middleware hold a `Gate`; for each request they
//!
//! 1. call [`Gate::admit`] with a [`RequestHead`] view of the request;
//! 2. on `Err`, answer with the [`AuthError`] (the framework's rejection) and stop;
//! 3. put [`Admission::authentication`] into the request's extensions, call the route;
//! 4. call [`Admission::settle`] with the route's status (or `None` when it failed
//!    without answering) and copy the returned [`ResponseHeaders`] onto the response.
//!
//! Everything else — refunds, one-time-token release, logging, usage records, refusing a
//! second gate on one request — happens in here, the same for every framework.
//!
//! ```
//! use keygate_core::{Access, Gate, Keygate, Pepper, PlatformSecret};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = PlatformSecret::generate()?;
//! let keygate = Keygate::builder()
//!     .pepper(Pepper::generate()?)
//!     .platform_secret(&secret)
//!     .build()?;
//! let gate = Gate::new(&keygate, Access::admin().named("list-keys"));
//!
//! let mut request = http::Request::builder()
//!     .header("x-client-secret", secret.expose())
//!     .body(())?;
//! let admission = gate.admit(&request).await?;
//! request.extensions_mut().insert(admission.authentication());
//! // … the route answers 200 …
//! let headers = admission.settle(Some(http::StatusCode::OK)).await;
//! assert_eq!(headers.iter().count(), 0); // no rate limit, no credits on this route
//! # Ok(())
//! # }
//! ```

mod admission;
mod lifetime;

pub use admission::{Admission, ResponseHeaders};
pub use lifetime::Lifetime;

use std::sync::Arc;

use crate::access::Access;
use crate::credentials::RequestHead;
use crate::engine::Keygate;
use crate::error::AuthError;
use crate::usage::Outcome;

/// A route's door: the engine, the route's [`Access`], and whether authentication is
/// optional there. Built once per route; cheap to clone.
#[derive(Debug, Clone)]
pub struct Gate {
    keygate: Keygate,
    access: Arc<Access>,
    optional: bool,
}

impl Gate {
    /// Every request must satisfy `access`.
    pub fn new(keygate: &Keygate, access: Access) -> Self {
        Self {
            keygate: keygate.clone(),
            access: Arc::new(access),
            optional: false,
        }
    }

    /// An admin route: [`Access::admin`], opened only by `x-client-secret`.
    pub fn admin(keygate: &Keygate) -> Self {
        Self::new(keygate, Access::admin())
    }

    /// An operator-only route: [`Access::operator`], opened only by the platform secret.
    pub fn operator(keygate: &Keygate) -> Self {
        Self::new(keygate, Access::operator())
    }

    /// Authentication is optional: a request that presents no credential at all is
    /// admitted without a principal. A presented credential is still verified, and an
    /// invalid one is still refused.
    pub fn optional(keygate: &Keygate, access: Access) -> Self {
        Self {
            optional: true,
            ..Self::new(keygate, access)
        }
    }

    /// The access every request must satisfy.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// The engine behind the gate.
    pub fn keygate(&self) -> &Keygate {
        &self.keygate
    }

    /// Whether a request without any credential is admitted (without a principal).
    pub fn is_optional(&self) -> bool {
        self.optional
    }

    /// Admits one request, or says why not: steps 2 to 7 of the request (see
    /// [`Keygate::authenticate`]). A request that a keygate gate already admitted (its
    /// [`Authentication`](crate::extract::Authentication) is in the request: two keygate
    /// layers on one request path) is refused with 500 `keygate_misconfigured` instead
    /// of being authenticated, and charged, twice.
    ///
    /// Every refusal is reported to the engine's usage queue, if it has one.
    ///
    /// The headers are read before the returned future is created, so the future borrows
    /// only their text and is `Send` whatever the request type.
    pub fn admit<'a, H: RequestHead + ?Sized>(
        &'a self,
        head: &'a H,
    ) -> impl Future<Output = Result<Admission, AuthError>> + Send + 'a {
        // Credentials are read (by syntax) now, so the future holds only borrowed text.
        let read = (!head.is_admitted()).then(|| self.keygate.read_credentials(head));
        async move {
            let decided = match read {
                None => Err(self.keygate.refused(AuthError::Misconfigured(
                    "two keygate layers authenticate this request: keep one per request path \
                     (nest routers, or wrap routes rather than both a scope and its routes)"
                        .into(),
                ))),
                Some(Err(error)) => Err(self.keygate.refused(error)),
                Some(Ok(credentials)) if self.optional && credentials.is_empty() => Ok(None),
                Some(Ok(credentials)) => self
                    .keygate
                    .authenticate_credentials(credentials, &self.access)
                    .await
                    .map(Some),
            };
            match decided {
                Ok(grant) => Ok(Admission::new(self, grant)),
                Err(error) => {
                    self.keygate
                        .report_usage(&self.access, None, || Outcome::Refused {
                            code: error.code(),
                            status: error.status().as_u16(),
                        });
                    Err(error)
                }
            }
        }
    }
}
