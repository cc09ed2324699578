//! Prints how long the dashboard takes over a large inventory, each from the key to the
//! redrawn frame: the first frame, filter keystrokes, sorts and cursor moves, as p50 and
//! p99. Run with `cargo run --release --example tui_bench -- [CREDENTIALS]` (default
//! 100000); figures only, no pass/fail. A frame at 60 Hz is 16.7 ms.

use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, TimeZone, Utc};
use keyward::inventory::{Client, Credential, Inventory, ProviderKind};
use keyward::tui::action::Action;
use keyward::tui::rows::Column;
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

/// Each keystroke's time, update and redraw together, as the person waits for it.
#[derive(Default)]
struct Samples(Vec<StdDuration>);

impl Samples {
    fn time(&mut self, f: impl FnOnce()) {
        let start = Instant::now();
        f();
        self.0.push(start.elapsed());
    }

    /// The `q` quantile (nearest rank) in milliseconds.
    fn quantile(&self, q: f64) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort();
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        ms(sorted[rank - 1])
    }

    fn print(&self, label: &str) {
        println!(
            "{label:<24} p50 {:>9.3} ms  p99 {:>9.3} ms  n={}",
            self.quantile(0.5),
            self.quantile(0.99),
            self.0.len()
        );
    }
}

fn ms(d: StdDuration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let settings = Settings {
        title: "bench".into(),
        read_only: false,
        now: Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap(),
        theme: Theme { color: true },
        can_save: false,
    };
    println!("credentials              {n}");
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let draw = |terminal: &mut Terminal<TestBackend>, state: &State| {
        terminal.draw(|f| view::render(f, state)).unwrap();
    };

    // From an inventory in memory to the first frame on screen: rows, assessments, sort.
    let mut first = Samples::default();
    let mut state = None;
    for _ in 0..3 {
        let inv = inventory(n);
        first.time(|| {
            let s = State::new(inv, settings.clone(), (160, 48));
            draw(&mut terminal, &s);
            state = Some(s);
        });
    }
    first.print("first frame");
    let Some(mut state) = state else { return };

    // Typing a query narrows the rows; backspace widens them again.
    let mut filter = Samples::default();
    for query in [
        "client-0123",
        "integration 4217",
        "gitlab scope:3",
        "key-04",
    ] {
        update(&mut state, Action::StartFilter);
        for c in query.chars() {
            filter.time(|| {
                update(&mut state, Action::Insert(c));
                draw(&mut terminal, &state);
            });
        }
        for _ in query.chars() {
            filter.time(|| {
                update(&mut state, Action::DeleteBack);
                draw(&mut terminal, &state);
            });
        }
        update(&mut state, Action::Back);
    }
    filter.print("filter keystroke");

    // Every column in turn, each both ways.
    let mut sort = Samples::default();
    for _ in 0..3 {
        for _ in Column::ALL {
            for action in [Action::NextSort, Action::ReverseSort] {
                sort.time(|| {
                    update(&mut state, action);
                    draw(&mut terminal, &state);
                });
            }
        }
    }
    sort.print("sort");

    let mut cursor = Samples::default();
    for i in 0..2000 {
        let action = match i % 400 {
            0..200 => Action::Down,
            200..210 => Action::PageDown,
            _ => Action::Up,
        };
        cursor.time(|| {
            update(&mut state, action);
            draw(&mut terminal, &state);
        });
    }
    cursor.print("cursor move");
}
