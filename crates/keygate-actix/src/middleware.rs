//! [`KeygateMiddleware`]: steps 1 and 8 of DESIGN.md for an actix app, scope or resource.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage};
use keygate_core::extract::Authentication;
use keygate_core::{Access, Keygate};

use crate::head::Head;
use crate::rejection::{ProblemJson, Rejection};

/// Authenticates every request of the wrapped app, scope or resource against one
/// [`Access`], and puts the [`Authentication`] into the request's extensions for the
/// extractors and [guards](crate::guard).
///
/// After the handler answers, it settles the metering with the response status (credits
/// come back for any 4xx or 5xx, a one-time token's use for a 4xx) and adds the
/// `X-RateLimit-*` and `X-Credits-Remaining` headers. A refused request never reaches the handler: the middleware's [`Rejection`]
/// answers it (by default the contract's problem+json).
///
/// One keygate middleware per request path: wrapping a scope and a resource inside it
/// authenticates twice (a one-time token would be spent by the outer one). Prefer
/// wrapping routes (`Route::wrap`): a middleware on a scope or resource also runs for
/// requests actix then answers 404 or 405.
#[derive(Debug, Clone)]
pub struct KeygateMiddleware<R = ProblemJson> {
    keygate: Keygate,
    access: Arc<Access>,
    optional: bool,
    rejection: R,
}

impl KeygateMiddleware {
    /// Every request must satisfy `access`.
    pub fn new(keygate: &Keygate, access: Access) -> Self {
        Self {
            keygate: keygate.clone(),
            access: Arc::new(access),
            optional: false,
            rejection: ProblemJson,
        }
    }

    /// An admin route: [`Access::admin`], opened only by `x-client-secret`.
    pub fn admin(keygate: &Keygate) -> Self {
        Self::new(keygate, Access::admin())
    }

    /// Authentication is optional: a request that presents no credential at all reaches
    /// the handler without a principal (`Maybe<Principal>` is `None`). A presented
    /// credential is still verified, and an invalid one refused.
    pub fn optional(keygate: &Keygate, access: Access) -> Self {
        Self {
            optional: true,
            ..Self::new(keygate, access)
        }
    }
}

impl<R> KeygateMiddleware<R> {
    /// Answers refused requests with `rejection` instead of the default problem+json.
    pub fn with_rejection<R2: Rejection>(self, rejection: R2) -> KeygateMiddleware<R2> {
        KeygateMiddleware {
            keygate: self.keygate,
            access: self.access,
            optional: self.optional,
            rejection,
        }
    }

    /// The access every request must satisfy.
    pub fn access(&self) -> &Access {
        &self.access
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
        let KeygateMiddleware {
            keygate,
            access,
            optional,
            rejection,
        } = self.middleware.clone();
        Box::pin(async move {
            let outcome = {
                let head = Head(request.request());
                if optional {
                    keygate.authenticate_optional(&head, &access).await
                } else {
                    keygate.authenticate(&head, &access).await.map(Some)
                }
            };
            let mut grant = match outcome {
                Ok(grant) => grant,
                Err(error) => {
                    let response = rejection.reject(error, request.request());
                    return Ok(request.into_response(response).map_into_right_body());
                }
            };
            let principal = grant.as_ref().map(|grant| grant.principal().clone());
            request
                .extensions_mut()
                .insert(Authentication::new(principal, &access));

            let result = service.call(request).await;
            let Some(grant) = grant.as_mut() else {
                return result.map(ServiceResponse::map_into_left_body);
            };
            // A service that failed without an answer (`Err`) did not serve the request.
            let status = result
                .as_ref()
                .ok()
                .map(|response| response.status().as_u16());
            keygate.finish(grant, status).await;
            result.map(|mut response| {
                let headers = response.headers_mut();
                for (name, value) in grant.headers() {
                    headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
                }
                response.map_into_left_body()
            })
        })
    }
}
