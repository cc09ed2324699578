//! keyward's own files, which no output path (a report, an export) may ever replace: the
//! inventory and everything named after it beside it (backups, lock, audit log, sandbox
//! state, temporary files), the identity files, and anything in keyward's config directory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The files an output must not replace, with every path resolved to the real file.
#[derive(Debug, Clone)]
pub struct OwnFiles {
    inventory_dir: Option<PathBuf>,
    inventory_name: OsString,
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

/// `path` with links resolved; for a file that does not exist yet, its directory's real
/// path joined with its name. `None` if not even the directory exists.
fn real_path(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Some(p);
    }
    let dir = crate::fsutil::parent_dir(path).canonicalize().ok()?;
    Some(dir.join(path.file_name()?))
}

impl OwnFiles {
    /// The inventory at `inventory` with its siblings, the `identities`, and every file
    /// directly inside `dirs` (keyward's config directory).
    pub fn new(inventory: &Path, identities: &[PathBuf], dirs: &[PathBuf]) -> OwnFiles {
        let real = real_path(inventory);
        OwnFiles {
            inventory_dir: real
                .as_deref()
                .and_then(Path::parent)
                .map(Path::to_path_buf),
            inventory_name: real
                .as_deref()
                .and_then(Path::file_name)
                .map(|n| n.to_os_string())
                .unwrap_or_default(),
            files: identities.iter().filter_map(|p| real_path(p)).collect(),
            dirs: dirs.iter().filter_map(|d| d.canonicalize().ok()).collect(),
        }
    }

    /// Whether writing to `candidate` would replace one of keyward's own files.
    pub fn contains(&self, candidate: &Path) -> bool {
        let Some(real) = real_path(candidate) else {
            return false;
        };
        if self.files.contains(&real) {
            return true;
        }
        let (Some(dir), Some(name)) = (real.parent(), real.file_name()) else {
            return false;
        };
        if self.dirs.iter().any(|d| d == dir) {
            return true;
        }
        if self.inventory_dir.as_deref() != Some(dir) || self.inventory_name.is_empty() {
            return false;
        }
        let (name, ours) = (
            name.to_string_lossy(),
            self.inventory_name.to_string_lossy(),
        );
        name == ours
            || name.starts_with(&format!("{ours}."))
            || name.starts_with(&format!(".{ours}."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inventory_its_siblings_and_the_identities_are_ours() {
        let dir = tempfile::tempdir().unwrap();
        let inv = dir.path().join("inv.age");
        std::fs::write(&inv, "x").unwrap();
        let id = dir.path().join("keys/id.txt");
        std::fs::create_dir_all(id.parent().unwrap()).unwrap();
        std::fs::write(&id, "x").unwrap();
        let own = OwnFiles::new(&inv, std::slice::from_ref(&id), &[]);
        for name in [
            "inv.age",
            "inv.age.1",
            "inv.age.lock",
            "inv.age.audit.jsonl",
            "inv.age.sandbox.json",
            ".inv.age.abc123.tmp",
            "keys/id.txt",
            "keys/../inv.age.2",
        ] {
            assert!(own.contains(&dir.path().join(name)), "{name}");
        }
        for name in ["report.md", "inv.ageX", "keys/other.txt", "nodir/x"] {
            assert!(!own.contains(&dir.path().join(name)), "{name}");
        }
        // A link to the identity is the identity.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&id, &link).unwrap();
        assert!(own.contains(&link));
        // Everything in the config directory is ours.
        let own = OwnFiles::new(&inv, &[], &[dir.path().join("keys")]);
        assert!(own.contains(&dir.path().join("keys/anything")));
    }
}
