//! What can happen to the dashboard ([`Action`]: a key's meaning, a tick, a background
//! result) and what the dashboard asks the runtime to do ([`Effect`]).

use chrono::{DateTime, Utc};

use crate::audit::Event;
use crate::inventory::Inventory;
use crate::providers::{Target, Verification};
use crate::secret::Secret;
use crate::sync::SyncResult;

/// Everything `update` reacts to.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Cursor (or scroll) one line up.
    Up,
    /// Cursor (or scroll) one line down.
    Down,
    /// To the first line.
    Top,
    /// To the last line.
    Bottom,
    /// One page up.
    PageUp,
    /// One page down.
    PageDown,
    /// Opens the selected credential's detail.
    Open,
    /// Goes back one step: closes a view, cancels a text field, clears a filter. Never quits.
    Back,
    /// Leaves the dashboard.
    Quit,
    /// Marks or unmarks the selected row and moves down.
    ToggleMark,
    /// Marks every visible row (or unmarks them when all are marked).
    MarkAllVisible,
    /// Opens the live filter (`/`).
    StartFilter,
    /// Opens the command line (`:`).
    StartCommand,
    /// Types a character into the open text field.
    Insert(char),
    /// Deletes the character before the text cursor.
    DeleteBack,
    /// Empties the open text field.
    ClearLine,
    /// Keeps the filter, or runs the command line.
    Submit,
    /// Shows only the selected row's client, or everyone again.
    ClientFilter,
    /// Sorts by the next column.
    NextSort,
    /// Reverses the sort order.
    ReverseSort,
    /// Opens the expiry timeline.
    Timeline,
    /// Opens the help.
    Help,
    /// Asks the providers about the marked (or selected) credentials and records the answer.
    Sync,
    /// Checks the marked (or selected) credentials' secrets with the providers.
    Verify,
    /// Shows or masks the secret in the detail view.
    Reveal,
    /// Copies the detail view's secret to the clipboard.
    Copy,
    /// A key that would change something, pressed in read-only mode.
    Refused(&'static str),
    /// The terminal's new size.
    Resize(u16, u16),
    /// Time passed: animates the spinner.
    Tick,
    /// A sync job's answer for row `row`.
    Inspected {
        /// The row.
        row: usize,
        /// The key the credential held when it was asked about.
        remote_id: Option<String>,
        /// What the provider said (errors redacted), or why it was not asked.
        result: SyncResult,
    },
    /// A verify job's answer for row `row`.
    Verified {
        /// The row.
        row: usize,
        /// The provider's verdict ("cannot check" where no provider could be asked).
        result: Verification,
    },
    /// What the save hook answered.
    Saved(Result<(), String>),
    /// Whether the clipboard sequence was written.
    Copied(Result<(), String>),
    /// Something the runtime could not do, for the status line.
    Failed(String),
    /// The clock moved on: statuses and relative dates are judged at this moment from now
    /// on (rows are judged again when the minute changes), and sync stamps it.
    Clock(DateTime<Utc>),
    /// Reads the inventory again from disk (Ctrl-R).
    Reload,
    /// What reading the inventory again gave.
    Reloaded {
        /// Why it was read.
        why: ReloadReason,
        /// The inventory on disk; `None` when the file is as last read or saved.
        result: Result<Option<Box<Inventory>>, String>,
    },
    /// The save hook refused: another writer changed the file since it was read.
    SaveConflict(String),
    /// Whether the audit entry was written; `then` says what waited for it.
    Audited {
        /// The audit hook's answer.
        result: Result<(), String>,
        /// What to do now that it is written.
        then: AfterAudit,
    },
}

/// What waits for an audit entry to be written: a secret is shown or copied only once its
/// disclosure is on record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAudit {
    /// Show row `row`'s secret in the detail view.
    Reveal {
        /// The row.
        row: usize,
    },
    /// Copy row `row`'s secret to the clipboard.
    Copy {
        /// The row.
        row: usize,
    },
    /// Nothing: the entry records something already done.
    Nothing,
}

/// Why the inventory is read again from disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReloadReason {
    /// The file's metadata changed (another keyward, a cron job).
    ChangedOnDisk,
    /// The person pressed Ctrl-R.
    Asked,
    /// A save was refused because the file changed since it was read.
    SaveConflict,
}

/// Which provider call a [`Job`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// `Provider::inspect`: the key's state, dates and scopes.
    Sync,
    /// `Provider::verify`: does the stored secret work.
    Verify,
}

/// One provider call for one row, run on a background task.
#[derive(Debug, Clone)]
pub struct Job {
    /// Which call.
    pub kind: JobKind,
    /// The row it reports back for.
    pub row: usize,
    /// The credential and its connection.
    pub target: Target,
}

/// Work `update` hands to the runtime; it never blocks the UI.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Runs a provider call in the background; its answer comes back as an [`Action`].
    Run(Box<Job>),
    /// Writes the secret to the terminal's clipboard with OSC 52.
    Copy(Secret),
    /// Hands the changed inventory to the save hook.
    Save,
    /// Reads the inventory again through the reload hook (once no job is running, since
    /// jobs report back by row); the answer comes back as [`Action::Reloaded`].
    Reload(ReloadReason),
    /// Appends `event` to the audit log, then reports back with [`Action::Audited`].
    Audit {
        /// The entry.
        event: Event,
        /// What waits for it.
        then: AfterAudit,
    },
}
