//! `keyward report` with the real binary: Markdown, CSV and JSON pinned on a fixed
//! inventory at a fixed `now`; no secret (nor its hint) in any report of the fixture or
//! the demo; `--output` writing a shareable file atomically and never over the inventory.

use crate::support;

use std::path::Path;

use support::workspace::{assert_one_line_error, hash, Workspace};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/report-inventory.yaml"
);

fn fixture_workspace() -> Workspace {
    let ws = Workspace::new();
    ws.init();
    ws.ok(&["import", FIXTURE], "");
    ws
}

/// Asserts `text` holds no secret: neither the fixture's values nor the mask a hint uses.
fn assert_no_secret(text: &str) {
    assert!(!text.contains("fixture_secret_"), "{text}");
    assert!(!text.contains(keyward::secret::MASK), "{text}");
}

/// `user@host` as Markdown shows it: the `@` escaped so it never turns into a mail link.
fn actor_in_markdown() -> String {
    keyward::audit::actor().replace('@', "\\@")
}

fn without_actor(text: &str) -> String {
    text.replace(&keyward::audit::actor(), "USER@HOST")
        .replace(&actor_in_markdown(), "USER@HOST")
}

#[test]
fn markdown_report_matches_the_golden_file() {
    let ws = fixture_workspace();
    let md = ws.ok(&["report"], "");
    assert_no_secret(&md);
    assert_eq!(md, ws.ok(&["report", "--format", "markdown"], ""));
    // Who prepared it differs per machine: the same `user@host` the audit log records.
    assert!(
        md.contains(&format!("Prepared by {}.", actor_in_markdown())),
        "{md}"
    );
    insta::assert_snapshot!("report_markdown", without_actor(&md));
}

#[test]
fn csv_report_matches_the_golden_file_and_parses() {
    let ws = fixture_workspace();
    let csv = ws.ok(&["report", "--format", "csv"], "");
    assert_no_secret(&csv);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        keyward::report::CSV_COLUMNS.to_vec()
    );
    assert_eq!(reader.records().count(), 5, "one row per credential");
    insta::assert_snapshot!("report_csv", csv);
}

#[test]
fn json_report_matches_the_golden_file() {
    let ws = fixture_workspace();
    let json = ws.ok(&["report", "--format", "json"], "");
    assert_no_secret(&json);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["summary"]["credentials"], 5);
    assert_eq!(v["clients"][0]["credentials"][0]["rotations"], 2);
    assert_eq!(v["prepared_by"], keyward::audit::actor());
    insta::assert_snapshot!("report_json", without_actor(&json));
}

#[test]
fn client_filter_and_unknown_client() {
    let ws = fixture_workspace();
    let md = ws.ok(&["report", "--client", "bluebird"], "");
    assert!(md.contains("## Bluebird Bakery (bluebird)"), "{md}");
    assert!(!md.contains("ACME"), "{md}");
    assert!(
        md.contains(
            "As of 2026-11-26 12:00 UTC: 2 credentials, 0 expired, 0 need rotation, 0 stale, 1 revoked."
        ),
        "{md}"
    );
    assert_one_line_error(
        &ws.run(&["report", "--client", "nobody"], ""),
        "no client `nobody`",
    );
}

#[test]
fn output_writes_a_private_file_atomically_and_never_over_the_inventory() {
    use std::os::unix::fs::PermissionsExt;
    let ws = fixture_workspace();
    let out = ws.path("acme-report.csv");
    std::fs::write(&out, "an older report").unwrap();
    let said = ws.ok(
        &[
            "report",
            "--client",
            "acme",
            "--format",
            "csv",
            "--output",
            out.to_str().unwrap(),
        ],
        "",
    );
    assert!(said.contains("Wrote"), "{said}");
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        written,
        ws.ok(&["report", "--client", "acme", "--format", "csv"], "")
    );
    let mode = std::fs::metadata(&out).unwrap().permissions().mode();
    // Private like every file keyward writes; the person shares it on purpose.
    assert_eq!(mode & 0o777, 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(ws.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            // The temp file is `.acme-report.csv.XXXXXX.tmp` (`.keyward-report-…` before).
            name.starts_with(".keyward-report-") || name.ends_with(".tmp")
        })
        .collect();
    assert!(leftovers.is_empty(), "no temp file is left behind");

    let before = hash(&ws.inventory());
    let refused = ws.run(&["report", "-o", ws.inventory().to_str().unwrap()], "");
    assert_one_line_error(&refused, "is the inventory or one of its files");
    assert_eq!(hash(&ws.inventory()), before);
}

#[test]
fn a_report_of_the_demo_holds_no_secret_in_any_format() {
    let ws = Workspace::new();
    let kept = ws.path("kept");
    ws.ok(&["demo", "--keep-in", kept.to_str().unwrap()], "");
    let inventory = kept.join("demo.yaml.age");
    let identity = kept.join("demo-identity.txt");
    let secrets = demo_secrets(&inventory, &identity);
    assert_eq!(secrets.len(), 25);
    for format in ["markdown", "csv", "json"] {
        let out = ws
            .keyward()
            .env("KEYWARD_INVENTORY", &inventory)
            .env("KEYWARD_IDENTITY", &identity)
            .args(["report", "--format", format])
            .output()
            .unwrap();
        assert!(out.status.success(), "{format}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Bluebird Bakery"), "{format}: {text}");
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{format} holds a secret");
        }
        assert!(!text.contains(keyward::secret::MASK), "{format}: {text}");
        // Every demo secret starts with `demo_`; the remote ids only contain it (`sbx_demo_`).
        for (i, _) in text.match_indices("demo_") {
            let before = text[..i].chars().next_back();
            assert!(
                before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{format}: a `demo_` value starts at byte {i}"
            );
        }
    }
}

/// The demo's secret values, read through the library.
fn demo_secrets(inventory: &Path, identity: &Path) -> Vec<String> {
    let keys = keyward::store::Keyring::load(&[identity.to_path_buf()]).unwrap();
    let (_, inv) = keyward::store::Store::open(inventory, &keys).unwrap();
    let secrets: Vec<String> = inv
        .credentials()
        .filter_map(|(_, _, c)| c.secret.as_ref())
        .map(|s| s.expose_secret().to_string())
        .collect();
    assert!(secrets.iter().all(|s| s.starts_with("demo_")));
    secrets
}
