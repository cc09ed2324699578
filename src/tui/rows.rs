//! The table's rows, computed once per credential (and again only when that credential
//! changes): display strings, the assessment, sort keys and the lowercase text the filter
//! searches. Drawing a page then costs only the visible rows.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use unicode_width::UnicodeWidthStr;

use crate::inventory::status::assess;
use crate::inventory::{Assessment, Client, Credential, CredentialRef, Policy, ProviderKind};
use crate::providers::Verification;

/// A table column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// The client's id.
    Client,
    /// The integration's id.
    Integration,
    /// The provider.
    Provider,
    /// The first scope and how many more.
    Scopes,
    /// When it falls due (the earlier of expiry and the rotation date), by calendar day.
    Due,
    /// The first reason for its status.
    Why,
    /// When it was last used, relative to now.
    LastUsed,
    /// When it was last rotated.
    LastRotated,
    /// The status word.
    Status,
}

impl Column {
    /// Every column, in display order.
    pub const ALL: [Column; 9] = [
        Column::Client,
        Column::Integration,
        Column::Provider,
        Column::Scopes,
        Column::Due,
        Column::LastUsed,
        Column::LastRotated,
        Column::Status,
        Column::Why,
    ];

    /// Columns from most to least important: narrow terminals drop from the end.
    pub const BY_PRIORITY: [Column; 9] = [
        Column::Status,
        Column::Client,
        Column::Integration,
        Column::Due,
        Column::Why,
        Column::LastUsed,
        Column::Provider,
        Column::LastRotated,
        Column::Scopes,
    ];

    /// The header text.
    pub fn title(self) -> &'static str {
        match self {
            Column::Client => "CLIENT",
            Column::Integration => "INTEGRATION",
            Column::Provider => "PROVIDER",
            Column::Scopes => "SCOPES",
            Column::Due => "DUE",
            Column::Why => "WHY",
            Column::LastUsed => "USED",
            Column::LastRotated => "ROTATED",
            Column::Status => "STATUS",
        }
    }

    /// The name `:sort` takes.
    pub fn name(self) -> &'static str {
        match self {
            Column::Client => "client",
            Column::Integration => "integration",
            Column::Provider => "provider",
            Column::Scopes => "scopes",
            Column::Due => "due",
            Column::Why => "why",
            Column::LastUsed => "used",
            Column::LastRotated => "rotated",
            Column::Status => "status",
        }
    }

    /// The column `:sort NAME` means; accepts a few obvious synonyms.
    pub fn parse(name: &str) -> Option<Column> {
        let name = name.to_ascii_lowercase();
        Column::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .or(match name.as_str() {
                "name" | "id" => Some(Column::Integration),
                "last-used" | "lastused" => Some(Column::LastUsed),
                "last-rotated" | "lastrotated" => Some(Column::LastRotated),
                "expires" | "expiry" | "expiring" => Some(Column::Due),
                "reason" => Some(Column::Why),
                _ => None,
            })
    }

    /// The narrowest the column gets before it is dropped instead.
    fn min_width(self) -> usize {
        match self {
            Column::Client => 6,
            Column::Integration => 8,
            Column::Provider => 7,
            Column::Scopes => 8,
            Column::Due => 14,
            Column::Why => 12,
            Column::LastUsed => 8,
            Column::LastRotated => 10,
            Column::Status => 10,
        }
    }

    /// The widest the column grows, whatever its content.
    fn max_width(self) -> usize {
        match self {
            Column::Client => 18,
            Column::Integration => 24,
            Column::Provider => 10,
            Column::Scopes => 24,
            Column::Due => 23,
            Column::Why => 40,
            Column::LastUsed => 9,
            Column::LastRotated => 10,
            Column::Status => 10,
        }
    }
}

/// One credential's precomputed table row.
#[derive(Debug, Clone)]
pub struct RowData {
    /// Its address.
    pub at: CredentialRef,
    /// Position of its client in `Inventory::clients`.
    pub client_index: usize,
    /// Position of the credential in that client's `integrations`.
    pub credential_index: usize,
    /// The integration's display name.
    pub name: String,
    /// The provider.
    pub provider: ProviderKind,
    /// First scope and how many more.
    pub scopes: String,
    /// Due date and how far, by calendar day, or `-`.
    pub due: String,
    /// The first reason, or empty.
    pub why: String,
    /// Last use relative to now, or `never`.
    pub last_used: String,
    /// Last rotation date, or `never`.
    pub last_rotated: String,
    /// The judgement at the dashboard's `now`.
    pub assessment: Assessment,
    /// Sort key of the last-used column.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Sort key of the last-rotated column.
    pub last_rotated_at: Option<DateTime<Utc>>,
    /// Lowercase client, name, provider and scopes, as the filter searches them.
    pub haystack: String,
    /// The last `verify` answer this session; never saved.
    pub verification: Option<Verification>,
    /// Moved out of the active table (`keyward archive`): never shown.
    pub archived: bool,
}

impl RowData {
    /// Builds the row for `credential` of `client` at `now`.
    pub fn build(
        (client_index, credential_index): (usize, usize),
        client: &Client,
        credential: &Credential,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Self {
        let assessment = assess(credential, policy, now);
        let scopes = match credential.scopes.as_slice() {
            [] => "-".to_string(),
            [one] => one.clone(),
            [first, rest @ ..] => format!("{first} +{}", rest.len()),
        };
        let due = match assessment.due_at {
            Some(at) => format!("{} {}", at.format("%Y-%m-%d"), calendar_days(at, now)),
            None => "-".to_string(),
        };
        let why = assessment
            .reasons
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        let last_used = credential
            .last_used_at
            .map_or_else(|| "never".to_string(), |at| relative(at, now));
        let last_rotated = credential.last_rotated_at.map_or_else(
            || "never".to_string(),
            |at| at.format("%Y-%m-%d").to_string(),
        );
        let haystack = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            client.id,
            client.name,
            credential.id,
            credential.name,
            credential.provider,
            credential.scopes.join("\n")
        )
        .to_lowercase();
        RowData {
            at: CredentialRef {
                client: client.id.clone(),
                integration: credential.id.clone(),
            },
            client_index,
            credential_index,
            name: credential.name.clone(),
            provider: credential.provider,
            scopes,
            due,
            why,
            last_used,
            last_rotated,
            assessment,
            last_used_at: credential.last_used_at,
            last_rotated_at: credential.last_rotated_at,
            haystack,
            verification: None,
            archived: credential.archived,
        }
    }

    /// The cell text of `column`.
    pub fn text(&self, column: Column) -> &str {
        match column {
            Column::Client => &self.at.client,
            Column::Integration => &self.at.integration,
            Column::Provider => self.provider.as_str(),
            Column::Scopes => &self.scopes,
            Column::Due => &self.due,
            Column::Why => &self.why,
            Column::LastUsed => &self.last_used,
            Column::LastRotated => &self.last_rotated,
            Column::Status => crate::tui::theme::status_label(self.assessment.status),
        }
    }

    /// Whether every one of `terms` (lowercase) occurs in the searched text.
    pub fn matches(&self, terms: &[&str]) -> bool {
        terms.iter().all(|term| self.haystack.contains(term))
    }
}

/// `today`, `tomorrow`, `in 3 days`, `yesterday`, `5 days ago`: calendar days (UTC) from
/// `now` to `at`, as a person counts them: due at 01:00 tomorrow is "tomorrow" even when
/// fewer than 24 hours remain.
pub fn calendar_days(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    match (at.date_naive() - now.date_naive()).num_days() {
        0 => "today".to_string(),
        1 => "tomorrow".to_string(),
        -1 => "yesterday".to_string(),
        n if n > 1 => format!("in {n} days"),
        n => format!("{} days ago", -n),
    }
}

/// `just now`, `5m ago`, `3h ago`, `12d ago`, `4mo ago`, `2y ago`; a time after `now`
/// (a clock ahead of ours) reads `just now`.
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let span = now - at;
    let minutes = span.num_minutes();
    let days = span.num_days();
    if minutes < 1 {
        "just now".to_string()
    } else if minutes < 60 {
        format!("{minutes}m ago")
    } else if span.num_hours() < 24 {
        format!("{}h ago", span.num_hours())
    } else if days < 60 {
        format!("{days}d ago")
    } else if days < 730 {
        format!("{}mo ago", days / 30)
    } else {
        format!("{}y ago", days / 365)
    }
}

/// Orders `a` before `b` by `column`, the order that puts what needs attention first:
/// soonest expiry (no expiry last), longest unused (never used first), longest unrotated.
/// Ties fall back to status, then address, so the order is total and stable.
pub fn compare(a: &RowData, b: &RowData, column: Column) -> Ordering {
    let primary = match column {
        Column::Client => a.at.client.cmp(&b.at.client),
        Column::Integration => a.at.integration.cmp(&b.at.integration),
        Column::Provider => a.provider.as_str().cmp(b.provider.as_str()),
        Column::Scopes => a.scopes.cmp(&b.scopes),
        Column::Due => none_last(a.assessment.due_at, b.assessment.due_at),
        Column::Why => a.why.cmp(&b.why),
        Column::LastUsed => a.last_used_at.cmp(&b.last_used_at),
        Column::LastRotated => a.last_rotated_at.cmp(&b.last_rotated_at),
        Column::Status => a
            .assessment
            .status
            .cmp(&b.assessment.status)
            .then_with(|| none_last(a.assessment.due_at, b.assessment.due_at)),
    };
    primary
        .then_with(|| a.assessment.status.cmp(&b.assessment.status))
        .then_with(|| a.at.cmp(&b.at))
}

fn none_last<T: Ord>(a: Option<T>, b: Option<T>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The widest content of each column over `rows`, capped at the column's maximum: the
/// widths the table would like, computed once when rows are built.
pub fn natural_widths(rows: &[RowData]) -> [usize; Column::ALL.len()] {
    let mut widths = Column::ALL.map(|c| c.title().width().max(c.min_width()));
    for row in rows {
        for (i, column) in Column::ALL.into_iter().enumerate() {
            let w = row.text(column).width();
            if w > widths[i] {
                widths[i] = w.min(column.max_width());
            }
        }
    }
    widths
}

/// Which columns fit in `width` (after the mark column) and how wide each is, in display
/// order. The three that identify a row (status, client, integration) come first, shrunk
/// towards their minimum if they must; the others follow by priority at their natural
/// width until the next one no longer fits: a column is dropped whole rather than cut.
pub fn fit_columns(width: usize, natural: &[usize; Column::ALL.len()]) -> Vec<(Column, usize)> {
    const GAP: usize = 1;
    let (essential, optional) = Column::BY_PRIORITY.split_at(3);
    let natural_of = |c: Column| natural[index_of(c)].clamp(c.min_width(), c.max_width());
    let mut widths: Vec<(Column, usize)> = Vec::new();
    let mut used = 0;
    for &column in essential {
        let gap = if widths.is_empty() { 0 } else { GAP };
        if used + gap + column.min_width() > width {
            break;
        }
        used += gap + column.min_width();
        widths.push((column, column.min_width()));
    }
    for (column, w) in &mut widths {
        let grow = (natural_of(*column) - *w).min(width - used);
        *w += grow;
        used += grow;
    }
    if widths.len() == essential.len() {
        // WHY is prose: it keeps room for its narrowest self while the other columns are
        // placed, then takes what is left, ending in `…` rather than vanishing. DUE comes
        // before that room: on a narrow terminal the date matters more than the words.
        // Room for "rotation overdue by 30 days" or "not used for 143 days", nearly whole.
        const WHY_ROOM: usize = 22;
        let why_room = GAP + WHY_ROOM;
        for &column in optional.iter().filter(|c| **c != Column::Why) {
            let reserve = if column == Column::Due { 0 } else { why_room };
            if used + GAP + natural_of(column) + reserve > width {
                break;
            }
            used += GAP + natural_of(column);
            widths.push((column, natural_of(column)));
        }
        let room = width.saturating_sub(used + GAP);
        if room >= Column::Why.min_width() {
            widths.push((Column::Why, room.min(natural_of(Column::Why))));
        }
    }
    widths.sort_by_key(|(c, _)| index_of(*c));
    widths
}

fn index_of(column: Column) -> usize {
    Column::ALL.iter().position(|&c| c == column).unwrap_or(0)
}

/// `text` cut to `width` display columns, ending in `…` when cut, padded with spaces.
pub fn fit(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(width + 2);
    if text.width() <= width {
        out.push_str(text);
        out.extend(std::iter::repeat_n(' ', width - text.width()));
        return out;
    }
    let mut used = 0;
    for ch in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(ch);
        used += w;
    }
    if width > 0 {
        out.push('…');
        used += 1;
    }
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(used)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_with_an_ellipsis_and_pads() {
        assert_eq!(fit("abc", 5), "abc  ");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("日本語", 4), "日… ");
        assert_eq!(fit("abc", 0), "");
    }

    #[test]
    fn narrow_terminals_drop_low_priority_columns_whole() {
        let natural = Column::ALL.map(|c| c.max_width());
        let cols = fit_columns(78, &natural);
        let names: Vec<Column> = cols.iter().map(|(c, _)| *c).collect();
        assert!(names.contains(&Column::Status));
        assert!(names.contains(&Column::Due));
        assert!(!names.contains(&Column::Scopes));
        let total: usize = cols.iter().map(|(_, w)| w).sum::<usize>() + cols.len() - 1;
        assert!(total <= 78);
        assert!(fit_columns(5, &natural).is_empty());
        let wide = fit_columns(200, &natural);
        assert_eq!(wide.len(), Column::ALL.len());
        let essentials = fit_columns(30, &natural);
        let names: Vec<Column> = essentials.iter().map(|(c, _)| *c).collect();
        assert_eq!(names, [Column::Client, Column::Integration, Column::Status]);
    }

    #[test]
    fn due_dates_count_calendar_days() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T22:00:00Z")
            .unwrap()
            .to_utc();
        let at = |h: i64| calendar_days(now + chrono::Duration::hours(h), now);
        assert_eq!(at(1), "today");
        // Three hours away, but after midnight: tomorrow.
        assert_eq!(at(3), "tomorrow");
        assert_eq!(at(24 * 3), "in 3 days");
        assert_eq!(at(-23), "yesterday");
        assert_eq!(at(-24 * 5), "5 days ago");
    }

    #[test]
    fn relative_times_read_naturally() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z")
            .unwrap()
            .to_utc();
        let ago = |d: chrono::Duration| relative(now - d, now);
        assert_eq!(ago(chrono::Duration::seconds(5)), "just now");
        assert_eq!(ago(chrono::Duration::minutes(5)), "5m ago");
        assert_eq!(ago(chrono::Duration::hours(3)), "3h ago");
        assert_eq!(ago(chrono::Duration::days(12)), "12d ago");
        assert_eq!(ago(chrono::Duration::days(143)), "4mo ago");
        assert_eq!(ago(chrono::Duration::days(800)), "2y ago");
        assert_eq!(relative(now + chrono::Duration::days(1), now), "just now");
    }
}
