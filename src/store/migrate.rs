//! Moving an inventory between locations (a local file and an object in a bucket, either
//! way): the inventory, each backup generation and the audit log, copied byte for byte.
//! Nothing is decrypted or re-encrypted: the ciphertext, its recorded generation and its
//! anchor into the log are the same at the target, so the log and the inventory still
//! agree there. A target that already holds an inventory, a backup or log entries is
//! refused before anything is written.

use std::path::PathBuf;

use super::location::{Location, ObjectAddress};
use super::{backup_path, StoreError, BACKUP_GENERATIONS};
use crate::audit::AuditLog;

/// What a migration copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// Backup generations copied (1 = newest), beside the inventory.
    pub backups: Vec<usize>,
    /// Audit log entries copied.
    pub entries: usize,
}

/// The backup of generation `n` of the inventory at `location`, as a location of its own.
fn backup_of(location: &Location, n: usize) -> Location {
    match location {
        Location::File(path) => Location::File(backup_path(path, n)),
        Location::S3 { object, home } => Location::S3 {
            object: ObjectAddress {
                bucket: object.bucket.clone(),
                key: format!("{}.{n}", object.key),
            },
            home: backup_path(home, n),
        },
    }
}

/// The bytes stored at `location`, or `None` if there are none.
fn stored(location: &Location) -> Result<Option<Vec<u8>>, StoreError> {
    match location.backend()?.read() {
        Ok((bytes, _)) => Ok(Some(bytes)),
        Err(StoreError::Missing { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Copies the inventory at `from`, its backups and its audit log to `to`, which must hold
/// none of them yet. The inventory itself is written last, so a copy that stops half-way
/// leaves no inventory at the target (remove what it wrote, then run it again).
pub fn migrate(from: &Location, to: &Location) -> Result<Migrated, StoreError> {
    let named = |l: &Location| PathBuf::from(l.to_string());
    // A bucket inventory's log is mirrored in its local home: made if missing.
    for at in [from, to] {
        if at.object().is_some() {
            super::prepare_home(at)?;
        }
    }
    let inventory = stored(from)?.ok_or_else(|| StoreError::Missing { path: named(from) })?;
    let targets =
        std::iter::once(to.clone()).chain((1..=BACKUP_GENERATIONS).map(|n| backup_of(to, n)));
    for target in targets {
        if stored(&target)?.is_some() {
            return Err(StoreError::Exists {
                path: named(&target),
            });
        }
    }
    let from_log = AuditLog::for_inventory(from);
    let to_log = AuditLog::for_inventory(to);
    let io = |l: &AuditLog, e: crate::audit::AuditError| StoreError::Write {
        path: PathBuf::from(l.location()),
        detail: e.to_string(),
    };
    if !to_log.lines().map_err(|e| io(&to_log, e))?.is_empty() {
        return Err(StoreError::Exists {
            path: PathBuf::from(to_log.location()),
        });
    }
    let lines = from_log.lines().map_err(|e| io(&from_log, e))?;
    if let Location::File(path) = to {
        crate::fsutil::create_private_dir_all(&crate::fsutil::parent_dir(path)).map_err(|e| {
            StoreError::Write {
                path: path.clone(),
                detail: super::keys::io_words(&e),
            }
        })?;
    }
    let mut backups = Vec::new();
    // Oldest first, so that each lands where nothing else will be written.
    for n in (1..=BACKUP_GENERATIONS).rev() {
        if let Some(bytes) = stored(&backup_of(from, n))? {
            backup_of(to, n).backend()?.write_if(&bytes, None)?;
            backups.push(n);
        }
    }
    backups.reverse();
    to_log.import_lines(&lines).map_err(|e| io(&to_log, e))?;
    to.backend()?.write_if(&inventory, None)?;
    Ok(Migrated {
        backups,
        entries: lines.len(),
    })
}
