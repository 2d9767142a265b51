//! Backend connections of one worker thread: HTTP/1.1 connections kept alive per backend
//! authority and reused one request at a time, with no lock shared between workers.
//!
//! A connection goes back to the pool when the backend's response body has been read to its
//! end; a response dropped half-read (the client went away) closes it. Idle connections older
//! than [`IDLE_TIMEOUT`] are closed instead of reused, and at most [`MAX_IDLE`] are kept per
//! backend.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;

use super::http1::{self as backend, ExchangeError, ResponseBody};
use super::transport::{self, Upstream};

/// How long a connection may sit idle in the pool and still be reused.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle connections kept per backend and worker.
pub const MAX_IDLE: usize = 256;

type Sender = SendRequest<ClientBody>;
/// Per backend authority, its idle connections and since when each is idle.
type Idle<C> = Vec<(String, Vec<(C, Instant)>)>;

/// One worker's idle backend connections, by backend authority (`host:port`).
#[derive(Default)]
pub struct Pool {
    /// hyper connections, for requests with a body.
    idle: Mutex<Idle<Sender>>,
    /// Plain connections, for requests without a body ([`backend`]).
    plain: Mutex<Idle<backend::Connection>>,
    /// HTTP/2 connections (`backend_protocol = "h2" | "h2c"`): one per backend and worker,
    /// carrying every request at once (streams).
    h2: Mutex<Vec<(String, H2Sender)>>,
}

type H2Sender = hyper::client::conn::http2::SendRequest<ClientBody>;

/// Why a backend request failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The backend could not be reached (refused, unresolvable, connect timeout).
    #[error("the backend refused or could not be reached")]
    Connect,
    /// The backend closed or reset the connection before answering.
    #[error("the backend closed or reset the connection")]
    Closed,
    /// The TLS handshake with the backend failed (its certificate, name or protocol).
    #[error("TLS to the backend failed: {0}")]
    Tls(String),
    /// The backend's response was malformed, cut short, framed two ways (`Content-Length` and
    /// `Transfer-Encoding`), or a protocol switch the gateway does not relay.
    #[error("the backend's response is malformed, cut short, or framed both by Content-Length and Transfer-Encoding")]
    Invalid,
    /// The client's request body was malformed or cut short (a `400`, not the backend's fault).
    #[error("the request body is malformed or cut short (chunked framing)")]
    ClientBody,
}

/// RFC 9110 §9.2.2: the methods a request of which may be sent twice.
pub fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

impl Pool {
    pub fn new() -> Arc<Pool> {
        Arc::new(Pool::default())
    }

    fn take(&self, authority: &str) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let (_, list) = idle.iter_mut().find(|(a, _)| a == authority)?;
        while let Some((sender, since)) = list.pop() {
            if !sender.is_closed() && since.elapsed() < IDLE_TIMEOUT {
                return Some(sender);
            }
        }
        None
    }

    fn put(&self, authority: &str, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        match idle.iter_mut().find(|(a, _)| a == authority) {
            Some((_, list)) => {
                list.retain(|(s, since)| {
                    !s.is_closed() && now.saturating_duration_since(*since) < IDLE_TIMEOUT
                });
                if list.len() < MAX_IDLE {
                    list.push((sender, now));
                }
            }
            None => idle.push((authority.to_owned(), vec![(sender, now)])),
        }
    }

    /// The index of `authority`'s list of plain connections (made on first use; never moves).
    fn plain_slot(&self, authority: &str) -> usize {
        let mut idle = self.plain.lock().unwrap_or_else(PoisonError::into_inner);
        match idle.iter().position(|(a, _)| a == authority) {
            Some(slot) => slot,
            None => {
                idle.push((authority.to_owned(), Vec::new()));
                idle.len() - 1
            }
        }
    }

    fn take_plain(&self, slot: usize) -> Option<backend::Connection> {
        let mut idle = self.plain.lock().unwrap_or_else(PoisonError::into_inner);
        let (_, list) = idle.get_mut(slot)?;
        while let Some((mut conn, since)) = list.pop() {
            if since.elapsed() < IDLE_TIMEOUT && conn.is_reusable() {
                return Some(conn);
            }
        }
        None
    }

    fn put_plain(&self, slot: usize, conn: backend::Connection) {
        let mut idle = self.plain.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if let Some((_, list)) = idle.get_mut(slot) {
            list.retain(|(_, since)| now.saturating_duration_since(*since) < IDLE_TIMEOUT);
            if list.len() < MAX_IDLE {
                list.push((conn, now));
            }
        }
    }

    /// Sends a request without a body (`head` from [`backend::RequestHead`]) on a pooled plain
    /// connection, or a new one; the exchange runs in the caller's task. When a reused
    /// connection turns out closed, the request is sent once more on a new one only if the
    /// backend cannot have received it (the head was not written whole) or its method is
    /// idempotent: a `POST` the backend read before closing is never sent twice. The response
    /// body returns the connection when read to its end.
    pub async fn send_without_body(
        self: &Arc<Self>,
        up: &Upstream,
        method: &Method,
        head: &[u8],
    ) -> Result<Response<ResponseBody>, BackendError> {
        let slot = self.plain_slot(&up.key);
        let mut retried = false;
        loop {
            let (conn, reused) = match self.take_plain(slot) {
                Some(conn) => (conn, true),
                None => (
                    backend::Connection::new(transport::connect(up).await?),
                    false,
                ),
            };
            match conn.exchange(method, head).await {
                Ok(mut response) => {
                    response.body_mut().on_done(backend::Release {
                        to: self.clone(),
                        slot,
                    });
                    return Ok(response);
                }
                Err(ExchangeError::NotSent) if reused && !retried => retried = true,
                Err(ExchangeError::NoResponse) if reused && !retried && idempotent(method) => {
                    retried = true;
                }
                Err(ExchangeError::Broken) => return Err(BackendError::Invalid),
                Err(_) => return Err(BackendError::Closed),
            }
        }
    }

    async fn connect(up: &Upstream) -> Result<Sender, BackendError> {
        let stream = transport::connect(up).await?;
        let (sender, connection) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|_| BackendError::Connect)?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// Sends `req` (origin-form target, `Host` set) to `authority` on a pooled connection, or a
    /// new one. A request that a reused connection never wrote (it was closed meanwhile) is
    /// retried once on a new connection. The response body returns the connection when read.
    pub async fn send(
        self: &Arc<Self>,
        up: &Upstream,
        req: Request<Incoming>,
    ) -> Result<Response<PooledBody>, BackendError> {
        let (mut req, failed) = ClientBody::wrap(req);
        let client_failed = || failed.load(std::sync::atomic::Ordering::Acquire);
        let mut reused = true;
        loop {
            let mut sender = match self.take(&up.key) {
                Some(mut sender) => match sender.ready().await {
                    Ok(()) => sender,
                    Err(_) => continue,
                },
                None => {
                    reused = false;
                    let mut sender = Pool::connect(up).await?;
                    sender.ready().await.map_err(|_| BackendError::Connect)?;
                    sender
                }
            };
            match sender.try_send_request(req).await {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    let body = PooledBody::new(body, sender, self.clone(), &up.key);
                    return Ok(Response::from_parts(parts, body));
                }
                Err(_) if client_failed() => return Err(BackendError::ClientBody),
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => {
                        req = unsent;
                        reused = false;
                    }
                    _ if e.error().is_parse() => return Err(BackendError::Invalid),
                    _ => return Err(BackendError::Closed),
                },
            }
        }
    }
}

/// The client's request body on its way to the backend; remembers whether reading it failed
/// (a malformed chunk size, a body cut short), so that the client gets a `400` and not a `502`.
pub struct ClientBody {
    inner: Incoming,
    failed: Arc<std::sync::atomic::AtomicBool>,
}

impl ClientBody {
    /// The request with its body watched, and the flag that says whether reading it failed.
    fn wrap(req: Request<Incoming>) -> (Request<ClientBody>, Arc<std::sync::atomic::AtomicBool>) {
        let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let req = req.map(|inner| ClientBody {
            inner,
            failed: failed.clone(),
        });
        (req, failed)
    }
}

impl Body for ClientBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Err(_))) = &polled {
            self.failed
                .store(true, std::sync::atomic::Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Pool {
    /// Sends `req` (absolute URI, no `Host`) to an HTTP/2 backend on this worker's connection to
    /// it, made (or made again, when closed) as needed. The response streams, trailers included.
    /// A request the connection never sent (it was closing, or had received `GOAWAY`) is sent
    /// once more on a new connection, whatever its method: the backend cannot have seen it.
    pub async fn send_h2(
        self: &Arc<Self>,
        up: &Upstream,
        req: Request<Incoming>,
    ) -> Result<Response<Incoming>, BackendError> {
        let (mut req, failed) = ClientBody::wrap(req);
        let evict = || {
            let mut senders = self.h2.lock().unwrap_or_else(PoisonError::into_inner);
            senders.retain(|(k, _)| *k != up.key);
        };
        let mut retried = false;
        loop {
            let mut sender = self.h2_sender(up).await?;
            if sender.ready().await.is_err() {
                evict();
                if retried {
                    return Err(BackendError::Closed);
                }
                retried = true;
                continue;
            }
            match sender.try_send_request(req).await {
                Ok(response) => return Ok(response),
                Err(_) if failed.load(std::sync::atomic::Ordering::Acquire) => {
                    return Err(BackendError::ClientBody)
                }
                Err(mut e) => {
                    // The next request makes a new connection.
                    evict();
                    match e.take_message() {
                        // Never sent (the connection was going away): once more, anew.
                        Some(unsent) if !retried => {
                            req = unsent;
                            retried = true;
                        }
                        _ if e.error().is_parse() => return Err(BackendError::Invalid),
                        _ => return Err(BackendError::Closed),
                    }
                }
            }
        }
    }

    /// This worker's HTTP/2 connection to `up`, made when there is none or it closed.
    async fn h2_sender(&self, up: &Upstream) -> Result<H2Sender, BackendError> {
        let existing = {
            let senders = self.h2.lock().unwrap_or_else(PoisonError::into_inner);
            senders
                .iter()
                .find(|(k, s)| *k == up.key && !s.is_closed())
                .map(|(_, s)| s.clone())
        };
        if let Some(sender) = existing {
            return Ok(sender);
        }
        let stream = transport::connect(up).await?;
        // Pings find a backend that vanished without closing the connection.
        let (sender, connection) =
            hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                .timer(hyper_util::rt::TokioTimer::new())
                .keep_alive_interval(std::time::Duration::from_secs(20))
                .keep_alive_timeout(std::time::Duration::from_secs(10))
                .keep_alive_while_idle(true)
                .handshake(TokioIo::new(stream))
                .await
                .map_err(|_| BackendError::Connect)?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut senders = self.h2.lock().unwrap_or_else(PoisonError::into_inner);
        senders.retain(|(k, s)| *k != up.key && !s.is_closed());
        senders.push((up.key.clone(), sender.clone()));
        Ok(sender)
    }
}

impl backend::Returns for Pool {
    fn give_back(&self, slot: usize, conn: backend::Connection) {
        self.put_plain(slot, conn);
    }
}

/// A backend response body that gives its connection back to the pool once read to the end.
pub struct PooledBody {
    inner: Incoming,
    back: Option<(Sender, Arc<Pool>, String)>,
}

impl PooledBody {
    fn new(inner: Incoming, sender: Sender, pool: Arc<Pool>, authority: &str) -> PooledBody {
        let mut body = PooledBody {
            inner,
            back: Some((sender, pool, authority.to_owned())),
        };
        body.release_if_done();
        body
    }

    fn release_if_done(&mut self) {
        if self.inner.is_end_stream() {
            if let Some((sender, pool, authority)) = self.back.take() {
                pool.put(&authority, sender);
            }
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => {
                if let Some((sender, pool, authority)) = self.back.take() {
                    pool.put(&authority, sender);
                }
            }
            Poll::Ready(Some(Ok(_))) => self.release_if_done(),
            Poll::Ready(Some(Err(_))) => self.back = None,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
