//! The dashboard's actions without a terminal: the rotation plan, the wizard (at a step, at
//! a manual deploy, on failure), the bulk progress panel (mid-run, with queued questions,
//! cancelled, and its summary), the revoke confirmation, the export dialog and the
//! interrupted-work banner, drawn on a `TestBackend` at 80x24, at a large size and without
//! colour; and every new key and command driven through the key table and `update` as
//! pure functions, the engine's side played by actions as the runtime sends them.

use chrono::{DateTime, Duration, TimeZone, Utc};
use keyward::inventory::journal::{self, Rotation};
use keyward::inventory::{Client, Credential, Inventory, ProviderKind};
use keyward::providers::RotationStyle;
use keyward::report::Format;
use keyward::rotation::{
    Outcome, OutcomeKind, Phase, Plan, PlanItem, Progress, Question, RotationEvent, Summary,
    WorkKind,
};
use keyward::secret::Secret;
use keyward::tui::action::{Action, AfterAudit, Effect};
use keyward::tui::actions::{Dialog, Pending, RunKind};
use keyward::tui::keymap::{self, Mode};
use keyward::tui::state::{Screen, Settings, State};
use keyward::tui::theme::Theme;
use keyward::tui::update::update;
use keyward::tui::view;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;
use ratatui::Terminal;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
}

fn cred(id: &str, name: &str, provider: ProviderKind) -> Credential {
    let mut c = Credential::new(id, provider);
    c.name = name.into();
    c
}

/// Two clients: acme/crm expired, acme/mail overdue, acme/fresh fine, beta/ftp manual.
fn fixture() -> Inventory {
    let mut inv = Inventory::new(vec!["age1examplerecipient".into()]);
    let mut crm = cred("crm", "CRM sync bot", ProviderKind::Sandbox);
    crm.remote_id = Some("sbx_crm_1".into());
    crm.created_at = Some(now() - Duration::days(200));
    crm.expires_at = Some(now() - Duration::days(3));
    crm.last_used_at = Some(now() - Duration::days(1));
    crm.used_by = vec!["n8n workflow 'crm sync'".into(), "Zapier lead hook".into()];
    crm.secret = Some(Secret::new("sbx-old-crm-secret-0001"));
    let mut mail = cred("mail", "Transactional mail", ProviderKind::Sandbox);
    mail.remote_id = Some("sbx_mail_1".into());
    mail.created_at = Some(now() - Duration::days(120));
    mail.last_used_at = Some(now() - Duration::days(2));
    mail.used_by = vec!["shop backend".into()];
    let mut fresh = cred("fresh", "New thing", ProviderKind::Sandbox);
    fresh.created_at = Some(now() - Duration::days(3));
    fresh.last_used_at = Some(now() - Duration::days(1));
    let mut ftp = cred("ftp", "Print shop FTP", ProviderKind::Manual);
    ftp.created_at = Some(now() - Duration::days(400));
    inv.clients = vec![
        Client {
            id: "acme".into(),
            name: "ACME Corp".into(),
            integrations: vec![crm, mail, fresh],
        },
        Client {
            id: "beta".into(),
            name: "Beta Ltd".into(),
            integrations: vec![ftp],
        },
    ];
    inv
}

fn settings(color: bool) -> Settings {
    Settings {
        title: "demo".into(),
        read_only: false,
        now: now(),
        theme: Theme { color },
        can_save: true,
    }
}

fn state_on(inv: Inventory, w: u16, h: u16, color: bool) -> State {
    State::new(inv, settings(color), (w, h))
}

fn state() -> State {
    state_on(fixture(), 80, 24, true)
}

fn draw(state: &State) -> String {
    let mut t = Terminal::new(TestBackend::new(state.size.0, state.size.1)).unwrap();
    t.draw(|f| view::render(f, state)).unwrap();
    t.backend().to_string()
}

/// The screen has not a single coloured cell.
fn assert_colourless(state: &State) {
    let mut t = Terminal::new(TestBackend::new(state.size.0, state.size.1)).unwrap();
    t.draw(|f| view::render(f, state)).unwrap();
    for cell in t.backend().buffer().content() {
        assert_eq!(cell.fg, Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, Color::Reset, "{cell:?}");
    }
}

fn press_mod(state: &mut State, code: KeyCode, modifiers: KeyModifiers) -> Vec<Effect> {
    match keymap::action_for(
        state.mode(),
        KeyEvent::new(code, modifiers),
        state.settings.read_only,
    ) {
        Some(action) => update(state, action),
        None => Vec::new(),
    }
}

fn key(state: &mut State, code: KeyCode) -> Vec<Effect> {
    press_mod(state, code, KeyModifiers::NONE)
}

fn ch(state: &mut State, c: char) -> Vec<Effect> {
    key(state, KeyCode::Char(c))
}

fn typed(state: &mut State, text: &str) -> Vec<Effect> {
    text.chars().flat_map(|c| ch(state, c)).collect()
}

fn command(state: &mut State, line: &str) -> Vec<Effect> {
    ch(state, ':');
    typed(state, line);
    key(state, KeyCode::Enter)
}

fn row_of(state: &State, address: &str) -> usize {
    state
        .rows
        .iter()
        .position(|r| r.at.to_string() == address)
        .unwrap()
}

fn select(state: &mut State, address: &str) {
    let row = row_of(state, address);
    state.cursor = state.visible.iter().position(|&r| r == row).unwrap();
}

fn mark(state: &mut State, address: &str) {
    select(state, address);
    ch(state, ' ');
}

fn item(at: &str, why: &str, style: RotationStyle) -> PlanItem {
    PlanItem {
        manual_because: None,
        at: at.parse().unwrap(),
        why: why.into(),
        provider: ProviderKind::Sandbox,
        style: Some(style),
        steps: vec![
            Phase::Create,
            Phase::Store,
            Phase::Deploy,
            Phase::Verify,
            Phase::RevokeOld,
            Phase::Commit,
        ],
        needs_person: vec![],
        warnings: vec![],
        blocked: None,
        deploys: vec![],
        group: 0,
    }
}

fn two_item_plan() -> Plan {
    let mut crm = item(
        "acme/crm",
        "expired 3 days ago",
        RotationStyle::CreateThenRevoke,
    );
    crm.needs_person = vec!["a person to confirm the consumers were updated".into()];
    let mut mail = item(
        "acme/mail",
        "rotation overdue by 30 days",
        RotationStyle::RollInPlace,
    );
    mail.warnings = vec!["rolls in place: the old value stops working at once".into()];
    mail.steps = vec![Phase::Create, Phase::Store, Phase::Deploy, Phase::Commit];
    mail.group = 1;
    Plan {
        items: vec![crm, mail],
    }
}

fn at_secs(s: i64) -> DateTime<Utc> {
    now() + Duration::milliseconds(s * 100)
}

fn event(state: &mut State, e: RotationEvent, tenths: i64) -> Vec<Effect> {
    update(
        state,
        Action::RunEvent {
            event: e,
            at: at_secs(tenths),
        },
    )
}

fn step(at: &str, phase: Phase) -> RotationEvent {
    RotationEvent::Step {
        at: at.into(),
        phase,
    }
}

fn progress() -> Progress {
    Progress::default()
}

/// Marks crm and mail, presses R, and answers with the plan, as the runtime would.
fn plan_open() -> State {
    plan_open_with(two_item_plan())
}

/// [`plan_open`], answered with `plan`.
fn plan_open_with(plan: Plan) -> State {
    let mut s = state();
    mark(&mut s, "acme/crm");
    mark(&mut s, "acme/mail");
    let effects = ch(&mut s, 'R');
    match effects.as_slice() {
        [Effect::PlanRotation(picked)] => {
            let got: Vec<(String, String)> = picked
                .iter()
                .map(|(a, w)| (a.to_string(), w.clone()))
                .collect();
            assert_eq!(got[0].0, "acme/crm");
            assert_eq!(got[1].0, "acme/mail");
            assert!(got[0].1.contains("expired"), "{got:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.mode(), Mode::Planning);
    update(&mut s, Action::Planned(Ok(plan)));
    assert_eq!(s.mode(), Mode::Plan);
    s
}

/// Confirms the plan: Tab to Rotate, Enter.
fn confirm_plan(s: &mut State) -> Vec<Effect> {
    key(s, KeyCode::Tab);
    key(s, KeyCode::Enter)
}

// ---------- the plan ----------

#[test]
fn plan_dialog_80x24() {
    insta::assert_snapshot!("plan_80x24", draw(&plan_open()));
}

/// The dialog left out `PlanItem.manual_because`, which the CLI's plan shows as "by hand:":
/// a person confirming saw a manual rotation without the reason for it.
#[test]
fn plan_dialog_shows_why_a_key_is_rotated_by_hand_80x24() {
    let mut plan = two_item_plan();
    let mail = &mut plan.items[1];
    mail.provider = ProviderKind::Openai;
    mail.style = Some(RotationStyle::Manual);
    mail.manual_because =
        Some("the key belongs to a user, and OpenAI's API cannot create one for a user".into());
    mail.warnings.clear();
    mail.steps = vec![Phase::Store, Phase::Deploy, Phase::Commit];
    let screen = draw(&plan_open_with(plan));
    assert!(
        screen.contains("by hand: the key belongs to a user"),
        "{screen}"
    );
    insta::assert_snapshot!("plan_manual_because_80x24", screen);
}

/// Regression: a plan longer than the screen (8 credentials at 100x30 in the demo) pushed
/// its buttons off the dialog, so the person saw no way to confirm. The buttons stay; the
/// list scrolls above them, and the border says there is more.
#[test]
fn a_plan_longer_than_the_screen_keeps_its_buttons_and_scrolls_80x24() {
    let mut plan = two_item_plan();
    for i in 0..8 {
        let mut extra = plan.items[0].clone();
        extra.at = format!("acme/extra-{i}").parse().unwrap();
        plan.items.push(extra);
    }
    let mut s = plan_open_with(plan);
    let first = draw(&s);
    assert!(first.contains("Tab moves, Enter presses"), "{first}");
    assert!(first.contains("↓ more"), "{first}");
    assert!(!first.contains("acme/extra-7"), "{first}");
    insta::assert_snapshot!("plan_overflowing_80x24", first);
    key(&mut s, KeyCode::End);
    let last = draw(&s);
    assert!(last.contains("acme/extra-7"), "{last}");
    assert!(last.contains("↑ more"), "{last}");
    assert!(last.contains("Tab moves, Enter presses"), "{last}");
}

#[test]
fn plan_dialog_large_and_without_colour() {
    let mut s = plan_open();
    s.size = (160, 48);
    insta::assert_snapshot!("plan_160x48", draw(&s));
    s.settings.theme = Theme { color: false };
    assert_colourless(&s);
}

#[test]
fn the_plan_opens_on_cancel_and_the_key_that_opened_it_never_confirms() {
    let mut s = plan_open();
    assert!(ch(&mut s, 'R').is_empty(), "R again must not confirm");
    assert_eq!(s.mode(), Mode::Plan);
    // Enter presses the focused button: Cancel. The engine (and the lock) is let go.
    let effects = key(&mut s, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::DropEngine]),
        "{effects:?}"
    );
    assert_eq!(s.mode(), Mode::Main);
    assert!(!s.work.busy());

    let mut s = plan_open();
    let effects = confirm_plan(&mut s);
    match effects.as_slice() {
        [Effect::StartRun {
            kind: RunKind::Rotate,
            plan: Some(plan),
            ..
        }] => assert_eq!(plan, &two_item_plan()),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.screen, Screen::Run);
    assert!(s.work.busy());
}

#[test]
fn esc_while_planning_drops_the_plan_when_it_arrives() {
    let mut s = state();
    ch(&mut s, 'R');
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.mode(), Mode::Main);
    let effects = update(&mut s, Action::Planned(Ok(two_item_plan())));
    assert!(matches!(effects.as_slice(), [Effect::DropEngine]));
    assert!(!s.work.busy());
}

#[test]
fn a_second_run_is_refused_while_one_goes() {
    let mut s = plan_open();
    confirm_plan(&mut s);
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.screen, Screen::Main);
    assert!(ch(&mut s, 'R').is_empty());
    assert!(s.notice.as_ref().unwrap().text.contains("a run is going"));
    assert!(ch(&mut s, 'D').is_empty());
}

#[test]
fn rotate_commands_pick_by_due_overdue_and_client() {
    let picked = |line: &str| {
        let mut s = state();
        match command(&mut s, line).as_slice() {
            [Effect::PlanRotation(p)] => p.iter().map(|(a, _)| a.to_string()).collect(),
            _ => Vec::<String>::new(),
        }
    };
    // Due: the earlier of expiry and the rotation date, past due included.
    assert_eq!(
        picked("rotate due 30"),
        ["acme/crm", "acme/mail", "beta/ftp"]
    );
    assert_eq!(
        picked("rotate due 30 client acme"),
        ["acme/crm", "acme/mail"]
    );
    assert_eq!(
        picked("rotate overdue"),
        ["acme/crm", "acme/mail", "beta/ftp"]
    );
    assert_eq!(
        picked("rotate client acme"),
        ["acme/crm", "acme/mail", "acme/fresh"]
    );
    assert_eq!(picked("rotate acme/fresh"), ["acme/fresh"]);
    let mut s = state();
    assert!(command(&mut s, "rotate client nobody").is_empty());
    assert!(s.notice.unwrap().error);
}

// ---------- the wizard ----------

/// One credential's rotation started and at its manual deploy step.
fn wizard_at_deploy() -> State {
    let mut s = state();
    select(&mut s, "acme/crm");
    ch(&mut s, 'R');
    let mut plan = two_item_plan();
    plan.items.truncate(1);
    update(&mut s, Action::Planned(Ok(plan)));
    confirm_plan(&mut s);
    event(
        &mut s,
        RotationEvent::Started {
            at: "acme/crm".into(),
            work: WorkKind::Rotate,
        },
        0,
    );
    event(&mut s, step("acme/crm", Phase::Create), 0);
    event(&mut s, step("acme/crm", Phase::Store), 4);
    event(&mut s, step("acme/crm", Phase::Deploy), 5);
    update(&mut s, Action::RunClock(at_secs(17)));
    update(
        &mut s,
        Action::Asked(Pending::Confirm {
            id: 7,
            at: "acme/crm".parse().unwrap(),
            question: Question::DeployedByHand {
                used_by: vec!["n8n workflow 'crm sync'".into(), "Zapier lead hook".into()],
                instructions: Some("n8n: Credentials > CRM".into()),
            },
        }),
    );
    s
}

#[test]
fn wizard_at_a_manual_deploy_step_lists_the_consumers() {
    let s = wizard_at_deploy();
    assert_eq!(s.mode(), Mode::Question, "the wizard asks at once");
    let screen = draw(&s);
    assert!(!screen.contains("sbx-old-crm-secret"));
    insta::assert_snapshot!("wizard_deploy_80x24", screen);
    let mut big = wizard_at_deploy();
    big.size = (160, 48);
    insta::assert_snapshot!("wizard_deploy_160x48", draw(&big));
    big.settings.theme = Theme { color: false };
    assert_colourless(&big);
}

#[test]
fn the_wizard_copies_the_new_secret_only_once_audited_and_answers_on_y() {
    let mut s = wizard_at_deploy();
    let effects = ch(&mut s, 'Y');
    let row = row_of(&s, "acme/crm");
    match effects.as_slice() {
        [Effect::Audit { event, then }] => {
            assert_eq!(*then, AfterAudit::CopyNew { row });
            let text = format!("{event:?}");
            assert!(
                text.contains("Copied") && text.contains("acme/crm"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
    let effects = update(
        &mut s,
        Action::Audited {
            result: Ok(()),
            then: AfterAudit::CopyNew { row },
        },
    );
    assert!(
        matches!(effects.as_slice(), [Effect::CopyNewSecret(at)] if at.to_string() == "acme/crm")
    );
    // A failed audit entry copies nothing.
    let effects = update(
        &mut s,
        Action::Audited {
            result: Err("disk full".into()),
            then: AfterAudit::CopyNew { row },
        },
    );
    assert!(effects.is_empty());
    let effects = ch(&mut s, 'y');
    assert!(matches!(
        effects.as_slice(),
        [Effect::Answer { id: 7, yes: true }]
    ));
    assert_eq!(s.mode(), Mode::Run);
}

#[test]
fn a_question_closed_with_esc_stays_queued_and_n_leaves_it_waiting() {
    let mut s = wizard_at_deploy();
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.mode(), Mode::Run);
    assert_eq!(s.work.run.as_ref().unwrap().questions.len(), 1);
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.mode(), Mode::Question);
    let effects = ch(&mut s, 'n');
    assert!(matches!(
        effects.as_slice(),
        [Effect::Answer { id: 7, yes: false }]
    ));
    assert!(s.work.run.as_ref().unwrap().questions.is_empty());
}

fn wizard_failed() -> State {
    let mut s = wizard_at_deploy();
    ch(&mut s, 'y');
    event(&mut s, step("acme/crm", Phase::Verify), 30);
    event(
        &mut s,
        RotationEvent::Failed {
            at: "acme/crm".into(),
            reason: "the provider says the new key is invalid; the journal keeps it".into(),
            progress: progress(),
        },
        42,
    );
    // The engine's final inventory still holds the journal.
    let mut inv = fixture();
    inv.clients[0].integrations[0].rotation = Some(Rotation::new(
        "r1".into(),
        journal::Action::Rotate,
        journal::Style::CreateThenRevoke,
        journal::Step::Verify,
        now(),
        Some("sbx_crm_1".into()),
    ));
    update(
        &mut s,
        Action::RunFinished {
            summary: Summary {
                outcomes: vec![Outcome {
                    work: WorkKind::Rotate,
                    at: "acme/crm".parse().unwrap(),
                    kind: OutcomeKind::Failed,
                    message: "invalid".into(),
                    attempts: 1,
                    warnings: vec![],
                }],
            },
            inventory: Box::new(inv),
            at: at_secs(43),
        },
    );
    s
}

#[test]
fn wizard_on_failure_offers_retry_and_roll_back() {
    let s = wizard_failed();
    insta::assert_snapshot!("wizard_failed_80x24", draw(&s));
}

/// The runner (`ops::run`) records each outcome as it settles, with the command line's
/// words; the panel showing the event must not record it a second time.
#[test]
fn outcomes_are_recorded_once_by_the_runner_not_again_by_the_panel() {
    let mut s = wizard_at_deploy();
    ch(&mut s, 'y');
    let effects = event(
        &mut s,
        RotationEvent::Failed {
            at: "acme/crm".into(),
            reason: "boom".into(),
            progress: progress(),
        },
        42,
    );
    assert!(effects.is_empty(), "{effects:?}");
    assert!(draw(&s).contains("failed: boom"));
}

#[test]
fn after_a_failure_r_resumes_a_journaled_rotation_and_b_rolls_it_back() {
    let mut s = wizard_failed();
    assert!(!s.work.busy());
    let effects = ch(&mut s, 'r');
    match effects.as_slice() {
        [Effect::StartRun {
            kind: RunKind::Resume,
            refs,
            ..
        }] => assert_eq!(refs[0].to_string(), "acme/crm"),
        other => panic!("{other:?}"),
    }
    let mut s = wizard_failed();
    assert!(matches!(
        ch(&mut s, 'b').as_slice(),
        [Effect::StartRun {
            kind: RunKind::Rollback,
            ..
        }]
    ));
}

#[test]
fn a_manual_provider_takes_the_new_secret_hidden() {
    let mut s = state();
    select(&mut s, "beta/ftp");
    ch(&mut s, 'R');
    let mut plan = two_item_plan();
    plan.items.truncate(1);
    plan.items[0].at = "beta/ftp".parse().unwrap();
    update(&mut s, Action::Planned(Ok(plan)));
    confirm_plan(&mut s);
    update(
        &mut s,
        Action::Asked(Pending::Secret {
            id: 3,
            at: "beta/ftp".parse().unwrap(),
            instructions: "Issue a new password in the print shop's portal".into(),
        }),
    );
    assert_eq!(s.mode(), Mode::SecretEntry);
    // Letters are text here, even those that are keys elsewhere.
    typed(&mut s, "qyn-s3cret-Value");
    let screen = draw(&s);
    assert!(!screen.contains("s3cret"), "{screen}");
    assert!(screen.contains("(typed, hidden)"));
    let effects = key(&mut s, KeyCode::Enter);
    match effects.as_slice() {
        [Effect::AnswerSecret {
            id: 3,
            secret: Some(secret),
        }] => assert_eq!(secret.expose_secret(), "qyn-s3cret-Value"),
        other => panic!("{other:?}"),
    }
    assert!(!matches!(s.work.dialog, Some(Dialog::Secret(_))));
}

// ---------- bulk ----------

/// Three credentials: one done, one waiting out a rate limit, one queued; a question
/// queued, not asked over the panel.
fn bulk_mid_run() -> State {
    let mut s = state();
    for at in ["acme/crm", "acme/mail", "acme/fresh"] {
        mark(&mut s, at);
    }
    ch(&mut s, 'R');
    let mut plan = two_item_plan();
    plan.items.push(item(
        "acme/fresh",
        "asked for",
        RotationStyle::CreateThenRevoke,
    ));
    update(&mut s, Action::Planned(Ok(plan)));
    confirm_plan(&mut s);
    for (at, t) in [("acme/crm", 0), ("acme/mail", 1)] {
        event(
            &mut s,
            RotationEvent::Started {
                at: at.into(),
                work: WorkKind::Rotate,
            },
            t,
        );
        event(&mut s, step(at, Phase::Create), t);
    }
    event(&mut s, step("acme/mail", Phase::Store), 9);
    event(
        &mut s,
        RotationEvent::Finished {
            at: "acme/mail".into(),
            message: "new key sbx_mail_2 in place; old one rolled".into(),
            progress: progress(),
        },
        21,
    );
    event(
        &mut s,
        RotationEvent::Retrying {
            at: "acme/crm".into(),
            phase: Phase::Create,
            attempt: 2,
            reason: "rate limited (429), retrying after 4s".into(),
        },
        25,
    );
    update(
        &mut s,
        Action::Asked(Pending::Confirm {
            id: 11,
            at: "acme/crm".parse().unwrap(),
            question: Question::DeployedByHand {
                used_by: vec!["shop backend".into()],
                instructions: None,
            },
        }),
    );
    update(&mut s, Action::RunClock(at_secs(40)));
    s
}

#[test]
fn bulk_panel_mid_run() {
    let s = bulk_mid_run();
    assert_eq!(
        s.mode(),
        Mode::Run,
        "bulk questions are queued, not asked over the panel"
    );
    let screen = draw(&s);
    assert!(screen.contains("rotate 1/3"), "{screen}");
    assert!(screen.contains("rate limit"), "{screen}");
    insta::assert_snapshot!("bulk_mid_run_80x24", screen);
    let mut big = bulk_mid_run();
    big.size = (160, 48);
    insta::assert_snapshot!("bulk_mid_run_160x48", draw(&big));
    big.settings.theme = Theme { color: false };
    assert_colourless(&big);
}

#[test]
fn the_rest_of_the_dashboard_stays_usable_during_a_bulk_run() {
    let mut s = bulk_mid_run();
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.screen, Screen::Main);
    ch(&mut s, '/');
    typed(&mut s, "ftp");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.visible.len(), 1);
    let screen = draw(&s);
    assert!(screen.contains("rotate 1/3, 1 ask you (w)"), "{screen}");
    ch(&mut s, 'w');
    assert_eq!(s.screen, Screen::Run);
}

#[test]
fn cancelling_answers_the_queued_questions_not_now_and_starts_nothing_more() {
    let mut s = bulk_mid_run();
    let effects = ch(&mut s, 'C');
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::CancelRun, Effect::Answer { id: 11, yes: false }]
        ),
        "{effects:?}"
    );
    // The engine reports the end: fresh never started.
    update(
        &mut s,
        Action::RunFinished {
            summary: Summary {
                outcomes: vec![Outcome {
                    work: WorkKind::Rotate,
                    at: "acme/crm".parse().unwrap(),
                    kind: OutcomeKind::Waiting,
                    message: "a person to confirm the consumers were updated".into(),
                    attempts: 1,
                    warnings: vec![],
                }],
            },
            inventory: Box::new(fixture()),
            at: at_secs(50),
        },
    );
    let run = s.work.run.as_ref().unwrap();
    let c = run.counts();
    assert_eq!((c.done, c.failed, c.waiting, c.left()), (1, 1, 1, 0));
    assert!(draw(&s).contains("not started (cancelled)"));
}

fn bulk_summary() -> State {
    let mut s = bulk_mid_run();
    event(
        &mut s,
        RotationEvent::Failed {
            at: "acme/fresh".into(),
            reason: "the provider refused: key limit reached (2 of 2)".into(),
            progress: progress(),
        },
        45,
    );
    update(
        &mut s,
        Action::RunFinished {
            summary: Summary {
                outcomes: vec![Outcome {
                    work: WorkKind::Rotate,
                    at: "acme/crm".parse().unwrap(),
                    kind: OutcomeKind::Waiting,
                    message: "a person to confirm the consumers were updated".into(),
                    attempts: 2,
                    warnings: vec![],
                }],
            },
            inventory: Box::new(fixture()),
            at: at_secs(60),
        },
    );
    s
}

#[test]
fn bulk_summary_stays_readable_and_the_table_marks_each_row() {
    let mut s = bulk_summary();
    let notice = s.notice.clone().unwrap();
    assert!(notice.error);
    assert!(
        notice.text.contains("1 done, 1 failed, 1 waiting for you"),
        "{}",
        notice.text
    );
    insta::assert_snapshot!("bulk_summary_80x24", draw(&s));
    key(&mut s, KeyCode::Esc);
    let table = draw(&s);
    insta::assert_snapshot!("bulk_summary_table_marks_80x24", table);
    assert_eq!(s.work.marks.len(), 3);
    // The marks go at the next run.
    ch(&mut s, 'D');
    typed(&mut s, "3");
    key(&mut s, KeyCode::Tab);
    key(&mut s, KeyCode::Enter);
    assert!(s.work.marks.is_empty());
}

// ---------- revoke ----------

fn revoke_two() -> State {
    let mut s = state();
    mark(&mut s, "acme/crm");
    mark(&mut s, "acme/mail");
    assert!(ch(&mut s, 'D').is_empty());
    assert_eq!(s.mode(), Mode::Revoke);
    s
}

#[test]
fn revoke_confirmation_screens() {
    let s = revoke_two();
    insta::assert_snapshot!("revoke_80x24", draw(&s));
    let mut big = revoke_two();
    big.size = (160, 48);
    insta::assert_snapshot!("revoke_160x48", draw(&big));
    big.settings.theme = Theme { color: false };
    assert_colourless(&big);
}

#[test]
fn revoking_many_needs_the_count_typed_and_space_switches_to_emergency() {
    let mut s = revoke_two();
    key(&mut s, KeyCode::Tab);
    assert!(key(&mut s, KeyCode::Enter).is_empty(), "no count typed");
    assert!(s.notice.as_ref().unwrap().text.contains("type 2"));
    assert_eq!(s.mode(), Mode::Revoke);
    typed(&mut s, "x2");
    ch(&mut s, ' ');
    let screen = draw(&s);
    assert!(screen.contains("EMERGENCY"), "{screen}");
    let effects = key(&mut s, KeyCode::Enter);
    match effects.as_slice() {
        [Effect::StartRun {
            kind: RunKind::Revoke { emergency: true },
            refs,
            plan: None,
        }] => assert_eq!(refs.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn revoking_one_needs_no_count_and_enter_first_cancels() {
    let mut s = state();
    select(&mut s, "acme/mail");
    ch(&mut s, 'D');
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert_eq!(s.mode(), Mode::Main);
    ch(&mut s, 'D');
    key(&mut s, KeyCode::Right);
    let effects = key(&mut s, KeyCode::Enter);
    assert!(matches!(
        effects.as_slice(),
        [Effect::StartRun {
            kind: RunKind::Revoke { emergency: false },
            ..
        }]
    ));
}

// ---------- export ----------

fn export_open() -> State {
    let mut s = state();
    mark(&mut s, "acme/crm");
    mark(&mut s, "acme/mail");
    ch(&mut s, 'e');
    assert_eq!(s.mode(), Mode::Export);
    s
}

#[test]
fn export_dialog_screens() {
    let s = export_open();
    insta::assert_snapshot!("export_80x24", draw(&s));
    let mut big = export_open();
    big.size = (160, 48);
    insta::assert_snapshot!("export_160x48", draw(&big));
    big.settings.theme = Theme { color: false };
    assert_colourless(&big);
}

#[test]
fn export_fills_the_path_follows_the_format_and_writes_on_enter() {
    let mut s = export_open();
    key(&mut s, KeyCode::Tab);
    let effects = key(&mut s, KeyCode::Enter);
    match effects.as_slice() {
        [Effect::Export(req)] => {
            assert_eq!(req.format, Format::Csv);
            assert_eq!(req.client.as_deref(), Some("acme"));
            assert_eq!(req.path.to_str(), Some("acme-access-2026-11-26.csv"));
            assert_eq!(req.refs.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    // The status line says the full path, and the export is put on record.
    let effects = update(
        &mut s,
        Action::Exported(Ok((
            "/home/alice/acme-access-2026-11-26.csv".into(),
            "2 credentials".into(),
        ))),
    );
    assert!(s
        .notice
        .as_ref()
        .unwrap()
        .text
        .contains("/home/alice/acme-access-2026-11-26.csv"));
    // `ops::export` records the `exported` entry; the dashboard adds none.
    assert!(effects.is_empty(), "{effects:?}");
    // Without marks: the visible ones, everyone's.
    let mut s = state();
    ch(&mut s, 'e');
    key(&mut s, KeyCode::Backspace);
    typed(&mut s, "x");
    let effects = key(&mut s, KeyCode::Enter);
    match effects.as_slice() {
        [Effect::Export(req)] => {
            assert_eq!(req.client, None);
            assert_eq!(req.refs.len(), 4);
            assert_eq!(req.path.to_str(), Some("access-2026-11-26.mx"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn report_command_writes_one_clients_report() {
    let mut s = state();
    match command(&mut s, "report acme").as_slice() {
        [Effect::Export(req)] => {
            assert_eq!(req.client.as_deref(), Some("acme"));
            assert_eq!(req.path.to_str(), Some("acme-access-2026-11-26.md"));
        }
        other => panic!("{other:?}"),
    }
    match command(&mut s, "report acme out.json").as_slice() {
        [Effect::Export(req)] => assert_eq!(req.format, Format::Json),
        other => panic!("{other:?}"),
    }
    assert!(command(&mut s, "report nobody x.md").is_empty());
}

// ---------- the banner ----------

fn interrupted() -> Inventory {
    let mut inv = fixture();
    let mut j = Rotation::new(
        "r-7f3a".into(),
        journal::Action::Rotate,
        journal::Style::CreateThenRevoke,
        journal::Step::Deploy,
        now() - Duration::hours(2),
        Some("sbx_crm_1".into()),
    );
    j.waiting_for = Some("a person to confirm the consumers were updated".into());
    inv.clients[0].integrations[0].rotation = Some(j);
    inv.clients[0].integrations[1].rotation = Some(Rotation::new(
        "r-81bc".into(),
        journal::Action::Revoke,
        journal::Style::CreateThenRevoke,
        journal::Step::Revoke,
        now() - Duration::hours(1),
        Some("sbx_mail_1".into()),
    ));
    inv
}

#[test]
fn the_banner_announces_interrupted_work_on_open() {
    let s = state_on(interrupted(), 80, 24, true);
    assert_eq!(s.mode(), Mode::Banner);
    insta::assert_snapshot!("banner_80x24", draw(&s));
    let big = state_on(interrupted(), 160, 48, false);
    insta::assert_snapshot!("banner_160x48", draw(&big));
    assert_colourless(&big);
    // Nothing interrupted: no banner.
    assert_eq!(state().mode(), Mode::Main);
}

#[test]
fn the_banner_resumes_or_rolls_back_per_credential_and_comes_back_with_resume() {
    let mut s = state_on(interrupted(), 80, 24, true);
    ch(&mut s, 'j');
    let effects = ch(&mut s, 'b');
    match effects.as_slice() {
        [Effect::StartRun {
            kind: RunKind::Rollback,
            refs,
            ..
        }] => assert_eq!(refs[0].to_string(), "acme/mail"),
        other => panic!("{other:?}"),
    }
    // A resumed rotation opens at the step where it stopped.
    let mut s = state_on(interrupted(), 80, 24, true);
    ch(&mut s, 'r');
    let run = s.work.run.as_ref().unwrap();
    let steps: Vec<&str> = run.rows[0].steps.iter().map(|s| s.phase.as_str()).collect();
    assert_eq!(steps, ["deploy", "verify", "revoke-old", "commit"]);
    insta::assert_snapshot!("wizard_resumed_at_deploy_80x24", draw(&s));
    let mut s = state_on(interrupted(), 80, 24, true);
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.mode(), Mode::Main);
    command(&mut s, "resume");
    assert_eq!(s.mode(), Mode::Banner);
    let effects = ch(&mut s, 'r');
    assert!(matches!(
        effects.as_slice(),
        [Effect::StartRun { kind: RunKind::Resume, refs, .. }] if refs[0].to_string() == "acme/crm"
    ));
}

// ---------- keys elsewhere, read-only ----------

#[test]
fn a_key_that_does_nothing_here_says_where_it_works() {
    let mut s = state();
    ch(&mut s, 'x');
    let n = s.notice.clone().unwrap();
    assert!(n.text.contains("works on: Detail"), "{}", n.text);
    ch(&mut s, 't');
    ch(&mut s, 'R');
    let n = s.notice.clone().unwrap();
    assert!(n.text.contains("works on: Table · Detail"), "{}", n.text);
}

#[test]
fn read_only_refuses_rotate_and_revoke() {
    let mut s = State::new(
        fixture(),
        Settings {
            read_only: true,
            ..settings(true)
        },
        (80, 24),
    );
    assert!(ch(&mut s, 'R').is_empty());
    assert!(ch(&mut s, 'D').is_empty());
    assert!(command(&mut s, "rotate overdue").is_empty());
    assert_eq!(s.mode(), Mode::Main);
    assert!(s.notice.unwrap().text.contains("read-only"));
}

#[test]
fn a_run_shows_the_engines_final_inventory() {
    let mut s = plan_open();
    confirm_plan(&mut s);
    let mut inv = fixture();
    inv.clients[0].integrations[0].secret = Some(Secret::new("sbx-new-crm-secret-0002"));
    inv.clients[0].integrations[0].expires_at = Some(now() + Duration::days(90));
    update(
        &mut s,
        Action::RunFinished {
            summary: Summary::default(),
            inventory: Box::new(inv),
            at: at_secs(10),
        },
    );
    let row = row_of(&s, "acme/crm");
    assert_eq!(
        s.credential(row)
            .unwrap()
            .secret
            .as_ref()
            .unwrap()
            .expose_secret(),
        "sbx-new-crm-secret-0002"
    );
    assert_ne!(
        s.rows[row].assessment.status,
        keyward::inventory::Status::Expired
    );
}

#[test]
fn a_step_the_plan_did_not_list_goes_where_the_work_is_not_at_the_end() {
    let mut s = wizard_at_deploy();
    ch(&mut s, 'y');
    let run = s.work.run.as_mut().unwrap();
    run.apply(&step("acme/crm", Phase::Plan), at_secs(20));
    let steps: Vec<&str> = run.rows[0].steps.iter().map(|s| s.phase.as_str()).collect();
    assert_eq!(
        steps,
        [
            "create",
            "store",
            "deploy",
            "plan",
            "verify",
            "revoke-old",
            "commit"
        ]
    );
}

/// Regression (issue 9): the dashboard's verify sent stored secrets to providers without an
/// audit entry (`keyward verify` now records one per credential: the same entry here).
#[test]
fn the_dashboards_verify_records_each_check_in_the_audit_log() {
    let mut s = state();
    let at = s.rows[0].at.to_string();
    let effects = update(
        &mut s,
        Action::Verified {
            row: 0,
            result: keyward::providers::Verification::Invalid {
                reason: "the key is deactivated".into(),
            },
        },
    );
    let audits: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Audit { event, then } => Some((event, then)),
            _ => None,
        })
        .collect();
    assert_eq!(audits.len(), 1, "{effects:?}");
    let (event, then) = audits[0];
    assert_eq!(event.action(), keyward::audit::AuditAction::Verified);
    assert_eq!(event.credential(), Some(at.as_str()));
    assert!(matches!(then, AfterAudit::Nothing));
    // The same words `keyward verify` records.
    let expected = keyward::verify::audit_event(
        &at.parse().unwrap(),
        &keyward::providers::Verification::Invalid {
            reason: "the key is deactivated".into(),
        },
    );
    assert_eq!(*event, expected);
}
