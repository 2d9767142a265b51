//! `signet login-hint`: make a PingOne login_hint_token.

use anyhow::anyhow;
use clap::Args;
use jose::Key;
use pingone::login_hint::{self, Claims};
use pingone::Region;
use serde_json::{Map, Value};

use crate::exit::{usage, Failure, Outcome};
use crate::input;

#[derive(Args, Debug)]
pub struct LoginHintArgs {
    /// PingOne environment id (the {envId} of https://auth.pingone.com/{envId}/as)
    #[arg(long)]
    pub env: String,
    /// The application's client id (the token's iss)
    #[arg(long)]
    pub client_id: String,
    /// The application's client secret: a literal, @file or env:NAME
    #[arg(long, short = 's')]
    pub secret: String,
    /// The user's id or username (the token's sub)
    #[arg(long)]
    pub user: String,
    /// PingOne region: na, eu, ca, au, sg, ap (sets the aud domain)
    #[arg(long, default_value = "na")]
    pub region: String,
    /// HS256, HS384 or HS512
    #[arg(long, short = 'a', default_value = "HS256")]
    pub alg: String,
    /// Lifetime: seconds or 15m, 1h, 2d; exp = now + lifetime (3600 is PingOne's typical value)
    #[arg(long, short = 'e', value_name = "DURATION", default_value = "3600")]
    pub expires_in: String,
    /// Also print the algorithm, claims and header (the layout of `jwtgen -v`)
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Print {"token", "header", "claims"} as JSON
    #[arg(long, conflicts_with = "verbose")]
    pub json: bool,
}

/// What a login_hint_token is made from: the command's values, with the secret already read.
/// `signet ui` fills this from its form, so both go through the same rules.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    pub env: &'a str,
    pub region: &'a str,
    pub client_id: &'a str,
    pub user: &'a str,
    pub alg: &'a str,
    pub expires_in: &'a str,
    pub secret: Vec<u8>,
}

/// A token and the warnings its making raised (e.g. a short secret).
#[derive(Debug, Clone)]
pub struct Made {
    pub token: pingone::Token,
    pub warnings: Vec<String>,
}

/// Checks the values and signs the token at `now`. Errors start with the flag at fault.
pub fn make(i: &Input<'_>, now: i64) -> Result<Made, Failure> {
    let audience = audience(i.region, i.env)?;
    let client_id = non_empty(i.client_id, "--client-id")?;
    let user = non_empty(i.user, "--user")?;
    let alg = input::algorithm(i.alg)?;
    if !login_hint::ALGORITHMS.contains(&alg) {
        usage!("--alg {alg}: a login_hint_token is signed with HS256, HS384 or HS512");
    }
    let lifetime = input::duration(i.expires_in, "--expires-in")?;
    if lifetime <= 0 {
        usage!(
            "--expires-in {}: a login_hint_token needs a positive lifetime",
            i.expires_in
        );
    }
    if i.secret.is_empty() {
        usage!("--secret: the secret is empty");
    }
    let key = Key::hmac(i.secret.clone()).map_err(|e| anyhow!("--secret: {e}"))?;
    let claims = Claims {
        client_id,
        subject: user,
        audience,
        issued_at: now,
        expires_at: now.saturating_add(lifetime),
    };
    let token = login_hint::build(&claims, &key, alg).map_err(build_error)?;
    Ok(Made {
        token,
        warnings: input::short_secret_warning(&key, alg).into_iter().collect(),
    })
}

pub fn run(a: &LoginHintArgs) -> Outcome {
    let made = make(
        &Input {
            env: &a.env,
            region: &a.region,
            client_id: &a.client_id,
            user: &a.user,
            alg: &a.alg,
            expires_in: &a.expires_in,
            secret: input::secret(&a.secret, "--secret")?,
        },
        crate::clock::now(),
    )?;
    for w in &made.warnings {
        eprintln!("signet: warning: {w}");
    }
    print_token(&made.token, a.verbose, a.json);
    Ok(())
}

/// The environment's issuer in the region: the `aud` of both PingOne token profiles.
pub(crate) fn audience(region: &str, env: &str) -> Result<String, Failure> {
    let region = Region::from_code(region).map_err(|e| anyhow!("--region {region}: {e}"))?;
    Ok(region.issuer(env).map_err(|e| anyhow!("--env: {e}"))?)
}

pub(crate) fn non_empty(value: &str, flag: &str) -> Result<String, Failure> {
    if value.trim().is_empty() {
        usage!("{flag}: the value is empty");
    }
    Ok(value.to_owned())
}

/// A builder failure is about the caller's input (key, algorithm, claim values): exit 2.
pub(crate) fn build_error(e: pingone::Error) -> Failure {
    Failure::Usage(e.into())
}

/// Prints the token alone, with `-v` in `jwtgen -v`'s layout, or with `--json` as
/// {"token", "header", "claims"}.
pub(crate) fn print_token(t: &pingone::Token, verbose: bool, json: bool) {
    let pretty = |m: &Map<String, Value>| serde_json::to_string_pretty(m).unwrap_or_default();
    if json {
        let mut out = Map::new();
        out.insert("token".into(), t.token.clone().into());
        out.insert("header".into(), Value::Object(t.header.clone()));
        out.insert("claims".into(), Value::Object(t.claims.clone()));
        println!("{}", pretty(&out));
    } else if verbose {
        let alg = t
            .header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or("none");
        println!(
            "algorithm: {alg}\n\nclaims: \n{}\n\nheaders: \n{}\n\ntoken:\n{}",
            pretty(&t.claims),
            pretty(&t.header),
            t.token
        );
    } else {
        println!("{}", t.token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_names_the_flag_at_fault() {
        assert_eq!(
            audience("eu", "env-1").ok(),
            Some("https://auth.pingone.eu/env-1/as".to_owned())
        );
        let msg = |r: Result<String, Failure>| match r {
            Err(Failure::Usage(e)) => e.to_string(),
            _ => String::new(),
        };
        assert!(msg(audience("us", "env-1")).starts_with("--region us:"));
        assert!(msg(audience("na", "a/b")).starts_with("--env:"));
    }
}
