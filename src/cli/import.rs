//! `keyward import FILE|-`: adds or updates credentials from CSV or YAML, after showing
//! what would change (`--dry-run` stops there).

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use zeroize::Zeroizing;

use super::{audit, Context};
use crate::audit::Event;
use crate::import::{apply, parse, sniff, Change, Format};
use crate::inventory::CredentialRef;

/// Arguments of `keyward import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file to import, or `-` for stdin.
    pub file: PathBuf,
    /// The format; guessed from the file name or content when not given.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Show what would be added or changed, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs `keyward import`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let from_stdin = args.file.as_os_str() == "-";
    let name = if from_stdin {
        "stdin".to_string()
    } else {
        args.file.display().to_string()
    };
    let mut text = Zeroizing::new(String::new());
    if from_stdin {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("stdin")?;
    } else {
        text = Zeroizing::new(
            std::fs::read_to_string(&args.file)
                .map_err(|e| anyhow::anyhow!("{name}: {}", crate::store::keys::io_words(&e)))?,
        );
    }
    let format = args.format.unwrap_or_else(|| sniff(&name, &text));
    let batch = parse(&name, &text, format)?;
    let has_secrets = batch.records.iter().any(|r| r.credential.secret.is_some());

    let (mut store, mut inv) = if args.dry_run {
        ctx.open()?
    } else {
        ctx.open_for_write()?
    };
    let changes = apply(&mut inv, &batch, ctx.now());
    let (mut added, mut updated, mut same) = (0, 0, 0);
    for change in &changes {
        match change {
            Change::Add(what) => {
                added += 1;
                println!("add        {what}");
            }
            Change::Update(what, fields) => {
                updated += 1;
                println!("change     {what} ({})", fields.join(", "));
            }
            Change::Unchanged(what) => {
                same += 1;
                println!("unchanged  {what}");
            }
        }
    }
    if args.dry_run {
        println!(
            "{added} to add, {updated} to change, {same} unchanged (dry run: nothing written)"
        );
        return Ok(0);
    }
    if added + updated > 0 {
        store.save(&inv)?;
        for event in changes.iter().filter_map(|c| audit_event(c, &name)) {
            audit::record(ctx, event)?;
        }
    }
    println!("{added} added, {updated} changed, {same} unchanged");
    if has_secrets && !from_stdin {
        eprintln!(
            "note: {name} holds secrets in plain text; delete it now that they are encrypted"
        );
    }
    Ok(0)
}

/// The audit entry for one applied change: a credential's, or a connection's (which has no
/// credential address); none for what stayed unchanged.
fn audit_event(change: &Change, source: &str) -> Option<Event> {
    let (what, done) = match change {
        Change::Add(what) => (what, "added".to_string()),
        Change::Update(what, fields) => (what, format!("changed {}", fields.join(", "))),
        Change::Unchanged(_) => return None,
    };
    if let Some(id) = what.strip_prefix("connection ") {
        let done = if done == "added" { "added" } else { "replaced" };
        return Some(Event::new(
            crate::audit::AuditAction::Imported,
            None,
            format!("connection {id} {done} from {source}"),
        ));
    }
    Some(match what.parse::<CredentialRef>() {
        Ok(at) => Event::new(
            crate::audit::AuditAction::Imported,
            Some(&at),
            format!("{done} from {source}"),
        ),
        Err(_) => Event::new(
            crate::audit::AuditAction::Imported,
            None,
            format!("{what} {done} from {source}"),
        ),
    })
}
