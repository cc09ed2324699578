//! Whole key lifecycles of the OpenAI, Twilio and SendGrid providers against stateful fakes
//! shaped like their specs: create a key beside the old one, see both listed, verify the new
//! one, delete the old one, see one left, and see the deleted key's secret refused.

use crate::saas_common;

use keyward::inventory::{ProviderKind, RemoteStatus};
use keyward::providers::datadog::Datadog;
use keyward::providers::okta::Okta;
use keyward::providers::openai::OpenAi;
use keyward::providers::sendgrid::{self, Sendgrid};
use keyward::providers::twilio::Twilio;
use keyward::providers::{ErrorKind, Provider, RotationStyle, Verification};
use keyward::secret::Secret;
use saas_common::*;
use serde_json::json;

#[tokio::test]
async fn sendgrid_rotation_copies_scopes_and_revokes_the_old_key() {
    let old_secret = long_secret("SG.old.", 0);
    let state = SgState {
        keys: vec![SgKey {
            id: "oldkey".into(),
            name: "Mail bot".into(),
            scopes: vec![
                "mail.send".into(),
                "stats.read".into(),
                "2fa_required".into(),
            ],
            secret: old_secret.clone(),
        }],
        ..Default::default()
    };
    let (server, state) = fake(state, sendgrid_handler).await;
    let p = Sendgrid::new(&fast_http());
    let t = sendgrid(&server.uri(), Some("oldkey"));
    assert_eq!(p.capabilities().rotation, RotationStyle::CreateThenRevoke);

    let seen = p.inspect(&t).await.unwrap().expect("old key known");
    assert_eq!(seen.name.as_deref(), Some("Mail bot"));
    assert_eq!(seen.scopes.len(), 3);
    assert!(seen.risks.is_empty(), "{:?}", seen.risks);

    let new = p.create(&t).await.unwrap();
    assert_eq!(new.remote_id, "sgkey1");
    // SendGrid's own automatic scopes are not requested again.
    assert_eq!(
        new.scopes,
        vec!["mail.send".to_string(), "stats.read".to_string()]
    );
    {
        let s = state.lock().unwrap();
        let created = &s.keys[1];
        assert!(
            created.name.starts_with("Mail bot (rotated "),
            "{}",
            created.name
        );
        assert_eq!(new.secret.expose_secret(), created.secret);
    }

    assert_eq!(p.list(&t).await.unwrap().len(), 2);
    assert_eq!(
        p.verify(&t, Some(&new.remote_id), &new.secret).await,
        Verification::Valid
    );
    p.delete(&t, "oldkey").await.unwrap();
    let left = p.list(&t).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].remote_id, "sgkey1");
    assert!(
        p.inspect(&t).await.unwrap().is_none(),
        "the old key is gone"
    );
    let old = p
        .verify(&t, Some("oldkey"), &Secret::new(old_secret.clone()))
        .await;
    assert!(matches!(old, Verification::Invalid { .. }), "{old:?}");
    // Deleting what is gone already succeeds.
    p.delete(&t, "oldkey").await.unwrap();
}

#[tokio::test]
async fn sendgrid_refuses_to_create_a_full_access_key_when_no_scopes_are_known() {
    let (server, state) = fake(SgState::default(), sendgrid_handler).await;
    let p = Sendgrid::new(&fast_http());
    let e = p.create(&sendgrid(&server.uri(), None)).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(e.to_string().contains("Full Access"), "{e}");
    assert_eq!(state.lock().unwrap().issued, 0, "nothing was created");

    // With scopes on the credential it creates the key with those.
    let mut t = sendgrid(&server.uri(), None);
    t.credential.scopes = vec!["mail.send".into()];
    let new = p.create(&t).await.unwrap();
    assert_eq!(new.scopes, vec!["mail.send".to_string()]);
    assert!(state.lock().unwrap().keys[0]
        .name
        .starts_with("Mail bot (rotated "));
}

#[tokio::test]
async fn sendgrid_flags_keys_that_can_manage_keys_or_hold_nearly_every_scope() {
    let mut broad: Vec<String> = (0..=sendgrid::BROAD_SCOPE_COUNT)
        .map(|i| format!("s{i}.read"))
        .collect();
    let state = SgState {
        keys: vec![
            SgKey {
                id: "admin".into(),
                name: "a".into(),
                scopes: vec!["api_keys.create".into(), "mail.send".into()],
                secret: "x1".into(),
            },
            SgKey {
                id: "broad".into(),
                name: "b".into(),
                scopes: broad.clone(),
                secret: "x2".into(),
            },
        ],
        ..Default::default()
    };
    let (server, _state) = fake(state, sendgrid_handler).await;
    let p = Sendgrid::new(&fast_http());
    let admin = p
        .inspect(&sendgrid(&server.uri(), Some("admin")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(admin.risks.len(), 1);
    assert!(
        admin.risks[0].contains("api_keys.create"),
        "{:?}",
        admin.risks
    );
    let wide = p
        .inspect(&sendgrid(&server.uri(), Some("broad")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(wide.risks.len(), 1);
    assert!(wide.risks[0].contains("Full Access"), "{:?}", wide.risks);
    broad.pop();
    assert!(
        sendgrid::risks(&broad).is_empty(),
        "exactly the limit is not flagged"
    );
}

#[tokio::test]
async fn twilio_rotation_with_the_2010_api_follows_pages_and_revokes_the_old_key() {
    let old = TwKey {
        sid: tw_sid("SK", 1),
        name: "Mail bot".into(),
        secret: "old-secret-1".into(),
        policy: json!(null),
    };
    let other = TwKey {
        sid: tw_sid("SK", 2),
        name: "Other".into(),
        secret: "other-secret".into(),
        policy: json!(null),
    };
    let state = TwState {
        keys: vec![old.clone(), other],
        page_size: 1,
        ..Default::default()
    };
    let (server, state) = fake(state, twilio_handler).await;
    let p = Twilio::new(&fast_http());
    let t = twilio(&server.uri(), Some(&old.sid));

    let seen = p.inspect(&t).await.unwrap().expect("old key known");
    assert_eq!(seen.name.as_deref(), Some("Mail bot"));
    assert_eq!(
        seen.created_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2016-06-13T22:50:08+00:00")
    );

    let new = p.create(&t).await.unwrap();
    assert_eq!(new.remote_id, tw_sid("SK", 0x1001));
    assert!(state.lock().unwrap().keys[2]
        .name
        .starts_with("Mail bot (rotated "));

    // One key per page: three pages, all followed.
    assert_eq!(p.list(&t).await.unwrap().len(), 3);
    assert_eq!(
        p.verify(&t, Some(&new.remote_id), &new.secret).await,
        Verification::Valid
    );
    p.delete(&t, &old.sid).await.unwrap();
    let left: Vec<String> = p
        .list(&t)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.remote_id)
        .collect();
    assert_eq!(left, vec![tw_sid("SK", 2), new.remote_id.clone()]);
    let gone = p
        .verify(&t, Some(&old.sid), &Secret::new(old.secret.clone()))
        .await;
    assert!(matches!(gone, Verification::Invalid { .. }), "{gone:?}");
    assert!(p.inspect(&t).await.unwrap().is_none());
}

#[tokio::test]
async fn twilio_iam_rotation_copies_a_restricted_keys_policy() {
    let policy = json!({"allow": ["/twilio/messaging/messages/read"]});
    let old = TwKey {
        sid: tw_sid("SK", 7),
        name: "Reader".into(),
        secret: "old-secret-7".into(),
        policy: policy.clone(),
    };
    let state = TwState {
        keys: vec![old.clone()],
        page_size: 1,
        ..Default::default()
    };
    let (server, state) = fake(state, twilio_handler).await;
    let p = Twilio::new(&fast_http());
    let t = twilio_iam(&server.uri(), &server.uri(), Some(&old.sid));

    let seen = p.inspect(&t).await.unwrap().unwrap();
    assert_eq!(
        seen.scopes,
        vec!["/twilio/messaging/messages/read".to_string()]
    );
    let new = p.create(&t).await.unwrap();
    assert_eq!(new.scopes, seen.scopes);
    assert_eq!(state.lock().unwrap().keys[1].policy, policy);
    assert_eq!(p.list(&t).await.unwrap().len(), 2);
    assert_eq!(
        p.verify(&t, Some(&new.remote_id), &new.secret).await,
        Verification::Valid
    );
    p.delete(&t, &old.sid).await.unwrap();
    assert_eq!(p.list(&t).await.unwrap().len(), 1);
    let gone = p
        .verify(&t, Some(&old.sid), &Secret::new(old.secret.clone()))
        .await;
    assert!(matches!(gone, Verification::Invalid { .. }), "{gone:?}");
    let paths: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert!(paths.iter().any(|p| p == "/v1/Keys"), "{paths:?}");
    assert!(
        !paths.iter().any(|p| p.contains("/Keys.json")),
        "no 2010 key calls: {paths:?}"
    );
}

#[tokio::test]
async fn twilio_manages_with_the_auth_token_when_no_main_key_is_configured() {
    let (server, _state) = fake(TwState::default(), twilio_handler).await;
    let p = Twilio::new(&fast_http());
    let mut t = twilio(&server.uri(), None);
    let conn = t.connection.as_mut().unwrap();
    conn.auth.clear();
    conn.auth
        .insert("auth_token".into(), Secret::new("tok-123"));
    // The fake only knows the Main key, so the Auth Token is refused: proves which was sent.
    let e = p.list(&t).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    let req = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        basic(req),
        Some((TW_ACCOUNT.to_string(), "tok-123".to_string()))
    );
}

#[tokio::test]
async fn openai_service_account_rotation_creates_a_new_account_and_deletes_the_old_one() {
    let old_secret = long_secret("sk-svcacct-old", 0);
    let state = OaState {
        keys: vec![
            OaKey {
                id: "key_old".into(),
                name: "Secret Key".into(),
                service_account: Some("svc_acct_old".into()),
                secret: old_secret.clone(),
                last_used_at: Some(1_711_471_600),
            },
            OaKey {
                id: "key_user".into(),
                name: "Alice's key".into(),
                service_account: None,
                secret: "sk-user".into(),
                last_used_at: None,
            },
        ],
        service_accounts: vec![OaServiceAccount {
            id: "svc_acct_old".into(),
            name: "Mail bot".into(),
        }],
        page_size: 1,
        ..Default::default()
    };
    let (server, state) = fake(state, openai_handler).await;
    let p = OpenAi::new(&fast_http());
    let t = openai(
        &server.uri(),
        "service-account",
        Some("key_old"),
        &[("service_account_id", "svc_acct_old")],
    );

    let seen = p.inspect(&t).await.unwrap().expect("old key known");
    assert_eq!(seen.state, RemoteStatus::Active);
    assert_eq!(
        seen.last_used_at.map(|d| d.timestamp()),
        Some(1_711_471_600)
    );

    let new = p.create(&t).await.unwrap();
    assert_eq!(new.remote_id, "key_new1");
    assert_eq!(
        new.params.get("service_account_id").map(String::as_str),
        Some("svc_acct_1")
    );
    assert!(state.lock().unwrap().service_accounts[1]
        .name
        .starts_with("Mail bot (rotated "));

    // Three keys in the project now, one per page.
    assert_eq!(p.list(&t).await.unwrap().len(), 3);
    assert_eq!(
        p.verify(&t, Some(&new.remote_id), &new.secret).await,
        Verification::Valid
    );
    p.delete(&t, "key_old").await.unwrap();
    {
        let s = state.lock().unwrap();
        let accounts: Vec<&str> = s.service_accounts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(
            accounts,
            vec!["svc_acct_1"],
            "the old service account is gone"
        );
    }
    let left: Vec<String> = p
        .list(&t)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.remote_id)
        .collect();
    assert_eq!(left, vec!["key_user".to_string(), "key_new1".to_string()]);
    let gone = p
        .verify(&t, Some("key_old"), &Secret::new(old_secret))
        .await;
    assert!(matches!(gone, Verification::Invalid { .. }), "{gone:?}");
    p.delete(&t, "key_old").await.unwrap();
}

#[tokio::test]
async fn openai_user_keys_cannot_be_created_but_can_be_deleted() {
    let state = OaState {
        keys: vec![OaKey {
            id: "key_user".into(),
            name: "Alice's key".into(),
            service_account: None,
            secret: "sk-user-1".into(),
            last_used_at: None,
        }],
        ..Default::default()
    };
    let (server, state) = fake(state, openai_handler).await;
    let p = OpenAi::new(&fast_http());
    let t = openai(&server.uri(), "project-key", Some("key_user"), &[]);
    let e = p.create(&t).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert_eq!(state.lock().unwrap().issued, 0);
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "no call for an unsupported create"
    );
    assert_eq!(
        p.verify(&t, Some("key_user"), &Secret::new("sk-user-1"))
            .await,
        Verification::Valid
    );
    p.delete(&t, "key_user").await.unwrap();
    assert!(state.lock().unwrap().keys.is_empty());
    assert!(p.inspect(&t).await.unwrap().is_none());
}

#[tokio::test]
async fn openai_refuses_to_delete_a_service_account_that_holds_other_keys() {
    let state = OaState {
        keys: vec![
            OaKey {
                id: "key_a".into(),
                name: "a".into(),
                service_account: Some("svc_acct_x".into()),
                secret: "sk-a".into(),
                last_used_at: None,
            },
            OaKey {
                id: "key_b".into(),
                name: "b".into(),
                service_account: Some("svc_acct_x".into()),
                secret: "sk-b".into(),
                last_used_at: None,
            },
        ],
        service_accounts: vec![OaServiceAccount {
            id: "svc_acct_x".into(),
            name: "Shared".into(),
        }],
        page_size: 10,
        ..Default::default()
    };
    let (server, state) = fake(state, openai_handler).await;
    let p = OpenAi::new(&fast_http());
    let t = openai(&server.uri(), "service-account", Some("key_a"), &[]);
    let e = p.delete(&t, "key_a").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(e.to_string().contains("key_b"), "{e}");
    assert_eq!(state.lock().unwrap().keys.len(), 2, "nothing deleted");
}

#[tokio::test]
async fn registry_serves_the_saas_providers() {
    let http = fast_http();
    for kind in [
        ProviderKind::Openai,
        ProviderKind::Twilio,
        ProviderKind::Sendgrid,
        ProviderKind::Datadog,
        ProviderKind::Okta,
    ] {
        let p = keyward::providers::registry::provider_for(kind, &http).expect("registered");
        assert_eq!(p.kind(), kind);
        assert!(!p.capabilities().reports_expiry);
    }
}

#[tokio::test]
async fn twilio_iam_replaces_a_vanished_restricted_key_with_its_recorded_permissions() {
    let (server, state) = fake(TwState::default(), twilio_handler).await;
    let p = Twilio::new(&fast_http());
    let mut t = twilio_iam(&server.uri(), &server.uri(), Some(&tw_sid("SK", 0xdead)));
    t.credential.scopes = vec!["/twilio/messaging/messages/read".into()];
    let new = p.create(&t).await.unwrap();
    assert_eq!(new.scopes, t.credential.scopes);
    assert_eq!(
        state.lock().unwrap().keys[0].policy,
        json!({"allow": ["/twilio/messaging/messages/read"]}),
        "restricted, not a standard key"
    );
}

// ---- Datadog ----------------------------------------------------------------------------

/// Rotates the one credential of `inv` through the real engine (deploy confirmed up front,
/// revocation grace `grace`) with `provider`; answers the inventory as last saved and the
/// outcome's message.
pub(crate) async fn rotate_with_engine(
    inv: keyward::inventory::Inventory,
    provider: keyward::providers::SharedProvider,
    grace: chrono::Duration,
) -> (
    keyward::inventory::Inventory,
    keyward::rotation::OutcomeKind,
    String,
) {
    use keyward::rotation::{Engine, NonInteractive, Options, ProviderSet};
    let disk = crate::support::disk::MemoryDisk::default();
    let engine = Engine::new(
        inv,
        disk.persist(),
        ProviderSet::new().with(provider),
        std::sync::Arc::new(NonInteractive { yes: true }),
        Options {
            grace,
            ..Options::default()
        },
    );
    let at: keyward::inventory::CredentialRef = AT.parse().expect("address");
    let plan = engine.plan(vec![(at, "test".to_string())]).await;
    assert_eq!(plan.ready().count(), 1, "{:?}", plan.items);
    let summary = engine.rotate(&plan).await;
    let outcome = &summary.outcomes[0];
    let result = (outcome.kind, outcome.message.clone());
    drop(engine);
    (disk.last(), result.0, result.1)
}

/// An inventory holding `t`'s credential (with `secret`) and connection.
pub(crate) fn inventory_of(
    t: &keyward::providers::Target,
    secret: &str,
) -> keyward::inventory::Inventory {
    let mut inv = keyward::inventory::Inventory::new(vec![]);
    let mut c = t.credential.clone();
    c.secret = Some(Secret::new(secret));
    c.deploy = keyward::inventory::Deploys::from(keyward::inventory::Deploy::Command {
        idempotent: false,
        run: "cat > /dev/null".into(),
    });
    inv.connections
        .push(t.connection.clone().expect("a connection"));
    let at: keyward::inventory::CredentialRef = AT.parse().expect("address");
    inv.insert(&at.client, c);
    inv
}

#[tokio::test]
async fn datadog_api_key_rotation_pages_through_the_org_and_revokes_the_old_key() {
    let old = DdKey {
        last_used: Some("2026-02-01T08:30:00.000Z".into()),
        ..DdKey::new("old-api", DdOwner::Org, &long_secret("ddold", 0))
    };
    // 150 other API keys: the listing takes two pages of 100.
    let mut keys = vec![old.clone()];
    keys.extend((0..150).map(|i| {
        DdKey::new(
            &format!("other-{i}"),
            DdOwner::Org,
            &long_secret("ddoth", i),
        )
    }));
    let (server, state) = fake(DdState { keys, issued: 0 }, datadog_handler).await;
    let p = Datadog::new(&fast_http());
    let mut t = datadog(&server.uri(), "api", Some("old-api"), &[]);
    t.credential.secret = Some(Secret::new(old.secret.clone()));
    assert_eq!(p.capabilities().rotation, RotationStyle::CreateThenRevoke);
    assert!(p.capabilities().reports_last_used);

    let seen = p.inspect(&t).await.unwrap().expect("old key known");
    assert_eq!(seen.name.as_deref(), Some("key old-api"));
    assert_eq!(
        seen.created_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2026-01-05T10:00:00+00:00")
    );
    assert_eq!(
        seen.last_used_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2026-02-01T08:30:00+00:00")
    );
    assert!(
        seen.risks.is_empty(),
        "the stored value ends in last4: {:?}",
        seen.risks
    );
    assert_eq!(p.list(&t).await.unwrap().len(), 151);

    let new = p.create(&t).await.unwrap();
    assert_eq!(new.remote_id, "ddkey-1");
    {
        let s = state.lock().unwrap();
        let made = s.keys.last().unwrap();
        assert!(
            made.name.starts_with("key old-api (rotated "),
            "{}",
            made.name
        );
        assert_eq!(new.secret.expose_secret(), made.secret);
    }
    assert_eq!(
        p.verify(&t, Some(&new.remote_id), &new.secret).await,
        Verification::Valid
    );
    p.delete(&t, "old-api").await.unwrap();
    assert!(
        p.inspect(&t).await.unwrap().is_none(),
        "the old key is gone"
    );
    let gone = p
        .verify(&t, Some("old-api"), &Secret::new(old.secret.clone()))
        .await;
    assert!(matches!(gone, Verification::Invalid { .. }), "{gone:?}");
    // A second delete answers 404, which revocation confirms with the listing.
    let verdict = keyward::providers::revocation::revoke(&p, &t, "old-api")
        .await
        .unwrap();
    assert!(verdict.is_confirmed(), "{verdict:?}");
}

#[tokio::test]
async fn datadog_flags_a_stored_value_that_does_not_end_in_the_keys_last4() {
    let (server, _state) = fake(
        DdState {
            keys: vec![DdKey::new("k1", DdOwner::Org, &long_secret("ddk", 1))],
            issued: 0,
        },
        datadog_handler,
    )
    .await;
    let mut t = datadog(&server.uri(), "api", Some("k1"), &[]);
    t.credential.secret = Some(Secret::new("a-value-of-another-key-zzzz"));
    let seen = Datadog::new(&fast_http())
        .inspect(&t)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.risks.len(), 1, "{:?}", seen.risks);
    assert!(
        seen.risks[0].contains("another key's value"),
        "{:?}",
        seen.risks
    );
    assert!(
        !seen.risks[0].contains("xxxx"),
        "last4 is not repeated: {:?}",
        seen.risks
    );
}

#[tokio::test]
async fn datadog_application_key_rotation_copies_scopes_and_stores_the_one_time_value() {
    let old = DdKey {
        scopes: Some(vec!["dashboards_read".into(), "monitors_read".into()]),
        last_used: Some("2026-03-01T00:00:00.000Z".into()),
        ..DdKey::new("old-app", DdOwner::CurrentUser, &long_secret("ddappold", 0))
    };
    let (server, state) = fake(
        DdState {
            keys: vec![old.clone()],
            issued: 0,
        },
        datadog_handler,
    )
    .await;
    let p = Datadog::new(&fast_http());
    let t = datadog(&server.uri(), "application", Some("old-app"), &[]);
    let seen = p.inspect(&t).await.unwrap().unwrap();
    assert_eq!(seen.scopes, ["dashboards_read", "monitors_read"]);
    assert_eq!(
        seen.last_used_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2026-03-01T00:00:00+00:00")
    );

    let inv = inventory_of(&t, &old.secret);
    let provider: keyward::providers::SharedProvider =
        std::sync::Arc::new(Datadog::new(&fast_http()));
    let (inv, kind, message) = rotate_with_engine(inv, provider, chrono::Duration::days(7)).await;
    assert_eq!(kind, keyward::rotation::OutcomeKind::Done, "{message}");
    assert!(!message.contains("ddapp"), "a secret leaked: {message}");
    let c = inv.credential(&AT.parse().unwrap()).unwrap();
    let s = state.lock().unwrap();
    assert_eq!(
        s.keys.len(),
        1,
        "the old key was deleted at once (no deactivation)"
    );
    let live = &s.keys[0];
    assert_eq!(live.owner, DdOwner::CurrentUser);
    assert_eq!(live.scopes, old.scopes, "the old key's scopes were copied");
    assert_eq!(c.remote_id.as_deref(), Some(live.id.as_str()));
    // The value came from the create answer only: no read of the fake carries it.
    assert_eq!(
        c.secret.as_ref().map(|x| x.expose_secret()),
        Some(live.secret.as_str())
    );
}

#[tokio::test]
async fn datadog_service_account_keys_and_unscoped_keys_stay_as_they_were() {
    let sa = "00000000-0000-1234-0000-000000000000";
    let old = DdKey::new(
        "sa-old",
        DdOwner::ServiceAccount(sa.into()),
        &long_secret("ddsa", 0),
    );
    let mine = DdKey::new("mine", DdOwner::CurrentUser, &long_secret("ddmine", 0));
    let (server, state) = fake(
        DdState {
            keys: vec![old.clone(), mine],
            issued: 0,
        },
        datadog_handler,
    )
    .await;
    let p = Datadog::new(&fast_http());
    let t = datadog(
        &server.uri(),
        "application",
        Some("sa-old"),
        &[("service_account_id", sa)],
    );
    assert_eq!(
        p.list(&t).await.unwrap().len(),
        1,
        "only the service account's keys"
    );
    let new = p.create(&t).await.unwrap();
    assert!(new.scopes.is_empty());
    {
        let s = state.lock().unwrap();
        let made = s.keys.last().unwrap();
        assert_eq!(made.owner, DdOwner::ServiceAccount(sa.into()));
        assert_eq!(made.scopes, None, "an unscoped key stays unscoped");
    }
    assert_eq!(
        p.verify(&t, Some(&new.remote_id), &new.secret).await,
        Verification::Valid
    );
    p.delete(&t, "sa-old").await.unwrap();
    let gone = p
        .verify(&t, Some("sa-old"), &Secret::new(old.secret.clone()))
        .await;
    assert!(matches!(gone, Verification::Invalid { .. }), "{gone:?}");
}

#[tokio::test]
async fn datadog_application_key_refused_with_a_dead_connection_api_key_is_not_called_invalid() {
    let app = DdKey::new("app", DdOwner::CurrentUser, &long_secret("ddapp", 1));
    let (server, _state) = fake(
        DdState {
            keys: vec![app.clone()],
            issued: 0,
        },
        datadog_handler,
    )
    .await;
    let p = Datadog::new(&fast_http());
    let mut t = datadog(&server.uri(), "application", Some("app"), &[]);
    t.connection
        .as_mut()
        .unwrap()
        .auth
        .insert("api_key".into(), Secret::new("dd-api-revoked-1"));
    let v = p
        .verify(&t, Some("app"), &Secret::new(app.secret.clone()))
        .await;
    match &v {
        Verification::CouldNotCheck { reason } => {
            assert!(reason.contains("auth.api_key"), "{reason}");
            assert!(!reason.contains("dd-api-revoked-1"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

// ---- Okta -------------------------------------------------------------------------------

fn okta_state(old_secret: &str) -> OkState {
    OkState {
        secrets: vec![OkSecret {
            id: "ocsold".into(),
            active: true,
            secret: old_secret.into(),
        }],
        issued: 0,
    }
}

#[tokio::test]
async fn okta_rotation_adds_a_second_secret_then_deactivates_and_deletes_the_old_one() {
    let old_secret = long_secret("oktaold", 0);
    let (server, state) = fake(okta_state(&old_secret), okta_handler).await;
    let p = Okta::new(&fast_http());
    let t = okta(
        &server.uri(),
        Some("ocsold"),
        &[("authorization_server", "default")],
    );
    assert_eq!(p.capabilities().max_live_keys, Some(2));
    assert!(p.capabilities().can_deactivate);

    let seen = p.inspect(&t).await.unwrap().expect("old secret known");
    assert_eq!(seen.state, RemoteStatus::Active);
    assert_eq!(
        seen.created_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2026-01-05T10:00:00+00:00")
    );
    assert_eq!(
        p.verify(&t, Some("ocsold"), &Secret::new(old_secret.clone()))
            .await,
        Verification::Valid
    );

    let new = p.create(&t).await.unwrap();
    assert_eq!(new.remote_id, "ocsnew1");
    assert_eq!(
        new.secret.expose_secret(),
        state.lock().unwrap().secrets[1].secret
    );
    assert_eq!(p.list(&t).await.unwrap().len(), 2);
    // A third secret is refused by Okta, and the error says why.
    let e = p.create(&t).await.unwrap_err();
    assert!(e.to_string().contains("already holds 2 secrets"), "{e}");
    assert!(!e.to_string().contains(new.secret.expose_secret()), "{e}");

    assert_eq!(
        p.verify(&t, Some(&new.remote_id), &new.secret).await,
        Verification::Valid
    );
    p.deactivate(&t, "ocsold").await.unwrap();
    assert_eq!(
        p.inspect(&t).await.unwrap().unwrap().state,
        RemoteStatus::Inactive
    );
    let dead = p
        .verify(&t, Some("ocsold"), &Secret::new(old_secret.clone()))
        .await;
    assert!(matches!(dead, Verification::Invalid { .. }), "{dead:?}");
    assert_eq!(
        p.delete(&t, "ocsold").await.unwrap(),
        keyward::providers::Deletion::Deleted
    );
    assert!(p.inspect(&t).await.unwrap().is_none());
    let verdict = keyward::providers::revocation::revoke(&p, &t, "ocsold")
        .await
        .unwrap();
    assert!(verdict.is_confirmed(), "{verdict:?}");
}

#[tokio::test]
async fn okta_delete_of_an_active_secret_deactivates_it_first() {
    let (server, state) = fake(okta_state("s-old-1"), okta_handler).await;
    let p = Okta::new(&fast_http());
    let t = okta(&server.uri(), Some("ocsold"), &[]);
    p.create(&t).await.unwrap();
    assert_eq!(
        p.delete(&t, "ocsold").await.unwrap(),
        keyward::providers::Deletion::Deleted
    );
    {
        let s = state.lock().unwrap();
        assert_eq!(s.secrets.len(), 1);
        assert_eq!(s.secrets[0].id, "ocsnew1");
    }
    let methods: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    let deactivate =
        format!("POST /api/v1/apps/{OK_APP}/credentials/secrets/ocsold/lifecycle/deactivate");
    assert!(methods.contains(&deactivate), "{methods:?}");
}

#[tokio::test]
async fn okta_verify_at_the_org_server_cannot_check_a_secret_rather_than_call_it_invalid() {
    let (server, _state) = fake(okta_state("s-old-1"), okta_handler).await;
    let p = Okta::new(&fast_http());
    let t = okta(&server.uri(), Some("ocsold"), &[]);
    let v = p.verify(&t, Some("ocsold"), &Secret::new("s-old-1")).await;
    match &v {
        Verification::CannotCheck { reason } => {
            assert!(reason.contains("params.authorization_server"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn okta_rotation_through_the_engine_deactivates_the_old_secret_for_the_grace_period() {
    let old_secret = long_secret("oktaold", 1);
    let (server, state) = fake(okta_state(&old_secret), okta_handler).await;
    let t = okta(
        &server.uri(),
        Some("ocsold"),
        &[("authorization_server", "default")],
    );
    let provider: keyward::providers::SharedProvider = std::sync::Arc::new(Okta::new(&fast_http()));
    let (inv, kind, message) = rotate_with_engine(
        inventory_of(&t, &old_secret),
        provider,
        chrono::Duration::days(7),
    )
    .await;
    assert_eq!(kind, keyward::rotation::OutcomeKind::Done, "{message}");
    assert!(
        !message.contains("oktasecret") && !message.contains("oktaold"),
        "{message}"
    );
    let c = inv.credential(&AT.parse().unwrap()).unwrap();
    let s = state.lock().unwrap();
    assert_eq!(
        s.secrets.len(),
        2,
        "the old secret is kept, deactivated, for the grace period"
    );
    assert!(!s.secrets[0].active && s.secrets[1].active);
    assert_eq!(c.remote_id.as_deref(), Some("ocsnew1"));
    assert_eq!(
        c.secret.as_ref().map(|x| x.expose_secret()),
        Some(s.secrets[1].secret.as_str())
    );
    assert_eq!(
        c.pending_revocations.len(),
        1,
        "deleted after the grace period"
    );
}

#[tokio::test]
async fn okta_rotation_through_the_engine_without_grace_deletes_the_old_secret() {
    let old_secret = long_secret("oktaold", 2);
    let (server, state) = fake(okta_state(&old_secret), okta_handler).await;
    let t = okta(
        &server.uri(),
        Some("ocsold"),
        &[("authorization_server", "default")],
    );
    let provider: keyward::providers::SharedProvider = std::sync::Arc::new(Okta::new(&fast_http()));
    let (inv, kind, message) = rotate_with_engine(
        inventory_of(&t, &old_secret),
        provider,
        chrono::Duration::zero(),
    )
    .await;
    assert_eq!(kind, keyward::rotation::OutcomeKind::Done, "{message}");
    let s = state.lock().unwrap();
    assert_eq!(s.secrets.len(), 1);
    assert_eq!(s.secrets[0].id, "ocsnew1");
    let c = inv.credential(&AT.parse().unwrap()).unwrap();
    assert!(c.pending_revocations.is_empty());
}
