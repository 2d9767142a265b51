//! A checked configuration compiled into a routing table: the applications by context root,
//! their backends, sessions and identity mappings, the upstream verifier, the JWT cache.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hyper::header::{self, HeaderName, HeaderValue};
use hyper::Uri;

use crate::config::{Config, Session};
use crate::http::path::PathRules;
use crate::identity_mapping::Mapping;
use crate::jwks_source::KeySource;
use crate::jwt_cache::JwtCache;
use crate::rules::{parse_networks, RuleError, RuleSet};
use crate::session::web::WebRuntime;
use crate::token::TokenProfile;
use crate::token_cache::TokenCache;
use crate::upstream::transport::client_config;
use crate::upstream::{BackendTls, Upstream};
use ipnet::IpNet;

/// Why a configuration cannot become a routing table.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(
        "application {app:?}: backend {backend:?} is not an http:// or https:// URL with a host"
    )]
    Backend { app: String, backend: String },
    #[error("application {app:?}: {message}")]
    BackendTls { app: String, message: String },
    #[error("application {app:?}: identity_mapping {mapping:?} is not defined")]
    UnknownMapping { app: String, mapping: String },
    #[error("identity_mapping {mapping:?}: {message}")]
    Mapping { mapping: String, message: String },
    #[error("application {app:?}: session web needs [web_session] and its provider's discovery")]
    NoWebSession { app: String },
    #[error("application {app:?}: session api needs [api_session] and its JWK Set")]
    NoApiSession { app: String },
    #[error("{0}")]
    Rules(String),
}

/// One identity mapping, compiled.
pub struct MappingRuntime {
    pub mapping: Mapping,
    pub profile: TokenProfile,
    pub header: HeaderName,
    pub bearer: bool,
    pub cache: bool,
}

/// One application, ready to route.
pub struct Route {
    pub name: String,
    pub context_root: String,
    pub scheme: hyper::http::uri::Scheme,
    pub authority: hyper::http::uri::Authority,
    /// The authority as the backend's `Host`.
    pub host: HeaderValue,
    /// How to reach the backend (plain or TLS), and its pool key.
    pub upstream: Upstream,
    /// `upgrade_idle_timeout_seconds`.
    pub upgrade_idle: Duration,
    /// `backend_protocol`.
    pub protocol: crate::config::BackendProtocol,
    pub session: Session,
    pub mapping: Option<Arc<MappingRuntime>>,
    pub timeout: Duration,
    /// `case_sensitive_path`: the context root matches only in the same case.
    pub case_sensitive: bool,
    /// Indexes into [`Routes::rules`] of the application's `rules`, in order.
    pub rules: Vec<usize>,
}

/// The upstream issuer's verifier for `api` sessions.
pub struct ApiVerifier {
    /// The issuer's keys, fetched again on an unknown `kid`.
    pub keys: KeySource,
    pub validation: jose::Validation,
    /// Tokens already verified with the current keys (cleared when the keys change).
    pub tokens: TokenCache,
}

impl ApiVerifier {
    pub fn new(keys: KeySource, validation: jose::Validation) -> ApiVerifier {
        ApiVerifier {
            keys,
            validation,
            tokens: TokenCache::new(10_000),
        }
    }

    /// The current verifier.
    pub fn verifier(&self) -> Arc<jose::Verifier> {
        self.keys.verifier()
    }

    /// Changes each time the keys are replaced: a token verified under another generation must
    /// be verified again.
    pub fn generation(&self) -> u64 {
        self.keys.generation()
    }

    /// Replaces the upstream keys (a JWK Set URL re-fetched).
    pub fn set_keys(&self, keys: jose::KeySet) {
        self.keys.set_keys(keys);
        // Entries of the old verifier would miss anyway; free them now.
        self.tokens.clear();
    }
}

/// Everything a configuration decides; swapped as a whole on reload.
pub struct Routes {
    pub routes: Vec<Route>,
    /// `[http]`'s path rules.
    pub path_rules: PathRules,
    /// `[http] underscores_in_headers`.
    pub underscores_in_headers: bool,
    /// Every identity-mapping header except `Authorization`: a client's copy is dropped on
    /// every application.
    pub identity_headers: Vec<HeaderName>,
    pub api: Option<ApiVerifier>,
    pub web: Option<WebRuntime>,
    pub cache: JwtCache,
    /// The `[[rule]]`s (with their rate-limit buckets: a reload starts them afresh).
    pub rules: RuleSet,
    /// `[http] trusted_proxies`.
    pub trusted_proxies: Vec<IpNet>,
    /// `[web_session] cookie_name`: the gateway's cookies, removed before the backend.
    pub web_cookie: Option<String>,
}

impl Routes {
    /// Compiles a checked configuration. `upstream_keys` is the `[api_session]` JWK Set (and its
    /// URL, when it is fetched); `web`
    /// the `[web_session]` provider (discovered) when a `web` application needs it.
    pub fn build(
        config: &Config,
        upstream_keys: Option<(jose::KeySet, Option<String>)>,
        web: Option<WebRuntime>,
    ) -> Result<Routes, BuildError> {
        Routes::compile(config, upstream_keys, web, true)
    }

    /// A routing table without the sessions' network parts (`signet gateway explain`): `web`
    /// applications route without a discovered provider, `api` ones without a JWK Set when it is
    /// a URL.
    pub fn build_offline(
        config: &Config,
        upstream_keys: Option<(jose::KeySet, Option<String>)>,
    ) -> Result<Routes, BuildError> {
        Routes::compile(config, upstream_keys, None, false)
    }

    fn compile(
        config: &Config,
        upstream_keys: Option<(jose::KeySet, Option<String>)>,
        web: Option<WebRuntime>,
        require_sessions: bool,
    ) -> Result<Routes, BuildError> {
        let mut mappings: BTreeMap<&str, Arc<MappingRuntime>> = BTreeMap::new();
        for m in &config.identity_mappings {
            let err = |message: String| BuildError::Mapping {
                mapping: m.name.clone(),
                message,
            };
            let mapping = Mapping::compile(m).map_err(|errors| {
                err(errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "))
            })?;
            let profile =
                TokenProfile::from_config(&config.auth_token, m).map_err(|e| err(e.to_string()))?;
            let header = if m.map_as_bearer_token {
                header::AUTHORIZATION
            } else {
                let name = m.header_name.as_deref().unwrap_or("");
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| err(format!("header_name {name:?} is not a header name")))?
            };
            mappings.insert(
                &m.name,
                Arc::new(MappingRuntime {
                    mapping,
                    profile,
                    header,
                    bearer: m.map_as_bearer_token,
                    cache: m.cache_jwt,
                }),
            );
        }
        let api = match (&config.api_session, upstream_keys) {
            (Some(s), Some((keys, url))) => Some(ApiVerifier::new(
                KeySource::new(
                    keys,
                    url,
                    Duration::from_secs(s.jwks_refetch_min_interval_seconds),
                ),
                jose::Validation {
                    issuers: vec![s.issuer.clone()],
                    audiences: vec![s.audience.clone()],
                    ..jose::Validation::default()
                },
            )),
            _ => None,
        };
        let joined = |errors: Vec<RuleError>| {
            BuildError::Rules(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        };
        let rules = RuleSet::compile(&config.rules).map_err(joined)?;
        let trusted_proxies = parse_networks(&config.http.trusted_proxies)
            .map_err(|e| BuildError::Rules(format!("http: trusted_proxies: {e}")))?;
        let mut routes = Vec::new();
        for app in &config.applications {
            let app_rules = rules
                .resolve(&app.rules, &format!("application {:?}", app.name))
                .map_err(joined)?;
            let bad_backend = || BuildError::Backend {
                app: app.name.clone(),
                backend: app.backend.clone(),
            };
            let (scheme, authority) = backend_base(&app.backend).ok_or_else(bad_backend)?;
            let host = HeaderValue::from_str(authority.as_str()).map_err(|_| bad_backend())?;
            let tls = if scheme == hyper::http::uri::Scheme::HTTPS {
                Some(backend_tls(config, app, &authority).map_err(|message| {
                    BuildError::BackendTls {
                        app: app.name.clone(),
                        message,
                    }
                })?)
            } else {
                None
            };
            let address = connect_address(&scheme, &authority);
            let upstream = Upstream {
                key: if tls.is_some() {
                    format!("{address}#{}", app.name)
                } else {
                    address.clone()
                },
                authority: address,
                tls,
            };
            match app.session {
                _ if !require_sessions => {}
                Session::Web if web.is_none() => {
                    return Err(BuildError::NoWebSession {
                        app: app.name.clone(),
                    })
                }
                Session::Api if api.is_none() => {
                    return Err(BuildError::NoApiSession {
                        app: app.name.clone(),
                    })
                }
                _ => {}
            }
            let mapping = match &app.identity_mapping {
                Some(name) => Some(mappings.get(name.as_str()).cloned().ok_or_else(|| {
                    BuildError::UnknownMapping {
                        app: app.name.clone(),
                        mapping: name.clone(),
                    }
                })?),
                _ => None,
            };
            routes.push(Route {
                name: app.name.clone(),
                context_root: app.context_root.clone(),
                scheme,
                authority,
                host,
                upstream,
                upgrade_idle: Duration::from_secs(app.upgrade_idle_timeout_seconds.max(1)),
                protocol: app.backend_protocol,
                session: app.session,
                mapping,
                timeout: Duration::from_secs(app.timeout_seconds.max(1)),
                case_sensitive: app.case_sensitive_path,
                rules: app_rules,
            });
        }
        let mut identity_headers: Vec<HeaderName> = Vec::new();
        for m in mappings.values().filter(|m| !m.bearer) {
            if !identity_headers.contains(&m.header) {
                identity_headers.push(m.header.clone());
            }
        }
        Ok(Routes {
            routes,
            path_rules: config.http.path_rules(),
            underscores_in_headers: config.http.underscores_in_headers,
            identity_headers,
            api,
            web,
            cache: JwtCache::new(10_000),
            rules,
            trusted_proxies,
            web_cookie: config.web_session.as_ref().map(|w| w.cookie_name.clone()),
        })
    }

    /// The application whose context root is the longest prefix of `path` (a canonical path,
    /// [`path::canonicalize`]).
    pub fn route(&self, path: &str) -> Option<&Route> {
        self.route_index(path).and_then(|i| self.routes.get(i))
    }

    /// The position in `routes` of [`Routes::route`]'s application. Of two roots of the same
    /// length, a case-sensitive exact match wins over a case-insensitive one.
    pub fn route_index(&self, path: &str) -> Option<usize> {
        self.routes
            .iter()
            .enumerate()
            .filter(|(_, r)| root_matches(&r.context_root, path, r.case_sensitive))
            .max_by_key(|(_, r)| (r.context_root.trim_end_matches('/').len(), r.case_sensitive))
            .map(|(i, _)| i)
    }
}

/// The scheme and authority of a backend URL (`http://host:port`); its path is ignored because
/// the request path is forwarded unchanged.
pub fn backend_base(
    backend: &str,
) -> Option<(hyper::http::uri::Scheme, hyper::http::uri::Authority)> {
    let uri: Uri = backend.parse().ok()?;
    let scheme = uri.scheme()?.clone();
    if scheme != hyper::http::uri::Scheme::HTTP && scheme != hyper::http::uri::Scheme::HTTPS {
        return None;
    }
    let authority = uri.authority()?.clone();
    (!authority.host().is_empty() && !authority.as_str().contains('@'))
        .then_some((scheme, authority))
}

/// Where to connect: the authority's host and port, the port by scheme when absent.
fn connect_address(
    scheme: &hyper::http::uri::Scheme,
    authority: &hyper::http::uri::Authority,
) -> String {
    let port = authority
        .port_u16()
        .unwrap_or(if *scheme == hyper::http::uri::Scheme::HTTPS {
            443
        } else {
            80
        });
    format!("{}:{port}", authority.host())
}

/// The TLS side of an `https` application: its CA or the system's, its server name, and its
/// client certificate; files are relative to the configuration's directory.
pub(crate) fn backend_tls(
    config: &Config,
    app: &crate::config::Application,
    authority: &hyper::http::uri::Authority,
) -> Result<BackendTls, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let certs = |field: &str, path: &str| -> Result<Vec<CertificateDer<'static>>, String> {
        let full = config.resolve(path);
        let certs = CertificateDer::pem_file_iter(&full)
            .and_then(|i| i.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("{field} {}: {e}", full.display()))?;
        if certs.is_empty() {
            return Err(format!("{field} {}: holds no certificate", full.display()));
        }
        Ok(certs)
    };
    let ca = app
        .backend_ca
        .as_deref()
        .map(|p| certs("backend_ca", p))
        .transpose()?;
    let client = match (&app.backend_client_cert, &app.backend_client_key) {
        (Some(cert), Some(key)) => {
            let full = config.resolve(key);
            let key = PrivateKeyDer::from_pem_file(&full)
                .map_err(|e| format!("backend_client_key {}: {e}", full.display()))?;
            Some((certs("backend_client_cert", cert)?, key))
        }
        (None, None) => None,
        _ => return Err("backend_client_cert and backend_client_key go together".into()),
    };
    let name = app.backend_tls_server_name.clone().unwrap_or_else(|| {
        authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned()
    });
    let server_name = ServerName::try_from(name.clone())
        .map_err(|_| format!("backend_tls_server_name {name:?} is not a DNS name or IP address"))?;
    let h2 = app.backend_protocol == crate::config::BackendProtocol::H2;
    let client_config = client_config(ca, client, h2)?;
    Ok(BackendTls {
        connector: tokio_rustls::TlsConnector::from(Arc::new(client_config)),
        server_name,
    })
}

/// Whether `path` is under the context root: equal to it, or continuing with `/`; in any ASCII
/// case unless `case_sensitive`.
pub fn root_matches(root: &str, path: &str, case_sensitive: bool) -> bool {
    let root = root.trim_end_matches('/');
    let (Some(head), Some(rest)) = (path.get(..root.len()), path.get(root.len()..)) else {
        return false;
    };
    let same = if case_sensitive {
        head == root
    } else {
        head.eq_ignore_ascii_case(root)
    };
    same && (rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn context_roots_match_on_segment_boundaries() {
        for cs in [true, false] {
            assert!(root_matches("/orders", "/orders", cs));
            assert!(root_matches("/orders", "/orders/1", cs));
            assert!(root_matches("/orders/", "/orders/1", cs));
            assert!(!root_matches("/orders", "/ordersx", cs));
            assert!(root_matches("/", "/anything", cs));
            assert!(!root_matches("/a", "/", cs));
        }
        assert!(root_matches("/admin", "/ADMIN/x", false));
        assert!(root_matches("/Admin", "/aDmIn", false));
        assert!(!root_matches("/admin", "/ADMIN/x", true));
        assert!(!root_matches("/é", "/É", false));
    }

    #[test]
    fn backends_must_be_http_or_https_urls() {
        assert!(backend_base("http://127.0.0.1:8080").is_some());
        assert!(backend_base("https://x").is_some());
        assert!(backend_base("ftp://x").is_none());
        assert!(backend_base("http://user@x").is_none());
        assert!(backend_base("not a url").is_none());
        let (scheme, authority) = backend_base("https://backend.example").unwrap();
        assert_eq!(connect_address(&scheme, &authority), "backend.example:443");
        let (scheme, authority) = backend_base("http://[::1]").unwrap();
        assert_eq!(connect_address(&scheme, &authority), "[::1]:80");
    }
}
