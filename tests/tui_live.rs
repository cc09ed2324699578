//! The dashboard staying current while it is open, driven as pure functions: the clock
//! moving on ([`Action::Clock`]), the inventory read again from disk ([`Action::Reloaded`],
//! Ctrl-R), and a save refused because the file changed ([`Action::SaveConflict`]): the
//! screen never shows a change that is not on disk. Also the store side of a reload.

use chrono::{DateTime, Duration, TimeZone, Utc};
use keyward::inventory::{Client, Credential, Inventory, ProviderKind, RemoteStatus, Status};
use keyward::providers::RemoteKey;
use keyward::secret::Secret;
use keyward::sync::SyncResult;
use keyward::tui::action::{Action, AfterAudit, Effect, ReloadReason};
use keyward::tui::keymap;
use keyward::tui::state::{Screen, Settings, State};
use keyward::tui::theme::Theme;
use keyward::tui::update::update;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
}

fn cred(id: &str, secret: &str) -> Credential {
    let mut c = Credential::new(id, ProviderKind::Sandbox);
    c.name = id.to_string();
    c.secret = Some(Secret::new(secret));
    c.remote_id = Some(format!("sbx_{id}"));
    c.created_at = Some(now() - Duration::days(10));
    c.last_rotated_at = Some(now() - Duration::days(10));
    c
}

/// Two clients, four credentials; acme/billing falls due for rotation tomorrow (90-day
/// policy), the others are fine.
fn fixture() -> Inventory {
    let mut inv = Inventory::new(vec!["age1examplerecipient".into()]);
    let mut billing = cred("billing", "billing-secret-0001");
    billing.last_rotated_at = Some(now() - Duration::days(89));
    billing.last_used_at = Some(now() - Duration::minutes(5));
    inv.clients = vec![
        Client {
            id: "acme".into(),
            name: "Acme".into(),
            integrations: vec![
                cred("crm", "crm-secret-0001"),
                billing,
                cred("mail", "mail-secret-0001"),
            ],
        },
        Client {
            id: "globex".into(),
            name: "Globex".into(),
            integrations: vec![cred("dns", "dns-secret-0001")],
        },
    ];
    inv
}

fn state() -> State {
    State::new(
        fixture(),
        Settings {
            title: "test".into(),
            read_only: false,
            now: now(),
            theme: Theme { color: false },
            can_save: true,
        },
        (100, 30),
    )
}

fn row_of(state: &State, address: &str) -> usize {
    state
        .rows
        .iter()
        .position(|r| r.at.to_string() == address)
        .unwrap_or_else(|| panic!("no row {address}"))
}

fn select(state: &mut State, address: &str) {
    let row = row_of(state, address);
    state.cursor = state.visible.iter().position(|&r| r == row).unwrap();
}

fn selected(state: &State) -> String {
    state.rows[state.selected().unwrap()].at.to_string()
}

fn marked(state: &State) -> Vec<String> {
    let mut out: Vec<String> = state
        .rows
        .iter()
        .zip(&state.marked)
        .filter(|(_, &m)| m)
        .map(|(r, _)| r.at.to_string())
        .collect();
    out.sort();
    out
}

fn status(state: &State, address: &str) -> Status {
    state.rows[row_of(state, address)].assessment.status
}

fn notice(state: &State) -> (String, bool) {
    let n = state.notice.as_ref().expect("a status line");
    (n.text.clone(), n.error)
}

fn reloaded(why: ReloadReason, inventory: Inventory) -> Action {
    Action::Reloaded {
        why,
        result: Ok(Some(Box::new(inventory))),
    }
}

/// Opens `address`'s detail and reveals its secret, the audit entry written.
fn open_and_reveal(state: &mut State, address: &str) {
    select(state, address);
    update(state, Action::Open);
    let effects = update(state, Action::Reveal);
    let [Effect::Audit { then, .. }] = effects.as_slice() else {
        panic!("a reveal waits for its audit entry: {effects:?}");
    };
    update(
        state,
        Action::Audited {
            result: Ok(()),
            then: *then,
        },
    );
    assert!(state.detail.reveal);
}

/// A sync answer for `address` that records a new last-use time: a change to save.
fn sync_answer(state: &State, address: &str, used: DateTime<Utc>) -> Action {
    let row = row_of(state, address);
    let remote_id = state.credential(row).unwrap().remote_id.clone();
    let mut key = RemoteKey::new(remote_id.clone().unwrap(), RemoteStatus::Active);
    key.last_used_at = Some(used);
    Action::Inspected {
        row,
        remote_id,
        result: SyncResult::Found(key),
    }
}

/// Starts a sync of `address` and answers it; returns the effects of the answer.
fn synced(state: &mut State, address: &str, used: DateTime<Utc>) -> Vec<Effect> {
    select(state, address);
    let started = update(state, Action::Sync);
    assert_eq!(started.len(), 1, "{started:?}");
    let answer = sync_answer(state, address, used);
    update(state, answer)
}

// ---------- live time ----------

#[test]
fn the_clock_moving_on_turns_a_credential_due_tomorrow_overdue() {
    let mut s = state();
    let billing = row_of(&s, "acme/billing");
    assert_eq!(status(&s, "acme/billing"), Status::DueSoon);
    assert_eq!(s.rows[billing].last_used, "5m ago");
    let overdue_before = s.counts[0] + s.counts[1];

    update(&mut s, Action::Clock(now() + Duration::days(2)));

    assert_eq!(s.settings.now, now() + Duration::days(2));
    assert_eq!(status(&s, "acme/billing"), Status::Overdue);
    assert_eq!(
        s.rows[billing].last_used, "2d ago",
        "relative dates move on too"
    );
    assert_eq!(
        s.counts[0] + s.counts[1],
        overdue_before + 1,
        "the header counts follow"
    );
    assert_eq!(
        s.rows[s.visible[0]].at.to_string(),
        "acme/billing",
        "the status order puts it first now"
    );
}

#[test]
fn the_clock_within_the_same_minute_judges_nothing_again() {
    let mut s = state();
    let billing = row_of(&s, "acme/billing");
    // A verify answer this session: kept when the rows are judged again.
    s.rows[billing].verification = Some(keyward::providers::Verification::Valid);
    update(&mut s, Action::Clock(now() + Duration::seconds(30)));
    assert_eq!(s.settings.now, now() + Duration::seconds(30));
    assert_eq!(s.rows[billing].last_used, "5m ago");

    update(&mut s, Action::Clock(now() + Duration::minutes(3)));
    assert_eq!(
        s.rows[billing].last_used, "8m ago",
        "a new minute: judged again"
    );
    assert!(
        s.rows[billing].verification.is_some(),
        "the verify answer was lost"
    );
}

#[test]
fn a_sync_stamps_the_moment_of_the_answer_not_the_launch() {
    let mut s = state();
    let answer_at = now() + Duration::hours(3) + Duration::seconds(17);
    select(&mut s, "acme/crm");
    update(&mut s, Action::Sync);
    update(&mut s, Action::Clock(answer_at));
    let answer = sync_answer(&s, "acme/crm", now() - Duration::hours(1));
    let effects = update(&mut s, answer);
    assert!(matches!(effects.as_slice(), [Effect::Save]), "{effects:?}");
    let c = s.credential(row_of(&s, "acme/crm")).unwrap();
    assert_eq!(c.remote.as_ref().unwrap().checked_at, answer_at);
    assert_eq!(c.history.last().unwrap().at, answer_at);
}

// ---------- reload ----------

#[test]
fn ctrl_r_asks_for_a_reload_and_an_unchanged_file_says_so() {
    let mut s = state();
    let key = KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL);
    let action = keymap::action_for(s.mode(), key, false).expect("Ctrl-R is bound");
    assert_eq!(action, Action::Reload);
    assert_eq!(
        keymap::action_for(s.mode(), key, true),
        Some(Action::Reload),
        "reading is allowed read-only"
    );
    let effects = update(&mut s, action);
    assert!(
        matches!(effects.as_slice(), [Effect::Reload(ReloadReason::Asked)]),
        "{effects:?}"
    );
    update(
        &mut s,
        Action::Reloaded {
            why: ReloadReason::Asked,
            result: Ok(None),
        },
    );
    assert_eq!(notice(&s), ("reloaded: unchanged on disk".into(), false));

    update(
        &mut s,
        Action::Reloaded {
            why: ReloadReason::Asked,
            result: Err("demo.yaml.age: cannot read: permission denied".into()),
        },
    );
    let (text, error) = notice(&s);
    assert!(
        error && text.contains("reload failed") && text.contains("permission denied"),
        "{text}"
    );
    assert_eq!(s.inventory, fixture(), "a failed reload changes nothing");
}

#[test]
fn a_reload_keeps_marks_selection_and_the_open_detail_by_address() {
    let mut s = state();
    select(&mut s, "acme/mail");
    update(&mut s, Action::ToggleMark);
    select(&mut s, "globex/dns");
    update(&mut s, Action::ToggleMark);
    select(&mut s, "acme/crm");
    update(&mut s, Action::Open);
    update(&mut s, Action::Back);
    assert_eq!(selected(&s), "acme/crm");

    // Another keyward added a credential before all of these (every row index moves) and
    // rotated acme/crm.
    let mut disk = fixture();
    disk.clients[0]
        .integrations
        .insert(0, cred("aardvark", "aardvark-secret-0001"));
    let crm = disk.clients[0]
        .integrations
        .iter_mut()
        .find(|c| c.id == "crm")
        .unwrap();
    crm.secret = Some(Secret::new("crm-secret-0002"));
    crm.remote_id = Some("sbx_crm_2".into());

    let effects = update(&mut s, reloaded(ReloadReason::ChangedOnDisk, disk.clone()));
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(s.inventory, disk);
    assert_eq!(s.rows.len(), 5);
    assert_eq!(marked(&s), vec!["acme/mail", "globex/dns"]);
    assert_eq!(s.marked_shown, 2);
    assert_eq!(selected(&s), "acme/crm");
    assert_eq!(notice(&s), ("reloaded: changed on disk".into(), false));
    assert_eq!(
        s.credential(row_of(&s, "acme/crm"))
            .unwrap()
            .remote_id
            .as_deref(),
        Some("sbx_crm_2")
    );
}

#[test]
fn a_revealed_secret_that_changed_on_disk_is_masked_and_reveals_the_new_one() {
    let mut s = state();
    open_and_reveal(&mut s, "acme/crm");

    let mut disk = fixture();
    disk.clients[0]
        .integrations
        .insert(0, cred("aardvark", "x"));
    disk.clients[0].integrations[1].secret = Some(Secret::new("crm-secret-0002"));
    update(&mut s, reloaded(ReloadReason::ChangedOnDisk, disk));

    assert_eq!(s.screen, Screen::Detail);
    assert_eq!(s.rows[s.detail.row].at.to_string(), "acme/crm");
    assert!(
        !s.detail.reveal,
        "the new secret would show without its own audit entry"
    );
    // Revealing again (audited) shows the one now on disk: the view reads the state.
    let effects = update(&mut s, Action::Reveal);
    let [Effect::Audit { then, .. }] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!(
        *then,
        AfterAudit::Reveal {
            row: row_of(&s, "acme/crm")
        }
    );
    let shown = s.credential(s.detail.row).unwrap().secret.clone().unwrap();
    assert_eq!(shown, Secret::new("crm-secret-0002"));
}

#[test]
fn a_revealed_secret_that_did_not_change_stays_revealed() {
    let mut s = state();
    open_and_reveal(&mut s, "acme/crm");
    let mut disk = fixture();
    disk.clients[1].integrations[0].secret = Some(Secret::new("dns-secret-0002"));
    update(&mut s, reloaded(ReloadReason::ChangedOnDisk, disk));
    assert!(s.detail.reveal);
    assert_eq!(s.rows[s.detail.row].at.to_string(), "acme/crm");
}

#[test]
fn a_reload_that_removed_the_open_credential_goes_back_to_the_table() {
    let mut s = state();
    open_and_reveal(&mut s, "acme/mail");
    let mut disk = fixture();
    disk.clients[0].integrations.retain(|c| c.id != "mail");
    update(&mut s, reloaded(ReloadReason::ChangedOnDisk, disk));
    assert_eq!(s.screen, Screen::Main);
    assert!(!s.detail.reveal);
    assert_eq!(s.rows.len(), 3);
}

// ---------- a save that conflicts ----------

#[test]
fn a_refused_save_is_reapplied_to_the_fresh_inventory_and_saved_again() {
    let mut s = state();
    let used = now() - Duration::hours(2);
    let effects = synced(&mut s, "acme/crm", used);
    assert!(matches!(effects.as_slice(), [Effect::Save]), "{effects:?}");

    // The save hook refuses: another keyward added a credential meanwhile.
    let effects = update(
        &mut s,
        Action::SaveConflict("demo.yaml.age: changed on disk by another keyward".into()),
    );
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::Reload(ReloadReason::SaveConflict)]
        ),
        "{effects:?}"
    );
    let mut disk = fixture();
    disk.clients[1]
        .integrations
        .push(cred("cdn", "cdn-secret-0001"));
    let effects = update(&mut s, reloaded(ReloadReason::SaveConflict, disk.clone()));
    assert!(
        matches!(effects.as_slice(), [Effect::Save]),
        "saved again: {effects:?}"
    );
    // Both changes: the other writer's credential and this sync's answer.
    assert!(s
        .inventory
        .credential(&"globex/cdn".parse().unwrap())
        .is_some());
    let crm = s.credential(row_of(&s, "acme/crm")).unwrap();
    assert_eq!(crm.last_used_at, Some(used));
    assert_eq!(
        s.rows[row_of(&s, "acme/crm")].last_used,
        "2h ago",
        "the row shows it"
    );
    let (text, _) = notice(&s);
    assert!(text.contains("re-applied"), "{text}");

    // Saved: the sync goes on record, once.
    let effects = update(&mut s, Action::Saved(Ok(())));
    let synced: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Audit { event, .. } => Some(event.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(synced.len(), 1, "{effects:?}");
    assert!(!s.unsaved && s.replay.is_empty());
}

#[test]
fn a_save_refused_twice_shows_the_file_as_it_is_on_disk() {
    let mut s = state();
    synced(&mut s, "acme/crm", now() - Duration::hours(2));
    update(&mut s, Action::SaveConflict("changed on disk".into()));
    let mut disk = fixture();
    disk.clients[1]
        .integrations
        .push(cred("cdn", "cdn-secret-0001"));
    let effects = update(&mut s, reloaded(ReloadReason::SaveConflict, disk.clone()));
    assert!(matches!(effects.as_slice(), [Effect::Save]));

    // The other writer changed it again before this save.
    update(&mut s, Action::SaveConflict("changed on disk".into()));
    let mut disk2 = disk.clone();
    disk2.clients[1]
        .integrations
        .push(cred("vpn", "vpn-secret-0001"));
    let effects = update(&mut s, reloaded(ReloadReason::SaveConflict, disk2.clone()));
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(
        s.inventory, disk2,
        "the screen shows a change that was not saved"
    );
    assert_eq!(
        s.rows[row_of(&s, "acme/crm")].last_used,
        "never",
        "the row shows the refused answer"
    );
    assert!(!s.unsaved);
    let (text, error) = notice(&s);
    assert!(error && text.contains("not saved"), "{text}");
}

#[test]
fn a_sync_answer_about_a_key_rotated_meanwhile_is_not_reapplied() {
    let mut s = state();
    synced(&mut s, "acme/crm", now() - Duration::hours(2));
    update(&mut s, Action::SaveConflict("changed on disk".into()));
    let mut disk = fixture();
    let crm = &mut disk.clients[0].integrations[0];
    crm.remote_id = Some("sbx_crm_2".into());
    crm.secret = Some(Secret::new("crm-secret-0002"));
    let effects = update(&mut s, reloaded(ReloadReason::SaveConflict, disk.clone()));
    assert!(effects.is_empty(), "nothing left to save: {effects:?}");
    assert_eq!(s.inventory, disk);
    assert!(!s.unsaved);
}

#[test]
fn a_refused_save_whose_file_cannot_be_read_again_says_nothing_was_saved() {
    let mut s = state();
    synced(&mut s, "acme/crm", now() - Duration::hours(2));
    update(&mut s, Action::SaveConflict("changed on disk".into()));
    update(
        &mut s,
        Action::Reloaded {
            why: ReloadReason::SaveConflict,
            result: Err("demo.yaml.age: not an age-encrypted inventory".into()),
        },
    );
    let (text, error) = notice(&s);
    assert!(error && text.starts_with("not saved"), "{text}");
}

#[test]
fn a_change_on_disk_while_a_save_failed_for_another_reason_is_merged_and_saved() {
    let mut s = state();
    synced(&mut s, "acme/crm", now() - Duration::hours(2));
    // The lock was held: nothing saved, the answer kept in memory.
    update(
        &mut s,
        Action::Saved(Err("demo.yaml.age: locked by process 42".into())),
    );
    assert!(s.unsaved);
    // The other writer's save then shows up on disk.
    let mut disk = fixture();
    disk.clients[1]
        .integrations
        .push(cred("cdn", "cdn-secret-0001"));
    let effects = update(&mut s, reloaded(ReloadReason::ChangedOnDisk, disk));
    assert!(matches!(effects.as_slice(), [Effect::Save]), "{effects:?}");
    assert!(s
        .inventory
        .credential(&"globex/cdn".parse().unwrap())
        .is_some());
    assert_eq!(
        s.credential(row_of(&s, "acme/crm")).unwrap().last_used_at,
        Some(now() - Duration::hours(2))
    );
}

// ---------- the store side ----------

#[test]
fn reread_sees_another_writers_save_once_and_lets_the_next_save_through() {
    use keyward::store::{keys::generate_identity_file, Keyring, Store, StoreError};
    let dir = tempfile::tempdir().unwrap();
    let identity = dir.path().join("id.txt");
    let recipient = generate_identity_file(&identity).unwrap();
    let path = dir.path().join("inv.age");
    let mut inv = fixture();
    inv.recipients = vec![recipient];
    drop(Store::create(&path, &inv).unwrap());
    let keys = Keyring::load(std::slice::from_ref(&identity)).unwrap();

    let (mut dashboard, seen) = Store::open(&path, &keys).unwrap();
    assert_eq!(seen, inv);
    assert!(
        dashboard.reread(&keys).unwrap().is_none(),
        "unchanged: nothing to decrypt"
    );

    let (mut cron, mut theirs) = Store::open_locked(&path, &keys).unwrap();
    theirs.clients[0].integrations.pop();
    cron.save(&theirs).unwrap();
    drop(cron);

    assert!(matches!(
        dashboard.save_briefly(&inv),
        Err(StoreError::ChangedOnDisk { .. })
    ));
    let fresh = dashboard.reread(&keys).unwrap().expect("their change");
    assert_eq!(fresh, theirs);
    assert!(dashboard.reread(&keys).unwrap().is_none(), "reported twice");
    let mut ours = fresh;
    ours.clients[1].name = "Globex Corp".into();
    dashboard
        .save_briefly(&ours)
        .expect("a save after the reread is not a conflict");
    let (_, on_disk) = Store::open(&path, &keys).unwrap();
    assert_eq!(on_disk, ours);
}

#[test]
fn ctrl_r_while_jobs_run_says_the_reload_waits_for_them() {
    let mut s = state();
    select(&mut s, "acme/crm");
    update(&mut s, Action::Sync);
    let effects = update(&mut s, Action::Reload);
    assert!(
        matches!(effects.as_slice(), [Effect::Reload(ReloadReason::Asked)]),
        "{effects:?}"
    );
    assert_eq!(
        notice(&s),
        (
            "reloading once the running jobs answer (1 left)".into(),
            false
        )
    );
}
