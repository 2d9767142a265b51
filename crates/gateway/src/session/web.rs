//! `web` sessions: an OIDC authorization-code login (PKCE S256, state, nonce) against the
//! `[web_session]` provider, and the session kept in an encrypted, authenticated cookie.
//!
//! Plain functions over data (sealing, expiry, URLs, cookies, attribute merge) plus the two
//! provider calls (token and userinfo) on the gateway's async HTTP client. The proxy's hooks are
//! thin: see `proxy::Gateway::{web_session, oidc_callback}`.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::WebSession;
use crate::jwks_source::KeySource;

/// The gateway's own redirect URI path (on every origin it serves).
pub const CALLBACK_PATH: &str = "/pa/oidc/cb";
/// How long a login (authorize → callback) may take.
pub const LOGIN_LIFETIME_SECONDS: i64 = 600;
/// The session cookie's `last-seen` is refreshed at most this often.
pub const RESEAL_AFTER_SECONDS: i64 = 60;
/// Browsers keep cookies up to about 4 KiB.
pub const MAX_COOKIE_BYTES: usize = 4000;
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
    #[error("the session does not fit in a cookie ({0} bytes; the limit is 4000)")]
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
}

/// What discovery found out about the provider.
#[derive(Debug, Clone)]
pub struct Provider {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
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
}

impl WebRuntime {
    pub fn new(
        config: WebSession,
        provider: Provider,
        keys: jose::KeySet,
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
        })
    }

    /// The login cookie's name.
    pub fn login_cookie(&self) -> String {
        format!("{}_login", self.config.cookie_name)
    }

    pub fn scope(&self) -> String {
        self.config.scopes.join(" ")
    }
}

/// `len` random bytes, base64url.
pub fn random_token(len: usize) -> Result<String, WebError> {
    let mut bytes = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| WebError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// An AES-256-GCM key for cookies.
pub struct SealKey(LessSafeKey);

impl SealKey {
    fn from_bytes(bytes: &[u8]) -> Result<SealKey, WebError> {
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| WebError::Random)?;
        Ok(SealKey(LessSafeKey::new(key)))
    }

    /// A fresh random key (sessions end when the gateway restarts).
    pub fn random() -> Result<SealKey, WebError> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| WebError::Random)?;
        SealKey::from_bytes(&bytes)
    }

    /// The key derived from a configured secret (shared by replicas).
    pub fn derive(secret: &str) -> Result<SealKey, WebError> {
        let digest = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            format!("signet gateway web session v1\0{secret}").as_bytes(),
        );
        SealKey::from_bytes(digest.as_ref())
    }

    /// `base64url(nonce ‖ ciphertext ‖ tag)`; `purpose` (the cookie's name) is the associated
    /// data, so a login cookie never opens as a session and vice versa.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<String, WebError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| WebError::Random)?;
        let mut data = plaintext.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_bytes()),
                &mut data,
            )
            .map_err(|_| WebError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// The plaintext, or None when the value was not sealed by this key for this purpose.
    pub fn open(&self, purpose: &str, sealed: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed.trim()).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = rest.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut data)
            .ok()?;
        Some(plain.to_vec())
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

/// Seals a JSON value.
pub fn seal_json<T: Serialize>(
    key: &SealKey,
    purpose: &str,
    value: &T,
) -> Result<String, WebError> {
    let json = serde_json::to_vec(value).map_err(|e| WebError::Call {
        endpoint: "cookie",
        message: e.to_string(),
    })?;
    let sealed = key.seal(purpose, &json)?;
    if sealed.len() + purpose.len() > MAX_COOKIE_BYTES {
        return Err(WebError::TooLarge(sealed.len()));
    }
    Ok(sealed)
}

/// Opens a sealed JSON value.
pub fn open_json<T: for<'de> Deserialize<'de>>(
    key: &SealKey,
    purpose: &str,
    sealed: &str,
) -> Option<T> {
    serde_json::from_slice(&key.open(purpose, sealed)?).ok()
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

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// Removes the named cookies from the request's `Cookie` headers (the backend never sees the
/// gateway's own cookies).
pub fn remove_cookies(headers: &mut HeaderMap, names: &[&str]) {
    let kept: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(n, _)| n);
            !names.contains(&name)
        })
        .map(str::to_owned)
        .collect();
    headers.remove(header::COOKIE);
    if !kept.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&kept.join("; ")) {
            headers.insert(header::COOKIE, v);
        }
    }
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Secure over HTTPS; `max_age` 0 deletes it.
pub fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<i64>,
    secure: bool,
) -> String {
    let mut out = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        out.push_str(&format!("; Max-Age={}", age.max(0)));
    }
    if secure {
        out.push_str("; Secure");
    }
    out
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

/// Verifies the ID token (signature with the provider's keys, `iss`, `aud` = client_id, `exp`,
/// `nonce`) and returns its claims.
pub fn verify_id_token(
    web: &WebRuntime,
    token: &str,
    nonce: &str,
    now: i64,
) -> Result<Map<String, Value>, WebError> {
    let validation = jose::Validation {
        now: Some(now),
        issuers: vec![web.provider.issuer.clone()],
        audiences: vec![web.config.client_id.clone()],
        required: vec!["sub".into()],
        ..jose::Validation::default()
    };
    let jwt = web
        .keys
        .verifier()
        .verify_jwt(token, &validation)
        .map_err(|e| match e {
            jose::Error::UnknownKid(kid) => WebError::UnknownKid(kid),
            e => WebError::IdToken(e.to_string()),
        })?;
    if jwt.claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
        return Err(WebError::Nonce);
    }
    Ok(jwt.claims)
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
    pub id_token: String,
    pub access_token: Option<String>,
}

/// Redeems the code (client_secret_basic, PKCE verifier).
pub async fn redeem(
    client: &ProviderClient,
    web: &WebRuntime,
    code: &str,
    login: &LoginData,
) -> Result<Tokens, WebError> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", &login.redirect_uri)
        .append_pair("code_verifier", &login.verifier)
        .finish();
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
        id_token: text("id_token").ok_or_else(|| WebError::Call {
            endpoint: "token",
            message: "the answer has no id_token".into(),
        })?,
        access_token: text("access_token"),
    })
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

/// Constant-time comparison of two strings.
pub fn same(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        crate::test_support::object(v)
    }

    #[test]
    fn sealed_cookies_open_only_with_the_key_and_purpose() {
        let key = SealKey::random().unwrap();
        let sealed = key.seal("sid", b"hello").unwrap();
        assert_eq!(key.open("sid", &sealed).unwrap(), b"hello");
        assert!(key.open("sid_login", &sealed).is_none(), "purpose is bound");
        assert!(SealKey::random().unwrap().open("sid", &sealed).is_none());
        // Every flipped byte is detected.
        let mut raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        for i in 0..raw.len() {
            raw[i] ^= 1;
            assert!(key.open("sid", &URL_SAFE_NO_PAD.encode(&raw)).is_none());
            raw[i] ^= 1;
        }
        assert!(key.open("sid", "").is_none());
        assert!(key.open("sid", "not base64 !").is_none());
        // A derived key is stable.
        let a = SealKey::derive("s3cret").unwrap();
        let sealed = a.seal("sid", b"x").unwrap();
        assert_eq!(
            SealKey::derive("s3cret")
                .unwrap()
                .open("sid", &sealed)
                .unwrap(),
            b"x"
        );
        assert!(SealKey::derive("other")
            .unwrap()
            .open("sid", &sealed)
            .is_none());
    }

    #[test]
    fn sessions_round_trip_and_oversized_ones_are_refused() {
        let key = SealKey::random().unwrap();
        let s = SessionData {
            iat: 100,
            seen: 100,
            attrs: obj(json!({"sub": "u", "email": "e@x"})),
        };
        let sealed = seal_json(&key, "sid", &s).unwrap();
        assert_eq!(open_json::<SessionData>(&key, "sid", &sealed).unwrap(), s);
        let big = SessionData {
            attrs: obj(json!({"blob": "x".repeat(5000)})),
            ..s
        };
        assert!(matches!(
            seal_json(&key, "sid", &big),
            Err(WebError::TooLarge(_))
        ));
    }

    #[test]
    fn idle_and_absolute_timeouts() {
        let s = SessionData {
            iat: 1000,
            seen: 1000,
            attrs: Map::new(),
        };
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
        assert!(same("abc", "abc") && !same("abc", "abd"));
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
    fn cookies_are_read_removed_and_set() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; sid=xyz"));
        h.append(header::COOKIE, HeaderValue::from_static("sid_login=l; b=2"));
        assert_eq!(cookie(&h, "sid"), Some("xyz"));
        assert_eq!(cookie(&h, "sid_login"), Some("l"));
        assert_eq!(cookie(&h, "c"), None);
        remove_cookies(&mut h, &["sid", "sid_login"]);
        assert_eq!(h.get_all(header::COOKIE).iter().count(), 1);
        assert_eq!(h[header::COOKIE], "a=1; b=2");
        remove_cookies(&mut h, &["a", "b"]);
        assert!(h.get(header::COOKIE).is_none());
        assert_eq!(
            set_cookie("sid", "v", "/", None, true),
            "sid=v; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert_eq!(
            set_cookie("sid", "", "/pa/oidc", Some(0), false),
            "sid=; Path=/pa/oidc; HttpOnly; SameSite=Lax; Max-Age=0"
        );
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
