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

#[test]
fn a_save_after_another_process_replaced_the_object_is_refused_and_loses_nothing() {
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
    assert_one_line_error(&out, "changed on disk while you edited; nothing saved");
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
        text.contains("rotate_every_days: 90"),
        "the stale edit was not written: {text}"
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
}
