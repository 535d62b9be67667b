//! [`KeygateService`]: steps 1 and 8 of DESIGN.md around any `http` service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use keygate_core::extract::Authentication;
use tower_service::Service;

use crate::layer::KeygateLayer;
use crate::rejection::Rejection;

/// The service a [`KeygateLayer`] builds around `S`.
///
/// For each request it authenticates the head against the layer's access, inserts an
/// [`Authentication`] (the principal) into the request's extensions, and calls `S`. Then
/// it settles the metering with the response status (credits come back for any 4xx or
/// 5xx answer, a one-time token's use for a 4xx) and adds the `X-RateLimit-*` and
/// `X-Credits-Remaining` headers. A refused
/// request never reaches `S`: the layer's [`Rejection`] answers it.
#[derive(Debug, Clone)]
pub struct KeygateService<S, R> {
    pub(crate) inner: S,
    pub(crate) layer: KeygateLayer<R>,
}

impl<S, R> KeygateService<S, R> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for KeygateService<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    ReqBody: Send + 'static,
    ResBody: Send + 'static,
    R: Rejection<ResBody>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The service that was polled ready serves this request; a clone takes its place.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        ResponseFuture {
            inner: Box::pin(serve(layer, inner, request)),
        }
    }
}

async fn serve<S, R, ReqBody, ResBody>(
    layer: KeygateLayer<R>,
    mut inner: S,
    request: Request<ReqBody>,
) -> Result<Response<ResBody>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    R: Rejection<ResBody>,
{
    let KeygateLayer {
        keygate,
        access,
        optional,
        rejection,
    } = layer;
    let (mut parts, body) = request.into_parts();
    let outcome = if optional {
        keygate.authenticate_optional(&parts, &access).await
    } else {
        keygate.authenticate(&parts, &access).await.map(Some)
    };
    let mut grant = match outcome {
        Ok(grant) => grant,
        Err(error) => return Ok(rejection.reject(error, &parts)),
    };
    let principal = grant.as_ref().map(|grant| grant.principal().clone());
    parts
        .extensions
        .insert(Authentication::new(principal, &access));

    let result = inner.call(Request::from_parts(parts, body)).await;
    let Some(grant) = grant.as_mut() else {
        return result;
    };
    // A service that failed without an answer (`Err`) did not serve the request.
    let status = result
        .as_ref()
        .ok()
        .map(|response| response.status().as_u16());
    keygate.finish(grant, status).await;
    result.map(|mut response| {
        grant.apply_headers(response.headers_mut());
        response
    })
}

/// The future of [`KeygateService`]: one allocation per request, holding the
/// authentication, the inner call and the settlement.
pub struct ResponseFuture<B, E> {
    inner: Pin<Box<dyn Future<Output = Result<Response<B>, E>> + Send>>,
}

impl<B, E> Future for ResponseFuture<B, E> {
    type Output = Result<Response<B>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<B, E> fmt::Debug for ResponseFuture<B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
