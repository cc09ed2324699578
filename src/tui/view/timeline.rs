//! The expiry timeline: how many of the visible credentials fall due (expire, or reach
//! their rotation date: `Assessment::due_at`) in each week of the next 91 days, as
//! horizontal bars with their counts, so it reads without colour too.

use chrono::Duration;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::inventory::Status;
use crate::tui::state::State;

/// Width of the week label column.
const LABEL: usize = 16;

/// Draws the timeline computed on opening it.
pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let theme = state.settings.theme;
    let t = &state.timeline;
    let now = state.settings.now;
    let warn_weeks =
        usize::try_from(state.inventory.policy.warn_before_days.div_ceil(7)).unwrap_or(0);
    let max = t
        .weeks
        .iter()
        .copied()
        .chain([t.overdue])
        .max()
        .unwrap_or(0)
        .max(1);
    // Room for the label, a space, the bar, a space and the count.
    let bar_room =
        usize::from(area.width).saturating_sub(LABEL + 2 + 1 + max.to_string().len() + 1);

    let bar = |label: String, n: usize, style: Style| {
        let len = if n == 0 {
            0
        } else {
            (n * bar_room).div_ceil(max).max(1)
        };
        Line::from(vec![
            Span::styled(format!(" {label:<LABEL$} "), theme.label()),
            Span::styled("█".repeat(len), style),
            Span::raw(format!(" {n}")),
        ])
    };

    let total = state.visible.len();
    let mut lines = vec![
        Line::styled(
            format!(
                " Falling due per week, next {} days ({total} credentials shown)",
                t.weeks.len() * 7
            ),
            theme.header(),
        ),
        Line::default(),
        bar(
            "already due".to_string(),
            t.overdue,
            theme.status(Status::Overdue),
        ),
    ];
    for (week, &n) in t.weeks.iter().enumerate() {
        let start = now + Duration::days(i64::try_from(week * 7).unwrap_or(0));
        let end = start + Duration::days(6);
        let label = format!("{}–{}", start.format("%b %d"), end.format("%b %d"));
        let style = if week < warn_weeks {
            theme.status(Status::DueSoon)
        } else {
            Style::new()
        };
        lines.push(bar(label, n, style));
    }
    lines.push(Line::default());
    lines.push(Line::styled(
        format!(
            " later: {} · no date: {} · due = the earlier of expiry and rotation date",
            t.later, t.undated
        ),
        theme.label(),
    ));
    frame.render_widget(Paragraph::new(lines), area);
}
