//! OpenAI: the list's visibility rule, the service account's role, restricted keys.

use keyward::providers::openai::OpenAi;
use keyward::providers::{ErrorKind, Provider, Verification};
use keyward::secret::Secret;

use crate::saas_common::*;

fn sa_key(id: &str, sa: &str, n: u32) -> OaKey {
    OaKey {
        id: id.into(),
        name: "Secret Key".into(),
        service_account: Some(sa.into()),
        secret: long_secret("sk-svcacct-", n),
        last_used_at: None,
    }
}

fn old_account() -> OaServiceAccount {
    OaServiceAccount {
        id: "svc_acct_old".into(),
        name: "Mail bot".into(),
    }
}

/// Before: the key list was read without `owner_project_access=any`, so a key the default
/// visibility rules hide was missed by the "no other keys on this service account" check,
/// and deleting the service account revoked it too.
#[tokio::test]
async fn openai_listing_without_owner_project_access_missed_keys_that_revocation_killed() {
    let state = OaState {
        keys: vec![
            sa_key("key_old", "svc_acct_old", 1),
            sa_key("key_hidden", "svc_acct_old", 2),
        ],
        service_accounts: vec![old_account()],
        hidden: ["key_hidden".to_string()].into(),
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
    assert_eq!(
        p.list(&t).await.unwrap().len(),
        2,
        "the hidden key is listed"
    );
    let e = p.delete(&t, "key_old").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported, "{e}");
    assert!(e.message.contains("key_hidden"), "{e}");
    let st = state.lock().unwrap();
    assert_eq!(st.service_accounts.len(), 1, "the service account was kept");
    assert_eq!(st.keys.len(), 2, "both keys still live");
}

/// Before: the new service account kept the API's default role `member` where the old one
/// was `owner`.
#[tokio::test]
async fn openai_new_service_account_got_member_where_the_old_was_owner() {
    let state = OaState {
        keys: vec![sa_key("key_old", "svc_acct_old", 1)],
        service_accounts: vec![old_account()],
        roles: [("svc_acct_old".to_string(), "owner".to_string())].into(),
        ..Default::default()
    };
    let (server, state) = fake(state, openai_handler).await;
    let p = OpenAi::new(&fast_http());
    let t = openai(&server.uri(), "service-account", Some("key_old"), &[]);
    let issued = p.create(&t).await.unwrap();
    let new_sa = issued.params["service_account_id"].clone();
    assert_eq!(
        state.lock().unwrap().roles.get(&new_sa).map(String::as_str),
        Some("owner")
    );

    // A `member` old account needs no update: no extra call is made.
    let state = OaState {
        keys: vec![sa_key("key_old", "svc_acct_old", 1)],
        service_accounts: vec![old_account()],
        ..Default::default()
    };
    let (server, _state) = fake(state, openai_handler).await;
    let t = openai(&server.uri(), "service-account", Some("key_old"), &[]);
    p.create(&t).await.unwrap();
    let posts = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(posts, 1, "only the create");
}

/// Before: a restricted key without `api.model.read` answered 401 "Missing scopes" on
/// `/models` and was reported invalid, though OpenAI recognised it.
#[tokio::test]
async fn openai_restricted_key_missing_scopes_was_flagged_invalid() {
    let key = sa_key("key_restricted", "svc_acct_old", 3);
    let state = OaState {
        keys: vec![key.clone()],
        service_accounts: vec![old_account()],
        without_model_read: ["key_restricted".to_string()].into(),
        ..Default::default()
    };
    let (server, _state) = fake(state, openai_handler).await;
    let p = OpenAi::new(&fast_http());
    let t = openai(
        &server.uri(),
        "service-account",
        Some("key_restricted"),
        &[],
    );
    let v = p
        .verify(&t, Some("key_restricted"), &Secret::new(key.secret.clone()))
        .await;
    let Verification::CannotCheck { reason } = &v else {
        panic!("expected cannot-check, got {v:?}");
    };
    assert!(!reason.contains(&key.secret), "{reason}");
    // A key OpenAI does not know is still invalid.
    let wrong = p
        .verify(&t, Some("key_restricted"), &Secret::new("sk-unknown"))
        .await;
    assert_eq!(wrong.label(), "invalid", "{wrong:?}");
}
