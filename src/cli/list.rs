//! `keyward list`: every credential with its status, as a table or JSON.

use anyhow::Result;

use super::select::SelectArgs;
use super::{table, Context};
use crate::export::Row;
use crate::inventory::CredentialRef;
use crate::ops::select;

/// Arguments of `keyward list`.
#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// Only these credentials, as CLIENT/INTEGRATION.
    #[arg(value_parser = super::parse_ref, value_name = "CLIENT/INTEGRATION")]
    pub refs: Vec<CredentialRef>,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Also list archived credentials.
    #[arg(long)]
    pub archived: bool,
}

/// Runs `keyward list`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let (_, inv) = ctx.open()?;
    let now = ctx.now();
    let mut selection = args.select.selection(&args.refs);
    // A list shows revoked credentials too (they are part of the record); only work skips them.
    selection.include_retired = true;
    let picked = select(&inv, &selection, now)
        .map_err(|e| anyhow::anyhow!("{}: {e}", ctx.inventory_shown()))?;
    let selected: Vec<Row> = picked
        .iter()
        .filter_map(|p| {
            let c = inv.credential(&p.at)?;
            (args.archived || !c.archived).then(|| Row::new(&p.at, c, &inv, now))
        })
        .collect();
    if ctx.json() {
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
