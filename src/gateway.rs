//! `signet gateway`: the PingAccess-style identity-mapping reverse proxy. `--check` validates a
//! configuration; otherwise the gateway serves it until SIGINT/SIGTERM (SIGHUP reloads it).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::Args;

use ::gateway::proxy::Gateway;
use ::gateway::server::Listener;
use ::gateway::Keyset;

use crate::exit::{usage, Outcome};

#[derive(Args, Debug)]
#[command(
    group(clap::ArgGroup::new("source").required(true).args(["config", "file"])),
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct GatewayArgs {
    #[command(subcommand)]
    pub command: Option<GatewayCommand>,
    /// The gateway configuration (TOML; see docs/DESIGN.md, "signet gateway")
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The configuration file, given without --config (`signet gateway --check FILE`)
    #[arg(value_name = "FILE", conflicts_with = "config")]
    pub file: Option<PathBuf>,
    /// Check the configuration and exit: each problem on its own line, prefixed by the file
    /// name; exit 0 when valid, 2 otherwise
    #[arg(long)]
    pub check: bool,
    /// Listen on this address instead of [listen] http (port 0 picks a free port)
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Listen for HTTPS on this address instead of [listen] https (needs tls_cert and tls_key)
    #[arg(long, value_name = "ADDR")]
    pub listen_https: Option<String>,
    /// Listen for cleartext HTTP/2 (h2c, prior knowledge) on this address instead of [listen] h2c
    #[arg(long, value_name = "ADDR")]
    pub listen_h2c: Option<String>,
}

#[derive(clap::Subcommand, Debug)]
pub enum GatewayCommand {
    /// Show what the gateway would do with a request: the route, each rule's decision, the
    /// backend's exact header fields and the decoded backend JWT (no backend, no network)
    Explain(crate::gateway_explain::ExplainArgs),
}

/// How long in-flight requests may take to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The clock of the request path: `crate::clock::now`, with `SIGNET_NOW` read once rather than
/// on every request (the environment does not change while the gateway runs, and reading it
/// takes the process-wide environment lock).
fn request_clock() -> i64 {
    static SETTING: std::sync::OnceLock<crate::clock::Setting> = std::sync::OnceLock::new();
    let setting =
        SETTING.get_or_init(|| crate::clock::setting(std::env::var("SIGNET_NOW").ok().as_deref()));
    crate::clock::at(*setting)
}

pub fn run(a: &GatewayArgs) -> Outcome {
    if let Some(GatewayCommand::Explain(e)) = &a.command {
        return crate::gateway_explain::run(e);
    }
    let Some(path) = a.config.as_ref().or(a.file.as_ref()) else {
        usage!("--config FILE is required");
    };
    let name = path.display();
    let config = match ::gateway::runtime::load_checked(path) {
        Ok(config) => config,
        Err(problems) => {
            for problem in &problems {
                eprintln!("{name}: {problem}");
            }
            let count = problems.len();
            let plural = if count == 1 { "" } else { "s" };
            usage!("{name}: {count} problem{plural}; the configuration is not valid");
        }
    };
    if a.check {
        println!("{name}: configuration is valid");
        println!("{name}: {}", ::gateway::runtime::key_source(&config));
        return Ok(());
    }
    let http = a.listen.clone().or_else(|| config.listen.http.clone());
    let https = a
        .listen_https
        .clone()
        .or_else(|| config.listen.https.clone());
    let h2c = a.listen_h2c.clone().or_else(|| config.listen.h2c.clone());
    if http.is_none() && https.is_none() && h2c.is_none() {
        usage!("{name}: no [listen] http, https or h2c address (or --listen ADDR)");
    }
    let tls = match &https {
        Some(addr) => {
            let (Some(cert), Some(key)) = (&config.listen.tls_cert, &config.listen.tls_key) else {
                usage!("{name}: https needs [listen] tls_cert and tls_key");
            };
            let client_ca = config.listen.client_ca.as_ref().map(|c| config.resolve(c));
            let tls = ::gateway::tls::acceptor(
                &config.resolve(cert),
                &config.resolve(key),
                client_ca.as_deref(),
            )
            .context("[listen] https")?;
            Some((addr.clone(), tls))
        }
        None => None,
    };
    let keyset = ::gateway::runtime::keyset(&config, crate::clock::now(), true)
        .context("[auth_token]")?
        .ok_or_else(|| anyhow!("[auth_token]: no signing keys"))?;
    // This runtime accepts connections and runs the reloads and refreshes; requests are served
    // by `serve`'s worker threads (one single-threaded runtime per CPU).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(path.clone(), &config, (http, h2c), tls, keyset))?;
    Ok(())
}

async fn serve(
    path: PathBuf,
    config: &::gateway::Config,
    (http, h2c): (Option<String>, Option<String>),
    tls: Option<(String, ::gateway::tls::Https)>,
    keyset: Keyset,
) -> anyhow::Result<()> {
    let client = ::gateway::fetch::http_client().context("cannot start the HTTP client")?;
    let routes = ::gateway::runtime::build_routes(&client, config).await?;
    // Signal handlers first, so a signal after the "listening" line always stops gracefully.
    let signal = crate::serve::shutdown()?;
    let mut listeners = Vec::new();
    if let Some(addr) = http {
        let (tcp, local) = crate::serve::bind(addr.as_str()).await?;
        crate::serve::announce(&format!("signet gateway listening on http://{local}"))?;
        listeners.push(Listener {
            tcp,
            tls: None,
            h2c: false,
            http2: config.http2,
        });
    }
    if let Some((addr, https)) = tls {
        let (tcp, local) = crate::serve::bind(addr.as_str()).await?;
        crate::serve::announce(&format!("signet gateway listening on https://{local}"))?;
        listeners.push(Listener {
            tcp,
            tls: Some(https),
            h2c: false,
            http2: config.http2,
        });
    }
    if let Some(addr) = h2c {
        let (tcp, local) = crate::serve::bind(addr.as_str()).await?;
        crate::serve::announce(&format!("signet gateway listening on h2c://{local}"))?;
        listeners.push(Listener {
            tcp,
            tls: None,
            h2c: true,
            http2: config.http2,
        });
    }
    let gateway = Arc::new(
        Gateway::new(routes, keyset, request_clock, client).context("cannot start the gateway")?,
    );
    let shutdown = async move {
        signal.await;
        eprintln!("signet gateway: shutting down");
    };
    ::gateway::runtime::run(gateway, path, listeners, shutdown, SHUTDOWN_GRACE)
        .await
        .context("SIGHUP handler")?;
    Ok(())
}
