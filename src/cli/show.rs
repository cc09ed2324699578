//! `keyward show CLIENT/INTEGRATION`: every field of one credential, the secret masked.

use anyhow::Result;

use super::{require, table, Context};
use crate::export::Row;
use crate::inventory::CredentialRef;
use crate::text::terminal_safe;

/// Arguments of `keyward show`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The credential, as CLIENT/INTEGRATION.
    #[arg(value_parser = super::parse_ref, value_name = "CLIENT/INTEGRATION")]
    pub credential: CredentialRef,
}

/// Runs `keyward show`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let (_, inv) = ctx.open()?;
    let cred = require(&inv, &args.credential, &ctx.inventory)?;
    let now = ctx.now();
    let row = Row::new(&args.credential, cred, &inv, now);
    if ctx.json() {
        let mut v = serde_json::to_value(&row)?;
        // `params`, the deploy sink and history hold no secrets; `auth` and `secret` stay out.
        v["params"] = serde_json::to_value(&cred.params)?;
        // One target is an object, several a list, none `null` (as before lists).
        v["deploy"] = if cred.deploy.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::to_value(&cred.deploy)?
        };
        if let Some(check) = &cred.deploy_check {
            v["deploy_check"] = serde_json::to_value(check)?;
        }
        v["history"] = serde_json::to_value(&cred.history)?;
        v["connection"] = serde_json::to_value(&cred.connection)?;
        super::json::print(super::json::Schema::Show, &v)?;
        return Ok(0);
    }
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let policy = cred.effective_policy(&inv.policy);
    let mut lines = vec![
        ("credential", row.address.clone()),
        (
            "name",
            if cred.name.is_empty() {
                "-".into()
            } else {
                cred.name.clone()
            },
        ),
        ("provider", row.provider.clone()),
        ("connection", opt(&cred.connection)),
        ("remote id", opt(&cred.remote_id)),
        ("status", row.status.to_string()),
        (
            "secret",
            cred.secret
                .as_ref()
                .map(|s| s.hint())
                .unwrap_or_else(|| "(none stored)".into()),
        ),
        ("scopes", list(&cred.scopes)),
        ("owner", opt(&cred.owner)),
        ("used by", list(&cred.used_by)),
        ("created", table::date_with_days(cred.created_at, now)),
        ("expires", table::date_with_days(cred.expires_at, now)),
        ("last used", table::date_with_days(cred.last_used_at, now)),
        (
            "last rotated",
            table::date_with_days(cred.last_rotated_at, now),
        ),
        ("due", table::date_with_days(row.due_at, now)),
        (
            "policy",
            format!(
                "rotate every {}d, warn {}d before, stale after {}d unused",
                policy.rotate_every_days, policy.warn_before_days, policy.stale_after_days
            ),
        ),
        (
            "deploy",
            match (&cred.deploy, &cred.deploy_check) {
                (d, None) if d.is_empty() => "-".into(),
                (d, None) => d.describe(),
                (d, Some(check)) => format!("{}; {}", d.describe(), check.describe()),
            },
        ),
    ];
    for (k, v) in &cred.params {
        lines.push(("param", format!("{k} = {v}")));
    }
    if cred.rotation.is_some() {
        lines.push(("rotation", "in flight: run `keyward resume`".into()));
    }
    // Every value below is user text (or holds some): shown escaped, never obeyed.
    for (label, value) in lines {
        println!("{label:<13} {}", terminal_safe(&value));
    }
    if !row.reasons.is_empty() {
        println!("reasons");
        for r in &row.reasons {
            println!("  - {}", terminal_safe(r));
        }
    }
    if !cred.history.is_empty() {
        println!("history");
        for h in &cred.history {
            let detail = if h.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", h.detail)
            };
            println!(
                "  {} {}",
                h.at.format("%Y-%m-%d %H:%M"),
                terminal_safe(&format!("{}{detail}", h.event))
            );
        }
    }
    if let Some(notes) = &cred.notes {
        println!("notes         {}", terminal_safe(notes));
    }
    Ok(0)
}
