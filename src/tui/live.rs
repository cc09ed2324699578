//! Keeping the view current while the dashboard stays open: the clock moving on, and the
//! inventory read again when it changed on disk. Pure functions of the state, called by
//! `update`; the runtime supplies the time and the inventory as data.
//!
//! The rule for a stale view: the screen never shows a change that is not on disk. Sync
//! answers not yet saved are kept ([`State::replay`]); when the file turns out to have
//! changed (a save refused, a reload) they are re-applied to the fresh inventory — `sync`
//! writes an answer only to a credential that still holds the key asked about, so an
//! answer about a key rotated away meanwhile is dropped — and saved again. A second refusal
//! in a row gives up: the screen shows the file as it is and says the answers were not saved.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::action::{Effect, ReloadReason};
use super::state::{build_rows, Screen, State};
use crate::audit::AuditAction;
use crate::inventory::{Credential, CredentialRef, Inventory};
use crate::providers::Verification;
use crate::sync::{self, SyncOutcome};

/// Moves the state's clock to `now`. Rows, counts, order and the timeline are judged again
/// only when the minute changes: often enough for "5m ago" and for a due date passing,
/// cheap enough to be unnoticeable.
pub fn set_clock(state: &mut State, now: DateTime<Utc>) {
    let minute = |t: DateTime<Utc>| t.timestamp().div_euclid(60);
    let moved = minute(now) != minute(state.settings.now);
    state.settings.now = now;
    if moved {
        rebuild_rows(state);
    }
}

/// Rebuilds every row from the inventory at the state's `now`, keeping this session's
/// verify answers (row indices are unchanged: same inventory), then sorts and filters again.
fn rebuild_rows(state: &mut State) {
    let verifications: Vec<Option<Verification>> =
        state.rows.iter().map(|r| r.verification.clone()).collect();
    let mut rows = build_rows(&state.inventory, state.settings.now);
    for (row, v) in rows.iter_mut().zip(verifications) {
        row.verification = v;
    }
    state.replace_rows(rows);
    state.resort();
    if state.screen == Screen::Timeline {
        state.compute_timeline();
    }
}

/// Records a sync answer applied at `at` but not saved yet.
pub fn remember_sync(state: &mut State, outcome: SyncOutcome, at: DateTime<Utc>) {
    state.replay.push((outcome, at));
}

/// The save went through: nothing is left to re-apply.
pub fn saved(state: &mut State) {
    state.replay.clear();
    state.save_retried = false;
}

/// Ctrl-R: read the file again, once no job is running (they report back by row).
pub fn reload_asked(state: &mut State) -> Vec<Effect> {
    if state.running > 0 {
        state.notify(format!(
            "reloading once the running jobs answer ({} left)",
            state.running
        ));
    }
    vec![Effect::Reload(ReloadReason::Asked)]
}

/// The save hook refused because the file changed on disk: read it again first.
pub fn save_conflict(state: &mut State, message: String) -> Vec<Effect> {
    // The audit entries are derived again from what is re-applied.
    state.unlogged.clear();
    state.fail(format!("{message}; reading it again"));
    vec![Effect::Reload(ReloadReason::SaveConflict)]
}

/// Applies what reading the inventory again gave.
pub fn reloaded(
    state: &mut State,
    why: ReloadReason,
    result: Result<Option<Box<Inventory>>, String>,
) -> Vec<Effect> {
    let fresh = match result {
        Err(e) => {
            match why {
                ReloadReason::SaveConflict => state.fail(format!(
                    "not saved: the inventory changed on disk and cannot be read again: {e}"
                )),
                _ => state.fail(format!("reload failed: {e}")),
            }
            return Vec::new();
        }
        Ok(None) => {
            match why {
                ReloadReason::Asked => state.notify("reloaded: unchanged on disk"),
                // A save of our own, or a `touch`: nothing to do.
                ReloadReason::ChangedOnDisk => {}
                ReloadReason::SaveConflict => {
                    state.fail("not saved: the save was refused, yet the file reads as before")
                }
            }
            return Vec::new();
        }
        Ok(Some(inventory)) => *inventory,
    };
    let replay = std::mem::take(&mut state.replay);
    let retried = std::mem::take(&mut state.save_retried);
    let unsaved = state.unsaved;
    replace_inventory(state, fresh);
    let said = match why {
        ReloadReason::Asked => "reloaded",
        ReloadReason::ChangedOnDisk | ReloadReason::SaveConflict => "reloaded: changed on disk",
    };
    if replay.is_empty() {
        if unsaved || why == ReloadReason::SaveConflict {
            // Changes that cannot be re-applied: the screen shows the file as it is.
            state.fail(format!("{said}; your unsaved changes were dropped"));
        } else {
            state.notify(said);
        }
        return Vec::new();
    }
    if why == ReloadReason::SaveConflict && retried {
        // Refused twice in a row: stop chasing the other writer.
        state.fail(format!(
            "{said} again; {} sync answers not saved, showing the file as it is",
            replay.len()
        ));
        return Vec::new();
    }
    let applied = replay_sync(state, replay);
    if applied == 0 {
        state.notify(format!(
            "{said}; the sync answers no longer apply (the keys changed)"
        ));
        return Vec::new();
    }
    if !state.settings.can_save {
        state.notify(format!("{said}; sync answers re-applied, in memory only"));
        return Vec::new();
    }
    state.save_retried = why == ReloadReason::SaveConflict;
    state.notify(format!("{said}; sync answers re-applied"));
    vec![Effect::Save]
}

/// Re-applies unsaved sync answers to the current inventory; returns how many still
/// applied (the credential still holds the key asked about). Those are kept for another
/// replay until saved.
fn replay_sync(state: &mut State, replay: Vec<(SyncOutcome, DateTime<Utc>)>) -> usize {
    let mut kept = Vec::new();
    for (outcome, at) in replay {
        let applies = state
            .inventory
            .credential(&outcome.at)
            .is_some_and(|c| c.remote_id == outcome.remote_id);
        if !applies {
            continue;
        }
        let changed = sync::apply(&mut state.inventory, std::slice::from_ref(&outcome), at).len();
        if changed > 0 {
            let detail = state
                .inventory
                .credential(&outcome.at)
                .and_then(|c| c.history.last())
                .map(|h| h.detail.clone())
                .unwrap_or_default();
            state
                .unlogged
                .push((AuditAction::Synced, outcome.at.clone(), detail));
        }
        kept.push((outcome, at));
    }
    let applied = kept.len();
    if applied > 0 {
        state.unsaved = true;
        rebuild_rows(state);
    }
    state.replay = kept;
    applied
}

/// Shows `inventory` instead of the current one, keeping what the person was doing by
/// credential address: marks, the selected row, the open detail, this session's verify
/// answers for credentials that did not change. A revealed secret is masked again if its
/// credential changed, so the screen never shows a secret other than the one on record as
/// revealed; revealing again shows the current one.
pub fn replace_inventory(state: &mut State, inventory: Inventory) {
    let address = |state: &State, row: usize| state.rows.get(row).map(|r| r.at.clone());
    let marked: HashSet<CredentialRef> = state
        .rows
        .iter()
        .zip(&state.marked)
        .filter(|(_, &m)| m)
        .map(|(r, _)| r.at.clone())
        .collect();
    let selected = state.selected().and_then(|r| address(state, r));
    let detail_at = address(state, state.detail.row);
    let detail_before: Option<Credential> = state.credential(state.detail.row).cloned();
    let verified: HashMap<CredentialRef, (Credential, Verification)> = state
        .rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let v = r.verification.clone()?;
            Some((r.at.clone(), (state.credential(i)?.clone(), v)))
        })
        .collect();

    state.inventory = inventory;
    let mut rows = build_rows(&state.inventory, state.settings.now);
    for row in &mut rows {
        if let Some((before, v)) = verified.get(&row.at) {
            if state.inventory.credential(&row.at) == Some(before) {
                row.verification = Some(v.clone());
            }
        }
    }
    state.replace_rows(rows);
    state.marked = state.rows.iter().map(|r| marked.contains(&r.at)).collect();
    state.order = (0..state.rows.len()).collect();
    state.visible.clear();
    state.cursor = 0;
    state.unsaved = false;
    state.unlogged.clear();
    state.resort();
    if let Some(at) = selected {
        if let Some(pos) = state.visible.iter().position(|&r| state.rows[r].at == at) {
            state.cursor = pos;
            state.scroll_to_cursor();
        }
    }

    let detail_now = detail_at.and_then(|at| state.rows.iter().position(|r| r.at == at));
    match detail_now {
        Some(row) => {
            state.detail.row = row;
            if state.credential(row) != detail_before.as_ref() {
                state.detail.reveal = false;
            }
        }
        None => {
            state.detail.row = 0;
            state.detail.reveal = false;
            if state.screen == Screen::Detail {
                state.screen = Screen::Main;
            }
            if state.help_return == Screen::Detail {
                state.help_return = Screen::Main;
            }
        }
    }
    if state.screen == Screen::Timeline {
        state.compute_timeline();
    }
}
