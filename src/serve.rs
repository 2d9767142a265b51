//! What `signet authz`, `signet gateway` and `signet ui` share: the runtime, binding, the
//! "listening" line the tests and scripts wait for, and the shutdown signals.

use std::fmt::Display;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;

use anyhow::{Context, Result};
use tokio::net::{TcpListener, ToSocketAddrs};

/// The multi-thread runtime the servers run on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Binds `listen`; returns the listener and the address it got (port 0 picks a free one).
pub async fn bind(listen: impl ToSocketAddrs + Display) -> Result<(TcpListener, SocketAddr)> {
    let label = listen.to_string();
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {label}"))?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;
    Ok((listener, addr))
}

/// Prints the line that says the server is ready, flushed at once.
pub fn announce(line: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .context("cannot write to standard output")
}

/// A future that resolves on SIGINT or SIGTERM. The handlers are installed by this call, so
/// call it before announcing the server: a signal that arrives after the announcement is never
/// left to the default action (which would end the process without a graceful stop).
pub fn shutdown() -> Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
