//! `keyward list`: every credential with its status, as a table or JSON.

use anyhow::Result;
use chrono::Duration;

use super::{table, Context};
use crate::export::{rows, Row};
use crate::inventory::Status;

/// Arguments of `keyward list`.
#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Only this client's credentials.
    #[arg(long, value_name = "CLIENT")]
    pub client: Option<String>,
    /// Only credentials that expire or fall due within DAYS (past due included).
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(0..=36500))]
    pub expiring: Option<u32>,
    /// Only stale credentials (unused for longer than the policy allows).
    #[arg(long)]
    pub stale: bool,
}

/// Runs `keyward list`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let (_, inv) = ctx.open()?;
    if let Some(c) = &args.client {
        if inv.client(c).is_none() {
            anyhow::bail!("{}: no client `{c}`", ctx.inventory.display());
        }
    }
    let now = ctx.now();
    let selected: Vec<Row> = rows(&inv, now)
        .into_iter()
        .filter(|r| args.client.as_ref().is_none_or(|c| &r.client == c))
        .filter(|r| {
            args.expiring.is_none_or(|days| {
                let horizon = now.checked_add_signed(Duration::days(i64::from(days)));
                r.due_at.is_some_and(|due| horizon.is_none_or(|h| due <= h))
            })
        })
        .filter(|r| {
            !args.stale
                || r.status == Status::Stale
                || r.reasons
                    .iter()
                    .any(|x| x.starts_with("not used") || x.starts_with("never used"))
        })
        .collect();
    if args.json {
        println!(
            "{}",
            crate::text::json_safe(serde_json::to_string_pretty(&selected)?)
        );
        return Ok(0);
    }
    if inv.credential_count() == 0 {
        println!(
            "The inventory is empty: add a credential with `keyward add` or `keyward import`."
        );
        return Ok(0);
    }
    if selected.is_empty() {
        println!("No credentials match.");
        return Ok(0);
    }
    let body: Vec<Vec<String>> = selected
        .iter()
        .map(|r| {
            vec![
                r.address.clone(),
                r.provider.clone(),
                r.status.to_string(),
                table::date_with_days(r.due_at, now),
                r.last_used_at
                    .map(|t| table::relative(t, now))
                    .unwrap_or_else(|| "never".into()),
                r.reasons.first().cloned().unwrap_or_default(),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &[
                "CREDENTIAL",
                "PROVIDER",
                "STATUS",
                "DUE",
                "LAST USED",
                "WHY"
            ],
            &body
        )
    );
    Ok(0)
}
