//! `keyward audit`: prints the inventory's audit log, or checks its hash chain; and
//! [`record`], which the commands that change the inventory call once their save succeeded.

use anyhow::{anyhow, Result};

use super::{table, Context};
use crate::audit::{AuditLog, Event};
use crate::inventory::CredentialRef;
use crate::text::terminal_safe;

/// Arguments of `keyward audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this client's entries.
    #[arg(long, value_name = "CLIENT")]
    pub client: Option<String>,
    /// Only this credential's entries.
    #[arg(long, value_name = "CLIENT/INTEGRATION", value_parser = super::parse_ref)]
    pub credential: Option<CredentialRef>,
    /// Check the hash chain: exit 0 when intact, 1 naming the first bad line.
    #[arg(long, conflicts_with_all = ["client", "credential"])]
    pub verify: bool,
}

/// `audit --verify --json`: the chain is intact (a broken one is an error).
#[derive(serde::Serialize)]
struct AuditVerified {
    exists: bool,
    entries: usize,
    compared_with_inventory: bool,
}

/// Records `event` in the inventory's audit log. Call it only after the change was saved,
/// so a failed save records nothing.
pub fn record(ctx: &Context, event: Event) -> Result<()> {
    AuditLog::for_inventory(&ctx.inventory)
        .record(event)
        .map_err(|e| anyhow!("the change was saved, but not logged: {e}"))
}

/// Runs `keyward audit`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let log = AuditLog::for_inventory(&ctx.inventory);
    if args.verify {
        // The chain needs no identity; comparing it with the inventory (rolled back? lines
        // dropped, the log rewritten or deleted?) needs the inventory opened.
        let compared = ctx
            .keyring()
            .ok()
            .and_then(|keys| crate::store::Store::open(&ctx.inventory, &keys).ok())
            .map(|(store, _)| store);
        let disagreement = compared.as_ref().and_then(|s| s.disagreement());
        // A broken chain is named first, by its first bad line; then what the inventory
        // says the log should hold.
        let n = if log.path().exists() {
            log.verify()?
        } else {
            0
        };
        if let Some(d) = disagreement {
            anyhow::bail!("{}: {d}", log.path().display());
        }
        if ctx.json() {
            let verified = AuditVerified {
                exists: log.path().exists(),
                entries: n,
                compared_with_inventory: compared.is_some(),
            };
            super::json::print(super::json::Schema::AuditVerify, &verified)?;
            return Ok(0);
        }
        if !log.path().exists() {
            println!(
                "{}: no audit log yet",
                terminal_safe(&log.path().display().to_string())
            );
            return Ok(0);
        }
        println!(
            "{n} {}, chain intact{}",
            if n == 1 { "entry" } else { "entries" },
            if compared.is_some() {
                ""
            } else {
                " (the inventory could not be opened to compare it with the log)"
            }
        );
        return Ok(0);
    }
    let client_prefix = args.client.as_ref().map(|c| format!("{c}/"));
    let wanted = args.credential.as_ref().map(ToString::to_string);
    let entries: Vec<_> = log
        .read()?
        .into_iter()
        .filter(|e| {
            client_prefix.as_ref().is_none_or(|p| {
                e.credential
                    .as_ref()
                    .is_some_and(|c| c.starts_with(p.as_str()))
            })
        })
        .filter(|e| {
            wanted
                .as_ref()
                .is_none_or(|w| e.credential.as_ref() == Some(w))
        })
        .collect();
    if ctx.json() {
        super::json::print_value(&entries)?;
        return Ok(0);
    }
    if entries.is_empty() {
        println!("No audit entries match.");
        return Ok(0);
    }
    let body: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                e.actor.clone(),
                e.action.clone(),
                e.credential.clone().unwrap_or_else(|| "-".into()),
                e.detail.replace('\n', " "),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &["TIME (UTC)", "ACTOR", "ACTION", "CREDENTIAL", "DETAIL"],
            &body
        )
    );
    Ok(0)
}
