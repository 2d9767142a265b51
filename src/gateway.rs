//! `signet gateway`: the PingAccess-style identity-mapping gateway. For now only `--check` runs:
//! it validates a configuration; the reverse proxy is not built yet.

use std::fmt::Display;
use std::path::PathBuf;

use clap::Args;

use crate::exit::{usage, Outcome};

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["config", "file"])))]
pub struct GatewayArgs {
    /// The gateway configuration (TOML; see DESIGN.md "Gateway")
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The configuration file, given without --config (`signet gateway --check FILE`)
    #[arg(value_name = "FILE", conflicts_with = "config")]
    pub file: Option<PathBuf>,
    /// Check the configuration and exit: each problem on its own line, prefixed by the file
    /// name; exit 0 when valid, 2 otherwise
    #[arg(long)]
    pub check: bool,
}

pub fn run(a: &GatewayArgs) -> Outcome {
    let Some(path) = a.config.as_ref().or(a.file.as_ref()) else {
        usage!("--config FILE is required");
    };
    let name = path.display();
    let problems: Vec<Box<dyn Display>> = match ::gateway::config::load(path) {
        Ok(config) => ::gateway::config::check(&config)
            .into_iter()
            .map(|p| Box::new(p) as Box<dyn Display>)
            .collect(),
        Err(e) => vec![Box::new(e)],
    };
    if !problems.is_empty() {
        for problem in &problems {
            eprintln!("{name}: {problem}");
        }
        let count = problems.len();
        let plural = if count == 1 { "" } else { "s" };
        usage!("{name}: {count} problem{plural}; the configuration is not valid");
    }
    if a.check {
        println!("{name}: configuration is valid");
        return Ok(());
    }
    usage!(
        "{name}: configuration is valid, but the gateway proxy is not built yet; \
         only `signet gateway --check` is available"
    )
}
