//! `keyward init`: a new, empty inventory encrypted to the person's identities (creating
//! an age identity if they have none) or to a passphrase.

use anyhow::{bail, Result};
use secrecy::{ExposeSecret, SecretString};

use super::{audit, Context};
use crate::audit::Event;
use crate::inventory::Inventory;
use crate::store::keys::{generate_identity_file, parse_recipient, recipient_for_identity_file};
use crate::store::{Location, Store};
use crate::text::terminal_safe;

/// Arguments of `keyward init`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Encrypt with a passphrase (asked for twice on the terminal) instead of identities.
    #[arg(long)]
    pub passphrase: bool,
    /// Also encrypt to this recipient (`age1…`, `ssh-ed25519 …`). Repeatable.
    #[arg(long = "recipient", short = 'r', value_name = "RECIPIENT")]
    pub recipients: Vec<String>,
}

/// Runs `keyward init`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    // What the inventory is called in messages: its file, or its s3:// URL.
    let path = &ctx.location;
    // An object in a bucket is checked by the conditional create itself.
    if matches!(path, Location::File(_)) && ctx.inventory.exists() {
        bail!(
            "{}: already exists; keyward will not overwrite an inventory",
            terminal_safe(&path.to_string())
        );
    }
    if args.passphrase {
        let first = rpassword::prompt_password("New passphrase: ").map_err(|_| {
            anyhow::anyhow!("a passphrase is needed, but there is no terminal to ask on")
        })?;
        let second = rpassword::prompt_password("Same passphrase again: ").map_err(|_| {
            anyhow::anyhow!("a passphrase is needed, but there is no terminal to ask on")
        })?;
        let (first, second) = (SecretString::from(first), SecretString::from(second));
        if first.expose_secret() != second.expose_secret() {
            bail!("the two passphrases differ; nothing was created");
        }
        if first.expose_secret().is_empty() {
            bail!("an empty passphrase protects nothing; nothing was created");
        }
        Store::create_with_passphrase(path, &Inventory::new(vec![]), first)?;
        audit::record(
            ctx,
            Event::new(
                crate::audit::AuditAction::Created,
                None,
                "passphrase-encrypted",
            ),
        )?;
        if ctx.json() {
            let created = serde_json::json!({
                "inventory": path.to_string(),
                "passphrase": true,
                "recipients": [],
                "identity_created": null,
            });
            super::json::print(super::json::Schema::Init, &created)?;
        } else {
            println!(
                "Created {} (passphrase-encrypted).",
                terminal_safe(&path.to_string())
            );
        }
        return Ok(0);
    }

    let mut recipients = Vec::new();
    let mut identities = ctx.identity_paths();
    let mut identity_created = None;
    if identities.is_empty() {
        let created = super::default_identities().remove(0);
        let recipient = generate_identity_file(&created)?;
        if !ctx.json() {
            println!(
                "Created identity {} (public key {recipient}).\nBack it up: without it this inventory cannot be opened.",
                created.display()
            );
        }
        identity_created = Some(serde_json::json!({
            "path": created.display().to_string(),
            "recipient": recipient,
        }));
        identities.push(created);
    }
    for id in &identities {
        recipients.push(recipient_for_identity_file(id)?);
    }
    for r in args.recipients {
        parse_recipient(&r)?;
        recipients.push(r.trim().to_string());
    }
    recipients.dedup();
    let mut store = Store::create(path, &Inventory::new(recipients.clone()))?;
    // The set chosen here is the one this person has seen.
    store.accept_recipients(ctx.seen_record())?;
    audit::record(
        ctx,
        Event::new(
            crate::audit::AuditAction::Created,
            None,
            format!("encrypted to {} recipient(s)", recipients.len()),
        ),
    )?;
    if ctx.json() {
        let created = serde_json::json!({
            "inventory": path.to_string(),
            "passphrase": false,
            "recipients": recipients,
            "identity_created": identity_created,
        });
        super::json::print(super::json::Schema::Init, &created)?;
        return Ok(0);
    }
    println!(
        "Created {}, encrypted to {} recipient(s):",
        terminal_safe(&path.to_string()),
        recipients.len()
    );
    for r in &recipients {
        println!("  {r}");
    }
    Ok(0)
}
