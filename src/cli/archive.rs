//! `keyward archive`: moves revoked credentials out of the active table (list, the
//! dashboard, reports); their history stays in the inventory (`list --archived`, `show`).

use anyhow::Result;

use super::audit::record;
use super::exit::Exit;
use super::json::{self, Schema};
use super::{require, Context};
use crate::audit::{AuditAction, Event};
use crate::inventory::CredentialRef;
use crate::ops::archive::archive;

/// Arguments of `keyward archive`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Revoked credentials to archive, as CLIENT/INTEGRATION.
    #[arg(required = true, value_parser = super::parse_ref, value_name = "CLIENT/INTEGRATION")]
    pub refs: Vec<CredentialRef>,
}

/// Runs `keyward archive`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let (mut store, mut inv) = ctx.open_for_write()?;
    for at in &args.refs {
        require(&inv, at, &ctx.inventory)?;
    }
    let done = archive(&mut inv, &args.refs, ctx.now())?;
    let report = |done: &[CredentialRef]| -> Result<()> {
        let archived: Vec<String> = done.iter().map(ToString::to_string).collect();
        json::print(
            Schema::Archive,
            &serde_json::json!({ "archived": archived }),
        )
    };
    if done.is_empty() {
        if ctx.json() {
            report(&done)?;
        } else {
            println!("Already archived.");
        }
        return Ok(Exit::NothingToDo.as_code());
    }
    ctx.save(&mut store, &inv)?;
    for at in &done {
        record(
            ctx,
            Event::new(
                AuditAction::Archived,
                Some(at),
                "moved out of the active table",
            ),
        )?;
        if !ctx.json() {
            println!("Archived {at}.");
        }
    }
    if ctx.json() {
        report(&done)?;
    }
    Ok(Exit::Done.as_code())
}
