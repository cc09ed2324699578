//! The real `keyward` binary, command by command: init, add, list, show, import,
//! recipients, check and demo; age CLI interop both ways; every bad input leaving the
//! inventory byte-for-byte untouched; and concurrent writers.

use crate::support;

use std::process::Command;

use support::leak::assert_no_secret;
use support::workspace::{
    age, assert_one_line_error, assert_one_line_exit, hash, run_with_stdin, Workspace,
};

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
    assert_eq!(out.status.code(), Some(6));
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
/// A `sh` that writes `pid_line` (shell words: `$$` is its own pid) into the lock file `lock`,
/// as keyward does, then holds the lock as a running `keyward rotate` would; returns once the
/// lock is held.
fn hold_lock(lock: &str, pid_line: &str) -> std::process::Child {
    let holder = Command::new("sh")
        .args([
            "-c",
            &format!("echo {pid_line} > '{lock}'; exec flock -o '{lock}' sleep 60"),
        ])
        .spawn()
        .expect("sh and flock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while Command::new("flock")
        .args(["-n", lock, "true"])
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
    holder
}

#[test]
fn a_second_writer_is_told_who_holds_the_lock() {
    let ws = Workspace::new();
    ws.init();
    let before = hash(&ws.inventory());
    let lock = format!("{}.lock", ws.inventory().display());
    // The holder writes its pid, as keyward does, then holds the lock as a running
    // `keyward rotate` would.
    let mut holder = hold_lock(&lock, "$$");
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

/// Regression: "locked by process N" named whichever keyward last wrote its pid into the
/// lock file, not the process holding the lock.
#[test]
fn locked_by_names_the_holder_not_the_last_writer_of_the_lock_file() {
    let ws = Workspace::new();
    ws.init();
    let lock = format!("{}.lock", ws.inventory().display());
    // A stale pid in the file, as a keyward that wrote it and exited leaves it.
    let mut holder = hold_lock(&lock, "999999");
    let out = ws.run(
        &[
            "--json",
            "add",
            "acme/x",
            "--provider",
            "manual",
            "--no-secret",
        ],
        "",
    );
    let line = assert_one_line_error(&out, &format!("locked by process {};", holder.id()));
    assert!(!line.contains("999999"), "{line}");
    let error: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["error"]["kind"], "locked");
    holder.kill().unwrap();
    holder.wait().unwrap();
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
    let stderr = assert_one_line_exit(&out, 64, "is not CLIENT/INTEGRATION");
    assert!(stderr.ends_with("(see --help)\n"), "{stderr}");
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
    // A dry run exits as the run would up front (here: some need a person, and there is
    // no terminal), so its plan is read from its JSON, whose `exit` says the same.
    let dry = ws
        .keyward()
        .env("KEYWARD_INVENTORY", &inventory)
        .env("KEYWARD_IDENTITY", &identity)
        .args(["rotate", "--due", "30", "--dry-run", "--json"])
        .output()
        .unwrap();
    let dry_run: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(
        dry.status.code(),
        dry_run["exit"].as_i64().map(|c| c as i32)
    );
    let planned: BTreeSet<String> = dry_run["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["credential"].as_str().unwrap().to_string())
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

/// `keyward import inventories/example.yaml`, as the file's own comment recommends: every
/// credential and connection arrives, the policy is applied, and the recipients are listed
/// as not added (never dropped silently, never trusted from a file).
mod example_import {
    use super::*;

    fn example() -> String {
        format!("{}/inventories/example.yaml", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn the_example_inventory_imports_whole() {
        let ws = Workspace::new();
        ws.init();
        let before = hash(&ws.inventory());
        let dry = ws.ok(&["import", &example(), "--dry-run"], "");
        assert_eq!(hash(&ws.inventory()), before, "a dry run writes nothing");
        assert!(dry.contains("unchanged  policy"), "{dry}");
        let out = ws.ok(&["import", &example()], "");
        for line in [
            "add        connection acme-aws",
            "add        connection sandbox",
            "add        acme/crm-sync",
            "add        acme/mail-send",
            "add        bluebird/hubspot-app",
            "not added  recipient age1ksta85xwv2lsdl68lmj4dqwps5g4lp47zcf6uzgxxrnldmyrgvtqujzrjc",
            "not added  recipient ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsr1dYgxr8KpHMH0vC2Qj1K3aFW2xW5wNR0k3Dbc7Ac alice@laptop",
            "6 added, 0 changed, 1 unchanged, 2 not added",
        ] {
            assert!(out.contains(line), "missing `{line}`:\n{out}");
        }
        let listed = ws.ok(&["list", "--json"], "");
        for at in ["acme/crm-sync", "acme/mail-send", "bluebird/hubspot-app"] {
            assert!(listed.contains(at), "{listed}");
        }
        let recipients = ws.ok(&["recipients", "list"], "");
        assert!(!recipients.contains("alice@laptop"), "{recipients}");
        // Importing it again changes nothing.
        let again = ws.ok(&["import", &example()], "");
        assert!(again.contains("0 added, 0 changed"), "{again}");
        // The example's policy is keyward's default; a file with another one applies it.
        let text = std::fs::read_to_string(example()).unwrap();
        let changed = ws.path("example-45.yaml");
        std::fs::write(
            &changed,
            text.replacen("rotate_every_days: 90", "rotate_every_days: 45", 1),
        )
        .unwrap();
        let out = ws.ok(&["import", changed.to_str().unwrap()], "");
        assert!(
            out.contains("change     policy (rotate_every_days)"),
            "{out}"
        );
        let plain = age(
            &[
                "-d",
                "-i",
                ws.default_identity().to_str().unwrap(),
                ws.inventory().to_str().unwrap(),
            ],
            "",
        );
        let plain = String::from_utf8_lossy(&plain.stdout).to_string();
        assert!(plain.contains("rotate_every_days: 45"), "{plain}");
    }

    #[test]
    fn a_yaml_import_with_a_duplicate_id_is_refused_where_the_second_is_written() {
        let ws = Workspace::new();
        ws.init();
        let before = hash(&ws.inventory());
        let file = ws.path("dup.yaml");
        std::fs::write(
            &file,
            "version: 1\nclients:\n  - id: acme\n    integrations:\n      - id: bot\n        provider: manual\n      - id: bot\n        provider: sandbox\n",
        )
        .unwrap();
        assert_one_line_error(
            &ws.run(&["import", file.to_str().unwrap()], ""),
            "dup.yaml: line 7, column 9: clients[0].integrations[1].id: duplicate integration id (the first is at line 5, column 9)",
        );
        std::fs::write(&file, "clients:\n  - id: acme\n    colour: red\n").unwrap();
        assert_one_line_error(
            &ws.run(&["import", file.to_str().unwrap()], ""),
            "dup.yaml: line 3, column 5: clients[0]: unknown field `colour`",
        );
        assert_eq!(hash(&ws.inventory()), before);
    }
}

/// The README's table of what each provider can do is the one `keyward providers
/// --markdown` prints from the providers themselves (issue 11 item 10): a provider that
/// gains or loses an ability cannot leave the README behind.
#[test]
fn the_readme_providers_table_is_what_keyward_providers_prints() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start_mark = "<!-- keyward providers --markdown -->\n";
    let start = readme.find(start_mark).expect("the README marks the table") + start_mark.len();
    let end = readme[start..]
        .find("<!-- end of keyward providers -->")
        .expect("the README marks the table's end")
        + start;
    let ws = Workspace::new();
    let printed = ws.ok(&["providers", "--markdown"], "");
    assert_eq!(
        &readme[start..end],
        printed,
        "README.md's providers table differs from `keyward providers --markdown`: paste its output"
    );
    // Every provider the inventory accepts has its row.
    for kind in keyward::inventory::ProviderKind::ALL {
        assert!(
            printed.contains(&format!("| `{}` |", kind.as_str())),
            "{kind:?}: {printed}"
        );
    }
    let json = ws.ok(&["providers", "--json"], "");
    assert!(
        json.contains("\"schema\": \"keyward.providers/1\""),
        "{json}"
    );
}

/// The README's command table against the clap definitions: every command and every flag
/// `--help` shows is documented, so a flag cannot exist without being documented.
mod readme_commands {
    use clap::CommandFactory;

    /// The README's `## Commands` section: its prose (global and shared flags) and its
    /// table rows.
    fn commands_section() -> (String, Vec<String>) {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let start = readme.find("\n## Commands").expect("a ## Commands section");
        let rest = &readme[start + 1..];
        let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
        let section = &rest[..end];
        let (prose, rows): (Vec<&str>, Vec<&str>) =
            section.lines().partition(|l| !l.starts_with("| `"));
        (
            prose.join("\n"),
            rows.into_iter().map(str::to_string).collect(),
        )
    }

    /// The table row documenting the command `name` (its first cell starts with it).
    fn row<'a>(rows: &'a [String], name: &str) -> Option<&'a String> {
        rows.iter().find(|r| {
            r.strip_prefix("| `")
                .and_then(|cell| cell.strip_prefix(name))
                .is_some_and(|after| after.starts_with([' ', '`', '|']))
        })
    }

    fn visible_longs(cmd: &clap::Command) -> Vec<String> {
        cmd.get_arguments()
            .filter(|a| !a.is_hide_set() && !a.is_global_set())
            .filter_map(|a| a.get_long())
            .filter(|l| !["help", "version"].contains(l))
            .map(|l| format!("--{l}"))
            .collect()
    }

    /// The flags of `owner` its row does not mention. The shared selection flags may be
    /// described once in the prose above the table, for rows that say "selection flags".
    fn undocumented(row: &str, prose: &str, owner: &str, flags: Vec<String>) -> Vec<String> {
        flags
            .into_iter()
            .filter(|flag| {
                !(row.contains(flag.as_str())
                    || (prose.contains(flag.as_str()) && row.contains("selection flags")))
            })
            .map(|flag| format!("{owner} {flag}"))
            .collect()
    }

    #[test]
    fn every_command_and_flag_is_in_the_readme() {
        let (prose, rows) = commands_section();
        let mut cli = keyward::cli::Cli::command();
        cli.build();
        let mut missing = Vec::new();
        // Global options, and the top-level flags (no command), are described in the prose.
        for top in cli
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long())
            .filter(|l| !["help", "version"].contains(l))
        {
            if !prose.contains(&format!("--{top}")) {
                missing.push(format!("option --{top}"));
            }
        }
        // clap's own `help` command needs no row.
        for cmd in cli
            .get_subcommands()
            .filter(|c| !c.is_hide_set() && c.get_name() != "help")
        {
            let name = cmd.get_name();
            let Some(row) = row(&rows, name) else {
                missing.push(format!("command `{name}` (no table row)"));
                continue;
            };
            missing.extend(undocumented(row, &prose, name, visible_longs(cmd)));
            for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
                let sub_name = sub.get_name();
                if sub_name == "help" {
                    continue;
                }
                if !row.contains(sub_name) {
                    missing.push(format!("command `{name} {sub_name}`"));
                }
                missing.extend(undocumented(
                    row,
                    &prose,
                    &format!("{name} {sub_name}"),
                    visible_longs(sub),
                ));
            }
        }
        assert!(
            missing.is_empty(),
            "README.md's command table does not document:\n  {}",
            missing.join("\n  ")
        );
    }

    #[test]
    fn the_check_finds_an_undocumented_flag() {
        // The check above must be able to fail: a row without its flag is caught.
        let rows = vec!["| `show` | every field | `keyward show acme/x` |".to_string()];
        let shown = row(&rows, "show").unwrap();
        assert_eq!(
            undocumented(shown, "", "show", vec!["--json".into()]),
            vec!["show --json".to_string()]
        );
        assert!(row(&rows, "sho").is_none(), "a prefix is not a row");
    }
}

/// `keyward remove`: a live key is revoked first through revoke's own code (deleted now),
/// `--keep-remote` leaves it on purpose, a planned deletion is never forgotten, and each
/// removal is in the audit log.
mod remove_command {
    use super::*;
    use support::sandbox_inventory::{assert_no_secret, at, keys, load, write};

    fn stdout_of(out: &std::process::Output) -> String {
        let (o, e) = (
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        );
        assert_no_secret(&o);
        assert_no_secret(&e);
        assert!(out.status.success(), "stdout: {o}\nstderr: {e}");
        o
    }

    #[test]
    fn remove_revokes_a_live_key_first_and_logs_it() {
        let ws = Workspace::new();
        let inv = write(&ws, 3, None);
        let (k0, k1, k2) = (at("acme/k0"), at("acme/k1"), at("acme/k2"));
        // Without a terminal or --yes the revocation is refused, and nothing changes.
        let before = hash(&ws.inventory());
        let out = ws.run(&["remove", "acme/k0"], "");
        // 4: it needs a person, and there is none to ask (README's exit-code table).
        assert_eq!(out.status.code(), Some(4));
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("(a confirmation to revoke) need(s) a person and there is no terminal"),
            "{out:?}"
        );
        assert_eq!(hash(&ws.inventory()), before);
        assert_eq!(keys(&ws, &inv, &k0).len(), 1);

        let out = stdout_of(&ws.run(&["remove", "acme/k0", "--yes"], ""));
        assert!(
            out.contains("Removed acme/k0 (its key revoked first)."),
            "{out}"
        );
        assert!(load(&ws).credential(&k0).is_none());
        assert!(keys(&ws, &inv, &k0).is_empty(), "deleted at the provider");

        // --keep-remote: the key stays usable there, and keyward forgets it.
        let out = stdout_of(&ws.run(&["remove", "acme/k1", "--keep-remote"], ""));
        assert!(out.contains("left live at the provider"), "{out}");
        assert!(load(&ws).credential(&k1).is_none());
        assert_eq!(keys(&ws, &inv, &k1).len(), 1);

        // A planned revocation waits for its deletion: removing now would forget it.
        stdout_of(&ws.run(&["revoke", "acme/k2", "--yes"], ""));
        let before = hash(&ws.inventory());
        let line = assert_one_line_error(&ws.run(&["remove", "acme/k2"], ""), "acme/k2");
        assert!(
            line.contains("deleted after") && line.contains("--keep-remote"),
            "{line}"
        );
        assert_eq!(hash(&ws.inventory()), before);
        assert!(load(&ws).credential(&k2).is_some());

        // Entries are sealed: read them through `keyward audit`.
        let removed: Vec<_> = ws
            .audit_entries()
            .into_iter()
            .filter(|e| e["action"] == "removed")
            .collect();
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert!(
            removed.iter().any(|e| e["credential"] == "acme/k0"),
            "{removed:?}"
        );
        assert_one_line_error(&ws.run(&["remove", "acme/nope"], ""), "no credential");
    }

    /// `remove --json` reused revoke's code, which printed its text (and would print its
    /// own `keyward.revoke/1` object) on stdout: stdout must be one `keyward.remove/1`.
    #[test]
    fn remove_json_prints_one_remove_object_and_not_the_revocation() {
        let ws = Workspace::new();
        let inv = write(&ws, 3, None);
        stdout_of(&ws.run(&["revoke", "acme/k1", "--emergency", "--yes"], ""));
        let out = ws.run(&["--json", "remove", "acme/k0", "acme/k1", "--yes"], "");
        stdout_of(&out);
        let text = stable(&ws, &out);
        insta::assert_snapshot!("json_remove", text);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("revoking first"),
            "{out:?}"
        );
        assert!(keys(&ws, &inv, &at("acme/k0")).is_empty(), "revoked first");
        let kept = ws.run(&["--json", "remove", "acme/k2", "--keep-remote"], "");
        stdout_of(&kept);
        insta::assert_snapshot!("json_remove_keep_remote", stable(&ws, &kept));
        assert_eq!(keys(&ws, &inv, &at("acme/k2")).len(), 1, "left live");
        assert!(load(&ws).clients.is_empty(), "{:?}", load(&ws).clients);
    }
}

/// `keyward edit` with `EDITOR` set to a script: a good edit is saved through the store
/// (backup, audit entry), a bad one is refused with its line and column, and the draft never
/// outlives keyward: not when the editor crashes, nor when keyward is killed by a signal.
mod edit_command {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// An executable script at `name` in `ws` running `body` with the draft as `$1`.
    fn editor(ws: &Workspace, name: &str, body: &str) -> String {
        let path = ws.path(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// Runs `keyward edit` with `editor`, drafts going to `runtime` (as `$XDG_RUNTIME_DIR`).
    fn edit(ws: &Workspace, editor: &str, runtime: &std::path::Path) -> std::process::Output {
        let mut cmd = ws.keyward();
        cmd.arg("edit")
            .env("EDITOR", editor)
            .env_remove("VISUAL")
            .env("XDG_RUNTIME_DIR", runtime);
        run_with_stdin(&mut cmd, "")
    }

    fn runtime_dir(ws: &Workspace) -> std::path::PathBuf {
        let dir = ws.path("run");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        dir
    }

    fn left_in(dir: &std::path::Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn an_edit_is_saved_with_a_backup_and_an_audit_entry_and_leaves_no_draft() {
        let ws = Workspace::new();
        ws.init();
        add_sendgrid(&ws);
        let run = runtime_dir(&ws);
        // The draft is private, in the runtime directory, and holds the secret in the clear
        // for the person to edit; the script records where and how it found it.
        let seen = ws.path("seen.txt");
        let script = editor(
            &ws,
            "ed.sh",
            &format!(
                "stat -c '%a %n' \"$1\" \"$(dirname \"$1\")\" > {seen}\n\
                 sed -i 's/owner: alice/owner: bob/' \"$1\"",
                seen = seen.display()
            ),
        );
        let out = edit(&ws, &script, &run);
        assert!(out.status.success(), "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("Saved: edited by hand: changed acme/mail."),
            "{stdout}"
        );
        assert!(!stdout.contains(SECRET) && !String::from_utf8_lossy(&out.stderr).contains(SECRET));
        let seen = std::fs::read_to_string(&seen).unwrap();
        let mut lines = seen.lines();
        let file = lines.next().unwrap();
        assert!(
            file.starts_with("600 ") && file.contains(run.to_str().unwrap()),
            "{seen}"
        );
        assert!(lines.next().unwrap().starts_with("700 "), "{seen}");
        assert!(left_in(&run).is_empty(), "draft left: {:?}", left_in(&run));
        let shown = ws.ok(&["show", "acme/mail", "--json"], "");
        assert!(shown.contains("\"owner\": \"bob\""), "{shown}");
        assert!(keyward::store::backup_path(&ws.inventory(), 1).exists());
        // Entries are sealed: read them through `keyward audit`, the secret in neither form.
        let log = std::fs::read_to_string(ws.path("inventory.yaml.age.audit.jsonl")).unwrap();
        assert!(!log.contains(SECRET));
        let edited = ws.audit_entries();
        assert!(edited.iter().any(|e| e["action"] == "edited"), "{edited:?}");
        assert!(!format!("{edited:?}").contains(SECRET));

        // An editor that changes nothing saves nothing.
        let before = hash(&ws.inventory());
        let out = edit(&ws, "true", &run);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("No changes"),
            "{out:?}"
        );
        assert_eq!(hash(&ws.inventory()), before);
    }

    #[test]
    fn an_invalid_edit_is_refused_with_its_line_and_column_and_saves_nothing() {
        let ws = Workspace::new();
        ws.init();
        add_sendgrid(&ws);
        let run = runtime_dir(&ws);
        let before = hash(&ws.inventory());
        let script = editor(&ws, "bad.sh", "sed -i 's/owner: alice/colour: red/' \"$1\"");
        let line = assert_one_line_error(&edit(&ws, &script, &run), "unknown field `colour`");
        assert!(line.contains("line ") && line.contains("column "), "{line}");
        assert!(line.contains("nothing saved"), "{line}");
        assert_eq!(hash(&ws.inventory()), before);
        assert!(left_in(&run).is_empty(), "draft left: {:?}", left_in(&run));
    }

    #[test]
    fn an_editor_that_crashes_leaves_no_draft_behind() {
        let ws = Workspace::new();
        ws.init();
        add_sendgrid(&ws);
        let run = runtime_dir(&ws);
        let before = hash(&ws.inventory());
        // The editor leaves a swap file beside the draft, as vim does, then dies by kill -9.
        let script = editor(
            &ws,
            "crash.sh",
            "cp \"$1\" \"$(dirname \"$1\")/.inventory.yaml.swp\"\n\
             sed -i 's/alice/mallory/' \"$1\"\nkill -9 $$",
        );
        let line = assert_one_line_error(&edit(&ws, &script, &run), "killed by signal 9");
        assert!(line.contains("nothing saved"), "{line}");
        assert_eq!(hash(&ws.inventory()), before);
        assert!(left_in(&run).is_empty(), "draft left: {:?}", left_in(&run));
    }

    #[test]
    fn keyward_killed_by_sigterm_or_sigint_while_editing_leaves_no_draft_behind() {
        let ws = Workspace::new();
        ws.init();
        add_sendgrid(&ws);
        let run = runtime_dir(&ws);
        let before = hash(&ws.inventory());
        let ready = ws.path("ready");
        let script = editor(
            &ws,
            "slow.sh",
            // exec: the editor is the process keyward stops, with no child left holding
            // the output pipes open.
            &format!("touch {}\nexec sleep 30", ready.display()),
        );
        for signal in ["TERM", "INT"] {
            let _ = std::fs::remove_file(&ready);
            let child = ws
                .keyward()
                .arg("edit")
                .env("EDITOR", &script)
                .env("XDG_RUNTIME_DIR", &run)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while !ready.exists() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the editor never started"
                );
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            assert_eq!(left_in(&run).len(), 1, "the draft exists while editing");
            let kill = Command::new("kill")
                .args([&format!("-{signal}"), &child.id().to_string()])
                .status()
                .unwrap();
            assert!(kill.success());
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{stderr}");
            assert!(
                stderr.contains(&format!("stopped by SIG{signal}")),
                "{stderr}"
            );
            assert!(left_in(&run).is_empty(), "draft left: {:?}", left_in(&run));
            assert_eq!(hash(&ws.inventory()), before);
        }
    }
}

/// `keyward completions` and `keyward man`, generated from the clap definitions: bash loads
/// the script and completes commands, flags and the inventory's credential addresses.
mod completions_command {
    use super::*;

    /// What bash completes for the words `line` (the last one being completed), with the
    /// script of `keyward completions bash` loaded.
    fn complete(ws: &Workspace, script: &std::path::Path, words: &[&str]) -> Vec<String> {
        let bin = env!("CARGO_BIN_EXE_keyward");
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        let cword = words.len();
        let program = format!(
            "source {script}\n\
             COMP_WORDS=('{bin}' {words})\n\
             COMP_CWORD={cword}\n\
             _keyward '{bin}' {cur} {prev}\n\
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script = script.display(),
            words = quoted.join(" "),
            cur = quoted.last().cloned().unwrap_or_default(),
            prev = if cword > 1 {
                quoted[cword - 2].clone()
            } else {
                format!("'{bin}'")
            },
        );
        let out = Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &program])
            .env("HOME", ws.dir.path())
            .env("KEYWARD_INVENTORY", ws.inventory())
            .env_remove("KEYWARD_IDENTITY")
            .output()
            .expect("bash");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn bash_loads_the_completions_and_completes_commands_flags_and_addresses() {
        let ws = Workspace::new();
        ws.init();
        add_sendgrid(&ws);
        ws.ok(
            &["add", "acme/crm", "--provider", "manual", "--no-secret"],
            "",
        );
        ws.ok(
            &["add", "beta/bot", "--provider", "manual", "--no-secret"],
            "",
        );
        let script = ws.path("keyward.bash");
        std::fs::write(&script, ws.ok(&["completions", "bash"], "")).unwrap();
        let out = Command::new("bash")
            .args(["--norc", "--noprofile", "-c"])
            .arg(format!("source {}; complete -p keyward", script.display()))
            .output()
            .unwrap();
        let registered = String::from_utf8_lossy(&out.stdout);
        assert!(
            registered.contains("-F _keyward ") && registered.trim_end().ends_with(" keyward"),
            "{out:?}"
        );

        let commands = complete(&ws, &script, &["re"]);
        for c in [
            "remove",
            "report",
            "resume",
            "revoke",
            "recipients",
            "restore",
        ] {
            assert!(commands.contains(&c.to_string()), "{commands:?}");
        }
        let flags = complete(&ws, &script, &["remove", "--"]);
        assert!(flags.contains(&"--keep-remote".to_string()), "{flags:?}");
        let mut refs = complete(&ws, &script, &["show", "acme/"]);
        refs.sort();
        assert_eq!(
            refs,
            vec!["acme/crm", "acme/mail"],
            "addresses from the inventory"
        );
        let refs = complete(&ws, &script, &["rotate", ""]);
        assert!(refs.contains(&"beta/bot".to_string()), "{refs:?}");
        let shells = complete(&ws, &script, &["completions", ""]);
        for s in ["bash", "zsh", "fish"] {
            assert!(shells.contains(&s.to_string()), "{shells:?}");
        }
    }

    #[test]
    fn completing_addresses_never_prompts_or_prints_an_error() {
        let ws = Workspace::new();
        // No inventory at all: nothing on stdout, and the shell's line is not disturbed.
        let out = ws.run(&["__complete-refs"], "");
        assert!(out.stdout.is_empty(), "{out:?}");
        // A passphrase-protected inventory: no prompt, no wait.
        let mut inventory = keyward::inventory::Inventory::new(vec![]);
        inventory.insert(
            "acme",
            keyward::inventory::Credential::new("bot", keyward::inventory::ProviderKind::Manual),
        );
        drop(
            keyward::store::Store::create_with_passphrase(
                &ws.inventory(),
                &inventory,
                "a passphrase".to_string().into(),
            )
            .unwrap(),
        );
        let mut cmd = Command::new("setsid");
        cmd.args(["-w", env!("CARGO_BIN_EXE_keyward"), "__complete-refs"])
            .env("HOME", ws.dir.path())
            .env("KEYWARD_INVENTORY", ws.inventory());
        let out = run_with_stdin(&mut cmd, "");
        assert!(out.stdout.is_empty(), "{out:?}");
    }

    #[test]
    fn zsh_and_fish_scripts_complete_addresses_and_the_man_page_renders() {
        let ws = Workspace::new();
        let zsh = ws.ok(&["completions", "zsh"], "");
        assert!(
            zsh.starts_with("#compdef keyward\n"),
            "{}",
            &zsh[..80.min(zsh.len())]
        );
        assert!(zsh.contains("_keyward_refs() {") && zsh.contains(":_keyward_refs'"));
        assert!(!zsh.contains("__KEYWARD_REFS__"));
        let fish = ws.ok(&["completions", "fish"], "");
        assert!(fish.contains("__complete-refs"), "{fish}");
        assert!(!fish.contains("__KEYWARD_REFS__"));
        let man = ws.ok(&["man"], "");
        assert!(
            man.contains(".TH keyward 1"),
            "{}",
            &man[..200.min(man.len())]
        );
        assert!(man.contains("remove") && man.contains("completions"));
        let rotate = ws.ok(&["man", "rotate"], "");
        assert!(
            rotate.contains(".TH keyward-rotate 1") && rotate.contains("dry\\-run"),
            "{rotate}"
        );
        assert_one_line_error(&ws.run(&["man", "nope"], ""), "no command `nope`");
    }
}

/// `--json` output with the workspace's path and the identity's public key (both differ
/// per run) replaced by placeholders, for snapshots.
fn stable(ws: &Workspace, out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let v: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: stdout is not one JSON document: {stdout}"));
    let mut text = serde_json::to_string_pretty(&v).unwrap();
    text = text.replace(&ws.dir.path().display().to_string(), "[WS]");
    if let Ok(id) = std::fs::read_to_string(ws.default_identity()) {
        if let Some(public) = id.lines().find_map(|l| l.strip_prefix("# public key: ")) {
            text = text.replace(public, "[RECIPIENT]");
        }
    }
    text
}

#[test]
fn every_command_prints_versioned_json_and_never_the_secret() {
    let ws = Workspace::new();
    let secrets = [
        SECRET.to_string(),
        "sg-management-key-0123456789".to_string(),
    ];
    let run = |args: &[&str], stdin: &str, code: i32| {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = ws.run(&all, stdin);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_no_secret(&out.stdout, &format!("{args:?} stdout"), &secrets);
        assert_no_secret(&out.stderr, &format!("{args:?} stderr"), &secrets);
        out
    };
    insta::assert_snapshot!("json_init", stable(&ws, &run(&["init"], "", 0)));
    let added = run(
        &[
            "add",
            "acme/mail",
            "--provider",
            "manual",
            "--expires",
            "2026-12-01",
        ],
        &format!("{SECRET}\n"),
        0,
    );
    insta::assert_snapshot!("json_add", stable(&ws, &added));
    let shown = run(&["show", "acme/mail"], "", 0);
    insta::assert_snapshot!("json_show", stable(&ws, &shown));
    insta::assert_snapshot!("json_list", stable(&ws, &run(&["list"], "", 0)));
    insta::assert_snapshot!("json_check", stable(&ws, &run(&["check"], "", 6)));
    let recipients = run(&["recipients", "list"], "", 0);
    insta::assert_snapshot!("json_recipients_list", stable(&ws, &recipients));
    let public = std::fs::read_to_string(ws.default_identity())
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_string))
        .unwrap();
    let again = run(&["recipients", "add", &public], "", 5);
    insta::assert_snapshot!("json_recipients_add_nothing_to_do", stable(&ws, &again));
    let conn = run(
        &[
            "connections",
            "add",
            "acme-sg",
            "--provider",
            "sendgrid",
            "--auth",
            "api_key",
        ],
        &format!("{}\n", secrets[1]),
        0,
    );
    insta::assert_snapshot!("json_connections_add", stable(&ws, &conn));
    let listed = run(&["connections", "list"], "", 0);
    insta::assert_snapshot!("json_connections_list", stable(&ws, &listed));
    let removed = run(&["connections", "remove", "acme-sg"], "", 0);
    insta::assert_snapshot!("json_connections_remove", stable(&ws, &removed));
    let audit = run(&["audit"], "", 0);
    let entries: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    assert!(
        entries.as_array().is_some_and(|a| a.len() >= 4),
        "{entries}"
    );
    let verified = run(&["audit", "--verify"], "", 0);
    insta::assert_snapshot!("json_audit_verify", stable(&ws, &verified));
    let report: serde_json::Value =
        serde_json::from_slice(&run(&["report"], "", 0).stdout).unwrap();
    assert_eq!(report["clients"][0]["id"], "acme", "{report}");
    assert_eq!(report["schema"], "keyward.report/1", "{report}");
    let file = ws.path("r.json");
    run(
        &["report", "--format", "json", "-o", file.to_str().unwrap()],
        "",
        0,
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written["schema"], "keyward.report/1", "{written}");
    let written = run(
        &["report", "--output", ws.path("r.md").to_str().unwrap()],
        "",
        0,
    );
    insta::assert_snapshot!("json_report_written", stable(&ws, &written));
    let backup = format!("{}.1", ws.inventory().display());
    let restored = run(&["restore", &backup], "", 0);
    insta::assert_snapshot!("json_restore", stable(&ws, &restored));
    let nothing = run(&["rotate", "--overdue"], "", 5);
    insta::assert_snapshot!("json_rotate_nothing_to_do", stable(&ws, &nothing));
    let kept = ws.path("demo");
    let demo = run(&["demo", "--keep-in", kept.to_str().unwrap()], "", 0);
    insta::assert_snapshot!("json_demo_keep_in", stable(&ws, &demo));
}

#[test]
fn every_error_kind_prints_a_json_error_object_and_one_line() {
    let ws = Workspace::new();
    let error = |args: &[&str], code: i32, kind: &str| {
        let out = ws.run(args, "");
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        let text = stable(&ws, &out);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["error"]["kind"], kind, "{text}");
        assert_eq!(v["exit"], code, "{text}");
        // The object's message is the stderr line.
        let raw: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let message = raw["error"]["message"].as_str().unwrap();
        assert_eq!(stderr.trim_end(), format!("keyward: {message}"));
        text
    };
    // Regression: `check --json` on an unreadable inventory printed nothing on stdout.
    insta::assert_snapshot!(
        "json_error_no_inventory",
        error(&["check", "--json"], 3, "no-inventory")
    );
    insta::assert_snapshot!(
        "json_error_usage",
        error(&["list", "--json", "--bogus"], 64, "usage")
    );
    ws.init();
    insta::assert_snapshot!(
        "json_error_not_found",
        error(&["show", "acme/nope", "--json"], 1, "not-found")
    );
    let other = ws.path("other.txt");
    keyward::store::keys::generate_identity_file(&other).unwrap();
    insta::assert_snapshot!(
        "json_error_cannot_decrypt",
        error(
            &["-i", other.to_str().unwrap(), "list", "--json"],
            1,
            "cannot-decrypt"
        )
    );
    std::fs::write(ws.inventory(), b"not an age file").unwrap();
    insta::assert_snapshot!(
        "json_error_unreadable",
        error(&["check", "--json"], 3, "unreadable")
    );
}

#[test]
fn exit_codes_follow_the_one_table_command_by_command() {
    let ws = Workspace::new();
    let code = |args: &[&str]| ws.run(args, "").status.code();
    // 3: could not check (check without an inventory); 1: any other command fails.
    assert_eq!(code(&["check"]), Some(3));
    assert_eq!(code(&["list"]), Some(1));
    // 64: usage, whatever the command.
    assert_eq!(code(&["list", "--bogus"]), Some(64));
    assert_eq!(code(&["rotate"]), Some(64));
    assert_eq!(code(&["check", "--due", "x"]), Some(64));
    ws.init();
    // 0: done / all fine.
    assert_eq!(code(&["check"]), Some(0));
    assert_eq!(code(&["list"]), Some(0));
    // 5: nothing to do.
    assert_eq!(code(&["rotate", "--overdue"]), Some(5));
    assert_eq!(code(&["revoke", "--overdue"]), Some(5));
    assert_eq!(code(&["resume"]), Some(5));
    assert_eq!(code(&["recipients", "accept"]), Some(5));
    add_sendgrid(&ws);
    // 6: check: something needs attention soon.
    assert_eq!(code(&["check"]), Some(6));
    // 4: a person is needed and there is no terminal: refused, nothing changed.
    let before = hash(&ws.inventory());
    assert_eq!(code(&["revoke", "acme/mail"]), Some(4));
    assert_eq!(code(&["rotate", "acme/mail"]), Some(4));
    assert_eq!(code(&["rotate", "acme/mail", "--dry-run"]), Some(4));
    assert_eq!(hash(&ws.inventory()), before);
    // 1: an error.
    assert_eq!(code(&["show", "acme/nope"]), Some(1));
    // 2: check: expired.
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
    assert_eq!(code(&["check"]), Some(2));
    // verify's 2 and 3 are in tests/cli_sync_verify.rs, connect's 7, 8 and 130 in
    // tests/connect.rs, rotate's 4 with a plan waiting in tests/rotation_cli.rs.
}
