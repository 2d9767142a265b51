//! The `web` session's hooks in the request path: a request with a valid session cookie gets
//! the session's attributes (and a re-sealed cookie when `last-seen` is due or its tokens were
//! refreshed); one without, or with a session that logged out, gets `302` to the provider;
//! `GET /pa/oidc/cb` finishes the login and sets the cookie.

use hyper::body::Incoming;
use hyper::header::{self, HeaderMap};
use hyper::{Request, Response, StatusCode};
use serde_json::{Map, Value};

use super::cookie;
use super::seal::{open_json, seal_json};
use crate::http::respond::{redirect, Body, Failure};
use crate::routes::Routes;
use crate::session::web::{
    self, Freshness, IdTokenCheck, LoginData, ProviderClient, SealKey, SessionData, WebError,
    WebRuntime,
};

/// What the web hooks need from the gateway.
pub struct WebContext<'a> {
    /// The cookie key when `cookie_secret` is not configured.
    pub default_key: &'a SealKey,
    pub provider_client: &'a ProviderClient,
    pub now: i64,
}

impl WebContext<'_> {
    /// The configured cookie key, or the process's own.
    pub fn key<'a>(&'a self, web: &'a WebRuntime) -> &'a SealKey {
        web.key.as_ref().unwrap_or(self.default_key)
    }
}

/// What a `web` application's request found.
pub enum WebOutcome {
    Session {
        attrs: Map<String, Value>,
        /// `Set-Cookie`s with the refreshed session.
        cookies: Vec<String>,
    },
    Respond(Response<Body>),
}

/// The session in the request's cookies (joined from its chunks), and how many cookies held it.
pub fn open_session(
    cx: &WebContext<'_>,
    web: &WebRuntime,
    headers: &HeaderMap,
) -> Option<(SessionData, usize)> {
    let name = &web.config.cookie_name;
    let (sealed, count) = cookie::joined(headers, name)?;
    open_json::<SessionData>(cx.key(web), name, &sealed).map(|s| (s, count))
}

/// The session sealed into `Set-Cookie`s (split when large; without the ID token if even
/// [`cookie::MAX_CHUNKS`] cookies cannot hold it: logout then sends no `id_token_hint`).
fn session_cookies(
    cx: &WebContext<'_>,
    web: &WebRuntime,
    headers: &HeaderMap,
    session: &SessionData,
    secure: bool,
) -> Result<Vec<String>, WebError> {
    let name = &web.config.cookie_name;
    let key = cx.key(web);
    let mut sealed = seal_json(key, name, session)?;
    let mut parts = cookie::split(name, &sealed);
    if parts.is_none() && session.id_token.is_some() {
        let lighter = SessionData {
            id_token: None,
            ..session.clone()
        };
        sealed = seal_json(key, name, &lighter)?;
        parts = cookie::split(name, &sealed);
    }
    let parts = parts.ok_or(WebError::TooLarge(sealed.len()))?;
    Ok(cookie::session_cookies(headers, name, &parts, secure))
}

/// A `web` application's request: the session's attributes (refreshed with the provider when
/// its tokens expire and it has a refresh token), or a redirect to the provider to log in.
pub async fn session(
    cx: &WebContext<'_>,
    routes: &Routes,
    parts: &hyper::http::request::Parts,
    proto: &str,
) -> WebOutcome {
    let Some(web) = &routes.web else {
        return WebOutcome::Respond(
            Failure::Internal {
                code: "no_web_session",
                message: "no [web_session] is configured".into(),
            }
            .response(),
        );
    };
    let now = cx.now;
    let secure = proto == "https";
    if let Some((mut s, _)) = open_session(cx, web, &parts.headers) {
        let state = web::freshness(
            &s,
            now,
            web.config.idle_timeout_minutes,
            web.config.session_timeout_minutes,
        );
        if let Freshness::Valid { reseal } = state {
            if !web.is_revoked(&s, now) {
                let mut changed = reseal;
                if s.needs_refresh(now) {
                    match refreshed(cx, web, &s).await {
                        Some(fresh) => {
                            s = fresh;
                            changed = true;
                        }
                        // The provider refused (or could not be reached): a new login.
                        None => {
                            return WebOutcome::Respond(start_login(cx, web, parts, proto, now))
                        }
                    }
                }
                let mut cookies = Vec::new();
                if changed {
                    s.seen = now;
                    cookies =
                        session_cookies(cx, web, &parts.headers, &s, secure).unwrap_or_default();
                }
                return WebOutcome::Session {
                    attrs: s.attrs,
                    cookies,
                };
            }
        }
    }
    WebOutcome::Respond(start_login(cx, web, parts, proto, now))
}

/// The session with refreshed tokens and attributes, or None when the refresh failed. One
/// refresh per session and token expiry at a time: concurrent requests wait for it, and
/// requests still carrying the old cookie shortly after get its result.
async fn refreshed(cx: &WebContext<'_>, web: &WebRuntime, s: &SessionData) -> Option<SessionData> {
    let cell = web
        .refreshes
        .cell(&s.id, s.tokens_exp.unwrap_or_default(), cx.now);
    cell.get_or_init(|| async {
        match refresh_session(cx, web, s).await {
            Ok(fresh) => Some(fresh),
            Err(e) => {
                eprintln!("signet gateway: session refresh failed, a new login follows: {e}");
                None
            }
        }
    })
    .await
    .clone()
}

async fn refresh_session(
    cx: &WebContext<'_>,
    web: &WebRuntime,
    s: &SessionData,
) -> Result<SessionData, WebError> {
    let now = cx.now;
    let token = s.refresh_token.as_deref().unwrap_or_default();
    let tokens = web::refresh(cx.provider_client, web, token).await?;
    let sub = s
        .attrs
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let id_claims = match &tokens.id_token {
        Some(id_token) => Some(
            web::verify_id_token(
                web,
                cx.provider_client,
                id_token,
                IdTokenCheck::Refresh { sub },
                now,
            )
            .await?,
        ),
        None => None,
    };
    let info = web::userinfo(cx.provider_client, web, tokens.access_token.as_deref()).await?;
    let mut fresh = s.clone();
    match &id_claims {
        Some(claims) => {
            if claims.get("iss") != s.attrs.get("iss") {
                return Err(WebError::RefreshedSubject);
            }
            fresh.attrs = web::merge_attributes(claims, info.as_ref())?;
            fresh.id_token = tokens.id_token.clone();
            fresh.tokens_exp = web::tokens_expiry(claims, tokens.expires_in, now);
        }
        None => {
            // No new ID token: the signed claims stay, userinfo's are taken again.
            if let Some(info) = &info {
                if info.get("sub").and_then(Value::as_str) != Some(sub) {
                    return Err(WebError::Subject);
                }
                for (k, v) in info {
                    if !fresh.attrs.contains_key(k) || !is_id_token_claim(k) {
                        fresh.attrs.insert(k.clone(), v.clone());
                    }
                }
            }
            fresh.tokens_exp = web::tokens_expiry(&Map::new(), tokens.expires_in, now);
        }
    }
    if tokens.refresh_token.is_some() {
        fresh.refresh_token = tokens.refresh_token;
    }
    Ok(fresh)
}

/// Claims that only an ID token sets (userinfo never overrides them).
fn is_id_token_claim(name: &str) -> bool {
    [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "sid",
        "azp",
        "acr",
        "amr",
    ]
    .contains(&name)
}

/// 302 to the provider's authorization endpoint, with the login in a sealed cookie.
fn start_login(
    cx: &WebContext<'_>,
    web: &WebRuntime,
    parts: &hyper::http::request::Parts,
    proto: &str,
    now: i64,
) -> Response<Body> {
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let Some(redirect_uri) = web::redirect_uri(web.config.redirect_uri.as_deref(), proto, host)
    else {
        return Failure::BadRequest(
            "a Host header is needed to log in (or set [web_session] redirect_uri)".into(),
        )
        .response();
    };
    let url = parts
        .uri
        .path_and_query()
        .map_or("/", hyper::http::uri::PathAndQuery::as_str);
    let login_name = web.login_cookie();
    let sealed = LoginData::new(url, &redirect_uri, now).and_then(|login| {
        let sealed = seal_json(cx.key(web), &login_name, &login)?;
        Ok((login, sealed))
    });
    let (login, sealed) = match sealed {
        Ok(x) => x,
        Err(e) => {
            return Failure::Internal {
                code: "login_error",
                message: e.to_string(),
            }
            .response()
        }
    };
    let location =
        web::authorization_url(&web.provider, &web.config.client_id, &web.scope(), &login);
    let cookie = cookie::set_cookie(
        &login_name,
        &sealed,
        "/pa/oidc",
        Some(web::LOGIN_LIFETIME_SECONDS),
        proto == "https",
    );
    redirect(&location, &[cookie])
}

/// `GET /pa/oidc/cb?code&state`: redeems the code, verifies the ID token, reads userinfo,
/// sets the session cookie and returns to the original URL.
pub async fn callback(
    cx: &WebContext<'_>,
    routes: &Routes,
    req: Request<Incoming>,
    proto: &str,
) -> Response<Body> {
    let Some(web) = &routes.web else {
        return Failure::NotFound("no [web_session] is configured".into()).response();
    };
    let secure = proto == "https";
    let finished = match finish_login(cx, web, &req).await {
        Ok((url, session)) => {
            session_cookies(cx, web, req.headers(), &session, secure).map(|cookies| (url, cookies))
        }
        Err(e) => Err(e),
    };
    match finished {
        Ok((url, mut cookies)) => {
            cookies.push(web.clear_login_cookie(secure));
            redirect(&url, &cookies)
        }
        Err(e) => {
            let status = match e {
                WebError::Call { .. } | WebError::Random => StatusCode::BAD_GATEWAY,
                WebError::TooLarge(_) => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::BAD_REQUEST,
            };
            Failure::Login {
                status,
                message: e.to_string(),
            }
            .response()
        }
    }
}

async fn finish_login(
    cx: &WebContext<'_>,
    web: &WebRuntime,
    req: &Request<Incoming>,
) -> Result<(String, SessionData), WebError> {
    let now = cx.now;
    let key = cx.key(web);
    let login_name = web.login_cookie();
    let login = cookie::cookie(req.headers(), &login_name)
        .and_then(|v| open_json::<LoginData>(key, &login_name, v))
        .filter(|l| now < l.exp)
        .ok_or(WebError::NoLogin)?;
    let (code, state, error) = web::callback_params(req.uri().query());
    if !state.is_some_and(|s| super::seal::same(&s, &login.state)) {
        return Err(WebError::State);
    }
    if let Some((error, description)) = error {
        return Err(WebError::Provider { error, description });
    }
    let code = code.ok_or(WebError::NoCode)?;
    let tokens = web::redeem(cx.provider_client, web, &code, &login).await?;
    let id_token = tokens.id_token.clone().unwrap_or_default();
    let id_claims = web::verify_id_token(
        web,
        cx.provider_client,
        &id_token,
        IdTokenCheck::Login {
            nonce: &login.nonce,
        },
        now,
    )
    .await?;
    let info = web::userinfo(cx.provider_client, web, tokens.access_token.as_deref()).await?;
    let attrs = web::merge_attributes(&id_claims, info.as_ref())?;
    let session = SessionData {
        iat: now,
        seen: now,
        id: web::random_token(16)?,
        sid: id_claims
            .get("sid")
            .and_then(Value::as_str)
            .map(str::to_owned),
        tokens_exp: web::tokens_expiry(&id_claims, tokens.expires_in, now),
        id_token: Some(id_token),
        refresh_token: tokens.refresh_token,
        attrs,
    };
    Ok((login.url, session))
}
