//! The dashboard's whole state: the inventory, its precomputed rows, the sort order, the
//! filtered index the table shows, marks, the open screen and text fields, background work
//! in flight and the status line. Views read it; only `update` changes it.

use chrono::{DateTime, Utc};

use super::keymap::Mode;
use super::rows::{natural_widths, Column, RowData};
use super::search::SearchText;
use super::sort_keys::SortKeys;
use super::theme::Theme;
use crate::inventory::{Credential, CredentialRef, Inventory, Status};
use crate::ops::Selection;
use crate::sync::SyncOutcome;

/// Lines the main screen spends on things other than table rows: title, counts, column
/// header, status line, footer.
pub const MAIN_CHROME_ROWS: u16 = 5;
/// Below this width, a message replaces the dashboard.
pub const MIN_WIDTH: u16 = 40;
/// Below this height, a message replaces the dashboard.
pub const MIN_HEIGHT: u16 = 10;
/// How many status-line messages `:messages` keeps.
pub const MESSAGES_KEPT: usize = 200;
/// Weeks the timeline covers: 13 weeks, the next 91 days.
pub const TIMELINE_WEEKS: usize = 13;

/// Which screen is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The credential table.
    Main,
    /// One credential.
    Detail,
    /// The expiry timeline.
    Timeline,
    /// The key help.
    Help,
    /// The run panel: a rotation wizard or the progress of many.
    Run,
    /// The keys the providers hold, tracked or not (`:discover`).
    Discover,
}

/// The text field open on the main screen, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// None: keys are commands.
    None,
    /// The `/` filter: typing filters live.
    Filter,
    /// The `:` command line.
    Command,
}

/// The table's sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    /// The column.
    pub column: Column,
    /// Reversed from the column's natural "needs attention first" order.
    pub reversed: bool,
}

/// A message in the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The text, never a secret.
    pub text: String,
    /// Shown as an error.
    pub error: bool,
}

/// The detail screen's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetailState {
    /// The row shown.
    pub row: usize,
    /// Whether the secret is shown in clear; reset on leaving the screen.
    pub reveal: bool,
    /// Lines scrolled.
    pub scroll: u16,
}

/// How many credentials fall due in each week ahead, over the visible rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    /// Already past their due date.
    pub overdue: usize,
    /// Due in week 0 (from now to 7 days), week 1, … up to [`TIMELINE_WEEKS`].
    pub weeks: Vec<usize>,
    /// Due later than the timeline reaches.
    pub later: usize,
    /// No due date at all.
    pub undated: usize,
}

/// A batch of background jobs, summarised when the last one reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// What the jobs do, for the status line's count: `sync` or `verify`.
    pub verb: &'static str,
    /// Jobs started.
    pub started: usize,
    /// Jobs answered.
    pub done: usize,
    /// Jobs that failed.
    pub failed: usize,
    /// Jobs not sent: nothing remote to ask (a manual credential, no client).
    pub skipped: usize,
    /// Why the last one was skipped.
    pub last_skip: Option<String>,
    /// Credentials a sync changed.
    pub changed: usize,
    /// Verify answers by label.
    pub verdicts: Vec<(&'static str, usize)>,
    /// The last failure, for the summary.
    pub last_error: Option<String>,
}

/// Settings for the session (only the clock moves).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The title bar's name for what is open (a path, or "demo").
    pub title: String,
    /// Refuse every change.
    pub read_only: bool,
    /// The moment every status and date is judged at; moved on by [`Action::Clock`](
    /// super::action::Action::Clock).
    pub now: DateTime<Utc>,
    /// Colours or not.
    pub theme: Theme,
    /// Whether a save hook exists (otherwise changes stay in memory).
    pub can_save: bool,
}

/// The dashboard's state.
#[derive(Debug)]
pub struct State {
    /// The inventory shown; sync updates it.
    pub inventory: Inventory,
    /// Fixed settings.
    pub settings: Settings,
    /// One per credential, in inventory order; indices are stable for the session.
    /// Replace them through [`State::replace_rows`] and [`State::rebuild_row`], which keep
    /// the sort keys in step.
    pub rows: Vec<RowData>,
    /// The rows' sort keys, computed at the first sort after the rows change.
    sort_keys: Option<SortKeys>,
    /// The rows' filter text, gathered at the first filter after the rows change.
    search: Option<SearchText>,
    /// The widest content of each column, for layout.
    pub natural_widths: [usize; Column::ALL.len()],
    /// Every row index, sorted.
    pub order: Vec<usize>,
    /// The rows that pass the filters, in sort order: what the table shows.
    pub visible: Vec<usize>,
    /// Marks, by row index; kept while a filter hides the row. Change them through
    /// [`State::toggle_mark`], [`State::mark_visible`] and [`State::clear_marks`], which
    /// keep `marked_shown` right.
    pub marked: Vec<bool>,
    /// How many visible rows are marked.
    pub marked_shown: usize,
    /// Per-status counts over `visible`, in `Status::ALL` order.
    pub counts: [usize; Status::ALL.len()],
    /// Cursor position in `visible`.
    pub cursor: usize,
    /// First visible row drawn.
    pub offset: usize,
    /// The sort.
    pub sort: Sort,
    /// The `/` filter text.
    pub filter: String,
    /// `:client`, `:due`, `:overdue`, `:stale`: the same selection vocabulary as the
    /// command line's flags ([`crate::ops::Selection`]), shown rows only.
    pub selection: Selection,
    /// Which screen.
    pub screen: Screen,
    /// Where help returns to.
    pub help_return: Screen,
    /// Help's scroll.
    pub help_scroll: u16,
    /// Whether the help screen shows the keys or the message history (`:messages`).
    pub show_messages: bool,
    /// Every status-line message this session, oldest first (the last [`MESSAGES_KEPT`]):
    /// the full text of one cut short in the status line, on demand.
    pub messages: Vec<Notice>,
    /// The open text field.
    pub input: Input,
    /// The `:` command being typed.
    pub command: String,
    /// The detail screen.
    pub detail: DetailState,
    /// The timeline, computed on opening it.
    pub timeline: Timeline,
    /// The `:discover` view.
    pub discover: super::discover::DiscoverView,
    /// The status line.
    pub notice: Option<Notice>,
    /// Background jobs in flight.
    pub running: usize,
    /// The current batch of jobs.
    pub batch: Batch,
    /// Spinner frame.
    pub spinner: usize,
    /// Terminal size.
    pub size: (u16, u16),
    /// Changes not yet handed to the save hook.
    pub unsaved: bool,
    /// Changes (what, address, details) to put in the audit log once saved: syncs and
    /// archivings, recorded as the command line records them.
    pub unlogged: Vec<(crate::audit::AuditAction, CredentialRef, String)>,
    /// Sync answers applied but not saved yet, with the moment each came: re-applied to
    /// the inventory when it is read again from disk (see [`super::live`]).
    pub replay: Vec<(SyncOutcome, DateTime<Utc>)>,
    /// The last save was refused for a change on disk and re-applied once already.
    pub save_retried: bool,
    /// Set when the dashboard should close.
    pub quit: bool,
    /// Rotations, revocations and exports: dialogs, the run panel, the banner.
    pub work: super::actions::Work,
}

impl State {
    /// The dashboard over `inventory`, sorted by status, unfiltered, for a `size` terminal.
    pub fn new(inventory: Inventory, settings: Settings, size: (u16, u16)) -> Self {
        let rows = build_rows(&inventory, settings.now);
        let natural_widths = natural_widths(&rows);
        let n = rows.len();
        let work = super::actions::Work::on_open(&inventory, settings.now);
        let mut state = State {
            inventory,
            settings,
            rows,
            sort_keys: None,
            search: None,
            natural_widths,
            order: (0..n).collect(),
            visible: Vec::new(),
            marked: vec![false; n],
            marked_shown: 0,
            counts: [0; Status::ALL.len()],
            cursor: 0,
            offset: 0,
            sort: Sort {
                column: Column::Status,
                reversed: false,
            },
            filter: String::new(),
            selection: Selection {
                include_retired: true,
                ..Selection::default()
            },
            screen: Screen::Main,
            help_return: Screen::Main,
            help_scroll: 0,
            show_messages: false,
            messages: Vec::new(),
            input: Input::None,
            command: String::new(),
            detail: DetailState {
                row: 0,
                reveal: false,
                scroll: 0,
            },
            timeline: Timeline::default(),
            discover: Default::default(),
            notice: None,
            running: 0,
            batch: Batch::default(),
            spinner: 0,
            size,
            unsaved: false,
            unlogged: Vec::new(),
            replay: Vec::new(),
            save_retried: false,
            quit: false,
            work,
        };
        state.resort();
        state
    }

    /// Which keys apply now.
    pub fn mode(&self) -> Mode {
        if let Some(dialog) = self.work.mode() {
            return dialog;
        }
        match (self.screen, self.input) {
            (Screen::Main, Input::Filter) => Mode::Filter,
            (Screen::Main, Input::Command) => Mode::Command,
            (Screen::Main, Input::None) => Mode::Main,
            (Screen::Detail, _) => Mode::Detail,
            (Screen::Timeline, _) => Mode::Timeline,
            (Screen::Help, _) => Mode::Help,
            (Screen::Run, _) => Mode::Run,
            (Screen::Discover, _) => Mode::Discover,
        }
    }

    /// The credential behind row `row`.
    pub fn credential(&self, row: usize) -> Option<&Credential> {
        let r = self.rows.get(row)?;
        self.inventory
            .clients
            .get(r.client_index)?
            .integrations
            .get(r.credential_index)
    }

    /// The row index under the cursor.
    pub fn selected(&self) -> Option<usize> {
        self.visible.get(self.cursor).copied()
    }

    /// Table rows that fit on one page.
    pub fn page_rows(&self) -> usize {
        usize::from(self.size.1.saturating_sub(MAIN_CHROME_ROWS)).max(1)
    }

    /// Visible rows that are marked.
    pub fn marked_visible(&self) -> Vec<usize> {
        if self.marked_shown == 0 {
            return Vec::new();
        }
        self.visible
            .iter()
            .copied()
            .filter(|&r| self.marked[r])
            .collect()
    }

    /// Flips the mark of `row`, a visible row.
    pub fn toggle_mark(&mut self, row: usize) {
        let Some(m) = self.marked.get_mut(row) else {
            return;
        };
        *m = !*m;
        if *m {
            self.marked_shown += 1;
        } else {
            self.marked_shown = self.marked_shown.saturating_sub(1);
        }
    }

    /// Marks (or unmarks) every visible row.
    pub fn mark_visible(&mut self, mark: bool) {
        for &r in &self.visible {
            self.marked[r] = mark;
        }
        self.marked_shown = if mark { self.visible.len() } else { 0 };
    }

    /// Unmarks every row, hidden ones too.
    pub fn clear_marks(&mut self) {
        self.marked.iter_mut().for_each(|m| *m = false);
        self.marked_shown = 0;
    }

    /// Sorts every row by the current sort, then filters again, keeping the cursor on
    /// the same credential where it is still visible.
    pub fn resort(&mut self) {
        let mut keys = match self.sort_keys.take() {
            Some(keys) if keys.covers(&self.rows) => keys,
            _ => SortKeys::new(&self.rows),
        };
        self.order = keys.order(&self.rows, self.sort.column, self.sort.reversed);
        self.sort_keys = Some(keys);
        self.refilter(false);
    }

    /// Puts `rows` in place of every row (same credentials, judged afresh), with their
    /// widths; the sort keys are computed again at the next sort.
    pub fn replace_rows(&mut self, rows: Vec<RowData>) {
        self.natural_widths = natural_widths(&rows);
        self.rows = rows;
        self.sort_keys = None;
        self.search = None;
    }

    /// Recomputes `visible` and the counts. With `narrowing`, only the currently visible
    /// rows are tested: the caller knows the new filters only exclude more.
    pub fn refilter(&mut self, narrowing: bool) {
        let keep = self.selected();
        let query = self.filter.to_lowercase();
        let terms: Vec<&str> = query.split_whitespace().collect();
        let now = self.settings.now;
        let search = match self.search.take() {
            Some(search) if search.covers(&self.rows) => search,
            _ => SearchText::new(&self.rows),
        };
        let source = if narrowing {
            &self.visible
        } else {
            &self.order
        };
        // A query over most rows is searched for once through all the text; over a few
        // rows already narrowed down, in each of them.
        let found = (!terms.is_empty() && source.len() > self.rows.len() / 16)
            .then(|| search.matching_all(&terms));
        let text_matches = |r: usize| match &found {
            _ if terms.is_empty() => true,
            Some(found) => found[r],
            None => search.row_matches(r, &terms),
        };
        let everything = self.selection.picks_everything();
        let mut next = Vec::with_capacity(source.len());
        let mut counts = [0; Status::ALL.len()];
        let mut marked = 0;
        for &r in source {
            // Found by position, not by address: a search through every client per row
            // made each keystroke grow with the square of the inventory.
            let passes = text_matches(r)
                && !search.archived[r]
                && (everything
                    || self.credential(r).is_some_and(|c| {
                        self.selection
                            .matches(&self.inventory, &self.rows[r].at, c, now)
                            .is_some()
                    }));
            if passes {
                next.push(r);
                counts[usize::from(search.status[r])] += 1;
                marked += usize::from(self.marked[r]);
            }
        }
        self.search = Some(search);
        self.visible = next;
        self.counts = counts;
        self.marked_shown = marked;
        self.cursor = keep
            .and_then(|k| self.visible.iter().position(|&r| r == k))
            .unwrap_or(0);
        self.scroll_to_cursor();
    }

    /// Rebuilds row `row` from its credential after a change.
    pub fn rebuild_row(&mut self, row: usize) {
        let Some(r) = self.rows.get(row) else { return };
        let (ci, ii) = (r.client_index, r.credential_index);
        let Some(client) = self.inventory.clients.get(ci) else {
            return;
        };
        let Some(cred) = client.integrations.get(ii) else {
            return;
        };
        let verification = r.verification.clone();
        let mut fresh = RowData::build(
            (ci, ii),
            client,
            cred,
            &self.inventory.policy,
            self.settings.now,
        );
        fresh.verification = verification;
        self.rows[row] = fresh;
        self.sort_keys = None;
        self.search = None;
    }

    /// Moves the drawn window so the cursor is on it.
    pub fn scroll_to_cursor(&mut self) {
        let page = self.page_rows();
        if self.cursor < self.offset {
            self.offset = self.cursor;
        } else if self.cursor >= self.offset + page {
            self.offset = self.cursor + 1 - page;
        }
        self.offset = self.offset.min(self.visible.len().saturating_sub(page));
    }

    /// Counts the visible rows by the week they fall due.
    pub fn compute_timeline(&mut self) {
        let now = self.settings.now;
        let mut t = Timeline {
            weeks: vec![0; TIMELINE_WEEKS],
            ..Timeline::default()
        };
        for &r in &self.visible {
            match self.rows[r].assessment.due_at {
                None => t.undated += 1,
                Some(due) if due <= now => t.overdue += 1,
                Some(due) => {
                    let week = usize::try_from((due - now).num_days() / 7).unwrap_or(usize::MAX);
                    match t.weeks.get_mut(week) {
                        Some(n) => *n += 1,
                        None => t.later += 1,
                    }
                }
            }
        }
        self.timeline = t;
    }

    /// Sets the status line.
    pub fn notify(&mut self, text: impl Into<String>) {
        self.say(Notice {
            text: text.into(),
            error: false,
        });
    }

    /// Sets the status line to an error.
    pub fn fail(&mut self, text: impl Into<String>) {
        self.say(Notice {
            text: text.into(),
            error: true,
        });
    }

    fn say(&mut self, notice: Notice) {
        if self.messages.len() >= MESSAGES_KEPT {
            self.messages.remove(0);
        }
        self.messages.push(notice.clone());
        self.notice = Some(notice);
    }
}

/// One row per credential of `inventory`, in inventory order, judged at `now`.
pub fn build_rows(inventory: &Inventory, now: DateTime<Utc>) -> Vec<RowData> {
    let policy = &inventory.policy;
    inventory
        .clients
        .iter()
        .enumerate()
        .flat_map(|(ci, client)| {
            client
                .integrations
                .iter()
                .enumerate()
                .map(move |(ii, cred)| RowData::build((ci, ii), client, cred, policy, now))
        })
        .collect()
}

/// Position of `status` in `Status::ALL` (and in [`State::counts`]).
pub fn status_index(status: Status) -> usize {
    Status::ALL.iter().position(|&s| s == status).unwrap_or(0)
}
