//! Twilio key types: what a Standard, Restricted and Main key may call, and how each is
//! checked and rotated.

use keyward::providers::twilio::{KeyType, Twilio};
use keyward::providers::{ErrorKind, Provider, RotationStyle, Verification};
use keyward::secret::Secret;
use serde_json::json;

use crate::saas_common::*;

fn standard(n: u32) -> TwKey {
    TwKey {
        sid: tw_sid("SK", n),
        name: "Mail bot".into(),
        secret: long_secret("twstd", n),
        policy: json!(null),
    }
}

/// Before: verify fetched `/Accounts/{sid}.json` with the new key, which Twilio refuses to a
/// Standard key (401, error 20003), so every rotation failed at its verify step.
#[tokio::test]
async fn twilio_standard_key_failed_verify_on_the_account_fetch() {
    let old = standard(1);
    let state = TwState {
        keys: vec![old.clone()],
        page_size: 50,
        ..Default::default()
    };
    let (server, _state) = fake(state, twilio_handler).await;
    let p = Twilio::new(&fast_http());
    let t = twilio(&server.uri(), Some(&old.sid));
    assert_eq!(KeyType::of(&t).unwrap(), KeyType::Standard);
    let new = p.create(&t).await.unwrap();
    assert_eq!(
        p.verify(&t, Some(&new.remote_id), &new.secret).await,
        Verification::Valid
    );
    let paths: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert!(
        paths.iter().any(|p| p.ends_with("/Messages.json")),
        "{paths:?}"
    );
    // A wrong secret is still refused.
    let wrong = p
        .verify(&t, Some(&new.remote_id), &Secret::new("not-the-secret"))
        .await;
    assert!(matches!(wrong, Verification::Invalid { .. }), "{wrong:?}");
}

#[tokio::test]
async fn twilio_restricted_key_without_a_readable_permission_cannot_be_checked() {
    let key = TwKey {
        policy: json!({"allow": ["/twilio/voice/calls/create"]}),
        ..standard(3)
    };
    let (server, _state) = fake(
        TwState {
            keys: vec![key.clone()],
            ..Default::default()
        },
        twilio_handler,
    )
    .await;
    let p = Twilio::new(&fast_http());
    let mut t = twilio_iam(&server.uri(), &server.uri(), Some(&key.sid));
    t.credential.scopes = vec!["/twilio/voice/calls/create".into()];
    assert_eq!(KeyType::of(&t).unwrap(), KeyType::Restricted);
    let v = p
        .verify(&t, Some(&key.sid), &Secret::new(key.secret.clone()))
        .await;
    assert!(matches!(v, Verification::CannotCheck { .. }), "{v:?}");
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "no call the key may not make"
    );

    // With the messages permission, the message list checks it.
    let reader = TwKey {
        policy: json!({"allow": ["/twilio/messaging/messages/read"]}),
        ..standard(4)
    };
    let (server, _state) = fake(
        TwState {
            keys: vec![reader.clone()],
            ..Default::default()
        },
        twilio_handler,
    )
    .await;
    let t = {
        let mut t = twilio_iam(&server.uri(), &server.uri(), Some(&reader.sid));
        t.credential.scopes = vec!["/twilio/messaging/messages/read".into()];
        t
    };
    assert_eq!(
        p.verify(&t, Some(&reader.sid), &Secret::new(reader.secret.clone()))
            .await,
        Verification::Valid
    );
}

/// Before: rotating the Main key silently replaced it with a Standard key (the API cannot
/// create Main keys), which then could no longer manage keys.
#[tokio::test]
async fn twilio_main_key_rotation_replaced_it_with_a_standard_key() {
    let (server, state) = fake(TwState::default(), twilio_handler).await;
    let p = Twilio::new(&fast_http());
    let t = twilio(&server.uri(), Some(TW_MAIN_SID));
    assert_eq!(KeyType::of(&t).unwrap(), KeyType::Main);
    assert_eq!(p.capabilities_for(&t).rotation, RotationStyle::Manual);
    let e = p.create(&t).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(e.message.contains("Main key"), "{e}");
    assert!(state.lock().unwrap().keys.is_empty(), "nothing was created");
    // The Main key is checked with the account fetch, which it may make.
    assert_eq!(
        p.verify(&t, Some(TW_MAIN_SID), &Secret::new(TW_MAIN_SECRET))
            .await,
        Verification::Valid
    );

    // `params.key_type` says so explicitly for a Main key keyward does not manage with.
    let mut other = twilio(&server.uri(), Some(&tw_sid("SK", 9)));
    other
        .credential
        .params
        .insert("key_type".into(), "main".into());
    assert_eq!(p.capabilities_for(&other).rotation, RotationStyle::Manual);
    other
        .credential
        .params
        .insert("key_type".into(), "primary".into());
    assert_eq!(KeyType::of(&other).unwrap_err().kind, ErrorKind::Config);
}

/// Before: a Main key was planned `create-then-revoke` with no reason given (the trait's
/// `manual_because` said nothing), so the plan hid that a person rotates it in the Console.
#[test]
fn twilio_main_key_plan_hid_why_it_is_rotated_by_hand() {
    use crate::support::sandbox_inventory::{assert_no_secret, write};
    use crate::support::workspace::Workspace;
    use keyward::inventory::{Credential, ProviderKind};
    use keyward::store::{Keyring, Store};

    let p = Twilio::new(&fast_http());
    // Nothing listens here: a plan for a Main key must not need the API.
    let main = twilio("http://127.0.0.1:9", Some(TW_MAIN_SID));
    let why = p.manual_because(&main).expect("a Main key is manual");
    assert!(why.contains("only in the Console"), "{why}");
    assert!(
        why.contains("twilio.com/docs/iam/api-keys/keys-in-console"),
        "{why}"
    );
    let standard = twilio("http://127.0.0.1:9", Some(&tw_sid("SK", 2)));
    assert_eq!(p.manual_because(&standard), None);

    let ws = Workspace::new();
    write(&ws, 0, None);
    let keys = Keyring::load(&[ws.default_identity()]).unwrap();
    let (mut store, mut inv) = Store::open_locked(&ws.inventory(), &keys).unwrap();
    let connection = main.connection.clone().expect("a connection");
    let mut c = Credential::new("sms", ProviderKind::Twilio);
    c.remote_id = Some(TW_MAIN_SID.into());
    c.connection = Some(connection.id.clone());
    inv.connections.push(connection);
    inv.insert("acme", c);
    store.save(&inv).unwrap();
    drop(store);

    let out = ws.run(&["rotate", "acme/sms", "--dry-run", "--yes", "--json"], "");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_no_secret(&stdout);
    assert!(!stdout.contains(TW_MAIN_SECRET), "{stdout}");
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).expect("JSON plan");
    let item = &plan["plan"][0];
    assert_eq!(item["style"], "manual", "{plan}");
    assert_eq!(item["manual_because"], why.as_str(), "{plan}");

    let out = ws.run(&["rotate", "acme/sms", "--dry-run", "--yes"], "");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(stdout.contains("acme/sms  twilio  manual"), "{stdout}");
    assert!(
        stdout.contains("by hand: a Main key is rotated by hand: Twilio creates Main keys only"),
        "{stdout}"
    );
}
