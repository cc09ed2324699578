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
            },
            Change::Update(what, fields) => ChangeJson {
                change: "change",
                what,
                fields,
            },
            Change::Unchanged(what) => ChangeJson {
                change: "unchanged",
                what,
                fields: &[],
            },
        })
        .collect();
    json::print(Schema::Import, &ImportJson { dry_run, changes })
}
