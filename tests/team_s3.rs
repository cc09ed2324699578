//! Issue 10: a team's shared inventory as an object in an S3-compatible bucket, against
//! moto_server's S3 (conditional writes included), driving the real binary.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use crate::support::bucket::Bucket;
use crate::support::workspace::{age, assert_one_line_error, run_with_stdin, Workspace};

/// Where the tests keep the inventory in the bucket.
const KEY: &str = "team/inventory.yaml.age";

fn run(cmd: &mut Command, stdin: &str) -> Output {
    run_with_stdin(cmd, stdin)
}

fn ok(cmd: &mut Command, stdin: &str) -> String {
    let out = run(cmd, stdin);
    assert!(
        out.status.success(),
        "keyward failed: {}\nstdout: {}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

#[test]
fn init_add_and_list_work_on_an_s3_inventory_the_age_cli_decrypts() {
    let bucket = Bucket::new("keyward-team");
    let ws = Workspace::new();
    ok(bucket.keyward(&ws, KEY).arg("init"), "");
    ok(
        bucket
            .keyward(&ws, KEY)
            .args(["add", "acme/mail", "--provider", "manual"]),
        "first-secret-value\n",
    );
    let listed = ok(bucket.keyward(&ws, KEY).arg("list"), "");
    assert!(listed.contains("acme/mail"), "{listed}");
    assert!(
        !ws.inventory().exists(),
        "nothing was written at the local default path"
    );

    // The object itself is an age file the age CLI opens with the identity init made.
    let stored = bucket.get(KEY).expect("the inventory object exists");
    let fetched = ws.path("fetched.age");
    std::fs::write(&fetched, &stored).unwrap();
    let identity = ws.default_identity();
    let plain = age(
        &[
            "-d",
            "-i",
            identity.to_str().unwrap(),
            fetched.to_str().unwrap(),
        ],
        "",
    );
    assert!(plain.status.success(), "age -d: {plain:?}");
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(text.contains("first-secret-value"), "{text}");

    // A second init is refused, naming the object, and the object is untouched.
    let again = run(bucket.keyward(&ws, KEY).arg("init"), "");
    let line = assert_one_line_error(&again, "already exists");
    assert!(line.contains(&bucket.s3_url(KEY)), "{line}");
    assert_eq!(bucket.get(KEY).as_deref(), Some(&stored[..]));
}

#[test]
fn a_missing_object_and_a_bad_location_are_one_line_errors() {
    let bucket = Bucket::new("keyward-team");
    let ws = Workspace::new();
    let missing = run(
        bucket.keyward(&ws, "nobody/inventory.yaml.age").arg("list"),
        "",
    );
    let line = assert_one_line_error(&missing, "no such inventory");
    assert!(
        line.contains(&bucket.s3_url("nobody/inventory.yaml.age")),
        "{line}"
    );
    let climbing = run(
        ws.keyward()
            .env("KEYWARD_INVENTORY", "s3://keyward-team/../etc/x")
            .arg("list"),
        "",
    );
    assert_one_line_error(&climbing, "segment");
}

#[test]
fn an_unreachable_store_is_read_from_the_offline_copy_and_nothing_writes() {
    let bucket = Bucket::new("keyward-team");
    let ws = Workspace::new();
    ok(bucket.keyward(&ws, KEY).arg("init"), "");
    ok(
        bucket
            .keyward(&ws, KEY)
            .args(["add", "acme/mail", "--provider", "manual"]),
        "offline-secret-value\n",
    );
    let mut list = bucket.keyward(&ws, KEY);
    list.arg("list");
    let mut add = bucket.keyward(&ws, KEY);
    add.args(["add", "acme/crm", "--provider", "manual"]);
    // The commands keep pointing at moto's port; moto is gone.
    drop(bucket);

    let out = run(&mut list, "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "list from the offline copy: {stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("acme/mail"));
    assert!(
        stderr.contains("offline copy of ") && stderr.contains("cannot be reached"),
        "{stderr}"
    );

    let refused = run(&mut add, "another-secret\n");
    assert_one_line_error(&refused, "this is the offline copy; nothing was saved");

    // The copy is private and still encrypted.
    let copy = ws.path(".config/keyward/remote/s3/keyward-team").join(KEY);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&copy)
            .expect("the offline copy")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let bytes = std::fs::read(&copy).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/"));
    crate::support::leak::assert_no_secret(
        &bytes,
        "the offline copy",
        &["offline-secret-value".to_string()],
    );
}

/// Regression: a save against an object another process replaced meanwhile (a 412) was
/// refused, so `edit` lost the person's edit; it is now applied onto the newer version.
#[test]
fn an_edit_saved_after_another_process_replaced_the_object_keeps_both_changes() {
    let bucket = Bucket::new("keyward-team");
    let ws = Workspace::new();
    ok(bucket.keyward(&ws, KEY).arg("init"), "");
    ok(
        bucket
            .keyward(&ws, KEY)
            .args(["add", "acme/mail", "--provider", "manual"]),
        "mail-secret\n",
    );
    // While `keyward edit` waits for its editor, a second real keyward saves a new version
    // of the object; the edit's save is then a conditional PUT against a stale ETag.
    let runtime = ws.path("run");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    let editor = ws.path("ed.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\n\
         printf 'crm-secret\\n' | \"$KEYWARD_UNDER_TEST\" add acme/crm --provider manual || exit 3\n\
         sed -i 's/rotate_every_days: 90/rotate_every_days: 30/' \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = run(
        bucket
            .keyward(&ws, KEY)
            .arg("edit")
            .env("EDITOR", &editor)
            .env_remove("VISUAL")
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("KEYWARD_UNDER_TEST", env!("CARGO_BIN_EXE_keyward")),
        "",
    );
    assert!(
        out.status.success(),
        "the edit is merged onto the other version: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = ok(bucket.keyward(&ws, KEY).args(["list", "--json"]), "");
    assert!(
        listed.contains("acme/crm") && listed.contains("acme/mail"),
        "the other process's credential is kept: {listed}"
    );
    let stored = bucket.get(KEY).expect("object");
    let fetched = ws.path("fetched.age");
    std::fs::write(&fetched, &stored).unwrap();
    let plain = age(
        &[
            "-d",
            "-i",
            ws.default_identity().to_str().unwrap(),
            fetched.to_str().unwrap(),
        ],
        "",
    );
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(
        text.contains("rotate_every_days: 30") && text.contains("crm-secret"),
        "both the edit and the other process's credential are stored: {text}"
    );
}

/// A second workspace (another teammate's machine: its own HOME and mirror) holding the
/// same identity as `first`.
fn teammate_of(first: &Workspace) -> Workspace {
    let other = Workspace::new();
    let dir = other.path(".config/keyward");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::copy(first.default_identity(), other.default_identity()).unwrap();
    std::fs::set_permissions(
        other.default_identity(),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    other
}

/// The bug: the audit log stayed on the machine that wrote it, so a second machine found
/// the inventory naming entries its (missing) log did not have, and refused every save.
#[test]
fn a_second_machine_on_the_same_bucket_shares_the_audit_log_and_saves() {
    let bucket = Bucket::new("keyward-team");
    let first = Workspace::new();
    ok(bucket.keyward(&first, KEY).arg("init"), "");
    ok(
        bucket
            .keyward(&first, KEY)
            .args(["add", "acme/mail", "--provider", "manual"]),
        "mail-secret\n",
    );
    let second = teammate_of(&first);
    ok(
        bucket
            .keyward(&second, KEY)
            .args(["add", "acme/crm", "--provider", "manual"]),
        "crm-secret\n",
    );
    ok(
        bucket
            .keyward(&first, KEY)
            .args(["add", "acme/billing", "--provider", "manual"]),
        "billing-secret\n",
    );
    // Every entry is an object of its own beside the inventory, none overwritten.
    let entries = bucket.keys(&format!("{KEY}.audit/"));
    assert_eq!(entries.len(), 4, "created + three adds: {entries:?}");
    for (machine, ws) in [("first", &first), ("second", &second)] {
        let log = ok(bucket.keyward(ws, KEY).arg("audit"), "");
        for credential in ["acme/mail", "acme/crm", "acme/billing"] {
            assert!(
                log.contains(credential),
                "{machine} sees {credential}: {log}"
            );
        }
        ok(bucket.keyward(ws, KEY).args(["audit", "--verify"]), "");
    }
    // The entries in the bucket are sealed like a local log's lines.
    let stored = bucket.get(&entries[1]).expect("an entry");
    crate::support::leak::assert_no_secret(
        &stored,
        "an audit entry in the bucket",
        &["mail-secret".to_string(), "acme/mail".to_string()],
    );
    // An entry replaced in the bucket is named by every machine, where it is stored.
    let forged = first.path("forged.json");
    std::fs::write(
        &forged,
        String::from_utf8_lossy(&stored).replace("\"seq\":2", "\"seq\":9"),
    )
    .unwrap();
    bucket.put(&entries[1], &forged);
    for ws in [&first, &second] {
        let out = run(bucket.keyward(ws, KEY).args(["audit", "--verify"]), "");
        let line = assert_one_line_error(&out, "line 2");
        assert!(
            line.contains(&format!("{}.audit/", bucket.s3_url(KEY))),
            "{line}"
        );
    }
}

#[test]
fn backups_are_kept_in_the_bucket_and_restore_puts_one_back() {
    let bucket = Bucket::new("keyward-team");
    let ws = Workspace::new();
    ok(bucket.keyward(&ws, KEY).arg("init"), "");
    ok(
        bucket
            .keyward(&ws, KEY)
            .args(["add", "acme/mail", "--provider", "manual"]),
        "mail-secret\n",
    );
    let with_mail = bucket.get(KEY).expect("object");
    ok(
        bucket
            .keyward(&ws, KEY)
            .args(["add", "acme/crm", "--provider", "manual"]),
        "crm-secret\n",
    );
    let mut stored = bucket.keys(KEY);
    stored.retain(|k| !k.contains(".audit/"));
    assert_eq!(
        stored,
        [KEY.to_string(), format!("{KEY}.1"), format!("{KEY}.2")],
        "two previous versions kept beside the object"
    );
    assert_eq!(bucket.get(&format!("{KEY}.1")), Some(with_mail));

    let out = ok(
        bucket
            .keyward(&ws, KEY)
            .args(["restore", &bucket.s3_url(&format!("{KEY}.1"))]),
        "",
    );
    assert!(out.contains(&bucket.s3_url(KEY)), "{out}");
    let listed = ok(bucket.keyward(&ws, KEY).arg("list"), "");
    assert!(
        listed.contains("acme/mail") && !listed.contains("acme/crm"),
        "{listed}"
    );
    let log = ok(bucket.keyward(&ws, KEY).arg("audit"), "");
    assert!(log.contains("restored"), "{log}");
    ok(bucket.keyward(&ws, KEY).args(["audit", "--verify"]), "");
    // The version replaced by the restore is itself kept.
    let newest_backup = bucket.get(&format!("{KEY}.1")).expect("backup");
    assert_ne!(Some(newest_backup), bucket.get(KEY));
}

/// `keyward add acme/NAME --provider manual --no-secret` against the bucket, started now.
fn spawn_add(bucket: &Bucket, ws: &Workspace, name: &str) -> std::process::Child {
    bucket
        .keyward(ws, KEY)
        .args([
            "add",
            &format!("acme/{name}"),
            "--provider",
            "manual",
            "--no-secret",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn keyward")
}

/// The credentials `keyward list --json` shows, by address.
fn listed_addresses(bucket: &Bucket, ws: &Workspace) -> Vec<String> {
    let text = ok(bucket.keyward(ws, KEY).args(["list", "--json"]), "");
    let value: serde_json::Value = serde_json::from_str(&text).expect("list --json");
    value
        .as_array()
        .unwrap_or_else(|| panic!("list --json is an array: {text}"))
        .iter()
        .filter_map(|r| Some(r.get("address")?.as_str()?.to_string()))
        .collect()
}

/// Two teammates' machines add different credentials at the same time, 100 each, without
/// waiting for one another (so their saves overlap all along, rather than once a round):
/// each save that meets a 412 is merged onto the other's version, so nothing is lost, and
/// the shared audit log holds one unbroken chain of every entry.
#[test]
fn two_machines_adding_at_the_same_moment_lose_nothing_over_100_rounds() {
    const ROUNDS: usize = 100;
    let bucket = Bucket::new("keyward-team");
    let first = Workspace::new();
    ok(bucket.keyward(&first, KEY).arg("init"), "");
    let second = teammate_of(&first);
    // The second machine has seen the recipients once (as a teammate would on first use).
    ok(bucket.keyward(&second, KEY).arg("list"), "");
    std::thread::scope(|s| {
        for (prefix, ws) in [("a", &first), ("b", &second)] {
            let bucket = &bucket;
            s.spawn(move || {
                for round in 0..ROUNDS {
                    let out = spawn_add(bucket, ws, &format!("{prefix}{round}"))
                        .wait_with_output()
                        .expect("wait");
                    assert!(
                        out.status.success(),
                        "{prefix}{round}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            });
        }
    });
    let listed = listed_addresses(&bucket, &first);
    for round in 0..ROUNDS {
        for name in [format!("acme/a{round}"), format!("acme/b{round}")] {
            assert!(listed.contains(&name), "{name} lost: {listed:?}");
        }
    }
    assert_eq!(listed.len(), 2 * ROUNDS);
    let entries = bucket.keys(&format!("{KEY}.audit/"));
    assert_eq!(entries.len(), 1 + 2 * ROUNDS, "created + one entry per add");
    for ws in [&first, &second] {
        ok(bucket.keyward(ws, KEY).args(["audit", "--verify"]), "");
    }
}

/// Many writers at once: every save either lands (and is kept) or, when others saved in
/// between each of its bounded attempts, stops with one line saying to try again. Nothing
/// that was reported saved is lost, and the audit chain holds.
#[test]
fn a_storm_of_writers_is_bounded_and_loses_nothing_reported_saved() {
    const WRITERS: usize = 12;
    let bucket = Bucket::new("keyward-team");
    let first = Workspace::new();
    ok(bucket.keyward(&first, KEY).arg("init"), "");
    let machines: Vec<Workspace> = (0..WRITERS).map(|_| teammate_of(&first)).collect();
    for ws in &machines {
        ok(bucket.keyward(ws, KEY).arg("list"), "");
    }
    let children: Vec<_> = machines
        .iter()
        .enumerate()
        .map(|(i, ws)| spawn_add(&bucket, ws, &format!("w{i}")))
        .collect();
    let mut saved = Vec::new();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().expect("wait");
        if out.status.success() {
            saved.push(format!("acme/w{i}"));
        } else {
            assert_one_line_error(&out, "try again");
        }
    }
    assert!(!saved.is_empty(), "no writer got through");
    let listed = listed_addresses(&bucket, &first);
    for name in &saved {
        assert!(
            listed.contains(name),
            "{name} was reported saved and is lost"
        );
    }
    assert_eq!(listed.len(), saved.len(), "{listed:?} vs {saved:?}");
    ok(bucket.keyward(&first, KEY).args(["audit", "--verify"]), "");
}

/// kill -9 at any moment of a save: the object is always a whole version (a PUT replaces
/// it at once), which keyward and the `age` CLI both open, and the audit log verifies.
#[test]
fn a_save_killed_at_any_moment_leaves_a_readable_object() {
    let bucket = Bucket::new("keyward-team");
    let ws = Workspace::new();
    ok(bucket.keyward(&ws, KEY).arg("init"), "");
    let mut killed = 0;
    for i in 0..16u64 {
        let mut child = spawn_add(&bucket, &ws, &format!("k{i}"));
        // Spread over the whole command: open, backups, the conditional PUT, the log.
        std::thread::sleep(std::time::Duration::from_millis(40 + (i * 37) % 400));
        if child.try_wait().expect("try_wait").is_none() {
            child.kill().expect("SIGKILL");
            killed += 1;
        }
        let _ = child.wait();
        let listed = listed_addresses(&bucket, &ws);
        assert!(listed.len() as u64 <= i + 1, "{listed:?}");
    }
    assert!(
        killed > 0,
        "no save was interrupted: the delays need adjusting"
    );
    let stored = bucket.get(KEY).expect("object");
    let fetched = ws.path("fetched.age");
    std::fs::write(&fetched, &stored).unwrap();
    let plain = age(
        &[
            "-d",
            "-i",
            ws.default_identity().to_str().unwrap(),
            fetched.to_str().unwrap(),
        ],
        "",
    );
    assert!(plain.status.success(), "age -d: {plain:?}");
    ok(bucket.keyward(&ws, KEY).args(["audit", "--verify"]), "");
    // And it is still writable afterwards.
    ok(
        bucket
            .keyward(&ws, KEY)
            .args(["add", "acme/after", "--provider", "manual", "--no-secret"]),
        "",
    );
}

/// `age -d` of `file` with `ws`'s identity: the plaintext.
fn age_decrypt(ws: &Workspace, file: &std::path::Path) -> Vec<u8> {
    let plain = age(
        &[
            "-d",
            "-i",
            ws.default_identity().to_str().unwrap(),
            file.to_str().unwrap(),
        ],
        "",
    );
    assert!(
        plain.status.success(),
        "age -d {}: {plain:?}",
        file.display()
    );
    plain.stdout
}

/// `keyward` in `ws` with the bucket's AWS configuration and `args`.
fn keyward_with_bucket(bucket: &Bucket, ws: &Workspace, args: &[&str]) -> Output {
    let mut cmd = ws.keyward();
    bucket.configure(&mut cmd);
    run(cmd.args(args), "")
}

#[test]
fn migrate_to_a_bucket_and_back_round_trips_byte_for_byte() {
    let bucket = Bucket::new("keyward-team");
    let ws = Workspace::new();
    ws.init();
    ws.ok(
        &["add", "acme/mail", "--provider", "manual"],
        "mail-secret\n",
    );
    ws.ok(&["add", "acme/crm", "--provider", "manual"], "crm-secret\n");
    let local = ws.inventory();
    let original = std::fs::read(&local).unwrap();
    let plain = age_decrypt(&ws, &local);
    let log_path = ws.path("inventory.yaml.age.audit.jsonl");
    let log = std::fs::read(&log_path).unwrap();
    let entries = log.iter().filter(|b| **b == b'\n').count();
    let url = bucket.s3_url(KEY);

    let out = keyward_with_bucket(&bucket, &ws, &["migrate", local.to_str().unwrap(), &url]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(bucket.get(KEY).as_deref(), Some(&original[..]));
    for n in 1..=2 {
        let backup = std::fs::read(ws.path(&format!("inventory.yaml.age.{n}"))).unwrap();
        assert_eq!(
            bucket.get(&format!("{KEY}.{n}")),
            Some(backup),
            "backup {n}"
        );
    }
    assert_eq!(bucket.keys(&format!("{KEY}.audit/")).len(), entries);
    // The inventory in the bucket opens, and agrees with its log there.
    let listed = ok(bucket.keyward(&ws, KEY).arg("list"), "");
    assert!(listed.contains("acme/crm"), "{listed}");
    ok(bucket.keyward(&ws, KEY).args(["audit", "--verify"]), "");

    // A target that holds an inventory already is refused, and left as it was.
    let again = keyward_with_bucket(&bucket, &ws, &["migrate", local.to_str().unwrap(), &url]);
    let line = assert_one_line_error(&again, "already exists");
    assert!(line.contains(&url), "{line}");
    assert_eq!(bucket.get(KEY).as_deref(), Some(&original[..]));

    // And back to a file: the same bytes, which the age CLI decrypts to the same text.
    let back = ws.path("back/inventory.yaml.age");
    let out = keyward_with_bucket(&bucket, &ws, &["migrate", &url, back.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read(&back).unwrap(), original);
    assert_eq!(age_decrypt(&ws, &back), plain);
    assert_eq!(
        std::fs::read(ws.path("back/inventory.yaml.age.audit.jsonl")).unwrap(),
        log
    );
    let out = run(
        ws.keyward()
            .args(["--inventory", back.to_str().unwrap(), "audit", "--verify"]),
        "",
    );
    assert!(out.status.success(), "{out:?}");
}

/// Two processes rotating one credential of a bucket inventory: the first saves its
/// journal (its claim) and is held there; the second, whose plan was made before, is
/// refused with the first run's id, start time and `user@host`, and rotates nothing.
#[cfg(feature = "test-hooks")]
#[test]
fn a_second_rotation_of_one_credential_is_refused_naming_the_first_run() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    use crate::support::sandbox_inventory::write;
    use crate::support::tmux::Tmux;

    let bucket = Bucket::new("keyward-team");
    let ws = Workspace::new();
    write(&ws, 1, None);
    let url = bucket.s3_url(KEY);
    let moved = keyward_with_bucket(
        &bucket,
        &ws,
        &["migrate", ws.inventory().to_str().unwrap(), &url],
    );
    assert!(moved.status.success(), "{moved:?}");
    // The sandbox's keys live beside the inventory's local home.
    let mut state = ws
        .path(".config/keyward/remote/s3/keyward-team")
        .join(KEY)
        .into_os_string();
    state.push(".sandbox.json");
    std::fs::copy(ws.path("inventory.yaml.age.sandbox.json"), &state).unwrap();

    // The second run plans first and waits for its confirmation.
    let env = [
        ("HOME", ws.dir.path().to_str().unwrap()),
        ("KEYWARD_INVENTORY", url.as_str()),
        ("AWS_ENDPOINT_URL", bucket.moto.base_url.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    let cmd = format!(
        "{} rotate acme/k0; echo EXIT=$?; sleep 30",
        env!("CARGO_BIN_EXE_keyward")
    );
    let second = Tmux::start(&cmd, 220, 40, &env);
    second.wait_for("Rotate 1 credential(s)? [y/N]");

    // The first run saves its journal and is held just after.
    let mut first = bucket
        .keyward(&ws, KEY)
        .args(["rotate", "acme/k0", "--yes"])
        .env("KEYWARD_TEST_PAUSE_AT", "create")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn keyward");
    let marker = "KEYWARD_TEST_PAUSED create acme/k0";
    let paused = BufReader::new(first.stdout.take().expect("stdout"))
        .lines()
        .map_while(Result::ok)
        .any(|line| line == marker);
    assert!(paused, "the first run never reached its claim");

    second.type_text("y");
    second.send(&["Enter"]);
    let screen = second.wait_for("EXIT=");
    first.kill().expect("SIGKILL");
    let _ = first.wait();
    let joined = screen.replace('\n', "");
    assert!(
        joined.contains("acme/k0 is claimed by another run (rot-")
            && joined.contains(" started ")
            && joined.contains(" by "),
        "{screen}"
    );
    assert!(screen.contains("EXIT=1"), "{screen}");
}
