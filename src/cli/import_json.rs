//! `import --json` (`keyward.import/1`, docs/json.md): what the import added, changed or
//! left as it was, by name; never a value.

use serde::Serialize;

use super::json::{self, Schema};
use crate::import::Change;

/// One line of the import's outcome.
#[derive(Serialize)]
struct ChangeJson<'a> {
    change: &'static str,
    what: &'a str,
    fields: &'a [&'static str],
    /// Why an entry of the file was not applied (`not-added` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<&'a str>,
}

/// The whole outcome.
#[derive(Serialize)]
struct ImportJson<'a> {
    dry_run: bool,
    changes: Vec<ChangeJson<'a>>,
}

/// Prints `changes` as `keyward.import/1`; `dry_run`: nothing was written.
pub fn print(changes: &[Change], dry_run: bool) -> anyhow::Result<()> {
    let changes = changes
        .iter()
        .map(|c| match c {
            Change::Add(what) => ChangeJson {
                change: "add",
                what,
                fields: &[],
                why: None,
            },
            Change::Update(what, fields) => ChangeJson {
                change: "change",
                what,
                fields,
                why: None,
            },
            Change::Unchanged(what) => ChangeJson {
                change: "unchanged",
                what,
                fields: &[],
                why: None,
            },
            Change::NotApplied(what, why) => ChangeJson {
                change: "not-added",
                what,
                fields: &[],
                why: Some(why),
            },
        })
        .collect();
    json::print(Schema::Import, &ImportJson { dry_run, changes })
}
