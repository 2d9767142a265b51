//! `signet gateway` in front of real services: HTTPS backends with a private CA (and a wrong
//! one), mTLS to a backend that requires a client certificate, WebSocket backends (plain and
//! TLS) behind an `api` session, and an upstream issuer that rotates its signing key.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::result_large_err
)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::pki::make_pki;
use common::{spawn_server, Child, TempDir};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const IDP_ISSUER: &str = "https://idp.test";

/// The upstream issuer's JWK Set over HTTP: its keys can change, it can go down, and it counts
/// how often it was fetched.
struct Idp {
    url: String,
    jwks: Arc<Mutex<String>>,
    down: Arc<AtomicBool>,
    fetches: Arc<AtomicUsize>,
}

impl Idp {
    fn start(keys: &[&jose::Key]) -> Idp {
        let jwks = Arc::new(Mutex::new(String::new()));
        let down = Arc::new(AtomicBool::new(false));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (j, d, f) = (jwks.clone(), down.clone(), fetches.clone());
        let url = common::serve_connections(move |mut stream| {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            f.fetch_add(1, Ordering::SeqCst);
            let reply = if d.load(Ordering::SeqCst) {
                "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    .to_owned()
            } else {
                let body = j.lock().unwrap().clone();
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                )
            };
            let _ = stream.write_all(reply.as_bytes());
        });
        let idp = Idp {
            url: format!("{url}/jwks.json"),
            jwks,
            down,
            fetches,
        };
        idp.publish(keys);
        idp
    }

    fn publish(&self, keys: &[&jose::Key]) {
        let set = jose::KeySet::new(keys.iter().map(|k| k.to_public().unwrap()).collect());
        *self.jwks.lock().unwrap() = set.to_public_jwks().to_string();
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn key(kid: &str) -> jose::Key {
    jose::Key::generate(jose::Algorithm::ES256)
        .unwrap()
        .with_kid(kid)
}

/// An upstream access token for `uid`, signed with `key`.
fn token(key: &jose::Key, uid: &str) -> String {
    let now = jose::time::now();
    jose::Signer::new(key.clone(), jose::Algorithm::ES256)
        .unwrap()
        .sign_claims(&json!({
            "iss": IDP_ISSUER, "aud": "gateway", "iat": now, "exp": now + 300, "uid": uid
        }))
        .unwrap()
}

struct Gateway {
    _child: Child,
    base: String,
}

/// A gateway with `[api_session]` keys at `jwks`, the identity mapping `id`, and `apps`.
fn gateway(dir: &TempDir, jwks: &str, apps: &str) -> Gateway {
    let text = format!(
        r#"
[listen]
http = "127.0.0.1:1"
[auth_token]
issuer = "signet-gateway"
keyset_file = "gateway-keys.json"
[api_session]
issuer = "{IDP_ISSUER}"
jwks = "{jwks}"
audience = "gateway"
jwks_refetch_min_interval_seconds = 1
[[identity_mapping]]
name = "id"
header_name = "X-Identity-JWT"
audience = "backend"
attribute_mappings = [{{ user_attribute_name = "uid", jwt_claim_name = "uid", subject = true }}]
{apps}
"#
    );
    let config = dir.write("gateway.toml", text);
    let check = common::signet(&["gateway", "--check", &config]);
    assert_eq!(check.code, 0, "--check: {}", check.stderr);
    let (child, base) = spawn_server(
        &["gateway", "--config", &config, "--listen", "127.0.0.1:0"],
        "signet gateway listening on ",
    );
    Gateway {
        _child: child,
        base,
    }
}

/// Verifies a mapped JWT with the gateway's JWKS; returns its claims.
fn verify_mapped(base: &str, jwt: &str) -> serde_json::Map<String, Value> {
    let jwks = common::client()
        .get(format!("{base}/pa/authtoken/JWKS"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    common::verify_gateway_jwt(&jwks, jwt, "backend")
}

/// The gateway's `/pa/metrics` text.
fn metrics(base: &str) -> String {
    common::client()
        .get(format!("{base}/pa/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap()
}

// ----- HTTPS backends -----

/// Python's HTTP server over TLS with `cert`/`key`; with `client_ca`, a client certificate
/// signed by it is required. It answers every GET with the path, the request's headers and
/// whether a client certificate was presented.
fn https_backend(dir: &TempDir, client_ca: Option<&str>) -> (Child, String) {
    let script = dir.write(
        "https_backend.py",
        r#"
import http.server, json, ssl, sys
cert, key, ca = sys.argv[1], sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = json.dumps({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                           "client_cert": self.connection.getpeercert() is not None and self.connection.getpeercert() != {}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
if ca != "-":
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(ca)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#,
    );
    let path = |n: &str| dir.0.join(n).to_string_lossy().into_owned();
    let mut child = std::process::Command::new("python3")
        .arg(&script)
        .args([path("server.pem"), path("server.key")])
        .arg(client_ca.map_or_else(|| "-".to_owned(), path))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (Child(child), format!("https://127.0.0.1:{}", line.trim()))
}

#[test]
fn https_backends_with_a_private_ca_a_wrong_one_and_mtls() {
    let dir = TempDir::new();
    make_pki(&dir.0);
    // A second, unrelated CA: the wrong one for the backend.
    let other = TempDir::new();
    make_pki(&other.0);
    std::fs::copy(other.0.join("ca.pem"), dir.0.join("other-ca.pem")).unwrap();
    // The gateway's client certificate for mTLS: the leaf and its intermediate.
    let chain = [
        std::fs::read(dir.0.join("client.pem")).unwrap(),
        std::fs::read(dir.0.join("int.pem")).unwrap(),
    ]
    .concat();
    dir.write("client-chain.pem", chain);
    let (_tls, tls_url) = https_backend(&dir, None);
    let (_mtls, mtls_url) = https_backend(&dir, Some("ca.pem"));
    let idp_key = key("k1");
    let idp = Idp::start(&[&idp_key]);
    let apps = format!(
        r#"
[[application]]
name = "tls"
context_root = "/tls"
backend = "{tls_url}"
session = "api"
identity_mapping = "id"
backend_ca = "ca.pem"
[[application]]
name = "wrong-ca"
context_root = "/wrong-ca"
backend = "{tls_url}"
session = "none"
backend_ca = "other-ca.pem"
[[application]]
name = "mtls"
context_root = "/mtls"
backend = "{mtls_url}"
session = "none"
backend_ca = "ca.pem"
backend_client_cert = "client-chain.pem"
backend_client_key = "client.key"
[[application]]
name = "no-client-cert"
context_root = "/no-client-cert"
backend = "{mtls_url}"
session = "none"
backend_ca = "ca.pem"
"#
    );
    let gw = gateway(&dir, &idp.url, &apps);
    let http = common::client();
    // A private CA: the request arrives, with the mapped JWT, and the connection is reused.
    for i in 0..3 {
        let r = http
            .get(format!("{}/tls/orders/{i}", gw.base))
            .bearer_auth(token(&idp_key, "alice"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        let seen: Value = serde_json::from_slice(&r.bytes().unwrap()).unwrap();
        assert_eq!(seen["path"], format!("/tls/orders/{i}"));
        let jwt = seen["headers"]["x-identity-jwt"].as_str().unwrap();
        assert_eq!(verify_mapped(&gw.base, jwt)["sub"], "alice");
        assert_eq!(
            seen["headers"]["host"],
            tls_url.trim_start_matches("https://")
        );
    }
    // The wrong CA: a JSON 502 that names the certificate problem, and a metric.
    let r = http.get(format!("{}/wrong-ca/x", gw.base)).send().unwrap();
    assert_eq!(r.status(), 502);
    let body: Value = serde_json::from_slice(&r.bytes().unwrap()).unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("TLS to the backend failed") && message.contains("certificate"),
        "{message}"
    );
    // mTLS: the backend requires a client certificate; the gateway presents its own.
    let r = http.get(format!("{}/mtls/x", gw.base)).send().unwrap();
    assert_eq!(r.status(), 200);
    let seen: Value = serde_json::from_slice(&r.bytes().unwrap()).unwrap();
    assert_eq!(seen["client_cert"], true);
    // Without one, the backend refuses the connection: a 502.
    let r = http
        .get(format!("{}/no-client-cert/x", gw.base))
        .send()
        .unwrap();
    assert_eq!(r.status(), 502);
    let metrics = metrics(&gw.base);
    assert!(
        metrics.contains(
            "signet_gateway_backend_errors_total{application=\"wrong-ca\",kind=\"tls\"} 1"
        ),
        "{metrics}"
    );
}

#[test]
fn check_refuses_the_tls_settings_the_gateway_could_not_start_with() {
    let dir = TempDir::new();
    make_pki(&dir.0);
    let idp = Idp::start(&[&key("k1")]);
    dir.write("idp-jwks.json", idp.jwks.lock().unwrap().clone());
    let config = |app: &str| {
        dir.write(
            "bad.toml",
            format!(
                "[listen]\nhttp = \"127.0.0.1:1\"\n[auth_token]\nkeyset_file = \"k.json\"\n\
                 [[application]]\nname = \"a\"\ncontext_root = \"/a\"\nsession = \"none\"\n{app}"
            ),
        )
    };
    for (app, expected) in [
        (
            "backend = \"https://127.0.0.1:1\"\nbackend_ca = \"missing.pem\"\n",
            "application \"a\": backend_ca",
        ),
        (
            "backend = \"https://127.0.0.1:1\"\nbackend_client_cert = \"client.pem\"\n",
            "backend_client_cert and backend_client_key go together",
        ),
        (
            "backend = \"https://127.0.0.1:1\"\nbackend_tls_server_name = \"not a name\"\n",
            "backend_tls_server_name \"not a name\" is not a DNS name or IP address",
        ),
        (
            "backend = \"http://127.0.0.1:1\"\nbackend_ca = \"ca.pem\"\n",
            "backend_ca is only for https:// backends",
        ),
    ] {
        let path = config(app);
        let r = common::signet(&["gateway", "--check", &path]);
        assert_eq!(r.code, 2, "{app}: {}", r.stderr);
        assert!(r.stderr.contains(expected), "{app}: {}", r.stderr);
    }
    // And a valid https application passes --check and starts.
    let path = config("backend = \"https://127.0.0.1:1\"\nbackend_ca = \"ca.pem\"\n");
    assert_eq!(common::signet(&["gateway", "--check", &path]).code, 0);
    let (_child, base) = spawn_server(
        &["gateway", "--config", &path, "--listen", "127.0.0.1:0"],
        "signet gateway listening on ",
    );
    assert!(base.starts_with("http://"));
}

// ----- WebSocket -----

/// Each upgrade request's header fields, in order.
type Upgrades = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// A WebSocket echo backend (tokio-tungstenite), plain or over TLS; it records the upgrade
/// request's headers.
fn websocket_backend(tls: Option<tokio_rustls::TlsAcceptor>) -> (String, Upgrades) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let record = record.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let callback =
                        |req: &tokio_tungstenite::tungstenite::handshake::server::Request, resp| {
                            let headers = req
                                .headers()
                                .iter()
                                .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
                                .collect();
                            record.lock().unwrap().push(headers);
                            Ok(resp)
                        };
                    match tls {
                        None => {
                            let Ok(ws) =
                                tokio_tungstenite::accept_hdr_async(stream, callback).await
                            else {
                                return;
                            };
                            echo(ws).await;
                        }
                        Some(acceptor) => {
                            let Ok(stream) = acceptor.accept(stream).await else {
                                return;
                            };
                            let Ok(ws) =
                                tokio_tungstenite::accept_hdr_async(stream, callback).await
                            else {
                                return;
                            };
                            echo(ws).await;
                        }
                    }
                });
            }
        });
    });
    (format!("127.0.0.1:{}", addr.port()), seen)
}

async fn echo<S>(mut ws: tokio_tungstenite::WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(Ok(message)) = ws.next().await {
        if message.is_close() {
            let _ = ws.close(None).await;
            return;
        }
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            return;
        }
    }
}

fn tls_acceptor(dir: &TempDir) -> tokio_rustls::TlsAcceptor {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.0.join("server.pem"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.0.join("server.key")).unwrap();
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Opens `ws://…{path}` through the gateway with `token`, echoes `count` messages, closes.
async fn echo_through(base: &str, path: &str, token: &str, count: usize) {
    let url = format!("{}{path}", base.replace("http://", "ws://"));
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
            .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
        .headers_mut()
        .insert("x-identity-jwt", "forged.by.client".parse().unwrap());
    let (mut ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.status(), 101);
    for i in 0..count {
        let text = format!("message {i}");
        ws.send(Message::text(text.clone())).await.unwrap();
        let back = ws.next().await.unwrap().unwrap();
        assert_eq!(back.into_text().unwrap().as_str(), text);
    }
    ws.close(None).await.unwrap();
}

#[test]
fn a_websocket_behind_an_api_session_gets_the_mapped_jwt_and_echoes() {
    let dir = TempDir::new();
    make_pki(&dir.0);
    let (plain_addr, plain_seen) = websocket_backend(None);
    let (tls_addr, tls_seen) = websocket_backend(Some(tls_acceptor(&dir)));
    let idp_key = key("k1");
    let idp = Idp::start(&[&idp_key]);
    let apps = format!(
        r#"
[[application]]
name = "ws"
context_root = "/ws"
backend = "http://{plain_addr}"
session = "api"
identity_mapping = "id"
[[application]]
name = "wss"
context_root = "/wss"
backend = "https://{tls_addr}"
backend_ca = "ca.pem"
session = "api"
identity_mapping = "id"
"#
    );
    let gw = gateway(&dir, &idp.url, &apps);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let token = token(&idp_key, "alice");
    runtime.block_on(echo_through(&gw.base, "/ws/echo", &token, 1000));
    runtime.block_on(echo_through(&gw.base, "/wss/echo", &token, 100));
    for seen in [&plain_seen, &tls_seen] {
        let headers = seen.lock().unwrap()[0].clone();
        let identity: Vec<&str> = headers
            .iter()
            .filter(|(n, _)| n == "x-identity-jwt")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(identity.len(), 1, "{headers:?}");
        assert_ne!(identity[0], "forged.by.client");
        assert_eq!(verify_mapped(&gw.base, identity[0])["sub"], "alice");
    }
    // Without a token the upgrade is refused before any backend sees it.
    let before = plain_seen.lock().unwrap().len();
    let url = format!("{}/ws/echo", gw.base.replace("http://", "ws://"));
    let refused = runtime.block_on(tokio_tungstenite::connect_async(url));
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
        }
        other => panic!("expected a 401, got {other:?}"),
    }
    assert_eq!(plain_seen.lock().unwrap().len(), before);
    let metrics = metrics(&gw.base);
    assert!(
        metrics.contains("signet_gateway_upgrades_total{application=\"ws\"} 1"),
        "{metrics}"
    );
}

// ----- upstream key rotation -----

#[test]
fn an_issuer_that_rotates_its_key_is_followed_within_one_request() {
    let dir = TempDir::new();
    let old = key("old");
    let idp = Idp::start(&[&old]);
    let echo = common::serve_connections(|stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut out = stream;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            while line != "\r\n" {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
            }
            if out
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .is_err()
            {
                return;
            }
        }
    });
    let apps = format!(
        "[[application]]\nname = \"api\"\ncontext_root = \"/api\"\nbackend = \"{echo}\"\n\
         session = \"api\"\nidentity_mapping = \"id\"\n"
    );
    let gw = gateway(&dir, &idp.url, &apps);
    let http = common::client();
    let status = |token: &str| {
        let r = http
            .get(format!("{}/api/x", gw.base))
            .bearer_auth(token)
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.text().unwrap())
    };
    assert_eq!(status(&token(&old, "alice")).0, 200);
    assert_eq!(idp.fetches(), 1, "fetched once at start");

    // The issuer rotates: its new tokens carry kid "new". 64 arrive at once; every one is
    // accepted, and the JWK Set is fetched once for all of them.
    let new = key("new");
    idp.publish(&[&old, &new]);
    let fresh = token(&new, "bob");
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..64)
            .map(|_| {
                let fresh = fresh.clone();
                let base = gw.base.clone();
                scope.spawn(move || {
                    common::client()
                        .get(format!("{base}/api/x"))
                        .bearer_auth(&fresh)
                        .send()
                        .unwrap()
                        .status()
                        .as_u16()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    assert_eq!(idp.fetches(), 2, "one re-fetch for 64 requests");

    // The JWK Set URL goes down: a token with a kid nobody knows is a 401 naming the kid after
    // one (failed) fetch, and the known keys keep working.
    idp.down.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1100));
    let stray = key("stray");
    let (code, body) = status(&token(&stray, "eve"));
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("kid \\\"stray\\\""), "{body}");
    assert_eq!(idp.fetches(), 3);
    assert_eq!(status(&token(&old, "alice")).0, 200);
    assert_eq!(status(&token(&new, "bob")).0, 200);
    // Within the minimum interval another unknown kid causes no fetch at all.
    assert_eq!(status(&token(&stray, "eve")).0, 401);
    assert_eq!(idp.fetches(), 3);
}
