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

/// Length of the unpadded encoding of `n` bytes.
pub(crate) fn encoded_len(n: usize) -> usize {
    n / 3 * 4 + [0, 2, 3].get(n % 3).copied().unwrap_or(0)
}

/// Appends the encoding to a byte buffer: the signer builds its output this way, with one UTF-8
/// check at the end instead of one per chunk.
pub(crate) fn encode_append(bytes: impl AsRef<[u8]>, out: &mut Vec<u8>) {
    let bytes = bytes.as_ref();
    let start = out.len();
    out.resize(start + encoded_len(bytes.len()), 0);
    let written = out
        .get_mut(start..)
        .and_then(|dst| STRICT.encode_slice(bytes, dst).ok())
        .unwrap_or(0);
    out.truncate(start + written);
}

/// Replaces `out[from..]` with its encoding, without another buffer: the signer serializes the
/// claims straight into its output and encodes them there.
pub(crate) fn encode_tail_in_place(out: &mut Vec<u8>, from: usize) {
    let raw_len = out.len().saturating_sub(from);
    let enc_len = encoded_len(raw_len);
    out.resize(from + raw_len + enc_len, 0);
    let written = out
        .get_mut(from..)
        .map(|tail| tail.split_at_mut(raw_len))
        .and_then(|(raw, dst)| STRICT.encode_slice(raw, dst).ok())
        .unwrap_or(0);
    out.copy_within(from + raw_len..from + raw_len + written, from);
    out.truncate(from + written);
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

/// Decodes into `buf` when the decoding surely fits, returning its length; `Ok(None)` when `buf` is
/// too small (the caller then uses [`decode`]). Same strictness and messages as [`decode`]: the
/// allocation-free form for the hot verify path.
pub(crate) fn decode_to_slice(text: &[u8], buf: &mut [u8]) -> Result<Option<usize>, String> {
    match STRICT.decode_slice(text, buf) {
        Ok(n) => Ok(Some(n)),
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => Ok(None),
        // Re-run the allocating path for its precise message; failures are rare.
        Err(base64::DecodeSliceError::DecodeError(_)) => {
            Err(decode(text).err().unwrap_or_default())
        }
    }
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

    #[test]
    fn appending_agrees_with_encode() {
        for n in 0..70u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            let mut out = b"x.".to_vec();
            encode_append(&bytes, &mut out);
            assert_eq!(out, format!("x.{}", encode(&bytes)).into_bytes());
            assert_eq!(encoded_len(bytes.len()), encode(&bytes).len());
            let mut in_place = b"x.".to_vec();
            in_place.extend_from_slice(&bytes);
            encode_tail_in_place(&mut in_place, 2);
            assert_eq!(in_place, out);
        }
    }

    #[test]
    fn slice_decoding_agrees_with_vec_decoding() {
        let mut buf = [0u8; 8];
        for text in [
            "",
            "Zm9v",
            "Zm9vYg",
            "Zg==",
            "Zh",
            "Z",
            "a+b/",
            "Zm9vYmFyYmF6cXV4",
        ] {
            let via_slice = decode_to_slice(text.as_bytes(), &mut buf);
            let agree = match (decode(text), via_slice) {
                (Ok(v), Ok(Some(n))) => buf.get(..n) == Some(&v[..]),
                (Ok(v), Ok(None)) => v.len() + 2 > buf.len(),
                (Err(a), Err(b)) => a == b,
                _ => false,
            };
            assert!(agree, "{text}");
        }
    }
}
