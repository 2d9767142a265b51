//! What the gateway's end-to-end tests share: a test issuer, its tokens, the common part of a
//! gateway configuration, and reading a request head in a test backend.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::BufRead;

use serde_json::json;

/// The issuer of the tests' upstream tokens.
pub const IDP_ISSUER: &str = "https://idp.test";

/// A new ES256 issuer key, its public JWK Set written to `dir/idp-jwks.json`; the signer.
pub fn test_idp(dir: &super::TempDir) -> jose::Signer {
    let key = jose::Key::generate(jose::Algorithm::ES256).unwrap();
    dir.write(
        "idp-jwks.json",
        jose::KeySet::from(key.to_public().unwrap())
            .to_public_jwks()
            .to_string(),
    );
    jose::Signer::new(key, jose::Algorithm::ES256).unwrap()
}

/// An upstream access token for `uid` (audience `gateway`, five minutes).
pub fn upstream_token(idp: &jose::Signer, uid: &str) -> String {
    let now = jose::time::now();
    idp.sign_claims(&json!({
        "iss": IDP_ISSUER, "aud": "gateway", "iat": now, "exp": now + 300, "uid": uid
    }))
    .unwrap()
}

/// `[auth_token]`, `[api_session]` (keys at `jwks`) and the identity mapping `id`
/// (`X-Identity-JWT`, audience `backend`, `uid` as `sub`): what every test configuration shares.
pub fn common_config(jwks: &str) -> String {
    format!(
        r#"
[auth_token]
issuer = "signet-gateway"
keyset_file = "gateway-keys.json"
[api_session]
issuer = "{IDP_ISSUER}"
jwks = "{jwks}"
audience = "gateway"
[[identity_mapping]]
name = "id"
header_name = "X-Identity-JWT"
audience = "backend"
attribute_mappings = [{{ user_attribute_name = "uid", jwt_claim_name = "uid", subject = true }}]
"#
    )
}

/// Starts `signet gateway --config CONFIG` with its h2c listener on a free port; the gateway and
/// the `host:port` it listens on.
pub fn start_h2c(config: &str) -> (super::Child, String) {
    let (child, base) = super::spawn_server(
        &["gateway", "--config", config, "--listen-h2c", "127.0.0.1:0"],
        "signet gateway listening on ",
    );
    let addr = base.trim_start_matches("h2c://").to_owned();
    (child, addr)
}

/// Reads a request line and its header fields (names in lower case); `None` at the end of the
/// connection.
pub fn read_head(reader: &mut impl BufRead) -> Option<(String, Vec<(String, String)>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut fields = Vec::new();
    loop {
        let mut l = String::new();
        if reader.read_line(&mut l).ok()? == 0 {
            return None;
        }
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':')?;
        fields.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    Some((line.trim_end().to_owned(), fields))
}

/// What a recording backend saw: each request's line and header fields (names in lower case).
pub type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<(String, String)>)>>>;

/// A backend that records every request ([`Seen`]) and answers `200 ok`; returns `http://ADDR`.
pub fn recording_backend() -> (String, Seen) {
    use std::io::Write;
    let seen: Seen = Default::default();
    let record = seen.clone();
    let url = super::serve_connections(move |stream| {
        let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
        let mut out = stream;
        while let Some(head) = read_head(&mut reader) {
            record.lock().unwrap().push(head);
            if out
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .is_err()
            {
                return;
            }
        }
    });
    (url, seen)
}

/// The value of header field `name` (lower case) in a recorded request.
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}
