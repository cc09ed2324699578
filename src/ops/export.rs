//! The client access report written to a file, from the command line (`keyward report -o`)
//! and the dashboard (`e`, `:report`): the same report, written the same way, recorded the
//! same way.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::audit::{AuditAction, AuditLog, Event};
use crate::inventory::{CredentialRef, Inventory};
use crate::report::{self, Format, Report};
use crate::store::keys::io_words;

/// What to export, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRequest {
    /// The format.
    pub format: Format,
    /// The credentials (empty: every credential of `client`, or all).
    pub refs: Vec<CredentialRef>,
    /// Only this client.
    pub client: Option<String>,
    /// The file to write.
    pub path: PathBuf,
}

/// Why a report was not written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The path is the inventory or one of the files beside it.
    #[error("{}: is the inventory or one of its files; write the report elsewhere", .0.display())]
    OwnFile(PathBuf),
    /// The report could not be rendered.
    #[error(transparent)]
    Render(#[from] report::RenderError),
    /// Writing failed.
    #[error("{}: cannot write: {detail}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong, in words.
        detail: String,
    },
    /// Written, but the audit log refused the entry.
    #[error("{}: written, but not logged: {detail}", path.display())]
    Unlogged {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
}

/// A file name for a report made at `now`: `acme-access-2026-11-29.md`, or
/// `access-2026-11-29.csv` for every client.
pub fn default_file_name(client: Option<&str>, format: Format, now: DateTime<Utc>) -> String {
    let ext = match format {
        Format::Markdown => "md",
        Format::Csv => "csv",
        Format::Json => "json",
    };
    let day = now.format("%Y-%m-%d");
    match client {
        Some(c) => format!("{c}-access-{day}.{ext}"),
        None => format!("access-{day}.{ext}"),
    }
}

/// The report `req` asks for, at `now`, prepared by `prepared_by`.
pub fn build(
    inv: &Inventory,
    req: &ExportRequest,
    now: DateTime<Utc>,
    prepared_by: &str,
) -> Report {
    let mut report = if req.refs.is_empty() {
        report::build(inv, now, req.client.as_deref())
    } else {
        let refs: Vec<CredentialRef> = req
            .refs
            .iter()
            .filter(|r| req.client.as_ref().is_none_or(|c| r.client == *c))
            .cloned()
            .collect();
        report::build_selected(inv, now, &refs)
    };
    report.prepared_by = Some(prepared_by.to_string());
    report
}

/// Writes the report `req` asks for beside nothing of keyward's own, atomically (a temp file
/// in the same directory, fsync, rename), mode 0600; records an `exported` entry in
/// `audit`. Returns the absolute path written and the report.
pub fn export(
    inventory_path: &Path,
    audit: &AuditLog,
    inv: &Inventory,
    req: &ExportRequest,
    now: DateTime<Utc>,
) -> Result<(PathBuf, Report), ExportError> {
    refuse_keyward_files(inventory_path, &req.path)?;
    let report = build(inv, req, now, &crate::audit::actor());
    let text = report::render(&report, req.format)?;
    let write_err = |e: std::io::Error| ExportError::Write {
        path: req.path.clone(),
        detail: io_words(&e),
    };
    write_private(&req.path, text.as_bytes()).map_err(write_err)?;
    let shown = std::path::absolute(&req.path).unwrap_or_else(|_| req.path.clone());
    let detail = format!(
        "{} report ({}) to {}",
        format_word(req.format),
        report.summary,
        shown.display()
    );
    audit
        .record(Event::new(AuditAction::Exported, None, detail))
        .map_err(|e| ExportError::Unlogged {
            path: shown.clone(),
            detail: e.to_string(),
        })?;
    Ok((shown, report))
}

fn format_word(f: Format) -> &'static str {
    match f {
        Format::Markdown => "markdown",
        Format::Csv => "csv",
        Format::Json => "json",
    }
}

/// A report written over the inventory, its backups, lock, audit log or sandbox state would
/// destroy them.
pub fn refuse_keyward_files(inventory: &Path, output: &Path) -> Result<(), ExportError> {
    let (Ok(out), Some(dir), Some(name)) = (
        output.canonicalize(),
        inventory.parent(),
        inventory.file_name(),
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
                        || ext == "sandbox.json"
                        || (!ext.is_empty() && ext.bytes().all(|b| b.is_ascii_digit()))
                })
    };
    if same_dir && out.file_name().is_some_and(|n| ours(&n.to_string_lossy())) {
        return Err(ExportError::OwnFile(output.to_path_buf()));
    }
    Ok(())
}

/// Writes `bytes` to a fresh temp file beside `path` (created exclusively, 0600), fsyncs it
/// and renames it over `path`.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".keyward-report-")
        .tempfile_in(&dir)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(&dir)?.sync_all()
}
