//! The client access report: for each client, what credentials exist, from which provider,
//! with which scopes, who answers for them and who uses them, their dates, status and
//! rotation history, as Markdown for people, CSV for spreadsheets, or JSON.
//!
//! Built only from [`Row`] and a credential's history and remote state: no part of it
//! holds a `Secret`, so a report cannot show a secret, not even its last characters.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::export::Row;
use crate::inventory::{Credential, CredentialRef, HistoryEvent, Inventory, RemoteStatus, Status};
use crate::text::{json_safe, terminal_safe};

/// The formats a report is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// A heading, summary and table per client, for people.
    #[default]
    #[value(alias = "md")]
    Markdown,
    /// One row per credential, with a header row.
    Csv,
    /// The whole report as one JSON object.
    Json,
}

/// The whole report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// The moment statuses were judged at.
    pub generated_at: DateTime<Utc>,
    /// Who prepared it (`user@host`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prepared_by: Option<String>,
    /// The earliest date something must happen, over every credential in the report.
    pub next_due_at: Option<DateTime<Utc>>,
    /// Counts over every client in the report.
    pub summary: Summary,
    /// Per provider, over every client in the report: keys tracked, found by discovery,
    /// taken into custody.
    pub coverage: Vec<Coverage>,
    /// One section per client, in file order.
    pub clients: Vec<ClientReport>,
}

/// One client's section.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClientReport {
    /// The client's id.
    pub id: String,
    /// The client's display name (may be empty).
    pub name: String,
    /// Counts over this client's credentials.
    pub summary: Summary,
    /// Per provider, over this client's credentials.
    pub coverage: Vec<Coverage>,
    /// The earliest date something must happen for this client, and for which credential.
    pub next_due: Option<NextDue>,
    /// Its credentials, in file order.
    pub credentials: Vec<CredentialReport>,
}

/// The next date something must happen, and where.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NextDue {
    /// When.
    pub at: DateTime<Utc>,
    /// Which credential (`CLIENT/INTEGRATION`).
    pub credential: String,
}

/// One credential as the report shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CredentialReport {
    /// The summary every export shares: no field of it can hold a secret.
    #[serde(flatten)]
    pub row: Row,
    /// What the provider last said about the key, if it was asked.
    pub at_provider: Option<RemoteStatus>,
    /// How many rotations the history records.
    pub rotations: usize,
    /// How many revocations the history records.
    pub revocations: usize,
    /// The latest revocation.
    pub last_revoked_at: Option<DateTime<Utc>>,
}

/// Counts that say at a glance what needs doing.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Credentials in all.
    pub credentials: usize,
    /// Past their expiry date.
    pub expired: usize,
    /// Overdue for rotation, or expiring or due within the warning window.
    pub need_rotation: usize,
    /// Unused for longer than the policy allows, or gone at the provider.
    pub stale: usize,
    /// Revoked: out of service, kept for the record.
    pub revoked: usize,
}

/// How complete the inventory is at one provider: the keys it tracks, how many of them
/// `keyward discover` found there (made outside keyward, then adopted), and how many of
/// those were rotated since, so that only keyward holds their secret.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Coverage {
    /// The provider.
    pub provider: String,
    /// Credentials of this provider in the report.
    pub tracked: usize,
    /// Of those, keys found at the provider by discovery and adopted.
    pub discovered: usize,
    /// Of the discovered ones, those taken into custody: rotated after their adoption.
    pub in_custody: usize,
}

impl Coverage {
    /// The counts over `credentials`, one entry per provider, in provider order.
    pub fn of<'a>(credentials: impl IntoIterator<Item = &'a Credential>) -> Vec<Coverage> {
        let mut by: std::collections::BTreeMap<&'static str, Coverage> = Default::default();
        for c in credentials {
            let name = c.provider.as_str();
            let entry = by.entry(name).or_insert_with(|| Coverage {
                provider: name.to_string(),
                tracked: 0,
                discovered: 0,
                in_custody: 0,
            });
            entry.tracked += 1;
            let adopted = c
                .history
                .iter()
                .position(|h| h.event == HistoryEvent::Adopted);
            if let Some(i) = adopted {
                entry.discovered += 1;
                if c.history[i..]
                    .iter()
                    .any(|h| h.event == HistoryEvent::Rotated)
                {
                    entry.in_custody += 1;
                }
            }
        }
        by.into_values().collect()
    }

    /// `aws-iam 3 tracked, 1 found by discovery, 1 taken into custody; sendgrid 1 tracked`.
    pub fn describe(list: &[Coverage]) -> String {
        list.iter()
            .map(|c| {
                let mut s = format!("{} {} tracked", c.provider, c.tracked);
                if c.discovered > 0 {
                    s.push_str(&format!(
                        ", {} found by discovery, {} taken into custody",
                        c.discovered, c.in_custody
                    ));
                }
                s
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl Summary {
    fn count(&mut self, status: Status) {
        self.credentials += 1;
        match status {
            Status::Expired => self.expired += 1,
            Status::Overdue | Status::Interrupted | Status::DueSoon => self.need_rotation += 1,
            Status::Stale => self.stale += 1,
            Status::Revoked => self.revoked += 1,
            Status::Unknown | Status::Ok => {}
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} credential{}, {} expired, {} need{} rotation, {} stale",
            self.credentials,
            if self.credentials == 1 { "" } else { "s" },
            self.expired,
            self.need_rotation,
            if self.need_rotation == 1 { "s" } else { "" },
            self.stale
        )?;
        if self.revoked > 0 {
            write!(f, ", {} revoked", self.revoked)?;
        }
        Ok(())
    }
}

impl CredentialReport {
    /// The report line for one credential at `now`.
    pub fn new(
        at: &CredentialRef,
        cred: &Credential,
        inv: &Inventory,
        now: DateTime<Utc>,
    ) -> CredentialReport {
        let revoked = || cred.history.iter().filter(|h| h.event.is_revocation());
        CredentialReport {
            row: Row::new(at, cred, inv, now),
            at_provider: cred.remote.as_ref().map(|r| r.state),
            rotations: cred
                .history
                .iter()
                .filter(|h| h.event == HistoryEvent::Rotated)
                .count(),
            revocations: revoked().count(),
            last_revoked_at: revoked().map(|h| h.at).max(),
        }
    }
}

/// The report on `inv` at `now`: every client, or only `client`. Archived credentials are
/// left out (they grant no access any more).
pub fn build(inv: &Inventory, now: DateTime<Utc>, client: Option<&str>) -> Report {
    build_where(
        inv,
        now,
        &|at, _| client.is_none_or(|id| at.client == id),
        false,
    )
}

/// The report on the credentials `picked`, at `now`; clients with none of them are left out.
pub fn build_selected(inv: &Inventory, now: DateTime<Utc>, picked: &[CredentialRef]) -> Report {
    build_where(inv, now, &|at, _| picked.contains(at), true)
}

fn build_where(
    inv: &Inventory,
    now: DateTime<Utc>,
    include: &dyn Fn(&CredentialRef, &Credential) -> bool,
    drop_empty_clients: bool,
) -> Report {
    let mut summary = Summary::default();
    let mut next_due_at: Option<DateTime<Utc>> = None;
    let mut covered: Vec<&Credential> = Vec::new();
    let clients = inv
        .clients
        .iter()
        .filter_map(|c| {
            let mut own = Summary::default();
            let mut own_credentials: Vec<&Credential> = Vec::new();
            let mut next_due: Option<NextDue> = None;
            let credentials: Vec<CredentialReport> = c
                .integrations
                .iter()
                .filter_map(|cred| {
                    let at = CredentialRef {
                        client: c.id.clone(),
                        integration: cred.id.clone(),
                    };
                    if !include(&at, cred) || cred.archived {
                        return None;
                    }
                    let line = CredentialReport::new(&at, cred, inv, now);
                    own_credentials.push(cred);
                    own.count(line.row.status);
                    summary.count(line.row.status);
                    if let Some(due) = line.row.due_at {
                        if next_due.as_ref().is_none_or(|n| due < n.at) {
                            next_due = Some(NextDue {
                                at: due,
                                credential: at.to_string(),
                            });
                        }
                    }
                    Some(line)
                })
                .collect();
            let shown = credentials.len();
            if let Some(n) = &next_due {
                next_due_at = Some(next_due_at.map_or(n.at, |d| d.min(n.at)));
            }
            let keep = if drop_empty_clients {
                shown > 0
            } else {
                include_client(include, &c.id)
            };
            covered.extend(&own_credentials);
            keep.then(|| ClientReport {
                id: c.id.clone(),
                name: c.name.clone(),
                summary: own,
                coverage: Coverage::of(own_credentials),
                next_due,
                credentials,
            })
        })
        .collect();
    Report {
        generated_at: now,
        prepared_by: None,
        next_due_at,
        summary,
        coverage: Coverage::of(covered),
        clients,
    }
}

/// Whether a client belongs in a report filtered by `include` even with none of its
/// credentials shown: asked with a probe address of that client.
fn include_client(include: &dyn Fn(&CredentialRef, &Credential) -> bool, client: &str) -> bool {
    let probe = CredentialRef {
        client: client.to_string(),
        integration: String::new(),
    };
    include(
        &probe,
        &Credential::new("", crate::inventory::ProviderKind::Manual),
    )
}

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
#[error("cannot render the report: {0}")]
pub struct RenderError(String);

/// The report in `format`.
pub fn render(report: &Report, format: Format) -> Result<String, RenderError> {
    match format {
        Format::Markdown => Ok(markdown(report)),
        Format::Csv => csv(report),
        Format::Json => json(report),
    }
}

fn day(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "-".into())
}

/// Rotations, revocations and work in progress, in a few words.
fn history_words(c: &CredentialReport) -> String {
    let mut parts = Vec::new();
    if c.rotations > 0 {
        parts.push(format!("rotated {}×", c.rotations));
    }
    if c.revocations > 0 {
        parts.push(format!(
            "revoked {}× (last {})",
            c.revocations,
            day(c.last_revoked_at)
        ));
    }
    if c.at_provider == Some(RemoteStatus::Revoked) {
        parts.push("revoked at the provider".into());
    }
    if c.row.rotation_in_flight {
        parts.push("rotation in progress".into());
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

/// A Markdown table cell that renders as the text it holds: one line, control characters
/// shown escaped, HTML and the Markdown punctuation of links, images, emphasis and tables
/// escaped, so a name cannot break the table, add a link or an image, or load anything;
/// `scheme://`, `www.` and `a@b` are broken up so renderers do not autolink them. (Code
/// spans stay: their content is shown literally.)
fn cell(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let safe = terminal_safe(&one_line);
    let mut out = String::with_capacity(safe.len());
    let mut chars = safe.chars();
    while let Some(c) = chars.next() {
        let rest = chars.as_str();
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '*' | '_' | '[' | ']' | '(' | ')' | '!' | '#' | '|' | '~' | '@' | '{' | '}'
            | '$' => {
                out.push('\\');
                out.push(c);
            }
            ':' if rest.starts_with('/') => out.push_str("\\:"),
            '.' if out.to_ascii_lowercase().ends_with("www") => out.push_str("\\."),
            c => out.push(c),
        }
    }
    if out.is_empty() {
        "-".into()
    } else {
        out
    }
}

/// A CSV cell a spreadsheet shows as text: control characters escaped, and a cell that a
/// spreadsheet would run as a formula (starting `=`, `+`, `-`, `@`, tab or CR) prefixed
/// with `'`, as OWASP recommends against CSV injection.
fn csv_cell(text: &str) -> String {
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let safe = terminal_safe(text);
    if formula {
        format!("'{safe}")
    } else {
        safe.into_owned()
    }
}

fn list_cell(items: &[String]) -> String {
    cell(&items.join(", "))
}

/// The report as Markdown: an overall summary, then a heading, a summary and a table for
/// each client.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    out.push_str("# Credential access report\n\n");
    out.push_str(&format!(
        "As of {}: {}. Secret values are never included in this report.\n",
        report.generated_at.format("%Y-%m-%d %H:%M UTC"),
        report.summary
    ));
    if let Some(by) = &report.prepared_by {
        out.push_str(&format!("\nPrepared by {}.\n", cell(by)));
    }
    if report.clients.is_empty() {
        out.push_str("\nNo clients.\n");
    }
    for client in &report.clients {
        let title = if client.name.is_empty() {
            cell(&client.id)
        } else {
            format!("{} ({})", cell(&client.name), cell(&client.id))
        };
        out.push_str(&format!("\n## {title}\n\n{}.\n", client.summary));
        if !client.coverage.is_empty() {
            out.push_str(&format!(
                "Keys by provider: {}.\n",
                cell(&Coverage::describe(&client.coverage))
            ));
        }
        if let Some(n) = &client.next_due {
            out.push_str(&format!(
                "Next due: {} ({}).\n",
                n.at.format("%Y-%m-%d"),
                cell(&n.credential)
            ));
        }
        if client.credentials.is_empty() {
            continue;
        }
        out.push_str(
            "\n| Credential | Provider | Scopes | Owner | Used by | Created | Expires | Last used | Last rotated | Due | Status | History |\n",
        );
        out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for c in &client.credentials {
            let r = &c.row;
            let name = if r.name.is_empty() {
                cell(&r.integration)
            } else {
                format!("{} ({})", cell(&r.name), cell(&r.integration))
            };
            let mut status = format!("**{}**", r.status);
            if !r.reasons.is_empty() {
                status.push_str(": ");
                status.push_str(&cell(&r.reasons.join("; ")));
            }
            let cells = [
                name,
                cell(&r.provider),
                list_cell(&r.scopes),
                cell(r.owner.as_deref().unwrap_or_default()),
                list_cell(&r.used_by),
                day(r.created_at),
                day(r.expires_at),
                day(r.last_used_at),
                day(r.last_rotated_at),
                day(r.due_at),
                status,
                history_words(c),
            ];
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
    }
    out
}

/// The columns of the CSV report, in order.
pub const CSV_COLUMNS: [&str; 22] = [
    "client",
    "client_name",
    "integration",
    "name",
    "provider",
    "status",
    "reasons",
    "scopes",
    "owner",
    "used_by",
    "remote_id",
    "created_at",
    "expires_at",
    "last_used_at",
    "last_rotated_at",
    "due_at",
    "at_provider",
    "rotations",
    "revocations",
    "last_revoked_at",
    "rotation_in_progress",
    "secret_stored",
];

/// The report as CSV: a header row, then one row per credential. Lists are `; ` separated,
/// dates `YYYY-MM-DD`, empty cells mean not recorded.
pub fn csv(report: &Report) -> Result<String, RenderError> {
    let fail = |e: ::csv::Error| RenderError(e.to_string());
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_COLUMNS).map_err(fail)?;
    let date = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    for client in &report.clients {
        for c in &client.credentials {
            let r = &c.row;
            let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
            let cells = [
                r.client.clone(),
                client.name.clone(),
                r.integration.clone(),
                r.name.clone(),
                r.provider.clone(),
                r.status.to_string(),
                r.reasons.join("; "),
                r.scopes.join("; "),
                r.owner.clone().unwrap_or_default(),
                r.used_by.join("; "),
                r.remote_id.clone().unwrap_or_default(),
                date(r.created_at),
                date(r.expires_at),
                date(r.last_used_at),
                date(r.last_rotated_at),
                date(r.due_at),
                c.at_provider
                    .map(RemoteStatus::as_str)
                    .unwrap_or_default()
                    .into(),
                c.rotations.to_string(),
                c.revocations.to_string(),
                date(c.last_revoked_at),
                yes_no(r.rotation_in_flight),
                yes_no(r.has_secret),
            ];
            w.write_record(cells.iter().map(|c| csv_cell(c)))
                .map_err(fail)?;
        }
    }
    let bytes = w
        .into_inner()
        .map_err(|e| RenderError(e.error().to_string()))?;
    String::from_utf8(bytes).map_err(|e| RenderError(e.to_string()))
}

/// The schema name and version the JSON report carries as `"schema"` (on stdout and in an
/// exported file alike), so a reader of a file kept for months knows which shape it holds.
/// `keyward --json`'s schema list names it from here.
pub const JSON_SCHEMA: &str = "keyward.report/1";

/// The report with its schema first, as [`json`] prints it.
#[derive(Serialize)]
struct Tagged<'a> {
    schema: &'static str,
    #[serde(flatten)]
    report: &'a Report,
}

/// The report as pretty-printed JSON with its [`JSON_SCHEMA`], ending in a newline.
pub fn json(report: &Report) -> Result<String, RenderError> {
    let tagged = Tagged {
        schema: JSON_SCHEMA,
        report,
    };
    serde_json::to_string_pretty(&tagged)
        .map(|s| json_safe(s) + "\n")
        .map_err(|e| RenderError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{HistoryEntry, ProviderKind, RemoteState};
    use crate::secret::{Secret, MASK};
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
    }

    #[test]
    fn coverage_counts_custody_only_for_a_rotation_after_the_adoption() {
        let entry = |event| HistoryEntry {
            at: now(),
            event,
            detail: String::new(),
        };
        let mut rotated_before = Credential::new("a", ProviderKind::AwsIam);
        rotated_before.history = vec![entry(HistoryEvent::Rotated), entry(HistoryEvent::Adopted)];
        let mut custody = Credential::new("b", ProviderKind::AwsIam);
        custody.history = vec![entry(HistoryEvent::Adopted), entry(HistoryEvent::Rotated)];
        let plain = Credential::new("c", ProviderKind::AwsIam);
        let mail = Credential::new("d", ProviderKind::Sendgrid);
        let c = Coverage::of([&rotated_before, &custody, &plain, &mail]);
        assert_eq!(
            c,
            vec![
                Coverage {
                    provider: "aws-iam".into(),
                    tracked: 3,
                    discovered: 2,
                    in_custody: 1
                },
                Coverage {
                    provider: "sendgrid".into(),
                    tracked: 1,
                    discovered: 0,
                    in_custody: 0
                },
            ]
        );
        assert_eq!(
            Coverage::describe(&c),
            "aws-iam 3 tracked, 2 found by discovery, 1 taken into custody; sendgrid 1 tracked"
        );
    }

    fn inventory() -> Inventory {
        let mut inv = Inventory::new(vec![]);
        let mut a = Credential::new("crm", ProviderKind::Manual);
        a.name = "CRM | sync".into();
        a.secret = Some(Secret::new("sk-live-abcdefghijklmnopWXYZ"));
        a.created_at = Some(now() - chrono::Duration::days(100));
        a.last_used_at = Some(now() - chrono::Duration::days(1));
        for (days, event) in [
            (80, HistoryEvent::Rotated),
            (40, HistoryEvent::Rotated),
            (10, HistoryEvent::Revoked),
        ] {
            a.history.push(HistoryEntry {
                at: now() - chrono::Duration::days(days),
                event,
                detail: String::new(),
            });
        }
        a.remote = Some(RemoteState {
            state: RemoteStatus::Revoked,
            checked_at: now(),
        });
        inv.insert("acme", a);
        let mut b = Credential::new("mail", ProviderKind::Sendgrid);
        b.expires_at = Some(now() - chrono::Duration::days(2));
        inv.insert("acme", b);
        inv.insert("beta", Credential::new("bot", ProviderKind::Manual));
        inv
    }

    #[test]
    fn summaries_count_per_client_and_overall() {
        let r = build(&inventory(), now(), None);
        assert_eq!(r.clients.len(), 2);
        assert_eq!(
            r.clients[0].summary,
            Summary {
                credentials: 2,
                expired: 1,
                // acme/crm is revoked: out of service, so not due for rotation any more.
                need_rotation: 0,
                stale: 0,
                revoked: 1,
            }
        );
        assert_eq!(
            r.summary.to_string(),
            "3 credentials, 1 expired, 0 need rotation, 0 stale, 1 revoked"
        );
        let crm = &r.clients[0].credentials[0];
        assert_eq!((crm.rotations, crm.revocations), (2, 1));
        assert_eq!(
            crm.last_revoked_at,
            Some(now() - chrono::Duration::days(10))
        );
        assert_eq!(
            history_words(crm),
            "rotated 2×, revoked 1× (last 2026-11-16), revoked at the provider"
        );
        let only = build(&inventory(), now(), Some("beta"));
        assert_eq!(only.clients.len(), 1);
        assert_eq!(only.summary.credentials, 1);
    }

    #[test]
    fn no_format_shows_the_secret_or_its_hint() {
        let r = build(&inventory(), now(), None);
        for format in [Format::Markdown, Format::Csv, Format::Json] {
            let text = render(&r, format).unwrap();
            assert!(!text.contains("sk-live"), "{format:?}: {text}");
            assert!(!text.contains("WXYZ"), "{format:?}: {text}");
            assert!(!text.contains(MASK), "{format:?}: {text}");
        }
    }

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        let text = markdown(&build(&inventory(), now(), None));
        assert!(text.contains("| CRM \\| sync (crm) |"), "{text}");
        assert_eq!(cell("a\nb <i>"), "a b &lt;i&gt;");
        assert_eq!(cell(""), "-");
    }

    #[test]
    fn markdown_report_renders_links_images_and_escapes_as_text() {
        assert_eq!(
            cell("![x](https://evil.example/p.png) [click](javascript:alert(1))"),
            "\\!\\[x\\]\\(https\\://evil.example/p.png\\) \\[click\\]\\(javascript:alert\\(1\\)\\)"
        );
        assert_eq!(cell("see www.evil.example"), "see www\\.evil.example");
        assert_eq!(cell("a@b.example"), "a\\@b.example");
        assert_eq!(
            cell("<img src=x onerror=alert(1)>"),
            "&lt;img src=x onerror=alert\\(1\\)&gt;"
        );
        assert_eq!(cell("ACME\x1b]0;pwned\x07"), "ACME\\\\x1b\\]0;pwned\\\\x07");
    }

    #[test]
    fn csv_report_formula_cells_are_prefixed_with_a_quote() {
        for formula in [
            "=cmd|' /C calc'!A0",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
        ] {
            assert!(csv_cell(formula).starts_with('\''), "{formula:?}");
        }
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(csv_cell("\t=1"), "'\\t=1");
        assert_eq!(csv_cell("acme"), "acme");
        assert_eq!(csv_cell("n8n\x1b[2J"), "n8n\\x1b[2J");
    }
}
