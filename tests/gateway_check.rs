//! `signet gateway --check`: the real binary validating gateway configurations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{signet, signet_in, TempDir};

/// The gateway example of the original design, verbatim (`tests/docs.rs` checks the one in
/// docs/DESIGN.md).
const DESIGN_EXAMPLE: &str = r#"
[listen]
http = "127.0.0.1:3000"
# https = "127.0.0.1:3443"; tls_cert, tls_key, client_ca (request client certificates)
[auth_token]
issuer = "signet"
signing_algorithm = "ES256"              # ES256 default; ES384, ES512, RS256, PS256, EdDSA
key_roll_enabled = true
key_roll_interval_hours = 24
keyset_file = "gateway-keys.json"        # created if missing; replicas that share it agree on the active key
[api_session]                            # sessions from bearer tokens of an upstream issuer
issuer = "https://idp.example"
jwks = "idp-jwks.json"                   # file or URL
audience = "gateway"
[[identity_mapping]]
name = "backend-jwt"
map_as_bearer_token = false
header_name = "X-Identity-JWT"
audience = "orders-api"                  # required
exclusion_list = false
attribute_mappings = [
  { user_attribute_name = "sub", jwt_claim_name = "sub", subject = true },
  { user_attribute_name = "address.city", jwt_claim_name = "address.city" },
]
exclusion_list_attributes = []
exclusion_list_subject = "sub"
cache_jwt = true
client_certificate_jwt_claim_name = "x5c"
max_depth = 1
lifetime_seconds = 300
[[application]]
name = "orders"
context_root = "/orders"
backend = "http://127.0.0.1:8080"
session = "api"
identity_mapping = "backend-jwt"
"#;

/// A directory with the example configuration and the upstream JWK Set it names.
fn example_dir() -> (TempDir, String) {
    let dir = TempDir::new();
    let key = jose::Key::generate(jose::Algorithm::ES256)
        .unwrap()
        .to_public()
        .unwrap();
    dir.write(
        "idp-jwks.json",
        jose::KeySet::from(key).to_public_jwks().to_string(),
    );
    let config = dir.write("gateway.toml", DESIGN_EXAMPLE);
    (dir, config)
}

#[test]
fn the_design_example_is_valid() {
    let (dir, config) = example_dir();
    let r = signet(&["gateway", "--config", &config, "--check"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with(&format!(
            "{config}: configuration is valid\n{config}: keys: ES256 stored in keyset_file "
        )),
        "{}",
        r.stdout
    );
    assert_eq!(r.stderr, "");
    assert!(
        !dir.0.join("gateway-keys.json").exists(),
        "checking creates no keyset"
    );
}

#[test]
fn check_takes_the_file_directly_too() {
    let (_dir, config) = example_dir();
    let r = signet(&["gateway", "--check", &config]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with(&format!(
            "{config}: configuration is valid\n{config}: keys: ES256 stored in keyset_file "
        )),
        "{}",
        r.stdout
    );
}

#[test]
fn relative_paths_start_at_the_configuration_file() {
    let (dir, _) = example_dir();
    let elsewhere = TempDir::new();
    let config = dir.0.join("gateway.toml");
    let r = signet_in(
        Some(&elsewhere.0),
        &["gateway", "--config", config.to_str().unwrap(), "--check"],
        None,
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn every_problem_is_printed_with_the_file_name() {
    let dir = TempDir::new();
    let config = dir.write(
        "gateway.toml",
        r#"
[listen]
http = "127.0.0.1:3000"
https = "127.0.0.1:3443"
[auth_token]
signing_algorithm = "HS256"
key_roll_interval_hours = 0
[api_session]
issuer = "https://idp.example"
jwks = "missing-jwks.json"
audience = "gateway"
[[identity_mapping]]
name = "backend-jwt"
attribute_mappings = [
  { user_attribute_name = "sub", jwt_claim_name = "sub", subject = true },
  { user_attribute_name = "email", jwt_claim_name = "email", subject = true },
]
[[identity_mapping]]
name = "backend-jwt"
audience = "x"
map_as_bearer_token = true
[[application]]
name = "orders"
context_root = "/orders"
backend = "http://127.0.0.1:8080"
session = "web"
identity_mapping = "no-such-mapping"
[[application]]
name = "orders-again"
context_root = "/orders/"
backend = "ftp://127.0.0.1"
session = "api"
[[application]]
name = "relative"
context_root = "shop"
backend = "http://127.0.0.1:8081"
session = "none"
"#,
    );
    let r = signet(&["gateway", "--config", &config, "--check"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stdout, "");
    let expected = [
        "listen: tls_cert is required when https is set",
        "listen: tls_key is required when https is set",
        "auth_token: signing_algorithm \"HS256\" is not supported (use one of ES256, ES384, ES512, RS256, PS256, EdDSA)",
        "auth_token: key_roll_interval_hours must be at least 1",
        "identity_mapping \"backend-jwt\": the name is used by 2 [[identity_mapping]] entries",
        "identity_mapping \"backend-jwt\": audience is required",
        "identity_mapping \"backend-jwt\": header_name is required when map_as_bearer_token = false",
        "identity_mapping \"backend-jwt\": attribute_mappings marks 2 attributes as subject (\"sub\", \"email\"); at most one may be",
        "application \"orders\": session = \"web\" needs a [web_session] section",
        "application \"orders\": identity_mapping \"no-such-mapping\" is not defined",
        "application \"orders-again\": context_root \"/orders/\" is also the context root of application \"orders\"",
        "application \"orders-again\": backend \"ftp://127.0.0.1\" is not an http(s) URL: the scheme is \"ftp\"",
        "application \"relative\": context_root \"shop\" must start with '/'",
    ];
    let lines: Vec<&str> = r.stderr.lines().collect();
    for message in expected {
        let line = format!("{config}: {message}");
        assert!(
            lines.contains(&line.as_str()),
            "missing {line:?} in\n{}",
            r.stderr
        );
    }
    let jwks_line = format!("{config}: api_session: jwks \"missing-jwks.json\" cannot be read: ");
    assert!(
        lines.iter().any(|l| l.starts_with(&jwks_line)),
        "{}",
        r.stderr
    );
    let count = expected.len() + 1;
    assert_eq!(lines.len(), count + 1, "{}", r.stderr);
    assert_eq!(
        lines.last().copied(),
        Some(
            format!("signet: error: {config}: {count} problems; the configuration is not valid")
                .as_str()
        )
    );
}

#[test]
fn a_typo_in_a_field_name_is_named_with_its_line() {
    let dir = TempDir::new();
    let config = dir.write(
        "gateway.toml",
        "[listen]\nhttp = \"127.0.0.1:3000\"\n[[identity_mapping]]\nname = \"m\"\naudience = \"a\"\nheder_name = \"X-JWT\"\n",
    );
    let r = signet(&["gateway", "--check", &config]);
    assert_eq!(r.code, 2);
    let first = r.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!(
            "{config}: line 6, column 1: unknown field `heder_name`"
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn an_unreadable_configuration_is_an_input_error() {
    let dir = TempDir::new();
    let missing = dir.0.join("absent.toml");
    let missing = missing.to_str().unwrap();
    let r = signet(&["gateway", "--check", missing]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.starts_with(&format!("{missing}: cannot read: ")),
        "{}",
        r.stderr
    );
}

#[test]
fn a_keyset_of_another_algorithm_is_reported() {
    let (dir, _) = example_dir();
    gateway::Keyset::load_or_create(
        dir.0.join("gateway-keys.json"),
        jose::Algorithm::EdDSA,
        None,
        1_764_000_000,
    )
    .unwrap();
    let config = dir.0.join("gateway.toml");
    let config = config.to_str().unwrap();
    let r = signet(&["gateway", "--check", config]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(&format!(
            "{config}: auth_token: keyset_file \"gateway-keys.json\": holds EdDSA keys but the signing algorithm is ES256"
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn without_check_it_serves_the_configuration() {
    let (_dir, config) = example_dir();
    let (_gateway, addr) = common::spawn_server(
        &["gateway", "--config", &config, "--listen", "127.0.0.1:0"],
        "signet gateway listening on ",
    );
    assert!(addr.starts_with("http://127.0.0.1:"), "{addr}");
}

#[test]
fn a_configuration_file_is_required() {
    let r = signet(&["gateway", "--check"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--config <FILE>"), "{}", r.stderr);
}

#[test]
fn check_explains_derived_keys_and_refuses_unusable_seeds() {
    let (dir, _) = example_dir();
    dir.write(
        "seed.txt",
        "a seed of more than thirty-two bytes, for the test\n",
    );
    dir.write("short.txt", "short");
    let with = |auth: &str| {
        let text = DESIGN_EXAMPLE.replace(
            "keyset_file = \"gateway-keys.json\"        # created if missing; replicas that share it agree on the active key",
            auth,
        );
        let config = dir.write("seeded.toml", text);
        let r = signet(&["gateway", "--check", &config]);
        (r, config)
    };
    let (r, config) = with("key_seed = \"@seed.txt\"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        format!("{config}: configuration is valid\n{config}: keys: ES256 derived from key_seed, rolled every 24 h; replicas share no file (every replica with the same seed computes the same keys)\n")
    );
    let (r, _) = with("key_seed = \"@short.txt\"");
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("auth_token: key_seed holds 5 bytes; a seed needs at least 32"),
        "{}",
        r.stderr
    );
    let (r, _) = with("key_seed = \"a literal secret, which would end up in backups\"");
    assert!(
        r.stderr
            .contains("key_seed must be \"@FILE\" or \"env:NAME\""),
        "{}",
        r.stderr
    );
    let (r, _) = with("key_seed_previous = \"@seed.txt\"");
    assert!(
        r.stderr
            .contains("key_seed is required when key_seed_previous is set"),
        "{}",
        r.stderr
    );
    let text = DESIGN_EXAMPLE
        .replace(
            "signing_algorithm = \"ES256\"",
            "signing_algorithm = \"RS256\"",
        )
        .replace(
            "keyset_file = \"gateway-keys.json\"",
            "key_seed = \"env:SIGNET_TEST_SEED\"\n#",
        );
    let config = dir.write("rsa.toml", text);
    let r = signet_in(
        None,
        &["gateway", "--check", &config],
        None,
        &[(
            "SIGNET_TEST_SEED",
            "an environment seed that is long enough to use",
        )],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("signing_algorithm RS256 cannot be derived from key_seed"),
        "{}",
        r.stderr
    );
}
