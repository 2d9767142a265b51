//! Sets of verification keys: a JWK Set (RFC 7517 §5) or keys the caller gathered.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::error::{Error, Part};
use crate::key::{Key, KeyKind};

/// The most members a JWK Set may have by default. Real sets have a handful (two or three
/// during a rotation); the cap bounds the work a hostile or broken set can cause (our choice).
pub const MAX_KEYS: usize = 1000;

/// Keys a verifier may use; `kid` only selects among them.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    pub fn new(keys: Vec<Key>) -> KeySet {
        KeySet { keys }
    }

    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Parses a JWK Set document. The whole set is refused when two keys share a `kid` or when
    /// public keys are mixed with secret or private ones (both make key choice ambiguous), and
    /// when it has more than [`MAX_KEYS`] members. Individual keys that Signet cannot use for
    /// signatures (an encryption key, an unknown `kty`) are skipped, as RFC 7517 §5 asks, and
    /// reported in `skipped`. Time is linear in the size of the document.
    pub fn from_jwks_json(bytes: &[u8]) -> Result<(KeySet, Vec<String>), Error> {
        KeySet::from_jwks_json_with_limit(bytes, MAX_KEYS)
    }

    /// [`KeySet::from_jwks_json`] with another limit on the number of members.
    pub fn from_jwks_json_with_limit(
        bytes: &[u8],
        max_keys: usize,
    ) -> Result<(KeySet, Vec<String>), Error> {
        let doc = crate::json::parse_object(bytes, Part::Payload)
            .map_err(|e| Error::Key(format!("JWK Set: {e}")))?;
        KeySet::from_jwks_with_limit(&doc, max_keys)
    }

    /// [`KeySet::from_jwks_json`] for a parsed document.
    pub fn from_jwks(doc: &Map<String, Value>) -> Result<(KeySet, Vec<String>), Error> {
        KeySet::from_jwks_with_limit(doc, MAX_KEYS)
    }

    /// [`KeySet::from_jwks`] with another limit on the number of members.
    pub fn from_jwks_with_limit(
        doc: &Map<String, Value>,
        max_keys: usize,
    ) -> Result<(KeySet, Vec<String>), Error> {
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::Key("JWK Set has no \"keys\" array".into()))?;
        if keys.len() > max_keys {
            return Err(Error::TooManyKeys {
                found: keys.len(),
                max: max_keys,
            });
        }
        let mut kids: HashSet<&str> = HashSet::with_capacity(keys.len());
        let mut secret = 0usize;
        let mut public = 0usize;
        for k in keys {
            let obj = k
                .as_object()
                .ok_or_else(|| Error::Key("JWK Set member is not an object".into()))?;
            if let Some(kid) = obj.get("kid").and_then(Value::as_str) {
                if !kids.insert(kid) {
                    return Err(Error::DuplicateKid(kid.to_owned()));
                }
            }
            if obj.get("kty").and_then(Value::as_str) == Some("oct") || obj.contains_key("d") {
                secret += 1;
            } else {
                public += 1;
            }
        }
        if secret > 0 && public > 0 {
            return Err(Error::MixedKeySet);
        }
        let mut out = Vec::new();
        let mut skipped = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let Some(obj) = k.as_object() else { continue };
            match Key::from_jwk(obj) {
                Ok(key) => out.push(key),
                Err(e) => {
                    let kid = obj.get("kid").and_then(Value::as_str).unwrap_or("(no kid)");
                    skipped.push(format!("key {i} ({kid}): {e}"));
                }
            }
        }
        Ok((KeySet { keys: out }, skipped))
    }

    /// The public JWK Set document for these keys. Secret (HMAC) keys have no public form and
    /// are left out: a member without `kty` would make the document unreadable to others
    /// (found by the `jwks_parse` fuzz target).
    pub fn to_public_jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .filter(|k| k.kind() != KeyKind::Hmac)
            .map(|k| Value::Object(k.public_jwk()))
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

impl From<Key> for KeySet {
    fn from(key: Key) -> KeySet {
        KeySet { keys: vec![key] }
    }
}

impl From<Vec<Key>> for KeySet {
    fn from(keys: Vec<Key>) -> KeySet {
        KeySet { keys }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn a_published_set_leaves_secret_keys_out_and_reads_back() {
        // The `jwks_parse` fuzz target's first crash: an `oct` key was published as
        // `{kid, alg, use}`, a member without `kty` that the set's own parser skips.
        let doc = br#"{"keys": [{"kty": "oct", "kid": "018c0ae5-4d9b-471b-bfd6-eef314bc7037", "use": "sig", "alg": "HS256", "k": "hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg"}]}"#;
        let (set, skipped) = KeySet::from_jwks_json(doc).unwrap();
        assert!(skipped.is_empty());
        assert_eq!(set.keys().len(), 1);
        let ec = Key::generate(crate::Algorithm::ES256).unwrap();
        let mut keys = set.keys().to_vec();
        keys.push(ec.clone());
        let published = KeySet::new(keys).to_public_jwks();
        assert_eq!(published["keys"].as_array().unwrap().len(), 1);
        let (again, skipped) = KeySet::from_jwks_json(published.to_string().as_bytes()).unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(again.keys()[0].thumbprint(), ec.thumbprint());
        assert!(!again.keys()[0].can_sign());
    }
}
