//! The gateway's TOML configuration (docs/DESIGN.md, "`signet gateway`"): PingAccess's field names in
//! snake_case. [`load`] parses it (unknown fields are errors, so typos are caught);
//! [`crate::check::check`] reports every problem it finds, each naming the section and the field.
//!
//! Relative file paths (`tls_cert`, `tls_key`, `client_ca`, `keyset_file`, `api_session.jwks`)
//! are relative to the directory of the configuration file.

use std::path::{Path, PathBuf};

use jose::Algorithm;
use serde::Deserialize;

use crate::http::path::{EmptySegments, PathParameters, PathRules};
use crate::keyset;

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub listen: Listen,
    #[serde(default)]
    pub http: Http,
    #[serde(default)]
    pub http2: Http2,
    #[serde(default)]
    pub auth_token: AuthToken,
    pub api_session: Option<ApiSession>,
    pub web_session: Option<WebSession>,
    #[serde(default, rename = "identity_mapping")]
    pub identity_mappings: Vec<IdentityMapping>,
    #[serde(default, rename = "application")]
    pub applications: Vec<Application>,
    /// `[[rule]]`: access rules that applications name in `rules`.
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
    /// Where relative paths start: the configuration file's directory.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// `[listen]`: where the gateway accepts connections.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    pub http: Option<String>,
    pub https: Option<String>,
    /// Cleartext HTTP/2 with prior knowledge (h2c), for service meshes (our name).
    pub h2c: Option<String>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    /// CA certificates for client certificates; set, the gateway requests one over https.
    pub client_ca: Option<String>,
}

/// `[http2]`: limits of HTTP/2 connections (the HTTPS listener's `h2`, and `h2c`); our names.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Http2 {
    /// Streams a client may have open at once on one connection.
    pub max_concurrent_streams: u32,
    /// The largest header list a client may send (bytes, as HTTP/2 counts them).
    pub max_header_list_size: u32,
    /// Flow-control windows the gateway grants a client (bytes).
    pub initial_stream_window_size: u32,
    pub initial_connection_window_size: u32,
}

impl Default for Http2 {
    fn default() -> Self {
        Http2 {
            max_concurrent_streams: 100,
            max_header_list_size: 64 * 1024,
            initial_stream_window_size: 1024 * 1024,
            initial_connection_window_size: 2 * 1024 * 1024,
        }
    }
}

/// `[http]`: how strictly requests are read (our names; PingAccess has no such section).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Http {
    /// `//` in a path: `reject` (400, the default), `merge`, or `keep` (routed as if merged).
    pub empty_path_segments: EmptySegments,
    /// `;` in a path: `reject` (400, the default) or `keep` (routed as if removed).
    pub path_parameters: PathParameters,
    /// Client header fields whose names hold `_` are dropped unless this is true (as nginx's
    /// `underscores_in_headers`). Even then a name that reads as a protected one with `_` as
    /// `-` (`X_Forwarded_For`, `Transfer_Encoding`, the mapped header) is dropped.
    pub underscores_in_headers: bool,
    /// Addresses (CIDR ranges) of proxies in front of the gateway whose `X-Forwarded-For` is
    /// believed when rules look at the client's address; from anyone else it is ignored.
    pub trusted_proxies: Vec<String>,
}

impl Http {
    /// The path rules of [`crate::http::path`].
    pub fn path_rules(&self) -> PathRules {
        PathRules {
            empty_segments: self.empty_path_segments,
            parameters: self.path_parameters,
        }
    }
}

/// `[auth_token]`: PingAccess's Auth Token Management.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthToken {
    pub issuer: String,
    pub signing_algorithm: String,
    pub key_roll_enabled: bool,
    pub key_roll_interval_hours: u64,
    /// Our addition: an interval in seconds, shorter than PingAccess's hours allow (soak runs,
    /// tests); when set it is the interval and `key_roll_interval_hours` is not used.
    pub key_roll_interval_seconds: Option<u64>,
    pub keyset_file: String,
    /// `"@FILE"` or `"env:NAME"`: a secret (at least 32 bytes) every key of every rolling period
    /// is derived from ([`crate::key_seed`]); replicas then share no file. Not for RSA.
    pub key_seed: Option<String>,
    /// The seed before a rotation: its keys stay published (and verify) while replicas move to
    /// the new `key_seed`.
    pub key_seed_previous: Option<String>,
}

impl Default for AuthToken {
    fn default() -> Self {
        AuthToken {
            issuer: "signet".into(),
            signing_algorithm: "ES256".into(),
            key_roll_enabled: true,
            key_roll_interval_hours: 24,
            key_roll_interval_seconds: None,
            keyset_file: "gateway-keys.json".into(),
            key_seed: None,
            key_seed_previous: None,
        }
    }
}

impl AuthToken {
    /// The configured signing algorithm, if it is one the gateway signs with.
    pub fn algorithm(&self) -> Option<Algorithm> {
        keyset::SIGNING_ALGORITHMS
            .into_iter()
            .find(|a| a.name() == self.signing_algorithm)
    }

    /// The roll interval, or None when rolling is disabled.
    pub fn roll_interval(&self) -> Option<std::time::Duration> {
        self.key_roll_enabled.then(|| {
            std::time::Duration::from_secs(
                self.key_roll_interval_seconds
                    .unwrap_or(self.key_roll_interval_hours.saturating_mul(3600)),
            )
        })
    }

    /// The interval as configured, for messages: `key_roll_interval_hours (24 h)` or
    /// `key_roll_interval_seconds (60 s)`.
    pub fn interval_text(&self) -> String {
        match self.key_roll_interval_seconds {
            Some(s) => format!("key_roll_interval_seconds ({s} s)"),
            None => format!(
                "key_roll_interval_hours ({} h)",
                self.key_roll_interval_hours
            ),
        }
    }
}

/// `[api_session]`: sessions from bearer tokens of an upstream issuer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSession {
    pub issuer: String,
    /// A JWK Set file, or an http(s) URL.
    pub jwks: String,
    pub audience: String,
    /// A token whose `kid` the JWK Set URL's keys lack makes the gateway fetch the set again,
    /// at most once per this many seconds (default 30).
    #[serde(default = "default_refetch_interval")]
    pub jwks_refetch_min_interval_seconds: u64,
}

fn default_refetch_interval() -> u64 {
    crate::jwks_source::DEFAULT_REFETCH_MIN_INTERVAL.as_secs()
}

/// `[web_session]`: OIDC login against any provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSession {
    /// The provider's issuer URL (discovery at `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    #[serde(default = "default_cookie_name")]
    pub cookie_name: String,
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_minutes: u64,
    #[serde(default = "default_session_timeout")]
    pub session_timeout_minutes: u64,
    /// The redirect URI registered at the provider; default `{scheme}://{Host}/pa/oidc/cb`.
    #[serde(default)]
    pub redirect_uri: Option<String>,
    /// Derives the cookie key (replicas share sessions, restarts keep them); default a random
    /// key made at start-up.
    #[serde(default)]
    pub cookie_secret: Option<String>,
    /// An ID token whose `kid` the provider's `jwks_uri` keys lack makes the gateway fetch them
    /// again, at most once per this many seconds (default 30).
    #[serde(default = "default_refetch_interval")]
    pub jwks_refetch_min_interval_seconds: u64,
    /// Where the provider sends the browser after RP-initiated logout (registered there);
    /// without it the provider's own page is shown.
    #[serde(default)]
    pub post_logout_redirect_uri: Option<String>,
    /// Ask for `offline_access` (a refresh token). Whenever the provider issues a refresh token,
    /// the session's tokens are refreshed before they expire.
    #[serde(default)]
    pub offline_access: bool,
    /// The shared list of logged-out sessions; default `revoked-sessions.json` in the keyset
    /// file's directory (so replicas that share the keyset share it too).
    #[serde(default)]
    pub revocation_file: Option<String>,
}

fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email"].map(String::from).to_vec()
}
fn default_cookie_name() -> String {
    "signet_session".into()
}
fn default_idle_timeout() -> u64 {
    60
}
fn default_session_timeout() -> u64 {
    240
}

/// `[[identity_mapping]]`: a PingAccess JWT identity mapping.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityMapping {
    pub name: String,
    #[serde(default)]
    pub map_as_bearer_token: bool,
    pub header_name: Option<String>,
    /// The JWT's `aud`; required (checked, so that it is reported with every other problem).
    pub audience: Option<String>,
    #[serde(default)]
    pub exclusion_list: bool,
    #[serde(default)]
    pub attribute_mappings: Vec<AttributeMapping>,
    #[serde(default)]
    pub exclusion_list_attributes: Vec<String>,
    pub exclusion_list_subject: Option<String>,
    #[serde(default)]
    pub cache_jwt: bool,
    pub client_certificate_jwt_claim_name: Option<String>,
    /// How many certificates of the client's chain go in the claim, leaf first (1 = the leaf).
    #[serde(default = "default_max_depth")]
    pub max_depth: u32,
    #[serde(default = "default_lifetime")]
    pub lifetime_seconds: u64,
}

fn default_max_depth() -> u32 {
    1
}
fn default_lifetime() -> u64 {
    300
}

impl Default for IdentityMapping {
    fn default() -> Self {
        IdentityMapping {
            name: String::new(),
            map_as_bearer_token: false,
            header_name: None,
            audience: None,
            exclusion_list: false,
            attribute_mappings: Vec::new(),
            exclusion_list_attributes: Vec::new(),
            exclusion_list_subject: None,
            cache_jwt: false,
            client_certificate_jwt_claim_name: None,
            max_depth: default_max_depth(),
            lifetime_seconds: default_lifetime(),
        }
    }
}

/// One row of an inclusion list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeMapping {
    pub user_attribute_name: String,
    pub jwt_claim_name: String,
    #[serde(default)]
    pub subject: bool,
}

/// `[[application]]`: a context root routed to a backend.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub name: String,
    pub context_root: String,
    pub backend: String,
    pub session: Session,
    pub identity_mapping: Option<String>,
    /// Whether `context_root` matches only in the same case (PingAccess's "Case Sensitive
    /// Path"). Default false: `/Admin/x` is routed to `/admin`, so a backend that ignores case
    /// cannot be reached past the application's session.
    #[serde(default)]
    pub case_sensitive_path: bool,
    /// How long the backend may take to accept a connection and send its response headers
    /// (seconds; default 30). Past it the client gets a JSON 504.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// `https` backends: the CA certificates (PEM) the backend's certificate must chain to;
    /// default the system's roots.
    #[serde(default)]
    pub backend_ca: Option<String>,
    /// `https` backends: the name the backend's certificate must carry (and the SNI); default
    /// the host of `backend`.
    #[serde(default)]
    pub backend_tls_server_name: Option<String>,
    /// `https` backends: a client certificate chain (PEM) to present (mTLS to the backend),
    /// with `backend_client_key`.
    #[serde(default)]
    pub backend_client_cert: Option<String>,
    #[serde(default)]
    pub backend_client_key: Option<String>,
    /// A WebSocket (or other upgraded) connection idle this many seconds in both directions is
    /// closed (default 300).
    #[serde(default = "default_upgrade_idle")]
    pub upgrade_idle_timeout_seconds: u64,
    /// How the gateway speaks to the backend: `http1` (default), `h2` (HTTP/2 over TLS, for an
    /// `https://` backend) or `h2c` (cleartext HTTP/2 with prior knowledge, for `http://`).
    /// gRPC backends need `h2` or `h2c`.
    #[serde(default)]
    pub backend_protocol: BackendProtocol,
    /// Names of `[[rule]]`s; every one must allow a request (after its session, before the
    /// backend).
    #[serde(default)]
    pub rules: Vec<String>,
}

/// `[[rule]]`: one access rule. Exactly one kind per rule: an attribute test (`attribute` with
/// `equals` or `contains`), `network`, a request test (`methods` and/or `path_prefix`),
/// `rate_limit`, or a composition (`any` or `all` of other rules' names).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    /// A session attribute (dot notation, as identity mappings read them).
    pub attribute: Option<String>,
    pub equals: Option<serde_json::Value>,
    /// An array attribute holding the value, or a string attribute holding it as a
    /// space-separated word (`scope`).
    pub contains: Option<serde_json::Value>,
    /// CIDR ranges the client's address must be in.
    pub network: Option<Vec<String>>,
    /// HTTP methods allowed (upper case).
    pub methods: Option<Vec<String>>,
    /// The request path must be under this one (whole segments, the application's case rule).
    pub path_prefix: Option<String>,
    pub rate_limit: Option<RateLimit>,
    pub any: Option<Vec<String>>,
    pub all: Option<Vec<String>>,
    /// The rule allows what it would deny and denies what it would allow.
    #[serde(default)]
    pub negate: bool,
    /// A denied request of a `web` application is redirected here instead of a JSON 403.
    pub rejection_redirect: Option<String>,
}

/// `rate_limit = { requests = N, per_seconds = S, burst = B, by = "identity" | "ip" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub requests: u64,
    #[serde(default = "default_per_seconds")]
    pub per_seconds: u64,
    /// Requests allowed at once after a quiet time (default `requests`).
    pub burst: Option<u64>,
    #[serde(default)]
    pub by: RateBy,
}

fn default_per_seconds() -> u64 {
    1
}

/// What a rate limit counts by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateBy {
    /// The session's `sub` (the client's address when there is none).
    #[default]
    Identity,
    Ip,
}

/// `backend_protocol`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendProtocol {
    #[default]
    Http1,
    H2,
    H2c,
}

fn default_upgrade_idle() -> u64 {
    300
}

fn default_timeout_seconds() -> u64 {
    30
}

/// Where an application's user attributes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Session {
    /// A bearer token from `[api_session]`'s issuer.
    Api,
    /// An OIDC login (`[web_session]`).
    Web,
    /// No session: requests are proxied without user attributes.
    None,
}

/// The configuration could not be read or parsed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("cannot read: {error}")]
    Read { error: std::io::Error },
    #[error("line {line}, column {column}: {message}")]
    Parse {
        line: usize,
        column: usize,
        message: String,
    },
}

/// Reads and parses a configuration file (relative paths in it start at its directory).
pub fn load(path: &Path) -> Result<Config, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|error| LoadError::Read { error })?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&text, &base_dir)
}

/// Parses configuration text; relative paths in it start at `base_dir`.
pub fn parse(text: &str, base_dir: &Path) -> Result<Config, LoadError> {
    let mut config: Config = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |span| span.start);
        let (line, column) = line_and_column(text, offset);
        LoadError::Parse {
            line,
            column,
            message: e.message().trim_end().to_owned(),
        }
    })?;
    config.base_dir = base_dir.to_path_buf();
    Ok(config)
}

/// 1-based line and column (in characters) of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl Config {
    /// A configured path, resolved against the configuration file's directory.
    pub fn resolve(&self, path: &str) -> PathBuf {
        self.base_dir.join(path)
    }

    /// The `[web_session]` revocation file: `revocation_file`, or `revoked-sessions.json` beside
    /// the keyset file.
    pub fn revocation_path(&self, web: &WebSession) -> PathBuf {
        match &web.revocation_file {
            Some(file) => self.resolve(file),
            None => self
                .resolve(&self.auth_token.keyset_file)
                .with_file_name(crate::session::revocation::DEFAULT_FILE_NAME),
        }
    }

    /// The identity mapping with this name.
    pub fn identity_mapping(&self, name: &str) -> Option<&IdentityMapping> {
        self.identity_mappings.iter().find(|m| m.name == name)
    }
}
