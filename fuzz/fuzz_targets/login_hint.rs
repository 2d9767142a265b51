//! PingOne's login_hint_token validator (`pingone::login_hint`): any text, against an
//! application with a secret and a small user directory. Nothing may panic, and nothing is
//! accepted that was not signed with the application's secret.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pingone::app::{Application, Expected, UserLookup};

struct Users;

impl UserLookup for Users {
    type User = String;
    fn by_id(&self, id: &str) -> Option<String> {
        (id == "user-1").then(|| id.to_owned())
    }
    fn by_username(&self, username: &str) -> Option<String> {
        (username == "charlie").then(|| "user-1".to_owned())
    }
}

fn app() -> &'static Application {
    static APP: OnceLock<Application> = OnceLock::new();
    APP.get_or_init(|| {
        Application::new("app-1")
            .with_secret(b"app-1-secret-for-fuzzing-0123456789".to_vec())
            .unwrap()
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
    assert!(
        pingone::login_hint::validate(token, app(), &expected, &Users).is_err(),
        "a login_hint_token we never signed was accepted"
    );
});
