//! `POST /{envId}/as/token`: the grants the emulator issues tokens for: `authorization_code`,
//! `refresh_token` (rotated, single use, a reuse revokes the family) and `client_credentials`,
//! each allowed only to applications whose `grant_types` include it.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap};
use serde_json::{Map, Value};

use super::handlers::{form_pairs, is_form};
use super::{lock, EnvState, Shared};
use crate::client_auth;
use crate::config::{AuthMethod, Client, Environment, GrantType};
use crate::oauth::{self, Grant, Issue, TokenError};
use crate::random::{self, SystemRandom};

fn unsupported(other: &str) -> TokenError {
    TokenError::new(
        400,
        "unsupported_grant_type",
        format!("grant_type \"{other}\" is not supported (authorization_code, refresh_token, client_credentials)"),
    )
}

fn not_allowed(client: &Client, grant: &str) -> TokenError {
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
fn authenticated<'e>(
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

fn failed(e: jose::Error) -> TokenError {
    TokenError::new(500, "server_error", format!("signing: {e}"))
}

pub(super) fn issue_tokens(
    s: &Shared,
    st: &EnvState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, TokenError> {
    let body = body.map_err(|e| TokenError::invalid_request(format!("body: {e}")))?;
    if !is_form(headers) {
        return Err(TokenError::invalid_request(
            "the token request must be application/x-www-form-urlencoded",
        ));
    }
    let form = oauth::params(form_pairs(&body))
        .map_err(|e| TokenError::invalid_request(e.description()))?;
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

/// The access token, the ID token (with `openid`) and, for an application that may refresh, a
/// new refresh token of `family`.
fn tokens(
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
                now_ms,
                now_ms.saturating_add(client.refresh_token_duration_ms),
                ends,
            );
            out.insert("refresh_token".into(), token.into());
        }
    }
    Ok(Value::Object(out))
}

/// The authenticated client of an introspection or revocation request, and the `token`.
fn client_and_token(
    s: &Shared,
    st: &EnvState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    endpoint: &str,
) -> Result<(String, String, Option<String>), TokenError> {
    let body = body.map_err(|e| TokenError::invalid_request(format!("body: {e}")))?;
    if !is_form(headers) {
        return Err(TokenError::invalid_request(
            "the request must be application/x-www-form-urlencoded",
        ));
    }
    let form = oauth::params(form_pairs(&body))
        .map_err(|e| TokenError::invalid_request(e.description()))?;
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

/// `POST /{envId}/as/bc-authorize` (CIBA poll mode): checks the request, starts a flow for the
/// user (its device step is the approval) and answers `auth_req_id`, `expires_in`, `interval`.
pub(super) fn bc_authorize(
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
    let form = oauth::params(form_pairs(&body))
        .map_err(|e| TokenError::invalid_request(e.description()))?;
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
    let body = body.map_err(|e| TokenError::invalid_request(format!("body: {e}")))?;
    if !is_form(headers) {
        return Err(TokenError::invalid_request(
            "the request must be application/x-www-form-urlencoded",
        ));
    }
    let form = oauth::params(form_pairs(&body))
        .map_err(|e| TokenError::invalid_request(e.description()))?;
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
fn exchange(
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
