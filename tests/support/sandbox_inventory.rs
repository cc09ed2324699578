//! An encrypted inventory of sandbox credentials for driving the real binary: each holds a
//! live first key in the sandbox state beside the inventory (where the binary looks).

use std::path::Path;

use keyward::inventory::{Connection, Credential, CredentialRef, Deploy, Inventory, ProviderKind};
use keyward::providers::sandbox::Sandbox;
use keyward::providers::{Provider, RemoteKey, Target, Verification};
use keyward::secret::Secret;
use keyward::store::keys::generate_identity_file;
use keyward::store::{Keyring, Store};

use super::workspace::Workspace;

/// Runs `f` to completion on a fresh single-threaded runtime.
pub fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// `CLIENT/INTEGRATION` parsed.
pub fn at(s: &str) -> CredentialRef {
    s.parse().expect("an address")
}

/// Writes an inventory of `n` sandbox credentials `acme/k0…` (with `deploy`) encrypted to
/// the workspace's default identity, each with a live first key.
pub fn write(ws: &Workspace, n: usize, deploy: Option<Deploy>) -> Inventory {
    write_edited(ws, n, |inv| {
        for c in inv
            .clients
            .iter_mut()
            .flat_map(|c| c.integrations.iter_mut())
        {
            c.deploy = deploy.clone().into();
        }
    })
}

/// [`write`], with the inventory changed by `edit` (deploy targets, connections, more
/// credentials) before it is saved.
pub fn write_edited(ws: &Workspace, n: usize, edit: impl FnOnce(&mut Inventory)) -> Inventory {
    let recipient = generate_identity_file(&ws.default_identity()).expect("identity");
    let mut inv = Inventory::new(vec![recipient]);
    inv.connections.push(Connection {
        id: "sbx".into(),
        provider: ProviderKind::Sandbox,
        endpoint: None,
        auth: Default::default(),
        params: Default::default(),
    });
    let sandbox = Sandbox::beside(&ws.inventory());
    for i in 0..n {
        let mut c = Credential::new(format!("k{i}"), ProviderKind::Sandbox);
        c.connection = Some("sbx".into());
        c.used_by = vec!["the CRM bot".into()];
        inv.insert("acme", c);
        let r = at(&format!("acme/k{i}"));
        let t = Target::from_inventory(&inv, &r).expect("target");
        let first = block(sandbox.create(&t)).expect("first key");
        let c = inv.credential_mut(&r).expect("credential");
        c.remote_id = Some(first.remote_id);
        c.secret = Some(first.secret);
        c.created_at = first.created_at;
    }
    edit(&mut inv);
    Store::create(&ws.inventory(), &inv)
        .expect("store")
        .accept_recipients(ws.seen_record())
        .expect("recipient record");
    inv
}

/// The inventory as the file holds it now.
pub fn load(ws: &Workspace) -> Inventory {
    let keys = Keyring::load(&[ws.default_identity()]).expect("keyring");
    Store::open(&ws.inventory(), &keys).expect("open").1
}

/// The keys the sandbox holds for `r`'s owner.
pub fn keys(ws: &Workspace, inv: &Inventory, r: &CredentialRef) -> Vec<RemoteKey> {
    let t = Target::from_inventory(inv, r).expect("target");
    block(Sandbox::beside(&ws.inventory()).list(&t)).expect("list")
}

/// Whether the sandbox accepts `secret` for key `id`.
pub fn works(
    ws: &Workspace,
    inv: &Inventory,
    r: &CredentialRef,
    id: &str,
    secret: &Secret,
) -> bool {
    let t = Target::from_inventory(inv, r).expect("target");
    block(Sandbox::beside(&ws.inventory()).verify(&t, Some(id), secret)) == Verification::Valid
}

/// Asserts no orphan and a working secret: every key the sandbox holds for `r` is recorded
/// on the credential, and the credential's secret works (no rotation in flight).
pub fn assert_settled(ws: &Workspace, inv: &Inventory, r: &CredentialRef) {
    let c = inv.credential(r).expect("credential");
    assert!(
        c.rotation.is_none(),
        "{r}: still in flight: {:?}",
        c.rotation
    );
    let mut recorded: Vec<String> = c.remote_id.iter().cloned().collect();
    recorded.extend(c.pending_revocations.iter().map(|p| p.remote_id.clone()));
    for k in keys(ws, inv, r) {
        assert!(
            recorded.contains(&k.remote_id),
            "{r}: orphan key {}",
            k.remote_id
        );
    }
    let id = c.remote_id.as_deref().expect("remote id");
    assert!(
        works(ws, inv, r, id, c.secret.as_ref().expect("secret")),
        "{r}: secret dead"
    );
}

/// Asserts the text shows no sandbox secret.
pub fn assert_no_secret(text: &str) {
    assert!(!text.contains("sbxsk_"), "a secret leaked: {text}");
}

/// The file's text, or empty when missing.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
