//! The storage an inventory's ciphertext is read from and written to, behind one trait:
//! a local file ([`LocalFile`]) or an object in an S3-compatible bucket
//! ([`super::s3::S3Object`]). Every write is conditional on the version last read, so two
//! writers can never silently overwrite one another.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::keys::io_words;
use super::StoreError;

/// The version of the stored bytes a store read or wrote, as the storage names it (a
/// local file's SHA-256, an object's ETag): what the next conditional write compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(String);

impl Version {
    /// The storage's own name for a version.
    pub fn new(tag: impl Into<String>) -> Version {
        Version(tag.into())
    }

    /// The version of `bytes` as a local file: their SHA-256.
    pub fn of_bytes(bytes: &[u8]) -> Version {
        Version(hex::encode(Sha256::digest(bytes)))
    }

    /// The storage's name for it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where an inventory's ciphertext is kept. Errors name the inventory's local home path
/// (the one [`super::Store::path`] gives) and say what to do.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// The stored bytes and their version; [`StoreError::Missing`] if there are none.
    fn read(&self) -> Result<(Vec<u8>, Version), StoreError>;

    /// Replaces the stored bytes with `bytes` if they are still at `expected` (`None`: only
    /// if nothing is stored yet), keeping the previous version as a backup. Another
    /// writer's version in between gives [`StoreError::ChangedOnDisk`] and writes nothing.
    fn write_if(&self, bytes: &[u8], expected: Option<&Version>) -> Result<Version, StoreError>;
}

/// An inventory file on this machine. Its version is the file's SHA-256; writes replace it
/// atomically with backups beside it ([`super::BACKUP_GENERATIONS`]). Writers on this
/// machine also hold the inventory's lock while they compare and write.
#[derive(Debug)]
pub struct LocalFile {
    path: PathBuf,
}

impl LocalFile {
    /// The file at `path`.
    pub fn new(path: &Path) -> LocalFile {
        LocalFile {
            path: path.to_path_buf(),
        }
    }

    fn current(&self) -> Result<Option<Version>, StoreError> {
        match fs::read(&self.path) {
            Ok(bytes) => Ok(Some(Version::of_bytes(&bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Read {
                path: self.path.clone(),
                detail: io_words(&e),
            }),
        }
    }
}

impl Backend for LocalFile {
    fn read(&self) -> Result<(Vec<u8>, Version), StoreError> {
        super::check_path(&self.path)?;
        super::refuse_exposed_inventory(&self.path)?;
        let bytes = fs::read(&self.path).map_err(|e| StoreError::Read {
            path: self.path.clone(),
            detail: io_words(&e),
        })?;
        let version = Version::of_bytes(&bytes);
        Ok((bytes, version))
    }

    fn write_if(&self, bytes: &[u8], expected: Option<&Version>) -> Result<Version, StoreError> {
        if self.current()?.as_ref() != expected {
            return Err(StoreError::ChangedOnDisk {
                path: self.path.clone(),
            });
        }
        super::write_atomically(&self.path, bytes).map_err(|e| StoreError::Write {
            path: self.path.clone(),
            detail: io_words(&e),
        })?;
        Ok(Version::of_bytes(bytes))
    }
}
