//! The real `keyward` binary, command by command: init, add, list, show, import,
//! recipients, check and demo; age CLI interop both ways; every bad input leaving the
//! inventory byte-for-byte untouched; and concurrent writers.

mod support;

use std::process::Command;

use support::workspace::{age, assert_one_line_error, hash, run_with_stdin, Workspace};

const SECRET: &str = "sk-live-7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c1e";

fn add_sendgrid(ws: &Workspace) {
    ws.ok(
        &[
            "add",
            "acme/mail",
            "--provider",
            "manual",
            "--scope",
            "mail.send",
            "--used-by",
            "contact form",
            "--expires",
            "2026-12-01",
            "--owner",
            "alice",
        ],
        &format!("{SECRET}\n"),
    );
}

#[test]
fn init_creates_an_identity_and_an_empty_inventory_and_refuses_to_overwrite() {
    let ws = Workspace::new();
    let out = ws.ok(&["init"], "");
    assert!(out.contains("Created identity"), "{out}");
    assert!(ws.default_identity().is_file());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(ws.inventory()).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        ws.ok(&["list"], "").trim(),
        "The inventory is empty: add a credential with `keyward add` or `keyward import`."
    );
    let before = hash(&ws.inventory());
    let again = ws.run(&["init"], "");
    assert_one_line_error(&again, "already exists");
    assert_eq!(hash(&ws.inventory()), before);
}

#[test]
fn add_reads_the_secret_from_stdin_and_show_masks_it() {
    let ws = Workspace::new();
    ws.init();
    add_sendgrid(&ws);
    let shown = ws.ok(&["show", "acme/mail"], "");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(
        shown.contains("••••••••9c1e"),
        "the hint shows the last four: {shown}"
    );
    assert!(shown.contains("due-soon"), "{shown}");
    let json = ws.ok(&["show", "acme/mail", "--json"], "");
    assert!(!json.contains(SECRET), "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["status"], "due-soon");
    assert_eq!(v["has_secret"], true);
    assert_eq!(v["used_by"][0], "contact form");
    // The file decrypts with the age CLI and holds the secret: keyward → age.
    let plain = age(
        &[
            "-d",
            "-i",
            ws.default_identity().to_str().unwrap(),
            ws.inventory().to_str().unwrap(),
        ],
        "",
    );
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let text = String::from_utf8(plain.stdout).unwrap();
    assert!(
        text.contains(SECRET) && text.contains("version: 1"),
        "{text}"
    );
}

#[test]
fn add_refuses_a_taken_address_and_an_empty_secret() {
    let ws = Workspace::new();
    ws.init();
    add_sendgrid(&ws);
    let before = hash(&ws.inventory());
    assert_one_line_error(
        &ws.run(&["add", "acme/mail", "--provider", "manual"], "x\n"),
        "already exists",
    );
    assert_one_line_error(
        &ws.run(&["add", "acme/other", "--provider", "manual"], ""),
        "the secret is empty",
    );
    assert_eq!(hash(&ws.inventory()), before);
}

#[test]
fn list_filters_and_json_never_carry_the_secret() {
    let ws = Workspace::new();
    ws.init();
    add_sendgrid(&ws);
    ws.ok(
        &[
            "add",
            "beta/bot",
            "--provider",
            "manual",
            "--created",
            "2026-11-20",
            "--last-used",
            "2026-06-01",
            "--no-secret",
        ],
        "",
    );
    let all = ws.ok(&["list"], "");
    assert!(
        all.contains("acme/mail") && all.contains("beta/bot"),
        "{all}"
    );
    let acme = ws.ok(&["list", "--client", "acme"], "");
    assert!(
        acme.contains("acme/mail") && !acme.contains("beta/bot"),
        "{acme}"
    );
    let expiring = ws.ok(&["list", "--expiring", "10"], "");
    assert!(
        expiring.contains("acme/mail") && !expiring.contains("beta/bot"),
        "{expiring}"
    );
    let stale = ws.ok(&["list", "--stale"], "");
    assert!(
        stale.contains("beta/bot") && !stale.contains("acme/mail"),
        "{stale}"
    );
    let json = ws.ok(&["list", "--json"], "");
    assert!(!json.contains(SECRET));
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert_eq!(rows[1]["status"], "stale");
    assert_one_line_error(
        &ws.run(&["list", "--client", "nobody"], ""),
        "no client `nobody`",
    );
}

#[test]
fn check_exit_codes_follow_the_worst_status() {
    let ws = Workspace::new();
    ws.init();
    assert_eq!(ws.run(&["check"], "").status.code(), Some(0));
    add_sendgrid(&ws); // expires in 5 days: due soon
    let out = ws.run(&["check"], "");
    assert_eq!(out.status.code(), Some(1));
    let line = String::from_utf8_lossy(&out.stdout);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.starts_with("WARNING: 1 credentials:"), "{line}");
    ws.ok(
        &[
            "add",
            "acme/old",
            "--provider",
            "manual",
            "--expires",
            "2026-11-01",
        ],
        "x\n",
    );
    let out = ws.run(&["check", "--json"], "");
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["exit"], 2);
    assert_eq!(v["counts"]["expired"], 1);
    // Could not check: the inventory does not open.
    let missing = ws
        .keyward()
        .args(["check", "--inventory", "/nonexistent/inv.age"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(3));
}

#[test]
fn import_dry_run_shows_changes_and_writes_nothing_then_import_applies() {
    let ws = Workspace::new();
    ws.init();
    add_sendgrid(&ws);
    let csv = ws.path("keys.csv");
    std::fs::write(
        &csv,
        "client,integration,provider,scopes,expires_at,secret\nacme,mail,manual,mail.send,2027-03-01,\nacme,crm,manual,contacts,2027-01-01,crm-secret-value-0123456789\n",
    )
    .unwrap();
    let before = hash(&ws.inventory());
    let dry = ws.ok(&["import", csv.to_str().unwrap(), "--dry-run"], "");
    assert!(dry.contains("change     acme/mail (expires_at)"), "{dry}");
    assert!(dry.contains("add        acme/crm"), "{dry}");
    assert!(
        dry.contains("1 to add, 1 to change, 0 unchanged (dry run: nothing written)"),
        "{dry}"
    );
    assert_eq!(hash(&ws.inventory()), before);
    let out = ws.run(&["import", csv.to_str().unwrap()], "");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds secrets in plain text"));
    let shown = ws.ok(&["show", "acme/crm", "--json"], "");
    assert!(!shown.contains("crm-secret-value"));
    assert!(shown.contains("\"has_secret\": true"), "{shown}");
    // YAML from stdin.
    let yaml =
        "clients:\n  - id: beta\n    integrations:\n      - id: bot\n        provider: manual\n";
    let out = ws.ok(&["import", "-", "--format", "yaml"], yaml);
    assert!(out.contains("add        beta/bot"), "{out}");
    // A bad row names file, line and column, and changes nothing.
    let before = hash(&ws.inventory());
    std::fs::write(
        &csv,
        "client,integration,provider,expires_at\nacme,x,manual,soon\n",
    )
    .unwrap();
    assert_one_line_error(
        &ws.run(&["import", csv.to_str().unwrap()], ""),
        "keys.csv: line 2: column `expires_at`",
    );
    assert_eq!(hash(&ws.inventory()), before);
}

#[test]
fn recipients_add_and_remove_reencrypt_for_the_new_key() {
    let ws = Workspace::new();
    ws.init();
    add_sendgrid(&ws);
    let second = ws.path("second.txt");
    let keygen = Command::new("age-keygen")
        .args(["-o", second.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(keygen.status.success());
    let public = String::from_utf8_lossy(&keygen.stderr)
        .trim()
        .trim_start_matches("Public key: ")
        .to_string();
    ws.ok(&["recipients", "add", &public], "");
    assert!(ws.ok(&["recipients", "list"], "").contains(&public));
    // The second identity alone now opens it, with keyward and with the age CLI.
    assert!(ws
        .ok(&["-i", second.to_str().unwrap(), "list"], "")
        .contains("acme/mail"));
    let plain = age(
        &[
            "-d",
            "-i",
            second.to_str().unwrap(),
            ws.inventory().to_str().unwrap(),
        ],
        "",
    );
    assert!(plain.status.success());
    // Removing the first leaves only the second able to open it.
    let first = std::fs::read_to_string(ws.default_identity()).unwrap();
    let first_public = first
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    ws.ok(
        &[
            "-i",
            second.to_str().unwrap(),
            "recipients",
            "remove",
            &first_public,
        ],
        "",
    );
    assert_one_line_error(&ws.run(&["list"], ""), "none of the identities tried");
    assert_one_line_error(
        &ws.run(
            &[
                "-i",
                second.to_str().unwrap(),
                "recipients",
                "remove",
                &public,
            ],
            "",
        ),
        "refusing to remove the last recipient",
    );
    assert_one_line_error(
        &ws.run(
            &[
                "-i",
                second.to_str().unwrap(),
                "recipients",
                "add",
                "age1notakey",
            ],
            "",
        ),
        "recipient `age1notakey`",
    );
}

#[test]
fn demo_lists_every_status_from_a_throwaway_copy() {
    let ws = Workspace::new();
    let out = ws.ok(&["demo"], "");
    for status in ["expired", "overdue", "due-soon", "stale", "unknown", "ok"] {
        assert!(out.contains(status), "demo lacks {status}: {out}");
    }
    assert_eq!(out.lines().count(), 26, "{out}");
    let kept = ws.path("kept");
    let printed = ws.ok(&["demo", "--keep-in", kept.to_str().unwrap()], "");
    assert!(printed.contains("export KEYWARD_INVENTORY="), "{printed}");
    let list = ws
        .keyward()
        .env("KEYWARD_INVENTORY", kept.join("demo.yaml.age"))
        .env("KEYWARD_IDENTITY", kept.join("demo-identity.txt"))
        .args(["list", "--json"])
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 25);
}

fn write_plain_inventory(ws: &Workspace, recipient_args: &[&str], armor: bool) {
    let yaml = format!(
        "version: 1\nrecipients: [\"{}\"]\nclients:\n  - id: acme\n    integrations:\n      - id: bot\n        provider: manual\n        secret: {SECRET}\n",
        recipient_args[1]
    );
    let mut args: Vec<&str> = vec![];
    if armor {
        args.push("-a");
    }
    let out_path = ws.inventory();
    args.extend(["-o", out_path.to_str().unwrap()]);
    let (flag, value) = (recipient_args[0], recipient_args[2]);
    args.extend([flag, value]);
    let out = age(&args, &yaml);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn files_from_the_age_cli_open_in_keyward_x25519_and_armored() {
    for armor in [false, true] {
        let ws = Workspace::new();
        let id = ws.path("id.txt");
        let keygen = Command::new("age-keygen")
            .args(["-o", id.to_str().unwrap()])
            .output()
            .unwrap();
        let public = String::from_utf8_lossy(&keygen.stderr)
            .trim()
            .trim_start_matches("Public key: ")
            .to_string();
        write_plain_inventory(&ws, &["-r", &public, &public], armor);
        let out = ws.ok(&["-i", id.to_str().unwrap(), "list"], "");
        assert!(out.contains("acme/bot"), "{out}");
        // keyward re-saves it (binary, not armored) and the age CLI still opens it.
        ws.ok(
            &[
                "-i",
                id.to_str().unwrap(),
                "add",
                "acme/new",
                "--provider",
                "manual",
                "--no-secret",
            ],
            "",
        );
        let plain = age(
            &[
                "-d",
                "-i",
                id.to_str().unwrap(),
                ws.inventory().to_str().unwrap(),
            ],
            "",
        );
        assert!(String::from_utf8_lossy(&plain.stdout).contains("id: new"));
    }
}

#[test]
fn ssh_keys_open_inventories_both_ways_ed25519_and_rsa() {
    for kind in [["-t", "ed25519"], ["-t", "rsa"]] {
        let ws = Workspace::new();
        let key = ws.path("id_test");
        let gen = Command::new("ssh-keygen")
            .args(kind)
            .args([
                "-N",
                "",
                "-q",
                "-C",
                "test@keyward",
                "-f",
                key.to_str().unwrap(),
            ])
            .output()
            .expect("ssh-keygen");
        assert!(
            gen.status.success(),
            "{}",
            String::from_utf8_lossy(&gen.stderr)
        );
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        let pub_path = format!("{}.pub", key.display());
        // age CLI → keyward.
        write_plain_inventory(&ws, &["-R", public.trim(), &pub_path], false);
        assert!(ws
            .ok(&["-i", key.to_str().unwrap(), "list"], "")
            .contains("acme/bot"));
        // keyward → age CLI: keyward init with the SSH key as identity uses its .pub.
        let ws2 = Workspace::new();
        let out = ws2.ok(&["-i", key.to_str().unwrap(), "init"], "");
        assert!(
            out.contains(public.split_whitespace().nth(1).unwrap()),
            "{out}"
        );
        ws2.ok(
            &[
                "-i",
                key.to_str().unwrap(),
                "add",
                "acme/k",
                "--provider",
                "manual",
            ],
            "ssh-secret-abcdef\n",
        );
        let plain = age(
            &[
                "-d",
                "-i",
                key.to_str().unwrap(),
                ws2.inventory().to_str().unwrap(),
            ],
            "",
        );
        assert!(
            plain.status.success(),
            "{kind:?}: {}",
            String::from_utf8_lossy(&plain.stderr)
        );
        assert!(String::from_utf8_lossy(&plain.stdout).contains("ssh-secret-abcdef"));
    }
}

/// Every bad input: one line naming the file and the problem, exit 1, file untouched.
#[test]
fn bad_inputs_fail_cleanly_and_leave_the_file_untouched() {
    let ws = Workspace::new();
    ws.init();
    add_sendgrid(&ws);
    let inv = ws.inventory();
    let inv_s = inv.to_str().unwrap().to_string();
    let good = std::fs::read(&inv).unwrap();
    let public = std::fs::read_to_string(ws.default_identity())
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_string))
        .unwrap();

    let check = |label: &str, contents: Option<&[u8]>, extra: &[&str], expect: &str| {
        if let Some(bytes) = contents {
            std::fs::write(&inv, bytes).unwrap();
        }
        let before = hash(&inv);
        let mut args: Vec<&str> = extra.to_vec();
        args.extend(["add", "acme/x", "--provider", "manual", "--no-secret"]);
        let out = ws.run(&args, "");
        let line = assert_one_line_error(&out, expect);
        assert!(
            line.contains(&inv_s) || label == "identity",
            "{label}: names the file: {line}"
        );
        assert_eq!(hash(&inv), before, "{label}: file changed");
        let list = ws.run(&[extra, &["list"]].concat(), "");
        assert_eq!(list.status.code(), Some(1), "{label}: list exit code");
    };

    // Wrong identity: another age key.
    let other = ws.path("other.txt");
    Command::new("age-keygen")
        .args(["-o", other.to_str().unwrap()])
        .output()
        .unwrap();
    check(
        "wrong identity",
        None,
        &["-i", other.to_str().unwrap()],
        "none of the identities tried",
    );
    // An identity file that is not one.
    let junk = ws.path("junk.txt");
    std::fs::write(&junk, "hello\n").unwrap();
    check(
        "identity",
        None,
        &["-i", junk.to_str().unwrap()],
        "identity",
    );
    // Truncated ciphertext.
    check(
        "truncated",
        Some(&good[..good.len() - 40]),
        &[],
        "damaged or truncated",
    );
    // A flipped byte in the payload.
    let mut flipped = good.clone();
    let n = flipped.len() - 10;
    flipped[n] ^= 0x55;
    check("corrupted", Some(&flipped), &[], "damaged or truncated");
    // Not age at all.
    check(
        "not age",
        Some(b"version: 1\nclients: []\n"),
        &[],
        "not an age-encrypted inventory",
    );
    // Invalid YAML and a schema error, encrypted properly with the age CLI.
    for (yaml, expect) in [
        ("version: 1\nclients: [\n", "line"),
        (
            "version: 1\nclients:\n  - id: acme\n    colour: red\n",
            "clients[0]: unknown field `colour`",
        ),
        ("version: 7\n", "reads version 1, the file says 7"),
    ] {
        let enc = ws.path("enc.age");
        let out = age(&["-r", &public, "-o", enc.to_str().unwrap()], yaml);
        assert!(out.status.success());
        check(expect, Some(&std::fs::read(&enc).unwrap()), &[], expect);
    }
    std::fs::write(&inv, &good).unwrap();
    // The path is a directory, or missing.
    let dir = ws.path("a-dir");
    std::fs::create_dir(&dir).unwrap();
    let out = ws.run(&["--inventory", dir.to_str().unwrap(), "list"], "");
    assert_one_line_error(&out, "is a directory");
    let out = ws.run(
        &[
            "--inventory",
            ws.path("missing.age").to_str().unwrap(),
            "list",
        ],
        "",
    );
    assert_one_line_error(&out, "no such inventory");
    assert_eq!(std::fs::read(&inv).unwrap(), good);
}

/// Regression: holding the lock in the test process itself raced with other tests' forked
/// children, which briefly share the open lock during fork; a separate `flock` process
/// (util-linux, the same flock(2) lock keyward takes) holds it instead.
#[test]
fn a_second_writer_is_told_who_holds_the_lock() {
    let ws = Workspace::new();
    ws.init();
    let before = hash(&ws.inventory());
    let lock = format!("{}.lock", ws.inventory().display());
    // The holder writes its pid, as keyward does, then holds the lock as a running
    // `keyward rotate` would.
    let mut holder = Command::new("sh")
        .args([
            "-c",
            &format!("echo $$ > '{lock}'; exec flock -o '{lock}' sleep 60"),
        ])
        .spawn()
        .expect("sh and flock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while Command::new("flock")
        .args(["-n", &lock, "true"])
        .status()
        .unwrap()
        .success()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the holder never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = ws.run(
        &["add", "acme/x", "--provider", "manual", "--no-secret"],
        "",
    );
    assert_one_line_error(&out, &format!("locked by process {}", holder.id()));
    assert_eq!(hash(&ws.inventory()), before);
    // Readers are not blocked.
    assert!(ws.run(&["list"], "").status.success());
    holder.kill().unwrap();
    holder.wait().unwrap();
    ws.ok(
        &["add", "acme/x", "--provider", "manual", "--no-secret"],
        "",
    );
}

#[test]
fn concurrent_writers_never_lose_an_update() {
    let ws = Workspace::new();
    ws.init();
    let children: Vec<_> = (0..8)
        .map(|i| {
            ws.keyward()
                .args([
                    "add",
                    &format!("acme/k{i}"),
                    "--provider",
                    "manual",
                    "--no-secret",
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut succeeded = Vec::new();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            succeeded.push(format!("acme/k{i}"));
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("locked by process"),
                "only a lock may refuse a writer: {err}"
            );
        }
    }
    assert!(!succeeded.is_empty());
    let rows: serde_json::Value = serde_json::from_str(&ws.ok(&["list", "--json"], "")).unwrap();
    let mut present: Vec<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap().to_string())
        .collect();
    present.sort();
    succeeded.sort();
    assert_eq!(
        present, succeeded,
        "every successful write is in the file, and nothing else"
    );
}

#[test]
fn saves_keep_backups_of_previous_versions() {
    let ws = Workspace::new();
    ws.init();
    let first = std::fs::read(ws.inventory()).unwrap();
    for i in 0..4 {
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
    let b1 = keyward::store::backup_path(&ws.inventory(), 1);
    let b3 = keyward::store::backup_path(&ws.inventory(), 3);
    assert!(b1.is_file() && b3.is_file());
    assert!(!keyward::store::backup_path(&ws.inventory(), 4).exists());
    assert_ne!(
        std::fs::read(&b3).unwrap(),
        first,
        "only three generations are kept"
    );
    let old = ws.ok(&["--inventory", b1.to_str().unwrap(), "list"], "");
    assert!(old.contains("acme/k2") && !old.contains("acme/k3"), "{old}");
    // No temp files are left beside the inventory.
    let leftovers: Vec<_> = std::fs::read_dir(ws.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn usage_errors_and_help_do_not_panic() {
    let ws = Workspace::new();
    let out = ws.run(&["show", "not-an-address"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not CLIENT/INTEGRATION"));
    let help = ws.ok(&["--help"], "");
    for cmd in [
        "init",
        "list",
        "show",
        "add",
        "import",
        "recipients",
        "check",
        "demo",
    ] {
        assert!(help.contains(cmd), "{help}");
    }
    let _ = run_with_stdin(ws.keyward().arg("--version"), "");
}

/// A long session (the dashboard) saves with the lock held only for the save: another
/// writer's change made meanwhile is refused, never overwritten.
#[test]
fn a_brief_save_refuses_to_overwrite_another_writers_change() {
    let ws = Workspace::new();
    ws.init();
    let mut keys = keyward::store::Keyring::new();
    keys.add_file(&ws.default_identity()).unwrap();
    let (mut store, mut inv) = keyward::store::Store::open(&ws.inventory(), &keys).unwrap();
    // Nobody else wrote: the save goes through, and the lock is free again afterwards.
    inv.insert(
        "acme",
        keyward::inventory::Credential::new("a", keyward::inventory::ProviderKind::Manual),
    );
    store.save_briefly(&inv).unwrap();
    ws.ok(
        &["add", "acme/b", "--provider", "manual", "--no-secret"],
        "",
    );
    // Another writer changed the file: the session's save is refused.
    inv.insert(
        "acme",
        keyward::inventory::Credential::new("c", keyward::inventory::ProviderKind::Manual),
    );
    let before = hash(&ws.inventory());
    let err = store.save_briefly(&inv).unwrap_err();
    assert!(
        err.to_string()
            .contains("changed on disk by another keyward"),
        "{err}"
    );
    assert_eq!(hash(&ws.inventory()), before);
    let list = ws.ok(&["list"], "");
    assert!(
        list.contains("acme/a") && list.contains("acme/b") && !list.contains("acme/c"),
        "{list}"
    );
}

/// Regression: `keyward show … | head` panicked with "failed printing to stdout: Broken
/// pipe" and a backtrace.
#[test]
fn a_reader_closing_the_pipe_early_is_not_a_panic() {
    let ws = Workspace::new();
    let kept = ws.path("demo");
    ws.ok(&["demo", "--keep-in", kept.to_str().unwrap()], "");
    for args in [&["list"][..], &["show", "acme/crm-sync"], &["report"]] {
        let mut child = ws
            .keyward()
            .env("KEYWARD_INVENTORY", kept.join("demo.yaml.age"))
            .env("KEYWARD_IDENTITY", kept.join("demo-identity.txt"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader goes away before keyward prints
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

/// The demo's sandbox is seeded from the demo inventory, so a newcomer can sync, verify
/// and rotate demo keys offline exactly as with a real provider.
#[test]
fn the_demo_syncs_verifies_and_rotates_offline() {
    let ws = Workspace::new();
    let kept = ws.path("demo");
    ws.ok(&["demo", "--keep-in", kept.to_str().unwrap()], "");
    let demo = |args: &[&str]| {
        ws.keyward()
            .env("KEYWARD_INVENTORY", kept.join("demo.yaml.age"))
            .env("KEYWARD_IDENTITY", kept.join("demo-identity.txt"))
            .args(args)
            .output()
            .unwrap()
    };
    let sync = demo(&["sync", "--json"]);
    assert_eq!(
        sync.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&sync.stderr)
    );
    let text = String::from_utf8_lossy(&sync.stdout);
    assert!(
        !text.contains("\"missing\""),
        "every demo key is known to the sandbox: {text}"
    );
    let verify = demo(&["verify", "acme/mail-send"]);
    assert_eq!(verify.status.code(), Some(0));
    let rotate = demo(&["rotate", "acme/mail-send", "--yes"]);
    let err = String::from_utf8_lossy(&rotate.stderr);
    assert_eq!(
        rotate.status.code(),
        Some(0),
        "{err}{}",
        String::from_utf8_lossy(&rotate.stdout)
    );
    let shown: serde_json::Value =
        serde_json::from_slice(&demo(&["show", "acme/mail-send", "--json"]).stdout).unwrap();
    assert_ne!(
        shown["remote_id"], "sbx_demo_0002",
        "a new key replaced the old one"
    );
    assert_eq!(shown["status"], "ok");
    assert_eq!(
        demo(&["verify", "acme/mail-send"]).status.code(),
        Some(0),
        "the new secret works"
    );
}

/// A crash while an inventory is open must not write its plaintext to a core file.
#[test]
fn core_dumps_are_off_while_keyward_runs() {
    let ws = Workspace::new();
    ws.init();
    // `add` waits for the secret on stdin: alive long enough to look at its limits.
    let mut child = ws
        .keyward()
        .args(["add", "acme/x", "--provider", "manual"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let limits_path = format!("/proc/{}/limits", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let core = loop {
        let limits = std::fs::read_to_string(&limits_path).unwrap_or_default();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .unwrap_or("")
            .to_string();
        let hard_is_zero = line.split_whitespace().nth(5) == Some("0");
        if hard_is_zero || std::time::Instant::now() > deadline {
            break line;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    drop(child.stdin.take());
    child.wait().unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(
        &fields[4..6],
        ["0", "0"],
        "soft and hard core limits: {core}"
    );
}

/// Regression: a private key passed to `recipients add` was echoed back in the error.
#[test]
fn a_private_key_given_as_a_recipient_is_not_echoed() {
    let ws = Workspace::new();
    ws.init();
    let private = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ";
    let out = ws.run(&["recipients", "add", private], "");
    let line = assert_one_line_error(&out, "this is a private key");
    assert!(!line.contains("QQQQ"), "{line}");
}

#[test]
fn connections_take_their_secrets_from_stdin_and_never_show_them() {
    let ws = Workspace::new();
    ws.init();
    let key_id = "AKIAEXAMPLECONN00001";
    let secret = "conn-secret-access-key-0123456789abcdef";
    let added = ws.run(
        &[
            "connections",
            "add",
            "acme-aws",
            "--provider",
            "aws-iam",
            "--endpoint",
            "http://127.0.0.1:5000",
            "--param",
            "region=eu-west-1",
            "--auth",
            "access_key_id",
            "--auth",
            "secret_access_key",
        ],
        &format!("{key_id}\n{secret}\n"),
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let listed = ws.ok(&["connections", "list"], "");
    assert!(
        listed.contains("acme-aws") && listed.contains("access_key_id, secret_access_key"),
        "{listed}"
    );
    assert!(listed.contains("region=eu-west-1"), "{listed}");
    let json = ws.ok(&["connections", "list", "--json"], "");
    for shown in [
        &listed,
        &json,
        &String::from_utf8_lossy(&added.stdout).to_string(),
    ] {
        assert!(
            !shown.contains(secret) && !shown.contains(key_id),
            "{shown}"
        );
    }
    // The secrets are in the encrypted file, for keyward to use.
    let plain = age(
        &[
            "-d",
            "-i",
            ws.default_identity().to_str().unwrap(),
            ws.inventory().to_str().unwrap(),
        ],
        "",
    );
    assert!(String::from_utf8_lossy(&plain.stdout).contains(secret));
    let log = std::fs::read_to_string(format!("{}.audit.jsonl", ws.inventory().display())).unwrap();
    assert!(!log.contains(secret), "{log}");
    let entries = ws.audit_entries();
    assert!(
        entries.iter().any(|e| e["action"] == "connection-added"),
        "{entries:?}"
    );
    // A credential can now name it; the connection cannot be removed while used.
    ws.ok(
        &[
            "add",
            "acme/crm",
            "--provider",
            "aws-iam",
            "--connection",
            "acme-aws",
            "--param",
            "user=crm",
        ],
        "x\n",
    );
    assert_one_line_error(
        &ws.run(&["connections", "remove", "acme-aws"], ""),
        "is used by acme/crm",
    );
    // Too few secrets: nothing saved.
    let before = hash(&ws.inventory());
    let out = ws.run(
        &[
            "connections",
            "add",
            "other",
            "--provider",
            "sendgrid",
            "--auth",
            "api_key",
        ],
        "",
    );
    assert_one_line_error(&out, "expected 1 secret(s) (api_key)");
    assert_eq!(hash(&ws.inventory()), before);
}

/// Regression: `list --expiring 30` and the dashboard's `:expiring 30` picked 13 demo
/// credentials while `rotate --expiring 30` picked 5 (expiry only). One vocabulary now:
/// `list`, `rotate --dry-run`, `report` and the dashboard's `:due 30` pick the same set, and
/// revoked credentials are in none of them.
#[test]
fn list_rotate_report_and_the_dashboard_select_the_same_credentials() {
    use std::collections::BTreeSet;
    let ws = Workspace::new();
    let kept = ws.path("demo");
    ws.ok(&["demo", "--keep-in", kept.to_str().unwrap()], "");
    let inventory = kept.join("demo.yaml.age");
    let identity = kept.join("demo-identity.txt");
    let demo = |args: &[&str]| {
        let out = ws
            .keyward()
            .env("KEYWARD_INVENTORY", &inventory)
            .env("KEYWARD_IDENTITY", &identity)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // Retire one that falls due, so the comparison covers revoked credentials too.
    let due_before: Vec<serde_json::Value> =
        serde_json::from_str(&demo(&["list", "--due", "30", "--json"])).unwrap();
    let victim = due_before[0]["address"].as_str().unwrap().to_string();
    demo(&["revoke", &victim, "--emergency", "--yes"]);

    let listed: BTreeSet<String> =
        serde_json::from_str::<Vec<serde_json::Value>>(&demo(&["list", "--due", "30", "--json"]))
            .unwrap()
            .iter()
            .map(|r| r["address"].as_str().unwrap().to_string())
            .collect();
    let planned: BTreeSet<String> = demo(&["rotate", "--due", "30", "--dry-run"])
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    let report: serde_json::Value =
        serde_json::from_str(&demo(&["report", "--due", "30", "--format", "json"])).unwrap();
    let reported: BTreeSet<String> = report["clients"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["credentials"].as_array().unwrap().clone())
        .map(|c| c["address"].as_str().unwrap().to_string())
        .collect();
    let keys = keyward::store::Keyring::load(std::slice::from_ref(&identity)).unwrap();
    let (_, inv) = keyward::store::Store::open(&inventory, &keys).unwrap();
    let now = keyward::inventory::parse_date(support::workspace::NOW).unwrap();
    let mut state = keyward::tui::state::State::new(
        inv,
        keyward::tui::state::Settings {
            title: "demo".into(),
            read_only: true,
            now,
            theme: keyward::tui::theme::Theme { color: false },
            can_save: false,
        },
        (120, 40),
    );
    keyward::tui::update::update(&mut state, keyward::tui::action::Action::StartCommand);
    for c in "due 30".chars() {
        keyward::tui::update::update(&mut state, keyward::tui::action::Action::Insert(c));
    }
    keyward::tui::update::update(&mut state, keyward::tui::action::Action::Submit);
    let shown: BTreeSet<String> = state
        .visible
        .iter()
        .map(|&r| state.rows[r].at.to_string())
        .collect();

    assert!(listed.len() >= 3, "the demo has work due: {listed:?}");
    assert!(
        !listed.contains(&victim),
        "a revoked credential is never due"
    );
    assert_eq!(
        planned, listed,
        "rotate --due 30 plans what list --due 30 lists"
    );
    assert_eq!(
        reported, listed,
        "report --due 30 covers the same credentials"
    );
    assert_eq!(shown, listed, "the dashboard's :due 30 shows the same rows");
}
