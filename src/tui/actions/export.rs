//! The export dialog: the client access report of the chosen credentials, in Markdown,
//! CSV or JSON, to a path filled in for the person (`acme-access-2026-11-29.md` in the
//! current directory). [`crate::ops::export`] writes it (atomically, refusing keyward's own
//! files, with its audit entry); the status line then says the full path, since over SSH
//! the file is on the remote host.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::inventory::CredentialRef;
use crate::ops::export::{default_file_name, ExportRequest};
use crate::report::Format;

/// The formats in the order the dialog cycles through them.
pub const FORMATS: [Format; 3] = [Format::Markdown, Format::Csv, Format::Json];

/// The format's name, as the dialog shows it.
pub fn format_word(format: Format) -> &'static str {
    match format {
        Format::Markdown => "markdown",
        Format::Csv => "CSV",
        Format::Json => "JSON",
    }
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
