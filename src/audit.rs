//! The audit log: an append-only, hash-chained record of every action taken on an
//! inventory, kept beside it as `<inventory>.audit.jsonl` (mode 0600), one JSON object a line.
//!
//! Each entry carries `prev`, the SHA-256 of the previous line's bytes, and `hash`, the
//! SHA-256 of its own canonical serialization without `hash`. Editing, deleting, reordering
//! or cutting a line therefore breaks the chain at that line, and [`verify`] names it. What a
//! chain cannot show: that the newest lines were not dropped whole, or that the whole file
//! was not rewritten with a fresh chain. Copies kept elsewhere cover that.
//!
//! A secret cannot be put in an entry by construction: an [`Event`] holds a `&'static str`
//! action, a credential's address and a plain `String` detail. No field takes a
//! [`Secret`](crate::secret::Secret), and a `Secret` formats as a mask, so even
//! `format!("{secret}")` yields `••••••••`. Callers pass no secret in the detail.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::inventory::CredentialRef;
use crate::store::keys::io_words;

/// `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Why the log could not be written, read or trusted.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The file could not be opened, locked, read or written.
    #[error("audit log {}: {detail}", .path.display())]
    Io {
        /// The log's path.
        path: PathBuf,
        /// What the OS said.
        detail: String,
    },
    /// A line breaks the chain: the first one found, counting from 1.
    #[error("audit log {}: line {line}: {why}", .path.display())]
    Broken {
        /// The log's path.
        path: PathBuf,
        /// The first bad line.
        line: usize,
        /// What is wrong with it.
        why: String,
    },
    /// The last line cannot be chained onto, so nothing is appended after it.
    #[error("audit log {}: the last entry is unreadable ({why}); see `keyward audit --verify`, and move the log aside to start a new one", .path.display())]
    Tail {
        /// The log's path.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
}

/// What an audit entry records: the log's whole vocabulary. The dashboard and the command
/// line record the same action with the same word because both name it here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditAction {
    /// An inventory was created.
    Created,
    /// A credential was added by hand.
    Added,
    /// Credentials were imported.
    Imported,
    /// An OAuth grant was connected and its refresh token stored.
    Connected,
    /// A management connection was added.
    ConnectionAdded,
    /// A management connection was removed.
    ConnectionRemoved,
    /// A recipient was added.
    RecipientAdded,
    /// A recipient was removed.
    RecipientRemoved,
    /// A secret was shown on screen.
    Revealed,
    /// A secret was copied to the clipboard.
    Copied,
    /// What the providers said was recorded.
    Synced,
    /// Stored secrets were checked with their providers.
    Verified,
    /// A rotation finished.
    Rotated,
    /// A rotation failed.
    RotationFailed,
    /// A rotation (or revocation) stopped to wait for a person.
    RotationWaiting,
    /// An interrupted rotation was finished.
    Resumed,
    /// Finishing an interrupted rotation failed.
    ResumeFailed,
    /// An interrupted rotation was undone.
    RolledBack,
    /// Undoing an interrupted rotation failed.
    RollbackFailed,
    /// A key was revoked.
    Revoked,
    /// A revocation failed.
    RevocationFailed,
    /// A revocation waits for a person.
    RevocationWaiting,
    /// A revocation the provider could not confirm (of the credential's key, or a rotation's
    /// old key): the key may still work.
    RevocationUnconfirmed,
    /// An old key whose grace period ended was deleted.
    DeletedOldKey,
    /// Deleting an old key failed.
    DeleteOldKeyFailed,
    /// Deleting an old key waits for a person.
    DeleteOldKeyWaiting,
    /// A revoked credential was moved out of the active table.
    Archived,
    /// An access report was written to a file.
    Exported,
    /// A backup was put back as the newest version, on purpose.
    Restored,
    /// A credential left the inventory for good (`keyward remove`).
    Removed,
    /// The inventory was edited by hand through `keyward edit`.
    Edited,
}

impl AuditAction {
    /// The word written in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Created => "created",
            AuditAction::Added => "added",
            AuditAction::Imported => "imported",
            AuditAction::Connected => "connected",
            AuditAction::ConnectionAdded => "connection-added",
            AuditAction::ConnectionRemoved => "connection-removed",
            AuditAction::RecipientAdded => "recipient-added",
            AuditAction::RecipientRemoved => "recipient-removed",
            AuditAction::Revealed => "revealed",
            AuditAction::Copied => "copied",
            AuditAction::Synced => "synced",
            AuditAction::Verified => "verified",
            AuditAction::Rotated => "rotated",
            AuditAction::RotationFailed => "rotation-failed",
            AuditAction::RotationWaiting => "rotation-waiting",
            AuditAction::Resumed => "resumed",
            AuditAction::ResumeFailed => "resume-failed",
            AuditAction::RolledBack => "rolled-back",
            AuditAction::RollbackFailed => "rollback-failed",
            AuditAction::Revoked => "revoked",
            AuditAction::RevocationFailed => "revocation-failed",
            AuditAction::RevocationWaiting => "revocation-waiting",
            AuditAction::RevocationUnconfirmed => "revocation-unconfirmed",
            AuditAction::DeletedOldKey => "deleted-old-key",
            AuditAction::DeleteOldKeyFailed => "delete-old-key-failed",
            AuditAction::DeleteOldKeyWaiting => "delete-old-key-waiting",
            AuditAction::Archived => "archived",
            AuditAction::Exported => "exported",
            AuditAction::Restored => "restored",
            AuditAction::Removed => "removed",
            AuditAction::Edited => "edited",
        }
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happened, as a caller describes it; [`AuditLog::record`] adds the
/// sequence number, time, actor and chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    action: AuditAction,
    credential: Option<String>,
    detail: String,
}

impl Event {
    /// An event: `action` what happened, `credential` the address it concerns, if any,
    /// and `detail` words for a person. The detail must never hold a secret.
    pub fn new(
        action: AuditAction,
        credential: Option<&CredentialRef>,
        detail: impl Into<String>,
    ) -> Event {
        Event {
            action,
            credential: credential.map(ToString::to_string),
            detail: detail.into(),
        }
    }

    /// What happened.
    pub fn action(&self) -> AuditAction {
        self.action
    }

    /// The credential it concerns, if any.
    pub fn credential(&self) -> Option<&str> {
        self.credential.as_deref()
    }
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// 1 for the first entry, then one more per line.
    pub seq: u64,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// `user@host` of whoever ran keyward.
    pub actor: String,
    /// What happened.
    pub action: String,
    /// `CLIENT/INTEGRATION`, or none for inventory-wide actions.
    pub credential: Option<String>,
    /// Details, never a secret.
    pub detail: String,
    /// The inventory's generation after the newest save this process made, if it made
    /// one: an inventory older than this was rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// Hex SHA-256 of the previous line's bytes, or [`GENESIS`].
    pub prev: String,
    /// Hex SHA-256 of this entry's canonical serialization without `hash`.
    pub hash: String,
}

/// The fields `hash` covers, in their fixed order: the canonical serialization.
#[derive(Serialize)]
struct Body<'a> {
    seq: u64,
    at: &'a DateTime<Utc>,
    actor: &'a str,
    action: &'a str,
    credential: &'a Option<String>,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    generation: Option<u64>,
    prev: &'a str,
}

impl Entry {
    /// The hash this entry's fields call for.
    fn expected_hash(&self) -> String {
        let body = Body {
            seq: self.seq,
            at: &self.at,
            actor: &self.actor,
            action: &self.action,
            credential: &self.credential,
            detail: &self.detail,
            generation: self.generation,
            prev: &self.prev,
        };
        // Serializing plain strings, numbers and a date into a Vec cannot fail.
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        sha256_hex(&bytes)
    }

    /// The line as written, without its newline.
    fn to_line(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The log beside one inventory file.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    /// The log of the inventory at `inventory`: `<inventory>.audit.jsonl`.
    pub fn for_inventory(inventory: &Path) -> AuditLog {
        let mut s = inventory.as_os_str().to_owned();
        s.push(".audit.jsonl");
        AuditLog {
            path: PathBuf::from(s),
        }
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `event`, chained to the last line, under an exclusive lock on the log, and
    /// fsyncs it. Call it after the change it describes was saved.
    pub fn record(&self, event: Event) -> Result<(), AuditError> {
        let io = |e: std::io::Error| self.io(e);
        // Created 0600 whatever the umask, and never through a symbolic link: one planted
        // here would make keyward append to the file it points to.
        let (mut file, created) =
            crate::fsutil::open_in_place(&self.path, crate::fsutil::InPlace::ReadAppend)
                .map_err(io)?;
        file.lock().map_err(io)?;
        let (seq, prev) = match last_line(&mut file).map_err(io)? {
            None => (1, GENESIS.to_string()),
            Some((_, false)) => {
                return Err(self.tail("it is cut off mid-line"));
            }
            Some((bytes, true)) => {
                let last: Entry = serde_json::from_slice(&bytes)
                    .map_err(|e| self.tail(&format!("not an entry: {e}")))?;
                let seq = last
                    .seq
                    .checked_add(1)
                    .ok_or_else(|| self.tail("its sequence number is at the maximum"))?;
                (seq, sha256_hex(&bytes))
            }
        };
        let mut entry = Entry {
            seq,
            at: Utc::now().trunc_subsecs(3),
            actor: actor(),
            action: event.action.to_string(),
            credential: event.credential,
            detail: event.detail,
            generation: saved_generation(&self.path),
            prev,
            hash: String::new(),
        };
        entry.hash = entry.expected_hash();
        let mut line = entry.to_line();
        line.push(b'\n');
        file.write_all(&line).map_err(io)?;
        file.sync_data().map_err(io)?;
        if created {
            // The new file's name must survive a crash too.
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
            }
        }
        Ok(())
    }

    /// Every entry, oldest first; none if there is no log yet. A line that is not an entry
    /// is an error naming it (this does not check the chain: see [`AuditLog::verify`]).
    pub fn read(&self) -> Result<Vec<Entry>, AuditError> {
        let Some(bytes) = self.read_bytes()? else {
            return Ok(Vec::new());
        };
        let mut entries = Vec::new();
        for (i, (line, complete)) in lines(&bytes).enumerate() {
            let entry = parse_line(line, complete).map_err(|why| self.broken(i + 1, why))?;
            entries.push(entry);
        }
        Ok(entries)
    }

    /// Checks the whole chain; returns the number of entries, or the first bad line.
    pub fn verify(&self) -> Result<usize, AuditError> {
        let Some(bytes) = self.read_bytes()? else {
            return Ok(0);
        };
        let mut prev = GENESIS.to_string();
        let mut count = 0usize;
        for (i, (line, complete)) in lines(&bytes).enumerate() {
            let broken = |why: String| self.broken(i + 1, why);
            let entry = parse_line(line, complete).map_err(broken)?;
            if entry.hash != entry.expected_hash() {
                return Err(broken(
                    "its content does not match its hash: the line was edited".into(),
                ));
            }
            if entry.to_line() != line {
                return Err(broken(
                    "not written the way keyward writes entries: the line was edited".into(),
                ));
            }
            let expected = count as u64 + 1;
            if entry.seq != expected {
                return Err(broken(format!(
                    "entry #{} where #{expected} belongs: an entry was deleted, inserted or moved",
                    entry.seq
                )));
            }
            if entry.prev != prev {
                return Err(broken(
                    "does not follow the line before it: that line was changed, or lines were removed, inserted or moved".into(),
                ));
            }
            prev = sha256_hex(line);
            count += 1;
        }
        Ok(count)
    }

    /// The whole file, read under a shared lock so no half-written line is seen; `None`
    /// when there is no log yet.
    fn read_bytes(&self) -> Result<Option<Vec<u8>>, AuditError> {
        let mut file = match crate::fsutil::open_read(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(e)),
        };
        file.lock_shared().map_err(|e| self.io(e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| self.io(e))?;
        Ok(Some(bytes))
    }

    fn io(&self, e: std::io::Error) -> AuditError {
        AuditError::Io {
            path: self.path.clone(),
            detail: io_words(&e),
        }
    }

    fn broken(&self, line: usize, why: String) -> AuditError {
        AuditError::Broken {
            path: self.path.clone(),
            line,
            why,
        }
    }

    fn tail(&self, why: &str) -> AuditError {
        AuditError::Tail {
            path: self.path.clone(),
            why: why.to_string(),
        }
    }
}

/// The generation each inventory was last saved at by this process, by audit log path:
/// the store notes it, and entries recorded afterwards carry it.
static SAVED_GENERATIONS: std::sync::Mutex<Vec<(PathBuf, u64)>> = std::sync::Mutex::new(Vec::new());

/// Notes that the inventory whose log is `log` was just saved at `generation`.
pub fn note_saved_generation(log: &Path, generation: u64) {
    if let Ok(mut all) = SAVED_GENERATIONS.lock() {
        all.retain(|(p, _)| p != log);
        all.push((log.to_path_buf(), generation));
    }
}

fn saved_generation(log: &Path) -> Option<u64> {
    SAVED_GENERATIONS
        .lock()
        .ok()?
        .iter()
        .find(|(p, _)| p == log)
        .map(|(_, g)| *g)
}

/// Where the log stood when the inventory was saved, as the inventory records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// The inventory's generation (saves so far).
    pub generation: u64,
    /// The sequence number of the newest entry then (0: none).
    pub seq: u64,
    /// The SHA-256 of that entry's line.
    pub head: String,
}

/// How the inventory and its log disagree: one of them was rolled back, cut or replaced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Disagreement {
    /// The inventory names log entries, but there is no log.
    #[error("the audit log is missing, but the inventory was saved after its entry #{seq}: the log was deleted")]
    LogMissing {
        /// The newest entry the inventory knows.
        seq: u64,
    },
    /// The log ends before the entry the inventory names.
    #[error("the audit log has {has} entries, but the inventory was saved after entry #{seq}: lines were dropped from the log")]
    LogShorter {
        /// Entries in the log.
        has: u64,
        /// The newest entry the inventory knows.
        seq: u64,
    },
    /// The entry the inventory names is not the one in the log.
    #[error("audit log entry #{seq} is not the one the inventory was saved after: the log was rewritten or re-chained")]
    LogRewritten {
        /// The entry that differs.
        seq: u64,
    },
    /// The log records a save newer than the inventory.
    #[error("the inventory is generation {inventory}, but the audit log records a save of generation {log}: an older copy (a backup?) replaced it; `keyward restore` restores a backup on purpose")]
    InventoryOlder {
        /// The inventory's generation.
        inventory: u64,
        /// The newest generation the log records.
        log: u64,
    },
}

impl AuditLog {
    /// The newest complete entry (its sequence number and line hash), for the inventory to
    /// record at a save; `None` when there is no log or no readable entry.
    pub fn anchor_point(&self) -> Result<Option<(u64, String)>, AuditError> {
        let mut file = match crate::fsutil::open_read(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(e)),
        };
        file.lock_shared().map_err(|e| self.io(e))?;
        if let Some((line, true)) = last_line(&mut file).map_err(|e| self.io(e))? {
            if let Ok(entry) = serde_json::from_slice::<Entry>(&line) {
                return Ok(Some((entry.seq, sha256_hex(&line))));
            }
        }
        drop(file);
        // The last line is cut or damaged: the newest readable entry before it.
        let Some(bytes) = self.read_bytes()? else {
            return Ok(None);
        };
        Ok(lines(&bytes)
            .filter(|(_, complete)| *complete)
            .filter_map(|(line, _)| {
                let entry: Entry = serde_json::from_slice(line).ok()?;
                Some((entry.seq, sha256_hex(line)))
            })
            .last())
    }

    /// The newest inventory generation any entry records (0: none).
    pub fn newest_generation(&self) -> u64 {
        let Ok(Some(bytes)) = self.read_bytes() else {
            return 0;
        };
        lines(&bytes)
            .filter_map(|(line, complete)| parse_line(line, complete).ok()?.generation)
            .max()
            .unwrap_or(0)
    }

    /// Checks the log against what the inventory recorded at its newest save.
    pub fn check_anchor(&self, anchor: &Anchor) -> Result<(), Disagreement> {
        let bytes = match self.read_bytes() {
            Ok(Some(b)) => b,
            Ok(None) if anchor.seq > 0 => return Err(Disagreement::LogMissing { seq: anchor.seq }),
            // An unreadable log is reported by whoever reads or writes it.
            Ok(None) | Err(_) => return Ok(()),
        };
        let mut count = 0u64;
        let mut newest_generation = 0u64;
        let mut anchored = anchor.seq == 0;
        for (line, complete) in lines(&bytes) {
            let Ok(entry) = parse_line(line, complete) else {
                continue;
            };
            count += 1;
            if entry.seq == anchor.seq {
                if sha256_hex(line) != anchor.head {
                    return Err(Disagreement::LogRewritten { seq: anchor.seq });
                }
                anchored = true;
            }
            newest_generation = newest_generation.max(entry.generation.unwrap_or(0));
        }
        if !anchored {
            return Err(Disagreement::LogShorter {
                has: count,
                seq: anchor.seq,
            });
        }
        if newest_generation > anchor.generation {
            return Err(Disagreement::InventoryOlder {
                inventory: anchor.generation,
                log: newest_generation,
            });
        }
        Ok(())
    }
}

/// Checks the chain of the log at `path`: see [`AuditLog::verify`].
pub fn verify(path: &Path) -> Result<usize, AuditError> {
    AuditLog {
        path: path.to_path_buf(),
    }
    .verify()
}

/// The file's lines without their newlines, each with whether it had one.
fn lines(bytes: &[u8]) -> impl Iterator<Item = (&[u8], bool)> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        Some(match rest.iter().position(|b| *b == b'\n') {
            Some(i) => {
                let line = &rest[..i];
                rest = &rest[i + 1..];
                (line, true)
            }
            None => {
                let line = rest;
                rest = &[];
                (line, false)
            }
        })
    })
}

fn parse_line(line: &[u8], complete: bool) -> Result<Entry, String> {
    if !complete {
        return Err(
            "cut off mid-line: the log was truncated or a write was interrupted".to_string(),
        );
    }
    serde_json::from_slice(line).map_err(|e| format!("not an entry ({e}): the line was edited"))
}

/// The last line of `file` and whether it ends with a newline; `None` for an empty file.
/// Reads backwards from the end, so appending stays cheap however long the log grows.
fn last_line(file: &mut File) -> std::io::Result<Option<(Vec<u8>, bool)>> {
    const STEP: u64 = 8192;
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(None);
    }
    let mut start = len;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let step = STEP.min(start);
        start -= step;
        let mut chunk = vec![0u8; step as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&buf);
        buf = chunk;
        let complete = buf.last() == Some(&b'\n');
        let body = if complete {
            &buf[..buf.len() - 1]
        } else {
            &buf[..]
        };
        if let Some(i) = body.iter().rposition(|b| *b == b'\n') {
            return Ok(Some((body[i + 1..].to_vec(), complete)));
        }
        if start == 0 {
            return Ok(Some((body.to_vec(), complete)));
        }
    }
}

/// `user@host`: the OS user from `USER` or `LOGNAME` (else by uid), the host from
/// `/etc/hostname` or the `hostname` command.
pub fn actor() -> String {
    let user = ["USER", "LOGNAME"]
        .iter()
        .filter_map(std::env::var_os)
        .map(|v| v.to_string_lossy().trim().to_string())
        .find(|v| !v.is_empty())
        .unwrap_or_else(user_from_uid);
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::process::Command::new("hostname")
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "unknown-host".into());
    format!("{user}@{host}")
}

/// Services and some cron setups run without `USER`: the name `/etc/passwd` gives this
/// process's uid, or `uid-N`.
fn user_from_uid() -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return "unknown".into();
    };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| format!("uid-{uid}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{Secret, MASK};

    fn at(s: &str) -> CredentialRef {
        s.parse().unwrap()
    }

    /// A log with `n` entries in a temp dir.
    fn log_with(n: usize) -> (tempfile::TempDir, AuditLog) {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::for_inventory(&dir.path().join("inv.yaml.age"));
        for i in 0..n {
            log.record(Event::new(
                AuditAction::Added,
                Some(&at(&format!("acme/k{i}"))),
                format!("entry {i}"),
            ))
            .unwrap();
        }
        (dir, log)
    }

    fn lines_of(log: &AuditLog) -> Vec<String> {
        std::fs::read_to_string(log.path())
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    fn write_lines(log: &AuditLog, lines: &[String]) {
        std::fs::write(log.path(), lines.join("\n") + "\n").unwrap();
    }

    fn broken_line(log: &AuditLog) -> usize {
        match log.verify() {
            Err(AuditError::Broken { line, .. }) => line,
            other => panic!("expected a broken chain, got {other:?}"),
        }
    }

    #[test]
    fn entries_chain_each_to_the_previous_line() {
        let (_dir, log) = log_with(3);
        assert_eq!(
            log.path().file_name().unwrap(),
            "inv.yaml.age.audit.jsonl",
            "the log sits beside the inventory"
        );
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(log.path()).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let entries = log.read().unwrap();
        let raw = lines_of(&log);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].prev, GENESIS);
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(e.seq, i as u64 + 1);
            assert_eq!(e.hash, e.expected_hash());
            assert_eq!(e.credential.as_deref(), Some(&*format!("acme/k{i}")));
            assert!(e.actor.contains('@'), "{}", e.actor);
        }
        for i in 1..3 {
            assert_eq!(entries[i].prev, sha256_hex(raw[i - 1].as_bytes()));
        }
        // Every field is there, `hash` last, as the format promises.
        let v: serde_json::Value = serde_json::from_str(&raw[0]).unwrap();
        for key in [
            "seq",
            "at",
            "actor",
            "action",
            "credential",
            "detail",
            "prev",
            "hash",
        ] {
            assert!(v.get(key).is_some(), "missing {key}: {}", raw[0]);
        }
        assert!(raw[0].ends_with(&format!("\"hash\":\"{}\"}}", entries[0].hash)));
        assert_eq!(log.verify().unwrap(), 3);
        assert_eq!(verify(log.path()).unwrap(), 3);
    }

    #[test]
    fn a_missing_log_is_empty_and_intact() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::for_inventory(&dir.path().join("none.age"));
        assert!(log.read().unwrap().is_empty());
        assert_eq!(log.verify().unwrap(), 0);
    }

    #[test]
    fn an_edited_line_is_named() {
        let (_dir, log) = log_with(4);
        let mut lines = lines_of(&log);
        lines[1] = lines[1].replace("entry 1", "entry X");
        write_lines(&log, &lines);
        assert_eq!(broken_line(&log), 2);
        let msg = log.verify().unwrap_err().to_string();
        assert!(
            msg.contains("line 2: its content does not match its hash"),
            "{msg}"
        );
    }

    #[test]
    fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
        let (_dir, log) = log_with(4);
        let mut lines = lines_of(&log);
        let mut e: Entry = serde_json::from_str(&lines[1]).unwrap();
        e.detail = "nothing to see".into();
        e.hash = e.expected_hash();
        lines[1] = String::from_utf8(e.to_line()).unwrap();
        write_lines(&log, &lines);
        assert_eq!(broken_line(&log), 3);
    }

    #[test]
    fn a_reformatted_line_is_named_even_with_the_same_content() {
        let (_dir, log) = log_with(2);
        let mut lines = lines_of(&log);
        lines[1] = lines[1].replacen("{\"seq\":", "{ \"seq\":", 1);
        write_lines(&log, &lines);
        assert_eq!(broken_line(&log), 2);
    }

    #[test]
    fn a_deleted_line_is_named() {
        for gone in [0, 2, 3] {
            let (_dir, log) = log_with(5);
            let mut lines = lines_of(&log);
            lines.remove(gone);
            write_lines(&log, &lines);
            assert_eq!(broken_line(&log), gone + 1, "deleting line {}", gone + 1);
        }
    }

    #[test]
    fn reordered_lines_are_named() {
        let (_dir, log) = log_with(4);
        let mut lines = lines_of(&log);
        lines.swap(1, 2);
        write_lines(&log, &lines);
        assert_eq!(broken_line(&log), 2);
        let msg = log.verify().unwrap_err().to_string();
        assert!(msg.contains("entry #3 where #2 belongs"), "{msg}");
    }

    #[test]
    fn a_line_cut_off_is_named_and_nothing_is_chained_onto_it() {
        let (_dir, log) = log_with(3);
        let bytes = std::fs::read(log.path()).unwrap();
        std::fs::write(log.path(), &bytes[..bytes.len() - 20]).unwrap();
        assert_eq!(broken_line(&log), 3);
        assert!(log.verify().unwrap_err().to_string().contains("cut off"));
        let refused = log.record(Event::new(AuditAction::Added, None, "after the cut"));
        assert!(
            matches!(refused, Err(AuditError::Tail { .. })),
            "{refused:?}"
        );
        assert_eq!(
            std::fs::read(log.path()).unwrap().len(),
            bytes.len() - 20,
            "nothing appended"
        );
    }

    #[test]
    fn garbage_and_unknown_fields_are_named() {
        let (_dir, log) = log_with(2);
        let mut lines = lines_of(&log);
        lines.insert(1, "not json".into());
        write_lines(&log, &lines);
        assert_eq!(broken_line(&log), 2);
        assert!(matches!(
            log.read(),
            Err(AuditError::Broken { line: 2, .. })
        ));

        let (_dir, log) = log_with(1);
        let mut lines = lines_of(&log);
        lines[0] = lines[0].replacen('{', "{\"extra\":1,", 1);
        write_lines(&log, &lines);
        assert_eq!(broken_line(&log), 1);
    }

    #[test]
    fn long_lines_are_chained_across_read_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::for_inventory(&dir.path().join("inv"));
        let long = "x".repeat(20_000);
        log.record(Event::new(AuditAction::Synced, None, long.clone()))
            .unwrap();
        log.record(Event::new(AuditAction::Synced, None, long))
            .unwrap();
        log.record(Event::new(AuditAction::Synced, None, "short"))
            .unwrap();
        assert_eq!(log.verify().unwrap(), 3);
    }

    #[test]
    fn concurrent_appends_keep_one_unbroken_chain() {
        let (_dir, log) = log_with(0);
        std::thread::scope(|s| {
            for t in 0..4 {
                let log = log.clone();
                s.spawn(move || {
                    for i in 0..10 {
                        log.record(Event::new(
                            AuditAction::Verified,
                            None,
                            format!("thread {t} #{i}"),
                        ))
                        .unwrap();
                    }
                });
            }
        });
        assert_eq!(log.verify().unwrap(), 40);
    }

    #[test]
    fn a_secret_formatted_into_a_detail_is_only_its_mask() {
        let secret = Secret::new("sk-live-0123456789abcdefSECRET");
        assert_eq!(format!("{secret}"), MASK, "Display is a mask");
        let (_dir, log) = log_with(0);
        log.record(Event::new(
            AuditAction::Revealed,
            Some(&at("acme/crm")),
            format!("shown on screen: {secret}"),
        ))
        .unwrap();
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert!(
            !text.contains("SECRET") && !text.contains("sk-live"),
            "{text}"
        );
        assert!(text.contains(MASK), "{text}");
    }
}
