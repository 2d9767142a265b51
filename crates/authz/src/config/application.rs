//! An application's configuration (PingOne's ApplicationOIDC settings the emulator honours):
//! the raw TOML/JSON shape, its validation, and the [`Client`] the endpoints use.

use std::path::Path;

use jose::{KeyKind, KeySet};
use serde::Deserialize;

use pingone::app::Application;

use super::{invalid, non_empty, ConfigError};
use crate::request::ResponseType;

/// An application: its validator settings plus what the authorize and token endpoints need.
#[derive(Debug, Clone)]
pub struct Client {
    pub app: Application,
    /// Shown as `_embedded.application.name`.
    pub name: String,
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
    /// The application's own sign-on page: a redirect-mode authorize goes there with
    /// `environmentId` and `flowId` (PingOne's custom sign-on); default the emulator's page.
    pub login_page_url: Option<String>,
    /// PingOne's `grantTypes` (default `AUTHORIZATION_CODE`).
    pub grant_types: Vec<GrantType>,
    /// PingOne's `responseTypes`: what authorize may return (`CODE`, `TOKEN`, `ID_TOKEN`).
    pub response_types: ResponseType,
    /// A refresh token's lifetime (PingOne's `refreshTokenDuration`, default 30 days).
    pub refresh_token_duration_ms: i64,
    /// How long refreshes may go on after the sign-on (`refreshTokenRollingDuration`, 180 days).
    pub refresh_token_rolling_duration_ms: i64,
    /// Scopes a `client_credentials` token may have.
    pub scopes: Vec<String>,
    /// None: `client_secret_basic` or `client_secret_post`, either (the emulator's default).
    pub token_endpoint_auth_method: Option<AuthMethod>,
    /// PingOne's `pkceEnforcement`.
    pub pkce_enforcement: PkceEnforcement,
    /// PingOne's `parRequirement`: `REQUIRED` refuses authorize requests without a PAR
    /// `request_uri`.
    pub par_required: bool,
    /// PingOne's `parTimeout`: how long a `request_uri` lives (default 60 s).
    pub par_timeout_ms: i64,
    /// Audiences (`resource` or `audience`) a token exchange may issue tokens for.
    pub resources: Vec<String>,
    /// Where the application publishes its public keys (PingOne's `jwksUrl`): fetched when a
    /// request object or client assertion needs them, cached, refetched for an unknown `kid`.
    pub jwks_url: Option<String>,
    /// PingOne's `idpSignoff`: `/as/idpSignoff` may end the user's session with only an ID
    /// token of this application (no session cookie).
    pub idp_signoff: bool,
    /// Where `/as/signoff` sends OpenID back-channel logout tokens for this application.
    pub backchannel_logout_uri: Option<String>,
    /// Where `/as/signoff` may send the browser back after a logout.
    pub post_logout_redirect_uris: Vec<String>,
}

/// PingOne's `pkceEnforcement`: whether authorize requests must carry a PKCE challenge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PkceEnforcement {
    #[default]
    Optional,
    Required,
    S256Required,
}

/// How an application authenticates at the token endpoint (PingOne's `tokenEndpointAuthMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A public client: no secret; PKCE is required.
    None,
    ClientSecretBasic,
    ClientSecretPost,
    /// RFC 7523 assertion signed with the client secret (HS256/384/512).
    ClientSecretJwt,
    /// RFC 7523 assertion signed with a key of the application's `jwks`.
    PrivateKeyJwt,
}

impl AuthMethod {
    pub fn parse(s: &str) -> Option<AuthMethod> {
        match s {
            "NONE" => Some(AuthMethod::None),
            "CLIENT_SECRET_BASIC" => Some(AuthMethod::ClientSecretBasic),
            "CLIENT_SECRET_POST" => Some(AuthMethod::ClientSecretPost),
            "CLIENT_SECRET_JWT" => Some(AuthMethod::ClientSecretJwt),
            "PRIVATE_KEY_JWT" => Some(AuthMethod::PrivateKeyJwt),
            _ => None,
        }
    }
}

/// The grant types the emulator issues tokens for (PingOne's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    /// Tokens straight from the authorize endpoint (`response_type` with `token`/`id_token`).
    Implicit,
    RefreshToken,
    ClientCredentials,
    Ciba,
    DeviceCode,
    TokenExchange,
}

impl GrantType {
    pub fn parse(s: &str) -> Option<GrantType> {
        match s {
            "AUTHORIZATION_CODE" => Some(GrantType::AuthorizationCode),
            "IMPLICIT" => Some(GrantType::Implicit),
            "REFRESH_TOKEN" => Some(GrantType::RefreshToken),
            "CLIENT_CREDENTIALS" => Some(GrantType::ClientCredentials),
            "CIBA" => Some(GrantType::Ciba),
            "DEVICE_CODE" => Some(GrantType::DeviceCode),
            "TOKEN_EXCHANGE" => Some(GrantType::TokenExchange),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApplication {
    client_id: String,
    name: Option<String>,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    support_unsigned_request_object: bool,
    #[serde(default)]
    require_signed_request_object: bool,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    jwks: Option<String>,
    jwks_url: Option<String>,
    idp_signoff: Option<bool>,
    login_page_url: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    refresh_token_duration: Option<u64>,
    refresh_token_rolling_duration: Option<u64>,
    #[serde(default)]
    scopes: Vec<String>,
    token_endpoint_auth_method: Option<String>,
    pkce_enforcement: Option<String>,
    par_requirement: Option<String>,
    par_timeout: Option<u64>,
    backchannel_logout_uri: Option<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
}

fn enabled_by_default() -> bool {
    true
}

/// An application from the control API's JSON (the configuration's fields; a `jwks` file is
/// read relative to the server's working directory).
pub fn application_from_json(
    env_at: &str,
    value: serde_json::Value,
) -> Result<Client, ConfigError> {
    let raw: RawApplication = serde_json::from_value(value)
        .map_err(|e| invalid(env_at, format!("the application is not valid: {e}")))?;
    application(env_at, raw, Path::new("."))
}

pub(super) fn application(
    env_at: &str,
    a: RawApplication,
    base_dir: &Path,
) -> Result<Client, ConfigError> {
    let at = format!("{env_at} application \"{}\"", a.client_id);
    let client_id = non_empty(&at, "client_id", &a.client_id)?;
    let method = match &a.token_endpoint_auth_method {
        None => None,
        Some(m) => Some(AuthMethod::parse(m).ok_or_else(|| {
            invalid(
                &at,
                format!("token_endpoint_auth_method \"{m}\" is not one of NONE, CLIENT_SECRET_BASIC, CLIENT_SECRET_POST, CLIENT_SECRET_JWT, PRIVATE_KEY_JWT"),
            )
        })?),
    };
    let public = method == Some(AuthMethod::None);
    let secret = if public {
        a.client_secret.clone()
    } else {
        non_empty(&at, "client_secret", &a.client_secret)?
    };
    if a.jwks.is_some() && a.jwks_url.is_some() {
        return Err(invalid(
            &at,
            "jwks and jwks_url cannot both be set (PingOne takes one or the other)",
        ));
    }
    if let Some(url) = &a.jwks_url {
        let http = url.starts_with("https://") || url.starts_with("http://");
        if !http || url.contains('#') || url.contains(char::is_whitespace) {
            return Err(invalid(
                &at,
                format!("jwks_url: \"{url}\" is not an http(s) URL without a fragment"),
            ));
        }
    }
    if method == Some(AuthMethod::PrivateKeyJwt) && a.jwks.is_none() && a.jwks_url.is_none() {
        return Err(invalid(
            &at,
            "PRIVATE_KEY_JWT needs the application's jwks or jwks_url",
        ));
    }
    if a.support_unsigned_request_object && a.require_signed_request_object {
        return Err(invalid(
            &at,
            "support_unsigned_request_object and require_signed_request_object cannot both be true (PingOne forbids it)",
        ));
    }
    for uri in &a.redirect_uris {
        redirect_uri(&at, uri)?;
    }
    let mut app = Application::new(client_id.clone());
    if !secret.is_empty() {
        app = app
            .with_secret(secret.as_bytes().to_vec())
            .map_err(|e| invalid(&at, format!("client_secret: {e}")))?;
    }
    app.support_unsigned_request_object = a.support_unsigned_request_object;
    app.require_signed_request_object = a.require_signed_request_object;
    app.enabled = a.enabled;
    if let Some(path) = &a.jwks {
        app = app.with_keys(jwks(&at, base_dir, path)?);
    }
    if let Some(url) = &a.login_page_url {
        let http = url.starts_with("https://") || url.starts_with("http://");
        if !http || url.contains('#') || url.contains(char::is_whitespace) {
            return Err(invalid(
                &at,
                format!("login_page_url: \"{url}\" is not an http(s) URL without a fragment"),
            ));
        }
    }
    let mut grant_types = Vec::new();
    for g in a
        .grant_types
        .unwrap_or_else(|| vec!["AUTHORIZATION_CODE".into()])
    {
        match GrantType::parse(&g) {
            Some(t) => grant_types.push(t),
            None => {
                return Err(invalid(
                    &at,
                    format!("grant_types: \"{g}\" is not one the emulator issues (AUTHORIZATION_CODE, IMPLICIT, REFRESH_TOKEN, CLIENT_CREDENTIALS, CIBA, DEVICE_CODE, TOKEN_EXCHANGE)"),
                ))
            }
        }
    }
    let response_types = response_types(&at, a.response_types.as_deref(), &grant_types)?;
    let seconds =
        |field: &str, v: Option<u64>, default: u64, max: u64| -> Result<i64, ConfigError> {
            let v = v.unwrap_or(default);
            if !(60..=max).contains(&v) {
                return Err(invalid(
                    &at,
                    format!("{field}: must be from 60 to {max} seconds"),
                ));
            }
            Ok(i64::try_from(v).unwrap_or(60) * 1000)
        };
    Ok(Client {
        app,
        name: a.name.unwrap_or(client_id),
        client_secret: secret,
        redirect_uris: a.redirect_uris,
        login_page_url: a.login_page_url,
        grant_types,
        response_types,
        refresh_token_duration_ms: seconds(
            "refresh_token_duration",
            a.refresh_token_duration,
            2_592_000,
            157_680_000,
        )?,
        refresh_token_rolling_duration_ms: seconds(
            "refresh_token_rolling_duration",
            a.refresh_token_rolling_duration,
            15_552_000,
            157_680_000,
        )?,
        scopes: a.scopes,
        token_endpoint_auth_method: method,
        resources: a.resources,
        jwks_url: a.jwks_url,
        idp_signoff: a.idp_signoff.unwrap_or(false),
        backchannel_logout_uri: match a.backchannel_logout_uri {
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => Some(u),
            Some(u) => {
                return Err(invalid(
                    &at,
                    format!("backchannel_logout_uri: \"{u}\" is not an http(s) URL"),
                ))
            }
            None => None,
        },
        post_logout_redirect_uris: {
            for u in &a.post_logout_redirect_uris {
                redirect_uri(&at, u)?;
            }
            a.post_logout_redirect_uris
        },
        par_required: match a.par_requirement.as_deref() {
            None | Some("OPTIONAL") => false,
            Some("REQUIRED") => true,
            Some(other) => {
                return Err(invalid(
                    &at,
                    format!("par_requirement \"{other}\" is not OPTIONAL or REQUIRED"),
                ))
            }
        },
        par_timeout_ms: match a.par_timeout {
            None => 60_000,
            Some(t) if (1..=600).contains(&t) => i64::try_from(t).unwrap_or(60) * 1000,
            Some(_) => return Err(invalid(&at, "par_timeout: must be from 1 to 600 seconds")),
        },
        pkce_enforcement: match a.pkce_enforcement.as_deref() {
            None | Some("OPTIONAL") => PkceEnforcement::Optional,
            Some("REQUIRED") => PkceEnforcement::Required,
            Some("S256_REQUIRED") => PkceEnforcement::S256Required,
            Some(other) => {
                return Err(invalid(
                    &at,
                    format!(
                    "pkce_enforcement \"{other}\" is not one of OPTIONAL, REQUIRED, S256_REQUIRED"
                ),
                ))
            }
        },
    })
}

/// An absolute URI (a scheme, then `:`), without a fragment (RFC 6749 §3.1.2).
fn redirect_uri(at: &str, uri: &str) -> Result<(), ConfigError> {
    let scheme_ok = uri
        .split_once(':')
        .map(|(scheme, rest)| {
            !rest.is_empty()
                && scheme
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        })
        .unwrap_or(false);
    if !scheme_ok || uri.contains('#') || uri.contains(char::is_whitespace) {
        return Err(invalid(
            at,
            format!("redirect_uris: \"{uri}\" is not an absolute URI without a fragment"),
        ));
    }
    Ok(())
}

fn jwks(at: &str, base_dir: &Path, path: &str) -> Result<KeySet, ConfigError> {
    let full = base_dir.join(path);
    let bytes = std::fs::read(&full)
        .map_err(|e| invalid(at, format!("jwks: cannot read {}: {e}", full.display())))?;
    let (keys, _skipped) = KeySet::from_jwks_json(&bytes)
        .map_err(|e| invalid(at, format!("jwks {}: {e}", full.display())))?;
    if !keys.keys().iter().any(|k| k.kind() == KeyKind::Rsa) {
        return Err(invalid(
            at,
            format!(
                "jwks {}: no RSA key (request objects are verified with RS256/384/512)",
                full.display()
            ),
        ));
    }
    if keys.keys().iter().any(|k| k.can_sign()) {
        return Err(invalid(
            at,
            format!(
                "jwks {}: holds private keys; register only the public keys",
                full.display()
            ),
        ));
    }
    Ok(keys)
}

/// PingOne's `responseTypes`, checked against the grant types: `CODE` needs
/// `AUTHORIZATION_CODE`, `TOKEN` and `ID_TOKEN` need `IMPLICIT`. Without the field: `CODE` for
/// the code grant, plus `TOKEN` and `ID_TOKEN` for implicit (our choice).
fn response_types(
    at: &str,
    listed: Option<&[String]>,
    grants: &[GrantType],
) -> Result<ResponseType, ConfigError> {
    let code_grant = grants.contains(&GrantType::AuthorizationCode);
    let implicit = grants.contains(&GrantType::Implicit);
    let Some(listed) = listed else {
        return Ok(ResponseType {
            code: code_grant,
            token: implicit,
            id_token: implicit,
        });
    };
    let mut r = ResponseType::default();
    for t in listed {
        let (slot, needs, grant) = match t.as_str() {
            "CODE" => (&mut r.code, code_grant, "AUTHORIZATION_CODE"),
            "TOKEN" => (&mut r.token, implicit, "IMPLICIT"),
            "ID_TOKEN" => (&mut r.id_token, implicit, "IMPLICIT"),
            other => {
                return Err(invalid(
                    at,
                    format!("response_types: \"{other}\" is not one of CODE, TOKEN, ID_TOKEN"),
                ))
            }
        };
        if !needs {
            return Err(invalid(
                at,
                format!("response_types: {t} needs the {grant} grant in grant_types"),
            ));
        }
        *slot = true;
    }
    if implicit && !(r.token || r.id_token) {
        return Err(invalid(
            at,
            "grant_types has IMPLICIT but response_types has neither TOKEN nor ID_TOKEN",
        ));
    }
    Ok(r)
}
