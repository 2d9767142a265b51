//! Compact JWS decode and verify (`jose::jws`): any text, against verifiers for every key type.
//! Nothing may panic; a decoded token's segments are the only encodings of its parts (strict
//! base64url: one accepted spelling per byte string), and nothing verifies that was not signed
//! by our keys (a forgery would be a crash).
#![no_main]

use std::sync::OnceLock;

use jose::{Algorithm, Key, Validation, Verifier};
use libfuzzer_sys::fuzz_target;

fn verifiers() -> &'static Vec<Verifier> {
    static V: OnceLock<Vec<Verifier>> = OnceLock::new();
    V.get_or_init(|| {
        let mut keys = vec![Key::hmac(b"fuzzing-secret-of-thirty-two-bytes!!".to_vec()).unwrap()];
        for alg in [
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
            Algorithm::RS256,
        ] {
            keys.push(Key::generate(alg).unwrap().to_public().unwrap());
        }
        keys.into_iter().map(Verifier::new).collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = jose::jws::decode(token) {
        assert_eq!(jose::b64::encode(&c.payload), c.payload_b64);
        assert_eq!(jose::b64::encode(&c.signature), c.signature_b64);
    }
    let v = Validation {
        now: Some(1_764_000_000),
        ..Validation::default()
    };
    for verifier in verifiers() {
        assert!(
            verifier.verify(token).is_err(),
            "a token we never signed verified"
        );
        assert!(verifier.verify_jwt(token, &v).is_err());
    }
});
