//! Terminal prompts with the real binary in tmux: passphrase-protected SSH keys and
//! passphrase-encrypted inventories, both ways with the age CLI. Passphrases are typed at
//! the terminal; none ever goes through argv or the environment.

use crate::support;

use std::process::Command;

use support::tmux::Tmux;
use support::workspace::{assert_one_line_error, run_with_stdin, Workspace};

const PASS: &str = "correct horse battery staple";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_keyward")
}

#[test]
fn a_passphrase_protected_ssh_key_is_asked_for_on_the_terminal() {
    let ws = Workspace::new();
    let key = ws.path("id_ed25519");
    let gen = Command::new("ssh-keygen")
        .args([
            "-t",
            "ed25519",
            "-N",
            PASS,
            "-q",
            "-f",
            key.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(gen.status.success());
    // init needs only the public key: no prompt.
    ws.ok(&["-i", key.to_str().unwrap(), "init"], "");
    let inv = ws.inventory();
    let cmd = format!(
        "{} --inventory {} -i {} add acme/bot --provider manual --no-secret; echo EXIT=$?; sleep 30",
        bin(),
        inv.display(),
        key.display()
    );
    let t = Tmux::start(&cmd, 100, 20, &[("HOME", ws.dir.path().to_str().unwrap())]);
    t.wait_for("assphrase");
    t.type_text(PASS);
    t.send(&["Enter"]);
    let screen = t.wait_for("EXIT=");
    assert!(
        screen.contains("Added acme/bot.") && screen.contains("EXIT=0"),
        "{screen}"
    );
    assert!(!screen.contains(PASS), "the passphrase is never echoed");
    // The wrong passphrase: one clear line, non-zero exit.
    let t = Tmux::start(
        &format!(
            "{} --inventory {} -i {} list; echo EXIT=$?; sleep 30",
            bin(),
            inv.display(),
            key.display()
        ),
        100,
        20,
        &[],
    );
    t.wait_for("assphrase");
    t.type_text("wrong");
    t.send(&["Enter"]);
    let screen = t.wait_for("EXIT=");
    assert!(screen.contains("EXIT=1"), "{screen}");
    assert!(!screen.contains("panicked"), "{screen}");
}

#[test]
fn passphrase_inventories_round_trip_with_the_age_cli() {
    let ws = Workspace::new();
    let inv = ws.inventory();
    // keyward init --passphrase, then the age CLI decrypts it with the same passphrase.
    let t = Tmux::start(
        &format!(
            "{} --inventory {} init --passphrase; echo EXIT=$?; sleep 30",
            bin(),
            inv.display()
        ),
        100,
        20,
        &[],
    );
    t.wait_for("New passphrase");
    t.type_text(PASS);
    t.send(&["Enter"]);
    t.wait_for("Same passphrase again");
    t.type_text(PASS);
    t.send(&["Enter"]);
    assert!(t.wait_for("EXIT=").contains("EXIT=0"), "{}", t.screen());
    let plain = ws.path("plain.yaml");
    let t = Tmux::start(
        &format!(
            "age -d -o {} {}; echo EXIT=$?; sleep 30",
            plain.display(),
            inv.display()
        ),
        100,
        20,
        &[],
    );
    t.wait_for("passphrase");
    t.type_text(PASS);
    t.send(&["Enter"]);
    assert!(t.wait_for("EXIT=").contains("EXIT=0"), "{}", t.screen());
    assert!(std::fs::read_to_string(&plain)
        .unwrap()
        .contains("version: 1"));

    // The age CLI encrypts with a passphrase; keyward opens it, asking on the terminal.
    let from_age = ws.path("from-age.age");
    let t = Tmux::start(
        &format!(
            "printf 'version: 1\\nclients:\\n  - id: acme\\n    integrations:\\n      - id: bot\\n        provider: manual\\n' | age -p -o {}; echo EXIT=$?; sleep 30",
            from_age.display()
        ),
        100,
        20,
        &[],
    );
    t.wait_for("passphrase");
    t.type_text(PASS);
    t.send(&["Enter"]);
    t.wait_for("onfirm");
    t.type_text(PASS);
    t.send(&["Enter"]);
    assert!(t.wait_for("EXIT=").contains("EXIT=0"), "{}", t.screen());
    let t = Tmux::start(
        &format!(
            "{} --inventory {} list; echo EXIT=$?; sleep 30",
            bin(),
            from_age.display()
        ),
        100,
        20,
        &[],
    );
    t.wait_for("Passphrase for");
    t.type_text(PASS);
    t.send(&["Enter"]);
    let screen = t.wait_for("EXIT=");
    assert!(
        screen.contains("acme/bot") && screen.contains("EXIT=0"),
        "{screen}"
    );
    // Without a terminal (setsid drops the controlling one, as cron has none), a passphrase
    // inventory fails with one clear line instead of waiting.
    let mut detached = Command::new("setsid");
    detached
        .args([
            "-w",
            bin(),
            "--inventory",
            from_age.to_str().unwrap(),
            "list",
        ])
        .env("HOME", ws.dir.path());
    let out = run_with_stdin(&mut detached, "");
    assert_one_line_error(&out, "no terminal");
}

/// An ed25519 key at `name` in `ws`, protected by `passphrase` (empty: none); returns its
/// path and its public key line.
fn ssh_key(ws: &Workspace, name: &str, passphrase: &str) -> (std::path::PathBuf, String) {
    let key = ws.path(name);
    let gen = Command::new("ssh-keygen")
        .args(["-t", "ed25519", "-N", passphrase, "-q", "-C", name, "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen (openssh-client) is needed");
    assert!(gen.status.success(), "{gen:?}");
    let public = std::fs::read_to_string(ws.path(&format!("{name}.pub"))).unwrap();
    (key, public.trim().to_string())
}

/// An inventory encrypted to an age identity, two plain SSH keys and, last, a
/// passphrase-protected SSH key: four recipients, the protected key's stanza after three
/// others. Returns the protected key's path.
fn inventory_with_four_recipients(ws: &Workspace) -> std::path::PathBuf {
    let age_id = ws.path("age-id.txt");
    let gen = Command::new("age-keygen")
        .arg("-o")
        .arg(&age_id)
        .output()
        .expect("age-keygen");
    assert!(gen.status.success(), "{gen:?}");
    let (_, first) = ssh_key(ws, "id_first", "");
    let (_, second) = ssh_key(ws, "id_second", "");
    let (protected, last) = ssh_key(ws, "id_protected", PASS);
    let a = age_id.to_str().unwrap();
    ws.ok(&["-i", a, "init"], "");
    for r in [&first, &second, &last] {
        ws.ok(&["-i", a, "recipients", "add", r], "");
    }
    let listed = ws.ok(&["-i", a, "recipients", "list"], "");
    assert_eq!(
        listed.lines().filter(|l| !l.trim().is_empty()).count(),
        4,
        "{listed}"
    );
    protected
}

#[test]
fn an_encrypted_ssh_key_is_asked_for_once_whatever_the_number_of_recipients() {
    let ws = Workspace::new();
    let key = inventory_with_four_recipients(&ws);
    // `add` opens the inventory twice (a read, then under the lock): still one prompt.
    let cmd = format!(
        "{} --inventory {} -i {} add acme/bot --provider manual --no-secret; echo EXIT=$?; sleep 30",
        bin(),
        ws.inventory().display(),
        key.display()
    );
    let t = Tmux::start(&cmd, 120, 30, &[("HOME", ws.dir.path().to_str().unwrap())]);
    t.wait_for("Passphrase for SSH key");
    // rpassword prints the prompt before it turns echo off: typing at once can race it
    // on a loaded machine and show the passphrase, through no fault of keyward's.
    std::thread::sleep(std::time::Duration::from_millis(500));
    t.type_text(PASS);
    t.send(&["Enter"]);
    let screen = t.wait_for("EXIT=");
    assert_eq!(
        screen.matches("assphrase").count(),
        1,
        "one prompt for four recipients:\n{screen}"
    );
    assert!(
        screen.contains("Added acme/bot.") && screen.contains("EXIT=0"),
        "{screen}"
    );
    assert!(!screen.contains(PASS), "the passphrase is never echoed");
}

#[test]
fn an_encrypted_ssh_key_without_a_terminal_names_the_key_and_the_way_out() {
    let ws = Workspace::new();
    let key = inventory_with_four_recipients(&ws);
    let mut detached = Command::new("setsid");
    detached
        .args(["-w", bin(), "--inventory"])
        .arg(ws.inventory())
        .arg("-i")
        .arg(&key)
        .arg("list")
        .env("HOME", ws.dir.path());
    let out = run_with_stdin(&mut detached, "");
    let line = assert_one_line_error(&out, &key.display().to_string());
    assert!(line.contains("passphrase-protected"), "{line}");
    assert!(line.contains("no terminal"), "{line}");
    assert!(
        line.contains("age-keygen") && line.contains("ssh-agent"),
        "{line}"
    );
    assert!(!line.contains("none of the identities"), "{line}");
}

#[test]
fn a_passphrase_file_opens_a_passphrase_inventory_without_a_terminal_only_when_private() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::new();
    let inv = ws.inventory();
    let mut inventory = keyward::inventory::Inventory::new(vec![]);
    inventory.insert(
        "acme",
        keyward::inventory::Credential::new("bot", keyward::inventory::ProviderKind::Manual),
    );
    drop(
        keyward::store::Store::create_with_passphrase(&inv, &inventory, PASS.to_string().into())
            .unwrap(),
    );
    let file = ws.path("pass.txt");
    std::fs::write(&file, format!("{PASS}\n")).unwrap();
    let detached = |env_file: bool| {
        let mut cmd = Command::new("setsid");
        cmd.args(["-w", bin(), "--inventory"]).arg(&inv);
        if env_file {
            cmd.env("KEYWARD_PASSPHRASE_FILE", &file);
        } else {
            cmd.arg("--passphrase-file").arg(&file);
        }
        cmd.arg("list").env("HOME", ws.dir.path());
        run_with_stdin(&mut cmd, "")
    };
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let line = assert_one_line_error(&detached(false), "pass.txt");
    assert!(
        line.contains("0644") && line.contains("chmod 600"),
        "{line}"
    );
    assert!(!line.contains(PASS), "{line}");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    for env_file in [false, true] {
        let out = detached(env_file);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("acme/bot"));
    }
    // A wrong passphrase in the file is the same one line as a wrong one typed.
    std::fs::write(&file, "not it\n").unwrap();
    assert_one_line_error(&detached(true), "wrong passphrase");
    // A link is never followed to the passphrase.
    let link = ws.path("link.txt");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    let mut cmd = Command::new("setsid");
    cmd.args(["-w", bin(), "--inventory"])
        .arg(&inv)
        .arg("--passphrase-file")
        .arg(&link)
        .arg("list")
        .env("HOME", ws.dir.path());
    assert_one_line_error(&run_with_stdin(&mut cmd, ""), "link.txt");
}

#[test]
fn an_invalid_edit_on_a_terminal_is_offered_again_and_then_saved() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::new();
    ws.init();
    ws.ok(
        &[
            "add",
            "acme/bot",
            "--provider",
            "manual",
            "--owner",
            "alice",
            "--no-secret",
        ],
        "",
    );
    // The first edit breaks the file, the second (after "edit again") repairs it.
    let count = ws.path("edited-once");
    let script = ws.path("editor.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nif [ -e {c} ]; then sed -i 's/colour: red/owner: bob/' \"$1\"; \
             else touch {c}; sed -i 's/owner: alice/colour: red/' \"$1\"; fi\n",
            c = count.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    let run = ws.path("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    let cmd = format!("{} edit; echo EXIT=$?; sleep 30", bin());
    let t = Tmux::start(
        &cmd,
        120,
        30,
        &[
            ("HOME", ws.dir.path().to_str().unwrap()),
            ("KEYWARD_INVENTORY", ws.inventory().to_str().unwrap()),
            ("EDITOR", script.to_str().unwrap()),
            ("XDG_RUNTIME_DIR", run.to_str().unwrap()),
        ],
    );
    let screen = t.wait_for("Edit again");
    assert!(screen.contains("unknown field `colour`"), "{screen}");
    t.type_text("y");
    t.send(&["Enter"]);
    let screen = t.wait_for("EXIT=");
    assert!(
        screen.contains("Saved: edited by hand: changed acme/bot.") && screen.contains("EXIT=0"),
        "{screen}"
    );
    assert_eq!(std::fs::read_dir(&run).unwrap().count(), 0, "no draft left");
    let shown = ws.ok(&["show", "acme/bot", "--json"], "");
    assert!(shown.contains("\"owner\": \"bob\""), "{shown}");
}

/// Regression: `rotate` held the inventory's lock while its question waited for an answer,
/// so a cron job that wanted to write failed for as long as the prompt stayed open.
#[test]
fn a_rotate_prompt_left_open_holds_off_no_writer_and_notices_its_change() {
    use keyward::inventory::Deploy;
    use support::sandbox_inventory::{assert_settled, at, load, write};
    let ws = Workspace::new();
    let sink = ws.path("sink");
    write(
        &ws,
        1,
        Some(Deploy::Command {
            idempotent: false,
            run: format!("cat > '{}'", sink.display()),
        }),
    );
    let cmd = format!(
        "{} --inventory {} -i {} rotate acme/k0; echo EXIT=$?; sleep 30",
        bin(),
        ws.inventory().display(),
        ws.default_identity().display()
    );
    let t = Tmux::start(&cmd, 140, 30, &[("HOME", ws.dir.path().to_str().unwrap())]);
    t.wait_for("Rotate 1 credential(s)? [y/N]");
    // The question is open: another writer (a cron job) saves meanwhile, and succeeds.
    let out = ws.run(
        &["add", "acme/other", "--provider", "manual", "--no-secret"],
        "",
    );
    assert!(
        out.status.success(),
        "the second writer was held off: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.type_text("y");
    t.send(&["Enter"]);
    let screen = t.wait_for("EXIT=");
    assert!(
        screen.contains("changed by another writer since the plan was made"),
        "{screen}"
    );
    assert!(
        screen.contains("the plan is the same; going ahead"),
        "{screen}"
    );
    assert!(screen.contains("EXIT=0"), "{screen}");
    // Both changes are in the file: the rotation ran on the other writer's version.
    let inv = load(&ws);
    assert!(inv.credential(&at("acme/other")).is_some());
    assert_settled(&ws, &inv, &at("acme/k0"));
}

/// Regression: a question asked during a run (here, confirming a manual deploy) held the
/// inventory's lock from the run's first save to its end, so a cron job that wanted to
/// write failed for as long as the person took to answer. Now each save takes the lock
/// alone and applies the run's changes onto the other writer's.
#[test]
fn a_question_during_a_rotation_holds_off_no_writer_and_both_changes_are_kept() {
    use keyward::inventory::Deploy;
    use support::sandbox_inventory::{assert_settled, at, load, write};
    let ws = Workspace::new();
    write(
        &ws,
        1,
        Some(Deploy::Manual {
            instructions: Some("paste it into the CRM's settings".into()),
        }),
    );
    let cmd = format!(
        "{} --inventory {} -i {} rotate acme/k0; echo EXIT=$?; sleep 30",
        bin(),
        ws.inventory().display(),
        ws.default_identity().display()
    );
    let t = Tmux::start(&cmd, 140, 30, &[("HOME", ws.dir.path().to_str().unwrap())]);
    t.wait_for("Rotate 1 credential(s)? [y/N]");
    t.send(&["y", "Enter"]);
    // The run has saved its journal and the new key, and now waits for the person.
    // The question's own words (the plan names the instructions too).
    t.wait_for("(paste it into the CRM's settings). Done?");
    let out = ws.run(
        &["add", "acme/other", "--provider", "manual", "--no-secret"],
        "",
    );
    assert!(
        out.status.success(),
        "the second writer was held off by the open question: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The other writer's change is on disk beside the run's journal.
    let meanwhile = load(&ws);
    assert!(meanwhile.credential(&at("acme/other")).is_some());
    assert!(meanwhile
        .credential(&at("acme/k0"))
        .unwrap()
        .rotation
        .is_some());
    t.send(&["y", "Enter"]);
    let screen = t.wait_for("EXIT=");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(screen.contains("Rotated: 1 done"), "{screen}");
    // The run's later saves kept the other writer's credential.
    let inv = load(&ws);
    assert!(
        inv.credential(&at("acme/other")).is_some(),
        "lost the other writer's change"
    );
    assert_settled(&ws, &inv, &at("acme/k0"));
}
