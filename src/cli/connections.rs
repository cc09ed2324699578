//! `keyward connections list|add|remove|test`: the management credentials keyward itself
//! uses to reach each provider's API. Their secrets come from hidden prompts or stdin, never
//! argv. `test` asks each live service, read-only, what the credential can do
//! ([`crate::providers::connection_check`]).
//!
//! Exit codes of `test`: 0 every call was answered; 2 the service refused at least one call
//! (the credential lacks a permission, or is dead); 3 none was refused but at least one could
//! not be made or answered, or a connection has no check; 1 keyward itself failed.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};

use anyhow::{bail, Result};
use zeroize::Zeroizing;

use super::{audit, table, Context};
use crate::audit::Event;
use crate::inventory::{Connection, ProviderKind};
use crate::providers::connection_check::{check_connections, ConnectionReport, ProbeOutcome};
use crate::providers::http::Http;
use crate::providers::registry::ProviderSet;
use crate::secret::Secret;

/// The `connections` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Show the connections: provider, endpoint, parameters and the names of their secrets.
    List,
    /// Add a connection. Each `--auth NAME` secret is asked for at a hidden prompt, or read
    /// from stdin one per line, in the order given.
    Add {
        /// The connection's id, referenced by credentials as `connection: ID`.
        id: String,
        /// The provider kind.
        #[arg(long)]
        provider: ProviderKind,
        /// The API base URL, when not the provider's public one.
        #[arg(long)]
        endpoint: Option<String>,
        /// A non-secret setting as KEY=VALUE (e.g. region=eu-west-1). Repeatable.
        #[arg(long = "param", value_name = "KEY=VALUE", value_parser = super::add::parse_param)]
        params: Vec<(String, String)>,
        /// The name of a management secret (e.g. secret_access_key). Repeatable.
        #[arg(long = "auth", value_name = "NAME")]
        auth: Vec<String>,
    },
    /// Remove a connection no credential uses.
    Remove {
        /// The connection's id.
        id: String,
    },
    /// Ask each provider, with read-only calls, what the connection's credential can do:
    /// the endpoints it reaches, whether it may create and revoke keys, and what the service
    /// says about it (key type, token owner, partition).
    Test {
        /// Only this connection.
        id: Option<String>,
        /// How many providers are asked at once.
        #[arg(long, value_name = "N", default_value_t = 4)]
        concurrency: usize,
    },
}

/// Runs `keyward connections …`.
pub fn run(ctx: &Context, cmd: Command) -> Result<i32> {
    match cmd {
        Command::List => list(ctx, ctx.json()),
        Command::Test { id, concurrency } => test(ctx, id.as_deref(), ctx.json(), concurrency),
        Command::Add {
            id,
            provider,
            endpoint,
            params,
            auth,
        } => {
            crate::inventory::validate::check_id(&id)
                .map_err(|why| anyhow::anyhow!("connection `{id}`: {why}"))?;
            if let Some(endpoint) = &endpoint {
                check_endpoint_at_add(provider, endpoint)?;
            }
            let secrets = read_secrets(&id, &auth)?;
            let (mut store, mut inv) = ctx.open_for_write()?;
            if inv.connection(&id).is_some() {
                bail!(
                    "{}: connection `{id}` already exists",
                    ctx.inventory_shown()
                );
            }
            inv.connections.push(Connection {
                id: id.clone(),
                provider,
                endpoint,
                auth: auth.into_iter().zip(secrets).collect(),
                params: params.into_iter().collect::<BTreeMap<_, _>>(),
            });
            ctx.save(&mut store, &inv)?;
            audit::record(
                ctx,
                Event::new(
                    crate::audit::AuditAction::ConnectionAdded,
                    None,
                    format!("{id} ({provider})"),
                ),
            )?;
            if ctx.json() {
                let added = serde_json::json!({"connection": id, "provider": provider.as_str(), "action": "added"});
                super::json::print(super::json::Schema::Connection, &added)?;
            } else {
                println!("Added connection {id}.");
            }
            Ok(0)
        }
        Command::Remove { id } => {
            let (mut store, mut inv) = ctx.open_for_write()?;
            let users: Vec<String> = inv
                .credentials()
                .filter(|(_, _, c)| c.connection.as_deref() == Some(id.as_str()))
                .map(|(at, _, _)| at.to_string())
                .collect();
            if !users.is_empty() {
                bail!(
                    "{}: connection `{id}` is used by {}",
                    ctx.inventory_shown(),
                    users.join(", ")
                );
            }
            let before = inv.connections.len();
            inv.connections.retain(|c| c.id != id);
            if inv.connections.len() == before {
                bail!("{}: no connection `{id}`", ctx.inventory_shown());
            }
            ctx.save(&mut store, &inv)?;
            audit::record(
                ctx,
                Event::new(
                    crate::audit::AuditAction::ConnectionRemoved,
                    None,
                    id.clone(),
                ),
            )?;
            if ctx.json() {
                let removed = serde_json::json!({"connection": id, "action": "removed"});
                super::json::print(super::json::Schema::Connection, &removed)?;
            } else {
                println!("Removed connection {id}.");
            }
            Ok(0)
        }
    }
}

/// Refuses an endpoint when it is added rather than when first used: the same rule as every
/// request (HTTPS, or plain HTTP to a loopback address), and no user or password in it,
/// where `connections list` would show them.
fn check_endpoint_at_add(provider: ProviderKind, endpoint: &str) -> Result<()> {
    let url = crate::providers::http::check_endpoint(provider, None, endpoint)?;
    if !url.username().is_empty() || url.password().is_some() {
        bail!(
            "endpoint for {provider}: a user or password in the URL would be shown and logged; \
             give management secrets with --auth"
        );
    }
    Ok(())
}

fn list(ctx: &Context, json: bool) -> Result<i32> {
    let (_, inv) = ctx.open()?;
    let rows: Vec<serde_json::Value> = inv
        .connections
        .iter()
        .map(|c| {
            serde_json::json!({
                "id": c.id,
                "provider": c.provider,
                "endpoint": c.endpoint,
                "params": c.params,
                // The names only: which secrets are set, never their values.
                "auth": c.auth.keys().collect::<Vec<_>>(),
            })
        })
        .collect();
    if json {
        println!(
            "{}",
            crate::text::json_safe(serde_json::to_string_pretty(&rows)?)
        );
        return Ok(0);
    }
    if inv.connections.is_empty() {
        println!("No connections: add one with `keyward connections add`.");
        return Ok(0);
    }
    let body: Vec<Vec<String>> = inv
        .connections
        .iter()
        .map(|c| {
            vec![
                c.id.clone(),
                c.provider.to_string(),
                c.endpoint.clone().unwrap_or_else(|| "(default)".into()),
                c.auth.keys().cloned().collect::<Vec<_>>().join(", "),
                c.params
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(&["ID", "PROVIDER", "ENDPOINT", "SECRETS", "PARAMS"], &body)
    );
    Ok(0)
}

#[derive(serde::Serialize)]
struct TestReport<'a> {
    exit: i32,
    connections: &'a [ConnectionReport],
}

fn test(ctx: &Context, only: Option<&str>, json: bool, concurrency: usize) -> Result<i32> {
    let (_, inv) = ctx.open()?;
    let unknown = || {
        anyhow::anyhow!(
            "{}: no connection `{}`: see `keyward connections list`",
            ctx.inventory_shown(),
            crate::text::terminal_safe(only.unwrap_or_default())
        )
    };
    if only.is_some_and(|id| inv.connection(id).is_none()) {
        return Err(unknown());
    }
    let http = Http::default();
    let providers = ProviderSet::for_inventory(&http, &ctx.inventory);
    eprintln!("asking the providers (read-only)…");
    let reports = super::sync::runtime()?
        .block_on(check_connections(&inv, &providers, only, concurrency))
        .ok_or_else(unknown)?;
    let refused = reports
        .iter()
        .flat_map(|r| &r.probes)
        .any(|p| p.outcome == ProbeOutcome::Refused);
    let exit = if refused {
        2
    } else if reports.iter().all(ConnectionReport::all_allowed) {
        0
    } else {
        3
    };
    if json {
        let report = TestReport {
            exit,
            connections: &reports,
        };
        super::json::print(super::json::Schema::ConnectionsTest, &report)?;
        return Ok(exit);
    }
    if reports.is_empty() {
        println!("No connections: add one with `keyward connections add`.");
        return Ok(exit);
    }
    let body: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            let answered = r
                .probes
                .iter()
                .filter(|p| p.outcome == ProbeOutcome::Allowed)
                .count();
            let reached = if r.checked {
                format!("{answered} of {} calls", r.probes.len())
            } else {
                "not checked".to_string()
            };
            let mut notes: Vec<String> = r
                .probes
                .iter()
                .filter(|p| p.outcome != ProbeOutcome::Allowed)
                .map(|p| format!("{} {}: {}", p.call, p.outcome.as_str(), p.detail))
                .collect();
            notes.extend(r.note.clone());
            vec![
                r.connection.clone(),
                r.provider.to_string(),
                reached,
                r.can_create.as_str().to_string(),
                r.can_revoke.as_str().to_string(),
                r.facts
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join("; "),
                notes.join("; "),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &["ID", "PROVIDER", "REACHED", "CREATE", "REVOKE", "FACTS", "NOTES"],
            &body
        )
    );
    Ok(exit)
}

/// One secret per name: hidden prompts on a terminal, else lines of stdin in order.
fn read_secrets(id: &str, names: &[String]) -> Result<Vec<Secret>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let values: Vec<Zeroizing<String>> = if std::io::stdin().is_terminal() {
        names
            .iter()
            .map(|n| rpassword::prompt_password(format!("{id} {n}: ")).map(Zeroizing::new))
            .collect::<std::io::Result<_>>()?
    } else {
        let mut all = Zeroizing::new(String::new());
        std::io::stdin().read_to_string(&mut all)?;
        all.lines()
            .map(|l| Zeroizing::new(l.trim_end_matches('\r').to_string()))
            .collect()
    };
    if values.len() < names.len() || values.iter().take(names.len()).any(|v| v.is_empty()) {
        bail!(
            "expected {} secret(s) ({}), one per line on stdin or at the prompts; nothing was saved",
            names.len(),
            names.join(", ")
        );
    }
    Ok(values
        .iter()
        .take(names.len())
        .map(|v| Secret::new(v.as_str()))
        .collect())
}
