//! Crash tests with the real binary: `keyward rotate` is paused at each step boundary by
//! the test-only hook (`KEYWARD_TEST_PAUSE_AT`, built with `--features test-hooks`) and
//! killed with SIGKILL there; then `keyward resume` (or `resume --rollback`) runs. After
//! every crash the inventory shows the interrupted rotation at the right step and the old
//! key still works; after resume the sandbox's keys and the inventory agree, the working
//! secret is in the inventory, and the old key was revoked only once the new one verified.

use crate::support;

use keyward::inventory::journal::Step;
use keyward::inventory::{Deploy, Inventory, RemoteStatus};
use support::crash;
use support::sandbox_inventory::{
    assert_no_secret, assert_settled, at, keys, load, read, works, write,
};
use support::workspace::Workspace;

/// Kills `keyward rotate acme/k0` at `point`; returns the inventory it left.
fn rotate_and_kill_at(ws: &Workspace, point: &str) -> Inventory {
    crash::rotate_and_kill_at(ws, "acme/k0", point);
    load(ws)
}

fn sink_deploy(ws: &Workspace) -> Deploy {
    Deploy::Command {
        idempotent: false,
        run: format!("cat > '{}'", ws.path("sink").display()),
    }
}

fn crash_then_resume(point: &str, step: Step) {
    let ws = Workspace::new();
    let old = write(&ws, 1, Some(sink_deploy(&ws)));
    let r = at("acme/k0");
    let old_c = old.credential(&r).unwrap().clone();
    let old_id = old_c.remote_id.clone().unwrap();

    let crashed = rotate_and_kill_at(&ws, point);
    let j = crashed
        .credential(&r)
        .unwrap()
        .rotation
        .clone()
        .expect("the interrupted rotation is journaled");
    assert_eq!(j.step, step, "paused at {point}");
    // Every pause point is before the old key is touched: it still works.
    assert!(
        works(&ws, &crashed, &r, &old_id, old_c.secret.as_ref().unwrap()),
        "{point}"
    );
    if point == "store" {
        // The provider issued a key the file does not record yet: exactly the orphan that
        // resume must find.
        assert!(j.new_remote_id.is_none());
        assert_eq!(keys(&ws, &crashed, &r).len(), 2);
    }

    let out = ws.run(&["resume"], "");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert_no_secret(&stdout);
    assert_no_secret(&stderr);
    assert_eq!(out.status.code(), Some(0), "{point}: {stdout}\n{stderr}");
    assert!(stdout.contains("Resumed: 1 done"), "{stdout}");

    let inv = load(&ws);
    assert_settled(&ws, &inv, &r);
    let c = inv.credential(&r).unwrap();
    assert_ne!(c.secret, old_c.secret);
    // The old key was revoked (deactivated for the grace period), the new key verified.
    let old_key = keys(&ws, &inv, &r)
        .into_iter()
        .find(|k| k.remote_id == old_id)
        .expect("kept for the grace period");
    assert_eq!(old_key.state, RemoteStatus::Inactive);
    assert_eq!(c.pending_revocations[0].remote_id, old_id);
    let rotated = c
        .history
        .iter()
        .rev()
        .find(|h| h.event == keyward::inventory::HistoryEvent::Rotated)
        .unwrap();
    assert!(rotated.detail.contains(&j.id), "{rotated:?}");
    // The consumer holds the working secret.
    assert_eq!(
        read(&ws.path("sink")),
        format!("{}\n", c.secret.as_ref().unwrap().expose_secret())
    );
}

fn crash_then_rollback(point: &str) {
    let ws = Workspace::new();
    let old = write(&ws, 1, Some(sink_deploy(&ws)));
    let r = at("acme/k0");
    rotate_and_kill_at(&ws, point);
    let out = ws.run(&["resume", "--rollback", "--yes"], "");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{point}: {stdout}");
    assert!(stdout.contains("Rolled back: 1 done"), "{stdout}");
    let inv = load(&ws);
    assert_settled(&ws, &inv, &r);
    assert_eq!(
        inv.credential(&r).unwrap().secret,
        old.credential(&r).unwrap().secret
    );
    assert_eq!(keys(&ws, &inv, &r).len(), 1);
}

#[test]
fn killed_at_create_then_resume() {
    crash_then_resume("create", Step::Create);
}

#[test]
fn killed_at_store_then_resume_deletes_the_unrecorded_key() {
    crash_then_resume("store", Step::Create);
}

#[test]
fn killed_at_deploy_then_resume() {
    crash_then_resume("deploy", Step::Deploy);
}

#[test]
fn killed_at_verify_then_resume() {
    crash_then_resume("verify", Step::Verify);
}

#[test]
fn killed_at_revoke_then_resume() {
    crash_then_resume("revoke", Step::RevokeOld);
}

#[test]
fn killed_at_store_then_rollback() {
    crash_then_rollback("store");
}

#[test]
fn killed_at_verify_then_rollback() {
    crash_then_rollback("verify");
}

#[test]
fn killed_at_revoke_cannot_be_rolled_back_but_resumes() {
    let ws = Workspace::new();
    write(&ws, 1, Some(sink_deploy(&ws)));
    rotate_and_kill_at(&ws, "revoke");
    let out = ws.run(&["resume", "--rollback", "--yes"], "");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("cannot roll back: the new key is verified"),
        "{stdout}"
    );
    let out = ws.run(&["resume"], "");
    assert_eq!(out.status.code(), Some(0));
    assert_settled(&ws, &load(&ws), &at("acme/k0"));
}

/// A deploy command that appends its shell's pid to `runs` as it starts, takes its time on
/// its first run only (so the test can kill keyward while it runs), then delivers.
fn counting_deploy(ws: &Workspace, idempotent: bool) -> Deploy {
    let (runs, slow, sink) = (ws.path("runs"), ws.path("slow"), ws.path("sink"));
    Deploy::Command {
        run: format!(
            "echo $$ >> '{runs}'; if [ ! -e '{slow}' ]; then touch '{slow}'; sleep 30; fi; \
             cat > '{sink}'",
            runs = runs.display(),
            slow = slow.display(),
            sink = sink.display()
        ),
        idempotent,
    }
}

fn runs(ws: &Workspace) -> Vec<u32> {
    std::fs::read_to_string(ws.path("runs"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().parse().expect("a pid"))
        .collect()
}

/// Kills keyward while the deploy command runs; asserts the command died with it (before
/// the fix it went on in its own process group) and the journal says a deploy started.
fn kill_during_the_deploy_command(ws: &Workspace) -> u32 {
    crash::rotate_and_kill_once(ws, "acme/k0", || runs(ws).len() == 1);
    let first = runs(ws)[0];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !crash::is_gone(first) {
        assert!(
            std::time::Instant::now() < deadline,
            "the deploy command {first} outlived keyward"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let j = load(ws)
        .credential(&at("acme/k0"))
        .unwrap()
        .rotation
        .clone()
        .expect("journaled");
    assert_eq!(j.step, Step::Deploy);
    assert!(j.deploy_started_at.is_some(), "{j:?}");
    assert!(
        !ws.path("sink").exists(),
        "the killed deploy never delivered"
    );
    first
}

#[test]
fn killed_during_the_deploy_then_resume_never_runs_it_twice() {
    let ws = Workspace::new();
    write(&ws, 1, Some(counting_deploy(&ws, false)));
    kill_during_the_deploy_command(&ws);

    // No terminal: nobody to ask, so it waits; `--yes` does not answer for a deploy that
    // is not marked idempotent.
    for args in [&["resume"][..], &["resume", "--yes"][..]] {
        let out = ws.run(args, "");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert_no_secret(&stdout);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {stdout}");
        assert!(stdout.contains("1 waiting for a person"), "{stdout}");
        assert!(
            stdout.contains("whether to run the interrupted deploy again"),
            "{stdout}"
        );
        assert_eq!(runs(&ws).len(), 1, "{args:?}: the deploy ran once");
    }
    let j = load(&ws)
        .credential(&at("acme/k0"))
        .unwrap()
        .rotation
        .clone()
        .unwrap();
    assert_eq!(j.step, Step::Deploy);
    assert!(j.waiting_for.is_some());
}

#[test]
fn killed_during_an_idempotent_deploy_then_resume_yes_runs_it_again() {
    let ws = Workspace::new();
    write(&ws, 1, Some(counting_deploy(&ws, true)));
    let first = kill_during_the_deploy_command(&ws);

    let out = ws.run(&["resume", "--yes"], "");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Resumed: 1 done"), "{stdout}");
    // The killed run and the one `--yes` allowed, never two at once.
    let all = runs(&ws);
    assert_eq!(all.len(), 2, "{all:?}");
    assert_ne!(all[1], first);
    let inv = load(&ws);
    let r = at("acme/k0");
    assert_settled(&ws, &inv, &r);
    let c = inv.credential(&r).unwrap();
    assert_eq!(
        read(&ws.path("sink")),
        format!("{}\n", c.secret.as_ref().unwrap().expose_secret())
    );
}
