//! Reading an inventory from YAML text: the version gate, the schema, and the checks that
//! span records (unique ids, connections that exist and match their provider).

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;

use super::locate::{locate, render, Segment};
use super::{Inventory, SCHEMA_VERSION};

/// What is wrong with an inventory's text, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// The key path, e.g. `clients[0].integrations[2].connection`; empty for syntax errors
    /// outside any key.
    pub key_path: String,
    /// What is wrong, in words.
    pub message: String,
    /// 1-based line and column, when known.
    pub position: Option<(usize, usize)>,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.key_path.is_empty() {
            write!(f, "{}: ", self.key_path)?;
        }
        f.write_str(&self.message)?;
        if let Some((line, col)) = self.position {
            write!(f, " (line {line}, column {col})")?;
        }
        Ok(())
    }
}

impl std::error::Error for SchemaError {}

impl SchemaError {
    fn at(text: &str, path: Vec<Segment>, message: String) -> Self {
        SchemaError {
            key_path: render(&path),
            position: locate(text, &path),
            message,
        }
    }

    fn from_yaml(err: serde_yaml::Error) -> Self {
        // The parser's message carries its own key path prefix ("a.b: msg") and a trailing
        // "at line L column C"; both are split out so every error reads the same way.
        let position = err.location().map(|l| (l.line(), l.column()));
        let mut message = err.to_string();
        if let Some(cut) = message.rfind(" at line ") {
            message.truncate(cut);
        }
        let (key_path, message) = match message.split_once(": ") {
            Some((p, m)) if !p.contains(' ') && !p.is_empty() => (p.to_string(), m.to_string()),
            _ => (String::new(), message),
        };
        let message = safe_message(&message);
        SchemaError {
            key_path,
            message,
            position,
        }
    }
}

/// A parser message without the offending value, which may be a secret typed in the wrong
/// place (`auth: sk-live-…` where a map belongs). An unknown provider or key keeps its name,
/// with anything token-like masked.
pub(crate) fn safe_message(message: &str) -> String {
    if message.starts_with("unknown variant ") || message.starts_with("unknown field ") {
        return crate::secret::redact_tokens(message);
    }
    match crate::secret::expected_part(message) {
        Some(expected) => {
            let kind = message.split(':').next().unwrap_or("invalid value");
            format!("{kind}, expected {expected}")
        }
        None => crate::secret::redact_tokens(message),
    }
}

/// The longest rotation, warning or staleness period accepted: a century.
pub const MAX_PERIOD_DAYS: u32 = 36_500;

#[derive(Deserialize)]
struct VersionProbe {
    version: Option<serde_yaml::Value>,
}

/// Parses and checks an inventory. The first problem found is returned.
///
/// A good file is read once, straight into the typed inventory, and checked as such: the
/// common case costs one pass. Only when that fails is the text read again the careful way
/// (version first, then the schema, then the checks), which finds the first problem and
/// its line: every error is the one that careful reading gives.
pub fn parse(text: &str) -> Result<Inventory, SchemaError> {
    let text = super::bounds::preflight(text).map_err(|e| SchemaError {
        key_path: String::new(),
        message: e.to_string(),
        position: None,
    })?;
    if let Some(inventory) = super::pieces::parse(text).filter(is_good) {
        return Ok(inventory);
    }
    parse_carefully(text)
}

/// The inventory `source` holds, read as it arrives (so that the whole text is never held
/// at once), when it is a good one. `None` when it is not, or when it cannot be read
/// piecewise: the caller then reads it whole and calls [`parse`], which says what is wrong.
pub fn parse_stream_if_good(source: impl std::io::Read) -> Option<Inventory> {
    super::pieces::parse_stream(source).filter(is_good)
}

/// Whether an inventory read straight from its text passes every check [`parse`] makes.
fn is_good(inventory: &Inventory) -> bool {
    inventory.version == SCHEMA_VERSION && check(inventory).is_empty()
}

/// [`parse`]'s careful way, for text that did not read straight into a good inventory:
/// the version is checked before the schema, so that a file from another version is
/// named as such rather than by the first field this build does not know.
fn parse_carefully(text: &str) -> Result<Inventory, SchemaError> {
    let probe: VersionProbe = serde_yaml::from_str(text).map_err(SchemaError::from_yaml)?;
    let version_path = vec![Segment::Key("version".into())];
    match probe.version {
        None => {
            return Err(SchemaError::at(
                text,
                version_path,
                format!("missing; an inventory starts with `version: {SCHEMA_VERSION}`"),
            ))
        }
        Some(v) if v.as_u64() != Some(u64::from(SCHEMA_VERSION)) => {
            let shown = serde_yaml::to_string(&v).unwrap_or_default();
            return Err(SchemaError::at(
                text,
                version_path,
                format!(
                    "this build of keyward reads version {SCHEMA_VERSION}, the file says {}; \
                     use the keyward that wrote it",
                    shown.trim()
                ),
            ));
        }
        Some(_) => {}
    }
    let inventory: Inventory = serde_yaml::from_str(text).map_err(SchemaError::from_yaml)?;
    if let Some((path, message)) = check(&inventory).into_iter().next() {
        return Err(SchemaError::at(text, path, message));
    }
    Ok(inventory)
}

/// Checks that span records. Returns every problem with its key path, file order.
pub fn check(inv: &Inventory) -> Vec<(Vec<Segment>, String)> {
    use Segment::{Index, Key};
    let mut problems = Vec::new();
    let key = |s: &str| Key(s.to_string());

    let mut connection_ids = HashSet::new();
    for (ci, conn) in inv.connections.iter().enumerate() {
        if let Err(why) = check_id(&conn.id) {
            problems.push((vec![key("connections"), Index(ci), key("id")], why));
        }
        if !connection_ids.insert(conn.id.as_str()) {
            problems.push((
                vec![key("connections"), Index(ci), key("id")],
                format!("duplicate connection id `{}`", conn.id),
            ));
        }
    }

    // Periods beyond a century are typos (and overflow date arithmetic downstream).
    let period = |days: Option<u32>| days.is_some_and(|d| d > MAX_PERIOD_DAYS);
    for (field, days) in [
        ("rotate_every_days", inv.policy.rotate_every_days),
        ("warn_before_days", inv.policy.warn_before_days),
        ("stale_after_days", inv.policy.stale_after_days),
    ] {
        if period(Some(days)) {
            problems.push((
                vec![key("policy"), key(field)],
                format!("{days} days is more than {MAX_PERIOD_DAYS}"),
            ));
        }
    }

    let mut client_ids = HashSet::new();
    for (ci, client) in inv.clients.iter().enumerate() {
        let client_path = vec![key("clients"), Index(ci)];
        if let Err(why) = check_id(&client.id) {
            problems.push((with(&client_path, &[key("id")]), why));
        }
        if !client_ids.insert(client.id.as_str()) {
            problems.push((
                with(&client_path, &[key("id")]),
                format!("duplicate client id `{}`", client.id),
            ));
        }
        let mut integration_ids = HashSet::new();
        for (ii, cred) in client.integrations.iter().enumerate() {
            let path = with(&client_path, &[key("integrations"), Index(ii)]);
            if let Err(why) = check_id(&cred.id) {
                problems.push((with(&path, &[key("id")]), why));
            }
            if !integration_ids.insert(cred.id.as_str()) {
                problems.push((
                    with(&path, &[key("id")]),
                    format!(
                        "duplicate integration id `{}` in client `{}`",
                        cred.id, client.id
                    ),
                ));
            }
            for (field, days) in [
                ("rotate_every_days", cred.rotate_every_days),
                ("warn_before_days", cred.warn_before_days),
                ("stale_after_days", cred.stale_after_days),
            ] {
                if period(days) {
                    problems.push((
                        with(&path, &[key(field)]),
                        format!(
                            "{} days is more than {MAX_PERIOD_DAYS}",
                            days.unwrap_or_default()
                        ),
                    ));
                }
            }
            if let Some(conn_id) = &cred.connection {
                match inv.connection(conn_id) {
                    None => problems.push((
                        with(&path, &[key("connection")]),
                        format!("connection `{conn_id}` is not defined under `connections`"),
                    )),
                    Some(conn) if conn.provider != cred.provider => problems.push((
                        with(&path, &[key("connection")]),
                        format!(
                            "connection `{conn_id}` is for {}, but this credential is {}",
                            conn.provider, cred.provider
                        ),
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    problems
}

fn with(base: &[Segment], more: &[Segment]) -> Vec<Segment> {
    base.iter().chain(more).cloned().collect()
}

/// The longest id accepted, in characters.
pub const MAX_ID_CHARS: usize = 128;

/// Ids appear in `CLIENT/INTEGRATION` addresses, on the command line, in every table and
/// error: not empty, no `/`, no whitespace, no control or bidirectional-override characters,
/// at most [`MAX_ID_CHARS`]. The one rule for `add`, `import` (dry run or not), the
/// inventory file and connections. The message never quotes the id: a shifted CSV column
/// may have put a secret there.
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        Err("id is empty".into())
    } else if id.chars().count() > MAX_ID_CHARS {
        Err(format!("id is longer than {MAX_ID_CHARS} characters"))
    } else if id.contains('/') || id.chars().any(char::is_whitespace) {
        Err("id may not contain `/` or whitespace".into())
    } else if id.chars().any(crate::text::is_unsafe_char) {
        Err("id may not contain control characters".into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "version: 1
connections:
  - id: acme-aws
    provider: aws-iam
clients:
  - id: acme
    integrations:
      - id: crm
        provider: aws-iam
        connection: acme-aws
      - id: bot
        provider: manual
";

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn a_good_file_parses() {
        let inv = parse(GOOD).unwrap();
        assert_eq!(inv.credential_count(), 2);
    }

    #[test]
    fn unknown_key_names_the_key_path_and_line() {
        let text = GOOD.replace(
            "      - id: bot\n",
            "      - id: bot\n        expirse: 2026-01-01\n",
        );
        let e = err(&text);
        assert!(
            e.starts_with("clients[0].integrations[1]: unknown field `expirse`"),
            "{e}"
        );
        assert!(e.ends_with("(line 12, column 9)"), "{e}");
    }

    #[test]
    fn unknown_provider_is_refused_with_its_line() {
        let e = err(&GOOD.replace("provider: manual", "provider: hubspot"));
        assert!(e.contains("unknown variant `hubspot`"), "{e}");
        assert!(e.contains("line 12"), "{e}");
    }

    #[test]
    fn unknown_version_is_refused_not_guessed() {
        let e = err(&GOOD.replace("version: 1", "version: 2"));
        assert_eq!(
            e,
            "version: this build of keyward reads version 1, the file says 2; use the keyward \
             that wrote it (line 1, column 1)"
        );
        assert!(err("clients: []\n").starts_with("version: missing"));
    }

    #[test]
    fn dangling_connection_is_located() {
        let e = err(&GOOD.replace("connection: acme-aws", "connection: nowhere"));
        assert_eq!(
            e,
            "clients[0].integrations[0].connection: connection `nowhere` is not defined under \
             `connections` (line 10, column 9)"
        );
    }

    #[test]
    fn connection_for_another_provider_is_refused() {
        let e = err(&GOOD.replace(
            "provider: aws-iam\n        connection",
            "provider: sandbox\n        connection",
        ));
        assert!(
            e.contains("is for aws-iam, but this credential is sandbox"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_ids_are_located() {
        let e = err(&GOOD.replace("id: bot", "id: crm"));
        assert_eq!(
            e,
            "clients[0].integrations[1].id: duplicate integration id `crm` in client `acme` \
             (line 11, column 9)"
        );
    }

    #[test]
    fn syntax_error_has_a_line() {
        let e = parse("version: 1\nclients: [\n").unwrap_err();
        assert!(e.position.is_some(), "{e}");
    }

    /// inventories/example.yaml documents every field: it must parse, and it must set each
    /// optional credential field somewhere, so a new field cannot go undocumented.
    #[test]
    fn the_documented_example_parses_and_covers_every_field() {
        let text = include_str!("../../inventories/example.yaml");
        let inv = parse(text).unwrap();
        let mut fields = std::collections::BTreeSet::new();
        for (_, _, cred) in inv.credentials() {
            let v = serde_yaml::to_value(cred).unwrap();
            for (k, _) in v.as_mapping().unwrap() {
                fields.insert(k.as_str().unwrap().to_string());
            }
        }
        let documented: Vec<&str> = [
            "id",
            "name",
            "provider",
            "connection",
            "remote_id",
            "params",
            "scopes",
            "owner",
            "used_by",
            "created_at",
            "expires_at",
            "last_used_at",
            "last_rotated_at",
            "rotate_every_days",
            "warn_before_days",
            "stale_after_days",
            "deploy",
            "secret",
            "remote",
            "risks",
            "notes",
            "history",
        ]
        .to_vec();
        for f in documented {
            assert!(fields.contains(f), "example.yaml does not show `{f}`");
        }
    }

    #[test]
    fn dates_take_rfc3339_or_a_plain_day_and_name_a_bad_one() {
        let with = |d: &str| {
            GOOD.replace(
                "provider: manual",
                &format!("provider: manual\n        expires_at: {d}"),
            )
        };
        let inv = parse(&with("2027-01-31")).unwrap();
        assert_eq!(
            inv.clients[0].integrations[1]
                .expires_at
                .unwrap()
                .to_rfc3339(),
            "2027-01-31T00:00:00+00:00"
        );
        assert!(parse(&with("2027-01-31T10:00:00+02:00")).is_ok());
        let e = err(&with("next week"));
        assert!(
            e.starts_with("clients[0].integrations[1].expires_at: not a date"),
            "{e}"
        );
        assert!(e.contains("line 13"), "{e}");
    }

    /// Regression: a secret typed where a map belongs was quoted back by the YAML parser
    /// ("invalid type: string \"sk-live-…\", expected a map") onto stderr.
    #[test]
    fn a_misplaced_secret_is_not_quoted_in_the_error() {
        let text = "version: 1\nconnections:\n  - id: c\n    provider: sendgrid\n    auth: SG.live-secret-value\n";
        let e = err(text);
        assert!(!e.contains("SG.live-secret-value"), "{e}");
        assert_eq!(
            e,
            "connections[0].auth: invalid type, expected a map (line 5, column 11)"
        );
        let long = GOOD.replace(
            "provider: manual",
            "provider: sk_live_0123456789abcdefghijklmnopqrstuvwxyz",
        );
        assert!(!err(&long).contains("0123456789abcdef"), "{}", err(&long));
    }

    #[test]
    fn periods_beyond_a_century_are_refused_with_their_line() {
        let e = err(&GOOD.replace(
            "provider: manual",
            "provider: manual\n        rotate_every_days: 4000000000",
        ));
        assert_eq!(
            e,
            "clients[0].integrations[1].rotate_every_days: 4000000000 days is more than 36500 (line 13, column 9)"
        );
    }

    #[test]
    fn ids_with_slashes_are_refused() {
        let e = err(&GOOD.replace("id: bot", "id: a/b"));
        assert!(e.contains("may not contain `/`"), "{e}");
    }
}
