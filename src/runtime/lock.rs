//! One desk per (environment, key, subaccount): an exclusive lock file in the state directory.
//!
//! Two desks trading the same account would fight over the same orders, and each would see the
//! other's orders as orphans to cancel. The lock is an OS file lock, so it is released when the
//! process dies however it dies; the file also names the holder's pid and its control socket,
//! which `kdesk kill` uses to reach a running desk.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another desk is already running on this account ({env}, key {key}, subaccount {subaccount}); \
         pid {holder}; lock file {path}"
    )]
    Held {
        env: String,
        key: String,
        subaccount: u32,
        holder: String,
        path: PathBuf,
    },
    #[error("lock file {path}: {reason}")]
    Io { path: PathBuf, reason: String },
}

/// Which account a desk trades.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountId {
    pub environment: String,
    pub key_id: String,
    pub subaccount: u32,
}

impl AccountId {
    /// A file-name-safe name for this account.
    pub fn slug(&self) -> String {
        let key: String = self
            .key_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect();
        let key = if key.is_empty() {
            "nokey".to_string()
        } else {
            key
        };
        format!("{}-{}-{}", self.environment, key, self.subaccount)
    }
}

/// Held for the life of the desk; dropping it releases the lock.
#[derive(Debug)]
pub struct DeskLock {
    file: File,
    path: PathBuf,
    socket_path: PathBuf,
}

impl DeskLock {
    /// Take the lock for `account` in `state_dir`, or report who holds it.
    pub fn acquire(state_dir: &Path, account: &AccountId) -> Result<DeskLock, LockError> {
        let path = state_dir.join(format!("desk-{}.lock", account.slug()));
        let socket_path = state_dir.join(format!("desk-{}.sock", account.slug()));
        let io = |e: std::io::Error| LockError::Io {
            path: path.clone(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(state_dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder
                    .lines()
                    .next()
                    .unwrap_or("unknown")
                    .trim()
                    .to_string();
                return Err(LockError::Held {
                    env: account.environment.clone(),
                    key: account.key_id.clone(),
                    subaccount: account.subaccount,
                    holder,
                    path,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}\n{}", std::process::id(), socket_path.display()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(DeskLock {
            file,
            path,
            socket_path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where this desk listens for `kdesk kill` and other local control commands.
    pub fn socket_path(&self) -> &Path {
        &self.socket_path
    }

    /// The control socket of the desk holding `account`'s lock, if one appears to be running.
    pub fn running_desk_socket(state_dir: &Path, account: &AccountId) -> Option<PathBuf> {
        let path = state_dir.join(format!("desk-{}.lock", account.slug()));
        let file = File::open(&path).ok()?;
        match file.try_lock_shared() {
            // We could lock it: nobody holds it.
            Ok(()) => None,
            Err(_) => Some(state_dir.join(format!("desk-{}.sock", account.slug()))),
        }
    }
}

impl Drop for DeskLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
        let _ = std::fs::remove_file(&self.socket_path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(sub: u32) -> AccountId {
        AccountId {
            environment: "demo".into(),
            key_id: "6f1c-ab/cd".into(),
            subaccount: sub,
        }
    }

    #[test]
    fn a_second_desk_on_the_same_account_is_refused_until_the_first_exits() {
        let dir = tempfile::tempdir().unwrap();
        let first = DeskLock::acquire(dir.path(), &account(0)).unwrap();
        assert!(first.path().ends_with("desk-demo-6f1c-ab_cd-0.lock"));
        let err = DeskLock::acquire(dir.path(), &account(0)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&std::process::id().to_string()) && text.contains("already running"),
            "{text}"
        );
        assert_eq!(
            DeskLock::running_desk_socket(dir.path(), &account(0)).as_deref(),
            Some(first.socket_path())
        );
        // Another subaccount is another account.
        let other = DeskLock::acquire(dir.path(), &account(1)).unwrap();
        drop(first);
        assert_eq!(DeskLock::running_desk_socket(dir.path(), &account(0)), None);
        DeskLock::acquire(dir.path(), &account(0)).unwrap();
        drop(other);
    }
}
