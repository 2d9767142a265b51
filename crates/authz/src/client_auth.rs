//! Client authentication at the token, introspection and revocation endpoints, by the
//! application's `token_endpoint_auth_method`: a secret (`client_secret_basic`,
//! `client_secret_post`; either when no method is configured), an RFC 7523 assertion
//! (`client_secret_jwt` with HS256/384/512, `private_key_jwt` with the application's `jwks`),
//! or none (a public client, which must use PKCE).
//!
//! Assertions (RFC 7523 §3): `iss` and `sub` the client id, `aud` the endpoint's URL or the
//! issuer (our choice: both are seen in clients), `exp` required and in the future, a `jti`
//! never used before (remembered until `exp`).

use std::collections::{BTreeMap, HashMap};

use jose::{Algorithm, Validation, Verifier};
use serde_json::Value;

use crate::config::{AuthMethod, Client, Environment};
use crate::oauth::{self, TokenError};

/// The assertion type RFC 7523 §2.2 names.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Assertion `jti`s seen, until their `exp`.
#[derive(Debug, Default)]
pub struct SeenJtis(HashMap<String, i64>);

const MAX_JTIS: usize = 100_000;

impl SeenJtis {
    fn first_use(&mut self, key: String, exp: i64, now: i64) -> bool {
        if self.0.get(&key).is_some_and(|&until| now < until) {
            return false;
        }
        if self.0.len() >= MAX_JTIS {
            self.0.retain(|_, until| now < *until);
        }
        self.0.insert(key, exp);
        true
    }
}

/// Where an assertion may be addressed: the endpoint's URL, or the issuer.
pub struct Audience<'a> {
    pub endpoint: &'a str,
    pub issuer: &'a str,
}

/// The authenticated client (and whether it is public).
pub fn authenticate<'e>(
    env: &'e Environment,
    authorization: Option<&str>,
    form: &BTreeMap<String, String>,
    audience: &Audience<'_>,
    now: i64,
    seen: &mut SeenJtis,
) -> Result<&'e Client, TokenError> {
    if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
            return Err(TokenError::invalid_request(format!(
                "client_assertion_type must be {JWT_BEARER}"
            )));
        }
        if authorization.is_some() || form.contains_key("client_secret") {
            return Err(TokenError::invalid_request(
                "use one client authentication method, not an assertion and a secret",
            ));
        }
        return assertion_client(env, assertion, form, audience, now, seen);
    }
    if authorization.is_none() && !form.contains_key("client_secret") {
        let id = form.get("client_id").ok_or_else(|| {
            TokenError::invalid_client("client authentication is required (client_id with no secret is only for public clients)")
        })?;
        let client = env
            .client(id)
            .ok_or_else(|| TokenError::invalid_client(format!("unknown client \"{id}\"")))?;
        if client.token_endpoint_auth_method != Some(AuthMethod::None) {
            return Err(TokenError::invalid_client(format!(
                "application \"{id}\" is not a public client: it must authenticate"
            )));
        }
        return enabled(client);
    }
    let (client_id, secret, how) = oauth::client_credentials(authorization, form)?;
    let client = oauth::authenticate(env, &client_id, &secret)?;
    let allowed = match client.token_endpoint_auth_method {
        None => true,
        Some(AuthMethod::ClientSecretBasic) => how == oauth::ClientAuth::Basic,
        Some(AuthMethod::ClientSecretPost) => how == oauth::ClientAuth::Post,
        Some(_) => false,
    };
    if !allowed {
        return Err(wrong_method(client));
    }
    Ok(client)
}

fn wrong_method(client: &Client) -> TokenError {
    TokenError::invalid_client(format!(
        "application \"{}\" authenticates with {:?}, not this method",
        client.app.client_id, client.token_endpoint_auth_method
    ))
}

fn enabled(client: &Client) -> Result<&Client, TokenError> {
    if client.app.enabled {
        Ok(client)
    } else {
        Err(TokenError::new(
            400,
            "unauthorized_client",
            format!("application \"{}\" is disabled", client.app.client_id),
        ))
    }
}

fn assertion_client<'e>(
    env: &'e Environment,
    assertion: &str,
    form: &BTreeMap<String, String>,
    audience: &Audience<'_>,
    now: i64,
    seen: &mut SeenJtis,
) -> Result<&'e Client, TokenError> {
    let bad = |m: String| TokenError::invalid_client(format!("client_assertion: {m}"));
    let decoded = jose::jws::decode(assertion).map_err(|e| bad(e.to_string()))?;
    let claims: serde_json::Map<String, Value> =
        serde_json::from_slice(&decoded.payload).map_err(|e| bad(e.to_string()))?;
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let client = env
        .client(iss)
        .ok_or_else(|| bad(format!("iss \"{iss}\" is not a client")))?;
    if let Some(id) = form.get("client_id") {
        if id != iss {
            return Err(bad("client_id differs from the assertion's iss".into()));
        }
    }
    let verifier = match client.token_endpoint_auth_method {
        Some(AuthMethod::ClientSecretJwt) => {
            let key = jose::Key::hmac(client.client_secret.as_bytes().to_vec())
                .map_err(|e| bad(e.to_string()))?;
            Verifier::new(key).allow_algorithms(&[
                Algorithm::HS256,
                Algorithm::HS384,
                Algorithm::HS512,
            ])
        }
        Some(AuthMethod::PrivateKeyJwt) => Verifier::new(client.app.keys.clone()),
        _ => return Err(wrong_method(client)),
    };
    let validation = Validation {
        now: Some(now),
        issuers: vec![client.app.client_id.clone()],
        subject: Some(client.app.client_id.clone()),
        required: vec!["exp".into(), "jti".into(), "aud".into()],
        ..Validation::default()
    };
    let jwt = verifier
        .verify_jwt(assertion, &validation)
        .map_err(|e| bad(e.to_string()))?;
    let aud_ok = match jwt.claims.get("aud") {
        Some(Value::String(a)) => a == audience.endpoint || a == audience.issuer,
        Some(Value::Array(list)) => list
            .iter()
            .any(|a| a.as_str() == Some(audience.endpoint) || a.as_str() == Some(audience.issuer)),
        _ => false,
    };
    if !aud_ok {
        return Err(bad(format!(
            "aud must be {} (or the issuer {})",
            audience.endpoint, audience.issuer
        )));
    }
    let jti = jwt
        .claims
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let exp = jwt.claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
    if !seen.first_use(format!("{iss}\0{jti}"), exp.saturating_add(60), now) {
        return Err(bad(format!("jti \"{jti}\" was already used (a replay)")));
    }
    enabled(client)
}
