//! The emulator's configuration (TOML): environments with their applications, users (with
//! devices) and notification templates, plus server limits. Parsing validates everything and
//! names the offending entry in its message.
//!
//! ```toml
//! listen = "127.0.0.1:9031"
//! base_url = "http://127.0.0.1:9031"      # issuer = {base_url}/{envId}/as
//! [[environment]]
//! id = "env-1"
//! region = "na"
//! [[environment.application]]
//! client_id = "app-1"
//! client_secret = "..."
//! redirect_uris = ["https://app.example/cb"]
//! [[environment.user]]
//! id = "user-1"
//! username = "charlie"
//! password = "..."
//! devices = [{ id = "dev-1", type = "SMS", phone = "+15550100" }]
//! [[environment.template]]
//! name = "transaction"
//! delivery = "SMS"
//! body = "Approve this transfer of ${sum} ${currency} to ${recipient}, by entering this OTP: ${OTP}"
//! ```

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use jose::{KeyKind, KeySet};
use serde::Deserialize;

use pingone::app::Application;
use pingone::region::{check_environment_id, Region};

use crate::placeholder;

/// Defaults PingOne documents or that keep memory bounded.
pub const DEFAULT_MAX_FLOWS: usize = 100_000;
pub const DEFAULT_MAX_CODES: usize = 100_000;
pub const DEFAULT_OUTBOX_CAPACITY: usize = 1000;
/// "Flows expire after 15 minutes of inactivity."
pub const DEFAULT_FLOW_IDLE_TIMEOUT_SECONDS: u64 = 900;
pub const DEFAULT_CODE_LIFETIME_SECONDS: u64 = 60;
pub const DEFAULT_TOKEN_LIFETIME_SECONDS: u64 = 3600;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("not valid TOML for this configuration: {0}")]
    Syntax(String),
    #[error("{at}: {problem}")]
    Invalid { at: String, problem: String },
}

fn invalid(at: impl fmt::Display, problem: impl fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        at: at.to_string(),
        problem: problem.to_string(),
    }
}

/// How a device delivers a passcode or a confirmation; also a template's `delivery`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceType {
    Sms,
    Email,
    /// An OTP read out by a phone call (the outbox records the voice text).
    Voice,
    /// PingOne's MFA app: push approve/deny, and with `otp = true` an OTP the app shows.
    Mobile,
    /// An authenticator app: RFC 6238 codes from the device's `secret`.
    Totp,
}

impl DeviceType {
    pub const ALL: [DeviceType; 5] = [
        DeviceType::Sms,
        DeviceType::Email,
        DeviceType::Voice,
        DeviceType::Mobile,
        DeviceType::Totp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceType::Sms => "SMS",
            DeviceType::Email => "EMAIL",
            DeviceType::Voice => "VOICE",
            DeviceType::Mobile => "MOBILE",
            DeviceType::Totp => "TOTP",
        }
    }

    /// A PingOne device type, case-insensitively; and whether the name was the deprecated
    /// `PUSH` (this emulator's earlier name for `MOBILE`).
    pub fn parse(s: &str) -> Option<(DeviceType, bool)> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("PUSH") {
            return Some((DeviceType::Mobile, true));
        }
        DeviceType::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(s))
            .map(|d| (d, false))
    }

    /// How a notification reaches the device (none for TOTP: the app computes the code).
    pub fn delivery(self) -> Option<Delivery> {
        match self {
            DeviceType::Sms => Some(Delivery::Sms),
            DeviceType::Email => Some(Delivery::Email),
            DeviceType::Voice => Some(Delivery::Voice),
            DeviceType::Mobile => Some(Delivery::Push),
            DeviceType::Totp => None,
        }
    }
}

impl fmt::Display for DeviceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A notification's delivery method, as PingOne's notification templates name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sms,
    Email,
    Voice,
    Push,
}

impl Delivery {
    pub const ALL: [Delivery; 4] = [
        Delivery::Sms,
        Delivery::Email,
        Delivery::Voice,
        Delivery::Push,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Sms => "SMS",
            Delivery::Email => "EMAIL",
            Delivery::Voice => "VOICE",
            Delivery::Push => "PUSH",
        }
    }

    /// `SMS`, `EMAIL`, `VOICE` or `PUSH`, case-insensitively.
    pub fn parse(s: &str) -> Option<Delivery> {
        Delivery::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Server limits and lifetimes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Live flows kept; when full, the least recently used flow is evicted.
    pub max_flows: usize,
    /// Unredeemed authorization codes kept; when full, the oldest is evicted.
    pub max_codes: usize,
    /// Notifications kept per environment (a ring buffer).
    pub outbox_capacity: usize,
    pub flow_idle_timeout_ms: i64,
    pub code_lifetime_ms: i64,
    pub token_lifetime_seconds: i64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_flows: DEFAULT_MAX_FLOWS,
            max_codes: DEFAULT_MAX_CODES,
            outbox_capacity: DEFAULT_OUTBOX_CAPACITY,
            flow_idle_timeout_ms: 1000 * DEFAULT_FLOW_IDLE_TIMEOUT_SECONDS as i64,
            code_lifetime_ms: 1000 * DEFAULT_CODE_LIFETIME_SECONDS as i64,
            token_lifetime_seconds: DEFAULT_TOKEN_LIFETIME_SECONDS as i64,
        }
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Option<SocketAddr>,
    /// Without a trailing slash; derived from the bound address when absent.
    pub base_url: Option<String>,
    pub limits: Limits,
    pub environments: Vec<Environment>,
    /// What is accepted but deprecated (a device of type `PUSH`), for the server to print.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Environment {
    pub id: String,
    pub region: Region,
    /// Origins (`scheme://host[:port]`) whose pages may call the Flows API and `/as` endpoints
    /// from a browser (CORS); `"*"` allows any origin, without credentials.
    pub cors_origins: Vec<String>,
    pub device_selection: DeviceSelection,
    /// A push not answered within this long times out (`PUSH_CONFIRMATION_TIMED_OUT`).
    pub push_timeout_ms: i64,
    /// Wrong passwords (across flows) that lock a user out; 0 never does.
    pub password_lockout_failures: u8,
    pub password_lockout_ms: i64,
    /// When set, the control API (`/{envId}/emulator/…`) needs `Authorization: Bearer` with it.
    pub control_token: Option<String>,
    pub applications: Vec<Client>,
    pub users: Vec<UserRecord>,
    pub templates: Vec<TemplateRecord>,
}

impl Environment {
    pub fn client(&self, client_id: &str) -> Option<&Client> {
        self.applications
            .iter()
            .find(|c| c.app.client_id == client_id)
    }

    pub fn user(&self, id: &str) -> Option<&UserRecord> {
        self.users.iter().find(|u| u.id == id)
    }

    /// A `sub` or login: a user id first, then a username.
    pub fn find_user(&self, sub: &str) -> Option<&UserRecord> {
        self.user(sub)
            .or_else(|| self.users.iter().find(|u| u.username == sub))
    }
}

/// The environment's users, for the pingone validators (a user is known by its id).
impl pingone::app::UserLookup for Environment {
    type User = String;
    fn by_id(&self, id: &str) -> Option<String> {
        self.user(id).map(|u| u.id.clone())
    }
    fn by_username(&self, username: &str) -> Option<String> {
        self.users
            .iter()
            .find(|u| u.username == username)
            .map(|u| u.id.clone())
    }
}

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
            "REFRESH_TOKEN" => Some(GrantType::RefreshToken),
            "CLIENT_CREDENTIALS" => Some(GrantType::ClientCredentials),
            "CIBA" => Some(GrantType::Ciba),
            "DEVICE_CODE" => Some(GrantType::DeviceCode),
            "TOKEN_EXCHANGE" => Some(GrantType::TokenExchange),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    /// For `usernamePassword.check`; a user without one can only be named by a token.
    pub password: Option<String>,
    pub devices: Vec<Device>,
    /// `EXPIRED` or `MUST_CHANGE`: the next password sign-on must set a new one.
    pub password_status: PasswordStatus,
    /// A registered user who has not entered the emailed verification code yet.
    pub verified: bool,
}

/// The state of a user's password (PingOne's password status).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PasswordStatus {
    #[default]
    Ok,
    /// `PASSWORD_EXPIRED`: changed with `password.reset`.
    Expired,
    /// `MUST_CHANGE_PASSWORD`: changed with `password.forceChange`.
    MustChange,
}

/// The shortest new password the emulator accepts (our choice; PingOne's policy is configurable).
pub const MIN_PASSWORD_LENGTH: usize = 8;

impl UserRecord {
    pub fn device(&self, id: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.id == id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    pub kind: DeviceType,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// MOBILE: the app also shows an OTP, which `otp.check` accepts besides the push.
    pub otp: bool,
    /// TOTP: the shared secret (decoded from the configuration's base32).
    pub secret: Vec<u8>,
    /// PingOne's `testMode`: the flow response carries the OTP as `test.otp`.
    pub test_mode: bool,
    /// The device chosen first under `DEFAULT_TO_FIRST` (default: the first listed).
    pub default: bool,
}

impl Device {
    /// Where a notification goes: the phone number, the email address, or the device.
    pub fn address(&self) -> String {
        match self.kind {
            DeviceType::Sms | DeviceType::Voice => self.phone.clone().unwrap_or_default(),
            DeviceType::Email => self.email.clone().unwrap_or_default(),
            DeviceType::Mobile | DeviceType::Totp => self.id.clone(),
        }
    }
}

/// A push is answered within this long, or times out (PingOne's MFA policy default).
pub const DEFAULT_PUSH_TIMEOUT_SECONDS: u64 = 40;
/// Wrong passwords, across flows, that lock a user out (PingOne's default password policy has a
/// lockout after failures; the numbers are **our choice**).
pub const DEFAULT_LOCKOUT_FAILURES: u8 = 5;
pub const DEFAULT_LOCKOUT_SECONDS: u64 = 900;

/// `field` seconds (1 to 86400) as milliseconds, or the default.
fn seconds_ms(at: &str, field: &str, value: Option<u64>, default: u64) -> Result<i64, ConfigError> {
    let v = value.unwrap_or(default);
    if !(1..=86_400).contains(&v) {
        return Err(invalid(at, format!("{field}: must be from 1 to 86400")));
    }
    Ok(i64::try_from(v).unwrap_or(1) * 1000)
}

/// Locales compare case-insensitively; no locale equals no locale.
pub fn same_locale(a: Option<&str>, b: Option<&str>) -> bool {
    placeholder::same_variant(a, b)
}

/// How a user with several devices gets one (PingOne's MFA policy `deviceSelection`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeviceSelection {
    /// The default device (or the first) at once; `device.select` may change it.
    DefaultToFirst,
    /// With one device, that one; with several, `DEVICE_SELECTION_REQUIRED` (our default: the
    /// emulator's behaviour before device selection was configurable).
    #[default]
    PromptToSelect,
    /// `DEVICE_SELECTION_REQUIRED` even with one device.
    AlwaysDisplayDevices,
}

impl DeviceSelection {
    pub fn parse(s: &str) -> Option<DeviceSelection> {
        match s.trim() {
            "DEFAULT_TO_FIRST" => Some(DeviceSelection::DefaultToFirst),
            "PROMPT_TO_SELECT" => Some(DeviceSelection::PromptToSelect),
            "ALWAYS_DISPLAY_DEVICES" => Some(DeviceSelection::AlwaysDisplayDevices),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRecord {
    pub name: String,
    pub variant: Option<String>,
    pub delivery: Delivery,
    /// A language tag (`en`, `fr-CA`); chosen by the request's `ui_locales`.
    pub locale: Option<String>,
    pub body: String,
    /// EMAIL: the subject line.
    pub subject: Option<String>,
    /// PUSH: the notification's title.
    pub title: Option<String>,
}

// --- the TOML shape ---

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    base_url: Option<String>,
    max_flows: Option<usize>,
    max_codes: Option<usize>,
    outbox_capacity: Option<usize>,
    flow_idle_timeout_seconds: Option<u64>,
    code_lifetime_seconds: Option<u64>,
    token_lifetime_seconds: Option<u64>,
    #[serde(default, rename = "environment")]
    environments: Vec<RawEnvironment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    id: String,
    region: Option<String>,
    #[serde(default)]
    cors_origins: Vec<String>,
    device_selection: Option<String>,
    push_timeout_seconds: Option<u64>,
    password_lockout_failures: Option<u8>,
    password_lockout_seconds: Option<u64>,
    control_token: Option<String>,
    #[serde(default, rename = "application")]
    applications: Vec<RawApplication>,
    #[serde(default, rename = "user")]
    users: Vec<RawUser>,
    #[serde(default, rename = "template")]
    templates: Vec<RawTemplate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApplication {
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
    login_page_url: Option<String>,
    grant_types: Option<Vec<String>>,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    id: String,
    username: String,
    given_name: Option<String>,
    family_name: Option<String>,
    email: Option<String>,
    password: Option<String>,
    #[serde(default)]
    devices: Vec<RawDevice>,
    password_status: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevice {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    phone: Option<String>,
    email: Option<String>,
    #[serde(default)]
    otp: bool,
    secret: Option<String>,
    #[serde(default)]
    test_mode: bool,
    #[serde(default)]
    default: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplate {
    name: String,
    variant: Option<String>,
    delivery: String,
    locale: Option<String>,
    body: String,
    subject: Option<String>,
    title: Option<String>,
}

impl Config {
    /// Parses and validates a configuration; `base_dir` resolves relative `jwks` paths.
    pub fn from_toml(text: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string().trim().into()))?;
        let listen = raw
            .listen
            .as_deref()
            .map(|l| {
                l.trim().parse::<SocketAddr>().map_err(|_| {
                    invalid(
                        "listen",
                        format!("\"{l}\" is not an address and port such as 127.0.0.1:9031"),
                    )
                })
            })
            .transpose()?;
        let base_url = raw.base_url.as_deref().map(base_url).transpose()?;
        let limits = limits(&raw)?;
        if raw.environments.is_empty() {
            return Err(invalid(
                "environment",
                "no [[environment]] is configured; add at least one",
            ));
        }
        let mut ids = HashSet::new();
        let mut environments = Vec::new();
        let mut warnings = Vec::new();
        for (i, e) in raw.environments.into_iter().enumerate() {
            let env = environment(i, e, base_dir, &mut warnings)?;
            if !ids.insert(env.id.clone()) {
                return Err(invalid(
                    format!("environment \"{}\"", env.id),
                    "the id is used by another environment",
                ));
            }
            environments.push(env);
        }
        Ok(Config {
            listen,
            base_url,
            limits,
            environments,
            warnings,
        })
    }
}

fn base_url(url: &str) -> Result<String, ConfigError> {
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['?', '#', ' ']) => Ok(trimmed.into()),
        _ => Err(invalid(
            "base_url",
            format!("\"{url}\" is not an http(s) URL without query or fragment, e.g. http://127.0.0.1:9031"),
        )),
    }
}

fn limits(raw: &RawConfig) -> Result<Limits, ConfigError> {
    fn positive<T: Copy + PartialEq + Default + fmt::Display>(
        name: &str,
        v: Option<T>,
        default: T,
    ) -> Result<T, ConfigError> {
        match v {
            Some(v) if v == T::default() => Err(invalid(name, "must be at least 1")),
            Some(v) => Ok(v),
            None => Ok(default),
        }
    }
    // Seconds beyond this would overflow milliseconds; no one needs a flow for 100 years.
    const MAX_SECONDS: u64 = 100 * 365 * 86_400;
    let seconds = |name: &str, v: Option<u64>, default: u64| -> Result<i64, ConfigError> {
        let s = positive(name, v, default)?;
        if s > MAX_SECONDS {
            return Err(invalid(name, format!("{s} is too large")));
        }
        Ok(s as i64)
    };
    Ok(Limits {
        max_flows: positive("max_flows", raw.max_flows, DEFAULT_MAX_FLOWS)?,
        max_codes: positive("max_codes", raw.max_codes, DEFAULT_MAX_CODES)?,
        outbox_capacity: positive(
            "outbox_capacity",
            raw.outbox_capacity,
            DEFAULT_OUTBOX_CAPACITY,
        )?,
        flow_idle_timeout_ms: 1000
            * seconds(
                "flow_idle_timeout_seconds",
                raw.flow_idle_timeout_seconds,
                DEFAULT_FLOW_IDLE_TIMEOUT_SECONDS,
            )?,
        code_lifetime_ms: 1000
            * seconds(
                "code_lifetime_seconds",
                raw.code_lifetime_seconds,
                DEFAULT_CODE_LIFETIME_SECONDS,
            )?,
        token_lifetime_seconds: seconds(
            "token_lifetime_seconds",
            raw.token_lifetime_seconds,
            DEFAULT_TOKEN_LIFETIME_SECONDS,
        )?,
    })
}

fn non_empty(at: &str, field: &str, value: &str) -> Result<String, ConfigError> {
    if value.trim().is_empty() {
        Err(invalid(at, format!("{field} is empty")))
    } else {
        Ok(value.to_owned())
    }
}

fn environment(
    i: usize,
    e: RawEnvironment,
    base_dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<Environment, ConfigError> {
    let at = format!("environment[{i}]");
    check_environment_id(&e.id).map_err(|err| invalid(&at, format!("id: {err}")))?;
    let at = format!("environment \"{}\"", e.id);
    let region = match &e.region {
        None => Region::Na,
        Some(r) => Region::from_code(r).map_err(|err| invalid(&at, format!("region: {err}")))?,
    };
    for origin in &e.cors_origins {
        cors_origin(&at, origin)?;
    }
    let device_selection = match &e.device_selection {
        None => DeviceSelection::default(),
        Some(s) => DeviceSelection::parse(s).ok_or_else(|| {
            invalid(
                &at,
                format!("device_selection \"{s}\" is not one of DEFAULT_TO_FIRST, PROMPT_TO_SELECT, ALWAYS_DISPLAY_DEVICES"),
            )
        })?,
    };
    let mut applications: Vec<Client> = Vec::new();
    for a in e.applications {
        let c = application(&at, a, base_dir)?;
        if applications
            .iter()
            .any(|o| o.app.client_id == c.app.client_id)
        {
            return Err(invalid(
                format!("{at} application \"{}\"", c.app.client_id),
                "the client_id is used by another application",
            ));
        }
        applications.push(c);
    }
    let mut users: Vec<UserRecord> = Vec::new();
    for u in e.users {
        let u = user(&at, u, warnings)?;
        let uat = format!("{at} user \"{}\"", u.id);
        for o in &users {
            if o.id == u.id || o.username == u.id {
                return Err(invalid(&uat, "the id is used by another user"));
            }
            if o.username == u.username || o.id == u.username {
                return Err(invalid(
                    &uat,
                    format!("username \"{}\" is used by another user", u.username),
                ));
            }
        }
        users.push(u);
    }
    let mut device_ids = HashSet::new();
    for u in &users {
        for d in &u.devices {
            if !device_ids.insert(d.id.as_str()) {
                return Err(invalid(
                    format!("{at} user \"{}\" device \"{}\"", u.id, d.id),
                    "the device id is used by another device",
                ));
            }
        }
    }
    let mut templates: Vec<TemplateRecord> = Vec::new();
    for t in e.templates {
        let t = template_record(&at, t)?;
        if templates.iter().any(|o| {
            o.name == t.name
                && o.delivery == t.delivery
                && placeholder::same_variant(o.variant.as_deref(), t.variant.as_deref())
                && same_locale(o.locale.as_deref(), t.locale.as_deref())
        }) {
            return Err(invalid(
                format!("{at} template \"{}\"", t.name),
                format!(
                    "another template has the same name, variant ({}), delivery ({}) and locale ({})",
                    t.variant.as_deref().unwrap_or("none"),
                    t.delivery,
                    t.locale.as_deref().unwrap_or("none")
                ),
            ));
        }
        templates.push(t);
    }
    Ok(Environment {
        id: e.id,
        region,
        cors_origins: e.cors_origins,
        device_selection,
        push_timeout_ms: seconds_ms(
            &at,
            "push_timeout_seconds",
            e.push_timeout_seconds,
            DEFAULT_PUSH_TIMEOUT_SECONDS,
        )?,
        password_lockout_failures: e
            .password_lockout_failures
            .unwrap_or(DEFAULT_LOCKOUT_FAILURES),
        control_token: e.control_token.filter(|t| !t.is_empty()),
        password_lockout_ms: seconds_ms(
            &at,
            "password_lockout_seconds",
            e.password_lockout_seconds,
            DEFAULT_LOCKOUT_SECONDS,
        )?,
        applications,
        users,
        templates,
    })
}

/// A user from the control API's JSON (the configuration's fields), checked as the
/// configuration checks it; warnings (a `PUSH` device) are returned with it.
pub fn user_from_json(
    env_at: &str,
    value: serde_json::Value,
) -> Result<(UserRecord, Vec<String>), ConfigError> {
    let raw: RawUser = serde_json::from_value(value)
        .map_err(|e| invalid(env_at, format!("the user is not valid: {e}")))?;
    let mut warnings = Vec::new();
    let u = user(env_at, raw, &mut warnings)?;
    Ok((u, warnings))
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

fn application(env_at: &str, a: RawApplication, base_dir: &Path) -> Result<Client, ConfigError> {
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
    if method == Some(AuthMethod::PrivateKeyJwt) && a.jwks.is_none() {
        return Err(invalid(&at, "PRIVATE_KEY_JWT needs the application's jwks"));
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
                    format!("grant_types: \"{g}\" is not one the emulator issues (AUTHORIZATION_CODE, REFRESH_TOKEN, CLIENT_CREDENTIALS, CIBA, DEVICE_CODE, TOKEN_EXCHANGE)"),
                ))
            }
        }
    }
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

/// An origin as browsers send it (`https://app.example`, `http://localhost:3000`: a scheme, a
/// host, an optional port, nothing else), or `*`.
fn cors_origin(at: &str, origin: &str) -> Result<(), ConfigError> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let valid = origin == "*"
        || rest.is_some_and(|r| {
            !r.is_empty()
                && r.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                })
        });
    if valid {
        Ok(())
    } else {
        Err(invalid(
            at,
            format!("cors_origins: \"{origin}\" is not an origin (scheme://host[:port], no path) or \"*\""),
        ))
    }
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

fn user(env_at: &str, u: RawUser, warnings: &mut Vec<String>) -> Result<UserRecord, ConfigError> {
    let at = format!("{env_at} user \"{}\"", u.id);
    let id = non_empty(&at, "id", &u.id)?;
    let username = non_empty(&at, "username", &u.username)?;
    if u.password.as_deref() == Some("") {
        return Err(invalid(
            &at,
            "password is empty (leave it out for a user who signs on only by token)",
        ));
    }
    let mut devices = Vec::new();
    for d in u.devices {
        let dat = format!("{at} device \"{}\"", d.id);
        let (kind, deprecated) = DeviceType::parse(&d.kind).ok_or_else(|| {
            invalid(
                &dat,
                format!(
                    "type \"{}\" is not one of SMS, EMAIL, VOICE, MOBILE, TOTP",
                    d.kind
                ),
            )
        })?;
        if deprecated {
            warnings.push(format!(
                "{dat}: type \"PUSH\" is deprecated and will be refused in the next release; PingOne calls it MOBILE"
            ));
        }
        if d.otp && kind != DeviceType::Mobile {
            return Err(invalid(&dat, "otp = true is for MOBILE devices"));
        }
        let secret = match (&d.secret, kind) {
            (Some(text), DeviceType::Totp) => crate::totp::decode_secret(text)
                .map_err(|e| invalid(&dat, format!("secret: {e}")))?,
            (None, DeviceType::Totp) => {
                return Err(invalid(
                    &dat,
                    "a TOTP device needs a secret (base32, as authenticator apps take it)",
                ))
            }
            (Some(_), _) => return Err(invalid(&dat, "secret is for TOTP devices")),
            (None, _) => Vec::new(),
        };
        let device = Device {
            id: non_empty(&dat, "id", &d.id)?,
            kind,
            otp: d.otp,
            secret,
            test_mode: d.test_mode,
            default: d.default,
            phone: d.phone,
            // An EMAIL device without its own address uses the user's.
            email: d.email.or_else(|| {
                (kind == DeviceType::Email)
                    .then(|| u.email.clone())
                    .flatten()
            }),
        };
        match kind {
            DeviceType::Sms | DeviceType::Voice
                if device.phone.as_deref().is_none_or(str::is_empty) =>
            {
                let article = if kind == DeviceType::Sms { "an" } else { "a" };
                return Err(invalid(
                    &dat,
                    format!("{article} {kind} device needs a phone"),
                ));
            }
            DeviceType::Email if device.email.as_deref().is_none_or(str::is_empty) => {
                return Err(invalid(
                    &dat,
                    "an EMAIL device needs an email (or the user one)",
                ))
            }
            _ => {}
        }
        if devices.iter().any(|o: &Device| o.id == device.id) {
            return Err(invalid(
                &dat,
                "the id is used by another of the user's devices",
            ));
        }
        devices.push(device);
    }
    if devices.iter().filter(|d| d.default).count() > 1 {
        return Err(invalid(&at, "more than one device has default = true"));
    }
    Ok(UserRecord {
        id,
        username,
        given_name: u.given_name,
        family_name: u.family_name,
        email: u.email,
        password: u.password,
        devices,
        password_status: match u.password_status.as_deref() {
            None | Some("OK") => PasswordStatus::Ok,
            Some("EXPIRED") => PasswordStatus::Expired,
            Some("MUST_CHANGE") => PasswordStatus::MustChange,
            Some(other) => {
                return Err(invalid(
                    &at,
                    format!("password_status \"{other}\" is not one of OK, EXPIRED, MUST_CHANGE"),
                ))
            }
        },
        verified: true,
    })
}

fn template_record(env_at: &str, t: RawTemplate) -> Result<TemplateRecord, ConfigError> {
    let at = format!("{env_at} template \"{}\"", t.name);
    let name = non_empty(&at, "name", &t.name)?;
    let delivery = Delivery::parse(&t.delivery).ok_or_else(|| {
        invalid(
            &at,
            format!(
                "delivery \"{}\" is not one of SMS, EMAIL, VOICE, PUSH",
                t.delivery
            ),
        )
    })?;
    if let Some(v) = &t.variant {
        if v.trim().is_empty() || v.chars().count() > 100 {
            return Err(invalid(
                &at,
                "variant must have 1 to 100 characters (or be left out)",
            ));
        }
    }
    let body = non_empty(&at, "body", &t.body)?;
    placeholder::placeholders(&body).map_err(|e| invalid(&at, format!("body: {e}")))?;
    if let Some(l) = &t.locale {
        let valid = !l.is_empty()
            && l.len() <= 35
            && l.split('-')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !valid {
            return Err(invalid(
                &at,
                format!("locale \"{l}\" is not a language tag (en, fr-CA)"),
            ));
        }
    }
    if t.subject.is_some() && delivery != Delivery::Email {
        return Err(invalid(&at, "subject is for EMAIL templates"));
    }
    if t.title.is_some() && delivery != Delivery::Push {
        return Err(invalid(&at, "title is for PUSH templates"));
    }
    for (field, text) in [("subject", &t.subject), ("title", &t.title)] {
        if let Some(text) = text {
            placeholder::placeholders(text).map_err(|e| invalid(&at, format!("{field}: {e}")))?;
        }
    }
    crate::template::check_length(delivery, &body, t.subject.as_deref(), t.title.as_deref())
        .map_err(|e| invalid(&at, e))?;
    Ok(TemplateRecord {
        name,
        variant: t.variant,
        delivery,
        locale: t.locale,
        subject: t.subject,
        title: t.title,
        body,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
listen = "127.0.0.1:9031"
base_url = "http://127.0.0.1:9031/"
[[environment]]
id = "env-1"
region = "eu"
[[environment.application]]
client_id = "app-1"
client_secret = "secret-of-app-1-long-enough-for-hs256"
redirect_uris = ["https://app.example/cb", "com.example.app:/cb"]
[[environment.user]]
id = "user-1"
username = "charlie"
email = "charlie@example.com"
password = "pw"
devices = [{ id = "dev-1", type = "SMS", phone = "+15550100" }, { id = "dev-2", type = "email" }]
[[environment.template]]
name = "transaction"
delivery = "SMS"
body = "Approve ${sum}: ${OTP}"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("."))
    }

    fn error(text: &str) -> String {
        parse(text).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn the_documented_shape_parses_with_defaults() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.listen, Some("127.0.0.1:9031".parse().unwrap()));
        assert_eq!(c.base_url.as_deref(), Some("http://127.0.0.1:9031"));
        assert_eq!(c.limits, Limits::default());
        let e = &c.environments[0];
        assert_eq!(e.region, Region::Eu);
        let app = e.client("app-1").unwrap();
        assert!(app.app.enabled && !app.app.support_unsigned_request_object);
        assert_eq!(app.name, "app-1");
        let u = e.find_user("charlie").unwrap();
        assert_eq!(u.devices[1].kind, DeviceType::Email);
        assert_eq!(u.devices[1].email.as_deref(), Some("charlie@example.com"));
        assert_eq!(e.templates[0].delivery, Delivery::Sms);
    }

    #[test]
    fn push_is_a_deprecated_name_for_mobile() {
        let c = Config::from_toml(
            &GOOD.replace("type = \"SMS\", phone = \"+15550100\"", "type = \"PUSH\""),
            Path::new("."),
        )
        .unwrap();
        let d = &c.environments[0].users[0].devices[0];
        assert_eq!(d.kind, DeviceType::Mobile);
        assert_eq!(c.warnings.len(), 1);
        assert!(
            c.warnings[0].contains("type \"PUSH\" is deprecated"),
            "{:?}",
            c.warnings
        );
        assert!(Config::from_toml(GOOD, Path::new("."))
            .unwrap()
            .warnings
            .is_empty());
    }

    #[test]
    fn problems_are_named() {
        let cases = [
            (GOOD.replace("region = \"eu\"", "region = \"us\""), "environment \"env-1\": region: unknown region \"us\""),
            (GOOD.replace("type = \"SMS\"", "type = \"FAX\""), "device \"dev-1\": type \"FAX\" is not one of SMS, EMAIL, VOICE, MOBILE, TOTP"),
            (GOOD.replace(", phone = \"+15550100\"", ""), "device \"dev-1\": an SMS device needs a phone"),
            (GOOD.replace("${OTP}", "${OTP"), "template \"transaction\": body: unterminated ${"),
            (GOOD.replace("client_secret = \"secret-of-app-1-long-enough-for-hs256\"", "client_secret = \"\""), "application \"app-1\": client_secret is empty"),
            (GOOD.replace("redirect_uris = [", "support_unsigned_request_object = true\nrequire_signed_request_object = true\nredirect_uris = ["), "cannot both be true"),
            (GOOD.replace("https://app.example/cb\"", "/cb\""), "redirect_uris: \"/cb\" is not an absolute URI"),
            (GOOD.replace("id = \"env-1\"", "id = \"env/1\""), "environment[0]: id: environment id \"env/1\""),
            (GOOD.replace("listen = \"127.0.0.1:9031\"", "listen = \"nowhere\""), "listen: \"nowhere\" is not an address"),
            (GOOD.replace("username = \"charlie\"", "username = \"charlie\"\nnickname = \"bird\""), "unknown field `nickname`"),
            (format!("max_flows = 0\n{GOOD}"), "max_flows: must be at least 1"),
            (GOOD.replace("[[environment.template]]", "[[environment.user]]\nid = \"user-2\"\nusername = \"charlie\"\n[[environment.template]]"), "user \"user-2\": username \"charlie\" is used by another user"),
            (format!("{GOOD}\n[[environment.template]]\nname = \"transaction\"\ndelivery = \"sms\"\nbody = \"x\""), "same name, variant (none), delivery (SMS) and locale (none)"),
            (format!("{GOOD}\n[[environment.template]]\nname = \"long\"\ndelivery = \"SMS\"\nbody = \"{}\"", "x".repeat(154)), "an SMS of GSM-7 characters has at most 153 (this one 154)"),
            (format!("{GOOD}\n[[environment.template]]\nname = \"wide\"\ndelivery = \"SMS\"\nbody = \"{}\"", "ж".repeat(68)), "outside GSM-7 (sent as UCS-2) has at most 67 characters (this one 68)"),
            (format!("{GOOD}\n[[environment.template]]\nname = \"t\"\ndelivery = \"SMS\"\nsubject = \"s\"\nbody = \"x\""), "subject is for EMAIL templates"),
            (format!("{GOOD}\n[[environment.template]]\nname = \"t\"\ndelivery = \"EMAIL\"\nlocale = \"fr_CA\"\nbody = \"x\""), "locale \"fr_CA\" is not a language tag"),
            ("listen = \"127.0.0.1:1\"".to_owned(), "no [[environment]] is configured"),
            (GOOD.replace("type = \"SMS\", phone = \"+15550100\"", "type = \"TOTP\""), "device \"dev-1\": a TOTP device needs a secret"),
            (GOOD.replace("type = \"SMS\", phone = \"+15550100\"", "type = \"TOTP\", secret = \"!!\""), "device \"dev-1\": secret: not base32"),
            (GOOD.replace(", phone = \"+15550100\"", ", phone = \"+15550100\", otp = true"), "otp = true is for MOBILE devices"),
            (GOOD.replace("type = \"SMS\", phone = \"+15550100\"", "type = \"VOICE\""), "a VOICE device needs a phone"),
            (GOOD.replace("region = \"eu\"", "region = \"eu\"\ndevice_selection = \"RANDOM\""), "device_selection \"RANDOM\" is not one of"),
            (GOOD.replace("region = \"eu\"", "region = \"eu\"\ncors_origins = [\"https://x.example/path\"]"), "cors_origins: \"https://x.example/path\" is not an origin"),
        ];
        for (text, want) in cases {
            let got = error(&text);
            assert!(got.contains(want), "want {want:?}, got {got:?}");
        }
    }

    #[test]
    fn jwks_must_be_public_rsa_keys() {
        let dir = std::env::temp_dir().join(format!("signet-authz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = jose::Key::generate(jose::Algorithm::RS256).unwrap();
        let public = KeySet::from(key.to_public().unwrap()).to_public_jwks();
        std::fs::write(dir.join("app.jwks"), public.to_string()).unwrap();
        let ec = jose::Key::generate(jose::Algorithm::ES256).unwrap();
        let ec_set = KeySet::from(ec.to_public().unwrap()).to_public_jwks();
        std::fs::write(dir.join("ec.jwks"), ec_set.to_string()).unwrap();
        let with = |file: &str| {
            GOOD.replace(
                "redirect_uris = [",
                &format!("jwks = \"{file}\"\nredirect_uris = ["),
            )
        };
        let c = Config::from_toml(&with("app.jwks"), &dir).unwrap();
        assert_eq!(c.environments[0].applications[0].app.keys.keys().len(), 1);
        let e = Config::from_toml(&with("ec.jwks"), &dir).err().unwrap();
        assert!(e.to_string().contains("no RSA key"), "{e}");
        let e = Config::from_toml(&with("missing.jwks"), &dir)
            .err()
            .unwrap();
        assert!(e.to_string().contains("cannot read"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
