//! `keyward discover [--connection C | --client C]`: asks the providers for every key the
//! inventory's connections can see and lists those the inventory does not track, with the
//! clients they most likely belong to. Changes nothing; `keyward adopt` records them.
//!
//! Exit codes (src/cli/exit.rs): 0 nothing untracked and every connection answered;
//! 6 (attention) some key is untracked, as `check` says "needs attention" — not 1, which
//! the table keeps for "keyward itself failed", so cron can tell the two apart; 3 nothing
//! untracked was seen but some connection could not be asked.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::exit::Exit;
use super::json::{ErrorKind, Failure};
use super::{table, Context};
use crate::inventory::{ProviderKind, RemoteStatus};
use crate::ops::discover::{discover, Answer, Discovery, Scope, Sighting, Tracking};
use crate::providers::http::Http;
use crate::providers::registry::ProviderSet;

/// Arguments of `keyward discover`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Ask only this connection.
    #[arg(long, value_name = "CONNECTION", conflicts_with = "client")]
    pub connection: Option<String>,
    /// Ask only the connections this client's credentials use.
    #[arg(long, value_name = "CLIENT")]
    pub client: Option<String>,
    /// How many connections are asked at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub concurrency: usize,
}

impl Args {
    /// The connections to ask.
    pub fn scope(&self) -> Scope {
        match (&self.connection, &self.client) {
            (Some(c), _) => Scope::Connection(c.clone()),
            (None, Some(c)) => Scope::Client(c.clone()),
            (None, None) => Scope::All,
        }
    }
}

/// One untracked key, as `discover --json` shows it.
#[derive(Serialize)]
struct Item<'a> {
    provider: ProviderKind,
    connection: &'a str,
    remote_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    state: RemoteStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_used_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<DateTime<Utc>>,
    scopes: &'a [String],
    suggested_clients: &'a [String],
}

impl<'a> Item<'a> {
    fn new(s: &'a Sighting) -> Item<'a> {
        let k = &s.found.key;
        Item {
            provider: s.provider,
            connection: &s.connection,
            remote_id: &k.remote_id,
            name: k.name.as_deref(),
            state: k.state,
            owner: s.found.owner.as_deref(),
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            expires_at: k.expires_at,
            scopes: &k.scopes,
            suggested_clients: &s.suggested_clients,
        }
    }
}

/// One connection asked, as `discover --json` shows it.
#[derive(Serialize)]
struct Asked<'a> {
    connection: &'a str,
    provider: ProviderKind,
    result: &'static str,
    found: usize,
    tracked: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// The exit code a discovery comes to (see the module's comment).
pub fn exit_of(d: &Discovery) -> Exit {
    if !d.untracked().is_empty() {
        Exit::Attention
    } else if d.failures().next().is_some() {
        Exit::CouldNotCheck
    } else {
        Exit::Done
    }
}

/// Runs the discovery `scope` asks for, progress on stderr.
pub fn run_discovery(ctx: &Context, scope: &Scope, concurrency: usize) -> Result<Discovery> {
    let (_store, inv) = ctx.open()?;
    let http = Http::default();
    let providers = ProviderSet::for_inventory(&http, &ctx.inventory);
    let found =
        super::sync::runtime()?.block_on(discover(&inv, &providers, scope, concurrency, |a| {
            let said = match &a.answer {
                Answer::Listed(keys) => format!("{} key(s)", keys.len()),
                Answer::Unsupported(why) => format!("skipped: {why}"),
                Answer::Failed(e) => format!("failed: {e}"),
            };
            // A provider's error text is the server's words: shown escaped, never obeyed.
            eprintln!(
                "{}",
                crate::text::terminal_safe(&format!("{}: {said}", a.connection))
            );
        }));
    found.map_err(|e| {
        Failure::new(
            ErrorKind::NotFound,
            Exit::Failed,
            format!("{}: {e}", ctx.inventory.display()),
        )
        .into()
    })
}

/// Runs `keyward discover`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let d = run_discovery(ctx, &args.scope(), args.concurrency)?;
    let exit = exit_of(&d).as_code();
    let untracked = d.untracked();
    if ctx.json() {
        let asked: Vec<Asked> = d
            .connections
            .iter()
            .map(|c| {
                let (result, found, tracked, detail) = match &c.answer {
                    Answer::Listed(keys) => (
                        "listed",
                        keys.len(),
                        keys.iter()
                            .filter(|k| k.tracking == Tracking::Tracked)
                            .count(),
                        None,
                    ),
                    Answer::Unsupported(why) => ("unsupported", 0, 0, Some(why.clone())),
                    Answer::Failed(e) => ("failed", 0, 0, Some(e.to_string())),
                };
                Asked {
                    connection: &c.connection,
                    provider: c.provider,
                    result,
                    found,
                    tracked,
                    detail,
                }
            })
            .collect();
        let items: Vec<Item> = untracked.iter().map(|s| Item::new(s)).collect();
        super::json::print(
            super::json::Schema::Discover,
            &serde_json::json!({ "exit": exit, "connections": asked, "untracked": items }),
        )?;
        return Ok(exit);
    }
    let now = ctx.now();
    if !untracked.is_empty() {
        let body: Vec<Vec<String>> = untracked
            .iter()
            .map(|s| {
                let k = &s.found.key;
                vec![
                    s.provider.as_str().to_string(),
                    s.connection.clone(),
                    k.remote_id.clone(),
                    s.found.owner.clone().unwrap_or_else(|| "-".into()),
                    table::date(k.created_at),
                    k.last_used_at
                        .map(|t| table::relative(t, now))
                        .unwrap_or_else(|| "never".into()),
                    if k.scopes.is_empty() {
                        "-".into()
                    } else {
                        k.scopes.join(",")
                    },
                    if s.suggested_clients.is_empty() {
                        "-".into()
                    } else {
                        s.suggested_clients.join(",")
                    },
                ]
            })
            .collect();
        print!(
            "{}",
            table::render(
                &[
                    "PROVIDER",
                    "CONNECTION",
                    "ID",
                    "OWNER",
                    "CREATED",
                    "LAST USED",
                    "SCOPES",
                    "CLIENT?"
                ],
                &body
            )
        );
    }
    let found = d.sightings().count();
    let failed = d.failures().count();
    println!(
        "{} connection(s) asked: {found} key(s) found, {} untracked{}.",
        d.connections.len(),
        untracked.len(),
        if failed > 0 {
            format!(", {failed} connection(s) could not be asked")
        } else {
            String::new()
        }
    );
    if let Some(first) = untracked.first() {
        println!(
            "Record one with `keyward adopt {} --client {}`, then `keyward rotate` takes custody.",
            crate::text::terminal_safe(first.remote_id()),
            first
                .suggested_clients
                .first()
                .map(String::as_str)
                .unwrap_or("CLIENT")
        );
    }
    Ok(exit)
}
