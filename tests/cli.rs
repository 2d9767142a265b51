//! End-to-end tests of `signet sign | decode | verify | keys` through the real binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use common::{ok, signet, signet_in, TempDir};

use serde_json::{json, Value};

const SECRET: &str = "PingSecret-2b7e151628aed2a6abf7158809cf4f3c";
const ALGS: [&str; 14] = [
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "ES512", "ES256K", "EdDSA",
];

fn claims_of(token: &str) -> Value {
    let out = ok(&["decode", "--json", token]);
    serde_json::from_str::<Value>(&out).unwrap()["payload"].clone()
}

#[test]
fn every_algorithm_round_trips_with_jwk_and_pem_keys() {
    let dir = TempDir::new();
    for alg in ALGS {
        let jwk = ok(&["keys", "generate", "--alg", alg]);
        let jwk_path = dir.write(&format!("{alg}.jwk"), &jwk);
        let token = ok(&[
            "sign",
            "--alg",
            alg,
            "--key",
            &jwk_path,
            "--iss",
            "me",
            "--aud",
            "you",
            "-c",
            "n=5",
            "--expires-in",
            "15m",
        ]);
        let token = token.trim();
        let claims = claims_of(token);
        assert_eq!(
            claims,
            json!({"iat": 1764000000, "exp": 1764000900, "iss": "me", "aud": "you", "n": 5}),
            "{alg}"
        );
        // The kid is the RFC 7638 thumbprint, and it is in the header.
        let thumb = ok(&["keys", "thumbprint", &jwk_path]);
        let header: Value = serde_json::from_str::<Value>(&ok(&["decode", "--json", token]))
            .unwrap()["header"]
            .clone();
        assert_eq!(header["kid"], json!(thumb.trim()), "{alg}");
        assert_eq!(header["alg"], json!(alg));
        // Verify with the private key, the public JWK and (asymmetric) the public PEM.
        let verified: Value =
            serde_json::from_str(&ok(&["verify", token, "--key", &jwk_path, "--aud", "you"]))
                .unwrap();
        assert_eq!(verified, claims);
        if !alg.starts_with("HS") {
            let public = dir.write(
                &format!("{alg}.pub.jwk"),
                ok(&["keys", "public", &jwk_path]),
            );
            let pem = dir.write(
                &format!("{alg}.pub.pem"),
                ok(&["keys", "public", &jwk_path, "--format", "pem"]),
            );
            ok(&["verify", token, "--key", &public]);
            ok(&["verify", token, "--key", &pem]);
            // The public key cannot sign.
            assert_eq!(signet(&["sign", "--alg", alg, "--key", &public]).code, 2);
            // PEM private keys work too, and sign → verify across formats.
            let pem_priv = dir.write(
                &format!("{alg}.pem"),
                ok(&["keys", "generate", "--alg", alg, "--format", "pem"]),
            );
            let t2 = ok(&["sign", "--alg", alg, "--key", &pem_priv]);
            ok(&["verify", t2.trim(), "--key", &pem_priv]);
            assert_eq!(
                signet(&["verify", t2.trim(), "--key", &pem]).code,
                1,
                "{alg}: another key must not verify"
            );
        }
        // A tampered payload fails with exit 1.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = parts[1].replacen('e', "f", 1);
        let r = signet(&["verify", &parts.join("."), "--key", &jwk_path]);
        assert_eq!(r.code, 1, "{alg}: {}", r.stderr);
    }
}

#[test]
fn decode_json_feeds_back_into_sign() {
    let dir = TempDir::new();
    let token = ok(&[
        "sign",
        "-s",
        SECRET,
        "--claims",
        r#"{"z":1,"a":{"b":[1,2]},"m":"x"}"#,
        "--header",
        "x-custom=hello",
        "--kid",
        "k1",
    ]);
    let decoded = ok(&["decode", "--json", token.trim()]);
    let file = dir.write("decoded.json", &decoded);
    let again = ok(&["sign", "-s", SECRET, "--claims", &format!("@{file}")]);
    assert_eq!(
        again, token,
        "same claims, same header, same clock: same token"
    );
    // Also through stdin.
    let r = signet_in(
        None,
        &["sign", "-s", SECRET, "--claims", "-"],
        Some(&decoded),
        &[],
    );
    assert_eq!(r.stdout, token);
}

#[test]
fn claim_order_and_precedence() {
    let token = ok(&[
        "sign",
        "-s",
        SECRET,
        "--claims",
        r#"{"z":1,"iss":"file"}"#,
        "--iss",
        "flag",
        "-c",
        "z=2",
        "-c",
        "u=https://x/?a=b",
    ]);
    let payload = token.split('.').nth(1).unwrap();
    let text = String::from_utf8(base64_url_decode(payload)).unwrap();
    assert_eq!(
        text,
        r#"{"iat":1764000000,"z":2,"iss":"flag","u":"https://x/?a=b"}"#
    );
}

fn base64_url_decode(s: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = alphabet.iter().position(|&a| a == c).unwrap() as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

#[test]
fn decode_shows_everything_and_says_not_verified() {
    let token = ok(&[
        "sign",
        "-s",
        SECRET,
        "--header",
        "x5u=https://evil.example/k",
        "--header",
        "weird={\"a\":1}",
        "--expires-in",
        "1h",
    ]);
    let out = ok(&["decode", token.trim()]);
    assert!(
        out.contains("x5u: \"https://evil.example/k\"  <- never used as a key by Signet"),
        "{out}"
    );
    assert!(out.contains("weird: {\"a\":1}"), "{out}");
    assert!(
        out.contains("exp: 1764003600  = 2025-11-24T17:00:00Z (expires in 1 h)"),
        "{out}"
    );
    assert!(
        out.contains("iat: 1764000000  = 2025-11-24T16:00:00Z"),
        "{out}"
    );
    assert!(out.contains("signature NOT verified"), "{out}");
    // From stdin, with a Bearer prefix and a newline.
    let r = signet_in(None, &["decode"], Some(&format!("Bearer {token}\n")), &[]);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, out);
    // Garbage is an invalid token: exit 1 with a reason.
    let r = signet(&["decode", "not.a-token"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("exactly 3 segments"), "{}", r.stderr);
}

#[test]
fn verify_errors_name_what_is_wrong() {
    let token = ok(&["sign", "-s", SECRET, "--expires-in", "60", "--aud", "a"]);
    let later = [("SIGNET_NOW", "1764010920")]; // 3 h after exp
    let r = signet_in(None, &["verify", token.trim(), "-s", SECRET], None, &later);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("exp is in the past (expired 3 h ago)"),
        "{}",
        r.stderr
    );
    let r = signet(&["verify", token.trim(), "-s", SECRET, "--aud", "b"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("aud is \"a\", expected \"b\""),
        "{}",
        r.stderr
    );
    let r = signet(&[
        "verify",
        token.trim(),
        "-s",
        SECRET,
        "--leeway",
        "0",
        "--require",
        "jti",
    ]);
    assert!(
        r.stderr.contains("required claim jti is missing"),
        "{}",
        r.stderr
    );
    // crit naming an extension nobody understands.
    let crit = ok(&[
        "sign",
        "-s",
        SECRET,
        "--header",
        r#"crit=["x"]"#,
        "--header",
        "x=1",
    ]);
    let r = signet(&["verify", crit.trim(), "-s", SECRET]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("header member crit lists \"x\", which is not understood"),
        "{}",
        r.stderr
    );
    // An RSA key never verifies HS256.
    let dir = TempDir::new();
    let rsa = dir.write("rsa.jwk", ok(&["keys", "generate", "--alg", "RS256"]));
    let r = signet(&["verify", token.trim(), "--key", &rsa]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("cannot be used with alg HS256"),
        "{}",
        r.stderr
    );
    // --alg restricts.
    let r = signet(&["verify", token.trim(), "-s", SECRET, "--alg", "HS512"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
}

#[test]
fn usage_errors_exit_2() {
    let r = signet(&["verify", "a.b.c", "--key", "/nonexistent/key.pem"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cannot read \"/nonexistent/key.pem\""),
        "{}",
        r.stderr
    );
    assert_eq!(signet(&["sign", "-s", SECRET, "-c", "novalue"]).code, 2);
    assert_eq!(
        signet(&["sign", "-s", SECRET, "--expires-in", "1y"]).code,
        2
    );
    assert_eq!(signet(&["sign", "-s", SECRET, "--alg", "XS256"]).code, 2);
    assert_eq!(signet(&["sign", "-s", SECRET, "--claims", "[1]"]).code, 2);
    assert_eq!(
        signet(&["sign", "-s", SECRET, "--claims", r#"{"a":1,"a":2}"#]).code,
        2
    );
    assert_eq!(signet(&["sign", "--no-such-flag"]).code, 2);
    assert_eq!(
        signet(&["verify", "a.b.c", "-s", "env:SIGNET_TEST_UNSET_VARIABLE"]).code,
        2
    );
    // none needs the loud opt-in, and then nothing verifies it.
    let r = signet(&["sign", "--alg", "none"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--allow-insecure-none"));
    let none = ok(&[
        "sign",
        "--alg",
        "none",
        "--allow-insecure-none",
        "--sub",
        "x",
    ]);
    assert!(none.trim().ends_with('.'));
    let r = signet(&["verify", none.trim(), "-s", SECRET]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("alg \"none\""), "{}", r.stderr);
}

/// The attack: a trusted "Ed25519 key" that is the identity point verifies the fixed signature
/// R = identity, S = 0 over any claims. The key is refused at load (exit 2), alone or in a set.
#[test]
fn degenerate_ed25519_keys_are_refused_not_trusted() {
    let dir = TempDir::new();
    let identity =
        r#"{"kty":"OKP","crv":"Ed25519","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#;
    let key = dir.write("identity.jwk", identity);
    let set = dir.write("set.json", format!(r#"{{"keys":[{identity}]}}"#));
    // {"alg":"EdDSA"} . {"sub":"admin","role":"root"} . (01 00…00 || 00…00)
    let mut signature = [0u8; 64];
    signature[0] = 1;
    let token = format!(
        "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJyb290In0.{}",
        jose::b64::encode(signature)
    );
    let r = signet(&["verify", &token, "--key", &key]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("Ed25519 public key is a point of small order"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "no claims are printed: {}", r.stdout);
    let r = signet(&["verify", &token, "--jwks", &set]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.is_empty(), "no claims are printed: {}", r.stdout);
    assert!(r.stderr.contains("small order"), "{}", r.stderr);
}

#[test]
fn secrets_from_file_and_env_and_short_secret_warning() {
    let dir = TempDir::new();
    let file = dir.write("secret.txt", format!("{SECRET}\n"));
    let a = ok(&["sign", "-s", &format!("@{file}")]);
    let r = signet_in(
        None,
        &["sign", "-s", "env:SIGNET_TEST_SECRET"],
        None,
        &[("SIGNET_TEST_SECRET", SECRET)],
    );
    assert_eq!(r.stdout, a);
    assert_eq!(
        ok(&["sign", "-s", SECRET]),
        a,
        "@file drops the trailing newline"
    );
    let r = signet(&["sign", "-s", "short"]);
    assert_eq!(r.code, 0);
    assert!(r.stderr.contains("RFC 7518 §3.2"), "{}", r.stderr);
    assert!(signet(&["sign", "-s", SECRET]).stderr.is_empty());
}

#[test]
fn raw_mode_verifies_non_json_payloads() {
    // RFC 8037 A.4: an Ed25519 JWS whose payload is plain text.
    let vectors: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/rfc8037.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let dir = TempDir::new();
    let jwk = dir.write("ed.jwk", vectors["A.2"]["jwk"].to_string());
    let token = vectors["A.4"]["jws"].as_str().unwrap();
    let r = signet(&["verify", "--raw", token, "--key", &jwk]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "Example of Ed25519 signing");
    // Without --raw it is not a JWT.
    let r = signet(&["verify", token, "--key", &jwk]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("raw mode"), "{}", r.stderr);
}

#[test]
fn der_keys_are_accepted() {
    let dir = TempDir::new();
    let pem = ok(&["keys", "generate", "--alg", "ES256", "--format", "pem"]);
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = std_b64_decode(&body);
    let der_path = dir.write("key.der", der);
    let token = ok(&["sign", "--alg", "ES256", "--key", &der_path]);
    ok(&["verify", token.trim(), "--key", &der_path]);
}

fn std_b64_decode(s: &str) -> Vec<u8> {
    base64_url_decode(&s.replace('+', "-").replace('/', "_").replace('=', ""))
}

/// A one-thread HTTP server on 127.0.0.1 that answers each path with a fixed body, then stops
/// after `requests` requests (bounded, so the test always ends).
fn serve(routes: Vec<(String, String)>, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut s) = stream else { continue };
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let path = req.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let (status, body) = routes
                .iter()
                .find(|(p, _)| *p == path)
                .map_or(("404 Not Found", String::new()), |(_, b)| {
                    ("200 OK", b.clone())
                });
            let _ = write!(s, "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        }
    });
    addr
}

#[test]
fn jwks_url_and_oidc_discovery() {
    let dir = TempDir::new();
    let jwk_path = dir.write(
        "k.jwk",
        ok(&["keys", "generate", "--alg", "ES256", "--kid", "k1"]),
    );
    let other_path = dir.write(
        "o.jwk",
        ok(&["keys", "generate", "--alg", "EdDSA", "--kid", "k2"]),
    );
    let pub1: Value = serde_json::from_str(&ok(&["keys", "public", &jwk_path])).unwrap();
    let pub2: Value = serde_json::from_str(&ok(&["keys", "public", &other_path])).unwrap();
    let jwks = json!({"keys": [pub2, pub1]}).to_string();

    let base = serve(vec![("/jwks".into(), jwks.clone())], 1);
    let token = ok(&["sign", "--key", &jwk_path, "--iss", "placeholder"]);
    let r = signet(&["verify", token.trim(), "--jwks", &format!("{base}/jwks")]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // Discovery: the issuer's document names the JWKS; iss must equal the issuer.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}/env-1/as", listener.local_addr().unwrap());
    drop(listener);
    let token = ok(&["sign", "--key", &jwk_path, "--iss", &issuer]);
    let wrong_iss = ok(&["sign", "--key", &jwk_path, "--iss", "https://elsewhere"]);
    let port: u16 = issuer
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let doc =
        json!({"issuer": issuer, "jwks_uri": format!("http://127.0.0.1:{port}/env-1/as/jwks")})
            .to_string();
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    drop(listener);
    let routes = vec![
        ("/env-1/as/.well-known/openid-configuration".to_owned(), doc),
        ("/env-1/as/jwks".to_owned(), jwks),
    ];
    let served = serve_on(port, routes, 4);
    let r = signet(&["verify", token.trim(), "--issuer", &issuer]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = signet(&["verify", wrong_iss.trim(), "--issuer", &issuer]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("iss is \"https://elsewhere\""),
        "{}",
        r.stderr
    );
    drop(served);
    // Unreachable URL: an input error, exit 2.
    let r = signet(&["verify", token.trim(), "--jwks", "http://127.0.0.1:9/jwks"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

fn serve_on(
    port: u16,
    routes: Vec<(String, String)>,
    requests: usize,
) -> std::thread::JoinHandle<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let path = req.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let body = routes
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, b)| b.clone())
                .unwrap_or_default();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    })
}

/// `decode` to a pipe (the test's stdout is one) is byte for byte what it always was; colour
/// appears only when asked for, and `--color always` wins over `NO_COLOR`.
#[test]
fn decode_to_a_pipe_is_unchanged_and_color_always_paints_it() {
    // SIGNET_NOW=1764000000 signet sign -s secretsecretsecretsecretsecret12 --sub alice
    //   --expires-in 1h --header x5c=abc
    let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsIng1YyI6ImFiYyJ9.eyJpYXQiOjE3NjQwMDAwMDAsImV4cCI6MTc2NDAwMzYwMCwic3ViIjoiYWxpY2UifQ.dZjtvwNfPA7NG292Ib_f7nV8-7hz5zy5WztIYoBpJVU";
    let plain = "Header
  alg: \"HS256\"
  typ: \"JWT\"
  x5c: \"abc\"  <- never used as a key by Signet
Payload
  iat: 1764000000  = 2025-11-24T16:00:00Z (0 s ago)
  exp: 1764003600  = 2025-11-24T17:00:00Z (expires in 1 h)
  sub: \"alice\"
Signature
  dZjtvwNfPA7NG292Ib_f7nV8-7hz5zy5WztIYoBpJVU (32 bytes)

signature NOT verified: this shows what the token says, not that it is genuine (use `signet verify`)
";
    assert_eq!(ok(&["decode", token]), plain);
    assert_eq!(ok(&["decode", "--color", "auto", token]), plain);
    assert_eq!(ok(&["decode", "--color", "never", token]), plain);
    let colored = signet_in(
        None,
        &["decode", "--color", "always", token],
        None,
        &[("NO_COLOR", "1")],
    );
    assert_eq!(colored.code, 0);
    assert!(colored
        .stdout
        .contains("\u{1b}[1m\u{1b}[31mHeader\u{1b}[0m"));
    assert!(colored
        .stdout
        .contains("\u{1b}[1m\u{1b}[33msignature NOT verified\u{1b}[0m"));
    assert!(colored
        .stdout
        .contains("\u{1b}[2m= 2025-11-24T17:00:00Z (expires in 1 h)\u{1b}[0m"));
    // With the escapes taken out, the same text.
    let stripped = regex_free_strip(&colored.stdout);
    assert_eq!(stripped, plain);
    // verify's error line.
    let r = signet(&[
        "verify",
        "--color",
        "always",
        token,
        "-s",
        "wrong-secret-wrong-secret-0000",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("\u{1b}[1m\u{1b}[31msignet: invalid:\u{1b}[0m signature does not verify"),
        "{:?}",
        r.stderr
    );
    let r = signet(&["verify", token, "-s", "wrong-secret-wrong-secret-0000"]);
    assert!(
        r.stderr
            .starts_with("signet: invalid: signature does not verify"),
        "{}",
        r.stderr
    );
}

/// Removes ANSI SGR sequences (`ESC [ … m`).
fn regex_free_strip(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn shell_completions_load_in_bash_and_exist_for_every_shell() {
    let dir = TempDir::new();
    let script = dir.write("signet.bash", ok(&["completions", "bash"]));
    let out = std::process::Command::new("bash")
        .args(["-c", &format!("source {script} && complete -p signet")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "complete -o bashdefault -o default -o nosort -F _signet signet"
    );
    for (shell, marker) in [
        ("zsh", "#compdef signet"),
        ("fish", "complete -c signet"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[signet]"),
    ] {
        let text = ok(&["completions", shell]);
        assert!(
            text.contains(marker),
            "{shell}: {}",
            &text[..text.len().min(200)]
        );
        // Subcommands and their flags are in it.
        assert!(
            text.contains("login-hint") && text.contains("client-id"),
            "{shell}"
        );
    }
    assert_eq!(signet(&["completions", "tcsh"]).code, 2);
}

#[test]
fn man_pages_render_with_man_for_signet_and_every_subcommand() {
    let dir = TempDir::new();
    let render = |page: &str| {
        let out = std::process::Command::new("man")
            .args(["-l", page])
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .expect("man (tests/setup.sh installs man-db)");
        assert!(
            out.status.success(),
            "{page}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Justified text: runs of spaces become one.
        String::from_utf8_lossy(&out.stdout)
            .split(' ')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let main = dir.write("signet.1", ok(&["man"]));
    let text = render(&main);
    assert!(
        text.contains("NAME") && text.contains("signet - Make, inspect and check JWTs"),
        "{text}"
    );
    assert!(
        text.contains("login-hint") && text.contains("--color"),
        "{text}"
    );
    let pages_dir = dir.0.join("man");
    let listed = ok(&["man", "--dir", pages_dir.to_str().unwrap()]);
    let pages: Vec<&str> = listed.lines().collect();
    for name in [
        "signet",
        "signet-sign",
        "signet-decode",
        "signet-verify",
        "signet-keys",
        "signet-keys-generate",
        "signet-keys-public",
        "signet-keys-thumbprint",
        "signet-login-hint",
        "signet-request-object",
        "signet-authz",
        "signet-gateway",
        "signet-ui",
        "signet-completions",
        "signet-man",
        "signet-jwtgen",
    ] {
        let path = pages_dir.join(format!("{name}.1"));
        assert!(
            pages.contains(&path.to_str().unwrap()),
            "{name} not listed: {listed}"
        );
        let text = render(path.to_str().unwrap());
        assert!(text.contains(&format!("{name} - ")), "{name}: {text}");
    }
    let text = render(pages_dir.join("signet-login-hint.1").to_str().unwrap());
    assert!(text.contains("signet login-hint <--env>"), "{text}");
    assert!(text.contains("--client-id"), "{text}");
}

/// The review's hostile JWK Set, over HTTP: tens of thousands of kid-only members in under a
/// MiB. It is refused as a whole, with the count, and no claims are printed.
#[test]
fn a_jwk_set_url_with_too_many_keys_is_refused() {
    let members: Vec<String> = (0..60_000)
        .map(|i| format!("{{\"kid\":\"{i}\"}}"))
        .collect();
    let body = format!("{{\"keys\":[{}]}}", members.join(","));
    assert!(body.len() < 1024 * 1024);
    let base = serve(vec![("/jwks".into(), body)], 1);
    let token = ok(&["sign", "-s", SECRET, "--sub", "x"]);
    let r = signet(&["verify", token.trim(), "--jwks", &format!("{base}/jwks")]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("JWK Set has 60000 keys; at most 1000 are accepted"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
}

/// An issuer that has just rotated: the first fetch of its JWK Set lacks the new key (a cache
/// served the old set), the second has it. `verify --jwks URL` fetches once more and accepts.
#[test]
fn verify_fetches_a_jwk_set_again_for_an_unknown_kid() {
    let dir = TempDir::new();
    let old = dir.write(
        "old.jwk",
        ok(&["keys", "generate", "--alg", "ES256", "--kid", "old"]),
    );
    let new = dir.write(
        "new.jwk",
        ok(&["keys", "generate", "--alg", "ES256", "--kid", "new"]),
    );
    let public = |p: &str| -> Value { serde_json::from_str(&ok(&["keys", "public", p])).unwrap() };
    let before = json!({"keys": [public(&old)]}).to_string();
    let after = json!({"keys": [public(&old), public(&new)]}).to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = if n == 0 { &before } else { &after };
            let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        }
    });
    let token = ok(&["sign", "--key", &new, "--sub", "rotated"]);
    let r = signet(&["verify", token.trim(), "--jwks", &url]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("\"rotated\""));
    assert_eq!(
        served.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "fetched twice"
    );
    // A kid that no fetch has: one extra fetch, then invalid, naming the kid.
    let stray = dir.write(
        "stray.jwk",
        ok(&["keys", "generate", "--alg", "ES256", "--kid", "stray"]),
    );
    let token = ok(&["sign", "--key", &stray, "--sub", "x"]);
    let r = signet(&["verify", token.trim(), "--jwks", &url]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("no key matches kid \"stray\""),
        "{}",
        r.stderr
    );
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 4);
}
