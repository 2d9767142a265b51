//! The configuration examples in `docs/DESIGN.md` are real configurations: each TOML block is
//! read by the same parser the servers use, so a field the design names exists, and every
//! field of the gateway example is one the gateway knows.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::TempDir;

/// The first ```toml block after the heading that starts with `heading`.
fn toml_block(heading: &str) -> String {
    let design = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/DESIGN.md"))
        .expect("docs/DESIGN.md");
    let section = design
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("no section {heading:?} in docs/DESIGN.md"));
    let start = section.find("```toml\n").expect("a ```toml block") + "```toml\n".len();
    let end = start + section[start..].find("```").expect("the block's end");
    section[start..end].to_owned()
}

#[test]
fn the_gateway_example_parses_with_every_field_known() {
    let text = toml_block("8. `signet gateway`");
    let config = gateway::config::parse(&text, std::path::Path::new(".")).unwrap();
    assert_eq!(config.applications.len(), 2);
    assert!(config.web_session.is_some() && config.api_session.is_some());
    assert_eq!(config.identity_mappings[0].name, "backend-jwt");
}

#[test]
fn the_authz_example_is_a_valid_configuration() {
    let text = toml_block("7. `signet authz`");
    let dir = TempDir::new();
    // The example names a JWK Set file of the application's RSA keys.
    let key = jose::Key::generate(jose::Algorithm::RS256).unwrap();
    dir.write(
        "app-1.jwks",
        jose::KeySet::from(key.to_public().unwrap())
            .to_public_jwks()
            .to_string(),
    );
    let config = authz::config::Config::from_toml(&text, &dir.0)
        .unwrap_or_else(|e| panic!("docs/DESIGN.md's authz example: {e}"));
    assert_eq!(config.environments.len(), 1);
    assert_eq!(config.environments[0].id, "env-1");
}
