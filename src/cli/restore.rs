//! `keyward restore FILE`: puts a backup (`FILE.1`…, or any copy of the inventory) back as
//! the newest version on purpose, past every save the audit log knows, and logs it. The way
//! to go back to a backup without it looking like a rollback, and the way out once keyward
//! has refused an inventory that disagrees with its log.

use std::path::PathBuf;

use anyhow::Result;

use super::{audit, Context};
use crate::audit::Event;
use crate::store::Store;

/// Arguments of `keyward restore`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The backup to restore, e.g. `inventory.yaml.age.2`, or for an inventory in a
    /// bucket the backup object `s3://BUCKET/KEY.2`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Runs `keyward restore`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let keys = ctx.keyring()?;
    // What was wrong before, for the log: the reason a person restores.
    let before = Store::open(&ctx.location, &keys)
        .ok()
        .and_then(|(s, _)| s.disagreement().map(ToString::to_string));
    // A backup is as unauthenticated as the inventory: one whose recipients differ from
    // those last seen is shown and asked about, as before any save.
    // Only looked at: opening it as an inventory would check (and mark) a log of its own.
    let source = super::parse_location(&args.file)?;
    let (restored, passphrase_sealed) = Store::peek(&source, &keys)?;
    let mut accepted = None;
    if !passphrase_sealed {
        if let Some(seen) = ctx.seen_record().load()? {
            let now = crate::store::recipients_seen::recipient_set(&restored.recipients);
            if let Some(change) = crate::store::RecipientChange::between(&seen, &now) {
                ctx.confirm_recipient_change(&change, true)?;
                accepted = Some(change);
            }
        }
    }
    let (mut store, _, from) = Store::restore(&ctx.location, &source, &keys)?;
    store.accept_recipients(ctx.seen_record())?;
    let mut detail = format!(
        "restored {} (generation {from}) as generation {}",
        args.file.display(),
        store.generation()
    );
    if let Some(b) = before {
        detail.push_str(&format!("; before: {b}"));
    }
    audit::record(
        ctx,
        Event::new(crate::audit::AuditAction::Restored, None, detail),
    )?;
    if let Some(change) = accepted {
        audit::record(ctx, super::recipients::accepted_event(&change))?;
    }
    if ctx.json() {
        let restored = serde_json::json!({
            "restored": args.file.display().to_string(),
            "from_generation": from,
            "inventory": ctx.location.to_string(),
            "generation": store.generation(),
        });
        super::json::print(super::json::Schema::Restore, &restored)?;
    } else {
        println!(
            "Restored {} as {} (generation {}).",
            crate::text::terminal_safe(&args.file.display().to_string()),
            ctx.inventory_shown(),
            store.generation()
        );
    }
    Ok(0)
}
