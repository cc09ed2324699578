//! `keyward report`: the access report a client receives, in Markdown, CSV or JSON, on
//! stdout or written atomically to a file. It never holds a secret.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::Context;
use crate::report::{build, render, Format};
use crate::store::keys::io_words;

/// Arguments of `keyward report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this client.
    #[arg(long, value_name = "CLIENT")]
    pub client: Option<String>,
    /// The format.
    #[arg(long, value_enum, default_value_t = Format::Markdown)]
    pub format: Format,
    /// Write the report to FILE (mode 0644, replaced atomically) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `keyward report`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let (_, inv) = ctx.open()?;
    if let Some(c) = &args.client {
        if inv.client(c).is_none() {
            bail!("{}: no client `{c}`", ctx.inventory.display());
        }
    }
    let report = build(&inv, ctx.now(), args.client.as_deref());
    let text = render(&report, args.format)?;
    match &args.output {
        None => print!("{text}"),
        Some(path) => {
            refuse_keyward_files(ctx, path)?;
            write_public(path, text.as_bytes()).map_err(|e| {
                anyhow::anyhow!("{}: cannot write: {}", path.display(), io_words(&e))
            })?;
            println!("Wrote {} ({}).", path.display(), report.summary);
        }
    }
    Ok(0)
}

/// A report written over the inventory, its backups, lock, audit log, sandbox state or an
/// identity file would destroy them.
fn refuse_keyward_files(ctx: &Context, output: &Path) -> Result<()> {
    if ctx.own_files().contains(output) {
        bail!(
            "{}: is the inventory or one of its files (backups, lock, audit log, sandbox \
             state), an identity or keyward's config; write the report elsewhere",
            output.display()
        );
    }
    Ok(())
}

/// Writes `bytes` to a temp file beside `path`, makes it world-readable (0644: a report is
/// meant to be shared), fsyncs it and renames it over `path`.
fn write_public(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = crate::fsutil::NewFile::beside_with_mode(path, 0o644)?;
    file.write_all(bytes)?;
    file.commit(path)
}
