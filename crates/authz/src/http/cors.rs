//! CORS for the Flows API and the `/as` endpoints, so that a sign-on page on another origin (a
//! PingOne custom sign-on page) can drive a flow from the browser: per environment, the origins
//! of `cors_origins`. A preflight from an allowed origin gets `204` with the methods and headers;
//! from another origin, `403` with PingOne's envelope (our choice; a browser would block it
//! anyway). An allowed origin's requests get `Access-Control-Allow-Origin` (and
//! `-Allow-Credentials: true`, since flows are followed with cookies; not for `*`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Shared;
use crate::error::ApiError;

/// What CORS allows for a request's origin on its path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Allowed {
    /// Not a CORS-enabled path, or no `Origin`.
    NotApplicable,
    Origin(String),
    Any,
    Refused,
}

fn allowed(shared: &Shared, path: &str, origin: Option<&str>) -> Allowed {
    let mut parts = path.trim_start_matches('/').split('/');
    let (Some(env), Some(area)) = (parts.next(), parts.next()) else {
        return Allowed::NotApplicable;
    };
    let (Some(origin), true) = (origin, area == "flows" || area == "as") else {
        return Allowed::NotApplicable;
    };
    let Some(st) = shared.envs.get(env) else {
        return Allowed::NotApplicable;
    };
    let env = st.env();
    if env.cors_origins.iter().any(|o| o == origin) {
        Allowed::Origin(origin.to_owned())
    } else if env.cors_origins.iter().any(|o| o == "*") {
        Allowed::Any
    } else {
        Allowed::Refused
    }
}

fn set(r: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

fn allow_origin(r: &mut Response, a: &Allowed) {
    match a {
        Allowed::Origin(o) => {
            set(r, header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
            set(r, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
        }
        Allowed::Any => set(r, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        _ => {}
    }
    if *a != Allowed::NotApplicable {
        r.headers_mut()
            .append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// The requested headers, when every one is an HTTP token; otherwise the usual ones.
fn allowed_headers(requested: Option<&str>) -> String {
    match requested {
        Some(list)
            if !list.trim().is_empty()
                && list.split(',').all(|h| {
                    let h = h.trim();
                    !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                }) =>
        {
            list.to_owned()
        }
        _ => "Content-Type, Authorization".to_owned(),
    }
}

/// What the middleware needs from a request: CORS's answer for its origin, whether it is a
/// preflight, the origin and the requested headers.
fn inspect(shared: &Shared, req: &Request) -> (Allowed, bool, String, Option<String>) {
    let text = |name| -> Option<String> {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let origin = text(header::ORIGIN);
    let a = allowed(shared, req.uri().path(), origin.as_deref());
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    (
        a,
        preflight,
        origin.unwrap_or_default(),
        text(header::ACCESS_CONTROL_REQUEST_HEADERS),
    )
}

pub(super) async fn cors(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let (a, preflight, origin, requested) = inspect(&shared, &req);
    if preflight && a != Allowed::NotApplicable {
        if a == Allowed::Refused {
            return ApiError::new(
                403,
                "ACCESS_FAILED",
                format!("origin {origin} may not call this environment (add it to cors_origins)"),
            )
            .into_response();
        }
        let mut r = axum::http::StatusCode::NO_CONTENT.into_response();
        allow_origin(&mut r, &a);
        set(
            &mut r,
            header::ACCESS_CONTROL_ALLOW_METHODS,
            "GET, POST, OPTIONS",
        );
        set(
            &mut r,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            &allowed_headers(requested.as_deref()),
        );
        set(&mut r, header::ACCESS_CONTROL_MAX_AGE, "600");
        r.headers_mut().append(
            header::VARY,
            HeaderValue::from_static("Access-Control-Request-Headers"),
        );
        return r;
    }
    let mut r = next.run(req).await;
    allow_origin(&mut r, &a);
    r
}

#[cfg(test)]
mod tests {
    use super::allowed_headers;

    #[test]
    fn requested_headers_are_echoed_only_when_they_are_tokens() {
        assert_eq!(
            allowed_headers(Some("content-type, x-flow")),
            "content-type, x-flow"
        );
        assert_eq!(
            allowed_headers(Some("bad header\r\nx: y")),
            "Content-Type, Authorization"
        );
        assert_eq!(allowed_headers(None), "Content-Type, Authorization");
    }
}
