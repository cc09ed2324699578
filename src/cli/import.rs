//! `keyward import FILE|-`: adds or updates credentials from CSV or YAML (a whole inventory
//! file such as `inventories/example.yaml`), after showing what would change (`--dry-run`
//! stops there).

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use zeroize::Zeroizing;

use super::{audit, Context};
use crate::audit::Event;
use crate::import::{apply, parse, sniff, Change, Format};
use crate::inventory::CredentialRef;
use crate::text::terminal_safe;

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
    // Read at most one byte past the limit: a larger file is refused without ever being
    // held in memory whole.
    let limit = crate::inventory::bounds::MAX_DOCUMENT_BYTES;
    let mut bytes = Zeroizing::new(Vec::new());
    if from_stdin {
        std::io::stdin()
            .take(limit as u64 + 1)
            .read_to_end(&mut bytes)
            .context("stdin")?;
    } else {
        std::fs::File::open(&args.file)
            .and_then(|f| f.take(limit as u64 + 1).read_to_end(&mut bytes))
            .map_err(|e| anyhow::anyhow!("{name}: {}", crate::store::keys::io_words(&e)))?;
    }
    if bytes.len() > limit {
        anyhow::bail!("{name}: larger than {limit} bytes, the most keyward imports");
    }
    let text = Zeroizing::new(String::from_utf8(std::mem::take(&mut *bytes)).map_err(|e| {
        zeroize::Zeroize::zeroize(&mut e.into_bytes());
        anyhow::anyhow!("{name}: not UTF-8 text")
    })?);
    let format = args.format.unwrap_or_else(|| sniff(&name, &text));
    let batch = parse(&name, &text, format)?;
    let has_secrets = batch.records.iter().any(|r| r.credential.secret.is_some());

    let (mut store, mut inv) = if args.dry_run {
        ctx.open()?
    } else {
        ctx.open_for_write()?
    };
    let changes = apply(&mut inv, &batch, ctx.now());
    // The checks a save makes, made now: a dry run refuses what the real run would.
    if let Some((path, why)) = crate::inventory::validate::check(&inv).into_iter().next() {
        anyhow::bail!(
            "{name}: importing it would make the inventory invalid: {}: {why}; nothing written",
            crate::inventory::locate::render(&path)
        );
    }
    let (mut added, mut updated, mut same, mut skipped) = (0, 0, 0, 0);
    for change in &changes {
        match change {
            Change::Add(what) => {
                added += 1;
                if !ctx.json() {
                    println!("add        {}", terminal_safe(what));
                }
            }
            Change::Update(what, fields) => {
                updated += 1;
                if !ctx.json() {
                    println!("change     {} ({})", terminal_safe(what), fields.join(", "));
                }
            }
            Change::Unchanged(what) => {
                same += 1;
                if !ctx.json() {
                    println!("unchanged  {}", terminal_safe(what));
                }
            }
            Change::NotApplied(what, why) => {
                skipped += 1;
                if !ctx.json() {
                    println!("not added  {} ({why})", terminal_safe(what));
                }
            }
        }
    }
    let skipped = if skipped > 0 {
        format!(", {skipped} not added")
    } else {
        String::new()
    };
    if args.dry_run {
        if ctx.json() {
            super::import_json::print(&changes, true)?;
            return Ok(0);
        }
        println!(
            "{added} to add, {updated} to change, {same} unchanged{skipped} (dry run: nothing written)"
        );
        return Ok(0);
    }
    if added + updated > 0 {
        ctx.save(&mut store, &inv)?;
        for event in changes.iter().filter_map(|c| audit_event(c, &name)) {
            audit::record(ctx, event)?;
        }
    }
    if ctx.json() {
        super::import_json::print(&changes, false)?;
    } else {
        println!("{added} added, {updated} changed, {same} unchanged{skipped}");
    }
    if has_secrets && !from_stdin {
        eprintln!(
            "note: {} holds secrets in plain text; delete it now that they are encrypted",
            terminal_safe(&name)
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
        Change::Unchanged(_) | Change::NotApplied(..) => return None,
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
