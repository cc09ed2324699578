//! Prints how long the dashboard's work takes over a large inventory: building the rows,
//! each filter keystroke, a sort, cursor moves and drawing a frame. Run with
//! `cargo run --example tui_bench -- [CREDENTIALS]` (default 100000); figures only, no
//! pass/fail.

use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, TimeZone, Utc};
use keyward::inventory::{Client, Credential, Inventory, ProviderKind};
use keyward::tui::action::Action;
use keyward::tui::state::{Settings, State};
use keyward::tui::theme::Theme;
use keyward::tui::update::update;
use keyward::tui::view;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn inventory(n: usize) -> Inventory {
    let now = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
    let mut inv = Inventory::new(vec![]);
    let per_client = 50;
    for c in 0..n.div_ceil(per_client) {
        let mut client = Client {
            id: format!("client-{c:05}"),
            name: format!("Client number {c}"),
            integrations: Vec::new(),
        };
        for i in 0..per_client.min(n - c * per_client) {
            let k = (c * per_client + i) as i64;
            let mut cred =
                Credential::new(format!("key-{i:03}"), ProviderKind::ALL[(k % 9) as usize]);
            cred.name = format!("Integration {k}");
            cred.scopes = vec![format!("scope:{}", k % 17), "read".into()];
            cred.created_at = Some(now - Duration::days(k % 400));
            cred.last_used_at = Some(now - Duration::days(k % 90));
            if k % 3 == 0 {
                cred.expires_at = Some(now + Duration::days(k % 120 - 20));
            }
            client.integrations.push(cred);
        }
        inv.clients.push(client);
    }
    inv
}

fn time<T>(label: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    println!("{label:<40} {:>10.2} ms", ms(start.elapsed()));
    out
}

fn ms(d: StdDuration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let inv = time(&format!("build an inventory of {n}"), || inventory(n));
    let settings = Settings {
        title: "bench".into(),
        read_only: false,
        now: Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap(),
        theme: Theme { color: true },
        can_save: false,
    };
    let mut state = time("State::new (rows, assessments, sort)", || {
        State::new(inv, settings, (160, 48))
    });
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    time("draw one frame", || {
        terminal.draw(|f| view::render(f, &state)).unwrap();
    });
    update(&mut state, Action::StartFilter);
    for c in "client-0123".chars() {
        time(&format!("filter keystroke {c:?}"), || {
            update(&mut state, Action::Insert(c));
        });
    }
    println!("  {} rows visible", state.visible.len());
    time("backspace (full refilter)", || {
        update(&mut state, Action::DeleteBack);
    });
    update(&mut state, Action::Back);
    time("sort by the next column", || {
        update(&mut state, Action::NextSort);
    });
    let start = Instant::now();
    for _ in 0..1000 {
        update(&mut state, Action::Down);
        terminal.draw(|f| view::render(f, &state)).unwrap();
    }
    println!(
        "{:<40} {:>10.3} ms",
        "cursor down + draw (mean of 1000)",
        ms(start.elapsed()) / 1000.0
    );
}
