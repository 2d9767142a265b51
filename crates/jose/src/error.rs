//! Every way a token, a key or a claim can be refused, each with a message a person understands.

use std::fmt;

use crate::time::Ago;

/// Which segment of a compact JWS an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Header,
    Payload,
    Signature,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Payload => "payload",
            Part::Signature => "signature",
        })
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- compact serialization ---
    #[error("token is empty")]
    Empty,
    #[error("token is {len} bytes, more than the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("a compact JWS has exactly 3 segments separated by '.', this has {found}")]
    SegmentCount { found: usize },
    #[error("{part} segment is empty")]
    EmptySegment { part: Part },
    #[error("{part} is not valid base64url: {reason}")]
    Base64 { part: Part, reason: String },
    #[error("{part} is not UTF-8")]
    NotUtf8 { part: Part },
    #[error("{part} is not valid JSON: {reason}")]
    Json { part: Part, reason: String },
    #[error("{part} is JSON but not an object")]
    NotAnObject { part: Part },
    #[error("{part} has the member name \"{name}\" twice")]
    DuplicateMember { part: Part, name: String },
    #[error("{part} nests JSON deeper than {max} levels")]
    TooDeep { part: Part, max: usize },

    // --- header ---
    #[error("header has no \"alg\" member")]
    MissingAlg,
    #[error("header member alg must be a string")]
    AlgNotString,
    #[error("alg \"none\" (an unsecured JWS) is never accepted")]
    AlgNone,
    #[error("alg \"{0}\" is not a supported JWS algorithm")]
    UnsupportedAlgorithm(String),
    #[error("alg {alg} is not allowed here (allowed: {allowed})")]
    AlgorithmNotAllowed { alg: String, allowed: String },
    #[error("header member crit lists \"{0}\", which is not understood")]
    UnknownCritical(String),
    #[error("header member crit is malformed: {0}")]
    MalformedCritical(String),
    #[error("header member {member} must be {expected}")]
    HeaderMemberType {
        member: String,
        expected: &'static str,
    },
    #[error("header typ is \"{found}\", expected \"{expected}\"")]
    WrongType { expected: String, found: String },
    #[error("header says alg {header} but the signature is made with {alg}")]
    HeaderAlgMismatch { header: String, alg: String },
    #[error("header has no typ, expected \"{expected}\"")]
    MissingType { expected: String },

    // --- keys and signatures ---
    #[error("no key matches kid \"{0}\"")]
    UnknownKid(String),
    #[error("no key can verify alg {0}")]
    NoKeyForAlgorithm(String),
    #[error("the key ({key}) cannot be used with alg {alg}")]
    KeyAlgorithmMismatch { alg: String, key: String },
    #[error("signature does not verify")]
    InvalidSignature,
    #[error("signature is {found} bytes, {alg} signatures are {expected} bytes")]
    SignatureLength {
        alg: String,
        expected: usize,
        found: usize,
    },
    #[error("signing failed: {0}")]
    SigningFailed(String),
    #[error("key is not usable: {0}")]
    Key(String),
    #[error("RSA key is {bits} bits; at least 2048 bits are required")]
    RsaKeyTooSmall { bits: usize },
    #[error("HMAC key is {len} bytes; {alg} needs at least {min} bytes (RFC 7518 §3.2)")]
    HmacKeyTooShort { alg: String, len: usize, min: usize },
    #[error("HMAC secret is empty")]
    EmptySecret,
    #[error("key is a public key and cannot sign")]
    PublicKeyCannotSign,
    #[error("JWK Set has two keys with kid \"{0}\"")]
    DuplicateKid(String),
    #[error("JWK Set mixes public keys with private or secret keys")]
    MixedKeySet,
    #[error("JWK Set has {found} keys; at most {max} are accepted")]
    TooManyKeys { found: usize, max: usize },
    #[error("Ed25519 public key is {0}: it would verify forged signatures")]
    WeakEd25519Key(&'static str),

    // --- claims ---
    #[error("payload is not a JWT claims set: {0}")]
    NotClaims(String),
    #[error("exp is in the past (expired {ago})")]
    Expired { exp: f64, now: i64, ago: Ago },
    #[error("nbf is in the future (valid {ago})")]
    NotYetValid { nbf: f64, now: i64, ago: Ago },
    #[error("claim {claim} must be {expected}")]
    ClaimType {
        claim: String,
        expected: &'static str,
    },
    #[error("required claim {0} is missing")]
    MissingClaim(String),
    #[error("iss is \"{found}\", expected {expected}")]
    WrongIssuer { expected: String, found: String },
    #[error("aud is {found}, expected {expected}")]
    WrongAudience { expected: String, found: String },
    #[error("sub is \"{found}\", expected \"{expected}\"")]
    WrongSubject { expected: String, found: String },
}

impl Error {
    /// True when the error is about the token (a verifier should answer "invalid"), false when
    /// it is about the key or the caller's input (a usage problem).
    pub fn is_token_error(&self) -> bool {
        !matches!(
            self,
            Error::Key(_)
                | Error::RsaKeyTooSmall { .. }
                | Error::EmptySecret
                | Error::PublicKeyCannotSign
                | Error::DuplicateKid(_)
                | Error::MixedKeySet
                | Error::TooManyKeys { .. }
                | Error::WeakEd25519Key(_)
                | Error::SigningFailed(_)
        )
    }
}
