//! A manual rotation at a real terminal (tmux): the plan is confirmed, the new secret is
//! typed at a hidden prompt and never shown, the person confirms the deploy, the
//! unverifiable key and the old key's revocation, and the file records what they typed.

use crate::support;

use keyward::inventory::{Credential, Inventory, ProviderKind};
use keyward::secret::Secret;
use keyward::store::keys::generate_identity_file;
use keyward::store::Store;
use support::sandbox_inventory::{at, load};
use support::tmux::Tmux;
use support::workspace::Workspace;

const NEW: &str = "portal-key-typed-by-hand-4242";

#[test]
fn a_manual_rotation_on_a_terminal_asks_each_step_and_hides_the_secret() {
    let ws = Workspace::new();
    let recipient = generate_identity_file(&ws.default_identity()).unwrap();
    let mut inv = Inventory::new(vec![recipient]);
    let mut c = Credential::new("portal", ProviderKind::Manual);
    c.secret = Some(Secret::new("portal-key-old-0000"));
    c.used_by = vec!["the partner portal".into()];
    c.params
        .insert("rotate_at".into(), "https://portal.example/keys".into());
    inv.insert("acme", c);
    Store::create(&ws.inventory(), &inv)
        .unwrap()
        .accept_recipients(ws.seen_record())
        .unwrap();

    let cmd = format!(
        "{} rotate acme/portal; echo EXIT=$?; sleep 30",
        env!("CARGO_BIN_EXE_keyward")
    );
    let t = Tmux::start(
        &cmd,
        120,
        40,
        &[
            ("HOME", ws.dir.path().to_str().unwrap()),
            ("KEYWARD_INVENTORY", ws.inventory().to_str().unwrap()),
        ],
    );
    t.wait_for("Rotate 1 credential(s)? [y/N]");
    t.send(&["y", "Enter"]);
    t.wait_for("Paste the new secret (hidden)");
    let screen = t.screen();
    assert!(screen.contains("https://portal.example/keys"), "{screen}");
    t.type_text(NEW);
    t.send(&["Enter"]);
    t.wait_for("Update the new secret in the partner portal");
    t.send(&["y", "Enter"]);
    t.wait_for("cannot check the new secret");
    t.send(&["y", "Enter"]);
    t.wait_for("Revoke the old key at the provider");
    t.send(&["y", "Enter"]);
    let screen = t.wait_for("EXIT=");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(screen.contains("Rotated: 1 done"), "{screen}");
    assert!(
        !screen.contains(NEW),
        "the typed secret is never shown: {screen}"
    );

    let inv = load(&ws);
    let c = inv.credential(&at("acme/portal")).unwrap();
    assert!(c.rotation.is_none());
    assert_eq!(c.secret.as_ref().unwrap().expose_secret(), NEW);
    assert_eq!(
        c.history.last().unwrap().event,
        keyward::inventory::HistoryEvent::Rotated
    );
}
