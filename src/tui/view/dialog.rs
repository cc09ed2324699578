//! The dialogs drawn over a screen: the rotation plan, the revoke confirmation, the export
//! dialog, a run's question, the hidden secret entry and the interrupted-work banner. Each
//! is a bordered box in the middle of the body; buttons show which one has the focus with
//! brackets and reverse video, so it reads without colour.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::inventory::Inventory;
use crate::rotation::Question;
use crate::tui::actions::export::format_word;
use crate::tui::actions::{safe, Dialog, Focus, Pending};
use crate::tui::state::State;
use crate::tui::theme::Theme;

/// Draws the open dialog, if any, over `area`.
pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let Some(dialog) = &state.work.dialog else {
        return;
    };
    let theme = state.settings.theme;
    let (title, lines, scroll): (String, Vec<Line>, u16) = match dialog {
        Dialog::Planning { count } => (
            " Rotation plan ".into(),
            vec![
                Line::raw(format!(
                    "Asking the providers about {count} credential(s): key limits, keys to roll…"
                )),
                Line::raw(""),
                hint_line(theme, &[("Esc", "cancel")]),
            ],
            0,
        ),
        Dialog::Plan(d) => {
            let mut lines = Vec::new();
            let ready = d.ready();
            let blocked = d.plan.items.len() - ready;
            let mut head = format!("Rotate {ready} credential(s)");
            if blocked > 0 {
                head.push_str(&format!(", {blocked} cannot go ahead"));
            }
            lines.push(Line::styled(head, theme.header()));
            for item in &d.plan.items {
                let style = item.style.map_or("-", |s| s.as_str());
                lines.push(Line::from(vec![
                    Span::styled(format!("{} ", item.at), theme.key()),
                    Span::raw(format!("{} · {style}", item.provider)),
                    Span::styled(format!("  ({})", safe(&item.why)), theme.label()),
                ]));
                if let Some(b) = &item.blocked {
                    lines.push(Line::styled(
                        format!("   cannot go ahead: {}", safe(b)),
                        theme.error(),
                    ));
                    continue;
                }
                // The same reason the CLI's plan gives: why a provider with an API still
                // leaves this key to a person.
                if let Some(why) = &item.manual_because {
                    lines.push(Line::raw(format!("   by hand: {}", safe(why))));
                }
                let steps: Vec<&str> = item.steps.iter().map(|s| s.as_str()).collect();
                lines.push(Line::styled(
                    format!("   steps: {}", steps.join(" › ")),
                    theme.label(),
                ));
                for d in &item.deploys {
                    lines.push(Line::raw(format!("   deploys to {}", safe(d))));
                }
                for p in &item.needs_person {
                    lines.push(Line::raw(format!("   needs you: {}", safe(p))));
                }
                for w in &item.warnings {
                    lines.push(Line::styled(format!("   ⚠ {}", safe(w)), theme.error()));
                }
            }
            lines.push(Line::raw(""));
            lines.push(buttons(theme, d.focus, "Rotate"));
            (" Rotation plan ".into(), lines, d.scroll)
        }
        Dialog::Revoke(d) => {
            let mut lines = Vec::new();
            let kind = if d.emergency {
                "EMERGENCY: delete the keys now; consumers fail at once"
            } else {
                "planned: deactivate now, delete after the grace period"
            };
            lines.push(Line::from(vec![
                Span::styled("Kind: ", theme.label()),
                Span::styled(
                    kind,
                    if d.emergency {
                        theme.error()
                    } else {
                        theme.header()
                    },
                ),
                Span::styled("  (Space switches)", theme.label()),
            ]));
            for i in &d.items {
                let used = i.last_used.map_or("never seen used".to_string(), |t| {
                    format!("last used {}", t.format("%Y-%m-%d"))
                });
                lines.push(Line::from(vec![
                    Span::styled(format!("{} ", i.at), theme.key()),
                    Span::raw(format!(
                        "{} · key {} · {used}",
                        i.provider,
                        safe(i.remote_id.as_deref().unwrap_or("(none recorded)"))
                    )),
                ]));
                let by = if i.used_by.is_empty() {
                    "nobody recorded".to_string()
                } else {
                    safe(&i.used_by.join(", "))
                };
                lines.push(Line::styled(format!("   used by: {by}"), theme.label()));
            }
            if d.needs_count() {
                lines.push(Line::from(vec![
                    Span::raw(format!("Type {} to confirm: ", d.items.len())),
                    Span::styled(format!("{}_", d.typed), theme.key()),
                ]));
            }
            lines.push(Line::raw(""));
            lines.push(buttons(theme, d.focus, "Revoke"));
            (" Revoke ".into(), lines, 0)
        }
        Dialog::Export(d) => {
            let what = match &d.client {
                Some(c) => format!("{} credential(s) of {c}", d.refs.len()),
                None => format!("{} credential(s)", d.refs.len()),
            };
            let formats: Vec<Span> = crate::tui::actions::export::FORMATS
                .iter()
                .flat_map(|f| {
                    let n = format_word(*f);
                    let span = if *f == d.format {
                        Span::styled(format!("[{n}]"), theme.cursor())
                    } else {
                        Span::raw(format!(" {n} "))
                    };
                    [span, Span::raw(" ")]
                })
                .collect();
            let mut format_line = vec![Span::styled("Format: ", theme.label())];
            format_line.extend(formats);
            (
                " Export the access report ".into(),
                vec![
                    Line::raw(format!(
                        "The client access report of {what}; never a secret."
                    )),
                    Line::from(format_line),
                    Line::from(vec![
                        Span::styled("File:   ", theme.label()),
                        Span::styled(format!("{}_", safe(&d.path)), theme.key()),
                    ]),
                    Line::styled(
                        "A relative path is taken from the directory keyward was started in.",
                        theme.label(),
                    ),
                    Line::raw(""),
                    hint_line(
                        theme,
                        &[("Enter", "write"), ("Tab", "format"), ("Esc", "cancel")],
                    ),
                ],
                0,
            )
        }
        Dialog::Question(p) => question(theme, &state.inventory, p),
        Dialog::Secret(entry) => {
            let (at, instructions) = match &entry.pending {
                Pending::Secret {
                    at, instructions, ..
                } => (at.to_string(), safe(instructions)),
                other => (other.at().to_string(), String::new()),
            };
            let typed = entry.typed.chars().count();
            (
                format!(" New secret for {at} "),
                vec![
                    Line::raw(format!("{instructions}.")),
                    Line::raw("Type or paste the new secret. It is never shown."),
                    Line::from(vec![
                        Span::styled("Secret: ", theme.label()),
                        Span::styled(
                            if typed == 0 {
                                "(nothing typed yet)".to_string()
                            } else {
                                "(typed, hidden)".to_string()
                            },
                            theme.key(),
                        ),
                    ]),
                    Line::raw(""),
                    hint_line(theme, &[("Enter", "use it"), ("Esc", "later")]),
                ],
                0,
            )
        }
        Dialog::Banner(b) => {
            let mut lines = vec![Line::styled(
                "Work was interrupted (a crash, a kill, or a step waiting for you):",
                theme.header(),
            )];
            for (i, item) in b.interrupted.iter().enumerate() {
                let mut line = Line::from(vec![
                    Span::raw(if i == b.cursor { "› " } else { "  " }),
                    Span::styled(format!("{} ", item.at), theme.key()),
                    Span::raw(safe(&item.summary)),
                ]);
                if i == b.cursor {
                    line = line.patch_style(theme.cursor());
                }
                lines.push(line);
            }
            if b.interrupted.is_empty() {
                lines.push(Line::styled("  nothing interrupted", theme.label()));
            }
            if !b.deletable.is_empty() {
                let names: Vec<String> = b.deletable.iter().map(ToString::to_string).collect();
                lines.push(Line::raw(format!(
                    "Old keys past their grace period: {}",
                    names.join(", ")
                )));
            }
            lines.push(Line::raw(""));
            let mut hints = vec![];
            if !b.interrupted.is_empty() {
                hints.extend([("r", "resume"), ("b", "roll back")]);
            }
            if !b.deletable.is_empty() {
                hints.push(("d", "delete old keys"));
            }
            hints.push(("Esc", "later (:resume)"));
            lines.push(hint_line(theme, &hints));
            (" Interrupted work ".into(), lines, 0)
        }
    };
    draw_box(frame, area, &title, lines, scroll);
}

fn question(theme: Theme, inv: &Inventory, p: &Pending) -> (String, Vec<Line<'static>>, u16) {
    let (at, q) = match p {
        Pending::Confirm { at, question, .. } => (at, question),
        Pending::Secret { at, .. } => {
            return (
                format!(" {at} "),
                vec![Line::raw("A secret is asked for.")],
                0,
            )
        }
    };
    let mut lines = Vec::new();
    let mut hints = vec![("y", "yes, done"), ("n", "not now"), ("Esc", "later")];
    match q {
        Question::DeployedByHand {
            used_by,
            instructions,
        } => {
            lines.push(Line::styled(
                "Deploy by hand: put the new secret where it is used",
                theme.header(),
            ));
            if used_by.is_empty() {
                lines.push(Line::raw("  (no consumer recorded in `used_by`)"));
            }
            for u in used_by {
                lines.push(Line::raw(format!("  • {}", safe(u))));
            }
            if let Some(i) = instructions {
                lines.push(Line::raw(format!("How: {}", safe(i))));
            }
            lines.push(Line::styled(
                "Y copies the new secret to your clipboard (OSC 52) without showing it.",
                theme.label(),
            ));
            lines.push(Line::raw("Are the consumers updated?"));
            hints.insert(0, ("Y", "copy secret"));
        }
        other => lines.push(Line::raw(safe(&other.text()))),
    }
    let name = inv
        .credential(at)
        .map(|c| c.name.clone())
        .filter(|n| !n.is_empty())
        .map(|n| format!(" ({})", safe(&n)))
        .unwrap_or_default();
    lines.push(Line::raw(""));
    lines.push(hint_line(theme, &hints));
    (format!(" {at}{name} "), lines, 0)
}

/// `[ Cancel ]   Rotate ` with the focused one in brackets and reversed.
fn buttons(theme: Theme, focus: Focus, action: &str) -> Line<'static> {
    let button = |label: &str, on: bool| {
        if on {
            Span::styled(format!("[ {label} ]"), theme.cursor())
        } else {
            Span::raw(format!("  {label}  "))
        }
    };
    Line::from(vec![
        button("Cancel", focus == Focus::Cancel),
        Span::raw("   "),
        button(action, focus == Focus::Confirm),
        Span::styled("   Tab moves, Enter presses", theme.label()),
    ])
}

fn hint_line(theme: Theme, hints: &[(&str, &str)]) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, (k, w)) in hints.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(k.to_string(), theme.key()));
        spans.push(Span::styled(format!(" {w}"), theme.label()));
    }
    Line::from(spans)
}

/// A bordered box centred in `area`, as tall as its lines (wrapped) need, at most `area`.
/// The last line (every dialog ends with its keys or buttons) stays on screen however long
/// the rest is: the rest scrolls above it, with the border saying there is more.
fn draw_box(frame: &mut Frame, area: Rect, title: &str, mut lines: Vec<Line>, scroll: u16) {
    let width = area.width.saturating_sub(4).clamp(20, 96).min(area.width);
    let inner_width = usize::from(width.saturating_sub(2)).max(1);
    let rows = |l: &Line| l.width().max(1).div_ceil(inner_width);
    let footer = lines.pop();
    let footer_rows = footer.as_ref().map_or(0, rows);
    let body_rows: usize = lines.iter().map(rows).sum();
    let height = u16::try_from(body_rows + footer_rows + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let footer_height = u16::try_from(footer_rows)
        .unwrap_or(u16::MAX)
        .min(height.saturating_sub(2));
    let body_height = height.saturating_sub(2 + footer_height);
    let max_scroll = u16::try_from(body_rows)
        .unwrap_or(u16::MAX)
        .saturating_sub(body_height);
    let scroll = scroll.min(max_scroll);
    let mut block = Block::default()
        .borders(Borders::ALL)
        .title(title.to_string());
    if max_scroll > 0 {
        let more = match (scroll > 0, scroll < max_scroll) {
            (true, true) => " ↑↓ more ",
            (false, _) => " ↓ more ",
            (true, false) => " ↑ more ",
        };
        block = block.title_bottom(Line::from(more).right_aligned());
    }
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    let body = Rect {
        height: body_height,
        ..inner
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        body,
    );
    if let Some(footer) = footer {
        let at = Rect {
            y: inner.y + body_height,
            height: footer_height,
            ..inner
        };
        frame.render_widget(Paragraph::new(footer).wrap(Wrap { trim: false }), at);
    }
}
