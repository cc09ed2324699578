//! `keyward recipients list|add|remove|accept`: whom saves encrypt to. Every change
//! re-encrypts the inventory at once and is recorded as seen by this person; `accept`
//! records a change someone else made, after which saves go ahead again.

use anyhow::{bail, Result};

use super::exit::Exit;
use super::json::{self, Schema};
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
            if ctx.json() {
                let listed = serde_json::json!({
                    "passphrase": store.is_passphrase_sealed(),
                    "recipients": inv.recipients,
                    "changed": false,
                });
                json::print(Schema::Recipients, &listed)?;
                return Ok(0);
            }
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
                if ctx.json() {
                    print_set(&inv.recipients, false)?;
                } else {
                    println!("Already a recipient; nothing changed.");
                }
                return Ok(Exit::NothingToDo.as_code());
            }
            inv.recipients.push(recipient.clone());
            ctx.save(&mut store, &inv)?;
            audit::record(
                ctx,
                Event::new(crate::audit::AuditAction::RecipientAdded, None, recipient),
            )?;
            if ctx.json() {
                print_set(&inv.recipients, true)?;
                return Ok(0);
            }
            println!(
                "Added; {} re-encrypted to {} recipient(s).",
                ctx.inventory_shown(),
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
                    ctx.inventory_shown()
                );
            }
            if inv.recipients.is_empty() {
                bail!(
                    "{}: refusing to remove the last recipient: nobody could open the inventory",
                    ctx.inventory_shown()
                );
            }
            ctx.save(&mut store, &inv)?;
            audit::record(
                ctx,
                Event::new(crate::audit::AuditAction::RecipientRemoved, None, recipient),
            )?;
            if ctx.json() {
                print_set(&inv.recipients, true)?;
                return Ok(0);
            }
            println!(
                "Removed; {} re-encrypted to {} recipient(s). Older backups ({}.1…) still open with the removed key.",
                ctx.inventory_shown(),
                inv.recipients.len(),
                ctx.inventory_shown()
            );
        }
        Command::Accept => return accept(ctx),
    }
    Ok(0)
}

/// `--json`: the recipients saves encrypt to now, and whether this command changed them.
fn print_set(recipients: &[String], changed: bool) -> Result<()> {
    let set = serde_json::json!({
        "passphrase": false,
        "recipients": recipients,
        "changed": changed,
    });
    json::print(Schema::Recipients, &set)
}

/// Records the inventory's recipients as the set this person has seen, naming what changed.
fn accept(ctx: &Context) -> Result<i32> {
    let (mut store, inv) = crate::store::Store::open(&ctx.location, &ctx.keyring()?)?;
    refuse_passphrase(&store)?;
    let path = ctx.inventory_shown();
    let say = |line: String| {
        if !ctx.json() {
            println!("{}", crate::text::terminal_safe(&line));
        }
    };
    match store.watch_recipients(ctx.seen_record())? {
        crate::store::Seen::Unchanged => {
            if ctx.json() {
                print_set(&inv.recipients, false)?;
            }
            say(format!(
                "{path}: its recipients are as you last saw them; nothing to accept."
            ));
            return Ok(Exit::NothingToDo.as_code());
        }
        crate::store::Seen::FirstUse { .. } => {
            say(format!(
                "{path}: first time seen here; its recipients are recorded as seen."
            ));
        }
        crate::store::Seen::Changed(change) => {
            store.accept_recipients(ctx.seen_record())?;
            // Whom secrets are encrypted to changed for this person: on record, like a
            // recipient added or removed here.
            audit::record(ctx, accepted_event(&change))?;
            say(format!("{path}: accepted: {change}."));
        }
    }
    if ctx.json() {
        print_set(&inv.recipients, true)?;
        return Ok(0);
    }
    println!("Saves encrypt to {} recipient(s):", inv.recipients.len());
    for r in &inv.recipients {
        println!("  {}", crate::text::terminal_safe(r));
    }
    Ok(0)
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
