//! Every reason a PingOne token is refused (or cannot be built), one variant per rule.

use std::fmt;

use jose::time::Ago;

/// The two token profiles, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    LoginHintToken,
    RequestObject,
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::LoginHintToken => "login_hint_token",
            Profile::RequestObject => "request object",
        })
    }
}

/// Which application setting refuses an unsigned request object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsignedRefusal {
    /// `supportUnsignedRequestObject` is false (the PingOne default).
    NotSupported,
    /// `requireSignedRequestObject` is true.
    SignedRequired,
}

impl fmt::Display for UnsignedRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnsignedRefusal::NotSupported => {
                "the application does not support unsigned request objects (supportUnsignedRequestObject is false)"
            }
            UnsignedRefusal::SignedRequired => {
                "the application requires signed request objects (requireSignedRequestObject is true)"
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- environment and application settings ---
    #[error("unknown region \"{0}\"; use one of na, eu, ca, au, sg, ap")]
    UnknownRegion(String),
    #[error("environment id \"{0}\" is not usable in a URL path (use letters, digits, '-', '_', '.', '~')")]
    InvalidEnvironmentId(String),
    #[error("application \"{client_id}\" is disabled")]
    ApplicationDisabled { client_id: String },
    #[error("application \"{client_id}\" has no client secret, so it cannot verify {alg}")]
    NoClientSecret { client_id: String, alg: String },
    #[error("application \"{client_id}\" has no registered keys, so it cannot verify {alg}")]
    NoRegisteredKeys { client_id: String, alg: String },
    #[error("the client secret or key is not usable: {0}")]
    Key(jose::Error),
    #[error("signing failed: {0}")]
    Signing(jose::Error),

    // --- the token's structure and header ---
    #[error("token is malformed: {0}")]
    Malformed(jose::Error),
    #[error(
        "header member {0} is not allowed: PingOne supports no nested signing or encryption here"
    )]
    ForbiddenHeader(&'static str),
    #[error("alg {alg} is not allowed for a {profile} (allowed: {allowed})")]
    AlgorithmNotAllowed {
        profile: Profile,
        alg: String,
        allowed: String,
    },
    #[error("unsigned request object refused: {0}")]
    UnsignedNotAllowed(UnsignedRefusal),
    #[error("an unsigned (alg none) token must have an empty signature segment")]
    UnsignedWithSignature,
    #[error("signature is not valid: {0}")]
    Signature(jose::Error),

    // --- claims ---
    #[error("required claim {0} is missing")]
    MissingClaim(String),
    #[error("claim {claim} must be {expected}")]
    ClaimType {
        claim: String,
        expected: &'static str,
    },
    #[error("iss is \"{found}\", expected the client id \"{expected}\"")]
    IssuerNotClientId { expected: String, found: String },
    #[error("aud is {}, expected {}", quoted(.found), quoted(.expected))]
    WrongAudience {
        expected: Vec<String>,
        found: Vec<String>,
    },
    #[error("exp is in the past (expired {})", Ago::between(*.exp, *.now))]
    Expired { exp: f64, now: i64 },
    #[error("nbf is in the future (valid {})", Ago::between(*.nbf, *.now))]
    NotYetValid { nbf: f64, now: i64 },
    #[error("sub \"{0}\" matches no user (by id or by username)")]
    UnknownUser(String),
}

impl Error {
    /// True when the error is about the token (the caller sent a bad token), false when it is
    /// about settings or keys the verifier or signer was given.
    pub fn is_token_error(&self) -> bool {
        !matches!(
            self,
            Error::UnknownRegion(_)
                | Error::InvalidEnvironmentId(_)
                | Error::NoClientSecret { .. }
                | Error::NoRegisteredKeys { .. }
                | Error::Key(_)
                | Error::Signing(_)
        )
    }
}

/// `"a"` for one item, `one of "a", "b"` for several.
fn quoted(items: &[String]) -> String {
    let q: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    match q.as_slice() {
        [] => "nothing".to_owned(),
        [one] => one.clone(),
        many => format!("one of {}", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_which_rule_failed() {
        let e = Error::WrongAudience {
            expected: vec![
                "https://auth.pingone.com/e/as".into(),
                "http://localhost/e/as".into(),
            ],
            found: vec!["x".into()],
        };
        assert_eq!(
            e.to_string(),
            "aud is \"x\", expected one of \"https://auth.pingone.com/e/as\", \"http://localhost/e/as\""
        );
        let e = Error::Expired {
            exp: 1_300_819_391.0,
            now: 1_300_819_391 + 7200,
        };
        assert_eq!(e.to_string(), "exp is in the past (expired 2 h ago)");
        let e = Error::UnsignedNotAllowed(UnsignedRefusal::SignedRequired);
        assert!(e.to_string().contains("requireSignedRequestObject"));
        assert!(!Error::NoClientSecret {
            client_id: "c".into(),
            alg: "HS256".into()
        }
        .is_token_error());
        assert!(Error::ForbiddenHeader("cty").is_token_error());
    }
}
