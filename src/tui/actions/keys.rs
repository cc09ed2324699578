//! How the dashboard's actions change the state: the keys of the dialogs, the run panel and
//! the banner, the `:rotate`, `:revoke`, `:report` and `:resume` commands, and the engine's
//! reports. Pure, like the rest of `update`: what must happen outside comes back as
//! [`Effect`]s.

use chrono::{DateTime, Utc};

use super::banner::Banner;
use super::export::ExportDialog;
use super::plan::PlanDialog;
use super::revoke::{RevokeDialog, RevokeItem};
use super::run::{RowState, RunKind, RunPanel};
use super::{Dialog, HiddenEntry, Pending};
use crate::audit::{AuditAction, Event};
use crate::inventory::CredentialRef;
use crate::ops::export::{default_file_name, ExportRequest};
use crate::ops::select::{select, Selection};
use crate::report::Format;
use crate::rotation::{Plan, Question, RotationEvent, Summary};
use crate::secret::Secret;
use crate::tui::action::{Action, AfterAudit, Effect};
use crate::tui::keymap::{self, Mode};
use crate::tui::state::{Screen, State};

/// Applies `action` if it belongs to the dashboard's actions (their keys, dialogs, panel
/// and background reports); hands it back otherwise, for the rest of `update`.
// The action handed back is moved straight on to `update`, never stored.
#[allow(clippy::result_large_err)]
pub fn handle(state: &mut State, action: Action) -> Result<Vec<Effect>, Action> {
    match action {
        Action::NotHere(index) => {
            let text = keymap::where_it_works(index).unwrap_or_default();
            state.fail(text);
            return Ok(Vec::new());
        }
        Action::Planned(result) => return Ok(planned(state, result)),
        Action::RunEvent { event, at } => return Ok(run_event(state, &event, at)),
        Action::RunClock(at) => {
            if let Some(run) = &mut state.work.run {
                run.clock = run.clock.max(at);
            }
            return Ok(Vec::new());
        }
        Action::Asked(pending) => return Ok(asked(state, pending)),
        Action::RunFinished {
            summary,
            inventory,
            at,
        } => return Ok(finished(state, &summary, *inventory, at)),
        Action::RunFailed(e) => {
            state.work.engine_busy = false;
            if matches!(state.work.dialog, Some(Dialog::Planning { .. })) {
                state.work.dialog = None;
            }
            if let Some(run) = &mut state.work.run {
                if !run.finished {
                    run.finish(&Summary::default(), run.clock);
                }
            }
            state.fail(e);
            return Ok(Vec::new());
        }
        Action::Exported(result) => return Ok(exported(state, result)),
        Action::Tick => {
            // The sync batch animates the spinner when it runs; a run does too.
            if state.work.busy() && state.running == 0 {
                state.spinner = state.spinner.wrapping_add(1);
            }
            return Err(Action::Tick);
        }
        _ => {}
    }
    // What is not a key goes to the rest of `update`, whatever dialog is open.
    if matches!(
        action,
        Action::Quit
            | Action::Resize(..)
            | Action::Refused(_)
            | Action::Inspected { .. }
            | Action::Verified { .. }
            | Action::Saved(_)
            | Action::Copied(_)
            | Action::Failed(_)
            | Action::Audited { .. }
    ) {
        return Err(action);
    }
    match state.mode() {
        Mode::Planning => Ok(planning_keys(state, action)),
        Mode::Plan => Ok(plan_keys(state, action)),
        Mode::Revoke => Ok(revoke_keys(state, action)),
        Mode::Export => Ok(export_keys(state, action)),
        Mode::Question => Ok(question_keys(state, action)),
        Mode::SecretEntry => Ok(secret_keys(state, action)),
        Mode::Banner => Ok(banner_keys(state, action)),
        Mode::Run => run_keys(state, action),
        Mode::Main | Mode::Detail | Mode::Timeline => match action {
            Action::Rotate => {
                let rows = action_rows(state);
                let picked = rows
                    .into_iter()
                    .map(|r| {
                        let why = state.rows[r]
                            .assessment
                            .reasons
                            .first()
                            .map_or_else(|| "asked for".to_string(), ToString::to_string);
                        (state.rows[r].at.clone(), why)
                    })
                    .collect();
                Ok(open_plan(state, picked))
            }
            Action::Revoke => {
                let rows = action_rows(state);
                Ok(open_revoke(state, rows))
            }
            Action::Deploy => {
                let refs: Vec<CredentialRef> = action_rows(state)
                    .into_iter()
                    .map(|r| state.rows[r].at.clone())
                    .collect();
                if refs.is_empty() {
                    state.fail("nothing selected");
                    return Ok(Vec::new());
                }
                Ok(start_run(state, RunKind::Deploy, None, refs))
            }
            Action::Export => {
                open_export(state);
                Ok(Vec::new())
            }
            Action::ShowRun => {
                if state.work.run.is_some() {
                    state.detail.reveal = false;
                    state.screen = Screen::Run;
                } else {
                    state.notify("no rotation or revocation has run yet: R or D starts one");
                }
                Ok(Vec::new())
            }
            other => Err(other),
        },
        _ => Err(action),
    }
}

/// Runs `:rotate`, `:revoke`, `:deploy`, `:report` and `:resume`; `None` when `verb` is none of them.
pub fn command(state: &mut State, verb: &str, args: &[&str]) -> Option<Vec<Effect>> {
    let changes = matches!(verb, "rotate" | "revoke" | "resume" | "deploy");
    if changes && state.settings.read_only {
        state.fail(format!("read-only: cannot {verb}"));
        return Some(Vec::new());
    }
    Some(match (verb, args) {
        ("rotate", []) => handle(state, Action::Rotate).unwrap_or_default(),
        ("rotate", words) => match Selection::parse_words(words) {
            Ok(selection) => match select(&state.inventory, &selection, state.settings.now) {
                Ok(picked) if picked.is_empty() => {
                    state.notify(format!(
                        "nothing to rotate: nothing is {}",
                        super::safe(&selection.describe())
                    ));
                    Vec::new()
                }
                Ok(picked) => {
                    let picked = picked.into_iter().map(|p| (p.at, p.why)).collect();
                    open_plan(state, picked)
                }
                Err(e) => {
                    state.fail(super::safe(&e));
                    Vec::new()
                }
            },
            Err(e) => {
                state.fail(super::safe(&e));
                Vec::new()
            }
        },
        ("revoke", []) => handle(state, Action::Revoke).unwrap_or_default(),
        ("deploy", []) => handle(state, Action::Deploy).unwrap_or_default(),
        ("report", words) if words.len() <= 2 => report_command(state, words),
        ("resume", []) => {
            match Banner::find(&state.inventory, state.settings.now) {
                Some(b) => {
                    state.work.interrupted = Some(b.clone());
                    state.work.dialog = Some(Dialog::Banner(b));
                }
                None => state.notify("nothing interrupted, and no old key waits for deletion"),
            }
            Vec::new()
        }
        _ => return None,
    })
}

/// The rows an action applies to: the detail's credential, the marked visible rows, or
/// the selected one.
fn action_rows(state: &State) -> Vec<usize> {
    if state.screen == Screen::Detail {
        return vec![state.detail.row];
    }
    let marked = state.marked_visible();
    if marked.is_empty() {
        state.selected().into_iter().collect()
    } else {
        marked
    }
}

fn row_of(state: &State, at: &CredentialRef) -> Option<usize> {
    state.rows.iter().position(|r| &r.at == at)
}

fn refuse_while_busy(state: &mut State) -> bool {
    if state.settings.read_only {
        state.fail("read-only: cannot change credentials");
        return true;
    }
    if state.work.engine_busy {
        state.fail("a run is going (w shows it); one at a time");
        return true;
    }
    false
}

fn open_plan(state: &mut State, picked: Vec<(CredentialRef, String)>) -> Vec<Effect> {
    if refuse_while_busy(state) {
        return Vec::new();
    }
    if picked.is_empty() {
        state.fail("nothing selected");
        return Vec::new();
    }
    state.detail.reveal = false;
    state.work.engine_busy = true;
    state.work.dialog = Some(Dialog::Planning {
        count: picked.len(),
    });
    state.notify(format!("planning {}…", picked.len()));
    vec![Effect::PlanRotation(picked)]
}

fn planned(state: &mut State, result: Result<Plan, String>) -> Vec<Effect> {
    let waiting = matches!(state.work.dialog, Some(Dialog::Planning { .. }));
    match result {
        Ok(plan) if waiting => {
            state.work.dialog = Some(Dialog::Plan(PlanDialog::new(plan)));
            state.notice = None;
            Vec::new()
        }
        Ok(_) => {
            // Closed while the plan was being made.
            state.work.engine_busy = false;
            vec![Effect::DropEngine]
        }
        Err(e) => {
            state.work.engine_busy = false;
            if waiting {
                state.work.dialog = None;
            }
            state.fail(super::safe(&e));
            Vec::new()
        }
    }
}

fn planning_keys(state: &mut State, action: Action) -> Vec<Effect> {
    if action == Action::Back {
        // The engine answers anyway; its plan is then dropped (see `planned`).
        state.work.dialog = None;
        state.notify("rotation cancelled: nothing changed");
    }
    Vec::new()
}

fn plan_keys(state: &mut State, action: Action) -> Vec<Effect> {
    let Some(Dialog::Plan(dialog)) = &mut state.work.dialog else {
        return Vec::new();
    };
    match action {
        Action::Down => dialog.scroll = dialog.scroll.saturating_add(1),
        Action::Up => dialog.scroll = dialog.scroll.saturating_sub(1),
        Action::PageDown => dialog.scroll = dialog.scroll.saturating_add(10),
        Action::PageUp => dialog.scroll = dialog.scroll.saturating_sub(10),
        Action::Top => dialog.scroll = 0,
        Action::Bottom => dialog.scroll = u16::MAX / 2,
        Action::SwitchFocus => dialog.focus = dialog.focus.toggled(),
        Action::Activate if dialog.focus == super::Focus::Confirm => {
            if dialog.ready() == 0 {
                state.work.dialog = None;
                state.work.engine_busy = false;
                state.fail("no credential in the plan can go ahead: nothing changed");
                return vec![Effect::DropEngine];
            }
            let Some(Dialog::Plan(dialog)) = state.work.dialog.take() else {
                return Vec::new();
            };
            return start_run(state, RunKind::Rotate, Some(dialog.plan), Vec::new());
        }
        Action::Activate | Action::Back => {
            state.work.dialog = None;
            state.work.engine_busy = false;
            state.notify("rotation cancelled: nothing changed");
            return vec![Effect::DropEngine];
        }
        _ => {}
    }
    Vec::new()
}

/// Opens the run panel for `kind` and asks the runtime to run it. A rotation runs on the
/// engine that planned it (already holding the lock); the rest open one.
fn start_run(
    state: &mut State,
    kind: RunKind,
    plan: Option<Plan>,
    refs: Vec<CredentialRef>,
) -> Vec<Effect> {
    if kind != RunKind::Rotate && refuse_while_busy(state) {
        return Vec::new();
    }
    let items: Vec<_> = match &plan {
        Some(p) => p
            .items
            .iter()
            .map(|i| (i.at.clone(), row_of(state, &i.at), i.steps.clone()))
            .collect(),
        None => {
            let refs = if refs.is_empty() && kind == RunKind::Resume {
                state
                    .inventory
                    .credentials()
                    .filter(|(_, _, c)| c.rotation.is_some())
                    .map(|(at, _, _)| at)
                    .collect()
            } else if kind == RunKind::DeleteOld {
                let now = state.settings.now;
                state
                    .inventory
                    .credentials()
                    .filter(|(_, _, c)| c.pending_revocations.iter().any(|p| p.delete_after <= now))
                    .map(|(at, _, _)| at)
                    .collect()
            } else {
                refs.clone()
            };
            refs.into_iter()
                .map(|at| {
                    let row = row_of(state, &at);
                    let steps = match kind {
                        RunKind::Resume => resumed_steps(state, &at),
                        RunKind::Deploy => vec![crate::rotation::Phase::Deploy],
                        _ => Vec::new(),
                    };
                    (at, row, steps)
                })
                .collect()
        }
    };
    let clock = state
        .work
        .run
        .as_ref()
        .map_or(state.settings.now, |r| r.clock.max(state.settings.now));
    state.work.run = Some(RunPanel::new(kind, items, clock));
    state.work.marks.clear();
    state.work.engine_busy = true;
    state.work.dialog = None;
    state.detail.reveal = false;
    state.screen = Screen::Run;
    state.notice = None;
    vec![Effect::StartRun { kind, plan, refs }]
}

/// A resumed rotation's steps from the one its journal stands at: the wizard opens where
/// it stopped (steps before it are done already, and are not shown as pending).
fn resumed_steps(state: &State, at: &CredentialRef) -> Vec<crate::rotation::Phase> {
    use crate::inventory::journal::{Action as Work, Step};
    use crate::rotation::Phase;
    let Some(j) = state
        .inventory
        .credential(at)
        .and_then(|c| c.rotation.as_ref())
    else {
        return Vec::new();
    };
    if j.action != Work::Rotate {
        return vec![Phase::Revoke];
    }
    let from = match j.step {
        Step::Create => Phase::Create,
        Step::Deploy => Phase::Deploy,
        Step::Verify => Phase::Verify,
        Step::RevokeOld | Step::Revoke => Phase::RevokeOld,
    };
    let all = [
        Phase::Create,
        Phase::Store,
        Phase::Deploy,
        Phase::Verify,
        Phase::RevokeOld,
        Phase::Commit,
    ];
    all.iter().skip_while(|p| **p != from).copied().collect()
}

fn run_event(state: &mut State, event: &RotationEvent, at: DateTime<Utc>) -> Vec<Effect> {
    // The runner records each outcome in the audit log as it settles, with the command
    // line's words; the panel only shows it.
    if let Some(run) = &mut state.work.run {
        run.apply(event, at);
    }
    Vec::new()
}

fn asked(state: &mut State, pending: Pending) -> Vec<Effect> {
    let Some(run) = &mut state.work.run else {
        // No panel to ask in: the work waits, journaled.
        return vec![answer_no(&pending)];
    };
    if run.cancelled {
        return vec![answer_no(&pending)];
    }
    run.questions.push_back(pending.clone());
    // One credential: the wizard asks at once. Many: the question is queued, and the
    // status line counts it, so prompts never interleave.
    if run.is_wizard() && state.screen == Screen::Run && state.work.dialog.is_none() {
        open_question(state, pending);
    }
    Vec::new()
}

fn answer_no(pending: &Pending) -> Effect {
    match pending {
        Pending::Confirm { id, .. } => Effect::Answer {
            id: *id,
            yes: false,
        },
        Pending::Secret { id, .. } => Effect::AnswerSecret {
            id: *id,
            secret: None,
        },
    }
}

fn open_question(state: &mut State, pending: Pending) {
    state.work.dialog = Some(match pending {
        p @ Pending::Confirm { .. } => Dialog::Question(p),
        p @ Pending::Secret { .. } => Dialog::Secret(HiddenEntry {
            pending: p,
            typed: zeroize::Zeroizing::new(String::new()),
        }),
    });
}

/// Takes question `id` off the queue and opens the next, so the person works through
/// the list without going back to the panel each time.
fn answered(state: &mut State, id: u64) {
    state.work.dialog = None;
    if let Some(run) = &mut state.work.run {
        run.questions.retain(|p| p.id() != id);
        if let Some(next) = run.questions.front().cloned() {
            open_question(state, next);
        }
    }
}

fn question_keys(state: &mut State, action: Action) -> Vec<Effect> {
    let Some(Dialog::Question(pending)) = &state.work.dialog else {
        return Vec::new();
    };
    let pending = pending.clone();
    match action {
        Action::Yes | Action::No => {
            let yes = action == Action::Yes;
            answered(state, pending.id());
            if !yes {
                state.notify(format!(
                    "{}: left waiting, journaled (r on the run panel, or `keyward resume`)",
                    pending.at()
                ));
            }
            vec![Effect::Answer {
                id: pending.id(),
                yes,
            }]
        }
        Action::CopyNew => {
            let deploy = matches!(
                pending,
                Pending::Confirm {
                    question: Question::DeployedByHand { .. },
                    ..
                }
            );
            match row_of(state, pending.at()) {
                Some(row) if deploy => vec![Effect::Audit {
                    event: Event::new(
                        AuditAction::Copied,
                        Some(pending.at()),
                        "new secret sent to the terminal's clipboard with OSC 52",
                    ),
                    then: AfterAudit::CopyNew { row },
                }],
                _ => {
                    state.fail("only a deploy by hand has a new secret to copy");
                    Vec::new()
                }
            }
        }
        Action::Back => {
            state.work.dialog = None;
            state.notify("the question stays queued: w, then Enter");
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn secret_keys(state: &mut State, action: Action) -> Vec<Effect> {
    let Some(Dialog::Secret(entry)) = &mut state.work.dialog else {
        return Vec::new();
    };
    match action {
        Action::Insert(c) => entry.typed.push(c),
        Action::DeleteBack => {
            entry.typed.pop();
        }
        Action::ClearLine => entry.typed.clear(),
        Action::Activate => {
            let value = entry.typed.trim();
            if value.is_empty() {
                state.fail("type (or paste) the new secret, or Esc to answer later");
                return Vec::new();
            }
            let secret = Secret::new(value);
            let id = entry.pending.id();
            answered(state, id);
            return vec![Effect::AnswerSecret {
                id,
                secret: Some(secret),
            }];
        }
        Action::Back => {
            state.work.dialog = None;
            state.notify("the question stays queued: w, then Enter");
        }
        _ => {}
    }
    Vec::new()
}

#[allow(clippy::result_large_err)]
fn run_keys(state: &mut State, action: Action) -> Result<Vec<Effect>, Action> {
    let Some(run) = &mut state.work.run else {
        state.screen = Screen::Main;
        return Err(action);
    };
    let last = run.rows.len().saturating_sub(1);
    match action {
        Action::Down => run.cursor = (run.cursor + 1).min(last),
        Action::Up => run.cursor = run.cursor.saturating_sub(1),
        Action::Top => run.cursor = 0,
        Action::Bottom => run.cursor = last,
        Action::PageDown => run.cursor = (run.cursor + 10).min(last),
        Action::PageUp => run.cursor = run.cursor.saturating_sub(10),
        Action::Back => state.screen = Screen::Main,
        Action::NextQuestion => match run.questions.front().cloned() {
            Some(p) => open_question(state, p),
            None => state.notify("no question waits for you"),
        },
        Action::CancelRun => {
            if run.finished || run.cancelled {
                state.notify("nothing to cancel: the run is over");
                return Ok(Vec::new());
            }
            run.cancelled = true;
            let mut effects = vec![Effect::CancelRun];
            effects.extend(run.questions.drain(..).map(|p| answer_no(&p)));
            state.notify("cancelling: running steps finish, nothing queued starts");
            return Ok(effects);
        }
        Action::Resume | Action::RollBack => {
            let row = run.rows.get(run.cursor);
            let stuck =
                row.is_some_and(|r| matches!(r.state, RowState::Failed(_) | RowState::Waiting(_)));
            let Some(at) = row.map(|r| r.at.clone()).filter(|_| run.finished && stuck) else {
                state.fail("r and b act on a failed or waiting credential once the run is over");
                return Ok(Vec::new());
            };
            let journaled = state
                .inventory
                .credential(&at)
                .is_some_and(|c| c.rotation.is_some());
            let kind = if action == Action::RollBack {
                RunKind::Rollback
            } else {
                RunKind::Resume
            };
            if !journaled {
                // Nothing journaled: a retry is a new rotation, planned first.
                if kind == RunKind::Rollback {
                    state.fail(format!(
                        "{at}: nothing to roll back (nothing was journaled)"
                    ));
                    return Ok(Vec::new());
                }
                return Ok(open_plan(state, vec![(at, "retry".to_string())]));
            }
            return Ok(start_run(state, kind, None, vec![at]));
        }
        Action::Help => {
            state.help_return = Screen::Run;
            state.help_scroll = 0;
            state.screen = Screen::Help;
        }
        other => return Err(other),
    }
    Ok(Vec::new())
}

fn finished(
    state: &mut State,
    summary: &Summary,
    inventory: crate::inventory::Inventory,
    at: DateTime<Utc>,
) -> Vec<Effect> {
    state.work.engine_busy = false;
    // The engine's inventory is what the file now holds: the table shows it, never a
    // secret the run replaced.
    state.inventory = inventory;
    for row in 0..state.rows.len() {
        state.rebuild_row(row);
    }
    state.resort();
    state.work.interrupted = Banner::find(&state.inventory, state.settings.now);
    let Some(run) = &mut state.work.run else {
        return Vec::new();
    };
    run.finish(summary, at);
    state.work.marks = run.marks();
    let c = run.counts();
    let text = format!("{}; w shows the details", run.summary_line());
    if c.failed > 0 {
        state.fail(text);
    } else {
        state.notify(text);
    }
    if matches!(
        state.work.dialog,
        Some(Dialog::Question(_) | Dialog::Secret(_))
    ) {
        state.work.dialog = None;
    }
    Vec::new()
}

fn open_revoke(state: &mut State, rows: Vec<usize>) -> Vec<Effect> {
    if refuse_while_busy(state) {
        return Vec::new();
    }
    let items: Vec<RevokeItem> = rows
        .into_iter()
        .filter_map(|row| {
            let c = state.credential(row)?;
            Some(RevokeItem {
                at: state.rows[row].at.clone(),
                row,
                provider: c.provider,
                remote_id: c.remote_id.clone(),
                last_used: c.last_used_at,
                used_by: c.used_by.clone(),
            })
        })
        .collect();
    if items.is_empty() {
        state.fail("nothing selected");
        return Vec::new();
    }
    state.detail.reveal = false;
    state.work.dialog = Some(Dialog::Revoke(RevokeDialog::new(items)));
    Vec::new()
}

fn revoke_keys(state: &mut State, action: Action) -> Vec<Effect> {
    let Some(Dialog::Revoke(dialog)) = &mut state.work.dialog else {
        return Vec::new();
    };
    match action {
        Action::Insert(c) if c.is_ascii_digit() && dialog.needs_count() => dialog.typed.push(c),
        Action::DeleteBack => {
            dialog.typed.pop();
        }
        Action::NextChoice | Action::PrevChoice => dialog.emergency = !dialog.emergency,
        Action::SwitchFocus => dialog.focus = dialog.focus.toggled(),
        Action::Activate if dialog.focus == super::Focus::Confirm => {
            if !dialog.confirmed() {
                let n = dialog.items.len();
                state.fail(format!("type {n} to confirm revoking {n} credentials"));
                return Vec::new();
            }
            let kind = RunKind::Revoke {
                emergency: dialog.emergency,
            };
            let refs = dialog.items.iter().map(|i| i.at.clone()).collect();
            state.work.dialog = None;
            return start_run(state, kind, None, refs);
        }
        Action::Activate | Action::Back => {
            state.work.dialog = None;
            state.notify("revocation cancelled: nothing changed");
        }
        _ => {}
    }
    Vec::new()
}

fn open_export(state: &mut State) {
    let marked = state.marked_visible();
    let rows = if marked.is_empty() {
        state.visible.clone()
    } else {
        marked
    };
    if rows.is_empty() {
        state.fail("nothing to export: no credential is shown");
        return;
    }
    let refs = rows.iter().map(|&r| state.rows[r].at.clone()).collect();
    state.work.dialog = Some(Dialog::Export(ExportDialog::new(refs, state.settings.now)));
}

fn export_keys(state: &mut State, action: Action) -> Vec<Effect> {
    let now = state.settings.now;
    let Some(Dialog::Export(dialog)) = &mut state.work.dialog else {
        return Vec::new();
    };
    match action {
        Action::Insert(c) => {
            dialog.path.push(c);
            dialog.path_edited = true;
        }
        Action::DeleteBack => {
            dialog.path.pop();
            dialog.path_edited = true;
        }
        Action::NextChoice => dialog.cycle_format(true, now),
        Action::PrevChoice => dialog.cycle_format(false, now),
        Action::Activate => {
            if dialog.path.trim().is_empty() {
                state.fail("type a file name");
                return Vec::new();
            }
            let request = dialog.request();
            state.work.dialog = None;
            state.notify("writing the report…");
            return vec![Effect::Export(request)];
        }
        Action::Back => {
            state.work.dialog = None;
            state.notify("export cancelled");
        }
        _ => {}
    }
    Vec::new()
}

/// `:report [CLIENT] [FILE]`: the format follows FILE's extension (markdown otherwise).
fn report_command(state: &mut State, words: &[&str]) -> Vec<Effect> {
    let (client, file) = match words {
        [] => (None, None),
        [one] if state.inventory.client(one).is_some() => (Some(one.to_string()), None),
        [one] => (None, Some(one.to_string())),
        [c, f] => (Some(c.to_string()), Some(f.to_string())),
        _ => (None, None),
    };
    if let Some(c) = &client {
        if state.inventory.client(c).is_none() {
            state.fail(format!("no client `{}`", super::safe(c)));
            return Vec::new();
        }
    }
    let format = match file
        .as_deref()
        .and_then(|f| f.rsplit_once('.'))
        .map(|(_, e)| e)
    {
        Some("csv") => Format::Csv,
        Some("json") => Format::Json,
        _ => Format::Markdown,
    };
    let path =
        file.unwrap_or_else(|| default_file_name(client.as_deref(), format, state.settings.now));
    state.notify("writing the report…");
    vec![Effect::Export(ExportRequest {
        format,
        client,
        refs: Vec::new(),
        path: path.into(),
    })]
}

fn exported(
    state: &mut State,
    result: Result<(std::path::PathBuf, String), String>,
) -> Vec<Effect> {
    // `ops::export` records the `exported` entry itself.
    match result {
        Ok((path, summary)) => {
            let shown = super::safe(&path.display().to_string());
            state.notify(format!("report written to {shown} ({summary})"));
        }
        Err(e) => state.fail(format!("report not written: {}", super::safe(&e))),
    }
    Vec::new()
}

fn banner_keys(state: &mut State, action: Action) -> Vec<Effect> {
    let Some(Dialog::Banner(banner)) = &mut state.work.dialog else {
        return Vec::new();
    };
    let last = banner.interrupted.len().saturating_sub(1);
    match action {
        Action::Down => banner.cursor = (banner.cursor + 1).min(last),
        Action::Up => banner.cursor = banner.cursor.saturating_sub(1),
        Action::Top => banner.cursor = 0,
        Action::Bottom => banner.cursor = last,
        Action::Resume | Action::RollBack => {
            let Some(at) = banner.selected().map(|i| i.at.clone()) else {
                state.fail("no interrupted rotation or revocation");
                return Vec::new();
            };
            let kind = if action == Action::Resume {
                RunKind::Resume
            } else {
                RunKind::Rollback
            };
            return start_run(state, kind, None, vec![at]);
        }
        Action::DeleteOld => {
            if banner.deletable.is_empty() {
                state.fail("no old key is past its grace period");
                return Vec::new();
            }
            return start_run(state, RunKind::DeleteOld, None, Vec::new());
        }
        Action::Back => {
            state.work.dialog = None;
            state.notify(":resume shows the interrupted work again");
        }
        _ => {}
    }
    Vec::new()
}
