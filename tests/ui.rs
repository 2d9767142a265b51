//! The browser tools (`signet ui`, and `signet authz` at `/`): the JSON API's guards over
//! plain HTTP, and the three pages in headless Chromium (tests/browser/ui.mjs, driven by
//! playwright-core). Every token the browser makes is then checked here with the real binary:
//! `signet verify`, the printed command line run in a shell (same bytes), and the request object
//! taken through a transaction approval by `signet authz`.
//!
//! Needs Debian's chromium (or `CHROMIUM=/path`) and `npm ci --prefix tests/browser`; `.ci/run`
//! installs both. Set `SIGNET_SCREENSHOTS=DIR` to keep screenshots of the pages.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    client, enc, signet_in, spawn_server_env, Child, TempDir, NOW, SEED_LOGIN_HINT_CLAIMS,
};
use serde_json::{json, Value};

/// The secret of PingOne's documented jwtgen command.
const SEED_SECRET: &str = "YOUR_CLIENT_SECRET";
const EXAMPLE_AUD: &str = "https://auth.pingone.com/0f3c2a57-8d7b-4c1e-a9f0-6b2d8e4c1a90/as";
const HINT_SECRET: &str = "lh-secret-0123456789-0123456789-0123456789";
const AUTHZ_SECRET: &str = "app-1-secret-change-me-0123456789";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path))
        .unwrap()
        .trim()
        .to_owned()
}

fn start_ui() -> (Child, String) {
    let (child, url) = spawn_server_env(
        &["ui", "--listen", "127.0.0.1:0"],
        "signet ui listening on ",
        &[("SIGNET_NOW", NOW)],
    );
    (child, url.trim_end_matches('/').to_owned())
}

fn start_authz() -> (Child, String) {
    let config = root().join("examples/authz.toml");
    let (child, url) = spawn_server_env(
        &[
            "authz",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        "signet authz listening on ",
        &[("SIGNET_NOW", NOW)],
    );
    (child, url.trim_end_matches('/').to_owned())
}

/// POSTs `body` with `headers`; returns status, content type and body.
fn post(url: &str, body: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut req = client().post(url).body(body.to_owned());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().unwrap();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (r.status().as_u16(), ct, r.text().unwrap())
}

fn post_json(url: &str, body: &Value) -> (u16, Value) {
    let (status, _, text) = post(
        url,
        &body.to_string(),
        &[("content-type", "application/json")],
    );
    (status, serde_json::from_str(&text).unwrap())
}

#[test]
fn api_refuses_other_sites_and_bad_input_and_keeps_serving() {
    let (_ui, base) = start_ui();
    let decode = format!("{base}/api/decode");
    let token = read("examples/login_hint_token.jwt");
    let body = json!({ "token": token }).to_string();
    let json_ct = ("content-type", "application/json");

    let (status, ct, text) = post(&decode, &body, &[json_ct]);
    assert_eq!(status, 200, "{text}");
    assert!(ct.starts_with("application/json"), "{ct}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["payload"]["sub"], "charlie");
    assert_eq!(v["verified"], false);

    // Another site's page: a simple (no-preflight) form post, a foreign Origin, a rebinding
    // host name.
    let refused = [
        (vec![("content-type", "text/plain")], 415),
        (
            vec![("content-type", "application/x-www-form-urlencoded")],
            415,
        ),
        (vec![json_ct, ("origin", "http://evil.example")], 403),
        (vec![json_ct, ("origin", "null")], 403),
        (vec![json_ct, ("host", "rebind.evil.example")], 403),
    ];
    for (headers, want) in refused {
        let (status, ct, text) = post(&decode, &body, &headers);
        assert_eq!(status, want, "{headers:?}: {text}");
        assert!(ct.starts_with("application/json"), "{ct}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v["error"]["message"].as_str().unwrap().len() > 10, "{v}");
    }
    // Same origin is fine.
    let origin = base.clone();
    let (status, _, text) = post(&decode, &body, &[json_ct, ("origin", &origin)]);
    assert_eq!(status, 200, "{text}");

    // Garbage: a JSON error, never a crash.
    for garbage in [
        "",
        "{",
        "[]",
        "{\"token\": 5}",
        "{\"token\":\"a\",\"extra\":1}",
        "\u{0}\u{1}",
    ] {
        let (status, _, text) = post(&decode, garbage, &[json_ct]);
        assert_eq!(status, 400, "{garbage:?}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v["error"]["message"].is_string(), "{v}");
    }
    let (status, v) = post_json(&decode, &json!({"token": "eyJ.eyJ.x"}));
    assert_eq!((status, v["error"]["field"].as_str()), (400, Some("token")));
    let big = json!({ "token": "a".repeat(300 * 1024) }).to_string();
    let (status, _, _) = post(&decode, &big, &[json_ct]);
    assert_eq!(status, 413);
    for path in ["/api/login-hint", "/api/request-object", "/api/verify"] {
        let (status, v) = post_json(&format!("{base}{path}"), &json!({}));
        assert_eq!(status, 400, "{path}: {v}");
    }
    let (status, v) = post_json(
        &format!("{base}/api/verify"),
        &json!({"token": token, "method": "jwks_url", "jwks_url": "file:///etc/passwd"}),
    );
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("jwks_url"))
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("only http:// and https://"),
        "{v}"
    );
    let (status, v) = post_json(&format!("{base}/api/nope"), &json!({}));
    assert_eq!(status, 404, "{v}");

    // Still serving; the pages carry the headers that keep everything local.
    let r = client().get(format!("{base}/decoder")).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.text().unwrap().contains("JWT decoder"));

    // `signet authz` serves the same tools at `/`, and keeps its own JSON 404.
    let (_authz, authz) = start_authz();
    let r = client().get(format!("{authz}/")).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().unwrap().contains("Login hint token generator"));
    let (status, _, text) = post(&format!("{authz}/api/decode"), &body, &[json_ct]);
    assert_eq!(status, 200, "{text}");
    // A JWK Set URL is fetched by the server: authz's own RS256 set cannot verify an HS256
    // token, and the answer says so (200: a verdict, not a bad request).
    let (status, v) = post_json(
        &format!("{authz}/api/verify"),
        &json!({"token": token, "method": "jwks_url", "jwks_url": format!("{authz}/env-1/as/jwks")}),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["signature"]["valid"], false, "{v}");
    assert_eq!(
        v["signature"]["message"], "the key (RSA) cannot be used with alg HS256",
        "{v}"
    );
    let (status, v) = post_json(
        &format!("{authz}/api/verify"),
        &json!({"token": token, "method": "jwks_url", "jwks_url": format!("{authz}/env-1/as/nothing")}),
    );
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("jwks_url")),
        "{v}"
    );
    let r = client()
        .get(format!("{authz}/no/such/page"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let v: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
    assert_eq!(v["code"], "NOT_FOUND", "{v}");
}

#[test]
fn ui_listen_must_be_an_address() {
    let r = signet_in(None, &["ui", "--listen", "localhost"], None, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--listen \"localhost\""), "{}", r.stderr);
}

/// Runs `node tests/browser/ui.mjs INPUT` (at most 3 minutes) and returns its JSON line.
fn run_browser(input: &Value) -> Value {
    let modules = root().join("tests/browser/node_modules/playwright-core");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        modules.is_dir() && Path::new(&chromium).exists(),
        "the browser tests need Debian's chromium ({chromium}) and playwright-core \
         ({}): apt-get install chromium && npm ci --prefix tests/browser (.ci/run does both)",
        modules.display()
    );
    let dir = TempDir::new();
    let path = dir.write("input.json", input.to_string());
    let mut child = Command::new("node")
        .arg(root().join("tests/browser/ui.mjs"))
        .arg(&path)
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node (the browser tests need Node.js)");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(180) {
            let _ = child.kill();
            panic!("the browser test did not finish in 3 minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser test failed:\n{stderr}\n{stdout}"
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("browser test printed no result ({e}): {stdout}"))
}

/// Runs a command line the page printed, in a shell, with `signet` on the PATH and the
/// secret in `$CLIENT_SECRET`; returns its stdout.
fn run_printed(command: &str, secret: &str) -> String {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_signet"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("PATH", path)
        .env("SIGNET_NOW", NOW)
        .env("CLIENT_SECRET", secret)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn flow_post(authz: &str, flow: &str, action: &str, body: &Value) -> Value {
    let r = client()
        .post(format!("{authz}/env-1/flows/{flow}"))
        .header(
            "content-type",
            format!("application/vnd.pingidentity.{action}+json"),
        )
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    serde_json::from_str(&r.text().unwrap()).unwrap()
}

fn get_json(url: &str) -> (u16, Value) {
    let r = client().get(url).send().unwrap();
    let status = r.status().as_u16();
    (status, serde_json::from_str(&r.text().unwrap()).unwrap())
}

#[test]
fn browser_tools_in_headless_chromium() {
    let (_ui, ui) = start_ui();
    let (_authz, authz) = start_authz();
    let seed = signet_in(
        None,
        &[
            "jwtgen",
            "-a",
            "HS256",
            "-s",
            SEED_SECRET,
            "-e",
            "3600",
            "--claims",
            SEED_LOGIN_HINT_CLAIMS,
        ],
        None,
        &[],
    );
    assert_eq!(seed.code, 0, "{}", seed.stderr);
    // An ES256 token with a kid, an unregistered header member and a jku, and its public key.
    let dir = TempDir::new();
    let jwk = dir.write(
        "es.jwk",
        signet_in(None, &["keys", "generate", "--alg", "ES256"], None, &[]).stdout,
    );
    let es_public_pem = signet_in(
        None,
        &["keys", "public", "--format", "pem", &jwk],
        None,
        &[],
    );
    assert_eq!(es_public_pem.code, 0, "{}", es_public_pem.stderr);
    let es_token = signet_in(
        None,
        &[
            "sign",
            "--key",
            &jwk,
            "-c",
            "sub=alice",
            "--header",
            "x-custom=hello",
            "--header",
            "jku=https://attacker.example/jwks",
        ],
        None,
        &[],
    );
    assert_eq!(es_token.code, 0, "{}", es_token.stderr);
    let env_id = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    let screenshots = std::env::var("SIGNET_SCREENSHOTS").ok();
    let input = json!({
        "ui": ui,
        "authz": authz,
        "seed_token": seed.stdout.trim(),
        "seed_secret": SEED_SECRET,
        "example_token": read("examples/login_hint_token.jwt"),
        "example_secret": read("examples/client-secret.txt"),
        "example_aud": EXAMPLE_AUD,
        "es_token": es_token.stdout.trim(),
        "es_public_pem": es_public_pem.stdout,
        "hint": { "env": env_id, "client_id": "client-7", "secret": HINT_SECRET, "user": "charlie" },
        "request": { "env": "env-1", "client_id": "app-1", "secret": AUTHZ_SECRET, "remote_ip": "198.51.100.23" },
        "screenshots": screenshots,
    });
    let out = run_browser(&input);

    // The login_hint_token verifies with `signet verify`, and the printed command makes the
    // same bytes.
    let hint = &out["login_hint"];
    let token = hint["token"].as_str().unwrap();
    let aud = format!("https://auth.pingone.eu/{env_id}/as");
    let r = signet_in(
        None,
        &[
            "verify",
            "--secret",
            HINT_SECRET,
            "--aud",
            &aud,
            "--alg",
            "HS384",
            token,
        ],
        None,
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let claims: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(claims["iss"], "client-7");
    assert_eq!(claims["sub"], "charlie");
    assert_eq!(claims["exp"], NOW.parse::<i64>().unwrap() + 900);
    let wrong = signet_in(
        None,
        &["verify", "--secret", AUTHZ_SECRET, token],
        None,
        &[],
    );
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    let command = hint["command"].as_str().unwrap();
    assert!(command.starts_with("signet login-hint "), "{command}");
    assert_eq!(run_printed(command, HINT_SECRET), token);

    // The seed's transaction request object: same bytes from its command line, and
    // `signet authz` runs the approval it asks for.
    let ro = &out["request_object"];
    let request = ro["token"].as_str().unwrap();
    let command = ro["command"].as_str().unwrap();
    assert!(command.starts_with("signet request-object "), "{command}");
    assert_eq!(run_printed(command, AUTHZ_SECRET), request);
    let query = [
        ("client_id", "app-1"),
        ("response_type", "code"),
        ("response_mode", "pi.flow"),
        ("scope", "openid"),
        ("request", request),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", enc(v)))
    .collect::<Vec<_>>()
    .join("&");
    let (status, flow) = get_json(&format!("{authz}/env-1/as/authorize?{query}"));
    assert_eq!(status, 200, "{flow}");
    assert_eq!(flow["status"], "USERNAME_PASSWORD_REQUIRED", "{flow}");
    let id = flow["id"].as_str().unwrap();
    let f = flow_post(
        &authz,
        id,
        "usernamePassword.check",
        &json!({"username": "charlie", "password": "Bird-1920"}),
    );
    assert_eq!(f["status"], "OTP_REQUIRED", "{f}");
    let (_, sent) = get_json(&format!("{authz}/env-1/emulator/outbox?flowId={id}"));
    let message = sent[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(
            "Approve this transfer of 1,000,000 USD to Charlie Parker, by entering this OTP: "
        ),
        "{sent}"
    );
    assert_eq!(sent[0]["clientContext"], json!({"alert.color": "red"}));
}
