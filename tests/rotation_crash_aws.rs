//! Crash tests against moto_server with IAM authentication on: `keyward rotate` of an AWS
//! access key is killed with SIGKILL at each step boundary (the `test-hooks` pause), then
//! `keyward resume` runs. Afterwards IAM and the inventory agree (every access key of the
//! user is recorded), the inventory's secret signs successfully, the consumer holds it, and
//! the old key was deactivated only after the new one verified.

use crate::aws_common;
use crate::support;

use std::sync::OnceLock;

use aws_common::{create_user, make_admin};
use keyward::inventory::journal::Step;
use keyward::inventory::{Connection, Credential, Deploy, Inventory, RemoteStatus};
use keyward::providers::aws::sigv4::Credentials;
use keyward::providers::aws::AwsIam;
use keyward::providers::{Provider, RemoteKey, Target, Verification};
use keyward::secret::Secret;
use keyward::store::keys::generate_identity_file;
use keyward::store::Store;
use support::crash::rotate_and_kill_at;
use support::peers::Peer;
use support::sandbox_inventory::{at, block, load, read};
use support::workspace::Workspace;

struct Aws {
    admin: Credentials,
    moto: Peer,
}

/// One moto for the file: three unchecked calls make an admin, then every call is signed.
fn aws() -> &'static Aws {
    static AWS: OnceLock<Aws> = OnceLock::new();
    AWS.get_or_init(|| {
        block(async {
            let http = aws_common::http();
            let moto = Peer::moto_with_auth(3);
            let url = &moto.base_url;
            let admin = make_admin(&http, url).await;
            Aws { admin, moto }
        })
    })
}

/// An inventory with `acme/app`, the only key of a fresh IAM user `user`, deployed with a
/// command writing the secret to `sink`.
fn setup(ws: &Workspace, user: &str) -> Inventory {
    let aws = aws();
    let url = &aws.moto.base_url;
    let http = aws_common::http();
    block(create_user(&http, url, &aws.admin, user));
    let mut conn: Connection = aws_common::connection(url, &aws.admin);
    conn.id = "aws".into();
    let mut c: Credential = aws_common::credential("app", user, None);
    c.deploy = keyward::inventory::Deploys::from(Deploy::Command {
        idempotent: false,
        run: format!("cat > '{}'", ws.path("sink").display()),
    });
    let mut inv = Inventory::new(vec![generate_identity_file(&ws.default_identity()).unwrap()]);
    inv.connections.push(conn);
    inv.insert("acme", c);
    let t = Target::from_inventory(&inv, &at("acme/app")).unwrap();
    let first = block(AwsIam::new(&http).create(&t)).expect("first key");
    let c = inv.credential_mut(&at("acme/app")).unwrap();
    c.remote_id = Some(first.remote_id);
    c.secret = Some(first.secret);
    Store::create(&ws.inventory(), &inv)
        .unwrap()
        .accept_recipients(ws.seen_record())
        .unwrap();
    inv
}

fn iam_keys(inv: &Inventory) -> Vec<RemoteKey> {
    let t = Target::from_inventory(inv, &at("acme/app")).unwrap();
    block(AwsIam::new(&aws_common::http()).list(&t)).expect("ListAccessKeys")
}

fn signs(inv: &Inventory, id: &str, secret: &Secret) -> bool {
    let t = Target::from_inventory(inv, &at("acme/app")).unwrap();
    block(AwsIam::new(&aws_common::http()).verify(&t, Some(id), secret)) == Verification::Valid
}

fn crash_then_resume(point: &str, user: &str, step: Step) {
    let ws = Workspace::new();
    let old = setup(&ws, user);
    let r = at("acme/app");
    let old_c = old.credential(&r).unwrap().clone();
    let old_id = old_c.remote_id.clone().unwrap();

    rotate_and_kill_at(&ws, "acme/app", point);
    let crashed = load(&ws);
    let j = crashed
        .credential(&r)
        .unwrap()
        .rotation
        .clone()
        .expect("journaled");
    assert_eq!(j.step, step, "{point}");
    // Nothing touched the old key yet.
    assert!(
        signs(&crashed, &old_id, old_c.secret.as_ref().unwrap()),
        "{point}"
    );
    let old_state = iam_keys(&crashed)
        .into_iter()
        .find(|k| k.remote_id == old_id);
    assert_eq!(old_state.map(|k| k.state), Some(RemoteStatus::Active));

    let out = ws.run(&["resume"], "");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{point}: {stdout}\n{stderr}");
    let secret_text = old_c.secret.as_ref().unwrap().expose_secret().to_string();
    assert!(!stdout.contains(&secret_text) && !stderr.contains(&secret_text));

    let inv = load(&ws);
    let c = inv.credential(&r).unwrap();
    assert!(c.rotation.is_none());
    let new_id = c.remote_id.clone().unwrap();
    assert_ne!(new_id, old_id);
    let keys = iam_keys(&inv);
    let recorded: Vec<&str> = std::iter::once(new_id.as_str())
        .chain(c.pending_revocations.iter().map(|p| p.remote_id.as_str()))
        .collect();
    for k in &keys {
        assert!(
            recorded.contains(&k.remote_id.as_str()),
            "{point}: orphan {}",
            k.remote_id
        );
    }
    assert_eq!(
        keys.len(),
        2,
        "{point}: the new key and the deactivated old one"
    );
    let old_key = keys.iter().find(|k| k.remote_id == old_id).unwrap();
    assert_eq!(old_key.state, RemoteStatus::Inactive);
    let secret = c.secret.clone().unwrap();
    assert!(
        signs(&inv, &new_id, &secret),
        "{point}: the inventory's secret works"
    );
    // (moto's STS still accepts an inactive key's signature, so the old key's state above is
    // what shows it was revoked.)
    assert_eq!(
        read(&ws.path("sink")),
        format!("{}\n", secret.expose_secret())
    );
}

#[test]
fn aws_killed_at_create_then_resume() {
    crash_then_resume("create", "app-create", Step::Create);
}

#[test]
fn aws_killed_at_store_then_resume_deletes_the_unrecorded_key() {
    crash_then_resume("store", "app-store", Step::Create);
}

#[test]
fn aws_killed_at_deploy_then_resume() {
    crash_then_resume("deploy", "app-deploy", Step::Deploy);
}

#[test]
fn aws_killed_at_verify_then_resume() {
    crash_then_resume("verify", "app-verify", Step::Verify);
}

#[test]
fn aws_killed_at_revoke_then_resume() {
    crash_then_resume("revoke", "app-revoke", Step::RevokeOld);
}
