//! PingOne's error envelope, `{id, code, message, details[{code, target, message}]}`, and how
//! each refusal maps onto it (and onto an OAuth `error` code, for redirect-mode responses).

use serde_json::{json, Map, Value};

use pingone::error::{Error, Profile};

/// PingOne's generic message for validation failures.
pub const INVALID_DATA_MESSAGE: &str =
    "The request could not be completed. One or more validation errors were in the request.";
pub const NOT_FOUND_MESSAGE: &str = "The requested resource was not found.";

/// One failing rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub code: &'static str,
    pub target: String,
    pub message: String,
    /// PingOne's `innerError`, e.g. `{"failuresRemaining": 2}`.
    pub inner: Option<Value>,
}

/// An error response: HTTP status, PingOne's envelope, and the OAuth error code used when the
/// error is returned to a redirect URI instead.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<Detail>,
    pub oauth: &'static str,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            oauth: "invalid_request",
        }
    }

    /// 400 INVALID_DATA with one detail.
    pub fn invalid(
        detail_code: &'static str,
        target: impl Into<String>,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError::new(400, "INVALID_DATA", INVALID_DATA_MESSAGE).detail(
            detail_code,
            target,
            message,
        )
    }

    /// 400 INVALID_DATA, detail INVALID_VALUE.
    pub fn invalid_value(target: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::invalid("INVALID_VALUE", target, message)
    }

    /// 400 INVALID_DATA, detail REQUIRED_VALUE.
    pub fn required(target: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::invalid("REQUIRED_VALUE", target, message)
    }

    /// 404 NOT_FOUND, naming what was not found.
    pub fn not_found(target: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::new(404, "NOT_FOUND", NOT_FOUND_MESSAGE).detail("NOT_FOUND", target, message)
    }

    /// 400 REQUEST_FAILED: the request is well-formed but not possible now.
    pub fn request_failed(target: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::new(400, "REQUEST_FAILED", "The request could not be completed.").detail(
            "INVALID_VALUE",
            target,
            message,
        )
    }

    /// 500: the server could not do its part (e.g. the random generator failed).
    pub fn internal(message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(500, "UNEXPECTED_ERROR", message);
        e.oauth = "server_error";
        e
    }

    #[must_use]
    pub fn detail(
        mut self,
        code: &'static str,
        target: impl Into<String>,
        message: impl Into<String>,
    ) -> ApiError {
        self.details.push(Detail {
            code,
            target: target.into(),
            message: message.into(),
            inner: None,
        });
        self
    }

    #[must_use]
    pub fn inner(mut self, inner: Value) -> ApiError {
        if let Some(d) = self.details.last_mut() {
            d.inner = Some(inner);
        }
        self
    }

    #[must_use]
    pub fn oauth(mut self, code: &'static str) -> ApiError {
        self.oauth = code;
        self
    }

    /// The envelope, with the error's `id`.
    pub fn to_json(&self, id: &str) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), id.into());
        m.insert("code".into(), self.code.into());
        m.insert("message".into(), self.message.clone().into());
        if !self.details.is_empty() {
            let details: Vec<Value> = self
                .details
                .iter()
                .map(|d| {
                    let mut o = json!({"code": d.code, "target": d.target, "message": d.message});
                    if let (Some(inner), Some(obj)) = (&d.inner, o.as_object_mut()) {
                        obj.insert("innerError".into(), inner.clone());
                    }
                    o
                })
                .collect();
            m.insert("details".into(), Value::Array(details));
        }
        Value::Object(m)
    }

    /// A one-line description (the first detail's message, else the message), for
    /// `error_description`.
    pub fn description(&self) -> String {
        self.details
            .first()
            .map(|d| d.message.clone())
            .unwrap_or_else(|| self.message.clone())
    }
}

/// A refused login_hint_token or request object, as PingOne would report it: target is the
/// parameter (`login_hint_token` or `request`), the message names the rule. `alg` is the
/// token's header alg, which says which key a bad signature was checked with.
pub fn token_refused(e: &Error, profile: Profile, alg: Option<&str>) -> ApiError {
    let target = match profile {
        Profile::LoginHintToken => "login_hint_token",
        Profile::RequestObject => "request",
    };
    let oauth = match (e, profile) {
        (Error::ApplicationDisabled { .. }, _) => "unauthorized_client",
        (_, Profile::RequestObject) => "invalid_request_object",
        (_, Profile::LoginHintToken) => "invalid_request",
    };
    let message = match e {
        Error::Signature(_) => {
            let key = match alg {
                Some(a) if a.starts_with("RS") => "the application's registered keys",
                _ => "the client secret",
            };
            format!("{profile} signature does not verify with {key}")
        }
        Error::ApplicationDisabled { client_id } => {
            format!("application \"{client_id}\" is disabled")
        }
        Error::UnknownUser(sub) => {
            format!("{profile} sub \"{sub}\" matches no user (by id or by username)")
        }
        other => format!("{profile}: {other}"),
    };
    let code = match e {
        Error::MissingClaim(_) => "REQUIRED_VALUE",
        _ => "INVALID_VALUE",
    };
    let target = if matches!(e, Error::ApplicationDisabled { .. }) {
        "client_id"
    } else {
        target
    };
    ApiError::invalid(code, target, message).oauth(oauth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_has_pingones_shape() {
        let e =
            ApiError::invalid_value("otp", "Invalid OTP").inner(json!({"failuresRemaining": 2}));
        assert_eq!(
            e.to_json("id-1"),
            json!({"id": "id-1", "code": "INVALID_DATA", "message": INVALID_DATA_MESSAGE,
                   "details": [{"code": "INVALID_VALUE", "target": "otp", "message": "Invalid OTP",
                                "innerError": {"failuresRemaining": 2}}]})
        );
        assert_eq!(e.description(), "Invalid OTP");
        let bare = ApiError::new(405, "METHOD_NOT_ALLOWED", "no");
        assert_eq!(bare.to_json("x").get("details"), None);
    }

    #[test]
    fn refusals_name_the_rule() {
        let sig = Error::Signature(jose::Error::InvalidSignature);
        let e = token_refused(&sig, Profile::RequestObject, Some("HS256"));
        assert_eq!(
            e.details.first().map(|d| d.target.as_str()),
            Some("request")
        );
        assert_eq!(
            e.description(),
            "request object signature does not verify with the client secret"
        );
        assert_eq!(e.oauth, "invalid_request_object");
        let e = token_refused(&sig, Profile::RequestObject, Some("RS256"));
        assert!(e
            .description()
            .ends_with("the application's registered keys"));
        let e = token_refused(
            &Error::ForbiddenHeader("cty"),
            Profile::LoginHintToken,
            None,
        );
        assert_eq!(
            e.description(),
            "login_hint_token: header member cty is not allowed: PingOne supports no nested signing or encryption here"
        );
        let e = token_refused(
            &Error::ApplicationDisabled {
                client_id: "a".into(),
            },
            Profile::RequestObject,
            None,
        );
        assert_eq!(
            (e.oauth, e.details.first().map(|d| d.target.as_str())),
            ("unauthorized_client", Some("client_id"))
        );
    }
}
