//! `signet gateway`: the real binary proxying to backends on loopback. Each backend records what
//! it receives; mapped JWTs are verified against the gateway's own /pa/authtoken/JWKS.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::pki::{make_pki, pem_base64};
use common::{spawn_server, Child, TempDir};
use serde_json::{json, Value};

#[derive(Clone, Copy)]
enum Mode {
    /// 200 with a small body, keep-alive.
    Ok,
    /// Reads the request and never answers (for 10 s).
    Hang,
    /// Sends headers promising 1000 bytes, 10 bytes, then closes.
    Reset,
}

/// One request as the backend saw it.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    headers: BTreeMap<String, Vec<String>>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

struct Backend {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Backend {
    fn start(mode: Mode) -> Backend {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let url = common::serve_connections(move |stream| serve_connection(stream, mode, &record));
        Backend { url, seen }
    }

    fn last(&self) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the backend got no request")
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

fn serve_connection(stream: TcpStream, mode: Mode, record: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let target = request_line.split(' ').nth(1).unwrap_or("").to_owned();
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers
                .entry(name.trim().to_ascii_lowercase())
                .or_default()
                .push(value.trim().to_owned());
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.first())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        record.lock().unwrap().push(Seen {
            target: target.clone(),
            headers,
        });
        match mode {
            Mode::Ok => {
                let reply =
                    json!({"target": target, "body": String::from_utf8_lossy(&body)}).to_string();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                     Connection: keep-alive, X-Backend-Hop\r\nX-Backend-Hop: 1\r\n\
                     Keep-Alive: timeout=5\r\nX-Backend: yes\r\n\r\n",
                    reply.len()
                );
                if out.write_all(head.as_bytes()).is_err()
                    || out.write_all(reply.as_bytes()).is_err()
                {
                    return;
                }
            }
            Mode::Hang => {
                std::thread::sleep(Duration::from_secs(10));
                return;
            }
            Mode::Reset => {
                let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
                let _ = out.flush();
                std::thread::sleep(Duration::from_millis(100));
                let _ = out.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    }
}

/// A port nothing listens on.
fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

const IDP_ISSUER: &str = "https://idp.test";

struct Setup {
    _dir: TempDir,
    config: String,
    _gateway: Child,
    base: String,
    idp: jose::Signer,
    ok: Backend,
    http: reqwest::blocking::Client,
}

fn config_text(ok: &str, slow: &str, broken: &str) -> String {
    format!(
        r#"
[listen]
http = "127.0.0.1:1"
[auth_token]
issuer = "signet-gateway"
keyset_file = "gateway-keys.json"
[api_session]
issuer = "{IDP_ISSUER}"
jwks = "idp-jwks.json"
audience = "gateway"
[[identity_mapping]]
name = "included"
header_name = "X-Identity-JWT"
audience = "orders-api"
cache_jwt = true
attribute_mappings = [
  {{ user_attribute_name = "uid", jwt_claim_name = "user_id", subject = true }},
  {{ user_attribute_name = "address.city", jwt_claim_name = "location.city" }},
  {{ user_attribute_name = "email", jwt_claim_name = "email" }},
]
[[identity_mapping]]
name = "excluded"
map_as_bearer_token = true
audience = "billing-api"
exclusion_list = true
exclusion_list_attributes = ["secret", "address.street"]
exclusion_list_subject = "uid"
[[application]]
name = "orders"
context_root = "/orders"
backend = "{ok}"
session = "api"
identity_mapping = "included"
[[application]]
name = "orders-public"
context_root = "/orders/public"
backend = "{ok}"
session = "none"
identity_mapping = "included"
[[application]]
name = "billing"
context_root = "/billing"
backend = "{ok}"
session = "api"
identity_mapping = "excluded"
[[application]]
name = "down"
context_root = "/down"
backend = "{down}"
session = "none"
[[application]]
name = "slow"
context_root = "/slow"
backend = "{slow}"
session = "none"
timeout_seconds = 1
[[application]]
name = "broken"
context_root = "/broken"
backend = "{broken}"
session = "none"
"#,
        down = refused_url()
    )
}

/// Serves `body` as JSON to every request (an upstream issuer's JWKS URL).
fn static_server(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

fn setup() -> Setup {
    setup_with(false)
}

fn setup_with(jwks_by_url: bool) -> Setup {
    setup_full(jwks_by_url, &|_, _| {})
}

/// `prepare` may write files into the directory and edit the configuration text.
fn setup_full(jwks_by_url: bool, prepare: &dyn Fn(&TempDir, &mut String)) -> Setup {
    let dir = TempDir::new();
    let idp_key = jose::Key::generate(jose::Algorithm::ES256).unwrap();
    let idp_jwks = jose::KeySet::from(idp_key.to_public().unwrap())
        .to_public_jwks()
        .to_string();
    let jwks_ref = if jwks_by_url {
        static_server(idp_jwks)
    } else {
        dir.write("idp-jwks.json", idp_jwks);
        "idp-jwks.json".to_owned()
    };
    let idp = jose::Signer::new(idp_key, jose::Algorithm::ES256).unwrap();
    let ok = Backend::start(Mode::Ok);
    let slow = Backend::start(Mode::Hang);
    let broken = Backend::start(Mode::Reset);
    let mut text = config_text(&ok.url, &slow.url, &broken.url).replace(
        "jwks = \"idp-jwks.json\"",
        &format!("jwks = \"{jwks_ref}\""),
    );
    prepare(&dir, &mut text);
    let config = dir.write("gateway.toml", text);
    let (gateway, addr) = spawn_server(
        &["gateway", "--config", &config, "--listen", "127.0.0.1:0"],
        "signet gateway listening on ",
    );
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    Setup {
        _dir: dir,
        config,
        _gateway: gateway,
        base: addr,
        idp,
        ok,
        http,
    }
}

fn json_of(r: reqwest::blocking::Response) -> Value {
    serde_json::from_slice(&r.bytes().unwrap()).unwrap()
}

fn now() -> i64 {
    jose::time::now()
}

impl Setup {
    /// An upstream access token carrying `attributes`.
    fn upstream(&self, attributes: Value) -> String {
        let mut claims = json!({
            "iss": IDP_ISSUER, "aud": "gateway", "iat": now(), "exp": now() + 300
        });
        for (k, v) in attributes.as_object().unwrap() {
            claims[k] = v.clone();
        }
        self.idp.sign_claims(&claims).unwrap()
    }

    fn get(&self, path: &str) -> reqwest::blocking::RequestBuilder {
        self.http.get(format!("{}{path}", self.base))
    }

    /// Verifies a backend JWT against the gateway's JWKS.
    fn verify(&self, token: &str, audience: &str) -> serde_json::Map<String, Value> {
        let jwks = self
            .get("/pa/authtoken/JWKS")
            .send()
            .unwrap()
            .bytes()
            .unwrap();
        let (keys, _) = jose::KeySet::from_jwks_json(&jwks).unwrap();
        let validation = jose::Validation {
            issuers: vec!["signet-gateway".into()],
            audiences: vec![audience.into()],
            ..jose::Validation::default()
        };
        jose::Verifier::new(keys)
            .verify_jwt(token, &validation)
            .unwrap()
            .claims
    }
}

fn attributes() -> Value {
    json!({
        "uid": "alice",
        "email": "alice@example.com",
        "secret": "s3cret",
        "address": {"city": "Lyon", "street": "1 rue X", "zip": "69001"},
        "groups": ["admin", "ops"]
    })
}

#[test]
fn inclusion_list_maps_nested_claims_and_the_subject_into_a_named_header() {
    let s = setup();
    let token = s.upstream(attributes());
    let r = s
        .get("/orders/42?x=1")
        .bearer_auth(&token)
        .header("X-Identity-JWT", "forged.by.client")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = s.ok.last();
    assert_eq!(
        seen.target, "/orders/42?x=1",
        "the path is forwarded unchanged"
    );
    assert_eq!(seen.headers["x-identity-jwt"].len(), 1);
    let jwt = seen.header("x-identity-jwt").unwrap();
    assert_ne!(jwt, "forged.by.client");
    let claims = s.verify(jwt, "orders-api");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["user_id"], "alice");
    assert_eq!(claims["location"], json!({"city": "Lyon"}));
    assert_eq!(claims["email"], "alice@example.com");
    assert!(claims.get("secret").is_none());
    assert!(claims.get("groups").is_none());
    assert_eq!(claims["iss"], "signet-gateway");
}

#[test]
fn exclusion_list_maps_as_a_bearer_token_replacing_the_clients_authorization() {
    let s = setup();
    let token = s.upstream(attributes());
    let r = s
        .get("/billing/invoices")
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = s.ok.last();
    assert_eq!(seen.headers["authorization"].len(), 1);
    let jwt = seen
        .header("authorization")
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap();
    assert_ne!(jwt, token, "the upstream token never reaches the backend");
    let claims = s.verify(jwt, "billing-api");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], "billing-api");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["groups"], json!(["admin", "ops"]));
    assert_eq!(claims["address"], json!({"city": "Lyon", "zip": "69001"}));
    assert!(claims.get("secret").is_none());
    assert!(seen.header("x-identity-jwt").is_none());
}

#[test]
fn the_cache_returns_the_same_jwt_until_an_attribute_changes() {
    let s = setup();
    let mut jwts = Vec::new();
    for email in [
        "alice@example.com",
        "alice@example.com",
        "alice@other.example",
    ] {
        // A fresh upstream token each time: only the mapped attributes matter.
        std::thread::sleep(Duration::from_millis(1100));
        let mut attrs = attributes();
        attrs["email"] = json!(email);
        let r = s
            .get("/orders/1")
            .bearer_auth(s.upstream(attrs))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        jwts.push(s.ok.last().header("x-identity-jwt").unwrap().to_owned());
    }
    assert_eq!(jwts[0], jwts[1]);
    assert_ne!(jwts[1], jwts[2]);
    assert_eq!(
        s.verify(&jwts[2], "orders-api")["email"],
        "alice@other.example"
    );
    let metrics = s.get("/pa/metrics").send().unwrap().text().unwrap();
    assert!(
        metrics.contains("signet_gateway_jwt_cache_hits_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("signet_gateway_jwt_cache_misses_total 2"),
        "{metrics}"
    );
}

#[test]
fn the_upstream_jwks_can_be_a_url() {
    let s = setup_with(true);
    let r = s
        .get("/orders/7")
        .bearer_auth(s.upstream(attributes()))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let jwt = s.ok.last().header("x-identity-jwt").unwrap().to_owned();
    assert_eq!(s.verify(&jwt, "orders-api")["sub"], "alice");
}

#[test]
fn api_sessions_require_a_valid_bearer_token() {
    let s = setup();
    let r = s.get("/orders/1").send().unwrap();
    assert_eq!(r.status(), 401);
    let body = json_of(r);
    assert_eq!(body["error"], "invalid_token");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("bearer token is required"));

    let wrong_audience = s.idp.sign_claims(&json!({
        "iss": IDP_ISSUER, "aud": "someone-else", "exp": now() + 300, "uid": "alice"
    }));
    let r = s
        .get("/orders/1")
        .bearer_auth(wrong_audience.unwrap())
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);

    let stranger = jose::Signer::new(
        jose::Key::generate(jose::Algorithm::ES256).unwrap(),
        jose::Algorithm::ES256,
    )
    .unwrap()
    .sign_claims(&json!({"iss": IDP_ISSUER, "aud": "gateway", "exp": now() + 300}))
    .unwrap();
    let r = s.get("/orders/1").bearer_auth(stranger).send().unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        s.ok.count(),
        0,
        "no unauthenticated request reached the backend"
    );
}

#[test]
fn routing_headers_and_the_spoofed_header_on_a_sessionless_application() {
    let s = setup();
    // Longest prefix: /orders/public is its own application, without a session.
    let r = s
        .get("/orders/public/list")
        .header("X-Identity-JWT", "forged")
        .header("X-Forwarded-For", "10.1.2.3")
        .header("Connection", "X-Client-Hop")
        .header("X-Client-Hop", "1")
        .header("Proxy-Authorization", "Basic eA==")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-backend"], "yes");
    assert!(r.headers().get("x-backend-hop").is_none());
    assert!(r.headers().get("keep-alive").is_none());
    let seen = s.ok.last();
    assert_eq!(seen.target, "/orders/public/list");
    assert!(
        seen.header("x-identity-jwt").is_none(),
        "the spoofed header was removed"
    );
    assert!(seen.header("x-client-hop").is_none());
    assert!(seen.header("proxy-authorization").is_none());
    assert_eq!(seen.header("x-forwarded-for"), Some("10.1.2.3, 127.0.0.1"));
    assert_eq!(seen.header("x-forwarded-proto"), Some("http"));
    assert_eq!(
        seen.header("x-forwarded-host"),
        Some(s.base.trim_start_matches("http://"))
    );

    // A body is streamed through.
    let r = s
        .http
        .post(format!("{}/orders/public/echo", s.base))
        .body("hello backend")
        .send()
        .unwrap();
    let body = json_of(r);
    assert_eq!(body["body"], "hello backend");

    let r = s.get("/nowhere").send().unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(json_of(r)["error"], "not_found");
    let r = s.get("/ordersx").send().unwrap();
    assert_eq!(r.status(), 404);
}

#[test]
fn jwks_heartbeat_and_metrics() {
    let s = setup();
    let r = s.get("/pa/heartbeat.ping").send().unwrap();
    assert_eq!(r.status(), 200);
    let r = s.get("/pa/authtoken/JWKS").send().unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .starts_with("public, max-age="));
    let jwks = json_of(r);
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
    let r = s
        .get("/pa/authtoken/JWKS")
        .header("If-None-Match", &etag)
        .send()
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);

    s.get("/orders/public/x").send().unwrap();
    let metrics = s.get("/pa/metrics").send().unwrap().text().unwrap();
    assert!(
        metrics.contains(
            r#"signet_gateway_requests_total{application="orders-public",status="200"} 1"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        r#"signet_gateway_signing_key_info{{kid="{kid}"}} 1"#
    )));
}

#[test]
fn backend_faults_become_json_errors_and_the_gateway_keeps_serving() {
    let s = setup();
    let r = s.get("/down/x").send().unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(json_of(r)["error"], "bad_gateway");

    let started = std::time::Instant::now();
    let r = s.get("/slow/x").send().unwrap();
    assert_eq!(r.status(), 504);
    assert_eq!(json_of(r)["error"], "gateway_timeout");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Headers already went out: the client sees the body cut short.
    let r = s.get("/broken/x").send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.bytes().is_err(),
        "a reset mid-body must not look complete"
    );

    let r = s.get("/orders/public/after").send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.ok.last().target, "/orders/public/after");
    let metrics = s.get("/pa/metrics").send().unwrap().text().unwrap();
    assert!(
        metrics.contains(
            r#"signet_gateway_backend_errors_total{application="down",kind="unavailable"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"signet_gateway_backend_errors_total{application="slow",kind="timeout"} 1"#
        ),
        "{metrics}"
    );
}

fn signal(child: &Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn sighup_reloads_a_valid_configuration_and_ignores_an_invalid_one() {
    let s = setup();
    assert_eq!(s.get("/fresh/x").send().unwrap().status(), 404);
    let text = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(&s.config, "this is = not [valid").unwrap();
    signal(&s._gateway, "HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(s.get("/orders/public/x").send().unwrap().status(), 200);

    let fresh = format!(
        "{text}\n[[application]]\nname = \"fresh\"\ncontext_root = \"/fresh\"\nbackend = \"{}\"\nsession = \"none\"\n",
        s.ok.url
    );
    std::fs::write(&s.config, fresh).unwrap();
    signal(&s._gateway, "HUP");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let status = s.get("/fresh/x").send().unwrap().status();
        if status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the reload never took effect"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(s.ok.last().target, "/fresh/x");
}

#[test]
fn sigterm_finishes_in_flight_requests_then_exits() {
    let mut s = setup();
    let base = s.base.clone();
    // A request to the hanging backend is in flight (it ends in a 504 after 1 s).
    let inflight = std::thread::spawn(move || {
        reqwest::blocking::get(format!("{base}/slow/x")).map(|r| r.status().as_u16())
    });
    std::thread::sleep(Duration::from_millis(300));
    signal(&s._gateway, "TERM");
    assert_eq!(inflight.join().unwrap().unwrap(), 504);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = s._gateway.0.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway did not exit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn https_client_certificate_chain_is_cut_at_max_depth() {
    let dir = TempDir::new();
    make_pki(&dir.0);
    let idp_key = jose::Key::generate(jose::Algorithm::ES256).unwrap();
    dir.write(
        "idp-jwks.json",
        jose::KeySet::from(idp_key.to_public().unwrap())
            .to_public_jwks()
            .to_string(),
    );
    let idp = jose::Signer::new(idp_key, jose::Algorithm::ES256).unwrap();
    let ok = Backend::start(Mode::Ok);
    let config = dir.write(
        "gateway.toml",
        format!(
            r#"
[listen]
https = "127.0.0.1:1"
tls_cert = "server.pem"
tls_key = "server.key"
client_ca = "ca.pem"
[auth_token]
issuer = "signet-gateway"
keyset_file = "gateway-keys.json"
[api_session]
issuer = "{IDP_ISSUER}"
jwks = "idp-jwks.json"
audience = "gateway"
[[identity_mapping]]
name = "with-cert"
header_name = "X-Identity-JWT"
audience = "orders-api"
attribute_mappings = [{{ user_attribute_name = "uid", jwt_claim_name = "uid", subject = true }}]
client_certificate_jwt_claim_name = "x5c"
max_depth = 1
[[application]]
name = "orders"
context_root = "/orders"
backend = "{}"
session = "api"
identity_mapping = "with-cert"
"#,
            ok.url
        ),
    );
    let (_gateway, base) = spawn_server(
        &[
            "gateway",
            "--config",
            &config,
            "--listen-https",
            "127.0.0.1:0",
        ],
        "signet gateway listening on ",
    );
    assert!(base.starts_with("https://"), "{base}");
    let ca = reqwest::Certificate::from_pem(&std::fs::read(dir.0.join("ca.pem")).unwrap()).unwrap();
    let mut identity_pem = std::fs::read(dir.0.join("client.key")).unwrap();
    identity_pem.extend(std::fs::read(dir.0.join("client.pem")).unwrap());
    identity_pem.extend(std::fs::read(dir.0.join("int.pem")).unwrap());
    let token = idp
        .sign_claims(&json!({
            "iss": IDP_ISSUER, "aud": "gateway", "exp": now() + 300, "uid": "alice"
        }))
        .unwrap();
    let with_cert = reqwest::blocking::Client::builder()
        .add_root_certificate(ca.clone())
        .identity(reqwest::Identity::from_pem(&identity_pem).unwrap())
        .build()
        .unwrap();
    let r = with_cert
        .get(format!("{base}/orders/1"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = ok.last();
    assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
    let jwt = seen.header("x-identity-jwt").unwrap().to_owned();

    let jwks = with_cert
        .get(format!("{base}/pa/authtoken/JWKS"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let (keys, _) = jose::KeySet::from_jwks_json(&jwks).unwrap();
    let validation = jose::Validation {
        issuers: vec!["signet-gateway".into()],
        audiences: vec!["orders-api".into()],
        ..jose::Validation::default()
    };
    let claims = jose::Verifier::new(keys)
        .verify_jwt(&jwt, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "alice");
    // The client sent leaf + intermediate; max_depth = 1 keeps the leaf only.
    assert_eq!(
        claims["x5c"],
        json!([pem_base64(&dir.0.join("client.pem"))])
    );

    // Without a client certificate: served, and no certificate claim.
    let without = reqwest::blocking::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let r = without
        .get(format!("{base}/orders/2"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let jwt = ok.last().header("x-identity-jwt").unwrap().to_owned();
    let (keys, _) = jose::KeySet::from_jwks_json(&jwks).unwrap();
    let claims = jose::Verifier::new(keys)
        .verify_jwt(&jwt, &validation)
        .unwrap()
        .claims;
    assert!(claims.get("x5c").is_none());
}

#[test]
fn a_key_roll_during_traffic_causes_no_verification_failure() {
    let start = now();
    // A keyset shared with another replica: the active key, and one that activates in 3 s.
    let s = setup_full(false, &|dir, text| {
        let file = |name: &str, not_before: i64| {
            let path = dir.0.join(name);
            gateway::Keyset::load_or_create(&path, jose::Algorithm::ES256, None, not_before)
                .unwrap();
            let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            doc["keys"][0].clone()
        };
        let keys = json!({"keys": [file("a.json", start - 100), file("b.json", start + 3)]});
        std::fs::write(
            dir.0.join("gateway-keys.json"),
            serde_json::to_string_pretty(&keys).unwrap(),
        )
        .unwrap();
        *text = text.replace(
            "keyset_file = \"gateway-keys.json\"",
            "keyset_file = \"gateway-keys.json\"\nkey_roll_enabled = false",
        );
    });
    // A backend that fetched the JWKS once, before the roll.
    let jwks = s.get("/pa/authtoken/JWKS").send().unwrap().bytes().unwrap();
    let (keys, _) = jose::KeySet::from_jwks_json(&jwks).unwrap();
    assert_eq!(keys.keys().len(), 2, "the upcoming key is published ahead");
    let verifier = jose::Verifier::new(keys);
    let validation = jose::Validation {
        issuers: vec!["signet-gateway".into()],
        audiences: vec!["orders-api".into()],
        ..jose::Validation::default()
    };
    let token = s.upstream(attributes());
    let mut kids = Vec::new();
    let mut jwts = std::collections::BTreeSet::new();
    while now() < start + 6 {
        let r = s.get("/orders/roll").bearer_auth(&token).send().unwrap();
        assert_eq!(r.status(), 200);
        let jwt = s.ok.last().header("x-identity-jwt").unwrap().to_owned();
        let verified = verifier.verify_jwt(&jwt, &validation);
        assert!(verified.is_ok(), "verification failed: {verified:?}");
        let kid = verified.unwrap().header["kid"].as_str().unwrap().to_owned();
        if kids.last() != Some(&kid) {
            kids.push(kid);
        }
        jwts.insert(jwt);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        kids.len(),
        2,
        "the signing key rolled exactly once: {kids:?}"
    );
    assert_eq!(jwts.len(), 2, "one cached JWT per signing key");
}
