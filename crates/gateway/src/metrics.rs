//! Counters for `/pa/metrics` (Prometheus text exposition): requests by application and
//! status, backend errors, refused requests, dropped client fields, JWT cache hits and misses,
//! the active signing key.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use hyper::StatusCode;

use crate::http::headers as fields;

/// Counters for `/pa/metrics`: one shard per worker thread (written only by that worker, so
/// requests never contend on a counter), summed when rendered.
#[derive(Default)]
pub struct Metrics {
    shards: Mutex<Vec<Arc<MetricsShard>>>,
    backend_errors: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// Requests refused before routing, by reason (rare: a shared lock is fine).
    refused: Mutex<BTreeMap<&'static str, u64>>,
    /// Client header fields dropped by [`fields::screen`], by reason.
    dropped_fields: Mutex<BTreeMap<&'static str, u64>>,
    /// Protocol upgrades (WebSocket) switched, by application.
    upgrades: Mutex<BTreeMap<String, u64>>,
}

/// One worker's counters.
#[derive(Default)]
pub struct MetricsShard {
    requests: Mutex<BTreeMap<String, BTreeMap<u16, u64>>>,
    /// Access-rule decisions, by rule and decision.
    rules: Mutex<BTreeMap<(Arc<str>, &'static str), u64>>,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
}

impl MetricsShard {
    pub fn request(&self, app: &str, status: StatusCode) {
        let mut map = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        if !map.contains_key(app) {
            map.insert(app.to_owned(), BTreeMap::new());
        }
        if let Some(statuses) = map.get_mut(app) {
            *statuses.entry(status.as_u16()).or_default() += 1;
        }
    }

    /// An access rule's decision (`allow`, `deny`, `rate_limited`).
    pub fn rule(&self, rule: &Arc<str>, decision: &'static str) {
        let mut map = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        *map.entry((rule.clone(), decision)).or_default() += 1;
    }

    pub fn cache_hit(&self) {
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    pub fn cache_miss(&self) {
        self.cache_misses.fetch_add(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// A new shard, counted in [`Metrics::render`].
    pub fn shard(&self) -> Arc<MetricsShard> {
        let shard = Arc::new(MetricsShard::default());
        self.shards
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(shard.clone());
        shard
    }

    pub fn backend_error(&self, app: &str, kind: &'static str) {
        let mut map = self
            .backend_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *map.entry((app.to_owned(), kind)).or_default() += 1;
    }

    /// An upgrade (WebSocket) the backend switched to.
    pub fn upgrade(&self, app: &str) {
        let mut map = self.upgrades.lock().unwrap_or_else(PoisonError::into_inner);
        *map.entry(app.to_owned()).or_default() += 1;
    }

    /// A request refused before routing (`reason` a short label).
    pub fn refused(&self, reason: &'static str) {
        let mut map = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        *map.entry(reason).or_default() += 1;
    }

    /// Client fields dropped by [`fields::screen`].
    pub fn dropped_fields(&self, dropped: fields::Dropped) {
        let mut map = self
            .dropped_fields
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (reason, n) in [
            ("underscore", dropped.underscore),
            ("protected", dropped.protected),
        ] {
            if n > 0 {
                *map.entry(reason).or_default() += u64::from(n);
            }
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self, kid: &str) -> String {
        use std::fmt::Write;
        let mut requests: BTreeMap<(String, u16), u64> = BTreeMap::new();
        let mut rules: BTreeMap<(Arc<str>, &'static str), u64> = BTreeMap::new();
        let (mut hits, mut misses) = (0u64, 0u64);
        for shard in self
            .shards
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            for (app, statuses) in shard
                .requests
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
            {
                for (status, n) in statuses {
                    *requests.entry((app.clone(), *status)).or_default() += n;
                }
            }
            for (key, n) in shard
                .rules
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
            {
                *rules.entry(key.clone()).or_default() += n;
            }
            hits = hits.saturating_add(shard.cache_hits.load(Ordering::Relaxed));
            misses = misses.saturating_add(shard.cache_misses.load(Ordering::Relaxed));
        }
        let mut out = String::new();
        out.push_str("# HELP signet_gateway_requests_total Requests by application and status.\n");
        out.push_str("# TYPE signet_gateway_requests_total counter\n");
        for ((app, status), n) in &requests {
            let _ = writeln!(
                out,
                "signet_gateway_requests_total{{application=\"{}\",status=\"{status}\"}} {n}",
                label(app)
            );
        }
        out.push_str("# HELP signet_gateway_backend_errors_total Backend failures by kind.\n");
        out.push_str("# TYPE signet_gateway_backend_errors_total counter\n");
        for ((app, kind), n) in self
            .backend_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "signet_gateway_backend_errors_total{{application=\"{}\",kind=\"{kind}\"}} {n}",
                label(app)
            );
        }
        out.push_str("# HELP signet_gateway_rule_decisions_total Access-rule decisions by rule.\n");
        out.push_str("# TYPE signet_gateway_rule_decisions_total counter\n");
        for ((rule, decision), n) in &rules {
            let _ = writeln!(
                out,
                "signet_gateway_rule_decisions_total{{rule=\"{}\",decision=\"{decision}\"}} {n}",
                label(rule)
            );
        }
        counter(
            &mut out,
            "signet_gateway_refused_requests_total",
            "Requests refused before routing, by reason.",
            "reason",
            &self.refused,
        );
        counter(
            &mut out,
            "signet_gateway_dropped_request_fields_total",
            "Client header fields dropped, by reason.",
            "reason",
            &self.dropped_fields,
        );
        counter(
            &mut out,
            "signet_gateway_upgrades_total",
            "Protocol upgrades (WebSocket) switched, by application.",
            "application",
            &self.upgrades,
        );
        out.push_str("# TYPE signet_gateway_jwt_cache_hits_total counter\n");
        let _ = writeln!(out, "signet_gateway_jwt_cache_hits_total {hits}");
        out.push_str("# TYPE signet_gateway_jwt_cache_misses_total counter\n");
        let _ = writeln!(out, "signet_gateway_jwt_cache_misses_total {misses}");
        out.push_str("# HELP signet_gateway_signing_key_info The active signing key.\n");
        out.push_str("# TYPE signet_gateway_signing_key_info gauge\n");
        let _ = writeln!(
            out,
            "signet_gateway_signing_key_info{{kid=\"{}\"}} 1",
            label(kid)
        );
        out
    }
}

/// One counter family with one label, in the text exposition.
fn counter<K: AsRef<str>>(
    out: &mut String,
    name: &str,
    help: &str,
    label_name: &str,
    values: &Mutex<BTreeMap<K, u64>>,
) {
    use std::fmt::Write;
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    for (key, n) in values.lock().unwrap_or_else(PoisonError::into_inner).iter() {
        let _ = writeln!(
            out,
            "{name}{{{label_name}=\"{}\"}} {n}",
            label(key.as_ref())
        );
    }
}

fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
