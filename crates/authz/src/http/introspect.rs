//! `POST /{envId}/as/introspect` (RFC 7662) and `/as/revoke` (RFC 7009), with client
//! authentication.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use serde_json::{Map, Value};

use super::{lock, EnvState, Shared};
use crate::oauth::TokenError;

use super::token::*;

/// The authenticated client of an introspection or revocation request, and the `token`.
fn client_and_token(
    s: &Shared,
    st: &EnvState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    endpoint: &str,
) -> Result<(String, String, Option<String>), TokenError> {
    let form = form_body(headers, body)?;
    let env = st.env();
    let client_id = authenticated(s, st, &env, headers, &form, endpoint)?
        .app
        .client_id
        .clone();
    let token = form
        .get("token")
        .cloned()
        .ok_or_else(|| TokenError::invalid_request("token is required"))?;
    Ok((client_id, token, form.get("token_type_hint").cloned()))
}

/// The claims of one of this environment's access tokens, when it is valid and not revoked.
pub(super) fn access_claims(s: &Shared, st: &EnvState, token: &str) -> Option<Map<String, Value>> {
    let v = jose::Validation {
        now: Some(s.now_ms().div_euclid(1000)),
        issuers: vec![st.issuer.clone()],
        typ: Some("at+jwt".into()),
        required: vec!["sub".into(), "exp".into()],
        ..jose::Validation::default()
    };
    let claims = st.verifier.verify_jwt(token, &v).ok()?.claims;
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or_default();
    (!lock(&st.revoked_jtis).contains(jti)).then_some(claims)
}

/// `POST /{envId}/as/introspect` (RFC 7662): whether an access or refresh token is active, and
/// for whom. Another client's refresh token is reported inactive.
pub(super) fn introspect(
    s: &Shared,
    st: &EnvState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, TokenError> {
    let (client_id, token, _) = client_and_token(s, st, headers, body, "introspect")?;
    if let Some(claims) = access_claims(s, st, &token) {
        let mut out = Map::new();
        out.insert("active".into(), true.into());
        out.insert("token_type".into(), "access_token".into());
        for k in [
            "scope",
            "client_id",
            "sub",
            "exp",
            "iat",
            "iss",
            "aud",
            "jti",
        ] {
            if let Some(v) = claims.get(k) {
                out.insert(k.into(), v.clone());
            }
        }
        return Ok(Value::Object(out));
    }
    let now = s.now_ms();
    let refresh = lock(&st.refresh);
    match refresh.active(&token, now) {
        Some(g) if g.client_id == client_id => Ok(serde_json::json!({
            "active": true,
            "token_type": "refresh_token",
            "client_id": g.client_id,
            "sub": g.user_id,
            "scope": g.scope,
        })),
        _ => Ok(serde_json::json!({ "active": false })),
    }
}

/// `POST /{envId}/as/revoke` (RFC 7009): a refresh token's family is revoked; an access token's
/// `jti` is remembered until it expires (userinfo and introspection then refuse it). Always
/// `200` for an authenticated client, as §2.2 asks.
pub(super) fn revoke(
    s: &Shared,
    st: &EnvState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(), TokenError> {
    let (client_id, token, _) = client_and_token(s, st, headers, body, "revoke")?;
    if lock(&st.refresh).revoke(&token, &client_id) {
        return Ok(());
    }
    if let Some(claims) = access_claims(s, st, &token) {
        if claims.get("client_id").and_then(Value::as_str) == Some(client_id.as_str()) {
            if let Some(jti) = claims.get("jti").and_then(Value::as_str) {
                let mut revoked = lock(&st.revoked_jtis);
                if revoked.len() >= 100_000 {
                    revoked.clear();
                }
                revoked.insert(jti.to_owned());
            }
        }
    }
    Ok(())
}
