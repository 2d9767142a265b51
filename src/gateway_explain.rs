//! `signet gateway explain`: what the gateway would do with one request (route, session, each
//! rule's decision, the backend's exact fields and JWT), without a backend or the network.

use std::path::PathBuf;

use anyhow::{anyhow, Context};
use clap::Args;

use ::gateway::explain::{self, ExplainRequest};

use crate::exit::{usage, Failure, Outcome};

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The gateway configuration
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// An api session's bearer token (sent as Authorization: Bearer)
    #[arg(long, value_name = "JWT", conflicts_with = "attributes")]
    pub token: Option<String>,
    /// The session's attributes as a JSON object (or @FILE), instead of a token
    #[arg(long, value_name = "JSON")]
    pub attributes: Option<String>,
    /// The client certificate chain (PEM, leaf first), as a TLS client would present it
    #[arg(long, value_name = "PEM")]
    pub client_cert: Option<PathBuf>,
    /// The client's address, for network rules and X-Forwarded-For
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub client_ip: std::net::IpAddr,
    /// A request header field, "Name: value" (repeatable)
    #[arg(long = "header", short = 'H', value_name = "FIELD")]
    pub headers: Vec<String>,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
    /// The request method (GET, POST, …)
    #[arg(value_name = "METHOD")]
    pub method: String,
    /// The request URL as the client sends it (http(s)://HOST/PATH?QUERY)
    #[arg(value_name = "URL")]
    pub url: String,
}

pub fn run(a: &ExplainArgs) -> Outcome {
    let name = a.config.display();
    let config = match ::gateway::runtime::load_checked(&a.config) {
        Ok(config) => config,
        Err(problems) => {
            for problem in &problems {
                eprintln!("{name}: {problem}");
            }
            usage!("{name}: the configuration is not valid");
        }
    };
    let method = hyper_method(&a.method)?;
    let attributes = match &a.attributes {
        None => None,
        Some(text) => {
            let text = match text.strip_prefix('@') {
                Some(file) => std::fs::read_to_string(file)
                    .with_context(|| format!("--attributes @{file}"))?,
                None => text.clone(),
            };
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(serde_json::Value::Object(map)) => Some(map),
                Ok(_) => usage!("--attributes must be a JSON object"),
                Err(e) => usage!("--attributes is not JSON: {e}"),
            }
        }
    };
    let client_chain = match &a.client_cert {
        None => Vec::new(),
        Some(pem) => {
            let Some(ca) = &config.listen.client_ca else {
                usage!("--client-cert needs [listen] client_ca: without it the gateway asks no client for a certificate");
            };
            let presented = ::gateway::tls::certificate_chain(pem).context("--client-cert")?;
            let cas =
                ::gateway::tls::client_cas(&config.resolve(ca)).context("[listen] client_ca")?;
            let chain = cas.verified_chain(&presented);
            if chain.is_empty() {
                return Err(Failure::Invalid(anyhow!(
                    "--client-cert: the chain does not verify against [listen] client_ca (the TLS handshake would fail)"
                )));
            }
            chain
        }
    };
    let mut headers = Vec::new();
    for h in &a.headers {
        let Some((n, v)) = h.split_once(':') else {
            usage!("--header {h:?} is not \"Name: value\"");
        };
        headers.push((n.trim().to_owned(), v.trim().to_owned()));
    }
    let keyset =
        ::gateway::runtime::keyset(&config, crate::clock::now(), false).context("[auth_token]")?;
    let request = ExplainRequest {
        method,
        url: a.url.clone(),
        token: a.token.clone(),
        attributes,
        client_chain,
        client_ip: a.client_ip,
        headers,
    };
    let explained = explain::explain(&config, keyset.as_ref(), &request, crate::clock::now())
        .map_err(|e| match e {
            explain::ExplainError::Input(m) => Failure::Usage(anyhow!(m)),
            explain::ExplainError::Config(m) => Failure::Usage(anyhow!("{name}: {m}")),
        })?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&explained.report).context("cannot print the report")?
        );
    } else {
        print!("{}", explain::render_text(&explained.report));
    }
    if explained.forwarded {
        Ok(())
    } else {
        // Exit 1: the gateway would not forward the request (a failed check).
        Err(Failure::Invalid(anyhow!(
            "the gateway would not forward this request"
        )))
    }
}

fn hyper_method(text: &str) -> Result<::gateway::explain::Method, Failure> {
    ::gateway::explain::Method::from_bytes(text.as_bytes())
        .ok()
        .filter(|_| !text.is_empty() && text.bytes().all(|b| b.is_ascii_uppercase()))
        .ok_or_else(|| Failure::Usage(anyhow!("METHOD {text:?} is not an upper-case HTTP method")))
}
