//! `signet gateway`: the PingAccess-style identity-mapping reverse proxy. `--check` validates a
//! configuration; otherwise the gateway serves it until SIGINT/SIGTERM (SIGHUP reloads it).

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::Args;

use ::gateway::config::{Config, Session};
use ::gateway::proxy::Gateway;
use ::gateway::routes::Routes;
use ::gateway::server::Listener;
use ::gateway::session::web::{Provider, WebRuntime};
use ::gateway::Keyset;

use crate::exit::{usage, Outcome};

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["config", "file"])))]
pub struct GatewayArgs {
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
}

/// How often the keyset file is re-read (and rolled when due).
const KEYSET_REFRESH: Duration = Duration::from_secs(30);
/// How often an `[api_session]` JWK Set URL is fetched again.
const UPSTREAM_JWKS_REFRESH: Duration = Duration::from_secs(300);
/// How long in-flight requests may take to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The clock of the request path: `crate::clock::now`, with `SIGNET_NOW` read once rather than
/// on every request (the environment does not change while the gateway runs, and reading it
/// takes the process-wide environment lock).
fn request_clock() -> i64 {
    static FIXED: std::sync::OnceLock<Option<i64>> = std::sync::OnceLock::new();
    let fixed = FIXED.get_or_init(|| {
        std::env::var("SIGNET_NOW")
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
    });
    fixed.unwrap_or_else(jose::time::now)
}

/// Every problem of the configuration at `path`, or the configuration.
fn load_checked(path: &Path) -> Result<Config, Vec<Box<dyn Display + Send>>> {
    match ::gateway::config::load(path) {
        Ok(config) => {
            let problems: Vec<Box<dyn Display + Send>> = ::gateway::check::check(&config)
                .into_iter()
                .map(|p| Box::new(p) as Box<dyn Display + Send>)
                .collect();
            if problems.is_empty() {
                Ok(config)
            } else {
                Err(problems)
            }
        }
        Err(e) => Err(vec![Box::new(e)]),
    }
}

fn is_url(spec: &str) -> bool {
    spec.starts_with("http://") || spec.starts_with("https://")
}

/// The routing table of a checked configuration, with the upstream JWK Set fetched or read, and
/// the JWK Set URL to re-fetch periodically (if it is one).
fn build_routes(config: &Config) -> anyhow::Result<(Routes, Option<String>)> {
    let needs_api = config
        .applications
        .iter()
        .any(|a| a.session == Session::Api);
    let (upstream, url) = match &config.api_session {
        Some(api) if needs_api => {
            let spec = if is_url(&api.jwks) {
                api.jwks.clone()
            } else {
                config.resolve(&api.jwks).to_string_lossy().into_owned()
            };
            let keys = crate::fetch::jwks(&spec).context("[api_session] jwks")?;
            (Some(keys), is_url(&spec).then_some(spec))
        }
        _ => (None, None),
    };
    let needs_web = config
        .applications
        .iter()
        .any(|a| a.session == Session::Web);
    let web = match &config.web_session {
        Some(web) if needs_web => Some(discover_web(web).context("[web_session] issuer")?),
        _ => None,
    };
    let routes = Routes::build(config, upstream, web).map_err(|e| anyhow!(e))?;
    Ok((routes, url))
}

/// The `[web_session]` provider: its discovery document and JWK Set (blocking; called at start
/// and from `spawn_blocking` on reload).
fn discover_web(web: &::gateway::config::WebSession) -> anyhow::Result<WebRuntime> {
    let doc = crate::fetch::discovery_document(&web.issuer)?;
    let provider = Provider::from_discovery(&web.issuer, &doc)?;
    // The provider's document names this URL: it is fetched, never read as a local file.
    let keys = crate::fetch::jwks_url(&provider.jwks_uri)?;
    Ok(WebRuntime::new(web.clone(), provider, keys)?)
}

/// Loads, checks and compiles the configuration (for SIGHUP).
fn reload(path: &Path) -> anyhow::Result<(Routes, Option<String>)> {
    let config = load_checked(path).map_err(|problems| {
        anyhow!(problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "))
    })?;
    build_routes(&config)
}

pub fn run(a: &GatewayArgs) -> Outcome {
    let Some(path) = a.config.as_ref().or(a.file.as_ref()) else {
        usage!("--config FILE is required");
    };
    let name = path.display();
    let config = match load_checked(path) {
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
        return Ok(());
    }
    let http = a.listen.clone().or_else(|| config.listen.http.clone());
    let https = a
        .listen_https
        .clone()
        .or_else(|| config.listen.https.clone());
    if http.is_none() && https.is_none() {
        usage!("{name}: no [listen] http or https address (or --listen ADDR)");
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
    let (routes, jwks_url) = build_routes(&config)?;
    let algorithm = config
        .auth_token
        .algorithm()
        .ok_or_else(|| anyhow!("[auth_token] signing_algorithm is not supported"))?;
    let interval = if config.auth_token.key_roll_enabled {
        config.auth_token.roll_interval()
    } else {
        None
    };
    let keyset = Keyset::load_or_create(
        config.resolve(&config.auth_token.keyset_file),
        algorithm,
        interval,
        crate::clock::now(),
    )
    .context("[auth_token] keyset_file")?;
    // This runtime accepts connections and runs the reloads and refreshes; requests are served
    // by `serve`'s worker threads (one single-threaded runtime per CPU).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(path.clone(), http, tls, (routes, jwks_url), keyset))?;
    Ok(())
}

async fn serve(
    path: PathBuf,
    http: Option<String>,
    tls: Option<(String, ::gateway::tls::Https)>,
    (routes, jwks_url): (Routes, Option<String>),
    keyset: Keyset,
) -> anyhow::Result<()> {
    // Signal handlers first, so a signal after the "listening" line always stops gracefully.
    let signal = crate::serve::shutdown()?;
    let mut listeners = Vec::new();
    if let Some(addr) = http {
        let (tcp, local) = crate::serve::bind(addr.as_str()).await?;
        crate::serve::announce(&format!("signet gateway listening on http://{local}"))?;
        listeners.push(Listener { tcp, tls: None });
    }
    if let Some((addr, https)) = tls {
        let (tcp, local) = crate::serve::bind(addr.as_str()).await?;
        crate::serve::announce(&format!("signet gateway listening on https://{local}"))?;
        listeners.push(Listener {
            tcp,
            tls: Some(https),
        });
    }
    let gateway =
        Arc::new(Gateway::new(routes, keyset, request_clock).context("cannot start the gateway")?);

    // The keyset: re-read and rolled off the request path, then swapped in.
    let refresher = gateway.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(KEYSET_REFRESH);
        tick.tick().await;
        loop {
            tick.tick().await;
            let mut next = (*refresher.current_keyset()).clone();
            let result = tokio::task::spawn_blocking(move || {
                next.refresh(crate::clock::now()).map(|c| (c, next))
            })
            .await;
            match result {
                Ok(Ok((true, next))) => refresher.swap_keyset(next),
                Ok(Ok((false, _))) => {}
                Ok(Err(e)) => eprintln!("signet gateway: keyset refresh failed: {e}"),
                Err(e) => eprintln!("signet gateway: keyset refresh failed: {e}"),
            }
        }
    });

    // The upstream JWK Set URL (the one of the configuration in force) is fetched again
    // periodically; a failure keeps the keys already known.
    let (url_tx, url_rx) = tokio::sync::watch::channel(jwks_url);
    let upstream = gateway.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPSTREAM_JWKS_REFRESH);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(url) = url_rx.borrow().clone() else {
                continue;
            };
            let fetched = tokio::task::spawn_blocking(move || crate::fetch::jwks(&url)).await;
            match fetched {
                Ok(Ok(keys)) => {
                    if let Some(api) = &upstream.current_routes().api {
                        api.set_keys(keys);
                    }
                }
                Ok(Err(e)) => eprintln!("signet gateway: [api_session] jwks refresh failed: {e:#}"),
                Err(e) => eprintln!("signet gateway: [api_session] jwks refresh failed: {e}"),
            }
        }
    });

    // SIGHUP: a new routing table for new requests; in-flight ones keep theirs.
    let reloader = gateway.clone();
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("SIGHUP handler")?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let p = path.clone();
            match tokio::task::spawn_blocking(move || reload(&p)).await {
                Ok(Ok((routes, url))) => {
                    reloader.swap_routes(routes);
                    let _ = url_tx.send(url);
                    eprintln!("signet gateway: configuration reloaded");
                }
                Ok(Err(e)) => eprintln!(
                    "signet gateway: reload ignored, the new configuration is not valid: {e:#}"
                ),
                Err(e) => eprintln!("signet gateway: reload failed: {e}"),
            }
        }
    });

    let shutdown = async move {
        signal.await;
        eprintln!("signet gateway: shutting down");
    };
    ::gateway::server::serve(gateway, listeners, shutdown, SHUTDOWN_GRACE).await;
    Ok(())
}
