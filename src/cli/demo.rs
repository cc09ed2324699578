//! `keyward demo`: a throwaway copy of the demo inventory, its dates moved so that it always
//! shows every status as of today, opened in the dashboard.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use chrono::{DateTime, Duration, TimeZone, Utc};

use super::Context;
use crate::inventory::{Inventory, ProviderKind};
use crate::providers::sandbox::Sandbox;
use crate::providers::Target;
use crate::store::{Keyring, Store};

/// The demo inventory, encrypted to the demo identity. Demo-only: never real secrets.
const DEMO_INVENTORY: &[u8] = include_bytes!("../../inventories/demo.yaml.age");
/// The demo identity. Demo-only, published on purpose.
const DEMO_IDENTITY: &str = include_str!("../../inventories/demo-identity.txt");

/// The moment the demo's dates were written for; they are shifted by `now - DEMO_ANCHOR`.
fn demo_anchor() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0)
        .single()
        .expect("valid date")
}

/// Arguments of `keyward demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write the demo into DIR and keep it, instead of a throwaway copy; prints the
    /// environment to point other keyward commands at it.
    #[arg(long, value_name = "DIR")]
    pub keep_in: Option<PathBuf>,
    /// Open the dashboard with every key that changes the inventory off.
    #[arg(long)]
    pub read_only: bool,
}

/// Writes the demo inventory and identity into `dir`, dates moved to `now`. Returns
/// (inventory path, identity path).
pub fn materialize(dir: &Path, now: DateTime<Utc>) -> Result<(PathBuf, PathBuf)> {
    crate::fsutil::create_private_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    let identity_path = dir.join("demo-identity.txt");
    write_private(&identity_path, DEMO_IDENTITY.as_bytes())?;
    let seed = dir.join(".demo-seed.yaml.age");
    write_private(&seed, DEMO_INVENTORY)?;
    let keys = Keyring::load(std::slice::from_ref(&identity_path))?;
    let (_, mut inv) = Store::open(&seed, &keys)?;
    std::fs::remove_file(&seed).ok();
    shift_dates(&mut inv, now - demo_anchor());
    let home = dir
        .canonicalize()
        .with_context(|| format!("{}", dir.display()))?;
    add_demo_deploy(&mut inv, &home);
    let inventory_path = dir.join("demo.yaml.age");
    if inventory_path.exists() {
        anyhow::bail!(
            "{}: already exists; choose an empty directory",
            inventory_path.display()
        );
    }
    let mut store = Store::create(&inventory_path, &inv)?;
    // keyward chose these recipients itself: nothing to announce when the demo is opened.
    store.accept_recipients(crate::store::SeenRecord::for_inventory(
        &super::config_dir(),
        &inventory_path,
    ))?;
    drop(store);
    seed_sandbox(&inventory_path, &inv)?;
    Ok((inventory_path, identity_path))
}

/// Gives the sandbox beside the demo inventory the keys the inventory records, so that
/// sync, verify and rotation find them there as they would at a real provider.
fn seed_sandbox(inventory_path: &Path, inv: &Inventory) -> Result<()> {
    let sandbox = Sandbox::beside(inventory_path);
    let targets: Vec<Target> = inv
        .credentials()
        .filter(|(_, _, c)| c.provider == ProviderKind::Sandbox)
        .filter_map(|(at, _, _)| Target::from_inventory(inv, &at))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        for target in &targets {
            sandbox.import_key(target).await?;
        }
        Ok::<_, crate::providers::ProviderError>(())
    })?;
    Ok(())
}

/// The demo credential whose rotation delivers the new secret to an env file beside the
/// demo inventory, so the demo shows a deploy target at work.
const DEMO_ENV_FILE_CREDENTIAL: &str = "acme/sms-alerts";

/// Points [`DEMO_ENV_FILE_CREDENTIAL`] at `acme-app.env` in `dir` (the demo's own directory,
/// so its path is known only now).
fn add_demo_deploy(inv: &mut Inventory, dir: &Path) {
    let Ok(at) = DEMO_ENV_FILE_CREDENTIAL.parse::<crate::inventory::CredentialRef>() else {
        return;
    };
    if let Some(c) = inv.credential_mut(&at) {
        c.deploy = crate::inventory::Deploy::EnvFile {
            path: dir.join("acme-app.env").display().to_string(),
            name: "SMS_ALERTS_KEY".into(),
        }
        .into();
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::fsutil::write_private(path, bytes).with_context(|| format!("{}", path.display()))
}

/// Moves every date in the inventory by `by`, exactly: "used today" then means now, never
/// later today (rounding to whole days put such dates in the future, and a rotation then
/// warned that the old key was used after the new one was deployed).
fn shift_dates(inv: &mut Inventory, by: Duration) {
    for client in &mut inv.clients {
        for c in &mut client.integrations {
            for t in [
                &mut c.created_at,
                &mut c.expires_at,
                &mut c.last_used_at,
                &mut c.last_rotated_at,
            ]
            .into_iter()
            .flatten()
            {
                *t += by;
            }
            for h in &mut c.history {
                h.at += by;
            }
        }
    }
}

/// Runs `keyward demo`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    if let Some(dir) = args.keep_in {
        let (inv, id) = materialize(&dir, ctx.now())?;
        if ctx.json() {
            let kept = serde_json::json!({
                "inventory": inv.display().to_string(),
                "identity": id.display().to_string(),
            });
            super::json::print(super::json::Schema::Demo, &kept)?;
            return Ok(0);
        }
        println!("Demo inventory written. To use it with other commands:");
        println!(
            "  export KEYWARD_INVENTORY={} KEYWARD_IDENTITY={}",
            inv.display(),
            id.display()
        );
        return Ok(0);
    }
    let dir = tempfile::Builder::new().prefix("keyward-demo-").tempdir()?;
    let (inventory, identity) = materialize(dir.path(), ctx.now())?;
    let demo_ctx = Context {
        location: crate::store::Location::File(inventory.clone()),
        inventory,
        identities: vec![identity],
        explicit_identities: true,
        passphrase_file: None,
        now: ctx.now(),
        json: ctx.json(),
    };
    if super::stdout_is_terminal() && !ctx.json() {
        return super::dashboard::run(&demo_ctx, "demo".to_string(), args.read_only);
    }
    super::list::run(&demo_ctx, super::list::Args::default())
}
