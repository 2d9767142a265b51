//! gRPC clients get gRPC answers: a response the gateway makes itself (a missing token, a down
//! backend, a timeout) to a request with `content-type: application/grpc` becomes a gRPC
//! "trailers-only" response, HTTP 200 with `grpc-status` and `grpc-message`, instead of a JSON
//! body a gRPC client cannot read. Responses from the backend pass untouched.

use bytes::Bytes;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};

use super::respond::{full, Body, GatewayMade};

/// Whether a request is gRPC (`application/grpc`, `application/grpc+proto`, …).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.len() >= 16
            && v.get(..16)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"application/grpc"))
            && v.get(16).is_none_or(|&b| b == b'+' || b == b';')
    })
}

/// The gRPC status code for a gateway answer of this HTTP status (gRPC's "HTTP to gRPC status
/// code mapping"; a `504` is `DEADLINE_EXCEEDED`, our choice, since the gateway knows it timed
/// out).
pub fn code_for(status: StatusCode) -> u32 {
    match status.as_u16() {
        400 => 13,             // INTERNAL
        401 => 16,             // UNAUTHENTICATED
        403 => 7,              // PERMISSION_DENIED
        404 | 405 => 12,       // UNIMPLEMENTED
        504 => 4,              // DEADLINE_EXCEEDED
        429 | 502 | 503 => 14, // UNAVAILABLE
        _ => 2,                // UNKNOWN
    }
}

/// `grpc-message`: percent-encoded as the gRPC HTTP/2 protocol says (bytes outside
/// printable ASCII, and `%`).
pub fn encode_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for b in message.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A gateway-made response as gRPC; any other response as it is.
pub fn status_of_gateway_response(response: Response<Body>) -> Response<Body> {
    let Some(made) = response.extensions().get::<GatewayMade>() else {
        return response;
    };
    let code = code_for(response.status());
    let message = encode_message(&made.message);
    let mut r = Response::new(full(Bytes::new()));
    let headers = r.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-status", HeaderValue::from(code));
    if let Ok(v) = HeaderValue::from_str(&message) {
        headers.insert("grpc-message", v);
    }
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::http::respond::Failure;

    #[test]
    fn grpc_requests_are_recognised_by_content_type() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(v).unwrap());
            is_grpc(&h)
        };
        assert!(with("application/grpc"));
        assert!(with("application/grpc+proto"));
        assert!(with("Application/GRPC"));
        assert!(!with("application/grpcx"));
        assert!(!with("application/json"));
        assert!(!is_grpc(&HeaderMap::new()));
    }

    #[test]
    fn gateway_failures_become_grpc_statuses() {
        let r = status_of_gateway_response(
            Failure::Unauthorized("a bearer token is required".into()).response(),
        );
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["grpc-status"], "16");
        assert_eq!(r.headers()["grpc-message"], "a bearer token is required");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/grpc");
        let down = status_of_gateway_response(
            Failure::BadGateway {
                app: "a".into(),
                detail: "down".into(),
            }
            .response(),
        );
        assert_eq!(down.headers()["grpc-status"], "14");
        assert_eq!(encode_message("100% é"), "100%25 %C3%A9");
        // A backend's own response is not touched.
        let plain = Response::new(full(Bytes::new()));
        assert!(status_of_gateway_response(plain)
            .headers()
            .get("grpc-status")
            .is_none());
    }
}
