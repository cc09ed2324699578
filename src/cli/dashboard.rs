//! `keyward` with no command, and `keyward demo`, on a terminal: the keyboard dashboard over
//! the inventory, saving what it changes (e.g. after a sync) back through the store,
//! reading it again when another writer changed it, and recording reveals, copies and
//! syncs in the audit log.

use std::sync::{Arc, Mutex};

use anyhow::Result;

use super::Context;
use crate::audit::AuditLog;
use crate::store::{Keyring, Store, StoreError};
use crate::tui::{self, DashboardOptions, SaveError};

/// Opens the dashboard over `ctx`'s inventory, titled `title`. The write lock is taken only
/// while saving, so cron jobs and other commands run meanwhile; a save that would overwrite
/// another writer's change is refused, and the dashboard reads the file again instead.
pub fn run(ctx: &Context, title: String, read_only: bool) -> Result<i32> {
    let keys = ctx.keyring()?;
    let (mut store, inventory) = Store::open(&ctx.inventory, &keys)?;
    // Saves refuse a recipient change nobody here made; the dashboard cannot ask, so its
    // status line says why and `keyward recipients accept` is the way out.
    if let Some(change) = ctx.watch_recipients(&mut store)? {
        eprintln!(
            "keyward: warning: {}: {change}; saves are refused until you accept it with \
             `keyward recipients accept`",
            ctx.inventory.display()
        );
    }
    // The save and reload hooks share the store: each save or reload moves the version
    // the next save is checked against.
    let store = Arc::new(Mutex::new(store));
    let mut options = DashboardOptions::new(title);
    options.read_only = read_only;
    options.now = Some(ctx.now());
    options.inventory_path = Some(ctx.inventory.clone());
    if !read_only {
        let store = Arc::clone(&store);
        options.save = Some(Box::new(move |inv| {
            let mut store = store
                .lock()
                .map_err(|_| SaveError::Failed("the store is unusable".into()))?;
            store.save_briefly(inv).map_err(|e| match e {
                StoreError::ChangedOnDisk { .. } => SaveError::ChangedOnDisk(e.to_string()),
                other => SaveError::Failed(other.to_string()),
            })
        }));
    }
    options.reload = Some(reload_hook(store, keys));
    let log = AuditLog::for_inventory(&ctx.inventory);
    options.audit = Some(Box::new(move |event| {
        log.record(event).map_err(|e| e.to_string())
    }));
    tui::run(inventory, options)?;
    Ok(0)
}

/// Reads the file again through `store` when its content changed.
fn reload_hook(store: Arc<Mutex<Store>>, keys: Keyring) -> tui::ReloadHook {
    Box::new(move || {
        let mut store = store
            .lock()
            .map_err(|_| "the store is unusable".to_string())?;
        store.reread(&keys).map_err(|e| e.to_string())
    })
}
