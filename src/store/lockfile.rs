//! The exclusive write lock: an OS file lock on `FILE.lock`, holding the owner's pid so a
//! second writer can say who is in the way. The lock file is never deleted: removing it
//! would let two writers lock two different files. It is created 0600 and never opened
//! through a symbolic link.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::keys::io_words;
use super::StoreError;

/// A held write lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// The lock file's path for `inventory`.
pub fn lock_path(inventory: &Path) -> PathBuf {
    let mut s = inventory.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

impl Lock {
    /// Takes the lock for `inventory` without waiting.
    pub fn acquire(inventory: &Path) -> Result<Lock, StoreError> {
        let path = lock_path(inventory);
        let write_err = |e: std::io::Error| StoreError::Write {
            path: inventory.to_path_buf(),
            detail: format!("cannot open lock file {}: {}", path.display(), io_words(&e)),
        };
        // Never through a link: one planted here would make keyward truncate and write the
        // file it points to, and two inventory paths would lock two different files.
        let (mut file, _) = crate::fsutil::open_in_place(&path, crate::fsutil::InPlace::ReadWrite)
            .map_err(write_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(StoreError::Locked {
                    path: inventory.to_path_buf(),
                    pid: if pid.is_empty() {
                        "unknown".into()
                    } else {
                        pid.to_string()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(write_err(e)),
        }
        file.set_len(0).map_err(write_err)?;
        file.rewind().map_err(write_err)?;
        write!(file, "{}", std::process::id()).map_err(write_err)?;
        file.sync_all().map_err(write_err)?;
        Ok(Lock { _file: file })
    }
}
