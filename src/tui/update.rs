//! The one place state changes: `update(state, action)` applies an action and returns the
//! effects the runtime must carry out. Pure: no terminal, no clock, no network.

use super::action::{Action, AfterAudit, Effect, Job, JobKind};
use super::actions::RowMark;
use super::keymap::{self, Mode};
use super::live;
use super::rows::Column;
use super::state::{Batch, Input, Notice, Screen, State};
use crate::audit::Event;
use crate::ops::Selection;
use crate::providers::{Target, Verification};
use crate::sync::{self, SyncOutcome, SyncResult};

/// Applies `action` to `state`; returns what the runtime must do next.
pub fn update(state: &mut State, action: Action) -> Vec<Effect> {
    let action = match super::actions::keys::handle(state, action) {
        Ok(effects) => return effects,
        Err(action) => action,
    };
    match action {
        Action::Quit => {
            state.quit = true;
            state.detail.reveal = false;
        }
        Action::Resize(w, h) => {
            state.size = (w, h);
            state.scroll_to_cursor();
        }
        Action::Tick => {
            if state.running > 0 {
                state.spinner = state.spinner.wrapping_add(1);
            }
        }
        Action::Clock(now) => live::set_clock(state, now),
        Action::Reload => return live::reload_asked(state),
        Action::Reloaded { why, result } => return live::reloaded(state, why, result),
        Action::SaveConflict(message) => return live::save_conflict(state, message),
        Action::Refused(what) => {
            state.fail(format!("read-only: cannot {what}"));
        }
        Action::Inspected {
            row,
            remote_id,
            result,
        } => return inspected(state, row, remote_id, result),
        Action::Verified { row, result } => return verified(state, row, result),
        Action::Discovered(d) => super::discover::answered(state, &d),
        Action::Audited { result, then } => return audited(state, result, then),
        Action::Saved(Ok(())) => {
            state.unsaved = false;
            live::saved(state);
            let effects = std::mem::take(&mut state.unlogged)
                .into_iter()
                .map(|(action, at, detail)| Effect::Audit {
                    event: Event::new(action, Some(&at), detail),
                    then: AfterAudit::Nothing,
                })
                .collect();
            state.notice = Some(match state.notice.take() {
                Some(n) => Notice {
                    text: format!("{}; saved", n.text),
                    error: n.error,
                },
                None => Notice {
                    text: "saved".to_string(),
                    error: false,
                },
            });
            return effects;
        }
        Action::Saved(Err(e)) => {
            // Nothing was saved, so there is nothing to put on record.
            state.unlogged.clear();
            state.save_retried = false;
            state.fail(format!("save failed: {e}"));
        }
        Action::Copied(Ok(())) => {}
        Action::Copied(Err(e)) => state.fail(format!("copy failed: {e}")),
        Action::Failed(e) => state.fail(e),
        other => return on_key_action(state, other),
    }
    Vec::new()
}

/// Carries out what waited for an audit entry, or refuses it when the entry could not be
/// written.
fn audited(state: &mut State, result: Result<(), String>, then: AfterAudit) -> Vec<Effect> {
    let at = |row: usize| {
        state
            .rows
            .get(row)
            .map(|r| r.at.to_string())
            .unwrap_or_default()
    };
    match (result, then) {
        (Err(e), AfterAudit::Reveal { row }) => {
            state.fail(format!(
                "{}: not revealed, the audit log failed: {e}",
                at(row)
            ));
        }
        (Err(e), AfterAudit::Copy { row }) => {
            state.fail(format!(
                "{}: not copied, the audit log failed: {e}",
                at(row)
            ));
        }
        // A sync's save or a verify's check happened; only its record is missing.
        (Err(e), AfterAudit::Nothing) => state.fail(format!("done, but not logged: {e}")),
        (Ok(()), AfterAudit::Reveal { row }) => {
            // Only if the person is still looking at that credential.
            if state.screen == Screen::Detail && state.detail.row == row {
                state.detail.reveal = true;
            }
        }
        (Ok(()), AfterAudit::Copy { row }) => {
            if let Some(secret) = state.credential(row).and_then(|c| c.secret.clone()) {
                state.notify(format!(
                    "{}: secret sent to the clipboard (OSC 52)",
                    at(row)
                ));
                return vec![Effect::Copy(secret)];
            }
        }
        (Err(e), AfterAudit::CopyNew { row }) => {
            state.fail(format!(
                "{}: not copied, the audit log failed: {e}",
                at(row)
            ));
        }
        (Ok(()), AfterAudit::CopyNew { row }) => {
            if let Some(r) = state.rows.get(row) {
                return vec![Effect::CopyNewSecret(r.at.clone())];
            }
        }
        (Ok(()), AfterAudit::Nothing) => {}
    }
    Vec::new()
}

fn on_key_action(state: &mut State, action: Action) -> Vec<Effect> {
    match state.mode() {
        Mode::Filter | Mode::Command => text_field(state, action),
        Mode::Main => main(state, action),
        Mode::Detail => detail(state, action),
        Mode::Discover => match action {
            Action::Help => {
                open_help(state);
                Vec::new()
            }
            other => super::discover::keys(state, other),
        },
        Mode::Timeline => {
            match action {
                Action::Back => state.screen = Screen::Main,
                Action::Help => open_help(state),
                _ => {}
            }
            Vec::new()
        }
        Mode::Help => {
            match action {
                Action::Back => {
                    state.screen = state.help_return;
                }
                Action::Down => state.help_scroll = state.help_scroll.saturating_add(1),
                Action::Up => state.help_scroll = state.help_scroll.saturating_sub(1),
                Action::PageDown => {
                    state.help_scroll = state.help_scroll.saturating_add(page(state))
                }
                Action::PageUp => state.help_scroll = state.help_scroll.saturating_sub(page(state)),
                Action::Top => state.help_scroll = 0,
                Action::Bottom => state.help_scroll = u16::MAX,
                _ => {}
            }
            Vec::new()
        }
        // The dialogs and the run panel: `actions::keys::handle` took what they use.
        Mode::Run
        | Mode::Planning
        | Mode::Plan
        | Mode::Revoke
        | Mode::Export
        | Mode::Question
        | Mode::SecretEntry
        | Mode::Banner => Vec::new(),
    }
}

fn page(state: &State) -> u16 {
    u16::try_from(state.page_rows()).unwrap_or(u16::MAX)
}

fn open_help(state: &mut State) {
    leave_detail(state);
    state.help_return = state.screen;
    state.help_scroll = 0;
    state.show_messages = false;
    state.screen = Screen::Help;
}

/// `:messages`: every status-line message this session, newest first, in full.
fn open_messages(state: &mut State) {
    open_help(state);
    state.show_messages = true;
}

/// Leaving the detail screen always masks the secret again.
fn leave_detail(state: &mut State) {
    state.detail.reveal = false;
}

fn move_cursor(state: &mut State, action: &Action) -> bool {
    let last = state.visible.len().saturating_sub(1);
    let page = state.page_rows();
    state.cursor = match action {
        Action::Down => (state.cursor + 1).min(last),
        Action::Up => state.cursor.saturating_sub(1),
        Action::Top => 0,
        Action::Bottom => last,
        Action::PageDown => (state.cursor + page).min(last),
        Action::PageUp => state.cursor.saturating_sub(page),
        _ => return false,
    };
    state.scroll_to_cursor();
    true
}

fn main(state: &mut State, action: Action) -> Vec<Effect> {
    if move_cursor(state, &action) {
        return Vec::new();
    }
    match action {
        Action::Open => {
            if let Some(row) = state.selected() {
                state.detail.row = row;
                state.detail.reveal = false;
                state.detail.scroll = 0;
                state.screen = Screen::Detail;
            }
        }
        Action::Back => {
            if state.marked_shown > 0 {
                state.clear_marks();
                state.notify("marks cleared");
            } else if !state.filter.is_empty() || !state.selection.is_empty() {
                clear_filters(state);
                state.notify("filters cleared");
            }
        }
        Action::ToggleMark => {
            if let Some(row) = state.selected() {
                state.toggle_mark(row);
                move_cursor(state, &Action::Down);
            }
        }
        Action::MarkAllVisible => {
            let all = !state.visible.is_empty() && state.marked_shown == state.visible.len();
            state.mark_visible(!all);
        }
        Action::StartFilter => state.input = Input::Filter,
        Action::StartCommand => {
            state.command.clear();
            state.input = Input::Command;
        }
        Action::ClientFilter => {
            if state.selection.client.is_some() {
                state.selection.client = None;
                state.refilter(false);
            } else if let Some(row) = state.selected() {
                state.selection.client = Some(state.rows[row].at.client.clone());
                state.refilter(true);
            }
        }
        Action::NextSort => {
            let i = Column::ALL
                .iter()
                .position(|&c| c == state.sort.column)
                .unwrap_or(0);
            state.sort.column = Column::ALL[(i + 1) % Column::ALL.len()];
            state.sort.reversed = false;
            state.resort();
        }
        Action::ReverseSort => {
            state.sort.reversed = !state.sort.reversed;
            state.resort();
        }
        Action::Timeline => {
            state.compute_timeline();
            state.screen = Screen::Timeline;
        }
        Action::Help => open_help(state),
        Action::Sync => return start_jobs(state, JobKind::Sync, target_rows(state)),
        Action::Verify => return start_jobs(state, JobKind::Verify, target_rows(state)),
        _ => {}
    }
    Vec::new()
}

fn clear_filters(state: &mut State) {
    state.filter.clear();
    state.selection = Selection {
        include_retired: true,
        ..Selection::default()
    };
    state.refilter(false);
}

/// The marked visible rows, or the selected one when none is marked.
fn target_rows(state: &State) -> Vec<usize> {
    let marked = state.marked_visible();
    if marked.is_empty() {
        state.selected().into_iter().collect()
    } else {
        marked
    }
}

fn detail(state: &mut State, action: Action) -> Vec<Effect> {
    let row = state.detail.row;
    match action {
        Action::Back => {
            leave_detail(state);
            state.screen = Screen::Main;
        }
        Action::Down => state.detail.scroll = state.detail.scroll.saturating_add(1),
        Action::Up => state.detail.scroll = state.detail.scroll.saturating_sub(1),
        Action::PageDown => state.detail.scroll = state.detail.scroll.saturating_add(page(state)),
        Action::PageUp => state.detail.scroll = state.detail.scroll.saturating_sub(page(state)),
        Action::Top => state.detail.scroll = 0,
        Action::Bottom => state.detail.scroll = u16::MAX,
        Action::Reveal => {
            let at = state.rows[row].at.clone();
            let has_secret = state.credential(row).is_some_and(|c| c.secret.is_some());
            if state.detail.reveal {
                state.detail.reveal = false;
            } else if has_secret {
                // Shown only once the audit log holds the reveal.
                return vec![Effect::Audit {
                    event: Event::new(
                        crate::audit::AuditAction::Revealed,
                        Some(&at),
                        "shown in the dashboard",
                    ),
                    then: AfterAudit::Reveal { row },
                }];
            } else {
                state.fail(format!("{at}: no secret stored"));
            }
        }
        Action::Copy => {
            let at = state.rows[row].at.clone();
            if state.credential(row).is_some_and(|c| c.secret.is_some()) {
                return vec![Effect::Audit {
                    event: Event::new(
                        crate::audit::AuditAction::Copied,
                        Some(&at),
                        "sent to the terminal's clipboard with OSC 52",
                    ),
                    then: AfterAudit::Copy { row },
                }];
            }
            state.fail(format!("{at}: no secret stored"));
        }
        Action::Timeline => {
            leave_detail(state);
            state.compute_timeline();
            state.screen = Screen::Timeline;
        }
        Action::Help => open_help(state),
        Action::Sync => return start_jobs(state, JobKind::Sync, vec![row]),
        Action::Verify => return start_jobs(state, JobKind::Verify, vec![row]),
        _ => {}
    }
    Vec::new()
}

fn text_field(state: &mut State, action: Action) -> Vec<Effect> {
    let filtering = state.input == Input::Filter;
    match action {
        Action::Insert(c) => {
            if filtering {
                state.filter.push(c);
                state.refilter(true);
            } else {
                state.command.push(c);
            }
        }
        Action::DeleteBack => {
            if filtering {
                if state.filter.pop().is_some() {
                    state.refilter(false);
                }
            } else {
                state.command.pop();
            }
        }
        Action::ClearLine => {
            if filtering {
                state.filter.clear();
                state.refilter(false);
            } else {
                state.command.clear();
            }
        }
        Action::Back => {
            if filtering {
                state.filter.clear();
                state.refilter(false);
            } else {
                state.command.clear();
            }
            state.input = Input::None;
        }
        Action::Submit => {
            state.input = Input::None;
            if !filtering {
                let line = std::mem::take(&mut state.command);
                return run_command(state, &line);
            }
        }
        Action::Up | Action::Down => {
            move_cursor(state, &action);
        }
        _ => {}
    }
    Vec::new()
}

/// Runs one `:` command line.
fn run_command(state: &mut State, line: &str) -> Vec<Effect> {
    let mut words = line.split_whitespace();
    let Some(verb) = words.next() else {
        return Vec::new();
    };
    let args: Vec<&str> = words.collect();
    match (verb, args.as_slice()) {
        ("q" | "q!" | "quit" | "exit", []) => state.quit = true,
        ("client", []) => {
            state.selection.client = None;
            state.refilter(false);
        }
        ("client", [id]) => {
            let found = state
                .inventory
                .clients
                .iter()
                .find(|c| c.id.eq_ignore_ascii_case(id))
                .map(|c| c.id.clone());
            match found {
                Some(c) => {
                    state.selection.client = Some(c.clone());
                    state.refilter(false);
                    state.notify(format!("client {c}: {} credentials", state.visible.len()));
                }
                None => state.fail(format!("no client `{id}`")),
            }
        }
        ("due" | "expiring", []) => {
            state.selection.due_within_days = None;
            state.selection.overdue = false;
            state.refilter(false);
        }
        ("due" | "expiring" | "overdue" | "stale", _) => {
            // The command line's vocabulary (`--due 30`, `--overdue`, `--stale`), added to
            // what is already narrowed; `:clear` or Esc starts over.
            let mut words = vec![verb];
            words.extend(args.iter().copied());
            match Selection::parse_words(&words) {
                Ok(more) => {
                    let sel = &mut state.selection;
                    sel.due_within_days = more.due_within_days.or(sel.due_within_days);
                    sel.overdue |= more.overdue;
                    sel.stale |= more.stale;
                    state.refilter(false);
                    state.notify(format!(
                        "{} shown: {}",
                        state.visible.len(),
                        state.selection.describe()
                    ));
                }
                Err(e) => state.fail(e),
            }
        }
        ("sort", [col, rest @ ..]) if rest.len() <= 1 => {
            let reversed = match rest {
                [] | ["asc"] => Some(false),
                ["desc"] => Some(true),
                _ => None,
            };
            match (Column::parse(col), reversed) {
                (Some(column), Some(reversed)) => {
                    state.sort = super::state::Sort { column, reversed };
                    state.resort();
                }
                (None, _) => {
                    let names: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
                    state.fail(format!(
                        "unknown column `{col}`: one of {}",
                        names.join(", ")
                    ));
                }
                (_, None) => state.fail("sort order is `asc` or `desc`"),
            }
        }
        ("filter", words) => {
            state.filter = words.join(" ");
            state.refilter(false);
        }
        ("clear", []) => {
            state.clear_marks();
            clear_filters(state);
        }
        ("discover", []) => return super::discover::open(state, None),
        ("discover", [client]) => return super::discover::open(state, Some(client)),
        ("timeline", []) => {
            state.compute_timeline();
            state.screen = Screen::Timeline;
        }
        ("help", []) => open_help(state),
        ("messages", []) => open_messages(state),
        ("archive", []) => return archive_rows(state, target_rows(state)),
        ("sync", []) => return start_jobs(state, JobKind::Sync, target_rows(state)),
        ("verify", []) => return start_jobs(state, JobKind::Verify, target_rows(state)),
        _ => {
            if let Some(effects) = super::actions::keys::command(state, verb, &args) {
                return effects;
            }
            let known = keymap::COMMANDS
                .iter()
                .any(|c| c.usage[1..].starts_with(verb));
            if known {
                state.fail(format!("wrong arguments for `:{verb}` (see ? for usage)"));
            } else {
                state.fail(format!("unknown command `:{verb}` (see ? for the list)"));
            }
        }
    }
    Vec::new()
}

/// Archives the revoked credentials of `rows` (`:archive`): the same rule and history entry
/// as `keyward archive`, saved, then an `archived` audit entry each.
fn archive_rows(state: &mut State, rows: Vec<usize>) -> Vec<Effect> {
    if state.settings.read_only {
        state.fail("read-only: cannot archive");
        return Vec::new();
    }
    let refs: Vec<_> = rows
        .iter()
        .filter_map(|&r| state.rows.get(r).map(|row| row.at.clone()))
        .collect();
    if refs.is_empty() {
        state.fail("nothing selected");
        return Vec::new();
    }
    match crate::ops::archive::archive(&mut state.inventory, &refs, state.settings.now) {
        Err(e) => {
            state.fail(e.to_string());
            Vec::new()
        }
        Ok(done) if done.is_empty() => {
            state.notify("already archived");
            Vec::new()
        }
        Ok(done) => {
            let n = done.len();
            for at in done {
                state.unlogged.push((
                    crate::audit::AuditAction::Archived,
                    at,
                    "moved out of the active table".into(),
                ));
            }
            for r in rows {
                state.rebuild_row(r);
            }
            state.clear_marks();
            state.resort();
            state.unsaved = true;
            state.notify(format!("archived {n}: out of the table, history kept"));
            if state.settings.can_save {
                vec![Effect::Save]
            } else {
                Vec::new()
            }
        }
    }
}

/// Starts `kind` jobs for `rows`. Read-only refuses sync here too, whatever the key table
/// let through.
fn start_jobs(state: &mut State, kind: JobKind, rows: Vec<usize>) -> Vec<Effect> {
    if kind == JobKind::Sync && state.settings.read_only {
        state.fail("read-only: cannot sync");
        return Vec::new();
    }
    let mut effects = Vec::new();
    let mut skipped = Vec::new();
    for row in rows {
        let Some(cred) = state.credential(row) else {
            continue;
        };
        if kind == JobKind::Verify && cred.secret.is_none() {
            skipped.push(state.rows[row].at.to_string());
            continue;
        }
        let Some(target) = Target::from_inventory(&state.inventory, &state.rows[row].at) else {
            continue;
        };
        effects.push(Effect::Run(Box::new(Job { kind, row, target })));
    }
    if state.running == 0 {
        state.batch = Batch::default();
        // The marks of the last action give way to this one's.
        state.work.marks.clear();
    }
    state.batch.started += effects.len();
    state.batch.verb = match kind {
        JobKind::Sync => "sync",
        JobKind::Verify => "verify",
    };
    state.running += effects.len();
    let verb = if kind == JobKind::Sync {
        "syncing"
    } else {
        "verifying"
    };
    match (effects.len(), skipped.len()) {
        (0, 0) => state.fail("nothing selected"),
        (0, _) => state.fail(format!("no secret stored for {}", skipped.join(", "))),
        (n, 0) => state.notify(format!("{verb} {n}…")),
        (n, s) => state.notify(format!("{verb} {n}… ({s} without a secret skipped)")),
    }
    effects
}

fn job_done(state: &mut State) -> Vec<Effect> {
    state.running = state.running.saturating_sub(1);
    state.batch.done += 1;
    if state.running > 0 {
        return Vec::new();
    }
    let b = &state.batch;
    let mut text = format!("{} done", b.done);
    if b.changed > 0 {
        text.push_str(&format!(", {} changed", b.changed));
    }
    for (label, n) in &b.verdicts {
        text.push_str(&format!(", {n} {label}"));
    }
    if b.skipped > 0 {
        text.push_str(&format!(", {} skipped", b.skipped));
        if let (1, Some(why)) = (b.skipped, &b.last_skip) {
            text.push_str(&format!(" ({why})"));
        }
    }
    if b.failed > 0 {
        text.push_str(&format!(", {} failed", b.failed));
        if let Some(e) = &b.last_error {
            text.push_str(&format!(" (last: {e})"));
        }
    }
    let failed = b.failed > 0;
    if b.changed > 0 {
        // Statuses may have moved: sort and filter again, once for the whole batch.
        state.resort();
    }
    if state.unsaved && !state.settings.can_save {
        text.push_str("; changes kept in memory only");
    }
    if failed {
        state.fail(text);
    } else {
        state.notify(text);
    }
    if state.unsaved && state.settings.can_save {
        return vec![Effect::Save];
    }
    Vec::new()
}

fn inspected(
    state: &mut State,
    row: usize,
    remote_id: Option<String>,
    result: SyncResult,
) -> Vec<Effect> {
    let Some(at) = state.rows.get(row).map(|r| r.at.clone()) else {
        return job_done(state);
    };
    match result {
        SyncResult::Found(_) | SyncResult::Missing => {
            state.work.marks.push((row, RowMark::Done));
            // Written only if the credential still holds the key that was asked about: a
            // rotation may have replaced it meanwhile (the library's rule, shared with
            // `keyward sync`). The check time is recorded even when nothing else changed.
            let still_same = state
                .inventory
                .credential(&at)
                .is_some_and(|c| c.remote_id == remote_id);
            let outcome = SyncOutcome {
                at,
                remote_id,
                result,
            };
            let outcomes = [outcome];
            let changed = sync::apply(&mut state.inventory, &outcomes, state.settings.now).len();
            state.unsaved |= still_same;
            if still_same {
                let [outcome] = outcomes;
                live::remember_sync(state, outcome, state.settings.now);
            }
            if changed > 0 {
                state.batch.changed += changed;
                state.rebuild_row(row);
                if let Some(c) = state.credential(row) {
                    let detail = c
                        .history
                        .last()
                        .map(|h| h.detail.clone())
                        .unwrap_or_default();
                    state.unlogged.push((
                        crate::audit::AuditAction::Synced,
                        state.rows[row].at.clone(),
                        detail,
                    ));
                }
            }
        }
        SyncResult::Skipped { reason } => {
            state.work.marks.push((row, RowMark::Unchecked));
            state.batch.skipped += 1;
            state.batch.last_skip = Some(format!("{at}: {reason}"));
        }
        SyncResult::Failed(e) => {
            state.work.marks.push((row, RowMark::Failed));
            let e = format!("{at}: {e}");
            state.batch.failed += 1;
            state.fail(e.clone());
            state.batch.last_error = Some(e);
        }
    }
    job_done(state)
}

fn verified(state: &mut State, row: usize, result: Verification) -> Vec<Effect> {
    let label = result.label();
    let mark = match &result {
        Verification::Valid => RowMark::Done,
        Verification::Invalid { .. } => RowMark::Failed,
        Verification::CouldNotCheck { .. } | Verification::CannotCheck { .. } => RowMark::Unchecked,
    };
    state.work.marks.push((row, mark));
    match state.batch.verdicts.iter_mut().find(|(l, _)| *l == label) {
        Some((_, n)) => *n += 1,
        None => state.batch.verdicts.push((label, 1)),
    }
    // A check sends the stored secret to its provider: it is recorded, as `keyward
    // verify` records it.
    let audit = state.rows.get(row).map(|r| Effect::Audit {
        event: crate::verify::audit_event(&r.at, &result),
        then: AfterAudit::Nothing,
    });
    if let Some(r) = state.rows.get_mut(row) {
        r.verification = Some(result);
    }
    let mut effects: Vec<Effect> = audit.into_iter().collect();
    effects.extend(job_done(state));
    effects
}
