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

use serde::Deserialize;

use pingone::region::{check_environment_id, Region};

use crate::placeholder;

mod application;
use application::{application, RawApplication};

mod user;
pub use application::{application_from_json, AuthMethod, Client, GrantType, PkceEnforcement};
use user::{user, RawUser};
pub use user::{
    user_from_json, Device, DeviceType, PasswordStatus, UserRecord, MIN_PASSWORD_LENGTH,
};

/// Defaults PingOne documents or that keep memory bounded.
pub const DEFAULT_MAX_FLOWS: usize = 100_000;
pub const DEFAULT_MAX_CODES: usize = 100_000;
pub const DEFAULT_MAX_REFRESH_TOKENS: usize = 100_000;
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
    /// Refresh tokens kept (used ones too, for reuse detection); past it the oldest goes.
    pub max_refresh_tokens: usize,
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
            max_refresh_tokens: DEFAULT_MAX_REFRESH_TOKENS,
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
    max_refresh_tokens: Option<usize>,
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
        max_refresh_tokens: positive(
            "max_refresh_tokens",
            raw.max_refresh_tokens,
            DEFAULT_MAX_REFRESH_TOKENS,
        )?,
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
    use jose::KeySet;

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
            (GOOD.replace("redirect_uris = [", "jwks = \"a.jwks\"\njwks_url = \"https://app.example/jwks\"\nredirect_uris = ["), "application \"app-1\": jwks and jwks_url cannot both be set"),
            (GOOD.replace("redirect_uris = [", "jwks_url = \"file:///etc/jwks\"\nredirect_uris = ["), "jwks_url: \"file:///etc/jwks\" is not an http(s) URL"),
            (GOOD.replace("redirect_uris = [", "token_endpoint_auth_method = \"PRIVATE_KEY_JWT\"\nredirect_uris = ["), "PRIVATE_KEY_JWT needs the application's jwks or jwks_url"),
            (GOOD.replace("redirect_uris = [", "response_types = [\"TOKEN\"]\nredirect_uris = ["), "application \"app-1\": response_types: TOKEN needs the IMPLICIT grant in grant_types"),
            (GOOD.replace("redirect_uris = [", "grant_types = [\"IMPLICIT\"]\nresponse_types = [\"CODE\"]\nredirect_uris = ["), "response_types: CODE needs the AUTHORIZATION_CODE grant"),
            (GOOD.replace("redirect_uris = [", "grant_types = [\"IMPLICIT\"]\nresponse_types = [\"code\"]\nredirect_uris = ["), "response_types: \"code\" is not one of CODE, TOKEN, ID_TOKEN"),
            (GOOD.replace("redirect_uris = [", "grant_types = [\"IMPLICIT\", \"AUTHORIZATION_CODE\"]\nresponse_types = [\"CODE\"]\nredirect_uris = ["), "grant_types has IMPLICIT but response_types has neither TOKEN nor ID_TOKEN"),
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
