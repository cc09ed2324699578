//! `keyward check`: one summary line and an exit code for cron and monitoring.
//! 0 all fine; 6 something due soon, stale or interrupted; 2 something expired or overdue;
//! 3 could not check (the inventory did not open): see [`Exit`].

use anyhow::Result;
use serde::Serialize;

use super::exit::Exit;
use super::select::SelectArgs;
use super::Context;
use crate::inventory::status::assess;
use crate::inventory::{CredentialRef, Status};
use crate::ops::select::selected;

/// Arguments of `keyward check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only these credentials, as CLIENT/INTEGRATION.
    #[arg(value_parser = super::parse_ref, value_name = "CLIENT/INTEGRATION")]
    pub refs: Vec<CredentialRef>,
    #[command(flatten)]
    pub select: SelectArgs,
}

#[derive(Serialize)]
struct Summary {
    exit: i32,
    total: usize,
    counts: std::collections::BTreeMap<Status, usize>,
    interrupted_rotations: usize,
    attention: Vec<String>,
}

/// Runs `keyward check`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let (_, inv) = ctx.open()?;
    let now = ctx.now();
    let mut selection = args.select.selection(&args.refs);
    selection.include_retired = true;
    let picked = selected(&inv, &selection, now)
        .map_err(|e| anyhow::anyhow!("{}: {e}", ctx.inventory.display()))?;
    // Judged one by one, keeping only what the summary needs: at 100,000 credentials a
    // full table row each would cost more than reading the inventory.
    let mut counts: Vec<(Status, usize)> = Status::ALL.iter().map(|s| (*s, 0)).collect();
    let mut total = 0;
    let mut interrupted = 0;
    // Only the JSON summary lists them.
    let list_attention = ctx.json();
    let mut attention: Vec<String> = Vec::new();
    for (p, c) in picked.filter(|(_, c)| !c.archived) {
        let status = assess(c, &inv.policy, now).status;
        total += 1;
        if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == status) {
            slot.1 += 1;
        }
        // Counted by the journal, not the status: an expired credential mid-rotation is both.
        interrupted += usize::from(c.rotation.is_some());
        if list_attention && status < Status::Unknown {
            attention.push(p.at.to_string());
        }
    }
    let count = |s: Status| counts.iter().find(|(x, _)| *x == s).map_or(0, |c| c.1);
    let critical = count(Status::Expired) + count(Status::Overdue);
    let warning = count(Status::DueSoon) + count(Status::Stale) + interrupted;
    let exit = if critical > 0 {
        Exit::Expired
    } else if warning > 0 {
        Exit::Attention
    } else {
        Exit::Done
    }
    .as_code();
    if ctx.json() {
        let summary = Summary {
            exit,
            total,
            counts: counts.iter().copied().collect(),
            interrupted_rotations: interrupted,
            attention,
        };
        super::json::print(super::json::Schema::Check, &summary)?;
        return Ok(exit);
    }
    let mut parts = vec![
        format!("{} expired", count(Status::Expired)),
        format!("{} overdue", count(Status::Overdue)),
        format!("{} due soon", count(Status::DueSoon)),
        format!("{} stale", count(Status::Stale)),
        format!("{} ok", count(Status::Ok)),
    ];
    if count(Status::Revoked) > 0 {
        parts.push(format!("{} revoked", count(Status::Revoked)));
    }
    if count(Status::Unknown) > 0 {
        parts.push(format!("{} without dates", count(Status::Unknown)));
    }
    if interrupted > 0 {
        parts.push(format!(
            "{interrupted} rotation(s) interrupted: run `keyward resume`"
        ));
    }
    let verdict = match Exit::from_code(exit) {
        Some(Exit::Expired) => "CRITICAL",
        Some(Exit::Attention) => "WARNING",
        _ => "OK",
    };
    println!("{verdict}: {total} credentials: {}", parts.join(", "));
    Ok(exit)
}
