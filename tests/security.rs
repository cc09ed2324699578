//! Issue 9 with the real binary: files that another local user cannot hijack. Links planted
//! where keyward writes (the temp file of a save, the lock, the audit log, the sandbox
//! state), files created under `umask 000`, inventories, directories and identities that
//! others could write, a symlinked inventory, and `report -o` aimed at keyward's own files.

use crate::support;

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

use support::workspace::{age, assert_one_line_error, hash, Workspace};

const VICTIM: &str = "precious content another user wants destroyed\n";

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// A file an attacker points a link at: it must come out untouched.
fn victim(ws: &Workspace) -> std::path::PathBuf {
    let path = ws.path("victim.txt");
    std::fs::write(&path, VICTIM).unwrap();
    path
}

fn assert_untouched(victim: &Path) {
    assert_eq!(std::fs::read_to_string(victim).unwrap(), VICTIM);
}

fn add(ws: &Workspace, at: &str) -> std::process::Output {
    ws.run(&["add", at, "--provider", "manual", "--no-secret"], "")
}

/// Runs `cmd` (a configured keyward command) under `umask 000`, through `sh`.
fn under_umask_000(cmd: Command, args: &[&str]) -> std::process::Output {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg("umask 000; exec \"$@\"")
        .arg("sh")
        .arg(cmd.get_program())
        .args(args);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    sh.stdin(std::process::Stdio::null()).output().unwrap()
}

#[test]
fn init_under_umask_000_creates_everything_0600_and_0700() {
    let ws = Workspace::new();
    // The default location, so `init` creates ~/.config and ~/.config/keyward itself.
    let inventory = ws.path(".config/keyward/inventory.yaml.age");
    let run = |args: &[&str]| {
        let mut cmd = ws.keyward();
        cmd.env_remove("KEYWARD_INVENTORY");
        let out = under_umask_000(cmd, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["init"]);
    run(&["add", "acme/x", "--provider", "manual", "--no-secret"]);
    for dir in [".config", ".config/keyward"] {
        assert_eq!(mode(&ws.path(dir)), 0o700, "{dir}");
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(ws.path(".config/keyward")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // The records of the recipients and of the audit log last seen: one file per
            // inventory each.
            assert_eq!(mode(&path), 0o700, "{}", path.display());
            let records: Vec<_> = std::fs::read_dir(&path).unwrap().collect();
            assert_eq!(records.len(), 1, "{}", path.display());
            for record in records {
                let record = record.unwrap().path();
                assert_eq!(mode(&record), 0o600, "{}", record.display());
            }
        } else {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
        files.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    files.sort();
    assert_eq!(
        files,
        [
            "audit-seen",
            "identity.txt",
            "inventory.yaml.age",
            "inventory.yaml.age.1",
            "inventory.yaml.age.audit.jsonl",
            "inventory.yaml.age.lock",
            "recipients-seen",
        ],
        "every file keyward made, and no temp file left behind"
    );
    assert!(inventory.is_file());
}

#[test]
fn demo_under_umask_000_keeps_the_sandbox_state_and_its_lock_0600() {
    let ws = Workspace::new();
    let kept = ws.path("demo");
    let out = under_umask_000(ws.keyward(), &["demo", "--keep-in", kept.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&kept), 0o700);
    let names: Vec<String> = std::fs::read_dir(&kept)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for name in [
        "demo.yaml.age.sandbox.json",
        "demo.yaml.age.sandbox.json.lock",
        "demo.yaml.age.lock",
        "demo-identity.txt",
        "demo.yaml.age",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    for name in &names {
        assert_eq!(mode(&kept.join(name)), 0o600, "{name}");
    }
}

/// Before the fix a save wrote `.NAME.tmp-PID` with `O_CREAT|O_TRUNC`, following a link
/// there. The name is unpredictable now; links at every name the old code could have used
/// for the next pids are left alone, and so is the file they point to.
#[test]
fn a_link_planted_at_the_temp_file_of_a_save_is_not_followed() {
    let ws = Workspace::new();
    ws.init();
    let victim = victim(&ws);
    let next_pid = Command::new("true").spawn().unwrap().id();
    let planted: Vec<_> = (next_pid..next_pid + 300)
        .map(|pid| ws.path(&format!(".inventory.yaml.age.tmp-{pid}")))
        .collect();
    for link in &planted {
        symlink(&victim, link).unwrap();
    }
    let out = add(&ws, "acme/x");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_untouched(&victim);
    assert!(!is_link(&ws.inventory()), "the inventory is a regular file");
    assert!(ws.ok(&["list"], "").contains("acme/x"));
    assert!(planted.iter().all(|l| is_link(l)));
}

#[test]
fn a_link_planted_at_the_lock_is_refused() {
    let ws = Workspace::new();
    ws.init();
    let victim = victim(&ws);
    let lock = ws.path("inventory.yaml.age.lock");
    std::fs::remove_file(&lock).unwrap();
    symlink(&victim, &lock).unwrap();
    let before = hash(&ws.inventory());
    let out = add(&ws, "acme/x");
    assert_one_line_error(&out, "symbolic link");
    assert_untouched(&victim);
    assert_eq!(hash(&ws.inventory()), before);
}

#[test]
fn a_link_planted_at_the_audit_log_is_refused() {
    let ws = Workspace::new();
    ws.init();
    let victim = victim(&ws);
    let log = ws.path("inventory.yaml.age.audit.jsonl");
    std::fs::remove_file(&log).unwrap();
    symlink(&victim, &log).unwrap();
    let out = add(&ws, "acme/x");
    assert_one_line_error(&out, "symbolic link");
    assert_untouched(&victim);
    // Reading it does not follow the link either.
    assert_one_line_error(&ws.run(&["audit"], ""), "symbolic link");
    // A dangling link is not created through.
    std::fs::remove_file(&log).unwrap();
    symlink(ws.path("made-by-keyward"), &log).unwrap();
    assert_one_line_error(&add(&ws, "acme/y"), "");
    assert!(!ws.path("made-by-keyward").exists());
}

/// The demo's sandbox rewrites its state on every key change.
fn demo_workspace() -> (Workspace, std::path::PathBuf) {
    let ws = Workspace::new();
    let kept = ws.path("demo");
    ws.ok(&["demo", "--keep-in", kept.to_str().unwrap()], "");
    (ws, kept)
}

fn demo_rotate(ws: &Workspace, kept: &Path) -> std::process::Output {
    ws.keyward()
        .env("KEYWARD_INVENTORY", kept.join("demo.yaml.age"))
        .env("KEYWARD_IDENTITY", kept.join("demo-identity.txt"))
        .args(["rotate", "acme/mail-send", "--yes"])
        .output()
        .unwrap()
}

#[test]
fn a_link_planted_at_the_sandbox_states_temp_file_is_not_followed() {
    let (ws, kept) = demo_workspace();
    let victim = victim(&ws);
    // The fixed name the state was written through before the fix.
    symlink(&victim, kept.join("demo.yaml.age.sandbox.json.tmp")).unwrap();
    let out = demo_rotate(&ws, &kept);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_untouched(&victim);
    assert!(!is_link(&kept.join("demo.yaml.age.sandbox.json")));
}

#[test]
fn a_link_planted_at_the_sandbox_state_or_its_lock_is_refused() {
    for name in [
        "demo.yaml.age.sandbox.json.lock",
        "demo.yaml.age.sandbox.json",
    ] {
        let (ws, kept) = demo_workspace();
        let victim = victim(&ws);
        std::fs::remove_file(kept.join(name)).unwrap();
        symlink(&victim, kept.join(name)).unwrap();
        let out = demo_rotate(&ws, &kept);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_ne!(out.status.code(), Some(0), "{name}: {text}");
        assert!(text.contains("symbolic link"), "{name}: {text}");
        assert_untouched(&victim);
    }
}

#[test]
fn an_inventory_writable_by_others_is_refused() {
    let ws = Workspace::new();
    ws.init();
    let inv = ws.inventory();
    chmod(&inv, 0o666);
    let err = assert_one_line_error(&ws.run(&["list"], ""), "mode 0666");
    assert!(
        err.contains(&format!("chmod go-w {}", inv.display())),
        "{err}"
    );
    chmod(&inv, 0o620);
    assert_one_line_error(&add(&ws, "acme/x"), "mode 0620");
    chmod(&inv, 0o644);
    ws.ok(&["list"], "");
}

#[test]
fn an_inventory_directory_writable_by_others_is_refused() {
    let ws = Workspace::new();
    let dir = ws.path("shared");
    std::fs::create_dir(&dir).unwrap();
    let inv = dir.join("inv.yaml.age");
    let with_inv = |args: &[&str]| {
        ws.keyward()
            .env("KEYWARD_INVENTORY", &inv)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(with_inv(&["init"]).status.success());
    chmod(&dir, 0o770);
    let err = assert_one_line_error(&with_inv(&["list"]), "inventory's directory");
    assert!(err.contains("mode 0770"), "{err}");
    assert!(
        err.contains(&format!("chmod go-w {}", dir.display())),
        "{err}"
    );
    // A sticky world-writable directory (like /tmp) is refused too: others can claim the
    // names of the lock, the log and the backups there before keyward creates them.
    chmod(&dir, 0o1777);
    assert_one_line_error(&with_inv(&["list"]), "mode 1777");
    // `init` refuses to create an inventory there.
    let other = dir.join("new.yaml.age");
    let out = ws
        .keyward()
        .env("KEYWARD_INVENTORY", &other)
        .arg("init")
        .output()
        .unwrap();
    assert_one_line_error(&out, "inventory's directory");
    assert!(!other.exists());
    chmod(&dir, 0o755);
    assert!(with_inv(&["list"]).status.success());
}

#[test]
fn an_identity_writable_by_others_is_refused() {
    let ws = Workspace::new();
    ws.init();
    let id = ws.default_identity();
    chmod(&id, 0o622);
    let err = assert_one_line_error(&ws.run(&["list"], ""), "identity file");
    assert!(err.contains("mode 0622"), "{err}");
    assert!(
        err.contains(&format!("chmod go-w {}", id.display())),
        "{err}"
    );
    chmod(&id, 0o600);
    ws.ok(&["list"], "");
}

#[test]
fn a_symlinked_inventory_is_saved_through_to_the_real_file() {
    let ws = Workspace::new();
    ws.init();
    let real = ws.inventory();
    let link = ws.path("link.yaml.age");
    symlink(&real, &link).unwrap();
    let through_link = |args: &[&str]| {
        ws.keyward()
            .env("KEYWARD_INVENTORY", &link)
            .args(args)
            .output()
            .unwrap()
    };
    let out = through_link(&["add", "acme/x", "--provider", "manual", "--no-secret"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(is_link(&link), "the link is still a link");
    // The real file was updated, and its lock, log and backups are the ones used.
    assert!(ws.ok(&["list"], "").contains("acme/x"));
    assert!(ws.path("inventory.yaml.age.1").is_file());
    for sibling in [
        "link.yaml.age.lock",
        "link.yaml.age.1",
        "link.yaml.age.audit.jsonl",
    ] {
        assert!(!ws.path(sibling).exists(), "{sibling}");
    }
    assert!(ws.path("inventory.yaml.age.audit.jsonl").is_file());
    let entries = ws.audit_entries();
    assert!(
        entries.iter().any(|e| e["credential"] == "acme/x"),
        "{entries:?}"
    );
    // Both paths take the same lock.
    let lock = ws.path("inventory.yaml.age.lock");
    let mut holder = Command::new("flock")
        .args(["-o", lock.to_str().unwrap(), "sleep", "60"])
        .spawn()
        .expect("flock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while Command::new("flock")
        .args(["-n", lock.to_str().unwrap(), "true"])
        .status()
        .unwrap()
        .success()
    {
        assert!(std::time::Instant::now() < deadline, "never locked");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = through_link(&["add", "acme/y", "--provider", "manual", "--no-secret"]);
    assert_one_line_error(&out, "locked by process");
    holder.kill().unwrap();
    holder.wait().unwrap();
}

#[test]
fn report_output_onto_keyward_files_is_refused() {
    let ws = Workspace::new();
    ws.init();
    let id = ws.default_identity();
    let id_link = ws.path("innocent.md");
    symlink(&id, &id_link).unwrap();
    let sandbox = ws.path("inventory.yaml.age.sandbox.json");
    std::fs::write(&sandbox, "{}").unwrap();
    for target in [
        id.clone(),
        id_link.clone(),
        sandbox.clone(),
        ws.inventory(),
        ws.path("inventory.yaml.age.lock"),
        ws.path("inventory.yaml.age.audit.jsonl"),
        ws.path("inventory.yaml.age.2"),
        ws.path(".config/keyward/new-file.md"),
    ] {
        let before = std::fs::read(&target).ok();
        let out = ws.run(&["report", "-o", target.to_str().unwrap()], "");
        assert_one_line_error(&out, "is the inventory or one of its files");
        assert_eq!(std::fs::read(&target).ok(), before, "{}", target.display());
    }
    ws.ok(&["list"], "");
    let fine = ws.path("report.md");
    ws.ok(&["report", "-o", fine.to_str().unwrap()], "");
    // Private like every file keyward creates; the person shares it on purpose.
    assert_eq!(mode(&fine), 0o600);
}

// ---------------------------------------------------------------------------------------
// Rollback: the inventory records its generation and where the audit log stood at each
// save; the log records the generation of each save.

/// `init`, then three adds: generations 1 to 4, log entries 1 to 4.
fn history() -> Workspace {
    let ws = Workspace::new();
    ws.init();
    for name in ["acme/a", "acme/b", "acme/c"] {
        let out = add(&ws, name);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    ws
}

fn log(ws: &Workspace) -> std::path::PathBuf {
    ws.path("inventory.yaml.age.audit.jsonl")
}

/// Writes refuse, reads warn, `audit --verify` names it: each with `what`.
fn assert_caught(ws: &Workspace, what: &str) {
    let before = hash(&ws.inventory());
    assert_one_line_error(&add(ws, "acme/late"), what);
    assert_eq!(hash(&ws.inventory()), before, "nothing was saved");
    let listed = ws.run(&["list"], "");
    assert!(listed.status.success());
    let warning = String::from_utf8_lossy(&listed.stderr);
    assert!(
        warning.contains("warning") && warning.contains(what),
        "{warning}"
    );
    assert_one_line_error(&ws.run(&["audit", "--verify"], ""), what);
}

#[test]
fn rollback_to_backup_1_is_caught_and_restore_puts_it_back_on_purpose() {
    let ws = history();
    std::fs::copy(ws.path("inventory.yaml.age.1"), ws.inventory()).unwrap();
    assert_caught(
        &ws,
        "is generation 3, but the audit log records a save of generation 4",
    );

    let out = ws.ok(
        &["restore", ws.path("inventory.yaml.age.1").to_str().unwrap()],
        "",
    );
    assert!(out.contains("(generation 5)"), "{out}");
    let entries = ws.audit_entries();
    let last = entries.last().unwrap();
    assert_eq!(last["action"], "restored", "{last}");
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .contains("before: the inventory is generation 3"),
        "{last}"
    );
    add(&ws, "acme/d");
    let listed = ws.ok(&["list"], "");
    assert!(
        listed.contains("acme/b") && !listed.contains("acme/c"),
        "{listed}"
    );
    assert!(ws.ok(&["audit", "--verify"], "").contains("chain intact"));
}

#[test]
fn rollback_to_backup_2_is_caught() {
    let ws = history();
    std::fs::copy(ws.path("inventory.yaml.age.2"), ws.inventory()).unwrap();
    assert_caught(
        &ws,
        "is generation 2, but the audit log records a save of generation 4",
    );
}

#[test]
fn dropped_audit_lines_are_caught() {
    let ws = history();
    let text = std::fs::read_to_string(log(&ws)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // The inventory (generation 4) was saved after entry 3: dropping 3 and 4 is seen. (The
    // entry of the newest save itself, written after it, is not yet known to the file.)
    std::fs::write(log(&ws), format!("{}\n{}\n", lines[0], lines[1])).unwrap();
    assert_caught(
        &ws,
        "the audit log has 2 entries, but the inventory was saved after entry #3",
    );
}

#[test]
fn a_rechained_audit_log_is_caught() {
    let ws = history();
    // A whole new, internally valid chain, as someone rewriting history would write.
    std::fs::remove_file(log(&ws)).unwrap();
    let fake = keyward::audit::AuditLog::for_inventory(&ws.inventory());
    // Sealed to the inventory's recipient, as anyone can: the recipients are public.
    let recipient =
        keyward::store::keys::recipient_for_identity_file(&ws.default_identity()).unwrap();
    keyward::audit::note_recipients(fake.path(), vec![recipient]);
    for _ in 0..4 {
        fake.record(keyward::audit::Event::new(
            keyward::audit::AuditAction::Added,
            None,
            "nothing to see",
        ))
        .unwrap();
    }
    assert!(ws.ok(&["audit"], "").contains("nothing to see"));
    assert_caught(&ws, "entry #3 is not the one the inventory was saved after");
}

#[test]
fn a_deleted_audit_log_is_caught() {
    let ws = history();
    std::fs::remove_file(log(&ws)).unwrap();
    assert_caught(&ws, "the audit log is missing");
}

/// Regression (issue 9): an entry written after the newest save (here `added acme/c`,
/// written once generation 4 was saved after entry #3) could be dropped unnoticed: the
/// inventory's anchor points at an older entry. The person who saw it notices.
#[test]
fn a_dropped_newest_entry_written_after_the_last_save_is_caught() {
    let ws = history();
    let text = std::fs::read_to_string(log(&ws)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    let kept: String = lines[..3].iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(log(&ws), kept).unwrap();
    assert_caught(
        &ws,
        "the audit log has 3 entries, but you saw entry #4 here",
    );
}

/// Regression (issue 9): an old inventory put back together with its log cut to match
/// (`cp inventory.yaml.age.2 inventory.yaml.age`, the log cut after that save's entries)
/// agreed with itself and went unnoticed. The person who saw later entries notices; a
/// restore on purpose is the way back, and is recorded.
#[test]
fn an_old_inventory_put_back_with_its_matching_log_is_caught() {
    let ws = history();
    // Generation 2 was saved after entry #1; entry #2 (`added acme/a`) records that save.
    std::fs::copy(ws.path("inventory.yaml.age.2"), ws.inventory()).unwrap();
    let text = std::fs::read_to_string(log(&ws)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(log(&ws), format!("{}\n{}\n", lines[0], lines[1])).unwrap();
    assert_caught(
        &ws,
        "the audit log has 2 entries, but you saw entry #4 here",
    );

    // Restoring the current file on purpose accepts it: past every generation seen.
    let out = ws.ok(&["restore", ws.inventory().to_str().unwrap()], "");
    assert!(out.contains("(generation 5)"), "{out}");
    let listed = ws.run(&["list"], "");
    assert!(listed.status.success());
    assert!(
        !String::from_utf8_lossy(&listed.stderr).contains("warning"),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    add(&ws, "acme/d");
    let entries = ws.audit_entries();
    let restored = &entries[entries.len() - 2];
    assert_eq!(restored["action"], "restored", "{entries:?}");
    assert!(
        restored["detail"]
            .as_str()
            .unwrap()
            .contains("but you saw entry #4 here"),
        "{restored}"
    );
    assert!(ws.ok(&["audit", "--verify"], "").contains("chain intact"));
}

// ---------------------------------------------------------------------------------------
// Substitution: age does not authenticate the sender, so each person keeps the recipient
// set they last saw for the inventory (under ~/.config/keyward/) and keyward announces a
// set someone else changed before anything is saved to it.

/// A new age key pair, as an attacker makes one: (identity file, public key).
fn attacker_key(ws: &Workspace) -> (std::path::PathBuf, String) {
    let file = ws.path("attacker.txt");
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&file)
        .output()
        .expect("age-keygen: run scripts/test-setup.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("public key line")
        .to_string();
    (file, public)
}

/// What an attacker who can write the inventory file does: a file encrypted to the owner's
/// key (so it opens as usual) whose `recipients:` are `recipients`, written with the age
/// CLI. (The plaintext is taken from the owner's file here; an attacker would write a
/// plausible one.) The file keeps its mode, so only the recipient record can notice.
fn substitute_recipients(ws: &Workspace, recipients: &[&str]) {
    let identity = ws.default_identity();
    let out = age(
        &[
            "-d",
            "-i",
            identity.to_str().unwrap(),
            ws.inventory().to_str().unwrap(),
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plaintext = String::from_utf8(out.stdout).unwrap();
    let mut edited = String::new();
    let mut in_recipients = false;
    for line in plaintext.lines() {
        if line.starts_with("recipients:") {
            in_recipients = true;
            edited.push_str("recipients:\n");
            for r in recipients {
                edited.push_str(&format!("- {r}\n"));
            }
            continue;
        }
        if in_recipients && (line.starts_with("- ") || line.starts_with("  ")) {
            continue;
        }
        in_recipients = false;
        edited.push_str(line);
        edited.push('\n');
    }
    assert!(edited.contains(recipients[0]), "{edited}");
    let forged = ws.path("forged.age");
    let mut args = vec!["-e".to_string()];
    for r in recipients {
        args.extend(["-r".to_string(), r.to_string()]);
    }
    args.extend(["-o".to_string(), forged.to_str().unwrap().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = age(&args, &edited);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(ws.inventory(), std::fs::read(&forged).unwrap()).unwrap();
}

fn owner_key(ws: &Workspace) -> String {
    let listed = ws.ok(&["recipients", "list"], "");
    listed
        .lines()
        .next()
        .expect("one recipient")
        .trim()
        .to_string()
}

/// Reads warn naming `what`; writes are refused (without a terminal, and with `--yes`)
/// naming it and `keyward recipients accept`, leaving the file as it was.
fn assert_announced(ws: &Workspace, what: &str) {
    let listed = ws.run(&["list"], "");
    assert!(listed.status.success());
    let warning = String::from_utf8_lossy(&listed.stderr);
    assert!(
        warning.contains("warning")
            && warning.contains("recipients changed since you last saw them")
            && warning.contains(what),
        "{warning}"
    );
    let before = hash(&ws.inventory());
    let refused = assert_one_line_error(&add(ws, "acme/late"), what);
    assert!(refused.contains("keyward recipients accept"), "{refused}");
    let refused = assert_one_line_error(&ws.run(&["rotate", "acme/a", "--yes"], ""), what);
    assert!(refused.contains("keyward recipients accept"), "{refused}");
    assert_eq!(hash(&ws.inventory()), before, "nothing was saved");
}

#[test]
fn a_recipient_added_by_someone_else_is_announced_and_saves_wait_for_accept() {
    let ws = Workspace::new();
    ws.init();
    add(&ws, "acme/a");
    let owner = owner_key(&ws);
    let (attacker_identity, attacker) = attacker_key(&ws);
    substitute_recipients(&ws, &[&owner, &attacker]);

    assert_announced(&ws, &format!("added {attacker}"));
    // Nothing was encrypted to the attacker's key by the refused writes.
    let stolen = age(
        &[
            "-d",
            "-i",
            attacker_identity.to_str().unwrap(),
            ws.path("inventory.yaml.age.1").to_str().unwrap(),
        ],
        "",
    );
    assert!(
        !stolen.status.success(),
        "the backup must not open for them"
    );

    let accepted = ws.ok(&["recipients", "accept"], "");
    assert!(
        accepted.contains(&format!("added {attacker}")),
        "{accepted}"
    );
    // Regression (issue 9): accepting wrote no audit entry.
    let entries = ws.audit_entries();
    let last = entries.last().unwrap();
    assert_eq!(last["action"], "recipients-accepted", "{entries:?}");
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("added {attacker}")),
        "{last}"
    );
    let out = add(&ws, "acme/b");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = ws.run(&["list"], "");
    assert!(
        !String::from_utf8_lossy(&listed.stderr).contains("recipients changed"),
        "accepted, so no longer announced"
    );
    // (Accepted on purpose: the attacker now reads every save.)
    let readable = age(
        &[
            "-d",
            "-i",
            attacker_identity.to_str().unwrap(),
            ws.inventory().to_str().unwrap(),
        ],
        "",
    );
    assert!(readable.status.success());
}

#[test]
fn a_recipient_removed_by_someone_else_is_announced() {
    let ws = Workspace::new();
    let (_, colleague) = attacker_key(&ws);
    ws.ok(&["init", "--recipient", &colleague], "");
    let owner = owner_key(&ws);
    substitute_recipients(&ws, &[&owner]);
    assert_announced(&ws, &format!("removed {colleague}"));
}

#[test]
fn recipients_changed_with_keyward_recipients_are_not_announced() {
    let ws = Workspace::new();
    ws.init();
    let (_, colleague) = attacker_key(&ws);
    ws.ok(&["recipients", "add", &colleague], "");
    let listed = ws.run(&["list"], "");
    assert!(listed.status.success());
    assert_eq!(String::from_utf8_lossy(&listed.stderr), "");
    let out = add(&ws, "acme/a");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    ws.ok(&["recipients", "remove", &colleague], "");
    let out = add(&ws, "acme/b");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn an_inventory_seen_for_the_first_time_is_trusted_and_said_so_once() {
    let ws = Workspace::new();
    ws.init();
    let record_dir = ws.path(".config/keyward/recipients-seen");
    let records: Vec<_> = std::fs::read_dir(&record_dir).unwrap().collect();
    assert_eq!(records.len(), 1, "init records the set it chose");
    let record = records[0].as_ref().unwrap().path();
    assert_eq!(mode(&record), 0o600);
    assert_eq!(mode(&record_dir), 0o700);
    // Another person (a fresh config directory) opening it for the first time.
    std::fs::remove_file(&record).unwrap();
    let first = ws.run(&["list"], "");
    assert!(first.status.success());
    let said = String::from_utf8_lossy(&first.stderr);
    assert!(said.contains("first time seen here"), "{said}");
    let again = ws.run(&["list"], "");
    assert_eq!(String::from_utf8_lossy(&again.stderr), "", "said once");
}

#[test]
fn the_dashboards_saves_are_refused_after_someone_else_changes_the_recipients() {
    use keyward::store::{Keyring, Seen, Store, StoreError};
    let ws = Workspace::new();
    ws.init();
    add(&ws, "acme/a");
    let keys = Keyring::load(&[ws.default_identity()]).unwrap();
    // The dashboard's store, as `keyward` opens it: watched against this person's record.
    let (mut dashboard, inv) = Store::open(&ws.inventory(), &keys).unwrap();
    assert_eq!(
        dashboard.watch_recipients(ws.seen_record()).unwrap(),
        Seen::Unchanged
    );
    let owner = owner_key(&ws);
    let (_, attacker) = attacker_key(&ws);
    substitute_recipients(&ws, &[&owner, &attacker]);
    let before = hash(&ws.inventory());

    // Its reload reads the forged file; the next save (with the reloaded content, or not)
    // is refused with the reason the status line shows.
    let reloaded = dashboard.reread(&keys).unwrap().expect("the forged file");
    assert!(dashboard.recipient_change().is_some());
    for attempt in [&reloaded, &inv] {
        let refused = dashboard.save_briefly(attempt).unwrap_err();
        assert!(
            matches!(refused, StoreError::RecipientsChanged { .. }),
            "{refused}"
        );
        let said = refused.to_string();
        assert!(
            said.contains(&format!("added {attacker}"))
                && said.contains("keyward recipients accept"),
            "{said}"
        );
    }
    assert_eq!(hash(&ws.inventory()), before, "nothing was saved");
}
