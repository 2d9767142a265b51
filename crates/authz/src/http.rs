//! The HTTP surface: thin axum handlers over the domain modules, one shared state holding each
//! environment's signing key and its bounded stores. Every error is JSON (PingOne's envelope,
//! or OAuth's at the token endpoint) and never stops the server.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use jose::jws::{Signer, Verifier};
use jose::{Algorithm, Key, KeySet, Validation};
use serde_json::{json, Map, Value};

use crate::clock::Clock;
use crate::config::{Config, Environment, Limits};
use crate::error::ApiError;
use crate::flow::{self, Action, Ctx, Flow, FlowError, Notification, Status};
use crate::oauth::{self, Grant, Issue, Refusal, ResponseMode, TokenError};
use crate::random::{self, SystemRandom};
use crate::store::{Expiring, Ring};
use crate::view::{self, Urls};

/// Bodies larger than this are refused (a request object is a few kilobytes).
const MAX_BODY: usize = 256 * 1024;
const FLOW_CONTENT_TYPE: &str = "application/hal+json;charset=UTF-8";

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("environment \"{env}\": cannot make its signing key: {source}")]
    Key { env: String, source: jose::Error },
    #[error("environment \"{env}\": {source}")]
    Region { env: String, source: pingone::Error },
}

/// A flow and its last activity.
struct Stored {
    flow: Flow,
    touched_ms: i64,
}

struct EnvState {
    env: Environment,
    urls: Urls,
    issuer: String,
    /// Accepted `aud` of request objects and login_hint_tokens.
    audiences: Vec<String>,
    id_signer: Signer,
    access_signer: Signer,
    verifier: Verifier,
    jwks: Value,
    /// Boxed: the table then holds pointers, not 650-byte flows, in its spare capacity.
    flows: Mutex<Expiring<Box<Stored>>>,
    codes: Mutex<Expiring<Grant>>,
    outbox: Mutex<Ring<Notification>>,
}

struct Shared {
    envs: HashMap<String, EnvState>,
    limits: Limits,
    clock: Clock,
}

/// The authorization server, ready to serve.
pub struct Authz {
    shared: Arc<Shared>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Authz {
    /// Builds the server for `config`, reachable at `base_url` (issuer = `{base_url}/{envId}/as`);
    /// generates each environment's RS256 signing key (kid = RFC 7638 thumbprint).
    pub fn new(config: Config, base_url: &str, clock: Clock) -> Result<Authz, SetupError> {
        let mut envs = HashMap::new();
        for env in config.environments {
            let key_error = |source| SetupError::Key {
                env: env.id.clone(),
                source,
            };
            let key = Key::generate(Algorithm::RS256).map_err(key_error)?;
            let kid = key.thumbprint();
            let key = key.with_kid(kid.clone());
            let public = key.to_public().map_err(key_error)?;
            let id_signer = Signer::new(key.clone(), Algorithm::RS256).map_err(key_error)?;
            let mut at_header = Map::new();
            at_header.insert("typ".into(), "at+jwt".into());
            at_header.insert("kid".into(), kid.into());
            let access_signer =
                Signer::with_header(key, Algorithm::RS256, at_header).map_err(key_error)?;
            let urls = Urls::new(base_url, &env.id);
            let issuer = urls.issuer();
            let pingone = env
                .region
                .issuer(&env.id)
                .map_err(|source| SetupError::Region {
                    env: env.id.clone(),
                    source,
                })?;
            let state = EnvState {
                urls,
                audiences: vec![issuer.clone(), pingone],
                issuer,
                id_signer,
                access_signer,
                verifier: Verifier::new(public.clone()).allow_algorithms(&[Algorithm::RS256]),
                jwks: KeySet::from(public).to_public_jwks(),
                flows: Mutex::new(Expiring::new(config.limits.max_flows)),
                codes: Mutex::new(Expiring::new(config.limits.max_codes)),
                outbox: Mutex::new(Ring::new(config.limits.outbox_capacity)),
                env,
            };
            envs.insert(state.env.id.clone(), state);
        }
        Ok(Authz {
            shared: Arc::new(Shared {
                envs,
                limits: config.limits,
                clock,
            }),
        })
    }

    /// The routes (PingOne's paths, plus the emulator's outbox and push decisions).
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/{env}/as/authorize",
                get(authorize_get).post(authorize_post),
            )
            .route("/{env}/as/resume", get(resume))
            .route("/{env}/as/token", post(token))
            .route("/{env}/as/jwks", get(jwks))
            .route("/{env}/as/.well-known/openid-configuration", get(discovery))
            .route("/{env}/as/userinfo", get(userinfo).post(userinfo))
            .route("/{env}/flows/{flow}", get(flow_get).post(flow_post))
            .route("/{env}/signon/", get(signon))
            .route("/{env}/emulator/outbox", get(outbox))
            .route("/{env}/emulator/push/{flow}/{decision}", post(push))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(self.shared.clone())
    }

    /// Frees expired flows and codes now; returns how many.
    pub fn sweep(&self) -> usize {
        self.shared.sweep()
    }

    /// Serves on `listener` until `shutdown` resolves, sweeping expired flows and codes
    /// periodically.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_with(listener, Router::new(), shutdown).await
    }

    /// Like [`Authz::serve`], with `extra` routes beside PingOne's (e.g. the browser tools at
    /// `/`). `extra` must not have a fallback; unknown paths get this server's JSON 404.
    pub async fn serve_with(
        self,
        listener: tokio::net::TcpListener,
        extra: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let shared = self.shared.clone();
        let shortest = shared
            .limits
            .flow_idle_timeout_ms
            .min(shared.limits.code_lifetime_ms);
        let period = Duration::from_millis(u64::try_from(shortest / 2).unwrap_or(0))
            .clamp(Duration::from_millis(250), Duration::from_secs(30));
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                shared.sweep();
            }
        });
        let result = axum::serve(listener, self.router().merge(extra))
            .with_graceful_shutdown(shutdown)
            .await;
        sweeper.abort();
        result
    }
}

impl Shared {
    fn env(&self, id: &str) -> Result<&EnvState, ApiError> {
        self.envs.get(id).ok_or_else(|| {
            ApiError::not_found(
                "environment",
                format!("environment \"{id}\" does not exist in this authorization server"),
            )
        })
    }

    fn sweep(&self) -> usize {
        let now = self.clock.now_ms();
        self.envs
            .values()
            .map(|e| lock(&e.flows).sweep(now) + lock(&e.codes).sweep(now))
            .sum()
    }

    fn store(&self, st: &EnvState, flow: Flow, now: i64) {
        let id = flow.id.clone();
        let deadline = now.saturating_add(self.limits.flow_idle_timeout_ms);
        lock(&st.flows).insert(
            id,
            Box::new(Stored {
                flow,
                touched_ms: now,
            }),
            deadline,
        );
    }

    fn flow_json(&self, st: &EnvState, s: &Stored) -> Value {
        view::flow_json(
            &s.flow,
            &st.env,
            &st.urls,
            s.touched_ms,
            self.limits.flow_idle_timeout_ms,
        )
    }

    /// After a transition: notifications to the outbox, and a code for a completed flow.
    fn settle(
        &self,
        st: &EnvState,
        flow: &mut Flow,
        sent: Vec<Notification>,
        now: i64,
    ) -> Result<(), ApiError> {
        if !sent.is_empty() {
            let mut outbox = lock(&st.outbox);
            for n in sent {
                outbox.push(n);
            }
        }
        if flow.code.is_none() {
            if let Some(grant) = oauth::grant(flow) {
                let code = random::secret_token(&mut SystemRandom).map_err(random_failed)?;
                let deadline = now.saturating_add(self.limits.code_lifetime_ms);
                lock(&st.codes).insert(code.clone(), grant, deadline);
                flow.code = Some(code);
            }
        }
        Ok(())
    }

    fn authorize(&self, env_id: &str, pairs: Vec<(String, String)>) -> Response {
        let st = match self.env(env_id) {
            Ok(st) => st,
            Err(e) => return envelope(&e),
        };
        let now = self.clock.now_ms();
        let start = match oauth::authorize(pairs, &st.env, &st.audiences, now.div_euclid(1000)) {
            Ok(s) => s,
            Err(r) => return refusal(r),
        };
        let mut rng = SystemRandom;
        let id = match random::uuid(&mut rng) {
            Ok(id) => id,
            Err(e) => return envelope(&random_failed(e)),
        };
        let mut ctx = Ctx {
            env: &st.env,
            now_ms: now,
            rng: &mut rng,
        };
        let (mut flow, sent) = match flow::start(id, start, &mut ctx) {
            Ok(x) => x,
            Err(e) => return envelope(&flow_error(&e)),
        };
        if let Err(e) = self.settle(st, &mut flow, sent, now) {
            return envelope(&e);
        }
        if flow.request.response_mode == ResponseMode::PiFlow {
            let stored = Stored {
                flow,
                touched_ms: now,
            };
            let body = self.flow_json(st, &stored);
            self.store(st, stored.flow, now);
            return flow_response(&body);
        }
        if flow.status.is_final() {
            return finish_redirect(&flow);
        }
        let location = st.urls.signon(&flow.id);
        self.store(st, flow, now);
        redirect(&location)
    }

    /// Runs an action on a stored flow and answers with the flow (or the action's error).
    fn act(&self, env_id: &str, flow_id: &str, action: Action) -> Response {
        let st = match self.env(env_id) {
            Ok(st) => st,
            Err(e) => return envelope(&e),
        };
        let now = self.clock.now_ms();
        let mut flows = lock(&st.flows);
        let Some(stored) = flows.get_mut(flow_id, now) else {
            return envelope(&flow_not_found(flow_id, &self.limits));
        };
        let mut rng = SystemRandom;
        let mut ctx = Ctx {
            env: &st.env,
            now_ms: now,
            rng: &mut rng,
        };
        let outcome = flow::apply(&mut stored.flow, action, &mut ctx);
        stored.touched_ms = now;
        let outcome = outcome
            .map_err(|e| flow_error(&e))
            .and_then(|sent| self.settle(st, &mut stored.flow, sent, now));
        let response = match outcome {
            Ok(()) => flow_response(&self.flow_json(st, stored)),
            Err(e) => envelope(&e),
        };
        flows.touch(
            flow_id,
            now.saturating_add(self.limits.flow_idle_timeout_ms),
        );
        response
    }
}

// --- responses ---

fn json_response(status: u16, content_type: &'static str, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

fn flow_response(body: &Value) -> Response {
    json_response(200, FLOW_CONTENT_TYPE, body)
}

/// PingOne's error envelope, with a fresh `id`.
fn envelope(e: &ApiError) -> Response {
    let id = random::uuid(&mut SystemRandom).unwrap_or_default();
    json_response(e.status, "application/json", &e.to_json(&id))
}

fn token_error(e: &TokenError) -> Response {
    let mut r = json_response(e.status, "application/json", &e.to_json());
    if e.status == 401 {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"signet authz\""),
        );
    }
    r
}

fn random_failed(e: jose::Error) -> ApiError {
    ApiError::internal(format!("the random generator failed: {e}"))
}

fn flow_not_found(id: &str, limits: &Limits) -> ApiError {
    ApiError::not_found(
        "flowId",
        format!(
            "flow \"{id}\" does not exist or has expired (flows expire after {} s without activity)",
            limits.flow_idle_timeout_ms / 1000
        ),
    )
}

/// How a flow error is reported.
fn flow_error(e: &FlowError) -> ApiError {
    let msg = e.to_string();
    match e {
        FlowError::UnknownAction(_) => ApiError::new(
            400,
            "INVALID_REQUEST",
            "The request could not be completed.",
        )
        .detail("INVALID_VALUE", "Content-Type", msg),
        FlowError::NotAllowed { action, .. } => ApiError::request_failed(*action, msg),
        FlowError::Body { field, .. } => ApiError::invalid_value(*field, msg),
        FlowError::InvalidCredentials { remaining } => ApiError::invalid_value("password", msg)
            .inner(json!({ "remainingAttempts": remaining })),
        FlowError::CredentialsExhausted => {
            ApiError::invalid_value("password", msg).inner(json!({ "remainingAttempts": 0 }))
        }
        FlowError::UnknownDevice(_) => ApiError::invalid_value("device.id", msg),
        FlowError::InvalidOtp { remaining } => ApiError::invalid("INVALID_OTP", "otp", msg)
            .inner(json!({ "remainingAttempts": remaining })),
        FlowError::OtpExhausted => {
            ApiError::invalid("INVALID_OTP", "otp", msg).inner(json!({ "remainingAttempts": 0 }))
        }
        FlowError::Template(_) => ApiError::invalid_value("pi.template", msg),
        FlowError::UserGone(_) => ApiError::request_failed("user", msg),
        FlowError::Random(_) => ApiError::internal(msg),
    }
}

fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (
            StatusCode::FOUND,
            [
                (header::LOCATION, v),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => envelope(&ApiError::internal(
            "the redirect URI is not a valid header",
        )),
    }
}

/// The authorization response to the client: 302 with the parameters in the query or the
/// fragment, or an auto-submitting HTML form for form_post.
fn reply(redirect_uri: &str, mode: ResponseMode, params: &[(&str, &str)]) -> Response {
    if mode == ResponseMode::FormPost {
        let inputs: String = params
            .iter()
            .map(|(k, v)| {
                format!(
                    "<input type=\"hidden\" name=\"{}\" value=\"{}\"/>",
                    html(k),
                    html(v)
                )
            })
            .collect();
        let page = format!(
            "<!DOCTYPE html><html><head><title>Submit this form</title></head>\
             <body onload=\"document.forms[0].submit()\"><form method=\"post\" action=\"{}\">{inputs}\
             <noscript><button type=\"submit\">Continue</button></noscript></form></body></html>",
            html(redirect_uri)
        );
        return (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/html;charset=UTF-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            page,
        )
            .into_response();
    }
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let sep = match mode {
        ResponseMode::Fragment => '#',
        _ if redirect_uri.contains('?') => '&',
        _ => '?',
    };
    redirect(&format!("{redirect_uri}{sep}{encoded}"))
}

fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A refused authorize request: redirected to the client when trusted, else the envelope.
fn refusal(r: Refusal) -> Response {
    match r.reply_to {
        Some(to) => {
            let description = r.error.description();
            let mut params = vec![
                ("error", r.error.oauth),
                ("error_description", description.as_str()),
            ];
            if let Some(s) = &to.state {
                params.push(("state", s));
            }
            reply(&to.redirect_uri, to.mode, &params)
        }
        None => envelope(&r.error),
    }
}

/// A finished redirect-mode flow to its client: the code, or the OAuth error.
fn finish_redirect(flow: &Flow) -> Response {
    let Some(uri) = flow.request.redirect_uri.as_deref() else {
        return envelope(&ApiError::request_failed(
            "redirect_uri",
            "the flow has no redirect_uri",
        ));
    };
    let mode = flow.request.response_mode;
    let mut params: Vec<(&str, &str)> = Vec::new();
    match (&flow.status, &flow.code, &flow.failure) {
        (Status::Completed, Some(code), _) => params.push(("code", code)),
        (_, _, Some(f)) => {
            params.push(("error", f.error));
            params.push(("error_description", &f.description));
        }
        _ => params.push(("error", "server_error")),
    }
    if let Some(s) = &flow.request.state {
        params.push(("state", s));
    }
    reply(uri, mode, &params)
}

// --- request parsing ---

fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

fn query_pairs(q: Option<String>) -> Vec<(String, String)> {
    form_pairs(q.unwrap_or_default().as_bytes())
}

/// The media type without parameters, lowercased.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

fn is_form(headers: &HeaderMap) -> bool {
    media_type(headers).as_deref() == Some("application/x-www-form-urlencoded")
}

fn body_error(e: &BytesRejection) -> ApiError {
    let status = e.status().as_u16();
    let mut err = ApiError::invalid_value("body", format!("the request body cannot be read: {e}"));
    if status == 413 {
        err.status = 413;
    }
    err
}

fn path_error(e: &PathRejection) -> ApiError {
    ApiError::invalid_value("path", format!("the path cannot be read: {e}"))
}

/// The environment named by a `/{envId}/...` path.
fn env_at(s: &Shared, path: Result<Path<String>, PathRejection>) -> Result<&EnvState, ApiError> {
    path.map_err(|e| path_error(&e))
        .and_then(|Path(env)| s.env(&env))
}

// --- handlers ---

type St = State<Arc<Shared>>;

async fn authorize_get(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Response {
    match path {
        Ok(Path(env)) => s.authorize(&env, query_pairs(q)),
        Err(e) => envelope(&path_error(&e)),
    }
}

async fn authorize_post(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let env = match path {
        Ok(Path(env)) => env,
        Err(e) => return envelope(&path_error(&e)),
    };
    if !is_form(&headers) {
        return envelope(&ApiError::invalid_value(
            "Content-Type",
            "a POST to authorize must be application/x-www-form-urlencoded",
        ));
    }
    match body {
        Ok(b) => s.authorize(&env, form_pairs(&b)),
        Err(e) => envelope(&body_error(&e)),
    }
}

async fn resume(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Response {
    let st = match env_at(&s, path) {
        Ok(st) => st,
        Err(e) => return envelope(&e),
    };
    let params = match oauth::params(query_pairs(q)) {
        Ok(p) => p,
        Err(e) => return envelope(&e),
    };
    let Some(flow_id) = params.get("flowId") else {
        return envelope(&ApiError::required("flowId", "flowId is required"));
    };
    let now = s.clock.now_ms();
    let mut flows = lock(&st.flows);
    let Some(stored) = flows.get_mut(flow_id, now) else {
        return envelope(&flow_not_found(flow_id, &s.limits));
    };
    if stored.flow.request.response_mode == ResponseMode::PiFlow {
        return flow_response(&s.flow_json(st, stored));
    }
    if !stored.flow.status.is_final() {
        return redirect(&st.urls.signon(flow_id));
    }
    // A redirect-mode flow ends here.
    match flows.remove(flow_id) {
        Some(done) => finish_redirect(&done.flow),
        None => envelope(&flow_not_found(flow_id, &s.limits)),
    }
}

async fn flow_get(State(s): St, path: Result<Path<(String, String)>, PathRejection>) -> Response {
    let (env_id, flow_id) = match path {
        Ok(Path(p)) => p,
        Err(e) => return envelope(&path_error(&e)),
    };
    let st = match s.env(&env_id) {
        Ok(st) => st,
        Err(e) => return envelope(&e),
    };
    let now = s.clock.now_ms();
    let mut flows = lock(&st.flows);
    let Some(stored) = flows.get_mut(&flow_id, now) else {
        return envelope(&flow_not_found(&flow_id, &s.limits));
    };
    stored.touched_ms = now;
    let body = s.flow_json(st, stored);
    flows.touch(&flow_id, now.saturating_add(s.limits.flow_idle_timeout_ms));
    flow_response(&body)
}

const ACTION_PREFIX: &str = "application/vnd.pingidentity.";
const ACTION_SUFFIX: &str = "+json";

async fn flow_post(
    State(s): St,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (env_id, flow_id) = match path {
        Ok(Path(p)) => p,
        Err(e) => return envelope(&path_error(&e)),
    };
    if let Err(e) = s.env(&env_id) {
        return envelope(&e);
    }
    let media = media_type(&headers).unwrap_or_default();
    let name = media
        .strip_prefix(ACTION_PREFIX)
        .and_then(|m| m.strip_suffix(ACTION_SUFFIX))
        .unwrap_or(media.as_str());
    let body = match body {
        Ok(b) => b,
        Err(e) => return envelope(&body_error(&e)),
    };
    let object = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match jose::json::parse_object(&body, jose::Part::Payload) {
            Ok(o) => o,
            Err(e) => {
                return envelope(&ApiError::invalid_value(
                    "body",
                    format!("the body is not a JSON object: {e}"),
                ))
            }
        }
    };
    match Action::parse(name, &object) {
        Ok(action) => s.act(&env_id, &flow_id, action),
        Err(e) => envelope(&flow_error(&e)),
    }
}

async fn push(
    State(s): St,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> Response {
    let (env_id, flow_id, decision) = match path {
        Ok(Path(p)) => p,
        Err(e) => return envelope(&path_error(&e)),
    };
    let action = match decision.as_str() {
        "approve" => Action::PushApprove,
        "deny" => Action::PushDeny,
        other => {
            return envelope(&ApiError::not_found(
                "decision",
                format!("\"{other}\" is not approve or deny"),
            ))
        }
    };
    s.act(&env_id, &flow_id, action)
}

async fn token(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let st = match env_at(&s, path) {
        Ok(st) => st,
        Err(e) => return envelope(&e),
    };
    match issue_tokens(&s, st, &headers, body) {
        Ok(v) => json_response(200, "application/json", &v),
        Err(e) => token_error(&e),
    }
}

fn issue_tokens(
    s: &Shared,
    st: &EnvState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, TokenError> {
    let body = body.map_err(|e| TokenError::invalid_request(format!("body: {e}")))?;
    if !is_form(headers) {
        return Err(TokenError::invalid_request(
            "the token request must be application/x-www-form-urlencoded",
        ));
    }
    let form = oauth::params(form_pairs(&body))
        .map_err(|e| TokenError::invalid_request(e.description()))?;
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {}
        None => return Err(TokenError::invalid_request("grant_type is required")),
        Some(other) => {
            return Err(TokenError::new(
                400,
                "unsupported_grant_type",
                format!("grant_type \"{other}\" is not supported (authorization_code)"),
            ))
        }
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|h| h.to_str().unwrap_or("not text"));
    let (client_id, secret, _) = oauth::client_credentials(authorization, &form)?;
    oauth::authenticate(&st.env, &client_id, &secret)?;
    let code = form
        .get("code")
        .ok_or_else(|| TokenError::invalid_request("code is required"))?;
    let now_ms = s.clock.now_ms();
    let grant = lock(&st.codes).take(code, now_ms).ok_or_else(|| {
        TokenError::invalid_grant("the authorization code is unknown, expired or already used")
    })?;
    oauth::redeem(&grant, &client_id, &form)?;
    let user = st.env.user(&grant.user_id).ok_or_else(|| {
        TokenError::invalid_grant(format!("user \"{}\" no longer exists", grant.user_id))
    })?;
    let at = Issue {
        issuer: &st.issuer,
        env_id: &st.env.id,
        now: now_ms.div_euclid(1000),
        lifetime: s.limits.token_lifetime_seconds,
    };
    let failed = |e: jose::Error| TokenError::new(500, "server_error", format!("signing: {e}"));
    let jti = random::uuid(&mut SystemRandom).map_err(failed)?;
    let access = st
        .access_signer
        .sign_claims(&oauth::access_token_claims(&grant, &at, &jti))
        .map_err(failed)?;
    let mut out = Map::new();
    out.insert("access_token".into(), access.into());
    out.insert("token_type".into(), "Bearer".into());
    out.insert("expires_in".into(), at.lifetime.into());
    out.insert("scope".into(), grant.scope.clone().into());
    if oauth::has_scope(&grant.scope, "openid") {
        let id_token = st
            .id_signer
            .sign_claims(&oauth::id_token_claims(&grant, user, &at))
            .map_err(failed)?;
        out.insert("id_token".into(), id_token.into());
    }
    Ok(Value::Object(out))
}

async fn userinfo(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let st = match env_at(&s, path) {
        Ok(st) => st,
        Err(e) => return envelope(&e),
    };
    let invalid =
        |msg: String| {
            let e = ApiError::new(401, "ACCESS_FAILED", "The request could not be completed.")
                .detail("INVALID_TOKEN", "Authorization", msg);
            let mut r = envelope(&e);
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            r
        };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        })
        .map(|(_, t)| t.trim().to_owned());
    let Some(token) = token else {
        return invalid("a Bearer access token is required".into());
    };
    let v = Validation {
        now: Some(s.clock.now_ms().div_euclid(1000)),
        issuers: vec![st.issuer.clone()],
        typ: Some("at+jwt".into()),
        required: vec!["sub".into(), "exp".into()],
        ..Validation::default()
    };
    let jwt = match st.verifier.verify_jwt(&token, &v) {
        Ok(j) => j,
        Err(e) => return invalid(format!("the access token is not valid: {e}")),
    };
    let sub = jwt
        .claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let scope = jwt
        .claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match st.env.user(sub) {
        Some(u) => json_response(
            200,
            "application/json",
            &Value::Object(oauth::userinfo(u, scope)),
        ),
        None => invalid(format!("user \"{sub}\" no longer exists")),
    }
}

async fn jwks(State(s): St, path: Result<Path<String>, PathRejection>) -> Response {
    match env_at(&s, path).map(|st| st.jwks.clone()) {
        Ok(v) => json_response(200, "application/json", &v),
        Err(e) => envelope(&e),
    }
}

async fn discovery(State(s): St, path: Result<Path<String>, PathRejection>) -> Response {
    match env_at(&s, path).map(|st| view::discovery(&st.urls)) {
        Ok(v) => json_response(200, "application/json", &v),
        Err(e) => envelope(&e),
    }
}

async fn outbox(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Response {
    let st = match env_at(&s, path) {
        Ok(st) => st,
        Err(e) => return envelope(&e),
    };
    let filter: Option<String> = query_pairs(q)
        .into_iter()
        .find(|(k, _)| k == "flowId")
        .map(|(_, v)| v);
    let items: Vec<Value> = lock(&st.outbox)
        .iter()
        .filter(|n| filter.as_deref().is_none_or(|f| f == n.flow_id))
        .map(view::notification_json)
        .collect();
    json_response(200, "application/json", &Value::Array(items))
}

/// A stand-in for PingOne's hosted sign-on page: says which flow to drive with the Flows API.
async fn signon(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Response {
    let st = match env_at(&s, path) {
        Ok(st) => st,
        Err(e) => return envelope(&e),
    };
    let flow_id = query_pairs(q)
        .into_iter()
        .find(|(k, _)| k == "flowId")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let now = s.clock.now_ms();
    let mut flows = lock(&st.flows);
    let Some(stored) = flows.get_mut(&flow_id, now) else {
        return envelope(&flow_not_found(&flow_id, &s.limits));
    };
    let json = serde_json::to_string_pretty(&s.flow_json(st, stored)).unwrap_or_default();
    let page = format!(
        "<!DOCTYPE html><html><head><title>signet authz: sign on</title></head><body>\
         <h1>Sign-on flow {id}</h1><p>Drive it with the Flows API (<code>POST {flow}</code> with \
         <code>Content-Type: application/vnd.pingidentity.ACTION+json</code>), then open \
         <a href=\"{resume}\">the resume URL</a>.</p><pre>{json}</pre></body></html>",
        id = html(&flow_id),
        flow = html(&st.urls.flow(&flow_id)),
        resume = html(&st.urls.resume(&flow_id)),
        json = html(&json),
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html;charset=UTF-8")],
        page,
    )
        .into_response()
}

async fn not_found(method: Method, uri: Uri) -> Response {
    envelope(&ApiError::not_found(
        "path",
        format!("no endpoint {method} {}", uri.path()),
    ))
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    envelope(&ApiError::new(
        405,
        "METHOD_NOT_ALLOWED",
        format!("{method} is not allowed on {}", uri.path()),
    ))
}
