//! `signet gateway` web sessions end to end: the real `signet authz` as the OIDC provider, the
//! gateway in front of a recording backend, and a browser played by a client that follows no
//! redirects and keeps cookies by hand.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{spawn_server, spawn_server_env, Child, TempDir};
use serde_json::{json, Value};

/// A backend that records every request's headers and answers 200.
/// Every request's target and headers, in order.
type Seen = Arc<Mutex<Vec<Vec<(String, String)>>>>;

fn backend() -> (String, Seen) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let url = common::serve_connections(move |stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut out = stream;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let mut headers = vec![(
                "target".to_owned(),
                line.split(' ').nth(1).unwrap_or("").to_owned(),
            )];
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 {
                    return;
                }
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (n, v) = h.split_once(':').unwrap();
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
            record.lock().unwrap().push(headers);
            let body = "{\"ok\":true}";
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            if out.write_all(reply.as_bytes()).is_err() {
                return;
            }
        }
    });
    (url, seen)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const SECRET: &str = "web-app-secret-for-the-gateway-tests";

struct Web {
    config: String,
    _dir: TempDir,
    _authz: Child,
    _gateway: Child,
    authz: String,
    base: String,
    seen: Seen,
    http: reqwest::blocking::Client,
}

fn start() -> Web {
    start_with("", &[])
}

/// `extra` goes into `[web_session]`; `env` is the gateway's environment.
fn start_with(extra: &str, env: &[(&str, &str)]) -> Web {
    let dir = TempDir::new();
    let (backend_url, seen) = backend();
    // The gateway's port must be in the provider's redirect_uris before either starts; a port
    // taken in between is retried.
    for _ in 0..5 {
        let port = free_port();
        let callback = format!("http://127.0.0.1:{port}/pa/oidc/cb");
        let authz_config = dir.write(
            "authz.toml",
            format!(
                r#"
[[environment]]
id = "env-1"
region = "na"
[[environment.application]]
client_id = "gw-web"
name = "Gateway"
client_secret = "{SECRET}"
redirect_uris = ["{callback}"]
backchannel_logout_uri = "http://127.0.0.1:{port}/pa/oidc/backchannel_logout"
post_logout_redirect_uris = ["https://portal.example/bye"]
[[environment.application]]
client_id = "other-app"
client_secret = "{SECRET}"
redirect_uris = ["https://other.example/cb"]
[[environment.user]]
id = "user-3"
username = "miles"
given_name = "Miles"
family_name = "Davis"
email = "miles@example.com"
password = "Kind-of-Blue"
"#
            ),
        );
        let (authz, authz_base) = spawn_server(
            &[
                "authz",
                "--config",
                &authz_config,
                "--listen",
                "127.0.0.1:0",
            ],
            "signet authz listening on ",
        );
        let gateway_config = dir.write(
            "gateway.toml",
            format!(
                r#"
[listen]
http = "127.0.0.1:{port}"
[auth_token]
issuer = "signet-gateway"
keyset_file = "gateway-keys.json"
[web_session]
issuer = "{authz_base}/env-1/as"
client_id = "gw-web"
client_secret = "{SECRET}"
cookie_name = "sid"
idle_timeout_minutes = 30
session_timeout_minutes = 120
{extra}
[[identity_mapping]]
name = "web"
header_name = "X-Identity-JWT"
audience = "portal"
attribute_mappings = [
  {{ user_attribute_name = "sub", jwt_claim_name = "user_id", subject = true }},
  {{ user_attribute_name = "given_name", jwt_claim_name = "name.given" }},
  {{ user_attribute_name = "email", jwt_claim_name = "email" }},
]
[[application]]
name = "portal"
context_root = "/portal"
backend = "{backend_url}"
session = "web"
identity_mapping = "web"
"#
            ),
        );
        let started = std::panic::catch_unwind(|| {
            spawn_server_env(
                &["gateway", "--config", &gateway_config],
                "signet gateway listening on ",
                env,
            )
        });
        let Ok((gateway, base)) = started else {
            continue;
        };
        let http = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap();
        return Web {
            config: gateway_config,
            _dir: dir,
            _authz: authz,
            _gateway: gateway,
            authz: authz_base,
            base,
            seen,
            http,
        };
    }
    panic!("no free port for the gateway");
}

struct Reply {
    status: u16,
    location: String,
    cookies: Vec<String>,
    body: String,
}

fn send(req: reqwest::blocking::RequestBuilder) -> Reply {
    let r = req.send().unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let cookies = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    Reply {
        status,
        location,
        cookies,
        body: r.text().unwrap(),
    }
}

/// `name=value` of the Set-Cookie for `name`.
fn cookie_pair(r: &Reply, name: &str) -> String {
    r.cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", r.cookies))
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| common::form_decode(v))
}

impl Web {
    fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        send(req)
    }

    /// Logs in from `path`: returns the session cookie (`sid=…`) and where the callback sent
    /// the browser.
    fn login(&self, path: &str) -> (String, String) {
        let r = self.get(path, None);
        assert_eq!(r.status, 302, "{}", r.body);
        let authorize = r.location.clone();
        assert!(
            authorize.starts_with(&format!("{}/env-1/as/authorize?", self.authz)),
            "{authorize}"
        );
        assert_eq!(query_param(&authorize, "response_type").unwrap(), "code");
        assert_eq!(query_param(&authorize, "client_id").unwrap(), "gw-web");
        assert_eq!(
            query_param(&authorize, "redirect_uri").unwrap(),
            format!("{}/pa/oidc/cb", self.base)
        );
        assert_eq!(
            query_param(&authorize, "code_challenge_method").unwrap(),
            "S256"
        );
        assert_eq!(
            query_param(&authorize, "scope").unwrap(),
            "openid profile email"
        );
        let login = cookie_pair(&r, "sid_login");
        assert!(r.cookies[0].contains("HttpOnly") && r.cookies[0].contains("SameSite=Lax"));

        let r = send(self.http.get(&authorize));
        assert_eq!(r.status, 302, "{}", r.body);
        let flow = query_param(&r.location, "flowId").unwrap();
        let f: Value = serde_json::from_str(
            &send(
                self.http
                    .post(format!("{}/env-1/flows/{flow}", self.authz))
                    .header(
                        "content-type",
                        "application/vnd.pingidentity.usernamePassword.check+json",
                    )
                    .body(json!({"username": "miles", "password": "Kind-of-Blue"}).to_string()),
            )
            .body,
        )
        .unwrap();
        assert_eq!(f["status"], "COMPLETED", "{f}");
        let r = send(
            self.http
                .get(format!("{}/env-1/as/resume?flowId={flow}", self.authz)),
        );
        assert_eq!(r.status, 302, "{}", r.body);
        let callback = r.location.clone();
        assert!(
            callback.starts_with(&format!("{}/pa/oidc/cb?", self.base)),
            "{callback}"
        );
        let callback_path = callback.strip_prefix(&self.base).unwrap().to_owned();
        // The wrong state is refused.
        let forged = callback_path.replace("state=", "state=x");
        let r = self.get(&forged, Some(&login));
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains("state"), "{}", r.body);
        // Without the login cookie there is nothing to finish.
        let r = self.get(&callback_path, None);
        assert_eq!(r.status, 400, "{}", r.body);

        let r = self.get(&callback_path, Some(&login));
        assert_eq!(r.status, 302, "{}", r.body);
        let session = cookie_pair(&r, "sid");
        let set = r.cookies.iter().find(|c| c.starts_with("sid=")).unwrap();
        assert!(set.contains("Path=/") && set.contains("HttpOnly"), "{set}");
        assert!(!set.contains("Secure"), "plain HTTP: {set}");
        (session, r.location)
    }

    fn verify(&self, token: &str) -> serde_json::Map<String, Value> {
        let jwks = self.get("/pa/authtoken/JWKS", None).body;
        let (keys, _) = jose::KeySet::from_jwks_json(jwks.as_bytes()).unwrap();
        let validation = jose::Validation {
            issuers: vec!["signet-gateway".into()],
            audiences: vec!["portal".into()],
            ..jose::Validation::default()
        };
        jose::Verifier::new(keys)
            .verify_jwt(token, &validation)
            .unwrap()
            .claims
    }
}

#[test]
fn a_web_login_through_signet_authz_reaches_the_backend_with_the_mapped_jwt() {
    let w = start();
    let (session, back) = w.login("/portal/page?x=1");
    assert_eq!(back, "/portal/page?x=1");
    assert!(
        w.seen.lock().unwrap().is_empty(),
        "nothing reached the backend before the login"
    );

    let r = w.get("/portal/page?x=1", Some(&format!("{session}; theme=dark")));
    assert_eq!(r.status, 200, "{}", r.body);
    let seen = w.seen.lock().unwrap().last().cloned().unwrap();
    let header = |n: &str| seen.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(header("target").unwrap(), "/portal/page?x=1");
    // The gateway's cookie stays at the gateway; the application's own cookies pass.
    assert_eq!(header("cookie").as_deref(), Some("theme=dark"));
    let claims = w.verify(&header("x-identity-jwt").unwrap());
    assert_eq!(claims["sub"], "user-3");
    assert_eq!(claims["user_id"], "user-3");
    assert_eq!(claims["name"], json!({"given": "Miles"}));
    assert_eq!(claims["email"], "miles@example.com");

    // A tampered cookie is a new login, and never reaches the backend.
    let count = w.seen.lock().unwrap().len();
    let (name, value) = session.split_once('=').unwrap();
    let mut bytes = value.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{name}={}", String::from_utf8(bytes).unwrap());
    let r = w.get("/portal/page", Some(&tampered));
    assert_eq!(r.status, 302);
    assert!(r
        .location
        .starts_with(&format!("{}/env-1/as/authorize?", w.authz)));
    assert_eq!(w.seen.lock().unwrap().len(), count);

    // The login cookie does not open as a session.
    let r = w.get("/portal/page", None);
    let login = cookie_pair(&r, "sid_login").replacen("sid_login=", "sid=", 1);
    assert_eq!(w.get("/portal/page", Some(&login)).status, 302);

    // The gateway keeps serving: the session still works.
    assert_eq!(w.get("/portal/other", Some(&session)).status, 200);
}

/// Another gateway on the same configuration, at a fixed clock; returns it and its base URL.
fn replica(w: &Web, now: i64) -> (Child, String) {
    spawn_server_env(
        &["gateway", "--config", &w.config, "--listen", "127.0.0.1:0"],
        "signet gateway listening on ",
        &[("SIGNET_NOW", &now.to_string())],
    )
}

fn get_at(w: &Web, base: &str, path: &str, cookie: &str) -> Reply {
    send(w.http.get(format!("{base}{path}")).header("cookie", cookie))
}

#[test]
fn with_a_cookie_secret_replicas_share_sessions_and_enforce_idle_and_absolute_timeouts() {
    let t = jose::time::now();
    let clock = t.to_string();
    let w = start_with(
        "cookie_secret = \"a shared secret for the replicas\"",
        &[("SIGNET_NOW", &clock)],
    );
    let (session, _) = w.login("/portal/");
    assert_eq!(w.get("/portal/", Some(&session)).status, 200);

    // 10 minutes later, on another replica: valid, and last-seen is refreshed.
    let (_b, b) = replica(&w, t + 600);
    let r = get_at(&w, &b, "/portal/", &session);
    assert_eq!(r.status, 200, "{}", r.body);
    let refreshed = cookie_pair(&r, "sid");
    assert_ne!(refreshed, session);

    // 31 minutes after the login: the original cookie is idle (30 min); the refreshed one is not.
    let (_c, c) = replica(&w, t + 31 * 60);
    let r = get_at(&w, &c, "/portal/", &session);
    assert_eq!(r.status, 302, "{}", r.body);
    assert!(r.location.contains("/env-1/as/authorize?"));
    let r = get_at(&w, &c, "/portal/", &refreshed);
    assert_eq!(r.status, 200, "{}", r.body);
    // Less than a minute since last-seen: no new cookie.
    let (_d, d) = replica(&w, t + 600 + 30);
    let r = get_at(&w, &d, "/portal/", &refreshed);
    assert_eq!(r.status, 200);
    assert!(r.cookies.is_empty(), "{:?}", r.cookies);

    // Past session_timeout_minutes (120) every cookie means a new login, however fresh.
    let (_e, e) = replica(&w, t + 120 * 60);
    let r = get_at(&w, &e, "/portal/", &refreshed);
    assert_eq!(r.status, 302, "{}", r.body);
}

#[test]
fn logout_through_signet_authz_ends_the_session_on_every_replica() {
    let w = start_with("cookie_secret = \"a shared secret for the replicas\"", &[]);
    let (session, _) = w.login("/portal/");
    let (_b, b) = replica(&w, jose::time::now());
    assert_eq!(get_at(&w, &b, "/portal/", &session).status, 200);
    let before = w.seen.lock().unwrap().len();

    // The gateway clears every cookie and sends the browser to signet authz's signoff with the
    // session's ID token as the hint.
    let r = w.get("/pa/oidc/logout", Some(&session));
    assert_eq!(r.status, 302, "{}", r.body);
    assert!(
        r.location
            .starts_with(&format!("{}/env-1/as/signoff?id_token_hint=", w.authz)),
        "{}",
        r.location
    );
    let off = send(w.http.get(&r.location));
    assert_eq!(off.status, 200, "signet authz signs off: {}", off.body);
    assert!(
        r.cookies
            .iter()
            .any(|c| c.starts_with("sid=;") && c.contains("Max-Age=0")),
        "{:?}",
        r.cookies
    );
    assert!(r.cookies.iter().any(|c| c.starts_with("sid_login=;")));

    // The old cookie is refused on the other replica too (it reads the shared revocation file).
    std::thread::sleep(Duration::from_millis(400));
    let r = get_at(&w, &b, "/portal/", &session);
    assert_eq!(r.status, 302, "{}", r.body);
    assert!(
        r.location.contains("/env-1/as/authorize?"),
        "{}",
        r.location
    );
    assert_eq!(w.get("/portal/", Some(&session)).status, 302);
    assert_eq!(
        w.seen.lock().unwrap().len(),
        before,
        "nothing reached the backend"
    );

    // Logout without a session, and with a method it does not take.
    assert_eq!(w.get("/pa/oidc/logout", None).status, 302);
    let r = send(w.http.put(format!("{}/pa/oidc/logout", w.base)));
    assert_eq!(r.status, 405);
    // A new login works as before.
    let (fresh, _) = w.login("/portal/");
    assert_eq!(get_at(&w, &b, "/portal/", &fresh).status, 200);
}

#[test]
fn a_signoff_at_signet_authz_from_another_application_ends_the_gateway_session() {
    let w = start_with("cookie_secret = \"a shared secret for the replicas\"", &[]);
    let (session, _) = w.login("/portal/");
    assert_eq!(w.get("/portal/", Some(&session)).status, 200);
    // The same user signs on to another application of the environment (the same sign-on
    // session, sid), which then signs off at signet authz.
    let authorize = format!(
        "{}/env-1/as/authorize?client_id=other-app&response_type=code&response_mode=pi.flow&scope=openid",
        w.authz
    );
    let f: Value = serde_json::from_str(&send(w.http.get(&authorize)).body).unwrap();
    let flow = f["id"].as_str().unwrap().to_owned();
    let f: Value = serde_json::from_str(
        &send(
            w.http
                .post(format!("{}/env-1/flows/{flow}", w.authz))
                .header(
                    "content-type",
                    "application/vnd.pingidentity.usernamePassword.check+json",
                )
                .body(json!({"username": "miles", "password": "Kind-of-Blue"}).to_string()),
        )
        .body,
    )
    .unwrap();
    let code = f["authorizeResponse"]["code"].as_str().unwrap().to_owned();
    let t: Value = serde_json::from_str(
        &send(
            w.http
                .post(format!("{}/env-1/as/token", w.authz))
                .basic_auth("other-app", Some(SECRET))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "grant_type=authorization_code&code={}",
                    common::enc(&code)
                )),
        )
        .body,
    )
    .unwrap();
    let hint = t["id_token"].as_str().unwrap();
    let r = send(
        w.http
            .get(format!("{}/env-1/as/signoff?id_token_hint={hint}", w.authz)),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // signet authz told the gateway over the back channel: the gateway's session is over.
    let r = w.get("/portal/", Some(&session));
    assert_eq!(r.status, 302, "{}", r.body);
    assert!(
        r.location.contains("/env-1/as/authorize?"),
        "{}",
        r.location
    );
    // A wrong post_logout_redirect_uri is refused; a registered one is where the browser goes.
    let (again, _) = w.login("/portal/");
    let bad = send(w.http.get(format!(
        "{}/env-1/as/signoff?id_token_hint={hint}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F",
        w.authz
    )));
    assert_eq!(bad.status, 400, "{}", bad.body);
    let r = w.get("/pa/oidc/logout", Some(&again));
    let r = send(w.http.get(format!(
        "{}&post_logout_redirect_uri=https%3A%2F%2Fportal.example%2Fbye&state=s1",
        r.location
    )));
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.location, "https://portal.example/bye?state=s1");
}
