//! Noticing that the inventory file changed on disk (another keyward, a cron job), cheaply:
//! one `stat` a second, comparing device, inode, size and the modification and change
//! times. Only a difference here makes the dashboard read the file again, and reading it
//! compares the content's hash before decrypting anything, so a false alarm (a `touch`, or
//! the dashboard's own save) costs one read and no decryption.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often the file is looked at.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// What `stat` says about the file, as far as noticing a change goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    /// The file's stamp; `None` when it cannot be read (gone, or a directory in its way),
    /// which is itself a state a change is noticed from.
    fn of(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        Some(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }
}

/// Watches one file for changes by polling its metadata.
#[derive(Debug)]
pub struct FileWatch {
    path: PathBuf,
    last: Option<Stamp>,
    checked: Instant,
}

impl FileWatch {
    /// Starts watching `path` as it is now.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        FileWatch {
            last: Stamp::of(&path),
            path,
            checked: Instant::now(),
        }
    }

    /// Whether the file changed since the last call (or since [`FileWatch::new`]); looks
    /// at most once per [`CHECK_EVERY`], answering `false` in between.
    pub fn changed(&mut self) -> bool {
        if self.checked.elapsed() < CHECK_EVERY {
            return false;
        }
        self.changed_now()
    }

    /// Whether the file changed since the last look, looking now whatever the time.
    pub fn changed_now(&mut self) -> bool {
        self.checked = Instant::now();
        let now = Stamp::of(&self.path);
        let changed = now != self.last;
        self.last = now;
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_file_is_noticed_once_and_an_untouched_one_never() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inv.age");
        std::fs::write(&path, b"one").unwrap();
        let mut watch = FileWatch::new(&path);
        assert!(!watch.changed_now(), "nothing happened yet");

        // How keyward saves: a new file renamed over the old one (a new inode).
        let tmp = dir.path().join("inv.age.tmp");
        std::fs::write(&tmp, b"two").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert!(watch.changed_now(), "the rename went unnoticed");
        assert!(!watch.changed_now(), "the same change reported twice");

        // Rewritten in place, same length: the times (and ctime) move.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, b"six").unwrap();
        assert!(watch.changed_now(), "an in-place rewrite went unnoticed");

        std::fs::remove_file(&path).unwrap();
        assert!(watch.changed_now(), "the file vanishing went unnoticed");
        assert!(!watch.changed_now());
    }

    #[test]
    fn looks_at_most_once_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inv.age");
        std::fs::write(&path, b"one").unwrap();
        let mut watch = FileWatch::new(&path);
        std::fs::remove_file(&path).unwrap();
        assert!(!watch.changed(), "looked again within the second");
        assert!(watch.changed_now());
    }
}
