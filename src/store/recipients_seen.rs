//! The recipient set each person last saw for each inventory, kept outside it (under
//! keyward's config directory), because age does not authenticate the sender: anyone who
//! can write the inventory file can replace it with one encrypted to the owner's key whose
//! `recipients:` include their own, and the next save would encrypt every secret to them.
//! Comparing the file's set with the one last seen notices that; the first time an
//! inventory is seen, its set is trusted and recorded (trust on first use, as ssh's
//! `known_hosts`).

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::fsutil;

/// The directory, under keyward's config directory, holding one record per inventory.
const RECORD_DIR: &str = "recipients-seen";

/// Where one person keeps the recipient set they last saw for one inventory: a small
/// private file named after the inventory's resolved path.
#[derive(Debug, Clone)]
pub struct SeenRecord {
    file: PathBuf,
    inventory: PathBuf,
}

/// Why the record could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{}: {detail}", .path.display())]
pub struct SeenRecordError {
    /// The record file.
    pub path: PathBuf,
    /// What failed.
    pub detail: String,
}

/// How the recipients of an inventory compare with the set last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Never seen before: its set was recorded now, trusted on first use.
    FirstUse {
        /// How many recipients were recorded.
        count: usize,
        /// The record file.
        record: PathBuf,
    },
    /// The same set as last seen.
    Unchanged,
    /// Someone else changed the set since it was last seen.
    Changed(RecipientChange),
}

/// Recipients added to and removed from an inventory since this person last saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecipientChange {
    /// In the file now, not in the set last seen.
    pub added: Vec<String>,
    /// In the set last seen, not in the file now.
    pub removed: Vec<String>,
}

impl RecipientChange {
    /// The difference from `seen` to `now`; `None` when they hold the same recipients.
    pub fn between(seen: &BTreeSet<String>, now: &BTreeSet<String>) -> Option<RecipientChange> {
        let change = RecipientChange {
            added: now.difference(seen).cloned().collect(),
            removed: seen.difference(now).cloned().collect(),
        };
        (!change.added.is_empty() || !change.removed.is_empty()).then_some(change)
    }
}

impl fmt::Display for RecipientChange {
    /// One line, each recipient made safe for the terminal (the file is untrusted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[String]| {
            v.iter()
                .map(|r| crate::text::terminal_safe(r).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut parts = Vec::new();
        if !self.added.is_empty() {
            parts.push(format!("added {}", list(&self.added)));
        }
        if !self.removed.is_empty() {
            parts.push(format!("removed {}", list(&self.removed)));
        }
        write!(
            f,
            "its recipients changed since you last saw them: {}",
            parts.join("; ")
        )
    }
}

/// A recipient set as compared: whitespace around each entry does not count.
pub fn recipient_set(recipients: &[String]) -> BTreeSet<String> {
    recipients.iter().map(|r| r.trim().to_string()).collect()
}

impl SeenRecord {
    /// The record for the inventory at `inventory` kept under `config_dir`. The path is
    /// resolved (links, `.`, `..`) so that two spellings of one file share one record.
    pub fn for_inventory(config_dir: &Path, inventory: &Path) -> SeenRecord {
        let resolved = std::fs::canonicalize(inventory)
            .or_else(|_| std::path::absolute(inventory))
            .unwrap_or_else(|_| inventory.to_path_buf());
        let digest = Sha256::digest(resolved.as_os_str().as_encoded_bytes());
        let name: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        SeenRecord {
            file: config_dir.join(RECORD_DIR).join(name),
            inventory: resolved,
        }
    }

    /// The record file.
    pub fn path(&self) -> &Path {
        &self.file
    }

    fn error(&self, detail: impl Into<String>) -> SeenRecordError {
        SeenRecordError {
            path: self.file.clone(),
            detail: detail.into(),
        }
    }

    /// The set last seen, or `None` if this inventory was never seen. A record another
    /// user could write, or one reached through a symbolic link, is refused: it decides
    /// whom secrets are encrypted to.
    pub fn load(&self) -> Result<Option<BTreeSet<String>>, SeenRecordError> {
        let meta = match std::fs::symlink_metadata(&self.file) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error(format!("cannot read: {e}"))),
        };
        if meta.file_type().is_symlink() {
            return Err(self
                .error("is a symbolic link, and keyward does not follow links to its own files"));
        }
        if let Some(exposure) = fsutil::exposure(&meta) {
            let how = match exposure {
                fsutil::Exposure::WritableByOthers { mode } => format!("mode {mode:04o}"),
                fsutil::Exposure::OwnedByOther { uid } => format!("owned by uid {uid}"),
            };
            return Err(self.error(format!(
                "another user could change this record of trusted recipients ({how}); \
                 remove it and run `keyward recipients accept`"
            )));
        }
        let bytes = fsutil::read_no_follow(&self.file)
            .map_err(|e| self.error(format!("cannot read: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|_| self.error("not UTF-8 text"))?;
        Ok(Some(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect(),
        ))
    }

    /// Records `recipients` as the set last seen: a new private file renamed into place.
    pub fn store(&self, recipients: &BTreeSet<String>) -> Result<(), SeenRecordError> {
        let fail = |e: io::Error| self.error(format!("cannot record the recipients: {e}"));
        fsutil::create_private_dir_all(&fsutil::parent_dir(&self.file)).map_err(fail)?;
        let mut text = format!(
            "# keyward: the recipients you last saw for this inventory; \
             `keyward recipients accept` updates it\n# inventory: {}\n",
            crate::text::terminal_safe(&self.inventory.to_string_lossy())
        );
        for r in recipients {
            text.push_str(r);
            text.push('\n');
        }
        fsutil::write_private(&self.file, text.as_bytes()).map_err(fail)
    }

    /// Compares `recipients` with the set last seen; records them if there is none yet.
    pub fn compare(&self, recipients: &[String]) -> Result<Seen, SeenRecordError> {
        let now = recipient_set(recipients);
        match self.load()? {
            None => {
                self.store(&now)?;
                Ok(Seen::FirstUse {
                    count: now.len(),
                    record: self.file.clone(),
                })
            }
            Some(seen) => Ok(match RecipientChange::between(&seen, &now) {
                None => Seen::Unchanged,
                Some(change) => Seen::Changed(change),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn set(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn first_use_records_then_a_change_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let inv = dir.path().join("inv.age");
        std::fs::write(&inv, b"x").unwrap();
        let record = SeenRecord::for_inventory(&dir.path().join("config"), &inv);
        assert!(matches!(
            record.compare(&set(&["age1a", "age1b"])).unwrap(),
            Seen::FirstUse { count: 2, .. }
        ));
        let mode = std::fs::metadata(record.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            record.compare(&set(&["age1b", " age1a"])).unwrap(),
            Seen::Unchanged
        );
        assert_eq!(
            record.compare(&set(&["age1a", "age1evil"])).unwrap(),
            Seen::Changed(RecipientChange {
                added: set(&["age1evil"]),
                removed: set(&["age1b"]),
            })
        );
    }

    #[test]
    fn two_spellings_of_one_inventory_share_a_record() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let inv = dir.path().join("inv.age");
        std::fs::write(&inv, b"x").unwrap();
        let config = dir.path().join("config");
        let other = dir.path().join("sub").join("..").join("inv.age");
        assert_eq!(
            SeenRecord::for_inventory(&config, &inv).path(),
            SeenRecord::for_inventory(&config, &other).path()
        );
    }

    #[test]
    fn a_record_reached_through_a_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let inv = dir.path().join("inv.age");
        std::fs::write(&inv, b"x").unwrap();
        let record = SeenRecord::for_inventory(&dir.path().join("config"), &inv);
        std::fs::create_dir_all(record.path().parent().unwrap()).unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::write(&elsewhere, b"age1evil\n").unwrap();
        std::os::unix::fs::symlink(&elsewhere, record.path()).unwrap();
        assert!(record.load().is_err());
    }

    #[test]
    fn a_change_names_recipients_terminal_safe() {
        let change = RecipientChange {
            added: set(&["age1\x1b[2Jevil"]),
            removed: vec![],
        };
        let text = change.to_string();
        assert!(!text.contains('\x1b'), "{text}");
        assert!(text.contains("added age1"), "{text}");
    }
}
