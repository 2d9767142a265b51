//! Keys: parsed once, bound to the algorithms they may serve, reusable for any number of
//! signatures. Formats: HMAC secrets, PEM (PKCS#8, SPKI, PKCS#1, SEC1, certificates), DER, JWK.

use std::fmt;
use std::sync::{Arc, OnceLock};

use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPairComponents, PublicKeyComponents};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, EcdsaVerificationAlgorithm, Ed25519KeyPair,
    KeyPair as _, ParsedPublicKey, RsaKeyPair,
};
use aws_lc_rs::{digest, hmac};
use serde_json::{Map, Value};

use crate::alg::{Algorithm, Curve, Family};
use crate::der;
use crate::error::Error;
use crate::{b64, roca};

/// A key for signing and/or verifying. Cheap to clone (shared), safe to use from many threads.
#[derive(Clone)]
pub struct Key {
    material: Arc<Material>,
    kid: Option<String>,
    /// The one algorithm this key may be used with (a JWK's `alg`), if restricted.
    alg: Option<Algorithm>,
    /// HMAC keys from a JWK must meet RFC 7518 §3.2's minimum length; literal secrets only warn.
    strict_hmac_len: bool,
}

// Always behind an `Arc` (one allocation per key), so variant sizes cost nothing per handle;
// boxing a variant would only add a pointer chase on the signing and verifying paths.
#[allow(clippy::large_enum_variant)]
enum Material {
    Hmac(HmacKey),
    Rsa(RsaKey),
    Ec(EcKey),
    Ed25519(EdKey),
}

struct HmacKey {
    secret: Vec<u8>,
    keys: [OnceLock<hmac::Key>; 3],
}

struct RsaKey {
    n: Vec<u8>,
    e: Vec<u8>,
    /// One parsed verifier per RSA algorithm, made on first use.
    verifiers: [OnceLock<ParsedPublicKey>; 6],
    private: Option<RsaKeyPair>,
}

struct EcKey {
    curve: Curve,
    /// Uncompressed SEC1 point: 0x04 || x || y.
    point: Vec<u8>,
    verifier: ParsedPublicKey,
    private: Option<EcdsaKeyPair>,
}

struct EdKey {
    public: Vec<u8>,
    verifier: ParsedPublicKey,
    private: Option<Ed25519KeyPair>,
}

/// The kind of a key, for messages and for matching against algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Hmac,
    Rsa,
    Ec(Curve),
    Ed25519,
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyKind::Hmac => f.write_str("HMAC secret"),
            KeyKind::Rsa => f.write_str("RSA"),
            KeyKind::Ec(c) => write!(f, "EC {}", c.name()),
            KeyKind::Ed25519 => f.write_str("Ed25519"),
        }
    }
}

fn ec_signing(curve: Curve) -> &'static EcdsaSigningAlgorithm {
    match curve {
        Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
        Curve::Secp256k1 => &signature::ECDSA_P256K1_SHA256_FIXED_SIGNING,
    }
}

fn ec_verification(curve: Curve) -> &'static EcdsaVerificationAlgorithm {
    match curve {
        Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
        Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
        Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED,
        Curve::Secp256k1 => &signature::ECDSA_P256K1_SHA256_FIXED,
    }
}

fn rsa_slot(
    alg: Algorithm,
) -> Option<(
    usize,
    &'static signature::RsaParameters,
    &'static dyn signature::RsaEncoding,
)> {
    Some(match alg {
        Algorithm::RS256 => (
            0,
            &signature::RSA_PKCS1_2048_8192_SHA256,
            &signature::RSA_PKCS1_SHA256,
        ),
        Algorithm::RS384 => (
            1,
            &signature::RSA_PKCS1_2048_8192_SHA384,
            &signature::RSA_PKCS1_SHA384,
        ),
        Algorithm::RS512 => (
            2,
            &signature::RSA_PKCS1_2048_8192_SHA512,
            &signature::RSA_PKCS1_SHA512,
        ),
        Algorithm::PS256 => (
            3,
            &signature::RSA_PSS_2048_8192_SHA256,
            &signature::RSA_PSS_SHA256,
        ),
        Algorithm::PS384 => (
            4,
            &signature::RSA_PSS_2048_8192_SHA384,
            &signature::RSA_PSS_SHA384,
        ),
        Algorithm::PS512 => (
            5,
            &signature::RSA_PSS_2048_8192_SHA512,
            &signature::RSA_PSS_SHA512,
        ),
        _ => return None,
    })
}

fn hmac_slot(alg: Algorithm) -> Option<(usize, hmac::Algorithm)> {
    Some(match alg {
        Algorithm::HS256 => (0, hmac::HMAC_SHA256),
        Algorithm::HS384 => (1, hmac::HMAC_SHA384),
        Algorithm::HS512 => (2, hmac::HMAC_SHA512),
        _ => return None,
    })
}

fn rejected(what: &str, e: impl fmt::Display) -> Error {
    Error::Key(format!("{what}: {e}"))
}

/// Number of significant bits of a big-endian unsigned integer.
fn bit_len(be: &[u8]) -> usize {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    let rest = be.get(start..).unwrap_or_default();
    match rest.first() {
        Some(&top) => (rest.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
        None => 0,
    }
}

fn strip_zeros(be: &[u8]) -> &[u8] {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    be.get(start..).unwrap_or_default()
}

impl Key {
    fn new(material: Material) -> Key {
        Key {
            material: Arc::new(material),
            kid: None,
            alg: None,
            strict_hmac_len: false,
        }
    }

    /// Sets the key id (`kid`); used when signing and to select among verification keys.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Key {
        self.kid = Some(kid.into());
        self
    }

    /// Restricts the key to one algorithm. Fails if the key cannot serve that algorithm.
    pub fn with_algorithm(mut self, alg: Algorithm) -> Result<Key, Error> {
        self.check_family(alg)?;
        if let Some(bound) = self.alg {
            if bound != alg {
                return Err(Error::KeyAlgorithmMismatch {
                    alg: alg.name().into(),
                    key: format!("{}, restricted to {bound}", self.kind()),
                });
            }
        }
        self.alg = Some(alg);
        Ok(self)
    }

    /// An HMAC secret, used as raw bytes. Empty secrets are refused; short ones are accepted
    /// (check [`Key::hmac_shorter_than_recommended`] to warn).
    pub fn hmac(secret: impl Into<Vec<u8>>) -> Result<Key, Error> {
        let secret = secret.into();
        if secret.is_empty() {
            return Err(Error::EmptySecret);
        }
        Ok(Key::new(Material::Hmac(HmacKey {
            secret,
            keys: Default::default(),
        })))
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithm the key is restricted to, if any.
    pub fn algorithm(&self) -> Option<Algorithm> {
        self.alg
    }

    pub fn kind(&self) -> KeyKind {
        match &*self.material {
            Material::Hmac(_) => KeyKind::Hmac,
            Material::Rsa(_) => KeyKind::Rsa,
            Material::Ec(k) => KeyKind::Ec(k.curve),
            Material::Ed25519(_) => KeyKind::Ed25519,
        }
    }

    /// True for HMAC secrets and asymmetric private keys.
    pub fn can_sign(&self) -> bool {
        match &*self.material {
            Material::Hmac(_) => true,
            Material::Rsa(k) => k.private.is_some(),
            Material::Ec(k) => k.private.is_some(),
            Material::Ed25519(k) => k.private.is_some(),
        }
    }

    /// True for HMAC secrets and asymmetric private keys (a JWK Set must not mix these with
    /// public keys).
    pub fn is_secret(&self) -> bool {
        self.can_sign()
    }

    /// Algorithms this key can serve, narrowest first.
    pub fn algorithms(&self) -> Vec<Algorithm> {
        if let Some(alg) = self.alg {
            return vec![alg];
        }
        Algorithm::ALL
            .into_iter()
            .filter(|a| self.check_family(*a).is_ok())
            .collect()
    }

    /// The algorithm to sign with when the caller names none: the key's own, else the natural
    /// one for its kind (HS256, RS256, ES* by curve, EdDSA).
    pub fn default_algorithm(&self) -> Algorithm {
        if let Some(alg) = self.alg {
            return alg;
        }
        match self.kind() {
            KeyKind::Hmac => Algorithm::HS256,
            KeyKind::Rsa => Algorithm::RS256,
            KeyKind::Ec(c) => c.algorithm(),
            KeyKind::Ed25519 => Algorithm::EdDSA,
        }
    }

    /// For an HMAC secret: true when it is shorter than RFC 7518 §3.2 asks for `alg`.
    pub fn hmac_shorter_than_recommended(&self, alg: Algorithm) -> bool {
        match (&*self.material, alg.hmac_min_key_len()) {
            (Material::Hmac(k), Some(min)) => k.secret.len() < min,
            _ => false,
        }
    }

    fn check_family(&self, alg: Algorithm) -> Result<(), Error> {
        let ok = matches!(
            (alg.family(), &*self.material),
            (Family::Hmac, Material::Hmac(_))
                | (Family::Rsa, Material::Rsa(_))
                | (Family::Ed25519, Material::Ed25519(_))
        ) || matches!((alg.family(), &*self.material), (Family::Ec(c), Material::Ec(k)) if c == k.curve);
        if ok {
            Ok(())
        } else {
            Err(Error::KeyAlgorithmMismatch {
                alg: alg.name().into(),
                key: self.kind().to_string(),
            })
        }
    }

    /// Checks that this key may be used with `alg`: right kind, right curve, the JWK's `alg`
    /// if it has one, and for JWK secrets the minimum length.
    pub fn check_algorithm(&self, alg: Algorithm) -> Result<(), Error> {
        self.check_family(alg)?;
        if let Some(bound) = self.alg {
            if bound != alg {
                return Err(Error::KeyAlgorithmMismatch {
                    alg: alg.name().into(),
                    key: format!("{}, restricted to {bound}", self.kind()),
                });
            }
        }
        if let (Material::Hmac(k), Some(min)) = (&*self.material, alg.hmac_min_key_len()) {
            if self.strict_hmac_len && k.secret.len() < min {
                return Err(Error::HmacKeyTooShort {
                    alg: alg.name().into(),
                    len: k.secret.len(),
                    min,
                });
            }
        }
        Ok(())
    }

    /// Signs `message` with `alg`.
    pub fn sign(&self, alg: Algorithm, message: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(self.sign_raw(alg, message)?.as_ref().to_vec())
    }

    /// Signs `message` with `alg`, keeping HMAC tags and EC/Ed25519 signatures on the stack: the
    /// allocation-free core of [`Key::sign`] and of the signer's hot path.
    pub(crate) fn sign_raw(&self, alg: Algorithm, message: &[u8]) -> Result<SignatureBytes, Error> {
        self.check_algorithm(alg)?;
        let failed = |e: aws_lc_rs::error::Unspecified| Error::SigningFailed(e.to_string());
        match &*self.material {
            Material::Hmac(k) => Ok(SignatureBytes::stack(
                hmac::sign(k.key(alg)?, message).as_ref(),
            )),
            Material::Rsa(k) => {
                let pair = k.private.as_ref().ok_or(Error::PublicKeyCannotSign)?;
                let (_, _, encoding) = rsa_slot(alg).ok_or(Error::InvalidSignature)?;
                let mut out = vec![0u8; pair.public_modulus_len()];
                pair.sign(encoding, &SystemRandom::new(), message, &mut out)
                    .map_err(failed)?;
                Ok(SignatureBytes::Heap(out))
            }
            Material::Ec(k) => {
                let pair = k.private.as_ref().ok_or(Error::PublicKeyCannotSign)?;
                Ok(SignatureBytes::stack(
                    pair.sign(&SystemRandom::new(), message)
                        .map_err(failed)?
                        .as_ref(),
                ))
            }
            Material::Ed25519(k) => {
                let pair = k.private.as_ref().ok_or(Error::PublicKeyCannotSign)?;
                Ok(SignatureBytes::stack(pair.sign(message).as_ref()))
            }
        }
    }

    /// Length in bytes of a signature this key makes with `alg` (an upper bound for sizing
    /// buffers; 0 when unknown).
    pub(crate) fn signature_len(&self, alg: Algorithm) -> usize {
        match (&*self.material, alg.fixed_signature_len()) {
            (_, Some(len)) => len,
            (Material::Rsa(k), None) => k.n.len(),
            _ => 0,
        }
    }

    /// Verifies `signature` over `message` with `alg`.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        self.check_algorithm(alg)?;
        if let Some(expected) = alg.fixed_signature_len() {
            if signature.len() != expected {
                return Err(Error::SignatureLength {
                    alg: alg.name().into(),
                    expected,
                    found: signature.len(),
                });
            }
        }
        let ok = match &*self.material {
            Material::Hmac(k) => hmac::verify(k.key(alg)?, message, signature).is_ok(),
            Material::Rsa(k) => k.verifier(alg)?.verify_sig(message, signature).is_ok(),
            Material::Ec(k) => k.verifier.verify_sig(message, signature).is_ok(),
            Material::Ed25519(k) => k.verifier.verify_sig(message, signature).is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidSignature)
        }
    }

    // ----- construction from key material -----

    fn rsa_public(n: &[u8], e: &[u8]) -> Result<Key, Error> {
        let n = strip_zeros(n).to_vec();
        let e = strip_zeros(e).to_vec();
        let bits = bit_len(&n);
        if bits < 2048 {
            return Err(Error::RsaKeyTooSmall { bits });
        }
        if bits > 8192 {
            return Err(Error::Key(format!(
                "RSA key is {bits} bits; at most 8192 bits are supported"
            )));
        }
        if e.len() > 4 || bit_len(&e) < 2 || e.last().is_none_or(|b| b & 1 == 0) {
            return Err(Error::Key(
                "RSA public exponent must be odd, greater than 1 and at most 32 bits".into(),
            ));
        }
        if roca::is_vulnerable(&n) {
            return Err(Error::Key(
                "RSA modulus has the ROCA fingerprint (CVE-2017-15361); the key is weak, regenerate it".into(),
            ));
        }
        // Validate now so a bad key fails at load time, not at first use.
        PublicKeyComponents {
            n: &n[..],
            e: &e[..],
        }
        .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
        .map_err(|e| rejected("RSA public key", e))?;
        Ok(Key::new(Material::Rsa(RsaKey {
            n,
            e,
            verifiers: Default::default(),
            private: None,
        })))
    }

    fn rsa_private(pair: RsaKeyPair) -> Result<Key, Error> {
        let public = pair.public_key();
        let key = Key::rsa_public(
            public.modulus().big_endian_without_leading_zero(),
            public.exponent().big_endian_without_leading_zero(),
        )?;
        match Arc::into_inner(key.material) {
            Some(Material::Rsa(k)) => Ok(Key::new(Material::Rsa(RsaKey {
                private: Some(pair),
                ..k
            }))),
            _ => Err(Error::Key("RSA key construction".into())),
        }
    }

    fn ec_public(curve: Curve, point: &[u8]) -> Result<Key, Error> {
        let len = curve.coordinate_len();
        if point.len() != 1 + 2 * len || point.first() != Some(&4) {
            return Err(Error::Key(format!(
                "EC {} public key must be an uncompressed point of {} bytes",
                curve.name(),
                1 + 2 * len
            )));
        }
        let verifier = ParsedPublicKey::new(ec_verification(curve), point).map_err(|e| {
            rejected(
                &format!(
                    "EC {} public key (is the point on the curve?)",
                    curve.name()
                ),
                e,
            )
        })?;
        Ok(Key::new(Material::Ec(EcKey {
            curve,
            point: point.to_vec(),
            verifier,
            private: None,
        })))
    }

    fn ec_private(curve: Curve, pair: EcdsaKeyPair) -> Result<Key, Error> {
        let key = Key::ec_public(curve, pair.public_key().as_ref())?;
        match Arc::into_inner(key.material) {
            Some(Material::Ec(k)) => Ok(Key::new(Material::Ec(EcKey {
                private: Some(pair),
                ..k
            }))),
            _ => Err(Error::Key("EC key construction".into())),
        }
    }

    fn ed_public(public: &[u8]) -> Result<Key, Error> {
        let Ok(encoded) = <&[u8; 32]>::try_from(public) else {
            return Err(Error::Key("Ed25519 public key must be 32 bytes".into()));
        };
        if let Some(reason) = crate::ed25519::weakness(encoded) {
            return Err(Error::WeakEd25519Key(reason));
        }
        let verifier = ParsedPublicKey::new(&signature::ED25519, public)
            .map_err(|e| rejected("Ed25519 public key", e))?;
        Ok(Key::new(Material::Ed25519(EdKey {
            public: public.to_vec(),
            verifier,
            private: None,
        })))
    }

    fn ed_private(pair: Ed25519KeyPair) -> Result<Key, Error> {
        let key = Key::ed_public(pair.public_key().as_ref())?;
        match Arc::into_inner(key.material) {
            Some(Material::Ed25519(k)) => Ok(Key::new(Material::Ed25519(EdKey {
                private: Some(pair),
                ..k
            }))),
            _ => Err(Error::Key("Ed25519 key construction".into())),
        }
    }

    /// Generates a new key for `alg`: a random secret of the hash size for HS*, RSA 2048 for
    /// RS*/PS* (see [`Key::generate_rsa`]), a new EC or Ed25519 key pair otherwise.
    pub fn generate(alg: Algorithm) -> Result<Key, Error> {
        let failed =
            |e: aws_lc_rs::error::Unspecified| Error::SigningFailed(format!("key generation: {e}"));
        let key = match alg.family() {
            Family::Hmac => {
                let mut secret = vec![0u8; alg.hmac_min_key_len().unwrap_or(32)];
                aws_lc_rs::rand::fill(&mut secret).map_err(failed)?;
                Key::hmac(secret)?
            }
            Family::Rsa => return Key::generate_rsa(alg, 2048),
            Family::Ec(curve) => Key::ec_private(
                curve,
                EcdsaKeyPair::generate(ec_signing(curve)).map_err(failed)?,
            )?,
            Family::Ed25519 => Key::ed_private(Ed25519KeyPair::generate().map_err(failed)?)?,
        };
        key.with_algorithm(alg)
    }

    /// Generates an RSA key of 2048, 3072 or 4096 bits for `alg`.
    pub fn generate_rsa(alg: Algorithm, bits: usize) -> Result<Key, Error> {
        use aws_lc_rs::rsa::KeySize;
        let size = match bits {
            2048 => KeySize::Rsa2048,
            3072 => KeySize::Rsa3072,
            4096 => KeySize::Rsa4096,
            _ => {
                return Err(Error::Key(format!(
                    "RSA key size {bits} is not one of 2048, 3072, 4096"
                )))
            }
        };
        let pair = RsaKeyPair::generate(size)
            .map_err(|e| Error::SigningFailed(format!("key generation: {e}")))?;
        Key::rsa_private(pair)?.with_algorithm(alg)
    }

    /// Parses a key from bytes in any supported format, detected from the content: JWK (JSON
    /// object with `kty`), PEM (`-----BEGIN`), otherwise DER.
    pub fn parse(bytes: &[u8]) -> Result<Key, Error> {
        let trimmed = bytes.trim_ascii();
        if trimmed.starts_with(b"{") {
            let map = crate::json::parse_object(trimmed, crate::error::Part::Payload)
                .map_err(|e| Error::Key(format!("JWK is not valid JSON: {e}")))?;
            if map.contains_key("keys") {
                return Err(Error::Key(
                    "this is a JWK Set; use it as a key set, not a single key".into(),
                ));
            }
            return Key::from_jwk(&map);
        }
        if trimmed.starts_with(b"-----BEGIN") {
            let text =
                std::str::from_utf8(trimmed).map_err(|_| Error::Key("PEM is not UTF-8".into()))?;
            return Key::from_pem(text);
        }
        Key::from_der(bytes)
    }

    /// Parses the first key (or certificate) block of a PEM document.
    pub fn from_pem(text: &str) -> Result<Key, Error> {
        let blocks = pem::parse_many(text).map_err(|e| rejected("PEM", e))?;
        let block = blocks
            .iter()
            .find(|b| b.tag().ends_with("KEY") || b.tag() == "CERTIFICATE")
            .ok_or_else(|| Error::Key("PEM has no key or certificate block".into()))?;
        let der = block.contents();
        match block.tag() {
            "PRIVATE KEY" => Key::from_pkcs8(der),
            "RSA PRIVATE KEY" => Key::rsa_private_der(der, false),
            "EC PRIVATE KEY" => Key::from_sec1(der),
            "PUBLIC KEY" => Key::from_spki(der),
            "RSA PUBLIC KEY" => {
                let (n, e) = der::rsa_public_components(der).map_err(|e| rejected("PKCS#1 RSA public key", e))?;
                Key::rsa_public(n, e)
            }
            "CERTIFICATE" => Key::from_spki(der::certificate_spki(der).map_err(|e| rejected("X.509 certificate", e))?),
            "ENCRYPTED PRIVATE KEY" => Err(Error::Key(
                "encrypted private keys are not supported; decrypt first (openssl pkcs8 -in KEY -out PLAIN)".into(),
            )),
            other => Err(Error::Key(format!("PEM block \"{other}\" is not a supported key type"))),
        }
    }

    /// Parses DER: PKCS#8, SubjectPublicKeyInfo, PKCS#1 RSA private key, SEC1 EC private key or
    /// an X.509 certificate, whichever it is.
    pub fn from_der(der: &[u8]) -> Result<Key, Error> {
        if der::pkcs8(der).is_ok() {
            return Key::from_pkcs8(der);
        }
        if der::spki(der).is_ok() {
            return Key::from_spki(der);
        }
        if der::rsa_private_components(der).is_ok() {
            return Key::rsa_private_der(der, false);
        }
        if let Ok((n, e)) = der::rsa_public_components(der) {
            return Key::rsa_public(n, e);
        }
        if let Ok(spki) = der::certificate_spki(der) {
            return Key::from_spki(spki);
        }
        Key::from_sec1(der).map_err(|_| {
            Error::Key(
                "not a supported DER key (PKCS#8, SPKI, PKCS#1, SEC1 or X.509 certificate)".into(),
            )
        })
    }

    /// An RSA private key from PKCS#8 or PKCS#1 DER. The size rule is checked first, so a
    /// small key gets [`Error::RsaKeyTooSmall`] rather than aws-lc-rs's generic rejection.
    fn rsa_private_der(der: &[u8], pkcs8: bool) -> Result<Key, Error> {
        let pkcs1 = if pkcs8 {
            der::pkcs8(der).map(|(_, inner)| inner)
        } else {
            Ok(der)
        };
        if let Ok([n, ..]) = pkcs1.and_then(der::rsa_private_components) {
            let bits = bit_len(n);
            if bits < 2048 {
                return Err(Error::RsaKeyTooSmall { bits });
            }
        }
        let (pair, what) = if pkcs8 {
            (RsaKeyPair::from_pkcs8(der), "PKCS#8 RSA key")
        } else {
            (RsaKeyPair::from_der(der), "PKCS#1 RSA private key")
        };
        Key::rsa_private(pair.map_err(|e| rejected(what, e))?)
    }

    fn from_pkcs8(der: &[u8]) -> Result<Key, Error> {
        let (alg, _) = der::pkcs8(der).map_err(|e| rejected("PKCS#8", e))?;
        if alg.oid == der::OID_RSA || alg.oid == der::OID_RSA_PSS {
            return Key::rsa_private_der(der, true);
        }
        if alg.oid == der::OID_ED25519 {
            return Key::ed_private(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                    .map_err(|e| rejected("PKCS#8 Ed25519 key", e))?,
            );
        }
        if alg.oid == der::OID_EC_PUBLIC_KEY {
            let curve = curve_from_oid(alg.param_oid)?;
            let pair = EcdsaKeyPair::from_private_key_der(ec_signing(curve), der)
                .map_err(|e| rejected(&format!("PKCS#8 EC {} key", curve.name()), e))?;
            return Key::ec_private(curve, pair);
        }
        Err(Error::Key(
            "PKCS#8 key algorithm is not supported (RSA, EC or Ed25519 expected)".into(),
        ))
    }

    fn from_sec1(der: &[u8]) -> Result<Key, Error> {
        for curve in Curve::ALL {
            if let Ok(pair) = EcdsaKeyPair::from_private_key_der(ec_signing(curve), der) {
                return Key::ec_private(curve, pair);
            }
        }
        Err(Error::Key(
            "SEC1 EC private key is not on a supported curve (P-256, P-384, P-521, secp256k1)"
                .into(),
        ))
    }

    fn from_spki(der: &[u8]) -> Result<Key, Error> {
        let (alg, bits) = der::spki(der).map_err(|e| rejected("SubjectPublicKeyInfo", e))?;
        if alg.oid == der::OID_RSA || alg.oid == der::OID_RSA_PSS {
            let (n, e) =
                der::rsa_public_components(bits).map_err(|e| rejected("RSA public key", e))?;
            return Key::rsa_public(n, e);
        }
        if alg.oid == der::OID_EC_PUBLIC_KEY {
            return Key::ec_public(curve_from_oid(alg.param_oid)?, bits);
        }
        if alg.oid == der::OID_ED25519 {
            return Key::ed_public(bits);
        }
        Err(Error::Key(
            "public key algorithm is not supported (RSA, EC or Ed25519 expected)".into(),
        ))
    }

    // ----- JWK -----

    /// Parses one JWK (RFC 7517). Refuses keys marked for encryption (`use`, `key_ops`), keys
    /// whose `alg` is not a JWS algorithm or does not fit the key, and malformed members.
    pub fn from_jwk(jwk: &Map<String, Value>) -> Result<Key, Error> {
        let field = |name: &str| -> Result<Option<&str>, Error> {
            match jwk.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(Error::Key(format!("JWK member {name} must be a string"))),
            }
        };
        let bytes = |name: &str| -> Result<Vec<u8>, Error> {
            let text = field(name)?.ok_or_else(|| Error::Key(format!("JWK has no {name}")))?;
            b64::decode(text)
                .map_err(|e| Error::Key(format!("JWK member {name} is not base64url: {e}")))
        };
        let kty = field("kty")?.ok_or_else(|| Error::Key("JWK has no kty".into()))?;
        if let Some(usage) = field("use")? {
            if usage != "sig" {
                return Err(Error::Key(format!("JWK has use \"{usage}\", not \"sig\"")));
            }
        }
        if let Some(ops) = jwk.get("key_ops") {
            let ops = ops
                .as_array()
                .ok_or_else(|| Error::Key("JWK key_ops must be an array".into()))?;
            if !ops.iter().any(|o| o == "sign" || o == "verify") {
                return Err(Error::Key(
                    "JWK key_ops allows neither sign nor verify".into(),
                ));
            }
        }
        let private = jwk.contains_key("d");
        let mut key = match kty {
            "oct" => {
                let k = bytes("k")?;
                let mut key = Key::hmac(k)?;
                key.strict_hmac_len = true;
                key
            }
            "RSA" => {
                if jwk.contains_key("oth") {
                    return Err(Error::Key(
                        "multi-prime RSA keys (oth) are not supported".into(),
                    ));
                }
                let (n, e) = (bytes("n")?, bytes("e")?);
                if private {
                    let public = Key::rsa_public(&n, &e)?; // size, exponent and ROCA checks first
                    drop(public);
                    let comps = KeyPairComponents {
                        public_key: PublicKeyComponents {
                            n: strip_zeros(&n),
                            e: strip_zeros(&e),
                        },
                        d: bytes("d")?,
                        p: bytes("p")?,
                        q: bytes("q")?,
                        dP: bytes("dp")?,
                        dQ: bytes("dq")?,
                        qInv: bytes("qi")?,
                    };
                    let comps = KeyPairComponents {
                        public_key: comps.public_key,
                        d: &comps.d[..],
                        p: &comps.p[..],
                        q: &comps.q[..],
                        dP: &comps.dP[..],
                        dQ: &comps.dQ[..],
                        qInv: &comps.qInv[..],
                    };
                    Key::rsa_private(
                        RsaKeyPair::from_components(&comps)
                            .map_err(|e| rejected("RSA private JWK", e))?,
                    )?
                } else {
                    Key::rsa_public(&n, &e)?
                }
            }
            "EC" => {
                let crv = field("crv")?.ok_or_else(|| Error::Key("EC JWK has no crv".into()))?;
                let curve = Curve::from_name(crv)
                    .ok_or_else(|| Error::Key(format!("EC curve \"{crv}\" is not supported")))?;
                let len = curve.coordinate_len();
                let (x, y) = (bytes("x")?, bytes("y")?);
                if x.len() != len || y.len() != len {
                    return Err(Error::Key(format!(
                        "EC {crv} coordinates must be {len} bytes each"
                    )));
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                if private {
                    let d = bytes("d")?;
                    if d.len() != len {
                        return Err(Error::Key(format!(
                            "EC {crv} private key d must be {len} bytes"
                        )));
                    }
                    let pair = EcdsaKeyPair::from_private_key_and_public_key(
                        ec_signing(curve),
                        &d,
                        &point,
                    )
                    .map_err(|e| rejected("EC private JWK", e))?;
                    Key::ec_private(curve, pair)?
                } else {
                    Key::ec_public(curve, &point)?
                }
            }
            "OKP" => {
                let crv = field("crv")?.ok_or_else(|| Error::Key("OKP JWK has no crv".into()))?;
                if crv != "Ed25519" {
                    return Err(Error::Key(format!(
                        "OKP curve \"{crv}\" is not supported (Ed25519 is)"
                    )));
                }
                let x = bytes("x")?;
                if private {
                    let d = bytes("d")?;
                    Key::ed_private(
                        Ed25519KeyPair::from_seed_and_public_key(&d, &x)
                            .map_err(|e| rejected("Ed25519 private JWK", e))?,
                    )?
                } else {
                    Key::ed_public(&x)?
                }
            }
            other => return Err(Error::Key(format!("JWK kty \"{other}\" is not supported"))),
        };
        if let Some(alg) = field("alg")? {
            // "ES521" is a misspelling of ES512 found in Wycheproof and some early libraries.
            let alg = if alg == "ES521" { "ES512" } else { alg };
            let alg = Algorithm::from_name(alg).map_err(|_| {
                Error::Key(format!(
                    "JWK alg \"{alg}\" is not a JWS signature algorithm"
                ))
            })?;
            key = key.with_algorithm(alg)?;
        }
        if let Some(kid) = field("kid")? {
            key = key.with_kid(kid);
        }
        Ok(key)
    }

    /// The public JWK, members in a stable order (kty first), with `kid` and `alg` if set.
    pub fn public_jwk(&self) -> Map<String, Value> {
        let mut m = self.thumbprint_members();
        if matches!(*self.material, Material::Hmac(_)) {
            // An HMAC secret has no public form; its JWK is the secret itself.
            m.clear();
        }
        if let Some(kid) = &self.kid {
            m.insert("kid".into(), kid.clone().into());
        }
        if let Some(alg) = self.alg {
            m.insert("alg".into(), alg.name().into());
        }
        if !m.is_empty() {
            m.insert("use".into(), "sig".into());
        }
        m
    }

    /// The full JWK, private members included.
    pub fn private_jwk(&self) -> Result<Map<String, Value>, Error> {
        let mut m = self.thumbprint_members();
        let s = |b: &[u8]| Value::String(b64::encode(b));
        match &*self.material {
            Material::Hmac(_) => {}
            Material::Rsa(k) => {
                let pair = k.private.as_ref().ok_or(Error::PublicKeyCannotSign)?;
                let pkcs8 = pair.as_der().map_err(|e| rejected("RSA export", e))?;
                let (_, pkcs1) =
                    der::pkcs8(pkcs8.as_ref()).map_err(|e| rejected("RSA export", e))?;
                let c =
                    der::rsa_private_components(pkcs1).map_err(|e| rejected("RSA export", e))?;
                for (name, value) in ["d", "p", "q", "dp", "dq", "qi"]
                    .iter()
                    .zip(c.iter().skip(2))
                {
                    m.insert((*name).into(), s(value));
                }
            }
            Material::Ec(k) => {
                let pair = k.private.as_ref().ok_or(Error::PublicKeyCannotSign)?;
                let d = AsBigEndian::<aws_lc_rs::encoding::EcPrivateKeyBin>::as_be_bytes(
                    &pair.private_key(),
                )
                .map_err(|e| rejected("EC export", e))?;
                m.insert("d".into(), s(d.as_ref()));
            }
            Material::Ed25519(k) => {
                let pair = k.private.as_ref().ok_or(Error::PublicKeyCannotSign)?;
                let seed = pair.seed().map_err(|e| rejected("Ed25519 export", e))?;
                let seed = seed
                    .as_be_bytes()
                    .map_err(|e| rejected("Ed25519 export", e))?;
                m.insert("d".into(), s(seed.as_ref()));
            }
        }
        if let Some(kid) = &self.kid {
            m.insert("kid".into(), kid.clone().into());
        }
        if let Some(alg) = self.alg {
            m.insert("alg".into(), alg.name().into());
        }
        m.insert("use".into(), "sig".into());
        Ok(m)
    }

    /// The members RFC 7638 hashes, in its lexicographic order.
    fn thumbprint_members(&self) -> Map<String, Value> {
        let mut m = Map::new();
        let s = |b: &[u8]| Value::String(b64::encode(b));
        match &*self.material {
            Material::Hmac(k) => {
                m.insert("k".into(), s(&k.secret));
                m.insert("kty".into(), "oct".into());
            }
            Material::Rsa(k) => {
                m.insert("e".into(), s(&k.e));
                m.insert("kty".into(), "RSA".into());
                m.insert("n".into(), s(&k.n));
            }
            Material::Ec(k) => {
                let len = k.curve.coordinate_len();
                m.insert("crv".into(), k.curve.name().into());
                m.insert("kty".into(), "EC".into());
                m.insert("x".into(), s(k.point.get(1..1 + len).unwrap_or_default()));
                m.insert("y".into(), s(k.point.get(1 + len..).unwrap_or_default()));
            }
            Material::Ed25519(k) => {
                m.insert("crv".into(), "Ed25519".into());
                m.insert("kty".into(), "OKP".into());
                m.insert("x".into(), s(&k.public));
            }
        }
        m
    }

    /// RFC 7638 JWK thumbprint (SHA-256, base64url): Signet's default `kid`.
    pub fn thumbprint(&self) -> String {
        let canonical = Value::Object(self.thumbprint_members()).to_string();
        b64::encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
    }

    /// SubjectPublicKeyInfo as PEM. HMAC secrets have none.
    pub fn public_pem(&self) -> Result<String, Error> {
        let der: Vec<u8> = match &*self.material {
            Material::Hmac(_) => return Err(Error::Key("an HMAC secret has no PEM form".into())),
            Material::Rsa(k) => PublicKeyComponents {
                n: &k.n[..],
                e: &k.e[..],
            }
            .as_der()
            .map_err(|e| rejected("RSA export", e))?
            .as_ref()
            .to_vec(),
            Material::Ec(k) => k
                .verifier
                .as_der()
                .map_err(|e| rejected("EC export", e))?
                .as_ref()
                .to_vec(),
            Material::Ed25519(k) => k
                .verifier
                .as_der()
                .map_err(|e| rejected("Ed25519 export", e))?
                .as_ref()
                .to_vec(),
        };
        Ok(pem_encode("PUBLIC KEY", der))
    }

    /// PKCS#8 private key as PEM.
    pub fn private_pem(&self) -> Result<String, Error> {
        let der: Vec<u8> = match &*self.material {
            Material::Hmac(_) => return Err(Error::Key("an HMAC secret has no PEM form".into())),
            Material::Rsa(k) => {
                let pair = k.private.as_ref().ok_or(Error::PublicKeyCannotSign)?;
                pair.as_der()
                    .map_err(|e| rejected("RSA export", e))?
                    .as_ref()
                    .to_vec()
            }
            Material::Ec(k) => {
                let pair = k.private.as_ref().ok_or(Error::PublicKeyCannotSign)?;
                pair.to_pkcs8v1()
                    .map_err(|e| rejected("EC export", e))?
                    .as_ref()
                    .to_vec()
            }
            Material::Ed25519(k) => {
                let pair = k.private.as_ref().ok_or(Error::PublicKeyCannotSign)?;
                pair.to_pkcs8v1()
                    .map_err(|e| rejected("Ed25519 export", e))?
                    .as_ref()
                    .to_vec()
            }
        };
        Ok(pem_encode("PRIVATE KEY", der))
    }

    /// The public half of this key (an HMAC secret is its own public half).
    pub fn to_public(&self) -> Result<Key, Error> {
        let mut key = match &*self.material {
            Material::Hmac(_) => return Ok(self.clone()),
            Material::Rsa(k) => Key::rsa_public(&k.n, &k.e)?,
            Material::Ec(k) => Key::ec_public(k.curve, &k.point)?,
            Material::Ed25519(k) => Key::ed_public(&k.public)?,
        };
        if let Some(alg) = self.alg {
            key = key.with_algorithm(alg)?;
        }
        if let Some(kid) = &self.kid {
            key = key.with_kid(kid.clone());
        }
        Ok(key)
    }

    /// RSA modulus size in bits (None for other keys).
    pub fn rsa_bits(&self) -> Option<usize> {
        match &*self.material {
            Material::Rsa(k) => Some(bit_len(&k.n)),
            _ => None,
        }
    }
}

fn pem_encode(tag: &str, der: Vec<u8>) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(tag, der), config)
}

fn curve_from_oid(oid: Option<&[u8]>) -> Result<Curve, Error> {
    match oid {
        Some(o) if o == der::OID_P256 => Ok(Curve::P256),
        Some(o) if o == der::OID_P384 => Ok(Curve::P384),
        Some(o) if o == der::OID_P521 => Ok(Curve::P521),
        Some(o) if o == der::OID_SECP256K1 => Ok(Curve::Secp256k1),
        _ => Err(Error::Key(
            "EC key is not on a supported curve (P-256, P-384, P-521, secp256k1)".into(),
        )),
    }
}

/// Largest signature kept on the stack: ES512's 2 × 66 bytes (HMAC tags and Ed25519 are
/// smaller).
const STACK_SIGNATURE: usize = 132;

/// A signature as [`Key::sign_raw`] makes it: small ones (HMAC, ECDSA, EdDSA) in a small array,
/// RSA on the heap. (aws-lc-rs's own `Signature` type is kilobytes large; copying it costs more
/// than the copy of its bytes made here.)
pub(crate) enum SignatureBytes {
    Stack {
        buf: [u8; STACK_SIGNATURE],
        len: usize,
    },
    Heap(Vec<u8>),
}

impl SignatureBytes {
    fn stack(bytes: &[u8]) -> SignatureBytes {
        let mut buf = [0u8; STACK_SIGNATURE];
        match buf.get_mut(..bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                SignatureBytes::Stack {
                    buf,
                    len: bytes.len(),
                }
            }
            None => SignatureBytes::Heap(bytes.to_vec()),
        }
    }
}

impl AsRef<[u8]> for SignatureBytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            SignatureBytes::Stack { buf, len } => buf.get(..*len).unwrap_or_default(),
            SignatureBytes::Heap(v) => v,
        }
    }
}

impl HmacKey {
    fn key(&self, alg: Algorithm) -> Result<&hmac::Key, Error> {
        let (slot, algorithm) = hmac_slot(alg).ok_or(Error::KeyAlgorithmMismatch {
            alg: alg.name().into(),
            key: "HMAC secret".into(),
        })?;
        let cell = self.keys.get(slot).ok_or(Error::InvalidSignature)?;
        Ok(cell.get_or_init(|| hmac::Key::new(algorithm, &self.secret)))
    }
}

impl RsaKey {
    fn verifier(&self, alg: Algorithm) -> Result<&ParsedPublicKey, Error> {
        let (slot, params, _) = rsa_slot(alg).ok_or(Error::KeyAlgorithmMismatch {
            alg: alg.name().into(),
            key: "RSA".into(),
        })?;
        let cell = self.verifiers.get(slot).ok_or(Error::InvalidSignature)?;
        if let Some(parsed) = cell.get() {
            return Ok(parsed);
        }
        let parsed = PublicKeyComponents {
            n: &self.n[..],
            e: &self.e[..],
        }
        .to_parsed_public_key(params)
        .map_err(|e| rejected("RSA public key", e))?;
        Ok(cell.get_or_init(|| parsed))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print secret material.
        f.debug_struct("Key")
            .field("kind", &self.kind())
            .field("private", &self.can_sign())
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

/// Fills `out` with random bytes from the operating system's generator (via aws-lc-rs).
pub fn random_bytes(out: &mut [u8]) -> Result<(), Error> {
    aws_lc_rs::rand::fill(out).map_err(|e| Error::SigningFailed(format!("random generator: {e}")))
}
