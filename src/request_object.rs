//! `signet request-object`: make a PingOne request object (`request=`), e.g. for transaction
//! approval.

use anyhow::{anyhow, Context};
use clap::Args;
use jose::{Algorithm, Key, KeyKind};
use pingone::request_object::{self, Claims, Protection, Template};
use serde_json::{Map, Value};

use crate::exit::{usage, Failure, Outcome};
use crate::input;
use crate::login_hint::{audience, build_error, non_empty, print_token, Made};

#[derive(Args, Debug)]
pub struct RequestObjectArgs {
    /// PingOne environment id (the {envId} of https://auth.pingone.com/{envId}/as)
    #[arg(long)]
    pub env: String,
    /// The application's id, i.e. its client id (the token's iss)
    #[arg(long)]
    pub client_id: String,
    /// Sign with the client secret (HS256/384/512): a literal, @file or env:NAME
    #[arg(long, short = 's', conflicts_with = "key")]
    pub secret: Option<String>,
    /// Sign with the application's RSA private key (RS256/384/512): PEM, DER, JWK or JWK Set
    #[arg(long, short = 'k')]
    pub key: Option<String>,
    /// HS256/384/512 with --secret (default HS256), RS256/384/512 with --key (default RS256)
    #[arg(long, short = 'a')]
    pub alg: Option<String>,
    /// Notification template name (pi.template.name), e.g. transaction
    #[arg(long)]
    pub template: Option<String>,
    /// Template variant (pi.template.variant)
    #[arg(long, requires = "template")]
    pub variant: Option<String>,
    /// A template variable key=value (value parsed as JSON if it is JSON, else a string);
    /// repeatable
    #[arg(long = "var", value_name = "K=V", requires = "template")]
    pub var: Vec<String>,
    /// Template variables as a JSON object, @file or - (stdin); --var entries override them
    #[arg(long, value_name = "JSON", requires = "template")]
    pub variables: Option<String>,
    /// Client context (pi.clientContext): key=value, or a JSON object '{"alert.color":"red"}';
    /// repeatable. Keys are literal: alert.color stays one key
    #[arg(long, value_name = "K=V|JSON")]
    pub context: Vec<String>,
    /// The user's original IP address (pi.remoteIp)
    #[arg(long)]
    pub remote_ip: Option<String>,
    /// The user's id or username (sub), so the request object can double as a login hint
    #[arg(long)]
    pub sub: Option<String>,
    /// PingOne region: na, eu, ca, au, sg, ap (sets the aud domain)
    #[arg(long, default_value = "na")]
    pub region: String,
    /// Lifetime: seconds or 15m, 1h, 2d; exp = now + lifetime; 0 leaves exp out
    #[arg(long, short = 'e', value_name = "DURATION", default_value = "300")]
    pub expires_in: String,
    /// Make an UNSIGNED request object (alg none): only for applications that allow them
    #[arg(long, conflicts_with_all = ["secret", "key", "alg"])]
    pub unsigned: bool,
    /// Also print the algorithm, claims and header (the layout of `jwtgen -v`)
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Print {"token", "header", "claims"} as JSON
    #[arg(long, conflicts_with = "verbose")]
    pub json: bool,
}

/// Builds the claims from the flags; `now` is the clock.
pub fn build_claims(a: &RequestObjectArgs, now: i64) -> Result<Claims, Failure> {
    let template = match &a.template {
        None => None,
        Some(name) => {
            let mut variables = match &a.variables {
                Some(spec) => input::json_object(spec, "--variables")?,
                None => Map::new(),
            };
            for spec in &a.var {
                let (k, v) = input::key_value(spec, "--var")?;
                variables.insert(k, v);
            }
            Some(Template {
                name: non_empty(name, "--template")?,
                variant: a.variant.clone(),
                variables,
            })
        }
    };
    let lifetime = input::duration(&a.expires_in, "--expires-in")?;
    let remote_ip = match &a.remote_ip {
        Some(ip) if ip.parse::<std::net::IpAddr>().is_err() => {
            usage!("--remote-ip {ip:?}: not an IPv4 or IPv6 address")
        }
        other => other.clone(),
    };
    Ok(Claims {
        client_id: non_empty(&a.client_id, "--client-id")?,
        audience: audience(&a.region, &a.env)?,
        template,
        client_context: client_context(&a.context)?,
        remote_ip,
        sub: a
            .sub
            .as_deref()
            .map(|s| non_empty(s, "--sub"))
            .transpose()?,
        issued_at: Some(now),
        expires_at: (lifetime > 0).then(|| now.saturating_add(lifetime)),
    })
}

/// `--context` values in order: a JSON object adds its members, `k=v` adds one (a value that
/// starts with `{` or `[` is read as JSON, and must be an object). Keys are taken
/// literally (`alert.color` is one key, never a path).
fn client_context(specs: &[String]) -> Result<Map<String, Value>, Failure> {
    let mut context = Map::new();
    for spec in specs {
        if spec.trim_start().starts_with(['{', '[']) {
            context.extend(input::json_object(spec, "--context")?);
        } else {
            let (k, v) = input::key_value(spec, "--context")?;
            context.insert(k, v);
        }
    }
    Ok(context)
}

/// How a request object is protected, with the secret or key already read.
#[derive(Debug, Clone)]
pub enum Signing {
    /// HS256/384/512 with the client secret.
    Secret(Vec<u8>),
    /// RS256/384/512 with the application's key; `source` names it in errors.
    Key { key: Key, source: String },
    /// `alg: none`, for applications that allow unsigned request objects.
    Unsigned,
}

/// The key and algorithm for `signing` and `--alg`.
fn signing_key(signing: &Signing, alg: Option<&str>) -> Result<(Key, Algorithm), Failure> {
    let alg = alg.map(input::algorithm).transpose()?;
    match signing {
        Signing::Secret(s) => {
            let alg = alg.unwrap_or(Algorithm::HS256);
            if !request_object::HMAC_ALGORITHMS.contains(&alg) {
                usage!("--alg {alg}: --secret signs with HS256, HS384 or HS512 (use --key for RS256/384/512)");
            }
            if s.is_empty() {
                usage!("--secret: the secret is empty");
            }
            let key = Key::hmac(s.clone()).map_err(|e| anyhow!("--secret: {e}"))?;
            Ok((key, alg))
        }
        Signing::Key { key, source } => {
            if key.kind() != KeyKind::Rsa || !key.can_sign() {
                usage!("--key {source}: request objects are signed with an RSA private key (RS256/384/512) or with --secret");
            }
            let alg = alg.unwrap_or_else(|| key.default_algorithm());
            if !request_object::RSA_ALGORITHMS.contains(&alg) {
                usage!("--alg {alg}: --key signs with RS256, RS384 or RS512 (use --secret for HS256/384/512)");
            }
            Ok((key.clone(), alg))
        }
        Signing::Unsigned => usage!("give one of --secret, --key or --unsigned"),
    }
}

/// Checks the values and makes the request object at `now`. Errors start with the flag at
/// fault. `signet ui` calls this too, so both go through the same rules.
pub fn make(a: &RequestObjectArgs, signing: &Signing, now: i64) -> Result<Made, Failure> {
    let claims = build_claims(a, now)?;
    let mut warnings = Vec::new();
    let token = match signing {
        Signing::Unsigned => {
            warnings.push("this request object has no signature; PingOne accepts it only if the application supports unsigned request objects".to_owned());
            request_object::build(&claims, Protection::UnsignedInsecure)
        }
        _ => {
            let (key, alg) = signing_key(signing, a.alg.as_deref())?;
            warnings.extend(input::short_secret_warning(&key, alg));
            request_object::build(&claims, Protection::Signed { key: &key, alg })
        }
    }
    .map_err(build_error)?;
    Ok(Made { token, warnings })
}

pub fn run(a: &RequestObjectArgs) -> Outcome {
    let signing = match (&a.secret, &a.key, a.unsigned) {
        (_, _, true) => Signing::Unsigned,
        (Some(s), None, false) => Signing::Secret(input::secret(s, "--secret")?),
        (None, Some(path), false) => Signing::Key {
            key: input::key_file(path, None).with_context(|| format!("--key {path}"))?,
            source: path.clone(),
        },
        _ => usage!("give one of --secret, --key or --unsigned"),
    };
    let made = make(a, &signing, crate::clock::now())?;
    for w in &made.warnings {
        let w = if matches!(signing, Signing::Unsigned) {
            format!("--unsigned: {w}")
        } else {
            w.clone()
        };
        eprintln!("signet: warning: {w}");
    }
    print_token(&made.token, a.verbose, a.json);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_takes_pairs_and_json_and_keeps_dots() {
        let specs = vec![
            "alert.color=red".to_owned(),
            r#"{"a.b.c": {"x": 1}, "n": 2}"#.to_owned(),
            "n=3".to_owned(),
        ];
        let c = client_context(&specs).ok();
        assert_eq!(
            c.map(Value::Object),
            Some(serde_json::json!({"alert.color": "red", "a.b.c": {"x": 1}, "n": 3}))
        );
        assert!(client_context(&["[1]".to_owned()]).is_err());
        assert!(client_context(&["{not json".to_owned()]).is_err());
        assert!(client_context(&["novalue".to_owned()]).is_err());
    }
}
