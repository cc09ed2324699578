//! What a terminal below the minimum size shows instead of the dashboard.

use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::tui::state::{MIN_HEIGHT, MIN_WIDTH};

/// Draws the size message; never panics, however small `area` is.
pub fn render(frame: &mut Frame, area: Rect) {
    let lines = vec![
        Line::from(format!(
            "Terminal too small: {}x{}",
            area.width, area.height
        )),
        Line::from(format!("keyward needs {MIN_WIDTH}x{MIN_HEIGHT}.")),
        Line::from("Enlarge it, or press q to quit."),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}
