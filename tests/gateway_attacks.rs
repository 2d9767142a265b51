//! `signet gateway` under the attacks of the security review (issue 18): each test sends the
//! exact bytes of an attack over a raw socket to the real binary and checks what the client got
//! and what the backend received. `crates/gateway/SECURITY.md` lists them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::pki::{make_forged_root, make_pki, pem_base64};
use common::{serve_connections, spawn_server, Child, TempDir};
use serde_json::{json, Value};

const SECRET: &str = "TOP-SECRET-7f3a91";

// ----- a raw HTTP/1.1 client -----

/// One response as read off the socket.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: BTreeMap<String, Vec<String>>,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.text()))
    }
}

/// A kept-alive client connection that writes raw bytes and reads one response at a time.
struct Raw {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Raw {
    fn connect(base: &str) -> Raw {
        let addr = base.trim_start_matches("http://");
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        Raw {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    fn send(&mut self, bytes: &[u8]) -> &mut Raw {
        self.writer.write_all(bytes).unwrap();
        self
    }

    /// The next response, or None when the gateway closed the connection instead.
    fn reply(&mut self) -> Option<Reply> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        let status: u16 = line.split(' ').nth(1)?.parse().ok()?;
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        loop {
            let mut l = String::new();
            self.reader.read_line(&mut l).unwrap();
            let l = l.trim_end();
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').unwrap();
            headers
                .entry(n.trim().to_ascii_lowercase())
                .or_default()
                .push(v.trim().to_owned());
        }
        let mut body = Vec::new();
        let first = |name: &str| headers.get(name).and_then(|v| v.first()).cloned();
        if first("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
            loop {
                let mut size = String::new();
                self.reader.read_line(&mut size).unwrap();
                let n = usize::from_str_radix(size.trim(), 16).unwrap();
                let mut chunk = vec![0; n + 2];
                self.reader.read_exact(&mut chunk).unwrap();
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(n) = first("content-length") {
            body = vec![0; n.parse().unwrap()];
            self.reader.read_exact(&mut body).unwrap();
        } else if status >= 200 && status != 204 && status != 304 {
            self.reader.read_to_end(&mut body).unwrap();
        }
        Some(Reply {
            status,
            headers,
            body,
        })
    }
}

/// Sends `bytes` on a new connection and reads one response.
fn exchange(base: &str, bytes: &[u8]) -> Reply {
    Raw::connect(base)
        .send(bytes)
        .reply()
        .unwrap_or_else(|| panic!("no response to {:?}", String::from_utf8_lossy(bytes)))
}

fn get(base: &str, target: &str, extra: &str) -> Reply {
    exchange(
        base,
        format!("GET {target} HTTP/1.1\r\nHost: gw.test\r\n{extra}Connection: close\r\n\r\n")
            .as_bytes(),
    )
}

// ----- backends -----

/// One request as a backend read it: the request line, the fields in order, the body.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// 200 to everything, kept alive; `/…/both-framings` answers with Content-Length and
    /// chunked, `/…/switch` with 101.
    Echo,
    /// Answers the first request of each connection; reads the second and closes.
    CloseAfterFirst,
}

struct Backend {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Backend {
    fn start(mode: Mode) -> Backend {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let url = serve_connections(move |stream| backend_connection(stream, mode, &record));
        Backend { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn last(&self) -> Seen {
        self.seen().pop().expect("the backend got no request")
    }
}

/// Reads one request (Content-Length or chunked body); None at the end of the connection.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Seen> {
    let (line, fields) = common::gateway::read_head(reader)?;
    let mut parts = line.split(' ');
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if field("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = field("content-length") {
        body = vec![0; n.parse().ok()?];
        reader.read_exact(&mut body).ok()?;
    }
    Some(Seen {
        method,
        target,
        fields,
        body,
    })
}

fn backend_connection(stream: TcpStream, mode: Mode, record: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    let mut served = 0;
    while let Some(seen) = read_request(&mut reader) {
        let target = seen.target.clone();
        record.lock().unwrap().push(seen);
        if mode == Mode::CloseAfterFirst && served == 1 {
            // Read, and maybe acted on, then the connection is gone: no answer.
            let _ = out.shutdown(std::net::Shutdown::Both);
            return;
        }
        served += 1;
        let reply = if target.ends_with("/both-framings") {
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n\
             5\r\nhello\r\n0\r\n\r\n"
                .to_owned()
        } else if target.ends_with("/switch") {
            "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
                .to_owned()
        } else {
            let body = json!({"target": target}).to_string();
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        };
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// Python's `http.server` serving `root`: a real backend that normalises paths itself
/// (`..`, `//`, percent-decoding) and serves files.
struct FileServer {
    url: String,
    _child: Child,
}

fn file_server(root: &std::path::Path) -> FileServer {
    let mut child = std::process::Command::new("python3")
        .args([
            "-u",
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            "0",
            "--directory",
        ])
        .arg(root)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 -m http.server (tests/setup.sh installs python3)");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout);
    let mut line = String::new();
    lines.read_line(&mut line).unwrap();
    // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
    let port = line
        .split("port ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("http.server said {line:?}"));
    std::thread::spawn(move || {
        let mut sink = String::new();
        while lines.read_line(&mut sink).unwrap_or(0) > 0 {
            sink.clear();
        }
    });
    FileServer {
        url: format!("http://127.0.0.1:{port}"),
        _child: Child(child),
    }
}

// ----- the gateway -----

struct Gateway {
    dir: TempDir,
    _child: Child,
    base: String,
    idp: jose::Signer,
}

impl Gateway {
    /// A gateway with the `[api_session]` of a test issuer, the identity mapping `id`
    /// (`X-Identity-JWT`) and `apps`; `http` is the `[http]` section's body.
    fn start(http: &str, apps: &str) -> Gateway {
        let listen = "http = \"127.0.0.1:1\"";
        Gateway::launch(TempDir::new(), listen, http, apps, "--listen")
    }

    /// [`Gateway::start`] with only an HTTPS listener that requests client certificates
    /// (`dir` holds [`make_pki`]'s files).
    fn start_tls(dir: TempDir, apps: &str) -> Gateway {
        let listen =
            "https = \"127.0.0.1:1\"\ntls_cert = \"server.pem\"\ntls_key = \"server.key\"\n\
                      client_ca = \"ca.pem\"";
        Gateway::launch(dir, listen, "", apps, "--listen-https")
    }

    fn launch(dir: TempDir, listen: &str, http: &str, apps: &str, flag: &str) -> Gateway {
        let idp = common::gateway::test_idp(&dir);
        let common = common::gateway::common_config("idp-jwks.json");
        let text = format!(
            r#"
[listen]
{listen}
[http]
{http}
{common}{apps}
"#
        );
        let config = dir.write("gateway.toml", text);
        let (child, base) = spawn_server(
            &["gateway", "--config", &config, flag, "127.0.0.1:0"],
            "signet gateway listening on ",
        );
        Gateway {
            dir,
            _child: child,
            base,
            idp,
        }
    }

    fn token(&self) -> String {
        common::gateway::upstream_token(&self.idp, "alice")
    }

    fn metrics(&self) -> String {
        get(&self.base, "/pa/metrics", "").text()
    }

    /// Verifies a mapped JWT with the gateway's own JWKS.
    fn verify(&self, jwt: &str) -> serde_json::Map<String, Value> {
        verify_with(&get(&self.base, "/pa/authtoken/JWKS", "").body, jwt)
    }
}

/// Verifies a mapped JWT (issuer `signet-gateway`, audience `backend`) with a JWK Set.
fn verify_with(jwks: &[u8], jwt: &str) -> serde_json::Map<String, Value> {
    common::verify_gateway_jwt(jwks, jwt, "backend")
}

fn app(name: &str, root: &str, backend: &str, session: &str) -> String {
    let mapping = if session == "none" {
        String::new()
    } else {
        "identity_mapping = \"id\"\n".to_owned()
    };
    format!(
        "[[application]]\nname = \"{name}\"\ncontext_root = \"{root}\"\nbackend = \"{backend}\"\n\
         session = \"{session}\"\n{mapping}"
    )
}

// ----- 1. path confusion -----

/// Every spelling of `/admin/secret.txt` the review tried (and more), sent through the public
/// application at `/`: none may serve the protected file without a session. The backend is
/// Python's file server, which normalises `..`, `//` and percent-encodings itself.
#[test]
fn no_spelling_of_a_protected_path_reaches_it_without_a_session() {
    let files = TempDir::new();
    std::fs::create_dir_all(files.0.join("admin")).unwrap();
    std::fs::create_dir_all(files.0.join("public")).unwrap();
    std::fs::write(files.0.join("admin/secret.txt"), SECRET).unwrap();
    std::fs::write(files.0.join("public/hello.txt"), "hello").unwrap();
    let server = file_server(&files.0);
    let gw = Gateway::start(
        "",
        &[
            app("public", "/", &server.url, "none"),
            app("admin", "/admin", &server.url, "api"),
        ]
        .concat(),
    );
    // The controls: the file is there, and served with a session; public files without one.
    let token = gw.token();
    let r = get(
        &gw.base,
        "/admin/secret.txt",
        &format!("Authorization: Bearer {token}\r\n"),
    );
    assert_eq!((r.status, r.text().as_str()), (200, SECRET));
    assert_eq!(get(&gw.base, "/public/hello.txt", "").text(), "hello");
    assert_eq!(get(&gw.base, "/admin/secret.txt", "").status, 401);

    // (target, the status it must get: 401 = routed to the protected application)
    let spellings: [(&str, u16); 40] = [
        ("/public/../admin/secret.txt", 401),
        ("/public/%2e%2e/admin/secret.txt", 401),
        ("/public/%2E%2E/admin/secret.txt", 401),
        ("/public/.%2E/admin/secret.txt", 401),
        ("/public/%2e./admin/secret.txt", 401),
        ("/public/%2e%2E/%61dmin/secret.txt", 401),
        ("/x/y/../../admin/secret.txt", 401),
        ("/./admin/secret.txt", 401),
        ("/%2e/admin/secret.txt", 401),
        ("/admin/./secret.txt", 401),
        ("/admin/x/../secret.txt", 401),
        ("/%61dmin/secret.txt", 401),
        ("/%61%64%6d%69%6e/secret.txt", 401),
        ("/%41DMIN/secret.txt", 401),
        ("/ADMIN/secret.txt", 401),
        ("/Admin/secret.txt", 401),
        ("/admin/secret.txt?x=/../", 401),
        ("http://other/public/../admin/secret.txt", 401),
        ("http://gw.test/%61dmin/secret.txt", 401),
        ("//admin/secret.txt", 400),
        ("///admin/secret.txt", 400),
        ("/public//../admin/secret.txt", 400),
        ("http://other//admin/secret.txt", 400),
        ("/admin%2Fsecret.txt", 400),
        ("/admin%2fsecret.txt", 400),
        ("/public/..%2Fadmin/secret.txt", 400),
        ("/%2Fadmin/secret.txt", 400),
        ("/admin;x/secret.txt", 400),
        ("/admin;/secret.txt", 400),
        ("/public/..;/admin/secret.txt", 400),
        ("/admin%3Bx/secret.txt", 400),
        ("/admin\\secret.txt", 400),
        ("/admin%5Csecret.txt", 400),
        ("/public\\..\\admin\\secret.txt", 400),
        ("/admin%00/secret.txt", 400),
        ("/admin/secret.txt%00", 400),
        ("/public/%252e%252e/admin/secret.txt", 400),
        ("/..%2e/admin/secret.txt", 404),
        ("/../admin/secret.txt", 400),
        ("/public/../../admin/secret.txt", 400),
    ];
    let mut wrong = Vec::new();
    for (target, expected) in spellings {
        let r = get(&gw.base, target, "");
        if r.text().contains(SECRET) {
            wrong.push(format!("{target}: SERVED THE SECRET ({})", r.status));
        } else if r.status != expected {
            wrong.push(format!(
                "{target}: {} (expected {expected}) {}",
                r.status,
                r.text()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Refusals are JSON and counted.
    let r = get(&gw.base, "/admin%2Fsecret.txt", "");
    assert_eq!(r.json()["message"], "the path has an encoded \"/\" (%2F)");
    let metrics = gw.metrics();
    assert!(
        metrics.contains("signet_gateway_refused_requests_total{reason=\"encoded_slash\"} 5"),
        "{metrics}"
    );
}

/// The backend receives the canonical path it was routed by, and a client's identity header
/// sent to a `none` application never arrives anywhere.
#[test]
fn the_backend_gets_the_canonical_path_and_never_a_clients_identity_header() {
    let echo = Backend::start(Mode::Echo);
    let gw = Gateway::start(
        "",
        &[
            app("open", "/open", &echo.url, "none"),
            app("api", "/api", &echo.url, "api"),
        ]
        .concat(),
    );
    for (target, forwarded) in [
        ("/open/a/./b/../c%7e?q=%2e%2e/x", "/open/a/c~?q=%2e%2e/x"),
        ("/open/%61%62%63/caf%c3%a9", "/open/abc/caf%C3%A9"),
        ("http://elsewhere/open/x/..", "/open/"),
    ] {
        let r = get(
            &gw.base,
            target,
            "X-Identity-JWT: forged\r\nX-Original-URL: /api/x\r\nX-Rewrite-URL: /api/x\r\n",
        );
        assert_eq!(r.status, 200, "{target}: {}", r.text());
        let seen = echo.last();
        assert_eq!(seen.target, forwarded, "{target}");
        assert!(seen.all("x-identity-jwt").is_empty(), "{target}: {seen:?}");
        assert!(seen.all("x-original-url").is_empty(), "{target}: {seen:?}");
        assert!(seen.all("x-rewrite-url").is_empty(), "{target}: {seen:?}");
    }
    // The absolute form's authority is the Host (RFC 9112 §3.2.2).
    assert_eq!(echo.last().all("x-forwarded-host"), ["elsewhere"]);
    // A none application's path that reads as the api one is the api one.
    let r = get(&gw.base, "/open/../api/x", "X-Identity-JWT: forged\r\n");
    assert_eq!(r.status, 401, "{}", r.text());
}

#[test]
fn empty_segments_and_parameters_pass_only_when_configured() {
    let echo = Backend::start(Mode::Echo);
    let apps = [
        app("open", "/", &echo.url, "none"),
        app("api", "/api", &echo.url, "api"),
    ]
    .concat();
    let keep = Gateway::start(
        "empty_path_segments = \"keep\"\npath_parameters = \"keep\"",
        &apps,
    );
    // Kept as sent, but routed as if absent: `//api` and `/api;x` are the api application.
    assert_eq!(get(&keep.base, "//api/x", "").status, 401);
    assert_eq!(get(&keep.base, "/api;jsessionid=1/x", "").status, 401);
    assert_eq!(get(&keep.base, "/x/..;/api/x", "").status, 401);
    // A segment that is only parameters is an empty one (Tomcat reads /;x/api as /api).
    assert_eq!(get(&keep.base, "/;x/api/x", "").status, 401);
    let params_only = Gateway::start("path_parameters = \"keep\"", &apps);
    assert_eq!(get(&params_only.base, "/;x/api/x", "").status, 400);
    assert_eq!(get(&params_only.base, "/public/;/api/x", "").status, 400);
    assert_eq!(get(&keep.base, "/a//b;v=1/c", "").status, 200);
    assert_eq!(echo.last().target, "/a//b;v=1/c");
    let merge = Gateway::start("empty_path_segments = \"merge\"", &apps);
    assert_eq!(get(&merge.base, "//api//x", "").status, 401);
    assert_eq!(get(&merge.base, "/a//b/", "").status, 200);
    assert_eq!(echo.last().target, "/a/b/");
    assert_eq!(get(&merge.base, "/a;b", "").status, 400);
}

// ----- 2. header names with `_` -----

#[test]
fn underscore_spellings_of_protected_fields_never_reach_the_backend() {
    let echo = Backend::start(Mode::Echo);
    let apps = app("api", "/api", &echo.url, "api");
    let gw = Gateway::start("", &apps);
    let token = gw.token();
    let attack =
        "X_Identity_JWT: forged\r\nTransfer_Encoding: chunked\r\nX_Forwarded_For: 6.6.6.6\r\n\
                  X_Custom: 1\r\nx-identity-jwt: forged-too\r\n";
    // Without a body (the written head) and with one (the header-map path).
    for request in [
        format!(
            "GET /api/x HTTP/1.1\r\nHost: gw.test\r\nAuthorization: Bearer {token}\r\n{attack}\
             Connection: close\r\n\r\n"
        ),
        format!(
            "POST /api/x HTTP/1.1\r\nHost: gw.test\r\nAuthorization: Bearer {token}\r\n{attack}\
             Content-Length: 2\r\nConnection: close\r\n\r\nok"
        ),
    ] {
        let r = exchange(&gw.base, request.as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
        let seen = echo.last();
        let names: Vec<&str> = seen.fields.iter().map(|(n, _)| n.as_str()).collect();
        assert!(
            names.iter().all(|n| !n.contains('_')),
            "no field with _ is forwarded: {names:?}"
        );
        let ours = seen.all("x-identity-jwt");
        assert_eq!(ours.len(), 1, "{seen:?}");
        assert_eq!(gw.verify(ours[0])["sub"], "alice");
        assert_eq!(seen.all("x-forwarded-for"), ["127.0.0.1"]);
    }
    let metrics = gw.metrics();
    assert!(
        metrics.contains("signet_gateway_dropped_request_fields_total{reason=\"protected\"} 8"),
        "{metrics}"
    );
    assert!(
        metrics.contains("signet_gateway_dropped_request_fields_total{reason=\"underscore\"} 2"),
        "{metrics}"
    );

    // underscores_in_headers = true: other `_` names pass, protected spellings still do not.
    let lenient = Gateway::start("underscores_in_headers = true", &apps);
    let token = lenient.token();
    let r = get(
        &lenient.base,
        "/api/x",
        &format!("Authorization: Bearer {token}\r\n{attack}"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = echo.last();
    assert_eq!(seen.all("x_custom"), ["1"]);
    assert!(seen.all("x_identity_jwt").is_empty());
    assert!(seen.all("transfer_encoding").is_empty());
    assert!(seen.all("x_forwarded_for").is_empty());
    assert_eq!(seen.all("x-identity-jwt").len(), 1);
}

// ----- 3. a non-idempotent request is never sent twice -----

#[test]
fn a_post_the_backend_read_is_not_sent_again_but_a_get_is() {
    let flaky = Backend::start(Mode::CloseAfterFirst);
    // One client connection: its requests are served by one worker, whose pool is reused.
    let gw = Gateway::start("", &app("flaky", "/flaky", &flaky.url, "none"));
    let mut client = Raw::connect(&gw.base);
    let mut request = |line: &str| {
        client
            .send(format!("{line} HTTP/1.1\r\nHost: gw.test\r\n\r\n").as_bytes())
            .reply()
            .unwrap()
    };
    assert_eq!(request("GET /flaky/1").status, 200);
    // The pooled connection carries the POST; the backend reads it and closes.
    let r = request("POST /flaky/2");
    assert_eq!(r.status, 502, "{}", r.text());
    for method in ["PATCH", "DELETE"] {
        assert_eq!(request(&format!("GET /flaky/{method}-warm")).status, 200);
        let r = request(&format!("{method} /flaky/{method}"));
        if method == "PATCH" {
            assert_eq!(r.status, 502, "{}", r.text());
        } else {
            // DELETE is idempotent: sent again on a new connection, which answers.
            assert_eq!(r.status, 200, "{}", r.text());
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let count = |method: &str| flaky.seen().iter().filter(|s| s.method == method).count();
    assert_eq!(count("POST"), 1, "the POST reached the backend once");
    assert_eq!(count("PATCH"), 1, "the PATCH reached the backend once");
    assert_eq!(count("DELETE"), 2, "the DELETE was retried");
}

// ----- 4. Forwarded -----

#[test]
fn a_clients_forwarded_field_is_replaced_like_x_forwarded() {
    let echo = Backend::start(Mode::Echo);
    let gw = Gateway::start("", &app("open", "/open", &echo.url, "none"));
    let spoof = "Forwarded: for=6.6.6.6;proto=https;host=evil.example\r\n\
                 Forwarded: for=7.7.7.7\r\nX-Forwarded-Proto: https\r\n";
    let ours = "for=127.0.0.1;proto=http;host=\"gw.test\"";
    let r = get(&gw.base, "/open/x", spoof);
    assert_eq!(r.status, 200);
    let seen = echo.last();
    assert_eq!(seen.all("forwarded"), [ours]);
    assert_eq!(seen.all("x-forwarded-proto"), ["http"]);
    let r = exchange(
        &gw.base,
        format!(
            "POST /open/x HTTP/1.1\r\nHost: gw.test\r\n{spoof}Content-Length: 1\r\n\
             Connection: close\r\n\r\nx"
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(echo.last().all("forwarded"), [ours]);
}

// ----- 5. the client-certificate claim carries the verified chain -----

#[test]
fn the_certificate_claim_is_the_verified_chain_not_what_the_client_appended() {
    let dir = TempDir::new();
    make_pki(&dir.0);
    make_forged_root(&dir.0);
    let echo = Backend::start(Mode::Echo);
    // The mapping puts up to 5 certificates of the chain in the claim.
    let apps = app("api", "/api", &echo.url, "api").replace(
        "identity_mapping = \"id\"",
        "identity_mapping = \"with-cert\"",
    ) + "[[identity_mapping]]\nname = \"with-cert\"\nheader_name = \"X-Identity-JWT\"\n\
         audience = \"backend\"\nclient_certificate_jwt_claim_name = \"x5c\"\nmax_depth = 5\n\
         attribute_mappings = [{ user_attribute_name = \"uid\", jwt_claim_name = \"uid\", subject = true }]\n";
    let gw = Gateway::start_tls(dir, &apps);
    let path = |name: &str| gw.dir.0.join(name);
    let https = reqwest::blocking::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(path("ca.pem")).unwrap()).unwrap(),
        )
        .identity(
            reqwest::Identity::from_pem(
                &[
                    std::fs::read(path("client.key")).unwrap(),
                    std::fs::read(path("client.pem")).unwrap(),
                    std::fs::read(path("int.pem")).unwrap(),
                    std::fs::read(path("forged-root.pem")).unwrap(),
                ]
                .concat(),
            )
            .unwrap(),
        )
        .build()
        .unwrap();
    let r = https
        .get(format!("{}/api/x", gw.base))
        .bearer_auth(gw.token())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let jwt = echo.last().all("x-identity-jwt")[0].to_owned();
    let jwks = https
        .get(format!("{}/pa/authtoken/JWKS", gw.base))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let claims = verify_with(&jwks, &jwt);
    assert_eq!(
        claims["x5c"],
        json!([
            pem_base64(&path("client.pem")),
            pem_base64(&path("int.pem")),
            pem_base64(&path("ca.pem")),
        ]),
        "leaf, intermediate, the configured CA; not the appended forged root"
    );
}

// ----- 8. framing and targets -----

#[test]
fn host_framing_and_protocol_switches_are_answered_not_dropped() {
    let echo = Backend::start(Mode::Echo);
    let gw = Gateway::start("", &app("open", "/open", &echo.url, "none"));
    let before = echo.seen().len();
    // No Host, two Hosts: 400 (RFC 9112 §3.2).
    let r = exchange(
        &gw.base,
        b"GET /open/x HTTP/1.1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "an HTTP/1.1 request needs a Host header field (RFC 9112 §3.2)"
    );
    let r = exchange(
        &gw.base,
        b"GET /open/x HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 400);
    // CONNECT is not tunnelled.
    let r = exchange(
        &gw.base,
        b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n",
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["error"], "method_not_allowed");
    assert_eq!(
        echo.seen().len(),
        before,
        "none of these reached the backend"
    );

    // A GET with a chunked body arrives with its body.
    let r = exchange(
        &gw.base,
        b"GET /open/search HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\
          Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = echo.last();
    assert_eq!(
        (seen.method.as_str(), seen.body.as_slice()),
        ("GET", &b"hello"[..])
    );
    // A malformed chunk size is the client's error: 400.
    let r = exchange(
        &gw.base,
        b"POST /open/x HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\
          Connection: close\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    // A backend framing its response both ways, or switching protocols: a JSON 502.
    for request in [
        &b"GET /open/both-framings HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"[..],
        b"POST /open/both-framings HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx",
        b"GET /open/switch HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n",
        b"POST /open/switch HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx",
    ] {
        let r = exchange(&gw.base, request);
        assert_eq!(r.status, 502, "{}: {}", String::from_utf8_lossy(request), r.text());
        assert_eq!(r.json()["error"], "bad_gateway");
    }
    // An upgrade the client asked for is relayed (tests/gateway_upstream.rs runs a real one).
    let r = exchange(
        &gw.base,
        b"GET /open/switch HTTP/1.1\r\nHost: gw.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    assert_eq!(r.status, 101);
    // And the gateway keeps serving.
    assert_eq!(get(&gw.base, "/open/after", "").status, 200);
}

/// Classic request-smuggling framings: the smuggled request must never reach the backend as a
/// request of its own.
#[test]
fn smuggling_framings_never_deliver_a_second_request() {
    let echo = Backend::start(Mode::Echo);
    let gw = Gateway::start("", &app("open", "/open", &echo.url, "none"));
    let smuggled = "GET /open/smuggled HTTP/1.1\r\nHost: gw.test\r\n\r\n";
    let attacks = [
        // CL.TE and TE.CL
        format!(
            "POST /open/a HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 6\r\n\
             Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
        ),
        format!(
            "POST /open/a HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\
             Content-Length: 3\r\n\r\n{:x}\r\n{smuggled}\r\n0\r\n\r\n",
            smuggled.len()
        ),
        // An obfuscated or folded Transfer-Encoding
        format!(
            "POST /open/a HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 5\r\n\
             Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n{smuggled}"
        ),
        format!(
            "POST /open/a HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 5\r\n\
             Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n{smuggled}"
        ),
        // Two differing lengths
        format!(
            "POST /open/a HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 0\r\n\
             Content-Length: 47\r\n\r\n{smuggled}"
        ),
        // A space before the colon
        format!("POST /open/a HTTP/1.1\r\nHost: gw.test\r\nContent-Length : 47\r\n\r\n{smuggled}"),
    ];
    for attack in &attacks {
        let mut raw = Raw::connect(&gw.base);
        raw.send(attack.as_bytes());
        // Read whatever comes back (the first answer, a 400, or a close).
        while let Some(reply) = raw.reply() {
            if reply
                .headers
                .get("connection")
                .is_some_and(|c| c[0] == "close")
            {
                break;
            }
            raw.writer
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            raw.reader
                .get_ref()
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let targets: Vec<String> = echo.seen().into_iter().map(|s| s.target).collect();
    assert!(
        !targets.iter().any(|t| t == "/open/smuggled"),
        "a smuggled request reached the backend: {targets:?}"
    );
    assert_eq!(get(&gw.base, "/open/after", "").status, 200);
}
