//! `keyward report`: the access report a client receives, in Markdown, CSV or JSON, on
//! stdout or written atomically to a file. It never holds a secret.

use std::io::Write;
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
            println!(
                "Wrote {} ({}).",
                crate::text::terminal_safe(&path.display().to_string()),
                report.summary
            );
        }
    }
    Ok(0)
}

/// A report written over the inventory, its backups or its audit log would destroy them.
fn refuse_keyward_files(ctx: &Context, output: &Path) -> Result<()> {
    let (Ok(out), Some(dir), Some(name)) = (
        output.canonicalize(),
        ctx.inventory.parent(),
        ctx.inventory.file_name(),
    ) else {
        return Ok(());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let same_dir = dir
        .canonicalize()
        .is_ok_and(|d| Some(d.as_path()) == out.parent());
    let name = name.to_string_lossy();
    let ours = |n: &str| {
        n == name
            || n.strip_prefix(name.as_ref())
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|ext| {
                    ext == "lock"
                        || ext == "audit.jsonl"
                        || (!ext.is_empty() && ext.bytes().all(|b| b.is_ascii_digit()))
                })
    };
    if same_dir && out.file_name().is_some_and(|n| ours(&n.to_string_lossy())) {
        bail!(
            "{}: is the inventory or one of its files; write the report elsewhere",
            output.display()
        );
    }
    Ok(())
}

/// Writes `bytes` to a temp file beside `path`, makes it world-readable (0644: a report is
/// meant to be shared), fsyncs it and renames it over `path`.
fn write_public(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".keyward-report-")
        .tempfile_in(&dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(&dir)?.sync_all()
}
