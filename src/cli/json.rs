//! `--json`: the versioned schemas every command prints under, and the error object a
//! failing command prints on stdout (its one-line error still goes to stderr). docs/json.md
//! documents each schema; a test checks that every schema named here is documented there.
//!
//! Documented by hand rather than generated: the shapes are small, the prose (what a field
//! means, when it is absent) is what a script author needs, and the insta snapshots of each
//! command's output pin the shapes the document describes.

use std::io::Write as _;

use serde::Serialize;

use super::exit::Exit;
use crate::store::StoreError;

/// The schema a command's JSON follows: its name and version, printed as `"schema"` in every
/// top-level object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// `keyward init`.
    Init,
    /// `keyward show`.
    Show,
    /// `keyward add`.
    Add,
    /// `keyward import`.
    Import,
    /// `keyward recipients …`.
    Recipients,
    /// `keyward connections add|remove`.
    Connection,
    /// `keyward connections test`.
    ConnectionsTest,
    /// `keyward check`.
    Check,
    /// `keyward discover`.
    Discover,
    /// `keyward adopt`.
    Adopt,
    /// `keyward sync`.
    Sync,
    /// `keyward verify`.
    Verify,
    /// `keyward audit --verify`.
    AuditVerify,
    /// `keyward rotate` (and `--dry-run`).
    Rotate,
    /// `keyward resume`.
    Resume,
    /// `keyward revoke`.
    Revoke,
    /// `keyward deploy`.
    Deploy,
    /// `keyward archive`.
    Archive,
    /// `keyward remove`.
    Remove,
    /// `keyward restore`.
    Restore,
    /// `keyward migrate`.
    Migrate,
    /// `keyward demo --keep-in`.
    Demo,
    /// `keyward report --output FILE` (without it, the report itself is the JSON).
    Report,
    /// The access report itself: `keyward report --json` and `--format json` (file or stdout).
    AccessReport,
    /// `keyward providers`.
    Providers,
    /// Any command that failed.
    Error,
}

impl Schema {
    /// Every schema, for the documentation check.
    pub const ALL: [Schema; 26] = [
        Schema::Init,
        Schema::Show,
        Schema::Add,
        Schema::Import,
        Schema::Recipients,
        Schema::Connection,
        Schema::ConnectionsTest,
        Schema::Check,
        Schema::Discover,
        Schema::Adopt,
        Schema::Sync,
        Schema::Verify,
        Schema::AuditVerify,
        Schema::Rotate,
        Schema::Resume,
        Schema::Revoke,
        Schema::Deploy,
        Schema::Archive,
        Schema::Restore,
        Schema::Migrate,
        Schema::Demo,
        Schema::Report,
        Schema::AccessReport,
        Schema::Remove,
        Schema::Providers,
        Schema::Error,
    ];

    /// Name and version, as printed: a breaking change bumps the number after the slash;
    /// fields may be added without one.
    pub fn as_str(self) -> &'static str {
        match self {
            Schema::Init => "keyward.init/1",
            Schema::Show => "keyward.show/1",
            Schema::Add => "keyward.add/1",
            Schema::Import => "keyward.import/1",
            Schema::Recipients => "keyward.recipients/1",
            Schema::Connection => "keyward.connection/1",
            Schema::ConnectionsTest => "keyward.connections-test/1",
            Schema::Check => "keyward.check/1",
            Schema::Discover => "keyward.discover/1",
            Schema::Adopt => "keyward.adopt/1",
            Schema::Sync => "keyward.sync/1",
            Schema::Verify => "keyward.verify/1",
            Schema::AuditVerify => "keyward.audit-verify/1",
            Schema::Rotate => "keyward.rotate/1",
            Schema::Resume => "keyward.resume/1",
            Schema::Revoke => "keyward.revoke/1",
            Schema::Deploy => "keyward.deploy/1",
            Schema::Archive => "keyward.archive/1",
            Schema::Restore => "keyward.restore/1",
            Schema::Migrate => "keyward.migrate/1",
            Schema::Demo => "keyward.demo/1",
            Schema::Report => "keyward.report-written/1",
            Schema::AccessReport => crate::report::JSON_SCHEMA,
            Schema::Remove => "keyward.remove/1",
            Schema::Providers => "keyward.providers/1",
            Schema::Error => "keyward.error/1",
        }
    }
}

/// Prints `value` as pretty JSON on stdout, control characters escaped; a top-level object
/// gets a `"schema"` field.
pub fn print(schema: Schema, value: &impl Serialize) -> anyhow::Result<()> {
    print_value(&tagged(schema, value)?)
}

/// `value` with a `"schema"` field when it is an object (keys print in alphabetical order).
fn tagged(schema: Schema, value: &impl Serialize) -> serde_json::Result<serde_json::Value> {
    let mut value = serde_json::to_value(value)?;
    if let serde_json::Value::Object(fields) = &mut value {
        fields.insert("schema".into(), schema.as_str().into());
    }
    Ok(value)
}

/// Prints a JSON value that carries no schema tag of its own (the arrays of `list`, `audit`
/// and `connections list`, kept as they were for the scripts that read them).
pub fn print_value(value: &impl Serialize) -> anyhow::Result<()> {
    println!(
        "{}",
        crate::text::json_safe(serde_json::to_string_pretty(value)?)
    );
    Ok(())
}

/// What went wrong, in a word a script can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The command line is wrong.
    Usage,
    /// There is no inventory at the path.
    NoInventory,
    /// The inventory could not be read or is not a valid inventory.
    Unreadable,
    /// None of the identities (or passphrase) opens it.
    CannotDecrypt,
    /// Another process holds the write lock.
    Locked,
    /// Another writer changed the inventory meanwhile; nothing was saved.
    ChangedMeanwhile,
    /// The inventory is not trusted as it is: its log disagrees, its recipients changed, or
    /// another user could write it.
    Untrusted,
    /// The inventory could not be saved.
    CannotSave,
    /// No such credential (or connection, recipient…).
    NotFound,
    /// A person is needed and there is no terminal to ask on.
    NeedsPerson,
    /// A person said no.
    Declined,
    /// Anything else: the message says what.
    Other,
}

impl ErrorKind {
    /// The word printed as `"kind"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::NoInventory => "no-inventory",
            ErrorKind::Unreadable => "unreadable",
            ErrorKind::CannotDecrypt => "cannot-decrypt",
            ErrorKind::Locked => "locked",
            ErrorKind::ChangedMeanwhile => "changed-meanwhile",
            ErrorKind::Untrusted => "untrusted",
            ErrorKind::CannotSave => "cannot-save",
            ErrorKind::NotFound => "not-found",
            ErrorKind::NeedsPerson => "needs-person",
            ErrorKind::Declined => "declined",
            ErrorKind::Other => "other",
        }
    }

    /// Every kind, for the documentation check.
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::Usage,
        ErrorKind::NoInventory,
        ErrorKind::Unreadable,
        ErrorKind::CannotDecrypt,
        ErrorKind::Locked,
        ErrorKind::ChangedMeanwhile,
        ErrorKind::Untrusted,
        ErrorKind::CannotSave,
        ErrorKind::NotFound,
        ErrorKind::NeedsPerson,
        ErrorKind::Declined,
        ErrorKind::Other,
    ];

    fn of_store(e: &StoreError) -> ErrorKind {
        use StoreError as S;
        match e {
            S::Missing { .. } => ErrorKind::NoInventory,
            S::IsDirectory { .. }
            | S::Read { .. }
            | S::NotAge { .. }
            | S::Corrupt { .. }
            | S::Schema { .. }
            | S::Unreachable { .. } => ErrorKind::Unreadable,
            S::NoMatchingIdentity { .. }
            | S::WrongPassphrase { .. }
            | S::Identity { .. }
            | S::NoTerminal { .. }
            | S::SshKeyNeedsPassphrase { .. }
            | S::WrongSshPassphrase { .. }
            | S::PassphraseFile { .. } => ErrorKind::CannotDecrypt,
            S::Locked { .. } => ErrorKind::Locked,
            S::ChangedOnDisk { .. } | S::Conflict { .. } | S::Contended { .. } => {
                ErrorKind::ChangedMeanwhile
            }
            S::Disagrees { .. }
            | S::RecipientsChanged { .. }
            | S::Exposed { .. }
            | S::SeenRecord(_) => ErrorKind::Untrusted,
            S::Write { .. }
            | S::Exists { .. }
            | S::Recipient { .. }
            | S::NoRecipients { .. }
            | S::Offline { .. } => ErrorKind::CannotSave,
        }
    }
}

impl Serialize for ErrorKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.as_str().serialize(s)
    }
}

/// A failure a command names itself: its kind and exit code travel with the message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// What went wrong, for scripts.
    pub kind: ErrorKind,
    /// The exit code it ends with.
    pub exit: Exit,
    /// One line: what and where, and what to do.
    pub message: String,
}

impl Failure {
    /// A failure of `kind` ending with `exit`.
    pub fn new(kind: ErrorKind, exit: Exit, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            exit,
            message: message.into(),
        }
    }
}

/// The kind of `e` and the exit it ends with (`otherwise` unless the failure names one).
pub fn classify(e: &anyhow::Error, otherwise: Exit) -> (ErrorKind, Exit) {
    for cause in e.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            return (f.kind, f.exit);
        }
        if let Some(s) = cause.downcast_ref::<StoreError>() {
            return (ErrorKind::of_store(s), otherwise);
        }
    }
    (ErrorKind::Other, otherwise)
}

/// The error object printed on stdout under `--json`.
#[derive(Debug, Serialize)]
pub struct ErrorReport<'a> {
    /// What went wrong.
    pub error: ErrorBody<'a>,
    /// The exit code the command ends with.
    pub exit: i32,
}

/// The error itself.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// What went wrong, in a word.
    pub kind: ErrorKind,
    /// The same line as on stderr.
    pub message: &'a str,
}

/// Prints the error object for `message` on stdout.
pub fn print_error(kind: ErrorKind, exit: Exit, message: &str) {
    let report = ErrorReport {
        error: ErrorBody { kind, message },
        exit: exit.as_code(),
    };
    // One line, so it also ends `connect`'s JSON lines. stdout may be gone; the line on
    // stderr still says what happened.
    if let Ok(value) = tagged(Schema::Error, &report) {
        let _ = writeln!(
            std::io::stdout(),
            "{}",
            crate::text::json_safe(value.to_string())
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_and_error_kind_is_documented() {
        let doc = include_str!("../../docs/json.md");
        for s in Schema::ALL {
            assert!(
                doc.contains(s.as_str()),
                "docs/json.md lacks {}",
                s.as_str()
            );
        }
        for k in ErrorKind::ALL {
            let word = format!("`{}`", k.as_str());
            assert!(
                doc.contains(&word),
                "docs/json.md lacks the error kind {word}"
            );
            assert_eq!(serde_json::to_value(k).ok(), Some(k.as_str().into()));
        }
    }
}
