//! A small OpenID provider for the gateway's session tests, where the test must control what
//! `signet authz` cannot yet (changing a user's claims between logins and refreshes, short ID
//! token lifetimes, rotating refresh tokens, an `end_session_endpoint`, logout tokens).
//! It speaks real HTTP on 127.0.0.1 and signs real ES256 tokens; `authorize` approves at once.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufReader, Read, Write};
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

/// What the test sets and reads.
pub struct State {
    /// The user's claims (always with `sub`), in ID tokens and userinfo.
    pub claims: Map<String, Value>,
    /// The provider's session id put in ID tokens as `sid`.
    pub sid: String,
    /// ID token (and access token) lifetime, seconds.
    pub id_ttl: i64,
    /// Refresh-token grants answered (successful or not).
    pub refreshes: u32,
    /// Refresh tokens that are still good (rotated on every use).
    pub live_refresh_tokens: Vec<String>,
    /// The `end_session_endpoint` requests' queries.
    pub logouts: Vec<String>,
    /// Authorization requests' scopes.
    pub scopes: Vec<String>,
    codes: HashMap<String, String>,
    counter: u64,
}

pub struct Provider {
    pub issuer: String,
    pub signer: Arc<jose::Signer>,
    pub state: Arc<Mutex<State>>,
}

pub const CLIENT_ID: &str = "gw-client";
pub const CLIENT_SECRET: &str = "gw-client-secret";

fn now() -> i64 {
    jose::time::now()
}

impl Provider {
    /// A logout token for the gateway (`aud` = [`CLIENT_ID`]), with `claims` over the defaults
    /// (`iss`, `aud`, `iat`, `exp`, a fresh `jti`, the back-channel `events`); a `null` value
    /// removes a default.
    pub fn logout_token(&self, claims: Value) -> String {
        let mut all = json!({
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now(),
            "exp": now() + 120,
            "jti": format!("jti-{}", self.next()),
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        });
        for (k, v) in claims.as_object().unwrap() {
            if v.is_null() {
                all.as_object_mut().unwrap().remove(k);
            } else {
                all[k] = v.clone();
            }
        }
        self.signer.sign_claims(&all).unwrap()
    }

    fn next(&self) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.counter += 1;
        s.counter
    }
}

/// Starts the provider; `claims` are the user's.
pub fn start(claims: Value) -> Provider {
    let key = jose::Key::generate(jose::Algorithm::ES256).unwrap();
    let jwks = jose::KeySet::from(key.to_public().unwrap())
        .to_public_jwks()
        .to_string();
    let signer = Arc::new(jose::Signer::new(key, jose::Algorithm::ES256).unwrap());
    let state = Arc::new(Mutex::new(State {
        claims: claims.as_object().unwrap().clone(),
        sid: "provider-session-1".into(),
        id_ttl: 300,
        refreshes: 0,
        live_refresh_tokens: Vec::new(),
        logouts: Vec::new(),
        scopes: Vec::new(),
        codes: HashMap::new(),
        counter: 0,
    }));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let shared = Arc::new((issuer.clone(), signer.clone(), jwks, state.clone()));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let shared = shared.clone();
            std::thread::spawn(move || {
                let (issuer, signer, jwks, state) = &*shared;
                serve(stream, issuer, signer, jwks, state);
            });
        }
    });
    Provider {
        issuer,
        signer,
        state,
    }
}

fn form(text: &str) -> HashMap<String, String> {
    url_pairs(text).into_iter().collect()
}

fn url_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (super::form_decode(k), super::form_decode(v)))
        .collect()
}

fn serve(
    stream: std::net::TcpStream,
    issuer: &str,
    signer: &jose::Signer,
    jwks: &str,
    state: &Mutex<State>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    while let Some((line, fields)) = super::gateway::read_head(&mut reader) {
        let mut parts = line.split(' ');
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("/").to_owned();
        let length: usize =
            super::gateway::field(&fields, "content-length").map_or(0, |v| v.parse().unwrap());
        let authorization = super::gateway::field(&fields, "authorization")
            .unwrap_or_default()
            .to_owned();
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        let body = String::from_utf8(body).unwrap();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let (status, content_type, extra, text) = answer(
            &method,
            path,
            query,
            &body,
            &authorization,
            issuer,
            signer,
            jwks,
            state,
        );
        let reply = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}\r\n{text}",
            text.len()
        );
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn answer(
    method: &str,
    path: &str,
    query: &str,
    body: &str,
    authorization: &str,
    issuer: &str,
    signer: &jose::Signer,
    jwks: &str,
    state: &Mutex<State>,
) -> (&'static str, &'static str, String, String) {
    let json_ok = |v: Value| ("200 OK", "application/json", String::new(), v.to_string());
    let error = |e: &str| {
        (
            "400 Bad Request",
            "application/json",
            String::new(),
            json!({"error": e}).to_string(),
        )
    };
    match (method, path) {
        ("GET", "/.well-known/openid-configuration") => json_ok(json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "userinfo_endpoint": format!("{issuer}/userinfo"),
            "jwks_uri": format!("{issuer}/jwks"),
            "end_session_endpoint": format!("{issuer}/logout"),
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
        })),
        ("GET", "/jwks") => ("200 OK", "application/json", String::new(), jwks.to_owned()),
        ("GET", "/authorize") => {
            let q = form(query);
            let mut s = state.lock().unwrap();
            s.counter += 1;
            let code = format!("code-{}", s.counter);
            s.codes.insert(code.clone(), q["nonce"].clone());
            s.scopes.push(q["scope"].clone());
            let location = format!(
                "{}?code={code}&state={}",
                q["redirect_uri"],
                common_enc(&q["state"])
            );
            (
                "302 Found",
                "text/plain",
                format!("Location: {location}\r\n"),
                String::new(),
            )
        }
        ("POST", "/token") => {
            let expected = format!(
                "Basic {}",
                base64_encode(format!("{CLIENT_ID}:{CLIENT_SECRET}").as_bytes())
            );
            if authorization != expected {
                return error("invalid_client");
            }
            let f = form(body);
            let mut s = state.lock().unwrap();
            let nonce = match f.get("grant_type").map(String::as_str) {
                Some("authorization_code") => match s.codes.remove(&f["code"]) {
                    Some(nonce) => Some(nonce),
                    None => return error("invalid_grant"),
                },
                Some("refresh_token") => {
                    s.refreshes += 1;
                    let token = &f["refresh_token"];
                    let Some(i) = s.live_refresh_tokens.iter().position(|t| t == token) else {
                        return error("invalid_grant");
                    };
                    s.live_refresh_tokens.remove(i);
                    None
                }
                _ => return error("unsupported_grant_type"),
            };
            s.counter += 1;
            let refresh = format!("refresh-{}", s.counter);
            s.live_refresh_tokens.push(refresh.clone());
            let mut claims = s.claims.clone();
            claims.insert("iss".into(), json!(issuer));
            claims.insert("aud".into(), json!(CLIENT_ID));
            claims.insert("iat".into(), json!(now()));
            claims.insert("exp".into(), json!(now() + s.id_ttl));
            claims.insert("sid".into(), json!(s.sid));
            if let Some(nonce) = nonce {
                claims.insert("nonce".into(), json!(nonce));
            }
            let id_token = signer.sign_claims(&Value::Object(claims)).unwrap();
            json_ok(json!({
                "access_token": format!("access-{}", s.counter),
                "token_type": "Bearer",
                "expires_in": s.id_ttl,
                "id_token": id_token,
                "refresh_token": refresh,
            }))
        }
        ("GET", "/userinfo") => {
            let s = state.lock().unwrap();
            let mut info = Map::new();
            for (k, v) in &s.claims {
                info.insert(k.clone(), v.clone());
            }
            json_ok(Value::Object(info))
        }
        ("GET", "/logout") => {
            state.lock().unwrap().logouts.push(query.to_owned());
            ("200 OK", "text/html", String::new(), "<p>bye</p>".into())
        }
        _ => (
            "404 Not Found",
            "application/json",
            String::new(),
            "{}".into(),
        ),
    }
}

fn common_enc(s: &str) -> String {
    super::enc(s)
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
