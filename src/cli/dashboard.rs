//! `keyward` with no command, and `keyward demo`, on a terminal: the keyboard dashboard over
//! the inventory, saving what it changes (e.g. after a sync) back through the store and
//! recording reveals, copies and syncs in the audit log.

use anyhow::Result;

use super::Context;
use crate::audit::AuditLog;
use crate::tui::{self, DashboardOptions};

/// Opens the dashboard over `ctx`'s inventory, titled `title`. The write lock is taken only
/// while saving, so cron jobs and other commands run meanwhile; a save that would overwrite
/// another writer's change is refused and reported in the status line instead.
pub fn run(ctx: &Context, title: String, read_only: bool) -> Result<i32> {
    let (mut store, inventory) = ctx.open()?;
    let mut options = DashboardOptions::new(title);
    options.read_only = read_only;
    options.now = Some(ctx.now());
    options.inventory_path = Some(ctx.inventory.clone());
    if !read_only {
        options.save = Some(Box::new(move |inv| {
            store.save_briefly(inv).map_err(|e| e.to_string())
        }));
    }
    let log = AuditLog::for_inventory(&ctx.inventory);
    options.audit = Some(Box::new(move |event| {
        log.record(event).map_err(|e| e.to_string())
    }));
    tui::run(inventory, options)?;
    Ok(0)
}
