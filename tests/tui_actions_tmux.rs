//! The dashboard's actions end to end: the real binary on the demo inventory (kept in a
//! directory with `keyward demo --keep-in`, so the file and the sandbox can be read back
//! afterwards), driven with keys in tmux. Three credentials that fall due are marked and
//! rotated in bulk, their deploy confirmations answered from the queue; the file is then
//! decrypted with the `age` CLI and compared with the sandbox's state. One client's report
//! is exported with `e` and read back.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::tmux::Tmux;
use support::workspace::{age, Workspace, NOW};

/// A kept demo in a workspace: (workspace, inventory, identity).
fn kept_demo() -> (Workspace, PathBuf, PathBuf) {
    let ws = Workspace::new();
    let dir = ws.path("demo");
    ws.ok(&["demo", "--keep-in", dir.to_str().unwrap()], "");
    let inv = dir.join("demo.yaml.age");
    let id = dir.join("demo-identity.txt");
    assert!(inv.is_file() && id.is_file());
    (ws, inv, id)
}

/// The dashboard on `inv` in tmux, started in `cwd`.
fn dashboard(ws: &Workspace, inv: &Path, id: &Path, cwd: &Path) -> Tmux {
    let home = ws.dir.path().to_str().unwrap().to_string();
    let t = Tmux::start(
        &format!(
            "cd '{}' && exec {}",
            cwd.display(),
            env!("CARGO_BIN_EXE_keyward")
        ),
        100,
        30,
        &[
            ("HOME", &home),
            ("KEYWARD_INVENTORY", inv.to_str().unwrap()),
            ("KEYWARD_IDENTITY", id.to_str().unwrap()),
            ("KEYWARD_NOW", NOW),
        ],
    );
    t.wait_for("STATUS");
    t
}

/// Presses Escape and waits for the screen to change: a key sent right after ESC would be
/// read as Alt-key.
fn escape(t: &Tmux) {
    let before = t.screen();
    t.send(&["Escape"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.screen() == before {
        assert!(Instant::now() < deadline, "Esc changed nothing:\n{before}");
        std::thread::sleep(Duration::from_millis(30));
    }
}

fn command(t: &Tmux, line: &str) {
    t.type_text(&format!(":{line}"));
    t.send(&["Enter"]);
}

/// The inventory decrypted with the age CLI, as YAML.
fn decrypt(inv: &Path, id: &Path) -> serde_yaml::Value {
    let out = age(
        &["-d", "-i", id.to_str().unwrap(), inv.to_str().unwrap()],
        "",
    );
    assert!(
        out.status.success(),
        "age -d: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_yaml::from_slice(&out.stdout).expect("the decrypted inventory is YAML")
}

fn credential<'a>(inv: &'a serde_yaml::Value, at: &str) -> &'a serde_yaml::Value {
    let (client, id) = at.split_once('/').unwrap();
    inv["clients"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|c| c["id"].as_str() == Some(client))
        .and_then(|c| {
            c["integrations"]
                .as_sequence()
                .unwrap()
                .iter()
                .find(|i| i["id"].as_str() == Some(id))
        })
        .unwrap_or_else(|| panic!("no {at} in the inventory"))
}

/// The sandbox's keys by id: (active, sha256 of the secret). The state file names no key
/// (issue 9), so each is looked up by the id the inventory names.
struct SandboxKeys(PathBuf);

impl SandboxKeys {
    fn get(&self, id: &str) -> Option<(bool, String)> {
        keyward::providers::sandbox::key_record(&self.0, id).expect("the sandbox state")
    }

    /// Asserts that every key the sandbox holds is one named in `text` (the inventory):
    /// no orphan key was left at the provider.
    fn assert_no_orphan(&self, text: &str) {
        let words: std::collections::BTreeSet<&str> = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .filter(|w| !w.is_empty())
            .collect();
        let words: Vec<&str> = words.into_iter().collect();
        let (named, total) =
            keyward::providers::sandbox::keys_among(&self.0, &words).expect("the sandbox state");
        assert_eq!(
            named.len(),
            total,
            "orphan keys at the sandbox: it holds {total}, the inventory names {named:?}"
        );
    }

    fn key(&self, id: &str) -> (bool, String) {
        self.get(id)
            .unwrap_or_else(|| panic!("no sandbox key {id}"))
    }
}

fn sandbox_keys(inv: &Path) -> SandboxKeys {
    SandboxKeys(PathBuf::from(format!("{}.sandbox.json", inv.display())))
}

fn sha256(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

const DUE: [&str; 3] = [
    "cobalt/intake-forms",
    "cobalt/ehr-bridge",
    "bluebird/newsletter",
];

#[test]
fn bulk_rotation_of_three_due_credentials_reaches_3_of_3_and_the_file_and_sandbox_agree() {
    let (ws, inv, id) = kept_demo();
    let before = decrypt(&inv, &id);
    let old: Vec<(String, String)> = DUE
        .iter()
        .map(|at| {
            let c = credential(&before, at);
            (
                c["remote_id"].as_str().unwrap().to_string(),
                c["secret"].as_str().unwrap().to_string(),
            )
        })
        .collect();

    let t = dashboard(&ws, &inv, &id, ws.dir.path());
    for at in DUE {
        command(&t, &format!("filter {}", at.split('/').nth(1).unwrap()));
        t.send(&["Space"]);
    }
    command(&t, "filter");
    t.wait_for("3 marked");
    t.send(&["R"]);
    // Every item, on one screen: a capture taken while the dialog is drawn can hold only
    // its first lines (this test failed that way once).
    let mut needles = vec!["Rotate 3 credential(s)"];
    needles.extend(DUE);
    t.wait_for_all(&needles);
    // Enter on the opening focus cancels; Tab moves to Rotate.
    t.send(&["Tab"]);
    t.send(&["Enter"]);
    t.wait_for("› run");

    // Each credential's deploy is confirmed by hand, from the queue.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut answered = 0;
    loop {
        let screen = t.screen();
        if screen.contains("rotate 3/3") && screen.contains("done 3") {
            break;
        }
        assert!(Instant::now() < deadline, "never reached 3/3:\n{screen}");
        assert!(!screen.contains("FAILED"), "{screen}");
        if screen.contains("Deploy by hand") {
            t.send(&["y"]);
            answered += 1;
            std::thread::sleep(Duration::from_millis(200));
        } else if screen.contains("question(s) wait for you") {
            t.send(&["Enter"]);
            std::thread::sleep(Duration::from_millis(200));
        } else {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    assert_eq!(answered, 3);
    let done = t.wait_for("3 done, 0 failed, 0 waiting");
    for (_, secret) in &old {
        assert!(!done.contains(secret.as_str()));
    }
    // The table shows the rotated credentials from the engine's final inventory.
    escape(&t);
    command(&t, "filter intake-forms");
    let table = t.wait_for("intake-forms");
    assert!(table.contains("✓"), "{table}");
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);

    // Read back with the age CLI: new secrets stored, old keys deactivated at the sandbox.
    let after = decrypt(&inv, &id);
    let keys = sandbox_keys(&inv);
    for (at, (old_id, old_secret)) in DUE.iter().zip(&old) {
        let c = credential(&after, at);
        let new_id = c["remote_id"].as_str().unwrap();
        let new_secret = c["secret"].as_str().unwrap();
        assert_ne!(new_id, old_id, "{at}");
        assert_ne!(new_secret, old_secret, "{at}");
        assert!(c.get("rotation").is_none(), "{at}: journal left behind");
        let (active, hash) = &keys.get(new_id).unwrap_or_else(|| panic!("{at}: {new_id}"));
        assert!(*active, "{at}: the new key is active");
        assert_eq!(
            hash,
            &sha256(new_secret),
            "{at}: the stored secret is the key's"
        );
        let (old_active, _) = &keys.get(old_id.as_str()).expect("old key kept for grace");
        assert!(!*old_active, "{at}: the old key is deactivated");
    }

    // The same audit entries as `keyward rotate` writes.
    let out = ws
        .keyward()
        .env("KEYWARD_INVENTORY", &inv)
        .env("KEYWARD_IDENTITY", &id)
        .args(["audit", "--json"])
        .output()
        .unwrap();
    let audit = String::from_utf8_lossy(&out.stdout);
    for at in DUE {
        assert!(
            audit.contains(&format!("\"credential\":\"{at}\"")) || audit.contains(at),
            "{audit}"
        );
    }
    assert_eq!(audit.matches("\"rotated\"").count(), 3, "{audit}");
}

#[test]
fn e_on_client_acme_writes_its_report_and_says_the_full_path() {
    let (ws, inv, id) = kept_demo();
    let out_dir = ws.path("reports");
    std::fs::create_dir_all(&out_dir).unwrap();
    let t = dashboard(&ws, &inv, &id, &out_dir);
    command(&t, "client acme");
    t.wait_for("client acme");
    t.send(&["e"]);
    t.wait_for("acme-access-2026-11-26.md");
    t.send(&["Enter"]);
    let screen = t.wait_for("report written to");
    let expected = out_dir.join("acme-access-2026-11-26.md");
    let real = expected.canonicalize().expect("the report file");
    let status = screen
        .lines()
        .find(|l| l.contains("report written to"))
        .unwrap();
    assert!(
        status.contains(real.to_str().unwrap()) || status.contains(expected.to_str().unwrap()),
        "{status}"
    );
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);

    let report = std::fs::read_to_string(&expected).unwrap();
    let inventory = decrypt(&inv, &id);
    let acme = inventory["clients"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|c| c["id"].as_str() == Some("acme"))
        .unwrap();
    for c in acme["integrations"].as_sequence().unwrap() {
        let name = c["id"].as_str().unwrap();
        assert!(report.contains(name), "{name} missing from the report");
        if let Some(secret) = c["secret"].as_str() {
            assert!(!report.contains(secret), "a secret in the report");
        }
    }
    assert!(!report.contains("cobalt"), "another client's credentials");
}

/// Revokes bluebird/old-pos from the dashboard (planned); returns the screen after it.
fn revoke_old_pos(t: &Tmux) -> String {
    command(t, "filter old-pos");
    t.send(&["D"]);
    let dialog = t.wait_for("Kind: planned");
    assert!(
        dialog.contains("last used") && dialog.contains("used by"),
        "{dialog}"
    );
    // Enter on the opening focus (Cancel) would do nothing; → moves to Revoke.
    t.send(&["Right"]);
    t.send(&["Enter"]);
    t.wait_for("revoke: 1 done, 0 failed")
}

#[test]
fn d_revokes_from_the_dashboard_the_key_is_deactivated_and_on_record() {
    let (ws, inv, id) = kept_demo();
    let before = decrypt(&inv, &id);
    let old_id = credential(&before, "bluebird/old-pos")["remote_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(sandbox_keys(&inv).key(&old_id).0, "active before");
    let t = dashboard(&ws, &inv, &id, ws.dir.path());
    revoke_old_pos(&t);
    escape(&t);
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
    assert!(
        !sandbox_keys(&inv).key(&old_id).0,
        "the revoked key is still active"
    );
    let out = ws
        .keyward()
        .env("KEYWARD_INVENTORY", &inv)
        .env("KEYWARD_IDENTITY", &id)
        .args(["audit", "--json"])
        .output()
        .unwrap();
    let audit = String::from_utf8_lossy(&out.stdout);
    assert_eq!(audit.matches("\"revoked\"").count(), 1, "{audit}");
}

/// Issue 8 item 3: a revoked credential has its own status and leaves every filter that
/// selects work.
#[test]
fn a_revoked_credential_is_no_longer_picked_by_rotate_overdue() {
    let (ws, inv, id) = kept_demo();
    let t = dashboard(&ws, &inv, &id, ws.dir.path());
    command(&t, "rotate overdue");
    // The whole dialog, down to its buttons: a capture mid-draw shows only its first lines.
    let plan = t.wait_for_all(&["Rotation plan", "Tab moves, Enter presses"]);
    assert!(plan.contains("bluebird/old-pos"), "{plan}");
    escape(&t);
    t.wait_for("rotation cancelled");
    revoke_old_pos(&t);
    escape(&t);
    command(&t, "filter");
    command(&t, "rotate overdue");
    let plan = t.wait_for_all(&["Rotation plan", "Tab moves, Enter presses"]);
    assert!(!plan.contains("bluebird/old-pos"), "{plan}");
    escape(&t);
    command(&t, "filter old-pos");
    let row = t.wait_for("rotation cancelled");
    assert!(row.contains("revoked"), "{row}");
}

#[test]
fn killed_mid_bulk_the_banner_offers_resume_and_resume_leaves_no_orphan_key() {
    let (ws, inv, id) = kept_demo();
    let before = decrypt(&inv, &id);
    let old_ids: Vec<String> = DUE
        .iter()
        .map(|at| {
            credential(&before, at)["remote_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let t = dashboard(&ws, &inv, &id, ws.dir.path());
    for at in DUE {
        command(&t, &format!("filter {}", at.split('/').nth(1).unwrap()));
        t.send(&["Space"]);
    }
    command(&t, "filter");
    t.wait_for("3 marked");
    t.send(&["R"]);
    t.wait_for("Rotate 3 credential(s)");
    t.send(&["Tab"]);
    t.send(&["Enter"]);
    // All three have their new keys stored and wait at the deploy step for the person.
    t.wait_for("3 question(s) wait for you");
    let pid = t
        .tmux(&["display-message", "-p", "-t", &t.session, "#{pane_pid}"])
        .trim()
        .to_string();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_ne!(t.wait_exit(), 0);
    drop(t);
    let killed_state = decrypt(&inv, &id);
    for at in DUE {
        assert!(
            credential(&killed_state, at).get("rotation").is_some(),
            "{at}: no journal after the kill"
        );
    }

    // Opened again: the banner offers each one; resume finishes them one by one.
    let t = dashboard(&ws, &inv, &id, ws.dir.path());
    let banner = t.wait_for("Interrupted work");
    for at in DUE {
        assert!(banner.contains(at), "{banner}");
    }
    for round in 0..DUE.len() {
        if round > 0 {
            command(&t, "resume");
            t.wait_for("Interrupted work");
        }
        t.send(&["r"]);
        t.wait_for("Deploy by hand");
        t.send(&["y"]);
        t.wait_for("resume: 1 done, 0 failed");
        escape(&t);
    }
    command(&t, "resume");
    t.wait_for("nothing interrupted");
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);

    let after = decrypt(&inv, &id);
    let text = serde_yaml::to_string(&after).unwrap();
    let keys = sandbox_keys(&inv);
    for (at, old_id) in DUE.iter().zip(&old_ids) {
        let c = credential(&after, at);
        assert!(c.get("rotation").is_none(), "{at}: still journaled");
        let new_id = c["remote_id"].as_str().unwrap();
        assert_ne!(new_id, old_id, "{at}");
        let (active, hash) = &keys.key(new_id);
        assert!(*active, "{at}");
        assert_eq!(hash, &sha256(c["secret"].as_str().unwrap()), "{at}");
        assert!(
            !keys.key(old_id.as_str()).0,
            "{at}: the old key is still active"
        );
    }
    // No orphan: every key the sandbox holds is one the inventory records.
    keys.assert_no_orphan(&text);
}

#[test]
fn one_rotation_through_the_wizards_manual_deploy_step_with_the_new_secret_copied_unseen() {
    let (ws, inv, id) = kept_demo();
    let t = dashboard(&ws, &inv, &id, ws.dir.path());
    command(&t, "filter ehr-bridge");
    t.send(&["R"]);
    t.wait_for("Rotate 1 credential(s)");
    t.send(&["Tab"]);
    t.send(&["Enter"]);
    // The wizard asks at once at the manual deploy step, listing the consumers.
    let question = t.wait_for("Deploy by hand");
    assert!(
        question.contains("› deploy") || question.contains("deploy     running"),
        "{question}"
    );
    t.send(&["Y"]);
    let copied = t.wait_for("new secret sent to the clipboard (OSC 52)");
    t.send(&["y"]);
    let done = t.wait_for("rotate: 1 done, 0 failed");
    for line in [
        "create",
        "store",
        "deploy",
        "verify",
        "revoke-old",
        "commit",
    ] {
        assert!(done.contains(line), "{line}: {done}");
    }
    escape(&t);
    // The dashboard's next save knows the file the run wrote: not "changed on disk".
    t.send(&["s"]);
    let synced = t.wait_for("saved");
    assert!(!synced.contains("changed on disk"), "{synced}");
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);

    let after = decrypt(&inv, &id);
    let secret = credential(&after, "cobalt/ehr-bridge")["secret"]
        .as_str()
        .unwrap()
        .to_string();
    for screen in [&question, &copied, &done] {
        assert!(!screen.contains(&secret), "the new secret was on screen");
    }
    let out = ws
        .keyward()
        .env("KEYWARD_INVENTORY", &inv)
        .env("KEYWARD_IDENTITY", &id)
        .args(["audit", "--json"])
        .output()
        .unwrap();
    let audit = String::from_utf8_lossy(&out.stdout);
    assert!(audit.contains("\"copied\""), "{audit}");
    assert_eq!(audit.matches("\"rotated\"").count(), 1, "{audit}");
    assert!(!audit.contains(&secret));
}

/// Regression: the dashboard's run held the inventory's lock from its first save to its
/// end, so while its wizard waited for the person at the manual deploy step, a cron job
/// that wanted to write was refused. Now the run locks for each save alone, and its later
/// saves keep the other writer's change.
#[test]
fn the_wizards_open_deploy_question_holds_off_no_writer_and_both_changes_are_kept() {
    let (ws, inv, id) = kept_demo();
    let t = dashboard(&ws, &inv, &id, ws.dir.path());
    command(&t, "filter ehr-bridge");
    t.send(&["R"]);
    t.wait_for("Rotate 1 credential(s)");
    t.send(&["Tab"]);
    t.send(&["Enter"]);
    t.wait_for("Deploy by hand");
    let out = ws
        .keyward()
        .env("KEYWARD_INVENTORY", &inv)
        .env("KEYWARD_IDENTITY", &id)
        .args([
            "add",
            "cobalt/added-meanwhile",
            "--provider",
            "manual",
            "--no-secret",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the second writer was held off: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.send(&["Y"]);
    t.wait_for("new secret sent to the clipboard (OSC 52)");
    t.send(&["y"]);
    t.wait_for("rotate: 1 done, 0 failed");
    escape(&t);
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
    let after = decrypt(&inv, &id);
    assert!(
        credential(&after, "cobalt/ehr-bridge")
            .get("rotation")
            .is_none(),
        "the rotation finished"
    );
    credential(&after, "cobalt/added-meanwhile");
}

#[test]
fn a_hang_up_mid_bulk_ends_the_dashboard_and_keyward_resume_finishes_the_rest() {
    let (ws, inv, id) = kept_demo();
    let t = dashboard(&ws, &inv, &id, ws.dir.path());
    for at in DUE {
        command(&t, &format!("filter {}", at.split('/').nth(1).unwrap()));
        t.send(&["Space"]);
    }
    command(&t, "filter");
    t.wait_for("3 marked");
    t.send(&["R"]);
    t.wait_for("Rotate 3 credential(s)");
    t.send(&["Tab"]);
    t.send(&["Enter"]);
    t.wait_for("3 question(s) wait for you");
    let pid = t
        .tmux(&["display-message", "-p", "-t", &t.session, "#{pane_pid}"])
        .trim()
        .to_string();
    // What a dropped `ssh -t` does.
    t.tmux(&["kill-session", "-t", &t.session]);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let alive = std::process::Command::new("kill")
            .args(["-0", &pid])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        if !alive {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "keyward {pid} outlived its terminal"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(t);
    let interrupted = decrypt(&inv, &id);
    for at in DUE {
        assert!(
            credential(&interrupted, at).get("rotation").is_some(),
            "{at}: not journaled after the hang-up"
        );
    }

    let out = ws
        .keyward()
        .env("KEYWARD_INVENTORY", &inv)
        .env("KEYWARD_IDENTITY", &id)
        .args(["resume", "--yes"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let after = decrypt(&inv, &id);
    let text = serde_yaml::to_string(&after).unwrap();
    let keys = sandbox_keys(&inv);
    for at in DUE {
        let c = credential(&after, at);
        assert!(c.get("rotation").is_none(), "{at}: still journaled");
        let new_id = c["remote_id"].as_str().unwrap();
        assert_eq!(
            keys.key(new_id).1,
            sha256(c["secret"].as_str().unwrap()),
            "{at}"
        );
    }
    keys.assert_no_orphan(&text);
}
