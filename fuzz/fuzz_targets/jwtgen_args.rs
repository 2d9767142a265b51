//! jwtgen's argument parsing and token building (`src/jwtgen.rs`, the drop-in for npm
//! `jwtgen`): the input is the argument list, NUL-separated. Nothing may panic; the exit code
//! is 0 or 1, and output goes to stdout on success and stderr on failure, never both.
//! Inputs with an argument holding `dev` or `proc` are left out, so a `-p` key file cannot be a
//! device or `/proc/self/fd/0` (reading a terminal would block); regular files are harmless.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// `src/jwtgen.rs` and its modules (`src/jwtgen/`), compiled into this target.
#[allow(dead_code, clippy::all)]
#[path = "../../src/jwtgen.rs"]
mod jwtgen;

/// What `jwtgen.rs` takes from the binary crate.
mod clock {
    pub fn now() -> i64 {
        1_764_000_000
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 4096 {
        return;
    }
    let text = String::from_utf8_lossy(data);
    let args: Vec<String> = text.split('\0').map(str::to_owned).collect();
    if args.iter().any(|a| a.contains("dev") || a.contains("proc")) || args.len() > 64 {
        return;
    }
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = jwtgen::run(&args, clock::now(), &mut out, &mut err);
    match code {
        0 => assert!(err.is_empty(), "exit 0 with stderr"),
        1 => assert!(
            out.is_empty() && !err.is_empty(),
            "exit 1 without only stderr"
        ),
        other => panic!("exit code {other}"),
    }
});
