//! The `web` session's hooks in the request path: a request with a valid session cookie gets
//! the session's attributes (and a re-sealed cookie when `last-seen` is due); one without gets
//! `302` to the provider; `GET /pa/oidc/cb` finishes the login and sets the cookie.

use hyper::body::Incoming;
use hyper::header;
use hyper::{Request, Response, StatusCode};
use serde_json::{Map, Value};

use crate::http::respond::{redirect, Body, Failure};
use crate::jwks_source::Refetch;
use crate::routes::Routes;
use crate::session::web::{
    self, Freshness, LoginData, ProviderClient, SealKey, SessionData, WebRuntime,
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
    fn key<'a>(&'a self, web: &'a WebRuntime) -> &'a SealKey {
        web.key.as_ref().unwrap_or(self.default_key)
    }
}

/// What a `web` application's request found.
pub enum WebOutcome {
    Session {
        attrs: Map<String, Value>,
        /// A `Set-Cookie` with the refreshed `last-seen`.
        reseal: Option<String>,
    },
    Respond(Response<Body>),
}

/// A `web` application's request: the session's attributes (and a re-sealed cookie when
/// `last-seen` is due), or a redirect to the provider to log in.
pub fn session(
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
    let key = cx.key(web);
    let name = &web.config.cookie_name;
    let session =
        web::cookie(&parts.headers, name).and_then(|v| web::open_json::<SessionData>(key, name, v));
    if let Some(mut s) = session {
        let state = web::freshness(
            &s,
            now,
            web.config.idle_timeout_minutes,
            web.config.session_timeout_minutes,
        );
        if let Freshness::Valid { reseal } = state {
            let mut cookie = None;
            if reseal {
                s.seen = now;
                cookie = web::seal_json(key, name, &s)
                    .ok()
                    .map(|v| web::set_cookie(name, &v, "/", None, proto == "https"));
            }
            return WebOutcome::Session {
                attrs: s.attrs,
                reseal: cookie,
            };
        }
    }
    WebOutcome::Respond(start_login(cx, web, parts, proto, now))
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
        let sealed = web::seal_json(cx.key(web), &login_name, &login)?;
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
    let cookie = web::set_cookie(
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
    let now = cx.now;
    match finish_login(cx, web, &req, now).await {
        Ok((url, session)) => {
            let secure = proto == "https";
            let name = &web.config.cookie_name;
            let clear = web::set_cookie(&web.login_cookie(), "", "/pa/oidc", Some(0), secure);
            redirect(
                &url,
                &[web::set_cookie(name, &session, "/", None, secure), clear],
            )
        }
        Err(e) => {
            let status = match e {
                web::WebError::Call { .. } | web::WebError::Random => StatusCode::BAD_GATEWAY,
                web::WebError::TooLarge(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
    now: i64,
) -> Result<(String, String), web::WebError> {
    use web::WebError;
    let key = cx.key(web);
    let login_name = web.login_cookie();
    let login = web::cookie(req.headers(), &login_name)
        .and_then(|v| web::open_json::<LoginData>(key, &login_name, v))
        .filter(|l| now < l.exp)
        .ok_or(WebError::NoLogin)?;
    let (code, state, error) = web::callback_params(req.uri().query());
    if !state.is_some_and(|s| web::same(&s, &login.state)) {
        return Err(WebError::State);
    }
    if let Some((error, description)) = error {
        return Err(WebError::Provider { error, description });
    }
    let code = code.ok_or(WebError::NoCode)?;
    let tokens = web::redeem(cx.provider_client, web, &code, &login).await?;
    let seen = web.keys.generation();
    let id_claims = match web::verify_id_token(web, &tokens.id_token, &login.nonce, now) {
        // The provider rotated its key: fetch its JWK Set again (once) and verify again.
        Err(WebError::UnknownKid(_))
            if web
                .keys
                .refetch_for_unknown_kid(cx.provider_client, seen)
                .await
                == Refetch::Changed =>
        {
            web::verify_id_token(web, &tokens.id_token, &login.nonce, now)?
        }
        other => other?,
    };
    let info = web::userinfo(cx.provider_client, web, tokens.access_token.as_deref()).await?;
    let attrs = web::merge_attributes(&id_claims, info.as_ref())?;
    let session = SessionData {
        iat: now,
        seen: now,
        attrs,
    };
    let sealed = web::seal_json(key, &web.config.cookie_name, &session)?;
    Ok((login.url, sealed))
}
