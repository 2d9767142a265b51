//! Sealed cookie values: AES-256-GCM (aws-lc-rs) with the cookie's name as associated data, so a
//! value sealed for one cookie never opens as another.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::web::WebError;

/// `len` random bytes, base64url.
pub fn random_token(len: usize) -> Result<String, WebError> {
    let mut bytes = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| WebError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// An AES-256-GCM key for cookies.
pub struct SealKey(LessSafeKey);

impl SealKey {
    fn from_bytes(bytes: &[u8]) -> Result<SealKey, WebError> {
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| WebError::Random)?;
        Ok(SealKey(LessSafeKey::new(key)))
    }

    /// A fresh random key (sessions end when the gateway restarts).
    pub fn random() -> Result<SealKey, WebError> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| WebError::Random)?;
        SealKey::from_bytes(&bytes)
    }

    /// The key derived from a configured secret (shared by replicas).
    pub fn derive(secret: &str) -> Result<SealKey, WebError> {
        let digest = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            format!("signet gateway web session v1\0{secret}").as_bytes(),
        );
        SealKey::from_bytes(digest.as_ref())
    }

    /// `base64url(nonce ‖ ciphertext ‖ tag)`; `purpose` (the cookie's name) is the associated
    /// data, so a login cookie never opens as a session and vice versa.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<String, WebError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| WebError::Random)?;
        let mut data = plaintext.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_bytes()),
                &mut data,
            )
            .map_err(|_| WebError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// The plaintext, or None when the value was not sealed by this key for this purpose.
    pub fn open(&self, purpose: &str, sealed: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed.trim()).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = rest.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut data)
            .ok()?;
        Some(plain.to_vec())
    }
}

/// Seals a JSON value.
pub fn seal_json<T: Serialize>(
    key: &SealKey,
    purpose: &str,
    value: &T,
) -> Result<String, WebError> {
    let json = serde_json::to_vec(value).map_err(|e| WebError::Call {
        endpoint: "cookie",
        message: e.to_string(),
    })?;
    key.seal(purpose, &json)
}

/// Opens a sealed JSON value.
pub fn open_json<T: for<'de> Deserialize<'de>>(
    key: &SealKey,
    purpose: &str,
    sealed: &str,
) -> Option<T> {
    serde_json::from_slice(&key.open(purpose, sealed)?).ok()
}

/// Constant-time comparison of two strings.
pub fn same(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn sealed_cookies_open_only_with_the_key_and_purpose() {
        let key = SealKey::random().unwrap();
        let sealed = key.seal("sid", b"hello").unwrap();
        assert_eq!(key.open("sid", &sealed).unwrap(), b"hello");
        assert!(key.open("sid_login", &sealed).is_none(), "purpose is bound");
        assert!(SealKey::random().unwrap().open("sid", &sealed).is_none());
        // Every flipped byte is detected.
        let mut raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        for i in 0..raw.len() {
            raw[i] ^= 1;
            assert!(key.open("sid", &URL_SAFE_NO_PAD.encode(&raw)).is_none());
            raw[i] ^= 1;
        }
        assert!(key.open("sid", "").is_none());
        assert!(key.open("sid", "not base64 !").is_none());
        // A derived key is stable.
        let a = SealKey::derive("s3cret").unwrap();
        let sealed = a.seal("sid", b"x").unwrap();
        assert_eq!(
            SealKey::derive("s3cret")
                .unwrap()
                .open("sid", &sealed)
                .unwrap(),
            b"x"
        );
        assert!(SealKey::derive("other")
            .unwrap()
            .open("sid", &sealed)
            .is_none());
    }
}
