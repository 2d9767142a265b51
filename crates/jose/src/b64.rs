//! Strict base64url (RFC 4648 §5) without padding, as JWS requires (RFC 7515 §2): no `=`, no
//! whitespace, no characters outside the URL-safe alphabet, and no stray bits in the last
//! character, so every byte string has exactly one accepted encoding.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

const STRICT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    STRICT.encode(bytes)
}

/// Appends the encoding to `out` without an intermediate allocation.
pub fn encode_into(bytes: impl AsRef<[u8]>, out: &mut String) {
    STRICT.encode_string(bytes, out)
}

/// Decodes, refusing anything but the one canonical unpadded encoding.
pub fn decode(text: impl AsRef<[u8]>) -> Result<Vec<u8>, String> {
    STRICT.decode(text).map_err(|e| match e {
        base64::DecodeError::InvalidByte(at, byte) => {
            format!("character {:?} at offset {at} is not in the base64url alphabet", byte as char)
        }
        base64::DecodeError::InvalidLength(_) => "length is not a valid base64 length".to_owned(),
        base64::DecodeError::InvalidLastSymbol(at, _) => {
            format!("last character (offset {at}) has non-zero unused bits; the encoding is not canonical")
        }
        base64::DecodeError::InvalidPadding => "padding '=' is not allowed".to_owned(),
    })
}

/// Decodes into `out` (cleared first); the hot verify path reuses buffers this way.
pub fn decode_into(text: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    out.clear();
    // On failure, re-run the allocating path for its precise message; failures are rare.
    STRICT
        .decode_vec(text, out)
        .map_err(|_| decode(text).err().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for n in 0..70u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(decode(encode(&bytes)).ok(), Some(bytes));
        }
    }

    #[test]
    fn refuses_padding_whitespace_std_alphabet_and_stray_bits() {
        assert!(decode("Zm9v").is_ok());
        assert!(decode("Zg==").is_err(), "padding");
        assert!(decode("Zm9v ").is_err(), "whitespace");
        assert!(decode("a+b/").is_err(), "standard alphabet");
        assert!(
            decode("Zh").is_err(),
            "stray bits: 'Zh' and 'Zg' would both decode to \"f\""
        );
        assert!(decode("Z").is_err(), "impossible length");
        assert!(decode("Zm9v?").is_err());
    }
}
