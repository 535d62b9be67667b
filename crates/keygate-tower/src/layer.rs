//! [`KeygateLayer`]: the route's [`Access`], declared once, applied to a service.

use keygate_core::{Access, Gate, Keygate};
use tower_layer::Layer;

use crate::rejection::ProblemJson;
use crate::service::KeygateService;

/// Authenticates every request of the wrapped service against one [`Access`].
///
/// Put one layer on each route (or router of routes) that shares an access rule: with
/// axum, `route_layer`; with plain tower, around each route's service. Two keygate layers
/// on one request path are a mistake: the inner one refuses the request with 500
/// `keygate_misconfigured` rather than authenticate (and charge) it twice, so nest
/// routers rather than layers.
///
/// The layer is glue around a [`Gate`]: everything it decides is the gate's.
#[derive(Debug, Clone)]
pub struct KeygateLayer<R = ProblemJson> {
    pub(crate) gate: Gate,
    pub(crate) rejection: R,
}

impl KeygateLayer {
    /// Every request must satisfy `access`; anything else is refused with the contract's
    /// problem+json response.
    pub fn new(keygate: &Keygate, access: Access) -> Self {
        Self::from_gate(Gate::new(keygate, access))
    }

    /// A layer around a gate built elsewhere (shared with another adapter, say).
    pub fn from_gate(gate: Gate) -> Self {
        Self {
            gate,
            rejection: ProblemJson,
        }
    }

    /// An admin route: [`Access::admin`], opened only by `x-client-secret`.
    pub fn admin(keygate: &Keygate) -> Self {
        Self::new(keygate, Access::admin())
    }

    /// An operator-only route: [`Access::operator`], opened only by the platform secret
    /// (a tenant's `sk_` key → 403 `operator_required`, any other credential → 403
    /// `secret_key_required`).
    ///
    /// ```
    /// use keygate_core::{Keygate, Pepper};
    /// use keygate_tower::KeygateLayer;
    /// use tower_layer::Layer as _;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let keygate = Keygate::builder().pepper(Pepper::generate()?).build()?;
    /// let service = tower::service_fn(|_: http::Request<String>| async {
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(String::from("operator only")))
    /// });
    /// let guarded = KeygateLayer::operator(&keygate).layer(service);
    /// # let _ = guarded;
    /// # Ok(())
    /// # }
    /// ```
    pub fn operator(keygate: &Keygate) -> Self {
        Self::from_gate(Gate::operator(keygate))
    }

    /// Authentication is optional: a request that presents no credential at all reaches
    /// the service without a principal (`Option<Principal>` is `None`). A presented
    /// credential is still verified, and an invalid one is still refused.
    pub fn optional(keygate: &Keygate, access: Access) -> Self {
        Self::from_gate(Gate::optional(keygate, access))
    }
}

impl<R> KeygateLayer<R> {
    /// Answers refused requests with `rejection` instead of the default problem+json.
    pub fn with_rejection<R2>(self, rejection: R2) -> KeygateLayer<R2> {
        KeygateLayer {
            gate: self.gate,
            rejection,
        }
    }

    /// The access every request must satisfy.
    pub fn access(&self) -> &Access {
        self.gate.access()
    }
}

impl<S, R: Clone> Layer<S> for KeygateLayer<R> {
    type Service = KeygateService<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        KeygateService {
            inner,
            layer: self.clone(),
        }
    }
}
