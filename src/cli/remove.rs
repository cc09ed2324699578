//! `keyward remove CRED…`: a credential gone for good leaves the inventory. A key still live
//! at its provider is revoked first, by `keyward revoke --emergency`'s own code (deleted at
//! once: once the credential is gone nothing would delete it later); `--keep-remote` leaves
//! it there instead, on purpose. Each removal is logged. Under `--json` the revocation's
//! text stays off stdout, which carries one `keyward.remove/1` object.

use anyhow::{bail, Result};
use clap::{Args as _, FromArgMatches as _};

use super::audit::record;
use super::{require, Context};
use crate::audit::{AuditAction, Event};
use crate::inventory::{CredentialRef, Inventory};
use crate::ops::remove::{check, remove, KeyFate, RemoveError};
use crate::store::{Store, StoreError};

/// Arguments of `keyward remove`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Credentials to remove, as CLIENT/INTEGRATION.
    #[arg(required = true, value_parser = super::parse_ref, value_name = "CLIENT/INTEGRATION")]
    pub refs: Vec<CredentialRef>,
    /// Remove without revoking: the key stays usable at the provider, and keyward forgets it.
    #[arg(long)]
    pub keep_remote: bool,
    /// Confirm the revocation up front (needed without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// Runs `keyward remove`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    // Looked at without the lock: the revocation takes it for itself.
    let (_, inv) = ctx.open()?;
    let mut live = Vec::new();
    for at in &args.refs {
        require(&inv, at, &ctx.inventory)?;
        match check(&inv, at, args.keep_remote) {
            Ok(()) => {}
            Err(RemoveError::Live(_)) => live.push(at.clone()),
            Err(e) => bail!("{}: {e}; nothing removed", ctx.inventory_shown()),
        }
    }
    if !live.is_empty() {
        let shown: Vec<String> = live.iter().map(ToString::to_string).collect();
        eprintln!(
            "{} live at the provider: revoking first (deleted now, since nothing will be left to delete it later)",
            shown.join(", ")
        );
        let code = super::rotate::run_revoke_for_remove(ctx, revoke_args(&live, args.yes)?)?;
        if code != 0 {
            bail!(
                "nothing removed: revoking {} did not finish (see above); once it has \
                 (`keyward resume`), run `keyward remove` again",
                shown.join(", ")
            );
        }
    }
    let (mut store, mut inv) = if live.is_empty() {
        ctx.open_for_write_asking(!args.yes)?
    } else {
        open_after_revoke(ctx, !args.yes)?
    };
    let removed = remove(&mut inv, &args.refs, args.keep_remote)
        .map_err(|e| anyhow::anyhow!("{}: {e}; nothing removed", ctx.inventory_shown()))?;
    ctx.save(&mut store, &inv)?;
    let mut report = RemoveJson {
        keep_remote: args.keep_remote,
        removed: Vec::new(),
    };
    for (at, c) in args.refs.iter().zip(&removed) {
        let key = KeyFate::of(c, args.keep_remote, live.contains(at));
        record(
            ctx,
            Event::new(
                AuditAction::Removed,
                Some(at),
                format!("removed from the inventory, {}", key.describe()),
            ),
        )?;
        if !ctx.json() {
            println!("Removed {at} ({}).", key.describe());
        }
        report.removed.push(Removed {
            credential: at.to_string(),
            provider: c.provider.as_str(),
            key,
        });
    }
    if ctx.json() {
        super::json::print(super::json::Schema::Remove, &report)?;
    }
    Ok(0)
}

/// `remove --json`'s object (`keyward.remove/1`).
#[derive(Debug, serde::Serialize)]
struct RemoveJson {
    /// Whether `--keep-remote` was given.
    keep_remote: bool,
    /// One per credential removed, in the order given.
    removed: Vec<Removed>,
}

/// One credential removed.
#[derive(Debug, serde::Serialize)]
struct Removed {
    /// Its address.
    credential: String,
    /// Its provider.
    provider: &'static str,
    /// What became of its key at the provider.
    key: KeyFate,
}

/// Opens for writing once the revocation's writer thread, which ends on its own just after
/// the revocation returns, has let go of the lock: a few seconds at most, then the usual
/// "locked" error (someone else holds it).
fn open_after_revoke(ctx: &Context, may_ask: bool) -> Result<(Store, Inventory)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match ctx.open_for_write_asking(may_ask) {
            Err(e)
                if matches!(e.downcast_ref(), Some(StoreError::Locked { .. }))
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// `keyward revoke --emergency [--yes] REFS…`, parsed by revoke's own definition so the
/// defaults it runs with are exactly the command's.
fn revoke_args(refs: &[CredentialRef], yes: bool) -> Result<super::rotate::RevokeArgs> {
    let mut argv = vec!["revoke".to_string(), "--emergency".to_string()];
    if yes {
        argv.push("--yes".into());
    }
    argv.extend(refs.iter().map(ToString::to_string));
    let cmd = super::rotate::RevokeArgs::augment_args(clap::Command::new("revoke"));
    let matches = cmd.try_get_matches_from(argv)?;
    Ok(super::rotate::RevokeArgs::from_arg_matches(&matches)?)
}
