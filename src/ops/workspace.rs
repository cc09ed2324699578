//! What a front end holds to act on one inventory: where it is, the identities that open
//! it (loaded once: a passphrase is asked once per session, not once per action), and its
//! audit log.

use std::path::{Path, PathBuf};

use crate::audit::{AuditError, AuditLog, Event};
use crate::inventory::Inventory;
use crate::store::{Keyring, OwnFiles, Store, StoreError};

/// One inventory and the means to open it.
pub struct Workspace {
    path: PathBuf,
    keyring: Keyring,
    audit: AuditLog,
    own: OwnFiles,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Workspace {
    /// The inventory at `path`, opened with `keyring`; its audit log beside it; `own`,
    /// the files no output may replace.
    pub fn new(path: PathBuf, keyring: Keyring, own: OwnFiles) -> Workspace {
        let audit = AuditLog::for_inventory(&path);
        Workspace {
            path,
            keyring,
            audit,
            own,
        }
    }

    /// The inventory file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The audit log beside it.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Appends `event` to the audit log.
    pub fn record(&self, event: Event) -> Result<(), AuditError> {
        self.audit.record(event)
    }

    /// Reads the inventory as it is on disk now, without the write lock.
    pub fn read(&self) -> Result<(Store, Inventory), StoreError> {
        Store::open(&self.path, &self.keyring)
    }

    /// Reads the inventory from disk holding the write lock until the returned store is
    /// dropped: a run always starts from the current file (never from what a screen showed
    /// minutes ago), and another keyward (`keyward rotate` from cron) cannot work on the
    /// same inventory meanwhile: it finds the lock taken. The store is the run's
    /// [`crate::rotation::Persist`].
    pub fn open_for_run(&self) -> Result<(Store, Inventory), StoreError> {
        Store::open_locked(&self.path, &self.keyring)
    }

    /// Writes the access report `req` asks for and records it: [`super::export::export`]
    /// for this inventory. Returns the absolute path written and the report.
    pub fn export(
        &self,
        inv: &Inventory,
        req: &super::export::ExportRequest,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(PathBuf, crate::report::Report), super::export::ExportError> {
        super::export::export(&self.own, &self.audit, inv, req, now)
    }

    /// A runner over `inventory` (read by [`Workspace::open_for_run`]) saving through
    /// `store`, with every provider this build has and this inventory's audit log.
    pub fn runner(
        &self,
        store: Store,
        inventory: Inventory,
        interact: std::sync::Arc<dyn crate::rotation::Interact>,
        config: super::RunConfig,
    ) -> super::Runner {
        super::Runner::for_inventory(inventory, Box::new(store), &self.path, interact, config)
    }
}
