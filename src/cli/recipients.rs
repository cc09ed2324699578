//! `keyward recipients list|add|remove`: whom saves encrypt to. Every change re-encrypts
//! the inventory at once.

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
    }
    Ok(0)
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
