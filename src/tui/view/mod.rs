//! Drawing: pure functions from [`State`] to a frame, one file per screen, sharing the
//! title bar, status line and footer drawn here.

pub mod detail;
pub mod dialog;
pub mod discover;
pub mod help;
pub mod main;
pub mod run;
pub mod timeline;
pub mod too_small;

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::keymap;
use super::state::{Input, Screen, State, MIN_HEIGHT, MIN_WIDTH};

/// Frames of the spinner shown while background work runs.
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Draws the whole dashboard for `state`.
pub fn render(frame: &mut Frame, state: &State) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small::render(frame, area);
        return;
    }
    let title = Rect { height: 1, ..area };
    let footer = Rect {
        y: area.bottom() - 1,
        height: 1,
        ..area
    };
    let status = Rect {
        y: area.bottom() - 2,
        height: 1,
        ..area
    };
    let body = Rect {
        y: area.y + 1,
        height: area.height - 3,
        ..area
    };
    title_bar(frame, title, state);
    match state.screen {
        Screen::Main => main::render(frame, body, state),
        Screen::Detail => detail::render(frame, body, state),
        Screen::Timeline => timeline::render(frame, body, state),
        Screen::Help => help::render(frame, body, state),
        Screen::Run => run::render(frame, body, state),
        Screen::Discover => discover::render(frame, body, state),
    }
    dialog::render(frame, body, state);
    status_line(frame, status, state);
    footer_hints(frame, footer, state);
}

fn title_bar(frame: &mut Frame, area: Rect, state: &State) {
    let theme = state.settings.theme;
    let mut spans = vec![
        Span::styled(" keyward ", theme.title()),
        Span::raw(state.settings.title.clone()),
    ];
    if state.settings.read_only {
        spans.push(Span::styled("  [read-only]", theme.error()));
    }
    let screen = match state.screen {
        Screen::Main => None,
        Screen::Detail => Some("detail"),
        Screen::Timeline => Some("timeline"),
        Screen::Help if state.show_messages => Some("messages"),
        Screen::Help => Some("help"),
        Screen::Run => Some("run"),
        Screen::Discover => Some("discover"),
    };
    if let Some(s) = screen {
        spans.push(Span::styled(format!("  › {s}"), theme.label()));
    }
    let mut facts = vec![format!(
        "{}/{} shown",
        state.visible.len(),
        state.rows.len()
    )];
    let marked = state.marked_shown;
    if marked > 0 {
        facts.push(format!("{marked} marked"));
    }
    let mut narrowed = state.selection.clone();
    narrowed.include_retired = false;
    if !narrowed.is_empty() {
        facts.push(narrowed.describe());
    }
    if !state.filter.is_empty() && state.input != Input::Filter {
        facts.push(format!("/{}", state.filter));
    }
    spans.push(Span::styled(
        format!("  {}", facts.join(" · ")),
        theme.label(),
    ));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn status_line(frame: &mut Frame, area: Rect, state: &State) {
    let theme = state.settings.theme;
    let (prefix, text) = match state.input {
        Input::Filter if state.screen == Screen::Main => ("/", &state.filter),
        Input::Command if state.screen == Screen::Main => (":", &state.command),
        _ => {
            let mut spans = Vec::new();
            if state.running > 0 || state.work.busy() {
                let frame_symbol = SPINNER[state.spinner % SPINNER.len()];
                spans.push(Span::styled(format!("{frame_symbol} "), theme.key()));
            }
            // A run going on shows its count from every screen.
            if let Some(run) = state.work.run.as_ref().filter(|r| !r.finished) {
                let c = run.counts();
                let mut text = format!("{} {}/{}", run.kind.as_str(), c.total - c.left(), c.total);
                if !run.questions.is_empty() {
                    text.push_str(&format!(", {} ask you", run.questions.len()));
                }
                spans.push(Span::styled(format!("{text} (w)  "), theme.key()));
            }
            if let Some(n) = &state.notice {
                let style = if n.error { theme.error() } else { Style::new() };
                spans.push(Span::styled(n.text.clone(), style));
            }
            // Background syncs and verifies count up, so a long batch reads as progress.
            if state.running > 0 {
                let b = &state.batch;
                spans.push(Span::styled(
                    format!("  [{} {}/{}]", b.verb, b.done, b.started),
                    theme.key(),
                ));
            }
            frame.render_widget(Paragraph::new(Line::from(spans)), area);
            return;
        }
    };
    let line = Line::from(vec![
        Span::styled(prefix, theme.key()),
        Span::raw(text.clone()),
    ]);
    frame.render_widget(Paragraph::new(line), area);
    let x = area
        .x
        .saturating_add(u16::try_from(prefix.width() + text.width()).unwrap_or(u16::MAX));
    frame.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
}

/// Hints a narrow footer gives up first; after them, the rightmost go, but `? help` and
/// `q quit` always stay. Marking and the actions on marks stay longest: they are what a
/// newcomer at 80 columns needs to find.
const DROP_FIRST: [&str; 7] = ["back", "sort", "cmd", "timeline", "verify", "focus", "open"];

/// Footer hints from the key table, as many as fit.
fn footer_hints(frame: &mut Frame, area: Rect, state: &State) {
    let theme = state.settings.theme;
    let mut hints = keymap::hints(state.mode(), state.settings.read_only);
    // " k w  k w  k w": one leading space, two between hints.
    let width = |h: &[(&str, &str)]| {
        h.iter()
            .map(|(k, w)| k.width() + w.width() + 3)
            .sum::<usize>()
            .saturating_sub(1)
    };
    while width(&hints) > usize::from(area.width) {
        let victim = DROP_FIRST
            .iter()
            .find_map(|d| hints.iter().position(|(_, w)| w == d))
            .or_else(|| {
                hints
                    .iter()
                    .rposition(|(_, w)| !matches!(*w, "help" | "quit"))
            });
        match victim {
            Some(i) => {
                hints.remove(i);
            }
            None => break,
        }
    }
    let mut spans = Vec::new();
    for (i, (keys, word)) in hints.into_iter().enumerate() {
        let gap = if i == 0 { " " } else { "  " };
        spans.push(Span::styled(format!("{gap}{keys}"), theme.key()));
        spans.push(Span::styled(format!(" {word}"), theme.label()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
