//! `signet gateway` over HTTP/2: the HTTPS listener offers `h2` by ALPN and an opt-in `h2c`
//! listener takes cleartext HTTP/2 with prior knowledge. Real clients (curl) reach the same
//! pipeline as over HTTP/1.1: routing, the `api` session, the identity mapping and the field
//! rules, with HTTP/1.1 backends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::Command;

use common::gateway::{common_config, read_head, test_idp, upstream_token};
use common::pki::make_pki;
use common::{spawn_server, TempDir};
use serde_json::{json, Value};

/// An HTTP/1.1 backend that answers with the request's header fields as JSON.
fn echo_backend() -> String {
    common::serve_connections(|stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut out = stream;
        while let Some((line, fields)) = read_head(&mut reader) {
            let target = line.split(' ').nth(1).unwrap_or("").to_owned();
            let fields: Vec<Value> = fields.iter().map(|(n, v)| json!([n, v])).collect();
            let body = json!({"target": target, "fields": fields}).to_string();
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            if out.write_all(reply.as_bytes()).is_err() {
                return;
            }
        }
    })
}

/// Runs curl; returns (HTTP version, status, body).
fn curl(args: &[&str]) -> (String, u16, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "-w",
            "\n%{http_version} %{http_code}",
        ])
        .args(args)
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, last) = text.rsplit_once('\n').unwrap();
    let (version, status) = last.split_once(' ').unwrap();
    (version.to_owned(), status.parse().unwrap(), body.to_owned())
}

/// The values of field `name` the backend saw.
fn seen<'a>(body: &'a Value, name: &str) -> Vec<&'a str> {
    body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f[0] == name)
        .map(|f| f[1].as_str().unwrap())
        .collect()
}

#[test]
fn http2_over_tls_and_h2c_reach_the_same_pipeline() {
    let dir = TempDir::new();
    make_pki(&dir.0);
    let token = upstream_token(&test_idp(&dir), "alice");
    let backend = echo_backend();
    let common = common_config("idp-jwks.json");
    let config = |listen: &str| {
        dir.write(
            "gateway.toml",
            format!(
                r#"
[listen]
{listen}
tls_cert = "server.pem"
tls_key = "server.key"
[http2]
max_concurrent_streams = 50
{common}[[application]]
name = "api"
context_root = "/api"
backend = "{backend}"
session = "api"
identity_mapping = "id"
"#
            ),
        )
    };
    let tls_config = config("https = \"127.0.0.1:1\"");
    let (_tls, tls_base) = spawn_server(
        &[
            "gateway",
            "--config",
            &tls_config,
            "--listen-https",
            "127.0.0.1:0",
        ],
        "signet gateway listening on ",
    );
    let ca = dir.0.join("ca.pem").to_string_lossy().into_owned();
    let bearer = format!("Authorization: Bearer {token}");
    let jwks = curl(&["--cacert", &ca, &format!("{tls_base}/pa/authtoken/JWKS")]).2;

    // HTTPS: h2 by ALPN, and HTTP/1.1 for a client that asks for it; a client's identity header
    // in any case is replaced on both.
    for (flag, version, forged) in [
        ("--http2", "2", "x-identity-jwt: forged"),
        ("--http1.1", "1.1", "X-IDENTITY-jwt: forged"),
    ] {
        let (v, status, body) = curl(&[
            flag,
            "--cacert",
            &ca,
            "-H",
            &bearer,
            "-H",
            forged,
            &format!("{tls_base}/api/orders/./1?x=1"),
        ]);
        assert_eq!((v.as_str(), status), (version, 200), "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["target"], "/api/orders/1?x=1");
        let identity = seen(&body, "x-identity-jwt");
        assert_eq!(identity.len(), 1, "{body}");
        let claims = common::verify_gateway_jwt(jwks.as_bytes(), identity[0], "backend");
        assert_eq!(claims["sub"], "alice");
        assert_eq!(seen(&body, "x-forwarded-proto"), ["https"]);
        assert_eq!(seen(&body, "host"), [backend.trim_start_matches("http://")]);
    }
    // Without a token: the same JSON 401 over h2.
    let (v, status, body) = curl(&["--http2", "--cacert", &ca, &format!("{tls_base}/api/x")]);
    assert_eq!((v.as_str(), status), ("2", 401), "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "invalid_token"
    );

    // h2c: cleartext HTTP/2 with prior knowledge on its own listener.
    let h2c_only = dir.write(
        "h2c.toml",
        std::fs::read_to_string(&tls_config)
            .unwrap()
            .replace("https = \"127.0.0.1:1\"", "h2c = \"127.0.0.1:1\"")
            .replace("tls_cert = \"server.pem\"\ntls_key = \"server.key\"\n", ""),
    );
    let check = common::signet(&["gateway", "--check", &h2c_only]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    let (_h2c, h2c_addr) = common::gateway::start_h2c(&h2c_only);
    let h2c_base = format!("http://{h2c_addr}");
    let (v, status, body) = curl(&[
        "--http2-prior-knowledge",
        "-H",
        &bearer,
        "-H",
        "x-identity-jwt: forged",
        &format!("{h2c_base}/api/orders/2"),
    ]);
    assert_eq!((v.as_str(), status), ("2", 200), "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    let identity = seen(&body, "x-identity-jwt");
    assert_eq!(identity.len(), 1);
    assert_ne!(identity[0], "forged");
    assert_eq!(seen(&body, "x-forwarded-proto"), ["http"]);
    // A path that reads as another application is refused over h2 too.
    let (_, status, _) = curl(&[
        "--http2-prior-knowledge",
        "--path-as-is",
        &format!("{h2c_base}/api/../admin"),
    ]);
    assert_eq!(status, 404);
}

/// Starts `tests/grpc/backend.py` (over TLS with `tls` = (key, cert)); returns it and its port.
fn grpc_backend(base_file: &str, tls: Option<(&str, &str)>) -> (common::Child, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/grpc/backend.py");
    let mut args = vec![script, base_file];
    if let Some((key, cert)) = tls {
        args.extend([key, cert]);
    }
    let mut backend = Command::new("python3")
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3");
    let mut port = String::new();
    BufReader::new(backend.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let port = port.trim().to_owned();
    assert!(
        !port.is_empty(),
        "the gRPC backend did not start (is grpcio installed?)"
    );
    (common::Child(backend), port)
}

/// Runs `tests/grpc/client.py` against `target`; returns its JSON answer.
fn grpc_client(target: &str, token: &str, prefix: &str) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/grpc/client.py");
    let out = Command::new("python3")
        .args([script, target, token, prefix])
        .output()
        .expect("python3 (tests/setup.sh installs grpcio and pyjwt)");
    assert!(
        out.status.success(),
        "grpc client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A real gRPC client and server (Python's grpcio) through the gateway: h2c from the client,
/// `backend_protocol = "h2c"` to the backend, which verifies the mapped JWT with the gateway's
/// JWK Set (PyJWT). Unary, server-streaming and bidirectional calls; trailers (`grpc-status`)
/// pass through; the gateway's own refusals are gRPC statuses.
#[test]
fn grpc_calls_pass_through_with_the_mapped_jwt_and_gateway_errors_are_grpc_statuses() {
    let dir = TempDir::new();
    make_pki(&dir.0);
    let base_file = dir.write("gateway-base.txt", "");
    let (_backend, port) = grpc_backend(&base_file, None);
    let key = dir.0.join("server.key").to_string_lossy().into_owned();
    let cert = dir.0.join("server.pem").to_string_lossy().into_owned();
    let (_tls_backend, tls_port) = grpc_backend(&base_file, Some((&key, &cert)));
    let token = upstream_token(&test_idp(&dir), "alice");
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let common = common_config("idp-jwks.json");
    let config = dir.write(
        "gateway.toml",
        format!(
            r#"
[listen]
h2c = "127.0.0.1:1"
{common}[[application]]
name = "echo"
context_root = "/test.Echo"
backend = "http://127.0.0.1:{port}"
backend_protocol = "h2c"
session = "api"
identity_mapping = "id"
[[application]]
name = "echo-tls"
context_root = "/tls.Echo"
backend = "https://127.0.0.1:{tls_port}"
backend_protocol = "h2"
backend_ca = "ca.pem"
session = "api"
identity_mapping = "id"
[[application]]
name = "down"
context_root = "/down.Echo"
backend = "http://127.0.0.1:{down}"
backend_protocol = "h2c"
session = "none"
"#
        ),
    );
    let check = common::signet(&["gateway", "--check", &config]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    let (_gateway, target) = common::gateway::start_h2c(&config);
    // The backend fetches the JWK Set with urllib (HTTP/1.1): a second gateway on the same
    // configuration and keyset file, with a plain listener, serves the same keys.
    let (_plain, plain_base) = spawn_server(
        &["gateway", "--config", &config, "--listen", "127.0.0.1:0"],
        "signet gateway listening on ",
    );
    std::fs::write(&base_file, &plain_base).unwrap();

    let answer = grpc_client(&target, &token, "/test.Echo");
    assert_eq!(answer["unary"], "hello alice: world", "{answer}");
    assert_eq!(
        answer["stream"],
        json!(["alice 0", "alice 1", "alice 2", "alice 3", "alice 4"])
    );
    assert_eq!(
        answer["bidi"],
        json!(["alice echoes a", "alice echoes b", "alice echoes c"])
    );
    // The same over TLS to the backend (backend_protocol = "h2", ALPN h2, the private CA).
    let answer = grpc_client(&target, &token, "/tls.Echo");
    assert_eq!(answer["unary"], "hello alice: world", "{answer}");
    assert_eq!(answer["stream"].as_array().unwrap().len(), 5, "{answer}");
    assert_eq!(answer["bidi"].as_array().unwrap().len(), 3, "{answer}");
    // No token: the gateway answers UNAUTHENTICATED itself, not a JSON body.
    let answer = grpc_client(&target, "", "/test.Echo");
    assert_eq!(answer["error"]["code"], "UNAUTHENTICATED", "{answer}");
    assert_eq!(answer["error"]["details"], "a bearer token is required");
    // A backend that is down: UNAVAILABLE, naming the application.
    let answer = grpc_client(&target, &token, "/down.Echo");
    assert_eq!(answer["error"]["code"], "UNAVAILABLE", "{answer}");
    assert!(
        answer["error"]["details"]
            .as_str()
            .unwrap()
            .contains("application \"down\""),
        "{answer}"
    );
}
