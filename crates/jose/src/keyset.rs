//! Sets of verification keys: a JWK Set (RFC 7517 §5) or keys the caller gathered.

use serde_json::{Map, Value};

use crate::error::{Error, Part};
use crate::key::Key;

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
    /// public keys are mixed with secret or private ones (both make key choice ambiguous).
    /// Individual keys that Signet cannot use for signatures (an encryption key, an unknown
    /// `kty`) are skipped, as RFC 7517 §5 asks, and reported in `skipped`.
    pub fn from_jwks_json(bytes: &[u8]) -> Result<(KeySet, Vec<String>), Error> {
        let doc = crate::json::parse_object(bytes, Part::Payload)
            .map_err(|e| Error::Key(format!("JWK Set: {e}")))?;
        KeySet::from_jwks(&doc)
    }

    pub fn from_jwks(doc: &Map<String, Value>) -> Result<(KeySet, Vec<String>), Error> {
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::Key("JWK Set has no \"keys\" array".into()))?;
        let mut kids: Vec<&str> = Vec::new();
        let mut secret = 0usize;
        let mut public = 0usize;
        for k in keys {
            let obj = k
                .as_object()
                .ok_or_else(|| Error::Key("JWK Set member is not an object".into()))?;
            if let Some(kid) = obj.get("kid").and_then(Value::as_str) {
                if kids.contains(&kid) {
                    return Err(Error::DuplicateKid(kid.to_owned()));
                }
                kids.push(kid);
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

    /// The public JWK Set document for these keys.
    pub fn to_public_jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
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
