//! What the end-to-end tests of `signet authz` share: the real server on an ephemeral port, HTTP
//! helpers that never wait long, and tokens made by the real `signet` commands.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{client, enc, signet_in, TempDir};
use serde_json::{json, Value};

pub const SECRET: &str = "app-1-secret-for-the-emulator-tests";
pub const SEED_MESSAGE_PREFIX: &str =
    "Approve this transfer of 1,000,000 USD to Charlie Parker, by entering this OTP: ";
/// RFC 7636 Appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub fn config(extra: &str) -> String {
    format!(
        r#"{extra}
[[environment]]
id = "env-1"
region = "na"
[[environment.application]]
client_id = "app-1"
name = "Test app"
client_secret = "{SECRET}"
redirect_uris = ["https://app.example/cb"]
[[environment.application]]
client_id = "app-off"
client_secret = "{SECRET}"
redirect_uris = ["https://app.example/cb"]
enabled = false
[[environment.user]]
id = "user-1"
username = "charlie"
given_name = "Charlie"
family_name = "Parker"
email = "charlie@example.com"
password = "Bird-1920"
devices = [{{ id = "dev-1", type = "SMS", phone = "+15550100" }}]
[[environment.user]]
id = "user-2"
username = "dizzy"
password = "Bebop"
devices = [{{ id = "dev-2", type = "MOBILE" }}]
[[environment.user]]
id = "user-3"
username = "miles"
given_name = "Miles"
email = "miles@example.com"
password = "Kind-of-Blue"
[[environment.user]]
id = "user-4"
username = "ella"
email = "ella@example.com"
devices = [{{ id = "dev-4a", type = "EMAIL" }}, {{ id = "dev-4b", type = "MOBILE" }}]
[[environment.template]]
name = "transaction"
delivery = "SMS"
body = "Approve this transfer of ${{sum}} ${{currency}} to ${{recipient}}, by entering this OTP: ${{OTP}}"
[[environment.template]]
name = "transaction"
delivery = "PUSH"
body = "Approve ${{sum}} ${{currency}} to ${{recipient}}?"
[[environment.template]]
name = "transaction"
variant = "high-value"
delivery = "SMS"
body = "HIGH VALUE ${{sum}} ${{currency}}: ${{OTP}}"
"#
    )
}

// --- the server ---

pub struct Server {
    pub child: Child,
    pub base: String,
    pub _dir: Option<TempDir>,
}

impl Server {
    /// Starts `signet authz --config PATH --listen 127.0.0.1:0` and waits (at most 60 s) for
    /// its "listening on" line.
    pub fn start_file(path: &str, dir: Option<TempDir>) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_signet"))
            .args(["authz", "--config", path, "--listen", "127.0.0.1:0"])
            .env_remove("SIGNET_NOW")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn signet authz");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("signet authz did not say where it listens");
            }
        };
        let base = line
            .strip_prefix("signet authz listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_owned();
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        Server {
            child,
            base,
            _dir: dir,
        }
    }

    pub fn start(config_text: &str) -> Server {
        let dir = TempDir::new();
        let path = dir.write("authz.toml", config_text);
        Server::start_file(&path, Some(dir))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn issuer(&self) -> String {
        self.url("/env-1/as")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// --- HTTP ---

pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    pub content_type: String,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The PingOne envelope's first detail: (code, target, message).
    pub fn detail(&self) -> (String, String, String) {
        let v = self.json();
        assert!(v["id"].is_string(), "no id: {v}");
        let d = &v["details"][0];
        (
            d["code"].as_str().unwrap_or_default().to_owned(),
            d["target"].as_str().unwrap_or_default().to_owned(),
            d["message"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

pub fn send(req: reqwest::blocking::RequestBuilder) -> Reply {
    let r = req.send().expect("HTTP request");
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let location = header("location");
    let content_type = header("content-type").unwrap_or_default();
    let status = r.status().as_u16();
    Reply {
        status,
        location,
        content_type,
        body: r.text().unwrap_or_default(),
    }
}

pub fn get(url: &str) -> Reply {
    send(client().get(url))
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn dec(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// The parameters after `sep` ('?' or '#') in a URL.
pub fn url_params(url: &str, sep: char) -> Vec<(String, String)> {
    let (_, q) = url.split_once(sep).unwrap_or((url, ""));
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (dec(k), dec(v))
        })
        .collect()
}

pub fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

pub fn post_form(url: &str, pairs: &[(&str, &str)], basic: Option<(&str, &str)>) -> Reply {
    let mut req = client()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs));
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    send(req)
}

pub fn action(s: &Server, flow_id: &str, name: &str, body: Value) -> Reply {
    send(
        client()
            .post(s.url(&format!("/env-1/flows/{flow_id}")))
            .header(
                "content-type",
                format!("application/vnd.pingidentity.{name}+json"),
            )
            .body(body.to_string()),
    )
}

pub fn authorize(s: &Server, pairs: &[(&str, &str)]) -> Reply {
    get(&format!("{}?{}", s.url("/env-1/as/authorize"), form(pairs)))
}

/// A pi.flow authorize request with `extra` parameters.
pub fn pi_flow(s: &Server, extra: &[(&str, &str)]) -> Reply {
    let mut pairs = vec![
        ("client_id", "app-1"),
        ("response_type", "code"),
        ("response_mode", "pi.flow"),
    ];
    pairs.extend_from_slice(extra);
    authorize(s, &pairs)
}

pub fn outbox(s: &Server, flow_id: &str) -> Vec<Value> {
    let r = get(&s.url(&format!("/env-1/emulator/outbox?flowId={flow_id}")));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json().as_array().cloned().unwrap()
}

pub fn redeem(s: &Server, code: &str, extra: &[(&str, &str)]) -> Reply {
    let mut pairs = vec![("grant_type", "authorization_code"), ("code", code)];
    pairs.extend_from_slice(extra);
    post_form(&s.url("/env-1/as/token"), &pairs, Some(("app-1", SECRET)))
}

// --- tokens, made by the real commands ---

pub fn now() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string()
}

/// Runs `signet ARGS` at the real time (or at `at`), asserts success, returns stdout trimmed.
pub fn make_at(args: &[&str], at: &str) -> String {
    let r = signet_in(None, args, None, &[("SIGNET_NOW", at)]);
    assert_eq!(r.code, 0, "signet {args:?}: {}", r.stderr);
    r.stdout.trim().to_owned()
}

pub fn make(args: &[&str]) -> String {
    make_at(args, &now())
}

/// `signet request-object` for env-1/app-1 with `extra` flags.
pub fn request_object(extra: &[&str]) -> String {
    let mut args = vec!["request-object", "--env", "env-1", "--client-id", "app-1"];
    if !extra.contains(&"--unsigned") && !extra.contains(&"--secret") {
        args.extend(["--secret", SECRET]);
    }
    args.extend_from_slice(extra);
    make(&args)
}

/// The seed's transaction request object.
pub fn seed_request_object(extra: &[&str]) -> String {
    let mut args = vec![
        "--template",
        "transaction",
        "--var",
        "sum=1,000,000",
        "--var",
        "currency=USD",
        "--var",
        "recipient=Charlie Parker",
        "--context",
        "alert.color=red",
    ];
    args.extend_from_slice(extra);
    request_object(&args)
}

pub fn login_hint(user: &str) -> String {
    make(&[
        "login-hint",
        "--env",
        "env-1",
        "--client-id",
        "app-1",
        "--secret",
        SECRET,
        "--user",
        user,
    ])
}

/// `signet verify --jwks {server}/env-1/as/jwks`: the verified claims.
pub fn verify_id_token(s: &Server, token: &str) -> Value {
    let jwks = s.url("/env-1/as/jwks");
    let iss = s.issuer();
    let r = signet_in(
        None,
        &[
            "verify", token, "--jwks", &jwks, "--iss", &iss, "--aud", "app-1", "--alg", "RS256",
        ],
        None,
        &[("SIGNET_NOW", &now())],
    );
    assert_eq!(r.code, 0, "signet verify: {}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

pub fn iso_millis(s: &str) -> bool {
    // 2021-07-20T22:51:31.743Z
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[10] == b'T' && s.as_bytes()[19] == b'.'
}

// --- the seed: transaction approval ---

/// Drives a pi.flow through username/password and the SMS passcode; returns the completed flow.
pub fn approve_by_sms(s: &Server, request: &str) -> (Value, Vec<Value>) {
    let r = pi_flow(
        s,
        &[("request", request), ("state", "st-1"), ("nonce", "n-1")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.content_type.starts_with("application/hal+json"),
        "{}",
        r.content_type
    );
    let f = r.json();
    assert_eq!(f["status"], "USERNAME_PASSWORD_REQUIRED");
    let id = f["id"].as_str().unwrap().to_owned();
    let r = action(
        s,
        &id,
        "usernamePassword.check",
        json!({"username": "charlie", "password": "Bird-1920"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let f = r.json();
    assert_eq!(f["status"], "OTP_REQUIRED");
    let sent = outbox(s, &id);
    assert_eq!(sent.len(), 1);
    let otp = sent[0]["otp"].as_str().unwrap().to_owned();
    let r = action(s, &id, "otp.check", json!({ "otp": otp }));
    assert_eq!(r.status, 200, "{}", r.body);
    (r.json(), sent)
}

/// A password sign-on for `username` to a code (the user must have no device).
pub fn password_sign_on(s: &Server, client_id: &str, username: &str, password: &str) -> Reply {
    let f = authorize(
        s,
        &[
            ("client_id", client_id),
            ("response_type", "code"),
            ("response_mode", "pi.flow"),
        ],
    );
    if f.status != 200 {
        return f;
    }
    let id = f.json()["id"].as_str().unwrap().to_owned();
    action(
        s,
        &id,
        "usernamePassword.check",
        json!({"username": username, "password": password}),
    )
}

/// A pi.flow authorize request with `pairs`, signed on as `miles` with his password; the
/// completed flow (its `authorizeResponse` holds what authorize returns).
pub fn miles_signs_on(s: &Server, pairs: &[(&str, &str)]) -> Value {
    let f = authorize(s, pairs);
    assert_eq!(f.status, 200, "{}", f.body);
    let done = action(
        s,
        f.json()["id"].as_str().unwrap(),
        "usernamePassword.check",
        json!({"username": "miles", "password": "Kind-of-Blue"}),
    )
    .json();
    assert_eq!(done["status"], "COMPLETED", "{done}");
    done
}
