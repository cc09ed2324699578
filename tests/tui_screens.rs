//! The dashboard without a terminal: every screen drawn on a `TestBackend` and pinned with
//! insta snapshots, and the key table and `update` driven as pure functions, all at a
//! fixed `now` over a fixture inventory holding every status.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use keyward::audit::AuditAction;
use keyward::inventory::{
    Client, Connection, Credential, Deploy, HistoryEntry, HistoryEvent, Inventory, ProviderKind,
    RemoteState, RemoteStatus, Status,
};
use keyward::providers::error::ErrorKind;
use keyward::providers::{ProviderError, RemoteKey, Verification};
use keyward::secret::Secret;
use keyward::sync::SyncResult;
use keyward::tui::action::{Action, AfterAudit, Effect, JobKind};
use keyward::tui::keymap::{self, Mode};
use keyward::tui::rows::Column;
use keyward::tui::state::{Screen, Settings, State};
use keyward::tui::theme::Theme;
use keyward::tui::update::update;
use keyward::tui::view;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

const CRM_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
}

fn ago(days: i64) -> Option<DateTime<Utc>> {
    Some(now() - Duration::days(days))
}

fn ahead(days: i64) -> Option<DateTime<Utc>> {
    Some(now() + Duration::days(days))
}

fn cred(id: &str, name: &str, provider: ProviderKind) -> Credential {
    let mut c = Credential::new(id, provider);
    c.name = name.to_string();
    c
}

/// Three clients, ten credentials: two expired/overdue, two due soon, two stale, one
/// unknown, the rest fine.
fn fixture() -> Inventory {
    let mut inv = Inventory::new(vec!["age1examplerecipient".into()]);
    inv.connections.push(Connection {
        id: "acme-aws".into(),
        provider: ProviderKind::AwsIam,
        endpoint: None,
        auth: BTreeMap::from([(
            "secret_access_key".to_string(),
            Secret::new("mgmt-secret-value-0001"),
        )]),
        params: BTreeMap::new(),
    });

    let mut crm = cred("crm-sync", "CRM sync bot", ProviderKind::AwsIam);
    crm.connection = Some("acme-aws".into());
    crm.remote_id = Some("AKIAIOSFODNN7EXAMPLE".into());
    crm.params.insert("user".into(), "crm-bot".into());
    crm.scopes = vec![
        "iam:ListUsers".into(),
        "s3:GetObject".into(),
        "s3:PutObject".into(),
    ];
    crm.owner = Some("alice".into());
    crm.used_by = vec![
        "n8n workflow 'crm sync'".into(),
        "Zapier: new lead -> CRM".into(),
    ];
    crm.created_at = ago(200);
    crm.last_rotated_at = ago(40);
    crm.expires_at = ago(3);
    crm.last_used_at = ago(1);
    crm.deploy = keyward::inventory::Deploys::from(Deploy::Command {
        idempotent: false,
        run: "gh secret set CRM_KEY --repo acme/bot".into(),
    });
    crm.secret = Some(Secret::new(CRM_SECRET));
    crm.risks = vec!["scope `s3:PutObject` broader than needed".into()];
    crm.history = vec![
        HistoryEntry {
            at: ago(200).unwrap(),
            event: HistoryEvent::Added,
            detail: String::new(),
        },
        HistoryEntry {
            at: ago(40).unwrap(),
            event: HistoryEvent::Rotated,
            detail: "AKIA…MPLE replaced".into(),
        },
    ];

    let mut billing = cred("billing-bot", "Billing assistant", ProviderKind::Openai);
    billing.scopes = vec!["model.request".into()];
    billing.created_at = ago(300);
    billing.last_rotated_at = ago(120);
    billing.last_used_at = Some(now() - Duration::hours(3));
    billing.secret = Some(Secret::new("sk-proj-abcdefghijklmnop1234"));

    let mut mailer = cred("mailer", "Transactional email", ProviderKind::Sendgrid);
    mailer.scopes = vec!["mail.send".into()];
    mailer.created_at = ago(20);
    mailer.expires_at = ahead(7);
    mailer.last_used_at = ago(2);

    let mut ci = cred("ci-deploy", "CI deploy token", ProviderKind::Gitlab);
    ci.scopes = vec!["api".into(), "write_repository".into()];
    ci.created_at = ago(30);
    ci.last_rotated_at = ago(20);
    ci.last_used_at = ago(143);

    let mut dns = cred("dns", "DNS automation", ProviderKind::Cloudflare);
    dns.scopes = vec!["Zone:DNS:Edit".into()];
    dns.created_at = ago(10);
    dns.last_used_at = ago(1);
    dns.expires_at = ahead(60);

    let mut ftp = cred("legacy-ftp", "Legacy FTP upload", ProviderKind::Manual);
    ftp.notes = Some("Password kept for the old print shop".into());

    let mut sms = cred("sms", "SMS alerts", ProviderKind::Twilio);
    sms.created_at = ago(5);
    sms.last_used_at = Some(now() - Duration::minutes(20));

    let mut sso = cred("sso", "Staff SSO client", ProviderKind::Oauth2);
    sso.scopes = vec!["openid".into(), "profile".into(), "email".into()];
    sso.created_at = ago(80);
    sso.last_used_at = ago(1);

    let mut sandbox = cred("sandbox-demo", "Sandbox demo key", ProviderKind::Sandbox);
    sandbox.created_at = ago(3);
    sandbox.last_used_at = ago(3);
    sandbox.expires_at = ahead(40);

    let mut hr = cred("hr-sync", "HR export", ProviderKind::AwsIam);
    hr.created_at = ago(15);
    hr.last_used_at = ago(4);
    hr.remote = Some(RemoteState {
        state: RemoteStatus::Missing,
        checked_at: ago(1).unwrap(),
    });

    inv.clients = vec![
        Client {
            id: "acme".into(),
            name: "ACME Corp".into(),
            integrations: vec![crm, billing, mailer],
        },
        Client {
            id: "globex".into(),
            name: "Globex".into(),
            integrations: vec![ci, dns, ftp, sms],
        },
        Client {
            id: "initech".into(),
            name: "Initech".into(),
            integrations: vec![sso, sandbox, hr],
        },
    ];
    inv
}

fn settings(read_only: bool, color: bool) -> Settings {
    Settings {
        title: "demo".into(),
        read_only,
        now: now(),
        theme: Theme { color },
        can_save: !read_only,
    }
}

fn state_sized(w: u16, h: u16) -> State {
    State::new(fixture(), settings(false, true), (w, h))
}

fn state() -> State {
    state_sized(80, 24)
}

fn draw(state: &State) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(state.size.0, state.size.1)).unwrap();
    t.draw(|f| view::render(f, state)).unwrap();
    t
}

fn screen_text(state: &State) -> String {
    draw(state).backend().to_string()
}

fn key_event(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, modifiers)
}

/// Presses a key the way the runtime does: key table, then update, with audit entries
/// written as a working log would; returns the other effects.
fn press(state: &mut State, code: KeyCode, modifiers: KeyModifiers) -> Vec<Effect> {
    let effects = match keymap::action_for(
        state.mode(),
        key_event(code, modifiers),
        state.settings.read_only,
    ) {
        Some(action) => update(state, action),
        None => Vec::new(),
    };
    settle(state, effects)
}

/// Answers every audit effect with success, as the runtime does when the log is written.
fn settle(state: &mut State, effects: Vec<Effect>) -> Vec<Effect> {
    let mut out = Vec::new();
    for effect in effects {
        match effect {
            Effect::Audit { then, .. } => {
                let next = update(
                    state,
                    Action::Audited {
                        result: Ok(()),
                        then,
                    },
                );
                out.extend(settle(state, next));
            }
            other => out.push(other),
        }
    }
    out
}

fn key(state: &mut State, code: KeyCode) -> Vec<Effect> {
    press(state, code, KeyModifiers::NONE)
}

fn typed(state: &mut State, text: &str) -> Vec<Effect> {
    text.chars()
        .flat_map(|c| key(state, KeyCode::Char(c)))
        .collect()
}

fn ctrl(state: &mut State, c: char) -> Vec<Effect> {
    press(state, KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn visible_addresses(state: &State) -> Vec<String> {
    state
        .visible
        .iter()
        .map(|&r| state.rows[r].at.to_string())
        .collect()
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

// ---------- screens ----------

#[test]
fn main_screen_80x24() {
    let s = state();
    insta::assert_snapshot!("main_80x24", draw(&s).backend());
}

#[test]
fn main_screen_160x48() {
    let s = state_sized(160, 48);
    insta::assert_snapshot!("main_160x48", draw(&s).backend());
}

#[test]
fn main_screen_with_marks_and_sort() {
    let mut s = state();
    key(&mut s, KeyCode::Char(' '));
    key(&mut s, KeyCode::Char(' '));
    typed(&mut s, ":sort due");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.screen, Screen::Main);
    assert_eq!(s.sort.column, Column::Due);
    insta::assert_snapshot!("main_marked_sorted", draw(&s).backend());
}

/// Regression: `:sort due` sorted by expiry only (it was an alias of the EXPIRES column), so a
/// credential whose rotation date came first sat below later expiries.
#[test]
fn sort_due_was_sorting_by_expiry_only() {
    let mut s = state();
    typed(&mut s, ":sort due");
    key(&mut s, KeyCode::Enter);
    let dues: Vec<_> = s
        .visible
        .iter()
        .map(|&r| s.rows[r].assessment.due_at)
        .collect();
    let dated: Vec<_> = dues.iter().take_while(|d| d.is_some()).collect();
    assert!(dated.windows(2).all(|w| w[0] <= w[1]), "{dues:?}");
    assert!(
        dues[dated.len()..].iter().all(|d| d.is_none()),
        "undated last: {dues:?}"
    );
    // At least one row is due by its rotation date rather than an expiry, so this order
    // differs from the expiry order.
    assert!(s.visible.iter().any(|&r| {
        let c = s.credential(r).unwrap();
        s.rows[r].assessment.due_at.is_some() && s.rows[r].assessment.due_at != c.expires_at
    }));
}

#[test]
fn filter_active() {
    let mut s = state();
    key(&mut s, KeyCode::Char('/'));
    typed(&mut s, "acme");
    assert_eq!(s.mode(), Mode::Filter);
    insta::assert_snapshot!("filter_active", draw(&s).backend());
}

#[test]
fn detail_masked() {
    let mut s = state_sized(100, 44);
    select(&mut s, "acme/crm-sync");
    key(&mut s, KeyCode::Enter);
    let text = screen_text(&s);
    assert!(!text.contains(CRM_SECRET), "masked detail shows the secret");
    assert!(
        text.contains("EKEY"),
        "the hint shows the last four characters"
    );
    insta::assert_snapshot!("detail_masked", draw(&s).backend());
}

#[test]
fn detail_revealed() {
    let mut s = state_sized(100, 44);
    select(&mut s, "acme/crm-sync");
    key(&mut s, KeyCode::Enter);
    key(&mut s, KeyCode::Char('x'));
    assert!(screen_text(&s).contains(CRM_SECRET));
    insta::assert_snapshot!("detail_revealed", draw(&s).backend());
}

#[test]
fn help_screen() {
    let mut s = state_sized(100, 80);
    key(&mut s, KeyCode::Char('?'));
    insta::assert_snapshot!("help", draw(&s).backend());
}

#[test]
fn help_screen_read_only_leaves_out_changing_keys() {
    let mut s = State::new(fixture(), settings(true, true), (100, 80));
    key(&mut s, KeyCode::Char('?'));
    let text = screen_text(&s);
    assert!(text.contains("verify marked"));
    assert!(!text.contains("sync marked"));
    assert!(!text.contains(":sync"));
    assert!(text.contains("Read-only"));
}

#[test]
fn timeline_screen() {
    let mut s = state();
    key(&mut s, KeyCode::Char('t'));
    assert_eq!(s.screen, Screen::Timeline);
    // crm-sync expired, billing-bot's rotation is overdue.
    assert_eq!(s.timeline.overdue, 2);
    assert_eq!(s.timeline.undated, 1, "legacy-ftp has no date");
    assert_eq!(
        s.timeline.weeks[1], 2,
        "mailer expires in 7 days, sso's rotation in 10"
    );
    assert_eq!(
        s.timeline.weeks.iter().sum::<usize>() + s.timeline.later + 3,
        10
    );
    insta::assert_snapshot!("timeline", draw(&s).backend());
}

#[test]
fn too_small_terminal_shows_a_message() {
    let s = state_sized(30, 8);
    let text = screen_text(&s);
    assert!(text.contains("too small"));
    insta::assert_snapshot!("too_small", draw(&s).backend());
}

#[test]
fn no_size_makes_any_screen_panic() {
    for screen in ['m', 'd', 't', '?'] {
        for w in (0..=90).step_by(7) {
            for h in 0..=26 {
                let mut s = state_sized(w, h);
                match screen {
                    'd' => {
                        key(&mut s, KeyCode::Enter);
                    }
                    't' | '?' => {
                        key(&mut s, KeyCode::Char(screen));
                    }
                    _ => {}
                }
                key(&mut s, KeyCode::Char('G'));
                draw(&s);
            }
        }
    }
}

#[test]
fn no_color_draws_without_any_colour() {
    for screen in ["", "\n", "t", "?"] {
        let mut s = State::new(fixture(), settings(false, false), (100, 40));
        for c in screen.chars() {
            key(
                &mut s,
                if c == '\n' {
                    KeyCode::Enter
                } else {
                    KeyCode::Char(c)
                },
            );
        }
        key(&mut s, KeyCode::Char('x'));
        let t = draw(&s);
        for cell in t.backend().buffer().content() {
            assert_eq!(cell.fg, Color::Reset, "screen {screen:?} cell {cell:?}");
            assert_eq!(cell.bg, Color::Reset, "screen {screen:?} cell {cell:?}");
        }
        // Statuses stay readable as words.
        if screen.is_empty() {
            let text = t.backend().to_string();
            for word in ["expired", "overdue", "due-soon", "stale", "unknown", "ok"] {
                assert!(text.contains(word), "{word}");
            }
        }
    }
}

#[test]
fn colours_are_only_the_16_ansi_ones() {
    let named = [
        Color::Reset,
        Color::Black,
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::Gray,
        Color::DarkGray,
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
        Color::White,
    ];
    for screen in ["", "\n", "t", "?"] {
        let mut s = state_sized(160, 48);
        for c in screen.chars() {
            key(
                &mut s,
                if c == '\n' {
                    KeyCode::Enter
                } else {
                    KeyCode::Char(c)
                },
            );
        }
        let t = draw(&s);
        let cells = t.backend().buffer().content();
        assert!(cells
            .iter()
            .all(|c| named.contains(&c.fg) && named.contains(&c.bg)));
        if screen.is_empty() {
            assert!(
                cells.iter().any(|c| c.fg == Color::Red),
                "expired rows are red"
            );
            assert!(
                cells.iter().any(|c| c.fg == Color::Yellow),
                "due-soon rows are yellow"
            );
            assert!(
                cells.iter().any(|c| c.fg == Color::Green),
                "ok rows are green"
            );
        }
    }
}

#[test]
fn narrow_table_drops_whole_columns_instead_of_cutting_them() {
    let text = screen_text(&state());
    assert!(text.contains("DUE") && text.contains("WHY"));
    assert!(
        !text.contains("SCOPES"),
        "scopes is the first column to go at 80 wide"
    );
    let wide = screen_text(&state_sized(160, 48));
    for title in [
        "CLIENT",
        "INTEGRATION",
        "PROVIDER",
        "SCOPES",
        "DUE",
        "USED",
        "ROTATED",
        "STATUS",
        "WHY",
    ] {
        assert!(wide.contains(title), "{title}");
    }
}

#[test]
fn header_counts_each_status() {
    let s = state();
    // expired, overdue, interrupted, due-soon, stale, unknown, ok, revoked
    assert_eq!(s.counts, [1, 1, 0, 2, 2, 1, 3, 0]);
    let text = screen_text(&s);
    assert!(text.contains("✗ 1 expired"));
    assert!(text.contains("~ 2 due-soon"));
    assert!(text.contains("✓ 3 ok"));
}

// ---------- keys and update ----------

#[test]
fn default_order_puts_what_needs_attention_first() {
    let s = state();
    let statuses: Vec<Status> = s
        .visible
        .iter()
        .map(|&r| s.rows[r].assessment.status)
        .collect();
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(statuses, sorted);
    assert_eq!(visible_addresses(&s)[0], "acme/crm-sync");
}

#[test]
fn esc_never_quits() {
    let mut s = state();
    let sequences: [&[KeyCode]; 6] = [
        &[],
        &[KeyCode::Enter],
        &[KeyCode::Char('t')],
        &[KeyCode::Char('?')],
        &[KeyCode::Char('/'), KeyCode::Char('a')],
        &[KeyCode::Char(':'), KeyCode::Char('q')],
    ];
    for seq in sequences {
        for &code in seq {
            key(&mut s, code);
        }
        for _ in 0..5 {
            key(&mut s, KeyCode::Esc);
            assert!(!s.quit, "Esc quit after {seq:?}");
        }
        assert_eq!(s.screen, Screen::Main);
        assert_eq!(s.mode(), Mode::Main);
    }
}

#[test]
fn q_and_ctrl_c_quit() {
    let mut s = state();
    key(&mut s, KeyCode::Char('q'));
    assert!(s.quit);
    let mut s = state();
    key(&mut s, KeyCode::Char('/'));
    ctrl(&mut s, 'c');
    assert!(s.quit, "Ctrl-C quits even from a text field");
}

#[test]
fn letters_in_the_filter_are_text_not_commands() {
    let mut s = state();
    key(&mut s, KeyCode::Char('/'));
    let effects = typed(&mut s, "qsvxG?");
    assert!(effects.is_empty());
    assert!(!s.quit);
    assert_eq!(s.screen, Screen::Main);
    assert_eq!(s.filter, "qsvxG?");
    assert!(s.visible.is_empty());
}

#[test]
fn filter_is_live_enter_keeps_it_and_esc_clears_it() {
    let mut s = state();
    key(&mut s, KeyCode::Char('/'));
    typed(&mut s, "acm");
    assert_eq!(s.visible.len(), 3);
    typed(&mut s, "e crm");
    assert_eq!(visible_addresses(&s), ["acme/crm-sync"]);
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.mode(), Mode::Main);
    assert_eq!(s.filter, "acme crm");
    assert_eq!(s.visible.len(), 1);
    key(&mut s, KeyCode::Char('/'));
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.filter, "");
    assert_eq!(s.visible.len(), 10);
}

#[test]
fn filter_matches_client_name_provider_and_scopes() {
    for (query, expected) in [
        ("globex", 4),
        ("ACME CORP", 3),
        ("cloudflare", 1),
        ("s3:getobject", 1),
        ("openid", 1),
        ("transactional", 1),
    ] {
        let mut s = state();
        typed(&mut s, "/");
        typed(&mut s, query);
        assert_eq!(s.visible.len(), expected, "{query}");
    }
}

#[test]
fn narrowing_filter_agrees_with_a_full_filter() {
    let mut s = state();
    key(&mut s, KeyCode::Char('/'));
    for c in "a s".chars() {
        key(&mut s, KeyCode::Char(c));
        let incremental = s.visible.clone();
        s.refilter(false);
        assert_eq!(incremental, s.visible, "after {c:?}");
    }
    key(&mut s, KeyCode::Backspace);
    let after_backspace = s.visible.clone();
    s.refilter(false);
    assert_eq!(after_backspace, s.visible);
}

#[test]
fn space_marks_and_moves_down() {
    let mut s = state();
    let first = s.selected().unwrap();
    key(&mut s, KeyCode::Char(' '));
    assert!(s.marked[first]);
    assert_eq!(s.cursor, 1);
    key(&mut s, KeyCode::Char('k'));
    key(&mut s, KeyCode::Char(' '));
    assert!(!s.marked[first], "Space again unmarks");
}

#[test]
fn ctrl_a_marks_only_visible_rows() {
    let mut s = state();
    typed(&mut s, ":client globex");
    key(&mut s, KeyCode::Enter);
    ctrl(&mut s, 'a');
    typed(&mut s, ":client");
    key(&mut s, KeyCode::Enter);
    let marked: Vec<String> = (0..s.rows.len())
        .filter(|&r| s.marked[r])
        .map(|r| s.rows[r].at.to_string())
        .collect();
    assert_eq!(marked.len(), 4);
    assert!(marked.iter().all(|a| a.starts_with("globex/")));
    assert_eq!(s.marked_shown, 4);
    assert!(screen_text(&s).contains("4 marked"));
    typed(&mut s, ":client acme");
    key(&mut s, KeyCode::Enter);
    assert_eq!(
        s.marked_shown, 0,
        "marks on hidden rows are kept but not counted"
    );
    ctrl(&mut s, 'a');
    ctrl(&mut s, 'a');
    assert_eq!(s.marked_shown, 0, "Ctrl-A again unmarks the visible rows");
    assert_eq!(s.marked.iter().filter(|&&m| m).count(), 4);
}

#[test]
fn movement_keys_page_and_keep_the_cursor_on_screen() {
    let mut s = state_sized(80, 12); // 7 table rows
    assert_eq!(s.page_rows(), 7);
    key(&mut s, KeyCode::Char('G'));
    assert_eq!(s.cursor, 9);
    assert_eq!(s.offset, 3);
    key(&mut s, KeyCode::Char('g'));
    assert_eq!((s.cursor, s.offset), (0, 0));
    key(&mut s, KeyCode::PageDown);
    assert_eq!(s.cursor, 7);
    ctrl(&mut s, 'u');
    assert_eq!(s.cursor, 0);
    ctrl(&mut s, 'd');
    assert_eq!(s.cursor, 7);
    key(&mut s, KeyCode::End);
    key(&mut s, KeyCode::Down);
    assert_eq!(s.cursor, 9, "the cursor stops at the last row");
    key(&mut s, KeyCode::Home);
    key(&mut s, KeyCode::Up);
    assert_eq!(s.cursor, 0);
    for _ in 0..3 {
        key(&mut s, KeyCode::Char('j'));
    }
    assert_eq!(s.cursor, 3);
    // A smaller terminal scrolls so the cursor stays visible.
    update(&mut s, Action::Resize(80, 11));
    key(&mut s, KeyCode::Char('G'));
    assert!(s.cursor >= s.offset && s.cursor < s.offset + s.page_rows());
}

#[test]
fn command_line_filters_sorts_and_quits() {
    let mut s = state();
    typed(&mut s, ":expiring 30");
    key(&mut s, KeyCode::Enter);
    // expired crm-sync, overdue billing-bot, mailer (7d), sso (rotation in 10d).
    assert_eq!(s.visible.len(), 4);
    typed(&mut s, ":expiring");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.visible.len(), 10);

    typed(&mut s, ":sort client desc");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.sort.column, Column::Client);
    assert!(s.sort.reversed);
    assert!(visible_addresses(&s)[0].starts_with("initech/"));

    typed(&mut s, ":sort used");
    key(&mut s, KeyCode::Enter);
    assert_eq!(
        visible_addresses(&s)[0],
        "globex/legacy-ftp",
        "never used comes first"
    );

    typed(&mut s, ":sort nonsense");
    key(&mut s, KeyCode::Enter);
    let notice = s.notice.clone().unwrap();
    assert!(notice.error && notice.text.contains("unknown column"));

    typed(&mut s, ":client nobody");
    key(&mut s, KeyCode::Enter);
    assert!(s
        .notice
        .clone()
        .unwrap()
        .text
        .contains("no client `nobody`"));
    assert_eq!(s.visible.len(), 10);

    typed(&mut s, ":frobnicate");
    key(&mut s, KeyCode::Enter);
    assert!(s.notice.clone().unwrap().text.contains("unknown command"));
    assert!(!s.quit);

    typed(&mut s, ":q");
    key(&mut s, KeyCode::Enter);
    assert!(s.quit);
}

#[test]
fn every_column_sorts_in_both_directions() {
    let mut s = state();
    for _ in 0..Column::ALL.len() {
        key(&mut s, KeyCode::Char('o'));
        let forward = s.visible.clone();
        key(&mut s, KeyCode::Char('O'));
        let mut backward = s.visible.clone();
        backward.reverse();
        assert_eq!(forward, backward, "{:?}", s.sort.column);
        assert_eq!(s.visible.len(), 10);
    }
}

#[test]
fn c_toggles_the_selected_rows_client() {
    let mut s = state();
    select(&mut s, "globex/dns");
    key(&mut s, KeyCode::Char('c'));
    assert_eq!(s.selection.client.as_deref(), Some("globex"));
    assert_eq!(s.visible.len(), 4);
    assert_eq!(
        s.rows[s.selected().unwrap()].at.to_string(),
        "globex/dns",
        "the cursor stays put"
    );
    key(&mut s, KeyCode::Char('c'));
    assert_eq!(s.visible.len(), 10);
}

#[test]
fn reveal_lasts_only_until_leaving_the_detail() {
    let mut s = state();
    select(&mut s, "acme/crm-sync");
    key(&mut s, KeyCode::Enter);
    key(&mut s, KeyCode::Char('x'));
    assert!(s.detail.reveal);
    key(&mut s, KeyCode::Char('?'));
    assert!(!s.detail.reveal, "help left the detail view");
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.screen, Screen::Detail);
    assert!(!screen_text(&s).contains(CRM_SECRET));
    key(&mut s, KeyCode::Char('x'));
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Enter);
    assert!(!s.detail.reveal);
}

#[test]
fn y_copies_the_secret_and_never_shows_it_in_the_status_line() {
    let mut s = state();
    select(&mut s, "acme/crm-sync");
    key(&mut s, KeyCode::Enter);
    let effects = key(&mut s, KeyCode::Char('Y'));
    match effects.as_slice() {
        [Effect::Copy(secret)] => assert_eq!(secret.expose_secret(), CRM_SECRET),
        other => panic!("expected one copy effect, got {other:?}"),
    }
    assert!(!s.notice.clone().unwrap().text.contains(CRM_SECRET));

    select_detail(&mut s, "globex/dns");
    assert!(key(&mut s, KeyCode::Char('Y')).is_empty());
    assert!(s.notice.clone().unwrap().text.contains("no secret stored"));
}

fn select_detail(s: &mut State, address: &str) {
    key(s, KeyCode::Esc);
    select(s, address);
    key(s, KeyCode::Enter);
}

#[test]
fn read_only_refuses_sync_by_key_by_command_and_by_action() {
    let mut s = State::new(fixture(), settings(true, true), (80, 24));
    assert!(key(&mut s, KeyCode::Char('s')).is_empty());
    assert!(s.notice.clone().unwrap().text.contains("read-only"));
    typed(&mut s, ":sync");
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert!(update(&mut s, Action::Sync).is_empty());
    assert_eq!(s.running, 0);
    let text = screen_text(&s);
    let footer = text.lines().last().unwrap();
    assert!(
        footer.contains("verify") && !footer.contains("sync"),
        "read-only hides the sync hint"
    );
    assert!(text.contains("[read-only]"));
    // Verifying changes nothing, so it stays available.
    assert_eq!(key(&mut s, KeyCode::Char('v')).len(), 1);
}

#[test]
fn sync_runs_on_marked_rows_and_records_answers() {
    let mut s = state();
    select(&mut s, "globex/dns");
    key(&mut s, KeyCode::Char(' '));
    select(&mut s, "initech/hr-sync");
    key(&mut s, KeyCode::Char(' '));
    let effects = key(&mut s, KeyCode::Char('s'));
    let jobs: Vec<(JobKind, String)> = effects
        .iter()
        .map(|e| match e {
            Effect::Run(job) => (job.kind, job.target.at.to_string()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|(k, _)| *k == JobKind::Sync));
    assert_eq!(s.running, 2);

    let dns = row_of(&s, "globex/dns");
    let hr = row_of(&s, "initech/hr-sync");
    let mut answer = RemoteKey::new("dns-token-id", RemoteStatus::Active);
    answer.expires_at = ago(1);
    assert!(update(
        &mut s,
        Action::Inspected {
            row: dns,
            remote_id: None,
            result: SyncResult::Found(answer)
        }
    )
    .is_empty());
    assert!(s.running > 0);
    let effects = update(
        &mut s,
        Action::Inspected {
            row: hr,
            remote_id: None,
            result: SyncResult::Failed(ProviderError::new(
                ProviderKind::AwsIam,
                None,
                ErrorKind::Transport,
                "connection refused",
            )),
        },
    );
    assert!(matches!(effects.as_slice(), [Effect::Save]), "{effects:?}");
    assert_eq!(s.running, 0);
    assert_eq!(
        s.rows[dns].assessment.status,
        Status::Expired,
        "the row was rebuilt"
    );
    assert_eq!(
        visible_addresses(&s)[0..2]
            .iter()
            .filter(|a| *a == "globex/dns")
            .count(),
        1
    );
    let cred = s.credential(dns).unwrap();
    assert_eq!(cred.expires_at, ago(1));
    assert_eq!(cred.remote.as_ref().unwrap().state, RemoteStatus::Active);
    assert_eq!(cred.history.last().unwrap().event, HistoryEvent::Synced);
    let notice = s.notice.clone().unwrap();
    assert!(
        notice.error && notice.text.contains("1 failed"),
        "{notice:?}"
    );

    assert!(s.unsaved);
    let logged = update(&mut s, Action::Saved(Ok(())));
    match logged.as_slice() {
        [Effect::Audit { event, then }] => {
            assert_eq!(*then, AfterAudit::Nothing);
            assert_eq!(event.action(), AuditAction::Synced);
            assert_eq!(event.credential(), Some("globex/dns"));
        }
        other => panic!("expected one audit entry for the saved sync, got {other:?}"),
    }
    assert!(!s.unsaved);
    assert!(s.notice.clone().unwrap().text.ends_with("; saved"));
    update(&mut s, Action::Saved(Err("disk full".into())));
    assert!(s
        .notice
        .clone()
        .unwrap()
        .text
        .contains("save failed: disk full"));
}

#[test]
fn a_key_the_provider_no_longer_knows_is_flagged_missing_not_removed() {
    let mut s = state();
    select(&mut s, "globex/dns");
    key(&mut s, KeyCode::Char('s'));
    let dns = row_of(&s, "globex/dns");
    update(
        &mut s,
        Action::Inspected {
            row: dns,
            remote_id: None,
            result: SyncResult::Missing,
        },
    );
    assert_eq!(s.rows.len(), 10);
    assert_eq!(s.rows[dns].assessment.status, Status::Stale);
    assert_eq!(
        s.credential(dns).unwrap().remote.as_ref().unwrap().state,
        RemoteStatus::Missing
    );
}

#[test]
fn verify_reports_verdicts_without_changing_the_inventory() {
    let mut s = state();
    let before = s.inventory.clone();
    ctrl(&mut s, 'a');
    let effects = key(&mut s, KeyCode::Char('v'));
    // Only the two credentials with a secret can be verified.
    assert_eq!(effects.len(), 2);
    assert!(s
        .notice
        .clone()
        .unwrap()
        .text
        .contains("8 without a secret skipped"));
    let rows: Vec<usize> = effects
        .iter()
        .map(|e| match e {
            Effect::Run(job) => job.row,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    update(
        &mut s,
        Action::Verified {
            row: rows[0],
            result: Verification::Valid,
        },
    );
    let last = update(
        &mut s,
        Action::Verified {
            row: rows[1],
            result: Verification::Invalid {
                reason: "revoked".into(),
            },
        },
    );
    // Verify never saves; each check is recorded in the audit log (issue 9).
    assert!(
        matches!(
            last.as_slice(),
            [Effect::Audit { event, .. }]
                if event.action() == keyward::audit::AuditAction::Verified
        ),
        "verify never saves, and records its check: {last:?}"
    );
    assert_eq!(s.inventory, before);
    let text = s.notice.clone().unwrap().text;
    assert!(
        text.contains("1 valid") && text.contains("1 invalid"),
        "{text}"
    );
    assert_eq!(
        s.rows[rows[1]].verification,
        Some(Verification::Invalid {
            reason: "revoked".into()
        })
    );
}

#[test]
fn the_spinner_turns_only_while_work_runs() {
    let mut s = state();
    update(&mut s, Action::Tick);
    assert_eq!(s.spinner, 0);
    key(&mut s, KeyCode::Char('s'));
    update(&mut s, Action::Tick);
    assert_eq!(s.spinner, 1);
    let text = screen_text(&s);
    assert!(text.contains("⠙ syncing 1…"), "{text}");
}

#[test]
fn footer_hints_and_help_come_from_the_key_table() {
    let s = state();
    let text = screen_text(&s);
    let footer = text.lines().last().unwrap();
    for (keys, word) in keymap::hints(Mode::Main, false) {
        if footer.contains(word) {
            assert!(footer.contains(keys), "{keys} {word}");
        }
    }
    assert!(
        footer.contains("help") && footer.contains("quit"),
        "{footer}"
    );
    let mut h = state_sized(100, 130);
    key(&mut h, KeyCode::Char('?'));
    let help = screen_text(&h);
    for b in keymap::BINDINGS {
        assert!(help.contains(b.help), "help lacks {:?}", b.help);
    }
}

#[test]
fn the_cursor_row_is_reversed_so_it_shows_without_colour() {
    let mut s = State::new(fixture(), settings(false, false), (80, 24));
    key(&mut s, KeyCode::Char('j'));
    let t = draw(&s);
    let buf = t.backend().buffer();
    let reversed_rows: Vec<u16> = (0..24)
        .filter(|&y| (0..80).all(|x| buf[(x, y)].modifier.contains(Modifier::REVERSED)))
        .collect();
    assert_eq!(
        reversed_rows,
        [4],
        "table rows start at line 3; the cursor is on the second"
    );
}

#[test]
fn a_sync_answer_about_a_key_replaced_meanwhile_changes_nothing() {
    let mut s = state();
    select(&mut s, "acme/crm-sync");
    key(&mut s, KeyCode::Char('s'));
    let crm = row_of(&s, "acme/crm-sync");
    let before = s.inventory.clone();
    let mut answer = RemoteKey::new("AKIAOLDKEY", RemoteStatus::Inactive);
    answer.expires_at = ahead(300);
    let effects = update(
        &mut s,
        Action::Inspected {
            row: crm,
            remote_id: Some("AKIAOLDKEY".into()),
            result: SyncResult::Found(answer),
        },
    );
    assert!(effects.is_empty(), "nothing to save: {effects:?}");
    assert_eq!(s.inventory, before);
    assert!(!s.unsaved);
}

#[test]
fn a_secret_is_shown_or_copied_only_once_the_audit_log_holds_it() {
    let mut s = state();
    select(&mut s, "acme/crm-sync");
    key(&mut s, KeyCode::Enter);
    let row = s.detail.row;
    let reveal = update(&mut s, Action::Reveal);
    match reveal.as_slice() {
        [Effect::Audit { event, then }] => {
            assert_eq!(*then, AfterAudit::Reveal { row });
            assert_eq!(event.action(), AuditAction::Revealed);
            assert!(!format!("{event:?}").contains(CRM_SECRET));
        }
        other => panic!("expected an audit entry first, got {other:?}"),
    }
    assert!(!s.detail.reveal, "not shown before the entry is written");

    update(
        &mut s,
        Action::Audited {
            result: Err("disk full".into()),
            then: AfterAudit::Reveal { row },
        },
    );
    assert!(!s.detail.reveal);
    assert!(s.notice.clone().unwrap().text.contains("not revealed"));
    assert!(!screen_text(&s).contains(CRM_SECRET));

    let copy = update(&mut s, Action::Copy);
    assert!(matches!(
        copy.as_slice(),
        [Effect::Audit {
            then: AfterAudit::Copy { .. },
            ..
        }]
    ));
    let refused = update(
        &mut s,
        Action::Audited {
            result: Err("disk full".into()),
            then: AfterAudit::Copy { row },
        },
    );
    assert!(refused.is_empty(), "no clipboard write without an entry");
    assert!(s.notice.clone().unwrap().text.contains("not copied"));

    update(
        &mut s,
        Action::Audited {
            result: Ok(()),
            then: AfterAudit::Reveal { row },
        },
    );
    assert!(s.detail.reveal);
}

#[test]
fn an_audit_answer_after_leaving_the_detail_reveals_nothing() {
    let mut s = state();
    select(&mut s, "acme/crm-sync");
    key(&mut s, KeyCode::Enter);
    let row = s.detail.row;
    update(&mut s, Action::Reveal);
    key(&mut s, KeyCode::Esc);
    update(
        &mut s,
        Action::Audited {
            result: Ok(()),
            then: AfterAudit::Reveal { row },
        },
    );
    key(&mut s, KeyCode::Enter);
    assert!(!s.detail.reveal);
}

/// `:archive` is `keyward archive` from the dashboard: only revoked credentials, the same
/// history entry, saved, then an `archived` audit entry each; the row leaves the table.
#[test]
fn archive_from_the_dashboard_moves_a_revoked_row_out_and_records_it() {
    let mut s = state();
    select(&mut s, "acme/crm-sync");
    typed(&mut s, ":archive");
    let effects = key(&mut s, KeyCode::Enter);
    assert!(effects.is_empty(), "{effects:?}");
    let notice = s.notice.clone().unwrap();
    assert!(
        notice.error && notice.text.contains("not revoked"),
        "{notice:?}"
    );

    let row = row_of(&s, "acme/crm-sync");
    s.inventory.clients[s.rows[row].client_index].integrations[s.rows[row].credential_index]
        .remote = Some(RemoteState {
        state: RemoteStatus::Revoked,
        checked_at: Utc::now(),
    });
    s.rebuild_row(row);
    assert_eq!(s.rows[row].assessment.status, Status::Revoked);
    select(&mut s, "acme/crm-sync");
    typed(&mut s, ":archive");
    let effects = key(&mut s, KeyCode::Enter);
    assert!(matches!(effects.as_slice(), [Effect::Save]), "{effects:?}");
    assert!(!visible_addresses(&s).contains(&"acme/crm-sync".to_string()));
    let cred = s.credential(row).unwrap();
    assert!(cred.archived);
    assert_eq!(cred.history.last().unwrap().event, HistoryEvent::Archived);
    match update(&mut s, Action::Saved(Ok(()))).as_slice() {
        [Effect::Audit { event, .. }] => {
            assert_eq!(event.action(), AuditAction::Archived);
            assert_eq!(event.credential(), Some("acme/crm-sync"));
        }
        other => panic!("expected one archived entry, got {other:?}"),
    }
}

/// A sync in the background counts up in the status line (`sync 1/2`) and marks each row
/// with its outcome (✓ answered, ✗ failed, ? nothing to ask) until the next action.
#[test]
fn background_results_count_up_and_mark_their_rows() {
    let mut s = state();
    select(&mut s, "globex/dns");
    key(&mut s, KeyCode::Char(' '));
    select(&mut s, "globex/legacy-ftp");
    key(&mut s, KeyCode::Char(' '));
    let effects = key(&mut s, KeyCode::Char('s'));
    assert_eq!(effects.len(), 2, "{effects:?}");
    assert!(screen_text(&s).contains("sync 0/2"), "{}", screen_text(&s));
    let dns = row_of(&s, "globex/dns");
    let ftp = row_of(&s, "globex/legacy-ftp");
    let dns_key = s.credential(dns).unwrap().remote_id.clone();
    update(
        &mut s,
        Action::Inspected {
            row: dns,
            remote_id: dns_key,
            result: SyncResult::Found(RemoteKey::new("dns-token-id", RemoteStatus::Active)),
        },
    );
    let text = screen_text(&s);
    assert!(text.contains("sync 1/2"), "{text}");
    // The outcome sits in the mark column, after the `*` of a marked row: `"*✓ globex …`.
    let outcome = |text: &str, id: &str| {
        text.lines()
            .find(|l| l.contains(&format!(" {id} ")))
            .and_then(|l| l.chars().nth(2))
            .unwrap_or(' ')
    };
    assert_eq!(outcome(&text, "dns"), '✓', "{text}");
    update(
        &mut s,
        Action::Inspected {
            row: ftp,
            remote_id: None,
            result: SyncResult::Skipped {
                reason: "a manual credential has no provider API".into(),
            },
        },
    );
    let text = screen_text(&s);
    assert!(
        !text.contains("sync 2/2"),
        "the count goes once all answered: {text}"
    );
    assert_eq!(outcome(&text, "legacy-ftp"), '?', "{text}");
    // The next action clears the marks.
    key(&mut s, KeyCode::Char('v'));
    assert_eq!(outcome(&screen_text(&s), "dns"), ' ');
}

/// A message longer than the status line is cut there; `:messages` shows every message of
/// the session in full, newest first, and Esc goes back.
#[test]
fn messages_show_in_full_on_demand() {
    let mut s = state();
    let long = format!(
        "acme/crm-sync: {} (the end)",
        "the provider answered at length ".repeat(6)
    );
    s.fail(long.clone());
    s.notify("a later note");
    assert!(
        !screen_text(&s).contains("(the end)"),
        "cut in the status line"
    );
    typed(&mut s, ":messages");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.screen, Screen::Help);
    let text = screen_text(&s);
    assert!(text.contains("› messages"), "{text}");
    let flat: String = text
        .lines()
        .map(|l| l.trim_matches('"').trim())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(flat.contains("(the end)"), "{text}");
    let newest = text.find("a later note").unwrap();
    let older = text.find("acme/crm-sync:").unwrap();
    assert!(newest < older, "newest first: {text}");
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.screen, Screen::Main);
}
