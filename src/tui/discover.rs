//! The `:discover` view: every key the connections see at their providers, asked in the
//! background through [`crate::ops::discover`] (the same code as `keyward discover`), the
//! untracked ones marked as such; `a` adopts the marked (or selected) untracked keys
//! through [`crate::ops::adopt`] into the client their connection suggests, and marks the
//! new credentials in the table so `R` takes custody of them.

use std::collections::BTreeSet;

use super::action::{Action, Effect};
use super::live;
use super::state::{Screen, State};
use crate::audit::AuditAction;
use crate::ops::discover::{Answer, Discovery, Scope, Sighting, Tracking};

/// What the view shows.
#[derive(Debug, Clone, Default)]
pub struct DiscoverView {
    /// Waiting for the providers' answers.
    pub asking: bool,
    /// The keys found, each once, untracked first.
    pub rows: Vec<Sighting>,
    /// Connections that could not be asked or cannot list keys, in words.
    pub notes: Vec<String>,
    /// The row under the cursor.
    pub cursor: usize,
    /// Marked rows.
    pub marked: BTreeSet<usize>,
}

impl DiscoverView {
    /// The view over a finished discovery.
    fn answered(d: &Discovery) -> DiscoverView {
        let mut seen = std::collections::HashSet::new();
        let mut rows: Vec<Sighting> = d
            .sightings()
            .filter(|s| seen.insert((s.provider, s.remote_id().to_string())))
            .cloned()
            .collect();
        rows.sort_by_key(|s| s.tracking != Tracking::Untracked);
        let notes = d
            .connections
            .iter()
            .filter_map(|c| match &c.answer {
                Answer::Listed(_) => None,
                Answer::Unsupported(why) => Some(format!("{}: skipped: {why}", c.connection)),
                Answer::Failed(e) => Some(format!("{}: could not be asked: {e}", c.connection)),
            })
            .collect();
        DiscoverView {
            asking: false,
            rows,
            notes,
            cursor: 0,
            marked: BTreeSet::new(),
        }
    }

    /// How many rows are untracked.
    pub fn untracked(&self) -> usize {
        self.rows
            .iter()
            .filter(|s| s.tracking == Tracking::Untracked)
            .count()
    }
}

/// `:discover [CLIENT]`: opens the view and asks the providers in the background.
pub fn open(state: &mut State, client: Option<&str>) -> Vec<Effect> {
    let scope = client.map_or(Scope::All, |c| Scope::Client(c.to_string()));
    if let Err(e) = crate::ops::discover::connections(&state.inventory, &scope) {
        state.fail(super::actions::safe(&e.to_string()));
        return Vec::new();
    }
    state.detail.reveal = false;
    state.discover = DiscoverView {
        asking: true,
        ..DiscoverView::default()
    };
    state.screen = Screen::Discover;
    state.notify("asking the providers for every key they hold…");
    vec![Effect::Discover(scope)]
}

/// The background discovery's answer.
pub fn answered(state: &mut State, d: &Discovery) {
    state.discover = DiscoverView::answered(d);
    let v = &state.discover;
    let failed = d.failures().count();
    let mut said = format!("{} key(s) found, {} untracked", v.rows.len(), v.untracked());
    if failed > 0 {
        said.push_str(&format!("; {failed} connection(s) could not be asked"));
        state.fail(said);
    } else {
        state.notify(said);
    }
}

/// The view's keys: move, mark, adopt, back.
pub fn keys(state: &mut State, action: Action) -> Vec<Effect> {
    let n = state.discover.rows.len();
    let v = &mut state.discover;
    match action {
        Action::Down => v.cursor = (v.cursor + 1).min(n.saturating_sub(1)),
        Action::Up => v.cursor = v.cursor.saturating_sub(1),
        Action::Top => v.cursor = 0,
        Action::Bottom => v.cursor = n.saturating_sub(1),
        Action::ToggleMark if n > 0 => {
            if !v.marked.remove(&v.cursor) {
                v.marked.insert(v.cursor);
            }
            v.cursor = (v.cursor + 1).min(n - 1);
        }
        Action::Back => state.screen = Screen::Main,
        Action::Adopt => return adopt(state),
        _ => {}
    }
    Vec::new()
}

/// Adopts the marked (or selected) untracked keys, each into the first client whose
/// credentials use its connection; saved, with an `adopted` audit entry each.
fn adopt(state: &mut State) -> Vec<Effect> {
    if state.settings.read_only {
        state.fail("read-only: cannot adopt");
        return Vec::new();
    }
    if state.running > 0 || state.unsaved {
        state.fail("wait for the running sync or save to finish, then adopt");
        return Vec::new();
    }
    let v = &state.discover;
    let picked: Vec<usize> = if v.marked.is_empty() {
        vec![v.cursor]
    } else {
        v.marked.iter().copied().collect()
    };
    let picked: Vec<&Sighting> = picked
        .into_iter()
        .filter_map(|i| v.rows.get(i))
        .filter(|s| s.tracking == Tracking::Untracked)
        .collect();
    if picked.is_empty() {
        state.fail("nothing untracked is marked or selected");
        return Vec::new();
    }
    let found = Discovery {
        connections: vec![crate::ops::discover::ConnectionAnswer {
            connection: String::new(),
            provider: picked[0].provider,
            answer: Answer::Listed(picked.iter().map(|s| (*s).clone()).collect()),
        }],
    };
    let mut inventory = state.inventory.clone();
    let mut done = Vec::new();
    for s in &picked {
        let Some(client) = s.suggested_clients.first() else {
            state.fail(format!(
                "{}: no client uses connection {}: `keyward adopt {} --client C`",
                s.remote_id(),
                s.connection,
                s.remote_id()
            ));
            return Vec::new();
        };
        let ids = [s.remote_id().to_string()];
        match crate::ops::adopt::adopt(
            &mut inventory,
            &found,
            &ids,
            client,
            None,
            state.settings.now,
        ) {
            Ok(mut a) => done.append(&mut a),
            Err(e) => {
                state.fail(super::actions::safe(&e.to_string()));
                return Vec::new();
            }
        }
    }
    live::replace_inventory(state, inventory);
    for a in &done {
        state
            .unlogged
            .push((AuditAction::Adopted, a.at.clone(), a.reason.clone()));
        if let Some(row) = state.rows.iter().position(|r| r.at == a.at) {
            if !state.marked[row] {
                state.toggle_mark(row);
            }
        }
        for s in &mut state.discover.rows {
            if s.remote_id() == a.remote_id {
                s.tracking = Tracking::Tracked;
            }
        }
    }
    state.discover.marked.clear();
    state.unsaved = true;
    state.notify(format!(
        "adopted {}, marked in the table: R takes custody (new key, old one revoked)",
        done.len()
    ));
    if state.settings.can_save {
        vec![Effect::Save]
    } else {
        Vec::new()
    }
}
