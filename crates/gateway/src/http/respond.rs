//! The responses the gateway makes itself: one map from what went wrong ([`Failure`]) to a
//! status and a JSON body `{"error": code, "message": …}`, and the small builders around it.

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::json;

/// The response body: a streamed backend body or a small generated one.
pub type Body = BoxBody<Bytes, BoxError>;

/// Why a streamed backend body broke off.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Everything the gateway answers instead of the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// `400 bad_request`: the request cannot be routed or forwarded as it is.
    BadRequest(String),
    /// `405 method_not_allowed` (with `Allow`).
    MethodNotAllowed(String),
    /// `401 invalid_token` (with `WWW-Authenticate: Bearer`).
    Unauthorized(String),
    /// `404 not_found`.
    NotFound(String),
    /// `502 bad_gateway`: the application's backend failed.
    BadGateway { app: String, detail: String },
    /// `504 gateway_timeout`.
    GatewayTimeout { app: String, seconds: u64 },
    /// `500 token_error`: the backend JWT could not be signed.
    Token(String),
    /// A web login failed: `400`, or `502` when the provider could not be reached.
    Login { status: StatusCode, message: String },
    /// `500` with a code of its own (a configuration the request cannot be served with).
    Internal { code: &'static str, message: String },
    /// `403 access_denied`: an access rule of the application denied the request.
    Forbidden { rule: String, reason: String },
    /// `429 rate_limited` (with `Retry-After`): a rate-limit rule is exhausted.
    RateLimited { rule: String, retry_after: u64 },
}

impl Failure {
    pub fn status(&self) -> StatusCode {
        match self {
            Failure::BadRequest(_) => StatusCode::BAD_REQUEST,
            Failure::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Failure::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Failure::NotFound(_) => StatusCode::NOT_FOUND,
            Failure::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            Failure::GatewayTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Failure::Token(_) | Failure::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Failure::Login { status, .. } => *status,
            Failure::Forbidden { .. } => StatusCode::FORBIDDEN,
            Failure::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The `error` member of the body.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::BadRequest(_) => "bad_request",
            Failure::MethodNotAllowed(_) => "method_not_allowed",
            Failure::Unauthorized(_) => "invalid_token",
            Failure::NotFound(_) => "not_found",
            Failure::BadGateway { .. } => "bad_gateway",
            Failure::GatewayTimeout { .. } => "gateway_timeout",
            Failure::Token(_) => "token_error",
            Failure::Login { .. } => "login_failed",
            Failure::Internal { code, .. } => code,
            Failure::Forbidden { .. } => "access_denied",
            Failure::RateLimited { .. } => "rate_limited",
        }
    }

    /// The `message` member of the body.
    pub fn message(&self) -> String {
        match self {
            Failure::BadRequest(m)
            | Failure::MethodNotAllowed(m)
            | Failure::Unauthorized(m)
            | Failure::NotFound(m)
            | Failure::Token(m)
            | Failure::Login { message: m, .. }
            | Failure::Internal { message: m, .. } => m.clone(),
            Failure::BadGateway { app, detail } => format!("application {app:?}: {detail}"),
            Failure::GatewayTimeout { app, seconds } => {
                format!("application {app:?}: the backend did not answer within {seconds} s")
            }
            Failure::Forbidden { rule, reason } => {
                format!("rule {rule:?} denied the request: {reason}")
            }
            Failure::RateLimited { rule, retry_after } => {
                format!("rule {rule:?}: too many requests; retry after {retry_after} s")
            }
        }
    }

    /// The JSON response.
    pub fn response(&self) -> Response<Body> {
        let message = self.message();
        let mut r = json_response(self.status(), error_body(self.code(), &message));
        r.extensions_mut().insert(GatewayMade { message });
        match self {
            Failure::Unauthorized(_) => {
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Failure::RateLimited { retry_after, .. } => {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            Failure::MethodNotAllowed(_) => {
                r.headers_mut().insert(
                    header::ALLOW,
                    HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
                );
            }
            _ => {}
        }
        r
    }
}

/// Marks a response the gateway made itself (not the backend's), with its message: a gRPC
/// client gets it as a gRPC status instead ([`super::grpc`]).
#[derive(Debug, Clone)]
pub struct GatewayMade {
    pub message: String,
}

/// A JSON error body: `{"error": code, "message": message}`.
pub fn error_body(code: &str, message: &str) -> Bytes {
    Bytes::from(json!({"error": code, "message": message}).to_string())
}

/// A body of these bytes.
pub fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// The response with this `Content-Type`.
pub fn with_type(mut response: Response<Body>, content_type: &'static str) -> Response<Body> {
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON response.
pub fn json_response(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut r = with_type(Response::new(full(body)), "application/json");
    *r.status_mut() = status;
    r
}

/// `302 Found` to `location`, with cookies, never cached.
pub fn redirect(location: &str, cookies: &[String]) -> Response<Body> {
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = StatusCode::FOUND;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_status_code_and_message() {
        let cases = [
            (Failure::BadRequest("b".into()), 400, "bad_request", "b"),
            (
                Failure::MethodNotAllowed("m".into()),
                405,
                "method_not_allowed",
                "m",
            ),
            (Failure::Unauthorized("u".into()), 401, "invalid_token", "u"),
            (Failure::NotFound("n".into()), 404, "not_found", "n"),
            (
                Failure::BadGateway {
                    app: "a".into(),
                    detail: "d".into(),
                },
                502,
                "bad_gateway",
                "application \"a\": d",
            ),
            (
                Failure::GatewayTimeout {
                    app: "a".into(),
                    seconds: 3,
                },
                504,
                "gateway_timeout",
                "application \"a\": the backend did not answer within 3 s",
            ),
            (Failure::Token("t".into()), 500, "token_error", "t"),
            (
                Failure::Forbidden {
                    rule: "admins".into(),
                    reason: "no".into(),
                },
                403,
                "access_denied",
                "rule \"admins\" denied the request: no",
            ),
            (
                Failure::RateLimited {
                    rule: "slow".into(),
                    retry_after: 2,
                },
                429,
                "rate_limited",
                "rule \"slow\": too many requests; retry after 2 s",
            ),
        ];
        for (failure, status, code, message) in cases {
            let r = failure.response();
            assert_eq!(r.status().as_u16(), status);
            assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
            assert_eq!(
                (failure.code(), failure.message().as_str()),
                (code, message)
            );
        }
        let r = Failure::Unauthorized("u".into()).response();
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert!(Failure::MethodNotAllowed("m".into())
            .response()
            .headers()
            .contains_key(header::ALLOW));
    }
}
