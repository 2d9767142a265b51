//! Ending `web` sessions: `GET|POST /pa/oidc/logout` (the browser's), and
//! `POST /pa/oidc/backchannel_logout` (the provider's, OpenID Connect Back-Channel Logout 1.0).
//! Both record the session in the shared [`super::revocation`] list, so every replica refuses it.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Map, Value};

use super::cookie;
use super::login::WebContext;
use super::revocation::{Entry, RevocationError};
use super::web::{ProviderClient, WebRuntime};
use crate::http::respond::{full, json_response, redirect, with_type, Body, Failure};
use crate::routes::Routes;

pub const LOGOUT_PATH: &str = "/pa/oidc/logout";
pub const BACKCHANNEL_PATH: &str = "/pa/oidc/backchannel_logout";
/// The `events` member a logout token must have (Back-Channel Logout §2.4).
pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A logout token without `exp` is accepted only this long after its `iat` (our choice: the
/// spec's later revisions require `exp`; older providers omit it).
pub const LOGOUT_TOKEN_MAX_AGE: i64 = 600;
/// Larger back-channel bodies are refused.
const MAX_BACKCHANNEL_BODY: usize = 64 * 1024;
/// Most logout-token `jti`s remembered for replay detection.
const MAX_JTIS: usize = 100_000;

/// Why a logout token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoutTokenError {
    #[error("the logout token is not valid: {0}")]
    Invalid(String),
    #[error("the logout token is not valid: no key of the provider's JWK Set has kid \"{0}\"")]
    UnknownKid(String),
    #[error("the logout token's typ is {0:?}, not \"logout+jwt\"")]
    Typ(String),
    #[error("the logout token has no events claim with {BACKCHANNEL_EVENT:?}")]
    Events,
    #[error("the logout token has a nonce claim (it would be an ID token)")]
    Nonce,
    #[error("the logout token has neither sid nor sub")]
    NoSubject,
    #[error("the logout token has no {0}")]
    Missing(&'static str),
    #[error("the logout token was issued in the future")]
    Future,
    #[error("the logout token has no exp and was issued more than {LOGOUT_TOKEN_MAX_AGE} s ago")]
    TooOld,
    #[error("the logout token's jti was seen before (a replay)")]
    Replayed,
}

/// What a verified logout token ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutClaims {
    pub sid: Option<String>,
    pub sub: Option<String>,
    pub jti: String,
    /// Until when its `jti` is remembered.
    pub remember_until: i64,
}

/// Verifies a logout token (Back-Channel Logout §2.6): the signature with the provider's keys,
/// `iss`, `aud` (the client id), `iat`, `exp` when present, `jti`, the `events` member, no
/// `nonce`, a `sid` or a `sub`; `typ`, when present, `logout+jwt` (or `JWT`). Replays are
/// checked by [`remember_jti`].
pub async fn verify_logout_token(
    web: &WebRuntime,
    client: &ProviderClient,
    token: &str,
    now: i64,
) -> Result<LogoutClaims, LogoutTokenError> {
    let jwt = web
        .verify_provider_jwt(client, token, &[], now)
        .await
        .map_err(|e| match e {
            jose::Error::UnknownKid(kid) => LogoutTokenError::UnknownKid(kid),
            e => LogoutTokenError::Invalid(e.to_string()),
        })?;
    logout_claims(
        &jwt.header,
        &jwt.claims,
        now,
        jose::Validation::default().leeway,
    )
}

/// The checks of [`verify_logout_token`] after the signature and `iss`/`aud`/`exp`.
fn logout_claims(
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    now: i64,
    leeway: u64,
) -> Result<LogoutClaims, LogoutTokenError> {
    if let Some(typ) = header.get("typ") {
        let t = typ.as_str().unwrap_or_default().to_ascii_lowercase();
        let t = t.strip_prefix("application/").unwrap_or(&t);
        if t != "logout+jwt" && t != "jwt" {
            return Err(LogoutTokenError::Typ(
                typ.as_str().unwrap_or("?").to_owned(),
            ));
        }
    }
    let leeway = i64::try_from(leeway).unwrap_or(0);
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(LogoutTokenError::Missing("iat"))?;
    if iat > now.saturating_add(leeway) {
        return Err(LogoutTokenError::Future);
    }
    let exp = claims.get("exp").and_then(Value::as_i64);
    if exp.is_none() && now > iat.saturating_add(LOGOUT_TOKEN_MAX_AGE) {
        return Err(LogoutTokenError::TooOld);
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|j| !j.is_empty())
        .ok_or(LogoutTokenError::Missing("jti"))?;
    let event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(BACKCHANNEL_EVENT));
    if !event.is_some_and(Value::is_object) {
        return Err(LogoutTokenError::Events);
    }
    if claims.contains_key("nonce") {
        return Err(LogoutTokenError::Nonce);
    }
    let text = |n: &str| {
        claims
            .get(n)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (sid, sub) = (text("sid"), text("sub"));
    if sid.is_none() && sub.is_none() {
        return Err(LogoutTokenError::NoSubject);
    }
    Ok(LogoutClaims {
        sid,
        sub,
        jti: jti.to_owned(),
        remember_until: exp
            .unwrap_or(iat.saturating_add(LOGOUT_TOKEN_MAX_AGE))
            .max(iat.saturating_add(LOGOUT_TOKEN_MAX_AGE))
            .saturating_add(leeway),
    })
}

/// Records the token's `jti`; Err when it was seen before (and is still remembered).
pub fn remember_jti(
    web: &WebRuntime,
    claims: &LogoutClaims,
    now: i64,
) -> Result<(), LogoutTokenError> {
    let mut seen = web
        .logout_jtis
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if seen.get(&claims.jti).is_some_and(|&until| now < until) {
        return Err(LogoutTokenError::Replayed);
    }
    if seen.len() >= MAX_JTIS {
        seen.retain(|_, until| now < *until);
    }
    if seen.len() < MAX_JTIS {
        seen.insert(claims.jti.clone(), claims.remember_until);
    }
    Ok(())
}

/// What a logout token revokes: the provider's session (`sid`), or every session of `sub` begun
/// until now. Kept until any such session has timed out.
pub fn entries_for(web: &WebRuntime, claims: &LogoutClaims, now: i64) -> Vec<Entry> {
    let exp = web.session_end(now);
    match (&claims.sid, &claims.sub) {
        (Some(sid), _) => vec![Entry::Sid {
            sid: sid.clone(),
            exp,
        }],
        (None, Some(sub)) => vec![Entry::Subject {
            sub: sub.clone(),
            before: now,
            exp,
        }],
        (None, None) => Vec::new(),
    }
}

/// Records revocations off the async workers (file I/O under a lock).
async fn revoke(
    routes: &Arc<Routes>,
    entries: Vec<Entry>,
    now: i64,
) -> Result<(), RevocationError> {
    let routes = routes.clone();
    tokio::task::spawn_blocking(move || match &routes.web {
        Some(web) => web.revocations.revoke(&entries, now),
        None => Ok(()),
    })
    .await
    .unwrap_or_else(|e| {
        Err(RevocationError::Io {
            path: std::path::PathBuf::new(),
            action: "record the logout",
            error: std::io::Error::other(e.to_string()),
        })
    })
}

/// `GET|POST /pa/oidc/logout`: the session (if any) is revoked on every replica, its cookies
/// and the login cookie are cleared, and the browser goes to the provider's
/// `end_session_endpoint` (with `id_token_hint`, `client_id` and `post_logout_redirect_uri`),
/// or, when the provider has none, gets a small "signed out" page.
pub async fn logout(
    cx: &WebContext<'_>,
    routes: &Arc<Routes>,
    req: &Request<Incoming>,
    proto: &str,
) -> Response<Body> {
    let Some(web) = &routes.web else {
        return Failure::NotFound("no [web_session] is configured".into()).response();
    };
    if req.method() != Method::GET && req.method() != Method::POST {
        return Failure::MethodNotAllowed(format!("{LOGOUT_PATH} takes GET or POST")).response();
    }
    let now = cx.now;
    let secure = proto == "https";
    let name = &web.config.cookie_name;
    let session = super::login::open_session(cx, web, req.headers()).map(|(s, _)| s);
    let mut cookies = cookie::clear_session(req.headers(), name, secure);
    cookies.push(web.clear_login_cookie(secure));
    let mut id_token = None;
    if let Some(s) = &session {
        let exp = web.session_end(s.iat);
        let mut entries = vec![Entry::Session {
            session: s.id.clone(),
            exp,
        }];
        if let Some(sid) = &s.sid {
            entries.push(Entry::Sid {
                sid: sid.clone(),
                exp,
            });
        }
        if let Err(e) = revoke(routes, entries, now).await {
            // This browser's cookies are cleared all the same; other replicas may still accept
            // a copy of the old cookie, which the answer says.
            let mut r = Failure::Internal {
                code: "logout_failed",
                message: format!(
                    "the cookies were cleared, but the logout could not be recorded for other replicas: {e}"
                ),
            }
            .response();
            for c in cookies.iter().filter_map(|c| HeaderValue::from_str(c).ok()) {
                r.headers_mut().append(header::SET_COOKIE, c);
            }
            return r;
        }
        id_token = s.id_token.clone();
    }
    match &web.provider.end_session_endpoint {
        Some(endpoint) => redirect(
            &end_session_url(
                endpoint,
                &web.config.client_id,
                id_token.as_deref(),
                web.config.post_logout_redirect_uri.as_deref(),
            ),
            &cookies,
        ),
        None => signed_out(&cookies),
    }
}

/// The provider's logout URL (RP-Initiated Logout 1.0 §2).
pub fn end_session_url(
    endpoint: &str,
    client_id: &str,
    id_token_hint: Option<&str>,
    post_logout_redirect_uri: Option<&str>,
) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(hint) = id_token_hint {
        query.append_pair("id_token_hint", hint);
    }
    query.append_pair("client_id", client_id);
    if let Some(uri) = post_logout_redirect_uri {
        query.append_pair("post_logout_redirect_uri", uri);
    }
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    format!("{endpoint}{sep}{}", query.finish())
}

fn signed_out(cookies: &[String]) -> Response<Body> {
    let page = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signed out</title></head>\n<body><h1>Signed out</h1><p>You have signed out.</p></body></html>\n";
    let mut r = with_type(
        Response::new(full(Bytes::from_static(page.as_bytes()))),
        "text/html; charset=utf-8",
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

/// A back-channel answer: 200 on success, 400 (with `error` and `error_description`, RFC 6749
/// §5.2, as §2.8 allows) otherwise; never cached.
fn backchannel_answer(status: StatusCode, error: Option<&str>) -> Response<Body> {
    let body = match error {
        Some(description) => json!({
            "error": "invalid_request",
            "error_description": description,
            "message": description,
        })
        .to_string(),
        None => String::new(),
    };
    let mut r = if error.is_some() {
        json_response(status, Bytes::from(body))
    } else {
        let mut r = Response::new(full(Bytes::new()));
        *r.status_mut() = status;
        r
    };
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `POST /pa/oidc/backchannel_logout` with a form body `logout_token=…`: the token verified
/// ([`verify_logout_token`]), its `jti` not replayed, and the sessions it names revoked.
pub async fn backchannel(
    cx: &WebContext<'_>,
    routes: &Arc<Routes>,
    req: Request<Incoming>,
) -> Response<Body> {
    let Some(web) = &routes.web else {
        return Failure::NotFound("no [web_session] is configured".into()).response();
    };
    if req.method() != Method::POST {
        return Failure::MethodNotAllowed(format!("{BACKCHANNEL_PATH} takes POST")).response();
    }
    let bad = |m: &str| backchannel_answer(StatusCode::BAD_REQUEST, Some(m));
    let body = match Limited::new(req.into_body(), MAX_BACKCHANNEL_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => return bad(&format!("the request body cannot be read: {e}")),
    };
    let token = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned());
    let Some(token) = token else {
        return bad("the body has no logout_token");
    };
    let now = cx.now;
    let claims = verify_logout_token(web, cx.provider_client, &token, now).await;
    let claims = match claims.and_then(|c| remember_jti(web, &c, now).map(|()| c)) {
        Ok(c) => c,
        Err(e) => return bad(&e.to_string()),
    };
    match revoke(routes, entries_for(web, &claims, now), now).await {
        Ok(()) => backchannel_answer(StatusCode::OK, None),
        Err(e) => Failure::Internal {
            code: "logout_failed",
            message: format!("the logout could not be recorded: {e}"),
        }
        .response(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn claims(v: Value) -> Map<String, Value> {
        crate::test_support::object(v)
    }

    fn good() -> Value {
        json!({
            "iss": "http://idp", "aud": "gw", "iat": 1000, "exp": 1120, "jti": "j1",
            "sid": "s1", "events": {BACKCHANNEL_EVENT: {}}
        })
    }

    #[test]
    fn logout_token_claims_are_checked_strictly() {
        let h = claims(json!({"alg": "ES256", "typ": "logout+jwt"}));
        let ok = logout_claims(&h, &claims(good()), 1010, 60).unwrap();
        assert_eq!(ok.sid.as_deref(), Some("s1"));
        assert_eq!(ok.remember_until, 1000 + LOGOUT_TOKEN_MAX_AGE + 60);
        let with = |k: &str, v: Value| {
            let mut c = good();
            c[k] = v;
            logout_claims(&h, &claims(c), 1010, 60)
        };
        let without = |k: &str| {
            let mut c = claims(good());
            c.remove(k);
            logout_claims(&h, &c, 1010, 60)
        };
        assert_eq!(with("nonce", json!("n")), Err(LogoutTokenError::Nonce));
        assert_eq!(with("events", json!({})), Err(LogoutTokenError::Events));
        assert_eq!(
            with("events", json!({BACKCHANNEL_EVENT: "x"})),
            Err(LogoutTokenError::Events)
        );
        assert_eq!(without("events"), Err(LogoutTokenError::Events));
        assert_eq!(without("jti"), Err(LogoutTokenError::Missing("jti")));
        assert_eq!(without("iat"), Err(LogoutTokenError::Missing("iat")));
        assert_eq!(with("iat", json!(2000)), Err(LogoutTokenError::Future));
        let mut c = claims(good());
        c.remove("sid");
        assert_eq!(
            logout_claims(&h, &c, 1010, 60),
            Err(LogoutTokenError::NoSubject)
        );
        c.insert("sub".into(), json!("u1"));
        assert_eq!(
            logout_claims(&h, &c, 1010, 60).unwrap().sub.as_deref(),
            Some("u1")
        );
        // Without exp: only shortly after iat.
        let mut c = claims(good());
        c.remove("exp");
        assert!(logout_claims(&h, &c, 1000 + LOGOUT_TOKEN_MAX_AGE, 60).is_ok());
        assert_eq!(
            logout_claims(&h, &c, 1001 + LOGOUT_TOKEN_MAX_AGE, 60),
            Err(LogoutTokenError::TooOld)
        );
        // An ID token's typ is refused; JWT is accepted.
        let id = claims(json!({"alg": "ES256", "typ": "id_token+jwt"}));
        assert!(matches!(
            logout_claims(&id, &claims(good()), 1010, 60),
            Err(LogoutTokenError::Typ(_))
        ));
        let jwt = claims(json!({"alg": "ES256", "typ": "JWT"}));
        assert!(logout_claims(&jwt, &claims(good()), 1010, 60).is_ok());
    }

    #[test]
    fn end_session_urls_carry_the_hint_and_return_address() {
        assert_eq!(
            end_session_url("http://idp/logout", "gw app", Some("a.b.c"), Some("https://gw/bye")),
            "http://idp/logout?id_token_hint=a.b.c&client_id=gw+app&post_logout_redirect_uri=https%3A%2F%2Fgw%2Fbye"
        );
        assert_eq!(
            end_session_url("http://idp/logout?x=1", "gw", None, None),
            "http://idp/logout?x=1&client_id=gw"
        );
    }
}
