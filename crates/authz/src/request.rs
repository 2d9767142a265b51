//! An authorization request as a flow keeps it: the response mode, redirect URI, scope, state,
//! nonce and PKCE challenge. Plain data, shared by [`crate::oauth`] (which parses and checks it)
//! and [`crate::flow`] (which carries it), so neither depends on the other for it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
    /// PingOne's: no redirect; the flow and then the code come back as JSON.
    PiFlow,
}

impl ResponseMode {
    pub const ALL: [ResponseMode; 4] = [
        ResponseMode::Query,
        ResponseMode::Fragment,
        ResponseMode::FormPost,
        ResponseMode::PiFlow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Query => "query",
            ResponseMode::Fragment => "fragment",
            ResponseMode::FormPost => "form_post",
            ResponseMode::PiFlow => "pi.flow",
        }
    }

    pub fn parse(s: &str) -> Option<ResponseMode> {
        ResponseMode::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// What an authorize request asks for (`response_type`): a code, an access token, an ID token,
/// or a combination (OAuth 2.0 Multiple Response Types; OIDC Core §3.2 implicit, §3.3 hybrid).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseType {
    pub code: bool,
    pub token: bool,
    pub id_token: bool,
}

impl ResponseType {
    pub const CODE: ResponseType = ResponseType {
        code: true,
        token: false,
        id_token: false,
    };

    /// `code`, `token`, `id_token` separated by spaces, in any order, each at most once.
    pub fn parse(s: &str) -> Option<ResponseType> {
        let mut r = ResponseType::default();
        for word in s.split(' ') {
            let seen = match word {
                "code" => std::mem::replace(&mut r.code, true),
                "token" => std::mem::replace(&mut r.token, true),
                "id_token" => std::mem::replace(&mut r.id_token, true),
                _ => return None,
            };
            if seen {
                return None;
            }
        }
        Some(r)
    }

    /// Whether tokens come back from the authorize endpoint (implicit or hybrid): the response
    /// then goes in the fragment unless `form_post` or `pi.flow` is asked for.
    pub fn front_channel(self) -> bool {
        self.token || self.id_token
    }

    /// The canonical spelling (`code id_token token` order, as OIDC Core writes them).
    pub fn as_str(self) -> &'static str {
        match (self.code, self.id_token, self.token) {
            (true, false, false) => "code",
            (false, false, true) => "token",
            (false, true, false) => "id_token",
            (false, true, true) => "id_token token",
            (true, true, false) => "code id_token",
            (true, false, true) => "code token",
            (true, true, true) => "code id_token token",
            (false, false, false) => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkceMethod {
    S256,
    Plain,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkce {
    pub challenge: String,
    pub method: PkceMethod,
}

/// RFC 7636 §4.1: 43 to 128 characters from the unreserved set.
pub fn pkce_syntax(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~'))
}

impl Pkce {
    /// Whether `verifier` answers the challenge.
    pub fn verify(&self, verifier: &str) -> bool {
        if !pkce_syntax(verifier) {
            return false;
        }
        let computed = match self.method {
            PkceMethod::Plain => verifier.to_owned(),
            PkceMethod::S256 => jose::b64::encode(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                verifier.as_bytes(),
            )),
        };
        aws_lc_rs::constant_time::verify_slices_are_equal(
            computed.as_bytes(),
            self.challenge.as_bytes(),
        )
        .is_ok()
    }
}

/// The authorize parameters a flow keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    pub response_type: ResponseType,
    pub response_mode: ResponseMode,
    pub redirect_uri: Option<String>,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub pkce: Option<Pkce>,
    pub acr_values: Option<String>,
    /// `ui_locales`: the languages the user prefers, in order (they choose template locales).
    pub ui_locales: Option<String>,
    pub prompt: Option<String>,
}

impl AuthRequest {
    pub fn has_scope(&self, scope: &str) -> bool {
        has_scope(&self.scope, scope)
    }
}

/// Whether a space-separated scope list contains `scope`.
pub fn has_scope(scopes: &str, scope: &str) -> bool {
    scopes.split_ascii_whitespace().any(|s| s == scope)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn response_types_parse_in_any_order_once_each() {
        let r = ResponseType::parse("token id_token").unwrap();
        assert_eq!(r.as_str(), "id_token token");
        assert!(r.front_channel() && !r.code);
        assert_eq!(ResponseType::parse("code"), Some(ResponseType::CODE));
        assert!(!ResponseType::CODE.front_channel());
        assert_eq!(
            ResponseType::parse("id_token code token").unwrap().as_str(),
            "code id_token token"
        );
        for bad in [
            "",
            "code code",
            "code  token",
            "Code",
            "none",
            "code,token",
            " code",
        ] {
            assert_eq!(ResponseType::parse(bad), None, "{bad:?}");
        }
    }
}
