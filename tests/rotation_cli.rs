//! `keyward rotate`, `resume` and `revoke` as a person or a cron job runs them, against the
//! sandbox: plans and dry runs, exit codes (0 done, 1 failed, 4 a person is needed,
//! 5 nothing to do, 64 usage),
//! plain progress lines on stderr, summaries, and never a secret on screen.

use crate::support;

use keyward::inventory::{Deploy, RemoteStatus};
use support::sandbox_inventory::{assert_no_secret, assert_settled, at, keys, load, read, write};
use support::workspace::{assert_one_line_error, assert_one_line_exit, hash, Workspace};

fn text(out: &std::process::Output) -> (String, String) {
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert_no_secret(&o);
    assert_no_secret(&e);
    (o, e)
}

#[test]
fn grace_days_and_expiring_overflow_panicked() {
    let ws = Workspace::new();
    write(&ws, 1, None);
    let before = hash(&ws.inventory());
    for args in [
        &["rotate", "acme/k0", "--yes", "--grace-days", "4000000000"][..],
        &["revoke", "acme/k0", "--yes", "--grace-days", "3651"][..],
        &["rotate", "--expiring", "4000000000", "--dry-run"][..],
    ] {
        let out = ws.run(args, "");
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stderr.contains("not in 0.."), "{args:?}: {stderr}");
    }
    assert_eq!(hash(&ws.inventory()), before);
}

#[test]
fn dry_run_shows_the_plan_and_changes_nothing() {
    let ws = Workspace::new();
    write(&ws, 2, None);
    let before = hash(&ws.inventory());
    let out = ws.run(&["rotate", "--client", "acme", "--dry-run", "--yes"], "");
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Plan: 2 credential(s)"), "{stdout}");
    assert!(
        stdout.contains("acme/k0  sandbox  create-then-revoke  (client acme)"),
        "{stdout}"
    );
    assert!(stdout.contains("steps: create > store > deploy > verify > revoke-old > commit"));
    assert!(stdout.contains("Dry run: nothing was changed."));
    // Without --yes (and without a terminal) the run would stop up front for the deploys
    // done by hand: the dry run says so, and exits as the run would.
    let out = ws.run(&["rotate", "--client", "acme", "--dry-run"], "");
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(4), "{stdout}");
    assert!(
        stdout
            .contains("this would stop: acme/k0 (a person to confirm the consumers were updated)"),
        "{stdout}"
    );
    assert_eq!(hash(&ws.inventory()), before);
}

#[test]
fn rotate_with_a_command_sink_finishes_and_the_consumer_gets_the_new_secret() {
    let ws = Workspace::new();
    // Each consumer file is named by the new key's id, passed in the environment.
    let deploy = Deploy::Command {
        idempotent: false,
        run: format!("cat > '{}'/\"$KEYWARD_REMOTE_ID\"", ws.dir.path().display()),
    };
    let old = write(&ws, 3, Some(deploy));
    let out = ws.run(&["rotate", "acme/k0", "acme/k2", "--yes"], "");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Rotated: 2 done, 0 failed, 0 waiting for a person."),
        "{stdout}"
    );
    // stderr is not a terminal: plain lines, one per credential.
    assert!(
        stderr.contains("acme/k0: done: rotated; old key"),
        "{stderr}"
    );
    assert!(
        stderr.contains("acme/k2: done: rotated; old key"),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\r'),
        "no bar drawn off a terminal: {stderr:?}"
    );

    let inv = load(&ws);
    for r in ["acme/k0", "acme/k2"].map(at) {
        assert_settled(&ws, &inv, &r);
        let c = inv.credential(&r).unwrap();
        assert_ne!(c.secret, old.credential(&r).unwrap().secret);
        assert_eq!(c.pending_revocations.len(), 1);
    }
    // The untouched one is untouched.
    assert_eq!(
        inv.credential(&at("acme/k1")),
        old.credential(&at("acme/k1"))
    );
    // Each rotation is in the audit log, and the chain holds.
    let log = read(&ws.path("inventory.yaml.age.audit.jsonl"));
    assert_no_secret(&log);
    let rotated: Vec<serde_json::Value> = ws
        .audit_entries()
        .into_iter()
        .filter(|e| e["action"] == "rotated")
        .collect();
    let mut logged: Vec<&str> = rotated
        .iter()
        .filter_map(|e| e["credential"].as_str())
        .collect();
    logged.sort();
    assert_eq!(logged, ["acme/k0", "acme/k2"], "{log}");
    let verified = ws.run(&["audit", "--verify"], "");
    assert_eq!(verified.status.code(), Some(0), "{}", text(&verified).1);

    for r in ["acme/k0", "acme/k2"].map(at) {
        let c = inv.credential(&r).unwrap();
        let consumer = ws.path(c.remote_id.as_deref().unwrap());
        assert_eq!(
            read(&consumer),
            format!("{}\n", c.secret.as_ref().unwrap().expose_secret())
        );
    }
}

#[test]
fn without_a_person_a_plan_needing_one_is_refused_up_front_and_yes_confirms_it() {
    // Before: without a terminal or --yes, `rotate` created and stored a new key, then
    // stopped waiting for a person nobody had asked (exit 4 with a rotation half done).
    let ws = Workspace::new();
    write(&ws, 1, None);
    let r = at("acme/k0");
    let before = hash(&ws.inventory());
    let out = ws.run(&["rotate", "acme/k0"], "");
    let stderr = assert_one_line_exit(&out, 4, "acme/k0 (");
    assert_no_secret(&stderr);
    assert!(stderr.contains("pass --yes"), "{stderr}");
    assert!(out.stdout.starts_with(b"Plan: 1 credential(s)"));
    // Nothing changed: no new key at the provider, no journal, the file as it was.
    assert_eq!(hash(&ws.inventory()), before);
    assert_eq!(keys(&ws, &load(&ws), &r).len(), 1);
    assert!(load(&ws).credential(&r).unwrap().rotation.is_none());
    // The dry run says the same up front.
    let out = ws.run(&["rotate", "acme/k0", "--dry-run"], "");
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(4), "{stdout}");
    assert!(stdout.contains("would stop: acme/k0"), "{stdout}");
    // `check` has nothing interrupted to report.
    assert_eq!(ws.run(&["check"], "").status.code(), Some(0));

    // --yes confirms the manual deploy up front: the rotation finishes.
    let out = ws.run(&["rotate", "acme/k0", "--yes"], "");
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Rotated: 1 done"), "{stdout}");
    assert_settled(&ws, &load(&ws), &r);
    // Nothing left: resume says so, with the "nothing to do" code.
    let out = ws.run(&["resume"], "");
    assert_eq!(out.status.code(), Some(5));
    assert!(text(&out).0.contains("Nothing in flight."));
}

#[test]
fn a_failing_deploy_exits_1_and_rollback_restores_the_old_key() {
    let ws = Workspace::new();
    let old = write(
        &ws,
        1,
        Some(Deploy::Command {
            idempotent: false,
            run: "cat; echo 'bad gateway' >&2; exit 2".into(),
        }),
    );
    let r = at("acme/k0");
    let out = ws.run(&["rotate", "acme/k0", "--yes"], "");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("failed  acme/k0: deploy failed: the deploy command exited with status 2"),
        "{stdout}"
    );
    assert_eq!(keys(&ws, &load(&ws), &r).len(), 2);

    // Rolling back asks for a confirmation that a cron job cannot give.
    let out = ws.run(&["resume", "--rollback"], "");
    assert_one_line_exit(&out, 4, "acme/k0 (a confirmation to roll back)");
    // The rollback redeploys the old secret with the same (still failing) command: fix it.
    let mut inv = load(&ws);
    let sink = ws.path("sink");
    inv.credential_mut(&r).unwrap().deploy = keyward::inventory::Deploys::from(Deploy::Command {
        idempotent: false,
        run: format!("cat > '{}'", sink.display()),
    });
    drop(
        keyward::store::Store::open_locked(
            &ws.inventory(),
            &keyward::store::Keyring::load(&[ws.default_identity()]).unwrap(),
        )
        .map(|(mut s, _)| s.save(&inv).unwrap()),
    );
    let out = ws.run(&["resume", "--rollback", "--yes"], "");
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Rolled back: 1 done"), "{stdout}");
    let inv = load(&ws);
    assert_settled(&ws, &inv, &r);
    let c = inv.credential(&r).unwrap();
    assert_eq!(c.secret, old.credential(&r).unwrap().secret);
    assert_eq!(
        read(&sink),
        format!("{}\n", c.secret.as_ref().unwrap().expose_secret())
    );
    assert_eq!(keys(&ws, &inv, &r).len(), 1);
}

#[test]
fn revoke_needs_a_yes_then_deactivates_or_with_emergency_deletes() {
    let ws = Workspace::new();
    write(&ws, 2, None);
    let before = hash(&ws.inventory());
    let out = ws.run(&["revoke", "acme/k0"], "");
    assert_one_line_exit(&out, 4, "acme/k0 (a confirmation to revoke)");
    assert_eq!(hash(&ws.inventory()), before);

    let out = ws.run(&["revoke", "acme/k0", "--yes"], "");
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("deactivated, to be deleted after"),
        "{stdout}"
    );
    let out = ws.run(&["revoke", "acme/k1", "--emergency", "--yes"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).0);

    let inv = load(&ws);
    let (k0, k1) = (at("acme/k0"), at("acme/k1"));
    assert_eq!(keys(&ws, &inv, &k0)[0].state, RemoteStatus::Inactive);
    assert_eq!(inv.credential(&k0).unwrap().pending_revocations.len(), 1);
    assert!(keys(&ws, &inv, &k1).is_empty());
    let c1 = inv.credential(&k1).unwrap();
    assert_eq!(c1.remote.as_ref().unwrap().state, RemoteStatus::Revoked);
    assert!(c1.secret.is_none());
    let entries = ws.audit_entries();
    let revoked = entries.iter().filter(|e| e["action"] == "revoked").count();
    assert_eq!(revoked, 2, "{entries:?}");
}

#[test]
fn bulk_rotation_by_client_reports_every_credential() {
    let ws = Workspace::new();
    write(
        &ws,
        30,
        Some(Deploy::Command {
            idempotent: false,
            run: "cat >/dev/null".into(),
        }),
    );
    let out = ws.run(
        &[
            "rotate",
            "--client",
            "acme",
            "--yes",
            "--concurrency",
            "16",
            "--per-provider",
            "16",
        ],
        "",
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Rotated: 30 done, 0 failed, 0 waiting"),
        "{stdout}"
    );
    assert_eq!(stderr.matches(": done: rotated").count(), 30, "{stderr}");
    let inv = load(&ws);
    for (r, _, _) in inv.credentials() {
        assert_settled(&ws, &inv, &r);
    }
}

#[test]
fn rotate_needs_something_to_rotate() {
    let ws = Workspace::new();
    write(&ws, 1, None);
    let out = ws.run(&["rotate"], "");
    assert_eq!(out.status.code(), Some(64));
    let out = ws.run(&["rotate", "acme/nope"], "");
    assert_one_line_error(&out, "no credential `acme/nope`");
    let out = ws.run(&["rotate", "--expiring", "30"], "");
    assert_eq!(out.status.code(), Some(5));
    assert!(text(&out).0.contains("Nothing to rotate."));
}

/// Parses stdout as one JSON document: under `--json` nothing else is printed there.
fn json_of(out: &std::process::Output) -> serde_json::Value {
    let (stdout, stderr) = text(out);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"))
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).expect("JSON")
}

#[test]
fn rotate_resume_and_revoke_print_json_a_script_can_read() {
    let ws = Workspace::new();
    let sink = ws.path("sink");
    write(
        &ws,
        2,
        Some(Deploy::Command {
            idempotent: false,
            run: format!("cat > '{}'", sink.display()),
        }),
    );
    let out = ws.run(&["rotate", "acme/k0", "--dry-run", "--json"], "");
    assert_eq!(out.status.code(), Some(0));
    // The plan names the deploy command, with this workspace's random path in it.
    let plan = pretty(&json_of(&out)).replace(&sink.display().to_string(), "[SINK]");
    insta::assert_snapshot!("json_rotate_dry_run", plan);

    let out = ws.run(&["rotate", "acme/k0", "--yes", "--json"], "");
    assert_eq!(out.status.code(), Some(0));
    let done = json_of(&out);
    assert_eq!(done["schema"], "keyward.rotate/1");
    assert_eq!(done["counts"]["done"], 1, "{done}");
    assert_eq!(done["outcomes"][0]["credential"], "acme/k0");
    assert_eq!(done["outcomes"][0]["outcome"], "done");
    assert_eq!(done["exit"], 0);

    let out = ws.run(&["revoke", "acme/k1", "--yes", "--json"], "");
    assert_eq!(out.status.code(), Some(0));
    let revoked = json_of(&out);
    assert_eq!(revoked["schema"], "keyward.revoke/1");
    assert_eq!(revoked["keys"][0]["credential"], "acme/k1");
    assert_eq!(revoked["counts"]["done"], 1, "{revoked}");

    let out = ws.run(&["resume", "--json"], "");
    assert_eq!(out.status.code(), Some(5));
    insta::assert_snapshot!("json_resume_nothing_in_flight", pretty(&json_of(&out)));

    // Errors: the object on stdout, the one line on stderr.
    let out = ws.run(&["rotate", "acme/nope", "--json"], "");
    assert_one_line_error(&out, "no credential `acme/nope`");
    let error = json_of(&out);
    assert_eq!(error["error"]["kind"], "not-found");
    let out = ws.run(&["revoke", "acme/k0", "--json"], "");
    assert_one_line_exit(&out, 4, "no terminal");
    let error = json_of(&out);
    assert_eq!(error["error"]["kind"], "needs-person");
    assert_eq!(error["exit"], 4);
}

/// Regression: an OpenAI project key owned by a user was planned `create-then-revoke` with
/// no warning, then the run failed with "cannot create a project key owned by a user".
#[test]
fn an_openai_project_key_owned_by_a_user_is_planned_manual_from_the_start() {
    use keyward::inventory::{Credential, ProviderKind};
    use keyward::store::{Keyring, Store};
    let ws = Workspace::new();
    write(&ws, 0, None);
    let keys = Keyring::load(&[ws.default_identity()]).unwrap();
    let (mut store, mut inv) = Store::open_locked(&ws.inventory(), &keys).unwrap();
    let mut c = Credential::new("llm", ProviderKind::Openai);
    c.remote_id = Some("key_abc123".into());
    c.params.insert("kind".into(), "project-key".into());
    inv.insert("acme", c);
    store.save(&inv).unwrap();
    drop(store);

    let out = ws.run(&["rotate", "acme/llm", "--dry-run", "--yes", "--json"], "");
    assert_eq!(out.status.code(), Some(0));
    let plan = json_of(&out);
    let item = &plan["plan"][0];
    assert_eq!(item["style"], "manual", "{plan}");
    assert!(
        item["manual_because"]
            .as_str()
            .is_some_and(|w| w.contains("cannot create a project key owned by a user")),
        "{plan}"
    );
    assert!(
        item["needs_person"][0]
            .as_str()
            .is_some_and(|n| n.contains("issue the new key at the provider")),
        "{plan}"
    );
    // The text plan says why, too.
    let out = ws.run(&["rotate", "acme/llm", "--dry-run", "--yes"], "");
    let (stdout, _) = text(&out);
    assert!(stdout.contains("acme/llm  openai  manual"), "{stdout}");
    assert!(
        stdout.contains("by hand: OpenAI's API cannot create"),
        "{stdout}"
    );
    // The run goes the manual way: it waits for the new secret instead of failing.
    let out = ws.run(&["rotate", "acme/llm", "--yes", "--json"], "");
    assert_eq!(out.status.code(), Some(4));
    let run = json_of(&out);
    assert_eq!(run["outcomes"][0]["outcome"], "waiting", "{run}");
}
