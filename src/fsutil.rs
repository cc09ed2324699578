//! The one place keyward creates and opens its own files, so that nobody else on the machine
//! can hijack them.
//!
//! - A file is written as a new file beside its final name, created exclusively
//!   (`O_CREAT|O_EXCL`, which never follows a symbolic link) under an unpredictable name,
//!   then renamed into place: a link planted at any name keyward might use is never written
//!   through.
//! - Files it creates are 0600 and directories 0700, set explicitly on the open handle, so
//!   the umask cannot widen them (the XDG base directory spec asks for 0700 too).
//! - Files it keeps open and appends to or locks in place (the lock, the audit log, the
//!   sandbox state) are opened with `O_NOFOLLOW` and must be regular files.
//! - [`exposure`] judges whether another user could write a file, as ssh's `StrictModes`
//!   does: group- or world-writable, or owned by someone other than this user or root.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::OFlags;

/// The mode of every file keyward creates.
pub const PRIVATE_FILE_MODE: u32 = 0o600;
/// The mode of every directory keyward creates.
pub const PRIVATE_DIR_MODE: u32 = 0o700;

fn no_follow() -> i32 {
    OFlags::NOFOLLOW.bits() as i32
}

/// The error `open` gives for a symbolic link under `O_NOFOLLOW` (ELOOP), in words.
fn refuse_links(e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        io::Error::other("is a symbolic link, and keyward does not follow links to its own files")
    } else {
        e
    }
}

fn require_regular(file: &File) -> io::Result<()> {
    if file.metadata()?.is_file() {
        Ok(())
    } else {
        Err(io::Error::other("is not a regular file"))
    }
}

/// The directory a file at `path` lives in (`.` for a bare name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Creates `dir` and any missing parents; each directory it creates is 0700 whatever the
/// umask. Directories that already exist are left as they are.
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_private_dir_all(parent)?;
    }
    match fs::DirBuilder::new().mode(PRIVATE_DIR_MODE).create(dir) {
        Ok(()) => {
            // The umask may have taken bits away; set exactly 0700 on the directory just
            // made, opened without following a link swapped in meanwhile.
            let handle = OpenOptions::new()
                .read(true)
                .custom_flags(no_follow() | OFlags::DIRECTORY.bits() as i32)
                .open(dir)
                .map_err(refuse_links)?;
            handle.set_permissions(fs::Permissions::from_mode(PRIVATE_DIR_MODE))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates a new private (0700) directory with an unpredictable name starting `prefix` in
/// `base`, made with `mkdir` so it is never one planted there before, even in a shared
/// directory such as `/dev/shm`. It is removed with its contents when dropped.
pub fn create_private_temp_dir(base: &Path, prefix: &str) -> io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .permissions(fs::Permissions::from_mode(PRIVATE_DIR_MODE))
        .tempdir_in(base)?;
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(PRIVATE_DIR_MODE))?;
    Ok(dir)
}

/// Overwrites every regular file directly in `dir` with zeros, never through a link, then
/// removes `dir` and all it holds. Best effort for the overwrite (on tmpfs it mostly drops
/// the pages sooner); the removal's error is returned.
pub fn wipe_dir(dir: &Path) -> io::Result<()> {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let Ok(file) = OpenOptions::new()
                .write(true)
                .custom_flags(no_follow())
                .open(entry.path())
            else {
                continue;
            };
            let Ok(meta) = file.metadata() else {
                continue;
            };
            if meta.is_file() {
                let mut file = file;
                let zeros = vec![0u8; 64 * 1024];
                let mut left = meta.len();
                while left > 0 {
                    let n = left.min(zeros.len() as u64) as usize;
                    if file.write_all(&zeros[..n]).is_err() {
                        break;
                    }
                    left -= n as u64;
                }
                let _ = file.sync_all();
            }
        }
    }
    fs::remove_dir_all(dir)
}

/// A file being written under a temporary, unpredictable name beside its final path; it
/// becomes the final file only with [`NewFile::commit`], and disappears if dropped first.
pub struct NewFile {
    tmp: tempfile::NamedTempFile,
    dir: PathBuf,
}

impl NewFile {
    /// Starts a new private (0600) file that will replace `path`.
    pub fn beside(path: &Path) -> io::Result<NewFile> {
        Self::beside_with_mode(path, PRIVATE_FILE_MODE)
    }

    /// Starts a new file with `mode` (set explicitly, not left to the umask) that will
    /// replace `path`. The temporary name is `.NAME.XXXXXX.tmp` in the same directory,
    /// created with `O_EXCL`.
    pub fn beside_with_mode(path: &Path, mode: u32) -> io::Result<NewFile> {
        let dir = parent_dir(path);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .permissions(fs::Permissions::from_mode(PRIVATE_FILE_MODE))
            .tempfile_in(&dir)?;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(mode))?;
        Ok(NewFile { tmp, dir })
    }

    /// Appends `bytes` to the new file.
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.tmp.as_file_mut().write_all(bytes)
    }

    /// The temporary file's current path (for tests and messages).
    pub fn temp_path(&self) -> &Path {
        self.tmp.path()
    }

    /// Flushes the file to disk, renames it over `path` and flushes the directory, so the
    /// new content survives a crash of the machine.
    pub fn commit(self, path: &Path) -> io::Result<()> {
        self.tmp.as_file().sync_all()?;
        self.tmp.persist(path).map_err(|e| e.error)?;
        File::open(&self.dir)?.sync_all()
    }

    /// Renames the file over `path` without flushing: it survives keyward being killed,
    /// not the machine crashing. For state rewritten thousands of times (the sandbox).
    pub fn commit_unsynced(self, path: &Path) -> io::Result<()> {
        self.tmp.persist(path).map(|_| ()).map_err(|e| e.error)
    }
}

/// Writes `bytes` as the private file `path`, atomically and durably.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = NewFile::beside(path)?;
    file.write_all(bytes)?;
    file.commit(path)
}

/// Creates the private file `path`, which must not exist yet (not even as a link), with
/// mode 0600 whatever the umask.
pub fn create_new_private(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_FILE_MODE)
        .custom_flags(no_follow())
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(PRIVATE_FILE_MODE))?;
    Ok(file)
}

/// How a long-lived file of keyward's is opened in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InPlace {
    /// Read and write at any offset (a lock file).
    ReadWrite,
    /// Read, and write only at the end (a log).
    ReadAppend,
}

/// Opens the file keyward keeps at `path`, creating it (0600 whatever the umask) if it is
/// missing; never through a symbolic link, and only a regular file. Returns the file and
/// whether it was created.
pub fn open_in_place(path: &Path, how: InPlace) -> io::Result<(File, bool)> {
    let options = |create: bool| {
        let mut o = OpenOptions::new();
        o.read(true).custom_flags(no_follow());
        match how {
            InPlace::ReadWrite => o.write(true),
            InPlace::ReadAppend => o.append(true),
        };
        if create {
            o.create_new(true).mode(PRIVATE_FILE_MODE);
        }
        o
    };
    match options(true).open(path) {
        Ok(file) => {
            file.set_permissions(fs::Permissions::from_mode(PRIVATE_FILE_MODE))?;
            Ok((file, true))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let file = options(false).open(path).map_err(refuse_links)?;
            require_regular(&file)?;
            Ok((file, false))
        }
        Err(e) => Err(refuse_links(e)),
    }
}

/// Opens keyward's file `path` for reading, never through a symbolic link.
pub fn open_read(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(no_follow())
        .open(path)
        .map_err(refuse_links)?;
    require_regular(&file)?;
    Ok(file)
}

/// Reads keyward's file `path` whole, never through a symbolic link.
pub fn read_no_follow(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    open_read(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// How another user could change a file or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// Its group or everyone may write it.
    WritableByOthers {
        /// The permission bits.
        mode: u32,
    },
    /// It belongs to another user (not root), who can change it at will.
    OwnedByOther {
        /// The owner's uid.
        uid: u32,
    },
}

/// Whether someone other than this user (and root) could write what `meta` describes: the
/// checks of ssh's `StrictModes`. A sticky world-writable directory such as `/tmp` counts
/// as exposed too: others cannot replace files there, but they can create the names keyward
/// would create beside an inventory (its lock, log, backups) before keyward does.
pub fn exposure(meta: &Metadata) -> Option<Exposure> {
    let me = rustix::process::geteuid().as_raw();
    let uid = meta.uid();
    if uid != me && uid != 0 {
        return Some(Exposure::OwnedByOther { uid });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Some(Exposure::WritableByOthers { mode });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().mode() & 0o777
    }

    #[test]
    fn new_files_are_private_and_never_written_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("victim");
        fs::write(&target, "precious").unwrap();
        let path = dir.path().join("out");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        write_private(&path, b"new").unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "precious");
        assert!(!fs::symlink_metadata(&path).unwrap().is_symlink());
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(mode(&path), 0o600);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn in_place_files_refuse_links_and_are_created_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let (_, created) = open_in_place(&path, InPlace::ReadAppend).unwrap();
        assert!(created);
        assert_eq!(mode(&path), 0o600);
        let (_, created) = open_in_place(&path, InPlace::ReadAppend).unwrap();
        assert!(!created);

        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let e = open_in_place(&link, InPlace::ReadWrite).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let e = open_read(&link).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        // A dangling link is not created through either.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(open_in_place(&dangling, InPlace::ReadWrite).is_err());
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn created_directories_are_0700() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        create_private_dir_all(&deep).unwrap();
        for d in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&dir.path().join(d)), 0o700, "{d}");
        }
    }

    #[test]
    fn writable_by_others_is_exposed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        fs::write(&f, "x").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(exposure(&fs::metadata(&f).unwrap()), None);
        fs::set_permissions(&f, fs::Permissions::from_mode(0o664)).unwrap();
        assert_eq!(
            exposure(&fs::metadata(&f).unwrap()),
            Some(Exposure::WritableByOthers { mode: 0o664 })
        );
        assert_eq!(
            exposure(&fs::metadata("/tmp").unwrap()),
            Some(Exposure::WritableByOthers { mode: 0o1777 })
        );
    }
}
