//! Plain-text tables for the terminal and pipes: padded columns, no colour, so output reads
//! the same over SSH, in logs and in `grep`.

use chrono::{DateTime, Utc};

use crate::text::terminal_safe;

/// Renders `header` and `rows` as left-aligned columns separated by two spaces. Every cell
/// is made [`terminal_safe`]: cells hold ids, names and providers' words, and a newline or
/// an escape sequence in one must not print a fake row or drive the terminal.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|cell| terminal_safe(cell).into_owned())
                .collect()
        })
        .collect();
    let rows = &rows;
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// A date as `2026-12-01`, or `-`.
pub fn date(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "-".into())
}

/// A date with the days to it: `2026-12-01 (in 5d)`, `2026-11-01 (25d ago)`.
pub fn date_with_days(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match t {
        None => "-".into(),
        Some(t) => format!("{} ({})", date(Some(t)), relative(t, now)),
    }
}

/// `in 5d`, `25d ago`, `today`.
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let days = (t - now).num_days();
    match days {
        0 => "today".into(),
        d if d > 0 => format!("in {d}d"),
        d => format!("{}d ago", -d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_padded_to_the_widest_cell() {
        let t = render(&["A", "BB"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "A    BB\nxxx  y\n");
    }

    #[test]
    fn a_newline_or_escape_in_a_cell_cannot_print_a_fake_row() {
        let t = render(
            &["A", "B"],
            &[vec!["x\nfake  row".into(), "\x1b[2J".into()]],
        );
        assert_eq!(t, "A             B\nx\\nfake  row  \\x1b[2J\n");
        assert_eq!(t.lines().count(), 2);
    }
}
