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
