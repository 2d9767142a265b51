//! The deployment examples in `deploy/` agree with the gateway: the Kubernetes Secret's
//! configuration passes `signet gateway --check` with its seed, the probes use the gateway's
//! heartbeat, and the termination grace outlasts the gateway's drain. (The manifests are not
//! applied to a cluster here; deploy/README.md says so.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{signet, TempDir};

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn the_kubernetes_secret_holds_a_valid_configuration_with_a_derived_key() {
    let secret = read("deploy/kubernetes/secret.yaml");
    let (_, rest) = secret.split_once("  gateway.toml: |\n").unwrap();
    let config: String = rest
        .lines()
        .take_while(|l| l.starts_with("    ") || l.is_empty())
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let dir = TempDir::new();
    dir.write("key-seed", "a seed for the deployment test, long enough\n");
    let path = dir.write("gateway.toml", config);
    let r = signet(&["gateway", "--check", &path]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("keys: ES256 derived from key_seed"),
        "{}",
        r.stdout
    );
    // The Deployment mounts the Secret where the configuration's relative paths expect it.
    let deployment = read("deploy/kubernetes/deployment.yaml");
    assert!(deployment.contains("args: [\"gateway\", \"--config\", \"/etc/signet/gateway.toml\"]"));
    assert!(deployment.contains("mountPath: /etc/signet"));
    assert!(deployment.contains("secretName: signet-gateway"));
}

#[test]
fn probes_use_the_heartbeat_and_the_grace_outlasts_the_drain() {
    let deployment = read("deploy/kubernetes/deployment.yaml");
    assert_eq!(deployment.matches("path: /pa/heartbeat.ping").count(), 2);
    let grace: u64 = deployment
        .lines()
        .find_map(|l| l.trim().strip_prefix("terminationGracePeriodSeconds: "))
        .unwrap()
        .parse()
        .unwrap();
    // src/gateway.rs: SHUTDOWN_GRACE is 30 s; the preStop pause is 5 s.
    let drain = 30;
    let pause: u64 = deployment
        .lines()
        .find_map(|l| l.trim().strip_prefix("sleep: { seconds: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        grace > drain + pause,
        "grace {grace} s vs drain {drain} s + pause {pause} s"
    );
    let haproxy = read("deploy/haproxy.cfg");
    assert!(haproxy.contains("option httpchk GET /pa/heartbeat.ping"));
    assert!(read("src/gateway.rs")
        .contains("const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);"));
}
