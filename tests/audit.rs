//! The audit log with the real binary: init, add, import and recipients append entries in
//! order, only after their save succeeded; `keyward audit` prints and filters them;
//! `--verify` names the first tampered line; no secret from stdin or an import ever
//! reaches the log file.

use crate::support;

use std::path::PathBuf;
use std::process::Command;

use support::workspace::{assert_one_line_error, hash, run_with_stdin, Workspace};

const SECRET: &str = "sk-live-audit-7f3a9c1e5b2d4f6a8c0e1b3d";
const CSV_SECRET: &str = "csv-secret-value-0123456789abcdef";
const YAML_SECRET: &str = "yaml-secret-value-fedcba9876543210";

fn log_path(ws: &Workspace) -> PathBuf {
    keyward::audit::AuditLog::for_inventory(&ws.inventory())
        .path()
        .to_path_buf()
}

/// The log's entries as JSON values, through `keyward audit --json`.
fn entries(ws: &Workspace, filter: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["audit", "--json"];
    args.extend_from_slice(filter);
    let v: serde_json::Value = serde_json::from_str(&ws.ok(&args, "")).unwrap();
    v.as_array().unwrap().clone()
}

fn actions(entries: &[serde_json::Value]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["credential"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect()
}

fn new_recipient(ws: &Workspace) -> String {
    let key = ws.path("second.txt");
    let out = Command::new("age-keygen")
        .args(["-o", key.to_str().unwrap()])
        .output()
        .expect("age-keygen: run scripts/test-setup.sh");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stderr)
        .trim()
        .trim_start_matches("Public key: ")
        .to_string()
}

#[test]
fn every_change_is_logged_in_order_with_its_actor_and_no_secret() {
    let ws = Workspace::new();
    ws.init();
    let out = run_with_stdin(
        ws.keyward()
            .env("USER", "tester")
            .args(["add", "acme/mail", "--provider", "sendgrid"]),
        &format!("{SECRET}\n"),
    );
    assert!(out.status.success());
    let csv = ws.path("keys.csv");
    std::fs::write(
        &csv,
        format!("client,integration,provider,expires_at,secret\nacme,mail,sendgrid,2027-03-01,\nacme,crm,manual,,{CSV_SECRET}\n"),
    )
    .unwrap();
    ws.ok(&["import", csv.to_str().unwrap()], "");
    // Unchanged rows and dry runs record nothing.
    ws.ok(&["import", csv.to_str().unwrap()], "");
    ws.ok(&["import", csv.to_str().unwrap(), "--dry-run"], "");
    ws.ok(
        &["import", "-", "--format", "yaml"],
        &format!("clients:\n  - id: beta\n    integrations:\n      - id: bot\n        provider: manual\n        secret: {YAML_SECRET}\n"),
    );
    let recipient = new_recipient(&ws);
    ws.ok(&["recipients", "add", &recipient], "");
    ws.ok(&["recipients", "remove", &recipient], "");

    let all = entries(&ws, &[]);
    let pairs: Vec<(&str, &str)> = vec![
        ("created", "-"),
        ("added", "acme/mail"),
        ("imported", "acme/mail"),
        ("imported", "acme/crm"),
        ("imported", "beta/bot"),
        ("recipient-added", "-"),
        ("recipient-removed", "-"),
    ];
    assert_eq!(
        actions(&all),
        pairs
            .iter()
            .map(|(a, c)| (a.to_string(), c.to_string()))
            .collect::<Vec<_>>()
    );
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e["seq"], i as u64 + 1);
    }
    assert!(
        all[1]["actor"].as_str().unwrap().starts_with("tester@"),
        "{}",
        all[1]
    );
    assert_eq!(all[1]["detail"], "provider sendgrid, secret stored");
    assert!(all[2]["detail"]
        .as_str()
        .unwrap()
        .starts_with("changed expires_at from "));
    assert_eq!(all[4]["detail"], "added from stdin");
    assert_eq!(all[5]["detail"], recipient.as_str());

    let text = std::fs::read_to_string(log_path(&ws)).unwrap();
    for secret in [SECRET, CSV_SECRET, YAML_SECRET] {
        assert!(!text.contains(secret), "a secret reached the log: {text}");
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(log_path(&ws)).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        ws.ok(&["audit", "--verify"], "").trim(),
        "7 entries, chain intact"
    );

    // Filters, and the table.
    assert_eq!(
        actions(&entries(&ws, &["--client", "acme"])).len(),
        3,
        "acme's three entries"
    );
    assert_eq!(
        actions(&entries(&ws, &["--credential", "acme/crm"])),
        vec![("imported".to_string(), "acme/crm".to_string())]
    );
    let table = ws.ok(&["audit", "--client", "beta"], "");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[0].starts_with("TIME (UTC)") && lines[0].contains("DETAIL"));
    assert!(lines[1].contains("imported") && lines[1].contains("beta/bot"));
    assert_eq!(
        ws.ok(&["audit", "--client", "nobody"], "").trim(),
        "No audit entries match."
    );
}

#[test]
fn a_failed_change_records_nothing() {
    let ws = Workspace::new();
    ws.init();
    ws.ok(
        &["add", "acme/x", "--provider", "manual", "--no-secret"],
        "",
    );
    let log = log_path(&ws);
    let before = hash(&log);

    // Locked by another writer.
    let lock = keyward::store::Lock::acquire(&ws.inventory()).unwrap();
    assert_one_line_error(
        &ws.run(
            &["add", "acme/y", "--provider", "manual"],
            "sk-never-logged-0123456789",
        ),
        "locked by process",
    );
    drop(lock);
    // Bad inputs: a taken address, an empty secret, a bad import row, an unknown recipient.
    assert_one_line_error(
        &ws.run(
            &["add", "acme/x", "--provider", "manual", "--no-secret"],
            "",
        ),
        "already exists",
    );
    assert_one_line_error(
        &ws.run(&["add", "acme/z", "--provider", "manual"], "\n"),
        "the secret is empty",
    );
    let csv = ws.path("bad.csv");
    std::fs::write(
        &csv,
        "client,integration,provider,expires_at\nacme,w,manual,soon\n",
    )
    .unwrap();
    assert_one_line_error(&ws.run(&["import", csv.to_str().unwrap()], ""), "line 2");
    assert_one_line_error(
        &ws.run(&["recipients", "remove", "age1nobody"], ""),
        "is not a recipient",
    );
    assert_eq!(hash(&log), before, "the log is untouched");
    assert_eq!(entries(&ws, &[]).len(), 2);
}

#[test]
fn verify_names_the_first_tampered_line() {
    let ws = Workspace::new();
    ws.init();
    for i in 0..3 {
        ws.ok(
            &[
                "add",
                &format!("acme/k{i}"),
                "--provider",
                "manual",
                "--no-secret",
            ],
            "",
        );
    }
    assert_eq!(
        ws.ok(&["audit", "--verify"], "").trim(),
        "4 entries, chain intact"
    );
    let log = log_path(&ws);
    let original = std::fs::read_to_string(&log).unwrap();

    // An edited line: the sealed words of acme/k1's entry replaced.
    let mut lines: Vec<String> = original.lines().map(String::from).collect();
    lines[2] = lines[2].replacen("\"sealed\":\"", "\"sealed\":\"AAAA", 1);
    let edited: String = lines.iter().map(|l| format!("{l}\n")).collect();
    assert_ne!(edited, original);
    std::fs::write(&log, &edited).unwrap();
    let out = ws.run(&["audit", "--verify"], "");
    let err = assert_one_line_error(&out, "line 3:");
    assert!(err.contains("edited"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());

    // A deleted line.
    let lines: Vec<&str> = original.lines().collect();
    let without: String = [lines[0], lines[1], lines[3]]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&log, without).unwrap();
    assert_one_line_error(&ws.run(&["audit", "--verify"], ""), "line 3:");

    // A write cut off mid-line (a crash while appending): verify names it, and the next
    // change is saved but says it was not logged rather than chaining onto a broken line.
    std::fs::write(&log, format!("{original}{{\"seq\":5,\"prev\":\"")).unwrap();
    assert_one_line_error(&ws.run(&["audit", "--verify"], ""), "line 5: cut off");
    let out = ws.run(
        &["add", "acme/late", "--provider", "manual", "--no-secret"],
        "",
    );
    assert_one_line_error(&out, "the change was saved, but not logged");
    assert!(ws.ok(&["list"], "").contains("acme/late"));

    // A deleted log is named: the inventory records which entry it was saved after
    // (issue 9). Listing an absent log shows nothing.
    std::fs::remove_file(&log).unwrap();
    assert_one_line_error(
        &ws.run(&["audit", "--verify"], ""),
        "the audit log is missing",
    );
    assert_eq!(ws.ok(&["audit"], "").trim(), "No audit entries match.");

    // An inventory that never had a log (created through the library, no entry yet).
    let fresh = Workspace::new();
    let recipient =
        keyward::store::keys::generate_identity_file(&fresh.default_identity()).unwrap();
    keyward::store::Store::create(
        &fresh.inventory(),
        &keyward::inventory::Inventory::new(vec![recipient]),
    )
    .unwrap();
    assert!(fresh
        .ok(&["audit", "--verify"], "")
        .contains("no audit log yet"));
}

/// A line as keyward wrote entries before they were sealed (the clear format of
/// `src/audit.rs` up to commit 77869ec): every field in the clear, `hash` over the others.
fn clear_line(seq: u64, prev: &str, credential: &str) -> String {
    let body = format!(
        "{{\"seq\":{seq},\"at\":\"2026-01-02T03:04:05.678Z\",\"actor\":\"old@host\",\
         \"action\":\"added\",\"credential\":\"{credential}\",\"detail\":\"before sealing\",\
         \"prev\":\"{prev}\"}}"
    );
    let hash = sha256_hex(body.as_bytes());
    format!("{},\"hash\":\"{hash}\"}}", &body[..body.len() - 1])
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn a_clear_log_from_before_sealing_still_verifies_and_gets_sealed_entries_appended() {
    let ws = Workspace::new();
    let recipient = keyward::store::keys::generate_identity_file(&ws.default_identity()).unwrap();
    keyward::store::Store::create(
        &ws.inventory(),
        &keyward::inventory::Inventory::new(vec![recipient]),
    )
    .unwrap()
    .accept_recipients(ws.seen_record())
    .unwrap();
    let first = clear_line(1, keyward::audit::GENESIS, "legacy/one");
    let second = clear_line(2, &sha256_hex(first.as_bytes()), "legacy/two");
    std::fs::write(log_path(&ws), format!("{first}\n{second}\n")).unwrap();
    assert_eq!(
        ws.ok(&["audit", "--verify"], "").trim(),
        "2 entries, chain intact; 2 written unsealed by an earlier keyward"
    );

    ws.ok(
        &["add", "acme/new", "--provider", "manual", "--no-secret"],
        "",
    );
    assert_eq!(
        ws.ok(&["audit", "--verify"], "").trim(),
        "3 entries, chain intact; 2 written unsealed by an earlier keyward"
    );
    let all = entries(&ws, &[]);
    assert_eq!(
        actions(&all),
        [
            ("added", "legacy/one"),
            ("added", "legacy/two"),
            ("added", "acme/new")
        ]
        .map(|(a, c)| (a.to_string(), c.to_string()))
    );
    // The old lines are left as they were; the new one is sealed onto them.
    let text = std::fs::read_to_string(log_path(&ws)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[..2], [first.as_str(), second.as_str()]);
    assert!(lines[2].contains("\"sealed\""), "{}", lines[2]);
    assert!(!lines[2].contains("acme"), "{}", lines[2]);
    assert!(lines[2].contains(&format!("\"prev\":\"{}\"", sha256_hex(second.as_bytes()))));
}

/// Regression (issue 9): the log beside the inventory named every client, credential and
/// key id in the clear, and so did the sandbox's state. Rotate, verify and sync a sandbox
/// credential; neither file names it or its keys, and every action is still on record.
#[test]
fn the_log_and_the_sandbox_state_name_no_client_credential_or_key() {
    let ws = Workspace::new();
    let before = support::sandbox_inventory::write(&ws, 1, None);
    let k0 = support::sandbox_inventory::at("acme/k0");
    let old_id = before.credential(&k0).unwrap().remote_id.clone().unwrap();
    // The first sync records what the sandbox says of the key (a change, so an entry).
    ws.ok(&["sync", "acme/k0"], "");
    ws.ok(&["rotate", "acme/k0", "--yes"], "");
    let out = ws.run(&["verify", "acme/k0"], "");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = support::sandbox_inventory::load(&ws);
    let new_id = after.credential(&k0).unwrap().remote_id.clone().unwrap();
    assert_ne!(new_id, old_id);

    let all = entries(&ws, &[]);
    for action in ["rotated", "verified", "synced"] {
        assert!(
            all.iter()
                .any(|e| e["action"] == action && e["credential"] == "acme/k0"),
            "no {action} entry: {all:?}"
        );
    }
    let verified = all.iter().find(|e| e["action"] == "verified").unwrap();
    assert_eq!(verified["detail"], "valid");
    assert!(ws.ok(&["audit", "--verify"], "").contains("chain intact"));

    let log = std::fs::read(log_path(&ws)).unwrap();
    let state = std::fs::read(ws.path("inventory.yaml.age.sandbox.json")).unwrap();
    for (what, bytes) in [("the audit log", &log), ("the sandbox state", &state)] {
        let text = String::from_utf8_lossy(bytes);
        for named in ["acme", "acme/k0", old_id.as_str(), new_id.as_str()] {
            assert!(
                !text.contains(named),
                "`{named}` readable in {what}: {text}"
            );
        }
    }
}

/// Regression (issue 9): `keyward verify` sends stored secrets to providers without a
/// trace in the log; a check that could not run is recorded too, with its reason.
#[test]
fn verify_is_recorded_for_each_credential_checked() {
    let ws = Workspace::new();
    ws.init();
    ws.ok(
        &["add", "acme/x", "--provider", "manual", "--no-secret"],
        "",
    );
    let out = ws.run(&["verify", "acme/x"], "");
    assert_eq!(out.status.code(), Some(3), "cannot check: no secret");
    let all = entries(&ws, &["--credential", "acme/x"]);
    let last = all.last().unwrap();
    assert_eq!(last["action"], "verified");
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .starts_with("cannot-check: "),
        "{last}"
    );
}

/// A passphrase-encrypted inventory has no recipients to seal entries to: they are sealed
/// to a log key kept inside it, which opening it with the passphrase gives back. One from
/// before sealing (here written by the age library, with no such key) gets its key at the
/// first open that can take the lock.
#[test]
fn a_passphrase_inventorys_entries_are_sealed_to_the_log_key_inside_it() {
    use age::secrecy::SecretString;
    use keyward::audit::{AuditAction, AuditLog, Event};
    use keyward::store::{Keyring, Store};
    use std::io::Write;

    const PASS: &str = "correct horse battery staple";
    let keys = || {
        let mut keys = Keyring::new();
        keys.set_passphrase(SecretString::from(PASS.to_string()));
        keys
    };
    let ws = Workspace::new();
    let plain = age::Encryptor::with_user_passphrase(SecretString::from(PASS.to_string()));
    let mut file = Vec::new();
    let mut writer = plain.wrap_output(&mut file).unwrap();
    writer.write_all(b"version: 1\nclients: []\n").unwrap();
    writer.finish().unwrap();
    std::fs::write(ws.inventory(), &file).unwrap();

    let (store, _) = Store::open(&ws.inventory(), &keys()).unwrap();
    assert_eq!(store.generation(), 1, "saved once, to keep its new log key");
    drop(store);
    let log = AuditLog::for_inventory(&ws.inventory());
    log.record(Event::new(
        AuditAction::Added,
        None,
        "the acme account, noted by a test",
    ))
    .unwrap();
    let text = std::fs::read_to_string(log.path()).unwrap();
    assert!(!text.contains("acme"), "{text}");

    // Opened again, as another process would: the key is in the file.
    let keys = keys();
    let (store, _) = Store::open(&ws.inventory(), &keys).unwrap();
    assert_eq!(store.generation(), 1, "no second save");
    let identities = store.audit_identities(&keys);
    let listing = log.read(&identities).unwrap();
    assert_eq!(listing.entries.len(), 1);
    assert_eq!(
        listing.entries[0].detail,
        "the acme account, noted by a test"
    );
    assert_eq!(log.verify(&identities).unwrap().sealed_to_others, 0);
    // The passphrase alone (no inventory opened) opens nothing.
    assert_eq!(log.read(&[]).unwrap().sealed_to_others, vec![1]);
}
