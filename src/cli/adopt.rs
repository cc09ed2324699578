//! `keyward adopt ID… --client C [--name N]`: records keys `keyward discover` found
//! untracked, without a secret (keyward never saw it), with the provider's dates and owner
//! and why they are there. `keyward rotate` then takes custody: a new key created, stored,
//! deployed and verified, the found one revoked.

use anyhow::Result;

use super::audit::record;
use super::exit::Exit;
use super::json::{self, Schema};
use super::Context;
use crate::audit::{AuditAction, Event};
use crate::ops::adopt::adopt;
use crate::ops::discover::Scope;

/// Arguments of `keyward adopt`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The provider's ids of the keys to adopt, as `keyward discover` lists them.
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,
    /// The client the keys belong to (created if new).
    #[arg(long, value_name = "CLIENT")]
    pub client: String,
    /// The credential's id (one key only); default: the provider and the key's id.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Look for the keys through this connection only.
    #[arg(long, value_name = "CONNECTION")]
    pub connection: Option<String>,
}

/// Runs `keyward adopt`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let scope = match &args.connection {
        Some(c) => Scope::Connection(c.clone()),
        None => Scope::All,
    };
    // The providers are asked before the write lock is taken: the answer only proposes,
    // and `adopt` checks it again against the inventory as it is under the lock.
    let found = super::discover::run_discovery(ctx, &scope, 4)?;
    let (mut store, mut inv) = ctx.open_for_write()?;
    let done = adopt(
        &mut inv,
        &found,
        &args.ids,
        &args.client,
        args.name.as_deref(),
        ctx.now(),
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", ctx.inventory.display()))?;
    store.save(&inv)?;
    for a in &done {
        record(
            ctx,
            Event::new(AuditAction::Adopted, Some(&a.at), &a.reason),
        )?;
    }
    if ctx.json() {
        let adopted: Vec<serde_json::Value> = done
            .iter()
            .map(
                |a| serde_json::json!({ "credential": a.at.to_string(), "remote_id": a.remote_id }),
            )
            .collect();
        json::print(Schema::Adopt, &serde_json::json!({ "adopted": adopted }))?;
    } else {
        for a in &done {
            println!(
                "Adopted {} as {} (no secret: `keyward rotate {}` takes custody).",
                crate::text::terminal_safe(&a.remote_id),
                a.at,
                a.at
            );
        }
    }
    Ok(Exit::Done.as_code())
}
