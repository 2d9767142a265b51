//! JWK Set documents (`jose::KeySet::from_jwks_json`): nothing may panic; a set that parses
//! publishes public keys only (secret keys are left out), and its published document parses
//! back to the same asymmetric keys.
#![no_main]

use jose::{KeyKind, KeySet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok((set, _skipped)) = KeySet::from_jwks_json(data) else {
        return;
    };
    let published = set.to_public_jwks().to_string();
    let (again, skipped) =
        KeySet::from_jwks_json(published.as_bytes()).expect("our own JWKS parses");
    assert!(skipped.is_empty(), "{skipped:?}");
    let prints = |s: &KeySet| {
        s.keys()
            .iter()
            .filter(|k| k.kind() != KeyKind::Hmac)
            .map(|k| k.thumbprint())
            .collect::<Vec<_>>()
    };
    assert_eq!(prints(&again), prints(&set));
    assert!(again.keys().iter().all(|k| !k.can_sign()));
});
