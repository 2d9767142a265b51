//! `signet gateway` web sessions that end and refresh, end to end: two gateway replicas sharing a
//! configuration (cookie secret, keyset directory, revocation file) in front of a recording
//! backend, with the small OpenID provider of `common::oidc` (it can change a user's claims,
//! issue short-lived ID tokens and rotating refresh tokens, and sign logout tokens).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::gateway::{field, recording_backend, Seen};
use common::oidc::{self, CLIENT_ID, CLIENT_SECRET};
use common::{spawn_server, Child, TempDir};
use serde_json::{json, Value};

struct Setup {
    _dir: TempDir,
    idp: oidc::Provider,
    seen: Seen,
    gateways: Vec<(Child, String)>,
    http: reqwest::blocking::Client,
}

fn setup(claims: Value, extra: &str) -> Setup {
    let dir = TempDir::new();
    let idp = oidc::start(claims);
    let (backend_url, seen) = recording_backend();
    let config = dir.write(
        "gateway.toml",
        format!(
            r#"
[listen]
http = "127.0.0.1:0"
[auth_token]
issuer = "signet-gateway"
keyset_file = "keys/gateway-keys.json"
[web_session]
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
cookie_name = "sid"
cookie_secret = "the replicas' shared cookie secret"
post_logout_redirect_uri = "https://app.example/bye"
{extra}
[[identity_mapping]]
name = "web"
header_name = "X-Identity-JWT"
audience = "portal"
exclusion_list = true
[[application]]
name = "portal"
context_root = "/portal"
backend = "{backend_url}"
session = "web"
identity_mapping = "web"
[[rule]]
name = "admins"
attribute = "groups"
contains = "admins"
rejection_redirect = "/portal/denied.html"
[[application]]
name = "console"
context_root = "/console"
backend = "{backend_url}"
session = "web"
identity_mapping = "web"
rules = ["admins"]
"#,
            issuer = idp.issuer
        ),
    );
    std::fs::create_dir_all(dir.0.join("keys")).unwrap();
    let gateways = (0..2)
        .map(|_| {
            spawn_server(
                &["gateway", "--config", &config, "--listen", "127.0.0.1:0"],
                "signet gateway listening on ",
            )
        })
        .collect();
    Setup {
        _dir: dir,
        idp,
        seen,
        gateways,
        http: common::client(),
    }
}

/// A browser's cookies, kept by hand (Set-Cookie with Max-Age=0 deletes).
#[derive(Default, Clone)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn take(&mut self, r: &reqwest::blocking::Response) {
        for v in r.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap();
            let (n, val) = pair.split_once('=').unwrap();
            if v.contains("Max-Age=0") {
                self.0.remove(n);
            } else {
                self.0.insert(n.to_owned(), val.to_owned());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl Setup {
    fn base(&self, i: usize) -> &str {
        &self.gateways[i].1
    }

    fn get(&self, i: usize, path: &str, jar: &mut Jar) -> reqwest::blocking::Response {
        let r = self
            .http
            .get(format!("{}{path}", self.base(i)))
            .header("cookie", jar.header())
            .send()
            .unwrap();
        jar.take(&r);
        r
    }

    /// Logs in through replica `i`; the browser's cookies.
    fn login(&self, i: usize) -> Jar {
        let mut jar = Jar::default();
        let r = self.get(i, "/portal/", &mut jar);
        assert_eq!(r.status(), 302);
        let authorize = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(authorize.starts_with(&format!("{}/authorize?", self.idp.issuer)));
        let r = self.http.get(&authorize).send().unwrap();
        assert_eq!(r.status(), 302);
        let callback = r.headers()["location"].to_str().unwrap().to_owned();
        let path = callback.strip_prefix(self.base(i)).unwrap().to_owned();
        let r = self.get(i, &path, &mut jar);
        assert_eq!(r.status(), 302, "{}", r.text().unwrap());
        assert!(jar.0.contains_key("sid"), "{:?}", jar.0.keys());
        jar
    }

    fn status(&self, i: usize, jar: &mut Jar) -> u16 {
        self.get(i, "/portal/", jar).status().as_u16()
    }

    /// The claims of the last backend JWT.
    fn last_claims(&self) -> serde_json::Map<String, Value> {
        let (_, seen) = self.seen.lock().unwrap().last().cloned().unwrap();
        let jwt = field(&seen, "x-identity-jwt").unwrap().to_owned();
        let jwks = self
            .http
            .get(format!("{}/pa/authtoken/JWKS", self.base(0)))
            .send()
            .unwrap()
            .bytes()
            .unwrap();
        common::verify_gateway_jwt(&jwks, &jwt, "portal")
    }

    fn backchannel(&self, i: usize, token: &str) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}/pa/oidc/backchannel_logout", self.base(i)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("logout_token={}", common::enc(token)))
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }
}

/// What the revocation list needs to reach another replica (it looks every 250 ms).
fn settle() {
    std::thread::sleep(Duration::from_millis(400));
}

#[test]
fn logout_goes_to_the_providers_end_session_and_the_cookie_dies_on_every_replica() {
    let s = setup(json!({"sub": "u1", "email": "u1@example.com"}), "");
    let mut jar = s.login(0);
    let kept = jar.clone();
    assert_eq!(s.status(1, &mut jar), 200, "replicas share the session");
    let r = s.get(0, "/pa/oidc/logout", &mut jar);
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{}/logout?id_token_hint=", s.idp.issuer)),
        "{location}"
    );
    assert!(location.contains(&format!("&client_id={CLIENT_ID}")));
    assert!(location.ends_with("&post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fbye"));
    // The hint is the session's ID token, signed by the provider for this client.
    let hint = location
        .split("id_token_hint=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let claims = common::payload_of(hint);
    assert_eq!(claims["sub"], "u1");
    assert_eq!(claims["aud"], CLIENT_ID);
    assert!(jar.0.is_empty(), "every cookie cleared: {:?}", jar.0);
    settle();
    let mut old = kept.clone();
    assert_eq!(
        s.status(1, &mut old),
        302,
        "the old cookie on the other replica"
    );
    let mut old = kept;
    assert_eq!(s.status(0, &mut old), 302);
}

#[test]
fn a_back_channel_logout_token_revokes_the_session_and_bad_ones_get_400() {
    let s = setup(json!({"sub": "u2"}), "");
    let mut jar = s.login(0);
    assert_eq!(s.status(1, &mut jar), 200);
    let idp = &s.idp;

    // Refused, each with 400: unsigned, wrong audience, with a nonce, without events, for
    // another issuer, signed by another key, and not a form at all.
    let unsigned = {
        let good = idp.logout_token(json!({"sid": "provider-session-1"}));
        let mut parts = good.split('.');
        let (_, payload) = (parts.next(), parts.next().unwrap());
        format!("{}.{payload}.", common::enc_b64url(br#"{"alg":"none"}"#))
    };
    let other_key = jose::Signer::new(
        jose::Key::generate(jose::Algorithm::ES256).unwrap(),
        jose::Algorithm::ES256,
    )
    .unwrap();
    let foreign = other_key
        .sign_claims(
            &json!({"iss": idp.issuer, "aud": CLIENT_ID, "iat": jose::time::now(),
            "jti": "x1", "sid": "provider-session-1",
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}}}),
        )
        .unwrap();
    let bad = [
        (unsigned, "not valid"),
        (
            idp.logout_token(json!({"sid": "provider-session-1", "aud": "someone-else"})),
            "not valid",
        ),
        (
            idp.logout_token(json!({"sid": "provider-session-1", "nonce": "n"})),
            "nonce",
        ),
        (
            idp.logout_token(json!({"sid": "provider-session-1", "events": null})),
            "events",
        ),
        (
            idp.logout_token(json!({"sid": "provider-session-1", "iss": "http://evil"})),
            "not valid",
        ),
        (
            idp.logout_token(json!({"sid": null})),
            "neither sid nor sub",
        ),
        (foreign, "not valid"),
    ];
    for (token, why) in &bad {
        let (status, body) = s.backchannel(0, token);
        assert_eq!(status, 400, "{body}");
        assert!(body.contains(why), "{why}: {body}");
        assert!(body.contains("\"error\":\"invalid_request\""), "{body}");
    }
    let r = s
        .http
        .post(format!("{}/pa/oidc/backchannel_logout", s.base(0)))
        .body("x=1")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        s.status(1, &mut jar.clone()),
        200,
        "no bad token ended the session"
    );

    // The provider's session (sid) ends: on both replicas.
    let good = idp.logout_token(json!({"sid": "provider-session-1"}));
    assert_eq!(s.backchannel(0, &good), (200, String::new()));
    settle();
    assert_eq!(s.status(1, &mut jar.clone()), 302);
    assert_eq!(s.status(0, &mut jar.clone()), 302);
    // The same token again is a replay.
    let (status, body) = s.backchannel(0, &good);
    assert_eq!(status, 400);
    assert!(body.contains("replay"), "{body}");

    // A token with only sub ends every session of that user begun before it.
    idp.state.lock().unwrap().sid = "provider-session-2".into();
    let mut jar = s.login(1);
    assert_eq!(s.status(0, &mut jar), 200);
    assert_eq!(
        s.backchannel(1, &idp.logout_token(json!({"sub": "u2"}))).0,
        200
    );
    settle();
    assert_eq!(s.status(0, &mut jar.clone()), 302);
    // A later login of the same user is not affected.
    std::thread::sleep(Duration::from_millis(1100));
    let mut later = s.login(0);
    assert_eq!(s.status(1, &mut later), 200);
}

#[test]
fn a_refresh_keeps_the_session_past_the_id_tokens_expiry_and_updates_attributes() {
    let s = setup(
        json!({"sub": "u3", "groups": ["staff"]}),
        "offline_access = true",
    );
    // ID tokens for 32 s: refreshed 30 s before expiry, so after 2 s.
    s.idp.state.lock().unwrap().id_ttl = 32;
    let mut jar = s.login(0);
    assert!(s.idp.state.lock().unwrap().scopes[0].ends_with(" offline_access"));
    assert_eq!(s.status(0, &mut jar), 200);
    assert_eq!(s.last_claims()["groups"], json!(["staff"]));
    let old = jar.clone();

    s.idp
        .state
        .lock()
        .unwrap()
        .claims
        .insert("groups".into(), json!(["staff", "admins"]));
    std::thread::sleep(Duration::from_millis(2500));
    // Eight requests at once with the expired tokens: one refresh for all of them.
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let http = s.http.clone();
            let url = format!("{}/portal/", s.base(0));
            let cookie = old.header();
            std::thread::spawn(move || {
                http.get(url)
                    .header("cookie", cookie)
                    .send()
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 200);
    }
    assert_eq!(
        s.idp.state.lock().unwrap().refreshes,
        1,
        "single flight per session"
    );
    assert_eq!(s.last_claims()["groups"], json!(["staff", "admins"]));
    // The refreshed session (new cookie, new refresh token) goes on.
    let r = s.get(0, "/portal/", &mut jar);
    assert_eq!(r.status(), 200);
    assert!(s.idp.state.lock().unwrap().refreshes <= 2);
    // The provider refuses the next refresh (its refresh tokens revoked): a new login.
    s.idp.state.lock().unwrap().live_refresh_tokens.clear();
    std::thread::sleep(Duration::from_millis(2500));
    let mut fresh = jar.clone();
    let r = s.get(1, "/portal/", &mut fresh);
    // Replica 1 may need its own refresh of the cookie it got; either way the provider says no.
    assert_eq!(r.status(), 302, "refresh failed: new login");
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with(&format!("{}/authorize?", s.idp.issuer)));
}

#[test]
fn a_session_too_large_for_one_cookie_is_split_and_never_reaches_the_backend() {
    let blob = "x".repeat(9000);
    let s = setup(json!({"sub": "u4", "blob": blob}), "");
    let mut jar = s.login(0);
    assert!(
        jar.0.contains_key("sid_1") && jar.0.contains_key("sid_2"),
        "{:?}",
        jar.0.keys()
    );
    assert!(jar.0.values().all(|v| v.len() < 4000));
    jar.0.insert("theme".into(), "dark".into());
    assert_eq!(s.status(1, &mut jar), 200);
    assert_eq!(s.last_claims()["blob"].as_str().unwrap().len(), 9000);
    let (_, seen) = s.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        field(&seen, "cookie"),
        Some("theme=dark"),
        "the gateway's cookies stay at the gateway"
    );
    // A missing chunk is no session.
    let mut broken = jar.clone();
    broken.0.remove("sid_1");
    assert_eq!(s.status(0, &mut broken), 302);
    // Logout clears every chunk.
    let r = s.get(0, "/pa/oidc/logout", &mut jar);
    assert_eq!(r.status(), 302);
    assert_eq!(jar.0.keys().collect::<Vec<_>>(), ["theme"]);
}

#[test]
fn a_web_application_denied_by_a_rule_redirects_to_its_rejection_page() {
    let s = setup(json!({"sub": "u5", "groups": ["staff"]}), "");
    let mut jar = s.login(0);
    let count = s.seen.lock().unwrap().len();
    let r = s.get(1, "/console/settings", &mut jar);
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "/portal/denied.html");
    assert_eq!(
        s.seen.lock().unwrap().len(),
        count,
        "the backend saw nothing"
    );
    // Once the provider puts the user in the group, a new login is let through.
    s.idp
        .state
        .lock()
        .unwrap()
        .claims
        .insert("groups".into(), json!(["staff", "admins"]));
    let mut jar = s.login(1);
    assert_eq!(s.get(0, "/console/settings", &mut jar).status(), 200);
    assert_eq!(s.last_claims()["groups"], json!(["staff", "admins"]));
}

#[test]
fn a_refreshed_id_token_for_another_subject_ends_the_session() {
    let s = setup(json!({"sub": "u6"}), "offline_access = true");
    s.idp.state.lock().unwrap().id_ttl = 32;
    let mut jar = s.login(0);
    assert_eq!(s.status(0, &mut jar), 200);
    s.idp
        .state
        .lock()
        .unwrap()
        .claims
        .insert("sub".into(), json!("somebody-else"));
    std::thread::sleep(Duration::from_millis(2500));
    let count = s.seen.lock().unwrap().len();
    let r = s.get(0, "/portal/", &mut jar);
    assert_eq!(
        r.status(),
        302,
        "a new login, not somebody else's attributes"
    );
    assert_eq!(s.idp.state.lock().unwrap().refreshes, 1);
    assert_eq!(s.seen.lock().unwrap().len(), count);
}

#[test]
fn a_logout_that_cannot_be_recorded_still_clears_the_cookies_and_says_so() {
    let s = setup(json!({"sub": "u7"}), "revocation_file = \"revoked\"");
    let mut jar = s.login(0);
    // A directory where the file should be: the list cannot be written.
    std::fs::create_dir(s._dir.0.join("revoked")).unwrap();
    let r = s.get(0, "/pa/oidc/logout", &mut jar);
    assert_eq!(r.status(), 500);
    let body = r.text().unwrap();
    assert!(
        body.contains("logout_failed") && body.contains("the cookies were cleared"),
        "{body}"
    );
    assert!(jar.0.is_empty(), "{:?}", jar.0);
}
