//! Pushed authorization requests (RFC 9126): `/as/par`, and the single-use `request_uri` at
//! authorize.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use serde_json::Value;

use super::handlers::{form_pairs, is_form};
use super::{lock, EnvState, Shared};
use crate::config::Environment;
use crate::oauth::{self, TokenError};
use crate::random::{self, SystemRandom};

use super::token::*;

/// A pushed request: its client, its parameters, and until when it may be used (Unix ms).
pub(super) type Pushed = (String, Vec<(String, String)>, i64);

/// The `request_uri` prefix RFC 9126 §2.2 suggests.
const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// `POST /{envId}/as/par` (RFC 9126): the client's authorize parameters, checked as authorize
/// checks them, kept under a single-use `request_uri` for `par_timeout`. `201` with
/// `{request_uri, expires_in}`.
pub(super) fn par(
    s: &Shared,
    st: &EnvState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, TokenError> {
    let body = body.map_err(|e| TokenError::invalid_request(format!("body: {e}")))?;
    if !is_form(headers) {
        return Err(TokenError::invalid_request(
            "the request must be application/x-www-form-urlencoded",
        ));
    }
    let pairs = form_pairs(&body);
    let form =
        oauth::params(pairs.clone()).map_err(|e| TokenError::invalid_request(e.description()))?;
    if form.contains_key("request_uri") {
        return Err(TokenError::invalid_request(
            "a pushed request cannot carry request_uri",
        ));
    }
    let env = st.env();
    let client = authenticated(s, st, &env, headers, &form, "par")?;
    // The authorize parameters without the client's credentials, with its client_id.
    let mut kept: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "client_secret" | "client_assertion" | "client_assertion_type"
            )
        })
        .collect();
    if !kept.iter().any(|(k, _)| k == "client_id") {
        kept.push(("client_id".into(), client.app.client_id.clone()));
    }
    let now_ms = s.now_ms();
    oauth::authorize(kept.clone(), &env, &st.audiences, now_ms.div_euclid(1000))
        .map_err(|r| TokenError::invalid_request(r.error.description()))?;
    let uri = format!(
        "{REQUEST_URI_PREFIX}{}",
        random::secret_token(&mut SystemRandom).map_err(failed)?
    );
    let mut pushed = lock(&st.pushed);
    if pushed.len() >= 10_000 {
        pushed.retain(|_, (_, _, until)| *until > now_ms);
    }
    pushed.insert(
        uri.clone(),
        (
            client.app.client_id.clone(),
            kept,
            now_ms.saturating_add(client.par_timeout_ms),
        ),
    );
    Ok(serde_json::json!({
        "request_uri": uri,
        "expires_in": client.par_timeout_ms / 1000,
    }))
}

/// An authorize request's parameters: a PAR `request_uri`'s (single use, unexpired, the same
/// client), or its own when its application does not require PAR.
pub(super) fn pushed(
    st: &EnvState,
    env: &Environment,
    pairs: Vec<(String, String)>,
    now_ms: i64,
) -> Result<Vec<(String, String)>, crate::error::ApiError> {
    use crate::error::ApiError;
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let client_id = get("client_id");
    let Some(uri) = get("request_uri") else {
        let required = client_id
            .as_deref()
            .and_then(|id| env.client(id))
            .is_some_and(|c| c.par_required);
        if required {
            return Err(ApiError::required(
                "request_uri",
                "the application requires pushed authorization requests (par_requirement REQUIRED)",
            ));
        }
        return Ok(pairs);
    };
    let (owner, kept, until) = lock(&st.pushed).remove(&uri).ok_or_else(|| {
        ApiError::invalid_value(
            "request_uri",
            "request_uri is unknown, expired or already used",
        )
    })?;
    if now_ms >= until {
        return Err(ApiError::invalid_value(
            "request_uri",
            "request_uri has expired (par_timeout)",
        ));
    }
    if client_id.as_deref() != Some(owner.as_str()) {
        return Err(ApiError::invalid_value(
            "client_id",
            "client_id differs from the pushed request's",
        ));
    }
    Ok(kept)
}
