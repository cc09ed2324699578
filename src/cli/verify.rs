//! `keyward verify CLIENT/INTEGRATION…`: checks that each stored secret still works, with a
//! read-only call the provider answers for that secret. Writes nothing to the inventory;
//! each check is recorded in the audit log.
//!
//! Exit codes: 0 every secret is valid; 2 at least one is invalid (the provider refused it);
//! 3 none is invalid but at least one could not be checked (network, rate limit: try
//! later) or cannot be checked (no secret stored, no API for its provider); 1 keyward
//! itself failed (the inventory did not open, an unknown credential was named).

use anyhow::Result;
use serde::Serialize;

use super::exit::Exit;
use super::{table, Context};
use crate::inventory::CredentialRef;
use crate::providers::http::Http;
use crate::providers::Verification;
use crate::verify::verify;

/// Arguments of `keyward verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The credentials to check.
    #[arg(value_name = "CLIENT/INTEGRATION", required = true, value_parser = super::parse_ref)]
    pub credentials: Vec<CredentialRef>,
    /// How many providers are asked at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub concurrency: usize,
}

#[derive(Serialize)]
struct Report<'a> {
    exit: i32,
    credentials: Vec<Item<'a>>,
}

#[derive(Serialize)]
struct Item<'a> {
    credential: String,
    #[serde(flatten)]
    verification: &'a Verification,
}

/// Runs `keyward verify`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let (_, inv) = ctx.open()?;
    for at in &args.credentials {
        super::require(&inv, at, &ctx.inventory)?;
    }
    eprintln!("checking {} credential(s)…", args.credentials.len());
    let http = Http::default();
    let results = super::sync::runtime()?.block_on(verify(
        &inv,
        &ctx.inventory,
        &args.credentials,
        &http,
        args.concurrency,
    ));
    // Each check sent a stored secret to its provider: it is on record, as the
    // dashboard's are, before anything is printed.
    let log = crate::audit::AuditLog::for_inventory(&ctx.location);
    for (at, verdict) in &results {
        log.record(crate::verify::audit_event(at, verdict))
            .map_err(|e| anyhow::anyhow!("checked, but not logged: {e}"))?;
    }
    let any = |label: &str| results.iter().any(|(_, v)| v.label() == label);
    let exit = if any("invalid") {
        Exit::Expired
    } else if any("could-not-check") || any("cannot-check") {
        Exit::CouldNotCheck
    } else {
        Exit::Done
    }
    .as_code();
    if ctx.json() {
        let report = Report {
            exit,
            credentials: results
                .iter()
                .map(|(at, v)| Item {
                    credential: at.to_string(),
                    verification: v,
                })
                .collect(),
        };
        super::json::print(super::json::Schema::Verify, &report)?;
        return Ok(exit);
    }
    let body: Vec<Vec<String>> = results
        .iter()
        .map(|(at, v)| {
            let reason = match v {
                Verification::Valid => String::new(),
                Verification::Invalid { reason }
                | Verification::CouldNotCheck { reason }
                | Verification::CannotCheck { reason } => reason.clone(),
            };
            vec![at.to_string(), v.label().to_string(), reason]
        })
        .collect();
    print!("{}", table::render(&["CREDENTIAL", "RESULT", "WHY"], &body));
    Ok(exit)
}
