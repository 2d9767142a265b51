//! Checking a parsed configuration ([`check`]): every problem at once, each a typed [`Problem`]
//! naming the section and the field. A configuration with no problem is one the gateway starts
//! with: this is the only validation.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use jose::Algorithm;

use crate::config::*;
use crate::http::path::PathRules;
use crate::identity_mapping::{self, MappingError};
use crate::keyset;

mod rules;

/// Which part of the configuration a problem is in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Section {
    Listen,
    Http,
    Http2,
    /// The `[[rule]]` tables.
    Rules,
    AuthToken,
    ApiSession,
    WebSession,
    IdentityMapping(String),
    Application(String),
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Section::Listen => f.write_str("listen"),
            Section::Http => f.write_str("http"),
            Section::Http2 => f.write_str("http2"),
            Section::Rules => f.write_str("[[rule]]"),
            Section::AuthToken => f.write_str("auth_token"),
            Section::ApiSession => f.write_str("api_session"),
            Section::WebSession => f.write_str("web_session"),
            Section::IdentityMapping(name) => write!(f, "identity_mapping \"{name}\""),
            Section::Application(name) => write!(f, "application \"{name}\""),
        }
    }
}

/// One thing wrong with a configuration: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{section}: {kind}")]
pub struct Problem {
    pub section: Section,
    pub kind: ProblemKind,
}

/// What is wrong. Messages name the field; [`Problem`] adds the section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProblemKind {
    #[error("{field} is required")]
    Required { field: &'static str },
    #[error("{field} is required when {when}")]
    RequiredWhen {
        field: &'static str,
        when: &'static str,
    },
    #[error("{field} has no effect {unless}")]
    NoEffect {
        field: &'static str,
        unless: &'static str,
    },
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} must be at least 1")]
    Zero { field: &'static str },
    #[error("neither http nor https is set: the gateway would listen nowhere")]
    NoListener,
    #[error("{field} \"{value}\" is not an IP address and port (e.g. 127.0.0.1:3000): {reason}")]
    NotSocketAddress {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("http and https are both {value}")]
    SameAddress { value: String },
    #[error("{field} \"{path}\" cannot be read: {reason}")]
    UnreadableFile {
        field: &'static str,
        path: String,
        reason: String,
    },
    #[error("{field} \"{path}\" holds no PEM {expected} block")]
    NotPem {
        field: &'static str,
        path: String,
        expected: &'static str,
    },
    #[error("jwks \"{path}\" is not a usable JWK Set: {reason}")]
    NotJwks { path: String, reason: String },
    #[error("keyset_file \"{path}\": {reason}")]
    BadKeyset { path: String, reason: String },
    #[error("keyset_file \"{path}\": directory {directory} does not exist")]
    KeysetDirectoryMissing { path: String, directory: String },
    #[error("signing_algorithm \"{value}\" is not supported (use one of {supported})")]
    UnsupportedAlgorithm { value: String, supported: String },
    #[error("{field} \"{value}\" is not an http(s) URL: {reason}")]
    NotHttpUrl {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("{0}")]
    Mapping(#[from] MappingError),
    #[error("header_name \"{value}\" is not a valid HTTP header name")]
    InvalidHeaderName { value: String },
    #[error("client_certificate_jwt_claim_name \"{value}\" is a registered claim, which the gateway sets")]
    CertificateClaimReserved { value: String },
    #[error("lifetime_seconds {lifetime_seconds} is longer than auth_token.{interval}: tokens would outlive their key in the JWKS")]
    LifetimeOutlivesKey {
        lifetime_seconds: u64,
        interval: String,
    },
    #[error("the name is used by {count} [[{table}]] entries")]
    DuplicateName { table: &'static str, count: usize },
    #[error("identity_mapping \"{name}\" is not defined")]
    UnknownIdentityMapping { name: String },
    #[error("context_root \"{value}\" must start with '/'")]
    ContextRootNotAbsolute { value: String },
    #[error("context_root \"{value}\" is reserved for the gateway's own endpoints (/pa/…)")]
    ContextRootReserved { value: String },
    #[error("context_root \"{value}\" is not a canonical path ({reason}); write it as requests are routed")]
    ContextRootNotCanonical { value: String, reason: String },
    #[error("{message}")]
    BackendTls { message: String },
    #[error("{field} is {value}; it must be from {min} to {max}")]
    OutOfRange {
        field: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
    #[error("backend_protocol = \"{protocol}\" needs {needs}")]
    BackendProtocol {
        protocol: &'static str,
        needs: &'static str,
    },
    #[error("{field} is only for https:// backends")]
    TlsOnlyField { field: &'static str },
    #[error("context_root \"{value}\" is also the context root of application \"{other}\"")]
    DuplicateContextRoot { value: String, other: String },
    #[error("session = \"{session}\" needs a [{section}] section")]
    SessionNotConfigured {
        session: &'static str,
        section: &'static str,
    },
    #[error("scopes must include \"openid\" (an OIDC login)")]
    NoOpenidScope,
    #[error("cookie_name \"{value}\" is not a valid cookie name")]
    InvalidCookieName { value: String },
    #[error("idle_timeout_minutes ({idle}) is longer than session_timeout_minutes ({session})")]
    IdleLongerThanSession { idle: u64, session: u64 },
    #[error("{0}")]
    Rule(crate::rules::RuleError),
    #[error("revocation_file \"{path}\": directory {directory} does not exist")]
    RevocationDirectoryMissing { path: String, directory: String },
    #[error("{0}")]
    Seed(crate::key_seed::SeedError),
    #[error("trusted_proxies: {0}")]
    TrustedProxies(String),
    #[error("rules: {0}")]
    ApplicationRule(crate::rules::RuleError),
}

/// Every problem in the configuration, in file order; empty when it is valid. Files it names
/// are read (certificates, keys, the JWK Set, an existing keyset file).
pub fn check(config: &Config) -> Vec<Problem> {
    let mut problems = Problems::default();
    check_listen(config, &mut problems);
    check_auth_token(config, &mut problems);
    if let Some(api) = &config.api_session {
        check_api_session(config, api, &mut problems);
    }
    if let Some(web) = &config.web_session {
        check_web_session(config, web, &mut problems);
    }
    check_duplicate_names(
        config.identity_mappings.iter().map(|m| m.name.as_str()),
        "identity_mapping",
        Section::IdentityMapping,
        &mut problems,
    );
    for mapping in &config.identity_mappings {
        check_identity_mapping(config, mapping, &mut problems);
    }
    check_duplicate_names(
        config.applications.iter().map(|a| a.name.as_str()),
        "application",
        Section::Application,
        &mut problems,
    );
    check_applications(config, &mut problems);
    rules::check_rules(config, &mut problems);
    problems.0
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, section: &Section, kind: ProblemKind) {
        self.0.push(Problem {
            section: section.clone(),
            kind,
        });
    }
}

fn check_listen(config: &Config, problems: &mut Problems) {
    let section = Section::Listen;
    let listen = &config.listen;
    if listen.http.is_none() && listen.https.is_none() && listen.h2c.is_none() {
        problems.add(&section, ProblemKind::NoListener);
    }
    if let Some(v) = listen.h2c.as_deref() {
        socket_address("h2c", v, &section, problems);
    }
    let h2 = &config.http2;
    for (field, value, min) in [
        ("max_concurrent_streams", h2.max_concurrent_streams, 1),
        ("max_header_list_size", h2.max_header_list_size, 1024),
        (
            "initial_stream_window_size",
            h2.initial_stream_window_size,
            65_535,
        ),
        (
            "initial_connection_window_size",
            h2.initial_connection_window_size,
            65_535,
        ),
    ] {
        if value < min || value > 2_147_483_647 {
            problems.add(
                &Section::Http2,
                ProblemKind::OutOfRange {
                    field,
                    value: u64::from(value),
                    min: u64::from(min),
                    max: 2_147_483_647,
                },
            );
        }
    }
    let http = listen
        .http
        .as_deref()
        .and_then(|v| socket_address("http", v, &section, problems));
    let https = listen
        .https
        .as_deref()
        .and_then(|v| socket_address("https", v, &section, problems));
    if let (Some(a), Some(b)) = (http, https) {
        if a == b {
            problems.add(
                &section,
                ProblemKind::SameAddress {
                    value: a.to_string(),
                },
            );
        }
    }
    let pem_files = [
        ("tls_cert", &listen.tls_cert, "CERTIFICATE"),
        ("tls_key", &listen.tls_key, "PRIVATE KEY"),
        ("client_ca", &listen.client_ca, "CERTIFICATE"),
    ];
    for (field, value, expected) in pem_files {
        match (value, listen.https.is_some()) {
            (Some(path), true) => check_pem_file(config, field, path, expected, &section, problems),
            (Some(_), false) => problems.add(
                &section,
                ProblemKind::NoEffect {
                    field,
                    unless: "without https",
                },
            ),
            (None, true) if field != "client_ca" => problems.add(
                &section,
                ProblemKind::RequiredWhen {
                    field,
                    when: "https is set",
                },
            ),
            (None, _) => {}
        }
    }
}

fn socket_address(
    field: &'static str,
    value: &str,
    section: &Section,
    problems: &mut Problems,
) -> Option<SocketAddr> {
    match value.parse::<SocketAddr>() {
        Ok(addr) => Some(addr),
        Err(e) => {
            problems.add(
                section,
                ProblemKind::NotSocketAddress {
                    field,
                    value: value.to_owned(),
                    reason: e.to_string(),
                },
            );
            None
        }
    }
}

/// A readable file holding a PEM block whose label ends with `expected` ("PRIVATE KEY" also
/// matches "EC PRIVATE KEY" and "RSA PRIVATE KEY").
fn check_pem_file(
    config: &Config,
    field: &'static str,
    path: &str,
    expected: &'static str,
    section: &Section,
    problems: &mut Problems,
) {
    match read_file(config, field, path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let has_block = text.lines().any(|line| {
                line.trim()
                    .strip_prefix("-----BEGIN ")
                    .and_then(|rest| rest.strip_suffix("-----"))
                    .is_some_and(|label| label.ends_with(expected))
            });
            if !has_block {
                problems.add(
                    section,
                    ProblemKind::NotPem {
                        field,
                        path: path.to_owned(),
                        expected,
                    },
                );
            }
        }
        Err(kind) => problems.add(section, kind),
    }
}

fn read_file(config: &Config, field: &'static str, path: &str) -> Result<Vec<u8>, ProblemKind> {
    std::fs::read(config.resolve(path)).map_err(|e| ProblemKind::UnreadableFile {
        field,
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn check_auth_token(config: &Config, problems: &mut Problems) {
    let section = Section::AuthToken;
    let auth = &config.auth_token;
    if auth.issuer.trim().is_empty() {
        problems.add(&section, ProblemKind::Empty { field: "issuer" });
    }
    let algorithm = auth.algorithm();
    if algorithm.is_none() {
        let supported = keyset::SIGNING_ALGORITHMS.map(Algorithm::name).join(", ");
        problems.add(
            &section,
            ProblemKind::UnsupportedAlgorithm {
                value: auth.signing_algorithm.clone(),
                supported,
            },
        );
    }
    if auth.key_roll_enabled && auth.key_roll_interval_seconds == Some(0) {
        problems.add(
            &section,
            ProblemKind::Zero {
                field: "key_roll_interval_seconds",
            },
        );
    }
    if auth.key_roll_enabled
        && auth.key_roll_interval_hours == 0
        && auth.key_roll_interval_seconds.is_none()
    {
        problems.add(
            &section,
            ProblemKind::Zero {
                field: "key_roll_interval_hours",
            },
        );
    }
    if auth.key_seed_previous.is_some() && auth.key_seed.is_none() {
        problems.add(
            &section,
            ProblemKind::RequiredWhen {
                field: "key_seed",
                when: "key_seed_previous is set",
            },
        );
    }
    if let Some(spec) = &auth.key_seed {
        let seeds = [
            ("key_seed", Some(spec)),
            ("key_seed_previous", auth.key_seed_previous.as_ref()),
        ];
        for (field, spec) in seeds {
            if let Some(Err(e)) =
                spec.map(|s| crate::key_seed::Seed::load(s, &config.base_dir, field))
            {
                problems.add(&section, ProblemKind::Seed(e));
            }
        }
        if let Some(alg) =
            algorithm.filter(|a| a.name().starts_with("RS") || a.name().starts_with("PS"))
        {
            problems.add(
                &section,
                ProblemKind::Seed(crate::key_seed::SeedError::Rsa(alg)),
            );
        }
        // No keyset file is used.
        return;
    }
    if auth.keyset_file.trim().is_empty() {
        problems.add(
            &section,
            ProblemKind::Empty {
                field: "keyset_file",
            },
        );
        return;
    }
    let path = config.resolve(&auth.keyset_file);
    if path.exists() {
        if let Some(algorithm) = algorithm {
            if let Err(e) = keyset::inspect(&path, algorithm) {
                problems.add(
                    &section,
                    ProblemKind::BadKeyset {
                        path: auth.keyset_file.clone(),
                        reason: e.kind.to_string(),
                    },
                );
            }
        }
    } else {
        let directory = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !directory.is_dir() {
            problems.add(
                &section,
                ProblemKind::KeysetDirectoryMissing {
                    path: auth.keyset_file.clone(),
                    directory: directory.display().to_string(),
                },
            );
        }
    }
}

/// `jwks_refetch_min_interval_seconds`: at least 1, so that tokens with made-up `kid`s cannot
/// make the gateway fetch the issuer's JWK Set back to back.
fn check_refetch_interval(section: &Section, seconds: u64, problems: &mut Problems) {
    if !(1..=86_400).contains(&seconds) {
        problems.add(
            section,
            ProblemKind::OutOfRange {
                field: "jwks_refetch_min_interval_seconds",
                value: seconds,
                min: 1,
                max: 86_400,
            },
        );
    }
}

fn check_api_session(config: &Config, api: &ApiSession, problems: &mut Problems) {
    let section = Section::ApiSession;
    check_refetch_interval(&section, api.jwks_refetch_min_interval_seconds, problems);
    if api.issuer.trim().is_empty() {
        problems.add(&section, ProblemKind::Empty { field: "issuer" });
    }
    if api.audience.trim().is_empty() {
        problems.add(&section, ProblemKind::Empty { field: "audience" });
    }
    if api.jwks.trim().is_empty() {
        problems.add(&section, ProblemKind::Empty { field: "jwks" });
    } else if is_url(&api.jwks) {
        if let Err(kind) = http_url("jwks", &api.jwks) {
            problems.add(&section, kind);
        }
    } else {
        match read_file(config, "jwks", &api.jwks) {
            Ok(bytes) => match jose::KeySet::from_jwks_json(&bytes) {
                Ok((keys, _)) if keys.is_empty() => problems.add(
                    &section,
                    ProblemKind::NotJwks {
                        path: api.jwks.clone(),
                        reason: "it holds no usable signature key".into(),
                    },
                ),
                Ok(_) => {}
                Err(e) => problems.add(
                    &section,
                    ProblemKind::NotJwks {
                        path: api.jwks.clone(),
                        reason: e.to_string(),
                    },
                ),
            },
            Err(kind) => problems.add(&section, kind),
        }
    }
}

/// A value meant as a URL rather than a file path.
fn is_url(value: &str) -> bool {
    value.contains("://")
}

fn http_url(field: &'static str, value: &str) -> Result<url::Url, ProblemKind> {
    let fail = |reason: String| ProblemKind::NotHttpUrl {
        field,
        value: value.to_owned(),
        reason,
    };
    let url = url::Url::parse(value).map_err(|e| fail(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(fail(format!("the scheme is \"{}\"", url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(fail("it has no host".into()));
    }
    Ok(url)
}

fn check_web_session(config: &Config, web: &WebSession, problems: &mut Problems) {
    let section = Section::WebSession;
    check_refetch_interval(&section, web.jwks_refetch_min_interval_seconds, problems);
    if let Some(uri) = &web.post_logout_redirect_uri {
        if let Err(kind) = http_url("post_logout_redirect_uri", uri) {
            problems.add(&section, kind);
        }
    }
    let revocations = config.revocation_path(web);
    let directory = match revocations.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    if !directory.is_dir() {
        problems.add(
            &section,
            ProblemKind::RevocationDirectoryMissing {
                path: revocations.display().to_string(),
                directory: directory.display().to_string(),
            },
        );
    }
    if let Err(kind) = http_url("issuer", &web.issuer) {
        problems.add(&section, kind);
    }
    if let Some(uri) = &web.redirect_uri {
        if let Err(kind) = http_url("redirect_uri", uri) {
            problems.add(&section, kind);
        }
    }
    if web.client_id.trim().is_empty() {
        problems.add(&section, ProblemKind::Empty { field: "client_id" });
    }
    if web.client_secret.is_empty() {
        problems.add(
            &section,
            ProblemKind::Empty {
                field: "client_secret",
            },
        );
    }
    if !web.scopes.iter().any(|s| s == "openid") {
        problems.add(&section, ProblemKind::NoOpenidScope);
    }
    if !is_http_token(&web.cookie_name) {
        problems.add(
            &section,
            ProblemKind::InvalidCookieName {
                value: web.cookie_name.clone(),
            },
        );
    }
    let timeouts = [
        ("idle_timeout_minutes", web.idle_timeout_minutes),
        ("session_timeout_minutes", web.session_timeout_minutes),
    ];
    for (field, minutes) in timeouts {
        if minutes == 0 {
            problems.add(&section, ProblemKind::Zero { field });
        }
    }
    if web.idle_timeout_minutes > web.session_timeout_minutes {
        problems.add(
            &section,
            ProblemKind::IdleLongerThanSession {
                idle: web.idle_timeout_minutes,
                session: web.session_timeout_minutes,
            },
        );
    }
}

/// An HTTP token (RFC 9110 §5.6.2): what header names and cookie names are made of.
fn is_http_token(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn check_duplicate_names<'a>(
    names: impl Iterator<Item = &'a str>,
    table: &'static str,
    section: fn(String) -> Section,
    problems: &mut Problems,
) {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for name in names {
        match counts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => *count += 1,
            None => counts.push((name, 1)),
        }
    }
    for (name, count) in counts {
        if count > 1 {
            problems.add(
                &section(name.to_owned()),
                ProblemKind::DuplicateName { table, count },
            );
        }
    }
}

fn check_identity_mapping(config: &Config, mapping: &IdentityMapping, problems: &mut Problems) {
    let section = Section::IdentityMapping(mapping.name.clone());
    match mapping.audience.as_deref().map(str::trim) {
        None => problems.add(&section, ProblemKind::Required { field: "audience" }),
        Some("") => problems.add(&section, ProblemKind::Empty { field: "audience" }),
        Some(_) => {}
    }
    match (&mapping.header_name, mapping.map_as_bearer_token) {
        (None, false) => problems.add(
            &section,
            ProblemKind::RequiredWhen {
                field: "header_name",
                when: "map_as_bearer_token = false",
            },
        ),
        (Some(_), true) => problems.add(
            &section,
            ProblemKind::NoEffect {
                field: "header_name",
                unless: "when map_as_bearer_token = true (the JWT goes in Authorization)",
            },
        ),
        (Some(name), false) if !is_http_token(name) => problems.add(
            &section,
            ProblemKind::InvalidHeaderName {
                value: name.clone(),
            },
        ),
        _ => {}
    }
    if mapping.exclusion_list && !mapping.attribute_mappings.is_empty() {
        problems.add(
            &section,
            ProblemKind::NoEffect {
                field: "attribute_mappings",
                unless: "when exclusion_list = true",
            },
        );
    }
    if !mapping.exclusion_list && !mapping.exclusion_list_attributes.is_empty() {
        problems.add(
            &section,
            ProblemKind::NoEffect {
                field: "exclusion_list_attributes",
                unless: "when exclusion_list = false",
            },
        );
    }
    if let Err(errors) = identity_mapping::Mapping::compile(mapping) {
        for e in errors {
            problems.add(&section, e.into());
        }
    }
    if mapping.lifetime_seconds == 0 {
        problems.add(
            &section,
            ProblemKind::Zero {
                field: "lifetime_seconds",
            },
        );
    }
    let auth = &config.auth_token;
    let interval = auth.roll_interval().map_or(0, |i| i.as_secs());
    if interval > 0 && mapping.lifetime_seconds > interval {
        problems.add(
            &section,
            ProblemKind::LifetimeOutlivesKey {
                lifetime_seconds: mapping.lifetime_seconds,
                interval: auth.interval_text(),
            },
        );
    }
    if let Some(claim) = &mapping.client_certificate_jwt_claim_name {
        if claim.is_empty() {
            problems.add(
                &section,
                ProblemKind::Empty {
                    field: "client_certificate_jwt_claim_name",
                },
            );
        } else if identity_mapping::is_reserved(claim) {
            problems.add(
                &section,
                ProblemKind::CertificateClaimReserved {
                    value: claim.clone(),
                },
            );
        }
        if mapping.max_depth == 0 {
            problems.add(&section, ProblemKind::Zero { field: "max_depth" });
        }
    }
}

fn check_applications(config: &Config, problems: &mut Problems) {
    // Context roots compare without a trailing '/': "/orders" and "/orders/" are one route.
    let mut roots: HashMap<String, (&str, &str, bool)> = HashMap::new();
    for app in &config.applications {
        let section = Section::Application(app.name.clone());
        let root = app.context_root.as_str();
        if !root.starts_with('/') {
            problems.add(
                &section,
                ProblemKind::ContextRootNotAbsolute {
                    value: root.to_owned(),
                },
            );
        } else if root.eq_ignore_ascii_case("/pa")
            || root
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("/pa/"))
        {
            problems.add(
                &section,
                ProblemKind::ContextRootReserved {
                    value: root.to_owned(),
                },
            );
        }
        if root.starts_with('/') {
            let canonical = crate::http::path::canonicalize(root, &PathRules::default());
            let reason = match &canonical {
                Err(e) => Some(e.to_string()),
                Ok(c) if c.forward != root => Some(format!("it reads as \"{}\"", c.forward)),
                Ok(_) => None,
            };
            if let Some(reason) = reason {
                problems.add(
                    &section,
                    ProblemKind::ContextRootNotCanonical {
                        value: root.to_owned(),
                        reason,
                    },
                );
            }
        }
        let normalized = match root.trim_end_matches('/') {
            "" => "/".to_owned(),
            trimmed => trimmed.to_ascii_lowercase(),
        };
        // Roots that differ only in case collide unless both applications are case-sensitive.
        match roots.get(normalized.as_str()) {
            Some((other, other_root, other_cs))
                if !(app.case_sensitive_path
                    && *other_cs
                    && *other_root != root.trim_end_matches('/')) =>
            {
                problems.add(
                    &section,
                    ProblemKind::DuplicateContextRoot {
                        value: root.to_owned(),
                        other: (*other).to_owned(),
                    },
                )
            }
            Some(_) => {}
            None => {
                roots.insert(
                    normalized,
                    (
                        &app.name,
                        root.trim_end_matches('/'),
                        app.case_sensitive_path,
                    ),
                );
            }
        }
        match http_url("backend", &app.backend) {
            Err(kind) => problems.add(&section, kind),
            Ok(_) => match crate::routes::backend_base(&app.backend) {
                None => problems.add(
                    &section,
                    ProblemKind::NotHttpUrl {
                        field: "backend",
                        value: app.backend.clone(),
                        reason: "it has user information or no host".into(),
                    },
                ),
                Some((scheme, _))
                    if (app.backend_protocol == BackendProtocol::H2
                        && scheme != hyper::http::uri::Scheme::HTTPS)
                        || (app.backend_protocol == BackendProtocol::H2c
                            && scheme != hyper::http::uri::Scheme::HTTP) =>
                {
                    problems.add(
                        &section,
                        ProblemKind::BackendProtocol {
                            protocol: match app.backend_protocol {
                                BackendProtocol::H2 => "h2",
                                BackendProtocol::H2c => "h2c",
                                BackendProtocol::Http1 => "http1",
                            },
                            needs: if app.backend_protocol == BackendProtocol::H2 {
                                "an https:// backend"
                            } else {
                                "an http:// backend"
                            },
                        },
                    );
                }
                Some((scheme, authority)) if scheme == hyper::http::uri::Scheme::HTTPS => {
                    // The same builder the gateway starts with: what passes here starts.
                    if let Err(message) = crate::routes::backend_tls(config, app, &authority) {
                        problems.add(&section, ProblemKind::BackendTls { message });
                    }
                }
                Some(_) => {
                    for (field, set) in [
                        ("backend_ca", app.backend_ca.is_some()),
                        (
                            "backend_tls_server_name",
                            app.backend_tls_server_name.is_some(),
                        ),
                        ("backend_client_cert", app.backend_client_cert.is_some()),
                        ("backend_client_key", app.backend_client_key.is_some()),
                    ] {
                        if set {
                            problems.add(&section, ProblemKind::TlsOnlyField { field });
                        }
                    }
                }
            },
        }
        match app.session {
            Session::Api if config.api_session.is_none() => problems.add(
                &section,
                ProblemKind::SessionNotConfigured {
                    session: "api",
                    section: "api_session",
                },
            ),
            Session::Web if config.web_session.is_none() => problems.add(
                &section,
                ProblemKind::SessionNotConfigured {
                    session: "web",
                    section: "web_session",
                },
            ),
            _ => {}
        }
        if let Some(name) = &app.identity_mapping {
            if config.identity_mapping(name).is_none() {
                problems.add(
                    &section,
                    ProblemKind::UnknownIdentityMapping { name: name.clone() },
                );
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::http::path::EmptySegments;
    use crate::test_support::TempDir as Dir;

    /// The gateway example of the original design, with a JWK Set file beside it.
    const DESIGN_EXAMPLE: &str = r#"
[listen]
http = "127.0.0.1:3000"
[auth_token]
issuer = "signet"
signing_algorithm = "ES256"
key_roll_enabled = true
key_roll_interval_hours = 24
keyset_file = "gateway-keys.json"
[api_session]
issuer = "https://idp.example"
jwks = "idp-jwks.json"
audience = "gateway"
[[identity_mapping]]
name = "backend-jwt"
map_as_bearer_token = false
header_name = "X-Identity-JWT"
audience = "orders-api"
exclusion_list = false
attribute_mappings = [
  { user_attribute_name = "sub", jwt_claim_name = "sub", subject = true },
  { user_attribute_name = "address.city", jwt_claim_name = "address.city" },
]
exclusion_list_attributes = []
exclusion_list_subject = "sub"
cache_jwt = true
client_certificate_jwt_claim_name = "x5c"
max_depth = 1
lifetime_seconds = 300
[[application]]
name = "orders"
context_root = "/orders"
backend = "http://127.0.0.1:8080"
session = "api"
identity_mapping = "backend-jwt"
"#;

    fn jwks_text() -> String {
        let key = jose::Key::generate(Algorithm::ES256).unwrap();
        let key = key.to_public().unwrap();
        jose::KeySet::from(key).to_public_jwks().to_string()
    }

    fn messages(config: &Config) -> Vec<String> {
        check(config).iter().map(ToString::to_string).collect()
    }

    fn assert_has(messages: &[String], expected: &str) {
        assert!(
            messages.iter().any(|m| m == expected),
            "missing {expected:?} in {messages:#?}"
        );
    }

    #[test]
    fn design_example_is_valid() {
        let dir = Dir::new("design");
        dir.write("idp-jwks.json", &jwks_text());
        let config = parse(DESIGN_EXAMPLE, &dir.0).unwrap();
        assert_eq!(messages(&config), Vec::<String>::new());
        assert_eq!(config.auth_token.algorithm(), Some(Algorithm::ES256));
        assert_eq!(
            config.auth_token.roll_interval(),
            Some(std::time::Duration::from_secs(24 * 3600))
        );
        let mapping = config.identity_mapping("backend-jwt").unwrap();
        assert_eq!(mapping.attribute_mappings.len(), 2);
        assert!(mapping.attribute_mappings[0].subject);
        assert_eq!(config.applications[0].session, Session::Api);
        assert_eq!(config.resolve("x.json"), dir.0.join("x.json"));
    }

    #[test]
    fn context_roots_must_be_canonical_and_differ_in_more_than_case() {
        let app = |name: &str, root: &str, cs: bool| {
            format!(
                "[[application]]\nname = \"{name}\"\ncontext_root = \"{root}\"\n\
                 backend = \"http://127.0.0.1:1\"\nsession = \"none\"\ncase_sensitive_path = {cs}\n"
            )
        };
        let text = [
            "[listen]\nhttp = \"127.0.0.1:1\"\n[http]\nempty_path_segments = \"merge\"\n"
                .to_owned(),
            app("dots", "/a/../b", false),
            app("encoded", "/%61pi", false),
            app("slash", "/x%2Fy", false),
            app("upper", "/Orders", false),
            app("lower", "/orders", false),
            app("cs-1", "/Shop", true),
            app("cs-2", "/shop", true),
            app("reserved", "/PA/x", false),
        ]
        .concat();
        let config = parse(&text, Path::new(".")).unwrap();
        assert_eq!(config.http.empty_path_segments, EmptySegments::Merge);
        let messages = messages(&config);
        assert_has(
            &messages,
            "application \"dots\": context_root \"/a/../b\" is not a canonical path (it reads as \"/b\"); write it as requests are routed",
        );
        assert_has(
            &messages,
            "application \"encoded\": context_root \"/%61pi\" is not a canonical path (it reads as \"/api\"); write it as requests are routed",
        );
        assert_has(
            &messages,
            "application \"slash\": context_root \"/x%2Fy\" is not a canonical path (the path has an encoded \"/\" (%2F)); write it as requests are routed",
        );
        assert_has(
            &messages,
            "application \"lower\": context_root \"/orders\" is also the context root of application \"upper\"",
        );
        assert!(
            !messages.iter().any(|m| m.contains("\"cs-2\"")),
            "two case-sensitive roots may differ in case: {messages:#?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("application \"reserved\": context_root \"/PA/x\"")),
            "{messages:#?}"
        );
        let err = parse("[http]\npath_parameters = \"allow\"\n", Path::new(".")).unwrap_err();
        assert!(err.to_string().contains("unknown variant `allow`"), "{err}");
    }

    #[test]
    fn defaults_fill_auth_token_and_mapping_fields() {
        let config = parse(
            "[[identity_mapping]]\nname = \"m\"\naudience = \"a\"\nheader_name = \"X-JWT\"\n",
            Path::new("."),
        )
        .unwrap();
        assert_eq!(config.auth_token.issuer, "signet");
        assert_eq!(config.auth_token.signing_algorithm, "ES256");
        assert!(config.auth_token.key_roll_enabled);
        assert_eq!(config.auth_token.key_roll_interval_hours, 24);
        assert_eq!(config.auth_token.keyset_file, "gateway-keys.json");
        let m = &config.identity_mappings[0];
        assert_eq!(
            (m.max_depth, m.lifetime_seconds, m.cache_jwt),
            (1, 300, false)
        );
    }

    #[test]
    fn unknown_fields_are_named_with_their_line() {
        let text = "[listen]\nhttp = \"127.0.0.1:1\"\n[[identity_mapping]]\nname = \"m\"\nheder_name = \"X\"\n";
        let err = parse(text, Path::new(".")).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("unknown field `heder_name`"), "{message}");
        assert!(message.starts_with("line 5, column 1:"), "{message}");
        let err = parse("[listen]\nhtpp = \"x\"\n", Path::new(".")).unwrap_err();
        assert!(err.to_string().contains("`htpp`"), "{err}");
        let err = parse("[[application]]\nname=\"a\"\ncontext_root=\"/\"\nbackend=\"http://x\"\nsession=\"cookie\"\n", Path::new(".")).unwrap_err();
        assert!(err.to_string().contains("cookie"), "{err}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let dir = Dir::new("many");
        dir.write("not-a-cert.pem", "hello");
        let text = r#"
[listen]
http = "localhost"
https = "127.0.0.1:3443"
tls_cert = "not-a-cert.pem"
[auth_token]
signing_algorithm = "HS256"
key_roll_interval_hours = 0
keyset_file = "missing-dir/keys.json"
[api_session]
issuer = "https://idp"
jwks = "nope.json"
audience = "gw"
[[identity_mapping]]
name = "backend-jwt"
attribute_mappings = [
  { user_attribute_name = "sub", jwt_claim_name = "sub", subject = true },
  { user_attribute_name = "email", jwt_claim_name = "email", subject = true },
  { user_attribute_name = "a..b", jwt_claim_name = "iss" },
]
exclusion_list_attributes = ["x"]
client_certificate_jwt_claim_name = "exp"
max_depth = 0
lifetime_seconds = 0
[[identity_mapping]]
name = "dup"
audience = "a"
map_as_bearer_token = true
header_name = "X-Ignored"
[[identity_mapping]]
name = "dup"
audience = ""
header_name = "Bad Header"
[[application]]
name = "orders"
context_root = "orders"
backend = "ftp://127.0.0.1"
session = "web"
identity_mapping = "nope"
[[application]]
name = "orders2"
context_root = "/shop/"
backend = "http://127.0.0.1:8080"
session = "api"
[[application]]
name = "orders3"
context_root = "/shop"
backend = "not a url"
session = "none"
[[application]]
name = "jwks"
context_root = "/pa/authtoken"
backend = "http://127.0.0.1:8080"
session = "none"
"#;
        let config = parse(text, &dir.0).unwrap();
        let m = messages(&config);
        for expected in [
            "listen: http \"localhost\" is not an IP address and port (e.g. 127.0.0.1:3000): invalid socket address syntax",
            "listen: tls_cert \"not-a-cert.pem\" holds no PEM CERTIFICATE block",
            "listen: tls_key is required when https is set",
            "auth_token: signing_algorithm \"HS256\" is not supported (use one of ES256, ES384, ES512, RS256, PS256, EdDSA)",
            "auth_token: key_roll_interval_hours must be at least 1",
            "identity_mapping \"backend-jwt\": audience is required",
            "identity_mapping \"backend-jwt\": header_name is required when map_as_bearer_token = false",
            "identity_mapping \"backend-jwt\": exclusion_list_attributes has no effect when exclusion_list = false",
            "identity_mapping \"backend-jwt\": attribute_mappings user_attribute_name \"a..b\" has an empty segment (write a literal dot inside a name as \"/.\")",
            "identity_mapping \"backend-jwt\": attribute_mappings marks 2 attributes as subject (\"sub\", \"email\"); at most one may be",
            "identity_mapping \"backend-jwt\": lifetime_seconds must be at least 1",
            "identity_mapping \"backend-jwt\": client_certificate_jwt_claim_name \"exp\" is a registered claim, which the gateway sets",
            "identity_mapping \"backend-jwt\": max_depth must be at least 1",
            "identity_mapping \"dup\": the name is used by 2 [[identity_mapping]] entries",
            "identity_mapping \"dup\": header_name has no effect when map_as_bearer_token = true (the JWT goes in Authorization)",
            "identity_mapping \"dup\": audience must not be empty",
            "identity_mapping \"dup\": header_name \"Bad Header\" is not a valid HTTP header name",
            "application \"orders\": context_root \"orders\" must start with '/'",
            "application \"orders\": backend \"ftp://127.0.0.1\" is not an http(s) URL: the scheme is \"ftp\"",
            "application \"orders\": session = \"web\" needs a [web_session] section",
            "application \"orders\": identity_mapping \"nope\" is not defined",
            "application \"orders3\": context_root \"/shop\" is also the context root of application \"orders2\"",
            "application \"orders3\": backend \"not a url\" is not an http(s) URL: relative URL without a base",
            "application \"jwks\": context_root \"/pa/authtoken\" is reserved for the gateway's own endpoints (/pa/…)",
        ] {
            assert_has(&m, expected);
        }
        assert!(
            m.iter()
                .any(|s| s.starts_with("api_session: jwks \"nope.json\" cannot be read: ")),
            "{m:#?}"
        );
        assert!(
            m.iter().any(|s| s
                .starts_with("auth_token: keyset_file \"missing-dir/keys.json\": directory ")
                && s.ends_with("does not exist")),
            "{m:#?}"
        );
    }

    #[test]
    fn https_needs_readable_pem_files_and_client_ca_only_with_https() {
        let dir = Dir::new("tls");
        dir.write(
            "cert.pem",
            "-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----\n",
        );
        dir.write(
            "key.pem",
            "-----BEGIN EC PRIVATE KEY-----\nMII=\n-----END EC PRIVATE KEY-----\n",
        );
        let ok = "[listen]\nhttps = \"127.0.0.1:3443\"\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\nclient_ca = \"cert.pem\"\n";
        assert_eq!(messages(&parse(ok, &dir.0).unwrap()), Vec::<String>::new());
        let swapped = "[listen]\nhttps = \"127.0.0.1:3443\"\ntls_cert = \"key.pem\"\ntls_key = \"cert.pem\"\nclient_ca = \"gone.pem\"\n";
        let m = messages(&parse(swapped, &dir.0).unwrap());
        assert_has(
            &m,
            "listen: tls_cert \"key.pem\" holds no PEM CERTIFICATE block",
        );
        assert_has(
            &m,
            "listen: tls_key \"cert.pem\" holds no PEM PRIVATE KEY block",
        );
        assert!(
            m.iter()
                .any(|s| s.starts_with("listen: client_ca \"gone.pem\" cannot be read")),
            "{m:#?}"
        );
        let plain = "[listen]\nhttp = \"127.0.0.1:3000\"\nclient_ca = \"cert.pem\"\n";
        let m = messages(&parse(plain, &dir.0).unwrap());
        assert_eq!(m, ["listen: client_ca has no effect without https"]);
        let same = "[listen]\nhttp = \"127.0.0.1:3000\"\nhttps = \"127.0.0.1:3000\"\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n";
        let m = messages(&parse(same, &dir.0).unwrap());
        assert_eq!(m, ["listen: http and https are both 127.0.0.1:3000"]);
        let none = messages(&parse("", &dir.0).unwrap());
        assert_eq!(
            none,
            ["listen: neither http nor https is set: the gateway would listen nowhere"]
        );
    }

    #[test]
    fn api_session_jwks_must_be_a_public_jwk_set_or_an_http_url() {
        let dir = Dir::new("jwks");
        dir.write("bad.json", "{\"keys\": 3}");
        dir.write("empty.json", "{\"keys\": []}");
        let base = "[listen]\nhttp = \"127.0.0.1:3000\"\n[api_session]\nissuer = \"https://idp\"\naudience = \"gw\"\n";
        let with =
            |jwks: &str| messages(&parse(&format!("{base}jwks = \"{jwks}\"\n"), &dir.0).unwrap());
        assert!(with("https://idp/jwks").is_empty());
        assert_eq!(
            with("bad.json"),
            ["api_session: jwks \"bad.json\" is not a usable JWK Set: key is not usable: JWK Set has no \"keys\" array"]
        );
        assert_eq!(
            with("empty.json"),
            ["api_session: jwks \"empty.json\" is not a usable JWK Set: it holds no usable signature key"]
        );
        assert_eq!(
            with("ftp://idp/jwks"),
            ["api_session: jwks \"ftp://idp/jwks\" is not an http(s) URL: the scheme is \"ftp\""]
        );
    }

    #[test]
    fn web_session_fields_are_checked() {
        let text = "[listen]\nhttp = \"127.0.0.1:3000\"\n[web_session]\nissuer = \"idp.example\"\nclient_id = \"\"\nclient_secret = \"\"\nscopes = [\"profile\"]\ncookie_name = \"a b\"\nidle_timeout_minutes = 500\nsession_timeout_minutes = 0\nredirect_uri = \"/pa/oidc/cb\"\n";
        let m = messages(&parse(text, Path::new(".")).unwrap());
        for expected in [
            "web_session: issuer \"idp.example\" is not an http(s) URL: relative URL without a base",
            "web_session: client_id must not be empty",
            "web_session: client_secret must not be empty",
            "web_session: scopes must include \"openid\" (an OIDC login)",
            "web_session: cookie_name \"a b\" is not a valid cookie name",
            "web_session: session_timeout_minutes must be at least 1",
            "web_session: idle_timeout_minutes (500) is longer than session_timeout_minutes (0)",
            "web_session: redirect_uri \"/pa/oidc/cb\" is not an http(s) URL: relative URL without a base",
        ] {
            assert_has(&m, expected);
        }
        assert_eq!(m.len(), 8, "{m:#?}");
    }

    #[test]
    fn lifetime_longer_than_the_roll_interval_is_refused() {
        let text = "[listen]\nhttp = \"127.0.0.1:3000\"\n[auth_token]\nkey_roll_interval_hours = 1\n[[identity_mapping]]\nname = \"m\"\naudience = \"a\"\nmap_as_bearer_token = true\nlifetime_seconds = 3601\n";
        let m = messages(&parse(text, Path::new(".")).unwrap());
        assert_eq!(m, ["identity_mapping \"m\": lifetime_seconds 3601 is longer than auth_token.key_roll_interval_hours (1 h): tokens would outlive their key in the JWKS"]);
        let text = text.replace(
            "key_roll_interval_hours = 1",
            "key_roll_interval_seconds = 60",
        );
        let config = crate::config::parse(&text, std::path::Path::new(".")).unwrap();
        assert_eq!(
            config.auth_token.roll_interval(),
            Some(std::time::Duration::from_secs(60))
        );
        let m: Vec<String> = check(&config)
            .iter()
            .map(ToString::to_string)
            .filter(|p| p.contains("lifetime_seconds"))
            .collect();
        assert_eq!(m, ["identity_mapping \"m\": lifetime_seconds 3601 is longer than auth_token.key_roll_interval_seconds (60 s): tokens would outlive their key in the JWKS"]);
        let zero = text.replace(
            "key_roll_interval_seconds = 60",
            "key_roll_interval_seconds = 0",
        );
        let config = crate::config::parse(&zero, std::path::Path::new(".")).unwrap();
        assert!(check(&config).iter().any(|p| p
            .to_string()
            .contains("key_roll_interval_seconds must be at least 1")));
    }

    #[test]
    fn keyset_file_is_inspected_when_present() {
        let dir = Dir::new("keyset");
        dir.write("gateway-keys.json", "{\"keys\": [{\"kty\": \"EC\"}]}");
        let text = "[listen]\nhttp = \"127.0.0.1:3000\"\n";
        let m = messages(&parse(text, &dir.0).unwrap());
        assert_eq!(m.len(), 1, "{m:#?}");
        assert!(
            m[0].starts_with("auth_token: keyset_file \"gateway-keys.json\": "),
            "{m:#?}"
        );
        assert!(m[0].contains("not_before"), "{m:#?}");
    }

    #[test]
    fn duplicate_application_names_and_root_slash_are_handled() {
        let text = "[listen]\nhttp = \"127.0.0.1:3000\"\n[[application]]\nname = \"a\"\ncontext_root = \"/\"\nbackend = \"http://x\"\nsession = \"none\"\n[[application]]\nname = \"a\"\ncontext_root = \"/b\"\nbackend = \"https://x:8443/base\"\nsession = \"none\"\n";
        let m = messages(&parse(text, Path::new(".")).unwrap());
        assert_eq!(
            m,
            ["application \"a\": the name is used by 2 [[application]] entries"]
        );
    }
}
