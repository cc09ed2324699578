//! What can happen to the dashboard ([`Action`]: a key's meaning, a tick, a background
//! result) and what the dashboard asks the runtime to do ([`Effect`]).

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::actions::{Pending, RunKind};
use crate::audit::Event;
use crate::inventory::{CredentialRef, Inventory};
use crate::providers::{Target, Verification};
use crate::rotation::{Plan, RotationEvent, Summary};
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
    /// Adopts the marked (or selected) untracked keys of the `:discover` view.
    Adopt,
    /// The background discovery's answer.
    Discovered(Box<crate::ops::discover::Discovery>),
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
    /// A key bound elsewhere, pressed where it does nothing: the binding's index in
    /// [`super::keymap::BINDINGS`], so the status line can say where it works.
    NotHere(usize),
    /// Opens the rotation plan for the marked (or selected) credentials.
    Rotate,
    /// Opens the revoke dialog for the marked (or selected) credentials.
    Revoke,
    /// Delivers the marked (or selected) credentials' current secrets to their deploy
    /// targets again, rotating nothing.
    Deploy,
    /// Opens the export dialog for the marked (or visible) credentials.
    Export,
    /// Shows the run panel: the run going on, or the last one's summary.
    ShowRun,
    /// Moves a dialog's focus to its other button.
    SwitchFocus,
    /// Presses the focused button (or submits the dialog's field).
    Activate,
    /// The dialog's next choice (revoke: planned or emergency; export: the format).
    NextChoice,
    /// The dialog's previous choice.
    PrevChoice,
    /// Answers the open question yes.
    Yes,
    /// Answers the open question "not now": the work stays journaled, waiting.
    No,
    /// Copies the new secret to the clipboard (OSC 52), never showing it.
    CopyNew,
    /// Answers the first question the run has queued.
    NextQuestion,
    /// Stops the run: what runs finishes its step, nothing queued starts.
    CancelRun,
    /// Resumes (tries again) the selected interrupted credential.
    Resume,
    /// Rolls back the selected interrupted credential.
    RollBack,
    /// Deletes the old keys whose grace period is over.
    DeleteOld,
    /// The engine's plan, or why it could not be made.
    Planned(Result<Plan, String>),
    /// An engine event, with the time it reached the dashboard.
    RunEvent {
        /// The event.
        event: RotationEvent,
        /// When.
        at: DateTime<Utc>,
    },
    /// The time while a run goes, for elapsed times.
    RunClock(DateTime<Utc>),
    /// The engine asks the person something.
    Asked(Pending),
    /// The run ended: its outcomes and the engine's final inventory.
    RunFinished {
        /// The outcomes.
        summary: Summary,
        /// The inventory with every change of the run applied.
        inventory: Box<Inventory>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A run could not start (e.g. another keyward holds the lock).
    RunFailed(String),
    /// Where the report went (and its summary), or why it was not written.
    Exported(Result<(PathBuf, String), String>),
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
    /// Copy the new secret of row `row`'s rotation (held by the engine).
    CopyNew {
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
    /// Takes the write lock, opens an engine and plans the rotation of these credentials
    /// (each with why it was picked); answers with [`Action::Planned`].
    PlanRotation(Vec<(CredentialRef, String)>),
    /// Runs `kind` with the engine: the plan's credentials for a rotation (the engine that
    /// planned it), `refs` otherwise (empty: every journaled one, for a resume).
    StartRun {
        /// What to do.
        kind: RunKind,
        /// The confirmed plan, for a rotation.
        plan: Option<Plan>,
        /// The credentials, for the other kinds.
        refs: Vec<CredentialRef>,
    },
    /// Drops the engine of a plan that was not confirmed, releasing the write lock.
    DropEngine,
    /// Answers the engine's question `id`.
    Answer {
        /// The question.
        id: u64,
        /// Yes, or not now.
        yes: bool,
    },
    /// Hands the engine the secret typed for question `id` (`None`: not now).
    AnswerSecret {
        /// The question.
        id: u64,
        /// The secret.
        secret: Option<Secret>,
    },
    /// Copies the new secret of `at`'s rotation, as the engine holds it, with OSC 52.
    CopyNewSecret(CredentialRef),
    /// Stops the run: nothing queued starts.
    CancelRun,
    /// Asks the connections `Scope` names for every key they see; answers with
    /// [`Action::Discovered`].
    Discover(crate::ops::discover::Scope),
    /// Writes a report file; answers with [`Action::Exported`].
    Export(crate::ops::export::ExportRequest),
    /// Appends `event` to the audit log, then reports back with [`Action::Audited`].
    Audit {
        /// The entry.
        event: Event,
        /// What waits for it.
        then: AfterAudit,
    },
}
