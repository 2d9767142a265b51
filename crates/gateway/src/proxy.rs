//! The reverse proxy: routing by context root, header rewriting, sessions, identity mapping,
//! JWKS, heartbeat and metrics. Handlers are thin; the decisions are plain functions below.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;

use crate::coarse::{self, Deadlines};
use crate::config::BackendProtocol;
use crate::config::Session;
use crate::http::headers::{self as fields, ip_value, outgoing, outgoing_map, Outgoing};
use crate::http::respond::{full, json_response, redirect, with_type, Failure};
use crate::http::{grpc, request};
use crate::identity;
use crate::jwks_source::Refetch;
use crate::keyset::Keyset;
use crate::metrics::{Metrics, MetricsShard};
use crate::routes::{Route, Routes};
use crate::rules::{client_address, Decision, Denial};
use crate::session::api::{self, ApiError, ApiRequest, Memo};
use crate::session::login::{self, WebContext, WebOutcome};
use crate::session::web::{self, SealKey};
use crate::session::{cookie, logout};
use crate::token::{self};
use crate::upstream::http1 as backend;
use crate::upstream::{upgrade, BackendError, Pool};
use serde_json::{Map, Value};

pub use crate::http::respond::{Body, BoxError};

/// Who is on the other end of a connection.
#[derive(Debug, Clone)]
pub struct Client {
    pub addr: SocketAddr,
    /// `http` or `https`.
    pub proto: &'static str,
    /// The client certificate chain (DER, leaf first) presented over TLS; empty otherwise.
    pub chain: Arc<Vec<Vec<u8>>>,
}

/// The gateway's shared state.
pub struct Gateway {
    pub routes: RwLock<Arc<Routes>>,
    /// Incremented after each routes swap; connections re-read `routes` when it changes.
    routes_generation: AtomicU64,
    pub keyset: RwLock<Arc<Keyset>>,
    keyset_generation: AtomicU64,
    pub metrics: Metrics,
    /// For the `[web_session]` provider's token and userinfo endpoints (http or https).
    pub provider_client: web::ProviderClient,
    /// The session cookie key when `cookie_secret` is not configured (made at start-up).
    pub web_key: SealKey,
    pub now: fn() -> i64,
}

impl Gateway {
    /// Fails only when the system has no random bytes. `provider_client` is the client of
    /// [`crate::fetch`] for the providers.
    pub fn new(
        routes: Routes,
        keyset: Keyset,
        now: fn() -> i64,
        provider_client: web::ProviderClient,
    ) -> std::io::Result<Gateway> {
        let web_key = SealKey::random().map_err(std::io::Error::other)?;
        Ok(Gateway {
            routes: RwLock::new(Arc::new(routes)),
            routes_generation: AtomicU64::new(0),
            keyset: RwLock::new(Arc::new(keyset)),
            keyset_generation: AtomicU64::new(0),
            metrics: Metrics::default(),
            provider_client,
            web_key,
            now,
        })
    }

    pub fn current_routes(&self) -> Arc<Routes> {
        self.routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn current_keyset(&self) -> Arc<Keyset> {
        self.keyset
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn swap_routes(&self, routes: Routes) {
        *self.routes.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(routes);
        self.routes_generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn swap_keyset(&self, keyset: Keyset) {
        *self.keyset.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keyset);
        self.keyset_generation.fetch_add(1, Ordering::AcqRel);
    }

    fn jwks(&self, headers: &HeaderMap) -> Response<Body> {
        let jwks = self.current_keyset().jwks((self.now)());
        let etag = HeaderValue::from_str(&jwks.etag).ok();
        let cache_control = HeaderValue::from_str(&jwks.cache_control()).ok();
        let matches = headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| {
                let t = t.trim();
                t == "*" || t.trim_start_matches("W/") == jwks.etag
            });
        let mut response = if matches {
            let mut r = Response::new(full(Bytes::new()));
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            r
        } else {
            with_type(
                Response::new(full(Bytes::from(jwks.body))),
                "application/jwk-set+json",
            )
        };
        if let Some(etag) = etag {
            response.headers_mut().insert(header::ETAG, etag);
        }
        if let Some(cc) = cache_control {
            response.headers_mut().insert(header::CACHE_CONTROL, cc);
        }
        response
    }

    fn web_context(&self) -> WebContext<'_> {
        WebContext {
            default_key: &self.web_key,
            provider_client: &self.provider_client,
            now: (self.now)(),
        }
    }

    /// The backend did not answer within the application's timeout: `504`.
    fn timed_out(&self, route: &Route) -> Response<Body> {
        self.metrics.backend_error(&route.name, "timeout");
        Failure::GatewayTimeout {
            app: route.name.clone(),
            seconds: route.timeout.as_secs(),
        }
        .response()
    }

    /// The exchange failed: `400` for the client's malformed body, `502` otherwise.
    fn failed(&self, route: &Route, e: &BackendError) -> Response<Body> {
        let kind = match e {
            BackendError::ClientBody => return Failure::BadRequest(e.to_string()).response(),
            BackendError::Invalid => "invalid_response",
            BackendError::Tls(_) => "tls",
            BackendError::Connect | BackendError::Closed => "unavailable",
        };
        self.metrics.backend_error(&route.name, kind);
        bad_gateway(route, &e.to_string())
    }

    /// An upgrade request (WebSocket), its session and identity already settled: sent to the
    /// backend on a connection of its own; a `101` is answered with `101` and the two
    /// connections are joined ([`upgrade::relay`]).
    async fn upgrade(
        &self,
        conn: &Conn,
        route: &Route,
        mut parts: hyper::http::request::Parts,
        out: &Outgoing<'_>,
        protocol: HeaderValue,
        set_cookie: Vec<String>,
    ) -> Response<Body> {
        let Some(client_side) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
            return Failure::BadRequest("this connection cannot be upgraded".into()).response();
        };
        let mut headers = outgoing_map(&parts.headers, out);
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, protocol);
        let mut head = Request::new(());
        *head.method_mut() = parts.method.clone();
        *head.uri_mut() = parts
            .uri
            .path_and_query()
            .cloned()
            .map_or_else(|| Uri::from_static("/"), Uri::from);
        *head.headers_mut() = headers;
        let sent = upgrade::send(&route.upstream, head);
        match coarse::timeout(&conn.worker.deadlines, route.timeout, sent).await {
            Err(_) => self.timed_out(route),
            Ok(Err(e)) => self.failed(route, &e),
            Ok(Ok(upgrade::Answer::Other(response))) => {
                let mut response = upgrade::boxed(response);
                fields::remove_hop_by_hop(response.headers_mut());
                with_cookie(response, set_cookie)
            }
            Ok(Ok(upgrade::Answer::Switched { response, upgraded })) => {
                self.metrics.upgrade(&route.name);
                let idle = route.upgrade_idle;
                tokio::spawn(async move {
                    let (Ok(client), Ok(backend)) = tokio::join!(client_side, upgraded) else {
                        return;
                    };
                    upgrade::relay(TokioIo::new(client), TokioIo::new(backend), idle).await;
                });
                with_cookie(upgrade::switched(response), set_cookie)
            }
        }
    }

    /// A request to an HTTP/2 backend (`backend_protocol = "h2" | "h2c"`): the outgoing fields,
    /// the target made absolute (its authority is `:authority`), `TE: trailers` kept when the
    /// client sent it (gRPC needs it), and the response streamed back with its trailers.
    async fn forward_h2(
        &self,
        conn: &Conn,
        route: &Route,
        mut parts: hyper::http::request::Parts,
        body: Incoming,
        out: &Outgoing<'_>,
        set_cookie: Vec<String>,
    ) -> Response<Body> {
        let headers = fields::outgoing_h2(&parts.headers, out);
        let scheme = if route.protocol == BackendProtocol::H2 {
            "https"
        } else {
            "http"
        };
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", hyper::http::uri::PathAndQuery::as_str);
        let Ok(uri) = Uri::try_from(format!("{scheme}://{}{path}", route.authority)) else {
            return Failure::BadRequest("the request target cannot be forwarded".into()).response();
        };
        parts.uri = uri;
        parts.headers = headers;
        parts.version = hyper::Version::HTTP_2;
        let sent = conn
            .worker
            .pool
            .send_h2(&route.upstream, Request::from_parts(parts, body));
        match coarse::timeout(&conn.worker.deadlines, route.timeout, sent).await {
            Err(_) => self.timed_out(route),
            Ok(Err(e)) => self.failed(route, &e),
            Ok(Ok(response)) => {
                let mut response = upgrade::boxed(response);
                fields::remove_hop_by_hop(response.headers_mut());
                with_cookie(response, set_cookie)
            }
        }
    }

    async fn forward(
        &self,
        conn: &Conn,
        snapshot: &Snapshot,
        index: usize,
        route: &Route,
        req: Request<Incoming>,
        route_path: Option<String>,
    ) -> Response<Body> {
        let routes = &*snapshot.routes;
        let (mut parts, body) = req.into_parts();
        let mut set_cookie = Vec::new();
        let mut mapped = None;
        let rule_path = route_path.unwrap_or_else(|| parts.uri.path().to_owned());
        // The application's access rules, over the session's attributes (none for `none`).
        let rules = |attrs: Option<&Map<String, Value>>| -> Result<(), Denial> {
            if route.rules.is_empty() {
                return Ok(());
            }
            let input = crate::rules::Input {
                attrs,
                client: client_address(
                    conn.client.addr.ip(),
                    &parts.headers,
                    &routes.trusted_proxies,
                ),
                method: &parts.method,
                path: &rule_path,
                case_sensitive: route.case_sensitive,
                now: std::time::Instant::now(),
            };
            let verdict = routes.rules.evaluate(&route.rules, &input, true);
            verdict.record(&conn.worker.metrics);
            verdict.denial.map_or(Ok(()), Err)
        };
        match route.session {
            Session::Api => {
                let now = (self.now)();
                let keyset = conn.keyset();
                let api_rules =
                    |claims: &Map<String, Value>| rules(Some(claims)).map_err(|d| d.failure());
                let request = ApiRequest {
                    routes,
                    routes_generation: snapshot.generation,
                    route_index: index,
                    route,
                    chain: &conn.client.chain,
                    keyset: &keyset.keyset,
                    metrics: &conn.worker.metrics,
                    now,
                    rules: &api_rules,
                };
                let mut refetched = false;
                loop {
                    let result = {
                        let mut state = conn.state.lock().unwrap_or_else(PoisonError::into_inner);
                        api::authenticate(&mut state.memo, &request, &parts.headers)
                    };
                    match result {
                        Ok(value) => mapped = value,
                        Err(ApiError::Refused(failure)) => return failure.response(),
                        Err(ApiError::UnknownKid { kid, generation }) => {
                            // The issuer may have rotated its key: one re-fetch, then again.
                            let Some(api) = &routes.api else { break };
                            if !refetched
                                && api
                                    .keys
                                    .refetch_for_unknown_kid(&self.provider_client, generation)
                                    .await
                                    == Refetch::Changed
                            {
                                refetched = true;
                                continue;
                            }
                            return Failure::Unauthorized(format!(
                                "the bearer token is not valid: no key of the issuer's JWK Set has kid \"{kid}\""
                            ))
                            .response();
                        }
                    }
                    break;
                }
            }
            Session::Web => {
                match login::session(&self.web_context(), routes, &parts, conn.client.proto).await {
                    WebOutcome::Session { attrs, cookies } => {
                        set_cookie = cookies;
                        if let Err(denial) = rules(Some(&attrs)) {
                            return match &denial.rejection_redirect {
                                Some(url) if denial.decision == Decision::Deny => {
                                    redirect(url, &set_cookie)
                                }
                                _ => with_cookie(denial.failure().response(), set_cookie),
                            };
                        }
                        if let Some(m) = &route.mapping {
                            let keyset = conn.keyset();
                            match identity::mapped_jwt(
                                &routes.cache,
                                m,
                                &attrs,
                                &conn.client.chain,
                                &keyset.keyset,
                                (self.now)(),
                                &conn.worker.metrics,
                            ) {
                                Ok(jwt) => mapped = identity::mapped_value(m, &jwt),
                                Err(e) => return token_error(&e),
                            }
                        }
                    }
                    WebOutcome::Respond(response) => return response,
                }
            }
            Session::None => {
                if let Err(denial) = rules(None) {
                    return denial.failure().response();
                }
            }
        }
        if let Some(name) = &routes.web_cookie {
            cookie::remove_gateway_cookies(&mut parts.headers, name);
        }
        let forwarded = conn.forwarded(parts.headers.get(header::HOST));
        let out = Outgoing {
            authority: &route.host,
            client_ip: &conn.client_ip,
            proto: conn.client.proto,
            mapped_header: route.mapping.as_deref().map(|m| &m.header),
            mapped: mapped.as_ref(),
            forwarded: forwarded.as_ref(),
        };
        if let Some(protocol) = upgrade::requested(&parts.headers) {
            if route.protocol != BackendProtocol::Http1 {
                return Failure::BadRequest(format!(
                    "application {:?}: WebSocket needs backend_protocol = \"http1\"",
                    route.name
                ))
                .response();
            }
            if !hyper::body::Body::is_end_stream(&body) {
                return Failure::BadRequest("an upgrade request cannot have a body".into())
                    .response();
            }
            return self
                .upgrade(conn, route, parts, &out, protocol, set_cookie)
                .await;
        }
        if route.protocol != BackendProtocol::Http1 {
            return self
                .forward_h2(conn, route, parts, body, &out, set_cookie)
                .await;
        }
        let pool = &conn.worker.pool;
        let plain =
            hyper::body::Body::is_end_stream(&body) && parts.method != hyper::Method::CONNECT;
        let head = if plain {
            // No body: the backend request head is written straight from the client's fields.
            let target = parts
                .uri
                .path_and_query()
                .map_or("/", hyper::http::uri::PathAndQuery::as_str);
            let size = parts
                .headers
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len() + 4)
                .sum::<usize>()
                + mapped.as_ref().map_or(0, |v| v.len() + 32)
                + 160;
            let mut head = backend::RequestHead::new(&parts.method, target, size);
            outgoing(&parts.headers, &out, |name, value| {
                head.field(name.as_str().as_bytes(), value.as_bytes());
            });
            Some(head.finish())
        } else {
            let mut headers = outgoing_map(&parts.headers, &out);
            if !headers.contains_key(header::CONTENT_LENGTH) {
                // A body of unknown length goes chunked. hyper's client would otherwise send a
                // GET's or HEAD's body as no body at all (its guess for those methods).
                headers.insert(
                    header::TRANSFER_ENCODING,
                    HeaderValue::from_static("chunked"),
                );
            }
            parts.headers = headers;
            // The backend gets the origin-form target (path and query) and its own Host.
            if parts.uri.scheme().is_some() || parts.uri.authority().is_some() {
                let path_and_query = parts
                    .uri
                    .path_and_query()
                    .cloned()
                    .unwrap_or_else(|| hyper::http::uri::PathAndQuery::from_static("/"));
                parts.uri = Uri::from(path_and_query);
            }
            parts.version = hyper::Version::HTTP_11;
            None
        };
        let sent = async move {
            match head {
                Some(head) => {
                    let response = pool
                        .send_without_body(&route.upstream, &parts.method, &head)
                        .await?;
                    Ok(response.map(|b| b.map_err(BoxError::from).boxed()))
                }
                None => {
                    let response = pool
                        .send(&route.upstream, Request::from_parts(parts, body))
                        .await?;
                    Ok(response.map(|b| b.map_err(BoxError::from).boxed()))
                }
            }
        };
        match coarse::timeout(&conn.worker.deadlines, route.timeout, sent).await {
            Err(_) => self.timed_out(route),
            Ok(Err(e)) => self.failed(route, &e),
            Ok(Ok(response))
                if response.headers().contains_key(header::TRANSFER_ENCODING)
                    && response.headers().contains_key(header::CONTENT_LENGTH) =>
            {
                // hyper's client reads such a response by its Transfer-Encoding; the plain path
                // refuses it (RFC 9112 §6.3). The same answer on both: it is not relayed, and its
                // connection (dropped half-read) is not reused.
                self.metrics.backend_error(&route.name, "invalid_response");
                bad_gateway(
                    route,
                    "the backend's response is framed both by Content-Length and Transfer-Encoding",
                )
            }
            Ok(Ok(response)) if response.status() == StatusCode::SWITCHING_PROTOCOLS => {
                // Nothing was asked to switch: the gateway does not relay protocol upgrades.
                self.metrics.backend_error(&route.name, "invalid_response");
                bad_gateway(
                    route,
                    "the backend switched protocols (101), which is not relayed",
                )
            }
            Ok(Ok(mut response)) => {
                if !plain {
                    // (A plain exchange's response head comes without them already.)
                    fields::remove_hop_by_hop(response.headers_mut());
                }
                with_cookie(response, set_cookie)
            }
        }
    }
}

/// The response with the web session's refreshed cookies, if any.
fn with_cookie(mut response: Response<Body>, set_cookie: Vec<String>) -> Response<Body> {
    for v in set_cookie
        .iter()
        .filter_map(|c| HeaderValue::from_str(c).ok())
    {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

fn bad_gateway(route: &Route, detail: &str) -> Response<Body> {
    Failure::BadGateway {
        app: route.name.clone(),
        detail: detail.to_owned(),
    }
    .response()
}

fn token_error(e: &token::TokenError) -> Response<Body> {
    Failure::Token(e.to_string()).response()
}

/// One worker thread's own resources.
pub struct Worker {
    pub pool: Arc<Pool>,
    pub metrics: Arc<MetricsShard>,
    /// The timeouts of this worker's requests and connections.
    pub deadlines: Arc<Deadlines>,
}

/// A routing table as a connection sees it: the table and the generation it was read at.
pub struct Snapshot {
    pub generation: u64,
    pub routes: Arc<Routes>,
}

/// The keyset as a connection sees it.
pub struct KeysetSnapshot {
    pub generation: u64,
    pub keyset: Arc<Keyset>,
}

/// One client connection, served by one worker. Its requests come one at a time, so its state
/// is never contended; shared state is re-read only when its generation changes.
pub struct Conn {
    gateway: Arc<Gateway>,
    pub(crate) worker: Arc<Worker>,
    client: Client,
    /// The client's IP address, for `X-Forwarded-For`.
    client_ip: HeaderValue,
    state: Mutex<ConnState>,
}

#[derive(Default)]
struct ConnState {
    /// Cloning the outer `Arc` touches only this connection's counter.
    routes: Option<Arc<Snapshot>>,
    keyset: Option<Arc<KeysetSnapshot>>,
    memo: Option<Memo>,
    /// The last `Host` and the `Forwarded` value made for it (the same on most connections).
    forwarded: Option<(HeaderValue, Option<HeaderValue>)>,
}

impl Conn {
    pub fn new(gateway: Arc<Gateway>, worker: Arc<Worker>, client: Client) -> Conn {
        Conn {
            gateway,
            worker,
            client_ip: ip_value(client.addr),
            client,
            state: Mutex::new(ConnState::default()),
        }
    }

    /// Our `Forwarded` value for this connection's client and `host`.
    fn forwarded(&self, host: Option<&HeaderValue>) -> Option<HeaderValue> {
        let Some(host) = host else {
            return fields::forwarded_value(&self.client_ip, self.client.proto, None);
        };
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match &state.forwarded {
            Some((last, value)) if last == host => value.clone(),
            _ => {
                let value = fields::forwarded_value(&self.client_ip, self.client.proto, Some(host));
                state.forwarded = Some((host.clone(), value.clone()));
                value
            }
        }
    }

    /// The routing table in force (re-read only after a reload).
    fn routes(&self) -> Arc<Snapshot> {
        let generation = self.gateway.routes_generation.load(Ordering::Acquire);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match &state.routes {
            Some(snapshot) if snapshot.generation == generation => snapshot.clone(),
            _ => {
                let snapshot = Arc::new(Snapshot {
                    generation,
                    routes: self.gateway.current_routes(),
                });
                state.routes = Some(snapshot.clone());
                snapshot
            }
        }
    }

    /// The keyset in force (re-read only after it changed).
    fn keyset(&self) -> Arc<KeysetSnapshot> {
        let generation = self.gateway.keyset_generation.load(Ordering::Acquire);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match &state.keyset {
            Some(snapshot) if snapshot.generation == generation => snapshot.clone(),
            _ => {
                let snapshot = Arc::new(KeysetSnapshot {
                    generation,
                    keyset: self.gateway.current_keyset(),
                });
                state.keyset = Some(snapshot.clone());
                snapshot
            }
        }
    }

    /// Handles one request; never fails (errors become JSON responses).
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
    ) -> Result<Response<Body>, Infallible> {
        let grpc = grpc::is_grpc(req.headers());
        let response = self.respond(req).await;
        Ok(if grpc {
            grpc::status_of_gateway_response(response)
        } else {
            response
        })
    }

    async fn respond(self: Arc<Self>, mut req: Request<Incoming>) -> Response<Body> {
        let gateway = &*self.gateway;
        let snapshot = self.routes();
        let rules = request::Rules {
            path: &snapshot.routes.path_rules,
            identity_headers: &snapshot.routes.identity_headers,
            underscores_in_headers: snapshot.routes.underscores_in_headers,
        };
        let route_path = match request::prepare(&mut req, &rules) {
            Ok(prepared) => {
                if prepared.dropped != fields::Dropped::default() {
                    gateway.metrics.dropped_fields(prepared.dropped);
                }
                prepared.route_path
            }
            Err(refused) => {
                gateway.metrics.refused(refused.reason);
                let response = refused.failure.response();
                self.worker.metrics.request("", response.status());
                return response;
            }
        };
        let path = req.uri().path();
        if path == "/pa/heartbeat.ping" {
            return json_response(StatusCode::OK, Bytes::from_static(b"{\"status\":\"ok\"}"));
        }
        if path == web::CALLBACK_PATH {
            let routes = gateway.current_routes();
            let cx = gateway.web_context();
            let response = login::callback(&cx, &routes, req, self.client.proto).await;
            self.worker.metrics.request("", response.status());
            return response;
        }
        if path == logout::LOGOUT_PATH {
            let routes = gateway.current_routes();
            let cx = gateway.web_context();
            let response = logout::logout(&cx, &routes, &req, self.client.proto).await;
            self.worker.metrics.request("", response.status());
            return response;
        }
        if path == logout::BACKCHANNEL_PATH {
            let routes = gateway.current_routes();
            let cx = gateway.web_context();
            let response = logout::backchannel(&cx, &routes, req).await;
            self.worker.metrics.request("", response.status());
            return response;
        }
        if path == "/pa/authtoken/JWKS" {
            return gateway.jwks(req.headers());
        }
        if path == "/pa/metrics" {
            let now = (gateway.now)();
            let kid = self.keyset().keyset.active_signing_key(now).kid().clone();
            return with_type(
                Response::new(full(Bytes::from(gateway.metrics.render(&kid)))),
                "text/plain; version=0.0.4",
            );
        }
        let found = snapshot
            .routes
            .route_index(route_path.as_deref().unwrap_or(path))
            .and_then(|i| Some((i, snapshot.routes.routes.get(i)?)));
        let Some((index, route)) = found else {
            self.worker.metrics.request("", StatusCode::NOT_FOUND);
            return Failure::NotFound("no application serves this path".into()).response();
        };
        let response = gateway
            .forward(&self, &snapshot, index, route, req, route_path)
            .await;
        self.worker.metrics.request(&route.name, response.status());
        response
    }
}
