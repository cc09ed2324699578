//! The client access report written to a file, from the command line (`keyward report -o`)
//! and the dashboard (`e`, `:report`): the same report, written the same way, recorded the
//! same way.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::audit::{AuditAction, AuditLog, Event};
use crate::inventory::{CredentialRef, Inventory};
use crate::report::{self, Format, Report};
use crate::store::keys::io_words;
use crate::store::OwnFiles;

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
    /// The path is the inventory, one of the files beside it, an identity or keyward's
    /// config.
    #[error(
        "{}: is the inventory or one of its files (backups, lock, audit log, sandbox state), \
         an identity or keyward's config; write the report elsewhere",
        .0.display()
    )]
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

/// Writes the report `req` asks for, never over one of keyward's `own` files, atomically
/// (a fresh temp file in the same directory, fsync, rename), mode 0600; records an
/// `exported` entry in `audit`. Returns the absolute path written and the report.
pub fn export(
    own: &OwnFiles,
    audit: &AuditLog,
    inv: &Inventory,
    req: &ExportRequest,
    now: DateTime<Utc>,
) -> Result<(PathBuf, Report), ExportError> {
    if own.contains(&req.path) {
        return Err(ExportError::OwnFile(req.path.clone()));
    }
    let report = build(inv, req, now, &crate::audit::actor());
    let text = report::render(&report, req.format)?;
    let write_err = |e: std::io::Error| ExportError::Write {
        path: req.path.clone(),
        detail: io_words(&e),
    };
    crate::fsutil::write_private(&req.path, text.as_bytes()).map_err(write_err)?;
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
