//! The strict JSON parser (`jose::json`) against serde_json, differentially: whatever the strict
//! parser accepts, serde_json accepts with the same value; whatever serde_json accepts and the
//! strict parser refuses, it refuses for one of its documented reasons (a duplicate member, too
//! deep, not an object).
#![no_main]

use jose::{Error, Part};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let strict = jose::json::parse_object(data, Part::Payload);
    let serde: Result<serde_json::Value, _> = serde_json::from_slice(data);
    match (&strict, &serde) {
        (Ok(map), Ok(value)) => {
            assert_eq!(&serde_json::Value::Object(map.clone()), value)
        }
        (Ok(map), Err(e)) => panic!("strict accepted what serde_json refuses ({e}): {map:?}"),
        (Err(e), Ok(value)) => assert!(
            matches!(
                e,
                Error::DuplicateMember { .. } | Error::TooDeep { .. } | Error::NotAnObject { .. }
            ) || (matches!(e, Error::NotUtf8 { .. }) && !value.is_object()),
            "strict refused valid JSON ({e:?}): {value}"
        ),
        (Err(_), Err(_)) => {}
    }
});
