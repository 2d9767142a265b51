//! The gateway's backend response-head parser (`upstream/http1.rs`): any bytes. Nothing may
//! panic; a parsed head never forwards hop-by-hop fields or a Content-Length beside a
//! Transfer-Encoding, and what is left after the head is a suffix of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
];

fuzz_target!(|data: &[u8]| {
    let Ok(Some((status, fields, framing, rest))) = gateway::fuzzing::response_head(data) else {
        return;
    };
    assert!((100..1000).contains(&status));
    assert!(rest <= data.len());
    for (name, _) in &fields {
        assert!(
            !HOP_BY_HOP.contains(&name.as_str()),
            "hop-by-hop field {name} forwarded"
        );
    }
    if framing.as_deref() == Some("chunked") {
        assert!(fields.iter().all(|(n, _)| n != "content-length"));
    }
});
