//! The newest point of each audit log this person has seen, kept outside the inventory's
//! directory (under keyward's config directory, like the recipients last seen): the entry
//! (sequence number and line hash) and the inventory generation. Whoever can write the
//! inventory's directory can put back an older inventory together with a log cut to match
//! it, or drop the entries written since the last save; neither file can tell. This record
//! can: the log must still hold the entry this person last saw, and the inventory must not
//! be older than the newest generation they saw.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fsutil;

/// The directory, under keyward's config directory, holding one mark per audit log.
const MARK_DIR: &str = "audit-seen";

/// Where marks are kept for this process: set once by the command line
/// ([`keep_marks_in`]); a library user that sets nothing keeps none.
static MARKS_IN: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Keeps this person's marks under `config_dir` from now on.
pub fn keep_marks_in(config_dir: &Path) {
    if let Ok(mut dir) = MARKS_IN.lock() {
        *dir = Some(config_dir.join(MARK_DIR));
    }
}

/// The newest point of one log this person has seen or written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mark {
    /// The newest entry seen (0: none).
    pub seq: u64,
    /// The SHA-256 of that entry's line.
    pub head: String,
    /// The newest inventory generation seen.
    pub generation: u64,
}

/// The mark file of the log at `log`, if marks are kept: named after the log's resolved
/// path, so two spellings of one file share one mark.
fn file_for(log: &Path) -> Option<PathBuf> {
    let dir = MARKS_IN.lock().ok()?.clone()?;
    let resolved = std::fs::canonicalize(log)
        .or_else(|_| std::path::absolute(log))
        .unwrap_or_else(|_| log.to_path_buf());
    let digest = Sha256::digest(resolved.as_os_str().as_encoded_bytes());
    Some(dir.join(hex::encode(&digest[..16])))
}

/// This person's mark for the log at `log`; `None` if none is kept or none was written. A
/// mark reached through a link, or one another user could write, is an error: it decides
/// what counts as a rollback.
pub fn load(log: &Path) -> Result<Option<Mark>, String> {
    let Some(file) = file_for(log) else {
        return Ok(None);
    };
    let named = |why: String| format!("{}: {why}", file.display());
    let meta = match std::fs::symlink_metadata(&file) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(named(format!("cannot read: {e}"))),
    };
    if meta.file_type().is_symlink() {
        return Err(named(
            "is a symbolic link, and keyward does not follow links to its own files".into(),
        ));
    }
    if fsutil::exposure(&meta).is_some() {
        return Err(named(
            "another user could change this record of the audit log you last saw; \
             remove it (the next command records it again)"
                .into(),
        ));
    }
    let bytes = fsutil::read_no_follow(&file).map_err(|e| named(format!("cannot read: {e}")))?;
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        named(format!(
            "damaged ({e}); remove it (the next command records it again)"
        ))
    })
}

/// Records `mark` for the log at `log`, if marks are kept: a new private file renamed
/// into place.
pub fn store(log: &Path, mark: &Mark) -> Result<(), String> {
    let Some(file) = file_for(log) else {
        return Ok(());
    };
    let fail =
        |e: std::io::Error| format!("{}: cannot record the audit log seen: {e}", file.display());
    fsutil::create_private_dir_all(&fsutil::parent_dir(&file)).map_err(fail)?;
    let bytes = serde_json::to_vec(mark).map_err(|e| e.to_string())?;
    fsutil::write_private(&file, &bytes).map_err(fail)
}

/// Forgets the mark for `log`: after a restore on purpose, the log's history is what the
/// restore made it.
pub fn forget(log: &Path) -> Result<(), String> {
    let Some(file) = file_for(log) else {
        return Ok(());
    };
    match std::fs::remove_file(&file) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("{}: cannot remove: {e}", file.display())),
    }
}

/// Moves the mark for `log` forward to `seen`: a newer entry replaces the older one, and
/// the generation only grows. An entry older than the one marked never replaces it, so a
/// log cut behind the mark stays reported however often it is written to afterwards.
pub fn advance(log: &Path, seen: Option<(u64, &str)>, generation: u64) -> Result<(), String> {
    let old = load(log)?.unwrap_or_default();
    let mut new = old.clone();
    if let Some((seq, head)) = seen {
        if seq > old.seq {
            new.seq = seq;
            new.head = head.to_string();
        }
    }
    new.generation = new.generation.max(generation);
    if new == old {
        return Ok(());
    }
    store(log, &new)
}
