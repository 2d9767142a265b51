//! PingOne's request object validator (`pingone::request_object`): any text as the `request`
//! parameter, for an application with a secret, RSA keys and unsigned objects allowed. Nothing
//! may panic; an accepted object's `aud` holds the expected audience.
#![no_main]

use std::sync::OnceLock;

use jose::{Algorithm, Key, KeySet};
use libfuzzer_sys::fuzz_target;
use pingone::app::{Application, Expected};

fn app() -> &'static (Application, Application) {
    static APP: OnceLock<(Application, Application)> = OnceLock::new();
    APP.get_or_init(|| {
        let key = Key::generate(Algorithm::RS256)
            .unwrap()
            .to_public()
            .unwrap();
        let app = Application::new("app-1")
            .with_secret(b"app-1-secret-for-fuzzing-0123456789".to_vec())
            .unwrap()
            .with_keys(KeySet::from(key));
        let mut unsigned = app.clone();
        unsigned.support_unsigned_request_object = true;
        (app, unsigned)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let expected = Expected {
        audiences: vec!["https://auth.pingone.com/env-1/as".into()],
        now: 1_764_000_000,
        leeway: 60,
    };
    let (signed, unsigned) = app();
    assert!(
        pingone::request_object::validate(token, signed, &expected).is_err(),
        "a request object we never signed was accepted"
    );
    if let Ok(ro) = pingone::request_object::validate(token, unsigned, &expected) {
        let aud = ro.claims.get("aud").cloned().unwrap_or_default();
        let ok = aud == "https://auth.pingone.com/env-1/as"
            || aud
                .as_array()
                .is_some_and(|a| a.iter().any(|v| v == "https://auth.pingone.com/env-1/as"));
        assert!(ok, "accepted with aud {aud}");
    }
});
