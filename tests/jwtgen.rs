//! End-to-end tests of `signet jwtgen` through the real binary, against the oracle recorded from
//! the npm tool jwtgen 2.2.0 (`tests/fixtures/jwtgen/cases.json`, see its README).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_signet");
const NOW: &str = "1764000000";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jwtgen")
}

struct Case {
    name: String,
    args: Vec<String>,
    now: String,
    stdout: String,
    stderr: String,
    exit: i32,
    crash: bool,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixtures().join("cases.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap().to_owned(),
            args: c["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect(),
            now: c["now"].as_i64().unwrap().to_string(),
            stdout: c["stdout"].as_str().unwrap().to_owned(),
            stderr: c["stderr"].as_str().unwrap().to_owned(),
            exit: i32::try_from(c["exit"].as_i64().unwrap()).unwrap(),
            crash: c.get("crash").and_then(Value::as_bool).unwrap_or(false),
        })
        .collect()
}

/// Runs `program prefix.. args..` in the fixture directory with a frozen clock.
fn run(program: &Path, prefix: &[&str], args: &[String], now: &str) -> Output {
    Command::new(program)
        .args(prefix)
        .args(args)
        .current_dir(fixtures())
        .env("SIGNET_NOW", now)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Why `out` does not match the case, if it does not. Crash cases (a Node stack trace in the
/// oracle) must match exit code and stdout, and explain the problem on stderr without a trace.
fn mismatch(case: &Case, out: &Output) -> Option<String> {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let code = out.status.code().unwrap_or(-1);
    let mut problems = Vec::new();
    if code != case.exit {
        problems.push(format!("exit {code}, want {}", case.exit));
    }
    if stdout != case.stdout {
        problems.push(format!("stdout {stdout:?}\n   want {:?}", case.stdout));
    }
    if case.crash {
        let last = stderr.lines().last().unwrap_or("");
        if last.trim().is_empty() || stderr.lines().any(|l| l.trim_start().starts_with("at ")) {
            problems.push(format!("stderr should name the problem: {stderr:?}"));
        }
    } else if stderr != case.stderr {
        problems.push(format!("stderr {stderr:?}\n   want {:?}", case.stderr));
    }
    (!problems.is_empty())
        .then(|| format!("{} {:?}: {}", case.name, case.args, problems.join("; ")))
}

#[test]
fn every_oracle_case_matches_jwtgen_2_2_0() {
    let cases = cases();
    assert_eq!(cases.len(), 175, "cases.json changed");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            mismatch(
                case,
                &run(Path::new(BIN), &["jwtgen"], &case.args, &case.now),
            )
        })
        .collect();
    let passed = cases.len() - failures.len();
    println!("jwtgen oracle: {passed}/{} cases match", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The crash cases name their problem on stderr after the usage text.
#[test]
fn crash_cases_explain_themselves() {
    let expected = [
        ("rs256-missing-file", "does-not-exist.pem"),
        ("rs256-public-key-file", "public key"),
        ("rs256-not-a-key-file", "not-a-key.txt"),
        ("alg-repeated", "more than once"),
        ("secret-repeated", "more than once"),
        ("secret-and-long-secret", "more than once"),
    ];
    let cases = cases();
    for (name, needle) in expected {
        let case = cases.iter().find(|c| c.name == name).unwrap();
        assert!(case.crash, "{name} is a crash case");
        let out = run(Path::new(BIN), &["jwtgen"], &case.args, &case.now);
        let stderr = text(&out.stderr);
        assert!(
            stderr.starts_with("Usage: jwtgen [options]\n"),
            "{name}: {stderr}"
        );
        let message = stderr.lines().last().unwrap();
        assert!(message.contains(needle), "{name}: {message}");
    }
}

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

fn temp_dir(tag: &str) -> PathBuf {
    let n = UNIQUE.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("signet-jwtgen-{tag}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Installed under the name `jwtgen`, the binary is jwtgen itself (argv[0] dispatch).
#[test]
fn binary_named_jwtgen_behaves_as_jwtgen() {
    let dir = temp_dir("argv0");
    let name = if cfg!(windows) {
        "jwtgen.exe"
    } else {
        "jwtgen"
    };
    let exe = dir.join(name);
    std::fs::copy(BIN, &exe).unwrap();
    let cases = cases();
    for case_name in [
        "pingone-hs256-e3600-verbose",
        "help",
        "no-args",
        "rs256-claims-e",
    ] {
        let case = cases.iter().find(|c| c.name == case_name).unwrap();
        let out = run(&exe, &[], &case.args, &case.now);
        assert_eq!(mismatch(case, &out), None);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn verify(token: &str, public_pem: &[u8]) -> (Value, Value) {
    let key = jose::Key::parse(public_pem).unwrap();
    let verified = jose::Verifier::new(key).verify(token).unwrap();
    let payload: Value = serde_json::from_slice(&verified.payload).unwrap();
    (Value::Object(verified.header), payload)
}

fn jwtgen(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    run(Path::new(BIN), &["jwtgen"], &args, NOW)
}

/// Signet's extension: more algorithms, accepted only with `-p` (a key file).
#[test]
fn extra_algorithms_sign_with_a_key_file() {
    let public = std::fs::read(fixtures().join("rsa-2048-pub.pem")).unwrap();
    for alg in ["RS384", "RS512", "PS256", "PS384", "PS512"] {
        let out = jwtgen(&[
            "-a",
            alg,
            "-p",
            "rsa-2048.pem",
            "-c",
            "sub=alice",
            "-e",
            "60",
        ]);
        assert_eq!(out.status.code(), Some(0), "{alg}: {}", text(&out.stderr));
        let (header, payload) = verify(text(&out.stdout).trim_end(), &public);
        assert_eq!(
            header.to_string(),
            format!(r#"{{"typ":"JWT","alg":"{alg}"}}"#)
        );
        assert_eq!(
            payload.to_string(),
            r#"{"iat":1764000000,"exp":1764000060,"sub":"alice"}"#
        );
    }

    let dir = temp_dir("keys");
    for alg in [
        jose::Algorithm::ES256,
        jose::Algorithm::ES384,
        jose::Algorithm::ES512,
        jose::Algorithm::ES256K,
        jose::Algorithm::EdDSA,
    ] {
        let key = jose::Key::generate(alg).unwrap();
        let path = dir.join(format!("{alg}.pem"));
        std::fs::write(&path, key.private_pem().unwrap()).unwrap();
        let out = jwtgen(&[
            "-a",
            alg.name(),
            "-p",
            path.to_str().unwrap(),
            "-h",
            "kid=k1",
            "-v",
        ]);
        assert_eq!(out.status.code(), Some(0), "{alg}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(
            stdout.starts_with(&format!("algorithm: {alg}\n\nclaims: \n")),
            "{stdout}"
        );
        let token = stdout.lines().last().unwrap();
        let (header, payload) = verify(token, key.public_pem().unwrap().as_bytes());
        assert_eq!(
            header.to_string(),
            format!(r#"{{"typ":"JWT","alg":"{alg}","kid":"k1"}}"#)
        );
        assert_eq!(payload.to_string(), r#"{"iat":1764000000}"#);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without `-p`, or with `-a` repeated, an extra algorithm is rejected exactly as jwtgen does.
#[test]
fn extra_algorithms_need_a_key_file() {
    let invalid = |given: &str| {
        format!("Invalid values:\n  Argument: a, Given: {given}, Choices: \"HS256\", \"HS384\", \"HS512\", \"RS256\"\n")
    };
    for (args, given) in [
        (&["-a", "PS256", "-s", "secret"][..], "\"PS256\""),
        (&["-a", "EdDSA", "-p", ""][..], "\"EdDSA\""),
        (
            &["-a", "ES256", "-a", "ES384", "-p", "rsa-2048.pem"][..],
            "\"ES256\", \"ES384\"",
        ),
    ] {
        let out = jwtgen(args);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(text(&out.stdout), "");
        assert!(
            text(&out.stderr).ends_with(&invalid(given)),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

/// A key file that cannot sign with the algorithm is an error, not a token.
#[test]
fn key_file_must_fit_the_algorithm() {
    for (args, needle) in [
        (
            &["-a", "ES256", "-p", "rsa-2048.pem"][..],
            "cannot sign ES256",
        ),
        (&["-a", "PS256", "-p", "rsa-2048-pub.pem"][..], "public key"),
        (
            &["-a", "RS256", "-p", "."][..],
            "cannot read private key file",
        ),
    ] {
        let out = jwtgen(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(text(&out.stdout), "");
        let stderr = text(&out.stderr);
        assert!(stderr.starts_with("Usage: jwtgen [options]\n"));
        assert!(
            stderr.lines().last().unwrap().contains(needle),
            "{args:?}: {stderr}"
        );
    }
}
