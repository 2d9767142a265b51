//! The gateway's chunked-body decoder (`Chunk::step`): the input is a body and the sizes of the
//! pieces it arrives in (the first byte seeds them). Nothing may panic, and the result — the
//! data, whether it ended, or malformed — is the same however the bytes are split.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&seed, body)) = data.split_first() else {
        return;
    };
    let whole = gateway::fuzzing::chunked(&[body]);
    let step = usize::from(seed % 17) + 1;
    let pieces: Vec<&[u8]> = body.chunks(step).collect();
    let split = gateway::fuzzing::chunked(&pieces);
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    let one_by_one = gateway::fuzzing::chunked(&bytes);
    assert_eq!(whole, split, "pieces of {step}");
    assert_eq!(whole, one_by_one, "one byte at a time");
    if let Ok((out, _)) = &whole {
        assert!(out.len() <= body.len());
    }
});
