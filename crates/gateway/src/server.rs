//! Serving connections: the listeners, one worker thread per CPU with its own single-threaded
//! runtime, TLS handshakes, HTTP/1.1 (with upgrades) or HTTP/2 on each connection (`h2` by ALPN
//! over TLS, `h2c` with prior knowledge on its own listener), and graceful shutdown (HTTP/2:
//! `GOAWAY`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;

use crate::coarse::{self, Deadlines};
use crate::config::Http2;
use crate::proxy::{Client, Conn, Gateway, Worker};
use crate::upstream::Pool;

/// A listener: plain HTTP, or HTTPS with this TLS configuration.
pub struct Listener {
    pub tcp: tokio::net::TcpListener,
    pub tls: Option<crate::tls::Https>,
    /// Plain HTTP/2 with prior knowledge (`[listen] h2c`) instead of HTTP/1.1.
    pub h2c: bool,
    /// The limits of HTTP/2 connections (`[http2]`).
    pub http2: Http2,
}

/// A connection accepted by a listener, on its way to a worker.
struct Accepted {
    stream: std::net::TcpStream,
    addr: SocketAddr,
    tls: Option<crate::tls::Https>,
    h2c: bool,
    http2: Http2,
}

/// The number of worker threads [`serve`] runs: `SIGNET_GATEWAY_WORKERS` when set to a positive
/// number, otherwise one per available CPU.
pub fn default_workers() -> usize {
    std::env::var("SIGNET_GATEWAY_WORKERS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        })
}

/// Serves connections on every listener until `shutdown` resolves, then lets in-flight requests
/// finish (at most `grace`). Connections are spread over [`default_workers`] worker threads.
pub async fn serve(
    gateway: Arc<Gateway>,
    listeners: Vec<Listener>,
    shutdown: impl std::future::Future<Output = ()>,
    grace: Duration,
) {
    serve_with_workers(gateway, listeners, shutdown, grace, default_workers()).await;
}

/// [`serve`] with `workers` worker threads. Like nginx's workers, each runs its own
/// single-threaded runtime with its own backend connections and counters; the accept loops
/// (on the caller's runtime) hand accepted connections to them in turn. Configuration, keys
/// and caches stay shared.
pub async fn serve_with_workers(
    gateway: Arc<Gateway>,
    listeners: Vec<Listener>,
    shutdown: impl std::future::Future<Output = ()>,
    grace: Duration,
    workers: usize,
) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut queues = Vec::new();
    let mut finished = Vec::new();
    for id in 0..workers.max(1) {
        let (queue, accepted) = tokio::sync::mpsc::unbounded_channel::<Accepted>();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let gateway = gateway.clone();
        let stop = stop_rx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("signet-gateway-{id}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(worker(gateway, accepted, stop, grace));
                }
                let _ = done_tx.send(());
            });
        if spawned.is_ok() {
            queues.push(queue);
            finished.push(done_rx);
        }
    }
    if queues.is_empty() {
        // No thread could be started: serve on the caller's runtime.
        let (queue, accepted) = tokio::sync::mpsc::unbounded_channel::<Accepted>();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let gateway = gateway.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            worker(gateway, accepted, stop, grace).await;
            let _ = done_tx.send(());
        });
        queues.push(queue);
        finished.push(done_rx);
    }
    let queues = Arc::new(queues);
    let next = Arc::new(AtomicUsize::new(0));
    let mut accept_loops = tokio::task::JoinSet::new();
    for listener in listeners {
        accept_loops.spawn(accept_loop(
            listener,
            queues.clone(),
            next.clone(),
            stop_rx.clone(),
        ));
    }
    drop(queues);
    shutdown.await;
    let _ = stop_tx.send(true);
    // The accept loops end (closing their listeners and the workers' queues); each worker then
    // waits for its connections.
    while accept_loops.join_next().await.is_some() {}
    let _ = tokio::time::timeout(grace + Duration::from_secs(1), async {
        for done in finished {
            let _ = done.await;
        }
    })
    .await;
}

async fn accept_loop(
    listener: Listener,
    queues: Arc<Vec<tokio::sync::mpsc::UnboundedSender<Accepted>>>,
    next: Arc<AtomicUsize>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.tcp.accept() => accepted,
        };
        let Ok((stream, addr)) = accepted else {
            // Out of descriptors and the like: back off briefly instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok(stream) = stream.into_std() else {
            continue;
        };
        let turn = next.fetch_add(1, Ordering::Relaxed);
        let Some(queue) = queues.get(turn % queues.len().max(1)) else {
            continue;
        };
        let _ = queue.send(Accepted {
            stream,
            addr,
            tls: listener.tls.clone(),
            h2c: listener.h2c,
            http2: listener.http2,
        });
    }
}

/// One worker: serves the connections it is handed until its queue closes, then waits (at most
/// `grace`) for them to finish.
async fn worker(
    gateway: Arc<Gateway>,
    mut accepted: tokio::sync::mpsc::UnboundedReceiver<Accepted>,
    stop: tokio::sync::watch::Receiver<bool>,
    grace: Duration,
) {
    let worker = Arc::new(Worker {
        pool: Pool::new(),
        metrics: gateway.metrics.shard(),
        deadlines: Deadlines::new(),
    });
    let ticker = tokio::spawn(worker.deadlines.clone().run());
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(1);
    while let Some(Accepted {
        stream,
        addr,
        tls,
        h2c,
        http2,
    }) = accepted.recv().await
    {
        let Ok(stream) = tokio::net::TcpStream::from_std(stream) else {
            continue;
        };
        let gateway = gateway.clone();
        let worker = worker.clone();
        let stop = stop.clone();
        let done = done_tx.clone();
        tokio::spawn(async move {
            match tls {
                None => {
                    let client = Client {
                        addr,
                        proto: "http",
                        chain: Arc::new(Vec::new()),
                    };
                    let conn = Arc::new(Conn::new(gateway, worker, client));
                    let protocol = if h2c {
                        Protocol::H2(http2)
                    } else {
                        Protocol::Http1
                    };
                    serve_connection(conn, TokioIo::new(stream), protocol, stop).await;
                }
                Some(https) => {
                    let handshake = tokio::time::timeout(
                        Duration::from_secs(10),
                        https.acceptor.accept(stream),
                    );
                    let Ok(Ok(tls_stream)) = handshake.await else {
                        return;
                    };
                    // The verified chain, not what the client sent (it may append a forged root).
                    let chain = match (
                        &https.client_cas,
                        tls_stream.get_ref().1.peer_certificates(),
                    ) {
                        (Some(cas), Some(presented)) => cas.verified_chain(presented),
                        _ => Vec::new(),
                    };
                    let client = Client {
                        addr,
                        proto: "https",
                        chain: Arc::new(chain),
                    };
                    let h2 = tls_stream.get_ref().1.alpn_protocol() == Some(b"h2");
                    let conn = Arc::new(Conn::new(gateway, worker, client));
                    let protocol = if h2 {
                        Protocol::H2(http2)
                    } else {
                        Protocol::Http1
                    };
                    serve_connection(conn, TokioIo::new(tls_stream), protocol, stop).await;
                }
            }
            drop(done);
        });
    }
    drop(done_tx);
    let _ = tokio::time::timeout(grace, done_rx.recv()).await;
    ticker.abort();
}

/// How a connection speaks.
#[derive(Clone, Copy)]
enum Protocol {
    Http1,
    H2(Http2),
}

async fn serve_connection<I>(
    conn: Arc<Conn>,
    io: TokioIo<I>,
    protocol: Protocol,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let timer = coarse::Timer(conn.worker.deadlines.clone());
    let service = hyper::service::service_fn(move |req| conn.clone().handle(req));
    match protocol {
        Protocol::Http1 => {
            // A client gets 30 s to send a request's headers (no slowloris holding a connection).
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(timer)
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(io, service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        }
        Protocol::H2(limits) => {
            // Each stream is one request through the same pipeline as HTTP/1.1; the limits bound
            // what one client can hold (streams, header bytes, buffered data), and a client that
            // resets streams as fast as it opens them is cut off by hyper's h2 (rapid reset).
            let conn =
                hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .timer(timer)
                    .max_concurrent_streams(limits.max_concurrent_streams)
                    .max_header_list_size(limits.max_header_list_size)
                    .initial_stream_window_size(limits.initial_stream_window_size)
                    .initial_connection_window_size(limits.initial_connection_window_size)
                    .keep_alive_interval(Duration::from_secs(30))
                    .keep_alive_timeout(Duration::from_secs(20))
                    .serve_connection(io, service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    // GOAWAY: streams in flight finish, no new ones start.
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        }
    }
}
