//! The encrypted inventory file: decrypting and parsing it, and saving it atomically under
//! an exclusive lock with a few generations of backups. Plaintext never touches disk: it
//! lives in zeroizing buffers between the age stream and the YAML parser.

pub mod backend;
pub mod keys;
pub mod location;
mod lockfile;
pub mod merging;
mod own_files;
pub mod recipients_seen;
pub mod s3;

use std::fs;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use age::secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::audit::{Anchor, AuditLog, Disagreement};
use crate::fsutil::{self, Exposure};
use crate::inventory::{self, Inventory, SchemaError};
use backend::{Backend, LocalFile, Version};
use keys::io_words;
pub use keys::{Keyring, TerminalPrompt};
pub use location::Location;
pub use lockfile::Lock;
pub use own_files::OwnFiles;
pub use recipients_seen::{RecipientChange, Seen, SeenRecord};

/// How many previous versions are kept beside the file (`FILE.1` newest … `FILE.3`).
pub const BACKUP_GENERATIONS: usize = 3;

/// Why an inventory could not be opened or saved. Each says what is wrong, where, and what
/// to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// There is no file.
    #[error("{}: no such inventory; create one with `keyward init` or pass --inventory", .path.display())]
    Missing {
        /// The inventory path.
        path: PathBuf,
    },
    /// The path is a directory.
    #[error("{}: is a directory, not an inventory file", .path.display())]
    IsDirectory {
        /// The inventory path.
        path: PathBuf,
    },
    /// The file could not be read.
    #[error("{}: cannot read: {detail}", .path.display())]
    Read {
        /// The inventory path.
        path: PathBuf,
        /// What the OS said.
        detail: String,
    },
    /// Not an age file at all.
    #[error("{}: not an age-encrypted inventory ({detail})", .path.display())]
    NotAge {
        /// The inventory path.
        path: PathBuf,
        /// What is wrong with the header.
        detail: String,
    },
    /// No identity given matches any recipient of the file.
    #[error("{}: none of the identities tried ({tried}) can open it; pass the right one with --identity", .path.display())]
    NoMatchingIdentity {
        /// The inventory path.
        path: PathBuf,
        /// The identity files tried.
        tried: String,
    },
    /// The passphrase was wrong.
    #[error("{}: wrong passphrase", .path.display())]
    WrongPassphrase {
        /// The inventory path.
        path: PathBuf,
    },
    /// The ciphertext is damaged: truncated or modified.
    #[error("{}: damaged or truncated ({detail}); restore the newest backup {}.1", .path.display(), .path.display())]
    Corrupt {
        /// The inventory path.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// The decrypted text is not a valid inventory.
    #[error("{}: {source}", .path.display())]
    Schema {
        /// The inventory path.
        path: PathBuf,
        /// What is wrong, with key path and line.
        source: SchemaError,
    },
    /// Another writer changed the file since this store read it.
    #[error("{}: changed on disk by another keyward since it was opened; nothing was saved, reopen it to see both changes", .path.display())]
    ChangedOnDisk {
        /// The inventory path.
        path: PathBuf,
    },
    /// Another writer changed, differently, something this save changed too.
    #[error("{}: {conflict}", .path.display())]
    Conflict {
        /// The inventory path.
        path: PathBuf,
        /// What both changed.
        conflict: crate::inventory::merge::MergeConflict,
    },
    /// Another process holds the write lock.
    #[error("{}: locked by process {pid}; wait for it to finish, or stop it", .path.display())]
    Locked {
        /// The inventory path.
        path: PathBuf,
        /// The process holding the lock, as it recorded itself.
        pid: String,
    },
    /// The file could not be written.
    #[error("{}: cannot save: {detail}; the previous version is untouched", .path.display())]
    Write {
        /// The inventory path.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// A file exists where a new inventory was to be created.
    #[error("{}: already exists; keyward will not overwrite an inventory", .path.display())]
    Exists {
        /// The inventory path.
        path: PathBuf,
    },
    /// The storage holding the inventory (a bucket) cannot be reached, or refuses keyward.
    #[error(
        "{location}: cannot reach the storage: {detail}; check the network, the endpoint \
             (AWS_ENDPOINT_URL) and the credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID)"
    )]
    Unreachable {
        /// The inventory's location.
        location: String,
        /// What failed.
        detail: String,
    },
    /// The inventory was read from its offline copy, so nothing may be written.
    #[error(
        "{location}: the storage cannot be reached and this is the offline copy; nothing \
             was saved: try again once the storage answers"
    )]
    Offline {
        /// The inventory's location.
        location: String,
    },
    /// An identity file is unusable.
    #[error("identity {}: {detail}", .path.display())]
    Identity {
        /// The identity file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A recipient in the inventory is unusable.
    #[error("recipient `{recipient}`: {detail}")]
    Recipient {
        /// The recipient as written (shortened).
        recipient: String,
        /// What is wrong.
        detail: String,
    },
    /// Nothing to encrypt to.
    #[error("{}: the inventory has no recipients; add one with `keyward recipients add`", .path.display())]
    NoRecipients {
        /// The inventory path.
        path: PathBuf,
    },
    /// A passphrase is needed but there is no terminal to ask on.
    #[error("{}: a passphrase is needed, but there is no terminal to ask on", .path.display())]
    NoTerminal {
        /// The inventory path.
        path: PathBuf,
    },
    /// An encrypted SSH key could open the file, but there is no terminal to ask for its
    /// passphrase on. ssh-agent cannot help: it signs, and age needs the key itself.
    #[error("{}: the SSH key {} is passphrase-protected and there is no terminal to ask for it on; \
             for cron and scripts give keyward an age identity of its own (`age-keygen -o FILE`, \
             `keyward recipients add` its public key from a terminal, then `--identity FILE`): \
             ssh-agent cannot open age files", .path.display(), .key.display())]
    SshKeyNeedsPassphrase {
        /// The inventory path.
        path: PathBuf,
        /// The SSH key file.
        key: PathBuf,
    },
    /// The passphrase typed for an encrypted SSH key does not decrypt it.
    #[error("{}: wrong passphrase for the SSH key {}", .path.display(), .key.display())]
    WrongSshPassphrase {
        /// The inventory path.
        path: PathBuf,
        /// The SSH key file.
        key: PathBuf,
    },
    /// The passphrase file given for a passphrase-encrypted inventory is unusable.
    #[error("passphrase file {}: {detail}", .path.display())]
    PassphraseFile {
        /// The passphrase file.
        path: PathBuf,
        /// What is wrong, and the fix.
        detail: String,
    },
    /// The inventory and its audit log disagree: one was rolled back, cut or replaced.
    #[error("{}: {disagreement}; nothing was changed (`keyward audit --verify` says more)", .path.display())]
    Disagrees {
        /// The inventory path.
        path: PathBuf,
        /// What disagrees.
        disagreement: Disagreement,
    },
    /// The inventory's recipients changed since this person last saw them, and they have
    /// not accepted the change: a save would encrypt every secret to whoever was added.
    #[error("{}: {change}; nothing was saved: if you expected this, accept it with `keyward recipients accept`", .path.display())]
    RecipientsChanged {
        /// The inventory path.
        path: PathBuf,
        /// Who was added and removed.
        change: RecipientChange,
    },
    /// The record of the recipients last seen could not be read or written.
    #[error("{0}")]
    SeenRecord(#[from] recipients_seen::SeenRecordError),
    /// Another user could write the file or directory, so keyward will not trust it.
    #[error("{}", exposed_words(.path, *.what, *.exposure))]
    Exposed {
        /// The file or directory.
        path: PathBuf,
        /// What it is to keyward.
        what: Guarded,
        /// How another user could change it.
        exposure: Exposure,
    },
}

/// The files and directories whose permissions keyward checks before trusting them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarded {
    /// The inventory file.
    Inventory,
    /// The directory holding the inventory (and its lock, log and backups).
    InventoryDirectory,
    /// An identity file.
    Identity,
}

impl Guarded {
    /// What it is, in words.
    pub fn as_str(self) -> &'static str {
        match self {
            Guarded::Inventory => "inventory",
            Guarded::InventoryDirectory => "inventory's directory",
            Guarded::Identity => "identity file",
        }
    }
}

fn exposed_words(path: &Path, what: Guarded, exposure: Exposure) -> String {
    let (path, what) = (path.display(), what.as_str());
    match exposure {
        Exposure::WritableByOthers { mode } => format!(
            "{path}: mode {mode:04o} lets other users write this {what}; keyward refuses it: \
             run `chmod go-w {path}`"
        ),
        Exposure::OwnedByOther { uid } => format!(
            "{path}: this {what} belongs to another user (uid {uid}), who could change it; \
             keyward refuses it: use one you own"
        ),
    }
}

/// Refuses `path` if another user could write it (see [`crate::fsutil::exposure`]).
pub fn refuse_exposed(path: &Path, what: Guarded) -> Result<(), StoreError> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        // Missing or unreadable files are reported by whoever opens them next.
        Err(_) => return Ok(()),
    };
    match crate::fsutil::exposure(&meta) {
        None => Ok(()),
        Some(exposure) => Err(StoreError::Exposed {
            path: path.to_path_buf(),
            what,
            exposure,
        }),
    }
}

/// Refuses an inventory that another user could write, or whose directory they could.
fn refuse_exposed_inventory(path: &Path) -> Result<(), StoreError> {
    refuse_exposed(path, Guarded::Inventory)?;
    refuse_exposed(
        &crate::fsutil::parent_dir(path),
        Guarded::InventoryDirectory,
    )
}

/// The file an inventory path names: a symbolic link is resolved once, here, so that saves
/// replace the real file (not the link) and the lock, log and backups belong to it. Any
/// other path, or a link that cannot be resolved, is returned as given.
pub fn resolve_path(path: &Path) -> PathBuf {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    }
}

/// How saves encrypt.
enum Sealing {
    /// To the inventory's `recipients`.
    Recipients,
    /// With the passphrase the file was opened with.
    Passphrase(SecretString),
}

/// An open inventory file. Saves need the lock, taken by [`Store::open_locked`] or
/// [`Store::create`] and held until the store is dropped.
pub struct Store {
    /// Where the inventory is kept.
    location: Location,
    /// Its local home: the path its lock, audit log and journal are named after.
    path: PathBuf,
    /// The storage its ciphertext is read from and written to.
    backend: Box<dyn Backend>,
    sealing: Sealing,
    lock: Option<Lock>,
    /// The stored version this store last read or wrote: saves are conditional on it, so
    /// another writer's version is never overwritten. `None`: nothing stored yet.
    version: Option<Version>,
    /// When the storage could not be reached and the offline copy was read instead: the
    /// copy's time. Nothing is saved then.
    offline: Option<std::time::SystemTime>,
    /// The inventory's generation as read or last saved: the next save writes one more.
    generation: u64,
    /// How the inventory and its audit log disagreed when it was opened.
    disagreement: Option<Disagreement>,
    /// The recipients in the file as last read or written.
    file_recipients: Vec<String>,
    /// Where this person's record of the recipients they last saw is kept, once watched
    /// ([`Store::watch_recipients`]): saves then refuse an unaccepted change and record
    /// the set they write.
    seen: Option<SeenRecord>,
    /// A change of recipients nobody here made or accepted: saves are refused meanwhile.
    unaccepted: Option<RecipientChange>,
    /// A passphrase-encrypted inventory's audit log key ([`inventory::Integrity::audit_key`]):
    /// entries are sealed to its public half, and opened with it.
    log_key: Option<age::x25519::Identity>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.location)
            .field("locked", &self.lock.is_some())
            .finish()
    }
}

impl Store {
    /// Opens and decrypts `path` for reading; saving needs [`Store::lock`] first.
    /// A symbolic link is resolved first ([`resolve_path`]); an inventory or directory
    /// another user could write is refused.
    pub fn open(at: impl Into<Location>, keys: &Keyring) -> Result<(Store, Inventory), StoreError> {
        let location = resolve_location(at.into());
        let path = &location.home().to_path_buf();
        let backend = location.backend()?;
        let started = std::time::Instant::now();
        let (read, offline) = match (read(&*backend, path, keys), &location) {
            // A bucket that cannot be reached: its offline copy, for reading only.
            (
                Err(StoreError::Unreachable {
                    location: at,
                    detail,
                }),
                Location::S3 { .. },
            ) => {
                let copied = fs::symlink_metadata(path).and_then(|m| m.modified());
                match copied {
                    Ok(copied) => {
                        tracing::warn!(location = %at, %detail, "storage unreachable; reading the offline copy");
                        (read_offline_copy(path, keys), Some(copied))
                    }
                    Err(_) => (
                        Err(StoreError::Unreachable {
                            location: at,
                            detail,
                        }),
                        None,
                    ),
                }
            }
            (read, _) => (read, None),
        };
        let (mut inventory, sealing, version) = read?;
        let anchor = anchor_of(&inventory);
        tracing::debug!(
            path = %crate::logging::shown(path),
            generation = anchor.generation,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "inventory opened"
        );
        let log_key = log_key_of(&inventory);
        // The store's own bookkeeping: callers see (and compare) the content alone, and
        // every save writes it afresh.
        inventory.integrity = None;
        let disagreement = AuditLog::for_inventory(path).check_anchor(&anchor).err();
        let mut store = Store {
            location,
            path: path.to_path_buf(),
            backend,
            sealing,
            lock: None,
            version: Some(version),
            offline,
            generation: anchor.generation,
            disagreement,
            file_recipients: inventory.recipients.clone(),
            seen: None,
            unaccepted: None,
            log_key,
        };
        store.note_log_recipients();
        // Briefly, when nobody else writes: `open_locked` does it under its own lock.
        if store.needs_log_key() {
            if let Ok(lock) = Lock::acquire(path) {
                store.lock = Some(lock);
                store.add_log_key(&inventory);
                store.lock = None;
            }
        }
        Ok((store, inventory))
    }

    /// Whether this passphrase-encrypted inventory, saved by an earlier version, still
    /// lacks the key its audit entries are sealed to.
    fn needs_log_key(&self) -> bool {
        self.is_passphrase_sealed() && self.log_key.is_none()
    }

    /// Gives a passphrase-encrypted inventory from an earlier version its audit log key,
    /// saved at once so that no entry is sealed to a key that is then lost. Needs the lock;
    /// when the save is refused (the log disagrees, say), entries cannot be recorded until
    /// that is resolved, and [`AuditLog::record`] says so.
    fn add_log_key(&mut self, inventory: &Inventory) {
        if !self.needs_log_key() || self.disagreement.is_some() {
            return;
        }
        self.log_key = Some(age::x25519::Identity::generate());
        if let Err(e) = self.save(inventory) {
            tracing::warn!(error = %e, "the audit log key could not be saved");
            self.log_key = None;
        }
        self.note_log_recipients();
    }

    /// Tells the audit log whom its entries are sealed to: the recipients in the file, or
    /// the log key's public half for a passphrase-encrypted inventory.
    fn note_log_recipients(&self) {
        let recipients = match (&self.sealing, &self.log_key) {
            // Never to recipients someone else added and this person has not accepted:
            // entries would tell them what happens meanwhile.
            (Sealing::Recipients, _) => self
                .file_recipients
                .iter()
                .filter(|r| {
                    self.unaccepted
                        .as_ref()
                        .is_none_or(|c| !c.added.contains(&r.trim().to_string()))
                })
                .cloned()
                .collect(),
            (Sealing::Passphrase(_), Some(key)) => vec![key.to_public().to_string()],
            (Sealing::Passphrase(_), None) => Vec::new(),
        };
        crate::audit::note_recipients(AuditLog::for_inventory(&self.path).path(), recipients);
    }

    /// The identities that open this inventory's audit entries: `keys`, and the log key of
    /// a passphrase-encrypted inventory.
    pub fn audit_identities<'a>(&'a self, keys: &'a Keyring) -> Vec<&'a dyn age::Identity> {
        let mut all: Vec<&dyn age::Identity> = keys.identities().collect();
        if let Some(key) = &self.log_key {
            all.push(key);
        }
        all
    }

    /// Decrypts and parses `path` only to look at it, as a backup is looked at before it is
    /// restored: its log is not checked, nothing is recorded or written. Returns the
    /// content and whether it is passphrase-encrypted.
    pub fn peek(path: &Path, keys: &Keyring) -> Result<(Inventory, bool), StoreError> {
        let path = resolve_path(path);
        let (mut inventory, sealing, _) = read(&LocalFile::new(&path), &path, keys)?;
        inventory.integrity = None;
        Ok((inventory, matches!(sealing, Sealing::Passphrase(_))))
    }

    /// How the inventory and its audit log disagreed when it was opened: a rolled-back
    /// inventory, or a log cut, rewritten or deleted. Writing is refused then
    /// ([`Store::open_locked`]); readers should say so.
    pub fn disagreement(&self) -> Option<&Disagreement> {
        self.disagreement.as_ref()
    }

    /// Compares the file's recipients with the set this person last saw, kept in `record`,
    /// and keeps watching: from now on a save is refused while the set differs from the
    /// one last seen ([`StoreError::RecipientsChanged`]) until [`Store::accept_recipients`],
    /// and each save records the set it writes (a change made here is this person's own).
    /// An inventory never seen before has its set recorded now ([`Seen::FirstUse`]).
    /// Passphrase-sealed inventories have no recipients to watch.
    pub fn watch_recipients(&mut self, record: SeenRecord) -> Result<Seen, StoreError> {
        if self.is_passphrase_sealed() {
            return Ok(Seen::Unchanged);
        }
        let seen = record.compare(&self.file_recipients)?;
        self.unaccepted = match &seen {
            Seen::Changed(change) => Some(change.clone()),
            _ => None,
        };
        self.seen = Some(record);
        self.note_log_recipients();
        Ok(seen)
    }

    /// A change of recipients this person neither made nor accepted, found by
    /// [`Store::watch_recipients`] or [`Store::reread`]: saves are refused until accepted.
    pub fn recipient_change(&self) -> Option<&RecipientChange> {
        self.unaccepted.as_ref()
    }

    /// Records the file's recipients, as they are now, as the set this person has seen and
    /// accepts (in `record`, watched from now on); saves go ahead again.
    pub fn accept_recipients(&mut self, record: SeenRecord) -> Result<(), StoreError> {
        if !self.is_passphrase_sealed() {
            record.store(&recipients_seen::recipient_set(&self.file_recipients))?;
        }
        self.unaccepted = None;
        self.seen = Some(record);
        self.note_log_recipients();
        Ok(())
    }

    /// The inventory's generation: how many saves it has seen.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Opens the backup (or any inventory file) `source` and saves its content as the
    /// newest generation of `path`, on purpose: the way out of a disagreement with the log,
    /// and the way to go back to a backup. The caller records it in the audit log. Returns
    /// the store (locked), the inventory restored, and the generation it had.
    pub fn restore(
        at: impl Into<Location>,
        source: &Path,
        keys: &Keyring,
    ) -> Result<(Store, Inventory, u64), StoreError> {
        let location = resolve_location(at.into());
        let path = &location.home().to_path_buf();
        prepare_home(&location)?;
        let backend = location.backend()?;
        let lock = Lock::acquire(path)?;
        let (mut inventory, sealing, _) = read(&LocalFile::new(source), source, keys)?;
        let from = anchor_of(&inventory).generation;
        inventory.integrity = None;
        let current = match backend.read() {
            Ok((_, version)) => Some(version),
            Err(StoreError::Missing { .. }) => None,
            Err(e) => return Err(e),
        };
        let log = AuditLog::for_inventory(path);
        let mut store = Store {
            location,
            path: path.to_path_buf(),
            backend,
            sealing,
            lock: Some(lock),
            version: current,
            offline: None,
            // Past every save the log, the current file or this person has seen.
            generation: log.newest_generation().max(from).max(log.seen_generation()),
            disagreement: None,
            file_recipients: Vec::new(),
            seen: None,
            unaccepted: None,
            log_key: None,
        };
        if let Ok((now, _, _)) = read(&*store.backend, path, keys) {
            store.generation = store.generation.max(anchor_of(&now).generation);
            // The log's entries stay sealed to the key they were written with.
            store.log_key = log_key_of(&now);
        }
        if store.log_key.is_none() {
            store.log_key = log_key_of(&inventory);
        }
        if store.is_passphrase_sealed() && store.log_key.is_none() {
            store.log_key = Some(age::x25519::Identity::generate());
        }
        // A restore on purpose makes the log's history what it is now, for this person.
        log.forget_mark().map_err(|detail| StoreError::Write {
            path: path.to_path_buf(),
            detail,
        })?;
        store.save(&inventory)?;
        Ok((store, inventory, from))
    }

    /// Takes the write lock, then opens `path`: nobody else can save until this store drops.
    pub fn open_locked(
        at: impl Into<Location>,
        keys: &Keyring,
    ) -> Result<(Store, Inventory), StoreError> {
        let location = resolve_location(at.into());
        let path = &location.home().to_path_buf();
        prepare_home(&location)?;
        let lock = Lock::acquire_patiently(path)?;
        let (mut store, inventory) = Store::open(location, keys)?;
        if store.offline.is_some() {
            return Err(store.offline_refusal());
        }
        if let Some(disagreement) = store.disagreement.take() {
            return Err(StoreError::Disagrees {
                path: path.to_path_buf(),
                disagreement,
            });
        }
        store.lock = Some(lock);
        store.add_log_key(&inventory);
        Ok((store, inventory))
    }

    /// Creates a new inventory file encrypted to `inventory.recipients`, and keeps it locked.
    pub fn create(at: impl Into<Location>, inventory: &Inventory) -> Result<Store, StoreError> {
        Self::create_sealed(at.into(), inventory, Sealing::Recipients)
    }

    /// Creates a new inventory file encrypted with a passphrase, and keeps it locked.
    pub fn create_with_passphrase(
        at: impl Into<Location>,
        inventory: &Inventory,
        passphrase: SecretString,
    ) -> Result<Store, StoreError> {
        Self::create_sealed(at.into(), inventory, Sealing::Passphrase(passphrase))
    }

    fn create_sealed(
        location: Location,
        inventory: &Inventory,
        sealing: Sealing,
    ) -> Result<Store, StoreError> {
        let location = resolve_location(location);
        let path = &location.home().to_path_buf();
        let backend = location.backend()?;
        let exists = match &location {
            // `symlink_metadata`: a dangling link is there too, and is not replaced.
            Location::File(_) => fs::symlink_metadata(path).is_ok(),
            Location::S3 { .. } => match backend.read() {
                Ok(_) => true,
                Err(StoreError::Missing { .. }) => false,
                Err(e) => return Err(e),
            },
        };
        if exists {
            return Err(StoreError::Exists {
                path: PathBuf::from(location.to_string()),
            });
        }
        fsutil::create_private_dir_all(&fsutil::parent_dir(path)).map_err(|e| {
            StoreError::Write {
                path: path.to_path_buf(),
                detail: io_words(&e),
            }
        })?;
        refuse_exposed(&fsutil::parent_dir(path), Guarded::InventoryDirectory)?;
        let lock = Lock::acquire(path)?;
        let mut store = Store {
            location,
            path: path.to_path_buf(),
            backend,
            sealing,
            lock: Some(lock),
            version: None,
            offline: None,
            // A log left from an earlier inventory at this path: go past its saves.
            generation: AuditLog::for_inventory(path).newest_generation(),
            disagreement: None,
            file_recipients: Vec::new(),
            seen: None,
            unaccepted: None,
            log_key: None,
        };
        if store.is_passphrase_sealed() {
            store.log_key = Some(age::x25519::Identity::generate());
        }
        // A new inventory here starts this person's record of its log afresh.
        AuditLog::for_inventory(path)
            .forget_mark()
            .map_err(|detail| StoreError::Write {
                path: path.to_path_buf(),
                detail,
            })?;
        store.save(inventory)?;
        Ok(store)
    }

    /// Takes the write lock on an already opened store.
    pub fn lock(&mut self) -> Result<(), StoreError> {
        if self.lock.is_none() {
            self.lock = Some(Lock::acquire(&self.path)?);
        }
        Ok(())
    }

    /// Releases the write lock; a later save takes it again.
    pub fn unlock(&mut self) {
        self.lock = None;
    }

    /// The inventory's local home: the file itself for a local inventory, its mirror for
    /// one in a bucket ([`location`]); the lock, audit log and journal are named after it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the inventory is kept.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// When the storage could not be reached at open, and the offline copy was read: the
    /// copy's time (when it was last read or written here). Saves are refused meanwhile.
    pub fn offline_since(&self) -> Option<std::time::SystemTime> {
        self.offline
    }

    fn offline_refusal(&self) -> StoreError {
        StoreError::Offline {
            location: self.location.to_string(),
        }
    }

    /// Whether the file is passphrase-encrypted.
    pub fn is_passphrase_sealed(&self) -> bool {
        matches!(self.sealing, Sealing::Passphrase(_))
    }

    /// Encrypts `inventory` and replaces the file atomically: a temp file in the same
    /// directory, fsync, the old version kept as backup `FILE.1`, rename, fsync the directory.
    /// On any failure the previous file is untouched.
    pub fn save(&mut self, inventory: &Inventory) -> Result<(), StoreError> {
        if self.offline.is_some() {
            return Err(self.offline_refusal());
        }
        if let Some(disagreement) = &self.disagreement {
            return Err(StoreError::Disagrees {
                path: self.path.clone(),
                disagreement: disagreement.clone(),
            });
        }
        if let Some(change) = &self.unaccepted {
            return Err(StoreError::RecipientsChanged {
                path: self.path.clone(),
                change: change.clone(),
            });
        }
        if self.lock.is_none() {
            self.lock()?;
        }
        let problems = inventory::validate::check(inventory);
        if let Some((path, why)) = problems.first() {
            return Err(StoreError::Schema {
                path: self.path.clone(),
                source: SchemaError {
                    key_path: inventory::locate::render(path),
                    message: why.clone(),
                    position: None,
                },
            });
        }
        // Every save records its generation and where the audit log stands, so an older
        // copy put back, or a log cut, rewritten or deleted, is noticed at the next open.
        let log = AuditLog::for_inventory(&self.path);
        let (audit_seq, audit_head) = log
            .anchor_point()
            .map_err(|e| StoreError::Write {
                path: self.path.clone(),
                detail: e.to_string(),
            })?
            .unwrap_or_default();
        let started = std::time::Instant::now();
        let generation = self.generation + 1;
        let mut sealed = inventory.clone();
        sealed.integrity = Some(inventory::Integrity {
            generation,
            audit_seq,
            audit_head,
            audit_key: match (&self.sealing, &self.log_key) {
                (Sealing::Passphrase(_), Some(key)) => {
                    Some(crate::secret::Secret::new(key.to_string().expose_secret()))
                }
                _ => None,
            },
        });
        let ciphertext = self.seal(&sealed)?;
        let version = self.backend.write_if(&ciphertext, self.version.as_ref())?;
        self.version = Some(version);
        self.generation = generation;
        crate::audit::note_saved_generation(log.path(), generation);
        let changed_here = recipients_seen::recipient_set(&self.file_recipients)
            != recipients_seen::recipient_set(&inventory.recipients);
        self.file_recipients = inventory.recipients.clone();
        self.note_log_recipients();
        // A set this person saved is one they have seen: their own change is never
        // announced back to them.
        if let (Some(record), Sealing::Recipients, true) = (&self.seen, &self.sealing, changed_here)
        {
            record.store(&recipients_seen::recipient_set(&inventory.recipients))?;
        }
        tracing::debug!(
            path = %crate::logging::shown(&self.path),
            generation,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "inventory saved"
        );
        Ok(())
    }

    /// Saves holding the lock only for the save itself, for long sessions such as the
    /// dashboard, so cron jobs and other commands are not held off meanwhile. If another
    /// writer changed the file since this store read or wrote it, nothing is saved: their
    /// change is never overwritten.
    pub fn save_briefly(&mut self, inventory: &Inventory) -> Result<(), StoreError> {
        let held = self.lock.is_some();
        if !held {
            self.lock = Some(Lock::acquire_patiently(&self.path)?);
        }
        // The write is conditional on the version this store knows.
        let result = self.save(inventory);
        if !held {
            self.lock = None;
        }
        result
    }

    /// Reads the file again if another writer changed it since this store last read or
    /// wrote it; `Ok(None)` when it is still as this store knows it. Saves then compare
    /// against the version re-read. Never asks for a passphrase: a passphrase-sealed file
    /// is opened with the one it was opened with, so long sessions (the dashboard) can
    /// call it while they own the terminal.
    pub fn reread(&mut self, keys: &Keyring) -> Result<Option<Inventory>, StoreError> {
        let (bytes, version) = self.backend.read()?;
        if self.version.as_ref() == Some(&version) {
            return Ok(None);
        }
        let passphrase = match &self.sealing {
            Sealing::Passphrase(known) => Passphrase::Known(known),
            Sealing::Recipients => Passphrase::NeverAsk,
        };
        let (mut inventory, sealing, _) = decode(&self.path, &bytes, keys, passphrase)?;
        // As `open` does: the bookkeeping stays with the store, and the log is checked again.
        let anchor = anchor_of(&inventory);
        let log_key = log_key_of(&inventory);
        inventory.integrity = None;
        if log_key.is_some() {
            self.log_key = log_key;
        }
        self.disagreement = AuditLog::for_inventory(&self.path)
            .check_anchor(&anchor)
            .err();
        self.generation = anchor.generation;
        self.sealing = sealing;
        self.version = Some(version);
        self.file_recipients = inventory.recipients.clone();
        self.note_log_recipients();
        // Another writer's version is judged like a freshly opened one.
        if let Some(record) = self.seen.clone() {
            self.watch_recipients(record)?;
        }
        Ok(Some(inventory))
    }

    fn seal(&self, inventory: &Inventory) -> Result<Vec<u8>, StoreError> {
        let plaintext: Zeroizing<String> = Zeroizing::new(
            crate::secret::with_secrets_exposed(|| serde_yaml::to_string(inventory)).map_err(
                |e| StoreError::Write {
                    path: self.path.clone(),
                    detail: format!("cannot encode the inventory: {e}"),
                },
            )?,
        );
        let encryptor = match &self.sealing {
            Sealing::Passphrase(p) => age::Encryptor::with_user_passphrase(SecretString::from(
                p.expose_secret().to_string(),
            )),
            Sealing::Recipients => {
                if inventory.recipients.is_empty() {
                    return Err(StoreError::NoRecipients {
                        path: self.path.clone(),
                    });
                }
                let recipients = inventory
                    .recipients
                    .iter()
                    .map(|r| keys::parse_recipient(r))
                    .collect::<Result<Vec<_>, _>>()?;
                age::Encryptor::with_recipients(
                    recipients.iter().map(|r| r.as_ref() as &dyn age::Recipient),
                )
                .map_err(|e| StoreError::Write {
                    path: self.path.clone(),
                    detail: format!("cannot encrypt to these recipients: {e}"),
                })?
            }
        };
        let fail = |e: std::io::Error| StoreError::Write {
            path: self.path.clone(),
            detail: format!("encryption failed: {}", io_words(&e)),
        };
        let mut out = Vec::with_capacity(plaintext.len() + 512);
        let mut writer = encryptor.wrap_output(&mut out).map_err(fail)?;
        writer.write_all(plaintext.as_bytes()).map_err(fail)?;
        writer.finish().map_err(fail)?;
        Ok(out)
    }
}

/// What an inventory recorded about its log at its newest save (nothing, for a file saved
/// before keyward recorded it: generation 0, no entry).
fn anchor_of(inventory: &Inventory) -> Anchor {
    match &inventory.integrity {
        Some(i) => Anchor {
            generation: i.generation,
            seq: i.audit_seq,
            head: i.audit_head.clone(),
        },
        None => Anchor {
            generation: 0,
            seq: 0,
            head: String::new(),
        },
    }
}

/// The audit log key a passphrase-encrypted inventory keeps, if it has one (and it parses).
fn log_key_of(inventory: &Inventory) -> Option<age::x25519::Identity> {
    let key = inventory.integrity.as_ref()?.audit_key.as_ref()?;
    key.expose_secret().parse().ok()
}

fn check_path(path: &Path) -> Result<(), StoreError> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(StoreError::IsDirectory {
            path: path.to_path_buf(),
        }),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::Missing {
            path: path.to_path_buf(),
        }),
        Err(e) => Err(StoreError::Read {
            path: path.to_path_buf(),
            detail: io_words(&e),
        }),
    }
}

/// `location` with a local file's symbolic link resolved ([`resolve_path`]).
fn resolve_location(location: Location) -> Location {
    match location {
        Location::File(path) => Location::File(resolve_path(&path)),
        remote => remote,
    }
}

/// Makes sure the inventory's local home can take its lock: a local file must exist and be
/// trusted (no lock file is made beside a missing one); a bucket's mirror directory is made.
fn prepare_home(location: &Location) -> Result<(), StoreError> {
    let path = location.home();
    match location {
        Location::File(_) => {
            check_path(path)?;
            refuse_exposed_inventory(path)
        }
        Location::S3 { .. } => {
            let dir = fsutil::parent_dir(path);
            fsutil::create_private_dir_all(&dir).map_err(|e| StoreError::Write {
                path: path.to_path_buf(),
                detail: io_words(&e),
            })?;
            refuse_exposed(&dir, Guarded::InventoryDirectory)
        }
    }
}

/// Reads and decrypts a bucket inventory's offline copy at its home `path`.
fn read_offline_copy(
    path: &Path,
    keys: &Keyring,
) -> Result<(Inventory, Sealing, Version), StoreError> {
    read(&LocalFile::new(path), path, keys)
}

/// Reads and decrypts the inventory `backend` holds; `path` names it in errors.
fn read(
    backend: &dyn Backend,
    path: &Path,
    keys: &Keyring,
) -> Result<(Inventory, Sealing, Version), StoreError> {
    let (bytes, version) = backend.read()?;
    let (inventory, sealing, _) = decode(path, &bytes, keys, Passphrase::Ask)?;
    Ok((inventory, sealing, version))
}

/// Where a passphrase-sealed file's passphrase comes from.
enum Passphrase<'a> {
    /// The keyring's, or asked for on the terminal.
    Ask,
    /// This one (the file was opened with it); nobody is asked.
    Known(&'a SecretString),
    /// The keyring's only: a long session such as the dashboard cannot ask on the terminal.
    NeverAsk,
}

fn decode(
    path: &Path,
    bytes: &[u8],
    keys: &Keyring,
    passphrase: Passphrase<'_>,
) -> Result<(Inventory, Sealing, [u8; 32]), StoreError> {
    let p = || path.to_path_buf();
    // Anything that does not start like an age file is named as such, rather than as a
    // damaged one: it is usually the wrong file, not a broken one.
    const MAGIC: [&[u8]; 2] = [
        b"age-encryption.org/",
        b"-----BEGIN AGE ENCRYPTED FILE-----",
    ];
    if !MAGIC
        .iter()
        .any(|m| bytes.trim_ascii_start().starts_with(m))
    {
        return Err(StoreError::NotAge {
            path: p(),
            detail: "it does not start with an age header".into(),
        });
    }
    // Seekable, so that the payload can be read a second time without deriving its key
    // again (a passphrase's scrypt takes a second).
    let armored = age::armor::ArmoredReader::new(std::io::Cursor::new(bytes));
    let decryptor = age::Decryptor::new(armored).map_err(|e| match e {
        age::DecryptError::Io(io) => StoreError::Corrupt {
            path: p(),
            detail: format!("the header is unreadable: {}", io_words(&io)),
        },
        other => StoreError::NotAge {
            path: p(),
            detail: decrypt_words(&other),
        },
    })?;
    let (reader, sealing) = if decryptor.is_scrypt() {
        let passphrase = match passphrase {
            Passphrase::Ask => keys.passphrase(path)?,
            Passphrase::Known(known) => SecretString::from(known.expose_secret().to_string()),
            Passphrase::NeverAsk => keys
                .given_passphrase()
                .ok_or_else(|| StoreError::NoTerminal { path: p() })?,
        };
        let identity =
            age::scrypt::Identity::new(SecretString::from(passphrase.expose_secret().to_string()));
        let reader = decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::DecryptionFailed | age::DecryptError::KeyDecryptionFailed => {
                    StoreError::WrongPassphrase { path: p() }
                }
                other => decrypt_error(path, keys, other),
            })?;
        (reader, Sealing::Passphrase(passphrase))
    } else {
        let reader = decryptor
            .decrypt(keys.identities())
            .map_err(|e| decrypt_error(path, keys, e))?;
        (reader, Sealing::Recipients)
    };
    let mut reader = reader;
    // A good inventory is parsed as it is decrypted, the plaintext never whole in memory.
    if let Some(inventory) = inventory::validate::parse_stream_if_good(&mut reader) {
        return Ok((inventory, sealing, Sha256::digest(bytes).into()));
    }
    // Otherwise read again, whole, for the careful parse that says what is wrong. The
    // payload is never longer than the file: sized once, the buffer is never moved, so no
    // copy of the plaintext is left behind in freed memory by a reallocation.
    let mut plaintext = Zeroizing::new(Vec::with_capacity(bytes.len()));
    reader
        .seek(std::io::SeekFrom::Start(0))
        .and_then(|_| reader.read_to_end(&mut plaintext))
        .map_err(|e| StoreError::Corrupt {
            path: p(),
            detail: format!("the payload does not decrypt: {}", io_words(&e)),
        })?;
    let text = std::str::from_utf8(&plaintext).map_err(|_| StoreError::Corrupt {
        path: p(),
        detail: "the decrypted content is not UTF-8 text".into(),
    })?;
    let inventory = inventory::validate::parse(text)
        .map_err(|source| StoreError::Schema { path: p(), source })?;
    Ok((inventory, sealing, Sha256::digest(bytes).into()))
}

fn decrypt_error(path: &Path, keys: &Keyring, e: age::DecryptError) -> StoreError {
    match e {
        age::DecryptError::NoMatchingKeys => match keys.ssh_key_left_locked() {
            Some((key, keys::SshUnlockFailure::NoTerminal)) => StoreError::SshKeyNeedsPassphrase {
                path: path.to_path_buf(),
                key,
            },
            Some((key, keys::SshUnlockFailure::WrongPassphrase)) => {
                StoreError::WrongSshPassphrase {
                    path: path.to_path_buf(),
                    key,
                }
            }
            None => StoreError::NoMatchingIdentity {
                path: path.to_path_buf(),
                tried: if keys.sources().is_empty() {
                    "none found".into()
                } else {
                    keys.sources()
                        .iter()
                        .map(|s| s.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            },
        },
        age::DecryptError::Io(io) => StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: io_words(&io),
        },
        other => StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: decrypt_words(&other),
        },
    }
}

fn decrypt_words(e: &age::DecryptError) -> String {
    match e {
        age::DecryptError::InvalidHeader => "the header is not age's".into(),
        age::DecryptError::UnknownFormat => "an age version this build does not know".into(),
        age::DecryptError::InvalidMac => "the header's MAC does not match".into(),
        other => other
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

/// Writes `bytes` to a new file beside `path` (exclusive create, unpredictable name, 0600),
/// keeps the current file as backup, and renames the new file over `path`, with the fsyncs
/// that make the rename durable. On failure the new file is removed.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = fsutil::NewFile::beside(path)?;
    file.write_all(bytes)?;
    if path.exists() {
        rotate_backups(path)?;
    }
    file.commit(path)
}

/// Shifts `FILE.1 → FILE.2 …` and hard-links the current file as `FILE.1`: the link keeps
/// the old version's inode when the rename replaces the name, without copying it.
fn rotate_backups(path: &Path) -> std::io::Result<()> {
    for n in (1..BACKUP_GENERATIONS).rev() {
        if fs::symlink_metadata(backup_path(path, n)).is_ok() {
            fs::rename(backup_path(path, n), backup_path(path, n + 1))?;
        }
    }
    let newest = backup_path(path, 1);
    match fs::hard_link(path, &newest) {
        Ok(()) => Ok(()),
        // Something appeared at the name since it was moved away: never written through.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        // Filesystems without hard links get a copy instead, made as a new private file.
        Err(_) => {
            let mut copy = fsutil::NewFile::beside(&newest)?;
            copy.write_all(&fsutil::read_no_follow(path)?)?;
            copy.commit(&newest)
        }
    }
}

/// The backup file of generation `n` (1 = newest) for `path`.
pub fn backup_path(path: &Path, n: usize) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}
