//! The HTTP surface: thin axum handlers ([`handlers`]) over the domain modules, one shared state
//! holding each environment's signing key and its bounded stores, and the answers ([`respond`]).
//! Every error is JSON (PingOne's envelope, or OAuth's at the token endpoint) and never stops
//! the server; handlers return `Result<Response, ApiError>`.

mod backchannel;
mod control;
mod cors;
mod exchange;
mod handlers;
mod introspect;
mod par;
mod remote_keys;
mod respond;
mod signoff;
#[cfg(test)]
mod tests;
mod token;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use jose::jws::{Signer, Verifier};
use jose::{Algorithm, Key, KeySet};
use serde_json::{Map, Value};

use handlers::*;
use respond::*;

use crate::clock::Clock;
use crate::config::{Config, Environment, Limits};
use crate::error::ApiError;
use crate::flow::{self, Action, Ctx, Flow, Notification};
use crate::oauth::{self, Grant, ResponseMode};
use crate::random::{self, SystemRandom};
use crate::store::{Expiring, Ring};
use crate::view::{self, Urls};

/// Bodies larger than this are refused (a request object is a few kilobytes).
const MAX_BODY: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("environment \"{env}\": cannot make its signing key: {source}")]
    Key { env: String, source: jose::Error },
    #[error("environment \"{env}\": {source}")]
    Region { env: String, source: pingone::Error },
    #[error("environment \"{env}\": {source}")]
    Certificate {
        env: String,
        source: crate::certificate::CertificateError,
    },
}

/// The JWK Set with each key's certificate (`x5c`, `x5t#S256`).
fn jwks_with_certificate(mut jwks: Value, der: &[u8]) -> Value {
    if let Some(keys) = jwks.get_mut("keys").and_then(Value::as_array_mut) {
        for k in keys.iter_mut() {
            if let Value::Object(jwk) = k {
                *jwk = crate::certificate::with_certificate(std::mem::take(jwk), der);
            }
        }
    }
    jwks
}

/// A flow and its last activity.
struct Stored {
    flow: Flow,
    touched_ms: i64,
}

struct EnvState {
    id: String,
    /// The environment as configured now (the control API changes it); `configured` is the
    /// configuration's, for reset.
    current: RwLock<Arc<Environment>>,
    configured: Arc<Environment>,
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
    /// Wrong passwords by user, across flows.
    lockouts: Mutex<flow::Lockouts>,
    /// Pushed authorization requests (RFC 9126), by `request_uri`: the client, the parameters,
    /// the deadline.
    pushed: Mutex<HashMap<String, par::Pushed>>,
    /// Each user's sign-on session (`sid`), until signoff.
    sessions: Mutex<HashMap<String, String>>,
    /// Device flows' user codes: the device code, the scope.
    user_codes: Mutex<HashMap<String, (String, String)>>,
    /// CIBA requests waiting for their user, by `auth_req_id` (and device codes).
    ciba: Mutex<HashMap<String, crate::ciba::Pending>>,
    /// `jti`s of client assertions seen (no replay).
    assertion_jtis: Mutex<crate::client_auth::SeenJtis>,
    /// `jti`s of access tokens revoked at `/as/revoke`.
    revoked_jtis: Mutex<std::collections::HashSet<String>>,
    /// Refresh tokens issued, by token.
    refresh: Mutex<crate::refresh::RefreshStore>,
    /// Failures the control API asked for: (endpoint, calls left, the error).
    faults: Mutex<Vec<control::Fault>>,
    /// When each application's `jwks_url` was last fetched.
    remote_keys: Mutex<HashMap<String, remote_keys::Fetched>>,
}

impl EnvState {
    /// Applies what flows changed (a new password, a registered or verified user).
    fn apply_changes(&self, changes: Vec<flow::UserChange>) {
        if changes.is_empty() {
            return;
        }
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let mut env = Environment::clone(&current);
        for c in changes {
            match c {
                flow::UserChange::SetPassword { user_id, password } => {
                    if let Some(u) = env.users.iter_mut().find(|u| u.id == user_id) {
                        u.password = Some(password);
                        u.password_status = crate::config::PasswordStatus::Ok;
                    }
                }
                flow::UserChange::Create(user) => {
                    if env.find_user(&user.username).is_none() {
                        env.users.push(*user);
                    }
                }
                flow::UserChange::Verified { user_id } => {
                    if let Some(u) = env.users.iter_mut().find(|u| u.id == user_id) {
                        u.verified = true;
                    }
                }
            }
        }
        *current = Arc::new(env);
    }

    /// Drops expired CIBA and device requests, pushed requests, and user codes whose device
    /// code is gone (clients that never poll or never come back); returns how many.
    fn sweep_pending(&self, now: i64) -> usize {
        let mut ciba = lock(&self.ciba);
        let before = ciba.len();
        ciba.retain(|_, p| p.expires_ms > now);
        let mut gone = before - ciba.len();
        let mut codes = lock(&self.user_codes);
        let before = codes.len();
        codes.retain(|_, (device_code, _)| ciba.contains_key(device_code));
        gone += before - codes.len();
        drop((ciba, codes));
        let mut pushed = lock(&self.pushed);
        let before = pushed.len();
        pushed.retain(|_, p| p.2 > now);
        gone + (before - pushed.len())
    }

    /// Runs `f` with a flow context at `now`, the lockout table locked for the call only, and
    /// gives back what `f` answered and the user changes it asked for. The lockouts are the
    /// innermost lock: a caller may hold the flows store, never take one while in `f`. (A
    /// guard made inside the context's literal, `&mut lock(..)`, lives to the end of the
    /// caller: authorize then held the lockouts while storing its flow, a flow action held
    /// the flows while taking the lockouts, and the two deadlocked; the soak found it.)
    fn in_flow<T>(
        &self,
        env: &Environment,
        now: i64,
        f: impl FnOnce(&mut Ctx<'_>) -> T,
    ) -> (T, Vec<flow::UserChange>) {
        let mut lockouts = lock(&self.lockouts);
        let mut ctx = Ctx {
            env,
            now_ms: now,
            rng: &mut SystemRandom,
            lockouts: &mut lockouts,
            changes: Vec::new(),
        };
        let out = f(&mut ctx);
        (out, ctx.changes)
    }

    /// Installs an application's keys fetched from its `jwks_url`.
    fn install_keys(&self, client_id: &str, keys: KeySet) {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let mut env = Environment::clone(&current);
        if let Some(c) = env
            .applications
            .iter_mut()
            .find(|c| c.app.client_id == client_id)
        {
            c.app = c.app.clone().with_keys(keys);
            *current = Arc::new(env);
        }
    }

    /// The grant with the user's sign-on session (made at the first sign-on, kept until
    /// signoff); None only when no random bytes are available.
    fn with_session(&self, mut grant: Grant) -> Option<Grant> {
        let mut sessions = lock(&self.sessions);
        let sid = match sessions.get(&grant.user_id) {
            Some(sid) => sid.clone(),
            None => {
                let sid = random::uuid(&mut SystemRandom).ok()?;
                if sessions.len() >= 100_000 {
                    sessions.clear();
                }
                sessions.insert(grant.user_id.clone(), sid.clone());
                sid
            }
        };
        grant.sid = Some(sid);
        Some(grant)
    }

    /// The environment as it is now.
    fn env(&self) -> Arc<Environment> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Where a redirect-mode flow's browser signs on: the application's `login_page_url` with
    /// `environmentId` and `flowId` (PingOne's custom sign-on), or the emulator's page.
    fn sign_on_page(&self, flow: &Flow) -> String {
        match self
            .env()
            .client(&flow.client_id)
            .and_then(|c| c.login_page_url.as_deref())
        {
            Some(page) => {
                let query = form_urlencoded::Serializer::new(String::new())
                    .append_pair("environmentId", &self.id)
                    .append_pair("flowId", &flow.id)
                    .finish();
                let sep = if page.contains('?') { '&' } else { '?' };
                format!("{page}{sep}{query}")
            }
            None => self.urls.signon(&flow.id),
        }
    }
}

struct Shared {
    envs: HashMap<String, EnvState>,
    limits: Limits,
    clock: Clock,
    /// How far the control API has moved the clock forward.
    advanced_ms: AtomicI64,
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
            let certificate =
                crate::certificate::self_signed(&key, &format!("signet authz {}", env.id))
                    .map_err(|source| SetupError::Certificate {
                        env: env.id.clone(),
                        source,
                    })?;

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
                jwks: jwks_with_certificate(KeySet::from(public).to_public_jwks(), &certificate),
                flows: Mutex::new(Expiring::new(config.limits.max_flows)),
                codes: Mutex::new(Expiring::new(config.limits.max_codes)),
                outbox: Mutex::new(Ring::new(config.limits.outbox_capacity)),
                lockouts: Mutex::new(flow::Lockouts::default()),
                faults: Mutex::new(Vec::new()),
                remote_keys: Mutex::new(HashMap::new()),
                refresh: Mutex::new(crate::refresh::RefreshStore::new(
                    config.limits.max_refresh_tokens,
                )),
                revoked_jtis: Mutex::new(std::collections::HashSet::new()),
                assertion_jtis: Mutex::new(crate::client_auth::SeenJtis::default()),
                ciba: Mutex::new(HashMap::new()),
                pushed: Mutex::new(HashMap::new()),
                user_codes: Mutex::new(HashMap::new()),
                sessions: Mutex::new(HashMap::new()),
                id: env.id.clone(),
                current: RwLock::new(Arc::new(env.clone())),
                configured: Arc::new(env),
            };
            envs.insert(state.id.clone(), state);
        }
        Ok(Authz {
            shared: Arc::new(Shared {
                envs,
                limits: config.limits,
                clock,
                advanced_ms: AtomicI64::new(0),
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
            .route("/{env}/as/introspect", post(introspect))
            .route("/{env}/as/bc-authorize", post(bc_authorize))
            .route("/{env}/as/par", post(par))
            .route("/{env}/as/signoff", get(signoff::signoff))
            .route("/{env}/as/idpSignoff", get(signoff::idp_signoff))
            .route("/{env}/as/device_authorization", post(device_authorization))
            .route("/{env}/device", get(device).post(device))
            .route("/{env}/as/revoke", post(revoke))
            .route("/{env}/as/.well-known/openid-configuration", get(discovery))
            .route("/{env}/as/userinfo", get(userinfo).post(userinfo))
            .route("/{env}/flows/{flow}", get(flow_get).post(flow_post))
            .route("/{env}/signon/", get(signon))
            .route("/{env}/emulator/outbox", get(outbox))
            .route("/{env}/emulator/push/{flow}/{decision}", post(push))
            .route(
                "/{env}/emulator/users/{user}",
                axum::routing::put(control::put_user).delete(control::delete_user),
            )
            .route(
                "/{env}/emulator/users/{user}/devices/{device}",
                axum::routing::put(control::put_device).delete(control::delete_device),
            )
            .route(
                "/{env}/emulator/applications/{client}",
                axum::routing::put(control::put_application).delete(control::delete_application),
            )
            .route("/{env}/emulator/clock", post(control::clock))
            .route(
                "/{env}/emulator/faults",
                post(control::add_fault)
                    .get(control::list_faults)
                    .delete(control::clear_faults),
            )
            .route("/{env}/emulator/reset", post(control::reset))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .layer(axum::middleware::from_fn_with_state(
                self.shared.clone(),
                cors::cors,
            ))
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
    /// The emulator's time: its clock, plus what the control API advanced it by.
    fn now_ms(&self) -> i64 {
        self.clock
            .now_ms()
            .saturating_add(self.advanced_ms.load(Ordering::Relaxed))
    }

    fn env(&self, id: &str) -> Result<&EnvState, ApiError> {
        self.envs.get(id).ok_or_else(|| {
            ApiError::not_found(
                "environment",
                format!("environment \"{id}\" does not exist in this authorization server"),
            )
        })
    }

    fn sweep(&self) -> usize {
        let now = self.now_ms();
        self.envs
            .values()
            .map(|e| {
                // One store at a time: no request waits on a lock the sweep is not using.
                let flows = lock(&e.flows).sweep(now);
                let codes = lock(&e.codes).sweep(now);
                let refresh = lock(&e.refresh).sweep(now);
                flows + codes + refresh + e.sweep_pending(now)
            })
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
            &st.env(),
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
        let issued = flow.code.is_some() || !flow.front_channel.is_empty();
        if !issued {
            if let Some(grant) = oauth::grant(flow).and_then(|g| st.with_session(g)) {
                let asked = flow.request.response_type;
                // A flow that must answer with a code (the code grant, CIBA, device codes).
                let code = if asked.code || !asked.front_channel() {
                    let code = random::secret_token(&mut SystemRandom).map_err(random_failed)?;
                    let deadline = now.saturating_add(self.limits.code_lifetime_ms);
                    lock(&st.codes).insert(code.clone(), grant.clone(), deadline);
                    Some(code)
                } else {
                    None
                };
                if asked.front_channel() {
                    flow.front_channel =
                        token::front_channel(self, st, &grant, code.as_deref(), asked)
                            .map_err(|e| ApiError::internal(e.description))?;
                }
                flow.code = code;
            }
        }
        Ok(())
    }

    /// A new flow for `start`, settled (its notifications in the outbox, its code or tokens
    /// issued when it is already complete); not stored yet.
    fn begin(
        &self,
        st: &EnvState,
        env: &Environment,
        start: flow::Start,
        now: i64,
    ) -> Result<Flow, ApiError> {
        let id = random::uuid(&mut SystemRandom).map_err(random_failed)?;
        let (started, _) = st.in_flow(env, now, |ctx| flow::start(id, start, ctx));
        let (mut flow, sent) = started.map_err(|e| flow_error(&e))?;
        self.settle(st, &mut flow, sent, now)?;
        Ok(flow)
    }

    /// Starts and stores a flow (for CIBA): its notifications go to the outbox.
    fn start_flow(&self, st: &EnvState, start: flow::Start, now: i64) -> Result<String, ApiError> {
        let env = st.env();
        let flow = self.begin(st, &env, start, now)?;
        let id = flow.id.clone();
        self.store(st, flow, now);
        Ok(id)
    }

    fn authorize(&self, env_id: &str, pairs: Vec<(String, String)>) -> Result<Response, ApiError> {
        let st = self.env(env_id)?;
        if let Some(r) = control::injected(st, "authorize") {
            return Ok(r);
        }
        let now = self.now_ms();
        let env = st.env();
        let pairs = par::pushed(st, &env, pairs, now)?;
        let start = match oauth::authorize(pairs, &env, &st.audiences, now.div_euclid(1000)) {
            Ok(s) => s,
            Err(r) => return Ok(refusal(r)),
        };
        let flow = self.begin(st, &env, start, now)?;
        if flow.request.response_mode == ResponseMode::PiFlow {
            let stored = Stored {
                flow,
                touched_ms: now,
            };
            let body = self.flow_json(st, &stored);
            self.store(st, stored.flow, now);
            return Ok(flow_response(&body));
        }
        if flow.status.is_final() {
            return Ok(finish_redirect(&flow));
        }
        let location = st.sign_on_page(&flow);
        self.store(st, flow, now);
        Ok(redirect(&location))
    }

    /// Runs an action on a stored flow and answers with the flow (or the action's error).
    fn act(&self, env_id: &str, flow_id: &str, action: Action) -> Result<Response, ApiError> {
        let st = self.env(env_id)?;
        if !matches!(
            action,
            Action::PushApprove | Action::PushDeny | Action::PushTimeout
        ) {
            if let Some(r) = control::injected(st, "flows") {
                return Ok(r);
            }
        }
        let env = st.env();
        let now = self.now_ms();
        let mut flows = lock(&st.flows);
        let stored = flows
            .get_mut(flow_id, now)
            .ok_or_else(|| flow_not_found(flow_id, &self.limits))?;
        flow::tick(&mut stored.flow, &env, now);
        let (outcome, changes) =
            st.in_flow(&env, now, |ctx| flow::apply(&mut stored.flow, action, ctx));
        st.apply_changes(changes);
        stored.touched_ms = now;
        let outcome = outcome
            .map_err(|e| flow_error(&e))
            .and_then(|sent| self.settle(st, &mut stored.flow, sent, now));
        let response = outcome.map(|()| flow_response(&self.flow_json(st, stored)));
        flows.touch(
            flow_id,
            now.saturating_add(self.limits.flow_idle_timeout_ms),
        );
        response
    }
}
