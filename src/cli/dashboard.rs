//! `keyward` with no command, and `keyward demo`, on a terminal: the keyboard dashboard over
//! the inventory, saving what it changes (e.g. after a sync) back through the store and
//! recording reveals, copies, syncs, rotations and revocations in the audit log.

use std::sync::{Arc, Mutex};

use anyhow::Result;

use super::Context;
use crate::inventory::Inventory;
use crate::ops::Workspace;
use crate::rotation::{Persist, PersistError};
use crate::store::Store;
use crate::tui::{self, DashboardOptions};

/// The dashboard's one store, shared by its saves and its rotation runs, so a save after a
/// run knows the file the run wrote (and is not refused as "changed on disk").
type SharedStore = Arc<Mutex<Store>>;

/// The store as the engine saves through it during a run; dropping it (when the run ends)
/// releases the write lock.
struct RunStore(SharedStore);

impl Persist for RunStore {
    fn persist(&mut self, inventory: &Inventory) -> Result<(), PersistError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .persist(inventory)
    }
}

impl Drop for RunStore {
    fn drop(&mut self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).unlock();
    }
}

/// Opens the dashboard over `ctx`'s inventory, titled `title`. The write lock is taken only
/// while saving or while a rotation or revocation runs, so cron jobs and other commands run
/// meanwhile; a save that would overwrite another writer's change is refused and reported
/// in the status line instead.
pub fn run(ctx: &Context, title: String, read_only: bool) -> Result<i32> {
    // Identities are opened once for the session: a run re-reads the file with them.
    let ws = Arc::new(Workspace::new(ctx.inventory.clone(), ctx.keyring()?));
    let (store, inventory) = ws.read()?;
    let store: SharedStore = Arc::new(Mutex::new(store));
    let mut options = DashboardOptions::new(title);
    options.read_only = read_only;
    options.now = Some(ctx.now());
    options.inventory_path = Some(ctx.inventory.clone());
    if !read_only {
        let saving = store.clone();
        options.save = Some(Box::new(move |inv| {
            saving
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .save_briefly(inv)
                .map_err(|e| e.to_string())
        }));
        let running = ws.clone();
        options.open_for_run = Some(Box::new(move || {
            // A run starts from the file as it is now, and holds the lock until it ends.
            let (fresh, inventory) = running.open_for_run().map_err(|e| e.to_string())?;
            *store.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
            let persist: Box<dyn Persist> = Box::new(RunStore(store.clone()));
            Ok((persist, inventory))
        }));
    }
    options.audit = Some(Box::new(move |event| {
        ws.record(event).map_err(|e| e.to_string())
    }));
    tui::run(inventory, options)?;
    Ok(0)
}
