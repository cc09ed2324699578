//! `keyward report`: the access report a client receives, in Markdown, CSV or JSON, on
//! stdout or written to a file through [`crate::ops::export`] (as the dashboard's `e` does).
//! It never holds a secret.

use std::path::PathBuf;

use anyhow::Result;

use super::select::SelectArgs;
use super::Context;
use crate::inventory::CredentialRef;
use crate::ops::export::{self, ExportRequest};
use crate::ops::select;
use crate::report::{render, Format};

/// Arguments of `keyward report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only these credentials, as CLIENT/INTEGRATION.
    #[arg(value_parser = super::parse_ref, value_name = "CLIENT/INTEGRATION")]
    pub refs: Vec<CredentialRef>,
    #[command(flatten)]
    pub select: SelectArgs,
    /// The format.
    #[arg(long, value_enum, default_value_t = Format::Markdown)]
    pub format: Format,
    /// Write the report to FILE (mode 0600, replaced atomically) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `keyward report`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let (_, inv) = ctx.open()?;
    let now = ctx.now();
    let selection = args.select.selection(&args.refs);
    let mut req = ExportRequest {
        format: args.format,
        refs: Vec::new(),
        client: args.select.client.clone(),
        path: args.output.clone().unwrap_or_default(),
    };
    if !selection.is_empty() {
        let mut shown = selection.clone();
        shown.include_retired = true;
        let picked = select(&inv, &shown, now)
            .map_err(|e| anyhow::anyhow!("{}: {e}", ctx.inventory_shown()))?;
        let filtered = !args.refs.is_empty()
            || args.select.due.is_some()
            || args.select.overdue
            || args.select.stale;
        if filtered {
            if picked.is_empty() {
                anyhow::bail!("no credential matches ({})", selection.describe());
            }
            req.refs = picked.into_iter().map(|p| p.at).collect();
        }
    }
    // `--json` is the JSON report itself on stdout, or what was written with --output.
    if ctx.json() && args.output.is_none() {
        req.format = Format::Json;
    }
    match &args.output {
        None => {
            let report = export::build(&inv, &req, now, &crate::audit::actor());
            print!("{}", render(&report, req.format)?);
        }
        Some(_) if ctx.json() => {
            let log = crate::audit::AuditLog::for_inventory(&ctx.location);
            let own = ctx.own_files();
            let (path, report) = export::export(&own, &log, &inv, &req, now)?;
            let written = serde_json::json!({
                "written": path.display().to_string(),
                "format": clap::ValueEnum::to_possible_value(&args.format)
                    .map(|v| v.get_name().to_string()),
                "summary": report.summary.to_string(),
            });
            super::json::print(super::json::Schema::Report, &written)?;
        }
        Some(_) => {
            let log = crate::audit::AuditLog::for_inventory(&ctx.location);
            let own = ctx.own_files();
            let (path, report) = export::export(&own, &log, &inv, &req, now)?;
            println!(
                "Wrote {} ({}).",
                crate::text::terminal_safe(&path.display().to_string()),
                report.summary
            );
        }
    }
    Ok(0)
}
