//! Ended `web` sessions, shared by replicas through a file, as the keyset is: a session that
//! logged out (or that its provider logged out over the back channel) is refused by every
//! replica that reads the same file, not only in the browser that logged out.
//!
//! File format (JSON; entries sorted by expiry):
//! `{"revoked": [{"session": <our session id>, "exp": <Unix s>}, {"sid": <provider's sid>,
//! "exp": …}, {"sub": <subject>, "before": <Unix s>, "exp": …}, …]}`. A `sub` entry ends every
//! session of that subject that began before `before`. An entry is kept until `exp`, the latest
//! time a session it matches could still be valid (its absolute timeout), then dropped.
//!
//! Changes are made under the same O_EXCL lock and atomic rename as the keyset file
//! ([`crate::shared_file`]); every replica re-reads the file when its modification time, size
//! or inode changed, checked at most every [`RECHECK`] on the request path. At most
//! [`MAX_ENTRIES`] entries are kept: past that the ones expiring soonest are dropped (and the
//! drop is logged), so the file stays small (our choice; a flood of logouts cannot grow it
//! without bound).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::shared_file::{sibling, write_atomically, FileLock, LockError, LockTiming};

/// Most entries kept.
pub const MAX_ENTRIES: usize = 100_000;
/// How often the request path looks at the file for other replicas' changes.
pub const RECHECK: Duration = Duration::from_millis(250);
/// The default file's name, in the keyset file's directory.
pub const DEFAULT_FILE_NAME: &str = "revoked-sessions.json";

/// Why a revocation could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    #[error("revocation file {}: {error}", path.display())]
    Lock { path: PathBuf, error: LockError },
    #[error("revocation file {}: cannot {action}: {error}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        error: std::io::Error,
    },
}

/// One ended session (or subject).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Entry {
    Session { session: String, exp: i64 },
    Sid { sid: String, exp: i64 },
    Subject { sub: String, before: i64, exp: i64 },
}

impl Entry {
    fn exp(&self) -> i64 {
        match self {
            Entry::Session { exp, .. } | Entry::Sid { exp, .. } | Entry::Subject { exp, .. } => {
                *exp
            }
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Document {
    revoked: Vec<Entry>,
}

/// What a session is matched by.
#[derive(Debug, Clone, Copy)]
pub struct SessionIds<'a> {
    pub session: &'a str,
    pub sid: Option<&'a str>,
    pub sub: Option<&'a str>,
    /// When the session began.
    pub iat: i64,
}

#[derive(Debug, Default)]
struct Index {
    /// The entries the maps were made from (the last good read of the file).
    entries: Vec<Entry>,
    sessions: HashMap<String, i64>,
    sids: HashMap<String, i64>,
    /// Subject → (before, exp).
    subjects: HashMap<String, (i64, i64)>,
}

impl Index {
    fn from_entries(entries: Vec<Entry>) -> Index {
        let mut index = Index::default();
        for e in &entries {
            match e {
                Entry::Session { session, exp } => {
                    index.sessions.insert(session.clone(), *exp);
                }
                Entry::Sid { sid, exp } => {
                    index.sids.insert(sid.clone(), *exp);
                }
                Entry::Subject { sub, before, exp } => {
                    let slot = index.subjects.entry(sub.clone()).or_insert((*before, *exp));
                    *slot = (slot.0.max(*before), slot.1.max(*exp));
                }
            }
        }
        index.entries = entries;
        index
    }

    fn matches(&self, ids: &SessionIds<'_>, now: i64) -> bool {
        let live = |exp: Option<&i64>| exp.is_some_and(|&exp| now < exp);
        live(self.sessions.get(ids.session))
            || ids.sid.is_some_and(|sid| live(self.sids.get(sid)))
            || ids.sub.is_some_and(|sub| {
                self.subjects
                    .get(sub)
                    .is_some_and(|&(before, exp)| now < exp && ids.iat <= before)
            })
    }
}

/// The file's identity when last read: modification time, length, inode.
type Stamp = Option<(std::time::SystemTime, u64, u64)>;

/// The revocation list of one `[web_session]`.
#[derive(Debug)]
pub struct Revocations {
    path: PathBuf,
    index: RwLock<Index>,
    /// The file as last read, and when it was last looked at.
    seen: Mutex<(Stamp, Option<Instant>)>,
}

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.modified().ok()?, meta.len(), inode))
}

/// The file's entries (none when it does not exist); Err with why it cannot be used.
fn read(path: &Path) -> Result<Vec<Entry>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice::<Document>(&bytes)
            .map(|d| d.revoked)
            .map_err(|e| format!("not a revocation file: {e}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e.to_string()),
    }
}

impl Revocations {
    /// The list kept in `path` (read now if it exists).
    pub fn new(path: PathBuf) -> Revocations {
        let r = Revocations {
            path,
            index: RwLock::new(Index::default()),
            seen: Mutex::new((None, None)),
        };
        r.reload_if_changed(Instant::now(), true);
        r
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-reads the file when another replica changed it (looked at every [`RECHECK`]).
    fn reload_if_changed(&self, now: Instant, force: bool) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if !force && seen.1.is_some_and(|at| now.duration_since(at) < RECHECK) {
            return;
        }
        seen.1 = Some(now);
        let current = stamp(&self.path);
        if current == seen.0 && !force {
            return;
        }
        seen.0 = current;
        match read(&self.path) {
            Ok(entries) => {
                *self.index.write().unwrap_or_else(PoisonError::into_inner) =
                    Index::from_entries(entries);
            }
            // What was read before stays in force: a broken file never revives a session.
            Err(e) => eprintln!(
                "signet gateway: revocation file {}: {e} (the entries read before stay in force)",
                self.path.display()
            ),
        }
    }

    /// Whether the session has ended (logged out here or on another replica).
    pub fn is_revoked(&self, ids: &SessionIds<'_>, now: i64) -> bool {
        self.reload_if_changed(Instant::now(), false);
        self.index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .matches(ids, now)
    }

    /// Adds entries (under the file's lock, merged with what other replicas wrote), dropping
    /// expired ones. Blocking file I/O: call it off the async workers.
    pub fn revoke(&self, entries: &[Entry], now: i64) -> Result<(), RevocationError> {
        let lock = sibling(&self.path, ".lock");
        let _lock = FileLock::acquire(lock, LockTiming::DEFAULT).map_err(|error| {
            RevocationError::Lock {
                path: self.path.clone(),
                error,
            }
        })?;
        let mut all = read(&self.path).unwrap_or_else(|e| {
            eprintln!(
                "signet gateway: revocation file {}: {e}; it is written anew from the entries read before",
                self.path.display()
            );
            self.index
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .entries
                .clone()
        });
        all.extend(entries.iter().cloned());
        let (kept, dropped) = prune(all, now, MAX_ENTRIES);
        if dropped > 0 {
            eprintln!(
                "signet gateway: revocation file {}: the list is full ({MAX_ENTRIES}); the {dropped} entries expiring soonest were dropped",
                self.path.display()
            );
        }
        let document = Document { revoked: kept };
        let mut bytes = serde_json::to_vec_pretty(&document).map_err(|e| RevocationError::Io {
            path: self.path.clone(),
            action: "serialize it",
            error: std::io::Error::other(e),
        })?;
        bytes.push(b'\n');
        write_atomically(&self.path, &bytes).map_err(|error| RevocationError::Io {
            path: self.path.clone(),
            action: "write it",
            error,
        })?;
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.0 = stamp(&self.path);
        seen.1 = Some(Instant::now());
        *self.index.write().unwrap_or_else(PoisonError::into_inner) =
            Index::from_entries(document.revoked);
        Ok(())
    }
}

/// Live entries, sorted by expiry, at most `max` (the latest-expiring kept); and how many live
/// ones were dropped for room.
fn prune(mut entries: Vec<Entry>, now: i64, max: usize) -> (Vec<Entry>, usize) {
    entries.retain(|e| e.exp() > now);
    entries.sort_by_key(Entry::exp);
    entries.dedup();
    let dropped = entries.len().saturating_sub(max);
    entries.drain(..dropped);
    (entries, dropped)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    fn ids<'a>(
        session: &'a str,
        sid: Option<&'a str>,
        sub: Option<&'a str>,
        iat: i64,
    ) -> SessionIds<'a> {
        SessionIds {
            session,
            sid,
            sub,
            iat,
        }
    }

    #[test]
    fn a_revocation_is_seen_by_another_replica_and_expires() {
        let dir = TempDir::new("revoked");
        let path = dir.0.join(DEFAULT_FILE_NAME);
        let a = Revocations::new(path.clone());
        let b = Revocations::new(path.clone());
        let s = ids("s1", Some("sid-1"), Some("u1"), 100);
        assert!(!a.is_revoked(&s, 150) && !b.is_revoked(&s, 150));
        a.revoke(
            &[Entry::Session {
                session: "s1".into(),
                exp: 200,
            }],
            150,
        )
        .unwrap();
        assert!(a.is_revoked(&s, 150));
        std::thread::sleep(RECHECK + Duration::from_millis(20));
        assert!(b.is_revoked(&s, 150), "the other replica reads the file");
        assert!(!b.is_revoked(&s, 200), "expired");
        assert!(!b.is_revoked(&ids("s2", None, None, 100), 150));
        // By the provider's sid, and by subject for sessions begun before the logout.
        b.revoke(
            &[
                Entry::Sid {
                    sid: "sid-9".into(),
                    exp: 500,
                },
                Entry::Subject {
                    sub: "u7".into(),
                    before: 300,
                    exp: 900,
                },
            ],
            160,
        )
        .unwrap();
        assert!(b.is_revoked(&ids("x", Some("sid-9"), None, 100), 170));
        assert!(b.is_revoked(&ids("x", None, Some("u7"), 300), 400));
        assert!(
            !b.is_revoked(&ids("x", None, Some("u7"), 301), 400),
            "a later login"
        );
        // The file holds both replicas' entries, and drops expired ones when next written.
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["revoked"].as_array().unwrap().len(), 3);
        a.revoke(&[], 600).unwrap();
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            doc["revoked"],
            serde_json::json!([{"sub": "u7", "before": 300, "exp": 900}])
        );
    }

    #[test]
    fn the_list_is_bounded_keeping_the_latest_expiring() {
        let entries: Vec<Entry> = (0..10)
            .map(|i| Entry::Session {
                session: format!("s{i}"),
                exp: 100 + i,
            })
            .collect();
        let (kept, dropped) = prune(entries, 102, 4);
        assert_eq!(dropped, 3, "s0..s2 expired; s3..s5 dropped for room");
        assert_eq!(kept.first().unwrap().exp(), 106);
        assert_eq!(kept.len(), 4);
    }

    #[test]
    fn a_broken_file_keeps_what_was_read_before() {
        let dir = TempDir::new("revoked-broken");
        let path = dir.0.join("r.json");
        let r = Revocations::new(path.clone());
        r.revoke(
            &[Entry::Session {
                session: "s".into(),
                exp: 10,
            }],
            1,
        )
        .unwrap();
        std::fs::write(&path, "not json").unwrap();
        r.reload_if_changed(Instant::now(), true);
        assert!(r.is_revoked(&ids("s", None, None, 0), 1));
        // Written anew on the next revocation.
        r.revoke(&[], 1).unwrap();
        assert!(Revocations::new(path).is_revoked(&ids("s", None, None, 0), 1));
        let r = Revocations::new(dir.0.join("missing.json"));
        assert!(!r.is_revoked(&ids("s", None, None, 0), 1));
    }
}
