//! `keyward` with no command, and `keyward demo`, on a terminal: the keyboard dashboard over
//! the inventory, saving what it changes (e.g. after a sync) back through the store,
//! reading it again when another writer changed it, running rotations and revocations
//! whose saves take the write lock one save at a time, writing reports, and recording reveals, copies, syncs,
//! rotations, revocations and exports in the audit log.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Result;

use super::Context;
use crate::audit::AuditLog;
use crate::rotation::Persist;
use crate::store::merging::RunStore;
use crate::store::{Keyring, Store, StoreError};
use crate::tui::{self, DashboardOptions, SaveError};

/// The dashboard's one store, shared by its saves, reloads and rotation runs: each moves
/// the version the next save is checked against, so a save after a run knows the file the
/// run wrote (and is not refused as "changed on disk").
type SharedStore = Arc<Mutex<Store>>;

/// Opens the dashboard over `ctx`'s inventory, titled `title`. The write lock is taken only
/// for each save (a run's saves included: never while a plan or a question waits for a
/// person), so cron jobs and other commands run meanwhile. A run's save applies its changes
/// onto another writer's; the dashboard's own edits are refused if the file changed, and it
/// reads the file again instead.
pub fn run(ctx: &Context, title: String, read_only: bool) -> Result<i32> {
    // Identities are opened once for the session: reloads and runs read the file with them.
    let keys = Arc::new(ctx.keyring()?);
    let (mut store, inventory) = Store::open(&ctx.location, &keys)?;
    ctx.warn_if_offline(&store);
    // Saves refuse a recipient change nobody here made; the dashboard cannot ask, so its
    // status line says why and `keyward recipients accept` is the way out.
    if let Some(change) = ctx.watch_recipients(&mut store)? {
        eprintln!(
            "keyward: warning: {}: {change}; saves are refused until you accept it with \
             `keyward recipients accept`",
            ctx.inventory_shown()
        );
    }
    let store_offline = store.offline_since().is_some();
    let store: SharedStore = Arc::new(Mutex::new(store));
    let mut options = DashboardOptions::new(title);
    // The offline copy of a bucket inventory is for reading only.
    options.read_only = read_only || store_offline;
    options.now = Some(ctx.now());
    options.inventory_path = Some(ctx.inventory.clone());
    options.audit_log = Some(AuditLog::for_inventory(&ctx.location));
    if !read_only {
        let saving = Arc::clone(&store);
        options.save = Some(Box::new(move |inv| {
            let mut store = saving
                .lock()
                .map_err(|_| SaveError::Failed("the store is unusable".into()))?;
            store.save_briefly(inv).map_err(|e| match e {
                StoreError::ChangedOnDisk { .. } => SaveError::ChangedOnDisk(e.to_string()),
                other => SaveError::Failed(other.to_string()),
            })
        }));
        let (running, location, run_keys) =
            (Arc::clone(&store), ctx.location.clone(), keys.clone());
        options.open_for_run = Some(Box::new(move || {
            // A run plans on the file as it is now, unlocked; each of its saves takes the lock
            // for that save alone, so a question it asks holds off nobody.
            let (fresh, inventory) =
                Store::open(&location, &run_keys).map_err(|e| e.to_string())?;
            if let Some(disagreement) = fresh.disagreement() {
                return Err(StoreError::Disagrees {
                    path: PathBuf::from(location.to_string()),
                    disagreement: disagreement.clone(),
                }
                .to_string());
            }
            *running.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
            let persist: Box<dyn Persist> = Box::new(RunStore::new(
                Arc::clone(&running),
                Arc::clone(&run_keys),
                inventory.clone(),
            ));
            Ok((persist, inventory))
        }));
    }
    let own = ctx.own_files();
    let exports = AuditLog::for_inventory(&ctx.location);
    options.export = Some(Box::new(move |inv, req, now| {
        crate::ops::export::export(&own, &exports, inv, req, now)
            .map(|(path, report)| (path, report.summary.to_string()))
            .map_err(|e| e.to_string())
    }));
    options.reload = Some(reload_hook(store, keys));
    let log = AuditLog::for_inventory(&ctx.location);
    options.audit = Some(Box::new(move |event| {
        log.record(event).map_err(|e| e.to_string())
    }));
    tui::run(inventory, options)?;
    Ok(0)
}

/// Reads the file again through `store` when its content changed.
fn reload_hook(store: SharedStore, keys: Arc<Keyring>) -> tui::ReloadHook {
    Box::new(move || {
        let mut store = store
            .lock()
            .map_err(|_| "the store is unusable".to_string())?;
        store.reread(&keys).map_err(|e| e.to_string())
    })
}
