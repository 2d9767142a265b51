//! Published JOSE examples (RFC 7515, 7517, 7520, 7638, 8037) through the library: every
//! signature verifies, every deterministic one re-signs byte for byte, every thumbprint matches.
//! Fixtures: `tests/vectors/` at the workspace root (see its README for sources).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use jose::jws::sign_exact;
use jose::{b64, Algorithm, Error, Key, KeyKind, KeySet, Verifier};
use serde_json::{Map, Value};

fn vectors(name: &str) -> Value {
    let path = format!("{}/../../tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn obj(v: &Value) -> &Map<String, Value> {
    v.as_object()
        .unwrap_or_else(|| panic!("expected a JSON object, got {v}"))
}

fn text(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a JSON string, got {v}"))
}

fn unb64(v: &Value) -> Vec<u8> {
    b64::decode(text(v)).unwrap_or_else(|e| panic!("fixture is not base64url ({e}): {v}"))
}

fn jwk(v: &Value) -> Key {
    Key::from_jwk(obj(v)).unwrap_or_else(|e| panic!("JWK does not load ({e}): {v}"))
}

fn alg(v: &Value) -> Algorithm {
    text(v).parse().unwrap()
}

/// A copy of a JWK with the given members removed.
fn without(v: &Value, members: &[&str]) -> Map<String, Value> {
    let mut m = obj(v).clone();
    for name in members {
        m.remove(*name);
    }
    m
}

/// Verifies `token` in raw mode and checks the payload and the algorithm.
fn assert_verifies(key: Key, token: &str, alg: Algorithm, payload: &[u8]) -> jose::Verified {
    let verified = Verifier::new(key)
        .verify(token)
        .unwrap_or_else(|e| panic!("{alg} vector does not verify: {e}"));
    assert_eq!(verified.alg, alg);
    assert_eq!(verified.payload, payload);
    verified
}

// ----- RFC 7515 Appendix A -----

/// The fixture is self-consistent: the compact form is signing input '.' signature.
fn check_rfc7515_shape(v: &Value) {
    assert_eq!(
        unb64(&v["protected_b64"]),
        text(&v["protected_json"]).as_bytes()
    );
    assert_eq!(unb64(&v["payload_b64"]), text(&v["payload"]).as_bytes());
    assert_eq!(
        text(&v["jws"]),
        format!(
            "{}.{}",
            text(&v["signing_input"]),
            text(&v["signature_b64"])
        )
    );
}

#[test]
fn rfc7515_a1_hs256_verifies_and_signs_byte_identically() {
    let doc = vectors("rfc7515.json");
    let v = &doc["A.1"];
    check_rfc7515_shape(v);
    let header = unb64(&v["protected_b64"]);
    assert!(
        header.windows(2).any(|w| w == b"\r\n"),
        "A.1's header has a CRLF, so re-serializing it would change the bytes"
    );
    let key = jwk(&v["jwk"]);
    assert_eq!(key.kind(), KeyKind::Hmac);
    let payload = unb64(&v["payload_b64"]);
    let verified = assert_verifies(key.clone(), text(&v["jws"]), Algorithm::HS256, &payload);
    assert_eq!(verified.header["typ"], "JWT");

    let signed = sign_exact(&header, &payload, &key, alg(&v["alg"])).unwrap();
    assert_eq!(signed, text(&v["jws"]));
}

#[test]
fn rfc7515_a2_rs256_verifies_and_signs_byte_identically() {
    let doc = vectors("rfc7515.json");
    let v = &doc["A.2"];
    check_rfc7515_shape(v);
    let key = jwk(&v["jwk"]);
    assert_eq!(key.kind(), KeyKind::Rsa);
    assert!(key.can_sign());
    let payload = unb64(&v["payload_b64"]);
    // Verify with the public half only.
    assert_verifies(
        key.to_public().unwrap(),
        text(&v["jws"]),
        Algorithm::RS256,
        &payload,
    );

    let header = unb64(&v["protected_b64"]);
    let signed = sign_exact(&header, &payload, &key, alg(&v["alg"])).unwrap();
    assert_eq!(
        signed,
        text(&v["jws"]),
        "RSASSA-PKCS1-v1_5 is deterministic"
    );
}

#[test]
fn rfc7515_a3_es256_verifies() {
    let doc = vectors("rfc7515.json");
    let v = &doc["A.3"];
    check_rfc7515_shape(v);
    let key = jwk(&v["jwk"]);
    assert_eq!(key.kind(), KeyKind::Ec(jose::Curve::P256));
    let payload = unb64(&v["payload_b64"]);
    assert_verifies(
        key.to_public().unwrap(),
        text(&v["jws"]),
        Algorithm::ES256,
        &payload,
    );
    // The private key verifies too, and what it signs (randomized) verifies with the public key.
    assert_verifies(key.clone(), text(&v["jws"]), Algorithm::ES256, &payload);
    let header = unb64(&v["protected_b64"]);
    let fresh = sign_exact(&header, &payload, &key, Algorithm::ES256).unwrap();
    assert_verifies(key.to_public().unwrap(), &fresh, Algorithm::ES256, &payload);
}

#[test]
fn rfc7515_a4_es512_verifies() {
    let doc = vectors("rfc7515.json");
    let v = &doc["A.4"];
    check_rfc7515_shape(v);
    let key = jwk(&v["jwk"]);
    assert_eq!(key.kind(), KeyKind::Ec(jose::Curve::P521));
    assert_eq!(unb64(&v["signature_b64"]).len(), 132);
    assert_verifies(
        key.to_public().unwrap(),
        text(&v["jws"]),
        Algorithm::ES512,
        b"Payload",
    );
    let fresh = sign_exact(b"{\"alg\":\"ES512\"}", b"Payload", &key, Algorithm::ES512).unwrap();
    assert_verifies(
        key.to_public().unwrap(),
        &fresh,
        Algorithm::ES512,
        b"Payload",
    );
}

#[test]
fn rfc7515_a5_unsecured_is_refused_with_alg_none() {
    let doc = vectors("rfc7515.json");
    let v = &doc["A.5"];
    check_rfc7515_shape(v);
    assert_eq!(text(&v["signature_b64"]), "");
    let token = text(&v["jws"]);
    assert!(token.ends_with('.'));
    // Whatever keys the verifier holds: the RFC 7515 A.1 HMAC key, A.2 RSA, A.3 EC.
    for name in ["A.1", "A.2", "A.3", "A.4"] {
        let key = jwk(&doc[name]["jwk"]);
        assert_eq!(
            Verifier::new(key.clone()).verify(token).err(),
            Some(Error::AlgNone)
        );
        let jwt = Verifier::new(key).verify_jwt(token, &jose::Validation::default());
        assert_eq!(jwt.err(), Some(Error::AlgNone));
    }
    // Parsing for inspection still works: the token is well-formed, only unacceptable.
    let decoded = jose::jws::decode(token).unwrap();
    assert_eq!(decoded.header["alg"], "none");
    assert!(decoded.signature.is_empty());
}

// ----- RFC 7520 §4 -----

fn rfc7520_case(section: &str) -> (Value, Key, Key) {
    let doc = vectors("rfc7520.json");
    let v = doc[section].clone();
    let sign_key = jwk(&doc["keys"][text(&v["key"])]);
    let verify_key = jwk(&doc["keys"][text(&v["verify_key"])]);
    assert_eq!(text(&v["payload"]), text(&doc["payload"]));
    assert_eq!(unb64(&v["payload_b64"]), text(&v["payload"]).as_bytes());
    assert_eq!(
        text(&v["compact"]),
        format!(
            "{}.{}",
            text(&v["signing_input"]),
            text(&v["signature_b64"])
        )
    );
    (v, sign_key, verify_key)
}

/// Verifies an RFC 7520 §4 vector and checks that the header and the key's kid are the RFC's.
fn rfc7520_verify(section: &str) -> (Value, Key) {
    let (v, sign_key, verify_key) = rfc7520_case(section);
    let alg = alg(&v["alg"]);
    let payload = unb64(&v["payload_b64"]);
    let verified = assert_verifies(verify_key.clone(), text(&v["compact"]), alg, &payload);
    assert_eq!(&verified.header, obj(&v["protected"]));
    assert_eq!(verified.key_kid.as_deref(), verify_key.kid());
    assert_eq!(verified.key_kid.as_deref(), v["protected"]["kid"].as_str());
    // And through a key set that also holds unrelated keys: kid picks the right one.
    let others = vec![
        Key::generate(Algorithm::HS256)
            .unwrap()
            .with_kid("other-hmac"),
        Key::generate(Algorithm::ES256)
            .unwrap()
            .with_kid("other-ec"),
        verify_key,
    ];
    let verified = Verifier::new(KeySet::new(others))
        .verify(text(&v["compact"]))
        .unwrap();
    assert_eq!(verified.payload, payload);
    (v, sign_key)
}

#[test]
fn rfc7520_4_1_rs256_verifies_and_signs_byte_identically() {
    let (v, sign_key) = rfc7520_verify("4.1");
    assert_eq!(v["reproducible"], true);
    let header = unb64(&v["protected_b64"]);
    let payload = unb64(&v["payload_b64"]);
    let signed = sign_exact(&header, &payload, &sign_key, Algorithm::RS256).unwrap();
    assert_eq!(signed, text(&v["compact"]));
}

#[test]
fn rfc7520_4_2_ps384_verifies() {
    let (v, sign_key) = rfc7520_verify("4.2");
    assert_eq!(v["reproducible"], false);
    // PSS is randomized: a fresh signature differs but verifies.
    let header = unb64(&v["protected_b64"]);
    let payload = unb64(&v["payload_b64"]);
    let fresh = sign_exact(&header, &payload, &sign_key, Algorithm::PS384).unwrap();
    assert_ne!(fresh, text(&v["compact"]));
    assert_verifies(
        sign_key.to_public().unwrap(),
        &fresh,
        Algorithm::PS384,
        &payload,
    );
}

#[test]
fn rfc7520_4_3_es512_verifies() {
    let (v, sign_key) = rfc7520_verify("4.3");
    assert_eq!(v["reproducible"], false);
    let header = unb64(&v["protected_b64"]);
    let payload = unb64(&v["payload_b64"]);
    let fresh = sign_exact(&header, &payload, &sign_key, Algorithm::ES512).unwrap();
    assert_verifies(
        sign_key.to_public().unwrap(),
        &fresh,
        Algorithm::ES512,
        &payload,
    );
}

#[test]
fn rfc7520_4_4_hs256_verifies_and_signs_byte_identically() {
    let (v, sign_key) = rfc7520_verify("4.4");
    assert_eq!(v["reproducible"], true);
    assert_eq!(
        sign_key.algorithm(),
        Some(Algorithm::HS256),
        "§3.5 has alg HS256"
    );
    let header = unb64(&v["protected_b64"]);
    let payload = unb64(&v["payload_b64"]);
    let signed = sign_exact(&header, &payload, &sign_key, Algorithm::HS256).unwrap();
    assert_eq!(signed, text(&v["compact"]));
}

#[test]
fn rfc7520_public_keys_are_the_private_keys_public_halves() {
    let doc = vectors("rfc7520.json");
    for (public, private) in [("3.1", "3.2"), ("3.3", "3.4")] {
        let public = jwk(&doc["keys"][public]);
        let private = jwk(&doc["keys"][private]);
        assert!(!public.can_sign() && private.can_sign());
        assert_eq!(
            private.to_public().unwrap().public_jwk(),
            public.public_jwk()
        );
    }
}

// ----- RFC 8037 -----

#[test]
fn rfc8037_a4_ed25519_verifies_and_signs_byte_identically() {
    let doc = vectors("rfc8037.json");
    let private = jwk(&doc["A.1"]["jwk"]);
    let public = jwk(&doc["A.2"]["jwk"]);
    assert_eq!(private.kind(), KeyKind::Ed25519);
    assert_eq!(
        unb64(&doc["A.1"]["jwk"]["d"]),
        hex(text(&doc["A.1"]["d_hex"]))
    );
    assert_eq!(
        unb64(&doc["A.2"]["jwk"]["x"]),
        hex(text(&doc["A.1"]["x_hex"]))
    );
    assert_eq!(
        private.to_public().unwrap().public_jwk(),
        public.public_jwk()
    );

    let v = &doc["A.4"];
    assert_eq!(
        text(&v["jws"]),
        format!(
            "{}.{}",
            text(&v["signing_input"]),
            text(&v["signature_b64"])
        )
    );
    let payload = unb64(&v["payload_b64"]);
    assert_eq!(payload, text(&v["payload"]).as_bytes());
    assert_verifies(public, text(&v["jws"]), Algorithm::EdDSA, &payload);

    let header = unb64(&v["protected_b64"]);
    assert_eq!(header, text(&v["protected_json"]).as_bytes());
    let signed = sign_exact(&header, &payload, &private, alg(&v["alg"])).unwrap();
    assert_eq!(signed, text(&v["jws"]), "Ed25519 is deterministic");
}

#[test]
fn rfc8037_a3_thumbprint() {
    let doc = vectors("rfc8037.json");
    let key = jwk(&doc["A.2"]["jwk"]);
    assert_eq!(key.thumbprint(), text(&doc["A.3"]["thumbprint"]));
    assert_eq!(
        unb64(&doc["A.3"]["thumbprint"]),
        hex(text(&doc["A.3"]["sha256_hex"]))
    );
    // The private key has the same thumbprint (RFC 7638 hashes public members only).
    assert_eq!(
        jwk(&doc["A.1"]["jwk"]).thumbprint(),
        text(&doc["A.3"]["thumbprint"])
    );
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// ----- RFC 7638 -----

#[test]
fn rfc7638_3_1_thumbprint() {
    let doc = vectors("rfc7638.json");
    let key = jwk(&doc["jwk"]);
    assert_eq!(key.kid(), Some("2011-04-29"));
    assert_eq!(key.algorithm(), Some(Algorithm::RS256));
    assert_eq!(
        key.thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
    assert_eq!(key.thumbprint(), text(&doc["thumbprint"]));
    let octets: Vec<u8> = doc["sha256_octets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| u8::try_from(o.as_u64().unwrap()).unwrap())
        .collect();
    assert_eq!(b64::decode(key.thumbprint()).unwrap(), octets);
    // Neither kid nor alg changes the thumbprint.
    let bare = Key::from_jwk(&without(&doc["jwk"], &["kid", "alg"])).unwrap();
    assert_eq!(bare.thumbprint(), key.thumbprint());
}

/// Resolves a `file#/json/pointer` reference from thumbprints.json.
fn resolve(reference: &str) -> Value {
    let (file, pointer) = reference.split_once('#').unwrap();
    vectors(file)
        .pointer(pointer)
        .unwrap_or_else(|| panic!("{reference} does not resolve"))
        .clone()
}

#[test]
fn thumbprints_json_every_loadable_key_matches() {
    let doc = vectors("thumbprints.json");
    let mut loaded = 0;
    let mut refused = Vec::new();
    for (reference, want) in obj(&doc) {
        if reference == "source" {
            continue;
        }
        let jwk = resolve(reference);
        match Key::from_jwk(obj(&jwk)) {
            Ok(key) => {
                assert_eq!(key.thumbprint(), text(want), "{reference}");
                loaded += 1;
            }
            Err(e) => refused.push(format!("{reference}: {e}")),
        }
    }
    // RFC 7517 A.1/A.2 key 0 are marked "use":"enc" and A.3 key 0 has "alg":"A128KW":
    // encryption keys, which Signet refuses as signature keys. Everything else loads.
    assert_eq!(loaded, 15, "refused: {refused:#?}");
    assert_eq!(refused.len(), 3, "refused: {refused:#?}");
    for r in &refused {
        assert!(r.starts_with("rfc7517.json#/A."), "{r}");
    }
}

/// The three refused keys, with their encryption markers removed, load and match as well: the
/// thumbprint is computed from key material alone.
#[test]
fn thumbprints_json_every_key_matches_without_use_and_alg() {
    let doc = vectors("thumbprints.json");
    let mut count = 0;
    for (reference, want) in obj(&doc) {
        if reference == "source" {
            continue;
        }
        let key = Key::from_jwk(&without(&resolve(reference), &["use", "alg"]))
            .unwrap_or_else(|e| panic!("{reference}: {e}"));
        assert_eq!(key.thumbprint(), text(want), "{reference}");
        count += 1;
    }
    assert_eq!(count, 18);
}

// ----- RFC 7517 Appendix A -----

#[test]
fn rfc7517_a1_public_set() {
    let doc = vectors("rfc7517.json");
    let (set, skipped) = KeySet::from_jwks(obj(&doc["A.1"])).unwrap();
    // Key 0 is an EC key marked "use":"enc": Signet does not verify signatures with an
    // encryption key and skips it (RFC 7517 §5 lets a set's unusable members be ignored).
    assert_eq!(
        skipped,
        ["key 0 (1): key is not usable: JWK has use \"enc\", not \"sig\""]
    );
    assert_eq!(set.keys().len(), 1);
    let rsa = &set.keys()[0];
    assert_eq!(rsa.kind(), KeyKind::Rsa);
    assert_eq!(rsa.kid(), Some("2011-04-29"));
    assert_eq!(rsa.algorithm(), Some(Algorithm::RS256));
    assert!(!rsa.can_sign());
    assert_eq!(rsa.rsa_bits(), Some(2048));
    // Both keys' material is sound: without the encryption marker the EC key loads too.
    let ec = Key::from_jwk(&without(&doc["A.1"]["keys"][0], &["use"])).unwrap();
    assert_eq!(ec.kind(), KeyKind::Ec(jose::Curve::P256));
    assert_eq!(ec.kid(), Some("1"));
}

#[test]
fn rfc7517_a2_private_set_signs_and_matches_a1() {
    let doc = vectors("rfc7517.json");
    let (public, _) = KeySet::from_jwks(obj(&doc["A.1"])).unwrap();
    let (private, skipped) = KeySet::from_jwks(obj(&doc["A.2"])).unwrap();
    assert_eq!(
        skipped,
        ["key 0 (1): key is not usable: JWK has use \"enc\", not \"sig\""]
    );
    assert_eq!(private.keys().len(), 1);
    let rsa = &private.keys()[0];
    assert!(rsa.can_sign());
    assert_eq!(rsa.kid(), Some("2011-04-29"));
    assert_eq!(
        rsa.to_public().unwrap().public_jwk(),
        public.keys()[0].public_jwk()
    );
    assert_eq!(rsa.thumbprint(), public.keys()[0].thumbprint());

    // It signs, and the A.1 public set verifies what it signed.
    let token = jose::Signer::new(rsa.clone(), Algorithm::RS256)
        .unwrap()
        .sign_bytes(b"RFC 7517 A.2")
        .unwrap();
    let verified = Verifier::new(public).verify(&token).unwrap();
    assert_eq!(verified.payload, b"RFC 7517 A.2");
    assert_eq!(verified.key_kid.as_deref(), Some("2011-04-29"));

    // The EC private key (an encryption key in the RFC) is a sound P-256 pair: without the
    // marker it loads, signs, and its public half is A.1's EC key.
    let ec = Key::from_jwk(&without(&doc["A.2"]["keys"][0], &["use"])).unwrap();
    let ec_public = Key::from_jwk(&without(&doc["A.1"]["keys"][0], &["use"])).unwrap();
    assert!(ec.can_sign());
    assert_eq!(ec.to_public().unwrap().public_jwk(), ec_public.public_jwk());
    let token = sign_exact(b"{\"alg\":\"ES256\"}", b"x", &ec, Algorithm::ES256).unwrap();
    assert_eq!(
        Verifier::new(ec_public).verify(&token).unwrap().payload,
        b"x"
    );
}

#[test]
fn rfc7517_a3_symmetric_set() {
    let doc = vectors("rfc7517.json");
    let (set, skipped) = KeySet::from_jwks(obj(&doc["A.3"])).unwrap();
    // The A128KW key wraps keys for JWE: its alg is not a JWS algorithm, so it is skipped...
    assert_eq!(
        skipped,
        ["key 0 ((no kid)): key is not usable: JWK alg \"A128KW\" is not a JWS signature algorithm"]
    );
    // ...and refused outright when loaded alone.
    assert_eq!(
        Key::from_jwk(obj(&doc["A.3"]["keys"][0])).err(),
        Some(Error::Key(
            "JWK alg \"A128KW\" is not a JWS signature algorithm".into()
        ))
    );
    // The HMAC key loads; it is RFC 7515 A.1's key and verifies A.1's token.
    assert_eq!(set.keys().len(), 1);
    let hmac = &set.keys()[0];
    assert_eq!(hmac.kind(), KeyKind::Hmac);
    assert_eq!(
        hmac.kid(),
        Some("HMAC key used in JWS spec Appendix A.1 example")
    );
    let a1 = vectors("rfc7515.json");
    let verifier = Verifier::new(set.clone());
    assert!(verifier.verify(text(&a1["A.1"]["jws"])).is_ok());

    // The A128KW key cannot verify HS256: a token MACed with its bytes is refused.
    let kw_secret = unb64(&doc["A.3"]["keys"][0]["k"]);
    assert_eq!(kw_secret.len(), 16);
    let kw_as_hmac = Key::hmac(kw_secret).unwrap();
    let token = sign_exact(b"{\"alg\":\"HS256\"}", b"{}", &kw_as_hmac, Algorithm::HS256).unwrap();
    assert_eq!(verifier.verify(&token).err(), Some(Error::InvalidSignature));
}
