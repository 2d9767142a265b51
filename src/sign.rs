//! `signet sign`: build claims from flags and sign them.

use anyhow::{anyhow, Context};
use clap::Args;
use jose::jws::Signer;
use jose::{Algorithm, Key};
use serde_json::{Map, Value};

use crate::exit::{usage, Outcome};
use crate::input;

#[derive(Args, Debug)]
pub struct SignArgs {
    /// Algorithm: HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512, ES256K, EdDSA
    /// (default: HS256 with --secret, the key's own algorithm with --key). `none` needs
    /// --allow-insecure-none.
    #[arg(long, short = 'a')]
    pub alg: Option<String>,
    /// HMAC secret: a literal, @file or env:NAME
    #[arg(long, short = 's', conflicts_with = "key")]
    pub secret: Option<String>,
    /// Private key file: PEM (PKCS#8, PKCS#1, SEC1), DER, JWK or JWK Set (pick with --kid)
    #[arg(long, short = 'k')]
    pub key: Option<String>,
    /// Claims as a JSON object, @file or - (stdin); `signet decode --json` output is accepted
    #[arg(long)]
    pub claims: Option<String>,
    /// A claim key=value (value parsed as JSON if it is JSON, else a string); repeatable
    #[arg(short = 'c', long = "claim", value_name = "K=V")]
    pub claim: Vec<String>,
    /// A header member key=value (value parsed as JSON if it is JSON); repeatable
    #[arg(long = "header", short = 'H', value_name = "K=V")]
    pub header: Vec<String>,
    #[arg(long)]
    pub iss: Option<String>,
    #[arg(long)]
    pub sub: Option<String>,
    /// Audience; repeat for several (then aud is an array)
    #[arg(long)]
    pub aud: Vec<String>,
    /// Lifetime: seconds or 15m, 1h, 2d; sets exp = now + lifetime
    #[arg(long, value_name = "DURATION")]
    pub expires_in: Option<String>,
    /// Key id for the header (default: the key's kid, if any)
    #[arg(long)]
    pub kid: Option<String>,
    /// Add a random jti (128 bits, base64url)
    #[arg(long)]
    pub jti: bool,
    /// Do not add iat
    #[arg(long)]
    pub no_iat: bool,
    /// Allow --alg none: an UNSECURED token that anyone can forge
    #[arg(long)]
    pub allow_insecure_none: bool,
}

/// Builds the claims set. Precedence: -c over flags over --claims; a claim keeps the position
/// where it first appears; iat (now) comes first unless given or --no-iat.
pub fn build_claims(
    a: &SignArgs,
    now: i64,
) -> anyhow::Result<(Map<String, Value>, Map<String, Value>)> {
    let mut claims = Map::new();
    let mut header = Map::new();
    if let Some(spec) = &a.claims {
        let mut obj = input::json_object(spec, "--claims")?;
        // `signet decode --json` output: take its payload, and its header's extra members.
        if let (Some(Value::Object(payload)), Some(Value::Object(h))) =
            (obj.get("payload"), obj.get("header"))
        {
            for (k, v) in h {
                if !matches!(k.as_str(), "alg" | "typ" | "kid") {
                    header.insert(k.clone(), v.clone());
                }
            }
            if let Some(Value::String(kid)) = h.get("kid") {
                header.insert("kid".into(), kid.clone().into());
            }
            obj = payload.clone();
        }
        claims = obj;
    }
    if !a.no_iat && !claims.contains_key("iat") {
        claims.shift_insert(0, "iat".into(), now.into());
    }
    if let Some(ttl) = &a.expires_in {
        let secs = input::duration(ttl, "--expires-in")?;
        claims.insert("exp".into(), now.saturating_add(secs).into());
    }
    if let Some(iss) = &a.iss {
        claims.insert("iss".into(), iss.clone().into());
    }
    if let Some(sub) = &a.sub {
        claims.insert("sub".into(), sub.clone().into());
    }
    match a.aud.as_slice() {
        [] => {}
        [one] => {
            claims.insert("aud".into(), one.clone().into());
        }
        many => {
            claims.insert("aud".into(), many.to_vec().into());
        }
    }
    if a.jti {
        let mut id = [0u8; 16];
        jose::key::random_bytes(&mut id).map_err(|e| anyhow!("{e}"))?;
        claims.insert("jti".into(), jose::b64::encode(id).into());
    }
    for c in &a.claim {
        let (k, v) = input::key_value(c, "-c")?;
        claims.insert(k, v);
    }
    for h in &a.header {
        let (k, v) = input::key_value(h, "--header")?;
        header.insert(k, v);
    }
    if let Some(kid) = &a.kid {
        header.insert("kid".into(), kid.clone().into());
    }
    Ok((claims, header))
}

pub fn run(a: &SignArgs) -> Outcome {
    let now = crate::clock::now();
    if a.alg
        .as_deref()
        .is_some_and(|n| n.eq_ignore_ascii_case("none"))
    {
        if !a.allow_insecure_none {
            usage!("--alg none makes an UNSECURED token that anyone can forge; add --allow-insecure-none if you really mean it");
        }
        eprintln!("signet: warning: signing with alg none: this token has no signature");
        let (claims, mut header) = build_claims(a, now)?;
        header.shift_insert(0, "typ".into(), "JWT".into());
        let payload = serde_json::to_vec(&claims).context("serializing claims")?;
        println!("{}", jose::jws::sign_unsecured_insecure(&header, &payload));
        return Ok(());
    }
    let token = token(a, now)?;
    println!("{token}");
    Ok(())
}

/// The signed token `signet sign` prints (any alg but `none`), with `now` as the clock.
pub fn token(a: &SignArgs, now: i64) -> Result<String, crate::exit::Failure> {
    let (claims, header) = build_claims(a, now)?;
    let key = match (&a.secret, &a.key) {
        (Some(s), None) => {
            Key::hmac(input::secret(s, "--secret")?).map_err(|e| anyhow!("--secret: {e}"))?
        }
        (None, Some(path)) => input::key_file(path, a.kid.as_deref())?,
        _ => usage!("give exactly one of --secret or --key"),
    };
    let alg: Algorithm = match &a.alg {
        Some(name) => input::algorithm(name)?,
        None => key.default_algorithm(),
    };
    if !key.can_sign() {
        usage!(
            "{}: this is a public key; signing needs the private key",
            a.key.as_deref().unwrap_or("--key")
        );
    }
    input::warn_short_secret(&key, alg);
    // Default header: typ JWT, then kid (flag, or the key's own), then --header members.
    let mut full = Map::new();
    full.insert("alg".into(), alg.name().into());
    full.insert("typ".into(), "JWT".into());
    if let Some(kid) = key.kid() {
        full.insert("kid".into(), kid.into());
    }
    for (k, v) in header {
        full.insert(k, v);
    }
    let signer = Signer::with_header(key, alg, full).map_err(|e| anyhow!("{e}"))?;
    Ok(signer.sign_claims(&claims).map_err(|e| anyhow!("{e}"))?)
}

/// Property test: `signet decode --json` of a token `signet sign` made, given back to
/// `signet sign --claims`, makes the same token byte for byte (claims, their order, the header's
/// extra members and kid).
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod properties {
    use clap::Parser;
    use proptest::prelude::*;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sign: SignArgs,
    }

    fn args(list: &[String]) -> SignArgs {
        Cli::try_parse_from(std::iter::once("sign".to_owned()).chain(list.iter().cloned()))
            .unwrap()
            .sign
    }

    const NOW: i64 = 1_764_000_000;
    const SECRET: &str = "a-secret-of-at-least-sixty-four-bytes-for-hs512-0123456789abcdefgh";

    fn claims() -> impl Strategy<Value = Map<String, Value>> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<String>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            Just(Value::Null),
            (-1e9f64..1e9).prop_map(Value::from),
        ];
        let value = leaf.prop_recursive(2, 12, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                proptest::collection::vec(("[a-z]{1,4}", inner), 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        proptest::collection::vec(("[a-z_]{1,6}", value), 0..6)
            .prop_map(|m| m.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn decode_json_then_sign_makes_the_same_token(
            claims in claims(),
            alg in proptest::sample::select(vec!["HS256", "HS384", "HS512"]),
            kid in proptest::option::of("[a-z0-9-]{1,12}"),
            extra in proptest::option::of("[a-z0-9 ]{0,12}"),
        ) {
            let mut first = vec![
                format!("--secret={SECRET}"), format!("--alg={alg}"),
                format!("--claims={}", Value::Object(claims)),
            ];
            if let Some(kid) = &kid {
                first.push(format!("--kid={kid}"));
            }
            if let Some(x) = &extra {
                first.push(format!("--header=x-extra={x}"));
            }
            let made = token(&args(&first), NOW).unwrap();
            let decoded = jose::jws::decode(&made).unwrap();
            let view = Value::Object(crate::decode::json_view(&decoded, NOW)).to_string();
            let again = args(&[
                format!("--secret={SECRET}"), format!("--alg={alg}"), format!("--claims={view}"),
            ]);
            prop_assert_eq!(token(&again, NOW).unwrap(), made);
        }
    }
}
