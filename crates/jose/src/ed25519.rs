//! Ed25519 public keys that must not be trusted: small-order points and non-canonical
//! encodings (RFC 8032 §5.1.3).
//!
//! An encoding is the y coordinate (255 bits, little-endian) and the sign of x in the top bit.
//! A point of small order (the identity, the point of order 2, the two of order 4 and the four
//! of order 8) makes `[S]B = R + [k]A` hold for a fixed signature whatever the message, and the
//! verifier in aws-lc-rs, like most, does not check for them. This is a comparison of the
//! encoding against the published list (as libsodium's `ge25519_has_small_order` does), not
//! cryptography. The list is checked against a real verifier in the tests below.

/// p = 2^255 - 19, little-endian.
const P: [u8; 32] = {
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

/// The y coordinates (little-endian, sign bit cleared) of the points of order 1, 2, 4 and 8.
const SMALL_ORDER_Y: [[u8; 32]; 5] = [
    // y = 0: the two points of order 4.
    [0; 32],
    // y = 1: the identity (order 1).
    {
        let mut y = [0; 32];
        y[0] = 1;
        y
    },
    // y = p - 1: the point of order 2.
    {
        let mut y = P;
        y[0] = 0xec;
        y
    },
    // y = 2707385501144840649318225287225658788936804267575313519463743609750303402022 and
    // y = p minus it: the four points of order 8.
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
];

/// Why a 32-byte Ed25519 public key is refused, or `None` when it is usable.
pub(crate) fn weakness(public: &[u8; 32]) -> Option<&'static str> {
    let mut y = *public;
    y[31] &= 0x7f;
    // Little-endian comparison with p: the most significant byte is the last one.
    if y.iter().rev().cmp(P.iter().rev()).is_ge() {
        return Some("not canonically encoded (y is not below 2^255 - 19)");
    }
    if SMALL_ORDER_Y.contains(&y) {
        return Some("a point of small order");
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{UnparsedPublicKey, ED25519};

    fn hex(s: &str) -> [u8; 32] {
        let v: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        v.try_into().unwrap()
    }

    /// Every small-order encoding, with the sign bit both ways.
    fn small_order_encodings() -> Vec<[u8; 32]> {
        let mut all = Vec::new();
        for y in SMALL_ORDER_Y {
            let mut negative = y;
            negative[31] |= 0x80;
            all.push(y);
            all.push(negative);
        }
        all
    }

    #[test]
    fn small_order_points_are_refused_in_every_encoding() {
        for key in small_order_encodings() {
            assert!(weakness(&key).is_some(), "{key:02x?}");
        }
        // The identity as written in the attack: x = 0, y = 1.
        assert_eq!(
            weakness(&hex(
                "0100000000000000000000000000000000000000000000000000000000000000"
            )),
            Some("a point of small order")
        );
    }

    #[test]
    fn non_canonical_encodings_are_refused() {
        for low in 0xed..=0xff {
            let mut y = P;
            y[0] = low;
            assert_eq!(
                weakness(&y),
                Some("not canonically encoded (y is not below 2^255 - 19)")
            );
            y[31] |= 0x80;
            assert!(weakness(&y).is_some());
        }
    }

    #[test]
    fn real_keys_pass() {
        // RFC 8032 §7.1, test 1 and test 2 public keys.
        for k in [
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        ] {
            assert_eq!(weakness(&hex(k)), None);
        }
    }

    /// Why the list matters: aws-lc-rs accepts, under the identity key, the signature R =
    /// identity, S = 0 for any message. If aws-lc-rs ever refuses it, this test says so.
    #[test]
    fn aws_lc_rs_verifies_a_fixed_signature_under_the_identity_key() {
        let identity = hex("0100000000000000000000000000000000000000000000000000000000000000");
        let mut signature = [0u8; 64];
        signature[0] = 1;
        for message in [&b"any"[..], b"claims of the attacker's choice"] {
            assert!(UnparsedPublicKey::new(&ED25519, identity)
                .verify(message, &signature)
                .is_ok());
        }
    }
}
