//! `signet gateway` access rules end to end (by group, network, method; rate limits with 429 and
//! `Retry-After`; per-rule metrics), and `signet gateway explain` compared, field for field, with
//! what a real backend received for the same request.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::gateway::{common_config, read_head, recording_backend, test_idp, Seen, IDP_ISSUER};
use common::{spawn_server_env, Child, TempDir, NOW};
use serde_json::{json, Value};

struct Setup {
    dir: TempDir,
    config: String,
    idp: jose::Signer,
    seen: Seen,
    _gateway: Child,
    base: String,
}

fn setup() -> Setup {
    let dir = TempDir::new();
    let idp = test_idp(&dir);
    let (backend_url, seen) = recording_backend();
    let config = dir.write(
        "gateway.toml",
        format!(
            r#"
[listen]
http = "127.0.0.1:0"
[http]
trusted_proxies = ["127.0.0.1/32"]
{common}
[[rule]]
name = "admins"
attribute = "groups"
contains = "admins"
[[rule]]
name = "office"
network = ["10.0.0.0/8"]
[[rule]]
name = "read-only"
methods = ["GET", "HEAD"]
[[rule]]
name = "admins-or-readers"
any = ["admins", "read-only"]
[[rule]]
name = "five-a-second"
rate_limit = {{ requests = 5, per_seconds = 1, by = "identity" }}
[[rule]]
name = "twenty-a-second"
rate_limit = {{ requests = 20, per_seconds = 1, by = "ip" }}
[[application]]
name = "admin"
context_root = "/admin"
backend = "{backend_url}"
session = "api"
identity_mapping = "id"
rules = ["admins"]
[[application]]
name = "office"
context_root = "/office"
backend = "{backend_url}"
session = "api"
identity_mapping = "id"
rules = ["office", "admins-or-readers"]
[[application]]
name = "limited"
context_root = "/limited"
backend = "{backend_url}"
session = "api"
rules = ["five-a-second"]
[[application]]
name = "open"
context_root = "/open"
backend = "{backend_url}"
session = "none"
rules = ["twenty-a-second"]
"#,
            common = common_config("idp-jwks.json")
        ),
    );
    let (gateway, base) = spawn_server_env(
        &["gateway", "--config", &config],
        "signet gateway listening on ",
        &[("SIGNET_NOW", NOW)],
    );
    Setup {
        dir,
        config,
        idp,
        seen,
        _gateway: gateway,
        base,
    }
}

fn token(idp: &jose::Signer, uid: &str, groups: &[&str]) -> String {
    let now: i64 = NOW.parse().unwrap();
    idp.sign_claims(&json!({
        "iss": IDP_ISSUER, "aud": "gateway", "iat": now, "exp": now + 300,
        "sub": uid, "uid": uid, "groups": groups
    }))
    .unwrap()
}

/// One request with exactly these header fields (after `Host`); the status, headers and body.
fn raw(
    base: &str,
    method: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    let addr = base.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (n, v) in fields {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut reader = BufReader::new(s);
    let (line, headers) = read_head(&mut reader).unwrap();
    let mut body = String::new();
    reader.read_to_string(&mut body).unwrap();
    let status = line.split(' ').nth(1).unwrap().parse().unwrap();
    (status, headers, body)
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

#[test]
fn rules_allow_and_deny_by_group_network_and_method() {
    let s = setup();
    let admin = token(&s.idp, "ada", &["staff", "admins"]);
    let user = token(&s.idp, "bob", &["staff"]);
    let auth = |t: &str| bearer(t);
    let (status, _, body) = raw(
        &s.base,
        "GET",
        "/admin/x",
        &[("Authorization", &auth(&admin))],
    );
    assert_eq!(status, 200, "{body}");
    let (status, headers, body) = raw(
        &s.base,
        "GET",
        "/admin/x",
        &[("Authorization", &auth(&user))],
    );
    assert_eq!(status, 403, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "access_denied");
    assert_eq!(
        body["message"],
        "rule \"admins\" denied the request: groups ([\"staff\"]) does not contain \"admins\""
    );
    assert!(headers
        .iter()
        .any(|(n, v)| n == "content-type" && v == "application/json"));
    // Case and dot segments do not get past a rule: the route is the same.
    let (status, _, _) = raw(
        &s.base,
        "GET",
        "/ADMIN/./x",
        &[("Authorization", &auth(&user))],
    );
    assert_eq!(status, 403);

    // Network: the peer (127.0.0.1) is a trusted proxy, so X-Forwarded-For names the client.
    let office = |xff: Option<&str>, method: &str, t: &str| {
        let mut fields = vec![("Authorization", bearer(t))];
        if let Some(x) = xff {
            fields.push(("X-Forwarded-For", x.to_owned()));
        }
        let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
        raw(&s.base, method, "/office/doc", &fields)
    };
    assert_eq!(office(Some("10.1.2.3"), "GET", &user).0, 200);
    let (status, _, body) = office(Some("203.0.113.7"), "GET", &user);
    assert_eq!(status, 403);
    assert!(
        body.contains("203.0.113.7 is in none of the rule's networks"),
        "{body}"
    );
    assert_eq!(
        office(None, "GET", &user).0,
        403,
        "127.0.0.1 is not in the office"
    );
    // A spoofed hop before an untrusted one is not believed.
    assert_eq!(office(Some("10.9.9.9, 198.51.100.1"), "GET", &user).0, 403);
    // Method: readers may only GET; admins anything.
    let (status, _, body) = office(Some("10.1.2.3"), "POST", &user);
    assert_eq!(status, 403);
    assert!(
        body.contains("rule \\\"admins-or-readers\\\" denied the request: no rule allows"),
        "{body}"
    );
    assert_eq!(office(Some("10.1.2.3"), "POST", &admin).0, 200);

    // Per-rule metrics.
    let (_, _, metrics) = raw(&s.base, "GET", "/pa/metrics", &[]);
    assert!(
        metrics.contains("signet_gateway_rule_decisions_total{rule=\"admins\",decision=\"deny\"} "),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "signet_gateway_rule_decisions_total{rule=\"office\",decision=\"allow\"} 3\n"
        ),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("signet_gateway_rule_decisions_total{rule=\"office\",decision=\"deny\"} 3\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "signet_gateway_rule_decisions_total{rule=\"read-only\",decision=\"deny\"} 1\n"
        ),
        "{metrics}"
    );
}

#[test]
fn a_rate_limit_answers_429_with_retry_after_and_holds_its_rate_across_workers() {
    let s = setup();
    let t = token(&s.idp, "carol", &[]);
    let other = token(&s.idp, "dave", &[]);
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..6 {
        let (status, headers, _) = raw(
            &s.base,
            "GET",
            "/limited/x",
            &[("Authorization", &bearer(&t))],
        );
        statuses.push(status);
        if status == 429 {
            retry_after = headers
                .iter()
                .find(|(n, _)| n == "retry-after")
                .map(|(_, v)| v.clone());
        }
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
    assert_eq!(retry_after.as_deref(), Some("1"));
    // Another identity has its own bucket.
    assert_eq!(
        raw(
            &s.base,
            "GET",
            "/limited/x",
            &[("Authorization", &bearer(&other))]
        )
        .0,
        200
    );
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        raw(
            &s.base,
            "GET",
            "/limited/x",
            &[("Authorization", &bearer(&t))]
        )
        .0,
        200
    );

    // 20 a second per address, burst 20: four clients on their own connections (spread over
    // the gateway's workers) for 3 s get 20 + 20 x elapsed between them, within 10 %.
    let base = s.base.clone();
    let start = Instant::now();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let base = base.clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                let (mut ok, mut limited) = (0u32, 0u32);
                while start.elapsed() < Duration::from_secs(3) {
                    match client
                        .get(format!("{base}/open/x"))
                        .send()
                        .unwrap()
                        .status()
                        .as_u16()
                    {
                        200 => ok += 1,
                        429 => limited += 1,
                        other => panic!("status {other}"),
                    }
                }
                (ok, limited)
            })
        })
        .collect();
    let (mut ok, mut limited) = (0, 0);
    for h in handles {
        let (o, l) = h.join().unwrap();
        ok += o;
        limited += l;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let expected = 20.0 + 20.0 * elapsed;
    eprintln!(
        "rate limit: {ok} allowed, {limited} limited in {elapsed:.2} s; expected {expected:.1}"
    );
    assert!(limited > 0, "the clients were faster than the limit");
    assert!(
        (f64::from(ok) - expected).abs() <= expected * 0.10,
        "{ok} allowed in {elapsed:.2} s; expected {expected:.0} ± 10 %"
    );
}

/// `signet gateway explain --json` for this configuration and request.
fn explain(s: &Setup, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["gateway", "explain", "--config", &s.config, "--json"];
    all.extend_from_slice(args);
    let run = common::signet_in(Some(&s.dir.0), &all, None, &[]);
    (
        run.code,
        serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{e}: {} {}", run.stdout, run.stderr)),
    )
}

#[test]
fn explain_matches_what_the_backend_received_field_for_field() {
    let s = setup();
    let admin = token(&s.idp, "ada", &["admins"]);
    let addr = s.base.strip_prefix("http://").unwrap().to_owned();
    let fields = [
        ("Authorization", bearer(&admin)),
        ("X-Request-Id", "r-1".to_owned()),
        ("Accept", "application/json".to_owned()),
        ("X-Forwarded-For", "10.4.4.4".to_owned()),
    ];
    let as_refs: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let (status, _, body) = raw(&s.base, "GET", "/office/a/../doc?x=1", &as_refs);
    assert_eq!(status, 200, "{body}");
    let (_, received) = s.seen.lock().unwrap().last().cloned().unwrap();
    let (line, _) = s.seen.lock().unwrap().last().cloned().unwrap();

    let url = format!("http://{addr}/office/a/../doc?x=1");
    let mut args = vec!["--token".to_owned(), admin.clone()];
    for (n, v) in &fields[1..] {
        args.push("-H".into());
        args.push(format!("{n}: {v}"));
    }
    args.push("GET".into());
    args.push(url.clone());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, report) = explain(&s, &args);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["route"]["application"], "office");
    let steps: Vec<(String, String)> = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().unwrap().to_owned(),
                r["decision"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("office", "allow"),
            ("admins-or-readers", "allow"),
            ("admins", "allow")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let b = &report["backend_request"];
    assert_eq!(
        format!("GET {} HTTP/1.1", b["target"].as_str().unwrap()),
        line
    );
    let explained: Vec<(String, String)> = b["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().to_owned(),
                h[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // Field for field, in order; the JWT differs only by its signature and jti.
    assert_eq!(
        explained.len(),
        received.len(),
        "{explained:?}\n{received:?}"
    );
    for (e, r) in explained.iter().zip(&received) {
        assert_eq!(e.0, r.0);
        if e.0 != "x-identity-jwt" {
            assert_eq!(e, r);
        }
    }
    let jwks = raw(&s.base, "GET", "/pa/authtoken/JWKS", &[]).2;
    let (keys, _) = jose::KeySet::from_jwks_json(jwks.as_bytes()).unwrap();
    let verifier = jose::Verifier::new(keys);
    let got = |fields: &[(String, String)]| {
        let jwt = &fields
            .iter()
            .find(|(n, _)| n == "x-identity-jwt")
            .unwrap()
            .1;
        let validation = jose::Validation {
            now: Some(NOW.parse().unwrap()),
            issuers: vec!["signet-gateway".into()],
            audiences: vec!["backend".into()],
            ..jose::Validation::default()
        };
        let mut c = verifier.verify_jwt(jwt, &validation).unwrap().claims;
        c.remove("jti");
        c
    };
    let mut claims = report["backend_jwt"]["claims"].as_object().unwrap().clone();
    claims.remove("jti");
    assert_eq!(
        got(&explained),
        claims,
        "explain signs with the keyset file's active key"
    );
    assert_eq!(got(&received), claims);

    // Denials: the same status as the gateway's answer, exit 1.
    let user = token(&s.idp, "bob", &[]);
    let (code, report) = explain(&s, &["--token", &user, "POST", &url]);
    assert_eq!(code, 1);
    assert_eq!(report["result"]["status"], 403);
    assert!(report.get("backend_request").is_none());
    let (status, _, _) = raw(
        &s.base,
        "POST",
        "/office/a/../doc?x=1",
        &[("Authorization", &bearer(&user))],
    );
    assert_eq!(status, 403);
    let (code, report) = explain(&s, &["GET", &format!("http://{addr}/admin/")]);
    assert_eq!((code, report["result"]["status"].clone()), (1, json!(401)));
    let (code, report) = explain(&s, &["GET", &format!("http://{addr}/nowhere")]);
    assert_eq!((code, report["result"]["status"].clone()), (1, json!(404)));
    // --attributes instead of a token.
    let (code, report) = explain(
        &s,
        &[
            "--attributes",
            r#"{"uid": "zoe", "groups": ["admins"]}"#,
            "DELETE",
            &format!("http://{addr}/admin/x"),
        ],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["backend_jwt"]["claims"]["sub"], "zoe");
    // Input errors exit 2.
    let run = common::signet_in(
        Some(&s.dir.0),
        &["gateway", "explain", "--config", &s.config, "get", &url],
        None,
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = common::signet_in(
        Some(&s.dir.0),
        &[
            "gateway",
            "explain",
            "--config",
            &s.config,
            "GET",
            "/relative",
        ],
        None,
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    // The text report names the rules and the fields.
    let run = common::signet_in(
        Some(&s.dir.0),
        &[
            "gateway",
            "explain",
            "--config",
            &s.config,
            "--token",
            &admin,
            "-H",
            "X-Forwarded-For: 10.4.4.4",
            "GET",
            &url,
        ],
        None,
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("allow         office: 10.4.4.4 is in 10.0.0.0/8"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  x-forwarded-proto: http\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn explain_puts_a_verified_client_certificate_chain_in_the_backend_jwt() {
    let dir = TempDir::new();
    common::pki::make_pki(&dir.0);
    let idp = test_idp(&dir);
    let chain = [
        std::fs::read_to_string(dir.0.join("client.pem")).unwrap(),
        std::fs::read_to_string(dir.0.join("int.pem")).unwrap(),
    ]
    .concat();
    dir.write("chain.pem", &chain);
    let config = dir.write(
        "gateway.toml",
        format!(
            r#"
[listen]
https = "127.0.0.1:0"
tls_cert = "server.pem"
tls_key = "server.key"
client_ca = "ca.pem"
[auth_token]
issuer = "signet-gateway"
keyset_file = "gateway-keys.json"
key_roll_enabled = false
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
max_depth = 3
[[application]]
name = "orders"
context_root = "/orders"
backend = "http://127.0.0.1:9"
session = "api"
identity_mapping = "with-cert"
"#
        ),
    );
    let t = token(&idp, "alice", &[]);
    let run = |args: &[&str]| {
        let mut all = vec!["gateway", "explain", "--config", &config, "--json"];
        all.extend_from_slice(args);
        common::signet_in(Some(&dir.0), &all, None, &[])
    };
    // No keyset file yet: explain does not create one.
    let r = run(&["--token", &t, "GET", "https://gw.test/orders/1"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("does not exist yet"), "{}", r.stderr);
    assert!(!dir.0.join("gateway-keys.json").exists());
    // A keyset file in the gateway's format, with a key of the test's own.
    let key = jose::Key::generate(jose::Algorithm::ES256).unwrap();
    let mut jwk = key.private_jwk().unwrap();
    jwk.insert("kid".into(), json!(key.thumbprint()));
    jwk.insert("alg".into(), json!("ES256"));
    jwk.insert("use".into(), json!("sig"));
    jwk.insert("not_before".into(), json!(0));
    dir.write("gateway-keys.json", json!({"keys": [jwk]}).to_string());

    let r = run(&[
        "--token",
        &t,
        "--client-cert",
        "chain.pem",
        "GET",
        "https://gw.test/orders/1",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    let x5c = &report["backend_jwt"]["claims"]["x5c"];
    // The verified path: leaf, intermediate, and the configured CA it ends at.
    assert_eq!(
        x5c,
        &json!([
            common::pki::pem_base64(&dir.0.join("client.pem")),
            common::pki::pem_base64(&dir.0.join("int.pem")),
            common::pki::pem_base64(&dir.0.join("ca.pem")),
        ])
    );
    assert_eq!(report["backend_jwt"]["header"]["kid"], key.thumbprint());
    let proto = report["backend_request"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0] == "x-forwarded-proto")
        .cloned();
    assert_eq!(proto, Some(json!(["x-forwarded-proto", "https"])));
    // A certificate the client CA did not issue: the handshake would fail.
    common::pki::make_forged_root(&dir.0);
    let r = run(&[
        "--token",
        &t,
        "--client-cert",
        "forged-root.pem",
        "GET",
        "https://gw.test/orders/1",
    ]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("does not verify against [listen] client_ca"),
        "{}",
        r.stderr
    );
}
