//! [`KeygateMiddleware`]: the adapter's two steps (reading the request, answering it) for an
//! actix app, scope or resource; everything between is the [`Gate`](keygate_core::Gate)'s.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage};
use keygate_core::{Access, Gate, Keygate};

use crate::head::Head;
use crate::rejection::{ProblemJson, Rejection};

/// Authenticates every request of the wrapped app, scope or resource against one
/// [`Access`], and puts the [`Authentication`](keygate_core::extract::Authentication) into the request's extensions for the
/// extractors and [guards](crate::guard).
///
/// After the handler answers, it settles the metering with the response status (credits
/// come back for any 4xx or 5xx, a one-time token's use for a 4xx) and adds the
/// `X-RateLimit-*` and `X-Credits-Remaining` headers. A refused request never reaches the handler: the middleware's [`Rejection`]
/// answers it (by default the contract's problem+json).
///
/// The middleware is glue around a [`Gate`]: everything it decides is the gate's.
///
/// One keygate middleware per request path: wrapping a scope and a resource inside it is
/// a mistake, and the inner one refuses the request with 500 `keygate_misconfigured`
/// rather than authenticate (and charge) it twice. Prefer
/// wrapping routes (`Route::wrap`): a middleware on a scope or resource also runs for
/// requests actix then answers 404 or 405.
#[derive(Debug, Clone)]
pub struct KeygateMiddleware<R = ProblemJson> {
    gate: Gate,
    rejection: R,
}

impl KeygateMiddleware {
    /// Every request must satisfy `access`.
    pub fn new(keygate: &Keygate, access: Access) -> Self {
        Self::from_gate(Gate::new(keygate, access))
    }

    /// A middleware around a gate built elsewhere (shared with another adapter, say).
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
    /// `secret_key_required`), answered as problem+json. Prefer it to
    /// [`guard::operator`](crate::guard::operator), which only routes: a request it does
    /// not pass falls through to the next route (or a bare 404).
    ///
    /// ```
    /// use actix_web::{web, App, HttpResponse};
    /// use keygate_actix::{KeygateMiddleware, Operator};
    /// use keygate_core::{Keygate, Pepper};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let keygate = Keygate::builder().pepper(Pepper::generate()?).build()?;
    /// let app = App::new().service(
    ///     web::scope("/api/v1/operator")
    ///         .wrap(KeygateMiddleware::operator(&keygate))
    ///         .route("/tenants", web::get().to(|Operator(_): Operator| async {
    ///             HttpResponse::Ok().body("every tenant")
    ///         })),
    /// );
    /// # let _ = app;
    /// # Ok(())
    /// # }
    /// ```
    pub fn operator(keygate: &Keygate) -> Self {
        Self::from_gate(Gate::operator(keygate))
    }

    /// Authentication is optional: a request that presents no credential at all reaches
    /// the handler without a principal (`Maybe<Principal>` is `None`). A presented
    /// credential is still verified, and an invalid one refused.
    pub fn optional(keygate: &Keygate, access: Access) -> Self {
        Self::from_gate(Gate::optional(keygate, access))
    }
}

impl<R> KeygateMiddleware<R> {
    /// Answers refused requests with `rejection` instead of the default problem+json.
    pub fn with_rejection<R2: Rejection>(self, rejection: R2) -> KeygateMiddleware<R2> {
        KeygateMiddleware {
            gate: self.gate,
            rejection,
        }
    }

    /// The access every request must satisfy.
    pub fn access(&self) -> &Access {
        self.gate.access()
    }
}

impl<S, B, R> Transform<S, ServiceRequest> for KeygateMiddleware<R>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
    R: Rejection,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = KeygateService<S, R>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(KeygateService {
            service: Rc::new(service),
            middleware: self.clone(),
        }))
    }
}

/// The service a [`KeygateMiddleware`] builds around the wrapped one.
#[derive(Debug)]
pub struct KeygateService<S, R> {
    service: Rc<S>,
    middleware: KeygateMiddleware<R>,
}

impl<S, B, R> Service<ServiceRequest> for KeygateService<S, R>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
    R: Rejection,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let KeygateMiddleware { gate, rejection } = self.middleware.clone();
        Box::pin(async move {
            let admitted = gate.admit(&Head(request.request())).await;
            let admission = match admitted {
                Ok(admission) => admission,
                Err(error) => {
                    let response = rejection.reject(error, request.request());
                    return Ok(request.into_response(response).map_into_right_body());
                }
            };
            request.extensions_mut().insert(admission.authentication());
            let result = service.call(request).await;
            // A service that failed without an answer (`Err`) did not serve the request.
            // actix's status type is http 0.2's; keygate speaks http 1: the code is the bridge.
            let status = result
                .as_ref()
                .ok()
                .and_then(|response| http::StatusCode::from_u16(response.status().as_u16()).ok());
            let headers = admission.settle(status).await;
            result.map(|mut response| {
                let map = response.headers_mut();
                for (name, value) in headers.iter() {
                    map.insert(HeaderName::from_static(name), HeaderValue::from(value));
                }
                response.map_into_left_body()
            })
        })
    }
}
