//! Three `signet gateway` replicas, each on a host of its own (a Linux network namespace with
//! its own address, joined to this one by a veth pair), started seconds apart behind haproxy
//! (round robin), signing with keys derived from one `key_seed` and no shared file. A backend
//! verifies every mapped JWT with the JWKS fetched through the balancer (so from whichever
//! replica it picks) while a key-rolling boundary passes (`SIGNET_NOW=+N` puts it 14 s into the
//! run), and a sampler compares the replicas' JWKS byte for byte. One replica is killed
//! (SIGKILL) mid-run.
//!
//! Needs root, `ip netns` (iproute2) and haproxy (`.ci/run` installs them); without them the
//! test says why and passes without running.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::gateway::{read_head, test_idp, IDP_ISSUER};
use common::{Child, TempDir};
use serde_json::json;

/// A system program: from PATH, or from /usr/sbin (where Debian puts ip and haproxy).
fn tool(name: &str) -> String {
    let sbin = format!("/usr/sbin/{name}");
    if std::path::Path::new(&sbin).exists() {
        sbin
    } else {
        name.to_owned()
    }
}

fn run(cmd: &[&str]) -> Result<(), String> {
    let out = Command::new(tool(cmd[0]))
        .args(&cmd[1..])
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Why this machine cannot run the test, if it cannot.
fn missing() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("it needs root (for ip netns)".into());
    }
    if Command::new(tool("haproxy")).arg("-v").output().is_err() {
        return Some("haproxy is not installed (apt-get install haproxy)".into());
    }
    let probe = format!("sgprobe{}", std::process::id() % 100_000);
    if let Err(e) = run(&["ip", "netns", "add", &probe]) {
        return Some(format!("ip netns does not work here: {e}"));
    }
    let _ = run(&["ip", "netns", "del", &probe]);
    None
}

/// The namespaces and links made for the test, removed on drop.
struct Hosts {
    names: Vec<String>,
    /// Each host's address, and the address of this side of its link.
    addresses: Vec<(String, String)>,
}

impl Hosts {
    fn new(count: usize) -> Hosts {
        let tag = std::process::id() % 100_000;
        let octet = 200 + std::process::id() % 50;
        let mut hosts = Hosts {
            names: Vec::new(),
            addresses: Vec::new(),
        };
        for i in 1..=count {
            let ns = format!("sg{tag}h{i}");
            let (outer, inner) = (format!("sv{tag}{i}o"), format!("sv{tag}{i}i"));
            let (here, there) = (format!("10.{octet}.{i}.1"), format!("10.{octet}.{i}.2"));
            run(&["ip", "netns", "add", &ns]).unwrap();
            hosts.names.push(ns.clone());
            let steps: Vec<Vec<String>> = vec![
                vec![
                    "ip".into(),
                    "link".into(),
                    "add".into(),
                    outer.clone(),
                    "type".into(),
                    "veth".into(),
                    "peer".into(),
                    "name".into(),
                    inner.clone(),
                ],
                vec![
                    "ip".into(),
                    "link".into(),
                    "set".into(),
                    inner.clone(),
                    "netns".into(),
                    ns.clone(),
                ],
                vec![
                    "ip".into(),
                    "addr".into(),
                    "add".into(),
                    format!("{here}/24"),
                    "dev".into(),
                    outer.clone(),
                ],
                vec![
                    "ip".into(),
                    "link".into(),
                    "set".into(),
                    outer.clone(),
                    "up".into(),
                ],
                vec![
                    "ip".into(),
                    "netns".into(),
                    "exec".into(),
                    ns.clone(),
                    "ip".into(),
                    "addr".into(),
                    "add".into(),
                    format!("{there}/24"),
                    "dev".into(),
                    inner.clone(),
                ],
                vec![
                    "ip".into(),
                    "netns".into(),
                    "exec".into(),
                    ns.clone(),
                    "ip".into(),
                    "link".into(),
                    "set".into(),
                    inner.clone(),
                    "up".into(),
                ],
                vec![
                    "ip".into(),
                    "netns".into(),
                    "exec".into(),
                    ns.clone(),
                    "ip".into(),
                    "link".into(),
                    "set".into(),
                    "lo".into(),
                    "up".into(),
                ],
                vec![
                    "ip".into(),
                    "netns".into(),
                    "exec".into(),
                    ns.clone(),
                    "ip".into(),
                    "route".into(),
                    "add".into(),
                    "default".into(),
                    "via".into(),
                    here.clone(),
                ],
            ];
            for step in steps {
                let step: Vec<&str> = step.iter().map(String::as_str).collect();
                run(&step).unwrap();
            }
            hosts.addresses.push((there, here));
        }
        hosts
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for ns in &self.names {
            // Deleting the namespace deletes its end of the link, and so the link.
            let _ = run(&["ip", "netns", "del", ns]);
        }
    }
}

/// Starts a program and waits for its stdout line starting with `ready`.
fn start(cmd: &[&str], env: &[(&str, &str)], ready: &str) -> Child {
    let mut c = Command::new(tool(cmd[0]));
    c.args(&cmd[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = Child(c.spawn().unwrap());
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            lines.read_line(&mut line).unwrap() > 0,
            "{cmd:?} exited before it was ready"
        );
        if line.starts_with(ready) {
            break;
        }
    }
    std::thread::spawn(move || {
        let mut sink = String::new();
        while lines.read_line(&mut sink).unwrap_or(0) > 0 {
            sink.clear();
        }
    });
    child
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[derive(Default)]
struct Verified {
    /// (iat, kid) of every JWT the backend verified.
    ok: Vec<(i64, String)>,
    failures: Vec<String>,
}

#[test]
fn replicas_on_three_hosts_behind_haproxy_agree_on_keys_across_a_roll() {
    if let Some(why) = missing() {
        eprintln!(
            "SKIPPED replicas_on_three_hosts_behind_haproxy_agree_on_keys_across_a_roll: {why}"
        );
        return;
    }
    let dir = TempDir::new();
    let idp = test_idp(&dir);
    dir.write(
        "seed.txt",
        "the multi-host test's shared seed, not a real secret\n",
    );
    let hosts = Hosts::new(3);

    // The gateways' clock: an hour boundary 14 s from now.
    let real = jose::time::now();
    let boundary = (real / 3600 + 2) * 3600;
    let offset = boundary - 14 - real;
    let gateway_now = move || jose::time::now() + offset;
    let lb_port = free_port();
    let lb = format!("http://127.0.0.1:{lb_port}");

    // The backend, here: every JWT verified with the JWKS fetched through the balancer.
    let verified = Arc::new(Mutex::new(Verified::default()));
    let record = verified.clone();
    let jwks_url = format!("{lb}/pa/authtoken/JWKS");
    let backend_listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let backend_port = backend_listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in backend_listener.incoming() {
            let Ok(stream) = stream else { return };
            let record = record.clone();
            let jwks_url = jwks_url.clone();
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut out = stream;
                while let Some((_, fields)) = read_head(&mut reader) {
                    let jwt = fields
                        .iter()
                        .find(|(n, _)| n == "x-identity-jwt")
                        .map(|(_, v)| v.clone());
                    let result = (|| -> Result<(i64, String), String> {
                        let jwt = jwt.ok_or("no JWT")?;
                        let jwks = http
                            .get(&jwks_url)
                            .send()
                            .map_err(|e| e.to_string())?
                            .bytes()
                            .map_err(|e| e.to_string())?;
                        let (keys, _) =
                            jose::KeySet::from_jwks_json(&jwks).map_err(|e| e.to_string())?;
                        let claims = jose::Verifier::new(keys)
                            .verify_jwt(
                                &jwt,
                                &jose::Validation {
                                    now: Some(gateway_now()),
                                    issuers: vec!["signet-gateway".into()],
                                    audiences: vec!["backend".into()],
                                    ..jose::Validation::default()
                                },
                            )
                            .map_err(|e| e.to_string())?
                            .claims;
                        let header = jose::jws::decode(&jwt).map_err(|e| e.to_string())?.header;
                        Ok((
                            claims["iat"].as_i64().unwrap(),
                            header["kid"].as_str().unwrap().to_owned(),
                        ))
                    })();
                    let status = match result {
                        Ok(seen) => {
                            record.lock().unwrap().ok.push(seen);
                            "200 OK"
                        }
                        Err(e) => {
                            record.lock().unwrap().failures.push(e);
                            "403 Forbidden"
                        }
                    };
                    let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                    if out.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });

    // The replicas, started 2 s apart, each on its host.
    let bin = env!("CARGO_BIN_EXE_signet");
    let mut replicas: Vec<Option<Child>> = Vec::new();
    let env_now = format!("+{offset}");
    for (i, (address, gateway_side)) in hosts.addresses.iter().enumerate() {
        let config = dir.write(
            &format!("gateway-{i}.toml"),
            format!(
                r#"
[listen]
http = "127.0.0.1:0"
[auth_token]
issuer = "signet-gateway"
signing_algorithm = "ES256"
key_roll_interval_hours = 1
key_seed = "@seed.txt"
[api_session]
issuer = "{IDP_ISSUER}"
jwks = "idp-jwks.json"
audience = "gateway"
[[identity_mapping]]
name = "id"
header_name = "X-Identity-JWT"
audience = "backend"
cache_jwt = true
attribute_mappings = [{{ user_attribute_name = "uid", jwt_claim_name = "uid", subject = true }}]
[[application]]
name = "app"
context_root = "/app"
backend = "http://{gateway_side}:{backend_port}"
session = "api"
identity_mapping = "id"
"#
            ),
        );
        let listen = format!("{address}:8080");
        let ns = &hosts.names[i];
        replicas.push(Some(start(
            &[
                "ip", "netns", "exec", ns, bin, "gateway", "--config", &config, "--listen", &listen,
            ],
            &[("SIGNET_NOW", &env_now)],
            "signet gateway listening on ",
        )));
        if i < 2 {
            std::thread::sleep(Duration::from_secs(2));
        }
    }

    let servers: String = hosts
        .addresses
        .iter()
        .enumerate()
        .map(|(i, (a, _))| format!("  server g{i} {a}:8080 check inter 200 fall 1 rise 2\n"))
        .collect();
    let cfg = dir.write(
        "haproxy.cfg",
        format!(
            "global\n  maxconn 512\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 10s\n  timeout server 10s\n  retries 3\n  option redispatch 1\n  retry-on conn-failure empty-response\nfrontend fe\n  bind 127.0.0.1:{lb_port}\n  default_backend gateways\nbackend gateways\n  balance roundrobin\n  option httpchk GET /pa/heartbeat.ping\n{servers}"
        ),
    );
    let mut haproxy = Child(
        Command::new(tool("haproxy"))
            .args(["-f", &cfg, "-db"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::blocking::Client::new();
    let up = Instant::now();
    while http
        .get(format!("{lb}/pa/heartbeat.ping"))
        .send()
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
        != 200
    {
        assert!(
            up.elapsed() < Duration::from_secs(10),
            "haproxy did not come up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(600)); // every server checked up

    let stop = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(AtomicBool::new(false));
    // JWKS samples of every live replica, byte for byte.
    let samples = Arc::new(AtomicU32::new(0));
    let sampler = {
        let (stop, killed, samples) = (stop.clone(), killed.clone(), samples.clone());
        let urls: Vec<String> = hosts
            .addresses
            .iter()
            .map(|(a, _)| format!("http://{a}:8080/pa/authtoken/JWKS"))
            .collect();
        std::thread::spawn(move || {
            let http = reqwest::blocking::Client::new();
            let mut mismatches = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let before = gateway_now();
                let live: Vec<&String> = urls
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !(killed.load(Ordering::Relaxed) && *i == 1))
                    .map(|(_, u)| u)
                    .collect();
                let bodies: Vec<Vec<u8>> = live
                    .iter()
                    .filter_map(|u| http.get(*u).send().ok()?.bytes().ok().map(|b| b.to_vec()))
                    .collect();
                let after = gateway_now();
                // A sample taken across the boundary second compares two instants' sets.
                if bodies.len() == live.len() && !(before < boundary && after >= boundary) {
                    samples.fetch_add(1, Ordering::Relaxed);
                    if bodies.windows(2).any(|w| w[0] != w[1]) {
                        mismatches.push(before);
                    }
                }
                std::thread::sleep(Duration::from_millis(150));
            }
            mismatches
        })
    };
    // The clients: four, each its own connection to the balancer.
    let now0 = gateway_now();
    let token = idp
        .sign_claims(&json!({"iss": IDP_ISSUER, "aud": "gateway", "iat": now0, "exp": now0 + 3600, "uid": "user-1"}))
        .unwrap();
    let statuses = Arc::new(Mutex::new(Vec::<u16>::new()));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, statuses, token, lb) =
                (stop.clone(), statuses.clone(), token.clone(), lb.clone());
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let status = http
                        .get(format!("{lb}/app/x"))
                        .bearer_auth(&token)
                        .send()
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    statuses.lock().unwrap().push(status);
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        })
        .collect();
    // Past the boundary, kill the second replica.
    while gateway_now() < boundary + 4 {
        std::thread::sleep(Duration::from_millis(100));
    }
    let at_kill = statuses.lock().unwrap().len();
    killed.store(true, Ordering::Relaxed);
    if let Some(mut r) = replicas[1].take() {
        let _ = r.0.kill();
        let _ = r.0.wait();
    }
    while gateway_now() < boundary + 10 {
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let mismatches = sampler.join().unwrap();
    let _ = haproxy.0.kill();

    let statuses = statuses.lock().unwrap().clone();
    let failed: Vec<(usize, u16)> = statuses
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, s)| *s != 200)
        .collect();
    let v = verified.lock().unwrap();
    let kids: std::collections::BTreeSet<&str> = v.ok.iter().map(|(_, k)| k.as_str()).collect();
    let before: std::collections::BTreeSet<&str> =
        v.ok.iter()
            .filter(|(iat, _)| *iat < boundary)
            .map(|(_, k)| k.as_str())
            .collect();
    let after: std::collections::BTreeSet<&str> =
        v.ok.iter()
            .filter(|(iat, _)| *iat >= boundary)
            .map(|(_, k)| k.as_str())
            .collect();
    eprintln!(
        "multi-host: {} requests ({} failed, {} at the kill), {} JWTs verified, {} verification failures, kids {:?}, {} JWKS samples, {} mismatched",
        statuses.len(),
        failed.len(),
        at_kill,
        v.ok.len(),
        v.failures.len(),
        kids,
        samples.load(Ordering::Relaxed),
        mismatches.len()
    );
    assert!(
        v.failures.is_empty(),
        "verification failures: {:?}",
        &v.failures[..v.failures.len().min(5)]
    );
    assert_eq!(kids.len(), 2, "one kid change: {kids:?}");
    assert_eq!(
        (before.len(), after.len()),
        (1, 1),
        "old kid before the boundary, new after"
    );
    assert!(before.is_disjoint(&after));
    assert!(
        mismatches.is_empty(),
        "replicas' JWKS differed at gateway times {mismatches:?}"
    );
    assert!(samples.load(Ordering::Relaxed) >= 20);
    // At most the requests in flight on the killed replica (one per client) may fail.
    assert!(failed.len() <= 4, "failed requests: {failed:?}");
    assert!(
        failed.iter().all(|(i, _)| *i >= at_kill.saturating_sub(4)),
        "only around the kill: {failed:?}"
    );
    assert!(
        statuses.len() > 200,
        "too little traffic to mean anything: {}",
        statuses.len()
    );
}
