//! What the end-to-end tests share: running the real `signet` binary with a fixed clock, and
//! temporary directories that clean up after themselves.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod authz;
pub mod gateway;
pub mod oidc;
pub mod pki;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The clock every test runs at (`SIGNET_NOW`): 2025-11-24T16:00:00Z.
pub const NOW: &str = "1764000000";

/// The claims of PingOne's documented `jwtgen` command for a login_hint_token (seed page
/// "Create a login_hint_token JWT"): explicit iat 1300819380 and exp 1300819391 win over
/// `-e 3600`, so the token it makes expired in 2011.
pub const SEED_LOGIN_HINT_CLAIMS: &str = r#"{
"iss":"YOUR_CLIENT_ID",
"sub":"YOUR_USER_ID_OR_USERNAME",
"iat":1300819380,
"exp":1300819391,
"aud":"https://auth.pingone.com/YOUR_ENVIRONMENT_ID/as"
}"#;

/// The payload of a compact JWS as JSON, signature not checked (the tests check it apart where
/// it matters).
pub fn payload_of(token: &str) -> serde_json::Value {
    serde_json::from_slice(&jose::jws::decode(token).unwrap().payload).unwrap()
}

/// Percent-encodes a query or form value (RFC 3986 unreserved characters stay).
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A loopback listener whose connections are each served by `handle` on a thread of their own
/// (a test backend); returns `http://ADDR`.
pub fn serve_connections(handle: impl Fn(std::net::TcpStream) + Send + Sync + 'static) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::sync::Arc::new(handle);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let handle = handle.clone();
            std::thread::spawn(move || handle(stream));
        }
    });
    url
}

/// Verifies a backend JWT of `signet gateway` (issuer `signet-gateway`, `audience`) with the
/// gateway's JWK Set document; returns its claims.
pub fn verify_gateway_jwt(
    jwks: &[u8],
    jwt: &str,
    audience: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let (keys, _) = jose::KeySet::from_jwks_json(jwks).unwrap();
    jose::Verifier::new(keys)
        .verify_jwt(
            jwt,
            &jose::Validation {
                issuers: vec!["signet-gateway".into()],
                audiences: vec![audience.into()],
                ..jose::Validation::default()
            },
        )
        .unwrap()
        .claims
}

/// A blocking HTTP client for the server tests: 20 s timeout, redirects not followed.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `signet ARGS` in `dir` (or the current directory) with `SIGNET_NOW=NOW`, extra `env`,
/// and `stdin` (closed when None).
pub fn signet_in(
    dir: Option<&Path>,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_signet"));
    cmd.args(args)
        .env("SIGNET_NOW", NOW)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn signet");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

pub fn signet(args: &[&str]) -> Run {
    signet_in(None, args, None, &[])
}

/// Runs `signet ARGS`, asserts exit 0, returns stdout.
pub fn ok(args: &[&str]) -> String {
    let r = signet(args);
    assert_eq!(r.code, 0, "signet {args:?} failed: {}", r.stderr);
    r.stdout
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "signet-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    /// Writes a file and returns its path as a string (for command lines).
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, contents).unwrap();
        p.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A long-running `signet` child (a server), killed on drop.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `signet ARGS` on the real clock and waits for its stdout line starting with
/// `ready_prefix`; returns the child and the rest of that line.
pub fn spawn_server(args: &[&str], ready_prefix: &str) -> (Child, String) {
    spawn_server_env(args, ready_prefix, &[])
}

/// `spawn_server` with extra environment variables (e.g. a fixed `SIGNET_NOW`).
pub fn spawn_server_env(
    args: &[&str],
    ready_prefix: &str,
    env: &[(&str, &str)],
) -> (Child, String) {
    use std::io::BufRead;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_signet"));
    cmd.args(args)
        .env_remove("SIGNET_NOW")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = Child(cmd.spawn().expect("spawn signet"));
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).unwrap() == 0 {
            let mut err = String::new();
            if let Some(mut e) = child.0.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("signet {args:?} exited before it was ready: {err}");
        }
        if let Some(rest) = line.trim().strip_prefix(ready_prefix) {
            let rest = rest.to_owned();
            // Keep draining stdout so the child never blocks on a full pipe.
            std::thread::spawn(move || {
                let mut sink = String::new();
                while lines.read_line(&mut sink).unwrap_or(0) > 0 {
                    sink.clear();
                }
            });
            return (child, rest);
        }
    }
}

/// Decodes an `application/x-www-form-urlencoded` value (`+` is a space, `%XX` a byte).
pub fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Base64url without padding (a JWS segment).
pub fn enc_b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
