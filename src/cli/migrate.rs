//! `keyward migrate FROM TO`: moves an inventory between a local file and an object in a
//! bucket (either way), with its backups and its audit log, byte for byte
//! ([`crate::store::migrate`]). The target must hold nothing yet.

use std::path::PathBuf;

use anyhow::Result;

use super::Context;
use crate::text::terminal_safe;

/// Arguments of `keyward migrate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the inventory is now: a file, or `s3://BUCKET/KEY`.
    #[arg(value_name = "FROM")]
    pub from: PathBuf,
    /// Where it goes: a file, or `s3://BUCKET/KEY`; nothing may be there yet.
    #[arg(value_name = "TO")]
    pub to: PathBuf,
}

/// Runs `keyward migrate`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let from = super::parse_location(&args.from)?;
    let to = super::parse_location(&args.to)?;
    let migrated = crate::store::migrate::migrate(&from, &to)?;
    if ctx.json() {
        let done = serde_json::json!({
            "from": from.to_string(),
            "to": to.to_string(),
            "backups": migrated.backups,
            "audit_entries": migrated.entries,
        });
        super::json::print(super::json::Schema::Migrate, &done)?;
    } else {
        println!(
            "Copied {} to {}: the inventory, {} backup(s) and {} audit log entries. {} is \
             unchanged: remove it once everyone uses the new location.",
            terminal_safe(&from.to_string()),
            terminal_safe(&to.to_string()),
            migrated.backups.len(),
            migrated.entries,
            terminal_safe(&from.to_string()),
        );
    }
    Ok(0)
}
