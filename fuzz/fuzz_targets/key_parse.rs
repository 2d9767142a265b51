//! Key parsing (`jose::Key`): PEM, DER, JWK and the sniffing `Key::parse`. Nothing may panic, and
//! a key that parses survives its own JWK: `from_jwk(private_jwk or public_jwk)` gives a key
//! with the same thumbprint.
#![no_main]

use jose::Key;
use libfuzzer_sys::fuzz_target;

fn round_trip(key: &Key) {
    let jwk = if key.can_sign() {
        match key.private_jwk() {
            Ok(j) => j,
            Err(_) => return,
        }
    } else {
        key.public_jwk()
    };
    let again = Key::from_jwk(&jwk).expect("a parsed key's own JWK parses");
    assert_eq!(again.thumbprint(), key.thumbprint());
}

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = Key::from_der(data) {
        round_trip(&k);
    }
    if let Ok(k) = Key::parse(data) {
        round_trip(&k);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(k) = Key::from_pem(text) {
            round_trip(&k);
        }
    }
    if let Ok(serde_json::Value::Object(jwk)) = serde_json::from_slice(data) {
        if let Ok(k) = Key::from_jwk(&jwk) {
            round_trip(&k);
        }
    }
});
