//! Importing credentials from the spreadsheets and files agencies already keep: CSV with a
//! header row, or YAML shaped like a whole inventory file (`inventories/example.yaml`:
//! `version`, `policy`, `recipients`, `connections`, `clients`). An import is planned first
//! (what would be added or changed) and applied only when asked. Nothing in the file is
//! dropped silently: the policy is applied, and recipients, which decide who can read every
//! secret, are reported and left to `keyward recipients add`.

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
    /// `line N: `, `line N, column C: `, or empty.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

/// The formats an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated, with a header row.
    Csv,
    /// A whole inventory file, or just its `clients:` / `connections:`.
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

/// The policy fields an import sets; those it leaves out keep the inventory's values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyImport {
    /// `policy.rotate_every_days`.
    pub rotate_every_days: Option<u32>,
    /// `policy.warn_before_days`.
    pub warn_before_days: Option<u32>,
    /// `policy.stale_after_days`.
    pub stale_after_days: Option<u32>,
}

/// The parsed import.
#[derive(Debug, Default)]
pub struct Batch {
    /// The policy fields to set.
    pub policy: Option<PolicyImport>,
    /// Recipients the file lists: reported, never added by an import.
    pub recipients: Vec<String>,
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
    /// In the file but deliberately not applied; why, and what to do instead.
    NotApplied(String, String),
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

/// An error at a line and column (1-based), when known.
fn err_at(
    source_name: &str,
    position: Option<(usize, usize)>,
    message: impl Into<String>,
) -> ImportError {
    ImportError {
        source_name: source_name.to_string(),
        location: position
            .map(|(line, column)| format!("line {line}, column {column}: "))
            .unwrap_or_default(),
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
    // Where each address was first seen: the same credential twice is refused, not merged
    // with the last one winning.
    let mut first_line: BTreeMap<CredentialRef, u64> = BTreeMap::new();
    let integration_column = headers
        .iter()
        .position(|h| h == "integration")
        .map_or(0, |i| i + 1);
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
        // Never quoted: with a shifted header, these cells may hold a secret.
        if let Some(first) = first_line.get(&at) {
            return Err(err_at(
                source_name,
                line.map(|l| (l as usize, integration_column)),
                format!("the same client and integration as line {first}; one row per credential"),
            ));
        }
        first_line.insert(at.clone(), line.unwrap_or_default());
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

/// What a YAML import reads: an inventory file's top-level keys. `generation` and
/// `integrity` are the store's bookkeeping, which no import may set.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlImport {
    version: Option<serde_yaml::Value>,
    policy: Option<PolicyImport>,
    #[serde(default)]
    recipients: Vec<String>,
    #[serde(default)]
    connections: Vec<Connection>,
    #[serde(default)]
    clients: Vec<Client>,
}

fn parse_yaml(source_name: &str, text: &str) -> Result<Batch, ImportError> {
    use crate::inventory::locate::{locate, Segment};
    let doc: YamlImport = serde_yaml::from_str(text).map_err(|e| {
        let position = e.location().map(|l| (l.line(), l.column()));
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
        err_at(source_name, position, message)
    })?;
    let key = |k: &str| Segment::Key(k.to_string());
    let at_path = |path: Vec<Segment>, why: String| {
        err_at(
            source_name,
            locate(text, &path),
            format!("{}: {why}", crate::inventory::locate::render(&path)),
        )
    };
    if let Some(v) = &doc.version {
        if v.as_u64() != Some(u64::from(crate::inventory::SCHEMA_VERSION)) {
            return Err(at_path(
                vec![key("version")],
                format!(
                    "this build of keyward reads version {}; use the keyward that wrote it",
                    crate::inventory::SCHEMA_VERSION
                ),
            ));
        }
    }
    // The ids are checked here, by the rules a save applies (well-formed, each once), so a
    // dry run refuses what the real run would, and a duplicate is named where it is written
    // rather than merged with the last one winning.
    let id_path = |mut path: Vec<Segment>| {
        path.push(key("id"));
        path
    };
    let mut connection_ids = BTreeMap::new();
    for (i, conn) in doc.connections.iter().enumerate() {
        let path = id_path(vec![key("connections"), Segment::Index(i)]);
        check_id(&conn.id).map_err(|why| at_path(path.clone(), why))?;
        if let Some(first) = connection_ids.insert(conn.id.as_str(), path.clone()) {
            return Err(at_path(path, duplicate("connection", text, &first)));
        }
    }
    let mut client_ids = BTreeMap::new();
    for (i, client) in doc.clients.iter().enumerate() {
        let client_path = vec![key("clients"), Segment::Index(i)];
        let path = id_path(client_path.clone());
        check_id(&client.id).map_err(|why| at_path(path.clone(), why))?;
        if let Some(first) = client_ids.insert(client.id.as_str(), path.clone()) {
            return Err(at_path(path, duplicate("client", text, &first)));
        }
        let mut integration_ids = BTreeMap::new();
        for (j, cred) in client.integrations.iter().enumerate() {
            let mut cred_path = client_path.clone();
            cred_path.extend([key("integrations"), Segment::Index(j)]);
            let path = id_path(cred_path);
            check_id(&cred.id).map_err(|why| at_path(path.clone(), why))?;
            if let Some(first) = integration_ids.insert(cred.id.as_str(), path.clone()) {
                return Err(at_path(path, duplicate("integration", text, &first)));
            }
        }
    }
    let mut batch = Batch {
        policy: doc.policy.filter(|p| *p != PolicyImport::default()),
        recipients: doc.recipients,
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

/// "duplicate client id (the first is at line L, column C)": the id itself is not quoted,
/// as for every id error.
fn duplicate(what: &str, text: &str, first: &[crate::inventory::locate::Segment]) -> String {
    match crate::inventory::locate::locate(text, first) {
        Some((line, column)) => {
            format!("duplicate {what} id (the first is at line {line}, column {column})")
        }
        None => format!("duplicate {what} id"),
    }
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
    take!(deploy, |v: &crate::inventory::Deploys| !v.is_empty());
    take!(deploy_check, Option::is_some);
    take!(secret, Option::is_some);
    take!(notes, Option::is_some);
    changed
}

/// Applies `batch` to `inv` at `now` and says what changed. Run it on a copy for a dry run.
pub fn apply(inv: &mut Inventory, batch: &Batch, now: DateTime<Utc>) -> Vec<Change> {
    let mut changes = Vec::new();
    if let Some(policy) = &batch.policy {
        let mut changed = Vec::new();
        for (name, field, value) in [
            (
                "rotate_every_days",
                &mut inv.policy.rotate_every_days,
                policy.rotate_every_days,
            ),
            (
                "warn_before_days",
                &mut inv.policy.warn_before_days,
                policy.warn_before_days,
            ),
            (
                "stale_after_days",
                &mut inv.policy.stale_after_days,
                policy.stale_after_days,
            ),
        ] {
            if let Some(v) = value.filter(|v| *v != *field) {
                *field = v;
                changed.push(name);
            }
        }
        changes.push(if changed.is_empty() {
            Change::Unchanged("policy".into())
        } else {
            Change::Update("policy".into(), changed)
        });
    }
    for r in &batch.recipients {
        if !inv.recipients.iter().any(|have| have.trim() == r.trim()) {
            changes.push(Change::NotApplied(
                format!("recipient {}", r.trim()),
                "who can read every secret changes only with `keyward recipients add`".into(),
            ));
        }
    }
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
                .starts_with("x.yaml: line 3, column 5: clients[0]: unknown field `colour`"),
            "{e}"
        );
    }

    #[test]
    fn yaml_import_refuses_a_duplicate_id_at_the_line_and_column_of_the_second() {
        let text = "clients:\n  - id: acme\n    integrations:\n      - id: bot\n        provider: manual\n      - id: bot\n        provider: manual\n";
        let e = parse("x.yaml", text, Format::Yaml).unwrap_err().to_string();
        assert_eq!(
            e,
            "x.yaml: line 6, column 9: clients[0].integrations[1].id: duplicate integration id \
             (the first is at line 4, column 9)"
        );
        let text = "clients:\n  - id: acme\n  - id: beta\n  - id: acme\n";
        let e = parse("x.yaml", text, Format::Yaml).unwrap_err().to_string();
        assert!(
            e.starts_with("x.yaml: line 4, column 5: clients[2].id: duplicate client id"),
            "{e}"
        );
        let text =
            "connections:\n  - id: c\n    provider: manual\n  - id: c\n    provider: manual\n";
        let e = parse("x.yaml", text, Format::Yaml).unwrap_err().to_string();
        assert!(
            e.starts_with("x.yaml: line 4, column 5: connections[1].id: duplicate connection id"),
            "{e}"
        );
    }

    #[test]
    fn csv_import_refuses_the_same_credential_twice_at_its_line_and_column() {
        let text =
            "client,integration,provider\nacme,crm,manual\nbeta,crm,manual\nacme,crm,sendgrid\n";
        let e = parse("k.csv", text, Format::Csv).unwrap_err().to_string();
        assert_eq!(
            e,
            "k.csv: line 4, column 2: the same client and integration as line 2; one row per credential"
        );
    }

    #[test]
    fn yaml_import_of_a_whole_inventory_applies_the_policy_and_reports_recipients() {
        let text = "version: 1\npolicy:\n  rotate_every_days: 30\nrecipients:\n  - age1someone\nclients:\n  - id: acme\n    integrations:\n      - id: bot\n        provider: manual\n";
        let b = parse("x.yaml", text, Format::Yaml).unwrap();
        let mut inv = Inventory::new(vec!["age1me".into()]);
        let warn = inv.policy.warn_before_days;
        let changes = apply(&mut inv, &b, Utc::now());
        assert_eq!(
            changes[0],
            Change::Update("policy".into(), vec!["rotate_every_days"])
        );
        assert!(
            matches!(&changes[1], Change::NotApplied(what, _) if what == "recipient age1someone")
        );
        assert_eq!(changes[2], Change::Add("acme/bot".into()));
        assert_eq!(inv.policy.rotate_every_days, 30);
        assert_eq!(inv.policy.warn_before_days, warn, "left out: kept");
        assert_eq!(
            inv.recipients,
            vec!["age1me".to_string()],
            "never added by an import"
        );
        let e = parse("x.yaml", "version: 2\nclients: []\n", Format::Yaml).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("x.yaml: line 1, column 1: version: this build"),
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
