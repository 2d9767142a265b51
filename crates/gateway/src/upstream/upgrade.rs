//! Protocol upgrades (WebSocket: `Connection: Upgrade`, `Upgrade: websocket`). The upgrade
//! request has been through routing, the session and the identity mapping like any request; it
//! goes to the backend on a connection of its own, and when the backend answers `101`, the
//! gateway answers `101` too and copies bytes both ways until either side closes or both are
//! idle for the application's `upgrade_idle_timeout_seconds`.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::transport::{self, Upstream};
use super::BackendError;
use crate::http::headers::lists;

/// The protocol a request asks to switch to: its `Upgrade` value when `Connection` lists
/// `upgrade` (RFC 9110 §7.8) and the protocol is WebSocket. Other upgrades (`h2c`, …) are not
/// relayed: after a switch the gateway would see no more requests to route or check, so the
/// request is forwarded as an ordinary one, its `Upgrade` field dropped (our choice).
pub fn requested(headers: &HeaderMap) -> Option<HeaderValue> {
    let listed = lists(headers, header::CONNECTION, "upgrade");
    let upgrade = headers.get(header::UPGRADE)?;
    let websocket = upgrade
        .to_str()
        .ok()?
        .split(',')
        .any(|p| p.trim().eq_ignore_ascii_case("websocket"));
    (listed && websocket).then(|| HeaderValue::from_static("websocket"))
}

/// The backend's answer to an upgrade request: a `101` with the upgraded connection to come,
/// or any other response (relayed as is).
pub enum Answer {
    Switched {
        response: Response<()>,
        upgraded: hyper::upgrade::OnUpgrade,
    },
    Other(Response<hyper::body::Incoming>),
}

/// Sends the upgrade request (`head`: origin-form target, the outgoing fields with `Connection:
/// upgrade` and `Upgrade`) to the backend on a new connection.
pub async fn send(up: &Upstream, head: Request<()>) -> Result<Answer, BackendError> {
    let stream = transport::connect(up).await?;
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(|_| BackendError::Connect)?;
    tokio::spawn(async move {
        let _ = connection.with_upgrades().await;
    });
    let (parts, ()) = head.into_parts();
    let mut response = sender
        .send_request(Request::from_parts(parts, Empty::new()))
        .await
        .map_err(|e| {
            if e.is_parse() {
                BackendError::Invalid
            } else {
                BackendError::Closed
            }
        })?;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Ok(Answer::Other(response));
    }
    let upgraded = hyper::upgrade::on(&mut response);
    let (parts, _) = response.into_parts();
    Ok(Answer::Switched {
        response: Response::from_parts(parts, ()),
        upgraded,
    })
}

/// Bytes copied each way by [`relay`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Relayed {
    pub client_to_backend: u64,
    pub backend_to_client: u64,
}

/// Copies bytes both ways between the upgraded client and backend connections until both have
/// closed their sending side, either fails, or nothing moved for `idle`.
pub async fn relay<A, B>(client: A, backend: B, idle: Duration) -> Relayed
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut backend_read, mut backend_write) = tokio::io::split(backend);
    let mut up = vec![0u8; 16 * 1024];
    let mut down = vec![0u8; 16 * 1024];
    let mut relayed = Relayed::default();
    let (mut client_open, mut backend_open) = (true, true);
    while client_open || backend_open {
        let step = tokio::time::timeout(idle, async {
            tokio::select! {
                read = client_read.read(&mut up), if client_open => (true, read),
                read = backend_read.read(&mut down), if backend_open => (false, read),
            }
        })
        .await;
        let Ok((from_client, read)) = step else {
            break; // idle in both directions
        };
        match (from_client, read) {
            (true, Ok(0)) => {
                client_open = false;
                let _ = backend_write.shutdown().await;
            }
            (false, Ok(0)) => {
                backend_open = false;
                let _ = client_write.shutdown().await;
            }
            (true, Ok(n)) => {
                let Some(bytes) = up.get(..n) else { break };
                if !write_within(&mut backend_write, bytes, idle).await {
                    break;
                }
                relayed.client_to_backend += n as u64;
            }
            (false, Ok(n)) => {
                let Some(bytes) = down.get(..n) else { break };
                if !write_within(&mut client_write, bytes, idle).await {
                    break;
                }
                relayed.backend_to_client += n as u64;
            }
            (_, Err(_)) => break,
        }
    }
    relayed
}

/// Writes and flushes `bytes` (over TLS, rustls may hold records until flushed) unless the peer
/// stops reading for `idle`: a side that never reads must not hold the tunnel forever.
async fn write_within<W: AsyncWrite + Unpin>(w: &mut W, bytes: &[u8], idle: Duration) -> bool {
    let write = async {
        w.write_all(bytes).await?;
        w.flush().await
    };
    matches!(tokio::time::timeout(idle, write).await, Ok(Ok(())))
}

/// A `101` response for the client from the backend's, with its fields (they carry the
/// protocol's handshake, e.g. `Sec-WebSocket-Accept`).
pub fn switched(backend: Response<()>) -> Response<crate::http::respond::Body> {
    let (mut parts, ()) = backend.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, crate::http::respond::full(Bytes::new()))
}

/// The body type of a response that is not a switch.
pub fn boxed(response: Response<hyper::body::Incoming>) -> Response<crate::http::respond::Body> {
    response.map(|b| b.map_err(crate::http::respond::BoxError::from).boxed())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_upgrade_needs_connection_upgrade_and_a_protocol() {
        let mut h = HeaderMap::new();
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert_eq!(requested(&h), None);
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        assert_eq!(requested(&h).unwrap(), "websocket");
        h.insert(header::UPGRADE, HeaderValue::from_static("h2c"));
        assert_eq!(requested(&h), None, "only WebSocket is relayed");
        h.remove(header::UPGRADE);
        assert_eq!(requested(&h), None);
    }

    #[tokio::test]
    async fn relay_copies_both_ways_and_ends_when_both_sides_close() {
        let (client, mut client_peer) = tokio::io::duplex(1024);
        let (backend, mut backend_peer) = tokio::io::duplex(1024);
        let task = tokio::spawn(relay(client, backend, Duration::from_secs(5)));
        client_peer.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        backend_peer.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        backend_peer.write_all(b"pong!").await.unwrap();
        let mut buf = [0u8; 5];
        client_peer.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong!");
        client_peer.shutdown().await.unwrap();
        backend_peer.shutdown().await.unwrap();
        let relayed = task.await.unwrap();
        assert_eq!(
            relayed,
            Relayed {
                client_to_backend: 4,
                backend_to_client: 5
            }
        );
    }

    #[tokio::test]
    async fn relay_ends_when_both_directions_are_idle() {
        let (client, _client_peer) = tokio::io::duplex(64);
        let (backend, _backend_peer) = tokio::io::duplex(64);
        let relayed = tokio::time::timeout(
            Duration::from_secs(5),
            relay(client, backend, Duration::from_millis(100)),
        )
        .await
        .unwrap();
        assert_eq!(relayed, Relayed::default());
    }
}
