//! The OAuth/OIDC side of the emulator as plain functions: checking an authorize request
//! (parameters, request object, login_hint_token, PKCE) into a flow [`Start`], turning a
//! completed flow into a [`Grant`], authenticating clients and checking code redemptions at
//! the token endpoint, and the claims of the tokens issued.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{json, Map, Value};

use crate::config::{Client, Environment, UserRecord};
use crate::error::{token_refused, ApiError};
use crate::flow::{self, Factor, Flow, Start};
use crate::template;
use pingone::app::{Expected, UserLookup};
use pingone::error::{Error, Profile};
use pingone::{login_hint, request_object};

pub use crate::request::{
    has_scope, pkce_syntax, AuthRequest, Pkce, PkceMethod, ResponseMode, ResponseType,
};

/// Request parameters by name. A parameter sent twice is an error (RFC 6749 §3.1); one sent
/// empty counts as absent.
pub fn params<I>(pairs: I) -> Result<BTreeMap<String, String>, ApiError>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut out = BTreeMap::new();
    for (k, v) in pairs {
        if out.contains_key(&k) {
            return Err(ApiError::invalid_value(
                k.clone(),
                format!("parameter {k} is repeated; send it once"),
            ));
        }
        if !v.is_empty() {
            out.insert(k, v);
        }
    }
    Ok(out)
}

/// Where an authorize error goes when it can be sent back to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTo {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub state: Option<String>,
}

/// A refused authorize request: the error, and where to redirect it (None: answer with the
/// JSON envelope, as for pi.flow or when the client or redirect URI is not trusted).
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub error: ApiError,
    pub reply_to: Option<Box<ReplyTo>>,
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Refusal {
        Refusal {
            error,
            reply_to: None,
        }
    }
}

/// Authorize parameters a signed request object may carry (and then override, OIDC Core §6.1).
const REQUEST_OBJECT_PARAMETERS: [&str; 12] = [
    "response_type",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "response_mode",
    "code_challenge",
    "code_challenge_method",
    "login_hint",
    "acr_values",
    "prompt",
    "ui_locales",
];

/// The header `alg` of a token, unverified (to say which key a bad signature was checked with).
fn peek_alg(token: &str) -> Option<String> {
    let c = jose::jws::decode(token).ok()?;
    c.header.get("alg")?.as_str().map(str::to_owned)
}

fn registered<'c>(client: &'c Client, uri: &str) -> Result<&'c str, ApiError> {
    client
        .redirect_uris
        .iter()
        .find(|r| *r == uri)
        .map(String::as_str)
        .ok_or_else(|| {
            ApiError::invalid_value(
                "redirect_uri",
                format!(
                    "redirect_uri \"{uri}\" is not registered for application \"{}\"",
                    client.app.client_id
                ),
            )
        })
}

/// Where errors may be redirected, from the parameters as they stand.
fn reply_to(client: &Client, p: &BTreeMap<String, String>) -> Option<Box<ReplyTo>> {
    let front_channel = p
        .get("response_type")
        .and_then(|t| ResponseType::parse(t))
        .is_some_and(ResponseType::front_channel);
    let mode = match p.get("response_mode") {
        None if front_channel => ResponseMode::Fragment,
        None => ResponseMode::Query,
        Some(m) => ResponseMode::parse(m)?,
    };
    let uri = p.get("redirect_uri")?;
    (mode != ResponseMode::PiFlow && registered(client, uri).is_ok()).then(|| {
        Box::new(ReplyTo {
            redirect_uri: uri.clone(),
            mode,
            state: p.get("state").cloned(),
        })
    })
}

/// Checks an authorize request for `env` and says how its flow starts. `audiences` are the
/// accepted `aud` values of request objects and login_hint_tokens (this server's issuer and
/// the environment's PingOne issuer); `now` is Unix seconds.
pub fn authorize(
    pairs: Vec<(String, String)>,
    env: &Environment,
    audiences: &[String],
    now: i64,
) -> Result<Start, Refusal> {
    let mut p = params(pairs)?;
    let client_id = p
        .get("client_id")
        .cloned()
        .ok_or_else(|| ApiError::required("client_id", "client_id is required"))?;
    let client = env.client(&client_id).ok_or_else(|| {
        ApiError::invalid_value(
            "client_id",
            format!(
                "application \"{client_id}\" does not exist in environment \"{}\"",
                env.id
            ),
        )
        .oauth("invalid_client")
    })?;
    if let Some(uri) = p.get("redirect_uri") {
        registered(client, uri)?;
    }
    let mut reply = reply_to(client, &p);
    let refuse = |error: ApiError, reply: &Option<Box<ReplyTo>>| Refusal {
        error,
        reply_to: reply.clone(),
    };
    if !client.app.enabled {
        let e = Error::ApplicationDisabled {
            client_id: client_id.clone(),
        };
        return Err(refuse(
            token_refused(&e, Profile::RequestObject, None),
            &reply,
        ));
    }
    let expected = Expected {
        audiences: audiences.to_vec(),
        now,
        leeway: jose::jwt::DEFAULT_LEEWAY,
    };

    // The request object, whose parameters supersede the query's.
    let mut request = None;
    if let Some(token) = p.get("request").cloned() {
        let ro = request_object::validate(&token, &client.app, &expected).map_err(|e| {
            refuse(
                token_refused(&e, Profile::RequestObject, peek_alg(&token).as_deref()),
                &reply,
            )
        })?;
        if let Some(Value::String(id)) = ro.claims.get("client_id") {
            if *id != client_id {
                return Err(refuse(
                    ApiError::invalid_value(
                        "request",
                        format!("request object client_id \"{id}\" is not the client_id parameter \"{client_id}\""),
                    )
                    .oauth("invalid_request_object"),
                    &reply,
                ));
            }
        }
        for name in REQUEST_OBJECT_PARAMETERS {
            if let Some(Value::String(v)) = ro.claims.get(name) {
                p.insert(name.to_owned(), v.clone());
            }
        }
        if let Some(uri) = p.get("redirect_uri") {
            registered(client, uri)?;
        }
        reply = reply_to(client, &p);
        request = Some(ro);
    } else if client.app.require_signed_request_object {
        return Err(refuse(
            ApiError::required(
                "request",
                "the application requires a signed request object (requireSignedRequestObject is true)",
            ),
            &reply,
        ));
    }

    let response_type = self::response_type(client, &p).map_err(|e| refuse(e, &reply))?;
    let response_mode = match p.get("response_mode") {
        None if response_type.front_channel() => ResponseMode::Fragment,
        None => ResponseMode::Query,
        Some(m) => ResponseMode::parse(m).ok_or_else(|| {
            ApiError::invalid_value(
                "response_mode",
                format!("response_mode \"{m}\" is not one of query, fragment, form_post, pi.flow"),
            )
        })?,
    };
    if response_type.front_channel() && response_mode == ResponseMode::Query {
        // OAuth 2.0 Multiple Response Types §5: tokens never go in the query.
        return Err(refuse(
            ApiError::invalid_value(
                "response_mode",
                format!(
                    "response_type \"{}\" returns tokens, which never go in the query: use fragment, form_post or pi.flow",
                    response_type.as_str()
                ),
            ),
            &reply.map(|mut r| {
                r.mode = ResponseMode::Fragment;
                r
            }),
        ));
    }
    if response_type.id_token {
        if !p.get("scope").is_some_and(|s| has_scope(s, "openid")) {
            return Err(refuse(
                ApiError::invalid_value(
                    "scope",
                    "response_type with id_token needs the openid scope",
                ),
                &reply,
            ));
        }
        if !p.contains_key("nonce") {
            return Err(refuse(
                ApiError::required(
                    "nonce",
                    "nonce is required when response_type has id_token (OpenID Connect Core 3.2.2.1)",
                ),
                &reply,
            ));
        }
    }
    let redirect_uri = p.get("redirect_uri").cloned();
    if redirect_uri.is_none() && response_mode != ResponseMode::PiFlow {
        return Err(ApiError::required(
            "redirect_uri",
            format!(
                "redirect_uri is required with response_mode {}",
                response_mode.as_str()
            ),
        )
        .into());
    }
    let pkce = pkce(&p).map_err(|e| refuse(e, &reply))?;
    // PKCE protects a code; a response without one has nothing to bind it to.
    let enforcement = if response_type.code {
        client.pkce_enforcement
    } else {
        crate::config::PkceEnforcement::Optional
    };
    let public = response_type.code
        && client.token_endpoint_auth_method == Some(crate::config::AuthMethod::None);
    match (&pkce, enforcement) {
        (
            None,
            crate::config::PkceEnforcement::Required | crate::config::PkceEnforcement::S256Required,
        ) => {
            return Err(refuse(
                ApiError::required(
                    "code_challenge",
                    "the application requires PKCE (pkce_enforcement): send code_challenge",
                ),
                &reply,
            ))
        }
        (None, _) if public => {
            return Err(refuse(
                ApiError::required(
                    "code_challenge",
                    "a public client must use PKCE: send code_challenge",
                ),
                &reply,
            ))
        }
        (Some(p), crate::config::PkceEnforcement::S256Required) if p.method != PkceMethod::S256 => {
            return Err(refuse(
                ApiError::invalid_value(
                    "code_challenge_method",
                    "the application requires code_challenge_method S256",
                ),
                &reply,
            ))
        }
        _ => {}
    }

    // Who the user is, if a token says so.
    let mut user_id = None;
    if let Some(token) = p.get("login_hint_token") {
        let hint = login_hint::validate(token, &client.app, &expected, env).map_err(|e| {
            refuse(
                token_refused(&e, Profile::LoginHintToken, peek_alg(token).as_deref()),
                &reply,
            )
        })?;
        user_id = Some(hint.user);
    }
    if let Some(sub) = request.as_ref().and_then(|r| r.sub.as_deref()) {
        let (by_sub, _) = env.resolve(sub).ok_or_else(|| {
            refuse(
                token_refused(
                    &Error::UnknownUser(sub.to_owned()),
                    Profile::RequestObject,
                    None,
                ),
                &reply,
            )
        })?;
        if let Some(hinted) = &user_id {
            if *hinted != by_sub {
                return Err(refuse(
                    ApiError::invalid_value(
                        "login_hint_token",
                        format!("the login_hint_token names user \"{hinted}\" but the request object's sub names \"{by_sub}\""),
                    ),
                    &reply,
                ));
            }
        }
        user_id = Some(by_sub);
    }

    let prompt = p.get("prompt").cloned();
    if prompt
        .as_deref()
        .is_some_and(|pr| pr.split_ascii_whitespace().any(|x| x == "none"))
    {
        match user_id.as_deref().and_then(|u| env.user(u)) {
            None => {
                return Err(refuse(
                    ApiError::invalid_value(
                        "prompt",
                        "prompt=none, but no login_hint_token or request object sub names the user",
                    )
                    .oauth("login_required"),
                    &reply,
                ))
            }
            Some(u) if !u.devices.is_empty() => {
                return Err(refuse(
                    ApiError::invalid_value(
                        "prompt",
                        "prompt=none, but the user must confirm on a device",
                    )
                    .oauth("interaction_required"),
                    &reply,
                ))
            }
            Some(_) => {}
        }
    }

    let (template, client_context) = match request {
        Some(ro) => (ro.template, ro.client_context),
        None => (None, Map::new()),
    };
    if let Some(t) = &template {
        template::check(&env.templates, &t.name, t.variant.as_deref(), &t.variables).map_err(
            |e| {
                refuse(
                    ApiError::invalid_value("request", format!("pi.template: {e}"))
                        .oauth("invalid_request_object"),
                    &reply,
                )
            },
        )?;
    }
    Ok(Start {
        client_id,
        request: AuthRequest {
            response_type,
            response_mode,
            redirect_uri,
            scope: granted_scope(
                p.get("scope").map(String::as_str).unwrap_or("openid"),
                client,
                response_type,
            ),
            state: p.get("state").cloned(),
            nonce: p.get("nonce").cloned(),
            pkce,
            acr_values: p.get("acr_values").cloned(),
            ui_locales: p.get("ui_locales").cloned(),
            prompt,
        },
        template,
        client_context,
        user_id,
        username_hint: p.get("login_hint").cloned(),
    })
}

/// The scope a sign-on grants: the requested one, without `offline_access` unless a code is
/// returned to an application that may refresh (OIDC Core §11: the request is then ignored, not
/// refused). `prompt=consent`, which §11 also asks for, is not required: the emulator has no
/// consent step (our choice).
fn granted_scope(requested: &str, client: &Client, response_type: ResponseType) -> String {
    let offline = response_type.code
        && client
            .grant_types
            .contains(&crate::config::GrantType::RefreshToken);
    requested
        .split_ascii_whitespace()
        .filter(|s| offline || *s != crate::refresh::OFFLINE_ACCESS)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The request's `response_type`, when it is well formed and the application may use it
/// (its `response_types`).
fn response_type(client: &Client, p: &BTreeMap<String, String>) -> Result<ResponseType, ApiError> {
    let Some(text) = p.get("response_type") else {
        return Err(ApiError::required(
            "response_type",
            "response_type is required (code, token, id_token, or a combination)",
        ));
    };
    let t = ResponseType::parse(text).ok_or_else(|| {
        ApiError::invalid_value(
            "response_type",
            format!("response_type \"{text}\" is not code, token, id_token or a space-separated combination of them"),
        )
        .oauth("unsupported_response_type")
    })?;
    let allowed = client.response_types;
    let missing = [
        (t.code, allowed.code, "CODE"),
        (t.token, allowed.token, "TOKEN"),
        (t.id_token, allowed.id_token, "ID_TOKEN"),
    ]
    .into_iter()
    .find(|(asked, ok, _)| *asked && !*ok);
    if let Some((_, _, name)) = missing {
        return Err(ApiError::invalid_value(
            "response_type",
            format!(
                "application \"{}\" may not use response_type \"{text}\" (add {name} to its response_types)",
                client.app.client_id
            ),
        )
        .oauth("unauthorized_client"));
    }
    Ok(t)
}

fn pkce(p: &BTreeMap<String, String>) -> Result<Option<Pkce>, ApiError> {
    let method = p.get("code_challenge_method").map(String::as_str);
    let Some(challenge) = p.get("code_challenge") else {
        return match method {
            Some(_) => Err(ApiError::required(
                "code_challenge",
                "code_challenge_method was given without code_challenge",
            )),
            None => Ok(None),
        };
    };
    let method = match method {
        None | Some("plain") => PkceMethod::Plain,
        Some("S256") => PkceMethod::S256,
        Some(other) => {
            return Err(ApiError::invalid_value(
                "code_challenge_method",
                format!("code_challenge_method \"{other}\" is not one of S256, plain"),
            ))
        }
    };
    if !pkce_syntax(challenge) {
        return Err(ApiError::invalid_value(
            "code_challenge",
            "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
        ));
    }
    Ok(Some(Pkce {
        challenge: challenge.clone(),
        method,
    }))
}

/// What an authorization code stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub flow_id: String,
    pub client_id: String,
    pub redirect_uri: Option<String>,
    pub pkce: Option<Pkce>,
    pub nonce: Option<String>,
    pub scope: String,
    pub user_id: String,
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<&'static str>,
    /// The approved transaction's template (name, variant).
    pub template: Option<(String, Option<String>)>,
    /// The user's sign-on session at the server (`sid`), for logout.
    pub sid: Option<String>,
}

/// The grant of a completed flow (None if the flow is not completed).
pub fn grant(flow: &Flow) -> Option<Grant> {
    if flow.status != flow::Status::Completed {
        return None;
    }
    let multi = flow.factors.contains(&Factor::Password)
        && flow.factors.iter().any(|f| *f != Factor::Password);
    let acr = flow
        .request
        .acr_values
        .as_deref()
        .and_then(|a| a.split_ascii_whitespace().next())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            if multi {
                "Multi_Factor"
            } else {
                "Single_Factor"
            }
            .to_owned()
        });
    Some(Grant {
        flow_id: flow.id.clone(),
        client_id: flow.client_id.clone(),
        redirect_uri: flow.request.redirect_uri.clone(),
        pkce: flow.request.pkce.clone(),
        nonce: flow.request.nonce.clone(),
        scope: flow.request.scope.clone(),
        user_id: flow.user_id.clone()?,
        auth_time: flow.auth_time?,
        acr,
        amr: flow::amr(&flow.factors),
        template: flow
            .template
            .as_ref()
            .filter(|_| flow.transaction_approved)
            .map(|t| (t.name.clone(), t.variant.clone())),
        sid: None,
    })
}

/// A token-endpoint error, in OAuth's `{error, error_description}` form (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {description}")]
pub struct TokenError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

impl TokenError {
    pub fn new(status: u16, error: &'static str, description: impl Into<String>) -> TokenError {
        TokenError {
            status,
            error,
            description: description.into(),
        }
    }

    pub fn invalid_request(d: impl Into<String>) -> TokenError {
        TokenError::new(400, "invalid_request", d)
    }

    pub fn invalid_client(d: impl Into<String>) -> TokenError {
        TokenError::new(401, "invalid_client", d)
    }

    pub fn invalid_grant(d: impl Into<String>) -> TokenError {
        TokenError::new(400, "invalid_grant", d)
    }

    pub fn to_json(&self) -> Value {
        json!({"error": self.error, "error_description": self.description})
    }
}

/// How the client authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    Basic,
    Post,
}

/// The client's id and secret from `client_secret_basic` (the Authorization header) or
/// `client_secret_post` (the form), never both.
pub fn client_credentials(
    authorization: Option<&str>,
    form: &BTreeMap<String, String>,
) -> Result<(String, String, ClientAuth), TokenError> {
    let posted = form.get("client_secret");
    match (authorization, posted) {
        (Some(_), Some(_)) => Err(TokenError::invalid_request(
            "use one client authentication method: the Authorization header or client_secret in the body, not both",
        )),
        (Some(h), None) => {
            let (id, secret) = basic(h).ok_or_else(|| {
                TokenError::invalid_client(
                    "the Authorization header is not Basic base64(client_id:client_secret)",
                )
            })?;
            if let Some(form_id) = form.get("client_id") {
                if *form_id != id {
                    return Err(TokenError::invalid_request(
                        "client_id in the body differs from the Authorization header",
                    ));
                }
            }
            Ok((id, secret, ClientAuth::Basic))
        }
        (None, Some(secret)) => {
            let id = form.get("client_id").ok_or_else(|| {
                TokenError::invalid_request("client_id is required with client_secret_post")
            })?;
            Ok((id.clone(), secret.clone(), ClientAuth::Post))
        }
        (None, None) => Err(TokenError::invalid_client(
            "client authentication is required (client_secret_basic or client_secret_post)",
        )),
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic(header: &str) -> Option<(String, String)> {
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (id, secret) = text.split_once(':')?;
    let decode = |s: &str| -> String {
        form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((decode(id), decode(secret)))
}

/// The client, authenticated with its secret.
pub fn authenticate<'e>(
    env: &'e Environment,
    client_id: &str,
    secret: &str,
) -> Result<&'e Client, TokenError> {
    let client = env
        .client(client_id)
        .ok_or_else(|| TokenError::invalid_client(format!("unknown client \"{client_id}\"")))?;
    let ok = aws_lc_rs::constant_time::verify_slices_are_equal(
        client.client_secret.as_bytes(),
        secret.as_bytes(),
    )
    .is_ok();
    if !ok {
        return Err(TokenError::invalid_client(format!(
            "the client secret of \"{client_id}\" is not valid"
        )));
    }
    if !client.app.enabled {
        return Err(TokenError::new(
            400,
            "unauthorized_client",
            format!("application \"{client_id}\" is disabled"),
        ));
    }
    Ok(client)
}

/// Checks a code redemption against its grant: same client, same redirect URI (if one was
/// sent to authorize), and the PKCE verifier.
pub fn redeem(
    grant: &Grant,
    client_id: &str,
    form: &BTreeMap<String, String>,
) -> Result<(), TokenError> {
    if grant.client_id != client_id {
        return Err(TokenError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if let Some(uri) = &grant.redirect_uri {
        if form.get("redirect_uri") != Some(uri) {
            return Err(TokenError::invalid_grant(
                "redirect_uri does not match the one of the authorize request",
            ));
        }
    }
    match (&grant.pkce, form.get("code_verifier")) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(TokenError::invalid_grant(
            "code_verifier was sent, but the authorize request had no code_challenge",
        )),
        (Some(_), None) => Err(TokenError::invalid_grant(
            "code_verifier is required: the authorize request had a code_challenge",
        )),
        (Some(p), Some(v)) if p.verify(v) => Ok(()),
        (Some(p), Some(_)) => Err(TokenError::invalid_grant(format!(
            "code_verifier does not match the code_challenge (method {})",
            match p.method {
                PkceMethod::S256 => "S256",
                PkceMethod::Plain => "plain",
            }
        ))),
    }
}

/// Token timing and identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue<'a> {
    pub issuer: &'a str,
    pub env_id: &'a str,
    pub now: i64,
    pub lifetime: i64,
}

/// The ID token's claims.
pub fn id_token_claims(grant: &Grant, user: &UserRecord, at: &Issue<'_>) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("iss".into(), at.issuer.into());
    c.insert("sub".into(), user.id.clone().into());
    c.insert("aud".into(), grant.client_id.clone().into());
    c.insert("iat".into(), at.now.into());
    c.insert("exp".into(), at.now.saturating_add(at.lifetime).into());
    c.insert("auth_time".into(), grant.auth_time.into());
    if let Some(n) = &grant.nonce {
        c.insert("nonce".into(), n.clone().into());
    }
    c.insert("acr".into(), grant.acr.clone().into());
    c.insert("amr".into(), json!(grant.amr));
    c.insert("env".into(), at.env_id.into());
    if let Some(sid) = &grant.sid {
        c.insert("sid".into(), sid.clone().into());
    }
    if let Some((name, variant)) = &grant.template {
        let mut t = Map::new();
        t.insert("name".into(), name.clone().into());
        if let Some(v) = variant {
            t.insert("variant".into(), v.clone().into());
        }
        c.insert("pi.template".into(), Value::Object(t));
    }
    c.extend(profile_claims(user, &grant.scope));
    c
}

/// `at_hash` / `c_hash` of a token or code for an RS256 ID token (OIDC Core §3.2.2.9,
/// §3.3.2.11): the left half of its SHA-256, base64url without padding.
pub fn half_hash(value: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, value.as_bytes());
    let bytes = digest.as_ref();
    jose::b64::encode(bytes.get(..bytes.len() / 2).unwrap_or(bytes))
}

/// The access token's claims (a JWT, `typ: at+jwt`, for the userinfo endpoint).
pub fn access_token_claims(grant: &Grant, at: &Issue<'_>, jti: &str) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("iss".into(), at.issuer.into());
    c.insert("sub".into(), grant.user_id.clone().into());
    c.insert("aud".into(), at.issuer.into());
    c.insert("client_id".into(), grant.client_id.clone().into());
    c.insert("scope".into(), grant.scope.clone().into());
    c.insert("iat".into(), at.now.into());
    c.insert("exp".into(), at.now.saturating_add(at.lifetime).into());
    c.insert("jti".into(), jti.into());
    c.insert("env".into(), at.env_id.into());
    c
}

/// Claims for the `profile` and `email` scopes.
pub fn profile_claims(user: &UserRecord, scope: &str) -> Map<String, Value> {
    let mut c = Map::new();
    if has_scope(scope, "profile") {
        c.insert("preferred_username".into(), user.username.clone().into());
        if let Some(g) = &user.given_name {
            c.insert("given_name".into(), g.clone().into());
        }
        if let Some(f) = &user.family_name {
            c.insert("family_name".into(), f.clone().into());
        }
    }
    if has_scope(scope, "email") {
        if let Some(e) = &user.email {
            c.insert("email".into(), e.clone().into());
        }
    }
    c
}

/// The userinfo response for a user and the access token's scope.
pub fn userinfo(user: &UserRecord, scope: &str) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("sub".into(), user.id.clone().into());
    c.extend(profile_claims(user, scope));
    c
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::config::Config;
    use pingone::region::Region;

    const SECRET: &str = "app-1-secret-long-enough-for-hs256!";
    const NOW: i64 = 1_764_000_000;

    fn env() -> Environment {
        let text = format!(
            r#"
[[environment]]
id = "env-1"
[[environment.application]]
client_id = "app-1"
client_secret = "{SECRET}"
redirect_uris = ["https://app.example/cb"]
[[environment.application]]
client_id = "off"
client_secret = "{SECRET}"
enabled = false
redirect_uris = ["https://app.example/cb"]
[[environment.user]]
id = "user-1"
username = "charlie"
password = "pw"
devices = [{{ id = "dev-1", type = "SMS", phone = "+15550100" }}]
[[environment.template]]
name = "transaction"
delivery = "SMS"
body = "Approve ${{sum}}: ${{OTP}}"
"#
        );
        Config::from_toml(&text, std::path::Path::new("."))
            .unwrap()
            .environments
            .remove(0)
    }

    fn audiences() -> Vec<String> {
        vec![
            Region::Na.issuer("env-1").unwrap(),
            "http://127.0.0.1:9/env-1/as".into(),
        ]
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn run(list: &[(&str, &str)]) -> Result<Start, Refusal> {
        authorize(pairs(list), &env(), &audiences(), NOW)
    }

    fn request_object(claims: Value) -> String {
        let key = jose::Key::hmac(SECRET).unwrap();
        jose::jws::Signer::new(key, jose::Algorithm::HS256)
            .unwrap()
            .sign_claims(&claims)
            .unwrap()
    }

    #[test]
    fn a_pi_flow_request_with_a_transaction() {
        let ro = request_object(json!({
            "aud": "https://auth.pingone.com/env-1/as", "iss": "app-1",
            "pi.template": {"name": "transaction", "variables": {"sum": "5"}},
            "pi.clientContext": {"alert.color": "red"}, "state": "from-ro"
        }));
        let s = run(&[
            ("client_id", "app-1"),
            ("response_type", "code"),
            ("response_mode", "pi.flow"),
            ("request", &ro),
            ("state", "from-query"),
            ("login_hint", "charlie"),
        ])
        .unwrap();
        assert_eq!(s.request.response_mode, ResponseMode::PiFlow);
        assert_eq!(
            s.request.state.as_deref(),
            Some("from-ro"),
            "the request object wins"
        );
        assert_eq!(s.request.scope, "openid");
        assert_eq!(s.template.unwrap().variables["sum"], "5");
        assert_eq!(s.client_context["alert.color"], "red");
        assert_eq!(s.user_id, None);
        assert_eq!(s.username_hint.as_deref(), Some("charlie"));
    }

    #[test]
    fn refusals_say_where_they_go() {
        // Bad client or redirect URI: never redirected.
        let r = run(&[("client_id", "nope"), ("response_type", "code")]).unwrap_err();
        assert_eq!((r.error.status, r.reply_to), (400, None));
        let r = run(&[
            ("client_id", "app-1"),
            ("response_type", "code"),
            ("redirect_uri", "https://evil.example/cb"),
        ])
        .unwrap_err();
        assert!(r.error.description().contains("not registered"));
        assert_eq!(r.reply_to, None);
        // Otherwise redirected, with the state.
        let r = run(&[
            ("client_id", "app-1"),
            ("response_type", "token"),
            ("redirect_uri", "https://app.example/cb"),
            ("state", "s1"),
        ])
        .unwrap_err();
        // An application without the implicit grant may not ask for a token; the error goes
        // back in the fragment, where the token would have gone.
        assert_eq!(r.error.oauth, "unauthorized_client");
        let to = r.reply_to.unwrap();
        assert_eq!(to.state.as_deref(), Some("s1"));
        assert_eq!(to.mode, ResponseMode::Fragment);
        let r = run(&[
            ("client_id", "app-1"),
            ("response_type", "code token code"),
            ("redirect_uri", "https://app.example/cb"),
        ])
        .unwrap_err();
        assert_eq!(r.error.oauth, "unsupported_response_type");
        assert_eq!(r.reply_to.unwrap().mode, ResponseMode::Query);
        let r = run(&[("client_id", "app-1"), ("response_type", "code")]).unwrap_err();
        assert!(r.error.description().contains("redirect_uri is required"));
        let r = run(&[
            ("client_id", "off"),
            ("response_type", "code"),
            ("response_mode", "pi.flow"),
        ])
        .unwrap_err();
        assert_eq!(r.error.oauth, "unauthorized_client");
        assert!(run(&[("client_id", "app-1"), ("client_id", "app-1")]).is_err());
    }

    #[test]
    fn bad_request_objects_and_templates_are_refused() {
        let bad_sig = {
            let key = jose::Key::hmac("another secret, long enough for hs256").unwrap();
            jose::jws::Signer::new(key, jose::Algorithm::HS256)
                .unwrap()
                .sign_claims(&json!({"aud": "https://auth.pingone.com/env-1/as", "iss": "app-1"}))
                .unwrap()
        };
        let base = [
            ("client_id", "app-1"),
            ("response_type", "code"),
            ("response_mode", "pi.flow"),
        ];
        let with = |ro: &str| {
            let mut v = base.to_vec();
            v.push(("request", ro));
            authorize(pairs(&v), &env(), &audiences(), NOW)
        };
        let e = with(&bad_sig).unwrap_err().error;
        assert_eq!(
            e.description(),
            "request object signature does not verify with the client secret"
        );
        let ro = request_object(json!({
            "aud": "https://auth.pingone.com/env-1/as", "iss": "app-1",
            "pi.template": {"name": "transaction", "variables": {}}
        }));
        let e = with(&ro).unwrap_err().error;
        assert_eq!(
            e.description(),
            "pi.template: template \"transaction\" uses ${sum}, which pi.template.variables does not supply"
        );
        let ro = request_object(json!({
            "aud": "https://auth.pingone.com/env-1/as", "iss": "app-1", "sub": "nobody"
        }));
        let e = with(&ro).unwrap_err().error;
        assert!(e.description().contains("sub \"nobody\" matches no user"));
        let ro = request_object(json!({
            "aud": "https://auth.pingone.com/env-1/as", "iss": "app-1", "sub": "charlie"
        }));
        assert_eq!(with(&ro).unwrap().user_id.as_deref(), Some("user-1"));
    }

    #[test]
    fn prompt_none_needs_a_named_user_without_devices() {
        let r = run(&[
            ("client_id", "app-1"),
            ("response_type", "code"),
            ("response_mode", "pi.flow"),
            ("prompt", "none"),
        ])
        .unwrap_err();
        assert_eq!(r.error.oauth, "login_required");
    }

    #[test]
    fn pkce_s256_and_plain() {
        // RFC 7636 Appendix B.
        let p = Pkce {
            challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            method: PkceMethod::S256,
        };
        assert!(p.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!p.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX"));
        assert!(!p.verify("short"));
        let plain = Pkce {
            challenge: "a".repeat(43),
            method: PkceMethod::Plain,
        };
        assert!(plain.verify(&"a".repeat(43)));
        let s = run(&[
            ("client_id", "app-1"),
            ("response_type", "code"),
            ("response_mode", "pi.flow"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ])
        .unwrap();
        assert_eq!(s.request.pkce, Some(p));
        let r = run(&[
            ("client_id", "app-1"),
            ("response_type", "code"),
            ("response_mode", "pi.flow"),
            ("code_challenge", "x"),
        ])
        .unwrap_err();
        assert!(r.error.description().contains("43 to 128"));
    }

    fn grant() -> Grant {
        Grant {
            flow_id: "f".into(),
            client_id: "app-1".into(),
            redirect_uri: Some("https://app.example/cb".into()),
            pkce: None,
            nonce: Some("n".into()),
            scope: "openid profile".into(),
            user_id: "user-1".into(),
            auth_time: NOW,
            acr: "Multi_Factor".into(),
            amr: vec!["pwd", "sms", "otp", "mfa"],
            template: Some(("transaction".into(), None)),
            sid: None,
        }
    }

    fn form(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        params(pairs(list)).unwrap()
    }

    #[test]
    fn client_authentication() {
        let h = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("app-1:s%3Acret")
        );
        assert_eq!(
            client_credentials(Some(&h), &form(&[])).unwrap(),
            ("app-1".into(), "s:cret".into(), ClientAuth::Basic)
        );
        assert_eq!(
            client_credentials(None, &form(&[("client_id", "a"), ("client_secret", "b")]))
                .unwrap()
                .2,
            ClientAuth::Post
        );
        assert_eq!(
            client_credentials(Some(&h), &form(&[("client_secret", "b")]))
                .unwrap_err()
                .error,
            "invalid_request"
        );
        let e = client_credentials(None, &form(&[])).unwrap_err();
        assert_eq!((e.status, e.error), (401, "invalid_client"));
        assert_eq!(
            client_credentials(Some("Bearer x"), &form(&[]))
                .unwrap_err()
                .error,
            "invalid_client"
        );
        let env = env();
        assert!(authenticate(&env, "app-1", SECRET).is_ok());
        assert_eq!(
            authenticate(&env, "app-1", "wrong").unwrap_err().error,
            "invalid_client"
        );
        assert_eq!(
            authenticate(&env, "off", SECRET).unwrap_err().error,
            "unauthorized_client"
        );
    }

    #[test]
    fn redemption_rules() {
        let g = grant();
        let ok = form(&[("redirect_uri", "https://app.example/cb")]);
        assert!(redeem(&g, "app-1", &ok).is_ok());
        assert!(redeem(&g, "other", &ok).is_err());
        assert!(redeem(&g, "app-1", &form(&[])).is_err());
        let mut with_pkce = g.clone();
        with_pkce.pkce = Some(Pkce {
            challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            method: PkceMethod::S256,
        });
        let e = redeem(&with_pkce, "app-1", &ok).unwrap_err();
        assert!(e.description.contains("code_verifier is required"));
        let bad = form(&[
            ("redirect_uri", "https://app.example/cb"),
            ("code_verifier", &"b".repeat(43)),
        ]);
        assert_eq!(
            redeem(&with_pkce, "app-1", &bad).unwrap_err().error,
            "invalid_grant"
        );
        assert!(
            redeem(&g, "app-1", &bad).is_err(),
            "verifier without challenge"
        );
    }

    #[test]
    fn half_hashes_match_openid_connect_cores_examples() {
        // OIDC Core 1.0 Appendix A.3 (at_hash) and A.4 (c_hash).
        assert_eq!(
            half_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(
            half_hash("Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk"),
            "LDktKdoQak3Pk0cnXxCltA"
        );
    }

    #[test]
    fn token_claims() {
        let env = env();
        let user = env.user("user-1").unwrap();
        let at = Issue {
            issuer: "http://127.0.0.1:9/env-1/as",
            env_id: "env-1",
            now: NOW,
            lifetime: 3600,
        };
        let c = id_token_claims(&grant(), user, &at);
        let keys: Vec<&str> = c.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "iss",
                "sub",
                "aud",
                "iat",
                "exp",
                "auth_time",
                "nonce",
                "acr",
                "amr",
                "env",
                "pi.template",
                "preferred_username"
            ]
        );
        assert_eq!(c["pi.template"], json!({"name": "transaction"}));
        assert_eq!(c["exp"], NOW + 3600);
        let a = access_token_claims(&grant(), &at, "j");
        assert_eq!(a["scope"], "openid profile");
        assert_eq!(userinfo(user, "openid email"), {
            let mut m = Map::new();
            m.insert("sub".into(), "user-1".into());
            m
        });
    }
}
