//! `keyward add CLIENT/INTEGRATION`: records a credential. The secret comes from stdin or a
//! hidden prompt, never from argv, where `ps` and shell history would keep it.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use super::{audit, parse_time, Context};
use crate::audit::Event;
use crate::inventory::{Credential, CredentialRef, Deploy, Deploys, HistoryEntry, ProviderKind};
use crate::secret::Secret;

/// Arguments of `keyward add`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to record it, as CLIENT/INTEGRATION (the client is created if new).
    #[arg(value_parser = super::parse_ref)]
    pub credential: CredentialRef,
    /// The provider kind: aws-iam, cloudflare, gitlab, openai, twilio, sendgrid, datadog, okta, oauth2, manual, sandbox.
    #[arg(long)]
    pub provider: ProviderKind,
    /// What the integration is, in words.
    #[arg(long)]
    pub name: Option<String>,
    /// The connection that manages it.
    #[arg(long)]
    pub connection: Option<String>,
    /// The provider's id for the key.
    #[arg(long)]
    pub remote_id: Option<String>,
    /// A scope. Repeatable.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Who answers for it.
    #[arg(long)]
    pub owner: Option<String>,
    /// A consumer of the secret. Repeatable.
    #[arg(long = "used-by", value_name = "CONSUMER")]
    pub used_by: Vec<String>,
    /// A provider parameter as KEY=VALUE (e.g. user=crm-bot). Repeatable.
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// When it was issued (YYYY-MM-DD or RFC 3339). Default: now.
    #[arg(long, value_parser = parse_time_arg)]
    pub created: Option<DateTime<Utc>>,
    /// When it expires.
    #[arg(long, value_parser = parse_time_arg)]
    pub expires: Option<DateTime<Utc>>,
    /// When it was last used.
    #[arg(long, value_parser = parse_time_arg)]
    pub last_used: Option<DateTime<Utc>>,
    /// Rotate every DAYS (overrides the policy).
    #[arg(long, value_name = "DAYS")]
    pub rotate_every: Option<u32>,
    /// A command that receives the new secret on stdin after a rotation.
    #[arg(long, value_name = "COMMAND")]
    pub deploy_command: Option<String>,
    /// Record it without a secret.
    #[arg(long)]
    pub no_secret: bool,
}

pub(super) fn parse_param(s: &str) -> std::result::Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

fn parse_time_arg(s: &str) -> std::result::Result<DateTime<Utc>, String> {
    parse_time(s).map_err(|e| e.to_string())
}

/// Reads a secret: a hidden prompt on a terminal, otherwise all of stdin (one trailing
/// newline removed).
pub fn read_secret(prompt: &str) -> Result<Secret> {
    let value = if std::io::stdin().is_terminal() {
        Zeroizing::new(rpassword::prompt_password(prompt)?)
    } else {
        let mut buf = Zeroizing::new(String::new());
        std::io::stdin().read_to_string(&mut buf)?;
        let trimmed = buf.trim_end_matches(['\n', '\r']).len();
        buf.truncate(trimmed);
        buf
    };
    if value.is_empty() {
        bail!(
            "the secret is empty; pipe it on stdin or type it at the prompt (or pass --no-secret)"
        );
    }
    Ok(Secret::new(value.as_str()))
}

/// Runs `keyward add`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    // The secret is read before the lock is taken: a person typing must not hold off
    // other writers.
    let secret = if args.no_secret {
        None
    } else {
        Some(read_secret(&format!("Secret for {}: ", args.credential))?)
    };
    let (mut store, mut inv) = ctx.open_for_write()?;
    if inv.credential(&args.credential).is_some() {
        bail!(
            "{}: `{}` already exists",
            ctx.inventory_shown(),
            args.credential
        );
    }
    let mut cred = Credential::new(&args.credential.integration, args.provider);
    cred.name = args.name.unwrap_or_default();
    cred.connection = args.connection;
    cred.remote_id = args.remote_id;
    cred.scopes = args.scopes;
    cred.owner = args.owner;
    cred.used_by = args.used_by;
    cred.params = args.params.into_iter().collect::<BTreeMap<_, _>>();
    cred.created_at = Some(args.created.unwrap_or(ctx.now()));
    cred.expires_at = args.expires;
    cred.last_used_at = args.last_used;
    cred.rotate_every_days = args.rotate_every;
    cred.deploy = Deploys(
        args.deploy_command
            .map(|run| Deploy::Command {
                run,
                idempotent: false,
            })
            .into_iter()
            .collect(),
    );
    cred.history.push(HistoryEntry {
        at: ctx.now(),
        event: crate::inventory::HistoryEvent::Added,
        detail: String::new(),
    });
    let secret_stored = secret.is_some();
    let detail = format!(
        "provider {}, {}",
        cred.provider,
        if secret_stored {
            "secret stored"
        } else {
            "no secret"
        }
    );
    let provider = cred.provider.as_str();
    cred.secret = secret;
    inv.insert(&args.credential.client, cred);
    ctx.save(&mut store, &inv)?;
    audit::record(
        ctx,
        Event::new(
            crate::audit::AuditAction::Added,
            Some(&args.credential),
            detail,
        ),
    )?;
    if ctx.json() {
        let added = serde_json::json!({
            "credential": args.credential.to_string(),
            "provider": provider,
            "secret_stored": secret_stored,
        });
        super::json::print(super::json::Schema::Add, &added)?;
    } else {
        println!("Added {}.", args.credential);
    }
    Ok(0)
}
