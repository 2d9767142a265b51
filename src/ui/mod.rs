//! `signet ui`: the browser tools (JWT decoder, login_hint_token generator, request-object
//! builder), served from pages embedded in the binary, so secrets never leave the machine.
//! `signet authz` serves the same routes at `/`.
//!
//! The pages call a small JSON API (`/api/*`, see [`api`]) that runs the CLI's own code. The
//! API answers only same-origin requests: `Content-Type: application/json` (so another site's
//! page cannot send one without a CORS preflight, which is never granted), a matching `Origin`
//! when there is one, and a `Host` that is an IP address or `localhost` (so a DNS-rebinding
//! name cannot reach it).

pub mod api;
pub mod command;

use std::net::SocketAddr;

use anyhow::anyhow;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Args;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::exit::{usage, Outcome};
use api::Problem;

/// Where `signet ui` listens unless told otherwise.
const DEFAULT_LISTEN: &str = "127.0.0.1:9030";
/// Largest API request body.
const MAX_BODY: usize = 256 * 1024;

#[derive(Args, Debug)]
pub struct UiArgs {
    /// Address to listen on, e.g. 127.0.0.1:9030 or 127.0.0.1:0 for any free port
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: String,
}

/// A page: its path, title, script and `<main>` (web/pages/), set in web/layout.html.
struct Page {
    path: &'static str,
    title: &'static str,
    script: Option<&'static str>,
    main: &'static str,
}

const PAGES: [Page; 4] = [
    Page {
        path: "/",
        title: "Signet tools",
        script: None,
        main: include_str!("../../web/pages/index.html"),
    },
    Page {
        path: "/decoder",
        title: "JWT decoder · Signet tools",
        script: Some("decoder.js"),
        main: include_str!("../../web/pages/decoder.html"),
    },
    Page {
        path: "/login-hint",
        title: "Login hint token generator · Signet tools",
        script: Some("login-hint.js"),
        main: include_str!("../../web/pages/login-hint.html"),
    },
    Page {
        path: "/request-object",
        title: "Request object builder · Signet tools",
        script: Some("request-object.js"),
        main: include_str!("../../web/pages/request-object.html"),
    },
];

const LAYOUT: &str = include_str!("../../web/layout.html");

/// Pieces the generator pages share: the environment id and region fields, the client
/// secret field, and the token, claims and command-line block.
const FRAGMENTS: [(&str, &str); 3] = [
    (
        "{{environment}}",
        include_str!("../../web/fields/environment.html"),
    ),
    ("{{secret}}", include_str!("../../web/fields/secret.html")),
    ("{{made}}", include_str!("../../web/made.html")),
];

/// A page in the layout: title, scripts, the current page marked in the navigation.
fn render(page: &Page) -> String {
    let scripts = page
        .script
        .map(|s| {
            format!(
                "<script src=\"/assets/common.js\" defer></script>\n<script src=\"/assets/{s}\" defer></script>\n"
            )
        })
        .unwrap_or_default();
    let link = format!("<li><a href=\"{}\">", page.path);
    let current = format!("<li><a href=\"{}\" aria-current=\"page\">", page.path);
    let main = FRAGMENTS
        .iter()
        .fold(page.main.to_owned(), |main, (slot, piece)| {
            main.replace(slot, piece)
        });
    LAYOUT
        .replace("{{title}}", page.title)
        .replace("{{scripts}}", &scripts)
        .replace(&link, &current)
        .replace("{{main}}", &main)
}

const JS: &str = "text/javascript; charset=utf-8";

/// The files the pages load: path, content type, body.
const ASSETS: [(&str, &str, &str); 5] = [
    (
        "/assets/style.css",
        "text/css; charset=utf-8",
        include_str!("../../web/style.css"),
    ),
    ("/assets/common.js", JS, include_str!("../../web/common.js")),
    (
        "/assets/decoder.js",
        JS,
        include_str!("../../web/decoder.js"),
    ),
    (
        "/assets/login-hint.js",
        JS,
        include_str!("../../web/login-hint.js"),
    ),
    (
        "/assets/request-object.js",
        JS,
        include_str!("../../web/request-object.js"),
    ),
];

/// Headers on every answer: nothing is loaded from elsewhere, nothing is framed, no referrer
/// leaks, nothing is cached (answers carry tokens).
const SECURITY_HEADERS: [(&str, &str); 6] = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("cross-origin-resource-policy", "same-origin"),
];

/// The routes: the pages, their assets and the JSON API. No fallback, so `signet authz` can
/// merge them beside its own.
pub fn router() -> Router {
    let mut r = Router::new();
    for page in &PAGES {
        let html = Html(render(page));
        r = r.route(page.path, get(move || async move { html }));
    }
    for (path, content_type, body) in ASSETS {
        r = r.route(
            path,
            get(move || async move { ([(header::CONTENT_TYPE, content_type)], body) }),
        );
    }
    r.route("/api/decode", post(decode))
        .route("/api/verify", post(verify))
        .route("/api/login-hint", post(login_hint))
        .route("/api/request-object", post(request_object))
        .layer(middleware::from_fn(guard))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// The host part of a `Host` header value (without the port).
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// Whether an API request may be served: see the module documentation.
pub fn api_allowed(
    host: Option<&str>,
    origin: Option<&str>,
    content_type: Option<&str>,
) -> Result<(), Problem> {
    let refuse = |status: u16, message: String| Problem {
        status,
        field: None,
        message,
    };
    let host = host.unwrap_or_default();
    let name = host_name(host);
    if !(name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()) {
        return Err(refuse(
            403,
            format!("Host \"{host}\" refused: open the tools by IP address or localhost (DNS-rebinding protection)"),
        ));
    }
    if let Some(origin) = origin {
        let same = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|o| o == host);
        if !same {
            return Err(refuse(
                403,
                format!("Origin \"{origin}\" refused: the API answers only its own pages"),
            ));
        }
    }
    let json = content_type
        .and_then(|c| c.split(';').next())
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(refuse(
            415,
            "send the request as Content-Type: application/json".to_owned(),
        ));
    }
    Ok(())
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Refuses cross-site API calls and adds the security headers to every answer.
async fn guard(req: Request, next: Next) -> Response {
    let mut resp = if req.uri().path().starts_with("/api/") {
        let h = req.headers();
        match api_allowed(
            header_str(h, header::HOST),
            header_str(h, header::ORIGIN),
            header_str(h, header::CONTENT_TYPE),
        ) {
            Ok(()) => next.run(req).await,
            Err(p) => problem_response(&p),
        }
    } else {
        next.run(req).await
    };
    for (name, value) in SECURITY_HEADERS {
        resp.headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    resp
}

fn problem_response(p: &Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(p.body())).into_response()
}

fn answer(result: Result<Value, Problem>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(p) => problem_response(&p),
    }
}

/// Parses a request body; a body that does not fit the form is a problem, never a panic.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(body).map_err(|e| Problem {
        status: 400,
        field: None,
        message: format!("the request body does not fit this form: {e}"),
    })
}

async fn decode(body: Bytes) -> Response {
    answer(parse(&body).and_then(|r| api::decode(&r, crate::clock::now())))
}

async fn verify(body: Bytes) -> Response {
    let req: api::VerifyRequest = match parse(&body) {
        Ok(r) => r,
        Err(p) => return problem_response(&p),
    };
    // Fetching a JWK Set URL blocks; keep it off the async workers.
    let result = tokio::task::spawn_blocking(move || {
        api::verification_keys(&req).and_then(|keys| api::verify(&req, keys, crate::clock::now()))
    })
    .await
    .unwrap_or_else(|e| {
        Err(Problem {
            status: 500,
            field: None,
            message: format!("verification stopped: {e}"),
        })
    });
    answer(result)
}

async fn login_hint(body: Bytes) -> Response {
    answer(parse(&body).and_then(|r| api::login_hint(&r, crate::clock::now())))
}

async fn request_object(body: Bytes) -> Response {
    answer(parse(&body).and_then(|r| api::request_object(&r, crate::clock::now())))
}

pub fn run(a: &UiArgs) -> Outcome {
    let listen: SocketAddr = match a.listen.trim().parse() {
        Ok(addr) => addr,
        Err(_) => usage!(
            "--listen {:?}: not an address and port such as 127.0.0.1:9030",
            a.listen
        ),
    };
    crate::serve::runtime()?.block_on(async move {
        let (listener, addr) = crate::serve::bind(listen).await?;
        if !addr.ip().is_loopback() {
            eprintln!("signet: warning: --listen {addr}: the tools take client secrets; anyone who can reach this address can use them (prefer 127.0.0.1)");
        }
        let shutdown = crate::serve::shutdown()?;
        crate::serve::announce(&format!("signet ui listening on http://{addr}/"))?;
        let app = router().fallback(|| async {
            problem_response(&Problem {
                status: 404,
                field: None,
                message: "no such page; the tools are at /decoder, /login-hint and /request-object"
                    .to_owned(),
            })
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| anyhow!("the server stopped: {e}").into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_answers_only_its_own_pages() {
        let json = Some("application/json");
        assert!(api_allowed(Some("127.0.0.1:9030"), None, json).is_ok());
        assert!(api_allowed(Some("localhost:9030"), Some("http://localhost:9030"), json).is_ok());
        assert!(api_allowed(Some("[::1]:9030"), Some("http://[::1]:9030"), json).is_ok());
        assert!(api_allowed(
            Some("127.0.0.1:9030"),
            None,
            Some("Application/JSON; charset=utf-8")
        )
        .is_ok());
        let refused = |host, origin, ct| api_allowed(host, origin, ct).map_err(|p| p.status);
        assert_eq!(refused(Some("evil.example:9030"), None, json), Err(403));
        assert_eq!(refused(None, None, json), Err(403));
        assert_eq!(
            refused(Some("127.0.0.1:9030"), Some("http://evil.example"), json),
            Err(403)
        );
        assert_eq!(
            refused(Some("127.0.0.1:9030"), Some("null"), json),
            Err(403)
        );
        assert_eq!(
            refused(Some("127.0.0.1:9030"), None, Some("text/plain")),
            Err(415)
        );
        assert_eq!(refused(Some("127.0.0.1:9030"), None, None), Err(415));
    }

    #[test]
    fn every_page_is_complete_and_loads_nothing_from_elsewhere() {
        for page in &PAGES {
            let html = render(page);
            assert!(!html.contains("{{"), "{}: a placeholder is left", page.path);
            assert!(
                html.contains("<main id=\"main\">"),
                "{} has no <main>",
                page.path
            );
            assert_eq!(
                html.matches("aria-current=\"page\"").count(),
                usize::from(page.path != "/"),
                "{}",
                page.path
            );
            for remote in [
                "src=\"http",
                "href=\"http",
                "url(http",
                "src=\"//",
                "href=\"//",
            ] {
                assert!(!html.contains(remote), "{} loads {remote}…", page.path);
            }
            if let Some(script) = page.script {
                let path = format!("/assets/{script}");
                assert!(
                    ASSETS.iter().any(|(p, _, _)| *p == path),
                    "{path} is not served"
                );
            }
        }
        for page in PAGES
            .iter()
            .filter(|p| p.path.ends_with("-hint") || p.path.ends_with("-object"))
        {
            assert!(render(page).contains("id=\"made\""), "{}", page.path);
        }
        assert!(ASSETS.iter().all(|(_, _, body)| !body.is_empty()));
    }
}
