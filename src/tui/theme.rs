//! Colours and text attributes: the 16 ANSI colours plus modifiers only, so a terminal's own
//! palette (and a 16-colour terminal over SSH) decides the actual shades; with `NO_COLOR`
//! every style falls back to modifiers (bold, dim, reversed) and the status words.

use ratatui::style::{Color, Modifier, Style};

use crate::inventory::Status;

/// Whether colour is used at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// False under `NO_COLOR`: only modifiers are emitted.
    pub color: bool,
}

/// True when the `NO_COLOR` convention asks for no colour: the variable is present and not
/// empty (<https://no-color.org>).
pub fn no_color_requested() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

impl Theme {
    /// Colour unless `NO_COLOR` is set.
    pub fn from_env() -> Self {
        Theme {
            color: !no_color_requested(),
        }
    }

    fn fg(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    /// A table row or detail line for a credential in `status`.
    pub fn status(self, status: Status) -> Style {
        match status {
            Status::Expired => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Status::Overdue => self.fg(Color::Red),
            Status::Interrupted => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Status::DueSoon => self.fg(Color::Yellow),
            Status::Stale => Style::new().add_modifier(Modifier::DIM),
            Status::Unknown => self.fg(Color::Magenta),
            Status::Ok => self.fg(Color::Green),
            Status::Revoked => Style::new().add_modifier(Modifier::DIM | Modifier::CROSSED_OUT),
        }
    }

    /// The row under the cursor: reversed, which reads in any palette.
    pub fn cursor(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// Column headers and section titles.
    pub fn header(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    /// The title bar.
    pub fn title(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// Field labels and secondary text.
    pub fn label(self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    /// Keys in hints and help.
    pub fn key(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// Errors in the status line.
    pub fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// A revealed secret: hard to miss, so it is not left on screen by accident.
    pub fn revealed(self) -> Style {
        self.fg(Color::Yellow)
            .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    /// Marked rows.
    pub fn marked(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
}

/// A status with a symbol, readable without colour: `✗ expired`, `✓ ok`.
pub fn status_label(status: Status) -> &'static str {
    match status {
        Status::Expired => "✗ expired",
        Status::Overdue => "! overdue",
        Status::Interrupted => "‼ interrupted",
        Status::DueSoon => "~ due-soon",
        Status::Stale => "z stale",
        Status::Unknown => "? unknown",
        Status::Ok => "✓ ok",
        Status::Revoked => "- revoked",
    }
}
