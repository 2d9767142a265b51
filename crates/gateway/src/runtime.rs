//! The gateway process around the request path: a checked configuration compiled into a routing
//! table (the `[api_session]` JWK Set read or fetched, the `[web_session]` provider discovered,
//! all with the one client of [`crate::fetch`]), the periodic refreshes (the keyset file every
//! 30 s, the upstream JWK Set URL every 5 minutes), `SIGHUP` reloads, and serving until the
//! shutdown signal.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{self, Config, Session, WebSession};
use crate::fetch::{self, FetchError, HttpClient};
use crate::key_seed::Seed;
use crate::keyset::{Keyset, KeysetError};
use crate::proxy::Gateway;
use crate::routes::{BuildError, Routes};
use crate::server::{self, Listener};
use crate::session::revocation::Revocations;
use crate::session::web::{Provider, WebError, WebRuntime};

/// How often the keyset file is re-read (and rolled when due).
pub const KEYSET_REFRESH: Duration = Duration::from_secs(30);
/// How often an `[api_session]` JWK Set URL is fetched again.
pub const UPSTREAM_JWKS_REFRESH: Duration = Duration::from_secs(300);

/// Why a configuration could not be made a routing table.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{0}")]
    Invalid(String),
    #[error("[api_session] jwks: {0}")]
    ApiJwks(FetchError),
    #[error("[api_session] jwks: cannot read {path}: {error}")]
    ApiJwksFile { path: String, error: std::io::Error },
    #[error("[web_session] issuer: {0}")]
    Discovery(FetchError),
    #[error("[web_session] issuer: {0}")]
    Provider(#[from] WebError),
    #[error(transparent)]
    Build(#[from] BuildError),
}

/// The configuration at `path` when it has no problem; otherwise every problem (or the reason
/// it cannot be read), each a line.
pub fn load_checked(path: &Path) -> Result<Config, Vec<Box<dyn Display + Send>>> {
    match config::load(path) {
        Ok(config) => {
            let problems: Vec<Box<dyn Display + Send>> = crate::check::check(&config)
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

/// The signing keys of a checked configuration at `now`: derived from `key_seed`, or the keyset
/// file's (created or rolled as needed when `create`; only read otherwise, and None when it does
/// not exist).
pub fn keyset(config: &Config, now: i64, create: bool) -> Result<Option<Keyset>, KeysetError> {
    let auth = &config.auth_token;
    let seed_error = |e| KeysetError {
        path: PathBuf::from("(key_seed)"),
        kind: crate::keyset::KeysetErrorKind::Seed(e),
    };
    let algorithm = auth.algorithm().ok_or_else(|| KeysetError {
        path: config.resolve(&auth.keyset_file),
        kind: crate::keyset::KeysetErrorKind::Malformed(format!(
            "signing_algorithm {:?} is not supported",
            auth.signing_algorithm
        )),
    })?;
    let interval = auth.roll_interval();
    if let Some(spec) = &auth.key_seed {
        let seed = Seed::load(spec, &config.base_dir, "key_seed").map_err(seed_error)?;
        let previous = auth
            .key_seed_previous
            .as_deref()
            .map(|s| Seed::load(s, &config.base_dir, "key_seed_previous"))
            .transpose()
            .map_err(seed_error)?;
        return Keyset::derived(seed, previous, algorithm, interval, now).map(Some);
    }
    let path = config.resolve(&auth.keyset_file);
    if create {
        Keyset::load_or_create(path, algorithm, interval, now).map(Some)
    } else {
        Keyset::load_existing(path, algorithm, interval)
    }
}

/// What `--check` says about where the signing keys come from.
pub fn key_source(config: &Config) -> String {
    let auth = &config.auth_token;
    let rolling = match auth.roll_interval() {
        Some(_) => match auth.key_roll_interval_seconds {
            Some(seconds) => format!("rolled every {seconds} s"),
            None => format!("rolled every {} h", auth.key_roll_interval_hours),
        },
        None => "not rolled".to_owned(),
    };
    match &auth.key_seed {
        Some(_) => format!(
            "keys: {} derived from key_seed, {rolling}{}; replicas share no file (every replica with the same seed computes the same keys)",
            auth.signing_algorithm,
            if auth.key_seed_previous.is_some() {
                ", with key_seed_previous's keys still published"
            } else {
                ""
            }
        ),
        None => format!(
            "keys: {} stored in keyset_file {}, {rolling}; replicas must share this file (one host, or a shared filesystem with O_EXCL locking); key_seed needs none",
            auth.signing_algorithm,
            config.resolve(&auth.keyset_file).display()
        ),
    }
}

fn is_url(spec: &str) -> bool {
    spec.starts_with("http://") || spec.starts_with("https://")
}

/// The routing table of a checked configuration, with the upstream JWK Set fetched or read and
/// the web provider discovered (only when an application needs them).
pub async fn build_routes(client: &HttpClient, config: &Config) -> Result<Routes, RuntimeError> {
    let needs = |session: Session| config.applications.iter().any(|a| a.session == session);
    let upstream = match &config.api_session {
        Some(api) if needs(Session::Api) => Some(if is_url(&api.jwks) {
            let keys = fetch::jwks(client, &api.jwks)
                .await
                .map_err(RuntimeError::ApiJwks)?;
            (keys, Some(api.jwks.clone()))
        } else {
            let path = config.resolve(&api.jwks);
            let shown = path.display().to_string();
            let bytes = std::fs::read(&path).map_err(|error| RuntimeError::ApiJwksFile {
                path: shown.clone(),
                error,
            })?;
            let keys = fetch::parse_jwks(&bytes, &shown).map_err(RuntimeError::ApiJwks)?;
            (keys, None)
        }),
        _ => None,
    };
    let web = match &config.web_session {
        Some(web) if needs(Session::Web) => Some(discover_web(client, config, web).await?),
        _ => None,
    };
    Ok(Routes::build(config, upstream, web)?)
}

/// The `[web_session]` provider: its discovery document and JWK Set. The provider's document
/// names the JWK Set URL: it is fetched, never read as a local file.
pub async fn discover_web(
    client: &HttpClient,
    config: &Config,
    web: &WebSession,
) -> Result<WebRuntime, RuntimeError> {
    let doc = fetch::discovery(client, &web.issuer)
        .await
        .map_err(RuntimeError::Discovery)?;
    let provider = Provider::from_discovery(&web.issuer, &doc)?;
    let keys = fetch::jwks(client, &provider.jwks_uri)
        .await
        .map_err(RuntimeError::Discovery)?;
    let revocations = Revocations::new(config.revocation_path(web));
    Ok(WebRuntime::new(web.clone(), provider, keys, revocations)?)
}

/// Loads, checks and compiles the configuration again (for `SIGHUP`).
pub async fn reload(client: &HttpClient, path: &Path) -> Result<Routes, RuntimeError> {
    let p = path.to_path_buf();
    let config = tokio::task::spawn_blocking(move || load_checked(&p))
        .await
        .map_err(|e| RuntimeError::Invalid(e.to_string()))?
        .map_err(|problems| {
            RuntimeError::Invalid(
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
    build_routes(client, &config).await
}

/// Serves `listeners` until `shutdown` resolves, with the background work of a running gateway:
/// the keyset refresh, the upstream JWK Set refresh and `SIGHUP` reloads of `path`. In-flight
/// requests get `grace` to finish.
pub async fn run(
    gateway: Arc<Gateway>,
    path: PathBuf,
    listeners: Vec<Listener>,
    shutdown: impl std::future::Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()> {
    // The keyset: re-read and rolled off the request path, then swapped in.
    let refresher = gateway.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(KEYSET_REFRESH);
        tick.tick().await;
        loop {
            tick.tick().await;
            let mut next = (*refresher.current_keyset()).clone();
            let now = (refresher.now)();
            let result =
                tokio::task::spawn_blocking(move || next.refresh(now).map(|c| (c, next))).await;
            match result {
                Ok(Ok((true, next))) => refresher.swap_keyset(next),
                Ok(Ok((false, _))) => {}
                Ok(Err(e)) => eprintln!("signet gateway: keyset refresh failed: {e}"),
                Err(e) => eprintln!("signet gateway: keyset refresh failed: {e}"),
            }
        }
    });

    // The upstream JWK Set URL of the configuration in force is fetched again periodically; a
    // failure keeps the keys already known.
    let upstream = gateway.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPSTREAM_JWKS_REFRESH);
        tick.tick().await;
        loop {
            tick.tick().await;
            let routes = upstream.current_routes();
            let Some(api) = &routes.api else { continue };
            let Some(url) = api.keys.url() else { continue };
            match fetch::jwks(&upstream.provider_client, url).await {
                Ok(keys) => api.set_keys(keys),
                Err(e) => eprintln!("signet gateway: [api_session] jwks refresh failed: {e}"),
            }
        }
    });

    // SIGHUP: a new routing table for new requests; in-flight ones keep theirs.
    let reloader = gateway.clone();
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            match reload(&reloader.provider_client, &path).await {
                Ok(routes) => {
                    reloader.swap_routes(routes);
                    eprintln!("signet gateway: configuration reloaded");
                }
                Err(e) => eprintln!(
                    "signet gateway: reload ignored, the new configuration is not valid: {e}"
                ),
            }
        }
    });

    server::serve(gateway, listeners, shutdown, grace).await;
    Ok(())
}
