//! Applications' keys at their `jwks_url` (PingOne's `jwksUrl`): fetched before a request whose
//! request object or client assertion needs them, then installed in the environment, so the
//! validators (which are synchronous) find them as they find a configured `jwks`. A set is
//! fetched when the application has none yet, when it is older than [`MAX_AGE_MS`], or when a
//! token names a `kid` the set lacks (at most once per [`UNKNOWN_KID_RETRY_MS`]: a client rolling
//! its key is seen at once, one sending junk kids cannot make us fetch in a loop). The numbers
//! are our choice; PingOne does not document its own.

use std::time::Duration;

use jose::KeySet;
use serde_json::Value;

use super::{lock, EnvState, Shared};

/// A fetched set is used this long before it is fetched again.
pub(super) const MAX_AGE_MS: i64 = 300_000;
/// An unknown `kid` refetches the set, at most this often per application.
pub(super) const UNKNOWN_KID_RETRY_MS: i64 = 1_000;
/// A JWK Set document larger than this is refused.
const MAX_DOCUMENT: usize = 1024 * 1024;

/// When and from where an application's set was last fetched.
pub(super) struct Fetched {
    url: String,
    at_ms: i64,
}

/// What a token asks for: which application (`client_id` or an assertion's `iss`) and `kid`.
fn peek(token: &str) -> (Option<String>, Option<String>) {
    let Ok(decoded) = jose::jws::decode(token) else {
        return (None, None);
    };
    let kid = decoded
        .header
        .get("kid")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let iss = serde_json::from_slice::<serde_json::Map<String, Value>>(&decoded.payload)
        .ok()
        .and_then(|c| c.get("iss").and_then(Value::as_str).map(str::to_owned));
    (iss, kid)
}

/// The applications and `kid`s the parameters' tokens need: a `client_assertion` (its `iss`)
/// and a `request` object (the `client_id` parameter, or the object's `iss`).
fn wanted(pairs: &[(String, String)]) -> Vec<(String, Option<String>)> {
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let mut out = Vec::new();
    if let Some(a) = get("client_assertion") {
        if let (Some(iss), kid) = peek(a) {
            out.push((iss, kid));
        }
    }
    if let Some(r) = get("request") {
        let (iss, kid) = peek(r);
        if let Some(client) = get("client_id").cloned().or(iss) {
            out.push((client, kid));
        }
    }
    out
}

/// Whether an application's set must be fetched now.
pub(super) fn stale(
    has_keys: bool,
    knows_kid: bool,
    url: &str,
    last: Option<&Fetched>,
    now_ms: i64,
) -> bool {
    let Some(last) = last else { return true };
    let age = now_ms.saturating_sub(last.at_ms);
    !has_keys || last.url != url || age >= MAX_AGE_MS || (!knows_kid && age >= UNKNOWN_KID_RETRY_MS)
}

/// Fetches the sets the request's tokens need. An error is returned only when an application
/// has no keys at all and its `jwks_url` cannot be fetched (with keys, a failed refetch keeps
/// the ones it has).
pub(super) async fn prepare(
    s: &Shared,
    st: &EnvState,
    pairs: &[(String, String)],
) -> Result<(), String> {
    for (client_id, kid) in wanted(pairs) {
        let env = st.env();
        let Some(client) = env.client(&client_id) else {
            continue;
        };
        let Some(url) = client.jwks_url.clone() else {
            continue;
        };
        let keys = &client.app.keys;
        let has_keys = !keys.is_empty();
        let knows_kid = kid
            .as_deref()
            .is_none_or(|k| keys.keys().iter().any(|key| key.kid() == Some(k)));
        let now = s.now_ms();
        if !stale(
            has_keys,
            knows_kid,
            &url,
            lock(&st.remote_keys).get(&client_id),
            now,
        ) {
            continue;
        }
        lock(&st.remote_keys).insert(
            client_id.clone(),
            Fetched {
                url: url.clone(),
                at_ms: now,
            },
        );
        match fetch(&url).await {
            Ok(set) => st.install_keys(&client_id, set),
            Err(e) if !has_keys => {
                return Err(format!(
                    "application \"{client_id}\": its jwks_url {url} could not be used: {e}"
                ))
            }
            Err(_) => {}
        }
    }
    Ok(())
}

/// The public keys of the JWK Set document at `url`.
async fn fetch(url: &str) -> Result<KeySet, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let mut r = http.get(url).send().await.map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("HTTP status {}", r.status().as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = r.chunk().await.map_err(|e| e.to_string())? {
        if body.len().saturating_add(chunk.len()) > MAX_DOCUMENT {
            return Err(format!("the document is larger than {MAX_DOCUMENT} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    let (keys, _skipped) = KeySet::from_jwks_json(&body).map_err(|e| e.to_string())?;
    if keys.keys().iter().any(|k| k.can_sign()) {
        return Err("the set holds private keys; publish only public keys".into());
    }
    if keys.keys().is_empty() {
        return Err("the set has no usable key".into());
    }
    Ok(keys)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Fetched {
        Fetched {
            url: "https://app/jwks".into(),
            at_ms: ms,
        }
    }

    #[test]
    fn when_a_set_is_fetched_again() {
        let url = "https://app/jwks";
        assert!(stale(false, false, url, None, 0), "never fetched");
        assert!(!stale(true, true, url, Some(&at(0)), MAX_AGE_MS - 1));
        assert!(stale(true, true, url, Some(&at(0)), MAX_AGE_MS), "too old");
        assert!(stale(true, true, "https://other/jwks", Some(&at(0)), 1));
        // An unknown kid: again, but not more than once per retry interval.
        assert!(!stale(
            true,
            false,
            url,
            Some(&at(0)),
            UNKNOWN_KID_RETRY_MS - 1
        ));
        assert!(stale(true, false, url, Some(&at(0)), UNKNOWN_KID_RETRY_MS));
        // No keys (a failed first fetch, or the control API replaced the application).
        assert!(stale(false, true, url, Some(&at(0)), 1));
    }

    #[test]
    fn the_tokens_name_their_application() {
        let hs = jose::jws::Signer::new(
            jose::Key::hmac(vec![7; 32]).unwrap().with_kid("k1"),
            jose::Algorithm::HS256,
        )
        .unwrap();
        let token = hs
            .sign_claims(&serde_json::json!({"iss": "app-x"}))
            .unwrap();
        let pairs = vec![
            ("client_assertion".to_owned(), token.clone()),
            ("request".to_owned(), token),
            ("client_id".to_owned(), "app-y".to_owned()),
        ];
        assert_eq!(
            wanted(&pairs),
            vec![
                ("app-x".to_owned(), Some("k1".to_owned())),
                ("app-y".to_owned(), Some("k1".to_owned()))
            ]
        );
        assert!(wanted(&[("client_assertion".into(), "junk".into())]).is_empty());
    }
}
