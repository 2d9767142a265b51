//! `web` sessions: an OIDC authorization-code login (PKCE S256, state, nonce) against the
//! `[web_session]` provider, and the session kept in an encrypted, authenticated cookie.
//!
//! Plain functions over data (expiry, URLs, attribute merge, ID token checks) plus the provider
//! calls (token, refresh and userinfo) on the gateway's async HTTP client. The request-path hooks
//! are in [`super::login`] and [`super::logout`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header;
use hyper::{Method, Request};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::revocation::{Revocations, SessionIds};
pub use super::seal::{random_token, SealKey};
use crate::config::WebSession;
use crate::jwks_source::{KeySource, Refetch};

/// The gateway's own redirect URI path (on every origin it serves).
pub const CALLBACK_PATH: &str = "/pa/oidc/cb";
/// How long a login (authorize → callback) may take.
pub const LOGIN_LIFETIME_SECONDS: i64 = 600;
/// The session cookie's `last-seen` is refreshed at most this often.
pub const RESEAL_AFTER_SECONDS: i64 = 60;
/// Tokens are refreshed this long before they expire.
pub const REFRESH_EARLY_SECONDS: i64 = 30;
/// Provider responses larger than this are refused.
const MAX_BODY: usize = 1024 * 1024;

/// The gateway's client for provider calls (http and https).
pub use crate::fetch::HttpClient as ProviderClient;

/// Why a login or a provider call failed.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("discovery: {0}")]
    Discovery(String),
    #[error("no random bytes are available")]
    Random,
    #[error("the session does not fit in {max} cookies ({0} bytes sealed); the provider's claims are too large", max = super::cookie::MAX_CHUNKS)]
    TooLarge(usize),
    #[error("the login cookie is missing, expired or not valid (start again)")]
    NoLogin,
    #[error("state does not match the login")]
    State,
    #[error("the provider answered with error {error:?}: {description}")]
    Provider { error: String, description: String },
    #[error("the callback has no code")]
    NoCode,
    #[error("{endpoint}: {message}")]
    Call {
        endpoint: &'static str,
        message: String,
    },
    #[error("the ID token is not valid: {0}")]
    IdToken(String),
    #[error("the ID token is not valid: no key of the provider's JWK Set has kid \"{0}\"")]
    UnknownKid(String),
    #[error("the ID token's nonce does not match the login")]
    Nonce,
    #[error("userinfo names another subject than the ID token")]
    Subject,
    #[error("the refreshed ID token names another issuer or subject than the session's")]
    RefreshedSubject,
}

/// What discovery found out about the provider.
#[derive(Debug, Clone)]
pub struct Provider {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
    /// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0), when the provider has it.
    pub end_session_endpoint: Option<String>,
}

impl Provider {
    /// Reads a discovery document; its `issuer` must equal the configured one (trailing `/`
    /// ignored), as OpenID Connect Discovery §4.3 requires.
    pub fn from_discovery(issuer: &str, doc: &Map<String, Value>) -> Result<Provider, WebError> {
        let text = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_owned);
        let found = text("issuer").unwrap_or_default();
        if found.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(WebError::Discovery(format!(
                "the discovery document names issuer {found:?}, not {issuer:?}"
            )));
        }
        let need = |name: &str| {
            text(name)
                .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
                .ok_or_else(|| {
                    WebError::Discovery(format!("the discovery document has no http(s) {name}"))
                })
        };
        Ok(Provider {
            issuer: found,
            authorization_endpoint: need("authorization_endpoint")?,
            token_endpoint: need("token_endpoint")?,
            userinfo_endpoint: need("userinfo_endpoint").ok(),
            jwks_uri: need("jwks_uri")?,
            end_session_endpoint: need("end_session_endpoint").ok(),
        })
    }
}

/// Everything a `[web_session]` needs at request time.
pub struct WebRuntime {
    pub config: WebSession,
    pub provider: Provider,
    /// The provider's keys (`jwks_uri`), fetched again on an unknown `kid`.
    pub keys: KeySource,
    /// From `cookie_secret`; the gateway's start-up key otherwise.
    pub key: Option<SealKey>,
    /// Sessions that logged out, shared by replicas.
    pub revocations: Revocations,
    /// Refreshes in flight or just done, by session id (single flight per session).
    pub refreshes: Refreshes,
    /// `jti`s of back-channel logout tokens seen, until their `exp` (no replay).
    pub logout_jtis: Mutex<HashMap<String, i64>>,
}

/// The result of one session's refresh, shared by the requests that wait for it.
pub type RefreshCell = Arc<tokio::sync::OnceCell<Option<SessionData>>>;

/// Refreshes by session id: concurrent requests of one session wait for one refresh, and
/// requests still carrying the old cookie shortly after reuse its result (a provider that rotates
/// refresh tokens would take a second use of the old one for a replay).
#[derive(Default)]
pub struct Refreshes(Mutex<HashMap<(String, i64), (RefreshCell, i64)>>);

/// How long a finished refresh is reused for requests with the old cookie.
const REFRESH_REUSE_SECONDS: i64 = 60;
const MAX_REFRESHES: usize = 10_000;

impl Refreshes {
    /// The cell for this session's refresh of the tokens that expire at `tokens_exp`.
    pub fn cell(&self, session: &str, tokens_exp: i64, now: i64) -> RefreshCell {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_REFRESHES {
            map.retain(|_, (_, at)| now < at.saturating_add(REFRESH_REUSE_SECONDS));
        }
        map.entry((session.to_owned(), tokens_exp))
            .or_insert_with(|| (RefreshCell::default(), now))
            .0
            .clone()
    }
}

impl WebRuntime {
    pub fn new(
        config: WebSession,
        provider: Provider,
        keys: jose::KeySet,
        revocations: Revocations,
    ) -> Result<WebRuntime, WebError> {
        let key = config
            .cookie_secret
            .as_deref()
            .map(SealKey::derive)
            .transpose()?;
        let keys = KeySource::new(
            keys,
            Some(provider.jwks_uri.clone()),
            std::time::Duration::from_secs(config.jwks_refetch_min_interval_seconds),
        );
        Ok(WebRuntime {
            config,
            provider,
            keys,
            key,
            revocations,
            refreshes: Refreshes::default(),
            logout_jtis: Mutex::new(HashMap::new()),
        })
    }

    /// A `Set-Cookie` deleting the login cookie.
    pub fn clear_login_cookie(&self, secure: bool) -> String {
        super::cookie::set_cookie(&self.login_cookie(), "", "/pa/oidc", Some(0), secure)
    }

    /// The login cookie's name.
    pub fn login_cookie(&self) -> String {
        super::cookie::login_name(&self.config.cookie_name)
    }

    /// The scopes asked for: the configured ones, and `offline_access` when configured.
    pub fn scope(&self) -> String {
        let mut scopes = self.config.scopes.clone();
        if self.config.offline_access && !scopes.iter().any(|s| s == "offline_access") {
            scopes.push("offline_access".into());
        }
        scopes.join(" ")
    }

    /// Whether the session was logged out (here, on another replica, or by the provider).
    pub fn is_revoked(&self, s: &SessionData, now: i64) -> bool {
        self.revocations.is_revoked(&s.ids(), now)
    }

    /// When a session begun at `iat` ends at the latest (its absolute timeout).
    pub fn session_end(&self, iat: i64) -> i64 {
        let minutes = i64::try_from(self.config.session_timeout_minutes).unwrap_or(i64::MAX);
        iat.saturating_add(minutes.saturating_mul(60))
    }
}

/// The session cookie's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionData {
    /// When the login completed (Unix seconds).
    pub iat: i64,
    /// The last request seen (refreshed at most once a minute).
    pub seen: i64,
    /// The user's attributes (ID token and userinfo claims).
    pub attrs: Map<String, Value>,
    /// The gateway's own id of this session (for logout when the provider sends no `sid`).
    pub id: String,
    /// The provider's session id (the ID token's `sid`), for back-channel logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The last ID token, for `id_token_hint` at logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// When the tokens expire (the ID token's `exp`, or sooner the access token's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_exp: Option<i64>,
}

impl SessionData {
    /// What revocations match this session by.
    pub fn ids(&self) -> SessionIds<'_> {
        SessionIds {
            session: &self.id,
            sid: self.sid.as_deref(),
            sub: self.attrs.get("sub").and_then(Value::as_str),
            iat: self.iat,
        }
    }

    /// Whether its tokens are due for a refresh at `now` (only when it has a refresh token).
    pub fn needs_refresh(&self, now: i64) -> bool {
        self.refresh_token.is_some()
            && self
                .tokens_exp
                .is_some_and(|exp| now >= exp.saturating_sub(REFRESH_EARLY_SECONDS))
    }
}

/// The login cookie's content (authorize → callback).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginData {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// Where to return: a path (and query) on this origin.
    pub url: String,
    pub redirect_uri: String,
    pub exp: i64,
}

impl LoginData {
    /// A new login returning to `url`.
    pub fn new(url: &str, redirect_uri: &str, now: i64) -> Result<LoginData, WebError> {
        Ok(LoginData {
            state: random_token(16)?,
            nonce: random_token(16)?,
            verifier: random_token(32)?,
            url: if safe_return_path(url) {
                url.to_owned()
            } else {
                "/".to_owned()
            },
            redirect_uri: redirect_uri.to_owned(),
            exp: now.saturating_add(LOGIN_LIFETIME_SECONDS),
        })
    }
}

/// A session's state at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Valid; `reseal` when `seen` should be refreshed in the cookie.
    Valid {
        reseal: bool,
    },
    IdleExpired,
    Expired,
}

/// Idle (`seen + idle`) and absolute (`iat + session`) timeouts, in minutes.
pub fn freshness(s: &SessionData, now: i64, idle_minutes: u64, session_minutes: u64) -> Freshness {
    let minutes = |m: u64| i64::try_from(m.saturating_mul(60)).unwrap_or(i64::MAX);
    if now >= s.iat.saturating_add(minutes(session_minutes)) || now < s.iat.saturating_sub(300) {
        return Freshness::Expired;
    }
    if now >= s.seen.saturating_add(minutes(idle_minutes)) {
        return Freshness::IdleExpired;
    }
    Freshness::Valid {
        reseal: now.saturating_sub(s.seen) >= RESEAL_AFTER_SECONDS,
    }
}

/// The RFC 7636 S256 challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(d.as_ref())
}

/// A path on this origin (`/…`, not `//…`, no backslash): never an open redirect.
pub fn safe_return_path(url: &str) -> bool {
    url.starts_with('/') && !url.starts_with("//") && !url.contains('\\')
}

/// The authorization request URL.
pub fn authorization_url(
    provider: &Provider,
    client_id: &str,
    scope: &str,
    login: &LoginData,
) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", &login.redirect_uri)
        .append_pair("scope", scope)
        .append_pair("state", &login.state)
        .append_pair("nonce", &login.nonce)
        .append_pair("code_challenge", &pkce_challenge(&login.verifier))
        .append_pair("code_challenge_method", "S256")
        .finish();
    let sep = if provider.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    format!("{}{sep}{query}", provider.authorization_endpoint)
}

/// The redirect URI: the configured one, or `{proto}://{Host}/pa/oidc/cb`.
pub fn redirect_uri(configured: Option<&str>, proto: &str, host: Option<&str>) -> Option<String> {
    if let Some(uri) = configured {
        return Some(uri.to_owned());
    }
    let host = host?.trim();
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b));
    valid.then(|| format!("{proto}://{host}{CALLBACK_PATH}"))
}

/// The session's attributes: the userinfo claims, then the ID token's claims over them (the
/// signed token wins). Protocol-only claims (`nonce`, `at_hash`, `c_hash`) are dropped. Userinfo
/// for another `sub` is refused (OIDC Core §5.3.2).
pub fn merge_attributes(
    id_claims: &Map<String, Value>,
    userinfo: Option<&Map<String, Value>>,
) -> Result<Map<String, Value>, WebError> {
    let mut out = Map::new();
    if let Some(info) = userinfo {
        if info.get("sub") != id_claims.get("sub") {
            return Err(WebError::Subject);
        }
        for (k, v) in info {
            out.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in id_claims {
        out.insert(k.clone(), v.clone());
    }
    for k in ["nonce", "at_hash", "c_hash"] {
        out.remove(k);
    }
    Ok(out)
}

impl WebRuntime {
    /// Verifies a JWT the provider signed for this client: the signature with its keys, `iss`
    /// the provider, `aud` holding `client_id`, `exp`/`nbf`, and the `required` claims. A `kid`
    /// the keys lack fetches `jwks_uri` again (once, single flight) before giving up.
    pub async fn verify_provider_jwt(
        &self,
        client: &ProviderClient,
        token: &str,
        required: &[&str],
        now: i64,
    ) -> Result<jose::Jwt, jose::Error> {
        let validation = jose::Validation {
            now: Some(now),
            issuers: vec![self.provider.issuer.clone()],
            audiences: vec![self.config.client_id.clone()],
            required: required.iter().map(|r| (*r).to_owned()).collect(),
            ..jose::Validation::default()
        };
        let seen = self.keys.generation();
        match self.keys.verifier().verify_jwt(token, &validation) {
            Err(jose::Error::UnknownKid(_))
                if self.keys.refetch_for_unknown_kid(client, seen).await == Refetch::Changed =>
            {
                self.keys.verifier().verify_jwt(token, &validation)
            }
            other => other,
        }
    }
}

/// Verifies the ID token ([`WebRuntime::verify_provider_jwt`], `sub` required, and at login
/// `nonce`) and returns its claims. A refreshed ID token (no nonce to compare, OIDC Core §12.2)
/// must name the session's subject.
pub async fn verify_id_token(
    web: &WebRuntime,
    client: &ProviderClient,
    token: &str,
    check: IdTokenCheck<'_>,
    now: i64,
) -> Result<Map<String, Value>, WebError> {
    let jwt = web
        .verify_provider_jwt(client, token, &["sub"], now)
        .await
        .map_err(|e| match e {
            jose::Error::UnknownKid(kid) => WebError::UnknownKid(kid),
            e => WebError::IdToken(e.to_string()),
        })?;
    match check {
        IdTokenCheck::Login { nonce } => {
            if jwt.claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
                return Err(WebError::Nonce);
            }
        }
        IdTokenCheck::Refresh { sub } => {
            if jwt.claims.get("sub").and_then(Value::as_str) != Some(sub) {
                return Err(WebError::RefreshedSubject);
            }
        }
    }
    Ok(jwt.claims)
}

/// What an ID token is checked against besides its signature and registered claims.
#[derive(Debug, Clone, Copy)]
pub enum IdTokenCheck<'a> {
    /// At login: the login's nonce.
    Login { nonce: &'a str },
    /// After a refresh: the session's subject.
    Refresh { sub: &'a str },
}

/// `Authorization: Basic` for client_secret_basic (RFC 6749 §2.3.1: each part form-encoded).
pub fn basic_auth(client_id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(client_id), enc(secret)))
    )
}

async fn call(
    client: &ProviderClient,
    endpoint: &'static str,
    req: Request<Full<Bytes>>,
) -> Result<Map<String, Value>, WebError> {
    let err = |message: String| WebError::Call { endpoint, message };
    let response = tokio::time::timeout(std::time::Duration::from_secs(10), client.request(req))
        .await
        .map_err(|_| err("no answer within 10 s".into()))?
        .map_err(|e| err(e.to_string()))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| err(e.to_string()))?
        .to_bytes();
    let json: Option<Map<String, Value>> = serde_json::from_slice(&body).ok();
    if !status.is_success() {
        if let Some(error) = json
            .as_ref()
            .and_then(|j| j.get("error"))
            .and_then(Value::as_str)
        {
            let description = json
                .as_ref()
                .and_then(|j| j.get("error_description"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            return Err(WebError::Provider {
                error: error.to_owned(),
                description: description.to_owned(),
            });
        }
        return Err(err(format!("HTTP {status}")));
    }
    json.ok_or_else(|| err("the answer is not a JSON object".into()))
}

/// The token endpoint's answer.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// Always there for a code; a refresh may come without one (the old claims stay).
    pub id_token: Option<String>,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub expires_in: Option<i64>,
}

/// Calls the token endpoint with client_secret_basic.
async fn token_call(
    client: &ProviderClient,
    web: &WebRuntime,
    form: &[(&str, &str)],
) -> Result<Tokens, WebError> {
    let body = {
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in form {
            body.append_pair(k, v);
        }
        body.finish()
    };
    let req = Request::builder()
        .method(Method::POST)
        .uri(&web.provider.token_endpoint)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .header(
            header::AUTHORIZATION,
            basic_auth(&web.config.client_id, &web.config.client_secret),
        )
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| WebError::Call {
            endpoint: "token",
            message: e.to_string(),
        })?;
    let answer = call(client, "token", req).await?;
    let text = |n: &str| answer.get(n).and_then(Value::as_str).map(str::to_owned);
    Ok(Tokens {
        id_token: text("id_token"),
        access_token: text("access_token"),
        refresh_token: text("refresh_token"),
        expires_in: answer.get("expires_in").and_then(Value::as_i64),
    })
}

/// Redeems the code (client_secret_basic, PKCE verifier).
pub async fn redeem(
    client: &ProviderClient,
    web: &WebRuntime,
    code: &str,
    login: &LoginData,
) -> Result<Tokens, WebError> {
    let tokens = token_call(
        client,
        web,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &login.redirect_uri),
            ("code_verifier", &login.verifier),
        ],
    )
    .await?;
    if tokens.id_token.is_none() {
        return Err(WebError::Call {
            endpoint: "token",
            message: "the answer has no id_token".into(),
        });
    }
    Ok(tokens)
}

/// Uses the refresh token (OIDC Core §12).
pub async fn refresh(
    client: &ProviderClient,
    web: &WebRuntime,
    refresh_token: &str,
) -> Result<Tokens, WebError> {
    token_call(
        client,
        web,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// When the tokens expire: the ID token's `exp`, or the access token's `expires_in` if sooner.
pub fn tokens_expiry(
    id_claims: &Map<String, Value>,
    expires_in: Option<i64>,
    now: i64,
) -> Option<i64> {
    let id_exp = id_claims.get("exp").and_then(Value::as_i64);
    let access_exp = expires_in.filter(|s| *s > 0).map(|s| now.saturating_add(s));
    match (id_exp, access_exp) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The userinfo claims, when the provider has the endpoint and an access token was issued.
pub async fn userinfo(
    client: &ProviderClient,
    web: &WebRuntime,
    access_token: Option<&str>,
) -> Result<Option<Map<String, Value>>, WebError> {
    let (Some(endpoint), Some(token)) = (&web.provider.userinfo_endpoint, access_token) else {
        return Ok(None);
    };
    let req = Request::builder()
        .method(Method::GET)
        .uri(endpoint)
        .header(header::ACCEPT, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))
        .map_err(|e| WebError::Call {
            endpoint: "userinfo",
            message: e.to_string(),
        })?;
    call(client, "userinfo", req).await.map(Some)
}

/// The callback's query: `code` and `state`, or the provider's `error`.
pub fn callback_params(
    query: Option<&str>,
) -> (Option<String>, Option<String>, Option<(String, String)>) {
    let mut code = None;
    let mut state = None;
    let mut error = None;
    let mut description = String::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "state" => state = Some(v.into_owned()),
            "error" => error = Some(v.into_owned()),
            "error_description" => description = v.into_owned(),
            _ => {}
        }
    }
    (code, state, error.map(|e| (e, description)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        crate::test_support::object(v)
    }

    fn session(iat: i64, attrs: Map<String, Value>) -> SessionData {
        SessionData {
            iat,
            seen: iat,
            attrs,
            id: "id".into(),
            sid: None,
            id_token: None,
            refresh_token: None,
            tokens_exp: None,
        }
    }

    #[test]
    fn sessions_round_trip_and_old_cookies_without_an_id_do_not_open() {
        use crate::session::seal::{open_json, seal_json};
        let key = SealKey::random().unwrap();
        let mut s = session(100, obj(json!({"sub": "u", "email": "e@x"})));
        s.refresh_token = Some("r".into());
        s.tokens_exp = Some(400);
        let sealed = seal_json(&key, "sid", &s).unwrap();
        assert_eq!(open_json::<SessionData>(&key, "sid", &sealed).unwrap(), s);
        let old = seal_json(&key, "sid", &json!({"iat": 1, "seen": 1, "attrs": {}})).unwrap();
        assert!(open_json::<SessionData>(&key, "sid", &old).is_none());
        assert!(!s.needs_refresh(400 - REFRESH_EARLY_SECONDS - 1));
        assert!(s.needs_refresh(400 - REFRESH_EARLY_SECONDS));
        s.refresh_token = None;
        assert!(!s.needs_refresh(1000), "nothing to refresh with");
        assert_eq!(s.ids().sub, Some("u"));
    }

    #[test]
    fn tokens_expire_with_the_id_token_or_sooner_the_access_token() {
        let id = obj(json!({"exp": 1300}));
        assert_eq!(tokens_expiry(&id, None, 1000), Some(1300));
        assert_eq!(tokens_expiry(&id, Some(60), 1000), Some(1060));
        assert_eq!(tokens_expiry(&id, Some(3600), 1000), Some(1300));
        assert_eq!(tokens_expiry(&Map::new(), Some(60), 1000), Some(1060));
        assert_eq!(tokens_expiry(&Map::new(), None, 1000), None);
    }

    #[test]
    fn idle_and_absolute_timeouts() {
        let s = session(1000, Map::new());
        assert_eq!(
            freshness(&s, 1030, 5, 60),
            Freshness::Valid { reseal: false }
        );
        assert_eq!(
            freshness(&s, 1060, 5, 60),
            Freshness::Valid { reseal: true }
        );
        assert_eq!(freshness(&s, 1000 + 300, 5, 60), Freshness::IdleExpired);
        let seen_late = SessionData {
            seen: 1000 + 3500,
            ..s.clone()
        };
        assert_eq!(
            freshness(&seen_late, 1000 + 3599, 5, 60),
            Freshness::Valid { reseal: true }
        );
        assert_eq!(
            freshness(&seen_late, 1000 + 3600, 5, 60),
            Freshness::Expired
        );
        assert_eq!(
            freshness(&s, 0, 5, 60),
            Freshness::Expired,
            "from the future"
        );
    }

    #[test]
    fn pkce_matches_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn logins_are_random_and_only_return_to_local_paths() {
        let a = LoginData::new("/app/x?y=1", "http://gw/pa/oidc/cb", 10).unwrap();
        let b = LoginData::new("//evil.example/", "http://gw/pa/oidc/cb", 10).unwrap();
        assert_ne!(a.state, b.state);
        assert_ne!(a.nonce, b.nonce);
        assert_eq!(a.verifier.len(), 43);
        assert_eq!(a.url, "/app/x?y=1");
        assert_eq!(b.url, "/");
        assert_eq!(a.exp, 10 + LOGIN_LIFETIME_SECONDS);
        assert!(!safe_return_path("https://evil/"));
        assert!(!safe_return_path("/\\evil"));
        let p = Provider {
            issuer: "http://idp/as".into(),
            authorization_endpoint: "http://idp/as/authorize".into(),
            token_endpoint: String::new(),
            userinfo_endpoint: None,
            jwks_uri: String::new(),
            end_session_endpoint: None,
        };
        let url = authorization_url(&p, "app 1", "openid email", &a);
        assert!(url.starts_with("http://idp/as/authorize?response_type=code&client_id=app+1&redirect_uri=http%3A%2F%2Fgw%2Fpa%2Foidc%2Fcb&scope=openid+email&state="));
        assert!(url.contains(&format!("code_challenge={}", pkce_challenge(&a.verifier))));
        assert!(url.ends_with("&code_challenge_method=S256"));
        assert_eq!(
            callback_params(Some("code=c%201&state=s")),
            (Some("c 1".into()), Some("s".into()), None)
        );
        assert_eq!(
            callback_params(Some("error=access_denied&error_description=no")).2,
            Some(("access_denied".into(), "no".into()))
        );
        assert!(crate::session::seal::same("abc", "abc"));
        assert!(!crate::session::seal::same("abc", "abd"));
    }

    #[test]
    fn redirect_uris_come_from_config_or_host() {
        assert_eq!(
            redirect_uri(None, "http", Some("gw:8080")).unwrap(),
            "http://gw:8080/pa/oidc/cb"
        );
        assert_eq!(
            redirect_uri(Some("https://x/cb"), "http", None).unwrap(),
            "https://x/cb"
        );
        assert_eq!(redirect_uri(None, "http", Some("a/b")), None);
        assert_eq!(redirect_uri(None, "http", None), None);
    }

    #[test]
    fn id_token_claims_win_over_userinfo() {
        let id = obj(json!({"sub": "u1", "iss": "i", "nonce": "n", "email": "signed@x"}));
        let info = obj(json!({"sub": "u1", "email": "info@x", "phone": "1"}));
        let m = merge_attributes(&id, Some(&info)).unwrap();
        assert_eq!(
            Value::Object(m),
            json!({"sub": "u1", "email": "signed@x", "phone": "1", "iss": "i"})
        );
        let other = obj(json!({"sub": "u2"}));
        assert!(matches!(
            merge_attributes(&id, Some(&other)),
            Err(WebError::Subject)
        ));
        assert_eq!(merge_attributes(&id, None).unwrap().len(), 3);
    }

    #[test]
    fn client_secrets_are_form_encoded_in_basic_auth() {
        assert_eq!(
            basic_auth("a b", "s:x"),
            format!("Basic {}", STANDARD.encode("a+b:s%3Ax"))
        );
    }

    #[test]
    fn discovery_needs_the_same_issuer_and_endpoints() {
        let doc = obj(json!({
            "issuer": "http://idp/as",
            "authorization_endpoint": "http://idp/as/authorize",
            "token_endpoint": "http://idp/as/token",
            "jwks_uri": "http://idp/as/jwks",
        }));
        let p = Provider::from_discovery("http://idp/as/", &doc).unwrap();
        assert_eq!(p.userinfo_endpoint, None);
        assert!(Provider::from_discovery("http://other/as", &doc).is_err());
        let mut no_token = doc.clone();
        no_token.remove("token_endpoint");
        assert!(Provider::from_discovery("http://idp/as", &no_token).is_err());
    }
}
