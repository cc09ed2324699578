//! One credential in full: status and reasons, every field, the secret (masked unless
//! revealed), deploy sink, consumers, risks and history.

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::providers::Verification;
use crate::tui::rows::relative;
use crate::tui::state::State;
use crate::tui::theme::{status_label, Theme};

/// Width of the label column.
const LABEL: usize = 13;

/// Draws the detail of `state.detail.row` in `area`.
pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let lines = lines(state);
    let max_scroll = lines.len().saturating_sub(usize::from(area.height));
    let scroll = usize::from(state.detail.scroll).min(max_scroll);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((u16::try_from(scroll).unwrap_or(u16::MAX), 0)),
        area,
    );
}

fn field<'a>(theme: Theme, label: &str, value: impl Into<String>) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!(" {label:<LABEL$}"), theme.label()),
        Span::raw(value.into()),
    ])
}

fn section<'a>(theme: Theme, title: &str) -> Line<'a> {
    Line::from(Span::styled(format!(" {title}"), theme.header()))
}

/// `3d ago`, `in 7d`, `in 5h`.
fn when(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if at <= now {
        return relative(at, now);
    }
    let span = at - now;
    if span.num_days() >= 1 {
        format!("in {}d", span.num_days())
    } else {
        format!("in {}h", span.num_hours())
    }
}

fn date(at: Option<DateTime<Utc>>, now: DateTime<Utc>, none: &str) -> String {
    match at {
        Some(at) => format!("{} ({})", at.format("%Y-%m-%d %H:%M UTC"), when(at, now)),
        None => none.to_string(),
    }
}

fn lines(state: &State) -> Vec<Line<'static>> {
    let theme = state.settings.theme;
    let now = state.settings.now;
    let row_index = state.detail.row;
    let (Some(row), Some(cred)) = (state.rows.get(row_index), state.credential(row_index)) else {
        return vec![Line::from(
            " This credential is no longer in the inventory.",
        )];
    };
    let a = &row.assessment;
    let mut out = Vec::new();

    let mut heading = vec![Span::styled(format!(" {}", row.at), theme.title())];
    if !cred.name.is_empty() {
        heading.push(Span::raw(format!("  {}", cred.name)));
    }
    out.push(Line::from(heading));
    out.push(Line::from(vec![
        Span::styled(format!(" {:<LABEL$}", "Status"), theme.label()),
        Span::styled(status_label(a.status), theme.status(a.status)),
    ]));
    for reason in &a.reasons {
        out.push(Line::from(vec![
            Span::raw(format!(" {:<LABEL$}", "")),
            Span::styled(format!("- {reason}"), theme.status(a.status)),
        ]));
    }
    if cred.rotation.is_some() {
        out.push(field(
            theme,
            "Rotation",
            "interrupted: resume it or roll it back before anything else",
        ));
    }
    out.push(Line::default());

    out.push(field(theme, "Provider", cred.provider.as_str()));
    out.push(field(
        theme,
        "Connection",
        cred.connection.clone().unwrap_or_else(|| "-".into()),
    ));
    out.push(field(
        theme,
        "Remote id",
        cred.remote_id.clone().unwrap_or_else(|| "-".into()),
    ));
    out.push(field(
        theme,
        "Owner",
        cred.owner.clone().unwrap_or_else(|| "-".into()),
    ));
    let scopes = if cred.scopes.is_empty() {
        "-".to_string()
    } else {
        cred.scopes.join(", ")
    };
    out.push(field(theme, "Scopes", scopes));
    for (k, v) in &cred.params {
        out.push(field(theme, "Param", format!("{k} = {v}")));
    }
    out.push(field(
        theme,
        "Created",
        date(cred.created_at, now, "unknown"),
    ));
    out.push(field(
        theme,
        "Expires",
        date(cred.expires_at, now, "no expiry"),
    ));
    out.push(field(
        theme,
        "Last used",
        date(cred.last_used_at, now, "never (or not reported)"),
    ));
    out.push(field(
        theme,
        "Last rotated",
        date(cred.last_rotated_at, now, "never"),
    ));
    out.push(field(theme, "Next due", date(a.due_at, now, "-")));
    let p = cred.effective_policy(&state.inventory.policy);
    out.push(field(
        theme,
        "Policy",
        format!(
            "rotate every {}d · warn {}d before · stale after {}d unused",
            p.rotate_every_days, p.warn_before_days, p.stale_after_days
        ),
    ));
    if let Some(remote) = &cred.remote {
        let word = remote.state.as_str();
        out.push(field(
            theme,
            "At provider",
            format!(
                "{word} (checked {})",
                remote.checked_at.format("%Y-%m-%d %H:%M UTC")
            ),
        ));
    }
    if let Some(v) = &row.verification {
        let text = match v {
            Verification::Valid => "valid".to_string(),
            Verification::Invalid { reason }
            | Verification::CouldNotCheck { reason }
            | Verification::CannotCheck { reason } => format!("{}: {reason}", v.label()),
        };
        out.push(field(theme, "Verified", format!("{text} (this session)")));
    }

    let mut secret = vec![Span::styled(
        format!(" {:<LABEL$}", "Secret"),
        theme.label(),
    )];
    match &cred.secret {
        None => secret.push(Span::raw("none stored")),
        Some(s) if state.detail.reveal => {
            secret.push(Span::styled(
                s.expose_secret().to_string(),
                theme.revealed(),
            ));
            secret.push(Span::styled("  (x hides)", theme.label()));
        }
        Some(s) => {
            secret.push(Span::raw(s.hint()));
            secret.push(Span::styled("  (x reveals, Y copies)", theme.label()));
        }
    }
    out.push(Line::from(secret));
    let deploy = crate::text::terminal_safe(&cred.deploy.describe()).into_owned();
    out.push(field(theme, "Deploy", deploy));
    if let Some(check) = &cred.deploy_check {
        let check = crate::text::terminal_safe(&check.describe()).into_owned();
        out.push(field(theme, "Check", check));
    }
    if let Some(notes) = &cred.notes {
        out.push(field(theme, "Notes", notes.clone()));
    }

    out.push(Line::default());
    out.push(section(theme, "Used by"));
    if cred.used_by.is_empty() {
        out.push(Line::styled("   nothing recorded", theme.label()));
    }
    for consumer in &cred.used_by {
        out.push(Line::from(format!("   - {consumer}")));
    }
    out.push(section(theme, "Risks"));
    if cred.risks.is_empty() {
        out.push(Line::styled("   none flagged", theme.label()));
    }
    for risk in &cred.risks {
        out.push(Line::from(format!("   - {risk}")));
    }
    out.push(section(theme, "History"));
    if cred.history.is_empty() {
        out.push(Line::styled("   nothing recorded", theme.label()));
    }
    for h in &cred.history {
        let mut spans = vec![
            Span::styled(format!("   {} ", h.at.format("%Y-%m-%d")), theme.label()),
            Span::raw(h.event.as_str()),
        ];
        if !h.detail.is_empty() {
            spans.push(Span::raw(format!(": {}", h.detail)));
        }
        out.push(Line::from(spans));
    }
    out
}
