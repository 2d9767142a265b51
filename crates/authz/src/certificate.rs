//! A self-signed X.509 certificate for each signing key, so that `/as/jwks` keys carry `x5c` and
//! `x5t#S256` as PingOne's do (PingOne's "Read JWKS" page lists both), and clients that build the
//! verification key from `x5c[0]` (PingOne's own custom sign-on sample does) accept our tokens.
//! The certificate is made with rcgen and signed by the key itself (aws-lc-rs); its subject names
//! the environment; its validity is rcgen's default, from 1975 to 4096 (our choice: the key, not
//! the certificate, is what rotates).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jose::Key;
use serde_json::{Map, Value};

/// Why the certificate could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot make the signing key's certificate: {0}")]
pub struct CertificateError(String);

/// The DER of a self-signed certificate for an RSA signing key.
pub fn self_signed(key: &Key, subject: &str) -> Result<Vec<u8>, CertificateError> {
    let err = |e: &dyn std::fmt::Display| CertificateError(e.to_string());
    let pem = key.private_pem().map_err(|e| err(&e))?;
    let pair = rcgen::KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256)
        .map_err(|e| err(&e))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| err(&e))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, subject);
    let cert = params.self_signed(&pair).map_err(|e| err(&e))?;
    Ok(cert.der().to_vec())
}

/// The public JWK with `x5c` (the certificate, standard base64) and `x5t#S256` (its SHA-256,
/// base64url) added (RFC 7517 §4.7, §4.9).
pub fn with_certificate(mut jwk: Map<String, Value>, der: &[u8]) -> Map<String, Value> {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    jwk.insert(
        "x5c".into(),
        Value::Array(vec![STANDARD.encode(der).into()]),
    );
    jwk.insert(
        "x5t#S256".into(),
        URL_SAFE_NO_PAD.encode(digest.as_ref()).into(),
    );
    jwk
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_carries_the_key_and_verifies_its_tokens() {
        let key = Key::generate(jose::Algorithm::RS256).unwrap();
        let der = self_signed(&key, "signet authz env-1").unwrap();
        // The certificate's public key is the signing key's: parse it back as a key.
        let from_cert = Key::from_der(&der).unwrap();
        assert_eq!(from_cert.thumbprint(), key.thumbprint());
        let jwk = with_certificate(key.public_jwk(), &der);
        assert_eq!(
            STANDARD.decode(jwk["x5c"][0].as_str().unwrap()).unwrap(),
            der
        );
        assert_eq!(jwk["x5t#S256"].as_str().unwrap().len(), 43);
        // The JWK with its certificate members is still a usable key.
        let back = Key::from_jwk(&jwk).unwrap();
        assert_eq!(back.thumbprint(), key.thumbprint());
    }
}
