//! An audit log shared by several writers on several machines (the log of an inventory in a
//! bucket): each entry is an object of its own, created only if no entry has its sequence
//! number yet, so two writers can never overwrite one another's entries. A writer that
//! loses the race for a number reads the entries again and chains onto the newer head.
//!
//! Each machine keeps a mirror of the shared entries, a log file in the local format
//! (`<home>.audit.jsonl`), beside a record of the version the storage gave each entry
//! (`<home>.audit.jsonl.versions`). Before it is read the mirror is brought up to date with what
//! is stored: entries added are appended, and from an entry replaced or removed onwards the
//! mirror is rewritten to match. So the chain, the inventory's anchor and each person's
//! mark are checked on exactly what the storage holds, by the same code as a local log.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::fsutil;

/// Where the entries of a shared log are stored: one create-only object per entry.
pub trait SharedEntries: Send + Sync + std::fmt::Debug {
    /// Every entry stored, as (sequence number, the storage's version of it), in
    /// ascending order of sequence number.
    fn list(&self) -> Result<Vec<(u64, String)>, String>;

    /// The line stored as entry `seq`, without a newline.
    fn get(&self, seq: u64) -> Result<Vec<u8>, String>;

    /// Stores `line` as entry `seq` unless that entry exists already. `Ok(Some(version))`
    /// when created; `Ok(None)` when another writer took the number first.
    fn create(&self, seq: u64, line: &[u8]) -> Result<Option<String>, String>;

    /// Where the entries are, for messages (`s3://BUCKET/KEY.audit/`).
    fn location(&self) -> String;
}

/// The record beside a mirror of the storage's version of each entry mirrored, one
/// `SEQ VERSION` a line, in the mirror's order.
pub(super) fn versions_path(mirror: &Path) -> PathBuf {
    let mut s = mirror.as_os_str().to_owned();
    s.push(".versions");
    PathBuf::from(s)
}

/// Why a mirror could not be brought up to date.
#[derive(Debug)]
pub(super) enum SyncError {
    /// The storage could not be read.
    Remote(String),
    /// The mirror on this machine could not be read or written.
    Local(String),
}

/// Brings the mirror `file` (opened in place at `mirror`, locked by the caller) up to date
/// with `shared`: afterwards it holds exactly the stored entries, in order.
pub(super) fn sync(
    file: &mut File,
    mirror: &Path,
    shared: &dyn SharedEntries,
) -> Result<(), SyncError> {
    let stored = shared.list().map_err(SyncError::Remote)?;
    let versions_file = versions_path(mirror);
    let known: Vec<(u64, String)> = match fsutil::read_no_follow(&versions_file) {
        Ok(bytes) => String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| {
                let (seq, version) = l.split_once(' ')?;
                Some((seq.parse().ok()?, version.to_string()))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(SyncError::Local(format!(
                "{}: cannot read: {e}",
                versions_file.display()
            )))
        }
    };
    let io = |e: std::io::Error| {
        SyncError::Local(format!(
            "{}: cannot update the mirror: {e}",
            mirror.display()
        ))
    };
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.read_to_end(&mut bytes).map_err(io)?;
    let mirrored: Vec<&[u8]> = bytes
        .split_inclusive(|b| *b == b'\n')
        .filter(|l| l.ends_with(b"\n"))
        .collect();
    // The entries mirrored that are still stored as they were, in the same places.
    let kept = known
        .iter()
        .zip(&stored)
        .zip(&mirrored)
        .take_while(|((k, s), _)| k == s)
        .count();
    if kept == stored.len() && kept == known.len() && kept == mirrored.len() {
        return Ok(());
    }
    let kept_bytes: usize = mirrored[..kept].iter().map(|l| l.len()).sum();
    let mut added = Vec::new();
    for (seq, _) in &stored[kept..] {
        let mut line = shared.get(*seq).map_err(SyncError::Remote)?;
        // A newline inside would split one entry into two lines: the chain check names it.
        while line.last() == Some(&b'\n') {
            line.pop();
        }
        line.push(b'\n');
        added.extend_from_slice(&line);
    }
    if kept_bytes != bytes.len() {
        file.set_len(kept_bytes as u64).map_err(io)?;
    }
    file.write_all(&added).map_err(io)?;
    file.sync_data().map_err(io)?;
    write_versions(&versions_file, &stored).map_err(SyncError::Local)
}

/// Records the storage's version of each entry mirrored.
pub(super) fn write_versions(path: &Path, versions: &[(u64, String)]) -> Result<(), String> {
    let text: String = versions
        .iter()
        .map(|(seq, version)| format!("{seq} {version}\n"))
        .collect();
    fsutil::write_private(path, text.as_bytes()).map_err(|e| {
        format!(
            "{}: cannot record the entries mirrored: {e}",
            path.display()
        )
    })
}

/// Notes that entry `seq`, just created with `version`, was appended to the mirror.
pub(super) fn note_created(mirror: &Path, seq: u64, version: &str) -> Result<(), String> {
    let path = versions_path(mirror);
    let mut text = match fsutil::read_no_follow(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
    };
    text.extend_from_slice(format!("{seq} {version}\n").as_bytes());
    fsutil::write_private(&path, &text).map_err(|e| {
        format!(
            "{}: cannot record the entries mirrored: {e}",
            path.display()
        )
    })
}

/// Entries kept in memory, for the tests of the log's logic with several writers.
#[cfg(test)]
pub(super) mod memory {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::SharedEntries;

    /// Entries in a map; each creation gets a fresh version.
    #[derive(Debug, Default)]
    pub struct Entries {
        pub objects: Mutex<BTreeMap<u64, (Vec<u8>, String)>>,
        pub creations: Mutex<u64>,
    }

    impl SharedEntries for Entries {
        fn list(&self) -> Result<Vec<(u64, String)>, String> {
            let objects = self.objects.lock().unwrap();
            Ok(objects.iter().map(|(s, (_, v))| (*s, v.clone())).collect())
        }

        fn get(&self, seq: u64) -> Result<Vec<u8>, String> {
            let objects = self.objects.lock().unwrap();
            objects
                .get(&seq)
                .map(|(b, _)| b.clone())
                .ok_or_else(|| format!("entry {seq} is gone"))
        }

        fn create(&self, seq: u64, line: &[u8]) -> Result<Option<String>, String> {
            let mut objects = self.objects.lock().unwrap();
            if objects.contains_key(&seq) {
                return Ok(None);
            }
            let mut n = self.creations.lock().unwrap();
            *n += 1;
            let version = format!("v{n}");
            objects.insert(seq, (line.to_vec(), version.clone()));
            Ok(Some(version))
        }

        fn location(&self) -> String {
            "memory://log/".into()
        }
    }
}
