//! Turning command-line values into data: secrets (`literal`, `@file`, `env:NAME`), key files,
//! claims (`--claims JSON|@file|-`, `-c k=v`), durations (`3600`, `15m`, `1h`), tokens
//! (`TOKEN` or `-` for stdin).

use std::io::Read;

use anyhow::{anyhow, bail, Context, Result};
use jose::{Algorithm, Key, KeySet};
use serde_json::{Map, Value};

/// Reads a file, naming it in the error.
pub fn read_file(path: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read \"{path}\""))
}

fn read_stdin() -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::io::stdin()
        .read_to_end(&mut buf)
        .context("cannot read standard input")?;
    Ok(buf)
}

/// A secret given as a literal, `@file` (contents; one trailing newline of a text file is
/// dropped) or `env:NAME`.
pub fn secret(spec: &str, flag: &str) -> Result<Vec<u8>> {
    let bytes = if let Some(path) = spec.strip_prefix('@') {
        let mut b = read_file(path).with_context(|| format!("{flag} @{path}"))?;
        if std::str::from_utf8(&b).is_ok() {
            if b.ends_with(b"\r\n") {
                b.truncate(b.len() - 2);
            } else if b.ends_with(b"\n") {
                b.truncate(b.len() - 1);
            }
        }
        b
    } else if let Some(name) = spec.strip_prefix("env:") {
        std::env::var_os(name)
            .ok_or_else(|| {
                anyhow!("{flag} env:{name}: the environment variable {name} is not set")
            })?
            .into_encoded_bytes()
    } else {
        spec.as_bytes().to_vec()
    };
    if bytes.is_empty() {
        bail!("{flag}: the secret is empty");
    }
    Ok(bytes)
}

/// The warning for an HMAC secret shorter than RFC 7518 §3.2 asks for, if it is.
pub fn short_secret_warning(key: &Key, alg: Algorithm) -> Option<String> {
    key.hmac_shorter_than_recommended(alg).then(|| {
        let min = alg.hmac_min_key_len().unwrap_or(32);
        format!("the HMAC secret is shorter than {min} bytes; RFC 7518 §3.2 asks for at least {min} bytes for {alg}")
    })
}

/// Warns on stderr when an HMAC secret is shorter than RFC 7518 §3.2 asks for.
pub fn warn_short_secret(key: &Key, alg: Algorithm) {
    if let Some(w) = short_secret_warning(key, alg) {
        eprintln!("signet: warning: {w}");
    }
}

/// Verification keys from a document: a JWK Set (an object with `keys`), or one key (PEM, DER,
/// JWK). `source` names the document in errors.
pub fn verification_keys(bytes: &[u8], source: &str) -> Result<KeySet> {
    let is_set = jose::json::parse_object(bytes.trim_ascii(), jose::Part::Payload)
        .map(|m| m.contains_key("keys"))
        .unwrap_or(false);
    if is_set {
        key_set(bytes, source)
    } else {
        Ok(KeySet::from(
            Key::parse(bytes).with_context(|| format!("{source}: not a usable key"))?,
        ))
    }
}

/// Loads a key file (PEM, DER or JWK) or a JWK Set file; `kid` picks one key out of a set.
pub fn key_file(path: &str, kid: Option<&str>) -> Result<Key> {
    let bytes = read_file(path)?;
    let trimmed = bytes.trim_ascii_start();
    if trimmed.starts_with(b"{")
        && jose::json::parse_object(trimmed.trim_ascii_end(), jose::Part::Payload)
            .map(|m| m.contains_key("keys"))
            .unwrap_or(false)
    {
        let set = key_set(&bytes, path)?;
        let mut matching = set
            .keys()
            .iter()
            .filter(|k| kid.is_none() || k.kid() == kid);
        return match (matching.next(), matching.next()) {
            (Some(k), None) => Ok(k.clone()),
            (None, _) => bail!(
                "{path}: no key{} in the JWK Set",
                kid.map(|k| format!(" with kid \"{k}\""))
                    .unwrap_or_default()
            ),
            (Some(_), Some(_)) => {
                bail!("{path}: the JWK Set has several keys; choose one with --kid")
            }
        };
    }
    Key::parse(&bytes).with_context(|| format!("{path}: not a usable key"))
}

/// Parses a JWK Set document, reporting skipped keys on stderr.
pub fn key_set(bytes: &[u8], source: &str) -> Result<KeySet> {
    let (set, skipped) =
        KeySet::from_jwks_json(bytes).with_context(|| format!("{source}: not a usable JWK Set"))?;
    for s in skipped {
        eprintln!("signet: note: {source}: skipped {s}");
    }
    if set.is_empty() {
        bail!("{source}: the JWK Set has no key Signet can use for signatures");
    }
    Ok(set)
}

/// A token argument: the token itself, or `-`/absent for standard input. Surrounding
/// whitespace and a `Bearer ` prefix are removed.
pub fn token(arg: Option<&str>) -> Result<String> {
    let raw = match arg {
        None | Some("-") => {
            String::from_utf8(read_stdin()?).context("standard input is not UTF-8")?
        }
        Some(t) => t.to_owned(),
    };
    let t = bare_token(&raw);
    if t.is_empty() {
        bail!("no token given (pass it as an argument or on standard input)");
    }
    Ok(t.to_owned())
}

/// A pasted token without surrounding whitespace or a `Bearer ` prefix (may be empty).
pub fn bare_token(raw: &str) -> &str {
    let t = raw.trim();
    t.strip_prefix("Bearer ").unwrap_or(t).trim()
}

/// A JSON object from `JSON`, `@file` or `-` (stdin), strictly parsed.
pub fn json_object(spec: &str, flag: &str) -> Result<Map<String, Value>> {
    let bytes = if spec == "-" {
        read_stdin()?
    } else if let Some(path) = spec.strip_prefix('@') {
        read_file(path)?
    } else {
        spec.as_bytes().to_vec()
    };
    jose::json::parse_object(bytes.trim_ascii(), jose::Part::Payload).map_err(|e| {
        anyhow!(
            "{flag}: {}",
            e.to_string().replacen("payload", "the value", 1)
        )
    })
}

/// `k=v`: split at the first `=`; `v` is JSON if it parses as JSON, otherwise a string.
pub fn key_value(spec: &str, flag: &str) -> Result<(String, Value)> {
    let (k, v) = spec
        .split_once('=')
        .ok_or_else(|| anyhow!("{flag} {spec:?}: expected key=value"))?;
    if k.is_empty() {
        bail!("{flag} {spec:?}: the key is empty");
    }
    Ok((k.to_owned(), json_or_string(v)))
}

/// A value typed like `-c k=v`: JSON if it parses as JSON, otherwise the text as a string.
pub fn json_or_string(v: &str) -> Value {
    jose::json::parse_value(v, jose::Part::Payload).unwrap_or_else(|_| Value::String(v.to_owned()))
}

/// A lifetime: seconds (`3600`) or a number with a unit (`90s`, `15m`, `15min`, `1h`, `2d`).
pub fn duration(spec: &str, flag: &str) -> Result<i64> {
    let s = spec.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| anyhow!("{flag} {spec:?}: expected seconds or a duration like 15m, 1h, 2d"))?;
    let mult = match unit.trim() {
        "" | "s" | "sec" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => bail!("{flag} {spec:?}: unknown unit {other:?} (use s, m, h or d)"),
    };
    n.checked_mul(mult)
        .ok_or_else(|| anyhow!("{flag} {spec:?}: too large"))
}

pub fn algorithm(name: &str) -> Result<Algorithm> {
    Algorithm::from_name(name).map_err(|e| {
        let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
        anyhow!("--alg {name}: {e}; use one of {}", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("3600", "--expires-in").ok(), Some(3600));
        assert_eq!(duration("15m", "--expires-in").ok(), Some(900));
        assert_eq!(duration("1h", "--expires-in").ok(), Some(3600));
        assert_eq!(duration("2d", "--expires-in").ok(), Some(172_800));
        assert!(duration("1y", "--expires-in").is_err());
        assert!(duration("", "--expires-in").is_err());
        assert!(duration("-5", "--expires-in").is_err());
    }

    #[test]
    fn key_values_split_once_and_type_values() {
        assert_eq!(
            key_value("n=5", "-c").ok(),
            Some(("n".into(), Value::from(5)))
        );
        assert_eq!(
            key_value("u=https://x/?a=b", "-c").ok(),
            Some(("u".into(), Value::from("https://x/?a=b")))
        );
        assert_eq!(
            key_value("id=007", "-c").ok(),
            Some(("id".into(), Value::from("007")))
        );
        assert!(key_value("novalue", "-c").is_err());
        assert!(key_value("=v", "-c").is_err());
    }

    #[test]
    fn secrets_from_env() {
        assert!(secret("env:SIGNET_SURELY_UNSET_VAR", "--secret").is_err());
        assert_eq!(secret("abc", "--secret").ok(), Some(b"abc".to_vec()));
        assert!(secret("", "--secret").is_err());
    }
}
