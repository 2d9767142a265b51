//! `signet authz`: a local PingOne-style authorization server (the `authz` crate).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use ::authz::{Authz, Clock, Config};
use anyhow::{anyhow, Context};
use clap::Args;

use crate::exit::{usage, Failure, Outcome};

/// Where the server listens when neither --listen nor the config's `listen` says.
const DEFAULT_LISTEN: &str = "127.0.0.1:9031";

#[derive(Args, Debug)]
pub struct AuthzArgs {
    /// The configuration (TOML): environments, applications, users with devices, templates
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Address to listen on, e.g. 127.0.0.1:9031 or 127.0.0.1:0 for any free port (overrides
    /// the config's `listen`)
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// Reads and validates the configuration file.
fn load(path: &Path) -> Result<Config, Failure> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--config {}: cannot read the file", path.display()))?;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let config = Config::from_toml(&text, dir)
        .map_err(|e| Failure::Usage(anyhow!("--config {}: {e}", path.display())))?;
    for w in &config.warnings {
        let prefix = crate::color::stderr().paint(crate::color::Role::Warning, "signet: warning:");
        eprintln!("{prefix} --config {}: {w}", path.display());
    }
    Ok(config)
}

/// The base URL for a bound address: an unspecified address (0.0.0.0, ::) becomes loopback.
fn derived_base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// `SIGNET_NOW` fixes the clock at start-up (it then runs on); else the system clock.
fn clock() -> Clock {
    match std::env::var("SIGNET_NOW")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
    {
        Some(now) => Clock::starting_at(now),
        None => Clock::system(),
    }
}

pub fn run(a: &AuthzArgs) -> Outcome {
    let config = load(&a.config)?;
    let listen = match &a.listen {
        Some(l) => match l.trim().parse::<SocketAddr>() {
            Ok(addr) => addr,
            Err(_) => usage!("--listen {l:?}: not an address and port such as 127.0.0.1:9031"),
        },
        None => match config.listen {
            Some(addr) => addr,
            None => DEFAULT_LISTEN
                .parse()
                .map_err(|e| anyhow!("{DEFAULT_LISTEN}: {e}"))?,
        },
    };
    crate::serve::runtime()?.block_on(async move {
        let (listener, addr) = crate::serve::bind(listen).await?;
        let base_url = config
            .base_url
            .clone()
            .unwrap_or_else(|| derived_base_url(addr));
        let server = Authz::new(config, &base_url, clock()).map_err(|e| anyhow!("{e}"))?;
        let shutdown = crate::serve::shutdown()?;
        crate::serve::announce(&format!("signet authz listening on http://{addr}"))?;
        server
            .serve_with(listener, crate::ui::router(), shutdown)
            .await
            .map_err(|e| Failure::Usage(anyhow!("the server stopped: {e}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_addresses_become_loopback() {
        let at = |s: &str| derived_base_url(s.parse().unwrap_or_else(|_| ([0, 0, 0, 0], 0).into()));
        assert_eq!(at("0.0.0.0:9031"), "http://127.0.0.1:9031");
        assert_eq!(at("[::]:80"), "http://[::1]:80");
        assert_eq!(at("10.1.2.3:5"), "http://10.1.2.3:5");
    }
}
