//! Load generator for `bench/authz-load.sh`: sends exactly COUNT `GET URL` requests over
//! CONNECTIONS keep-alive HTTP/1.1 connections (loopback only), then prints one line:
//! `requests=N non200=K seconds=S rps=R`.
//!
//!     cargo run --release -p authz --example authz_load -- URL COUNT [CONNECTIONS] [THREADS]

use std::error::Error;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

struct Counters {
    remaining: AtomicI64,
    answered: AtomicU64,
    non200: AtomicU64,
}

fn usage() -> Box<dyn Error + Send + Sync> {
    "usage: authz_load http://127.0.0.1:PORT/PATH COUNT [CONNECTIONS] [THREADS]".into()
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = args.first().ok_or_else(usage)?;
    let count: i64 = args.get(1).ok_or_else(usage)?.parse()?;
    let connections: usize = args.get(2).map_or(Ok(64), |s| s.parse())?;
    let threads: usize = args.get(3).map_or(Ok(1), |s| s.parse())?;
    let rest = url.strip_prefix("http://").ok_or_else(usage)?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    if !(host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]")) {
        return Err("only loopback targets are allowed".into());
    }
    let request = Arc::new(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes());
    let counters = Arc::new(Counters {
        remaining: AtomicI64::new(count),
        answered: AtomicU64::new(0),
        non200: AtomicU64::new(0),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    let started = Instant::now();
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..connections.max(1) {
            let (host, request, counters) = (host.to_owned(), request.clone(), counters.clone());
            tasks.push(tokio::spawn(async move {
                connection(&host, &request, &counters).await
            }));
        }
        for t in tasks {
            t.await??;
        }
        Ok::<(), Box<dyn Error + Send + Sync>>(())
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let answered = counters.answered.load(Ordering::Relaxed);
    println!(
        "requests={answered} non200={} seconds={seconds:.2} rps={:.0}",
        counters.non200.load(Ordering::Relaxed),
        answered as f64 / seconds.max(1e-9)
    );
    Ok(())
}

async fn connection(host: &str, request: &[u8], c: &Counters) -> Result<()> {
    let mut stream = TcpStream::connect(host).await?;
    stream.set_nodelay(true)?;
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    while c.remaining.fetch_sub(1, Ordering::Relaxed) > 0 {
        stream.write_all(request).await?;
        let status = tokio::time::timeout(
            Duration::from_secs(10),
            read_response(&mut stream, &mut buf),
        )
        .await??;
        c.answered.fetch_add(1, Ordering::Relaxed);
        if status != 200 {
            c.non200.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Reads one response (headers, then Content-Length bytes of body); returns its status.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<u16> {
    buf.clear();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(buf.get(..end).unwrap_or_default()).into_owned();
            let status: u16 = head.get(9..12).ok_or("short status line")?.parse()?;
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .ok_or("no content-length")?;
            while buf.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err("connection closed mid-body".into());
                }
                buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            }
            return Ok(status);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err("connection closed".into());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}
