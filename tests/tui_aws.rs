//! The dashboard's background work against a real provider: `keyward` opened in tmux on an
//! inventory whose keys live in moto (AWS IAM), every row marked, synced and verified from
//! the keyboard. The status line reports, the answers are saved to the encrypted file and
//! the audit log, no secret reaches the screen unless revealed, and a reveal is on record.

use crate::aws_common;
use crate::support;

use aws_common::{create_user, mgmt, target, MGMT_ID, MGMT_SECRET};
use keyward::providers::aws::AwsIam;
use keyward::providers::Provider;
use support::peers::Peer;
use support::tmux::Tmux;
use support::workspace::{Workspace, NOW};

const UNKNOWN_KEY: &str = "AKIANOSUCHKEY0000001";

#[test]
fn sync_and_verify_from_the_dashboard_reach_the_provider_and_save() {
    let moto = Peer::moto();
    let url = moto.base_url.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let live = rt.block_on(async {
        let http = aws_common::http();
        create_user(&http, &url, &mgmt(), "app").await;
        AwsIam::new(&http)
            .create(&target(&url, &mgmt(), "app", None))
            .await
            .unwrap()
    });
    let ws = Workspace::new();
    ws.init();
    let yaml = format!(
        r#"
connections:
  - id: aws
    provider: aws-iam
    endpoint: {url}
    auth: {{ access_key_id: {MGMT_ID}, secret_access_key: "{MGMT_SECRET}" }}
clients:
  - id: acme
    integrations:
      - {{ id: app, provider: aws-iam, connection: aws, remote_id: {live_id}, params: {{ user: app }}, secret: "{live_secret}" }}
      - {{ id: gone, provider: aws-iam, connection: aws, remote_id: {UNKNOWN_KEY}, params: {{ user: app }} }}
"#,
        live_id = live.remote_id,
        live_secret = live.secret.expose_secret(),
    );
    ws.ok(&["import", "-"], &yaml);
    assert!(!ws
        .ok(&["show", "acme/gone"], "")
        .contains("no longer knows"));

    let home = ws.dir.path().to_str().unwrap().to_string();
    let inventory = ws.inventory().to_str().unwrap().to_string();
    let t = Tmux::start(
        &format!("exec {}", env!("CARGO_BIN_EXE_keyward")),
        100,
        30,
        &[
            ("HOME", &home),
            ("KEYWARD_INVENTORY", &inventory),
            ("KEYWARD_NOW", NOW),
        ],
    );
    t.wait_for("STATUS");
    t.send(&["C-a"]);
    t.wait_for("2 marked");
    t.send(&["s"]);
    let synced = t.wait_for("saved");
    assert!(synced.contains("2 done"), "{synced}");
    t.send(&["v"]);
    let verified = t.wait_for("1 valid");
    for screen in [&synced, &verified] {
        assert!(!screen.contains(MGMT_SECRET));
        assert!(!screen.contains(live.secret.expose_secret()));
    }
    // A reveal is put on record before the secret shows.
    t.type_text("/acme app");
    t.send(&["Enter"]);
    t.send(&["Enter"]);
    t.wait_for("› detail");
    t.send(&["x"]);
    let revealed = t.wait_for("(x hides)");
    assert!(revealed.contains(live.secret.expose_secret()));
    t.send(&["Escape"]);
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);

    let audit = ws.ok(&["audit", "--json"], "");
    let entries: serde_json::Value = serde_json::from_str(&audit).unwrap();
    let actions: Vec<(String, String)> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_string(),
                e["credential"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for expected in [
        ("synced", "acme/app"),
        ("synced", "acme/gone"),
        ("revealed", "acme/app"),
    ] {
        assert!(
            actions.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} not in {actions:?}"
        );
    }
    assert!(!audit.contains(live.secret.expose_secret()));

    // What the dashboard saved: moto's creation date for the live key, and the unknown key
    // flagged missing (kept, not deleted).
    let app = ws.ok(&["show", "acme/app"], "");
    let created = app.lines().find(|l| l.starts_with("created")).unwrap();
    assert!(!created.ends_with('-'), "{app}");
    let gone = ws.ok(&["show", "acme/gone"], "");
    assert!(gone.contains("no longer knows"), "{gone}");
}

/// The keys IAM user `user` holds: id → active.
async fn iam_keys(url: &str, user: &str) -> std::collections::BTreeMap<String, bool> {
    AwsIam::new(&aws_common::http())
        .list(&target(url, &mgmt(), user, None))
        .await
        .unwrap()
        .into_iter()
        .map(|k| {
            let active = k.state == keyward::inventory::RemoteStatus::Active;
            (k.remote_id, active)
        })
        .collect()
}

#[test]
fn rotating_two_aws_keys_from_the_dashboard_leaves_iam_holding_exactly_the_recorded_keys() {
    let moto = Peer::moto();
    let url = moto.base_url.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let users = ["dash-one", "dash-two"];
    let live: Vec<_> = rt.block_on(async {
        let http = aws_common::http();
        let mut keys = Vec::new();
        for user in users {
            create_user(&http, &url, &mgmt(), user).await;
            keys.push(
                AwsIam::new(&http)
                    .create(&target(&url, &mgmt(), user, None))
                    .await
                    .unwrap(),
            );
        }
        keys
    });
    let ws = Workspace::new();
    ws.init();
    let mut yaml = format!(
        r#"
connections:
  - id: aws
    provider: aws-iam
    endpoint: {url}
    auth: {{ access_key_id: {MGMT_ID}, secret_access_key: "{MGMT_SECRET}" }}
clients:
  - id: acme
    integrations:
"#
    );
    for (user, key) in users.iter().zip(&live) {
        yaml.push_str(&format!(
            "      - {{ id: {user}, provider: aws-iam, connection: aws, remote_id: {}, params: {{ user: {user} }}, secret: \"{}\", used_by: [\"{user} service\"] }}\n",
            key.remote_id,
            key.secret.expose_secret()
        ));
    }
    ws.ok(&["import", "-"], &yaml);

    let home = ws.dir.path().to_str().unwrap().to_string();
    let inventory = ws.inventory().to_str().unwrap().to_string();
    let t = Tmux::start(
        &format!("exec {}", env!("CARGO_BIN_EXE_keyward")),
        100,
        30,
        &[
            ("HOME", &home),
            ("KEYWARD_INVENTORY", &inventory),
            ("KEYWARD_NOW", NOW),
        ],
    );
    t.wait_for("STATUS");
    t.send(&["C-a"]);
    t.wait_for("2 marked");
    t.send(&["R"]);
    // On one screen: a capture taken while the dialog is drawn can hold only its first lines.
    t.wait_for_all(&["Rotate 2 credential(s)", "create-then-revoke"]);
    t.send(&["Tab"]);
    t.send(&["Enter"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let screen = t.screen();
        if screen.contains("2 done, 0 failed, 0 waiting") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{screen}");
        assert!(!screen.contains("FAILED"), "{screen}");
        for key in &live {
            assert!(!screen.contains(key.secret.expose_secret()));
        }
        if screen.contains("Deploy by hand") {
            t.send(&["y"]);
        } else if screen.contains("question(s) wait for you") {
            t.send(&["Enter"]);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);

    let out = support::workspace::age(
        &[
            "-d",
            "-i",
            ws.default_identity().to_str().unwrap(),
            &inventory,
        ],
        "",
    );
    assert!(out.status.success());
    let inv: serde_yaml::Value = serde_yaml::from_slice(&out.stdout).unwrap();
    let creds = inv["clients"][0]["integrations"]
        .as_sequence()
        .unwrap()
        .clone();
    for (user, old) in users.iter().zip(&live) {
        let c = creds
            .iter()
            .find(|c| c["id"].as_str() == Some(user))
            .unwrap();
        let new_id = c["remote_id"].as_str().unwrap().to_string();
        assert_ne!(new_id, old.remote_id);
        let pending: Vec<String> = c["pending_revocations"]
            .as_sequence()
            .map(|p| {
                p.iter()
                    .map(|r| r["remote_id"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(pending, std::slice::from_ref(&old.remote_id), "{user}");
        let held = rt.block_on(iam_keys(&url, user));
        let expected = std::collections::BTreeMap::from([
            (new_id.clone(), true),
            (old.remote_id.clone(), false),
        ]);
        assert_eq!(
            held, expected,
            "{user}: IAM holds exactly the recorded keys"
        );
    }
    let audit = ws.ok(&["audit", "--json"], "");
    assert_eq!(audit.matches("\"rotated\"").count(), 2, "{audit}");
    for key in &live {
        assert!(!audit.contains(key.secret.expose_secret()));
    }
}
