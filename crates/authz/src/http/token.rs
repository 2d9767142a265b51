//! `POST /{envId}/as/token`: the grants the emulator issues tokens for: `authorization_code`,
//! `refresh_token` (rotated, single use, a reuse revokes the family), `client_credentials`, CIBA
//! and device codes ([`super::backchannel`]) and token exchange ([`super::exchange`]), each
//! allowed only to applications whose `grant_types` include it.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap};
use serde_json::{Map, Value};

use super::backchannel::DEVICE_GRANT_TYPE;
use super::exchange::{exchange, EXCHANGE_GRANT_TYPE};
use super::handlers::{form_pairs, is_form};
use super::{lock, EnvState, Shared};
use crate::client_auth;
use crate::config::{AuthMethod, Client, Environment, GrantType};
use crate::oauth::{self, Grant, Issue, ResponseType, TokenError};
use crate::random::{self, SystemRandom};

fn unsupported(other: &str) -> TokenError {
    TokenError::new(
        400,
        "unsupported_grant_type",
        format!("grant_type \"{other}\" is not supported (authorization_code, refresh_token, client_credentials)"),
    )
}

pub(super) fn not_allowed(client: &Client, grant: &str) -> TokenError {
    TokenError::new(
        400,
        "unauthorized_client",
        format!(
            "application \"{}\" may not use grant_type {grant} (add it to its grant_types)",
            client.app.client_id
        ),
    )
}

/// The client of a request to `{issuer}/{endpoint}` ([`client_auth`]).
pub(super) fn authenticated<'e>(
    s: &Shared,
    st: &EnvState,
    env: &'e Environment,
    headers: &HeaderMap,
    form: &std::collections::BTreeMap<String, String>,
    endpoint: &str,
) -> Result<&'e Client, TokenError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|h| h.to_str().unwrap_or("not text"));
    let url = format!("{}/{endpoint}", st.issuer);
    client_auth::authenticate(
        env,
        authorization,
        form,
        &client_auth::Audience {
            endpoint: &url,
            issuer: &st.issuer,
        },
        s.now_ms().div_euclid(1000),
        &mut lock(&st.assertion_jtis),
    )
}

/// The parameters of a form-encoded request to one of the OAuth endpoints (token, PAR, CIBA,
/// device authorization, introspection, revocation).
pub(super) fn form_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<std::collections::BTreeMap<String, String>, TokenError> {
    let body = body.map_err(|e| TokenError::invalid_request(format!("body: {e}")))?;
    if !is_form(headers) {
        return Err(TokenError::invalid_request(
            "the request must be application/x-www-form-urlencoded",
        ));
    }
    oauth::params(form_pairs(&body)).map_err(|e| TokenError::invalid_request(e.description()))
}

pub(super) fn failed(e: jose::Error) -> TokenError {
    TokenError::new(500, "server_error", format!("signing: {e}"))
}

pub(super) fn issue_tokens(
    s: &Shared,
    st: &EnvState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, TokenError> {
    let form = form_body(headers, body)?;
    let grant_type = form
        .get("grant_type")
        .cloned()
        .ok_or_else(|| TokenError::invalid_request("grant_type is required"))?;
    let kind = match grant_type.as_str() {
        crate::ciba::GRANT_TYPE => GrantType::Ciba,
        DEVICE_GRANT_TYPE => GrantType::DeviceCode,
        EXCHANGE_GRANT_TYPE => GrantType::TokenExchange,
        "authorization_code" => GrantType::AuthorizationCode,
        "refresh_token" => GrantType::RefreshToken,
        "client_credentials" => GrantType::ClientCredentials,
        other => return Err(unsupported(other)),
    };
    let env = st.env();
    let client = authenticated(s, st, &env, headers, &form, "token")?;
    let client_id = client.app.client_id.clone();
    if !client.grant_types.contains(&kind) {
        return Err(not_allowed(client, &grant_type));
    }
    let now_ms = s.now_ms();
    let at = Issue {
        issuer: &st.issuer,
        env_id: &st.id,
        now: now_ms.div_euclid(1000),
        lifetime: s.limits.token_lifetime_seconds,
    };
    match kind {
        GrantType::AuthorizationCode => {
            let code = form
                .get("code")
                .ok_or_else(|| TokenError::invalid_request("code is required"))?;
            let grant = lock(&st.codes).take(code, now_ms).ok_or_else(|| {
                TokenError::invalid_grant(
                    "the authorization code is unknown, expired or already used",
                )
            })?;
            oauth::redeem(&grant, &client_id, &form)?;
            if client.token_endpoint_auth_method == Some(AuthMethod::None) && grant.pkce.is_none() {
                return Err(TokenError::invalid_grant(
                    "a public client must use PKCE (the authorize request had no code_challenge)",
                ));
            }
            let family = random::uuid(&mut SystemRandom).map_err(failed)?;
            let ends = grant
                .auth_time
                .saturating_mul(1000)
                .saturating_add(client.refresh_token_rolling_duration_ms);
            tokens(st, client, &grant, &at, Some((family, ends)), now_ms)
        }
        GrantType::RefreshToken => {
            let token = form
                .get("refresh_token")
                .ok_or_else(|| TokenError::invalid_request("refresh_token is required"))?;
            let redeemed = lock(&st.refresh)
                .redeem(token, &client_id, now_ms)
                .map_err(|e| TokenError::invalid_grant(e.to_string()))?;
            let mut grant = redeemed.grant;
            // A narrower scope may be asked for, never a wider one (RFC 6749 §6).
            if let Some(scope) = form.get("scope") {
                let wider = scope
                    .split_whitespace()
                    .find(|s| !oauth::has_scope(&grant.scope, s));
                if let Some(s) = wider {
                    return Err(TokenError::new(
                        400,
                        "invalid_scope",
                        format!("scope \"{s}\" was not granted to the refresh token"),
                    ));
                }
                grant.scope = scope.clone();
            }
            // No nonce in a refreshed ID token (OIDC Core §12.2).
            grant.nonce = None;
            tokens(
                st,
                client,
                &grant,
                &at,
                Some((redeemed.family, redeemed.family_ends_ms)),
                now_ms,
            )
        }
        GrantType::Ciba | GrantType::DeviceCode => {
            let field = if kind == GrantType::Ciba {
                "auth_req_id"
            } else {
                "device_code"
            };
            let id = form
                .get(field)
                .ok_or_else(|| TokenError::invalid_request(format!("{field} is required")))?;
            let flow_id = {
                let mut pending = lock(&st.ciba);
                let p = pending.get_mut(id).ok_or_else(|| {
                    TokenError::invalid_grant("auth_req_id is unknown or was used")
                })?;
                if let Err(e) = crate::ciba::poll(p, &client_id, now_ms) {
                    if e.error == "expired_token" {
                        pending.remove(id);
                    }
                    return Err(e);
                }
                if p.flow_id.is_empty() {
                    // A device code whose user has not entered the user code yet.
                    return Err(TokenError::new(
                        400,
                        "authorization_pending",
                        "the user has not entered the user code yet",
                    ));
                }
                p.flow_id.clone()
            };
            let status = lock(&st.flows).get_mut(&flow_id, now_ms).map(|f| {
                crate::flow::tick(&mut f.flow, &env, now_ms);
                (
                    f.flow.status,
                    crate::oauth::grant(&f.flow).and_then(|g| st.with_session(g)),
                )
            });
            match status {
                Some((_, Some(grant))) => {
                    lock(&st.ciba).remove(id);
                    lock(&st.flows).remove(&flow_id);
                    let family = random::uuid(&mut SystemRandom).map_err(failed)?;
                    let ends = grant
                        .auth_time
                        .saturating_mul(1000)
                        .saturating_add(client.refresh_token_rolling_duration_ms);
                    tokens(st, client, &grant, &at, Some((family, ends)), now_ms)
                }
                Some((crate::flow::Status::Failed, _)) | None => {
                    lock(&st.ciba).remove(id);
                    Err(TokenError::new(
                        400,
                        "access_denied",
                        "the user denied the request (or it was lost)",
                    ))
                }
                Some(_) => Err(TokenError::new(
                    400,
                    "authorization_pending",
                    "the user has not decided yet",
                )),
            }
        }
        GrantType::TokenExchange => exchange(s, st, client, &form, &at),
        // Never a token endpoint grant: `kind` comes from the grant_type names above.
        GrantType::Implicit => Err(unsupported("implicit")),
        GrantType::ClientCredentials => {
            let requested: Vec<&str> = form
                .get("scope")
                .map(|s| s.split_whitespace().collect())
                .unwrap_or_else(|| client.scopes.iter().map(String::as_str).collect());
            if let Some(s) = requested
                .iter()
                .find(|s| !client.scopes.iter().any(|c| c == *s))
            {
                return Err(TokenError::new(
                    400,
                    "invalid_scope",
                    format!("scope \"{s}\" is not one of the application's scopes"),
                ));
            }
            let grant = Grant {
                flow_id: String::new(),
                client_id: client_id.clone(),
                redirect_uri: None,
                pkce: None,
                nonce: None,
                scope: requested.join(" "),
                user_id: client_id,
                auth_time: at.now,
                acr: String::new(),
                amr: Vec::new(),
                template: None,
                sid: None,
            };
            let jti = random::uuid(&mut SystemRandom).map_err(failed)?;
            let access = st
                .access_signer
                .sign_claims(&oauth::access_token_claims(&grant, &at, &jti))
                .map_err(failed)?;
            let mut out = Map::new();
            out.insert("access_token".into(), access.into());
            out.insert("token_type".into(), "Bearer".into());
            out.insert("expires_in".into(), at.lifetime.into());
            out.insert("scope".into(), grant.scope.into());
            Ok(Value::Object(out))
        }
    }
}

/// The tokens of an implicit or hybrid authorize response (OIDC Core §3.2.2.5, §3.3.2.5):
/// `access_token`, `token_type`, `expires_in` and `scope` for `token`; `id_token` (with
/// `at_hash` and `c_hash` for what it travels with) for `id_token`.
pub(super) fn front_channel(
    s: &Shared,
    st: &EnvState,
    grant: &Grant,
    code: Option<&str>,
    asked: ResponseType,
) -> Result<Vec<(String, String)>, TokenError> {
    let at = Issue {
        issuer: &st.issuer,
        env_id: &st.id,
        now: s.now_ms().div_euclid(1000),
        lifetime: s.limits.token_lifetime_seconds,
    };
    let mut out = Vec::new();
    let mut access = None;
    if asked.token {
        let jti = random::uuid(&mut SystemRandom).map_err(failed)?;
        let token = st
            .access_signer
            .sign_claims(&oauth::access_token_claims(grant, &at, &jti))
            .map_err(failed)?;
        out.push(("access_token".to_owned(), token.clone()));
        out.push(("token_type".to_owned(), "Bearer".to_owned()));
        out.push(("expires_in".to_owned(), at.lifetime.to_string()));
        out.push(("scope".to_owned(), grant.scope.clone()));
        access = Some(token);
    }
    if asked.id_token {
        let env = st.env();
        let user = env.user(&grant.user_id).ok_or_else(|| {
            TokenError::invalid_grant(format!("user \"{}\" no longer exists", grant.user_id))
        })?;
        let mut claims = oauth::id_token_claims(grant, user, &at);
        if let Some(t) = &access {
            claims.insert("at_hash".into(), oauth::half_hash(t).into());
        }
        if let Some(c) = code {
            claims.insert("c_hash".into(), oauth::half_hash(c).into());
        }
        let token = st.id_signer.sign_claims(&claims).map_err(failed)?;
        out.push(("id_token".to_owned(), token));
    }
    Ok(out)
}

/// The access token, the ID token (with `openid`) and, for an application that may refresh, a
/// new refresh token of `family`.
pub(super) fn tokens(
    st: &EnvState,
    client: &Client,
    grant: &Grant,
    at: &Issue<'_>,
    family: Option<(String, i64)>,
    now_ms: i64,
) -> Result<Value, TokenError> {
    let env = st.env();
    let user = env.user(&grant.user_id).ok_or_else(|| {
        TokenError::invalid_grant(format!("user \"{}\" no longer exists", grant.user_id))
    })?;
    let jti = random::uuid(&mut SystemRandom).map_err(failed)?;
    let access = st
        .access_signer
        .sign_claims(&oauth::access_token_claims(grant, at, &jti))
        .map_err(failed)?;
    let mut out = Map::new();
    out.insert("access_token".into(), access.into());
    out.insert("token_type".into(), "Bearer".into());
    out.insert("expires_in".into(), at.lifetime.into());
    out.insert("scope".into(), grant.scope.clone().into());
    if oauth::has_scope(&grant.scope, "openid") {
        let id_token = st
            .id_signer
            .sign_claims(&oauth::id_token_claims(grant, user, at))
            .map_err(failed)?;
        out.insert("id_token".into(), id_token.into());
    }
    if let (true, Some((family, ends))) = (
        client.grant_types.contains(&GrantType::RefreshToken),
        family,
    ) {
        if now_ms < ends {
            let token = random::secret_token(&mut SystemRandom).map_err(failed)?;
            lock(&st.refresh).issue(
                token.clone(),
                family,
                grant.clone(),
                now_ms.saturating_add(client.refresh_token_duration_ms),
                ends,
            );
            out.insert("refresh_token".into(), token.into());
        }
    }
    Ok(Value::Object(out))
}
