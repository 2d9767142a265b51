//! The control API for tests, under `/{envId}/emulator/` (our design; PingOne has none): change
//! users, their devices and applications at run time (JSON with the configuration's fields),
//! advance the clock, make the next calls of an endpoint fail with a chosen error (fault
//! injection), and reset the environment to its configuration. With the environment's
//! `control_token` set, every `/emulator/` call needs `Authorization: Bearer <token>`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::handlers::St;
use super::respond::json_response;
use super::{lock, EnvState, Shared};
use crate::config::{self, Environment};
use crate::error::ApiError;

/// The endpoints a fault can be injected into.
pub const FAULT_ENDPOINTS: [&str; 6] =
    ["authorize", "flows", "resume", "token", "userinfo", "jwks"];

/// The next `remaining` calls of `endpoint` fail with `status`, `code` and `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub endpoint: String,
    pub remaining: u32,
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl Fault {
    fn json(&self) -> Value {
        json!({
            "endpoint": self.endpoint, "remaining": self.remaining, "status": self.status,
            "code": self.code, "message": self.message,
        })
    }
}

/// The injected failure for a call of `endpoint`, if one is due (it is then counted).
pub(super) fn injected(st: &EnvState, endpoint: &str) -> Option<Response> {
    let mut faults = lock(&st.faults);
    let i = faults.iter().position(|f| f.endpoint == endpoint)?;
    let f = faults.get_mut(i)?;
    f.remaining = f.remaining.saturating_sub(1);
    let fault = f.clone();
    if fault.remaining == 0 {
        faults.remove(i);
    }
    drop(faults);
    // The token endpoint answers in OAuth's shape, the others in PingOne's envelope.
    let body = if endpoint == "token" {
        json!({"error": fault.code, "error_description": fault.message})
    } else {
        json!({
            "id": crate::random::uuid(&mut crate::random::SystemRandom).unwrap_or_default(),
            "code": fault.code,
            "message": fault.message,
        })
    };
    Some(json_response(fault.status, "application/json", &body))
}

/// The environment, when the caller may use its control API.
fn authorized<'s>(
    s: &'s Shared,
    path_env: &str,
    headers: &HeaderMap,
) -> Result<&'s EnvState, ApiError> {
    let st = s.env(path_env)?;
    if let Some(token) = &st.env().control_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or_default();
        let same =
            aws_lc_rs::constant_time::verify_slices_are_equal(given.as_bytes(), token.as_bytes())
                .is_ok();
        if !same {
            return Err(ApiError::new(
                401,
                "ACCESS_FAILED",
                "the control API needs Authorization: Bearer <control_token>",
            ));
        }
    }
    Ok(st)
}

/// Checks the control token for the emulator's older endpoints (outbox, push decisions).
pub(super) fn check(s: &Shared, env: &str, headers: &HeaderMap) -> Result<(), ApiError> {
    authorized(s, env, headers).map(|_| ())
}

fn body_json(body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let body = body.map_err(|e| ApiError::invalid_value("body", e.to_string()))?;
    serde_json::from_slice::<Value>(&body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| ApiError::invalid_value("body", "the body must be a JSON object"))
}

fn config_error(e: &config::ConfigError) -> ApiError {
    ApiError::invalid_value("body", e.to_string())
}

/// The user with this id, to change.
fn user_mut<'e>(
    env: &'e mut Environment,
    id: &str,
) -> Result<&'e mut crate::config::UserRecord, ApiError> {
    env.users
        .iter_mut()
        .find(|u| u.id == id)
        .ok_or_else(|| ApiError::not_found("userId", format!("user \"{id}\" does not exist")))
}

/// Replaces the environment with `change` applied to a copy of it.
fn update(
    st: &EnvState,
    change: impl FnOnce(&mut Environment) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let mut current = st
        .current
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut env = Environment::clone(&current);
    change(&mut env)?;
    *current = Arc::new(env);
    Ok(())
}

fn ok(body: Value) -> Response {
    json_response(200, "application/json", &body)
}

type PathParts<T> = Result<Path<T>, PathRejection>;

fn path<T>(p: PathParts<T>) -> Result<T, ApiError> {
    p.map(|Path(t)| t)
        .map_err(|e| ApiError::invalid_value("path", format!("the path cannot be read: {e}")))
}

/// `PUT /{envId}/emulator/users/{userId}`: creates or replaces a user (the path names its id).
pub(super) async fn put_user(
    axum::extract::State(s): St,
    p: PathParts<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (env_id, user_id) = path(p)?;
    let st = authorized(&s, &env_id, &headers)?;
    let mut value = body_json(body)?;
    if let Some(o) = value.as_object_mut() {
        o.insert("id".into(), user_id.clone().into());
    }
    let (user, warnings) = config::user_from_json(&format!("user \"{user_id}\""), value)
        .map_err(|e| config_error(&e))?;
    update(st, |env| {
        if env
            .users
            .iter()
            .any(|u| u.id != user.id && (u.username == user.username || u.id == user.username))
        {
            return Err(ApiError::invalid_value(
                "username",
                format!("username \"{}\" is used by another user", user.username),
            ));
        }
        match env.users.iter_mut().find(|u| u.id == user.id) {
            Some(u) => *u = user.clone(),
            None => env.users.push(user.clone()),
        }
        Ok(())
    })?;
    Ok(ok(
        json!({"id": user.id, "username": user.username, "warnings": warnings}),
    ))
}

/// `DELETE /{envId}/emulator/users/{userId}`.
pub(super) async fn delete_user(
    axum::extract::State(s): St,
    p: PathParts<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (env_id, user_id) = path(p)?;
    let st = authorized(&s, &env_id, &headers)?;
    update(st, |env| {
        let before = env.users.len();
        env.users.retain(|u| u.id != user_id);
        if env.users.len() == before {
            return Err(ApiError::not_found(
                "userId",
                format!("user \"{user_id}\" does not exist"),
            ));
        }
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /{envId}/emulator/users/{userId}/devices/{deviceId}`: adds or replaces one device.
pub(super) async fn put_device(
    axum::extract::State(s): St,
    p: PathParts<(String, String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (env_id, user_id, device_id) = path(p)?;
    let st = authorized(&s, &env_id, &headers)?;
    let mut device = body_json(body)?;
    if let Some(o) = device.as_object_mut() {
        o.insert("id".into(), device_id.clone().into());
    }
    let mut warnings = Vec::new();
    update(st, |env| {
        let user = user_mut(env, &user_id)?;
        // The user with this one device, checked as a configuration would be.
        let probe = json!({"id": user.id, "username": user.username, "email": user.email, "devices": [device]});
        let (checked, w) = config::user_from_json(&format!("user \"{user_id}\""), probe)
            .map_err(|e| config_error(&e))?;
        warnings = w;
        let new = checked
            .devices
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::invalid_value("body", "the device is not valid"))?;
        match user.devices.iter_mut().find(|d| d.id == new.id) {
            Some(d) => *d = new,
            None => user.devices.push(new),
        }
        Ok(())
    })?;
    Ok(ok(json!({"id": device_id, "warnings": warnings})))
}

/// `DELETE /{envId}/emulator/users/{userId}/devices/{deviceId}`.
pub(super) async fn delete_device(
    axum::extract::State(s): St,
    p: PathParts<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (env_id, user_id, device_id) = path(p)?;
    let st = authorized(&s, &env_id, &headers)?;
    update(st, |env| {
        let user = user_mut(env, &user_id)?;
        let before = user.devices.len();
        user.devices.retain(|d| d.id != device_id);
        if user.devices.len() == before {
            return Err(ApiError::not_found(
                "deviceId",
                format!("device \"{device_id}\" does not exist"),
            ));
        }
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /{envId}/emulator/applications/{clientId}`.
pub(super) async fn put_application(
    axum::extract::State(s): St,
    p: PathParts<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (env_id, client_id) = path(p)?;
    let st = authorized(&s, &env_id, &headers)?;
    let mut value = body_json(body)?;
    if let Some(o) = value.as_object_mut() {
        o.insert("client_id".into(), client_id.clone().into());
    }
    let client = config::application_from_json(&format!("application \"{client_id}\""), value)
        .map_err(|e| config_error(&e))?;
    update(st, |env| {
        match env
            .applications
            .iter_mut()
            .find(|c| c.app.client_id == client_id)
        {
            Some(c) => *c = client,
            None => env.applications.push(client),
        }
        Ok(())
    })?;
    Ok(ok(json!({ "client_id": client_id })))
}

/// `DELETE /{envId}/emulator/applications/{clientId}`.
pub(super) async fn delete_application(
    axum::extract::State(s): St,
    p: PathParts<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (env_id, client_id) = path(p)?;
    let st = authorized(&s, &env_id, &headers)?;
    update(st, |env| {
        let before = env.applications.len();
        env.applications.retain(|c| c.app.client_id != client_id);
        if env.applications.len() == before {
            return Err(ApiError::not_found(
                "clientId",
                format!("application \"{client_id}\" does not exist"),
            ));
        }
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /{envId}/emulator/clock` `{"advanceSeconds": N}`: moves the server's clock forward
/// (every environment's: there is one clock). Answers the new time.
pub(super) async fn clock(
    axum::extract::State(s): St,
    p: PathParts<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let env_id = path(p)?;
    authorized(&s, &env_id, &headers)?;
    let value = body_json(body)?;
    let seconds = value
        .get("advanceSeconds")
        .and_then(Value::as_i64)
        .filter(|n| (0..=10 * 365 * 86_400).contains(n))
        .ok_or_else(|| {
            ApiError::invalid_value(
                "advanceSeconds",
                "advanceSeconds must be a whole number of seconds from 0 to ten years",
            )
        })?;
    s.advanced_ms.fetch_add(seconds * 1000, Ordering::Relaxed);
    let now = s.now_ms();
    Ok(ok(
        json!({"now": crate::clock::iso_millis(now), "nowMs": now}),
    ))
}

/// `POST /{envId}/emulator/faults` `{"endpoint", "count", "status", "code", "message"}`;
/// `GET` lists them; `DELETE` removes them all.
pub(super) async fn add_fault(
    axum::extract::State(s): St,
    p: PathParts<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let env_id = path(p)?;
    let st = authorized(&s, &env_id, &headers)?;
    let v = body_json(body)?;
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let endpoint = text("endpoint")
        .filter(|e| FAULT_ENDPOINTS.contains(&e.as_str()))
        .ok_or_else(|| {
            ApiError::invalid_value(
                "endpoint",
                format!("endpoint must be one of {}", FAULT_ENDPOINTS.join(", ")),
            )
        })?;
    let count = v.get("count").and_then(Value::as_u64).unwrap_or(1);
    let status = v.get("status").and_then(Value::as_u64).unwrap_or(503);
    if !(1..=1000).contains(&count) || !(400..=599).contains(&status) {
        return Err(ApiError::invalid_value(
            "count",
            "count must be from 1 to 1000 and status from 400 to 599",
        ));
    }
    let fault = Fault {
        endpoint,
        remaining: u32::try_from(count).unwrap_or(1),
        status: u16::try_from(status).unwrap_or(503),
        code: text("code").unwrap_or_else(|| "SERVICE_UNAVAILABLE".into()),
        message: text("message").unwrap_or_else(|| "injected by the emulator's control API".into()),
    };
    let body = fault.json();
    lock(&st.faults).push(fault);
    Ok(json_response(201, "application/json", &body))
}

pub(super) async fn list_faults(
    axum::extract::State(s): St,
    p: PathParts<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let env_id = path(p)?;
    let st = authorized(&s, &env_id, &headers)?;
    let list: Vec<Value> = lock(&st.faults).iter().map(Fault::json).collect();
    Ok(ok(Value::Array(list)))
}

pub(super) async fn clear_faults(
    axum::extract::State(s): St,
    p: PathParts<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let env_id = path(p)?;
    let st = authorized(&s, &env_id, &headers)?;
    lock(&st.faults).clear();
    lock(&st.refresh).clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /{envId}/emulator/reset`: the configuration's users and applications again, and no
/// flows, codes, notifications, lockouts or faults (the clock is not moved back).
pub(super) async fn reset(
    axum::extract::State(s): St,
    p: PathParts<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let env_id = path(p)?;
    let st = authorized(&s, &env_id, &headers)?;
    *st.current
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = st.configured.clone();
    lock(&st.flows).clear();
    lock(&st.codes).clear();
    lock(&st.outbox).clear();
    *lock(&st.lockouts) = crate::flow::Lockouts::default();
    lock(&st.faults).clear();
    lock(&st.refresh).clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}
