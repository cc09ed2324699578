//! The `:discover` view: every key the connections see at their providers, one row each,
//! the untracked ones first and marked `! untracked` (a word and a symbol, so it reads
//! without colour), with their owner, dates and the client their connection suggests.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::inventory::Status;
use crate::ops::discover::Tracking;
use crate::text::terminal_safe;
use crate::tui::rows::fit;
use crate::tui::state::State;

/// The columns: heading and width.
const COLUMNS: [(&str, usize); 7] = [
    ("TRACKED", 12),
    ("PROVIDER", 10),
    ("ID", 22),
    ("OWNER", 22),
    ("CREATED", 10),
    ("LAST USED", 10),
    ("CLIENT?", 12),
];

/// Draws the view in `area`.
pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let theme = state.settings.theme;
    let v = &state.discover;
    let mut lines = Vec::new();
    if v.asking {
        lines.push(Line::from(Span::styled(
            " asking the providers for every key they hold…",
            theme.label(),
        )));
        frame.render_widget(Paragraph::new(lines), area);
        return;
    }
    lines.push(Line::from(vec![
        Span::raw(format!(
            " {} key(s) found, {} untracked",
            v.rows.len(),
            v.untracked()
        )),
        Span::styled("   Space mark · a adopt · Esc back", theme.label()),
    ]));
    for note in &v.notes {
        lines.push(Line::from(Span::styled(
            format!(" {}", terminal_safe(note)),
            theme.error(),
        )));
    }
    let head: String = COLUMNS
        .iter()
        .map(|(h, w)| fit(h, *w))
        .collect::<Vec<_>>()
        .join(" ");
    lines.push(Line::from(Span::styled(
        format!("   {head}"),
        theme.header(),
    )));
    let room = usize::from(area.height).saturating_sub(lines.len());
    let first = v.cursor.saturating_sub(room.saturating_sub(1));
    let day = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(|| "-".to_string(), |t| t.format("%Y-%m-%d").to_string())
    };
    for (i, s) in v.rows.iter().enumerate().skip(first).take(room) {
        let k = &s.found.key;
        let tracked = match s.tracking {
            Tracking::Untracked => "! untracked",
            Tracking::Tracked => "✓ tracked",
        };
        let cells = [
            tracked.to_string(),
            s.provider.as_str().to_string(),
            k.remote_id.clone(),
            s.found.owner.clone().unwrap_or_else(|| "-".into()),
            day(k.created_at),
            k.last_used_at
                .map_or_else(|| "never".into(), |t| day(Some(t))),
            s.suggested_clients
                .first()
                .cloned()
                .unwrap_or_else(|| "-".into()),
        ];
        let text: String = cells
            .iter()
            .zip(COLUMNS)
            .map(|(c, (_, w))| fit(&terminal_safe(c), w))
            .collect::<Vec<_>>()
            .join(" ");
        let mark = if v.marked.contains(&i) { "*" } else { " " };
        let style = if i == v.cursor {
            theme.cursor()
        } else if s.tracking == Tracking::Untracked {
            theme.status(Status::DueSoon)
        } else {
            Style::default()
        };
        lines.push(Line::from(vec![
            Span::styled(format!(" {mark}"), theme.marked()),
            Span::styled(format!(" {text}"), style),
        ]));
    }
    if v.rows.is_empty() {
        lines.push(Line::from(Span::styled(
            " no key found: nothing untracked",
            theme.label(),
        )));
    }
    frame.render_widget(Paragraph::new(lines), area);
}
