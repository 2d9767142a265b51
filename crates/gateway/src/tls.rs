//! The HTTPS listener's TLS configuration (rustls with the aws-lc-rs provider): the server
//! certificate, and with `client_ca` a request for client certificates (optional: a client
//! without one is served without a certificate claim).

use std::path::Path;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
pub use tokio_rustls::TlsAcceptor as Acceptor;

/// Why the TLS configuration cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("client_ca: {0}")]
    Verifier(String),
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |message: String| TlsError::File {
        file: path.display().to_string(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("holds no certificate".into()));
    }
    Ok(certs)
}

/// The certificates of a PEM file, in order (a client's chain for `explain`).
pub fn certificate_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    certificates(path)
}

/// The client CAs of `client_ca`, for telling which chain a handshake verified.
pub fn client_cas(path: &Path) -> Result<ClientCas, TlsError> {
    Ok(ClientCas {
        certs: certificates(path)?,
    })
}

/// An HTTPS listener's TLS: the acceptor, and the client CAs when certificates are requested.
#[derive(Clone)]
pub struct Https {
    pub acceptor: tokio_rustls::TlsAcceptor,
    pub client_cas: Option<Arc<ClientCas>>,
}

/// The HTTPS acceptor: see [`server_config`].
pub fn acceptor(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<Https, TlsError> {
    let client_cas = match client_ca {
        Some(ca) => Some(Arc::new(ClientCas {
            certs: certificates(ca)?,
        })),
        None => None,
    };
    Ok(Https {
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server_config(cert, key, client_ca)?)),
        client_cas,
    })
}

/// The configured client CAs (`client_ca`), to tell which chain a handshake verified.
pub struct ClientCas {
    certs: Vec<CertificateDer<'static>>,
}

impl ClientCas {
    /// The chain the client's certificate was verified by, leaf first: the leaf, the
    /// intermediates of the verified path (in order), and the configured CA it ends at.
    /// Certificates the client sent that are not on that path (a root it appended, unrelated
    /// ones) are left out. Empty when the client sent none or nothing verifies (rustls has
    /// verified the same chain with the same roots during the handshake, so that means none).
    pub fn verified_chain(&self, presented: &[CertificateDer<'_>]) -> Vec<Vec<u8>> {
        self.verified_chain_at(presented, rustls_pki_types::UnixTime::now())
    }

    fn verified_chain_at(
        &self,
        presented: &[CertificateDer<'_>],
        now: rustls_pki_types::UnixTime,
    ) -> Vec<Vec<u8>> {
        let Some((leaf, intermediates)) = presented.split_first() else {
            return Vec::new();
        };
        let anchors: Vec<(rustls_pki_types::TrustAnchor<'_>, &CertificateDer<'static>)> = self
            .certs
            .iter()
            .filter_map(|c| webpki::anchor_from_trusted_cert(c).ok().map(|a| (a, c)))
            .collect();
        let trust: Vec<rustls_pki_types::TrustAnchor<'_>> =
            anchors.iter().map(|(a, _)| a.clone()).collect();
        let Ok(end_entity) = webpki::EndEntityCert::try_from(leaf) else {
            return Vec::new();
        };
        let algorithms = rustls::crypto::aws_lc_rs::default_provider()
            .signature_verification_algorithms
            .all;
        let Ok(path) = end_entity.verify_for_usage(
            algorithms,
            &trust,
            intermediates,
            now,
            webpki::KeyUsage::client_auth(),
            None,
            None,
        ) else {
            return Vec::new();
        };
        let anchor = path.anchor();
        let ca = anchors.iter().find(|(a, _)| {
            a.subject == anchor.subject
                && a.subject_public_key_info == anchor.subject_public_key_info
        });
        let mut chain = vec![leaf.as_ref().to_vec()];
        chain.extend(
            path.intermediate_certificates()
                .map(|c| c.der().as_ref().to_vec()),
        );
        if let Some((_, ca)) = ca {
            chain.push(ca.as_ref().to_vec());
        }
        chain
    }
}

/// The server configuration: `cert` (PEM chain), `key` (PEM private key), and when `client_ca`
/// is given, client certificates requested and verified against it.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let chain = certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::File {
        file: key.display().to_string(),
        message: e.to_string(),
    })?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let mut config = match client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in certificates(ca)? {
                roots
                    .add(c)
                    .map_err(|e| TlsError::Verifier(e.to_string()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::Verifier(e.to_string()))?;
            builder
                .with_client_cert_verifier(verifier)
                .with_single_cert(chain, key)?
        }
        None => builder.with_no_client_auth().with_single_cert(chain, key)?,
    };
    // HTTP/2 when the client offers it, HTTP/1.1 otherwise.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
