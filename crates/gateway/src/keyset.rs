//! Auth token management: the keys that sign backend JWTs, kept in one keyset file that replicas
//! share, rolled on a schedule every replica derives from the file and the clock.
//!
//! File format (JSON, pretty-printed, keys sorted by `not_before`):
//! `{"keys": [{<private JWK: kty, crv/n/e, x/y, d…, kid = RFC 7638 thumbprint, alg, use: "sig">,
//! "not_before": <Unix seconds>}, …]}`.
//!
//! Rules (also in this crate's README):
//! - The active key at `now` is the one whose `not_before` is the latest ≤ `now` (if every key
//!   is in the future, as with a replica whose clock lags the one that made the file, the
//!   earliest). Replicas agree on it from the clock alone.
//! - Rolling every interval I: when `now ≥ active.not_before + I - lead` (lead = min(I/2, 1 h))
//!   and no later key exists, a key with `not_before = active.not_before + I` is added, so it is
//!   published in the JWKS before it signs. After downtime of more than I, the key of the current
//!   period (`not_before` on the same grid, ≤ now) is added and is active at once.
//! - Kept: the previous key (tokens it signed may still be valid), the active one, the upcoming
//!   ones; older keys are pruned. These are the verification keys, and the JWKS.
//! - The file is created if missing, never truncated in place (a temporary file in the same
//!   directory, fsync, rename), and changed only under an exclusive lock file (`<file>.lock`,
//!   created with O_EXCL; a lock older than [`LOCK_STALE_AFTER`] is left by a crashed process and
//!   is removed). Under the lock the file is read again and only what is still missing is added,
//!   so replicas starting together end up with one keyset. New keys are generated before the lock
//!   is taken, so it is held only for file I/O.

use std::fs;
use std::io;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use jose::{Algorithm, Key, Signer};

use crate::key_seed::{self, Seed};
use serde_json::{Map, Value};

/// Algorithms auth tokens may be signed with (asymmetric: the JWKS publishes verification keys).
pub const SIGNING_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::ES512,
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::EdDSA,
];

/// Upper bound of the JWKS `Cache-Control: max-age`, in seconds.
pub const JWKS_MAX_AGE: u64 = 300;

/// Longest time an upcoming key is published before it becomes active.
const MAX_LEAD: u64 = 3600;

pub use crate::shared_file::LOCK_STALE_AFTER;
use crate::shared_file::{sibling, write_atomically, FileLock, LockError, LockTiming};

/// A keyset operation failed; `path` is the keyset file.
#[derive(Debug, thiserror::Error)]
#[error("keyset file {}: {kind}", path.display())]
pub struct KeysetError {
    pub path: PathBuf,
    pub kind: KeysetErrorKind,
}

/// What went wrong with the keyset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeysetErrorKind {
    #[error("cannot {action}: {error}")]
    Io {
        action: &'static str,
        error: io::Error,
    },
    #[error("not a keyset file: {0}")]
    Malformed(String),
    #[error("holds {found} keys but the signing algorithm is {configured}; move the file away to start a new keyset (backends then need the new JWKS)")]
    AlgorithmChanged {
        found: Algorithm,
        configured: Algorithm,
    },
    #[error("another process holds the lock file {} (waited {} s)", lock.display(), waited.as_secs())]
    LockTimeout { lock: PathBuf, waited: Duration },
    #[error("cannot make a signing key: {0}")]
    Key(jose::Error),
    #[error("{0} does not sign auth tokens (use ES256, ES384, ES512, RS256, PS256 or EdDSA)")]
    UnsupportedAlgorithm(Algorithm),
    #[error("the key roll interval must be at least one second")]
    IntervalTooShort,
    #[error("{0}")]
    Seed(crate::key_seed::SeedError),
}

impl From<LockError> for KeysetErrorKind {
    fn from(e: LockError) -> Self {
        match e {
            LockError::Io { action, error } => KeysetErrorKind::Io { action, error },
            LockError::Timeout { lock, waited } => KeysetErrorKind::LockTimeout { lock, waited },
        }
    }
}

/// One key of the keyset, ready to sign: its JWS header (`alg`, `typ: JWT`, `kid`) is built once.
#[derive(Debug)]
pub struct SigningKey {
    signer: Signer,
    kid: Arc<str>,
    not_before: i64,
}

impl SigningKey {
    /// Binds a private key to the keyset: `kid` = its RFC 7638 thumbprint.
    pub(crate) fn new(
        key: Key,
        algorithm: Algorithm,
        not_before: i64,
    ) -> Result<SigningKey, jose::Error> {
        let kid = key.thumbprint();
        let signer = Signer::new(key.with_kid(kid.clone()), algorithm)?;
        Ok(SigningKey {
            signer,
            kid: Arc::from(kid),
            not_before,
        })
    }

    pub fn key(&self) -> &Key {
        self.signer.key()
    }

    /// The key id: its RFC 7638 thumbprint.
    pub fn kid(&self) -> &Arc<str> {
        &self.kid
    }

    /// Unix seconds from which the key is active.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }

    pub fn algorithm(&self) -> Algorithm {
        self.signer.algorithm()
    }

    /// Signs with header `{"alg", "typ": "JWT", "kid"}`.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }
}

/// The JWKS document served at `/pa/authtoken/JWKS`, with its HTTP caching headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwks {
    /// `{"keys": [public JWKs]}` (RFC 7517), compact JSON.
    pub body: Vec<u8>,
    /// The `ETag` header: quoted base64url SHA-256 of the body.
    pub etag: String,
    /// Seconds a client may cache the body: never past the next change of the keyset.
    pub max_age_seconds: u64,
}

impl Jwks {
    /// The `Cache-Control` header value.
    pub fn cache_control(&self) -> String {
        format!("public, max-age={}", self.max_age_seconds)
    }
}

/// Where the keyset lives and how it rolls.
#[derive(Debug, Clone)]
struct Policy {
    path: PathBuf,
    algorithm: Algorithm,
    /// Seconds between rolls; None when rolling is disabled.
    interval: Option<NonZeroU64>,
}

impl Policy {
    fn error(&self, kind: KeysetErrorKind) -> KeysetError {
        KeysetError {
            path: self.path.clone(),
            kind,
        }
    }

    fn lock_path(&self) -> PathBuf {
        sibling(&self.path, ".lock")
    }
}

/// The keys in force, in memory. Cheap to clone (keys are shared), so a proxy can refresh a clone
/// in the background and swap it in while requests keep using the old one.
#[derive(Clone)]
pub struct Keyset {
    policy: Policy,
    keys: Keys,
    /// The file's bytes as last read or written, to notice another replica's change.
    file: Arc<[u8]>,
    /// Set when the keys are derived from `key_seed` (no file).
    derived: Option<Derived>,
}

/// Keys derived from seeds ([`crate::key_seed`]): `keys` holds the current seed's keys of the
/// periods `period - 1 ..= period + 2`, `previous` the previous seed's of `period - 1 ..= period + 1`.
#[derive(Clone)]
struct Derived {
    seeds: Arc<(Seed, Option<Seed>)>,
    period: i64,
    previous: Vec<Arc<SigningKey>>,
}

impl Keyset {
    /// Reads the keyset file, creating it (or adding the keys the schedule needs) if necessary.
    /// `interval` None disables rolling; `now` is Unix seconds.
    pub fn load_or_create(
        path: impl Into<PathBuf>,
        algorithm: Algorithm,
        interval: Option<Duration>,
        now: i64,
    ) -> Result<Keyset, KeysetError> {
        let path = path.into();
        let policy = policy(path, algorithm, interval)?;
        let state = synchronize(&policy, now, None, &[], LockTiming::DEFAULT)?;
        Keyset::from_state(policy, state)
    }

    /// Reads the keyset file as it is, changing nothing (for `signet gateway explain`); None
    /// when there is no file yet.
    pub fn load_existing(
        path: impl Into<PathBuf>,
        algorithm: Algorithm,
        interval: Option<Duration>,
    ) -> Result<Option<Keyset>, KeysetError> {
        let policy = policy(path.into(), algorithm, interval)?;
        match read_state(&policy, None)? {
            Some(state) => Keyset::from_state(policy, state).map(Some),
            None => Ok(None),
        }
    }

    fn from_state(policy: Policy, state: FileState) -> Result<Keyset, KeysetError> {
        let keys = Keys::new(state.keys)
            .ok_or_else(|| policy.error(KeysetErrorKind::Malformed("it holds no key".into())))?;
        Ok(Keyset {
            policy,
            keys,
            file: state.bytes,
            derived: None,
        })
    }

    /// Keys derived from `seed` (and `previous`, during a seed rotation) for the periods around
    /// `now`: no file. RSA algorithms are refused.
    pub fn derived(
        seed: Seed,
        previous: Option<Seed>,
        algorithm: Algorithm,
        interval: Option<Duration>,
        now: i64,
    ) -> Result<Keyset, KeysetError> {
        let policy = policy(
            PathBuf::from("(derived from key_seed)"),
            algorithm,
            interval,
        )?;
        derive_keys(policy, Arc::new((seed, previous)), now)
    }

    /// Whether the keys are derived from `key_seed`.
    pub fn is_derived(&self) -> bool {
        self.derived.is_some()
    }

    /// The published keys at `now` (the JWKS): previous, active and upcoming.
    fn published(&self, now: i64) -> Vec<&Arc<SigningKey>> {
        let Some(d) = &self.derived else {
            return self.keys.published(now).collect();
        };
        let interval = self.policy.interval.map(seconds);
        let q = key_seed::period(now, interval);
        let period_of = |k: &SigningKey| match interval {
            Some(i) => k.not_before.div_euclid(i),
            None => 0,
        };
        let near = |k: &&Arc<SigningKey>, last: i64| {
            interval.is_none() || (q - 1..=q + last).contains(&period_of(k))
        };
        self.keys
            .iter()
            .filter(|k| near(k, 1))
            .chain(d.previous.iter().filter(|k| near(k, 0)))
            .collect()
    }

    /// Re-reads the file (parsing it only if it changed), adds a key when a roll is due, prunes
    /// old keys, and recreates the file from memory if it was deleted. Returns true when the keys
    /// changed. Call it periodically (well within the one-hour lead, e.g. every minute).
    pub fn refresh(&mut self, now: i64) -> Result<bool, KeysetError> {
        self.refresh_with(now, LockTiming::DEFAULT)
    }

    fn refresh_with(&mut self, now: i64, timing: LockTiming) -> Result<bool, KeysetError> {
        if let Some(d) = &self.derived {
            let interval = self.policy.interval.map(seconds);
            if key_seed::period(now, interval) == d.period {
                return Ok(false);
            }
            *self = derive_keys(self.policy.clone(), d.seeds.clone(), now)?;
            return Ok(true);
        }
        let known = FileState {
            bytes: self.file.clone(),
            keys: self.keys.iter().cloned().collect(),
        };
        let state = synchronize(&self.policy, now, Some(&known), &known.keys, timing)?;
        let changed = state.bytes != self.file;
        if changed {
            *self = Keyset::from_state(self.policy.clone(), state)?;
        }
        Ok(changed)
    }

    /// The key that signs at `now`.
    pub fn active(&self, now: i64) -> &Key {
        self.keys.active(now).key()
    }

    /// The key that signs at `now`, with its signer and kid.
    pub fn active_signing_key(&self, now: i64) -> &Arc<SigningKey> {
        self.keys.active(now)
    }

    /// The keys a backend must accept at `now`: the previous, the active and the upcoming ones.
    pub fn verification_keys(&self, now: i64) -> impl Iterator<Item = &Key> + '_ {
        self.published(now).into_iter().map(|k| k.key())
    }

    /// Every key in the file, oldest first.
    pub fn signing_keys(&self) -> impl Iterator<Item = &Arc<SigningKey>> + '_ {
        self.keys.iter()
    }

    pub fn algorithm(&self) -> Algorithm {
        self.policy.algorithm
    }

    pub fn path(&self) -> &Path {
        &self.policy.path
    }

    /// The JWKS at `now`: the verification keys' public JWKs, an ETag, and a max-age that ends
    /// no later than the next change of the set (an upcoming key's publication or activation).
    pub fn jwks(&self, now: i64) -> Jwks {
        let keys: Vec<Value> = self
            .published(now)
            .into_iter()
            .map(|k| Value::Object(k.key().public_jwk()))
            .collect();
        let mut document = Map::new();
        document.insert("keys".into(), Value::Array(keys));
        let body = Value::Object(document).to_string().into_bytes();
        let etag = format!(
            "\"{}\"",
            jose::b64::encode(digest::digest(&digest::SHA256, &body))
        );
        let max_age_seconds = match self.next_change(now) {
            Some(at) => u64::try_from(at.saturating_sub(now))
                .unwrap_or(0)
                .min(JWKS_MAX_AGE),
            None => JWKS_MAX_AGE,
        };
        Jwks {
            body,
            etag,
            max_age_seconds,
        }
    }

    /// When the published set next changes: an upcoming key becomes active (and the previous
    /// key is dropped), or, with none upcoming, the next key is due to be published.
    fn next_change(&self, now: i64) -> Option<i64> {
        if self.derived.is_some() {
            let interval = seconds(self.policy.interval?);
            let q = key_seed::period(now, Some(interval));
            return Some(q.saturating_add(1).saturating_mul(interval));
        }
        if let Some(upcoming) = self.keys.iter().find(|k| k.not_before > now) {
            return Some(upcoming.not_before);
        }
        let interval = self.policy.interval?;
        let active = self.keys.active(now).not_before;
        Some(
            active
                .saturating_add(seconds(interval))
                .saturating_sub(lead(interval)),
        )
    }
}

impl std::fmt::Debug for Keyset {
    // Not derived: the file's bytes hold private keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyset")
            .field("policy", &self.policy)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// The derived keys around `now` ([`Derived`]).
fn derive_keys(
    policy: Policy,
    seeds: Arc<(Seed, Option<Seed>)>,
    now: i64,
) -> Result<Keyset, KeysetError> {
    let algorithm = policy.algorithm;
    let interval = policy.interval.map(seconds);
    let period = key_seed::period(now, interval);
    let make = |seed: &Seed, q: i64| -> Result<Arc<SigningKey>, KeysetError> {
        let key = key_seed::derive(seed, algorithm, q)
            .map_err(|e| policy.error(KeysetErrorKind::Seed(e)))?;
        let not_before = interval.map_or(0, |i| q.saturating_mul(i));
        SigningKey::new(key, algorithm, not_before)
            .map(Arc::new)
            .map_err(|e| policy.error(KeysetErrorKind::Key(e)))
    };
    let (current, previous) = if interval.is_some() {
        (period - 1..=period + 2, period - 1..=period + 1)
    } else {
        (0..=0, 0..=0)
    };
    let keys = current
        .map(|q| make(&seeds.0, q))
        .collect::<Result<Vec<_>, _>>()?;
    let previous = match &seeds.1 {
        Some(old) => previous
            .map(|q| make(old, q))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let keys =
        Keys::new(keys).ok_or_else(|| policy.error(KeysetErrorKind::Malformed("no key".into())))?;
    Ok(Keyset {
        policy,
        keys,
        file: Arc::from(Vec::new()),
        derived: Some(Derived {
            seeds,
            period,
            previous,
        }),
    })
}

fn policy(
    path: PathBuf,
    algorithm: Algorithm,
    interval: Option<Duration>,
) -> Result<Policy, KeysetError> {
    let mut policy = Policy {
        path,
        algorithm,
        interval: None,
    };
    if !SIGNING_ALGORITHMS.contains(&algorithm) {
        return Err(policy.error(KeysetErrorKind::UnsupportedAlgorithm(algorithm)));
    }
    if let Some(interval) = interval {
        policy.interval = Some(
            NonZeroU64::new(interval.as_secs())
                .ok_or_else(|| policy.error(KeysetErrorKind::IntervalTooShort))?,
        );
    }
    Ok(policy)
}

/// Checks an existing keyset file without changing it (for configuration checks). A missing
/// file is fine: it will be created.
pub fn inspect(path: &Path, algorithm: Algorithm) -> Result<(), KeysetError> {
    let policy = policy(path.to_path_buf(), algorithm, None)?;
    read_state(&policy, None).map(|_| ())
}

/// Keys sorted by `not_before`, never empty.
#[derive(Debug, Clone)]
struct Keys {
    earliest: Arc<SigningKey>,
    later: Vec<Arc<SigningKey>>,
}

impl Keys {
    /// From keys sorted by `not_before`; None if there are none.
    fn new(sorted: Vec<Arc<SigningKey>>) -> Option<Keys> {
        let mut keys = sorted.into_iter();
        let earliest = keys.next()?;
        Some(Keys {
            earliest,
            later: keys.collect(),
        })
    }

    fn iter(&self) -> impl Iterator<Item = &Arc<SigningKey>> + '_ {
        std::iter::once(&self.earliest).chain(&self.later)
    }

    /// Position of the active key: the latest `not_before` ≤ now, else the earliest.
    fn active_index(&self, now: i64) -> usize {
        self.later
            .iter()
            .rposition(|k| k.not_before <= now)
            .map_or(0, |i| i + 1)
    }

    fn active(&self, now: i64) -> &Arc<SigningKey> {
        self.iter()
            .nth(self.active_index(now))
            .unwrap_or(&self.earliest)
    }

    /// The previous, active and upcoming keys.
    fn published(&self, now: i64) -> impl Iterator<Item = &Arc<SigningKey>> + '_ {
        self.iter().skip(self.active_index(now).saturating_sub(1))
    }
}

fn seconds(interval: NonZeroU64) -> i64 {
    i64::try_from(interval.get()).unwrap_or(i64::MAX)
}

/// How long before its activation the next key is added (and published).
fn lead(interval: NonZeroU64) -> i64 {
    seconds(interval).saturating_div(2).min(MAX_LEAD as i64)
}

/// What the file must gain and lose at `now`.
#[derive(Debug, PartialEq, Eq)]
struct Schedule {
    /// `not_before` of each key to add.
    add: Vec<i64>,
    /// Keys with an earlier `not_before` are pruned.
    drop_before: i64,
}

impl Schedule {
    fn changes(&self, existing: &[i64]) -> bool {
        !self.add.is_empty() || existing.iter().any(|&nb| nb < self.drop_before)
    }
}

/// The rolling rules, over the sorted `not_before`s of the keys in the file.
fn schedule(existing: &[i64], now: i64, interval: Option<NonZeroU64>) -> Schedule {
    let mut add = Vec::new();
    let mut active = match existing
        .iter()
        .rev()
        .find(|&&nb| nb <= now)
        .or(existing.first())
    {
        Some(&nb) => nb,
        None => {
            add.push(now);
            now
        }
    };
    if let Some(interval) = interval {
        let step = seconds(interval);
        let elapsed = now.saturating_sub(active);
        if elapsed >= step {
            // Down for a whole interval or more: the current period's key, on the same grid.
            active = active.saturating_add(elapsed / step * step);
            add.push(active);
        }
        let next = active.saturating_add(step);
        let has_upcoming = existing.iter().chain(&add).any(|&nb| nb > active);
        if !has_upcoming && now >= next.saturating_sub(lead(interval)) {
            add.push(next);
        }
    }
    let previous = existing
        .iter()
        .chain(&add)
        .filter(|&&nb| nb < active)
        .max()
        .copied();
    Schedule {
        add,
        drop_before: previous.unwrap_or(active),
    }
}

/// The keyset file's bytes and the keys they hold (sorted).
struct FileState {
    bytes: Arc<[u8]>,
    keys: Vec<Arc<SigningKey>>,
}

fn not_befores(keys: &[Arc<SigningKey>]) -> Vec<i64> {
    keys.iter().map(|k| k.not_before).collect()
}

/// Brings the file up to date at `now` and returns what it then holds. `known` is what the
/// caller last saw (reused when the file still has those bytes); `if_missing` are the keys to
/// write should the file have been deleted.
fn synchronize(
    policy: &Policy,
    now: i64,
    known: Option<&FileState>,
    if_missing: &[Arc<SigningKey>],
    timing: LockTiming,
) -> Result<FileState, KeysetError> {
    let plan = match needed(policy, now, known, if_missing)? {
        Needed::Nothing(state) => return Ok(state),
        Needed::Change { plan, .. } => plan,
    };
    // Generate outside the lock: RSA keys take a while, and the lock is for file I/O only.
    let mut fresh = Vec::with_capacity(plan.add.len());
    for _ in &plan.add {
        fresh.push(generate(policy)?);
    }
    let _lock =
        FileLock::acquire(policy.lock_path(), timing).map_err(|e| policy.error(e.into()))?;
    // Another replica may have written since: read again and add only what is still missing.
    let (base, plan) = match needed(policy, now, known, if_missing)? {
        Needed::Nothing(state) => return Ok(state),
        Needed::Change { base, plan } => (base, plan),
    };
    let mut fresh = fresh.into_iter();
    let mut keys: Vec<Arc<SigningKey>> = base
        .into_iter()
        .filter(|k| k.not_before >= plan.drop_before)
        .collect();
    for not_before in plan.add {
        let key = match fresh.next() {
            Some(key) => key,
            None => generate(policy)?,
        };
        let key = SigningKey::new(key, policy.algorithm, not_before)
            .map_err(|e| policy.error(KeysetErrorKind::Key(e)))?;
        keys.push(Arc::new(key));
    }
    sort(&mut keys);
    let bytes = serialize(policy, &keys)?;
    write_atomically(&policy.path, &bytes).map_err(|error| {
        policy.error(KeysetErrorKind::Io {
            action: "write it",
            error,
        })
    })?;
    Ok(FileState {
        bytes: bytes.into(),
        keys,
    })
}

/// What the file needs at `now`.
enum Needed {
    /// It is up to date.
    Nothing(FileState),
    /// `plan` applies to `base` (the file's keys, or `if_missing` when there is no file).
    Change {
        base: Vec<Arc<SigningKey>>,
        plan: Schedule,
    },
}

fn needed(
    policy: &Policy,
    now: i64,
    known: Option<&FileState>,
    if_missing: &[Arc<SigningKey>],
) -> Result<Needed, KeysetError> {
    let (base, on_disk) = match read_state(policy, known)? {
        Some(state) => (state.keys.clone(), Some(state)),
        None => (if_missing.to_vec(), None),
    };
    let existing = not_befores(&base);
    let plan = schedule(&existing, now, policy.interval);
    match on_disk {
        Some(state) if !plan.changes(&existing) => Ok(Needed::Nothing(state)),
        _ => Ok(Needed::Change { base, plan }),
    }
}

fn generate(policy: &Policy) -> Result<Key, KeysetError> {
    Key::generate(policy.algorithm).map_err(|e| policy.error(KeysetErrorKind::Key(e)))
}

fn sort(keys: &mut [Arc<SigningKey>]) {
    keys.sort_by(|a, b| (a.not_before, &a.kid).cmp(&(b.not_before, &b.kid)));
}

/// The file as it is now, or None if it does not exist. When its bytes are those of `known`,
/// the known keys are reused instead of parsing again.
fn read_state(
    policy: &Policy,
    known: Option<&FileState>,
) -> Result<Option<FileState>, KeysetError> {
    let bytes = match fs::read(&policy.path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(policy.error(KeysetErrorKind::Io {
                action: "read it",
                error,
            }))
        }
    };
    if let Some(known) = known.filter(|k| *k.bytes == *bytes) {
        return Ok(Some(FileState {
            bytes: known.bytes.clone(),
            keys: known.keys.clone(),
        }));
    }
    let keys = parse(&bytes, policy.algorithm).map_err(|kind| policy.error(kind))?;
    Ok(Some(FileState {
        bytes: bytes.into(),
        keys,
    }))
}

/// Parses the file format (see the module documentation).
fn parse(bytes: &[u8], algorithm: Algorithm) -> Result<Vec<Arc<SigningKey>>, KeysetErrorKind> {
    let malformed = KeysetErrorKind::Malformed;
    let document = jose::json::parse_object(bytes, jose::Part::Payload)
        .map_err(|e| malformed(format!("not a JSON object: {e}")))?;
    let entries = document
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("it has no \"keys\" array".into()))?;
    let mut keys: Vec<Arc<SigningKey>> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let mut jwk = entry
            .as_object()
            .cloned()
            .ok_or_else(|| malformed(format!("key {index} is not an object")))?;
        let not_before = jwk
            .shift_remove("not_before")
            .and_then(|v| v.as_i64())
            .ok_or_else(|| {
                malformed(format!(
                    "key {index} has no not_before (integer Unix seconds)"
                ))
            })?;
        let key = Key::from_jwk(&jwk).map_err(|e| malformed(format!("key {index}: {e}")))?;
        if !key.can_sign() {
            return Err(malformed(format!("key {index} has no private part")));
        }
        let found = key
            .algorithm()
            .ok_or_else(|| malformed(format!("key {index} has no alg")))?;
        if found != algorithm {
            return Err(KeysetErrorKind::AlgorithmChanged {
                found,
                configured: algorithm,
            });
        }
        if key.kid() != Some(key.thumbprint().as_str()) {
            return Err(malformed(format!(
                "key {index}: kid is not the key's RFC 7638 thumbprint"
            )));
        }
        let key = SigningKey::new(key, algorithm, not_before).map_err(KeysetErrorKind::Key)?;
        if keys.iter().any(|k| k.kid == key.kid) {
            return Err(malformed(format!("key {index} appears twice")));
        }
        keys.push(Arc::new(key));
    }
    sort(&mut keys);
    Ok(keys)
}

fn serialize(policy: &Policy, keys: &[Arc<SigningKey>]) -> Result<Vec<u8>, KeysetError> {
    let mut entries = Vec::with_capacity(keys.len());
    for key in keys {
        let mut jwk = key
            .key()
            .private_jwk()
            .map_err(|e| policy.error(KeysetErrorKind::Key(e)))?;
        jwk.insert("not_before".into(), key.not_before.into());
        entries.push(Value::Object(jwk));
    }
    let mut document = Map::new();
    document.insert("keys".into(), Value::Array(entries));
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(document))
        .map_err(|e| policy.error(KeysetErrorKind::Malformed(format!("cannot serialize: {e}"))))?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;
    use std::fs::File;
    use std::sync::atomic::Ordering;
    use std::sync::Barrier;
    use std::time::SystemTime;

    const T0: i64 = 1_764_000_000;
    const HOUR: i64 = 3600;
    const DAY: i64 = 24 * HOUR;

    fn day() -> Option<Duration> {
        Some(Duration::from_secs(DAY as u64))
    }

    struct Dir(TempDir);
    impl Dir {
        fn new(tag: &str) -> Dir {
            Dir(TempDir::new(tag))
        }
        fn path(&self) -> &Path {
            &self.0 .0
        }
        fn file(&self) -> PathBuf {
            self.path().join("keys.json")
        }
        fn entries(&self) -> Vec<String> {
            let mut names: Vec<String> = fs::read_dir(self.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
    }

    fn kids(keyset: &Keyset) -> Vec<String> {
        keyset.signing_keys().map(|k| k.kid().to_string()).collect()
    }

    fn file_not_befores(path: &Path) -> Vec<i64> {
        let doc: Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
        doc["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["not_before"].as_i64().unwrap())
            .collect()
    }

    fn nz(secs: i64) -> Option<NonZeroU64> {
        NonZeroU64::new(secs as u64)
    }

    #[test]
    fn schedule_creates_rolls_ahead_and_prunes() {
        let i = nz(DAY);
        // Nothing yet: one key, active now.
        assert_eq!(
            schedule(&[], T0, i),
            Schedule {
                add: vec![T0],
                drop_before: T0
            }
        );
        // Before the lead time: nothing to do.
        assert!(!schedule(&[T0], T0 + DAY - HOUR - 1, i).changes(&[T0]));
        // At the lead time: the next key, one interval after the active one.
        assert_eq!(schedule(&[T0], T0 + DAY - HOUR, i).add, vec![T0 + DAY]);
        // Already there: nothing to add.
        assert!(!schedule(&[T0, T0 + DAY], T0 + DAY - 1, i).changes(&[T0, T0 + DAY]));
        // After the roll the first key is the previous one and stays.
        assert!(!schedule(&[T0, T0 + DAY], T0 + DAY, i).changes(&[T0, T0 + DAY]));
        // Next lead time: a third key; the previous one still stays.
        let s = schedule(&[T0, T0 + DAY], T0 + 2 * DAY - HOUR, i);
        assert_eq!(
            s,
            Schedule {
                add: vec![T0 + 2 * DAY],
                drop_before: T0
            }
        );
        // The next roll prunes the key before the previous.
        let s = schedule(&[T0, T0 + DAY, T0 + 2 * DAY], T0 + 2 * DAY, i);
        assert_eq!(
            s,
            Schedule {
                add: vec![],
                drop_before: T0 + DAY
            }
        );
        assert!(s.changes(&[T0, T0 + DAY, T0 + 2 * DAY]));
    }

    #[test]
    fn schedule_lead_is_half_the_interval_up_to_an_hour() {
        assert_eq!(lead(NonZeroU64::new(3600).unwrap()), 1800);
        assert_eq!(lead(NonZeroU64::new(7200).unwrap()), 3600);
        assert_eq!(lead(NonZeroU64::new(86_400).unwrap()), 3600);
        assert_eq!(lead(NonZeroU64::new(1).unwrap()), 0);
    }

    #[test]
    fn schedule_after_downtime_starts_the_current_period_on_the_grid() {
        let s = schedule(&[T0], T0 + 5 * DAY + 100, nz(DAY));
        assert_eq!(
            s,
            Schedule {
                add: vec![T0 + 5 * DAY],
                drop_before: T0
            }
        );
        // ...and the next one when that period is already in its lead time.
        let s = schedule(&[T0], T0 + 6 * DAY - 60, nz(DAY));
        assert_eq!(s.add, vec![T0 + 5 * DAY, T0 + 6 * DAY]);
    }

    #[test]
    fn schedule_without_rolling_only_creates() {
        assert_eq!(schedule(&[], T0, None).add, vec![T0]);
        assert!(!schedule(&[T0], T0 + 400 * DAY, None).changes(&[T0]));
    }

    #[test]
    fn schedule_with_only_future_keys_uses_the_earliest() {
        // A replica whose clock lags the one that wrote the file must not add a key.
        let s = schedule(&[T0], T0 - 5, nz(DAY));
        assert!(!s.changes(&[T0]), "{s:?}");
    }

    #[test]
    fn creates_the_file_with_one_active_key() {
        let dir = Dir::new("create");
        let keyset = Keyset::load_or_create(dir.file(), Algorithm::ES256, day(), T0).unwrap();
        assert_eq!(
            dir.entries(),
            ["keys.json"],
            "no lock or temporary file left"
        );
        let doc: Value = serde_json::from_slice(&fs::read(dir.file()).unwrap()).unwrap();
        let keys = doc["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        let entry = keys[0].as_object().unwrap();
        assert_eq!(entry["not_before"], T0);
        assert_eq!(entry["alg"], "ES256");
        assert_eq!(entry["kty"], "EC");
        assert!(entry.contains_key("d"), "the file holds the private key");
        let active = keyset.active(T0);
        assert_eq!(active.kid(), Some(active.thumbprint().as_str()));
        assert_eq!(entry["kid"], active.thumbprint());
        assert_eq!(
            keyset.active_signing_key(T0).signer().header()["kid"],
            entry["kid"]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.file()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn reloading_keeps_the_keys_and_does_not_rewrite() {
        let dir = Dir::new("reload");
        let first = Keyset::load_or_create(dir.file(), Algorithm::EdDSA, day(), T0).unwrap();
        let bytes = fs::read(dir.file()).unwrap();
        let modified = fs::metadata(dir.file()).unwrap().modified().unwrap();
        let second = Keyset::load_or_create(dir.file(), Algorithm::EdDSA, day(), T0 + 600).unwrap();
        assert_eq!(kids(&first), kids(&second));
        assert_eq!(fs::read(dir.file()).unwrap(), bytes);
        assert_eq!(
            fs::metadata(dir.file()).unwrap().modified().unwrap(),
            modified
        );
        // The reloaded key signs what the first one verifies.
        let token = second
            .active_signing_key(T0)
            .signer()
            .sign_claims(&serde_json::json!({"a": 1}))
            .unwrap();
        let public = first.active(T0).to_public().unwrap();
        jose::Verifier::new(public).verify(&token).unwrap();
    }

    #[test]
    fn rolls_at_the_boundary_and_prunes_beyond_the_previous_key() {
        let dir = Dir::new("roll");
        let mut keyset = Keyset::load_or_create(dir.file(), Algorithm::ES256, day(), T0).unwrap();
        let k0 = keyset.active_signing_key(T0).kid().clone();

        assert!(!keyset.refresh(T0 + DAY - HOUR - 1).unwrap());
        assert!(
            keyset.refresh(T0 + DAY - HOUR).unwrap(),
            "next key added ahead"
        );
        assert_eq!(file_not_befores(&dir.file()), [T0, T0 + DAY]);
        let k1 = keyset.signing_keys().nth(1).unwrap().kid().clone();
        assert_eq!(keyset.active_signing_key(T0 + DAY - 1).kid(), &k0);
        assert_eq!(keyset.active_signing_key(T0 + DAY).kid(), &k1);
        assert_eq!(
            keyset.verification_keys(T0 + DAY - 1).count(),
            2,
            "current + upcoming"
        );

        assert!(!keyset.refresh(T0 + DAY).unwrap(), "the previous key stays");
        assert_eq!(
            keyset.verification_keys(T0 + DAY).count(),
            2,
            "previous + current"
        );

        assert!(keyset.refresh(T0 + 2 * DAY - HOUR).unwrap());
        assert_eq!(file_not_befores(&dir.file()), [T0, T0 + DAY, T0 + 2 * DAY]);
        assert_eq!(keyset.verification_keys(T0 + 2 * DAY - HOUR).count(), 3);

        assert!(keyset.refresh(T0 + 2 * DAY).unwrap(), "pruned at the roll");
        assert_eq!(file_not_befores(&dir.file()), [T0 + DAY, T0 + 2 * DAY]);
        assert!(keyset.signing_keys().all(|k| *k.kid() != k0));
        assert_eq!(dir.entries(), ["keys.json"]);
    }

    #[test]
    fn after_downtime_the_current_period_key_is_active_at_once() {
        let dir = Dir::new("downtime");
        let before = Keyset::load_or_create(dir.file(), Algorithm::ES256, day(), T0).unwrap();
        let now = T0 + 3 * DAY + 5;
        let after = Keyset::load_or_create(dir.file(), Algorithm::ES256, day(), now).unwrap();
        assert_eq!(file_not_befores(&dir.file()), [T0, T0 + 3 * DAY]);
        assert_ne!(
            after.active_signing_key(now).kid(),
            before.active_signing_key(T0).kid()
        );
        assert_eq!(
            after.verification_keys(now).count(),
            2,
            "old key kept as previous"
        );
    }

    #[test]
    fn without_rolling_one_key_serves_forever() {
        let dir = Dir::new("noroll");
        let mut keyset = Keyset::load_or_create(dir.file(), Algorithm::ES384, None, T0).unwrap();
        assert!(!keyset.refresh(T0 + 1000 * DAY).unwrap());
        assert_eq!(file_not_befores(&dir.file()), [T0]);
        assert_eq!(keyset.jwks(T0).max_age_seconds, JWKS_MAX_AGE);
    }

    #[test]
    fn the_writer_never_truncates_the_live_file() {
        let dir = Dir::new("atomic");
        let mut keyset = Keyset::load_or_create(dir.file(), Algorithm::ES256, day(), T0).unwrap();
        // A reader that opened the file before a roll keeps reading the complete old version.
        let mut reader = File::open(dir.file()).unwrap();
        let before = fs::read(dir.file()).unwrap();
        assert!(keyset.refresh(T0 + DAY - HOUR).unwrap());
        let mut seen = Vec::new();
        io::Read::read_to_end(&mut reader, &mut seen).unwrap();
        assert_eq!(seen, before);
        assert_ne!(fs::read(dir.file()).unwrap(), before);
    }

    #[test]
    fn concurrent_readers_only_ever_see_complete_files() {
        let dir = Dir::new("readers");
        let path = dir.file();
        let mut keyset = Keyset::load_or_create(&path, Algorithm::ES256, day(), T0).unwrap();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (path, done) = (path.clone(), done.clone());
            std::thread::spawn(move || {
                let mut reads = 0;
                while !done.load(Ordering::Relaxed) {
                    let bytes = fs::read(&path).unwrap();
                    parse(&bytes, Algorithm::ES256).unwrap();
                    reads += 1;
                }
                reads
            })
        };
        for day_number in 1..40 {
            keyset.refresh(T0 + day_number * DAY - HOUR).unwrap();
            keyset.refresh(T0 + day_number * DAY).unwrap();
        }
        done.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
    }

    #[test]
    fn replicas_starting_together_make_one_keyset() {
        let dir = Dir::new("race");
        let path = dir.file();
        let replicas = 8;
        let barrier = Arc::new(Barrier::new(replicas));
        let handles: Vec<_> = (0..replicas)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    Keyset::load_or_create(&path, Algorithm::ES256, day(), T0).unwrap()
                })
            })
            .collect();
        let keysets: Vec<Keyset> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let file = fs::read(&path).unwrap();
        assert_eq!(file_not_befores(&path), [T0], "one key");
        for keyset in &keysets {
            assert_eq!(
                *keyset.file, *file,
                "every replica holds the file's content"
            );
            assert_eq!(kids(keyset), kids(&keysets[0]));
            assert_eq!(
                keyset.active_signing_key(T0 + 60).kid(),
                keysets[0].active_signing_key(T0 + 60).kid()
            );
        }
        assert_eq!(dir.entries(), ["keys.json"]);
    }

    #[test]
    fn replicas_rolling_together_add_one_key() {
        let dir = Dir::new("race-roll");
        let path = dir.file();
        let first = Keyset::load_or_create(&path, Algorithm::ES256, day(), T0).unwrap();
        let replicas = 6;
        let barrier = Arc::new(Barrier::new(replicas));
        let handles: Vec<_> = (0..replicas)
            .map(|_| {
                let (mut keyset, barrier) = (first.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    keyset.refresh(T0 + DAY - HOUR).unwrap();
                    keyset
                })
            })
            .collect();
        let keysets: Vec<Keyset> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(file_not_befores(&path), [T0, T0 + DAY]);
        for keyset in &keysets {
            assert_eq!(kids(keyset), kids(&keysets[0]));
            assert_eq!(
                keyset.active_signing_key(T0 + DAY).kid(),
                keysets[0].active_signing_key(T0 + DAY).kid()
            );
        }
    }

    #[test]
    fn refresh_adopts_another_replicas_roll() {
        let dir = Dir::new("adopt");
        let mut a = Keyset::load_or_create(dir.file(), Algorithm::ES256, day(), T0).unwrap();
        let mut b = Keyset::load_or_create(dir.file(), Algorithm::ES256, day(), T0).unwrap();
        assert!(a.refresh(T0 + DAY - HOUR).unwrap());
        assert!(b.refresh(T0 + DAY - HOUR + 30).unwrap(), "b reads a's key");
        assert_eq!(kids(&a), kids(&b));
        assert!(!b.refresh(T0 + DAY - HOUR + 60).unwrap());
    }

    #[test]
    fn a_deleted_file_is_recreated_from_memory() {
        let dir = Dir::new("deleted");
        let mut keyset = Keyset::load_or_create(dir.file(), Algorithm::ES256, day(), T0).unwrap();
        let before = kids(&keyset);
        fs::remove_file(dir.file()).unwrap();
        keyset.refresh(T0 + 10).unwrap();
        assert_eq!(kids(&keyset), before);
        let reloaded =
            Keyset::load_or_create(dir.file(), Algorithm::ES256, day(), T0 + 20).unwrap();
        assert_eq!(kids(&reloaded), before);
    }

    #[test]
    fn a_stale_lock_is_recovered_and_a_live_one_waited_for() {
        let dir = Dir::new("lock");
        let lock = sibling(&dir.file(), ".lock");
        fs::write(&lock, "crashed").unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(&lock)
            .unwrap()
            .set_modified(old)
            .unwrap();
        Keyset::load_or_create(dir.file(), Algorithm::ES256, day(), T0).unwrap();
        assert!(!lock.exists());

        let policy = policy(dir.path().join("other.json"), Algorithm::ES256, day()).unwrap();
        let lock = sibling(&policy.path, ".lock");
        fs::write(&lock, "live").unwrap();
        let timing = LockTiming {
            wait: Duration::from_millis(50),
            stale_after: Duration::from_secs(60),
        };
        let err = synchronize(&policy, T0, None, &[], timing).err().unwrap();
        assert!(
            matches!(err.kind, KeysetErrorKind::LockTimeout { .. }),
            "{err}"
        );
        assert!(!policy.path.exists());
        assert_eq!(
            fs::read_to_string(&lock).unwrap(),
            "live",
            "not ours to remove"
        );
    }

    #[test]
    fn jwks_publishes_public_keys_with_etag_and_bounded_max_age() {
        let dir = Dir::new("jwks");
        let mut keyset = Keyset::load_or_create(dir.file(), Algorithm::ES256, day(), T0).unwrap();
        let jwks = keyset.jwks(T0);
        let doc: Value = serde_json::from_slice(&jwks.body).unwrap();
        let keys = doc["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].get("d").is_none(), "no private member");
        assert_eq!(keys[0]["kid"], keyset.active(T0).thumbprint());
        assert_eq!(keys[0]["alg"], "ES256");
        assert_eq!(keys[0]["use"], "sig");
        let expected = format!(
            "\"{}\"",
            jose::b64::encode(digest::digest(&digest::SHA256, &jwks.body))
        );
        assert_eq!(jwks.etag, expected);
        assert_eq!(jwks.max_age_seconds, JWKS_MAX_AGE);
        assert_eq!(jwks.cache_control(), "public, max-age=300");
        // Close to the publication of the next key, caches must not outlive it.
        let near = T0 + DAY - HOUR - 100;
        assert_eq!(keyset.jwks(near).max_age_seconds, 100);
        assert_eq!(keyset.jwks(near).etag, jwks.etag, "same keys, same ETag");
        // Publication due but not yet done (no refresh): do not cache.
        assert_eq!(keyset.jwks(T0 + DAY - HOUR + 5).max_age_seconds, 0);
        keyset.refresh(T0 + DAY - HOUR).unwrap();
        let rolled = keyset.jwks(T0 + DAY - 40);
        assert_ne!(rolled.etag, jwks.etag);
        assert_eq!(rolled.max_age_seconds, 40, "ends at the roll");
        let doc: Value = serde_json::from_slice(&rolled.body).unwrap();
        assert_eq!(doc["keys"].as_array().unwrap().len(), 2);
        // The JWKS is a set a verifier accepts.
        let (set, skipped) = jose::KeySet::from_jwks_json(&rolled.body).unwrap();
        assert_eq!((set.keys().len(), skipped.len()), (2, 0));
    }

    #[test]
    fn tokens_signed_by_every_published_key_verify_against_the_jwks() {
        let dir = Dir::new("verify");
        let mut keyset = Keyset::load_or_create(dir.file(), Algorithm::PS256, day(), T0).unwrap();
        keyset.refresh(T0 + DAY - HOUR).unwrap();
        let (set, _) = jose::KeySet::from_jwks_json(&keyset.jwks(T0 + DAY - 1).body).unwrap();
        let verifier = jose::Verifier::new(set);
        for now in [T0, T0 + DAY] {
            let signing = keyset.active_signing_key(now);
            assert_eq!(signing.algorithm(), Algorithm::PS256);
            let token = signing
                .signer()
                .sign_claims(&serde_json::json!({}))
                .unwrap();
            let verified = verifier.verify(&token).unwrap();
            assert_eq!(verified.header["kid"].as_str(), Some(&**signing.kid()));
        }
    }

    #[test]
    fn wrong_algorithm_corrupt_files_and_bad_settings_are_errors() {
        let dir = Dir::new("errors");
        Keyset::load_or_create(dir.file(), Algorithm::ES256, day(), T0).unwrap();
        let err = Keyset::load_or_create(dir.file(), Algorithm::EdDSA, day(), T0).unwrap_err();
        assert!(
            matches!(
                err.kind,
                KeysetErrorKind::AlgorithmChanged {
                    found: Algorithm::ES256,
                    configured: Algorithm::EdDSA
                }
            ),
            "{err}"
        );
        assert!(inspect(&dir.file(), Algorithm::ES256).is_ok());
        assert!(inspect(&dir.path().join("absent.json"), Algorithm::ES256).is_ok());

        fs::write(dir.file(), "{\"keys\": [").unwrap();
        let err = Keyset::load_or_create(dir.file(), Algorithm::ES256, day(), T0).unwrap_err();
        assert!(err.to_string().contains("not a keyset file"), "{err}");
        assert_eq!(
            fs::read(dir.file()).unwrap(),
            b"{\"keys\": [",
            "left untouched"
        );

        let err = Keyset::load_or_create(dir.path().join("h.json"), Algorithm::HS256, day(), T0)
            .unwrap_err();
        assert!(matches!(err.kind, KeysetErrorKind::UnsupportedAlgorithm(_)));
        let err = Keyset::load_or_create(
            dir.path().join("z.json"),
            Algorithm::ES256,
            Some(Duration::ZERO),
            T0,
        )
        .unwrap_err();
        assert!(matches!(err.kind, KeysetErrorKind::IntervalTooShort));
    }

    #[test]
    fn file_entries_are_checked() {
        let key = Key::generate(Algorithm::ES256).unwrap();
        let kid = key.thumbprint();
        let with = |edit: &Edit| {
            let mut jwk = key.clone().with_kid(kid.clone()).private_jwk().unwrap();
            jwk.insert("not_before".into(), T0.into());
            edit(&mut jwk);
            let doc = serde_json::json!({ "keys": [jwk] }).to_string();
            parse(doc.as_bytes(), Algorithm::ES256)
                .err()
                .map(|e| e.to_string())
        };
        assert_eq!(with(&|_| {}), None);
        type Edit = dyn Fn(&mut Map<String, Value>);
        let cases: [(&Edit, &str); 5] = [
            (
                &|j| {
                    j.shift_remove("not_before");
                },
                "has no not_before",
            ),
            (
                &|j| {
                    j.insert("not_before".into(), "soon".into());
                },
                "has no not_before",
            ),
            (
                &|j| {
                    j.insert("kid".into(), "mine".into());
                },
                "kid is not the key's RFC 7638 thumbprint",
            ),
            (
                &|j| {
                    j.shift_remove("d");
                },
                "has no private part",
            ),
            (
                &|j| {
                    j.shift_remove("alg");
                },
                "has no alg",
            ),
        ];
        for (edit, expected) in cases {
            let message = with(edit).unwrap_or_default();
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
        let mut jwk = key.with_kid(kid).private_jwk().unwrap();
        jwk.insert("not_before".into(), T0.into());
        let twice = serde_json::json!({ "keys": [jwk.clone(), jwk] }).to_string();
        let err = parse(twice.as_bytes(), Algorithm::ES256).err().unwrap();
        assert!(err.to_string().contains("appears twice"), "{err}");
    }
}

/// Property test: whatever the gaps between the times the keyset is brought up to date (a
/// replica down for a while, many refreshes in a second), there is always an active key for
/// the current period, at most three keys are kept, and key times stay on the rolling grid.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod rolling_properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn no_period_is_left_without_an_active_key(
            interval in 1u64..100_000,
            start in 0i64..2_000_000_000,
            gaps in proptest::collection::vec(0i64..300_000, 1..60),
        ) {
            let step = i64::try_from(interval).unwrap();
            let interval = NonZeroU64::new(interval);
            let mut keys: Vec<i64> = Vec::new();
            let mut now = start;
            for gap in gaps {
                now += gap;
                let s = schedule(&keys, now, interval);
                keys.extend(&s.add);
                keys.retain(|&nb| nb >= s.drop_before);
                keys.sort_unstable();
                keys.dedup();
                let active = keys.iter().rev().find(|&&nb| nb <= now).copied();
                prop_assert!(active.is_some(), "no active key at {} in {:?}", now, keys);
                let active = active.unwrap();
                prop_assert!(now - active < step, "the active key {} is older than a period at {}", active, now);
                prop_assert!(keys.len() <= 3, "{:?}", keys);
                prop_assert!(keys.iter().all(|nb| (nb - keys[0]) % step == 0), "off the grid: {:?}", keys);
                // Nothing further done at the same instant.
                let again = schedule(&keys, now, interval);
                prop_assert!(!again.changes(&keys), "not settled at {}: {:?} {:?}", now, keys, again);
            }
        }
    }
}
