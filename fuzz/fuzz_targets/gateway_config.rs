//! The gateway's configuration: TOML load, then every `--check` rule. Nothing may panic, and a
//! configuration either loads or fails with a message. Inputs that could name a file outside the
//! (empty) base directory — a `/`, or a TOML escape that could spell one — are skipped, so the
//! checks that read files cannot touch the machine's.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn base() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("signet-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.contains('/') || text.contains("\\u") || text.contains("\\U") || text.contains("..") {
        return;
    }
    match gateway::config::parse(text, base()) {
        Ok(config) => {
            for p in gateway::check(&config) {
                assert!(!p.to_string().is_empty());
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
