//! `signet keys`: generate keys, print public halves and RFC 7638 thumbprints.

use anyhow::anyhow;
use clap::{Subcommand, ValueEnum};
use jose::{Algorithm, Key};
use serde_json::Value;

use crate::exit::{usage, Outcome};
use crate::input;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Jwk,
    Pem,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Generate a key for an algorithm (kid = RFC 7638 thumbprint unless --kid)
    Generate {
        #[arg(long, short = 'a')]
        alg: String,
        #[arg(long)]
        kid: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Jwk)]
        format: Format,
        /// RSA modulus size: 2048, 3072 or 4096
        #[arg(long, default_value_t = 2048)]
        bits: usize,
    },
    /// Print the public key of a key file
    Public {
        file: String,
        #[arg(long, value_enum, default_value_t = Format::Jwk)]
        format: Format,
    },
    /// Print the RFC 7638 thumbprint (SHA-256) of a key file
    Thumbprint { file: String },
}

fn pretty(m: serde_json::Map<String, Value>) -> String {
    serde_json::to_string_pretty(&Value::Object(m)).unwrap_or_default()
}

pub fn run(cmd: &KeysCommand) -> Outcome {
    match cmd {
        KeysCommand::Generate {
            alg,
            kid,
            format,
            bits,
        } => {
            let alg: Algorithm = input::algorithm(alg)?;
            let key = if alg.family() == jose::Family::Rsa {
                Key::generate_rsa(alg, *bits)
            } else {
                Key::generate(alg)
            }
            .map_err(|e| anyhow!("{e}"))?;
            let kid = kid.clone().unwrap_or_else(|| key.thumbprint());
            let key = key.with_kid(kid);
            match format {
                Format::Jwk => {
                    println!("{}", pretty(key.private_jwk().map_err(|e| anyhow!("{e}"))?))
                }
                Format::Pem => {
                    if alg.family() == jose::Family::Hmac {
                        usage!("an HMAC secret has no PEM form; use --format jwk");
                    }
                    print!("{}", key.private_pem().map_err(|e| anyhow!("{e}"))?);
                }
            }
        }
        KeysCommand::Public { file, format } => {
            let key = input::key_file(file, None)?;
            if key.kind() == jose::KeyKind::Hmac {
                usage!("{file}: an HMAC secret has no public half");
            }
            match format {
                Format::Jwk => println!("{}", pretty(key.public_jwk())),
                Format::Pem => print!("{}", key.public_pem().map_err(|e| anyhow!("{e}"))?),
            }
        }
        KeysCommand::Thumbprint { file } => {
            let key = input::key_file(file, None)?;
            println!("{}", key.thumbprint());
        }
    }
    Ok(())
}
