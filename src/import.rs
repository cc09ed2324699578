//! Importing credentials from the spreadsheets and files agencies already keep: CSV with a
//! header row, or YAML shaped like the inventory's `connections:` and `clients:`. An import
//! is planned first (what would be added or changed) and applied only when asked.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::inventory::validate::check_id;
use crate::inventory::{
    Client, Connection, Credential, CredentialRef, HistoryEntry, Inventory, ProviderKind,
};
use crate::secret::Secret;

/// What is wrong with an import file, and where.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {location}{message}")]
pub struct ImportError {
    /// The file name (or `stdin`).
    pub source_name: String,
    /// `line N: ` or empty.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

/// The formats an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated, with a header row.
    Csv,
    /// The inventory's own `clients:` / `connections:` shape.
    Yaml,
}

/// One credential read from an import, with the client it belongs to.
#[derive(Debug, Clone)]
pub struct Record {
    /// Where it goes.
    pub at: CredentialRef,
    /// The client's display name, if the import gives one.
    pub client_name: Option<String>,
    /// The credential; fields left empty in the import leave existing values alone.
    pub credential: Credential,
}

/// The parsed import.
#[derive(Debug, Default)]
pub struct Batch {
    /// Connections to add or replace.
    pub connections: Vec<Connection>,
    /// Credentials to add or update.
    pub records: Vec<Record>,
}

/// What an import would do to one credential or connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new credential.
    Add(String),
    /// An existing one; the names of the fields that differ (values never shown).
    Update(String, Vec<&'static str>),
    /// Nothing differs.
    Unchanged(String),
}

const CSV_COLUMNS: [&str; 17] = [
    "client",
    "client_name",
    "integration",
    "name",
    "provider",
    "connection",
    "remote_id",
    "scopes",
    "owner",
    "used_by",
    "created_at",
    "expires_at",
    "last_used_at",
    "last_rotated_at",
    "rotate_every_days",
    "secret",
    "notes",
];

/// Guesses the format from a file name, or from the first line for stdin.
pub fn sniff(name: &str, text: &str) -> Format {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".csv") {
        Format::Csv
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        Format::Yaml
    } else if text
        .lines()
        .next()
        .is_some_and(|l| l.contains(',') && !l.contains(':'))
    {
        Format::Csv
    } else {
        Format::Yaml
    }
}

/// Parses `text` in `format`. `source_name` goes into error messages.
pub fn parse(source_name: &str, text: &str, format: Format) -> Result<Batch, ImportError> {
    use crate::inventory::bounds::{preflight, sized};
    let bounded = |text| err(source_name, None, format!("{text}"));
    match format {
        Format::Csv => parse_csv(source_name, sized(text).map_err(bounded)?),
        Format::Yaml => parse_yaml(source_name, preflight(text).map_err(bounded)?),
    }
}

fn err(source_name: &str, line: Option<u64>, message: impl Into<String>) -> ImportError {
    ImportError {
        source_name: source_name.to_string(),
        location: line.map(|l| format!("line {l}: ")).unwrap_or_default(),
        message: message.into(),
    }
}

fn parse_csv(source_name: &str, text: &str) -> Result<Batch, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| err(source_name, Some(1), format!("unreadable header row: {e}")))?
        .clone();
    // A file without a header row has data here, perhaps a secret: a bad header cell is
    // named by its position, never quoted.
    for (i, h) in headers.iter().enumerate() {
        if !CSV_COLUMNS.contains(&h) {
            return Err(err(
                source_name,
                Some(1),
                format!(
                    "header column {} is not a known column name; known columns: {}",
                    i + 1,
                    CSV_COLUMNS.join(", ")
                ),
            ));
        }
    }
    for required in ["client", "integration", "provider"] {
        if !headers.iter().any(|h| h == required) {
            return Err(err(
                source_name,
                Some(1),
                format!("missing column `{required}`"),
            ));
        }
    }
    let mut batch = Batch::default();
    for result in reader.records() {
        let row = result.map_err(|e| {
            let line = e.position().map(|p| p.line());
            err(
                source_name,
                line,
                format!("unreadable row: {}", e.kind_words()),
            )
        })?;
        let line = row.position().map(|p| p.line());
        let cell = |name: &str| -> Option<String> {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| row.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let list = |name: &str| -> Vec<String> {
            cell(name)
                .map(|v| {
                    v.split([';', ' '])
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        // A bad cell is named by line and column, never quoted: with a shifted header, the
        // cell under `expires_at` may be the secret.
        let date = |name: &str| -> Result<Option<DateTime<Utc>>, ImportError> {
            cell(name)
                .map(|v| {
                    crate::inventory::parse_date(&v).map_err(|_| {
                        err(
                            source_name,
                            line,
                            format!("column `{name}`: not a date (YYYY-MM-DD or RFC 3339)"),
                        )
                    })
                })
                .transpose()
        };
        let client =
            cell("client").ok_or_else(|| err(source_name, line, "column `client` is empty"))?;
        let integration = cell("integration")
            .ok_or_else(|| err(source_name, line, "column `integration` is empty"))?;
        check_id(&client)
            .map_err(|why| err(source_name, line, format!("column `client`: {why}")))?;
        check_id(&integration)
            .map_err(|why| err(source_name, line, format!("column `integration`: {why}")))?;
        let at =
            CredentialRef::new(&client, &integration).map_err(|why| err(source_name, line, why))?;
        let provider: ProviderKind = cell("provider")
            .ok_or_else(|| err(source_name, line, "column `provider` is empty"))?
            .parse()
            .map_err(|_| {
                let known: Vec<&str> = ProviderKind::ALL.iter().map(|k| k.as_str()).collect();
                err(
                    source_name,
                    line,
                    format!(
                        "column `provider`: not a known provider; expected one of {}",
                        known.join(", ")
                    ),
                )
            })?;
        let mut c = Credential::new(integration, provider);
        c.name = cell("name").unwrap_or_default();
        c.connection = cell("connection");
        c.remote_id = cell("remote_id");
        c.scopes = list("scopes");
        c.owner = cell("owner");
        c.used_by = cell("used_by")
            .map(|v| {
                v.split(';')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        c.created_at = date("created_at")?;
        c.expires_at = date("expires_at")?;
        c.last_used_at = date("last_used_at")?;
        c.last_rotated_at = date("last_rotated_at")?;
        c.rotate_every_days = cell("rotate_every_days")
            .map(|v| {
                v.parse().map_err(|_| {
                    err(
                        source_name,
                        line,
                        "column `rotate_every_days`: not a whole number",
                    )
                })
            })
            .transpose()?;
        c.secret = cell("secret").map(Secret::new);
        c.notes = cell("notes");
        batch.records.push(Record {
            at,
            client_name: cell("client_name"),
            credential: c,
        });
    }
    Ok(batch)
}

trait CsvErrorWords {
    fn kind_words(&self) -> String;
}

impl CsvErrorWords for csv::Error {
    fn kind_words(&self) -> String {
        match self.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => {
                format!("{len} fields where the header has {expected_len}")
            }
            csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".into(),
            _ => "malformed CSV".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlImport {
    #[serde(default)]
    connections: Vec<Connection>,
    #[serde(default)]
    clients: Vec<Client>,
}

fn parse_yaml(source_name: &str, text: &str) -> Result<Batch, ImportError> {
    let doc: YamlImport = serde_yaml::from_str(text).map_err(|e| {
        let line = e.location().map(|l| l.line() as u64);
        let mut message = e.to_string();
        if let Some(cut) = message.rfind(" at line ") {
            message.truncate(cut);
        }
        let message = match message.split_once(": ") {
            Some((path, rest)) if !path.contains(' ') => {
                format!("{path}: {}", crate::inventory::validate::safe_message(rest))
            }
            _ => crate::inventory::validate::safe_message(&message),
        };
        err(source_name, line, message)
    })?;
    // The ids are checked here, by the rule a save applies, so a dry run refuses what the
    // real run would.
    let bad_id = |path: String, why: String| err(source_name, None, format!("{path}: {why}"));
    for (i, conn) in doc.connections.iter().enumerate() {
        check_id(&conn.id).map_err(|why| bad_id(format!("connections[{i}].id"), why))?;
    }
    for (i, client) in doc.clients.iter().enumerate() {
        check_id(&client.id).map_err(|why| bad_id(format!("clients[{i}].id"), why))?;
        for (j, cred) in client.integrations.iter().enumerate() {
            check_id(&cred.id)
                .map_err(|why| bad_id(format!("clients[{i}].integrations[{j}].id"), why))?;
        }
    }
    let mut batch = Batch {
        connections: doc.connections,
        records: Vec::new(),
    };
    for client in doc.clients {
        for cred in client.integrations {
            batch.records.push(Record {
                at: CredentialRef {
                    client: client.id.clone(),
                    integration: cred.id.clone(),
                },
                client_name: Some(client.name.clone()).filter(|n| !n.is_empty()),
                credential: cred,
            });
        }
    }
    Ok(batch)
}

/// Merges `incoming` into `existing`: fields the import sets replace, empty ones are kept.
/// Returns the names of the fields that changed.
fn merge(existing: &mut Credential, incoming: &Credential) -> Vec<&'static str> {
    let mut changed = Vec::new();
    macro_rules! take {
        ($field:ident, $present:expr) => {
            if $present(&incoming.$field) && existing.$field != incoming.$field {
                existing.$field = incoming.$field.clone();
                changed.push(stringify!($field));
            }
        };
    }
    take!(name, |v: &String| !v.is_empty());
    if existing.provider != incoming.provider {
        existing.provider = incoming.provider;
        changed.push("provider");
    }
    take!(connection, Option::is_some);
    take!(remote_id, Option::is_some);
    take!(params, |v: &BTreeMap<String, String>| !v.is_empty());
    take!(scopes, |v: &Vec<String>| !v.is_empty());
    take!(owner, Option::is_some);
    take!(used_by, |v: &Vec<String>| !v.is_empty());
    take!(created_at, Option::is_some);
    take!(expires_at, Option::is_some);
    take!(last_used_at, Option::is_some);
    take!(last_rotated_at, Option::is_some);
    take!(rotate_every_days, Option::is_some);
    take!(warn_before_days, Option::is_some);
    take!(stale_after_days, Option::is_some);
    take!(deploy, Option::is_some);
    take!(secret, Option::is_some);
    take!(notes, Option::is_some);
    changed
}

/// Applies `batch` to `inv` at `now` and says what changed. Run it on a copy for a dry run.
pub fn apply(inv: &mut Inventory, batch: &Batch, now: DateTime<Utc>) -> Vec<Change> {
    let mut changes = Vec::new();
    for conn in &batch.connections {
        match inv.connections.iter_mut().find(|c| c.id == conn.id) {
            None => {
                inv.connections.push(conn.clone());
                changes.push(Change::Add(format!("connection {}", conn.id)));
            }
            Some(existing) if existing != conn => {
                *existing = conn.clone();
                changes.push(Change::Update(
                    format!("connection {}", conn.id),
                    vec!["connection"],
                ));
            }
            Some(_) => changes.push(Change::Unchanged(format!("connection {}", conn.id))),
        }
    }
    for record in &batch.records {
        let address = record.at.to_string();
        let event = |detail: String| HistoryEntry {
            at: now,
            event: crate::inventory::HistoryEvent::Imported,
            detail,
        };
        if let Some(existing) = inv.credential_mut(&record.at) {
            let changed = merge(existing, &record.credential);
            if changed.is_empty() {
                changes.push(Change::Unchanged(address));
            } else {
                existing
                    .history
                    .push(event(format!("changed {}", changed.join(", "))));
                changes.push(Change::Update(address, changed));
            }
        } else {
            let mut cred = record.credential.clone();
            cred.history.push(event(String::new()));
            inv.insert(&record.at.client, cred);
            changes.push(Change::Add(address));
        }
        if let (Some(name), Some(client)) = (
            &record.client_name,
            inv.clients.iter_mut().find(|c| c.id == record.at.client),
        ) {
            if client.name.is_empty() {
                client.name = name.clone();
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "client,integration,provider,scopes,expires_at,secret,used_by
acme,crm,sendgrid,mail.send;alerts.read,2027-01-31,SG.secret-value-123,n8n crm; zapier
beta,bot,manual,,,,
";

    #[test]
    fn csv_rows_become_credentials() {
        let b = parse("keys.csv", CSV, Format::Csv).unwrap();
        assert_eq!(b.records.len(), 2);
        let c = &b.records[0].credential;
        assert_eq!(b.records[0].at.to_string(), "acme/crm");
        assert_eq!(c.scopes, vec!["mail.send", "alerts.read"]);
        assert_eq!(c.used_by, vec!["n8n crm", "zapier"]);
        assert_eq!(
            c.secret.as_ref().unwrap().expose_secret(),
            "SG.secret-value-123"
        );
        assert!(b.records[1].credential.secret.is_none());
    }

    #[test]
    fn csv_errors_name_the_line_and_column() {
        let e = parse(
            "keys.csv",
            &CSV.replace("2027-01-31", "next tuesday"),
            Format::Csv,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "keys.csv: line 2: column `expires_at`: not a date (YYYY-MM-DD or RFC 3339)"
        );
        let e = parse(
            "keys.csv",
            "client,integration,provider,colour\n",
            Format::Csv,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("keys.csv: line 1: header column 4 is not a known column name"),
            "{e}"
        );
        let e = parse(
            "k.csv",
            "client,integration,provider\nacme,crm,hubspot\n",
            Format::Csv,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("line 2: column `provider`: not a known provider"),
            "{e}"
        );
        assert!(!e.to_string().contains("hubspot"), "{e}");
    }

    #[test]
    fn a_secret_in_a_shifted_csv_column_is_never_quoted() {
        let secret = "sk-proj-AbCdEf0123456789xyzSECRET";
        let header = "client,integration,provider,expires_at,rotate_every_days";
        for row in [
            format!("acme,crm,manual,{secret},"),
            format!("acme,crm,manual,,{secret}"),
            format!("acme,crm,{secret},,"),
            format!("acme,{secret} x,manual,,"),
            format!("{secret}/x,crm,manual,,"),
        ] {
            let e = parse("k.csv", &format!("{header}\n{row}\n"), Format::Csv).unwrap_err();
            let text = e.to_string();
            assert!(text.starts_with("k.csv: line 2: column `"), "{text}");
            assert!(!text.contains("sk-proj"), "{text}");
        }
        // No header row: the first data row is read as the header.
        let e = parse("k.csv", &format!("acme,crm,{secret}\n"), Format::Csv).unwrap_err();
        assert!(!e.to_string().contains("sk-proj"), "{e}");
    }

    #[test]
    fn import_refuses_an_id_with_whitespace_or_control_characters() {
        let e = parse(
            "k.csv",
            "client,integration,provider\na b,c,manual\n",
            Format::Csv,
        )
        .unwrap_err();
        assert!(e.to_string().contains("column `client`"), "{e}");
        let e = parse(
            "k.csv",
            "client,integration,provider\nacme,\"c\x1b[2J\",manual\n",
            Format::Csv,
        )
        .unwrap_err();
        assert!(e.to_string().contains("control characters"), "{e}");
        let e = parse(
            "x.yaml",
            "clients:\n  - id: a b\n    integrations:\n      - id: c\n        provider: manual\n",
            Format::Yaml,
        )
        .unwrap_err();
        assert!(e.to_string().contains("clients[0].id"), "{e}");
    }

    #[test]
    fn apply_adds_then_reports_changes_by_field_name_only() {
        let mut inv = Inventory::new(vec![]);
        let b = parse("keys.csv", CSV, Format::Csv).unwrap();
        let changes = apply(&mut inv, &b, Utc::now());
        assert_eq!(
            changes,
            vec![
                Change::Add("acme/crm".into()),
                Change::Add("beta/bot".into())
            ]
        );
        let again = apply(&mut inv, &b, Utc::now());
        assert_eq!(again[0], Change::Unchanged("acme/crm".into()));
        let changed = parse(
            "keys.csv",
            &CSV.replace("SG.secret-value-123", "SG.other"),
            Format::Csv,
        )
        .unwrap();
        let c = apply(&mut inv, &changed, Utc::now());
        assert_eq!(c[0], Change::Update("acme/crm".into(), vec!["secret"]));
    }

    #[test]
    fn yaml_import_reads_the_inventory_shape() {
        let text = "clients:\n  - id: acme\n    name: ACME\n    integrations:\n      - id: bot\n        provider: manual\n";
        let b = parse("x.yaml", text, Format::Yaml).unwrap();
        assert_eq!(b.records[0].at.to_string(), "acme/bot");
        assert_eq!(b.records[0].client_name.as_deref(), Some("ACME"));
        let e = parse(
            "x.yaml",
            "clients:\n  - id: acme\n    colour: red\n",
            Format::Yaml,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("x.yaml: line 3: clients[0]: unknown field `colour`"),
            "{e}"
        );
    }

    #[test]
    fn format_is_sniffed_from_name_then_content() {
        assert_eq!(sniff("a.CSV", ""), Format::Csv);
        assert_eq!(sniff("-", "client,integration,provider\n"), Format::Csv);
        assert_eq!(sniff("-", "clients:\n"), Format::Yaml);
    }
}
