//! Rotate, revoke, resume and export from the dashboard: the dialogs (plan, revoke, export,
//! a question, a hidden secret entry), the run panel (a wizard for one credential, a
//! progress panel for many) and the interrupted-work banner. All of it is state plus pure
//! update functions; the runtime carries out the [`Effect`]s (engine runs, answers to the
//! engine's questions, writing a report).
//!
//! One run at a time: the engine holds the inventory's write lock while it plans or runs.

pub mod banner;
pub mod export;
pub mod keys;
pub mod plan;
pub mod revoke;
pub mod run;

use chrono::{DateTime, Utc};

use super::keymap::Mode;
use crate::inventory::{CredentialRef, Inventory};
use crate::rotation::Question;

pub use banner::Banner;
pub use export::ExportDialog;
pub use plan::PlanDialog;
pub use revoke::RevokeDialog;
pub use run::{RunKind, RunPanel};

/// Which of a dialog's two buttons has the focus. Every dialog that changes something opens
/// on [`Focus::Cancel`], so the key that opened it can never also confirm it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// Close without doing anything.
    Cancel,
    /// Go ahead.
    Confirm,
}

impl Focus {
    /// The other button.
    pub fn toggled(self) -> Focus {
        match self {
            Focus::Cancel => Focus::Confirm,
            Focus::Confirm => Focus::Cancel,
        }
    }
}

/// A question of the engine waiting for the person, answered through the runtime by `id`.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    /// A yes/no confirmation.
    Confirm {
        /// The runtime's id for the answer channel.
        id: u64,
        /// The credential.
        at: CredentialRef,
        /// What is asked.
        question: Question,
    },
    /// A new secret to type (hidden), for a manual provider.
    Secret {
        /// The runtime's id for the answer channel.
        id: u64,
        /// The credential.
        at: CredentialRef,
        /// Where to issue it.
        instructions: String,
    },
}

impl Pending {
    /// The answer channel's id.
    pub fn id(&self) -> u64 {
        match self {
            Pending::Confirm { id, .. } | Pending::Secret { id, .. } => *id,
        }
    }

    /// The credential asked about.
    pub fn at(&self) -> &CredentialRef {
        match self {
            Pending::Confirm { at, .. } | Pending::Secret { at, .. } => at,
        }
    }
}

/// A secret being typed, never drawn; wiped when dropped.
pub struct HiddenEntry {
    /// The question it answers.
    pub pending: Pending,
    /// What was typed.
    pub typed: zeroize::Zeroizing<String>,
}

impl std::fmt::Debug for HiddenEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HiddenEntry")
            .field("pending", &self.pending)
            .field("typed", &"[hidden]")
            .finish()
    }
}

/// The dialog drawn over the screen, if any. It takes every key while open.
#[derive(Debug)]
pub enum Dialog {
    /// Waiting for the engine's plan (preconditions are asked of the providers).
    Planning {
        /// How many credentials are being planned.
        count: usize,
    },
    /// The rotation plan, to confirm.
    Plan(PlanDialog),
    /// A revocation, to confirm.
    Revoke(RevokeDialog),
    /// Where and how to export.
    Export(ExportDialog),
    /// One of the run's questions.
    Question(Pending),
    /// A new secret typed by the person.
    Secret(HiddenEntry),
    /// Interrupted work found on opening.
    Banner(Banner),
}

/// How a finished credential is marked in the table, until the next action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowMark {
    /// Finished.
    Done,
    /// Failed.
    Failed,
    /// Waits for a person.
    Waiting,
    /// Not checked: nothing remote to ask, or the provider could not or cannot say.
    Unchecked,
}

impl RowMark {
    /// The symbol in the table's mark column.
    pub fn symbol(self) -> char {
        match self {
            RowMark::Done => '✓',
            RowMark::Failed => '✗',
            RowMark::Waiting => '…',
            RowMark::Unchecked => '?',
        }
    }
}

/// Everything the dashboard's actions keep.
#[derive(Debug, Default)]
pub struct Work {
    /// The open dialog.
    pub dialog: Option<Dialog>,
    /// The current run, or the last one (its summary stays readable).
    pub run: Option<RunPanel>,
    /// Whether the engine is planning or running (it holds the write lock).
    pub engine_busy: bool,
    /// The last action's outcome per table row (a run's, or a sync's or verify's), until
    /// the next one.
    pub marks: Vec<(usize, RowMark)>,
    /// Interrupted work found on opening, kept for `:resume` after the banner is closed.
    pub interrupted: Option<Banner>,
}

impl Work {
    /// The work state on opening `inventory` at `now`: the banner is open when a rotation or
    /// revocation was interrupted, or an old key's grace period is over.
    pub fn on_open(inventory: &Inventory, now: DateTime<Utc>) -> Work {
        let banner = Banner::find(inventory, now);
        Work {
            dialog: banner.clone().map(Dialog::Banner),
            interrupted: banner,
            ..Work::default()
        }
    }

    /// The keys that apply while a dialog is open, or on the run panel.
    pub fn mode(&self) -> Option<Mode> {
        Some(match self.dialog.as_ref()? {
            Dialog::Planning { .. } => Mode::Planning,
            Dialog::Plan(_) => Mode::Plan,
            Dialog::Revoke(_) => Mode::Revoke,
            Dialog::Export(_) => Mode::Export,
            Dialog::Question(_) => Mode::Question,
            Dialog::Secret(_) => Mode::SecretEntry,
            Dialog::Banner(_) => Mode::Banner,
        })
    }

    /// Whether something runs that the spinner should show.
    pub fn busy(&self) -> bool {
        self.engine_busy
    }

    /// The mark for table row `row`.
    pub fn mark(&self, row: usize) -> Option<RowMark> {
        self.marks.iter().find(|(r, _)| *r == row).map(|(_, m)| *m)
    }
}

/// `text` made safe for the terminal ([`crate::text::terminal_safe`]), so a typed path or
/// a provider's message cannot move the cursor or change the terminal.
pub fn safe(text: &str) -> String {
    crate::text::terminal_safe(text).into_owned()
}
