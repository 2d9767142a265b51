//! The browser tools' JSON API as plain functions over data: decode, verify, make a
//! login_hint_token, make a request object. Each goes through the same code as the CLI command
//! it mirrors (`decode`, `verify`, `login-hint`, `request-object`), so there is one rule book.
//!
//! Values from a page are always literal: a secret that starts with `@` or `env:` is that text,
//! never a file or an environment variable of the machine serving the page, and a key is pasted
//! text, never a path.

use jose::{Key, KeySet, Validation, Verifier};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::exit::{chain, Failure};
use crate::login_hint::{self, Made};
use crate::request_object::{self, RequestObjectArgs, Signing};
use crate::ui::command;

/// A request the API refuses: HTTP status, the form field at fault (if one is) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: u16,
    pub field: Option<&'static str>,
    pub message: String,
}

impl Problem {
    pub fn field(field: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            status: 400,
            field: Some(field),
            message: message.into(),
        }
    }

    /// The JSON body: `{"error": {"message", "field"?}}`.
    pub fn body(&self) -> Value {
        let mut e = Map::new();
        e.insert("message".into(), self.message.clone().into());
        if let Some(f) = self.field {
            e.insert("field".into(), f.into());
        }
        json!({ "error": e })
    }
}

/// CLI flags and the form fields that carry the same value.
const FLAG_FIELDS: [(&str, &str); 15] = [
    ("--env", "env"),
    ("--region", "region"),
    ("--client-id", "client_id"),
    ("--secret", "secret"),
    ("--user", "user"),
    ("--alg", "alg"),
    ("--expires-in", "expires_in"),
    ("--template", "template"),
    ("--variant", "variant"),
    ("--variables", "variables"),
    ("--var", "variables"),
    ("--context", "client_context"),
    ("--remote-ip", "remote_ip"),
    ("--sub", "sub"),
    ("--key", "key"),
];

/// The form field a CLI error message is about: messages start with the flag at fault.
pub fn field_of(message: &str) -> Option<&'static str> {
    FLAG_FIELDS.iter().find_map(|(flag, field)| {
        message
            .strip_prefix(flag)
            .filter(|rest| rest.is_empty() || rest.starts_with([' ', ':']))
            .map(|_| *field)
    })
}

/// A CLI failure as a problem with the field it names. The message keeps the flag, which
/// also tells the reader the command-line name of the field.
fn problem(f: Failure) -> Problem {
    let e = match f {
        Failure::Invalid(e) | Failure::Usage(e) => e,
    };
    let message = chain(&e);
    let field = field_of(&message);
    Problem {
        status: 400,
        field,
        message,
    }
}

fn token_field(token: &str) -> Result<&str, Problem> {
    let t = crate::input::bare_token(token);
    if t.is_empty() {
        return Err(Problem::field("token", "paste a token"));
    }
    Ok(t)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecodeRequest {
    pub token: String,
}

/// `decode --json`'s view plus the three raw segments, header notes and the algorithm.
pub fn decode(req: &DecodeRequest, now: i64) -> Result<Value, Problem> {
    let token = token_field(&req.token)?;
    let compact = jose::jws::decode(token).map_err(|e| Problem::field("token", e.to_string()))?;
    let mut view = crate::decode::json_view(&compact, now);
    view.insert(
        "segments".into(),
        json!({
            "header": compact.header_b64,
            "payload": compact.payload_b64,
            "signature": compact.signature_b64,
        }),
    );
    view.insert("signature_bytes".into(), compact.signature.len().into());
    let notes: Map<String, Value> = compact
        .header
        .iter()
        .filter_map(|(k, v)| crate::decode::header_note(k, v).map(|n| (k.clone(), n.into())))
        .collect();
    view.insert("header_notes".into(), Value::Object(notes));
    Ok(Value::Object(view))
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum KeyMethod {
    Secret,
    Key,
    JwksUrl,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub token: String,
    pub method: KeyMethod,
    #[serde(default)]
    pub secret: String,
    /// A PEM, JWK or JWK Set, pasted.
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub jwks_url: String,
    /// Required audience; empty: not checked.
    #[serde(default)]
    pub aud: String,
}

/// The verification keys a verify request names. Fetching a JWKS URL blocks; call this off
/// the async runtime.
pub fn verification_keys(req: &VerifyRequest) -> Result<KeySet, Problem> {
    match req.method {
        KeyMethod::Secret => {
            if req.secret.is_empty() {
                return Err(Problem::field("secret", "enter the secret"));
            }
            Key::hmac(req.secret.as_bytes().to_vec())
                .map(KeySet::from)
                .map_err(|e| Problem::field("secret", e.to_string()))
        }
        KeyMethod::Key => {
            if req.key.trim().is_empty() {
                return Err(Problem::field("key", "paste a PEM, JWK or JWK Set"));
            }
            crate::input::verification_keys(req.key.as_bytes(), "the key")
                .map_err(|e| Problem::field("key", chain(&e)))
        }
        KeyMethod::JwksUrl => {
            let url = req.jwks_url.trim();
            if url.is_empty() {
                return Err(Problem::field("jwks_url", "enter the JWK Set URL"));
            }
            crate::fetch::jwks_url(url).map_err(|e| Problem::field("jwks_url", chain(&e)))
        }
    }
}

/// Checks the signature with `keys`, then the claims at `now` (exp, nbf with the default
/// leeway, `aud` if asked). The answer says which of the two failed and why; a request the
/// checks cannot even start on (not a token) is a problem with the token field.
pub fn verify(req: &VerifyRequest, keys: KeySet, now: i64) -> Result<Value, Problem> {
    let token = token_field(&req.token)?;
    let single = (keys.keys().len() == 1)
        .then(|| keys.keys().first().cloned())
        .flatten();
    let verified = match Verifier::new(keys).verify(token) {
        Ok(v) => v,
        Err(e) => {
            // A token that does not even parse is a problem with the field, not a verdict.
            jose::jws::decode(token).map_err(|e| Problem::field("token", e.to_string()))?;
            return Ok(json!({
                "valid": false,
                "signature": { "valid": false, "message": e.to_string() },
            }));
        }
    };
    let mut signature = Map::new();
    signature.insert("valid".into(), true.into());
    signature.insert("alg".into(), verified.alg.name().into());
    if let Some(kid) = &verified.key_kid {
        signature.insert("kid".into(), kid.clone().into());
    }
    let mut warnings = Vec::new();
    if let Some(w) = single.and_then(|k| crate::input::short_secret_warning(&k, verified.alg)) {
        warnings.push(w);
    }
    let claims = match jose::json::parse_object(&verified.payload, jose::Part::Payload) {
        Ok(c) => c,
        Err(e) => {
            return Ok(json!({
                "valid": false,
                "signature": signature,
                "claims": { "valid": false, "message": format!("payload is not a JWT claims set: {e}") },
                "warnings": warnings,
            }))
        }
    };
    let aud = req.aud.trim();
    let validation = Validation {
        now: Some(now),
        audiences: if aud.is_empty() {
            Vec::new()
        } else {
            vec![aud.to_owned()]
        },
        ..Validation::default()
    };
    let checked = match jose::jwt::validate(&verified.header, &claims, &validation) {
        Ok(()) => {
            let mut what = vec!["exp", "nbf"];
            if !aud.is_empty() {
                what.push("aud");
            }
            json!({ "valid": true, "message": format!("{} checked", what.join(", ")) })
        }
        Err(e) => json!({ "valid": false, "message": e.to_string() }),
    };
    let valid = checked.get("valid") == Some(&Value::Bool(true));
    Ok(json!({
        "valid": valid,
        "signature": signature,
        "claims": checked,
        "warnings": warnings,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginHintRequest {
    pub env: String,
    pub region: String,
    pub client_id: String,
    pub secret: String,
    pub user: String,
    pub alg: String,
    pub expires_in: String,
}

/// The token, its header and claims, warnings, and the equivalent `signet login-hint`.
pub fn login_hint(req: &LoginHintRequest, now: i64) -> Result<Value, Problem> {
    let made = login_hint::make(
        &login_hint::Input {
            env: req.env.trim(),
            region: &req.region,
            client_id: req.client_id.trim(),
            user: req.user.trim(),
            alg: &req.alg,
            expires_in: &req.expires_in,
            secret: req.secret.as_bytes().to_vec(),
        },
        now,
    )
    .map_err(problem)?;
    Ok(made_view(&made, command::login_hint(req)))
}

fn made_view(made: &Made, command: command::Command) -> Value {
    json!({
        "token": made.token.token,
        "header": made.token.header,
        "claims": made.token.claims,
        "warnings": made.warnings,
        "command": command.line,
        "command_env": command.env,
    })
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SigningMethod {
    Secret,
    Key,
    Unsigned,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestObjectRequest {
    pub env: String,
    pub region: String,
    pub client_id: String,
    pub signing: SigningMethod,
    #[serde(default)]
    pub secret: String,
    /// The application's RSA private key, pasted (PEM, JWK).
    #[serde(default)]
    pub key: String,
    /// Empty: the method's default (HS256 or the key's own).
    #[serde(default)]
    pub alg: String,
    /// Empty: no `pi.template`.
    #[serde(default)]
    pub template: String,
    #[serde(default)]
    pub variant: String,
    /// Rows of [name, value]; a value is JSON if it parses as JSON, otherwise a string, as
    /// with `--var`.
    #[serde(default)]
    pub variables: Vec<(String, String)>,
    /// Rows of [key, value]; keys stay literal (`alert.color` is one key).
    #[serde(default)]
    pub client_context: Vec<(String, String)>,
    #[serde(default)]
    pub remote_ip: String,
    #[serde(default)]
    pub sub: String,
    pub expires_in: String,
}

/// PingOne's transaction example (env-1, app-1, region na, signed with `secret`): the tests'
/// starting point.
#[cfg(test)]
pub(crate) fn transaction_request(secret: &str) -> RequestObjectRequest {
    RequestObjectRequest {
        env: "env-1".into(),
        region: "na".into(),
        client_id: "app-1".into(),
        signing: SigningMethod::Secret,
        secret: secret.into(),
        key: String::new(),
        alg: String::new(),
        template: "transaction".into(),
        variant: String::new(),
        variables: vec![
            ("sum".into(), "1,000,000".into()),
            ("recipient".into(), "Charlie Parker".into()),
        ],
        client_context: vec![("alert.color".into(), "red".into())],
        remote_ip: String::new(),
        sub: String::new(),
        expires_in: "300".into(),
    }
}

/// Rows as a JSON object, typed like `--var`; empty rows are skipped.
/// The rows that are not blank, numbered from 1 as the page shows them, keys trimmed.
pub(crate) fn filled_rows(rows: &[(String, String)]) -> impl Iterator<Item = (usize, &str, &str)> {
    rows.iter()
        .enumerate()
        .map(|(i, (k, v))| (i + 1, k.trim(), v.as_str()))
        .filter(|(_, k, v)| !(k.is_empty() && v.trim().is_empty()))
}

fn rows(rows: &[(String, String)], field: &'static str) -> Result<Map<String, Value>, Problem> {
    let mut out = Map::new();
    for (row, k, v) in filled_rows(rows) {
        if k.is_empty() {
            return Err(Problem::field(
                field,
                format!("row {row}: the name is empty"),
            ));
        }
        if out.contains_key(k) {
            return Err(Problem::field(
                field,
                format!("row {row}: \"{k}\" is already set in an earlier row"),
            ));
        }
        out.insert(k.to_owned(), crate::input::json_or_string(v));
    }
    Ok(out)
}

fn optional(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// The token, its header and claims, warnings, and the equivalent `signet request-object`.
pub fn request_object(req: &RequestObjectRequest, now: i64) -> Result<Value, Problem> {
    let template = optional(&req.template);
    let variables = rows(&req.variables, "variables")?;
    let context = rows(&req.client_context, "client_context")?;
    if template.is_none() {
        if optional(&req.variant).is_some() {
            return Err(Problem::field(
                "template",
                "a variant needs a template name",
            ));
        }
        if !variables.is_empty() {
            return Err(Problem::field(
                "template",
                "template variables need a template name",
            ));
        }
    }
    let args = RequestObjectArgs {
        env: req.env.trim().to_owned(),
        client_id: req.client_id.trim().to_owned(),
        secret: None,
        key: None,
        alg: optional(&req.alg),
        variant: template.as_ref().and(optional(&req.variant)),
        var: Vec::new(),
        variables: template
            .as_ref()
            .map(|_| Value::Object(variables).to_string()),
        template,
        context: if context.is_empty() {
            Vec::new()
        } else {
            vec![Value::Object(context).to_string()]
        },
        remote_ip: optional(&req.remote_ip),
        sub: optional(&req.sub),
        region: req.region.clone(),
        expires_in: req.expires_in.clone(),
        unsigned: req.signing == SigningMethod::Unsigned,
        verbose: false,
        json: false,
    };
    let signing = match req.signing {
        SigningMethod::Secret => Signing::Secret(req.secret.as_bytes().to_vec()),
        SigningMethod::Key => {
            if req.key.trim().is_empty() {
                return Err(Problem::field(
                    "key",
                    "paste the application's RSA private key (PEM or JWK)",
                ));
            }
            Signing::Key {
                key: Key::parse(req.key.as_bytes())
                    .map_err(|e| Problem::field("key", format!("not a usable key: {e}")))?,
                source: "(pasted)".to_owned(),
            }
        }
        SigningMethod::Unsigned => Signing::Unsigned,
    };
    if req.signing == SigningMethod::Unsigned && optional(&req.alg).is_some() {
        return Err(Problem::field(
            "alg",
            "an unsigned request object has no algorithm",
        ));
    }
    let made = request_object::make(&args, &signing, now).map_err(problem)?;
    Ok(made_view(&made, command::request_object(req)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    const NOW: i64 = 1_764_000_000;
    const SECRET: &str = "Ex4mple-Client-Secret-For-Signet-Docs-0123456789abcdef";

    fn hint() -> LoginHintRequest {
        LoginHintRequest {
            env: "0f3c2a57-8d7b-4c1e-a9f0-6b2d8e4c1a90".into(),
            region: "na".into(),
            client_id: "client-1".into(),
            secret: SECRET.into(),
            user: "charlie".into(),
            alg: "HS256".into(),
            expires_in: "1h".into(),
        }
    }

    #[test]
    fn flags_map_to_fields_by_whole_word() {
        assert_eq!(
            field_of("--var \"x\": expected key=value"),
            Some("variables")
        );
        assert_eq!(field_of("--variables: not JSON"), Some("variables"));
        assert_eq!(field_of("--region us: unknown region"), Some("region"));
        assert_eq!(
            field_of("--expires-in \"1y\": unknown unit"),
            Some("expires_in")
        );
        assert_eq!(field_of("--envelope"), None);
        assert_eq!(field_of("login_hint_token: alg not allowed"), None);
    }

    #[test]
    fn login_hint_matches_the_cli_rules_and_names_the_field() {
        let v = login_hint(&hint(), NOW).unwrap();
        assert_eq!(v["claims"]["iss"], "client-1");
        assert_eq!(v["claims"]["exp"], NOW + 3600);
        assert_eq!(
            v["claims"]["aud"],
            "https://auth.pingone.com/0f3c2a57-8d7b-4c1e-a9f0-6b2d8e4c1a90/as"
        );
        assert_eq!(v["header"], json!({"alg": "HS256", "typ": "JWT"}));
        let bad = |f: fn(&mut LoginHintRequest)| {
            let mut r = hint();
            f(&mut r);
            login_hint(&r, NOW).unwrap_err()
        };
        assert_eq!(bad(|r| r.region = "us".into()).field, Some("region"));
        assert_eq!(bad(|r| r.env = "a/b".into()).field, Some("env"));
        assert_eq!(bad(|r| r.alg = "RS256".into()).field, Some("alg"));
        assert_eq!(bad(|r| r.expires_in = "0".into()).field, Some("expires_in"));
        assert_eq!(bad(|r| r.user = " ".into()).field, Some("user"));
        assert_eq!(bad(|r| r.secret = String::new()).field, Some("secret"));
        // A page's secret is literal: never a file or an environment variable.
        let mut r = hint();
        r.secret = "env:HOME".into();
        let v = login_hint(&r, NOW).unwrap();
        let key = Key::hmac(b"env:HOME".to_vec()).unwrap();
        let token = v["token"].as_str().unwrap();
        assert!(Verifier::new(key).verify(token).is_ok());
        assert_eq!(v["warnings"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn request_object_rows_are_typed_and_checked() {
        let req = RequestObjectRequest {
            region: "eu".into(),
            variables: vec![
                ("sum".into(), "1,000,000".into()),
                ("count".into(), "3".into()),
                (String::new(), String::new()),
            ],
            remote_ip: "192.0.2.7".into(),
            ..transaction_request(SECRET)
        };
        let v = request_object(&req, NOW).unwrap();
        assert_eq!(
            v["claims"]["pi.template"],
            json!({"name": "transaction", "variables": {"sum": "1,000,000", "count": 3}})
        );
        assert_eq!(
            v["claims"]["pi.clientContext"],
            json!({"alert.color": "red"})
        );
        assert_eq!(v["claims"]["aud"], "https://auth.pingone.eu/env-1/as");
        assert_eq!(v["header"]["alg"], "HS256");

        let dup = RequestObjectRequest {
            variables: vec![("a".into(), "1".into()), ("a".into(), "2".into())],
            ..req
        };
        let p = request_object(&dup, NOW).unwrap_err();
        assert_eq!(p.field, Some("variables"));
        assert!(p.message.contains("row 2"), "{}", p.message);
        let no_template = RequestObjectRequest {
            template: String::new(),
            variables: vec![("a".into(), "1".into())],
            ..dup
        };
        assert_eq!(
            request_object(&no_template, NOW).unwrap_err().field,
            Some("template")
        );
        let bad_ip = RequestObjectRequest {
            template: "t".into(),
            remote_ip: "1.2.3".into(),
            ..no_template
        };
        assert_eq!(
            request_object(&bad_ip, NOW).unwrap_err().field,
            Some("remote_ip")
        );
        let hs_with_key = RequestObjectRequest {
            remote_ip: String::new(),
            signing: SigningMethod::Key,
            key: "not a key".into(),
            ..bad_ip
        };
        assert_eq!(
            request_object(&hs_with_key, NOW).unwrap_err().field,
            Some("key")
        );
    }

    #[test]
    fn request_object_signs_with_a_pasted_rsa_key() {
        // The RSA test key of the jwtgen fixtures (PKCS#8 PEM).
        let pem = include_str!("../../tests/fixtures/jwtgen/rsa-2048-pkcs8.pem");
        let key = Key::parse(pem.as_bytes()).unwrap();
        let req = RequestObjectRequest {
            signing: SigningMethod::Key,
            key: pem.into(),
            alg: "RS384".into(),
            template: String::new(),
            variables: Vec::new(),
            client_context: Vec::new(),
            sub: "charlie".into(),
            expires_in: "0".into(),
            ..transaction_request("")
        };
        let v = request_object(&req, NOW).unwrap();
        assert_eq!(v["header"]["alg"], "RS384");
        assert_eq!(v["claims"].get("exp"), None, "lifetime 0 leaves exp out");
        let token = v["token"].as_str().unwrap();
        assert!(Verifier::new(key).verify(token).is_ok());
        assert!(v["command"]
            .as_str()
            .unwrap()
            .contains("--key app-key.pem --alg RS384"));
        // An HMAC algorithm with a key, and an algorithm on an unsigned object, are refused
        // beside the algorithm field.
        let hs = RequestObjectRequest {
            alg: "HS256".into(),
            ..req
        };
        assert_eq!(request_object(&hs, NOW).unwrap_err().field, Some("alg"));
        let unsigned = RequestObjectRequest {
            signing: SigningMethod::Unsigned,
            ..hs
        };
        assert_eq!(
            request_object(&unsigned, NOW).unwrap_err().field,
            Some("alg")
        );
        let unsigned = RequestObjectRequest {
            alg: String::new(),
            ..unsigned
        };
        let v = request_object(&unsigned, NOW).unwrap();
        assert_eq!(v["header"]["alg"], "none");
        assert_eq!(v["warnings"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn verify_says_which_check_failed() {
        let made = login_hint(&hint(), NOW).unwrap();
        let token = made["token"].as_str().unwrap().to_owned();
        let req = |secret: &str, aud: &str| VerifyRequest {
            token: token.clone(),
            method: KeyMethod::Secret,
            secret: secret.into(),
            key: String::new(),
            jwks_url: String::new(),
            aud: aud.into(),
        };
        let check = |r: VerifyRequest, now: i64| {
            let keys = verification_keys(&r).unwrap();
            verify(&r, keys, now).unwrap()
        };
        let ok = check(req(SECRET, ""), NOW);
        assert_eq!(ok["valid"], true);
        assert_eq!(ok["signature"]["alg"], "HS256");
        let wrong = check(req("wrong-secret-wrong-secret-wrong-secret", ""), NOW);
        assert_eq!(wrong["valid"], false);
        assert_eq!(wrong["signature"]["valid"], false);
        assert_eq!(wrong["signature"]["message"], "signature does not verify");
        let expired = check(req(SECRET, ""), NOW + 7200);
        assert_eq!(expired["signature"]["valid"], true);
        assert_eq!(expired["claims"]["valid"], false);
        assert!(expired["claims"]["message"]
            .as_str()
            .unwrap()
            .starts_with("exp is in the past"));
        let aud = check(req(SECRET, "https://elsewhere"), NOW);
        assert_eq!(aud["claims"]["valid"], false);
        assert_eq!(
            verification_keys(&req("", "")).unwrap_err().field,
            Some("secret")
        );
        let not_token = VerifyRequest {
            token: "abc".into(),
            ..req(SECRET, "")
        };
        let keys = verification_keys(&not_token).unwrap();
        assert_eq!(
            verify(&not_token, keys, NOW).unwrap_err().field,
            Some("token")
        );
    }

    #[test]
    fn decode_shows_segments_notes_and_dates() {
        let made = login_hint(&hint(), NOW).unwrap();
        let token = made["token"].as_str().unwrap();
        let v = decode(
            &DecodeRequest {
                token: format!("Bearer {token}\n"),
            },
            NOW + 7200,
        )
        .unwrap();
        assert_eq!(v["payload"]["sub"], "charlie");
        assert!(v["dates"]["exp"]
            .as_str()
            .unwrap()
            .ends_with("(expired 1 h ago)"));
        assert_eq!(
            format!(
                "{}.{}.{}",
                v["segments"]["header"].as_str().unwrap(),
                v["segments"]["payload"].as_str().unwrap(),
                v["segments"]["signature"].as_str().unwrap()
            ),
            token
        );
        assert_eq!(v["signature_bytes"], 32);
        let p = decode(
            &DecodeRequest {
                token: "a.b".into(),
            },
            NOW,
        )
        .unwrap_err();
        assert_eq!(p.field, Some("token"));
        assert!(p.message.contains("3 segments"), "{}", p.message);
    }
}
