//! The credential table: status counts, column headers and the visible page of rows.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::inventory::Status;
use crate::tui::rows::{fit, fit_columns};
use crate::tui::state::{status_index, State};
use crate::tui::theme::status_label;

/// Width of the mark column (`*` and a space).
const MARK_WIDTH: usize = 2;

/// Draws the counts line, the header and the rows on screen in `area`.
pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let theme = state.settings.theme;
    if area.height < 3 {
        return;
    }
    let counts = Rect { height: 1, ..area };
    let header = Rect {
        y: area.y + 1,
        height: 1,
        ..area
    };
    let body = Rect {
        y: area.y + 2,
        height: area.height - 2,
        ..area
    };

    let mut spans = vec![Span::raw(" ")];
    for status in Status::ALL {
        let n = state.counts[status_index(status)];
        // Rare states take room only when they occur: 80 columns fit the usual six.
        if n == 0 && matches!(status, Status::Interrupted | Status::Revoked) {
            continue;
        }
        let (symbol, word) = status_label(status)
            .split_once(' ')
            .unwrap_or(("", status.as_str()));
        let style = if n == 0 {
            theme.label()
        } else {
            theme.status(status)
        };
        spans.push(Span::styled(format!("{symbol} {n} {word}"), style));
        spans.push(Span::raw("  "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), counts);

    let columns = fit_columns(
        usize::from(area.width).saturating_sub(MARK_WIDTH),
        &state.natural_widths,
    );
    let mut head = vec![Span::raw(" ".repeat(MARK_WIDTH))];
    for (i, (column, width)) in columns.iter().enumerate() {
        if i > 0 {
            head.push(Span::raw(" "));
        }
        let mut title = column.title().to_string();
        if *column == state.sort.column {
            title.push(if state.sort.reversed { '↓' } else { '↑' });
        }
        // Underline the words only, not the padding after them.
        let cell = fit(&title, *width);
        let words = cell.trim_end();
        head.push(Span::styled(words.to_string(), theme.header()));
        head.push(Span::raw(" ".repeat(cell.len() - words.len())));
    }
    frame.render_widget(Paragraph::new(Line::from(head)), header);

    if state.visible.is_empty() {
        let text = if state.rows.is_empty() {
            "The inventory holds no credentials yet."
        } else {
            "No credential matches the filters (Esc clears them)."
        };
        frame.render_widget(Paragraph::new(Line::styled(text, theme.label())), body);
        return;
    }

    // Only the rows on screen are formatted: the cost of a frame does not grow with the
    // inventory.
    let page = usize::from(body.height);
    let offset = effective_offset(state.offset, state.cursor, page, state.visible.len());
    let lines: Vec<Line> = state.visible[offset..]
        .iter()
        .take(page)
        .enumerate()
        .map(|(i, &row)| {
            let data = &state.rows[row];
            let mut style = theme.status(data.assessment.status);
            let marked = state.marked[row];
            if marked {
                style = style.patch(theme.marked());
            }
            // The mark, then the last run's outcome for the row until the next run.
            let outcome = state.work.mark(row).map_or(' ', |m| m.symbol());
            let mut spans = vec![Span::raw(format!(
                "{}{outcome}",
                if marked { '*' } else { ' ' }
            ))];
            for (j, (column, width)) in columns.iter().enumerate() {
                if j > 0 {
                    spans.push(Span::raw(" "));
                }
                spans.push(Span::raw(fit(data.text(*column), *width)));
            }
            let mut line = Line::from(spans).style(style);
            if offset + i == state.cursor {
                line = line.patch_style(theme.cursor());
            }
            line
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), body);
}

/// The first row to draw so the cursor is on screen, whatever size the terminal became
/// since `update` last scrolled.
fn effective_offset(offset: usize, cursor: usize, page: usize, len: usize) -> usize {
    let page = page.max(1);
    let mut o = offset.min(cursor);
    if cursor >= o + page {
        o = cursor + 1 - page;
    }
    o.min(len.saturating_sub(page))
}
