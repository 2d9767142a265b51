//! The claims fast paths against the strict parser: the flat-object fast path, when it answers,
//! answers what the full strict parser does; and the shape-cached parse (which the verifier uses
//! for every token's claims) gives the same result as an uncached parse, whatever object taught
//! the cache its shape. The input is two JSON texts separated by a NUL.
#![no_main]

use jose::json::fuzzing::{fast_path, shaped_after};
use jose::Part;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |&b| b == 0);
    let first = parts.next().unwrap_or_default();
    let second = parts.next().unwrap_or_default();
    for text in [first, second] {
        if let Ok(s) = std::str::from_utf8(text) {
            if let Some(fast) = fast_path(s) {
                let full = jose::json::parse_value(s, Part::Payload)
                    .expect("the fast path accepted what the strict parser refuses");
                assert_eq!(serde_json::Value::Object(fast), full);
            }
        }
    }
    let plain = jose::json::parse_object(second, Part::Payload);
    let shaped = shaped_after(first, second);
    match (plain, shaped) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b);
            assert!(a.keys().eq(b.keys()), "member order differs");
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (a, b) => panic!("the shape cache changed the answer: {a:?} vs {b:?}"),
    }
});
