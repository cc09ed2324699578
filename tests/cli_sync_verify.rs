//! The real `keyward` binary's `sync` and `verify` against moto with signature checking on:
//! tables and JSON, progress on stderr, the documented exit codes, what sync records in the
//! encrypted file, and no secret in any output.

use crate::aws_common;
use crate::support;

use std::process::Output;
use std::sync::OnceLock;

use aws_common::{create_user, make_admin, target};
use keyward::providers::aws::sigv4::Credentials;
use keyward::providers::aws::AwsIam;
use keyward::providers::Provider;
use keyward::secret::Secret;
use support::peers::Peer;
use support::workspace::{assert_one_line_error, Workspace};

const WRONG: &str = "wrongSECRETwrongSECRETwrongSECRETwrong000";

/// moto with an admin key and user `app` holding one live key and one deleted one.
struct Aws {
    moto: Peer,
    admin: Credentials,
    live: (String, Secret),
    retired: (String, Secret),
}

fn aws() -> &'static Aws {
    static AWS: OnceLock<Aws> = OnceLock::new();
    AWS.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let http = aws_common::http();
            // Three unchecked calls make the admin; every later signature is checked.
            let moto = Peer::moto_with_auth(3);
            let url = &moto.base_url;
            let admin = make_admin(&http, url).await;
            create_user(&http, url, &admin, "app").await;
            let p = AwsIam::new(&http);
            let owner = target(url, &admin, "app", None);
            let live = p.create(&owner).await.unwrap();
            let retired = p.create(&owner).await.unwrap();
            p.delete(&owner, &retired.remote_id).await.unwrap();
            Aws {
                admin,
                live: (live.remote_id, live.secret),
                retired: (retired.remote_id, retired.secret),
                moto,
            }
        })
    })
}

/// A workspace whose inventory holds the AWS connection (with `mgmt_secret`) and four
/// credentials: the live key, the deleted one, the live key with a wrong secret, and a
/// manual credential.
fn workspace(mgmt_secret: &str) -> Workspace {
    let a = aws();
    let ws = Workspace::new();
    ws.init();
    let yaml = format!(
        r#"
connections:
  - id: aws
    provider: aws-iam
    endpoint: {url}
    auth: {{ access_key_id: {admin}, secret_access_key: "{mgmt_secret}" }}
clients:
  - id: acme
    integrations:
      - {{ id: app, provider: aws-iam, connection: aws, remote_id: {live}, params: {{ user: app }}, secret: "{live_secret}" }}
      - {{ id: retired, provider: aws-iam, connection: aws, remote_id: {old}, params: {{ user: app }}, secret: "{old_secret}" }}
      - {{ id: wrong, provider: aws-iam, connection: aws, remote_id: {live}, params: {{ user: app }}, secret: "{WRONG}" }}
      - {{ id: by-hand, provider: manual, secret: "hunter2hunter2hunter2" }}
"#,
        url = a.moto.base_url,
        admin = a.admin.access_key_id,
        live = a.live.0,
        live_secret = a.live.1.expose_secret(),
        old = a.retired.0,
        old_secret = a.retired.1.expose_secret(),
    );
    ws.ok(&["import", "-"], &yaml);
    ws
}

/// Asserts no secret the test knows appears in stdout or stderr.
fn assert_no_secret(out: &Output) {
    let a = aws();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for s in [
        a.admin.secret_access_key.expose_secret(),
        a.live.1.expose_secret(),
        a.retired.1.expose_secret(),
        WRONG,
        "hunter2hunter2",
    ] {
        assert!(!all.contains(s), "a secret was printed: {all}");
    }
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn verify_exits_0_when_every_secret_works() {
    let ws = workspace(aws().admin.secret_access_key.expose_secret());
    let out = ws.run(&["verify", "acme/app"], "");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("acme/app") && l.contains("valid")),
        "{stdout}"
    );
    assert_no_secret(&out);
}

#[test]
fn verify_exits_2_on_an_invalid_secret_and_says_why_in_json() {
    let ws = workspace(aws().admin.secret_access_key.expose_secret());
    let out = ws.run(
        &[
            "verify",
            "acme/app",
            "acme/wrong",
            "acme/retired",
            "acme/by-hand",
            "--json",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let v = json(&out);
    assert_eq!(v["exit"], 2);
    let results: Vec<(String, String, String)> = v["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["credential"].as_str().unwrap().to_string(),
                c["result"].as_str().unwrap().to_string(),
                c["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(results[0].0, "acme/app");
    assert_eq!(results[0].1, "valid");
    assert_eq!(results[1].1, "invalid");
    assert!(
        results[1].2.contains("SignatureDoesNotMatch"),
        "{results:?}"
    );
    assert_eq!(results[2].1, "invalid");
    assert!(results[2].2.contains("InvalidClientTokenId"), "{results:?}");
    assert_eq!(results[3].1, "cannot-check");
    assert!(String::from_utf8_lossy(&out.stderr).contains("checking 4 credential(s)"));
    assert_no_secret(&out);
}

#[test]
fn verify_exits_3_when_something_cannot_be_checked_and_1_for_an_unknown_credential() {
    let ws = workspace(aws().admin.secret_access_key.expose_secret());
    let out = ws.run(&["verify", "acme/app", "acme/by-hand"], "");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("no API: the provider offers no way to check a key"),
        "{stdout}"
    );

    let out = ws.run(&["verify", "acme/nope"], "");
    assert_one_line_error(&out, "no credential `acme/nope`");
    let out = ws.run(&["verify"], "");
    assert_eq!(out.status.code(), Some(64), "clap requires a credential");
}

#[test]
fn sync_records_what_aws_says_and_flags_the_deleted_key() {
    let ws = workspace(aws().admin.secret_access_key.expose_secret());
    let out = ws.run(&["sync"], "");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_no_secret(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for n in 1..=3 {
        assert!(
            stderr.contains(&format!("[{n}/3] ")),
            "progress on stderr: {stderr}"
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row {name}: {stdout}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        row("acme/app ").starts_with("acme/app found active"),
        "{stdout}"
    );
    assert!(
        row("acme/retired").starts_with("acme/retired missing missing"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("acme/by-hand"),
        "a manual credential is not synced: {stdout}"
    );
    assert!(
        stdout.contains("3 credentials: 2 found, 1 missing, 0 failed, 0 skipped; 3 changed"),
        "{stdout}"
    );

    // Recorded in the encrypted file: the deleted key is flagged, never removed.
    let shown: serde_json::Value =
        serde_json::from_str(&ws.ok(&["show", "acme/retired", "--json"], "")).unwrap();
    let reasons = shown["reasons"].to_string();
    assert!(
        reasons.contains("the provider no longer knows this key"),
        "{shown}"
    );
    let history = shown["history"].as_array().unwrap();
    let last = history.last().unwrap();
    assert_eq!(last["event"], "synced");
    assert_eq!(last["at"], support::workspace::NOW);
    let app: serde_json::Value =
        serde_json::from_str(&ws.ok(&["show", "acme/app", "--json"], "")).unwrap();
    assert!(app["created_at"].is_string(), "{app}");

    // Regression: `sync` changed the inventory without an audit entry (the dashboard's sync
    // wrote one). One `synced` entry per credential whose record changed, as there.
    let log: serde_json::Value = serde_json::from_str(&ws.ok(&["audit", "--json"], "")).unwrap();
    let synced: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "synced")
        .map(|e| e["credential"].as_str().unwrap())
        .collect();
    assert_eq!(synced.len(), 3, "{log}");
    assert!(synced.contains(&"acme/retired"), "{log}");

    // Nothing new the second time: nothing changes, nothing is written.
    let before = support::workspace::hash(&ws.inventory());
    let again = ws.run(&["sync", "acme/retired", "--json"], "");
    assert_eq!(again.status.code(), Some(0), "{again:?}");
    let v = json(&again);
    assert_eq!(v["changed"], 0);
    assert_eq!(v["credentials"][0]["result"], "missing");
    assert_eq!(support::workspace::hash(&ws.inventory()), before);
}

#[test]
fn sync_exits_3_when_aws_refuses_the_management_key_and_changes_nothing() {
    let ws = workspace(WRONG);
    let before = support::workspace::hash(&ws.inventory());
    let out = ws.run(&["sync", "acme/app", "acme/by-hand", "--json"], "");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_no_secret(&out);
    let v = json(&out);
    assert_eq!(v["exit"], 3);
    assert_eq!(v["changed"], 0);
    assert_eq!(v["credentials"][0]["result"], "failed");
    let detail = v["credentials"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("HTTP 403") && detail.contains("SignatureDoesNotMatch"),
        "{detail}"
    );
    assert_eq!(v["credentials"][1]["result"], "skipped");
    assert_eq!(support::workspace::hash(&ws.inventory()), before);
}

// ---- `keyward connections test` (issue 15, item 5) ---------------------------------------

#[test]
fn connections_test_reports_what_the_management_key_reaches() {
    let ws = workspace(aws().admin.secret_access_key.expose_secret());
    let out = ws.run(&["connections", "test", "--json"], "");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_no_secret(&out);
    let v = json(&out);
    assert_eq!(v["exit"], 0);
    let c = &v["connections"][0];
    assert_eq!(c["connection"], "aws");
    assert_eq!(c["provider"], "aws-iam");
    assert_eq!(c["facts"]["partition"], "aws");
    assert_eq!(c["facts"]["caller partition"], "aws");
    assert!(
        c["facts"]["caller"]
            .as_str()
            .is_some_and(|arn| arn.ends_with(":user/admin")),
        "{c}"
    );
    let probes = c["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 2, "{c}");
    assert!(probes.iter().all(|p| p["outcome"] == "allowed"), "{c}");
    // IAM tells whether a key may create keys only by trying, which a check must not do.
    assert_eq!(c["can_create"], "unknown");

    let table = ws.run(&["connections", "test", "aws"], "");
    assert_eq!(table.status.code(), Some(0), "{table:?}");
    let stdout = String::from_utf8_lossy(&table.stdout);
    assert!(stdout.starts_with("ID"), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with("aws")
            && l.contains("2 of 2 calls")
            && l.contains("partition: aws")),
        "{stdout}"
    );
    assert_no_secret(&table);
}

#[test]
fn connections_test_exits_2_when_the_service_refuses_the_key_and_1_for_an_unknown_id() {
    let ws = workspace(WRONG);
    let before = support::workspace::hash(&ws.inventory());
    let out = ws.run(&["connections", "test", "--json"], "");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_no_secret(&out);
    let v = json(&out);
    let probes = v["connections"][0]["probes"].as_array().unwrap();
    assert!(probes.iter().all(|p| p["outcome"] == "refused"), "{v}");
    assert_eq!(
        support::workspace::hash(&ws.inventory()),
        before,
        "read-only"
    );

    let out = ws.run(&["connections", "test", "nope"], "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_one_line_error(&out, "no connection `nope`");
}
