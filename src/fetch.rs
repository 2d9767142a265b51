//! Fetching verification keys over HTTP(S): a JWKS URL, or OIDC discovery from an issuer
//! (`{issuer}/.well-known/openid-configuration` → `jwks_uri`). Only ever on the user's
//! explicit request; never because a token names a URL.

use std::io::Read;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use jose::KeySet;

const MAX_BODY: u64 = 1024 * 1024;

fn get(url: &str) -> Result<Vec<u8>> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        bail!("{url}: only http:// and https:// URLs can be fetched");
    }
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("signet/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build the HTTP client")?;
    let resp = client
        .get(url)
        .send()
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    if !status.is_success() {
        bail!("GET {url}: HTTP {status}");
    }
    let mut body = Vec::new();
    resp.take(MAX_BODY + 1)
        .read_to_end(&mut body)
        .with_context(|| format!("GET {url}: reading the body"))?;
    if body.len() as u64 > MAX_BODY {
        bail!("GET {url}: response is larger than {MAX_BODY} bytes");
    }
    Ok(body)
}

/// A JWK Set from a file path or an http(s) URL.
pub fn jwks(spec: &str) -> Result<KeySet> {
    let bytes = if spec.starts_with("http://") || spec.starts_with("https://") {
        get(spec)?
    } else {
        crate::input::read_file(spec)?
    };
    crate::input::key_set(&bytes, spec)
}

/// A JWK Set from an http(s) URL only (never a file): for URLs that come from a document or a
/// web page rather than from the user's own command line.
pub fn jwks_url(url: &str) -> Result<KeySet> {
    crate::input::key_set(&get(url)?, url)
}

/// OIDC discovery: the issuer's JWK Set. The discovery document's `issuer` must equal the URL
/// given (OpenID Connect Discovery §4.3).
pub fn discover(issuer: &str) -> Result<KeySet> {
    let base = issuer.trim_end_matches('/');
    let url = format!("{base}/.well-known/openid-configuration");
    let doc = jose::json::parse_object(&get(&url)?, jose::Part::Payload)
        .map_err(|e| anyhow!("{url}: not a discovery document: {e}"))?;
    let found = doc
        .get("issuer")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    if found.trim_end_matches('/') != base {
        bail!("{url}: the discovery document names issuer \"{found}\", not \"{issuer}\"");
    }
    let jwks_uri = doc
        .get("jwks_uri")
        .and_then(|v| v.as_str())
        .ok_or_else(|| anyhow!("{url}: the discovery document has no jwks_uri"))?;
    // A document names this URL, so it is fetched, never read as a local file.
    jwks_url(jwks_uri)
}
