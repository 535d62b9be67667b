//! [`KeygateService`]: the adapter's two steps (reading the request, answering it) around any
//! `http` service; everything between is the [`Gate`](keygate_core::Gate)'s.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use crate::layer::KeygateLayer;
use crate::rejection::Rejection;

/// The service a [`KeygateLayer`] builds around `S`.
///
/// For each request it asks the layer's [`Gate`](keygate_core::Gate) to admit the head,
/// inserts the admission's [`Authentication`](keygate_core::extract::Authentication) into
/// the request's extensions, and calls `S`; then it settles the admission with the
/// response status and adds the headers it hands back. A refused request never reaches
/// `S`: the layer's [`Rejection`] answers it.
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
    let KeygateLayer { gate, rejection } = layer;
    let (mut parts, body) = request.into_parts();
    let admission = match gate.admit(&parts).await {
        Ok(admission) => admission,
        Err(error) => return Ok(rejection.reject(error, &parts)),
    };
    parts.extensions.insert(admission.authentication());
    let result = inner.call(Request::from_parts(parts, body)).await;
    // A service that failed without an answer (`Err`) did not serve the request.
    let headers = admission
        .settle(result.as_ref().ok().map(Response::status))
        .await;
    result.map(|mut response| {
        headers.apply(response.headers_mut());
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
