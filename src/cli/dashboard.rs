//! `keyward` with no command, and `keyward demo`, on a terminal: the keyboard dashboard over
//! the inventory, saving what it changes (e.g. after a sync) back through the store and
//! recording reveals, copies and syncs in the audit log.

use anyhow::Result;

use super::Context;
use crate::audit::AuditLog;
use crate::tui::{self, DashboardOptions};

/// Opens the dashboard over `ctx`'s inventory, titled `title`. The write lock is held for
/// the session unless `read_only`, so a concurrent writer cannot be overwritten by a save.
pub fn run(ctx: &Context, title: String, read_only: bool) -> Result<i32> {
    let (mut store, inventory) = if read_only {
        ctx.open()?
    } else {
        ctx.open_for_write()?
    };
    let mut options = DashboardOptions::new(title);
    options.read_only = read_only;
    options.now = Some(ctx.now());
    if !read_only {
        options.save = Some(Box::new(move |inv| {
            store.save(inv).map_err(|e| e.to_string())
        }));
    }
    let log = AuditLog::for_inventory(&ctx.inventory);
    options.audit = Some(Box::new(move |event| {
        log.record(event).map_err(|e| e.to_string())
    }));
    tui::run(inventory, options)?;
    Ok(0)
}
