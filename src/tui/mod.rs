//! The keyboard dashboard: `keyward` with no command, and `keyward demo`.
//!
//! Elm-style: [`state::State`] holds everything, [`keymap`] turns a key into an
//! [`action::Action`] as a pure function of (mode, key), [`update::update`] applies it and
//! returns [`action::Effect`]s, [`view`] draws the state, and the runtime runs the loop,
//! the terminal and the background provider calls. Only the runtime touches the terminal,
//! the clock or the network, so every screen is snapshot-tested on a `TestBackend`: time
//! reaches the state as data ([`action::Action::Clock`]), and so does the inventory read
//! again from disk ([`action::Action::Reloaded`], see [`live`]).

pub mod action;
pub mod actions;
pub mod backend;
pub mod clipboard;
pub mod discover;
mod hangup;
pub mod keymap;
pub mod live;
pub mod rows;
pub mod runner;
mod runtime;
pub mod search;
pub mod sort_keys;
pub mod state;
pub mod theme;
pub mod update;
pub mod view;
pub mod watch;

use chrono::{DateTime, Utc};

use crate::inventory::Inventory;

/// Receives the inventory after the dashboard changed it (e.g. after a sync) and saves it;
/// says why when it could not.
pub type SaveHook = Box<dyn FnMut(&Inventory) -> Result<(), SaveError> + Send>;

/// Why a [`SaveHook`] did not save. Either way nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveError {
    /// Another writer changed the file since the dashboard read it: the dashboard reads it
    /// again and re-applies its change, or shows the file as it is and says so.
    ChangedOnDisk(String),
    /// Anything else (the lock is held, the disk is full): the change stays in memory.
    Failed(String),
}

/// Reads the inventory again from disk: `Ok(None)` when the file is still as the dashboard
/// last read or saved it (so nothing is decrypted), the inventory when another writer
/// changed it, or why it could not be read. It must never ask anything on the terminal.
pub type ReloadHook = Box<dyn FnMut() -> Result<Option<Inventory>, String> + Send>;

/// Writes the access report a request asks for over the inventory at a moment, refusing
/// keyward's own files, and records it; returns the absolute path written and the report's
/// summary, or why not.
pub type ExportHook = Box<
    dyn FnMut(
            &Inventory,
            &crate::ops::export::ExportRequest,
            DateTime<Utc>,
        ) -> Result<(std::path::PathBuf, String), String>
        + Send,
>;

/// Appends an entry to the inventory's audit log (reveals, copies, syncs); returns why it
/// could not. A reveal or copy whose entry fails is refused.
pub type AuditHook = Box<dyn FnMut(crate::audit::Event) -> Result<(), String> + Send>;

/// How the dashboard opens.
pub struct DashboardOptions {
    /// What the title bar names: the inventory path, or "demo".
    pub title: String,
    /// Hide and refuse every key that changes the inventory.
    pub read_only: bool,
    /// The moment the session starts at (`--now`); `None` means the current time. Time
    /// moves on from it with the real clock while the dashboard is open.
    pub now: Option<DateTime<Utc>>,
    /// Only the 16 ANSI colours are ever used; this turns even those off.
    pub no_color: bool,
    /// Called with the changed inventory; `None` keeps changes in memory only.
    pub save: Option<SaveHook>,
    /// Where reveals, copies and saved syncs are recorded; `None` records nothing.
    pub audit: Option<AuditHook>,
    /// Reads the inventory again when it changed on disk, and on Ctrl-R; `None` never
    /// reloads.
    pub reload: Option<ReloadHook>,
    /// The inventory file, so providers that live beside it (the sandbox) can be reached,
    /// and watched for changes by other writers when there is a reload hook.
    pub inventory_path: Option<std::path::PathBuf>,
    /// Opens the inventory for a rotation or revocation, holding its write lock while the
    /// run lasts; `None` refuses them.
    pub open_for_run: Option<runner::OpenForRun>,
    /// Writes a report (`e`, `:report`) and records it; `None` refuses exports.
    pub export: Option<ExportHook>,
}

impl DashboardOptions {
    /// Options for `title`: read-write, judged now, colour unless `NO_COLOR` is set, no
    /// save or audit hook.
    pub fn new(title: impl Into<String>) -> Self {
        DashboardOptions {
            title: title.into(),
            read_only: false,
            now: None,
            no_color: theme::no_color_requested(),
            save: None,
            audit: None,
            reload: None,
            inventory_path: None,
            open_for_run: None,
            export: None,
        }
    }
}

/// Opens the dashboard on the terminal and runs it until the person quits (`q`, Ctrl-C), the
/// process is told to stop (SIGTERM, SIGHUP, SIGINT) or the terminal goes away (a dropped
/// SSH connection): each ends it within a second. The terminal is restored on every way
/// out, panics included; background work gets a bounded grace to finish its current step. Call it from synchronous
/// code: it starts its own tokio runtime for provider calls, or uses the current one (then
/// it must be a multi-threaded runtime, since this call blocks its thread).
///
/// Fails when stdin/stdout is not a terminal, or the terminal cannot be set up or read.
pub fn run(inventory: Inventory, options: DashboardOptions) -> anyhow::Result<()> {
    runtime::run(inventory, options)
}
