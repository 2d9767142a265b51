//! Grants whose user decides elsewhere: CIBA poll mode (`/as/bc-authorize`) and device
//! authorization (RFC 8628: `/as/device_authorization`, the user code entered at `/{envId}/device`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use serde_json::{Map, Value};

use super::{lock, EnvState, Shared};
use crate::config::GrantType;
use crate::oauth::TokenError;
use crate::random::{self, SystemRandom};

use super::token::*;

/// `POST /{envId}/as/bc-authorize` (CIBA poll mode): checks the request, starts a flow for the
/// user (its device step is the approval) and answers `auth_req_id`, `expires_in`, `interval`.
pub(super) fn bc_authorize(
    s: &Shared,
    st: &EnvState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, TokenError> {
    let form = form_body(headers, body)?;
    let env = st.env();
    let client = authenticated(s, st, &env, headers, &form, "bc-authorize")?;
    if !client.grant_types.contains(&GrantType::Ciba) {
        return Err(not_allowed(client, "CIBA"));
    }
    let now_ms = s.now_ms();
    let expected = pingone::app::Expected {
        audiences: st.audiences.clone(),
        now: now_ms.div_euclid(1000),
        leeway: jose::jwt::DEFAULT_LEEWAY,
    };
    let verify = |token: &str| {
        let v = jose::Validation {
            issuers: vec![st.issuer.clone()],
            check_exp: false,
            required: vec!["sub".into()],
            ..jose::Validation::default()
        };
        st.verifier.verify_jwt(token, &v).ok().and_then(|j| {
            j.claims
                .get("sub")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
    };
    let req = crate::ciba::request(&form, &env, client, &expected, verify)?;
    let mut context = Map::new();
    if let Some(m) = &req.binding_message {
        context.insert("bindingMessage".into(), m.clone().into());
    }
    let start = crate::flow::Start {
        client_id: client.app.client_id.clone(),
        request: crate::request::AuthRequest {
            response_type: crate::request::ResponseType::CODE,
            response_mode: crate::request::ResponseMode::PiFlow,
            redirect_uri: None,
            scope: req.scope.clone(),
            state: None,
            nonce: None,
            pkce: None,
            acr_values: None,
            prompt: None,
            ui_locales: None,
        },
        template: None,
        client_context: context,
        user_id: Some(req.user_id.clone()),
        username_hint: None,
    };
    let flow_id = s
        .start_flow(st, start, now_ms)
        .map_err(|e| TokenError::new(400, "invalid_request", e.message))?;
    let auth_req_id = random::secret_token(&mut SystemRandom).map_err(failed)?;
    let mut pending = lock(&st.ciba);
    if pending.len() >= 10_000 {
        pending.retain(|_, p| p.expires_ms > now_ms);
    }
    pending.insert(
        auth_req_id.clone(),
        crate::ciba::Pending {
            client_id: client.app.client_id.clone(),
            flow_id,
            expires_ms: now_ms.saturating_add(req.expiry_seconds * 1000),
            interval_ms: crate::ciba::INTERVAL_SECONDS * 1000,
            last_poll_ms: None,
        },
    );
    Ok(serde_json::json!({
        "auth_req_id": auth_req_id,
        "expires_in": req.expiry_seconds,
        "interval": crate::ciba::INTERVAL_SECONDS,
    }))
}

/// The device flow's grant type (RFC 8628 §3.4).
pub(super) const DEVICE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// How long a device code lives (PingOne's default device timeout is 600 s).
const DEVICE_CODE_SECONDS: i64 = 600;

/// `POST /{envId}/as/device_authorization` (RFC 8628 §3.1): a device code for the client to poll
/// with, and a user code the user enters at `verification_uri` (the emulator's
/// `/{envId}/device`, which starts the sign-on flow).
pub(super) fn device_authorization(
    s: &Shared,
    st: &EnvState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, TokenError> {
    let form = form_body(headers, body)?;
    let env = st.env();
    let client = authenticated(s, st, &env, headers, &form, "device_authorization")?;
    if !client.grant_types.contains(&GrantType::DeviceCode) {
        return Err(not_allowed(client, "DEVICE_CODE"));
    }
    let now_ms = s.now_ms();
    let device_code = random::secret_token(&mut SystemRandom).map_err(failed)?;
    let user_code = random::user_code(&mut SystemRandom).map_err(failed)?;
    let scope = form
        .get("scope")
        .cloned()
        .unwrap_or_else(|| "openid".into());
    lock(&st.ciba).insert(
        device_code.clone(),
        crate::ciba::Pending {
            client_id: client.app.client_id.clone(),
            flow_id: String::new(),
            expires_ms: now_ms.saturating_add(DEVICE_CODE_SECONDS * 1000),
            interval_ms: crate::ciba::INTERVAL_SECONDS * 1000,
            last_poll_ms: None,
        },
    );
    lock(&st.user_codes).insert(user_code.clone(), (device_code.clone(), scope));
    let verification = st.urls.device();
    Ok(serde_json::json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verification,
        "verification_uri_complete": format!("{verification}?user_code={user_code}"),
        "expires_in": DEVICE_CODE_SECONDS,
        "interval": crate::ciba::INTERVAL_SECONDS,
    }))
}

/// `/{envId}/device?user_code=…` (the emulator's verification page, our design): starts the
/// sign-on flow for the device code and answers it as the Flows API does; completing the flow
/// approves the device.
pub(super) fn device_entry(
    s: &Shared,
    st: &EnvState,
    user_code: &str,
) -> Result<String, crate::error::ApiError> {
    use crate::error::ApiError;
    let code = user_code.trim().to_ascii_uppercase();
    let (device_code, scope) = lock(&st.user_codes).remove(&code).ok_or_else(|| {
        ApiError::invalid_value("user_code", "the user code is unknown or was already used")
    })?;
    let client_id = lock(&st.ciba)
        .get(&device_code)
        .map(|p| p.client_id.clone())
        .ok_or_else(|| ApiError::invalid_value("user_code", "the device code has expired"))?;
    let start = crate::flow::Start {
        client_id,
        request: crate::request::AuthRequest {
            response_type: crate::request::ResponseType::CODE,
            response_mode: crate::request::ResponseMode::PiFlow,
            redirect_uri: None,
            scope,
            state: None,
            nonce: None,
            pkce: None,
            acr_values: None,
            prompt: None,
            ui_locales: None,
        },
        template: None,
        client_context: Map::new(),
        user_id: None,
        username_hint: None,
    };
    let now = s.now_ms();
    let flow_id = s.start_flow(st, start, now)?;
    if let Some(p) = lock(&st.ciba).get_mut(&device_code) {
        p.flow_id = flow_id.clone();
    }
    Ok(flow_id)
}
