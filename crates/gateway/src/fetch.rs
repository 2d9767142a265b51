//! The gateway's one HTTP client for its providers (http and https, rustls with the system's
//! roots): OIDC discovery, JWK Sets, and the web login's token and userinfo calls. Bodies are
//! limited to 1 MiB and every call to 10 s.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header;
use hyper::{Method, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Map, Value};

/// The client type.
pub type HttpClient =
    hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Answers larger than this are refused.
pub const MAX_BODY: usize = 1024 * 1024;
/// A call gives up after this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("GET {url}: only http:// and https:// URLs are fetched")]
    NotHttp { url: String },
    #[error("GET {url}: {message}")]
    Failed { url: String, message: String },
    #[error("GET {url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: {message}")]
    Document { url: String, message: String },
}

/// A new client. Fails only when the system has no trust roots.
pub fn http_client() -> std::io::Result<HttpClient> {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(TIMEOUT));
    connector.set_nodelay(true);
    connector.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(connector);
    Ok(
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https),
    )
}

/// The body of `GET url` (a 2xx answer of at most [`MAX_BODY`] bytes).
pub async fn get(client: &HttpClient, url: &str) -> Result<Bytes, FetchError> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(FetchError::NotHttp { url: url.into() });
    }
    let failed = |message: String| FetchError::Failed {
        url: url.into(),
        message,
    };
    let req = Request::builder()
        .method(Method::GET)
        .uri(url)
        .header(header::ACCEPT, "application/json")
        .header(
            header::USER_AGENT,
            concat!("signet-gateway/", env!("CARGO_PKG_VERSION")),
        )
        .body(Full::new(Bytes::new()))
        .map_err(|e| failed(e.to_string()))?;
    let response = tokio::time::timeout(TIMEOUT, client.request(req))
        .await
        .map_err(|_| failed(format!("no answer within {} s", TIMEOUT.as_secs())))?
        .map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status {
            url: url.into(),
            status: status.as_u16(),
        });
    }
    let body = tokio::time::timeout(
        TIMEOUT,
        Limited::new(response.into_body(), MAX_BODY).collect(),
    )
    .await
    .map_err(|_| failed("the body did not arrive in time".into()))?
    .map_err(|e| failed(format!("reading the body: {e}")))?;
    Ok(body.to_bytes())
}

/// A JWK Set from an http(s) URL (see [`parse_jwks`]).
pub async fn jwks(client: &HttpClient, url: &str) -> Result<jose::KeySet, FetchError> {
    let body = get(client, url).await?;
    parse_jwks(&body, url)
}

/// A JWK Set document that must hold at least one usable key. Keys it cannot use are skipped
/// and said on standard error.
pub fn parse_jwks(bytes: &[u8], source: &str) -> Result<jose::KeySet, FetchError> {
    let document = |message: String| FetchError::Document {
        url: source.into(),
        message,
    };
    let (keys, skipped) =
        jose::KeySet::from_jwks_json(bytes).map_err(|e| document(e.to_string()))?;
    for s in &skipped {
        eprintln!("signet gateway: note: {source}: skipped {s}");
    }
    if keys.is_empty() {
        let why = if skipped.is_empty() {
            String::new()
        } else {
            format!(" ({})", skipped.join("; "))
        };
        return Err(document(format!(
            "the JWK Set has no key the gateway can use for signatures{why}"
        )));
    }
    Ok(keys)
}

/// The issuer's OIDC discovery document (`{issuer}/.well-known/openid-configuration`).
pub async fn discovery(
    client: &HttpClient,
    issuer: &str,
) -> Result<Map<String, Value>, FetchError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let body = get(client, &url).await?;
    jose::json::parse_object(&body, jose::Part::Payload).map_err(|e| FetchError::Document {
        url,
        message: format!("not a JSON object: {e}"),
    })
}
