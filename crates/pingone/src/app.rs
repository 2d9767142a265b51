//! What a validator is told: the application's settings, the audiences it accepts and "now",
//! and how to find users.

use jose::{Key, KeySet};

use crate::error::Error;
use crate::region::Region;

/// The settings of a PingOne application that decide whether its tokens are accepted.
#[derive(Debug, Clone)]
pub struct Application {
    /// The application (client) id: the `iss` of its tokens.
    pub client_id: String,
    /// The client secret, as an HMAC key (HS256/384/512).
    pub client_secret: Option<Key>,
    /// Registered public keys (`jwks`/`jwksUrl`), for RS256/384/512 request objects.
    pub keys: KeySet,
    /// `supportUnsignedRequestObject`: accept `alg: none` request objects.
    pub support_unsigned_request_object: bool,
    /// `requireSignedRequestObject`: never accept an unsigned request object (wins over
    /// `support_unsigned_request_object`; PingOne forbids setting both).
    pub require_signed_request_object: bool,
    pub enabled: bool,
}

impl Application {
    /// An enabled application with PingOne's defaults: no secret, no keys, unsigned request
    /// objects not supported.
    pub fn new(client_id: impl Into<String>) -> Application {
        Application {
            client_id: client_id.into(),
            client_secret: None,
            keys: KeySet::default(),
            support_unsigned_request_object: false,
            require_signed_request_object: false,
            enabled: true,
        }
    }

    /// Sets the client secret (its raw bytes are the HMAC key).
    pub fn with_secret(mut self, secret: impl Into<Vec<u8>>) -> Result<Application, Error> {
        self.client_secret = Some(Key::hmac(secret).map_err(Error::Key)?);
        Ok(self)
    }

    /// Sets the registered (public) keys.
    #[must_use]
    pub fn with_keys(mut self, keys: impl Into<KeySet>) -> Application {
        self.keys = keys.into();
        self
    }
}

/// What the validator checks a token against besides the application: the accepted audiences
/// and the clock.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// `aud` must contain one of these.
    pub audiences: Vec<String>,
    /// Unix seconds.
    pub now: i64,
    /// Clock-skew allowance for `exp` and `nbf`, in seconds.
    pub leeway: u64,
}

impl Expected {
    /// Accepts the PingOne issuer of `env_id` in `region`, with jose's default leeway.
    pub fn pingone(region: Region, env_id: &str, now: i64) -> Result<Expected, Error> {
        Ok(Expected {
            audiences: vec![region.issuer(env_id)?],
            now,
            leeway: jose::jwt::DEFAULT_LEEWAY,
        })
    }

    /// Also accepts `audience`, e.g. the issuer of a local authorization server.
    #[must_use]
    pub fn also_accept(mut self, audience: impl Into<String>) -> Expected {
        let audience = audience.into();
        if !self.audiences.contains(&audience) {
            self.audiences.push(audience);
        }
        self
    }

    #[must_use]
    pub fn with_leeway(mut self, seconds: u64) -> Expected {
        self.leeway = seconds;
        self
    }
}

/// A user in a directory: a `sub` may name either field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
}

/// How a `sub` was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    Id,
    Username,
}

/// Finds users for the validators. `sub` is tried as a user id first, then as a username.
pub trait UserLookup {
    type User;
    fn by_id(&self, id: &str) -> Option<Self::User>;
    fn by_username(&self, username: &str) -> Option<Self::User>;

    /// Resolves a `sub`: by id, else by username.
    fn resolve(&self, sub: &str) -> Option<(Self::User, MatchedBy)> {
        self.by_id(sub)
            .map(|u| (u, MatchedBy::Id))
            .or_else(|| self.by_username(sub).map(|u| (u, MatchedBy::Username)))
    }
}

impl UserLookup for [User] {
    type User = User;
    fn by_id(&self, id: &str) -> Option<User> {
        self.iter().find(|u| u.id == id).cloned()
    }
    fn by_username(&self, username: &str) -> Option<User> {
        self.iter().find(|u| u.username == username).cloned()
    }
}

impl UserLookup for Vec<User> {
    type User = User;
    fn by_id(&self, id: &str) -> Option<User> {
        self.as_slice().by_id(id)
    }
    fn by_username(&self, username: &str) -> Option<User> {
        self.as_slice().by_username(username)
    }
}

/// A lookup made of two closures, for callers with their own user store.
pub struct LookupFn<I, N> {
    pub by_id: I,
    pub by_username: N,
}

impl<U, I, N> UserLookup for LookupFn<I, N>
where
    I: Fn(&str) -> Option<U>,
    N: Fn(&str) -> Option<U>,
{
    type User = U;
    fn by_id(&self, id: &str) -> Option<U> {
        (self.by_id)(id)
    }
    fn by_username(&self, username: &str) -> Option<U> {
        (self.by_username)(username)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<User> {
        vec![
            User {
                id: "u-1".into(),
                username: "alice".into(),
            },
            User {
                id: "bob".into(),
                username: "robert".into(),
            },
        ]
    }

    #[test]
    fn sub_is_an_id_first_then_a_username() {
        let u = users();
        assert_eq!(
            u.resolve("u-1").map(|(u, m)| (u.username, m)),
            Some(("alice".into(), MatchedBy::Id))
        );
        assert_eq!(
            u.resolve("alice").map(|(u, m)| (u.id, m)),
            Some(("u-1".into(), MatchedBy::Username))
        );
        assert_eq!(u.resolve("bob").map(|(_, m)| m), Some(MatchedBy::Id));
        assert!(u.resolve("carol").is_none());
        let f = LookupFn {
            by_id: |id: &str| (id == "7").then_some(7),
            by_username: |name: &str| (name == "seven").then_some(7),
        };
        assert_eq!(f.resolve("seven"), Some((7, MatchedBy::Username)));
        assert_eq!(f.resolve("8"), None);
    }

    #[test]
    fn expected_audiences_are_pingone_plus_local() {
        let e = Expected::pingone(Region::Eu, "env", 5)
            .map(|e| e.also_accept("http://127.0.0.1:9000/env/as"));
        assert_eq!(
            e.map(|e| e.audiences),
            Ok(vec![
                "https://auth.pingone.eu/env/as".to_owned(),
                "http://127.0.0.1:9000/env/as".to_owned()
            ])
        );
        assert!(Expected::pingone(Region::Na, "", 0).is_err());
    }

    #[test]
    fn an_empty_secret_is_refused() {
        assert!(matches!(
            Application::new("c").with_secret(Vec::new()),
            Err(Error::Key(jose::Error::EmptySecret))
        ));
    }
}
