//! The audit log: an append-only, hash-chained record of every action taken on an
//! inventory, kept beside it as `<inventory>.audit.jsonl` (mode 0600), one JSON object a line.
//!
//! **Sealed entries.** The log is as confidential as the inventory: what an entry says
//! (time, actor, action, credential, detail) is encrypted with age to the inventory's
//! recipients (for a passphrase-encrypted inventory, to a log key kept inside it) and
//! written as one base64 payload, `sealed`. In the clear stay only `seq`, `generation`,
//! `prev` and `hash`, which name nothing.
//!
//! **The chain is over what is written.** `prev` is the SHA-256 of the previous line's
//! bytes, ciphertext included, and `hash` the SHA-256 of the line's canonical form without
//! `hash`. So appending needs only the last line, never a decryption; anyone can check the
//! chain, without an identity; and whoever holds an identity also checks that each payload
//! decrypts and names its own line's `seq` (a payload moved elsewhere is caught). Editing,
//! deleting, reordering or cutting a line breaks the chain at that line, and
//! [`AuditLog::verify`] names it. A chain alone cannot show that the newest lines were not
//! dropped whole or the whole file re-chained: the inventory's anchor ([`Anchor`]) and
//! each person's [`mark`] cover that.
//!
//! **Recipients change; entries keep theirs.** Each entry is sealed to the recipients of the
//! moment it is written. A recipient added later cannot read the entries from before (they
//! are listed as sealed to others, and their chain still checks); one removed can still read
//! the entries from before, as they can the backups of that time.
//!
//! **Logs from before sealing.** Entries written in the clear by earlier versions stay as
//! they are (rewriting them would break the chain every anchor and mark points into):
//! they are read and verified as before, and new entries are sealed and chained onto them.
//!
//! A secret cannot be put in an entry by construction: an [`Event`] holds an
//! [`AuditAction`], a credential's address and a plain `String` detail. No field takes a
//! [`Secret`](crate::secret::Secret), and a `Secret` formats as a mask, so even
//! `format!("{secret}")` yields `••••••••`. Callers pass no secret in the detail.

pub mod mark;
mod sealed;
pub mod shared;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::inventory::CredentialRef;
use crate::store::keys::io_words;
use crate::store::Location;
use sealed::{Unsealed, Words};
pub use shared::SharedEntries;

/// How many sequence numbers a writer tries before giving up, when each one it chose was
/// taken by another writer of a shared log meanwhile: a storm of writers is bounded.
pub const ENTRY_ATTEMPTS: u32 = 16;

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
    /// The entry could not be sealed: the inventory was not opened in this process, or its
    /// recipients cannot be encrypted to. Nothing is written in the clear instead.
    #[error("audit log {}: cannot seal the entry ({why}); nothing was logged", .path.display())]
    Unsealable {
        /// The log's path.
        path: PathBuf,
        /// What is missing or wrong.
        why: String,
    },
    /// The storage shared with other writers could not be read or written.
    #[error("audit log {location}: cannot reach the storage: {detail}; check the network, the endpoint (AWS_ENDPOINT_URL) and the credentials, then try again")]
    Unreachable {
        /// Where the shared entries are.
        location: String,
        /// What failed.
        detail: String,
    },
    /// Other writers took every sequence number this writer tried.
    #[error("audit log {location}: other writers took each of the {attempts} entry numbers tried; nothing was logged: try again")]
    Contended {
        /// Where the shared entries are.
        location: String,
        /// How many numbers were tried.
        attempts: u32,
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
    /// A key found at a provider (`discover`) was recorded without its secret.
    Adopted,
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
    /// A change of recipients someone else made was accepted by this person.
    RecipientsAccepted,
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
    /// A credential's current secret was delivered to its deploy targets again.
    Deployed,
    /// Delivering a current secret to its deploy targets again failed.
    DeployFailed,
}

impl AuditAction {
    /// The word written in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Created => "created",
            AuditAction::Added => "added",
            AuditAction::Imported => "imported",
            AuditAction::Adopted => "adopted",
            AuditAction::Connected => "connected",
            AuditAction::ConnectionAdded => "connection-added",
            AuditAction::ConnectionRemoved => "connection-removed",
            AuditAction::RecipientAdded => "recipient-added",
            AuditAction::RecipientRemoved => "recipient-removed",
            AuditAction::RecipientsAccepted => "recipients-accepted",
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
            AuditAction::Deployed => "deployed",
            AuditAction::DeployFailed => "deploy-failed",
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

/// One entry as a person reads it: a line written in the clear by an earlier version, or a
/// sealed line opened with an identity.
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
    /// Hex SHA-256 of the line's canonical serialization without `hash`.
    pub hash: String,
}

/// The fields a clear line's `hash` covers, in their fixed order.
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
    /// The hash this clear entry's fields call for.
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
        sha256_hex(&serde_json::to_vec(&body).unwrap_or_default())
    }
}

/// A line as written by this version: the chain's bookkeeping in the clear, the rest sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedLine {
    seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    generation: Option<u64>,
    prev: String,
    /// The entry's words, age-encrypted to the recipients of the moment, base64.
    sealed: String,
    hash: String,
}

/// The fields a sealed line's `hash` covers, in their fixed order.
#[derive(Serialize)]
struct SealedBody<'a> {
    seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    generation: Option<u64>,
    prev: &'a str,
    sealed: &'a str,
}

impl SealedLine {
    fn expected_hash(&self) -> String {
        let body = SealedBody {
            seq: self.seq,
            generation: self.generation,
            prev: &self.prev,
            sealed: &self.sealed,
        };
        sha256_hex(&serde_json::to_vec(&body).unwrap_or_default())
    }
}

/// One line of the log, of either kind.
#[derive(Debug, Clone)]
enum Line {
    /// Written in the clear, before entries were sealed.
    Clear(Entry),
    /// Sealed to the recipients of its time.
    Sealed(SealedLine),
}

impl Line {
    fn seq(&self) -> u64 {
        match self {
            Line::Clear(e) => e.seq,
            Line::Sealed(s) => s.seq,
        }
    }

    fn generation(&self) -> Option<u64> {
        match self {
            Line::Clear(e) => e.generation,
            Line::Sealed(s) => s.generation,
        }
    }

    fn prev(&self) -> &str {
        match self {
            Line::Clear(e) => &e.prev,
            Line::Sealed(s) => &s.prev,
        }
    }

    fn hash_matches(&self) -> bool {
        match self {
            Line::Clear(e) => e.hash == e.expected_hash(),
            Line::Sealed(s) => s.hash == s.expected_hash(),
        }
    }

    /// The line as keyward writes it, without its newline.
    fn to_bytes(&self) -> Vec<u8> {
        match self {
            Line::Clear(e) => serde_json::to_vec(e),
            Line::Sealed(s) => serde_json::to_vec(s),
        }
        .unwrap_or_default()
    }

    /// The entry it records, opened with `identities` if sealed. A sealed payload that
    /// names another line's `seq` was moved: damaged.
    fn open(self, identities: &[&dyn age::Identity]) -> Result<Entry, Unsealed> {
        let s = match self {
            Line::Clear(e) => return Ok(e),
            Line::Sealed(s) => s,
        };
        let words = sealed::open(&s.sealed, identities)?;
        if words.seq != s.seq {
            return Err(Unsealed::Damaged(format!(
                "its sealed payload belongs to entry #{}: it was moved here",
                words.seq
            )));
        }
        Ok(Entry {
            seq: s.seq,
            at: words.at,
            actor: words.actor,
            action: words.action,
            credential: words.credential,
            detail: words.detail,
            generation: s.generation,
            prev: s.prev,
            hash: s.hash,
        })
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The entries a person can read, and the sequence numbers of those sealed to others.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// The entries opened (or written in the clear), oldest first.
    pub entries: Vec<Entry>,
    /// Entries sealed to recipients none of the identities given is: written before this
    /// person was a recipient.
    pub sealed_to_others: Vec<u64>,
}

/// What [`AuditLog::verify`] found in an intact log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checked {
    /// Entries in the log.
    pub entries: usize,
    /// Of which sealed to recipients none of the identities given is: their chain was
    /// checked, their content could not be.
    pub sealed_to_others: usize,
    /// Of which written in the clear by a version from before entries were sealed.
    pub clear: usize,
}

/// The log of one inventory: a file beside a local inventory, or entries shared in the
/// bucket beside an inventory kept there, mirrored into the same kind of file ([`shared`]).
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
    /// The entries shared with other writers, for an inventory in a bucket.
    shared: Option<std::sync::Arc<dyn SharedEntries>>,
}

impl AuditLog {
    /// The log of the inventory at `inventory`: `<home>.audit.jsonl` beside its local home,
    /// and for an inventory in a bucket the entries stored beside the object.
    pub fn for_inventory(inventory: impl Into<Location>) -> AuditLog {
        let location = inventory.into();
        let mut s = location.home().as_os_str().to_owned();
        s.push(".audit.jsonl");
        AuditLog {
            path: PathBuf::from(s),
            shared: crate::store::s3::shared_entries(&location),
        }
    }

    /// The log mirrored at `mirror` from the entries in `shared` (tests of the logic).
    #[cfg(test)]
    fn mirroring(mirror: PathBuf, shared: std::sync::Arc<dyn SharedEntries>) -> AuditLog {
        AuditLog {
            path: mirror,
            shared: Some(shared),
        }
    }

    /// Where the log is, for messages: the shared entries' location, or the file.
    pub fn location(&self) -> String {
        match &self.shared {
            Some(shared) => shared.location(),
            None => self.path.display().to_string(),
        }
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `event`, sealed to the recipients the store noted when it opened or saved
    /// the inventory ([`note_recipients`]) and chained to the last line, under an exclusive
    /// lock on the log, and fsyncs it. Only the last line is read. Call it after the
    /// change it describes was saved.
    pub fn record(&self, event: Event) -> Result<(), AuditError> {
        let known = known(&self.path);
        let Some(recipients) = known.recipients.clone().filter(|r| !r.is_empty()) else {
            return Err(AuditError::Unsealable {
                path: self.path.clone(),
                why: "no recipient to seal it to: the inventory was not opened first, or \
                      its recipients changed and the change is not accepted yet"
                    .into(),
            });
        };
        let io = |e: std::io::Error| self.io(e);
        let mut attempt = 0;
        let (file, seq, head) = loop {
            attempt += 1;
            // Created 0600 whatever the umask, and never through a symbolic link: one planted
            // here would make keyward append to the file it points to.
            let (mut file, created) =
                crate::fsutil::open_in_place(&self.path, crate::fsutil::InPlace::ReadAppend)
                    .map_err(io)?;
            file.lock().map_err(io)?;
            self.sync_locked(&mut file)?;
            let (seq, prev) = self.next_link(&mut file)?;
            let mut bytes = self.sealed_line(seq, prev, event.clone(), &known, &recipients)?;
            let head = sha256_hex(&bytes);
            let created_as = match &self.shared {
                None => None,
                Some(shared) => match shared.create(seq, &bytes) {
                    Ok(Some(version)) => Some(version),
                    // Another writer took this number since the mirror was brought up to
                    // date: chain onto theirs.
                    Ok(None) if attempt < ENTRY_ATTEMPTS => continue,
                    Ok(None) => {
                        return Err(AuditError::Contended {
                            location: shared.location(),
                            attempts: attempt,
                        })
                    }
                    Err(detail) => return Err(self.unreachable(detail)),
                },
            };
            bytes.push(b'\n');
            file.write_all(&bytes).map_err(io)?;
            file.sync_data().map_err(io)?;
            if created {
                // The new file's name must survive a crash too.
                if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
                }
            }
            if let Some(version) = created_as {
                shared::note_created(&self.path, seq, &version).map_err(|detail| {
                    AuditError::Io {
                        path: self.path.clone(),
                        detail,
                    }
                })?;
            }
            break (file, seq, head);
        };
        drop(file);
        // This person has now seen this entry: dropping it later is noticed. A mark that
        // disagreed with the log when the inventory was opened is left as it is, so that
        // writing more entries never makes a cut log look whole.
        if known.mark_agrees {
            let generation = known.generation.unwrap_or(0);
            if let Err(e) = mark::advance(&self.path, Some((seq, &head)), generation) {
                tracing::warn!(error = %e, "the audit log seen could not be recorded");
            }
        }
        Ok(())
    }

    /// The sequence number and `prev` of the entry that follows the last line of `file`.
    fn next_link(&self, file: &mut File) -> Result<(u64, String), AuditError> {
        match last_line(file).map_err(|e| self.io(e))? {
            None => Ok((1, GENESIS.to_string())),
            Some((_, false)) => Err(self.tail("it is cut off mid-line")),
            Some((bytes, true)) => {
                let last = parse_line(&bytes, true).map_err(|why| self.tail(&why))?;
                let seq = last
                    .seq()
                    .checked_add(1)
                    .ok_or_else(|| self.tail("its sequence number is at the maximum"))?;
                Ok((seq, sha256_hex(&bytes)))
            }
        }
    }

    /// The line recording `event` as entry `seq` after `prev`, sealed to `recipients`,
    /// without its newline.
    fn sealed_line(
        &self,
        seq: u64,
        prev: String,
        event: Event,
        known: &Known,
        recipients: &[String],
    ) -> Result<Vec<u8>, AuditError> {
        let words = Words {
            seq,
            at: Utc::now().trunc_subsecs(3),
            actor: actor(),
            action: event.action.to_string(),
            credential: event.credential,
            detail: event.detail,
        };
        let sealed = sealed::seal(&words, recipients).map_err(|why| AuditError::Unsealable {
            path: self.path.clone(),
            why,
        })?;
        let mut line = SealedLine {
            seq,
            generation: known.generation,
            prev,
            sealed,
            hash: String::new(),
        };
        line.hash = line.expected_hash();
        Ok(Line::Sealed(line).to_bytes())
    }

    /// Brings the mirror of a shared log, open and locked as `file`, up to date.
    fn sync_locked(&self, file: &mut File) -> Result<(), AuditError> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        shared::sync(file, &self.path, &**shared).map_err(|e| match e {
            shared::SyncError::Remote(detail) => self.unreachable(detail),
            shared::SyncError::Local(detail) => AuditError::Io {
                path: self.path.clone(),
                detail,
            },
        })
    }

    /// Brings the mirror of a shared log up to date before it is read. When the storage
    /// cannot be reached the mirror is read as it is (what this machine last saw), and a
    /// warning says so: readers work offline, writers cannot.
    fn refresh(&self) -> Result<(), AuditError> {
        if self.shared.is_none() {
            return Ok(());
        }
        let (mut file, _) =
            crate::fsutil::open_in_place(&self.path, crate::fsutil::InPlace::ReadAppend)
                .map_err(|e| self.io(e))?;
        file.lock().map_err(|e| self.io(e))?;
        match self.sync_locked(&mut file) {
            Err(AuditError::Unreachable { location, detail }) => {
                tracing::warn!(%location, %detail, "audit log unreachable; reading this machine's copy");
                Ok(())
            }
            other => other,
        }
    }

    fn unreachable(&self, detail: String) -> AuditError {
        AuditError::Unreachable {
            location: self.location(),
            detail,
        }
    }

    /// Every entry `identities` can read, oldest first, and those sealed to others; none
    /// if there is no log yet. A line that is not an entry, or a sealed payload that does
    /// not decrypt with an identity it names, is an error naming it (this does not check
    /// the chain: see [`AuditLog::verify`]).
    pub fn read(&self, identities: &[&dyn age::Identity]) -> Result<Listing, AuditError> {
        let mut listing = Listing::default();
        let Some(bytes) = self.read_bytes()? else {
            return Ok(listing);
        };
        for (i, (line, complete)) in lines(&bytes).enumerate() {
            let line = parse_line(line, complete).map_err(|why| self.broken(i + 1, why))?;
            let seq = line.seq();
            match line.open(identities) {
                Ok(entry) => listing.entries.push(entry),
                Err(Unsealed::NotForUs) => listing.sealed_to_others.push(seq),
                Err(Unsealed::Damaged(why)) => return Err(self.broken(i + 1, why)),
            }
        }
        Ok(listing)
    }

    /// Checks the whole chain, and opens each sealed payload `identities` can open to
    /// check it belongs where it is; returns what was found, or the first bad line.
    pub fn verify(&self, identities: &[&dyn age::Identity]) -> Result<Checked, AuditError> {
        let mut checked = Checked::default();
        let Some(bytes) = self.read_bytes()? else {
            return Ok(checked);
        };
        let mut prev = GENESIS.to_string();
        for (i, (raw, complete)) in lines(&bytes).enumerate() {
            let broken = |why: String| self.broken(i + 1, why);
            let line = parse_line(raw, complete).map_err(broken)?;
            if !line.hash_matches() {
                return Err(broken(
                    "its content does not match its hash: the line was edited".into(),
                ));
            }
            if line.to_bytes() != raw {
                return Err(broken(
                    "not written the way keyward writes entries: the line was edited".into(),
                ));
            }
            let expected = checked.entries as u64 + 1;
            if line.seq() != expected {
                return Err(broken(format!(
                    "entry #{} where #{expected} belongs: an entry was deleted, inserted or moved",
                    line.seq()
                )));
            }
            if line.prev() != prev {
                return Err(broken(
                    "does not follow the line before it: that line was changed, or lines were removed, inserted or moved".into(),
                ));
            }
            if matches!(line, Line::Clear(_)) {
                checked.clear += 1;
            }
            match line.open(identities) {
                Ok(_) => {}
                Err(Unsealed::NotForUs) => checked.sealed_to_others += 1,
                Err(Unsealed::Damaged(why)) => return Err(broken(why)),
            }
            prev = sha256_hex(raw);
            checked.entries += 1;
        }
        Ok(checked)
    }

    /// Every line of the log as written, without newlines (none when there is no log): what
    /// a migration copies. A line cut off mid-way is refused: `audit --verify` names it.
    pub fn lines(&self) -> Result<Vec<Vec<u8>>, AuditError> {
        let Some(bytes) = self.read_bytes()? else {
            return Ok(Vec::new());
        };
        lines(&bytes)
            .enumerate()
            .map(|(i, (line, complete))| match complete {
                true => Ok(line.to_vec()),
                false => Err(self.broken(i + 1, "cut off mid-line".into())),
            })
            .collect()
    }

    /// Writes `lines` (another log's, as [`AuditLog::lines`] gives them) as this log, which
    /// must be empty: byte for byte, so the chain and every anchor into it still hold.
    pub fn import_lines(&self, lines: &[Vec<u8>]) -> Result<(), AuditError> {
        let io = |e: std::io::Error| self.io(e);
        let (mut file, _) =
            crate::fsutil::open_in_place(&self.path, crate::fsutil::InPlace::ReadAppend)
                .map_err(io)?;
        file.lock().map_err(io)?;
        self.sync_locked(&mut file)?;
        if file.metadata().map_err(io)?.len() > 0 {
            return Err(AuditError::Io {
                path: self.path.clone(),
                detail: "holds entries already; keyward will not mix two logs".into(),
            });
        }
        let mut versions = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if let Some(shared) = &self.shared {
                let seq = parse_line(line, true)
                    .map_err(|why| self.broken(i + 1, why))?
                    .seq();
                match shared.create(seq, line) {
                    Ok(Some(version)) => versions.push((seq, version)),
                    Ok(None) => {
                        return Err(AuditError::Io {
                            path: PathBuf::from(shared.location()),
                            detail: format!("entry #{seq} exists already; nothing more was copied"),
                        })
                    }
                    Err(detail) => return Err(self.unreachable(detail)),
                }
            }
            file.write_all(line).map_err(io)?;
            file.write_all(b"\n").map_err(io)?;
        }
        file.sync_data().map_err(io)?;
        if self.shared.is_some() {
            shared::write_versions(&shared::versions_path(&self.path), &versions).map_err(
                |detail| AuditError::Io {
                    path: self.path.clone(),
                    detail,
                },
            )?;
        }
        Ok(())
    }

    /// The whole file, read under a shared lock so no half-written line is seen; `None`
    /// when there is no log yet.
    fn read_bytes(&self) -> Result<Option<Vec<u8>>, AuditError> {
        self.refresh()?;
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

    /// The log as its errors name it: the shared entries' location, or the file.
    fn named(&self) -> PathBuf {
        PathBuf::from(self.location())
    }

    fn broken(&self, line: usize, why: String) -> AuditError {
        AuditError::Broken {
            path: self.named(),
            line,
            why,
        }
    }

    fn tail(&self, why: &str) -> AuditError {
        AuditError::Tail {
            path: self.named(),
            why: why.to_string(),
        }
    }
}

/// What this process knows about one log from the store that opened its inventory.
#[derive(Debug, Clone, Default)]
struct Known {
    /// The generation the inventory was last saved at by this process.
    generation: Option<u64>,
    /// Whom new entries are sealed to.
    recipients: Option<Vec<String>>,
    /// Whether the log agreed with this person's mark when the inventory was opened:
    /// only then do new entries move the mark.
    mark_agrees: bool,
}

/// What each log's inventory told this process, by log path.
static KNOWN: std::sync::Mutex<Vec<(PathBuf, Known)>> = std::sync::Mutex::new(Vec::new());

fn known(log: &Path) -> Known {
    KNOWN
        .lock()
        .ok()
        .and_then(|all| all.iter().find(|(p, _)| p == log).map(|(_, k)| k.clone()))
        .unwrap_or_default()
}

fn learn(log: &Path, change: impl FnOnce(&mut Known)) {
    if let Ok(mut all) = KNOWN.lock() {
        match all.iter_mut().find(|(p, _)| p == log) {
            Some((_, k)) => change(k),
            None => {
                let mut k = Known::default();
                change(&mut k);
                all.push((log.to_path_buf(), k));
            }
        }
    }
}

/// Notes that the inventory whose log is `log` was just saved at `generation`: entries
/// recorded afterwards carry it.
pub fn note_saved_generation(log: &Path, generation: u64) {
    learn(log, |k| k.generation = Some(generation));
}

/// Notes whom the entries of `log` are sealed to from now on: the inventory's recipients
/// as opened or saved (or its log key's, for a passphrase-encrypted inventory).
pub fn note_recipients(log: &Path, recipients: Vec<String>) {
    learn(log, |k| k.recipients = Some(recipients));
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

/// How the inventory and its log disagree, with each other or with what this person saw:
/// one of them was rolled back, cut or replaced.
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
    /// The log ends before the newest entry this person saw.
    #[error("the audit log has {has} entries, but you saw entry #{seen} here: the newest entries were dropped, or the log was put back with an older inventory")]
    SeenEntryGone {
        /// Entries in the log.
        has: u64,
        /// The newest entry this person saw.
        seen: u64,
    },
    /// The newest entry this person saw is not the one in the log.
    #[error(
        "audit log entry #{seq} is not the one you saw here: the log was rewritten or re-chained"
    )]
    SeenEntryChanged {
        /// The entry that differs.
        seq: u64,
    },
    /// The inventory is older than the newest generation this person saw.
    #[error("the inventory is generation {inventory}, but you saw generation {seen} here: an older copy replaced it, with its log; `keyward restore` restores a backup on purpose")]
    OlderThanSeen {
        /// The inventory's generation.
        inventory: u64,
        /// The newest generation this person saw.
        seen: u64,
    },
    /// This person's record of the log they saw is unusable.
    #[error("{0}")]
    Mark(String),
}

impl AuditLog {
    /// The newest complete entry (its sequence number and line hash), for the inventory to
    /// record at a save; `None` when there is no log or no readable entry.
    pub fn anchor_point(&self) -> Result<Option<(u64, String)>, AuditError> {
        self.refresh()?;
        let mut file = match crate::fsutil::open_read(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(e)),
        };
        file.lock_shared().map_err(|e| self.io(e))?;
        if let Some((line, true)) = last_line(&mut file).map_err(|e| self.io(e))? {
            if let Ok(entry) = parse_line(&line, true) {
                return Ok(Some((entry.seq(), sha256_hex(&line))));
            }
        }
        drop(file);
        // The last line is cut or damaged: the newest readable entry before it.
        let Some(bytes) = self.read_bytes()? else {
            return Ok(None);
        };
        Ok(lines(&bytes)
            .filter(|(_, complete)| *complete)
            .filter_map(|(line, _)| Some((parse_line(line, true).ok()?.seq(), sha256_hex(line))))
            .last())
    }

    /// The newest inventory generation any entry records (0: none).
    pub fn newest_generation(&self) -> u64 {
        let Ok(Some(bytes)) = self.read_bytes() else {
            return 0;
        };
        lines(&bytes)
            .filter_map(|(line, complete)| parse_line(line, complete).ok()?.generation())
            .max()
            .unwrap_or(0)
    }

    /// Checks the log against what the inventory recorded at its newest save, and against
    /// the newest entry and generation this person saw ([`mark`]). When all agree, the mark
    /// moves forward to what is there now, and entries this process records move it on.
    pub fn check_anchor(&self, anchor: &Anchor) -> Result<(), Disagreement> {
        learn(&self.path, |k| k.mark_agrees = false);
        let seen = mark::load(&self.path).map_err(Disagreement::Mark)?;
        let bytes = match self.read_bytes() {
            Ok(Some(b)) => b,
            Ok(None) if anchor.seq > 0 => return Err(Disagreement::LogMissing { seq: anchor.seq }),
            Ok(None) => match &seen {
                Some(m) if m.seq > 0 => {
                    return Err(Disagreement::SeenEntryGone {
                        has: 0,
                        seen: m.seq,
                    })
                }
                _ => Vec::new(),
            },
            // An unreadable log is reported by whoever reads or writes it.
            Err(_) => return Ok(()),
        };
        let mut count = 0u64;
        let mut newest_generation = 0u64;
        let mut anchored = anchor.seq == 0;
        let mut saw_seen = seen.as_ref().is_none_or(|m| m.seq == 0);
        let mut tail: Option<(u64, String)> = None;
        for (raw, complete) in lines(&bytes) {
            let Ok(line) = parse_line(raw, complete) else {
                continue;
            };
            count += 1;
            let hash = sha256_hex(raw);
            if line.seq() == anchor.seq {
                if hash != anchor.head {
                    return Err(Disagreement::LogRewritten { seq: anchor.seq });
                }
                anchored = true;
            }
            if let Some(m) = seen.as_ref().filter(|m| m.seq == line.seq()) {
                if hash != m.head {
                    return Err(Disagreement::SeenEntryChanged { seq: m.seq });
                }
                saw_seen = true;
            }
            newest_generation = newest_generation.max(line.generation().unwrap_or(0));
            tail = Some((line.seq(), hash));
        }
        if !anchored {
            return Err(Disagreement::LogShorter {
                has: count,
                seq: anchor.seq,
            });
        }
        if let (false, Some(m)) = (saw_seen, &seen) {
            return Err(Disagreement::SeenEntryGone {
                has: count,
                seen: m.seq,
            });
        }
        if newest_generation > anchor.generation {
            return Err(Disagreement::InventoryOlder {
                inventory: anchor.generation,
                log: newest_generation,
            });
        }
        if let Some(m) = seen.as_ref().filter(|m| m.generation > anchor.generation) {
            return Err(Disagreement::OlderThanSeen {
                inventory: anchor.generation,
                seen: m.generation,
            });
        }
        learn(&self.path, |k| k.mark_agrees = true);
        let tail = tail.as_ref().map(|(seq, head)| (*seq, head.as_str()));
        if let Err(e) = mark::advance(&self.path, tail, anchor.generation) {
            tracing::warn!(error = %e, "the audit log seen could not be recorded");
        }
        Ok(())
    }

    /// Forgets this person's mark, after a restore on purpose made the log's history what
    /// it is now; the next entry recorded marks it again.
    pub fn forget_mark(&self) -> Result<(), String> {
        mark::forget(&self.path)?;
        learn(&self.path, |k| k.mark_agrees = true);
        Ok(())
    }

    /// The newest generation this person saw for this log's inventory (0: none), for a
    /// restore to go past it.
    pub fn seen_generation(&self) -> u64 {
        mark::load(&self.path)
            .ok()
            .flatten()
            .map_or(0, |m| m.generation)
    }
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

/// A line of either kind: sealed (this version) or clear (earlier ones).
fn parse_line(line: &[u8], complete: bool) -> Result<Line, String> {
    if !complete {
        return Err(
            "cut off mid-line: the log was truncated or a write was interrupted".to_string(),
        );
    }
    if let Ok(sealed) = serde_json::from_slice::<SealedLine>(line) {
        return Ok(Line::Sealed(sealed));
    }
    serde_json::from_slice::<Entry>(line)
        .map(Line::Clear)
        .map_err(|e| format!("not an entry ({e}): the line was edited"))
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

    /// A log in a temp dir whose entries are sealed to a fresh key, with that key.
    struct Fixture {
        _dir: tempfile::TempDir,
        log: AuditLog,
        key: age::x25519::Identity,
    }

    impl Fixture {
        fn ids(&self) -> Vec<&dyn age::Identity> {
            vec![&self.key]
        }

        fn verify(&self) -> Result<Checked, AuditError> {
            self.log.verify(&self.ids())
        }

        fn entries(&self) -> Vec<Entry> {
            self.log.read(&self.ids()).unwrap().entries
        }

        fn broken_line(&self) -> usize {
            match self.verify() {
                Err(AuditError::Broken { line, .. }) => line,
                other => panic!("expected a broken chain, got {other:?}"),
            }
        }

        fn lines(&self) -> Vec<String> {
            std::fs::read_to_string(self.log.path())
                .unwrap()
                .lines()
                .map(String::from)
                .collect()
        }

        fn write_lines(&self, lines: &[String]) {
            std::fs::write(self.log.path(), lines.join("\n") + "\n").unwrap();
        }
    }

    /// A log with `n` entries, sealed to a key of its own.
    fn log_with(n: usize) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::for_inventory(&dir.path().join("inv.yaml.age"));
        let key = age::x25519::Identity::generate();
        note_recipients(log.path(), vec![key.to_public().to_string()]);
        for i in 0..n {
            log.record(Event::new(
                AuditAction::Added,
                Some(&at(&format!("acme/k{i}"))),
                format!("entry {i}"),
            ))
            .unwrap();
        }
        Fixture {
            _dir: dir,
            log,
            key,
        }
    }

    /// A clear entry as versions before sealing wrote it, chained onto `prev`.
    fn clear_line(seq: u64, prev: &str) -> String {
        let mut e = Entry {
            seq,
            at: "2026-01-02T03:04:05.678Z".parse().unwrap(),
            actor: "old@host".into(),
            action: "added".into(),
            credential: Some(format!("legacy/k{seq}")),
            detail: "written in the clear".into(),
            generation: None,
            prev: prev.into(),
            hash: String::new(),
        };
        e.hash = e.expected_hash();
        String::from_utf8(serde_json::to_vec(&e).unwrap()).unwrap()
    }

    #[test]
    fn entries_are_sealed_and_chain_each_to_the_previous_line() {
        let f = log_with(3);
        assert_eq!(
            f.log.path().file_name().unwrap(),
            "inv.yaml.age.audit.jsonl",
            "the log sits beside the inventory"
        );
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(f.log.path()).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let raw = f.lines();
        let text = raw.join("\n");
        // Quoted, or outside base64's alphabet: a bare `k0` turns up in random base64 by
        // chance (this test failed that way once).
        for word in ["acme/", "\"k0", "\"added\"", "\"actor\"", "@"] {
            assert!(!text.contains(word), "`{word}` readable in the log: {text}");
        }
        let entries = f.entries();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].prev, GENESIS);
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(e.seq, i as u64 + 1);
            assert_eq!(e.credential.as_deref(), Some(&*format!("acme/k{i}")));
            assert_eq!(e.action, "added");
            assert!(e.actor.contains('@'), "{}", e.actor);
        }
        for i in 1..3 {
            assert_eq!(entries[i].prev, sha256_hex(raw[i - 1].as_bytes()));
        }
        // Only the chain's bookkeeping is in the clear, `hash` last.
        let v: serde_json::Value = serde_json::from_str(&raw[0]).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 4, "{keys:?}");
        for key in ["seq", "prev", "sealed", "hash"] {
            assert!(v.get(key).is_some(), "missing {key}: {}", raw[0]);
        }
        assert!(raw[0].ends_with(&format!("\"hash\":\"{}\"}}", entries[0].hash)));
        assert_eq!(
            f.verify().unwrap(),
            Checked {
                entries: 3,
                sealed_to_others: 0,
                clear: 0
            }
        );
    }

    #[test]
    fn the_chain_checks_without_an_identity_and_the_words_need_one() {
        let f = log_with(2);
        assert_eq!(
            f.log.verify(&[]).unwrap(),
            Checked {
                entries: 2,
                sealed_to_others: 2,
                clear: 0
            }
        );
        let stranger = age::x25519::Identity::generate();
        let listing = f.log.read(&[&stranger]).unwrap();
        assert!(listing.entries.is_empty());
        assert_eq!(listing.sealed_to_others, vec![1, 2]);
    }

    #[test]
    fn entries_keep_the_recipients_of_their_time() {
        let f = log_with(1);
        let newcomer = age::x25519::Identity::generate();
        note_recipients(
            f.log.path(),
            vec![
                f.key.to_public().to_string(),
                newcomer.to_public().to_string(),
            ],
        );
        f.log
            .record(Event::new(AuditAction::RecipientAdded, None, "newcomer"))
            .unwrap();
        let seen = f.log.read(&[&newcomer]).unwrap();
        assert_eq!(seen.sealed_to_others, vec![1]);
        assert_eq!(seen.entries.len(), 1);
        assert_eq!(seen.entries[0].action, "recipient-added");
        assert_eq!(f.entries().len(), 2, "the older key reads both");
        assert_eq!(f.log.verify(&[&newcomer]).unwrap().sealed_to_others, 1);
    }

    #[test]
    fn nothing_is_written_when_no_recipient_is_known() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::for_inventory(&dir.path().join("never-opened.age"));
        let refused = log.record(Event::new(AuditAction::Added, None, "x"));
        assert!(
            matches!(refused, Err(AuditError::Unsealable { .. })),
            "{refused:?}"
        );
        assert!(!log.path().exists(), "nothing written in the clear instead");
    }

    #[test]
    fn a_clear_log_from_before_sealing_verifies_and_gets_sealed_entries_appended() {
        let f = log_with(0);
        let first = clear_line(1, GENESIS);
        let second = clear_line(2, &sha256_hex(first.as_bytes()));
        f.write_lines(&[first, second]);
        assert_eq!(
            f.verify().unwrap(),
            Checked {
                entries: 2,
                sealed_to_others: 0,
                clear: 2
            }
        );
        f.log
            .record(Event::new(
                AuditAction::Synced,
                Some(&at("acme/new")),
                "sealed",
            ))
            .unwrap();
        let checked = f.verify().unwrap();
        assert_eq!((checked.entries, checked.clear), (3, 2));
        let entries = f.entries();
        assert_eq!(entries[0].credential.as_deref(), Some("legacy/k1"));
        assert_eq!(entries[2].credential.as_deref(), Some("acme/new"));
        assert!(f.lines()[2].contains("\"sealed\""));
        assert!(!f.lines()[2].contains("acme/new"));
    }

    #[test]
    fn a_missing_log_is_empty_and_intact() {
        let f = log_with(0);
        assert!(f.entries().is_empty());
        assert_eq!(f.verify().unwrap(), Checked::default());
    }

    #[test]
    fn an_edited_line_is_named() {
        let f = log_with(4);
        let mut lines = f.lines();
        lines[1] = lines[1].replacen("\"sealed\":\"", "\"sealed\":\"AAAA", 1);
        f.write_lines(&lines);
        assert_eq!(f.broken_line(), 2);
        let msg = f.verify().unwrap_err().to_string();
        assert!(
            msg.contains("line 2: its content does not match its hash"),
            "{msg}"
        );
    }

    #[test]
    fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
        let f = log_with(4);
        let mut lines = f.lines();
        let mut s: SealedLine = serde_json::from_str(&lines[1]).unwrap();
        s.generation = Some(99);
        s.hash = s.expected_hash();
        lines[1] = String::from_utf8(Line::Sealed(s).to_bytes()).unwrap();
        f.write_lines(&lines);
        assert_eq!(f.broken_line(), 3);
    }

    #[test]
    fn a_payload_moved_to_another_line_is_named() {
        let f = log_with(3);
        let mut lines = f.lines();
        let mut second: SealedLine = serde_json::from_str(&lines[1]).unwrap();
        let third: SealedLine = serde_json::from_str(&lines[2]).unwrap();
        second.sealed = third.sealed;
        second.hash = second.expected_hash();
        lines[1] = String::from_utf8(Line::Sealed(second).to_bytes()).unwrap();
        lines.truncate(2);
        f.write_lines(&lines);
        let msg = f.verify().unwrap_err().to_string();
        assert!(
            msg.contains("line 2: its sealed payload belongs to entry #3"),
            "{msg}"
        );
        // Without an identity the moved payload cannot be seen: the chain still holds.
        assert_eq!(f.log.verify(&[]).unwrap().entries, 2);
    }

    #[test]
    fn a_reformatted_line_is_named_even_with_the_same_content() {
        let f = log_with(2);
        let mut lines = f.lines();
        lines[1] = lines[1].replacen("{\"seq\":", "{ \"seq\":", 1);
        f.write_lines(&lines);
        assert_eq!(f.broken_line(), 2);
    }

    #[test]
    fn a_deleted_line_is_named() {
        for gone in [0, 2, 3] {
            let f = log_with(5);
            let mut lines = f.lines();
            lines.remove(gone);
            f.write_lines(&lines);
            assert_eq!(f.broken_line(), gone + 1, "deleting line {}", gone + 1);
        }
    }

    #[test]
    fn reordered_lines_are_named() {
        let f = log_with(4);
        let mut lines = f.lines();
        lines.swap(1, 2);
        f.write_lines(&lines);
        assert_eq!(f.broken_line(), 2);
        let msg = f.verify().unwrap_err().to_string();
        assert!(msg.contains("entry #3 where #2 belongs"), "{msg}");
    }

    #[test]
    fn a_line_cut_off_is_named_and_nothing_is_chained_onto_it() {
        let f = log_with(3);
        let bytes = std::fs::read(f.log.path()).unwrap();
        std::fs::write(f.log.path(), &bytes[..bytes.len() - 20]).unwrap();
        assert_eq!(f.broken_line(), 3);
        assert!(f.verify().unwrap_err().to_string().contains("cut off"));
        let refused = f
            .log
            .record(Event::new(AuditAction::Added, None, "after the cut"));
        assert!(
            matches!(refused, Err(AuditError::Tail { .. })),
            "{refused:?}"
        );
        assert_eq!(
            std::fs::read(f.log.path()).unwrap().len(),
            bytes.len() - 20,
            "nothing appended"
        );
    }

    #[test]
    fn garbage_and_unknown_fields_are_named() {
        let f = log_with(2);
        let mut lines = f.lines();
        lines.insert(1, "not json".into());
        f.write_lines(&lines);
        assert_eq!(f.broken_line(), 2);
        assert!(matches!(
            f.log.read(&f.ids()),
            Err(AuditError::Broken { line: 2, .. })
        ));

        let f = log_with(1);
        let mut lines = f.lines();
        lines[0] = lines[0].replacen('{', "{\"extra\":1,", 1);
        f.write_lines(&lines);
        assert_eq!(f.broken_line(), 1);
    }

    #[test]
    fn long_lines_are_chained_across_read_chunks() {
        let f = log_with(0);
        let long = "x".repeat(20_000);
        f.log
            .record(Event::new(AuditAction::Synced, None, long.clone()))
            .unwrap();
        f.log
            .record(Event::new(AuditAction::Synced, None, long))
            .unwrap();
        f.log
            .record(Event::new(AuditAction::Synced, None, "short"))
            .unwrap();
        assert_eq!(f.verify().unwrap().entries, 3);
    }

    #[test]
    fn concurrent_appends_keep_one_unbroken_chain() {
        let f = log_with(0);
        std::thread::scope(|s| {
            for t in 0..4 {
                let log = f.log.clone();
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
        assert_eq!(f.verify().unwrap().entries, 40);
    }

    /// A log shared through `entries`, mirrored on one machine (a temp dir of its own).
    fn shared_log(
        entries: &std::sync::Arc<shared::memory::Entries>,
        key: &age::x25519::Identity,
    ) -> (tempfile::TempDir, AuditLog) {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::mirroring(dir.path().join("inv.audit.jsonl"), entries.clone());
        note_recipients(log.path(), vec![key.to_public().to_string()]);
        (dir, log)
    }

    #[test]
    fn two_machines_sharing_a_log_never_overwrite_each_others_entries() {
        let entries = std::sync::Arc::new(shared::memory::Entries::default());
        let key = age::x25519::Identity::generate();
        let (_a_dir, a) = shared_log(&entries, &key);
        let (_b_dir, b) = shared_log(&entries, &key);
        std::thread::scope(|s| {
            for (name, log) in [("a", &a), ("b", &b)] {
                s.spawn(move || {
                    for i in 0..15 {
                        log.record(Event::new(
                            AuditAction::Verified,
                            None,
                            format!("{name}{i}"),
                        ))
                        .unwrap();
                    }
                });
            }
        });
        assert_eq!(entries.objects.lock().unwrap().len(), 30);
        for log in [&a, &b] {
            assert_eq!(log.verify(&[&key]).unwrap().entries, 30);
            let listing = log.read(&[&key]).unwrap();
            let mut details: Vec<String> =
                listing.entries.iter().map(|e| e.detail.clone()).collect();
            details.sort();
            assert_eq!(details.len(), 30);
            assert!(details.contains(&"a14".to_string()) && details.contains(&"b0".to_string()));
        }
        assert_eq!(
            std::fs::read(a.path()).unwrap(),
            std::fs::read(b.path()).unwrap(),
            "both mirrors hold what is stored"
        );
    }

    #[test]
    fn an_entry_replaced_in_the_storage_is_named_on_every_machine() {
        let entries = std::sync::Arc::new(shared::memory::Entries::default());
        let key = age::x25519::Identity::generate();
        let (_dir, log) = shared_log(&entries, &key);
        for i in 0..3 {
            log.record(Event::new(AuditAction::Added, None, format!("e{i}")))
                .unwrap();
        }
        assert_eq!(log.verify(&[&key]).unwrap().entries, 3);
        // Someone with write access to the bucket replaces entry 2 (a new version).
        entries
            .objects
            .lock()
            .unwrap()
            .insert(2, (b"{\"seq\":2}".to_vec(), "forged".into()));
        match log.verify(&[&key]) {
            Err(AuditError::Broken { line: 2, .. }) => {}
            other => panic!("expected line 2 named, got {other:?}"),
        }
        // And removing it: the entry after it is out of place.
        entries.objects.lock().unwrap().remove(&2);
        let why = log.verify(&[&key]).unwrap_err().to_string();
        assert!(why.contains("entry #3 where #2 belongs"), "{why}");
    }

    /// Storage where every number is already taken by the time a writer tries it.
    #[derive(Debug, Default)]
    struct AlwaysTaken(shared::memory::Entries);

    impl SharedEntries for AlwaysTaken {
        fn list(&self) -> Result<Vec<(u64, String)>, String> {
            self.0.list()
        }
        fn get(&self, seq: u64) -> Result<Vec<u8>, String> {
            self.0.get(seq)
        }
        fn create(&self, _: u64, _: &[u8]) -> Result<Option<String>, String> {
            Ok(None)
        }
        fn location(&self) -> String {
            "memory://busy/".into()
        }
    }

    #[test]
    fn a_writer_that_loses_every_race_gives_up_saying_so() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::mirroring(
            dir.path().join("inv.audit.jsonl"),
            std::sync::Arc::new(AlwaysTaken::default()),
        );
        let key = age::x25519::Identity::generate();
        note_recipients(log.path(), vec![key.to_public().to_string()]);
        let e = log
            .record(Event::new(AuditAction::Added, None, "x"))
            .unwrap_err();
        assert!(
            matches!(
                e,
                AuditError::Contended {
                    attempts: ENTRY_ATTEMPTS,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("memory://busy/"), "{e}");
        assert!(e.to_string().contains("try again"), "{e}");
        assert_eq!(
            std::fs::read(log.path()).unwrap(),
            b"",
            "nothing written locally"
        );
    }

    #[test]
    fn a_secret_formatted_into_a_detail_is_only_its_mask() {
        let secret = Secret::new("sk-live-0123456789abcdefSECRET");
        assert_eq!(format!("{secret}"), MASK, "Display is a mask");
        let f = log_with(0);
        f.log
            .record(Event::new(
                AuditAction::Revealed,
                Some(&at("acme/crm")),
                format!("shown on screen: {secret}"),
            ))
            .unwrap();
        let entries = f.entries();
        let detail = &entries[0].detail;
        assert!(
            !detail.contains("SECRET") && !detail.contains("sk-live"),
            "{detail}"
        );
        assert!(detail.contains(MASK), "{detail}");
    }
}
