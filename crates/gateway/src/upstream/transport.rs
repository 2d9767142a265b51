//! How the gateway reaches a backend: plain TCP, or TLS (rustls with aws-lc-rs) with the
//! backend's server name, its CA (or the system's roots) and, for mTLS, a client certificate.
//! Both are one [`Stream`] type, so the pool and both HTTP/1.1 paths never ask which.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::BackendError;

/// Connecting (TCP and, for TLS, the handshake) gives up after this long (the application's
/// timeout may be shorter).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS to a backend: the client configuration and the name its certificate must carry.
#[derive(Clone)]
pub struct BackendTls {
    pub connector: tokio_rustls::TlsConnector,
    pub server_name: ServerName<'static>,
}

/// One backend as the pool sees it.
pub struct Upstream {
    /// What pooled connections are kept under: the authority, and for TLS the application
    /// (each has its own CA, server name and client certificate).
    pub key: String,
    /// `host:port` to connect to.
    pub authority: String,
    pub tls: Option<BackendTls>,
}

/// A connection to a backend.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// Opens a connection to the backend: TCP, then the TLS handshake when the backend is `https`.
pub async fn connect(up: &Upstream) -> Result<Stream, BackendError> {
    let attempt = async {
        let tcp = TcpStream::connect(&up.authority)
            .await
            .map_err(|_| BackendError::Connect)?;
        let _ = tcp.set_nodelay(true);
        match &up.tls {
            None => Ok(Stream::Plain(tcp)),
            Some(tls) => {
                let stream = tls
                    .connector
                    .connect(tls.server_name.clone(), tcp)
                    .await
                    .map_err(|e| BackendError::Tls(tls_cause(&e)))?;
                Ok(Stream::Tls(Box::new(stream)))
            }
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .unwrap_or(Err(BackendError::Connect))
}

/// What a failed handshake says (rustls's error, e.g. "invalid peer certificate: UnknownIssuer").
fn tls_cause(e: &io::Error) -> String {
    match e.get_ref() {
        Some(inner) => inner.to_string(),
        None => e.to_string(),
    }
}

impl Stream {
    /// Whether the backend sent nothing (no data, no close) since the last response, so the
    /// connection can carry another request. A TLS session ticket or other handshake message
    /// is consumed by rustls and does not count.
    pub fn is_idle(&mut self) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut probe = [0u8; 1];
        let mut buf = ReadBuf::new(&mut probe);
        matches!(Pin::new(self).poll_read(&mut cx, &mut buf), Poll::Pending)
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }
}

/// The TLS client configuration for a backend: `ca` (PEM certificates) or the system's roots,
/// and the client certificate chain and key for mTLS.
pub fn client_config(
    ca: Option<Vec<rustls_pki_types::CertificateDer<'static>>>,
    client: Option<(
        Vec<rustls_pki_types::CertificateDer<'static>>,
        rustls_pki_types::PrivateKeyDer<'static>,
    )>,
    h2: bool,
) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(certs) => {
            for c in certs {
                roots.add(c).map_err(|e| format!("backend_ca: {e}"))?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for c in native.certs {
                let _ = roots.add(c);
            }
            if roots.is_empty() {
                return Err("the system has no trusted root certificates; set backend_ca".into());
            }
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let mut config = match client {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("backend_client_cert: {e}"))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = if h2 {
        vec![b"h2".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}
