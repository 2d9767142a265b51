//! HTTP/2 abuse against `signet gateway`'s h2c listener, with a raw HTTP/2 client (the `h2`
//! crate), since h2spec is not installable here (no Debian package; its releases are on GitHub,
//! which this machine cannot reach). Each case checks that the gateway refuses or bounds the
//! abuse and keeps serving other clients:
//! - oversized header lists (over `[http2] max_header_list_size`);
//! - rapid reset (streams opened and cancelled as fast as possible, CVE-2023-44487);
//! - flow-control abuse: a client that never opens its window while asking for large bodies
//!   (the gateway's memory must stay bounded: it does not buffer what the client will not take).
//!
//! And a graceful stop over HTTP/2: `SIGTERM` sends `GOAWAY` and the streams in flight finish.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use common::TempDir;

/// Bytes in each large response.
const LARGE: usize = 4 * 1024 * 1024;

/// A backend: `/large` answers LARGE bytes, anything else "ok".
fn backend() -> String {
    common::serve_connections(|stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut out = stream;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let large = line.contains("/large");
            if line.contains("/slow") {
                std::thread::sleep(Duration::from_millis(1500));
            }
            while line != "\r\n" {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
            }
            let body = if large {
                vec![b'x'; LARGE]
            } else {
                b"ok".to_vec()
            };
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
            if out.write_all(head.as_bytes()).is_err() || out.write_all(&body).is_err() {
                return;
            }
        }
    })
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

async fn connect(
    addr: &str,
    window: u32,
) -> (
    h2::client::SendRequest<bytes::Bytes>,
    tokio::task::JoinHandle<Result<(), h2::Error>>,
) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::Builder::new()
        .initial_window_size(window)
        .handshake(tcp)
        .await
        .unwrap();
    (client, tokio::spawn(connection))
}

fn request(addr: &str, path: &str) -> http::Request<()> {
    http::Request::builder()
        .uri(format!("http://{addr}{path}"))
        .body(())
        .unwrap()
}

/// A normal request on a new connection: its status.
async fn normal(addr: &str) -> u16 {
    let (client, _conn) = connect(addr, 65_535).await;
    let mut client = client.ready().await.unwrap();
    let (response, _) = client.send_request(request(addr, "/open/x"), true).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), response)
        .await
        .expect("an answer in time")
        .unwrap();
    response.status().as_u16()
}

#[test]
fn http2_abuse_is_refused_or_bounded_and_others_are_served() {
    let dir = TempDir::new();
    let config = dir.write(
        "gateway.toml",
        format!(
            r#"
[listen]
h2c = "127.0.0.1:1"
[http2]
max_concurrent_streams = 100
max_header_list_size = 16384
[auth_token]
keyset_file = "gateway-keys.json"
[[application]]
name = "open"
context_root = "/"
backend = "{}"
session = "none"
"#,
            backend()
        ),
    );
    let (child, addr) = common::gateway::start_h2c(&config);
    let pid = child.0.id();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        assert_eq!(normal(&addr).await, 200);

        // Oversized header list: the stream (or the connection) is refused; others are served.
        let (client, _conn) = connect(&addr, 65_535).await;
        let mut client = client.ready().await.unwrap();
        let big = http::Request::builder()
            .uri(format!("http://{addr}/open/big"))
            .header("x-big", "y".repeat(64 * 1024))
            .body(())
            .unwrap();
        let refused = match client.send_request(big, true) {
            Ok((response, _)) => tokio::time::timeout(Duration::from_secs(10), response)
                .await
                .expect("an answer in time")
                .map(|r| r.status().as_u16()),
            Err(e) => Err(e),
        };
        eprintln!("oversized header list: {refused:?}");
        assert!(
            matches!(refused, Err(_) | Ok(431)),
            "oversized headers were accepted: {refused:?}"
        );
        assert_eq!(normal(&addr).await, 200);

        // Rapid reset: 2,000 streams opened and cancelled at once, on one connection.
        let (client, conn) = connect(&addr, 65_535).await;
        let mut client = client;
        for _ in 0..2_000 {
            let Ok(ready) = client.ready().await else {
                break;
            };
            client = ready;
            let Ok((_, mut stream)) = client.send_request(request(&addr, "/open/x"), false) else {
                break;
            };
            stream.send_reset(h2::Reason::CANCEL);
        }
        // The gateway may end that connection (GOAWAY); it keeps serving everyone else.
        let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
        assert_eq!(normal(&addr).await, 200);

        // Flow-control abuse: 16 streams of 4 MiB each to a client whose window stays at 1 byte.
        let before = rss_kib(pid);
        let (client, _conn) = connect(&addr, 1).await;
        let mut client = client;
        let mut held = Vec::new();
        for _ in 0..16 {
            client = client.ready().await.unwrap();
            let (response, _) = client
                .send_request(request(&addr, "/open/large"), true)
                .unwrap();
            held.push(response);
        }
        let mut responses = Vec::new();
        for r in held {
            responses.push(
                tokio::time::timeout(Duration::from_secs(10), r)
                    .await
                    .expect("headers in time")
                    .unwrap(),
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let grown = rss_kib(pid).saturating_sub(before);
        eprintln!("flow-control abuse: the gateway's RSS grew by {grown} KiB for 64 MiB unread");
        // 64 MiB asked for; the gateway holds at most its own buffers per stream.
        assert!(
            grown < 24 * 1024,
            "the gateway's memory grew by {grown} KiB for 64 MiB the client never read"
        );
        // And a well-behaved client is served meanwhile.
        assert_eq!(normal(&addr).await, 200);
        drop(responses);
    });
}

/// SIGTERM with an HTTP/2 stream in flight: the gateway sends GOAWAY, the stream finishes with
/// its answer, and the process exits 0.
#[test]
fn sigterm_over_http2_finishes_the_streams_in_flight() {
    let dir = TempDir::new();
    let config = dir.write(
        "gateway.toml",
        format!(
            "[listen]\nh2c = \"127.0.0.1:1\"\n[auth_token]\nkeyset_file = \"k.json\"\n\
             [[application]]\nname = \"open\"\ncontext_root = \"/\"\nbackend = \"{}\"\n\
             session = \"none\"\n",
            backend()
        ),
    );
    let (mut child, addr) = common::gateway::start_h2c(&config);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (client, _conn) = connect(&addr, 65_535).await;
        let mut client = client.ready().await.unwrap();
        let (response, _) = client.send_request(request(&addr, "/slow"), true).unwrap();
        // The request is at the backend (which takes 1.5 s) when the gateway is told to stop.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let status = std::process::Command::new("kill")
            .args(["-TERM", &child.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let response = tokio::time::timeout(Duration::from_secs(10), response)
            .await
            .expect("the stream in flight is answered")
            .unwrap();
        assert_eq!(response.status(), 200);
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.unwrap();
            let _ = body.flow_control().release_capacity(chunk.len());
            bytes.extend_from_slice(&chunk);
        }
        assert_eq!(bytes, b"ok");
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway did not exit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
