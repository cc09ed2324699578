//! `keyward recipients list|add|remove|accept`: whom saves encrypt to. Every change
//! re-encrypts the inventory at once and is recorded as seen by this person; `accept`
//! records a change someone else made, after which saves go ahead again.

use anyhow::{bail, Result};

use super::{audit, Context};
use crate::audit::Event;
use crate::store::keys::parse_recipient;

/// The `recipients` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Show the recipients.
    List,
    /// Add a recipient (`age1…`, `age1plugin…`, `ssh-ed25519 …`, `ssh-rsa …`) and re-encrypt.
    Add {
        /// The public key.
        recipient: String,
    },
    /// Remove a recipient and re-encrypt.
    Remove {
        /// The public key, as listed.
        recipient: String,
    },
    /// Accept the recipients the inventory has now, after someone else changed them: saves
    /// are refused until then, since they would encrypt every secret to whoever was added.
    Accept,
}

/// Runs `keyward recipients …`.
pub fn run(ctx: &Context, cmd: Command) -> Result<i32> {
    match cmd {
        Command::List => {
            let (store, inv) = ctx.open()?;
            if store.is_passphrase_sealed() {
                println!("(passphrase-encrypted: no recipients)");
            }
            for r in &inv.recipients {
                println!("{}", crate::text::terminal_safe(r));
            }
        }
        Command::Add { recipient } => {
            let (mut store, mut inv) = ctx.open_for_write()?;
            refuse_passphrase(&store)?;
            let recipient = recipient.trim().to_string();
            parse_recipient(&recipient)?;
            if inv.recipients.contains(&recipient) {
                println!("Already a recipient; nothing changed.");
                return Ok(0);
            }
            inv.recipients.push(recipient.clone());
            store.save(&inv)?;
            audit::record(
                ctx,
                Event::new(crate::audit::AuditAction::RecipientAdded, None, recipient),
            )?;
            println!(
                "Added; {} re-encrypted to {} recipient(s).",
                ctx.inventory.display(),
                inv.recipients.len()
            );
        }
        Command::Remove { recipient } => {
            let (mut store, mut inv) = ctx.open_for_write()?;
            refuse_passphrase(&store)?;
            let recipient = recipient.trim();
            let before = inv.recipients.len();
            inv.recipients.retain(|r| r != recipient);
            if inv.recipients.len() == before {
                bail!(
                    "{}: `{recipient}` is not a recipient",
                    ctx.inventory.display()
                );
            }
            if inv.recipients.is_empty() {
                bail!(
                    "{}: refusing to remove the last recipient: nobody could open the inventory",
                    ctx.inventory.display()
                );
            }
            store.save(&inv)?;
            audit::record(
                ctx,
                Event::new(crate::audit::AuditAction::RecipientRemoved, None, recipient),
            )?;
            println!(
                "Removed; {} re-encrypted to {} recipient(s). Older backups ({}.1…) still open with the removed key.",
                ctx.inventory.display(),
                inv.recipients.len(),
                ctx.inventory.display()
            );
        }
        Command::Accept => accept(ctx)?,
    }
    Ok(0)
}

/// Records the inventory's recipients as the set this person has seen, naming what changed.
fn accept(ctx: &Context) -> Result<()> {
    let (mut store, inv) = crate::store::Store::open(&ctx.inventory, &ctx.keyring()?)?;
    refuse_passphrase(&store)?;
    let path = ctx.inventory.display();
    match store.watch_recipients(ctx.seen_record())? {
        crate::store::Seen::Unchanged => {
            println!("{path}: its recipients are as you last saw them; nothing to accept.");
            return Ok(());
        }
        crate::store::Seen::FirstUse { .. } => {
            println!("{path}: first time seen here; its recipients are recorded as seen.");
        }
        crate::store::Seen::Changed(change) => {
            store.accept_recipients(ctx.seen_record())?;
            // Whom secrets are encrypted to changed for this person: on record, like a
            // recipient added or removed here.
            audit::record(ctx, accepted_event(&change))?;
            println!("{path}: accepted: {change}.");
        }
    }
    println!("Saves encrypt to {} recipient(s):", inv.recipients.len());
    for r in &inv.recipients {
        println!("  {}", crate::text::terminal_safe(r));
    }
    Ok(())
}

/// The audit entry for accepting `change`: who was added and removed (public keys only).
pub fn accepted_event(change: &crate::store::RecipientChange) -> Event {
    Event::new(
        crate::audit::AuditAction::RecipientsAccepted,
        None,
        change.to_string(),
    )
}

fn refuse_passphrase(store: &crate::store::Store) -> Result<()> {
    if store.is_passphrase_sealed() {
        bail!(
            "{}: passphrase-encrypted inventories have no recipients (age cannot mix the two)",
            store.path().display()
        );
    }
    Ok(())
}
