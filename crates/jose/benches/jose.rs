//! Signet's JOSE core against its floor (raw aws-lc-rs over the same signing input) and its
//! peer (`jsonwebtoken` 11 on its aws-lc-rs backend), for HS256, ES256, EdDSA and RS256.
//!
//! For each algorithm: `ALG/sign/{signet,raw,jsonwebtoken}` signs a typical JWT (five claims:
//! iss, sub, aud, iat, exp), and `ALG/verify/{signet,raw,jsonwebtoken}` verifies it and validates
//! exp and aud (raw: signature only). Every key, Signer, Verifier, EncodingKey, DecodingKey and
//! Validation is built once, outside the timed loop.
//!
//! Run: `cargo bench -p jose --bench jose`
#![allow(
    clippy::large_enum_variant,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RsaKeyPair,
};
use aws_lc_rs::{hmac, rsa::PublicKeyComponents};
use criterion::{criterion_group, criterion_main, Criterion};
use serde::{Deserialize, Serialize};

use jose::jws::Signer;
use jose::{Algorithm, Key, KeySet, Validation, Verifier};

const AUD: &str = "https://api.example.com";

/// The typical JWT the three libraries sign and verify.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    iat: u64,
    exp: u64,
}

fn claims() -> Claims {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    Claims {
        iss: "https://issuer.example.com".into(),
        sub: "user-4f1c2a9e".into(),
        aud: AUD.into(),
        iat: now,
        exp: now + 3600,
    }
}

fn pem_der(text: &str) -> Vec<u8> {
    pem::parse(text).unwrap().into_contents()
}

fn jwk_bytes(key: &Key, member: &str) -> Vec<u8> {
    let jwk = key.public_jwk();
    jose::b64::decode(jwk[member].as_str().unwrap()).unwrap()
}

/// Reads one DER TLV at the start of `der`: (tag, contents, rest).
fn tlv(der: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = der[0];
    let (len, head) = match der[1] {
        n if n < 0x80 => (n as usize, 2),
        n => {
            let k = (n & 0x7f) as usize;
            let len = der[2..2 + k]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | b as usize);
            (len, 2 + k)
        }
    };
    (tag, &der[head..head + len], &der[head + len..])
}

/// PKCS#1 RSAPrivateKey out of a PKCS#8 PrivateKeyInfo (jsonwebtoken wants PKCS#1 DER).
fn pkcs8_to_pkcs1(pkcs8: &[u8]) -> Vec<u8> {
    let (_, info, _) = tlv(pkcs8);
    let (_, _, rest) = tlv(info); // version
    let (_, _, rest) = tlv(rest); // algorithm identifier
    let (tag, key, _) = tlv(rest);
    assert_eq!(tag, 0x04, "privateKey OCTET STRING");
    key.to_vec()
}

/// `header.payload` and the raw signature bytes of a compact JWS.
fn input_and_sig(token: &str) -> (Vec<u8>, Vec<u8>) {
    let dot = token.rfind('.').unwrap();
    (
        token.as_bytes()[..dot].to_vec(),
        jose::b64::decode(&token[dot + 1..]).unwrap(),
    )
}

/// One raw aws-lc-rs signer per algorithm, keys pre-parsed.
enum RawSigner {
    Hmac(hmac::Key),
    Ec(EcdsaKeyPair, SystemRandom),
    Ed(Ed25519KeyPair),
    Rsa(RsaKeyPair, SystemRandom),
}

impl RawSigner {
    fn sign(&self, input: &[u8]) -> usize {
        match self {
            RawSigner::Hmac(k) => black_box(hmac::sign(k, input)).as_ref().len(),
            RawSigner::Ec(k, rng) => black_box(k.sign(rng, input).unwrap()).as_ref().len(),
            RawSigner::Ed(k) => black_box(k.sign(input)).as_ref().len(),
            RawSigner::Rsa(k, rng) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, rng, input, &mut sig)
                    .unwrap();
                black_box(sig).len()
            }
        }
    }
}

enum RawVerifier {
    Hmac(hmac::Key),
    Sig(ParsedPublicKey),
}

impl RawVerifier {
    fn verify(&self, input: &[u8], sig: &[u8]) {
        match self {
            RawVerifier::Hmac(k) => hmac::verify(k, input, sig).unwrap(),
            RawVerifier::Sig(k) => k.verify_sig(input, sig).unwrap(),
        }
    }
}

struct Case {
    name: &'static str,
    alg: Algorithm,
    signer: Signer,
    verifier: Verifier,
    raw_signer: RawSigner,
    raw_verifier: RawVerifier,
    jwt_alg: jsonwebtoken::Algorithm,
    jwt_enc: jsonwebtoken::EncodingKey,
    jwt_dec: jsonwebtoken::DecodingKey,
}

fn case(alg: Algorithm) -> Case {
    let key = Key::generate(alg).unwrap();
    let public = key.to_public().unwrap();
    let (name, raw_signer, raw_verifier, jwt_alg, jwt_enc, jwt_dec) = match alg {
        Algorithm::HS256 => {
            let secret =
                jose::b64::decode(key.private_jwk().unwrap()["k"].as_str().unwrap()).unwrap();
            (
                "hs256",
                RawSigner::Hmac(hmac::Key::new(hmac::HMAC_SHA256, &secret)),
                RawVerifier::Hmac(hmac::Key::new(hmac::HMAC_SHA256, &secret)),
                jsonwebtoken::Algorithm::HS256,
                jsonwebtoken::EncodingKey::from_secret(&secret),
                jsonwebtoken::DecodingKey::from_secret(&secret),
            )
        }
        Algorithm::ES256 => {
            let pkcs8 = pem_der(&key.private_pem().unwrap());
            let mut point = vec![4u8];
            point.extend(jwk_bytes(&key, "x"));
            point.extend(jwk_bytes(&key, "y"));
            let jwk = key.public_jwk();
            (
                "es256",
                RawSigner::Ec(
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
                        .unwrap(),
                    SystemRandom::new(),
                ),
                RawVerifier::Sig(
                    ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point).unwrap(),
                ),
                jsonwebtoken::Algorithm::ES256,
                jsonwebtoken::EncodingKey::from_ec_der(&pkcs8),
                jsonwebtoken::DecodingKey::from_ec_components(
                    jwk["x"].as_str().unwrap(),
                    jwk["y"].as_str().unwrap(),
                )
                .unwrap(),
            )
        }
        Algorithm::EdDSA => {
            let pkcs8 = pem_der(&key.private_pem().unwrap());
            let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8).unwrap();
            let public_bytes = pair.public_key().as_ref().to_vec();
            let jwk = key.public_jwk();
            (
                "eddsa",
                RawSigner::Ed(pair),
                RawVerifier::Sig(ParsedPublicKey::new(&signature::ED25519, &public_bytes).unwrap()),
                jsonwebtoken::Algorithm::EdDSA,
                jsonwebtoken::EncodingKey::from_ed_der(&pkcs8),
                jsonwebtoken::DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap(),
            )
        }
        Algorithm::RS256 => {
            let pkcs8 = pem_der(&key.private_pem().unwrap());
            let (n, e) = (jwk_bytes(&key, "n"), jwk_bytes(&key, "e"));
            (
                "rs256",
                RawSigner::Rsa(RsaKeyPair::from_pkcs8(&pkcs8).unwrap(), SystemRandom::new()),
                RawVerifier::Sig(
                    PublicKeyComponents {
                        n: &n[..],
                        e: &e[..],
                    }
                    .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
                    .unwrap(),
                ),
                jsonwebtoken::Algorithm::RS256,
                jsonwebtoken::EncodingKey::from_rsa_der(&pkcs8_to_pkcs1(&pkcs8)),
                jsonwebtoken::DecodingKey::from_rsa_raw_components(&n, &e),
            )
        }
        other => panic!("no bench for {other}"),
    };
    Case {
        name,
        alg,
        signer: Signer::new(key, alg).unwrap(),
        verifier: Verifier::new(public),
        raw_signer,
        raw_verifier,
        jwt_alg,
        jwt_enc,
        jwt_dec,
    }
}

fn bench_case(c: &mut Criterion, alg: Algorithm) {
    let k = case(alg);
    let claims = claims();

    let signet_validation = Validation {
        audiences: vec![AUD.into()],
        ..Validation::default()
    };
    let jwt_header = jsonwebtoken::Header::new(k.jwt_alg);
    let mut jwt_validation = jsonwebtoken::Validation::new(k.jwt_alg);
    jwt_validation.set_audience(&[AUD]);
    jwt_validation.set_required_spec_claims(&["exp", "aud"]);

    let signet_token = k.signer.sign_claims(&claims).unwrap();
    let jwt_token = jsonwebtoken::encode(&jwt_header, &claims, &k.jwt_enc).unwrap();
    let (input, sig) = input_and_sig(&signet_token);

    // Sanity, outside the timed loops: each library accepts its own and the other's tokens with
    // the same claims, and the raw floor accepts Signet's signature.
    for token in [&signet_token, &jwt_token] {
        let jwt = k.verifier.verify_jwt(token, &signet_validation).unwrap();
        assert_eq!(jwt.alg, k.alg);
        assert_eq!(jwt.claims["sub"], claims.sub.as_str());
        let data =
            jsonwebtoken::decode::<Claims>(token.as_str(), &k.jwt_dec, &jwt_validation).unwrap();
        assert_eq!(data.claims, claims);
    }
    k.raw_verifier.verify(&input, &sig);
    assert!(k.raw_signer.sign(&input) > 0);

    let mut g = c.benchmark_group(k.name);
    g.bench_function("sign/signet", |b| {
        b.iter(|| k.signer.sign_claims(black_box(&claims)).unwrap())
    });
    g.bench_function("sign/raw", |b| {
        b.iter(|| k.raw_signer.sign(black_box(&input)))
    });
    g.bench_function("sign/jsonwebtoken", |b| {
        b.iter(|| jsonwebtoken::encode(&jwt_header, black_box(&claims), &k.jwt_enc).unwrap())
    });
    g.bench_function("verify/signet", |b| {
        b.iter(|| {
            k.verifier
                .verify_jwt(black_box(&signet_token), &signet_validation)
                .unwrap()
        })
    });
    g.bench_function("verify/raw", |b| {
        b.iter(|| k.raw_verifier.verify(black_box(&input), black_box(&sig)))
    });
    g.bench_function("verify/jsonwebtoken", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<Claims>(black_box(&jwt_token), &k.jwt_dec, &jwt_validation)
                .unwrap()
        })
    });
    g.finish();
}

/// A JWK Set of `n` kid-only members, the shape of the quadratic-parse attack (each member is
/// skipped as unusable, so the time is the set's own bookkeeping).
fn kid_only_set(n: usize) -> Vec<u8> {
    let members: Vec<String> = (0..n).map(|i| format!("{{\"kid\":\"k{i}\"}}")).collect();
    format!("{{\"keys\":[{}]}}", members.join(",")).into_bytes()
}

/// JWK Set parsing at 1k, 10k and 100k members (the cap raised): linear if the time per member
/// stays flat. The floor is serde_json parsing the same bytes into a `Value`.
fn bench_jwks(c: &mut Criterion) {
    let mut g = c.benchmark_group("jwks_parse");
    g.sample_size(10);
    for n in [1_000usize, 10_000, 100_000] {
        let bytes = kid_only_set(n);
        let (_, skipped) = KeySet::from_jwks_json_with_limit(&bytes, n).unwrap();
        assert_eq!(skipped.len(), n);
        g.throughput(criterion::Throughput::Elements(n as u64));
        g.bench_function(format!("{n}/signet"), |b| {
            b.iter(|| KeySet::from_jwks_json_with_limit(black_box(&bytes), n).unwrap())
        });
        g.bench_function(format!("{n}/serde_json"), |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&bytes)).unwrap())
        });
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_jwks(c);
    for alg in [
        Algorithm::HS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::RS256,
    ] {
        bench_case(c, alg);
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(40)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args()
}

criterion_group! {
    name = jose;
    config = config();
    targets = benches
}
criterion_main!(jose);
