//! The encrypted inventory file: decrypting and parsing it, and saving it atomically under
//! an exclusive lock with a few generations of backups. Plaintext never touches disk: it
//! lives in zeroizing buffers between the age stream and the YAML parser.

pub mod keys;
mod lockfile;

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use age::secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::inventory::{self, Inventory, SchemaError};
use keys::io_words;
pub use keys::{Keyring, TerminalPrompt};
pub use lockfile::Lock;

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
    path: PathBuf,
    sealing: Sealing,
    lock: Option<Lock>,
    /// SHA-256 of the file as this store last read or wrote it, to notice other writers.
    fingerprint: [u8; 32],
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("locked", &self.lock.is_some())
            .finish()
    }
}

impl Store {
    /// Opens and decrypts `path` for reading; saving needs [`Store::lock`] first.
    pub fn open(path: &Path, keys: &Keyring) -> Result<(Store, Inventory), StoreError> {
        let (inventory, sealing, fingerprint) = read(path, keys)?;
        Ok((
            Store {
                path: path.to_path_buf(),
                sealing,
                lock: None,
                fingerprint,
            },
            inventory,
        ))
    }

    /// Takes the write lock, then opens `path`: nobody else can save until this store drops.
    pub fn open_locked(path: &Path, keys: &Keyring) -> Result<(Store, Inventory), StoreError> {
        check_path(path)?;
        let lock = Lock::acquire(path)?;
        let (mut store, inventory) = Store::open(path, keys)?;
        store.lock = Some(lock);
        Ok((store, inventory))
    }

    /// Creates a new inventory file encrypted to `inventory.recipients`, and keeps it locked.
    pub fn create(path: &Path, inventory: &Inventory) -> Result<Store, StoreError> {
        Self::create_sealed(path, inventory, Sealing::Recipients)
    }

    /// Creates a new inventory file encrypted with a passphrase, and keeps it locked.
    pub fn create_with_passphrase(
        path: &Path,
        inventory: &Inventory,
        passphrase: SecretString,
    ) -> Result<Store, StoreError> {
        Self::create_sealed(path, inventory, Sealing::Passphrase(passphrase))
    }

    fn create_sealed(
        path: &Path,
        inventory: &Inventory,
        sealing: Sealing,
    ) -> Result<Store, StoreError> {
        if path.exists() {
            return Err(StoreError::Exists {
                path: path.to_path_buf(),
            });
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| StoreError::Write {
                path: path.to_path_buf(),
                detail: io_words(&e),
            })?;
        }
        let lock = Lock::acquire(path)?;
        let mut store = Store {
            path: path.to_path_buf(),
            sealing,
            lock: Some(lock),
            fingerprint: [0; 32],
        };
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

    /// The inventory file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file is passphrase-encrypted.
    pub fn is_passphrase_sealed(&self) -> bool {
        matches!(self.sealing, Sealing::Passphrase(_))
    }

    /// Encrypts `inventory` and replaces the file atomically: a temp file in the same
    /// directory, fsync, the old version kept as backup `FILE.1`, rename, fsync the directory.
    /// On any failure the previous file is untouched.
    pub fn save(&mut self, inventory: &Inventory) -> Result<(), StoreError> {
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
        let ciphertext = self.seal(inventory)?;
        write_atomically(&self.path, &ciphertext).map_err(|e| StoreError::Write {
            path: self.path.clone(),
            detail: io_words(&e),
        })?;
        self.fingerprint = Sha256::digest(&ciphertext).into();
        Ok(())
    }

    /// Saves holding the lock only for the save itself, for long sessions such as the
    /// dashboard, so cron jobs and other commands are not held off meanwhile. If another
    /// writer changed the file since this store read or wrote it, nothing is saved: their
    /// change is never overwritten.
    pub fn save_briefly(&mut self, inventory: &Inventory) -> Result<(), StoreError> {
        let held = self.lock.is_some();
        if !held {
            self.lock = Some(Lock::acquire(&self.path)?);
        }
        let result = match fs::read(&self.path) {
            Ok(bytes) if <[u8; 32]>::from(Sha256::digest(&bytes)) != self.fingerprint => {
                Err(StoreError::ChangedOnDisk {
                    path: self.path.clone(),
                })
            }
            Ok(_) => self.save(inventory),
            Err(e) => Err(StoreError::Read {
                path: self.path.clone(),
                detail: io_words(&e),
            }),
        };
        if !held {
            self.lock = None;
        }
        result
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

fn read(path: &Path, keys: &Keyring) -> Result<(Inventory, Sealing, [u8; 32]), StoreError> {
    check_path(path)?;
    let p = || path.to_path_buf();
    let bytes = fs::read(path).map_err(|e| StoreError::Read {
        path: p(),
        detail: io_words(&e),
    })?;
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
    let armored = age::armor::ArmoredReader::new(&bytes[..]);
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
        let passphrase = keys.passphrase(path)?;
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
    let mut plaintext = Zeroizing::new(Vec::new());
    let mut reader = reader;
    reader
        .read_to_end(&mut plaintext)
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
    Ok((inventory, sealing, Sha256::digest(&bytes).into()))
}

fn decrypt_error(path: &Path, keys: &Keyring, e: age::DecryptError) -> StoreError {
    match e {
        age::DecryptError::NoMatchingKeys => StoreError::NoMatchingIdentity {
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

/// Writes `bytes` to a temp file beside `path`, keeps the current file as backup, and
/// renames the temp file over `path`, with the fsyncs that make the rename durable.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        if path.exists() {
            rotate_backups(path)?;
        }
        fs::rename(&tmp, path)?;
        fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Shifts `FILE.1 → FILE.2 …` and hard-links the current file as `FILE.1`: the link keeps
/// the old version's inode when the rename replaces the name, without copying it.
fn rotate_backups(path: &Path) -> std::io::Result<()> {
    let backup = |n: usize| {
        let mut s = path.as_os_str().to_owned();
        s.push(format!(".{n}"));
        PathBuf::from(s)
    };
    for n in (1..BACKUP_GENERATIONS).rev() {
        if backup(n).exists() {
            fs::rename(backup(n), backup(n + 1))?;
        }
    }
    match fs::hard_link(path, backup(1)) {
        Ok(()) => Ok(()),
        // Filesystems without hard links get a copy instead.
        Err(_) => fs::copy(path, backup(1)).map(|_| ()),
    }
}

/// The backup file of generation `n` (1 = newest) for `path`.
pub fn backup_path(path: &Path, n: usize) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}
