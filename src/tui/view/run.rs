//! The run panel: for one credential a wizard (each step with its state and duration), for
//! many a progress panel (a gauge of done, failed and left, a row per credential with its
//! step and elapsed time, rate-limit waits shown as waits). The questions waiting for the
//! person and, once over, the summary stay readable here.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::tui::actions::run::{short_duration, RowState, RunPanel, RunRow, StepState};
use crate::tui::actions::safe;
use crate::tui::rows::fit;
use crate::tui::state::State;
use crate::tui::theme::Theme;

/// Frames of the spinner.
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Draws the run panel in `area`.
pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let Some(run) = &state.work.run else {
        return;
    };
    let theme = state.settings.theme;
    let spin = if run.finished {
        " "
    } else {
        SPINNER[state.spinner % SPINNER.len()]
    };
    let mut lines = vec![header(theme, run, spin, area.width)];
    if run.is_wizard() {
        wizard(&mut lines, theme, run);
    } else {
        bulk(&mut lines, theme, run, usize::from(area.width), area.height);
    }
    if !run.questions.is_empty() && state.work.dialog.is_none() {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!(
                " {} question(s) wait for you (Enter answers the first):",
                run.questions.len()
            ),
            theme.header(),
        ));
        for q in &run.questions {
            lines.push(Line::raw(format!("  {}", q.at())));
        }
    }
    if run.finished {
        lines.push(Line::raw(""));
        let style = if run.counts().failed > 0 {
            theme.error()
        } else {
            theme.header()
        };
        lines.push(Line::styled(format!(" {}", run.summary_line()), style));
        let stuck = run
            .rows
            .iter()
            .any(|r| matches!(r.state, RowState::Failed(_) | RowState::Waiting(_)));
        if stuck {
            lines.push(Line::styled(
                " On a failed or waiting row: r resumes (retries), b rolls back; Esc leaves it journaled.",
                theme.label(),
            ));
        }
    }
    frame.render_widget(Paragraph::new(lines), area);
}

fn header(theme: Theme, run: &RunPanel, spin: &str, width: u16) -> Line<'static> {
    let c = run.counts();
    let settled = c.total - c.left();
    let title = format!(" {spin} {} {settled}/{}  ", run.kind.as_str(), c.total);
    let facts = format!(" done {}  failed {}  left {}", c.done, c.failed, c.left());
    let room = usize::from(width)
        .saturating_sub(title.chars().count() + facts.chars().count() + 2)
        .min(40);
    let filled = (settled * room).checked_div(c.total).unwrap_or(room);
    let mut spans = vec![
        Span::styled(title, theme.title()),
        Span::styled("█".repeat(filled), theme.key()),
        Span::styled("░".repeat(room - filled), theme.label()),
        Span::raw(facts),
    ];
    if run.cancelled && !run.finished {
        spans.push(Span::styled("  cancelling", theme.error()));
    }
    Line::from(spans)
}

fn wizard(lines: &mut Vec<Line<'static>>, theme: Theme, run: &RunPanel) {
    let Some(row) = run.rows.first() else { return };
    lines.push(Line::from(vec![
        Span::styled(format!(" {}", row.at), theme.key()),
        Span::styled(format!("  {}", state_words(row)), state_style(theme, row)),
    ]));
    lines.push(Line::raw(""));
    for s in &row.steps {
        let (symbol, style) = match s.state {
            StepState::Pending => ("·", theme.label()),
            StepState::Running => ("›", theme.header()),
            StepState::Done => ("✓", ratatui::style::Style::new()),
            StepState::Failed => ("✗", theme.error()),
        };
        let took = match (s.state, s.took, s.started) {
            (_, Some(d), _) => short_duration(d),
            (StepState::Running, None, Some(t)) => short_duration(run.clock - t),
            _ => String::new(),
        };
        lines.push(Line::styled(
            format!(
                "   {symbol} {:<11}{:<9}{took}",
                s.phase.as_str(),
                s.state.as_str()
            ),
            style,
        ));
    }
    for w in &row.warnings {
        lines.push(Line::styled(format!("   ⚠ {}", safe(w)), theme.error()));
    }
    if let Some(text) = outcome_text(row) {
        lines.push(Line::raw(""));
        lines.push(Line::styled(format!(" {text}"), state_style(theme, row)));
    }
}

fn bulk(lines: &mut Vec<Line<'static>>, theme: Theme, run: &RunPanel, width: usize, height: u16) {
    // Rows that fit below the header, leaving room for questions and the summary.
    let reserved = 4 + run.questions.len().min(4);
    let page = usize::from(height).saturating_sub(1 + reserved).max(3);
    let offset = run.cursor.saturating_sub(page.saturating_sub(1));
    let name_width = run
        .rows
        .iter()
        .map(|r| r.at.to_string().chars().count())
        .max()
        .unwrap_or(10)
        .min(32);
    for (i, row) in run.rows.iter().enumerate().skip(offset).take(page) {
        let elapsed = row
            .elapsed(run.clock)
            .map(short_duration)
            .unwrap_or_default();
        let step = row
            .current()
            .map(|s| s.phase.as_str())
            .unwrap_or("")
            .to_string();
        let text = format!(
            " {} {:<8} {:>6}  {}",
            fit(&row.at.to_string(), name_width),
            step,
            elapsed,
            state_words(row)
        );
        let mut line = Line::styled(fit(&text, width), state_style(theme, row));
        if i == run.cursor {
            line = line.patch_style(theme.cursor());
        }
        lines.push(line);
    }
    if let Some(row) = run.rows.get(run.cursor) {
        if let Some(text) = outcome_text(row).filter(|_| row.settled()) {
            lines.push(Line::styled(
                format!(" {}: {text}", row.at),
                state_style(theme, row),
            ));
        }
    }
}

fn state_words(row: &RunRow) -> String {
    match &row.state {
        RowState::Queued => "queued".into(),
        RowState::Running => "running".into(),
        RowState::Retrying { attempt, .. } => format!("waiting: rate limit (attempt {attempt})"),
        RowState::Propagating {
            waited_secs,
            window_secs,
        } => format!("waiting: new key propagating ({waited_secs}s of up to {window_secs}s)"),
        RowState::Done(_) => "done".into(),
        RowState::Failed(_) => "FAILED".into(),
        RowState::Waiting(_) => "waits for you".into(),
        RowState::NotStarted => "not started (cancelled)".into(),
    }
}

fn outcome_text(row: &RunRow) -> Option<String> {
    match &row.state {
        RowState::Done(m) => Some(format!("done: {}", safe(m))),
        RowState::Failed(m) => Some(format!("failed: {}", safe(m))),
        RowState::Waiting(m) => Some(format!("waiting for {}", safe(m))),
        RowState::Retrying { reason, .. } => Some(format!("waiting to retry: {}", safe(reason))),
        _ => None,
    }
}

fn state_style(theme: Theme, row: &RunRow) -> ratatui::style::Style {
    match row.state {
        RowState::Failed(_) | RowState::NotStarted => theme.error(),
        RowState::Waiting(_) | RowState::Retrying { .. } | RowState::Propagating { .. } => {
            theme.status(crate::inventory::Status::DueSoon)
        }
        RowState::Done(_) => theme.status(crate::inventory::Status::Ok),
        _ => ratatui::style::Style::new(),
    }
}
