//! `GET /{envId}/as/signoff` and `/as/idpSignoff` (PingOne's RP-initiated logout: `id_token_hint`,
//! `post_logout_redirect_uri`, `state`): ends the user's sign-on session and sends an OpenID
//! Back-Channel Logout 1.0 token (`sid`, `sub`, the back-channel event) to every application of
//! the environment with a `backchannel_logout_uri`. The deliveries are awaited (5 s each) before
//! the answer, so a test sees their effect at once (our choice; PingOne sends them on its own
//! time).

use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::handlers::{query_pairs, St};
use super::lock;
use super::respond::redirect;
use crate::error::ApiError;
use crate::random::{self, SystemRandom};

/// The back-channel logout event (Back-Channel Logout 1.0 §2.4).
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

pub(super) async fn signoff(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    end_session(&s, path, q, false).await
}

/// `GET /{envId}/as/idpSignoff` (PingOne's IdP signoff): as `/as/signoff`, for an application
/// whose `idp_signoff` is true; a `client_id` parameter must be the hint's `aud`.
pub(super) async fn idp_signoff(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    end_session(&s, path, q, true).await
}

async fn end_session(
    s: &super::Shared,
    path: Result<Path<String>, PathRejection>,
    q: Option<String>,
    idp: bool,
) -> Result<Response, ApiError> {
    let Path(env_id) = path.map_err(|e| ApiError::invalid_value("path", e.to_string()))?;
    let st = s.env(&env_id)?;
    let params = crate::oauth::params(query_pairs(q))?;
    let hint = params
        .get("id_token_hint")
        .ok_or_else(|| ApiError::required("id_token_hint", "id_token_hint is required"))?;
    let validation = jose::Validation {
        issuers: vec![st.issuer.clone()],
        check_exp: false,
        required: vec!["sub".into(), "aud".into()],
        ..jose::Validation::default()
    };
    let claims = st
        .verifier
        .verify_jwt(hint, &validation)
        .map_err(|e| {
            ApiError::invalid_value(
                "id_token_hint",
                format!("not an ID token of this environment: {e}"),
            )
        })?
        .claims;
    let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
    let sub = text("sub").unwrap_or_default();
    let client_id = text("aud").unwrap_or_default();
    let env = st.env();
    let client = env.client(&client_id).ok_or_else(|| {
        ApiError::invalid_value("id_token_hint", "the hint's application no longer exists")
    })?;
    if !client.app.enabled {
        return Err(ApiError::invalid_value(
            "id_token_hint",
            format!("application \"{client_id}\" is disabled"),
        ));
    }
    if idp {
        if !client.idp_signoff {
            return Err(ApiError::invalid_value(
                "id_token_hint",
                format!(
                    "application \"{client_id}\" does not allow IdP signoff (idp_signoff is false)"
                ),
            ));
        }
        if let Some(id) = params.get("client_id").filter(|id| **id != client_id) {
            return Err(ApiError::invalid_value(
                "client_id",
                format!("client_id \"{id}\" is not the id_token_hint's aud \"{client_id}\""),
            ));
        }
    }
    let back_to = match params.get("post_logout_redirect_uri") {
        Some(uri) if client.post_logout_redirect_uris.contains(uri) => Some(uri.clone()),
        Some(uri) => {
            return Err(ApiError::invalid_value(
                "post_logout_redirect_uri",
                format!("\"{uri}\" is not one of the application's post_logout_redirect_uris"),
            ))
        }
        None => None,
    };
    // The session ends (if the hint's is still the user's).
    let sid = text("sid");
    {
        let mut sessions = lock(&st.sessions);
        if sid.is_some() && sessions.get(&sub) == sid.as_ref() {
            sessions.remove(&sub);
        }
    }
    if let Some(sid) = &sid {
        lock(&st.refresh).end_session(sid);
    }
    let now = s.now_ms().div_euclid(1000);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| ApiError::internal(format!("cannot make the HTTP client: {e}")))?;
    for app in env.applications.iter() {
        let Some(uri) = &app.backchannel_logout_uri else {
            continue;
        };
        let jti = random::uuid(&mut SystemRandom).unwrap_or_default();
        let mut token = json!({
            "iss": st.issuer, "aud": app.app.client_id, "iat": now, "exp": now + 120,
            "jti": jti, "sub": sub, "events": { EVENT: {} },
        });
        if let (Some(sid), Some(o)) = (&sid, token.as_object_mut()) {
            o.insert("sid".into(), sid.clone().into());
        }
        let Ok(logout_token) = st.id_signer.sign_claims(&token) else {
            continue;
        };
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("logout_token", &logout_token)
            .finish();
        // Failures are the application's; the logout goes on (Back-Channel Logout §2.8).
        let _ = http
            .post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await;
    }
    Ok(match back_to {
        Some(uri) => {
            let mut location = uri;
            if let Some(state) = params.get("state") {
                let sep = if location.contains('?') { '&' } else { '?' };
                let q: String = form_urlencoded::Serializer::new(String::new())
                    .append_pair("state", state)
                    .finish();
                location = format!("{location}{sep}{q}");
            }
            redirect(&location)
        }
        None => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html;charset=UTF-8")],
            "<!DOCTYPE html><html><head><title>Signed off</title></head><body><h1>Signed off</h1></body></html>",
        )
            .into_response(),
    })
}
