//! CIBA (OpenID Connect Client-Initiated Backchannel Authentication 1.0), poll mode: the
//! request's checks as plain functions, and the poll's rules. The server starts a flow for the
//! user named by exactly one of `login_hint`, `id_token_hint` or `login_hint_token`; the user
//! approves through the emulator (the flow's device step: a push to approve, or a passcode) and
//! the client polls the token endpoint with `auth_req_id`.

use std::collections::BTreeMap;

use pingone::app::Expected;
use pingone::login_hint;

use crate::config::{Client, Environment};
use crate::error::token_refused;
use crate::oauth::TokenError;
use pingone::error::Profile;

/// The grant type of a CIBA token request.
pub const GRANT_TYPE: &str = "urn:openid:params:grant-type:ciba";
/// Seconds between polls (`interval`), and the default lifetime of a request.
pub const INTERVAL_SECONDS: i64 = 5;
pub const DEFAULT_EXPIRY_SECONDS: i64 = 120;
/// The longest `requested_expiry` accepted (our choice).
pub const MAX_EXPIRY_SECONDS: i64 = 600;

/// An accepted backchannel authentication request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub user_id: String,
    pub scope: String,
    pub binding_message: Option<String>,
    pub expiry_seconds: i64,
}

fn invalid(m: impl Into<String>) -> TokenError {
    TokenError::invalid_request(m)
}

/// Checks a backchannel authentication request (CIBA §7.1). `verify_id_token` checks an
/// `id_token_hint` this server issued and returns its `sub`.
pub fn request(
    form: &BTreeMap<String, String>,
    env: &Environment,
    client: &Client,
    expected: &Expected,
    verify_id_token: impl Fn(&str) -> Option<String>,
) -> Result<Request, TokenError> {
    let scope = form
        .get("scope")
        .filter(|s| s.split_whitespace().any(|w| w == "openid"))
        .ok_or_else(|| invalid("scope must include openid"))?
        .clone();
    let hints: Vec<&str> = ["login_hint", "id_token_hint", "login_hint_token"]
        .into_iter()
        .filter(|h| form.contains_key(*h))
        .collect();
    if hints.len() != 1 {
        return Err(invalid(format!(
            "exactly one of login_hint, id_token_hint and login_hint_token is required ({} given)",
            hints.len()
        )));
    }
    let unknown = || {
        TokenError::new(
            400,
            "unknown_user_id",
            "the hint names no user of this environment",
        )
    };
    let user_id = match hints.first().copied() {
        Some("login_hint") => env
            .find_user(form.get("login_hint").map_or("", String::as_str))
            .map(|u| u.id.clone())
            .ok_or_else(unknown)?,
        Some("id_token_hint") => {
            let sub = verify_id_token(form.get("id_token_hint").map_or("", String::as_str))
                .ok_or_else(|| invalid("id_token_hint is not an ID token of this environment"))?;
            env.user(&sub).map(|u| u.id.clone()).ok_or_else(unknown)?
        }
        _ => {
            let token = form.get("login_hint_token").map_or("", String::as_str);
            let hint = login_hint::validate(token, &client.app, expected, env).map_err(|e| {
                let refused = token_refused(&e, Profile::LoginHintToken, None);
                TokenError::invalid_request(refused.description())
            })?;
            hint.user
        }
    };
    let expiry_seconds = match form.get("requested_expiry") {
        None => DEFAULT_EXPIRY_SECONDS,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_EXPIRY_SECONDS).contains(n))
            .ok_or_else(|| {
                invalid(format!(
                    "requested_expiry must be 1 to {MAX_EXPIRY_SECONDS} seconds"
                ))
            })?,
    };
    let binding_message = form.get("binding_message").cloned();
    if binding_message
        .as_deref()
        .is_some_and(|m| m.chars().count() > 100)
    {
        return Err(TokenError::new(
            400,
            "invalid_binding_message",
            "binding_message is at most 100 characters (our choice)",
        ));
    }
    Ok(Request {
        user_id,
        scope,
        binding_message,
        expiry_seconds,
    })
}

/// A pending request as the server keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub client_id: String,
    pub flow_id: String,
    pub expires_ms: i64,
    pub interval_ms: i64,
    pub last_poll_ms: Option<i64>,
}

/// What a poll gets before the user has decided, or when it polls too soon (CIBA §11).
pub fn poll(p: &mut Pending, client_id: &str, now_ms: i64) -> Result<(), TokenError> {
    if p.client_id != client_id {
        return Err(TokenError::invalid_grant(
            "auth_req_id was issued to another client",
        ));
    }
    if now_ms >= p.expires_ms {
        return Err(TokenError::new(
            400,
            "expired_token",
            "the auth_req_id has expired",
        ));
    }
    let too_soon = p
        .last_poll_ms
        .is_some_and(|last| now_ms - last < p.interval_ms);
    p.last_poll_ms = Some(now_ms);
    if too_soon {
        // The client must now wait longer (§11: increase the interval by 5 s).
        p.interval_ms = p.interval_ms.saturating_add(5000);
        return Err(TokenError::new(
            400,
            "slow_down",
            format!(
                "polled faster than the interval; wait {} s between polls",
                p.interval_ms / 1000
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn polls_too_fast_slow_down_and_requests_expire() {
        let mut p = Pending {
            client_id: "app".into(),
            flow_id: "f".into(),
            expires_ms: 100_000,
            interval_ms: 5000,
            last_poll_ms: None,
        };
        assert!(poll(&mut p, "app", 0).is_ok());
        let e = poll(&mut p, "app", 1000).unwrap_err();
        assert_eq!(e.error, "slow_down");
        assert_eq!(p.interval_ms, 10_000);
        assert!(poll(&mut p, "app", 11_000).is_ok());
        assert_eq!(
            poll(&mut p, "other", 30_000).unwrap_err().error,
            "invalid_grant"
        );
        assert_eq!(
            poll(&mut p, "app", 100_000).unwrap_err().error,
            "expired_token"
        );
    }
}
