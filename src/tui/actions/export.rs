//! The export dialog and the report file it writes: the client access report of the chosen
//! credentials, in Markdown, CSV or JSON, to a path filled in for the person
//! (`acme-access-2026-11-29.md` in the current directory), written atomically. The status
//! line then says the full path: over SSH the file is on the remote host.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::inventory::{CredentialRef, Inventory};
use crate::report::{self, Format};

/// The formats in the order the dialog cycles through them.
pub const FORMATS: [Format; 3] = [Format::Markdown, Format::Csv, Format::Json];

/// The format's name and file extension.
pub fn format_words(format: Format) -> (&'static str, &'static str) {
    match format {
        Format::Markdown => ("markdown", "md"),
        Format::Csv => ("CSV", "csv"),
        Format::Json => ("JSON", "json"),
    }
}

/// The file name a report gets unless the person types another: the client (or `all`),
/// `access`, the day, the format's extension.
pub fn default_file_name(client: Option<&str>, format: Format, now: DateTime<Utc>) -> String {
    format!(
        "{}-access-{}.{}",
        client.unwrap_or("all"),
        now.format("%Y-%m-%d"),
        format_words(format).1
    )
}

/// What to export, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    /// The format.
    pub format: Format,
    /// The client the report is for, when every credential is one client's.
    pub client: Option<String>,
    /// The credentials; empty means all of `client` (or everything).
    pub refs: Vec<CredentialRef>,
    /// The file, relative to the current directory or absolute.
    pub path: PathBuf,
}

/// The export dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportDialog {
    /// The credentials exported.
    pub refs: Vec<CredentialRef>,
    /// Their client, when they all share one.
    pub client: Option<String>,
    /// The chosen format.
    pub format: Format,
    /// The path being typed.
    pub path: String,
    /// Whether the person changed the path (then a format change keeps it).
    pub path_edited: bool,
}

impl ExportDialog {
    /// The dialog for `refs`, markdown, with the default file name at `now`.
    pub fn new(refs: Vec<CredentialRef>, now: DateTime<Utc>) -> ExportDialog {
        let client = refs
            .first()
            .map(|r| r.client.clone())
            .filter(|c| refs.iter().all(|r| &r.client == c));
        let path = default_file_name(client.as_deref(), Format::Markdown, now);
        ExportDialog {
            refs,
            client,
            format: Format::Markdown,
            path,
            path_edited: false,
        }
    }

    /// Moves to the next (`forward`) or previous format; an untouched path follows it.
    pub fn cycle_format(&mut self, forward: bool, now: DateTime<Utc>) {
        let i = FORMATS.iter().position(|f| *f == self.format).unwrap_or(0);
        let n = FORMATS.len();
        self.format = FORMATS[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }];
        if !self.path_edited {
            self.path = default_file_name(self.client.as_deref(), self.format, now);
        }
    }

    /// The request the dialog describes.
    pub fn request(&self) -> ExportRequest {
        ExportRequest {
            format: self.format,
            client: self.client.clone(),
            refs: self.refs.clone(),
            path: PathBuf::from(self.path.trim()),
        }
    }
}

/// Writes the report `req` asks for over `inv` at `now`, atomically, refusing the
/// inventory's own files (`inventory_path` and its lock, backups and audit log). Returns
/// the absolute path written and the report's summary line.
pub fn write_report(
    inv: &Inventory,
    req: &ExportRequest,
    now: DateTime<Utc>,
    inventory_path: Option<&Path>,
) -> Result<(PathBuf, String), String> {
    if req.path.as_os_str().is_empty() {
        return Err("no file name given".into());
    }
    let path = if req.path.is_absolute() {
        req.path.clone()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("cannot tell the current directory: {e}"))?
            .join(&req.path)
    };
    let shown = super::safe(&path.display().to_string());
    if let Some(inv_path) = inventory_path {
        if is_keyward_file(inv_path, &path) {
            return Err(format!(
                "{shown}: is the inventory or one of its files; write the report elsewhere"
            ));
        }
    }
    let mut chosen = inv.clone();
    if !req.refs.is_empty() {
        for c in &mut chosen.clients {
            c.integrations.retain(|cred| {
                req.refs
                    .iter()
                    .any(|r| r.client == c.id && r.integration == cred.id)
            });
        }
        chosen.clients.retain(|c| !c.integrations.is_empty());
    }
    if let Some(c) = &req.client {
        if chosen.client(c).is_none() {
            return Err(format!("no client `{}`", super::safe(c)));
        }
    }
    let report = report::build(&chosen, now, req.client.as_deref());
    let text = report::render(&report, req.format).map_err(|e| e.to_string())?;
    write_public(&path, text.as_bytes()).map_err(|e| {
        format!(
            "{shown}: cannot write: {}",
            crate::store::keys::io_words(&e)
        )
    })?;
    Ok((path, report.summary.to_string()))
}

/// Whether `out` is the inventory at `inventory` or one of the files kept beside it.
fn is_keyward_file(inventory: &Path, out: &Path) -> bool {
    let (Some(dir), Some(name), Some(out_name)) =
        (inventory.parent(), inventory.file_name(), out.file_name())
    else {
        return false;
    };
    let same_dir = match (dir.canonicalize(), out.parent().map(Path::canonicalize)) {
        (Ok(a), Some(Ok(b))) => a == b,
        _ => false,
    };
    let (name, out_name) = (name.to_string_lossy(), out_name.to_string_lossy());
    same_dir
        && (out_name == name
            || out_name
                .strip_prefix(name.as_ref())
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|ext| {
                    ext == "lock"
                        || ext == "audit.jsonl"
                        || (!ext.is_empty() && ext.bytes().all(|b| b.is_ascii_digit()))
                }))
}

/// A temp file beside `path`, 0644 (a report is meant to be shared), fsynced, renamed over
/// `path`, the directory fsynced.
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_default_name_follows_client_format_and_day() {
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 8, 0, 0).unwrap();
        assert_eq!(
            default_file_name(Some("acme"), Format::Markdown, now),
            "acme-access-2026-11-29.md"
        );
        assert_eq!(
            default_file_name(None, Format::Csv, now),
            "all-access-2026-11-29.csv"
        );
    }

    #[test]
    fn the_inventory_and_its_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let inv = dir.path().join("inv.yaml.age");
        for name in [
            "inv.yaml.age",
            "inv.yaml.age.lock",
            "inv.yaml.age.2",
            "inv.yaml.age.audit.jsonl",
        ] {
            assert!(is_keyward_file(&inv, &dir.path().join(name)), "{name}");
        }
        assert!(!is_keyward_file(&inv, &dir.path().join("acme-access.md")));
    }
}
