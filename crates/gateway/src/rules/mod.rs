//! Access rules, PingAccess-style: `[[rule]]` entries that applications name in `rules`,
//! evaluated after the session and before the backend. Every rule an application names must
//! allow the request, in the order named (a rate limit named after a rule that denies is not
//! charged). Kinds (exactly one per rule):
//! - `attribute` + `equals` | `contains`: a session attribute (dot notation) equals the value,
//!   or (an array) has it as an element, or (a string) has it as a space-separated word;
//! - `network`: the client's address ([`client_address`]) is in one of the CIDR ranges;
//! - `methods` and/or `path_prefix`: the request's method is listed and its (canonical) path is
//!   under the prefix, on whole segments, in the application's case rule;
//! - `rate_limit`: a token bucket per identity (`sub`) or client address ([`rate`]);
//! - `any` / `all`: of other rules, by name (no cycles).
//!
//! `negate = true` turns a rule's decision around (not for rate limits or compositions).
//! A denial is a JSON 403 naming the rule, or a redirect to the rule's `rejection_redirect` for
//! `web` applications; an exhausted rate limit is a 429 with `Retry-After`.

pub mod client;
pub mod rate;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use hyper::Method;
use ipnet::IpNet;
use serde_json::{Map, Value};

use crate::config::{RateBy, Rule as RuleConfig};
use crate::http::respond::Failure;
use crate::identity_mapping::Path;
use crate::metrics::MetricsShard;
use crate::routes::root_matches;
pub use client::client_address;
use rate::{Limiter, Rate, RateKey};

/// Why the rules cannot be used. Messages name the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    #[error("rule {rule:?}: {message}")]
    Invalid { rule: String, message: String },
    #[error("rule {name:?} is not defined (used by {used_by})")]
    Unknown { name: String, used_by: String },
    #[error("rule {rule:?} includes itself through {path}")]
    Cycle { rule: String, path: String },
}

fn invalid(rule: &str, message: impl Into<String>) -> RuleError {
    RuleError::Invalid {
        rule: rule.to_owned(),
        message: message.into(),
    }
}

#[derive(Debug)]
enum Test {
    Attribute {
        path: Path,
        value: Value,
        contains: bool,
    },
    Network(Vec<IpNet>),
    Request {
        methods: Vec<Method>,
        path_prefix: Option<String>,
    },
    RateLimit {
        limiter: Limiter,
        by: RateBy,
    },
    Any(Vec<usize>),
    All(Vec<usize>),
}

#[derive(Debug)]
struct Compiled {
    name: Arc<str>,
    test: Test,
    negate: bool,
    rejection_redirect: Option<String>,
}

/// The compiled `[[rule]]`s of a configuration.
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<Compiled>,
    by_name: HashMap<String, usize>,
}

/// What a request brings to the rules.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The session's attributes (none for `session = "none"`).
    pub attrs: Option<&'a Map<String, Value>>,
    pub client: IpAddr,
    pub method: &'a Method,
    /// The canonical path the request was routed by.
    pub path: &'a str,
    pub case_sensitive: bool,
    pub now: Instant,
}

/// One rule's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
    /// A rate limit is exhausted: retry after this many seconds (at least 1).
    Limited(u64),
}

impl Decision {
    pub fn label(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::Limited(_) => "rate_limited",
        }
    }
}

/// A rule evaluated, for metrics and `explain` (compositions list their parts after them,
/// one level deeper).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub rule: Arc<str>,
    pub depth: usize,
    pub decision: Decision,
    pub detail: String,
}

/// The first of an application's rules that did not allow the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The application's rule (as named in its `rules`).
    pub rule: Arc<str>,
    pub decision: Decision,
    /// Why, naming the rule that decided when it is part of a composition.
    pub reason: String,
    pub rejection_redirect: Option<String>,
}

/// All of an application's rules: the denial, if any, and every step taken.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    pub denial: Option<Denial>,
    pub steps: Vec<Step>,
}

impl Denial {
    /// The JSON answer: 403, or 429 with `Retry-After` for a rate limit.
    pub fn failure(&self) -> Failure {
        match self.decision {
            Decision::Limited(seconds) => Failure::RateLimited {
                rule: self.rule.to_string(),
                retry_after: seconds,
            },
            _ => Failure::Forbidden {
                rule: self.rule.to_string(),
                reason: self.reason.clone(),
            },
        }
    }
}

impl Verdict {
    /// Counts every step's decision in the worker's metrics.
    pub fn record(&self, metrics: &MetricsShard) {
        for step in &self.steps {
            metrics.rule(&step.rule, step.decision.label());
        }
    }
}

impl RuleSet {
    /// Compiles every rule (all problems at once).
    pub fn compile(configs: &[RuleConfig]) -> Result<RuleSet, Vec<RuleError>> {
        let mut errors = Vec::new();
        let mut by_name = HashMap::new();
        for (i, r) in configs.iter().enumerate() {
            if r.name.is_empty() {
                errors.push(invalid("", "name must not be empty"));
            } else if by_name.insert(r.name.clone(), i).is_some() {
                errors.push(invalid(
                    &r.name,
                    "the name is used by more than one [[rule]]",
                ));
            }
        }
        let mut rules = Vec::with_capacity(configs.len());
        for r in configs {
            match compile_one(r, &by_name) {
                Ok(c) => rules.push(c),
                Err(e) => errors.extend(e),
            }
        }
        let set = RuleSet { rules, by_name };
        if errors.is_empty() {
            errors.extend(set.cycles());
        }
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(errors)
        }
    }

    fn cycles(&self) -> Vec<RuleError> {
        fn visit(set: &RuleSet, i: usize, path: &mut Vec<usize>) -> Option<Vec<usize>> {
            if path.contains(&i) {
                path.push(i);
                return Some(path.clone());
            }
            let children = match &set.rules.get(i)?.test {
                Test::Any(c) | Test::All(c) => c,
                _ => return None,
            };
            path.push(i);
            for &c in children {
                if let Some(found) = visit(set, c, path) {
                    return Some(found);
                }
            }
            path.pop();
            None
        }
        let mut out = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if let Some(found) = visit(self, i, &mut Vec::new()) {
                if found.first() == Some(&i) {
                    let names: Vec<&str> = found
                        .iter()
                        .filter_map(|&j| self.rules.get(j).map(|r| &*r.name))
                        .collect();
                    out.push(RuleError::Cycle {
                        rule: rule.name.to_string(),
                        path: names.join(" → "),
                    });
                }
            }
        }
        out
    }

    /// The indexes of the named rules, for an application.
    pub fn resolve(&self, names: &[String], used_by: &str) -> Result<Vec<usize>, Vec<RuleError>> {
        let mut out = Vec::with_capacity(names.len());
        let mut errors = Vec::new();
        for name in names {
            match self.by_name.get(name) {
                Some(&i) => out.push(i),
                None => errors.push(RuleError::Unknown {
                    name: name.clone(),
                    used_by: used_by.to_owned(),
                }),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// The rule's name.
    pub fn name(&self, index: usize) -> Option<&Arc<str>> {
        self.rules.get(index).map(|r| &r.name)
    }

    /// Evaluates an application's rules in order, stopping at the first that does not allow.
    /// `charge = false` (for `explain`) looks at rate limits without taking a token.
    pub fn evaluate(&self, app_rules: &[usize], input: &Input<'_>, charge: bool) -> Verdict {
        let mut verdict = Verdict::default();
        for &i in app_rules {
            let Some(rule) = self.rules.get(i) else {
                continue;
            };
            let (decision, reason) = self.decide(i, input, charge, 0, &mut verdict.steps);
            if decision != Decision::Allow {
                verdict.denial = Some(Denial {
                    rule: rule.name.clone(),
                    decision,
                    reason,
                    rejection_redirect: rule.rejection_redirect.clone(),
                });
                break;
            }
        }
        verdict
    }

    /// One rule's decision and why; its step (and its parts' steps) appended to `steps`.
    fn decide(
        &self,
        i: usize,
        input: &Input<'_>,
        charge: bool,
        depth: usize,
        steps: &mut Vec<Step>,
    ) -> (Decision, String) {
        let Some(rule) = self.rules.get(i) else {
            return (Decision::Deny, "no such rule".into());
        };
        let at = steps.len();
        steps.push(Step {
            rule: rule.name.clone(),
            depth,
            decision: Decision::Deny,
            detail: String::new(),
        });
        let (mut decision, mut detail) = match &rule.test {
            Test::Attribute {
                path,
                value,
                contains,
            } => attribute(input.attrs, path, value, *contains),
            Test::Network(nets) => {
                let inside = nets.iter().find(|n| n.contains(&input.client));
                match inside {
                    Some(n) => (Decision::Allow, format!("{} is in {n}", input.client)),
                    None => (
                        Decision::Deny,
                        format!("{} is in none of the rule's networks", input.client),
                    ),
                }
            }
            Test::Request {
                methods,
                path_prefix,
            } => request(methods, path_prefix.as_deref(), input),
            Test::RateLimit { limiter, by } => rate_limit(limiter, *by, input, charge),
            Test::Any(children) | Test::All(children) => {
                let all = matches!(rule.test, Test::All(_));
                let mut outcome = None;
                for &c in children {
                    let (d, why) = self.decide(c, input, charge, depth + 1, steps);
                    let name = self.name(c).map_or("?", |n| &**n);
                    if all && d != Decision::Allow {
                        outcome = Some((d, format!("rule {name:?}: {why}")));
                        break;
                    }
                    if !all && d == Decision::Allow {
                        outcome = Some((d, format!("rule {name:?} allows")));
                        break;
                    }
                }
                outcome.unwrap_or_else(|| {
                    if all {
                        (Decision::Allow, "every rule allows".into())
                    } else {
                        (Decision::Deny, "no rule allows".into())
                    }
                })
            }
        };
        if rule.negate {
            decision = match decision {
                Decision::Allow => Decision::Deny,
                _ => Decision::Allow,
            };
            detail = format!("negated: {detail}");
        }
        if let Some(step) = steps.get_mut(at) {
            step.decision = decision;
            step.detail = detail.clone();
        }
        (decision, detail)
    }
}

fn compile_one(r: &RuleConfig, names: &HashMap<String, usize>) -> Result<Compiled, Vec<RuleError>> {
    let name = &r.name;
    let mut kinds = Vec::new();
    if r.attribute.is_some() || r.equals.is_some() || r.contains.is_some() {
        kinds.push("attribute");
    }
    if r.network.is_some() {
        kinds.push("network");
    }
    if r.methods.is_some() || r.path_prefix.is_some() {
        kinds.push("methods/path_prefix");
    }
    if r.rate_limit.is_some() {
        kinds.push("rate_limit");
    }
    if r.any.is_some() {
        kinds.push("any");
    }
    if r.all.is_some() {
        kinds.push("all");
    }
    let one = |e: RuleError| vec![e];
    if kinds.len() != 1 {
        return Err(one(invalid(
            name,
            if kinds.is_empty() {
                "has no test: give attribute (with equals or contains), network, methods/path_prefix, rate_limit, any or all".to_owned()
            } else {
                format!("has more than one kind of test ({}); make one rule of each and combine them with all", kinds.join(", "))
            },
        )));
    }
    if let Some(url) = &r.rejection_redirect {
        let local = url.starts_with('/') && !url.starts_with("//");
        if !local && !url.starts_with("https://") && !url.starts_with("http://") {
            return Err(one(invalid(
                name,
                format!("rejection_redirect {url:?} is neither a path on this origin nor an http(s) URL"),
            )));
        }
    }
    let test = if let Some(attr) = &r.attribute {
        let path =
            Path::parse(attr).map_err(|e| one(invalid(name, format!("attribute {attr:?} {e}"))))?;
        let (value, contains) = match (&r.equals, &r.contains) {
            (Some(v), None) => (v.clone(), false),
            (None, Some(v)) => (v.clone(), true),
            _ => {
                return Err(one(invalid(
                    name,
                    "an attribute rule needs exactly one of equals and contains",
                )))
            }
        };
        Test::Attribute {
            path,
            value,
            contains,
        }
    } else if r.equals.is_some() || r.contains.is_some() {
        return Err(one(invalid(name, "equals and contains need attribute")));
    } else if let Some(nets) = &r.network {
        if nets.is_empty() {
            return Err(one(invalid(name, "network must not be empty")));
        }
        Test::Network(parse_networks(nets).map_err(|e| one(invalid(name, e)))?)
    } else if r.methods.is_some() || r.path_prefix.is_some() {
        let mut methods = Vec::new();
        for m in r.methods.iter().flatten() {
            let valid = !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase() || b == b'-');
            match Method::from_bytes(m.as_bytes()) {
                Ok(method) if valid => methods.push(method),
                _ => {
                    return Err(one(invalid(
                        name,
                        format!("method {m:?} is not an upper-case HTTP method (GET, POST, …)"),
                    )))
                }
            }
        }
        if r.methods.as_ref().is_some_and(Vec::is_empty) {
            return Err(one(invalid(name, "methods must not be empty")));
        }
        if let Some(p) = &r.path_prefix {
            if !p.starts_with('/') {
                return Err(one(invalid(
                    name,
                    format!("path_prefix {p:?} must start with '/'"),
                )));
            }
        }
        Test::Request {
            methods,
            path_prefix: r.path_prefix.clone(),
        }
    } else if let Some(limit) = &r.rate_limit {
        if r.negate {
            return Err(one(invalid(name, "negate does not apply to a rate limit")));
        }
        if limit.requests == 0 || limit.per_seconds == 0 {
            return Err(one(invalid(
                name,
                "rate_limit needs requests and per_seconds of at least 1",
            )));
        }
        let burst = limit.burst.unwrap_or(limit.requests);
        if burst == 0 {
            return Err(one(invalid(name, "rate_limit burst must be at least 1")));
        }
        Test::RateLimit {
            limiter: Limiter::new(Rate {
                per_second: limit.requests as f64 / limit.per_seconds as f64,
                burst: burst as f64,
            }),
            by: limit.by,
        }
    } else {
        let (children, all) = match (&r.any, &r.all) {
            (Some(c), _) => (c, false),
            (_, Some(c)) => (c, true),
            _ => return Err(one(invalid(name, "has no test"))),
        };
        if children.is_empty() {
            return Err(one(invalid(
                name,
                format!(
                    "{} must name at least one rule",
                    if all { "all" } else { "any" }
                ),
            )));
        }
        let mut indexes = Vec::new();
        let mut errors = Vec::new();
        for c in children {
            match names.get(c) {
                Some(&i) => indexes.push(i),
                None => errors.push(RuleError::Unknown {
                    name: c.clone(),
                    used_by: format!("rule {name:?}"),
                }),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        if r.negate {
            return Err(one(invalid(
                name,
                "negate does not apply to any/all (negate the rules inside)",
            )));
        }
        if all {
            Test::All(indexes)
        } else {
            Test::Any(indexes)
        }
    };
    Ok(Compiled {
        name: Arc::from(name.as_str()),
        test,
        negate: r.negate,
        rejection_redirect: r.rejection_redirect.clone(),
    })
}

/// CIDR ranges (`10.0.0.0/8`, `::1/128`); a bare address is a range of one.
pub fn parse_networks(nets: &[String]) -> Result<Vec<IpNet>, String> {
    nets.iter()
        .map(|n| {
            let n = n.trim();
            n.parse::<IpNet>()
                .or_else(|_| n.parse::<IpAddr>().map(IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| {
                    format!("{n:?} is not a CIDR range (e.g. 10.0.0.0/8) or an IP address")
                })
        })
        .collect()
}

fn attribute(
    attrs: Option<&Map<String, Value>>,
    path: &Path,
    expected: &Value,
    contains: bool,
) -> (Decision, String) {
    let attr = path.segments().join(".");
    let Some(found) = attrs.and_then(|a| path.lookup(a)) else {
        return (
            Decision::Deny,
            format!("the session has no attribute {attr:?}"),
        );
    };
    let ok = if contains {
        match (found, expected) {
            (Value::Array(items), v) => items.contains(v),
            (Value::String(s), Value::String(word)) => s.split_whitespace().any(|w| w == word),
            _ => false,
        }
    } else {
        found == expected
    };
    let verb = if contains { "contains" } else { "equals" };
    if ok {
        (Decision::Allow, format!("{attr} {verb} {expected}"))
    } else {
        (
            Decision::Deny,
            format!(
                "{attr} ({}) does not {} {expected}",
                shorten(found),
                verb.trim_end_matches('s')
            ),
        )
    }
}

/// A value's JSON, cut to 200 characters for messages.
fn shorten(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", text.get(..i).unwrap_or_default()),
        None => text,
    }
}

fn request(methods: &[Method], prefix: Option<&str>, input: &Input<'_>) -> (Decision, String) {
    if !methods.is_empty() && !methods.contains(input.method) {
        return (
            Decision::Deny,
            format!("method {} is not one of the rule's methods", input.method),
        );
    }
    if let Some(prefix) = prefix {
        if !root_matches(prefix, input.path, input.case_sensitive) {
            return (
                Decision::Deny,
                format!("path {} is not under {prefix}", input.path),
            );
        }
    }
    (Decision::Allow, format!("{} {}", input.method, input.path))
}

fn rate_limit(
    limiter: &Limiter,
    by: RateBy,
    input: &Input<'_>,
    charge: bool,
) -> (Decision, String) {
    let subject = input
        .attrs
        .and_then(|a| a.get("sub"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let (key, who) = match (by, subject) {
        (RateBy::Identity, Some(sub)) => {
            (RateKey::Identity(sub.to_owned()), format!("sub {sub:?}"))
        }
        _ => (
            RateKey::Address(input.client),
            format!("address {}", input.client),
        ),
    };
    let rate = limiter.rate();
    if !charge {
        let left = limiter.peek(&key, input.now);
        return if left >= 1.0 {
            (
                Decision::Allow,
                format!(
                    "{who}: {:.0} of {:.0} requests left",
                    left.floor(),
                    rate.burst
                ),
            )
        } else {
            (Decision::Limited(1), format!("{who}: no request left"))
        };
    }
    match limiter.take(&key, input.now) {
        Ok(left) => (
            Decision::Allow,
            format!(
                "{who}: {:.0} of {:.0} requests left",
                left.floor(),
                rate.burst
            ),
        ),
        Err(wait) => {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            (
                Decision::Limited(seconds.max(1)),
                format!("{who} is over {} requests per second", rate.per_second),
            )
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(toml_text: &str) -> Result<RuleSet, Vec<RuleError>> {
        #[derive(serde::Deserialize)]
        struct Doc {
            rule: Vec<RuleConfig>,
        }
        let doc: Doc = toml::from_str(toml_text).unwrap();
        RuleSet::compile(&doc.rule)
    }

    const RULES: &str = r#"
        [[rule]]
        name = "admins"
        attribute = "groups"
        contains = "admins"
        [[rule]]
        name = "scoped"
        attribute = "scope"
        contains = "orders:write"
        [[rule]]
        name = "eu"
        attribute = "address.country"
        equals = "DE"
        [[rule]]
        name = "office"
        network = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]
        [[rule]]
        name = "read-only"
        methods = ["GET", "HEAD"]
        [[rule]]
        name = "reports"
        path_prefix = "/app/reports"
        [[rule]]
        name = "outside"
        network = ["10.0.0.0/8"]
        negate = true
        [[rule]]
        name = "staff"
        any = ["admins", "read-only"]
        rejection_redirect = "/denied"
        [[rule]]
        name = "both"
        all = ["office", "eu"]
        [[rule]]
        name = "slow"
        rate_limit = { requests = 2, per_seconds = 1 }
    "#;

    fn input<'a>(
        attrs: &'a Map<String, Value>,
        client: &str,
        method: &'a Method,
        path: &'a str,
    ) -> Input<'a> {
        Input {
            attrs: Some(attrs),
            client: client.parse().unwrap(),
            method,
            path,
            case_sensitive: false,
            now: Instant::now(),
        }
    }

    fn decide(set: &RuleSet, names: &[&str], i: &Input<'_>) -> Option<Denial> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let idx = set.resolve(&names, "test").unwrap();
        set.evaluate(&idx, i, true).denial
    }

    #[test]
    fn each_kind_allows_and_denies() {
        let set = rules(RULES).unwrap();
        let user = crate::test_support::object(json!({
            "sub": "u1", "groups": ["staff", "admins"], "scope": "openid orders:write",
            "address": {"country": "DE"}
        }));
        let other = crate::test_support::object(
            json!({"sub": "u2", "groups": "admin staff", "scope": "orders:writer"}),
        );
        let get = Method::GET;
        let post = Method::POST;
        let i = input(&user, "10.1.2.3", &get, "/app/x");
        for allowed in [
            "admins",
            "scoped",
            "eu",
            "office",
            "read-only",
            "staff",
            "both",
        ] {
            assert_eq!(decide(&set, &[allowed], &i), None, "{allowed}");
        }
        let o = input(&other, "203.0.113.9", &post, "/app/reports/x");
        for denied in [
            "admins",
            "scoped",
            "eu",
            "office",
            "read-only",
            "staff",
            "both",
        ] {
            let d = decide(&set, &[denied], &o).unwrap();
            assert_eq!(&*d.rule, denied);
            assert_eq!(d.decision, Decision::Deny);
        }
        assert_eq!(decide(&set, &["reports"], &o), None);
        assert!(decide(&set, &["reports"], &i).is_some());
        let d = decide(&set, &["staff"], &o).unwrap();
        assert_eq!(d.rejection_redirect.as_deref(), Some("/denied"));
        assert_eq!(d.reason, "no rule allows");
        assert_eq!(
            decide(&set, &["both"], &input(&user, "192.0.2.7", &get, "/")),
            None
        );
        let d = decide(&set, &["both"], &input(&other, "192.0.2.7", &get, "/")).unwrap();
        assert_eq!(
            d.reason,
            "rule \"eu\": the session has no attribute \"address.country\""
        );
    }

    #[test]
    fn negation_ipv6_and_case() {
        let set = rules(RULES).unwrap();
        let a = Map::new();
        let get = Method::GET;
        assert!(decide(&set, &["outside"], &input(&a, "10.0.0.1", &get, "/")).is_some());
        assert!(decide(&set, &["outside"], &input(&a, "11.0.0.1", &get, "/")).is_none());
        assert!(decide(&set, &["office"], &input(&a, "2001:db8::1", &get, "/")).is_none());
        assert!(decide(&set, &["office"], &input(&a, "192.0.2.8", &get, "/")).is_some());
        assert!(decide(
            &set,
            &["reports"],
            &input(&a, "::1", &get, "/APP/Reports/1")
        )
        .is_none());
        let mut cs = input(&a, "::1", &get, "/APP/Reports/1");
        cs.case_sensitive = true;
        assert!(decide(&set, &["reports"], &cs).is_some());
        assert!(decide(&set, &["reports"], &input(&a, "::1", &get, "/app/reportsx")).is_some());
        // No session: attribute rules deny.
        let mut none = input(&a, "::1", &get, "/");
        none.attrs = None;
        let d = decide(&set, &["admins"], &none).unwrap();
        assert_eq!(d.reason, "the session has no attribute \"groups\"");
    }

    #[test]
    fn rules_run_in_order_and_stop_at_the_first_denial() {
        let set = rules(RULES).unwrap();
        let a = crate::test_support::object(json!({"sub": "u"}));
        let post = Method::POST;
        let i = input(&a, "10.0.0.1", &post, "/");
        // The rate limit after a denying rule is not charged.
        for _ in 0..5 {
            assert_eq!(
                &*decide(&set, &["read-only", "slow"], &i).unwrap().rule,
                "read-only"
            );
        }
        assert!(decide(&set, &["slow"], &i).is_none());
        assert!(decide(&set, &["slow"], &i).is_none());
        let d = decide(&set, &["office", "slow"], &i).unwrap();
        assert_eq!(d.decision, Decision::Limited(1));
        assert_eq!(&*d.rule, "slow");
        // Another identity has its own bucket; explain does not charge.
        let b = crate::test_support::object(json!({"sub": "v"}));
        let idx = set.resolve(&["slow".into()], "t").unwrap();
        for _ in 0..5 {
            assert!(set
                .evaluate(&idx, &input(&b, "10.0.0.1", &post, "/"), false)
                .denial
                .is_none());
        }
        let v = set.evaluate(&idx, &input(&b, "10.0.0.1", &post, "/"), true);
        assert!(v.denial.is_none());
        assert_eq!(v.steps[0].detail, "sub \"v\": 1 of 2 requests left");
    }

    #[test]
    fn steps_show_compositions() {
        let set = rules(RULES).unwrap();
        let a = crate::test_support::object(json!({"groups": ["x"]}));
        let get = Method::GET;
        let idx = set.resolve(&["staff".into()], "t").unwrap();
        let v = set.evaluate(&idx, &input(&a, "10.0.0.1", &get, "/"), true);
        let steps: Vec<(&str, usize, &str)> = v
            .steps
            .iter()
            .map(|s| (&*s.rule, s.depth, s.decision.label()))
            .collect();
        assert_eq!(
            steps,
            [
                ("staff", 0, "allow"),
                ("admins", 1, "deny"),
                ("read-only", 1, "allow")
            ]
        );
    }

    #[test]
    fn bad_rules_are_named() {
        let errs = |t: &str| {
            rules(t)
                .err()
                .unwrap()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(errs("[[rule]]\nname = \"a\"\n"), ["rule \"a\": has no test: give attribute (with equals or contains), network, methods/path_prefix, rate_limit, any or all"]);
        assert!(
            errs("[[rule]]\nname = \"a\"\nnetwork = [\"10.0.0.0/8\"]\nmethods = [\"GET\"]\n")[0]
                .contains("more than one kind")
        );
        assert_eq!(errs("[[rule]]\nname = \"a\"\nnetwork = [\"10.0.0.0/33\"]\n"), ["rule \"a\": \"10.0.0.0/33\" is not a CIDR range (e.g. 10.0.0.0/8) or an IP address"]);
        assert!(errs("[[rule]]\nname = \"a\"\nmethods = [\"get\"]\n")[0].contains("upper-case"));
        assert!(errs("[[rule]]\nname = \"a\"\nattribute = \"g\"\n")[0]
            .contains("exactly one of equals and contains"));
        assert!(
            errs("[[rule]]\nname = \"a\"\nattribute = \"g..x\"\nequals = 1\n")[0]
                .contains("empty segment")
        );
        assert!(
            errs("[[rule]]\nname = \"a\"\nrate_limit = { requests = 0 }\n")[0]
                .contains("at least 1")
        );
        assert_eq!(
            errs("[[rule]]\nname = \"a\"\nany = [\"b\"]\n"),
            ["rule \"b\" is not defined (used by rule \"a\")"]
        );
        assert_eq!(
            errs("[[rule]]\nname = \"a\"\nany = [\"b\"]\n[[rule]]\nname = \"b\"\nall = [\"a\"]\n"),
            [
                "rule \"a\" includes itself through a → b → a",
                "rule \"b\" includes itself through b → a → b"
            ]
        );
        assert!(errs("[[rule]]\nname = \"a\"\nnetwork = [\"::1\"]\n[[rule]]\nname = \"a\"\nnetwork = [\"::1\"]\n")[0].contains("more than one"));
        assert!(errs(
            "[[rule]]\nname = \"a\"\nnetwork = [\"::1\"]\nrejection_redirect = \"//evil\"\n"
        )[0]
        .contains("rejection_redirect"));
        let set = rules(RULES).unwrap();
        assert_eq!(
            set.resolve(&["nope".into()], "application \"x\"")
                .err()
                .unwrap()[0]
                .to_string(),
            "rule \"nope\" is not defined (used by application \"x\")"
        );
    }
}
