//! The axum handlers: extract, call the domain modules through [`Shared`], answer. Each
//! returns `Result<Response, ApiError>`; an error is PingOne's envelope.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use jose::Validation;
use serde_json::{Map, Value};

use super::respond::*;
use super::{lock, EnvState, Shared};
use crate::error::ApiError;
use crate::flow::{self, Action};
use crate::oauth::{self, ResponseMode};
use crate::view;

/// A handler's answer: the response, or PingOne's error envelope.
type Answer = Result<Response, ApiError>;

pub(super) fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

pub(super) fn query_pairs(q: Option<String>) -> Vec<(String, String)> {
    form_pairs(q.unwrap_or_default().as_bytes())
}

/// The media type without parameters, lowercased.
pub(super) fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

pub(super) fn is_form(headers: &HeaderMap) -> bool {
    media_type(headers).as_deref() == Some("application/x-www-form-urlencoded")
}

pub(super) fn body_error(e: &BytesRejection) -> ApiError {
    let status = e.status().as_u16();
    let mut err = ApiError::invalid_value("body", format!("the request body cannot be read: {e}"));
    if status == 413 {
        err.status = 413;
    }
    err
}

pub(super) fn path_error(e: &PathRejection) -> ApiError {
    ApiError::invalid_value("path", format!("the path cannot be read: {e}"))
}

/// The environment named by a `/{envId}/...` path.
pub(super) fn env_at(
    s: &Shared,
    path: Result<Path<String>, PathRejection>,
) -> Result<&EnvState, ApiError> {
    path.map_err(|e| path_error(&e))
        .and_then(|Path(env)| s.env(&env))
}

/// Fetches the `jwks_url` keys that a form body's tokens need (a client assertion, a request
/// object); the OAuth error when an application has none and they cannot be fetched.
async fn keys_for_form(
    s: &Shared,
    st: &EnvState,
    body: &Result<Bytes, BytesRejection>,
) -> Option<Response> {
    let Ok(bytes) = body else { return None };
    super::remote_keys::prepare(s, st, &form_pairs(bytes))
        .await
        .err()
        .map(|e| crate::oauth::TokenError::invalid_client(e).into_response())
}

/// Fetches the `jwks_url` keys an authorize request's request object needs.
async fn keys_for_authorize(
    s: &Shared,
    env_id: &str,
    pairs: &[(String, String)],
) -> Result<(), ApiError> {
    let st = s.env(env_id)?;
    super::remote_keys::prepare(s, st, pairs)
        .await
        .map_err(|e| ApiError::invalid_value("request", e).oauth("invalid_request_object"))
}

// --- handlers ---

pub(super) type St = State<Arc<Shared>>;

pub(super) async fn authorize_get(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Answer {
    let Path(env) = path.map_err(|e| path_error(&e))?;
    let pairs = query_pairs(q);
    keys_for_authorize(&s, &env, &pairs).await?;
    s.authorize(&env, pairs)
}

pub(super) async fn authorize_post(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let Path(env) = path.map_err(|e| path_error(&e))?;
    if !is_form(&headers) {
        return Err(ApiError::invalid_value(
            "Content-Type",
            "a POST to authorize must be application/x-www-form-urlencoded",
        ));
    }
    let body = body.map_err(|e| body_error(&e))?;
    let pairs = form_pairs(&body);
    keys_for_authorize(&s, &env, &pairs).await?;
    s.authorize(&env, pairs)
}

pub(super) async fn resume(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Answer {
    let st = env_at(&s, path)?;
    let params = oauth::params(query_pairs(q))?;
    if let Some(r) = super::control::injected(st, "resume") {
        return Ok(r);
    }
    let flow_id = params
        .get("flowId")
        .ok_or_else(|| ApiError::required("flowId", "flowId is required"))?;
    let now = s.now_ms();
    let mut flows = lock(&st.flows);
    let stored = flows
        .get_mut(flow_id, now)
        .ok_or_else(|| flow_not_found(flow_id, &s.limits))?;
    flow::tick(&mut stored.flow, &st.env(), now);
    if stored.flow.request.response_mode == ResponseMode::PiFlow {
        return Ok(flow_response(&s.flow_json(st, stored)));
    }
    if !stored.flow.status.is_final() {
        return Ok(redirect(&st.sign_on_page(&stored.flow)));
    }
    // A redirect-mode flow ends here.
    let done = flows
        .remove(flow_id)
        .ok_or_else(|| flow_not_found(flow_id, &s.limits))?;
    Ok(finish_redirect(&done.flow))
}

pub(super) async fn flow_get(
    State(s): St,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Answer {
    let Path((env_id, flow_id)) = path.map_err(|e| path_error(&e))?;
    let st = s.env(&env_id)?;
    if let Some(r) = super::control::injected(st, "flows") {
        return Ok(r);
    }
    let now = s.now_ms();
    let mut flows = lock(&st.flows);
    let stored = flows
        .get_mut(&flow_id, now)
        .ok_or_else(|| flow_not_found(&flow_id, &s.limits))?;
    stored.touched_ms = now;
    flow::tick(&mut stored.flow, &st.env(), now);
    let body = s.flow_json(st, stored);
    flows.touch(&flow_id, now.saturating_add(s.limits.flow_idle_timeout_ms));
    Ok(flow_response(&body))
}

const ACTION_PREFIX: &str = "application/vnd.pingidentity.";
const ACTION_SUFFIX: &str = "+json";

pub(super) async fn flow_post(
    State(s): St,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let Path((env_id, flow_id)) = path.map_err(|e| path_error(&e))?;
    s.env(&env_id)?;
    let media = media_type(&headers).unwrap_or_default();
    let name = media
        .strip_prefix(ACTION_PREFIX)
        .and_then(|m| m.strip_suffix(ACTION_SUFFIX))
        .unwrap_or(media.as_str());
    let body = body.map_err(|e| body_error(&e))?;
    let object = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        jose::json::parse_object(&body, jose::Part::Payload).map_err(|e| {
            ApiError::invalid_value("body", format!("the body is not a JSON object: {e}"))
        })?
    };
    let action = Action::parse(name, &object).map_err(|e| flow_error(&e))?;
    s.act(&env_id, &flow_id, action)
}

pub(super) async fn push(
    State(s): St,
    path: Result<Path<(String, String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Answer {
    let Path((env_id, flow_id, decision)) = path.map_err(|e| path_error(&e))?;
    super::control::check(&s, &env_id, &headers)?;
    let action = match decision.as_str() {
        "approve" => Action::PushApprove,
        "deny" => Action::PushDeny,
        "timeout" => Action::PushTimeout,
        other => {
            return Err(ApiError::not_found(
                "decision",
                format!("\"{other}\" is not approve, deny or timeout"),
            ))
        }
    };
    s.act(&env_id, &flow_id, action)
}

pub(super) async fn token(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let st = env_at(&s, path)?;
    if let Some(refused) = keys_for_form(&s, st, &body).await {
        return Ok(refused);
    }
    if let Some(r) = super::control::injected(st, "token") {
        return Ok(r);
    }
    Ok(match super::token::issue_tokens(&s, st, &headers, body) {
        Ok(v) => json_response(200, "application/json", &v),
        Err(e) => e.into_response(),
    })
}

pub(super) async fn userinfo(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Answer {
    let st = env_at(&s, path)?;
    if let Some(r) = super::control::injected(st, "userinfo") {
        return Ok(r);
    }
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
        return Ok(invalid("a Bearer access token is required".into()));
    };
    let v = Validation {
        now: Some(s.now_ms().div_euclid(1000)),
        issuers: vec![st.issuer.clone()],
        typ: Some("at+jwt".into()),
        required: vec!["sub".into(), "exp".into()],
        ..Validation::default()
    };
    let jwt = match st.verifier.verify_jwt(&token, &v) {
        Ok(j) => j,
        Err(e) => return Ok(invalid(format!("the access token is not valid: {e}"))),
    };
    let jti = jwt
        .claims
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if lock(&st.revoked_jtis).contains(jti) {
        return Ok(invalid("the access token was revoked".into()));
    }
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
    let env = st.env();
    Ok(match env.user(sub) {
        Some(u) => json_response(
            200,
            "application/json",
            &Value::Object(oauth::userinfo(u, scope)),
        ),
        None => invalid(format!("user \"{sub}\" no longer exists")),
    })
}

pub(super) async fn jwks(State(s): St, path: Result<Path<String>, PathRejection>) -> Answer {
    let st = env_at(&s, path)?;
    if let Some(r) = super::control::injected(st, "jwks") {
        return Ok(r);
    }
    Ok(json_response(200, "application/json", &st.jwks))
}

pub(super) async fn discovery(State(s): St, path: Result<Path<String>, PathRejection>) -> Answer {
    let st = env_at(&s, path)?;
    Ok(json_response(
        200,
        "application/json",
        &crate::discovery::discovery(&st.urls, &st.env()),
    ))
}

pub(super) async fn outbox(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Answer {
    let st = env_at(&s, path)?;
    super::control::check(&s, &st.id, &headers)?;
    let filter: Option<String> = query_pairs(q)
        .into_iter()
        .find(|(k, _)| k == "flowId")
        .map(|(_, v)| v);
    let items: Vec<Value> = lock(&st.outbox)
        .iter()
        .filter(|n| filter.as_deref().is_none_or(|f| f == n.flow_id))
        .map(view::notification_json)
        .collect();
    Ok(json_response(200, "application/json", &Value::Array(items)))
}

/// A stand-in for PingOne's hosted sign-on page: says which flow to drive with the Flows API.
pub(super) async fn signon(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Answer {
    let st = env_at(&s, path)?;
    let flow_id = query_pairs(q)
        .into_iter()
        .find(|(k, _)| k == "flowId")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let now = s.now_ms();
    let mut flows = lock(&st.flows);
    let stored = flows
        .get_mut(&flow_id, now)
        .ok_or_else(|| flow_not_found(&flow_id, &s.limits))?;
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
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html;charset=UTF-8")],
        page,
    )
        .into_response())
}

pub(super) async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found("path", format!("no endpoint {method} {}", uri.path()))
}

pub(super) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        405,
        "METHOD_NOT_ALLOWED",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

pub(super) async fn introspect(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let st = env_at(&s, path)?;
    if let Some(refused) = keys_for_form(&s, st, &body).await {
        return Ok(refused);
    }
    Ok(
        match super::introspect::introspect(&s, st, &headers, body) {
            Ok(v) => json_response(200, "application/json", &v),
            Err(e) => e.into_response(),
        },
    )
}

pub(super) async fn revoke(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let st = env_at(&s, path)?;
    if let Some(refused) = keys_for_form(&s, st, &body).await {
        return Ok(refused);
    }
    Ok(match super::introspect::revoke(&s, st, &headers, body) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    })
}

pub(super) async fn bc_authorize(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let st = env_at(&s, path)?;
    if let Some(refused) = keys_for_form(&s, st, &body).await {
        return Ok(refused);
    }
    Ok(
        match super::backchannel::bc_authorize(&s, st, &headers, body) {
            Ok(v) => json_response(200, "application/json", &v),
            Err(e) => e.into_response(),
        },
    )
}

pub(super) async fn par(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let st = env_at(&s, path)?;
    if let Some(refused) = keys_for_form(&s, st, &body).await {
        return Ok(refused);
    }
    Ok(match super::par::par(&s, st, &headers, body) {
        Ok(v) => json_response(201, "application/json", &v),
        Err(e) => e.into_response(),
    })
}

pub(super) async fn device_authorization(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let st = env_at(&s, path)?;
    if let Some(refused) = keys_for_form(&s, st, &body).await {
        return Ok(refused);
    }
    Ok(
        match super::backchannel::device_authorization(&s, st, &headers, body) {
            Ok(v) => json_response(200, "application/json", &v),
            Err(e) => e.into_response(),
        },
    )
}

/// The device flow's verification page: `user_code` in the query starts the sign-on flow, and
/// the answer is that flow (drive it with the Flows API).
pub(super) async fn device(
    State(s): St,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Answer {
    let st = env_at(&s, path)?;
    let code = query_pairs(q)
        .into_iter()
        .find(|(k, _)| k == "user_code")
        .map(|(_, v)| v)
        .ok_or_else(|| ApiError::required("user_code", "user_code is required"))?;
    let flow_id = super::backchannel::device_entry(&s, st, &code)?;
    let now = s.now_ms();
    let mut flows = lock(&st.flows);
    let stored = flows
        .get_mut(&flow_id, now)
        .ok_or_else(|| flow_not_found(&flow_id, &s.limits))?;
    Ok(flow_response(&s.flow_json(st, stored)))
}
