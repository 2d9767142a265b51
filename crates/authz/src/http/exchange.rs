//! Token exchange (RFC 8693): subject and actor tokens of this environment for one of the
//! application's resources.

use serde_json::{Map, Value};

use super::{EnvState, Shared};
use crate::config::Client;
use crate::oauth::{Issue, TokenError};
use crate::random::{self, SystemRandom};

use super::introspect::access_claims;
use super::token::*;

/// RFC 8693's grant type and token types.
pub(super) const EXCHANGE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";

/// The `sub` of a subject or actor token: an access token or an ID token of this environment.
fn token_subject(
    s: &Shared,
    st: &EnvState,
    token: &str,
    kind: &str,
    field: &str,
) -> Result<String, TokenError> {
    let bad = |m: String| TokenError::invalid_request(format!("{field}: {m}"));
    let claims = match kind {
        ACCESS_TOKEN_TYPE => access_claims(s, st, token)
            .ok_or_else(|| bad("not a valid access token of this environment".into()))?,
        ID_TOKEN_TYPE => {
            let v = jose::Validation {
                now: Some(s.now_ms().div_euclid(1000)),
                issuers: vec![st.issuer.clone()],
                required: vec!["sub".into()],
                ..jose::Validation::default()
            };
            st.verifier
                .verify_jwt(token, &v)
                .map_err(|e| bad(format!("not a valid ID token of this environment: {e}")))?
                .claims
        }
        other => {
            return Err(bad(format!(
                "token type \"{other}\" is not supported (access_token, id_token)"
            )))
        }
    };
    claims
        .get("sub")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| bad("it has no sub".into()))
}

/// Token exchange (RFC 8693): an access token for the subject token's user, for one of the
/// application's `resources`, with `act` naming the actor token's subject when one is given.
pub(super) fn exchange(
    s: &Shared,
    st: &EnvState,
    client: &Client,
    form: &std::collections::BTreeMap<String, String>,
    at: &Issue<'_>,
) -> Result<Value, TokenError> {
    let subject_token = form
        .get("subject_token")
        .ok_or_else(|| TokenError::invalid_request("subject_token is required"))?;
    let subject_type = form
        .get("subject_token_type")
        .ok_or_else(|| TokenError::invalid_request("subject_token_type is required"))?;
    let sub = token_subject(s, st, subject_token, subject_type, "subject_token")?;
    let actor = match (form.get("actor_token"), form.get("actor_token_type")) {
        (Some(t), Some(kind)) => Some(token_subject(s, st, t, kind, "actor_token")?),
        (None, None) => None,
        _ => {
            return Err(TokenError::invalid_request(
                "actor_token and actor_token_type go together",
            ))
        }
    };
    let audience = form
        .get("resource")
        .or_else(|| form.get("audience"))
        .cloned()
        .ok_or_else(|| TokenError::invalid_request("resource (or audience) is required"))?;
    if !client.resources.contains(&audience) {
        return Err(TokenError::new(
            400,
            "invalid_target",
            format!("\"{audience}\" is not one of the application's resources"),
        ));
    }
    let jti = random::uuid(&mut SystemRandom).map_err(failed)?;
    let mut claims = Map::new();
    claims.insert("iss".into(), at.issuer.into());
    claims.insert("sub".into(), sub.into());
    claims.insert("aud".into(), audience.into());
    claims.insert("client_id".into(), client.app.client_id.clone().into());
    if let Some(scope) = form.get("scope") {
        claims.insert("scope".into(), scope.clone().into());
    }
    claims.insert("iat".into(), at.now.into());
    claims.insert("exp".into(), at.now.saturating_add(at.lifetime).into());
    claims.insert("jti".into(), jti.into());
    claims.insert("env".into(), at.env_id.into());
    if let Some(a) = actor {
        claims.insert("act".into(), serde_json::json!({ "sub": a }));
    }
    let token = st
        .access_signer
        .sign_claims(&Value::Object(claims))
        .map_err(failed)?;
    Ok(serde_json::json!({
        "access_token": token,
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": at.lifetime,
    }))
}
