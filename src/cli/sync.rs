//! `keyward sync [CLIENT/INTEGRATION…]`: asks the providers about the inventory's keys and
//! records what they say (state, dates, scopes, risks; a key the provider no longer knows is
//! flagged `missing`, never removed). Progress goes to stderr, the result table (or JSON) to
//! stdout.
//!
//! Exit codes: 0 every credential asked about was answered (found or missing); 3 some could
//! not be synced (network, refused, no client for its provider in this build), and what did
//! come back is saved; 1 keyward itself failed (the inventory did not open, an unknown
//! credential was named).

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::exit::Exit;
use super::{table, Context};
use crate::audit::{AuditAction, Event};
use crate::inventory::{CredentialRef, RemoteStatus};
use crate::providers::http::Http;
use crate::providers::ProviderError;
use crate::sync::{apply, sync, SyncEvent, SyncOutcome, SyncResult};

/// Arguments of `keyward sync`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The credentials to sync; none: every credential whose provider has an API.
    #[arg(value_name = "CLIENT/INTEGRATION", value_parser = super::parse_ref)]
    pub credentials: Vec<CredentialRef>,
    /// How many providers are asked at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub concurrency: usize,
}

/// The async runtime a command drives the providers on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

#[derive(Serialize)]
struct Report<'a> {
    exit: i32,
    changed: usize,
    credentials: Vec<Item<'a>>,
}

#[derive(Serialize)]
struct Item<'a> {
    credential: String,
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<RemoteStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_used_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    scopes: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    risks: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

impl<'a> Item<'a> {
    fn new(o: &'a SyncOutcome) -> Item<'a> {
        let mut item = Item {
            credential: o.at.to_string(),
            result: o.result.label(),
            state: None,
            created_at: None,
            expires_at: None,
            last_used_at: None,
            scopes: &[],
            risks: &[],
            detail: None,
        };
        match &o.result {
            SyncResult::Found(key) => {
                item.state = Some(key.state);
                item.created_at = key.created_at;
                item.expires_at = key.expires_at;
                item.last_used_at = key.last_used_at;
                item.scopes = &key.scopes;
                item.risks = &key.risks;
            }
            SyncResult::Missing => {
                item.state = Some(RemoteStatus::Missing);
                item.detail = Some("the provider no longer knows this key".to_string());
            }
            SyncResult::Failed(e) => item.detail = Some(failure(e)),
            SyncResult::Skipped { reason } => item.detail = Some(reason.clone()),
        }
        item
    }
}

/// What went wrong, without the provider and credential the table already shows.
fn failure(e: &ProviderError) -> String {
    let mut parts = Vec::new();
    if let Some(r) = &e.request {
        parts.push(r.clone());
    }
    if let Some(s) = e.status {
        parts.push(format!("HTTP {s}"));
    }
    parts.push(e.message.clone());
    parts.join(": ")
}

/// Runs `keyward sync`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    // The write lock is held while the providers are asked, so no other writer can change
    // a credential between the question and the recorded answer.
    let (mut store, mut inv) = ctx.open_for_write()?;
    for at in &args.credentials {
        super::require(&inv, at, &ctx.inventory)?;
    }
    let http = Http::default();
    let outcomes = runtime()?.block_on(sync(
        &inv,
        &ctx.inventory,
        &args.credentials,
        &http,
        args.concurrency,
        |event| {
            if let SyncEvent::Finished {
                at,
                label,
                done,
                total,
            } = event
            {
                eprintln!("[{done}/{total}] {at}: {label}");
            }
        },
    ));
    let changes = apply(&mut inv, &outcomes, ctx.now());
    let changed = changes.len();
    if changed > 0 {
        ctx.save(&mut store, &inv)?;
        // As the dashboard's sync does: one entry per credential whose record changed.
        for (at, detail) in &changes {
            super::audit::record(ctx, Event::new(AuditAction::Synced, Some(at), detail))?;
        }
    }
    let count = |label: &str| {
        outcomes
            .iter()
            .filter(|o| o.result.label() == label)
            .count()
    };
    let (failed, skipped) = (count("failed"), count("skipped"));
    let exit = if failed + skipped > 0 {
        Exit::CouldNotCheck
    } else {
        Exit::Done
    }
    .as_code();
    let items: Vec<Item> = outcomes.iter().map(Item::new).collect();
    if ctx.json() {
        let report = Report {
            exit,
            changed,
            credentials: items,
        };
        super::json::print(super::json::Schema::Sync, &report)?;
        return Ok(exit);
    }
    if items.is_empty() {
        println!("No credential has a provider API to sync with.");
        return Ok(exit);
    }
    let now = ctx.now();
    let body: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            vec![
                i.credential.clone(),
                i.result.to_string(),
                i.state.map(RemoteStatus::as_str).unwrap_or("-").to_string(),
                match (i.result, i.last_used_at) {
                    (_, Some(t)) => table::relative(t, now),
                    ("found", None) => "never".to_string(),
                    _ => "-".to_string(),
                },
                i.detail.clone().unwrap_or_else(|| i.risks.join("; ")),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &["CREDENTIAL", "RESULT", "STATE", "LAST USED", "DETAIL"],
            &body
        )
    );
    println!(
        "{} credentials: {} found, {} missing, {failed} failed, {skipped} skipped; {changed} changed",
        outcomes.len(),
        count("found"),
        count("missing"),
    );
    Ok(exit)
}
