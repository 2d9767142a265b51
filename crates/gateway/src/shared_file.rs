//! Files that replicas share (the keyset, the session revocation list): replaced atomically,
//! changed only under an exclusive lock file created with O_EXCL.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A lock file older than this was left by a process that died holding it. The lock is held only
/// for reading, writing and renaming a small file, so this is far beyond any real holder.
pub const LOCK_STALE_AFTER: Duration = Duration::from_secs(10);

/// How long to wait for another process's lock before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(20);

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot {action}: {error}")]
    Io {
        action: &'static str,
        error: io::Error,
    },
    #[error("another process holds the lock file {} (waited {} s)", lock.display(), waited.as_secs())]
    Timeout { lock: PathBuf, waited: Duration },
}

/// `<dir>/<name><suffix>` beside `path`.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

pub fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// A name no other process or thread uses at the same time.
pub fn unique_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Replaces `path` with `bytes` without ever exposing a partial file: write a new file in the
/// same directory, fsync it, rename it over `path`, fsync the directory. Private keys: mode 0600.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temporary = sibling(path, &format!(".{}.tmp", unique_token()));
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, path)?;
        // Make the rename itself durable; not every platform can open a directory.
        if let Ok(dir) = File::open(directory_of(path)) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

#[derive(Debug, Clone, Copy)]
pub struct LockTiming {
    pub wait: Duration,
    pub stale_after: Duration,
}

impl LockTiming {
    pub const DEFAULT: LockTiming = LockTiming {
        wait: LOCK_WAIT,
        stale_after: LOCK_STALE_AFTER,
    };
}

/// An exclusive lock: a file created with O_EXCL, holding a token unique to its holder, removed
/// on drop (only if it still holds that token).
pub struct FileLock {
    path: PathBuf,
    token: String,
}

impl FileLock {
    pub fn acquire(path: PathBuf, timing: LockTiming) -> Result<FileLock, LockError> {
        let token = unique_token();
        let deadline = Instant::now() + timing.wait;
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    let lock = FileLock { path, token };
                    file.write_all(lock.token.as_bytes())
                        .map_err(|error| LockError::Io {
                            action: "write its lock file",
                            error,
                        })?;
                    return Ok(lock);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if is_stale(&path, timing.stale_after) {
                        // Left by a crashed process. Removing it is safe: a live holder keeps a
                        // lock for milliseconds, far less than `stale_after`.
                        let _ = fs::remove_file(&path);
                        continue;
                    }
                    if Instant::now() >= deadline {
                        return Err(LockError::Timeout {
                            lock: path,
                            waited: timing.wait,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(error) => {
                    return Err(LockError::Io {
                        action: "create its lock file",
                        error,
                    })
                }
            }
        }
    }
}

fn is_stale(lock: &Path, stale_after: Duration) -> bool {
    fs::metadata(lock)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
        .is_some_and(|age| age > stale_after)
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // If a waiter judged this lock stale and took over, the file is theirs now.
        if fs::read(&self.path).is_ok_and(|held| held == self.token.as_bytes()) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    #[test]
    fn a_lock_taken_over_is_not_removed_by_its_first_holder() {
        let dir = TempDir::new("takeover");
        let path = dir.0.join("file.lock");
        let held = FileLock::acquire(path.clone(), LockTiming::DEFAULT).unwrap();
        fs::write(&path, "someone else").unwrap();
        drop(held);
        assert_eq!(fs::read_to_string(&path).unwrap(), "someone else");
    }

    #[test]
    fn writes_replace_the_whole_file() {
        let dir = TempDir::new("atomic");
        let path = dir.0.join("f.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(
            fs::read_dir(&dir.0).unwrap().count(),
            1,
            "no temporary left"
        );
    }
}
