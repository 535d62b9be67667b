//! actix-web: every route a `web::resource` whose routes are wrapped one by one in
//! `KeygateMiddleware` (a wrapped scope would also run for the requests actix then
//! answers 404 or 405), with keygate's extractors in the handlers. The proxy is one more
//! resource, every method, whose handler hands the request to the tower proxy service:
//! `keygate_actix::proxy::forward` turns actix's request and payload into an
//! `http::Request` with a streaming body, and the answer back.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use keygate_actix::{Admin, KeygateMiddleware, Principal};
use keygate_core::Lifetime;

use crate::access_log;
use crate::app::{App, Call};
use crate::body;
use crate::realtime;
use crate::reply::{self, Reply};
use crate::routes::{self, Endpoint, Guard, Route};

/// Adds the platform's routes to an actix `App` (`App::new().configure(configure(&app))`).
pub fn configure(app: &App) -> impl Fn(&mut web::ServiceConfig) + Clone + use<> {
    let app = app.clone();
    move |config: &mut web::ServiceConfig| {
        for (path, group) in routes::by_path() {
            let methods: Vec<http::Method> = group
                .iter()
                .map(|(route, _)| route.method.clone())
                .collect();
            let mut resource = web::resource(path).default_service(web::to(move || {
                let methods = methods.clone();
                async move { into_actix(routes::method_not_allowed(&methods)) }
            }));
            for (route, _) in &group {
                resource = resource.route(actix_route(&app, route));
            }
            config.service(resource);
        }
        let proxy = app.proxy().clone();
        config.service(
            web::resource(format!("{}/{{rest:.*}}", routes::PROXY_PREFIX)).route(
                web::route()
                    .to(
                        move |_: Principal, request: HttpRequest, payload: web::Payload| {
                            keygate_actix::proxy::forward(proxy.clone(), request, payload)
                        },
                    )
                    .wrap(KeygateMiddleware::new(
                        app.keygate(),
                        routes::proxy_access(),
                    )),
            ),
        );
        config.default_service(web::to(|| async { into_actix(routes::not_found()) }));
    }
}

/// The platform as an actix `App` (build one per worker: `HttpServer::new(move ||
/// app(&platform))`): [`configure`]'s routes, behind the check that answers the requests
/// frameworks route differently ([`routes::before_routing`]) before actix routes them.
pub fn app(
    platform: &App,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<actix_web::body::BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    > + use<>,
> {
    use actix_web::dev::Service as _;
    actix_web::App::new()
        .configure(configure(platform))
        .wrap_fn(|request, service| {
            let started = std::time::Instant::now();
            let (method, path) = (
                request.method().as_str().to_owned(),
                request.uri().path().to_owned(),
            );
            // actix's parser refuses most odd shapes itself; the rest (a long target) is
            // refused here as on the other binaries.
            let headers = request.headers();
            let shape = crate::request_checks::Shape {
                http11: request.version() == actix_web::http::Version::HTTP_11,
                hosts: headers.get_all("host").count(),
                framed_twice: headers.contains_key("content-length")
                    && headers.contains_key("transfer-encoding"),
                path: &path,
                query: request.uri().query(),
            };
            let early = crate::request_checks::refuse(&shape).or_else(|| {
                http::Method::from_bytes(method.as_bytes())
                    .ok()
                    .and_then(|method| routes::before_routing(&method, &path))
            });
            let answer = match early {
                Some(reply) => Err(request.into_response(into_actix(reply))),
                None => Ok(service.call(request)),
            };
            async move {
                let response = match answer {
                    Err(response) => Ok(response),
                    Ok(call) => call.await.map(|response| response.map_into_boxed_body()),
                };
                if let Ok(response) = &response {
                    access_log::record(&method, &path, response.status().as_u16(), started);
                }
                response
            }
        })
}

fn actix_route(app: &App, route: &Route) -> actix_web::Route {
    let method = actix_web::http::Method::from_bytes(route.method.as_str().as_bytes())
        .unwrap_or(actix_web::http::Method::GET);
    let endpoint = route.endpoint;
    let app = app.clone();
    let handler = web::method(method);
    match &route.guard {
        Guard::Public => handler.to(move |request: HttpRequest, payload: web::Payload| {
            let app = app.clone();
            async move { answer(&app, endpoint, None, request, payload).await }
        }),
        Guard::Required(access) if access.is_admin() => {
            let keygate = app.keygate().clone();
            handler
                .to(
                    move |Admin(principal): Admin, request: HttpRequest, payload: web::Payload| {
                        let app = app.clone();
                        async move {
                            answer(&app, endpoint, Some(&principal), request, payload).await
                        }
                    },
                )
                .wrap(KeygateMiddleware::admin(&keygate))
        }
        Guard::Required(access) if endpoint == Endpoint::Realtime => {
            let keygate = app.keygate().clone();
            handler
                .to(
                    move |principal: Principal, request: HttpRequest, payload: web::Payload| {
                        let app = app.clone();
                        async move { realtime(&app, &principal, &request, payload) }
                    },
                )
                .wrap(KeygateMiddleware::new(&keygate, access.clone()))
        }
        Guard::Required(access) => {
            let keygate = app.keygate().clone();
            handler
                .to(
                    move |principal: Principal, request: HttpRequest, payload: web::Payload| {
                        let app = app.clone();
                        async move {
                            answer(&app, endpoint, Some(&principal), request, payload).await
                        }
                    },
                )
                .wrap(KeygateMiddleware::new(&keygate, access.clone()))
        }
    }
}

async fn answer(
    app: &App,
    endpoint: Endpoint,
    principal: Option<&keygate_core::Principal>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let body = match body::read_stream(payload).await {
        Ok(body) => body,
        Err(reply) => return into_actix(reply),
    };
    let headers = http_headers(request.headers());
    let call = Call {
        principal,
        path: request.path(),
        query: Some(request.query_string()).filter(|query| !query.is_empty()),
        body: &body,
        headers: &headers,
        connection: keygate_actix::connection(&request),
    };
    into_actix(app.handle(endpoint, call).await)
}

/// actix's headers (its own `http` version's types) as an `http::HeaderMap`, for the
/// framework-neutral handlers. Every header actix accepted is valid in both.
fn http_headers(headers: &actix_web::http::header::HeaderMap) -> http::HeaderMap {
    let mut out = http::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.append(name, value);
        }
    }
    out
}

/// `GET /api/realtime`, admitted: `actix_ws::handle` answers the handshake, with the
/// subprotocol `keygate` added when offered (never the token), and the socket echoes on
/// the worker until the client leaves or the credential ends.
fn realtime(
    app: &App,
    principal: &keygate_core::Principal,
    request: &HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    use actix_web::http::header::{self, HeaderValue};
    let headers = request.headers();
    let text = |name| headers.get(name).and_then(|value| value.to_str().ok());
    if !realtime::is_upgrade(
        request.method().as_str(),
        text(header::CONNECTION),
        text(header::UPGRADE),
    ) {
        return into_actix(realtime::upgrade_required());
    }
    let protocol = realtime::answered_protocol(
        headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .filter_map(|value| value.to_str().ok()),
    );
    let (mut response, session, stream) = match actix_ws::handle(request, payload) {
        Ok(handshake) => handshake,
        Err(error) => return into_actix(reply::invalid(format!("WebSocket handshake: {error}"))),
    };
    if let Some(protocol) = protocol {
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(protocol),
        );
    }
    actix_web::rt::spawn(echo(
        session,
        stream,
        Lifetime::of(app.keygate(), principal),
    ));
    response
}

/// Echoes text and binary frames until the client closes, or closes with 1008 when the
/// credential ends (checked every [`realtime::CHECK_EVERY`]).
async fn echo(
    mut session: actix_ws::Session,
    mut stream: actix_ws::MessageStream,
    lifetime: Lifetime,
) {
    use actix_ws::{CloseCode, CloseReason, Message};
    use futures_util::StreamExt as _;
    let ended = lifetime.ended(realtime::CHECK_EVERY);
    let mut ended = std::pin::pin!(ended);
    loop {
        tokio::select! {
            ended = &mut ended => {
                let reason = CloseReason {
                    code: CloseCode::Policy,
                    description: Some(realtime::close_reason(&ended).to_owned()),
                };
                let _ = session.close(Some(reason)).await;
                return;
            }
            received = stream.next() => {
                let sent = match received {
                    Some(Ok(Message::Text(text))) => session.text(text).await,
                    Some(Ok(Message::Binary(bytes))) => session.binary(bytes).await,
                    Some(Ok(Message::Ping(bytes))) => session.pong(&bytes).await,
                    Some(Ok(Message::Pong(_) | Message::Continuation(_) | Message::Nop)) => Ok(()),
                    Some(Ok(Message::Close(reason))) => {
                        let _ = session.close(reason).await;
                        return;
                    }
                    Some(Err(_)) | None => return,
                };
                if sent.is_err() {
                    return;
                }
            }
        }
    }
}

fn into_actix(reply: Reply) -> HttpResponse {
    let (parts, body) = reply.into_parts();
    let status =
        StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    for (name, value) in &parts.headers {
        response.append_header((name.as_str(), value.as_bytes()));
    }
    response.body(body)
}

/// Serves the platform with actix-web's `HttpServer` on `listener` until Ctrl-C or SIGTERM;
/// requests in flight finish. Run it on an actix system (`actix_web::rt::System`).
pub async fn serve(app: &App, listener: std::net::TcpListener) -> std::io::Result<()> {
    let platform = app.clone();
    let server = actix_web::HttpServer::new(move || self::app(&platform))
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(30)
        .run();
    let handle = server.handle();
    actix_web::rt::spawn(async move {
        crate::start::shutdown_signal().await;
        handle.stop(true).await;
    });
    server.await
}
