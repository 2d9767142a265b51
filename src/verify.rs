//! `signet verify`: check a token's signature and claims; print the verified claims.

use std::io::Write;

use anyhow::{anyhow, bail};
use clap::Args;
use jose::{Algorithm, Key, KeySet, Validation, Verifier};

use crate::exit::{token_error, Failure, Outcome};
use crate::{fetch, input};

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The token, or - (default) to read it from standard input
    pub token: Option<String>,
    /// HMAC secret: a literal, @file or env:NAME
    #[arg(long, short = 's', group = "keysource")]
    pub secret: Option<String>,
    /// Key file: PEM (public or private, or a certificate), DER, JWK or JWK Set
    #[arg(long, short = 'k', group = "keysource")]
    pub key: Option<String>,
    /// JWK Set: a file or an http(s):// URL
    #[arg(long, group = "keysource")]
    pub jwks: Option<String>,
    /// Issuer URL: keys through OIDC discovery; also requires iss to equal it
    #[arg(long, group = "keysource")]
    pub issuer: Option<String>,
    /// Accepted algorithm; repeatable (default: whatever the key can do)
    #[arg(long)]
    pub alg: Vec<String>,
    /// Required audience (aud must contain it)
    #[arg(long)]
    pub aud: Vec<String>,
    /// Required issuer
    #[arg(long)]
    pub iss: Vec<String>,
    /// Required subject
    #[arg(long)]
    pub sub: Option<String>,
    /// Required header typ (e.g. at+jwt)
    #[arg(long)]
    pub typ: Option<String>,
    /// Clock-skew allowance for exp and nbf, in seconds
    #[arg(long, default_value_t = jose::jwt::DEFAULT_LEEWAY)]
    pub leeway: u64,
    /// A claim that must be present; repeatable
    #[arg(long)]
    pub require: Vec<String>,
    /// Raw JWS: the payload is opaque bytes (no JWT claim checks); print it as is
    #[arg(long)]
    pub raw: bool,
}

fn keys(a: &VerifyArgs) -> anyhow::Result<KeySet> {
    Ok(match (&a.secret, &a.key, &a.jwks, &a.issuer) {
        (Some(s), None, None, None) => KeySet::from(
            Key::hmac(input::secret(s, "--secret")?).map_err(|e| anyhow!("--secret: {e}"))?,
        ),
        (None, Some(path), None, None) => input::verification_keys(&input::read_file(path)?, path)?,
        (None, None, Some(spec), None) => fetch::jwks(spec)?,
        (None, None, None, Some(issuer)) => fetch::discover(issuer)?,
        _ => bail!("give one of --secret, --key, --jwks or --issuer"),
    })
}

/// Whether the keys come from a URL (`--jwks URL` or `--issuer`), which may be fetched again.
fn fetched(a: &VerifyArgs) -> bool {
    a.issuer.is_some()
        || a.jwks
            .as_deref()
            .is_some_and(|j| j.starts_with("http://") || j.starts_with("https://"))
}

fn verifier(a: &VerifyArgs, keys: KeySet) -> anyhow::Result<Verifier> {
    let mut verifier = Verifier::new(keys);
    if !a.alg.is_empty() {
        let algs = a
            .alg
            .iter()
            .map(|n| input::algorithm(n))
            .collect::<anyhow::Result<Vec<Algorithm>>>()?;
        verifier = verifier.allow_algorithms(&algs);
    }
    Ok(verifier)
}

pub fn run(a: &VerifyArgs) -> Outcome {
    let token = input::token(a.token.as_deref())?;
    let mut keys = keys(a)?;
    let mut verifier = verifier(a, keys.clone())?;
    // The token names a `kid` the keys lack: for keys fetched from a URL, whose issuer may have
    // just rotated its key (a cache on the way may still serve the old set), fetch them once more.
    if fetched(a) && matches!(verifier.verify(&token), Err(jose::Error::UnknownKid(_))) {
        keys = self::keys(a)?;
        verifier = self::verifier(a, keys.clone())?;
    }
    if a.raw {
        let v = verifier.verify(&token).map_err(token_error)?;
        std::io::stdout()
            .write_all(&v.payload)
            .map_err(|e| Failure::Usage(anyhow!("writing the payload: {e}")))?;
        return Ok(());
    }
    let mut iss = a.iss.clone();
    if iss.is_empty() {
        if let Some(i) = &a.issuer {
            iss.push(i.clone());
        }
    }
    let validation = Validation {
        leeway: a.leeway,
        now: Some(crate::clock::now()),
        issuers: iss,
        audiences: a.aud.clone(),
        subject: a.sub.clone(),
        typ: a.typ.clone(),
        required: a.require.clone(),
        ..Validation::default()
    };
    let jwt = verifier
        .verify_jwt(&token, &validation)
        .map_err(token_error)?;
    if let Some(k) = keys.keys().first() {
        if keys.keys().len() == 1 {
            input::warn_short_secret(k, jwt.alg);
        }
    }
    let out =
        serde_json::to_string_pretty(&serde_json::Value::Object(jwt.claims)).unwrap_or_default();
    println!("{out}");
    Ok(())
}
