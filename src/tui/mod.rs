//! The keyboard dashboard: `keyward` with no command, and `keyward demo`.
//!
//! Elm-style: [`state::State`] holds everything, [`keymap`] turns a key into an
//! [`action::Action`] as a pure function of (mode, key), [`update::update`] applies it and
//! returns [`action::Effect`]s, [`view`] draws the state, and the runtime runs the loop,
//! the terminal and the background provider calls. Only the runtime touches the terminal,
//! the clock or the network, so every screen is snapshot-tested on a `TestBackend`.

pub mod action;
pub mod actions;
pub mod backend;
pub mod clipboard;
pub mod keymap;
pub mod rows;
pub mod runner;
mod runtime;
pub mod state;
pub mod theme;
pub mod update;
pub mod view;

use chrono::{DateTime, Utc};

use crate::inventory::Inventory;

/// Receives the inventory after the dashboard changed it (e.g. after a sync); returns a
/// message for the status line when saving failed.
pub type SaveHook = Box<dyn FnMut(&Inventory) -> Result<(), String> + Send>;

/// Appends an entry to the inventory's audit log (reveals, copies, syncs); returns why it
/// could not. A reveal or copy whose entry fails is refused.
pub type AuditHook = Box<dyn FnMut(crate::audit::Event) -> Result<(), String> + Send>;

/// How the dashboard opens.
pub struct DashboardOptions {
    /// What the title bar names: the inventory path, or "demo".
    pub title: String,
    /// Hide and refuse every key that changes the inventory.
    pub read_only: bool,
    /// The moment statuses are judged at; `None` means the current time.
    pub now: Option<DateTime<Utc>>,
    /// Only the 16 ANSI colours are ever used; this turns even those off.
    pub no_color: bool,
    /// Called with the changed inventory; `None` keeps changes in memory only.
    pub save: Option<SaveHook>,
    /// Where reveals, copies and saved syncs are recorded; `None` records nothing.
    pub audit: Option<AuditHook>,
    /// The inventory file, so providers that live beside it (the sandbox) can be reached.
    pub inventory_path: Option<std::path::PathBuf>,
    /// Opens the inventory for a rotation or revocation, holding its write lock while the
    /// run lasts; `None` refuses them.
    pub open_for_run: Option<runner::OpenForRun>,
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
            inventory_path: None,
            open_for_run: None,
        }
    }
}

/// Opens the dashboard on the terminal and runs it until the person quits (`q`, Ctrl-C).
/// The terminal is restored on every way out, panics included. Call it from synchronous
/// code: it starts its own tokio runtime for provider calls, or uses the current one (then
/// it must be a multi-threaded runtime, since this call blocks its thread).
///
/// Fails when stdin/stdout is not a terminal, or the terminal cannot be set up or read.
pub fn run(inventory: Inventory, options: DashboardOptions) -> anyhow::Result<()> {
    runtime::run(inventory, options)
}
