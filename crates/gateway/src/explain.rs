//! `signet gateway explain`: what the gateway would do with one request, without a backend and
//! without the network. The same functions as the request path decide: the request checks and
//! path canonicalization ([`crate::http::request::prepare`]), routing, the `api` token check
//! (with the JWK Set file; a JWK Set URL is not fetched, so the signature is then reported as not
//! checked), the rules (rate limits looked at, not charged), the identity mapping and token
//! builder (signed with the keyset file's active key, read and never written), and the one rule
//! set for the backend's fields ([`crate::http::headers::outgoing`]).

use std::net::IpAddr;

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Uri};

pub use hyper::Method;
use serde_json::{json, Map, Value};

use crate::config::{BackendProtocol, Config, Session};
use crate::http::headers::{outgoing_h2, outgoing_map, Outgoing};
use crate::http::request;
use crate::identity;
use crate::keyset::Keyset;
use crate::metrics::MetricsShard;
use crate::routes::Routes;
use crate::rules::{client_address, Decision, Input, Step};
use crate::session::cookie;

/// The request to explain.
#[derive(Debug, Clone)]
pub struct ExplainRequest {
    pub method: Method,
    /// An absolute URL (`http://gateway.example/app/x`): its scheme is how the client reaches
    /// the gateway, its authority the client's `Host`.
    pub url: String,
    /// An `api` session's bearer token (sent as `Authorization: Bearer`, the first field).
    pub token: Option<String>,
    /// The session's attributes, instead of a token (for `web` sessions, or to skip the token).
    pub attributes: Option<Map<String, Value>>,
    /// The client certificate chain (DER, leaf first).
    pub client_chain: Vec<Vec<u8>>,
    pub client_ip: IpAddr,
    /// More request header fields, in order.
    pub headers: Vec<(String, String)>,
}

/// Why a request cannot be explained (its input, not the gateway's decision).
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Config(String),
}

/// What the gateway would do.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The JSON report (`--json`), also the source of the text one.
    pub report: Value,
    /// Whether the request would reach the backend.
    pub forwarded: bool,
}

fn input(m: impl Into<String>) -> ExplainError {
    ExplainError::Input(m.into())
}

/// Explains `req` against a checked configuration at `now`.
pub fn explain(
    config: &Config,
    keyset: Option<&Keyset>,
    req: &ExplainRequest,
    now: i64,
) -> Result<Explanation, ExplainError> {
    let upstream = api_keys(config)?;
    let routes =
        Routes::build_offline(config, upstream).map_err(|e| ExplainError::Config(e.to_string()))?;
    let uri: Uri = req
        .url
        .parse()
        .map_err(|e| input(format!("URL {:?}: {e}", req.url)))?;
    let proto = match uri.scheme_str() {
        Some("https") => "https",
        Some("http") => "http",
        _ => {
            return Err(input(format!(
                "URL {:?} must start with http:// or https://",
                req.url
            )))
        }
    };
    if uri.authority().is_none() {
        return Err(input(format!("URL {:?} has no host", req.url)));
    }
    let mut http = Request::new(());
    *http.method_mut() = req.method.clone();
    *http.uri_mut() = uri.clone();
    if let Some(token) = &req.token {
        let value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| input("the token is not a valid header value"))?;
        http.headers_mut().insert(header::AUTHORIZATION, value);
    }
    for (name, value) in &req.headers {
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| input(format!("header name {name:?} is not valid")))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| input(format!("the value of header {name} is not valid")))?;
        http.headers_mut().append(name, value);
    }
    let mut report = Map::new();
    let refuse = |mut report: Map<String, Value>, status: u16, reason: String| {
        report.insert("result".into(), json!({"status": status, "reason": reason}));
        Explanation {
            report: Value::Object(report),
            forwarded: false,
        }
    };
    let rules = request::Rules {
        path: &routes.path_rules,
        identity_headers: &routes.identity_headers,
        underscores_in_headers: routes.underscores_in_headers,
    };
    let prepared = match request::prepare(&mut http, &rules) {
        Ok(p) => p,
        Err(refused) => {
            let f = refused.failure;
            return Ok(refuse(report, f.status().as_u16(), f.message()));
        }
    };
    let path = http.uri().path().to_owned();
    let route_path = prepared.route_path.unwrap_or_else(|| path.clone());
    let Some(route) = routes.route(&route_path) else {
        return Ok(refuse(
            report,
            404,
            "no application serves this path".into(),
        ));
    };
    let target = http
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    report.insert(
        "route".into(),
        json!({
            "application": route.name,
            "context_root": route.context_root,
            "backend": format!("{}://{}", route.scheme, route.authority),
            "backend_protocol": match route.protocol {
                BackendProtocol::Http1 => "http1",
                BackendProtocol::H2 => "h2",
                BackendProtocol::H2c => "h2c",
            },
        }),
    );

    // The session's attributes.
    let mut session = Map::new();
    let attrs: Option<Map<String, Value>> = match (route.session, &req.attributes) {
        (Session::None, _) => {
            session.insert("kind".into(), json!("none"));
            None
        }
        (kind, Some(attrs)) => {
            session.insert("kind".into(), json!(session_name(kind)));
            session.insert("source".into(), json!("--attributes"));
            Some(attrs.clone())
        }
        (Session::Web, None) => {
            session.insert("kind".into(), json!("web"));
            report.insert("session".into(), Value::Object(session));
            return Ok(refuse(
                report,
                302,
                "no session: the browser is sent to the provider to log in (give --attributes to explain a logged-in user)".into(),
            ));
        }
        (Session::Api, None) => {
            session.insert("kind".into(), json!("api"));
            let claims = match api_claims(config, &routes, &http, now, &mut session) {
                Ok(c) => c,
                Err(reason) => {
                    report.insert("session".into(), Value::Object(session));
                    return Ok(refuse(report, 401, reason));
                }
            };
            Some(claims)
        }
    };
    if let Some(a) = &attrs {
        session.insert("attributes".into(), Value::Object(a.clone()));
    }
    report.insert("session".into(), Value::Object(session));

    // The rules.
    let client = client_address(req.client_ip, http.headers(), &routes.trusted_proxies);
    let verdict = routes.rules.evaluate(
        &route.rules,
        &Input {
            attrs: attrs.as_ref(),
            client,
            method: http.method(),
            path: &route_path,
            case_sensitive: route.case_sensitive,
            now: std::time::Instant::now(),
        },
        false,
    );
    report.insert(
        "rules".into(),
        Value::Array(verdict.steps.iter().map(step_json).collect()),
    );
    if let Some(denial) = verdict.denial {
        if route.session == Session::Web && denial.decision == Decision::Deny {
            if let Some(url) = &denial.rejection_redirect {
                return Ok(refuse(
                    report,
                    302,
                    format!(
                        "rule {:?} denied the request: redirected to {url}",
                        denial.rule
                    ),
                ));
            }
        }
        let f = denial.failure();
        return Ok(refuse(report, f.status().as_u16(), f.message()));
    }

    // The mapped JWT.
    let mut mapped = None;
    if let (Some(m), Some(attrs)) = (&route.mapping, &attrs) {
        let keyset = keyset.ok_or_else(|| {
            ExplainError::Config(format!(
                "keyset_file {} does not exist yet: start the gateway once (it creates the keys), then explain",
                config.resolve(&config.auth_token.keyset_file).display()
            ))
        })?;
        let cache = crate::JwtCache::new(1);
        let jwt = identity::mapped_jwt(
            &cache,
            m,
            attrs,
            &req.client_chain,
            keyset,
            now,
            &MetricsShard::default(),
        )
        .map_err(|e| ExplainError::Config(format!("the backend JWT cannot be signed: {e}")))?;
        let value = identity::mapped_value(m, &jwt);
        report.insert("backend_jwt".into(), jwt_json(&jwt, m.header.as_str()));
        mapped = value;
    }

    // The backend's request.
    let mut headers: HeaderMap = http.headers().clone();
    if let Some(name) = &routes.web_cookie {
        cookie::remove_gateway_cookies(&mut headers, name);
    }
    let client_ip = HeaderValue::from_str(&req.client_ip.to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
    let out = Outgoing {
        authority: &route.host,
        client_ip: &client_ip,
        proto,
        mapped_header: route.mapping.as_deref().map(|m| &m.header),
        mapped: mapped.as_ref(),
        forwarded: None,
    };
    let fields = match route.protocol {
        BackendProtocol::Http1 => outgoing_map(&headers, &out),
        _ => outgoing_h2(&headers, &out),
    };
    let fields: Vec<Value> = fields
        .iter()
        .map(|(n, v)| json!([n.as_str(), String::from_utf8_lossy(v.as_bytes())]))
        .collect();
    report.insert(
        "backend_request".into(),
        json!({
            "method": http.method().as_str(),
            "target": target,
            "headers": fields,
        }),
    );
    report.insert(
        "result".into(),
        json!({"status": null, "reason": "forwarded to the backend (its answer is the client's)"}),
    );
    Ok(Explanation {
        report: Value::Object(report),
        forwarded: true,
    })
}

fn session_name(kind: Session) -> &'static str {
    match kind {
        Session::Api => "api",
        Session::Web => "web",
        Session::None => "none",
    }
}

/// The `[api_session]` JWK Set when it is a file (a URL is not fetched).
fn api_keys(config: &Config) -> Result<Option<(jose::KeySet, Option<String>)>, ExplainError> {
    let Some(api) = &config.api_session else {
        return Ok(None);
    };
    if api.jwks.starts_with("http://") || api.jwks.starts_with("https://") {
        return Ok(None);
    }
    let path = config.resolve(&api.jwks);
    let shown = path.display().to_string();
    let bytes = std::fs::read(&path)
        .map_err(|e| ExplainError::Config(format!("api_session jwks {shown}: {e}")))?;
    let keys = crate::fetch::parse_jwks(&bytes, &shown)
        .map_err(|e| ExplainError::Config(e.to_string()))?;
    Ok(Some((keys, None)))
}

/// The bearer token's claims, verified with the JWK Set file, or (a JWK Set URL) only decoded
/// and validated; Err with the 401's reason.
fn api_claims(
    config: &Config,
    routes: &Routes,
    http: &Request<()>,
    now: i64,
    session: &mut Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    let token = crate::http::headers::bearer_token(http.headers())
        .ok_or_else(|| "a bearer token is required".to_owned())?;
    if let Some(api) = &routes.api {
        let validation = jose::Validation {
            now: Some(now),
            ..api.validation.clone()
        };
        let jwt = api
            .verifier()
            .verify_jwt(token, &validation)
            .map_err(|e| format!("the bearer token is not valid: {e}"))?;
        session.insert(
            "signature".into(),
            json!("verified with the api_session jwks file"),
        );
        return Ok(jwt.claims);
    }
    let invalid = |e: String| format!("the bearer token is not valid: {e}");
    let decoded = jose::jws::decode(token).map_err(|e| invalid(e.to_string()))?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&decoded.payload).map_err(|e| invalid(e.to_string()))?;
    if let Some(api) = &config.api_session {
        let validation = jose::Validation {
            now: Some(now),
            issuers: vec![api.issuer.clone()],
            audiences: vec![api.audience.clone()],
            ..jose::Validation::default()
        };
        jose::jwt::validate(&decoded.header, &claims, &validation)
            .map_err(|e| invalid(e.to_string()))?;
    }
    session.insert(
        "signature".into(),
        json!("not checked: the api_session jwks is a URL and explain makes no network calls"),
    );
    Ok(claims)
}

fn step_json(s: &Step) -> Value {
    json!({
        "rule": &*s.rule,
        "depth": s.depth,
        "decision": s.decision.label(),
        "detail": s.detail,
    })
}

/// A JWT's decoded header and claims.
fn jwt_json(jwt: &str, header_name: &str) -> Value {
    let decoded = jose::jws::decode(jwt).ok();
    let claims = decoded
        .as_ref()
        .and_then(|d| serde_json::from_slice::<Value>(&d.payload).ok())
        .unwrap_or(Value::Null);
    json!({
        "header_field": header_name,
        "header": decoded.map_or(Value::Null, |d| Value::Object(d.header)),
        "claims": claims,
        "token": jwt,
    })
}

/// The report as text, for people.
pub fn render_text(report: &Value) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let get = |k: &str| report.get(k).unwrap_or(&Value::Null);
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    if let Some(route) = get("route").as_object() {
        let _ = writeln!(
            out,
            "route:    application {} (context root {}) -> {} ({})",
            route.get("application").map(text).unwrap_or_default(),
            route.get("context_root").map(text).unwrap_or_default(),
            route.get("backend").map(text).unwrap_or_default(),
            route.get("backend_protocol").map(text).unwrap_or_default(),
        );
    }
    if let Some(s) = get("session").as_object() {
        let _ = write!(
            out,
            "session:  {}",
            s.get("kind").map(text).unwrap_or_default()
        );
        if let Some(sig) = s.get("signature") {
            let _ = write!(out, " (signature {})", text(sig));
        }
        if let Some(src) = s.get("source") {
            let _ = write!(out, " (attributes from {})", text(src));
        }
        out.push('\n');
        if let Some(a) = s.get("attributes") {
            let _ = writeln!(out, "          attributes {a}");
        }
    }
    if let Some(rules) = get("rules").as_array() {
        if rules.is_empty() {
            out.push_str("rules:    none\n");
        } else {
            out.push_str("rules:\n");
        }
        for r in rules {
            let depth = r.get("depth").and_then(Value::as_u64).unwrap_or(0);
            let _ = writeln!(
                out,
                "  {}{:<13} {}: {}",
                "  ".repeat(usize::try_from(depth).unwrap_or(0)),
                r.get("decision").map(text).unwrap_or_default(),
                r.get("rule").map(text).unwrap_or_default(),
                r.get("detail").map(text).unwrap_or_default(),
            );
        }
    }
    if let Some(result) = get("result").as_object() {
        let status = result.get("status").filter(|s| !s.is_null());
        let reason = result.get("reason").map(text).unwrap_or_default();
        match status {
            Some(s) => {
                let _ = writeln!(out, "result:   {s} {reason}");
            }
            None => {
                let _ = writeln!(out, "result:   {reason}");
            }
        }
    }
    if let Some(b) = get("backend_request").as_object() {
        let _ = writeln!(
            out,
            "backend request:\n  {} {}",
            b.get("method").map(text).unwrap_or_default(),
            b.get("target").map(text).unwrap_or_default()
        );
        for h in b
            .get("headers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = h.get(0).map(text).unwrap_or_default();
            let value = h.get(1).map(text).unwrap_or_default();
            let _ = writeln!(out, "  {name}: {value}");
        }
    }
    if let Some(j) = get("backend_jwt").as_object() {
        let _ = writeln!(
            out,
            "backend JWT ({}):\n  header {}\n  claims {}",
            j.get("header_field").map(text).unwrap_or_default(),
            j.get("header").unwrap_or(&Value::Null),
            j.get("claims").unwrap_or(&Value::Null)
        );
    }
    out
}
