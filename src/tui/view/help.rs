//! The `?` help, generated from the key table and the command list, so it cannot drift
//! from what the keys do. Read-only mode leaves out what it refuses.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::tui::keymap::{self, Mode, COMMANDS};
use crate::tui::state::State;

/// Draws the help in `area`, scrolled by `state.help_scroll`.
pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let lines = if state.show_messages {
        messages(state, area.width)
    } else {
        lines(state)
    };
    let max_scroll = lines.len().saturating_sub(usize::from(area.height));
    let scroll = usize::from(state.help_scroll).min(max_scroll);
    frame.render_widget(
        Paragraph::new(lines).scroll((u16::try_from(scroll).unwrap_or(u16::MAX), 0)),
        area,
    );
}

/// The message history, newest first, each message whole: wrapped at `width`, errors in the
/// error style. The texts were made terminal-safe where they were written.
fn messages(state: &State, width: u16) -> Vec<Line<'static>> {
    let theme = state.settings.theme;
    let width = usize::from(width.max(20)) - 3;
    let mut out = vec![Line::styled(
        " Messages, newest first (Esc goes back)",
        theme.header(),
    )];
    if state.messages.is_empty() {
        out.push(Line::raw(" No messages yet."));
    }
    for n in state.messages.iter().rev() {
        let style = if n.error {
            theme.error()
        } else {
            ratatui::style::Style::new()
        };
        let chars: Vec<char> = n.text.chars().collect();
        for (i, part) in chars.chunks(width).enumerate() {
            let lead = if i == 0 { " • " } else { "   " };
            out.push(Line::from(vec![
                Span::raw(lead),
                Span::styled(part.iter().collect::<String>(), style),
            ]));
        }
    }
    out
}

/// Where a group of bindings applies, in words.
fn where_words(modes: &[Mode]) -> String {
    if modes.len() == Mode::ALL.len() {
        return "Anywhere, even while typing".to_string();
    }
    if modes.len() == Mode::ALL.iter().filter(|m| !m.is_text()).count()
        && modes.iter().all(|m| !m.is_text())
    {
        return "Any screen".to_string();
    }
    let names: Vec<&str> = modes.iter().map(|m| m.title()).collect();
    names.join(" · ")
}

fn lines(state: &State) -> Vec<Line<'static>> {
    let theme = state.settings.theme;
    let read_only = state.settings.read_only;
    let mut out = Vec::new();
    if read_only {
        out.push(Line::styled(
            " Read-only: keys that would change the inventory are off.",
            theme.error(),
        ));
    }
    let mut group: Option<&[Mode]> = None;
    for b in keymap::BINDINGS
        .iter()
        .filter(|b| !(read_only && b.changes))
    {
        if group != Some(b.modes) {
            group = Some(b.modes);
            out.push(Line::styled(
                format!(" {}", where_words(b.modes)),
                theme.header(),
            ));
            if b.modes.iter().all(|m| m.is_text()) && b.modes.len() == 2 {
                out.push(Line::from(vec![
                    Span::styled(format!("   {:<11}", "letters"), theme.key()),
                    Span::raw("are text here, never commands"),
                ]));
            }
        }
        out.push(Line::from(vec![
            Span::styled(format!("   {:<11}", b.label), theme.key()),
            Span::raw(b.help),
        ]));
    }
    out.push(Line::styled(" Commands (after :)", theme.header()));
    for c in COMMANDS.iter().filter(|c| !(read_only && c.changes)) {
        out.push(Line::from(vec![
            Span::styled(format!("   {:<21}", c.usage), theme.key()),
            Span::raw(c.help),
        ]));
    }
    out.push(Line::styled(" Notes", theme.header()));
    for note in [
        "Y copies with OSC 52, which works over SSH. Inside tmux, enable",
        "`set -g set-clipboard on` (or `allow-passthrough on`); the copy then",
        "also sits in a tmux paste buffer until you overwrite it.",
        "NO_COLOR=1 turns colours off; statuses stay readable as words.",
    ] {
        out.push(Line::from(format!("   {note}")));
    }
    out
}
