//! The exclusive write lock: an OS file lock (flock) on `FILE.lock`. A second writer names
//! the process in its way as the kernel reports it (`/proc/locks`: the process that holds
//! the lock now, not the last one that wrote the file); where the kernel cannot say, the
//! pid the holder wrote into the file after locking it, marked as such. The lock file is
//! never deleted: removing it would let two writers lock two different files. It is created
//! 0600 and never opened through a symbolic link.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::keys::io_words;
use super::StoreError;

/// How long a writer waits for the lock before it names the holder: saves hold it for
/// milliseconds (runs and the dashboard lock only to save), so a holder still there after
/// this is a long one a person should know about.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

/// A held write lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Who holds the lock on `file`, in words: the pid the kernel lists for it, or the pid
/// recorded in the file (said to be recorded: a holder that crashed between locking and
/// writing leaves its predecessor's), or "unknown".
fn holder(file: &mut File) -> String {
    if let Some(pid) = file.metadata().ok().and_then(|m| kernel_holder(&m)) {
        return pid.to_string();
    }
    let mut recorded = String::new();
    let _ = file.read_to_string(&mut recorded);
    match recorded.trim().parse::<u32>() {
        Ok(pid) => format!("{pid} (as recorded in the lock file)"),
        Err(_) => "unknown".into(),
    }
}

/// The pid `/proc/locks` lists as holding a flock on the file `meta` describes.
fn kernel_holder(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let table = std::fs::read_to_string("/proc/locks").ok()?;
    let dev = meta.dev();
    let file_id = format!(
        "{:02x}:{:02x}:{}",
        rustix::fs::major(dev),
        rustix::fs::minor(dev),
        meta.ino()
    );
    holder_in(&table, &file_id)
}

/// The holder of a flock on `file_id` (`MAJOR:MINOR:INODE`, as /proc/locks writes it) in
/// `table`; waiting entries (`->`) are not holders.
fn holder_in(table: &str, file_id: &str) -> Option<u32> {
    table.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [_, "FLOCK", _, _, pid, id, ..] if *id == file_id => pid.parse().ok(),
            _ => None,
        }
    })
}

/// The lock file's path for `inventory`.
pub fn lock_path(inventory: &Path) -> PathBuf {
    let mut s = inventory.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

impl Lock {
    /// Takes the lock for `inventory`, waiting up to [`PATIENCE`] for another holder to
    /// release it: other writers hold it only for their own brief save.
    pub fn acquire_patiently(inventory: &Path) -> Result<Lock, StoreError> {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            match Lock::acquire(inventory) {
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => return other,
            }
        }
    }

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
                return Err(StoreError::Locked {
                    path: inventory.to_path_buf(),
                    pid: holder(&mut file),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_is_the_flock_entry_not_a_waiter_nor_another_file() {
        let table = "1: FLOCK  ADVISORY  WRITE 7572 fe:00:5390344 0 EOF\n\
                     1: -> FLOCK  ADVISORY  WRITE 24117 fe:00:5390344 0 EOF\n\
                     2: POSIX  ADVISORY  WRITE 99 fe:00:77 0 EOF\n\
                     3: FLOCK  ADVISORY  WRITE 5095 fe:00:77 0 EOF\n";
        assert_eq!(holder_in(table, "fe:00:5390344"), Some(7572));
        assert_eq!(holder_in(table, "fe:00:77"), Some(5095));
        assert_eq!(holder_in(table, "fe:00:1"), None);
    }
}
