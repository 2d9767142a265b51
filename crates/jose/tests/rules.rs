//! One or more tests for every rule in `SECURITY.md`. Each test builds a token that a careless
//! library would accept (usually correctly signed, so only the rule stands in the way) and asserts
//! the precise typed error Signet returns.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::fmt::Debug;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use jose::json::MAX_DEPTH;
use jose::jws::{self, sign_exact, DEFAULT_MAX_TOKEN_LEN};
use jose::{b64, Algorithm, Error, Key, KeySet, Part, Signer, Validation, Verifier};
use serde_json::{json, Map, Value};

// ----- helpers -----

/// A fixed "now" for claim checks.
const NOW: i64 = 1_700_000_000;

fn at(now: i64) -> Validation {
    Validation {
        now: Some(now),
        ..Validation::default()
    }
}

fn hs256() -> Key {
    Key::generate(Algorithm::HS256).unwrap()
}

/// One RSA-2048 key (alg RS256) for the whole binary: generation is slow in debug builds.
fn rsa() -> Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(|| Key::generate(Algorithm::RS256).unwrap())
        .clone()
}

/// The same RSA key material, not bound to any algorithm.
fn rsa_any_alg() -> Key {
    let mut jwk = rsa().private_jwk().unwrap();
    jwk.remove("alg");
    Key::from_jwk(&jwk).unwrap()
}

fn generate(alg: Algorithm) -> Key {
    Key::generate(alg).unwrap()
}

fn public(key: &Key) -> Key {
    key.to_public().unwrap()
}

/// Signs exactly these header bytes and payload bytes.
fn signed(header: &str, payload: &[u8], key: &Key, alg: Algorithm) -> String {
    sign_exact(header.as_bytes(), payload, key, alg).unwrap()
}

/// Signs arbitrary segment *text*: the token a careless decoder that accepts this text would
/// find correctly signed.
fn forge(header_seg: &str, payload_seg: &str, key: &Key, alg: Algorithm) -> String {
    let input = format!("{header_seg}.{payload_seg}");
    let sig = key.sign(alg, input.as_bytes()).unwrap();
    format!("{input}.{}", b64::encode(sig))
}

fn segments(token: &str) -> (String, String, String) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    (parts[0].into(), parts[1].into(), parts[2].into())
}

fn with_signature(token: &str, sig: &[u8]) -> String {
    let (h, p, _) = segments(token);
    format!("{h}.{p}.{}", b64::encode(sig))
}

fn sig_bytes(token: &str) -> Vec<u8> {
    b64::decode(segments(token).2).unwrap()
}

/// base64url that tolerates padding and stray bits: what a careless library decodes with.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

const URL_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn pad(seg: &str) -> String {
    let n = (4 - seg.len() % 4) % 4;
    assert!(n > 0, "{seg} needs no padding");
    format!("{seg}{}", "=".repeat(n))
}

/// Sets an unused low bit of the last character: same bytes for a lenient decoder ("Zg"/"Zh").
fn stray_bits(seg: &str) -> String {
    assert!(matches!(seg.len() % 4, 2 | 3), "{seg} has no unused bits");
    let (head, last) = seg.split_at(seg.len() - 1);
    let idx = URL_ALPHABET
        .iter()
        .position(|&c| c == last.as_bytes()[0])
        .unwrap();
    format!("{head}{}", URL_ALPHABET[idx ^ 1] as char)
}

fn assert_base64(err: Error, part: Part, reason_contains: &str) {
    match err {
        Error::Base64 { part: p, reason } => {
            assert_eq!(p, part);
            assert!(reason.contains(reason_contains), "{reason}");
        }
        other => panic!("expected Error::Base64 about the {part}, got {other:?}"),
    }
}

// =====================================================================================
// Rule: `none` is never accepted.
// =====================================================================================

/// A verifier of each key kind, and one holding all of them.
fn verifiers_of_every_kind(hmac: &Key) -> Vec<Verifier> {
    let keys = vec![
        hmac.clone(),
        public(&rsa()),
        public(&generate(Algorithm::ES256)),
        public(&generate(Algorithm::EdDSA)),
    ];
    let mut out: Vec<Verifier> = keys.iter().cloned().map(Verifier::new).collect();
    out.push(Verifier::new(KeySet::new(keys)));
    out
}

#[test]
fn none_in_any_case_with_empty_or_nonempty_signature_is_alg_none() {
    let hmac = hs256();
    let verifiers = verifiers_of_every_kind(&hmac);
    for name in ["none", "None", "NONE", "nOnE"] {
        let header = format!(r#"{{"alg":"{name}","typ":"JWT"}}"#);
        let input = format!(
            "{}.{}",
            b64::encode(&header),
            b64::encode(br#"{"sub":"admin","exp":9999999999}"#)
        );
        // Even a signature that is the correct HMAC of the input does not help.
        let mac = b64::encode(hmac.sign(Algorithm::HS256, input.as_bytes()).unwrap());
        for sig in ["", "AAAA", "c2lnbmF0dXJl", mac.as_str()] {
            let token = format!("{input}.{sig}");
            for v in &verifiers {
                assert_eq!(v.verify(&token).unwrap_err(), Error::AlgNone, "{token}");
                assert_eq!(
                    v.verify_jwt(&token, &at(NOW)).unwrap_err(),
                    Error::AlgNone,
                    "{token}"
                );
            }
        }
    }
    assert_eq!(
        Error::AlgNone.to_string(),
        "alg \"none\" (an unsecured JWS) is never accepted"
    );
}

#[test]
fn none_output_of_sign_unsecured_insecure_is_refused() {
    let hmac = hs256();
    let mut header = Map::new();
    // The caller even asks for HS256: the function still writes alg none.
    header.insert("alg".into(), "HS256".into());
    header.insert("typ".into(), "JWT".into());
    header.insert("kid".into(), "k1".into());
    let token = jws::sign_unsecured_insecure(&header, br#"{"sub":"admin"}"#);
    assert!(
        token.ends_with('.'),
        "an unsecured JWS has an empty signature"
    );
    assert_eq!(jws::decode(&token).unwrap().header["alg"], "none");
    for v in verifiers_of_every_kind(&hmac) {
        assert_eq!(v.verify(&token).unwrap_err(), Error::AlgNone);
        assert_eq!(v.verify_jwt(&token, &at(NOW)).unwrap_err(), Error::AlgNone);
    }
}

// =====================================================================================
// Rule: compact parsing is strict.
// =====================================================================================

#[test]
fn compact_exactly_three_segments() {
    let key = hs256();
    let v = Verifier::new(key.clone());
    let token = signed(r#"{"alg":"HS256"}"#, b"{}", &key, Algorithm::HS256);
    assert!(v.verify(&token).is_ok());
    let (h, p, s) = segments(&token);
    let cases = [
        (h.clone(), 1),
        (format!("{h}.{p}"), 2),
        (format!("{token}."), 4), // trailing dot
        (format!("{token}.{s}"), 4),
        (format!("{h}.{p}.{s}.{p}.{s}"), 5), // JWE-shaped
    ];
    for (t, found) in cases {
        assert_eq!(
            v.verify(&t).unwrap_err(),
            Error::SegmentCount { found },
            "{t}"
        );
        assert_eq!(jws::decode(&t).unwrap_err(), Error::SegmentCount { found });
    }
    assert_eq!(v.verify("").unwrap_err(), Error::Empty);
    assert_eq!(
        v.verify(&format!(".{p}.{s}")).unwrap_err(),
        Error::EmptySegment { part: Part::Header }
    );
}

#[test]
fn compact_padding_is_refused_in_every_segment() {
    let key = hs256();
    let v = Verifier::new(key.clone());
    // 22-byte header and 7-byte payload: their encodings would take "==" padding.
    let h = b64::encode(r#"{"alg":"HS256","ab":1}"#);
    let p = b64::encode(r#"{"a":1}"#);
    assert!(v.verify(&forge(&h, &p, &key, Algorithm::HS256)).is_ok());
    for seg in [&h, &p] {
        assert_eq!(LENIENT.decode(pad(seg)).unwrap(), b64::decode(seg).unwrap());
    }

    let t = forge(&pad(&h), &p, &key, Algorithm::HS256);
    assert_base64(v.verify(&t).unwrap_err(), Part::Header, "padding");
    let t = forge(&h, &pad(&p), &key, Algorithm::HS256);
    assert_base64(v.verify(&t).unwrap_err(), Part::Payload, "padding");
    let (_, _, s) = segments(&forge(&h, &p, &key, Algorithm::HS256));
    assert_eq!(s.len(), 43, "a 32-byte HMAC takes one '=' of padding");
    let t = format!("{h}.{p}.{}", pad(&s));
    assert_base64(v.verify(&t).unwrap_err(), Part::Signature, "padding");
}

#[test]
fn compact_noncanonical_base64_stray_bits_are_refused() {
    assert_eq!(b64::decode("Zg").unwrap(), b"f");
    assert!(b64::decode("Zh").is_err());
    assert_eq!(
        LENIENT.decode("Zh").unwrap(),
        b"f",
        "a lenient decoder accepts both"
    );
    assert_eq!(stray_bits("Zg"), "Zh");

    let key = hs256();
    let v = Verifier::new(key.clone());
    let h = b64::encode(r#"{"alg":"HS256","ab":1}"#);
    let p = b64::encode(r#"{"a":1}"#);
    for seg in [&h, &p] {
        assert_eq!(
            LENIENT.decode(stray_bits(seg)).unwrap(),
            b64::decode(seg).unwrap()
        );
    }
    let t = forge(&stray_bits(&h), &p, &key, Algorithm::HS256);
    assert_base64(v.verify(&t).unwrap_err(), Part::Header, "not canonical");
    let t = forge(&h, &stray_bits(&p), &key, Algorithm::HS256);
    assert_base64(v.verify(&t).unwrap_err(), Part::Payload, "not canonical");
    let (_, _, s) = segments(&forge(&h, &p, &key, Algorithm::HS256));
    assert_eq!(
        LENIENT.decode(stray_bits(&s)).unwrap(),
        b64::decode(&s).unwrap()
    );
    let t = format!("{h}.{p}.{}", stray_bits(&s));
    assert_base64(v.verify(&t).unwrap_err(), Part::Signature, "not canonical");
}

#[test]
fn compact_standard_alphabet_and_whitespace_are_refused() {
    let key = hs256();
    let v = Verifier::new(key.clone());
    let h = b64::encode(r#"{"alg":"HS256"}"#);
    // Raw mode: an opaque payload whose encoding is "-_-_", "+/+/" in the standard alphabet.
    let payload = [0xfb, 0xff, 0xbf];
    assert_eq!(b64::encode(payload), "-_-_");
    assert_eq!(STANDARD.encode(payload), "+/+/");
    assert!(v.verify(&forge(&h, "-_-_", &key, Algorithm::HS256)).is_ok());

    let t = forge(&h, "+_+_", &key, Algorithm::HS256);
    assert_base64(v.verify(&t).unwrap_err(), Part::Payload, "'+'");
    let t = forge(&h, "-/-/", &key, Algorithm::HS256);
    assert_base64(v.verify(&t).unwrap_err(), Part::Payload, "'/'");

    // A signature in the standard alphabet.
    let mut n = 0;
    let token = loop {
        let t = signed(
            r#"{"alg":"HS256"}"#,
            format!("{n}").as_bytes(),
            &key,
            Algorithm::HS256,
        );
        if segments(&t).2.contains(['-', '_']) {
            break t;
        }
        n += 1;
    };
    let std_sig = token.replace('-', "+").replace('_', "/");
    let (h2, p2, _) = segments(&token);
    let std_sig = format!("{h2}.{p2}.{}", segments(&std_sig).2);
    assert_base64(
        v.verify(&std_sig).unwrap_err(),
        Part::Signature,
        "base64url alphabet",
    );

    // Whitespace and other characters inside a segment (signed over, so only decoding refuses).
    let p = b64::encode(br#"{"sub":"alice","admin":false}"#);
    let (a, b) = p.split_at(8);
    for junk in [" ", "\n", "\r\n", "\t", "?"] {
        let t = forge(&h, &format!("{a}{junk}{b}"), &key, Algorithm::HS256);
        assert_base64(v.verify(&t).unwrap_err(), Part::Payload, "alphabet");
        let t = forge(&format!("{junk}{h}"), &p, &key, Algorithm::HS256);
        assert_base64(v.verify(&t).unwrap_err(), Part::Header, "alphabet");
    }
    // A token read from a file with its newline.
    let good = forge(&h, &p, &key, Algorithm::HS256);
    assert_base64(
        v.verify(&format!("{good}\n")).unwrap_err(),
        Part::Signature,
        "alphabet",
    );
    assert_base64(
        v.verify(&format!(" {good}")).unwrap_err(),
        Part::Header,
        "alphabet",
    );
}

#[test]
fn compact_header_must_be_a_json_object() {
    let key = hs256();
    let v = Verifier::new(key.clone());
    for header in [
        "[\"HS256\"]",
        "1",
        "\"HS256\"",
        "null",
        "true",
        r#"[{"alg":"HS256"}]"#,
    ] {
        let t = signed(header, b"{}", &key, Algorithm::HS256);
        assert_eq!(
            v.verify(&t).unwrap_err(),
            Error::NotAnObject { part: Part::Header },
            "{header}"
        );
    }
    for header in [
        r#"{"alg":"HS256""#,
        r#"{"alg":"HS256"}{}"#,
        r#"{"alg":"HS256"} x"#,
        "",
    ] {
        let t = signed(header, b"{}", &key, Algorithm::HS256);
        let e = v.verify(&t).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Json {
                    part: Part::Header,
                    ..
                } | Error::EmptySegment { part: Part::Header }
            ),
            "{header}: {e:?}"
        );
    }
}

#[test]
fn compact_non_object_claims_refused_in_jwt_mode_fine_in_raw_mode() {
    let key = hs256();
    let v = Verifier::new(key.clone());
    let payloads: [&[u8]; 7] = [
        b"[1,2]",
        b"\"admin\"",
        b"42",
        b"null",
        b"not json",
        b"",
        b"\xff\xfe",
    ];
    for payload in payloads {
        let t = signed(r#"{"alg":"HS256"}"#, payload, &key, Algorithm::HS256);
        assert_eq!(
            v.verify(&t).unwrap().payload,
            payload,
            "raw mode takes any payload"
        );
        let e = v.verify_jwt(&t, &at(NOW)).unwrap_err();
        match &e {
            Error::NotClaims(msg) => assert!(msg.ends_with("use raw mode for a non-JSON payload")),
            other => panic!("{payload:?}: expected NotClaims, got {other:?}"),
        }
    }
    let t = signed(r#"{"alg":"HS256"}"#, b"[1,2]", &key, Algorithm::HS256);
    assert_eq!(
        v.verify_jwt(&t, &at(NOW)).unwrap_err(),
        Error::NotClaims(
            "payload is JSON but not an object; use raw mode for a non-JSON payload".into()
        )
    );
}

#[test]
fn compact_duplicate_header_members_are_refused() {
    // What a careless parser makes of it: the last one wins.
    let careless: Value = serde_json::from_str(r#"{"alg":"HS256","alg":"none"}"#).unwrap();
    assert_eq!(careless["alg"], "none");

    let key = hs256();
    let v = Verifier::new(key.clone());
    let dup = |name: &str| Error::DuplicateMember {
        part: Part::Header,
        name: name.into(),
    };
    let cases = [
        (r#"{"alg":"HS256","alg":"none"}"#, "alg"),
        (r#"{"alg":"none","alg":"HS256"}"#, "alg"),
        (r#"{"alg":"HS256","alg":"HS256"}"#, "alg"),
        (r#"{"alg":"HS256","\u0061lg":"none"}"#, "alg"), // escaped: same name after decoding
        (r#"{"alg":"HS256","kid":"a","kid":"b"}"#, "kid"),
        (r#"{"alg":"HS256","crit":["x"],"x":1,"x":2}"#, "x"),
        (r#"{"alg":"HS256","jwk":{"kty":"oct","kty":"RSA"}}"#, "kty"), // nested
    ];
    for (header, name) in cases {
        let t = signed(header, b"{}", &key, Algorithm::HS256);
        assert_eq!(v.verify(&t).unwrap_err(), dup(name), "{header}");
        assert_eq!(jws::decode(&t).unwrap_err(), dup(name), "{header}");
    }
}

#[test]
fn compact_duplicate_claims_are_refused_in_jwt_mode() {
    let key = hs256();
    let v = Verifier::new(key.clone());
    let payload = br#"{"sub":"alice","role":"user","role":"admin"}"#;
    let t = signed(r#"{"alg":"HS256"}"#, payload, &key, Algorithm::HS256);
    assert_eq!(
        v.verify(&t).unwrap().payload,
        payload,
        "raw mode: opaque bytes"
    );
    assert_eq!(
        v.verify_jwt(&t, &at(NOW)).unwrap_err(),
        Error::DuplicateMember {
            part: Part::Payload,
            name: "role".into()
        }
    );
}

#[test]
fn compact_nesting_deeper_than_max_depth_is_refused() {
    let key = hs256();
    let v = Verifier::new(key.clone());
    // The header object is level 1; `arrays` arrays inside it make `arrays + 1` levels.
    let nested = |arrays: usize| format!("{}1{}", "[".repeat(arrays), "]".repeat(arrays));
    let header = |arrays: usize| format!(r#"{{"alg":"HS256","x":{}}}"#, nested(arrays));
    let deep = Error::TooDeep {
        part: Part::Header,
        max: MAX_DEPTH,
    };

    let t = signed(&header(MAX_DEPTH - 1), b"{}", &key, Algorithm::HS256);
    assert!(v.verify(&t).is_ok(), "{MAX_DEPTH} levels are allowed");
    let t = signed(&header(MAX_DEPTH), b"{}", &key, Algorithm::HS256);
    assert_eq!(v.verify(&t).unwrap_err(), deep);
    assert_eq!(jws::decode(&t).unwrap_err(), deep);
    // Far deeper (would overflow a naive recursive parser's stack): still a clean error.
    let t = signed(&header(50_000), b"{}", &key, Algorithm::HS256);
    assert_eq!(v.verify(&t).unwrap_err(), deep);
    let objects = format!(
        r#"{{"alg":"HS256","x":{}1{}}}"#,
        r#"{"a":"#.repeat(10_000),
        "}".repeat(10_000)
    );
    let t = signed(&objects, b"{}", &key, Algorithm::HS256);
    assert_eq!(v.verify(&t).unwrap_err(), deep);

    // Claims: same limit in JWT mode; raw mode does not parse the payload.
    let claims = |arrays: usize| format!(r#"{{"sub":"a","x":{}}}"#, nested(arrays));
    let t = signed(
        r#"{"alg":"HS256"}"#,
        claims(MAX_DEPTH - 1).as_bytes(),
        &key,
        Algorithm::HS256,
    );
    assert!(v.verify_jwt(&t, &at(NOW)).is_ok());
    let t = signed(
        r#"{"alg":"HS256"}"#,
        claims(MAX_DEPTH).as_bytes(),
        &key,
        Algorithm::HS256,
    );
    assert!(v.verify(&t).is_ok());
    assert_eq!(
        v.verify_jwt(&t, &at(NOW)).unwrap_err(),
        Error::TooDeep {
            part: Part::Payload,
            max: MAX_DEPTH
        }
    );
}

#[test]
fn compact_token_longer_than_max_token_len_is_too_large() {
    let key = hs256();
    let t = signed(
        r#"{"alg":"HS256"}"#,
        br#"{"sub":"alice"}"#,
        &key,
        Algorithm::HS256,
    );
    let len = t.len();
    assert!(Verifier::new(key.clone())
        .max_token_len(len)
        .verify(&t)
        .is_ok());
    assert_eq!(
        Verifier::new(key.clone())
            .max_token_len(len - 1)
            .verify(&t)
            .unwrap_err(),
        Error::TooLarge { len, max: len - 1 }
    );

    // The default limit, with a correctly signed token.
    let big = vec![b'a'; DEFAULT_MAX_TOKEN_LEN];
    let t = signed(r#"{"alg":"HS256"}"#, &big, &key, Algorithm::HS256);
    let too_large = Error::TooLarge {
        len: t.len(),
        max: DEFAULT_MAX_TOKEN_LEN,
    };
    let v = Verifier::new(key);
    assert_eq!(v.verify(&t).unwrap_err(), too_large);
    assert_eq!(v.verify_jwt(&t, &at(NOW)).unwrap_err(), too_large);
    assert_eq!(jws::decode(&t).unwrap_err(), too_large);
}

#[test]
fn compact_non_utf8_header_is_refused() {
    let key = hs256();
    let v = Verifier::new(key.clone());
    let bad: [&[u8]; 5] = [
        b"\xff",         // never valid
        b"\xc0\xaf",     // overlong '/'
        b"\xed\xa0\x80", // UTF-16 surrogate (CESU-8)
        b"\xe2\x82",     // truncated sequence
        b"\xf8\x88\x80\x80\x80",
    ];
    for bytes in bad {
        let mut header = br#"{"alg":"HS256","x":""#.to_vec();
        header.extend_from_slice(bytes);
        header.extend_from_slice(br#""}"#);
        // A lossy decoder would carry on.
        assert!(String::from_utf8_lossy(&header).contains("HS256"));
        let t = sign_exact(&header, b"{}", &key, Algorithm::HS256).unwrap();
        assert_eq!(
            v.verify(&t).unwrap_err(),
            Error::NotUtf8 { part: Part::Header },
            "{bytes:?}"
        );
    }
}

// =====================================================================================
// Rule: trust comes only from the caller's keys.
// =====================================================================================

/// An attacker's P-256 key and a self-signed certificate for it (`openssl req -x509`).
const ATTACKER_EC_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg4B1iqPRoPzY9jR9m
ws6DcD4/N/CXTWgWVVkh84LxhpahRANCAATgHVo3jdesP9tmE8ij/JOVreymWNIF
dBvGPlYOaRA1mQN87zs8sN3Std0rhgdjqDza/vv2bjRvmYQd21Y4nODG
-----END PRIVATE KEY-----
";
const ATTACKER_CERT_B64: &str = "MIIBjDCCATGgAwIBAgIUdzzy9xThQdjY41k5aIngu50fh98wCgYIKoZIzj0EAwIwGzEZMBcGA1UEAwwQYXR0YWNrZXIuZXhhbXBsZTAeFw0yNjExMjQyMzExMDRaFw0zNjExMjEyMzExMDRaMBsxGTAXBgNVBAMMEGF0dGFja2VyLmV4YW1wbGUwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATgHVo3jdesP9tmE8ij/JOVreymWNIFdBvGPlYOaRA1mQN87zs8sN3Std0rhgdjqDza/vv2bjRvmYQd21Y4nODGo1MwUTAdBgNVHQ4EFgQULNzkfezJ3sesFiB6cCYeyUToMu0wHwYDVR0jBBgwFoAULNzkfezJ3sesFiB6cCYeyUToMu0wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEA60YVZ0Ep5QfCebITzGqc9v8CpitvJh886r0TYFyeVhkCIQDLmiuFVrm8eEBfXG3IYDb+XFBNlxv4XkL0CdqtxCQCkA==";

#[test]
fn trust_embedded_jwk_jku_x5u_x5c_are_never_used() {
    let attacker = Key::from_pem(ATTACKER_EC_PEM).unwrap();
    // The x5c certificate really is the attacker's key.
    let cert = Key::parse(&STANDARD.decode(ATTACKER_CERT_B64).unwrap()).unwrap();
    assert_eq!(cert.public_jwk(), public(&attacker).public_jwk());

    // A local listener stands in for the URLs: if anything were fetched, it would see it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());

    let real = public(&generate(Algorithm::ES256));
    let v = Verifier::new(real.clone());
    let jwk = Value::Object(public(&attacker).public_jwk());
    let headers = [
        json!({"alg": "ES256", "jwk": jwk.clone()}),
        json!({"alg": "ES256", "jku": format!("{base}/jwks.json")}),
        json!({"alg": "ES256", "x5u": format!("{base}/cert.pem")}),
        json!({"alg": "ES256", "x5c": [ATTACKER_CERT_B64]}),
        json!({"alg": "ES256", "jwk": jwk.clone(), "jku": format!("{base}/jwks.json"),
               "x5u": format!("{base}/cert.pem"), "x5c": [ATTACKER_CERT_B64],
               "x5t#S256": "AAAA"}),
    ];
    for header in headers {
        let t = signed(
            &header.to_string(),
            br#"{"sub":"admin"}"#,
            &attacker,
            Algorithm::ES256,
        );
        // The token is good under the key it carries; the real key refuses it.
        assert!(Verifier::new(public(&attacker)).verify(&t).is_ok());
        assert_eq!(
            v.verify(&t).unwrap_err(),
            Error::InvalidSignature,
            "{header}"
        );
        assert_eq!(
            v.verify_jwt(&t, &at(NOW)).unwrap_err(),
            Error::InvalidSignature
        );
    }
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "nothing was fetched"
    );

    // The attacker's kid (its thumbprint) against a real key with a kid: no such key.
    let v = Verifier::new(real.with_kid("real"));
    let header = json!({"alg": "ES256", "kid": attacker.thumbprint(), "jwk": jwk});
    let t = signed(&header.to_string(), b"{}", &attacker, Algorithm::ES256);
    assert_eq!(
        v.verify(&t).unwrap_err(),
        Error::UnknownKid(attacker.thumbprint())
    );

    // An embedded HMAC secret: refused by an RSA verifier before any MAC is computed, and an
    // HMAC verifier uses its own secret.
    let secret = [7u8; 32];
    let header = json!({"alg": "HS256", "jwk": {"kty": "oct", "k": b64::encode(secret)}});
    let t = signed(
        &header.to_string(),
        b"{}",
        &Key::hmac(secret).unwrap(),
        Algorithm::HS256,
    );
    assert_eq!(
        Verifier::new(public(&rsa())).verify(&t).unwrap_err(),
        Error::KeyAlgorithmMismatch {
            alg: "HS256".into(),
            key: "RSA".into()
        }
    );
    assert_eq!(
        Verifier::new(hs256()).verify(&t).unwrap_err(),
        Error::InvalidSignature
    );
}

#[test]
fn trust_kid_not_in_key_set_is_unknown_kid() {
    let a = hs256().with_kid("a");
    let b = hs256().with_kid("b");
    let v = Verifier::new(KeySet::new(vec![a.clone(), b.clone()]));
    let t = signed(r#"{"alg":"HS256","kid":"c"}"#, b"{}", &a, Algorithm::HS256);
    assert_eq!(v.verify(&t).unwrap_err(), Error::UnknownKid("c".into()));
    assert_eq!(
        Error::UnknownKid("c".into()).to_string(),
        "no key matches kid \"c\""
    );
    // kid only selects: naming b does not let a's signature through.
    let t = signed(r#"{"alg":"HS256","kid":"b"}"#, b"{}", &a, Algorithm::HS256);
    assert_eq!(v.verify(&t).unwrap_err(), Error::InvalidSignature);
    let t = signed(r#"{"alg":"HS256","kid":"a"}"#, b"{}", &a, Algorithm::HS256);
    assert_eq!(v.verify(&t).unwrap().key_kid.as_deref(), Some("a"));
    // A kid that is not a string.
    let t = signed(r#"{"alg":"HS256","kid":1}"#, b"{}", &a, Algorithm::HS256);
    assert_eq!(
        v.verify(&t).unwrap_err(),
        Error::HeaderMemberType {
            member: "kid".into(),
            expected: "a string"
        }
    );
}

#[test]
fn trust_kid_path_traversal_is_unknown_kid_never_a_file() {
    // A library that reads the key file named by kid would find /dev/null empty, and an empty
    // HMAC secret; the attacker MACs with exactly that.
    let empty = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"");
    let keys = vec![
        hs256().with_kid("2024-01"),
        public(&rsa()).with_kid("rsa-1"),
        public(&generate(Algorithm::ES256)).with_kid("ec-1"),
    ];
    let v = Verifier::new(KeySet::new(keys));
    for kid in [
        "../../dev/null",
        "../../../../../../../../dev/null",
        "/dev/null",
        "file:///dev/null",
        "..\\..\\windows\\win.ini",
        "' UNION SELECT 'secret' --",
        "2024-01/../../dev/null",
        "",
    ] {
        let header = json!({"alg": "HS256", "kid": kid}).to_string();
        let input = format!(
            "{}.{}",
            b64::encode(&header),
            b64::encode(br#"{"sub":"admin"}"#)
        );
        let tag = aws_lc_rs::hmac::sign(&empty, input.as_bytes());
        let t = format!("{input}.{}", b64::encode(tag.as_ref()));
        assert_eq!(
            v.verify(&t).unwrap_err(),
            Error::UnknownKid(kid.into()),
            "{kid}"
        );
        assert_eq!(
            v.verify_jwt(&t, &at(NOW)).unwrap_err(),
            Error::UnknownKid(kid.into())
        );
    }
}

// =====================================================================================
// Rule: a key is bound to its algorithms.
// =====================================================================================

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

#[test]
fn binding_rs256_to_hs256_confusion_is_key_algorithm_mismatch() {
    let rsa_public = public(&rsa());
    let pem = rsa_public.public_pem().unwrap();
    let from_pem = Key::from_pem(&pem).unwrap();
    assert_eq!(from_pem.algorithm(), None, "a PEM key carries no alg");
    let jwk_text = Value::Object(rsa_public.public_jwk()).to_string();
    // Every form of the public key an attacker could try as the HMAC secret.
    let secrets: Vec<Vec<u8>> = vec![
        pem.clone().into_bytes(),
        pem.trim_end().as_bytes().to_vec(),
        pem.replace('\n', "\r\n").into_bytes(),
        pem_der(&pem),
        jwk_text.into_bytes(),
    ];
    let mismatch = Error::KeyAlgorithmMismatch {
        alg: "HS256".into(),
        key: "RSA".into(),
    };
    for secret in secrets {
        let forged = Key::hmac(secret).unwrap();
        let t = signed(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            br#"{"sub":"admin"}"#,
            &forged,
            Algorithm::HS256,
        );
        for key in [&rsa_public, &from_pem] {
            let v = Verifier::new(key.clone());
            assert_eq!(v.verify(&t).unwrap_err(), mismatch);
            assert_eq!(v.verify_jwt(&t, &at(NOW)).unwrap_err(), mismatch);
            // Asked directly, the key refuses too.
            let input = t.rsplit_once('.').unwrap().0;
            assert_eq!(
                key.verify(Algorithm::HS256, input.as_bytes(), &sig_bytes(&t))
                    .unwrap_err(),
                mismatch
            );
        }
        // With several keys, the verifier names the algorithms it allows.
        let set = Verifier::new(KeySet::new(vec![
            rsa_public.clone(),
            public(&generate(Algorithm::ES256)),
        ]));
        assert_eq!(
            set.verify(&t).unwrap_err(),
            Error::AlgorithmNotAllowed {
                alg: "HS256".into(),
                allowed: "RS256, ES256".into()
            }
        );
    }
    // The same confusion with an EC public key.
    let ec_public = public(&generate(Algorithm::ES256));
    let forged = Key::hmac(ec_public.public_pem().unwrap()).unwrap();
    let t = signed(r#"{"alg":"HS256"}"#, b"{}", &forged, Algorithm::HS256);
    assert_eq!(
        Verifier::new(ec_public).verify(&t).unwrap_err(),
        Error::KeyAlgorithmMismatch {
            alg: "HS256".into(),
            key: "EC P-256".into()
        }
    );
}

#[test]
fn binding_hmac_secret_cannot_verify_rs256_es256_eddsa() {
    let tokens = [
        (
            Algorithm::RS256,
            signed(r#"{"alg":"RS256"}"#, b"{}", &rsa(), Algorithm::RS256),
        ),
        (
            Algorithm::PS256,
            signed(
                r#"{"alg":"PS256"}"#,
                b"{}",
                &rsa_any_alg(),
                Algorithm::PS256,
            ),
        ),
        (
            Algorithm::ES256,
            signed(
                r#"{"alg":"ES256"}"#,
                b"{}",
                &generate(Algorithm::ES256),
                Algorithm::ES256,
            ),
        ),
        (
            Algorithm::EdDSA,
            signed(
                r#"{"alg":"EdDSA"}"#,
                b"{}",
                &generate(Algorithm::EdDSA),
                Algorithm::EdDSA,
            ),
        ),
    ];
    for secret in [hs256(), Key::hmac(vec![1u8; 64]).unwrap()] {
        let v = Verifier::new(secret);
        for (alg, t) in &tokens {
            assert_eq!(
                v.verify(t).unwrap_err(),
                Error::KeyAlgorithmMismatch {
                    alg: alg.name().into(),
                    key: "HMAC secret".into()
                }
            );
        }
    }
}

#[test]
fn binding_rsa_jwk_with_alg_rs256_refuses_ps256_and_others() {
    let jwk = public(&rsa()).public_jwk();
    assert_eq!(jwk["alg"], "RS256");
    let bound = Key::from_jwk(&jwk).unwrap();
    let v = Verifier::new(bound.clone());
    let signer = rsa_any_alg();
    let ok = signed(r#"{"alg":"RS256"}"#, b"{}", &signer, Algorithm::RS256);
    assert!(v.verify(&ok).is_ok());
    for alg in [
        Algorithm::PS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS512,
    ] {
        let t = signed(&format!(r#"{{"alg":"{alg}"}}"#), b"{}", &signer, alg);
        // The signature is fine for the key material...
        assert!(Verifier::new(public(&signer)).verify(&t).is_ok());
        // ...but the JWK says RS256 only.
        assert_eq!(
            v.verify(&t).unwrap_err(),
            Error::KeyAlgorithmMismatch {
                alg: alg.name().into(),
                key: "RSA, restricted to RS256".into()
            }
        );
    }
    // Among several keys, the algorithm is simply not allowed.
    let set = Verifier::new(KeySet::new(vec![
        bound,
        public(&generate(Algorithm::ES256)),
    ]));
    let t = signed(r#"{"alg":"PS256"}"#, b"{}", &signer, Algorithm::PS256);
    assert_eq!(
        set.verify(&t).unwrap_err(),
        Error::AlgorithmNotAllowed {
            alg: "PS256".into(),
            allowed: "RS256, ES256".into()
        }
    );
    // An EC JWK whose alg does not fit its curve does not even load.
    let mut ec = public(&generate(Algorithm::ES256)).public_jwk();
    ec.insert("alg".into(), "ES384".into());
    assert_eq!(
        Key::from_jwk(&ec).unwrap_err(),
        Error::KeyAlgorithmMismatch {
            alg: "ES384".into(),
            key: "EC P-256".into()
        }
    );
}

#[test]
fn binding_es256_key_refuses_es384_token() {
    let p256 = generate(Algorithm::ES256);
    let unbound = Key::from_pem(&p256.public_pem().unwrap()).unwrap();
    let t = signed(
        r#"{"alg":"ES384"}"#,
        b"{}",
        &generate(Algorithm::ES384),
        Algorithm::ES384,
    );
    for key in [public(&p256), unbound] {
        assert_eq!(
            Verifier::new(key).verify(&t).unwrap_err(),
            Error::KeyAlgorithmMismatch {
                alg: "ES384".into(),
                key: "EC P-256".into()
            }
        );
    }
    // And the other way round: a P-384 key and an ES256 token.
    let t = signed(r#"{"alg":"ES256"}"#, b"{}", &p256, Algorithm::ES256);
    assert_eq!(
        Verifier::new(public(&generate(Algorithm::ES384)))
            .verify(&t)
            .unwrap_err(),
        Error::KeyAlgorithmMismatch {
            alg: "ES256".into(),
            key: "EC P-384".into()
        }
    );
}

/// ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }` from a fixed-size R||S.
fn der_signature(rs: &[u8]) -> Vec<u8> {
    fn integer(x: &[u8]) -> Vec<u8> {
        let start = x.iter().position(|&b| b != 0).unwrap_or(x.len());
        let mut v = x[start..].to_vec();
        if v.first().is_none_or(|&b| b & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, u8::try_from(v.len()).unwrap()];
        out.extend(v);
        out
    }
    let (r, s) = rs.split_at(rs.len() / 2);
    let body = [integer(r), integer(s)].concat();
    let mut out = vec![0x30];
    if body.len() >= 0x80 {
        out.push(0x81);
    }
    out.push(u8::try_from(body.len()).unwrap());
    out.extend(body);
    out
}

#[test]
fn binding_ecdsa_der_signature_is_refused() {
    for (alg, len) in [
        (Algorithm::ES256, 64),
        (Algorithm::ES384, 96),
        (Algorithm::ES512, 132),
    ] {
        let key = generate(alg);
        let v = Verifier::new(public(&key));
        let t = signed(&format!(r#"{{"alg":"{alg}"}}"#), b"{}", &key, alg);
        assert!(v.verify(&t).is_ok());
        let rs = sig_bytes(&t);
        assert_eq!(rs.len(), len);
        let der = der_signature(&rs);
        assert_ne!(der.len(), len);
        let e = v.verify(&with_signature(&t, &der)).unwrap_err();
        assert_eq!(
            e,
            Error::SignatureLength {
                alg: alg.name().into(),
                expected: len,
                found: der.len()
            }
        );
    }
}

/// The order n of P-256.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

#[test]
fn binding_ecdsa_psychic_signature_zero_r_s_is_refused() {
    // CVE-2022-21449: r = s = 0 "verifies" for any message in a broken implementation.
    for alg in [
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::ES256K,
    ] {
        let key = generate(alg);
        let v = Verifier::new(public(&key));
        let t = signed(
            &format!(r#"{{"alg":"{alg}"}}"#),
            br#"{"sub":"admin"}"#,
            &key,
            alg,
        );
        let zeros = vec![0u8; alg.fixed_signature_len().unwrap()];
        assert_eq!(
            v.verify(&with_signature(&t, &zeros)).unwrap_err(),
            Error::InvalidSignature,
            "{alg}"
        );
        // r = 0 with the real s, and the real r with s = 0.
        let rs = sig_bytes(&t);
        let half = rs.len() / 2;
        let r0 = [&zeros[..half], &rs[half..]].concat();
        let s0 = [&rs[..half], &zeros[half..]].concat();
        for sig in [r0, s0] {
            assert_eq!(
                v.verify(&with_signature(&t, &sig)).unwrap_err(),
                Error::InvalidSignature
            );
        }
    }
}

#[test]
fn binding_ecdsa_s_equal_to_n_is_refused() {
    let key = generate(Algorithm::ES256);
    let v = Verifier::new(public(&key));
    let t = signed(r#"{"alg":"ES256"}"#, b"{}", &key, Algorithm::ES256);
    let rs = sig_bytes(&t);
    let (r, _) = rs.split_at(32);
    for sig in [
        [r, &P256_N[..]].concat(), // s = n
        [&P256_N[..], r].concat(), // r = n
        [&P256_N[..], &P256_N[..]].concat(),
        [r, &[0xff; 32][..]].concat(), // s > n
    ] {
        assert_eq!(
            v.verify(&with_signature(&t, &sig)).unwrap_err(),
            Error::InvalidSignature
        );
    }
}

#[test]
fn binding_signature_of_wrong_length_is_refused() {
    let key = generate(Algorithm::ES256);
    let v = Verifier::new(public(&key));
    let t = signed(r#"{"alg":"ES256"}"#, b"{}", &key, Algorithm::ES256);
    let rs = sig_bytes(&t);
    let length = |alg: &str, expected, found| Error::SignatureLength {
        alg: alg.into(),
        expected,
        found,
    };
    for sig in [
        &rs[..63],
        &[rs.as_slice(), &[0]].concat()[..],
        &[0u8; 0][..],
        &rs[..32],
    ] {
        assert_eq!(
            v.verify(&with_signature(&t, sig)).unwrap_err(),
            length("ES256", 64, sig.len())
        );
    }
    // A truncated HMAC (a careless constant-time compare over the shorter length would pass)
    // and an empty one.
    let hmac = hs256();
    let t = signed(r#"{"alg":"HS256"}"#, b"{}", &hmac, Algorithm::HS256);
    let mac = sig_bytes(&t);
    for n in [0, 1, 16, 31] {
        assert_eq!(
            Verifier::new(hmac.clone())
                .verify(&with_signature(&t, &mac[..n]))
                .unwrap_err(),
            length("HS256", 32, n)
        );
    }
    // Ed25519 and RSA.
    let ed = generate(Algorithm::EdDSA);
    let t = signed(r#"{"alg":"EdDSA"}"#, b"{}", &ed, Algorithm::EdDSA);
    let sig = sig_bytes(&t);
    assert_eq!(
        Verifier::new(public(&ed))
            .verify(&with_signature(&t, &sig[..63]))
            .unwrap_err(),
        length("EdDSA", 64, 63)
    );
    let t = signed(r#"{"alg":"RS256"}"#, b"{}", &rsa(), Algorithm::RS256);
    let sig = sig_bytes(&t);
    let v = Verifier::new(public(&rsa()));
    for s in [
        &sig[..255],
        &[0u8; 0][..],
        &[&[0u8][..], &sig[..]].concat()[..],
    ] {
        assert_eq!(
            v.verify(&with_signature(&t, s)).unwrap_err(),
            Error::InvalidSignature
        );
    }
}

/// A verifier is reused for many tokens: what it accepted before (a header it has already seen)
/// never changes the verdict on the next token.
#[test]
fn binding_verdicts_do_not_depend_on_earlier_tokens() {
    let key = hs256();
    let header = r#"{"alg":"HS256","typ":"JWT","crit":["x"],"x":1}"#;
    let good = signed(header, br#"{"sub":"alice"}"#, &key, Algorithm::HS256);
    let v = Verifier::new(key.clone()).understand_crit(&["x"]);
    for _ in 0..3 {
        assert!(v.verify(&good).is_ok());
        // Same header, other payload, signature not recomputed.
        let (h, _, s) = segments(&good);
        let forged = format!("{h}.{}.{s}", b64::encode(br#"{"sub":"admin"}"#));
        assert_eq!(v.verify(&forged).unwrap_err(), Error::InvalidSignature);
        // Same header, signed by another key.
        let other = signed(header, br#"{"sub":"admin"}"#, &hs256(), Algorithm::HS256);
        assert_eq!(v.verify(&other).unwrap_err(), Error::InvalidSignature);
        // Same header and payload with a truncated signature.
        let short = with_signature(&good, &sig_bytes(&good)[..16]);
        assert!(matches!(
            v.verify(&short).unwrap_err(),
            Error::SignatureLength { .. }
        ));
    }
    // Narrowing the algorithms after the header was seen applies to it.
    let v = v.allow_algorithms(&[Algorithm::HS512]);
    assert_eq!(
        v.verify(&good).unwrap_err(),
        Error::AlgorithmNotAllowed {
            alg: "HS256".into(),
            allowed: String::new()
        }
    );
    // A clone, and a fresh verifier that does not understand "x", refuse the crit header.
    let plain = Verifier::new(key.clone());
    assert!(Verifier::new(key)
        .understand_crit(&["x"])
        .verify(&good)
        .is_ok());
    assert_eq!(
        plain.verify(&good).unwrap_err(),
        Error::UnknownCritical("x".into())
    );
}

// =====================================================================================
// Rule: crit.
// =====================================================================================

#[test]
fn crit_unknown_extension_is_refused_unless_understood() {
    let key = hs256();
    let t = signed(
        r#"{"alg":"HS256","crit":["x"],"x":1}"#,
        b"{}",
        &key,
        Algorithm::HS256,
    );
    let e = Verifier::new(key.clone()).verify(&t).unwrap_err();
    assert_eq!(e, Error::UnknownCritical("x".into()));
    assert_eq!(
        e.to_string(),
        r#"header member crit lists "x", which is not understood"#
    );
    assert_eq!(
        Verifier::new(key.clone())
            .verify_jwt(&t, &at(NOW))
            .unwrap_err(),
        Error::UnknownCritical("x".into())
    );
    // A verifier told that the caller handles "x" accepts the same token.
    let v = Verifier::new(key).understand_crit(&["x"]);
    assert_eq!(v.verify(&t).unwrap().header["x"], 1);
    assert!(v.verify_jwt(&t, &at(NOW)).is_ok());
}

#[test]
fn crit_b64_false_is_unknown_critical() {
    // RFC 7797: the payload is not encoded. "AAAA" means the bytes "AAAA" here, but [0, 0, 0]
    // to a library that ignores crit; the signature covers the same text either way.
    let key = hs256();
    let h = b64::encode(r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#);
    let t = forge(&h, "AAAA", &key, Algorithm::HS256);
    assert_eq!(
        Verifier::new(key).verify(&t).unwrap_err(),
        Error::UnknownCritical("b64".into())
    );
}

#[test]
fn crit_malformed_is_refused() {
    let key = hs256();
    let v = Verifier::new(key.clone()).understand_crit(&["x", "y"]);
    let malformed = |m: &str| Error::MalformedCritical(m.into());
    let cases = [
        (
            r#"{"alg":"HS256","crit":[]}"#,
            malformed("it must not be empty"),
        ),
        (
            r#"{"alg":"HS256","crit":"x","x":1}"#,
            malformed("it must be an array of strings"),
        ),
        (
            r#"{"alg":"HS256","crit":{"x":true},"x":1}"#,
            malformed("it must be an array of strings"),
        ),
        (
            r#"{"alg":"HS256","crit":null}"#,
            malformed("it must be an array of strings"),
        ),
        (
            r#"{"alg":"HS256","crit":[1]}"#,
            malformed("it must be an array of strings"),
        ),
        (
            r#"{"alg":"HS256","crit":["alg"]}"#,
            malformed("it lists \"alg\", which RFC 7515 defines"),
        ),
        (
            r#"{"alg":"HS256","crit":["kid"],"kid":"a"}"#,
            malformed("it lists \"kid\", which RFC 7515 defines"),
        ),
        (
            r#"{"alg":"HS256","crit":["x","x"],"x":1}"#,
            malformed("it lists \"x\" twice"),
        ),
        (
            r#"{"alg":"HS256","crit":["y"]}"#,
            malformed("it lists \"y\", which the header does not contain"),
        ),
    ];
    for (header, want) in cases {
        let t = signed(header, b"{}", &key, Algorithm::HS256);
        assert_eq!(v.verify(&t).unwrap_err(), want, "{header}");
    }
    // Without understanding, the empty and non-array forms are still malformed.
    let plain = Verifier::new(key.clone());
    let t = signed(
        r#"{"alg":"HS256","crit":[]}"#,
        b"{}",
        &key,
        Algorithm::HS256,
    );
    assert_eq!(
        plain.verify(&t).unwrap_err(),
        malformed("it must not be empty")
    );
    let t = signed(
        r#"{"alg":"HS256","crit":["alg"]}"#,
        b"{}",
        &key,
        Algorithm::HS256,
    );
    assert_eq!(
        plain.verify(&t).unwrap_err(),
        malformed("it lists \"alg\", which RFC 7515 defines")
    );
}

// =====================================================================================
// Rule: RSA keys under 2048 bits are refused at load.
// =====================================================================================

/// `openssl genrsa 1024` (OpenSSL 3.0, PKCS#8), and its public key and PKCS#1 forms.
const RSA_1024_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBAMmxTqp6oEN/Wp5G
3FFWPAVvt7LPe8QKhCE9KF5+A0TMA9WWdbm4lukqHWKKhaS94GNg/5m+7sAZJ8Ji
bj48r5aSmRbVuFzCPpycXZnjdU+vR56ZROIeiiIgVjvxdhvvgu2OfpCxRrvXjD/x
vstDHmbkjumoEC+Prnl59DNKqxc/AgMBAAECgYBvRkhNW9whgRjAq/2PTlFM+obR
uxDgZqDhKbmk8EbjZN9Urm8C6OkxeI+/twbmje9HRNOfwiw8hWRfJSkHYznHj/xG
HgpcPZftmrEDhUdgTV3HPobyCmoi5CqNkEzMQIQA0IFliubsOIJFzFZaliBAvM9l
ufPw80iHZkiHLu53+QJBAPnQWUe0z3LOLlmvaKgxnQX0xNm/KWSyEJMIXUrFJhzl
HRF1mAyTH+XFVe5W8BASTdwiM0I84iA6kxuJCDZF92sCQQDOr+b6nTvJ8LAPTUid
jY/V6ER7AW40Nd9WOVFWegrDinRoCJh93sw25AhuyI8Bb+xHPyIbW5ygTY46c5j3
/dh9AkEA0145HFXdLJtNVm73E1CfNnnq0P5QrLWJFo7+OJRk8g/dL3ebBhC57XSx
h28hwcdq/3Ykfsf64CAPdj3Up+89LwJAVVzK3biwp8+TN06o7gE4ZZUfK1pE5KVX
TyovELMo3OfC+fCK4nlxCD6XyQFmJqbOBALsGDZ28rH1SujRRaL+lQJBAN5EFEiU
7yu5rNkhNBdKxo7yWbD2/YTiRNDRcO5jUTgSO6e76xsthi2t6ShXgHPsbP+Xg3sD
cZJumiL2U2yM9qs=
-----END PRIVATE KEY-----
";
const RSA_1024_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDJsU6qeqBDf1qeRtxRVjwFb7ey
z3vECoQhPShefgNEzAPVlnW5uJbpKh1iioWkveBjYP+Zvu7AGSfCYm4+PK+WkpkW
1bhcwj6cnF2Z43VPr0eemUTiHooiIFY78XYb74Ltjn6QsUa714w/8b7LQx5m5I7p
qBAvj655efQzSqsXPwIDAQAB
-----END PUBLIC KEY-----
";
const RSA_1024_PKCS1: &str = "-----BEGIN RSA PRIVATE KEY-----
MIICXQIBAAKBgQDJsU6qeqBDf1qeRtxRVjwFb7eyz3vECoQhPShefgNEzAPVlnW5
uJbpKh1iioWkveBjYP+Zvu7AGSfCYm4+PK+WkpkW1bhcwj6cnF2Z43VPr0eemUTi
HooiIFY78XYb74Ltjn6QsUa714w/8b7LQx5m5I7pqBAvj655efQzSqsXPwIDAQAB
AoGAb0ZITVvcIYEYwKv9j05RTPqG0bsQ4Gag4Sm5pPBG42TfVK5vAujpMXiPv7cG
5o3vR0TTn8IsPIVkXyUpB2M5x4/8Rh4KXD2X7ZqxA4VHYE1dxz6G8gpqIuQqjZBM
zECEANCBZYrm7DiCRcxWWpYgQLzPZbnz8PNIh2ZIhy7ud/kCQQD50FlHtM9yzi5Z
r2ioMZ0F9MTZvylkshCTCF1KxSYc5R0RdZgMkx/lxVXuVvAQEk3cIjNCPOIgOpMb
iQg2RfdrAkEAzq/m+p07yfCwD01InY2P1ehEewFuNDXfVjlRVnoKw4p0aAiYfd7M
NuQIbsiPAW/sRz8iG1ucoE2OOnOY9/3YfQJBANNeORxV3SybTVZu9xNQnzZ56tD+
UKy1iRaO/jiUZPIP3S93mwYQue10sYdvIcHHav92JH7H+uAgD3Y91KfvPS8CQFVc
yt24sKfPkzdOqO4BOGWVHytaROSlV08qLxCzKNznwvnwiuJ5cQg+l8kBZiamzgQC
7Bg2dvKx9Uro0UWi/pUCQQDeRBRIlO8ruazZITQXSsaO8lmw9v2E4kTQ0XDuY1E4
Ejunu+sbLYYtrekoV4Bz7Gz/l4N7A3GSbpoi9lNsjPar
-----END RSA PRIVATE KEY-----
";
/// The modulus of the key above, base64url (from `openssl rsa -modulus`).
const RSA_1024_N: &str = "ybFOqnqgQ39ankbcUVY8BW-3ss97xAqEIT0oXn4DRMwD1ZZ1ubiW6SodYoqFpL3gY2D_mb7uwBknwmJuPjyvlpKZFtW4XMI-nJxdmeN1T69HnplE4h6KIiBWO_F2G--C7Y5-kLFGu9eMP_G-y0MeZuSO6agQL4-ueXn0M0qrFz8";

/// The same key as a private JWK.
const RSA_1024_PRIVATE_JWK: &str = r#"{"kty":"RSA","e":"AQAB",
"n":"ybFOqnqgQ39ankbcUVY8BW-3ss97xAqEIT0oXn4DRMwD1ZZ1ubiW6SodYoqFpL3gY2D_mb7uwBknwmJuPjyvlpKZFtW4XMI-nJxdmeN1T69HnplE4h6KIiBWO_F2G--C7Y5-kLFGu9eMP_G-y0MeZuSO6agQL4-ueXn0M0qrFz8",
"d":"b0ZITVvcIYEYwKv9j05RTPqG0bsQ4Gag4Sm5pPBG42TfVK5vAujpMXiPv7cG5o3vR0TTn8IsPIVkXyUpB2M5x4_8Rh4KXD2X7ZqxA4VHYE1dxz6G8gpqIuQqjZBMzECEANCBZYrm7DiCRcxWWpYgQLzPZbnz8PNIh2ZIhy7ud_k",
"p":"-dBZR7TPcs4uWa9oqDGdBfTE2b8pZLIQkwhdSsUmHOUdEXWYDJMf5cVV7lbwEBJN3CIzQjziIDqTG4kINkX3aw",
"q":"zq_m-p07yfCwD01InY2P1ehEewFuNDXfVjlRVnoKw4p0aAiYfd7MNuQIbsiPAW_sRz8iG1ucoE2OOnOY9_3YfQ",
"dp":"0145HFXdLJtNVm73E1CfNnnq0P5QrLWJFo7-OJRk8g_dL3ebBhC57XSxh28hwcdq_3Ykfsf64CAPdj3Up-89Lw",
"dq":"VVzK3biwp8-TN06o7gE4ZZUfK1pE5KVXTyovELMo3OfC-fCK4nlxCD6XyQFmJqbOBALsGDZ28rH1SujRRaL-lQ",
"qi":"3kQUSJTvK7ms2SE0F0rGjvJZsPb9hOJE0NFw7mNROBI7p7vrGy2GLa3pKFeAc-xs_5eDewNxkm6aIvZTbIz2qw"}"#;

const TOO_SMALL: Error = Error::RsaKeyTooSmall { bits: 1024 };

#[test]
fn rsa_1024_public_key_is_refused_at_load() {
    assert_eq!(Key::from_pem(RSA_1024_PUBLIC).unwrap_err(), TOO_SMALL);
    assert_eq!(
        Key::parse(RSA_1024_PUBLIC.as_bytes()).unwrap_err(),
        TOO_SMALL
    );
    assert_eq!(
        Key::parse(&pem_der(RSA_1024_PUBLIC)).unwrap_err(),
        TOO_SMALL
    );
    let jwk = json!({"kty": "RSA", "n": RSA_1024_N, "e": "AQAB"});
    assert_eq!(
        Key::from_jwk(jwk.as_object().unwrap()).unwrap_err(),
        TOO_SMALL
    );
    assert_eq!(
        Key::parse(jwk.to_string().as_bytes()).unwrap_err(),
        TOO_SMALL
    );
    assert_eq!(
        TOO_SMALL.to_string(),
        "RSA key is 1024 bits; at least 2048 bits are required"
    );
    // In a JWK Set the key is skipped, with the reason.
    let (set, skipped) = KeySet::from_jwks(json!({"keys": [jwk]}).as_object().unwrap()).unwrap();
    assert!(set.is_empty());
    assert_eq!(
        skipped,
        ["key 0 ((no kid)): RSA key is 1024 bits; at least 2048 bits are required"]
    );
}

#[test]
fn rsa_1024_private_key_is_refused_at_load() {
    // Every private form is refused; the rule asks for the same typed error as the public key.
    let results = [
        ("PKCS#8 PEM", Key::from_pem(RSA_1024_PKCS8).err()),
        ("PKCS#1 PEM", Key::from_pem(RSA_1024_PKCS1).err()),
        ("PKCS#8 DER", Key::parse(&pem_der(RSA_1024_PKCS8)).err()),
        ("PKCS#1 DER", Key::parse(&pem_der(RSA_1024_PKCS1)).err()),
        (
            "private JWK",
            Key::parse(RSA_1024_PRIVATE_JWK.as_bytes()).err(),
        ),
    ];
    for (form, result) in &results {
        assert!(result.is_some(), "{form}: a 1024-bit key was accepted");
    }
    let wrong: Vec<String> = results
        .iter()
        .filter(|(_, e)| e.as_ref() != Some(&TOO_SMALL))
        .map(|(form, e)| format!("{form}: {e:?}"))
        .collect();
    assert!(
        wrong.is_empty(),
        "expected {TOO_SMALL:?} for every form, got:\n{}",
        wrong.join("\n")
    );
}

/// The x of small-order and non-canonical Ed25519 public keys (base64url), with the reason.
const WEAK_ED25519: [(&str, &str); 5] = [
    // The identity point (order 1): x = 0, y = 1.
    (
        "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "a point of small order",
    ),
    // The point of order 2 (y = p - 1).
    (
        "7P_______________________________________38",
        "a point of small order",
    ),
    // A point of order 4 (y = 0).
    (
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "a point of small order",
    ),
    // A point of order 8.
    (
        "JuiVj8KyJ7BFw_SJ8u-Y8NXfrAXTxjM5sTgCiG1T_AU",
        "a point of small order",
    ),
    // y = p + 1: the identity again, written non-canonically.
    (
        "7v_______________________________________38",
        "not canonically encoded (y is not below 2^255 - 19)",
    ),
];

#[test]
fn ed25519_small_order_and_non_canonical_public_keys_are_refused_at_load() {
    // Under such a key a fixed signature verifies any message (`ed25519::tests` in the crate
    // shows aws-lc-rs accepting R = identity, S = 0), so the key itself must be refused.
    for (x, reason) in WEAK_ED25519 {
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": x});
        let expected = Error::WeakEd25519Key(reason);
        assert_eq!(
            Key::from_jwk(jwk.as_object().unwrap()).unwrap_err(),
            expected,
            "{x}"
        );
        // SPKI (PEM and DER) too: 302a300506032b6570032100 || x.
        let mut spki = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        spki.extend(b64::decode(x.as_bytes()).unwrap());
        assert_eq!(Key::parse(&spki).unwrap_err(), expected, "{x} as DER");
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(&spki)
        );
        assert_eq!(Key::from_pem(&pem).unwrap_err(), expected, "{x} as PEM");
        // In a JWK Set the key is skipped with the reason; nothing is left to trust.
        let (set, skipped) =
            KeySet::from_jwks(json!({"keys": [jwk]}).as_object().unwrap()).unwrap();
        assert!(set.is_empty());
        assert_eq!(skipped, [format!("key 0 ((no kid)): {expected}")]);
    }
    assert_eq!(
        Error::WeakEd25519Key("a point of small order").to_string(),
        "Ed25519 public key is a point of small order: it would verify forged signatures"
    );
}

#[test]
fn rsa_public_exponent_one_or_even_is_refused_at_load() {
    // With e = 1 the "signature" of a message is its padded encoding: anyone can forge one.
    let real = rsa().public_jwk();
    for e in ["AQ", "Ag", "AAE", "AAAAAQ"] {
        let mut jwk = real.clone();
        jwk.insert("e".into(), e.into());
        jwk.remove("kid");
        let err = Key::from_jwk(&jwk).unwrap_err();
        assert!(
            matches!(&err, Error::Key(m) if m.starts_with("RSA public exponent must be odd, greater than 1")),
            "e = {e}: {err:?}"
        );
    }
}

#[test]
fn jwk_set_parsing_is_linear_and_capped() {
    // Duplicate kids are still found, wherever they are.
    let mut keys: Vec<Value> = (0..jose::keyset::MAX_KEYS - 1)
        .map(|i| json!({"kid": format!("k{i}"), "kty": "unknown"}))
        .collect();
    keys.push(json!({"kid": "k7", "kty": "unknown"}));
    let doc = json!({ "keys": keys });
    assert_eq!(
        KeySet::from_jwks(doc.as_object().unwrap()).unwrap_err(),
        Error::DuplicateKid("k7".into())
    );
    // One member over the cap is refused before any key is read.
    let over: Vec<Value> = (0..=jose::keyset::MAX_KEYS)
        .map(|i| json!({"kid": format!("k{i}")}))
        .collect();
    let err = KeySet::from_jwks_json(json!({ "keys": over }).to_string().as_bytes()).unwrap_err();
    assert_eq!(
        err,
        Error::TooManyKeys {
            found: jose::keyset::MAX_KEYS + 1,
            max: jose::keyset::MAX_KEYS
        }
    );
    assert_eq!(
        err.to_string(),
        "JWK Set has 1001 keys; at most 1000 are accepted"
    );
    // The attack's 1 MiB set of 66k kid-only members: refused, not parsed key by key. With the
    // cap raised, 100k distinct kids still parse (linear; timed in BENCHMARKS.md, not here).
    let many: String = (0..100_000)
        .map(|i| format!("{{\"kid\":\"{i}\"}}"))
        .collect::<Vec<_>>()
        .join(",");
    let many = format!("{{\"keys\":[{many}]}}");
    assert!(matches!(
        KeySet::from_jwks_json(many.as_bytes()),
        Err(Error::TooManyKeys { found: 100_000, .. })
    ));
    let (set, skipped) = KeySet::from_jwks_json_with_limit(many.as_bytes(), 100_000).unwrap();
    assert!(set.is_empty());
    assert_eq!(skipped.len(), 100_000);
}

// =====================================================================================
// Rule: claims.
// =====================================================================================

fn jwt(claims: Value) -> (Verifier, String) {
    let key = hs256();
    let t = Signer::new(key.clone(), Algorithm::HS256)
        .unwrap()
        .sign_claims(&claims)
        .unwrap();
    (Verifier::new(key), t)
}

#[test]
fn claims_exp_in_the_past_is_expired() {
    let (v, t) = jwt(json!({"sub": "alice", "exp": NOW - 3600}));
    let e = v.verify_jwt(&t, &at(NOW)).unwrap_err();
    assert!(matches!(e, Error::Expired { exp, now: NOW, .. } if exp == (NOW - 3600) as f64));
    assert!(e.to_string().contains("exp is in the past (expired"), "{e}");
    assert_eq!(e.to_string(), "exp is in the past (expired 1 h ago)");
    // Raw mode does not look at claims.
    assert!(v.verify(&t).is_ok());
    // Just beyond the default 60 s leeway.
    let (v, t) = jwt(json!({"exp": NOW - 60}));
    assert!(matches!(
        v.verify_jwt(&t, &at(NOW)).unwrap_err(),
        Error::Expired { .. }
    ));
}

#[test]
fn claims_exp_within_leeway_is_accepted() {
    for exp in [NOW - 59, NOW - 30, NOW, NOW + 3600] {
        let (v, t) = jwt(json!({"exp": exp}));
        assert!(v.verify_jwt(&t, &at(NOW)).is_ok(), "exp {exp}");
    }
    // With no leeway, the same token is expired.
    let (v, t) = jwt(json!({"exp": NOW - 30}));
    let strict = Validation {
        leeway: 0,
        ..at(NOW)
    };
    assert!(matches!(
        v.verify_jwt(&t, &strict).unwrap_err(),
        Error::Expired { .. }
    ));
}

#[test]
fn claims_nbf_in_the_future_is_not_yet_valid() {
    let (v, t) = jwt(json!({"nbf": NOW + 3600}));
    let e = v.verify_jwt(&t, &at(NOW)).unwrap_err();
    assert!(matches!(e, Error::NotYetValid { now: NOW, .. }), "{e:?}");
    assert_eq!(e.to_string(), "nbf is in the future (valid in 1 h)");
    let (v, t) = jwt(json!({"nbf": NOW + 61}));
    assert!(matches!(
        v.verify_jwt(&t, &at(NOW)).unwrap_err(),
        Error::NotYetValid { .. }
    ));
    let (v, t) = jwt(json!({"nbf": NOW + 60}));
    assert!(v.verify_jwt(&t, &at(NOW)).is_ok(), "within leeway");
}

#[test]
fn claims_string_exp_is_claim_type_not_absent() {
    // A library that reads exp only when it is a number treats "9999999999" as no exp at all,
    // or parses it; either way the expiry check is skipped or wrong.
    let date = |claim: &str| Error::ClaimType {
        claim: claim.into(),
        expected: "a NumericDate (a JSON number of seconds since 1970)",
    };
    for (claims, claim) in [
        (json!({"exp": "9999999999"}), "exp"),
        (json!({"exp": "1"}), "exp"),
        (json!({"exp": null}), "exp"),
        (json!({"exp": [9_999_999_999_i64]}), "exp"),
        (json!({"nbf": "0"}), "nbf"),
        (json!({"iat": true}), "iat"),
    ] {
        let (v, t) = jwt(claims.clone());
        assert_eq!(
            v.verify_jwt(&t, &at(NOW)).unwrap_err(),
            date(claim),
            "{claims}"
        );
        // Even with exp checks off, the type is still checked.
        let off = Validation {
            check_exp: false,
            check_nbf: false,
            ..at(NOW)
        };
        assert_eq!(v.verify_jwt(&t, &off).unwrap_err(), date(claim));
    }
}

#[test]
fn claims_aud_as_number_is_claim_type() {
    let wrong = Error::ClaimType {
        claim: "aud".into(),
        expected: "a string or an array of strings",
    };
    for aud in [
        json!(5),
        json!(["api", 1]),
        json!({"api": true}),
        json!(null),
    ] {
        let (v, t) = jwt(json!({"aud": aud}));
        assert_eq!(v.verify_jwt(&t, &at(NOW)).unwrap_err(), wrong, "{aud}");
        let mut want = at(NOW);
        want.audiences = vec!["5".into()];
        assert_eq!(v.verify_jwt(&t, &want).unwrap_err(), wrong);
    }
}

#[test]
fn claims_wrong_iss_aud_sub() {
    let (v, t) = jwt(json!({
        "iss": "https://issuer.example.evil",
        "aud": ["https://other.example", "https://api.example/x"],
        "sub": "Alice"
    }));
    let mut want = at(NOW);
    want.issuers = vec!["https://issuer.example".into()];
    assert_eq!(
        v.verify_jwt(&t, &want).unwrap_err(),
        Error::WrongIssuer {
            expected: "\"https://issuer.example\"".into(),
            found: "https://issuer.example.evil".into()
        }
    );
    let mut want = at(NOW);
    want.audiences = vec!["https://api.example".into()];
    assert_eq!(
        v.verify_jwt(&t, &want).unwrap_err(),
        Error::WrongAudience {
            expected: "\"https://api.example\"".into(),
            found: "[\"https://other.example\", \"https://api.example/x\"]".into()
        }
    );
    let mut want = at(NOW);
    want.subject = Some("alice".into());
    assert_eq!(
        v.verify_jwt(&t, &want).unwrap_err(),
        Error::WrongSubject {
            expected: "alice".into(),
            found: "Alice".into()
        }
    );
    // Absent claims that are asked for are missing, not matching.
    let (v, t) = jwt(json!({}));
    let mut want = at(NOW);
    want.issuers = vec!["https://issuer.example".into()];
    assert_eq!(
        v.verify_jwt(&t, &want).unwrap_err(),
        Error::MissingClaim("iss".into())
    );
}

#[test]
fn claims_typ_mismatch_is_wrong_type() {
    // Signer::new writes typ "JWT"; an access token must be "at+jwt" (RFC 9068).
    let (v, t) = jwt(json!({"sub": "alice"}));
    let mut want = at(NOW);
    want.typ = Some("at+jwt".into());
    assert_eq!(
        v.verify_jwt(&t, &want).unwrap_err(),
        Error::WrongType {
            expected: "at+jwt".into(),
            found: "JWT".into()
        }
    );
    // No typ at all.
    let key = hs256();
    let t = signed(r#"{"alg":"HS256"}"#, b"{}", &key, Algorithm::HS256);
    assert_eq!(
        Verifier::new(key).verify_jwt(&t, &want).unwrap_err(),
        Error::MissingType {
            expected: "at+jwt".into()
        }
    );
}

#[test]
fn claims_required_claim_missing() {
    let (v, t) = jwt(json!({"sub": "alice", "exp": NOW + 600}));
    let mut want = at(NOW);
    want.required = vec!["sub".into(), "exp".into(), "jti".into()];
    assert_eq!(
        v.verify_jwt(&t, &want).unwrap_err(),
        Error::MissingClaim("jti".into())
    );
    want.required.pop();
    assert!(v.verify_jwt(&t, &want).is_ok());
}

// =====================================================================================
// Rule: signing keeps claim order.
// =====================================================================================

#[test]
fn signing_keeps_claim_order() {
    let key = hs256();
    let mut claims = Map::new();
    claims.insert("z".into(), json!(1));
    claims.insert("a".into(), json!({"y": 2, "b": 3}));
    claims.insert("m".into(), json!("three"));
    let t = Signer::new(key.clone(), Algorithm::HS256)
        .unwrap()
        .sign_claims(&claims)
        .unwrap();
    let payload = jws::decode(&t).unwrap().payload;
    assert_eq!(payload, br#"{"z":1,"a":{"y":2,"b":3},"m":"three"}"#);
    let verified = Verifier::new(key).verify_jwt(&t, &at(NOW)).unwrap();
    assert_eq!(verified.claims.keys().collect::<Vec<_>>(), ["z", "a", "m"]);
}

// =====================================================================================
// Rule: no panic on any input.
// =====================================================================================

/// xorshift64: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn flip_bits(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        if out.is_empty() {
            return out;
        }
        for _ in 0..=self.below(3) {
            let i = self.below(out.len());
            out[i] ^= 1 << self.below(8);
        }
        out
    }
}

/// Random JSON of bounded depth, biased towards values that stress claim checks.
fn random_value(rng: &mut Rng, depth: usize) -> Value {
    let numbers = [
        json!(0),
        json!(-1),
        json!(i64::MIN),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(1e308),
        json!(-1e308),
        json!(f64::MIN_POSITIVE),
        json!(0.5),
        json!(NOW),
        json!(NOW - 61),
        json!(NOW + 61),
        json!(9_999_999_999_i64),
    ];
    let strings = [
        "",
        "none",
        "JWT",
        "at+jwt",
        "9999999999",
        "\u{0}",
        "\u{202e}",
        "a",
    ];
    match rng.below(if depth >= 3 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => rng.pick(&numbers).clone(),
        3 => json!(rng.pick(&strings)),
        4 => json!(rng.next() as i64),
        5 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut m = Map::new();
            for _ in 0..rng.below(4) {
                let name = (*rng.pick(&["a", "exp", "aud", "x", "crit"])).to_owned();
                m.insert(name, random_value(rng, depth + 1));
            }
            Value::Object(m)
        }
    }
}

fn random_claims(rng: &mut Rng) -> Map<String, Value> {
    let mut m = Map::new();
    for name in ["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "x"] {
        if rng.below(2) == 0 {
            m.insert(name.into(), random_value(rng, 1));
        }
    }
    m
}

fn random_validation(rng: &mut Rng) -> Validation {
    let some = |rng: &mut Rng, s: &str| {
        if rng.below(2) == 0 {
            vec![s.to_owned()]
        } else {
            Vec::new()
        }
    };
    let any = rng.next();
    Validation {
        leeway: *rng.pick(&[0, 60, u64::MAX, any]),
        now: *rng.pick(&[None, Some(NOW), Some(0), Some(i64::MIN), Some(i64::MAX)]),
        check_exp: rng.below(4) != 0,
        check_nbf: rng.below(4) != 0,
        issuers: some(rng, "a"),
        audiences: some(rng, "a"),
        subject: if rng.below(3) == 0 {
            Some("a".into())
        } else {
            None
        },
        typ: if rng.below(3) == 0 {
            Some("at+jwt".into())
        } else {
            None
        },
        required: some(rng, "exp"),
    }
}

/// Uses every result (and every error's message) so nothing is optimised away.
fn touch<T>(r: Result<T, Error>) {
    if let Err(e) = r {
        assert!(!e.to_string().is_empty());
        let _ = e.is_token_error();
    }
}

fn exercise_token(verifiers: &[Verifier], token: &str, validation: &Validation) {
    for v in verifiers {
        touch(v.verify(token));
        touch(v.verify_jwt(token, validation));
    }
    touch(jws::decode(token));
}

fn exercise_key(bytes: &[u8]) {
    if let Ok(key) = Key::parse(bytes) {
        let _ = key.thumbprint();
        let _ = key.public_jwk();
        touch(key.private_jwk());
        touch(key.public_pem());
        touch(key.to_public());
        let _ = key.algorithms();
        let _ = key.default_algorithm();
    }
    touch(KeySet::from_jwks_json(bytes));
    let _ = b64::decode(bytes);
    touch(jose::json::parse_object(bytes, Part::Payload));
}

struct Fuzz {
    count: usize,
    panics: Vec<String>,
}

impl Fuzz {
    fn run(&mut self, what: &str, input: &dyn Debug, f: impl FnOnce()) {
        self.count += 1;
        if catch_unwind(AssertUnwindSafe(f)).is_err() {
            let mut shown = format!("{input:?}");
            shown.truncate(600);
            self.panics.push(format!("{what}: {shown}"));
        }
    }
}

#[test]
fn no_panic_on_any_input() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut fuzz = Fuzz {
        count: 0,
        panics: Vec::new(),
    };

    let hmac = hs256().with_kid("h");
    let rsa_key = rsa();
    let ec = generate(Algorithm::ES256);
    let ed = generate(Algorithm::EdDSA);
    let verifiers = vec![
        Verifier::new(hmac.clone()),
        Verifier::new(public(&rsa_key)),
        Verifier::new(public(&ec)),
        Verifier::new(public(&ed)),
        Verifier::new(KeySet::new(vec![
            hmac.clone(),
            public(&rsa_key),
            public(&ec),
            public(&ed),
        ]))
        .understand_crit(&["x"]),
    ];
    let claims = json!({"iss": "a", "sub": "a", "aud": ["a"], "exp": NOW + 60, "nbf": NOW,
                        "iat": NOW, "jti": "j"});
    let mut tokens: Vec<String> = [
        (&hmac, Algorithm::HS256),
        (&rsa_key, Algorithm::RS256),
        (&ec, Algorithm::ES256),
        (&ed, Algorithm::EdDSA),
    ]
    .iter()
    .map(|(k, a)| {
        Signer::new((*k).clone(), *a)
            .unwrap()
            .sign_claims(&claims)
            .unwrap()
    })
    .collect();
    tokens.push(signed(
        r#"{"alg":"HS256","kid":"h","crit":["x"],"x":{"y":[1]}}"#,
        b"[]",
        &hmac,
        Algorithm::HS256,
    ));
    tokens.push(jws::sign_unsecured_insecure(&Map::new(), b"{}"));
    for t in &tokens[..4] {
        assert!(
            verifiers[4].verify_jwt(t, &at(NOW)).is_ok(),
            "base tokens are valid"
        );
    }

    // 1. Random bytes, made into text lossily.
    for _ in 0..2_500 {
        let len = rng.below(200);
        let text = String::from_utf8_lossy(&rng.bytes(len)).into_owned();
        let v = random_validation(&mut rng);
        fuzz.run("random bytes", &text, || {
            exercise_token(&verifiers, &text, &v)
        });
    }
    // 2. Random text from the token alphabet, with dots, padding, whitespace and non-ASCII.
    let alphabet: Vec<char> =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_....=+/ \n\u{e9}\u{1f600}"
            .chars()
            .collect();
    for _ in 0..2_500 {
        let len = rng.below(300);
        let text: String = (0..len).map(|_| *rng.pick(&alphabet)).collect();
        let v = random_validation(&mut rng);
        fuzz.run("random text", &text, || {
            exercise_token(&verifiers, &text, &v)
        });
    }
    // 3. Bit flips of valid tokens.
    for _ in 0..6_000 {
        let base = rng.pick(&tokens).clone();
        let text = String::from_utf8_lossy(&rng.flip_bits(base.as_bytes())).into_owned();
        let v = random_validation(&mut rng);
        fuzz.run("bit flip", &text, || exercise_token(&verifiers, &text, &v));
    }
    // 4. Every truncation (prefix) of every token, and some suffixes.
    for base in &tokens {
        for cut in 0..=base.len() {
            let (head, tail) = base.split_at(cut);
            let v = at(NOW);
            fuzz.run("prefix", &head, || exercise_token(&verifiers, head, &v));
            if cut % 7 == 0 {
                fuzz.run("suffix", &tail, || exercise_token(&verifiers, tail, &v));
            }
        }
    }
    // 5. Dots inserted, removed and segments shuffled or spliced between tokens.
    for _ in 0..2_500 {
        let base = rng.pick(&tokens).clone();
        let other = rng.pick(&tokens).clone();
        let mut text = base.clone();
        match rng.below(5) {
            0 => text.insert(rng.below(text.len() + 1), '.'),
            1 => {
                if let Some(i) = text.find('.') {
                    text.remove(i);
                }
            }
            2 => {
                let parts: Vec<&str> = base.split('.').collect();
                text = (0..rng.below(6))
                    .map(|_| *rng.pick(&parts))
                    .collect::<Vec<_>>()
                    .join(".");
            }
            3 => {
                let (a, b) = (rng.below(base.len() + 1), rng.below(other.len() + 1));
                text = format!("{}{}", &base[..a], &other[b..]);
            }
            _ => {
                for _ in 0..=rng.below(4) {
                    let i = rng.below(text.len());
                    let c = *rng.pick(&['.', '=', '+', '/', ' ', 'A', '_', '-']);
                    text.replace_range(i..=i, &c.to_string());
                }
            }
        }
        let v = random_validation(&mut rng);
        fuzz.run("dots/splice", &text, || {
            exercise_token(&verifiers, &text, &v)
        });
    }
    // 6. Correctly signed tokens with random headers and claims: reaches claim validation.
    for _ in 0..2_000 {
        let mut header = Map::new();
        header.insert("alg".into(), "HS256".into());
        for name in ["kid", "typ", "crit", "x", "b64", "jwk"] {
            if rng.below(3) == 0 {
                header.insert(name.into(), random_value(&mut rng, 1));
            }
        }
        let payload = Value::Object(random_claims(&mut rng)).to_string();
        let text = signed(
            &Value::Object(header).to_string(),
            payload.as_bytes(),
            &hmac,
            Algorithm::HS256,
        );
        let v = random_validation(&mut rng);
        fuzz.run("signed random claims", &(&text, &v), || {
            exercise_token(&verifiers, &text, &v)
        });
    }
    // 7. Keys: random bytes, mutated PEM, DER and JWK of real keys, JWK Sets.
    let mut key_texts: Vec<Vec<u8>> = Vec::new();
    for key in [&hmac, &rsa_key, &ec, &ed] {
        if let Ok(pem) = key.private_pem() {
            key_texts.push(pem_der(&pem));
            key_texts.push(pem.into_bytes());
        }
        if let Ok(pem) = key.public_pem() {
            key_texts.push(pem_der(&pem));
            key_texts.push(pem.into_bytes());
        }
        key_texts.push(
            Value::Object(key.private_jwk().unwrap())
                .to_string()
                .into_bytes(),
        );
        key_texts.push(Value::Object(key.public_jwk()).to_string().into_bytes());
    }
    key_texts.push(
        KeySet::new(vec![public(&ec), public(&ed)])
            .to_public_jwks()
            .to_string()
            .into_bytes(),
    );
    key_texts.push(RSA_1024_PKCS1.as_bytes().to_vec());
    key_texts.push(STANDARD.decode(ATTACKER_CERT_B64).unwrap());
    for _ in 0..1_500 {
        let len = rng.below(300);
        let bytes = rng.bytes(len);
        fuzz.run("key: random bytes", &bytes, || exercise_key(&bytes));
    }
    for _ in 0..2_500 {
        let base = rng.pick(&key_texts).clone();
        let bytes = match rng.below(3) {
            0 => rng.flip_bits(&base),
            1 => base[..rng.below(base.len() + 1)].to_vec(),
            _ => {
                // Flip a bit inside the DER of a PEM, then re-wrap it: reaches the DER parser.
                let text = String::from_utf8_lossy(&base).into_owned();
                if text.starts_with("-----BEGIN") {
                    let label = text.lines().next().unwrap().to_owned();
                    let end = label.replace("BEGIN", "END");
                    let der = rng.flip_bits(&pem_der(&text));
                    format!("{label}\n{}\n{end}\n", STANDARD.encode(der)).into_bytes()
                } else {
                    rng.flip_bits(&base)
                }
            }
        };
        fuzz.run("key: mutated", &String::from_utf8_lossy(&bytes), || {
            exercise_key(&bytes)
        });
    }
    // Structured JWKs with random members.
    for _ in 0..1_000 {
        let mut jwk = Map::new();
        jwk.insert(
            "kty".into(),
            json!(rng.pick(&["RSA", "EC", "OKP", "oct", "x"])),
        );
        jwk.insert(
            "crv".into(),
            json!(rng.pick(&["P-256", "P-384", "P-521", "secp256k1", "Ed25519", "X25519"])),
        );
        for name in ["n", "e", "d", "p", "q", "dp", "dq", "qi", "x", "y", "k"] {
            if rng.below(2) == 0 {
                let len = *rng.pick(&[0, 1, 3, 31, 32, 33, 48, 64, 66, 128, 256, 257]);
                let bytes = rng.bytes(len);
                jwk.insert(name.into(), json!(b64::encode(bytes)));
            }
        }
        for name in ["alg", "use", "kid", "key_ops", "oth"] {
            if rng.below(4) == 0 {
                jwk.insert(name.into(), random_value(&mut rng, 2));
            }
        }
        let bytes = Value::Object(jwk).to_string().into_bytes();
        fuzz.run("key: random JWK", &String::from_utf8_lossy(&bytes), || {
            exercise_key(&bytes)
        });
    }

    assert!(fuzz.count >= 20_000, "only {} inputs", fuzz.count);
    assert!(
        fuzz.panics.is_empty(),
        "{} of {} inputs panicked; first ones:\n{}",
        fuzz.panics.len(),
        fuzz.count,
        fuzz.panics
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
